//! Policy rules over a connection: rule peers against the other end, and rule ports
//! (named ones per `NamedMode`, V7).

use netpol_graph::ir::{LoweredRule, NamespaceScope, PeerMatch, PortSpec};
use netpol_manifest::model::Protocol;
use z3::ast::{BV, Bool, Int};

use super::{Encoder, NamedMode, OTHER_PROTO, Side, proto_index};

impl Encoder<'_> {
    pub(super) fn peer_match(&self, peer: &PeerMatch, y: &Side) -> Bool {
        let u = self.u;
        match peer {
            PeerMatch::IpBlock { cidr, except, .. } => {
                // A block (or an `except`) of the other family holds no address the solver
                // ranges over (`ip::in_net`): under `vpc-cni` the graph drops such blocks
                // (V15), under `upstream` they match nothing in a single-stack cluster.
                let inside = self.in_block(y, cidr, except);
                if netpol_graph::switches::ipblocks_match_pods(&u.profile) {
                    inside
                } else {
                    // A pod's own address never matches; a hostNetwork pod's is its node's.
                    Bool::and(&[
                        inside,
                        Bool::or(&[y.is_pod().not(), y.host_network.clone()]),
                    ])
                }
            }
            PeerMatch::Pods {
                namespaces, pods, ..
            } => {
                let mut parts = vec![y.is_pod()];
                if !netpol_graph::switches::host_network_peers(&u.profile) {
                    parts.push(y.host_network.not());
                }
                match namespaces {
                    NamespaceScope::Own(own) => {
                        let i = u.ns_index(own).map_or(-100, |i| i as i64);
                        parts.push(y.ns.eq(Int::from_i64(i)));
                    }
                    NamespaceScope::Selector(s) => parts.push(y.nsl.matches(&u.ns_vocab, s)),
                }
                if let Some(s) = pods {
                    parts.push(y.labels.matches(&u.pod_vocab, s));
                }
                let direct = Bool::and(&parts);
                let nodes = self.peer_nodes(peer);
                if nodes.is_empty() {
                    return direct;
                }
                let mut v = vec![direct];
                v.extend(nodes.keys().map(|&k| self.carries_node(y, k)));
                Bool::or(&v)
            }
        }
    }

    /// A named port resolved on side `on`.
    pub(super) fn named_on(on: &Side, name: &str, p: Protocol, port: &BV) -> Bool {
        match on.named_port(name, p) {
            Some((has, num)) => Bool::and(&[has.clone(), num.eq(port)]),
            None => Bool::from_bool(false),
        }
    }

    /// The rule's port entries; `named` decides named ones.
    fn port_entries(
        r: &LoweredRule,
        proto: &Int,
        port: &BV,
        named: &dyn Fn(&str, Protocol) -> Bool,
    ) -> Bool {
        let Some(list) = &r.ports else {
            return Bool::from_bool(true);
        };
        let v: Vec<Bool> = list
            .iter()
            .map(|m| {
                let spec = match &m.port {
                    PortSpec::All => Bool::from_bool(true),
                    PortSpec::Range(lo, hi) => Bool::and(&[
                        port.bvuge(BV::from_u64(u64::from(*lo), 16)),
                        port.bvule(BV::from_u64(u64::from(*hi), 16)),
                    ]),
                    PortSpec::Named(n) => named(n, m.protocol),
                };
                Bool::and(&[proto.eq(Int::from_i64(proto_index(m.protocol))), spec])
            })
            .collect();
        Bool::or(&v)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn ingress_rule(
        &self,
        pi: usize,
        ri: usize,
        r: &LoweredRule,
        dst: &Side,
        src: &Side,
        proto: &Int,
        port: &BV,
    ) -> Bool {
        let peers = match &r.peers {
            None => Bool::from_bool(true),
            Some(list) => {
                let v: Vec<Bool> = list
                    .iter()
                    .map(|p| Bool::and(&[self.peer_match(p, src), self.peer_kept(p, dst)]))
                    .collect();
                Bool::or(&v)
            }
        };
        let ports = match &self.u.ingress_union[pi][ri] {
            None => Self::port_entries(r, proto, port, &|n, p| Self::named_on(dst, n, p, port)),
            Some(union) => {
                let concrete = portset_formula(union, proto, port);
                match self.named {
                    NamedMode::Existing => concrete,
                    NamedMode::Widened => {
                        let widened =
                            Self::port_entries(r, proto, port, &|_, _| Bool::from_bool(true));
                        Bool::or(&[concrete, widened])
                    }
                    NamedMode::WithDestination => {
                        let own = Self::port_entries(r, proto, port, &|n, p| {
                            Self::named_on(dst, n, p, port)
                        });
                        Bool::or(&[concrete, own])
                    }
                }
            }
        };
        Bool::and(&[peers, ports])
    }

    /// V12: a peer of a rule enforced at `x` that the agent keeps there.
    fn peer_kept(&self, p: &PeerMatch, x: &Side) -> Bool {
        match p {
            PeerMatch::IpBlock { cidr, .. } => self.block_kept(x, cidr),
            PeerMatch::Pods { .. } => Bool::from_bool(true),
        }
    }

    pub(super) fn egress_rule(
        &self,
        r: &LoweredRule,
        src: &Side,
        dst: &Side,
        proto: &Int,
        port: &BV,
    ) -> Bool {
        let vpc = netpol_graph::switches::named_ports_vpc(&self.u.profile);
        let on_dst = || Self::port_entries(r, proto, port, &|n, p| Self::named_on(dst, n, p, port));
        // V7 egress: named ports are dropped for ipBlock peers and an omitted `to`.
        let cidr_ports = || {
            if vpc {
                Self::port_entries(r, proto, port, &|_, _| Bool::from_bool(false))
            } else {
                on_dst()
            }
        };
        match &r.peers {
            None => cidr_ports(),
            Some(list) => {
                let v: Vec<Bool> = list
                    .iter()
                    .map(|p| {
                        let ports = match p {
                            PeerMatch::IpBlock { .. } => cidr_ports(),
                            PeerMatch::Pods { .. } => {
                                self.node_or_dst_ports(r, p, dst, &on_dst, proto, port)
                            }
                        };
                        Bool::and(&[self.peer_match(p, dst), self.peer_kept(p, src), ports])
                    })
                    .collect();
                Bool::or(&v)
            }
        }
    }
}

/// A concrete [`netpol_graph::PortSet`] over (proto, port).
pub(super) fn portset_formula(set: &netpol_graph::PortSet, proto: &Int, port: &BV) -> Bool {
    let mut v = Vec::new();
    for p in Protocol::ALL {
        for &(lo, hi) in set.ranges(p) {
            v.push(Bool::and(&[
                proto.eq(Int::from_i64(proto_index(p))),
                port.bvuge(BV::from_u64(u64::from(lo), 16)),
                port.bvule(BV::from_u64(u64::from(hi), 16)),
            ]));
        }
    }
    if set.has_other() {
        // ICMPv6 (`ICMPV6_PROTO`) where it has its own index is port-less too.
        v.push(proto.ge(Int::from_i64(OTHER_PROTO)));
    }
    Bool::or(&v)
}
