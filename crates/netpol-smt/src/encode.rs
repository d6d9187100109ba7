//! The Z3 encoding of one assertion: two symbolic sides (or one for `isolated`), each an
//! existing endpoint, a future pod or an external address, with labels over the finite
//! vocabulary, named ports, an IPv4 address, and the policies of its candidate namespaces.
//! See `docs/verify.md` ("How it is decided") for the encoding and its soundness notes.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use netpol_graph::ir::{
    LoweredRule, NamespaceScope, PeerMatch, PortSpec, Provenance, resolve_ports,
};
use netpol_manifest::model::{
    Direction, EndpointKind, Labels, NAMESPACE_NAME_LABEL, Operator, PortRef, Protocol, Selector,
};
use z3::ast::{BV, Bool, Int};

use crate::config::{PeerSpec, PortItem, Scope};
use crate::universe::{Universe, Vocab, to_selector};

/// `kind` of a future pod.
pub(crate) const FUTURE: i64 = -1;
/// `kind` of an external address.
pub(crate) const EXTERNAL: i64 = -2;
/// The protocol index of ICMP and the other port-less protocols.
pub(crate) const OTHER_PROTO: i64 = 3;

pub(crate) fn proto_index(p: Protocol) -> i64 {
    match p {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Sctp => 2,
    }
}

/// Label variables over one vocabulary: per key, present and value index.
#[derive(Debug)]
pub(crate) struct LabelVars {
    pub(crate) vars: Vec<(String, Bool, Int)>,
}

impl LabelVars {
    fn new(prefix: &str, vocab: &Vocab) -> LabelVars {
        LabelVars {
            vars: vocab
                .keys
                .keys()
                .enumerate()
                .map(|(i, k)| {
                    (
                        k.clone(),
                        Bool::new_const(format!("{prefix}.has{i}")),
                        Int::new_const(format!("{prefix}.val{i}")),
                    )
                })
                .collect(),
        }
    }

    fn get(&self, key: &str) -> Option<&(String, Bool, Int)> {
        self.vars
            .binary_search_by(|(k, _, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.vars[i])
    }

    /// The variables equal these concrete labels.
    fn fixed(&self, vocab: &Vocab, labels: &Labels) -> Bool {
        let mut parts = Vec::new();
        for (k, has, val) in &self.vars {
            match labels.get(k) {
                Some(v) => {
                    parts.push(has.clone());
                    parts.push(val.eq(Int::from_i64(vocab.index(k, v))));
                }
                None => parts.push(has.not()),
            }
        }
        Bool::and(&parts)
    }

    /// Values within the vocabulary (the last index is "any other value").
    fn bounded(&self, vocab: &Vocab) -> Bool {
        let parts: Vec<Bool> = self
            .vars
            .iter()
            .map(|(k, _, val)| {
                let n = vocab.keys.get(k).map_or(0, Vec::len) as i64;
                Bool::and(&[val.ge(Int::from_i64(0)), val.le(Int::from_i64(n))])
            })
            .collect();
        Bool::and(&parts)
    }

    /// A selector over these labels. Keys outside the vocabulary never occur.
    fn matches(&self, vocab: &Vocab, s: &Selector) -> Bool {
        let parts: Vec<Bool> = s
            .requirements
            .iter()
            .map(|r| {
                let Some((_, has, val)) = self.get(&r.key) else {
                    return Bool::from_bool(matches!(
                        r.operator,
                        Operator::NotIn | Operator::DoesNotExist
                    ));
                };
                let any_of = || {
                    let eqs: Vec<Bool> = r
                        .values
                        .iter()
                        .map(|v| val.eq(Int::from_i64(vocab.index(&r.key, v))))
                        .collect();
                    Bool::or(&eqs)
                };
                match r.operator {
                    Operator::In => Bool::and(&[has.clone(), any_of()]),
                    Operator::NotIn => Bool::or(&[has.not(), any_of().not()]),
                    Operator::Exists => has.clone(),
                    Operator::DoesNotExist => has.not(),
                }
            })
            .collect();
        Bool::and(&parts)
    }
}

/// One end of the connection.
#[derive(Debug)]
pub(crate) struct Side {
    pub(crate) kind: Int,
    pub(crate) ns: Int,
    pub(crate) nsl: LabelVars,
    pub(crate) labels: LabelVars,
    /// Per (name, protocol) of the vocabulary: declared, and its number.
    pub(crate) ports: Vec<((String, Protocol), Bool, BV)>,
    pub(crate) has_ip: Bool,
    pub(crate) ip: BV,
    pub(crate) host_network: Bool,
    /// S10/V4: index into `Universe::node_keys` of the configured node the pod runs on, or -1.
    pub(crate) node: Int,
    /// Namespace indices this side may be in (existing ones), and whether a new one.
    pub(crate) candidate_ns: Vec<usize>,
    pub(crate) new_ns: bool,
    /// Existing class representatives this side may be.
    pub(crate) options: Vec<usize>,
}

impl Side {
    pub(crate) fn is_pod(&self) -> Bool {
        self.kind.ge(Int::from_i64(FUTURE))
    }

    pub(crate) fn enforced(&self) -> Bool {
        Bool::and(&[self.is_pod(), self.host_network.not()])
    }

    fn named_port(&self, name: &str, proto: Protocol) -> Option<(&Bool, &BV)> {
        self.ports
            .iter()
            .find(|((n, p), _, _)| n == name && *p == proto)
            .map(|(_, h, b)| (h, b))
    }
}

fn in_net(ip: &BV, net: &Ipv4Net) -> Bool {
    let len = u32::from(net.prefix_len());
    if len == 0 {
        return Bool::from_bool(true);
    }
    let bits = u64::from(u32::from(net.network())) >> (32 - len);
    ip.extract(31, 32 - len).eq(BV::from_u64(bits, len))
}

fn ip_const(a: Ipv4Addr) -> BV {
    BV::from_u64(u64::from(u32::from(a)), 32)
}

/// A built query: the formula plus what decoding needs.
#[derive(Debug)]
pub(crate) struct Query {
    pub(crate) assertions: Vec<Bool>,
    pub(crate) src: Option<Side>,
    pub(crate) dst: Side,
    pub(crate) proto: Int,
    pub(crate) port: BV,
    pub(crate) traces: Vec<Trace>,
    /// V5: the ClusterIP paths of the egress trace.
    pub(crate) via: Vec<Via>,
}

/// What decoding evaluates for one direction at one side.
#[derive(Debug)]
pub(crate) struct Trace {
    pub(crate) direction: Direction,
    /// `true`: at the destination (ingress), `false`: at the source (egress).
    pub(crate) at_dst: bool,
    pub(crate) allowed: Bool,
    /// `allowed` without the ClusterIP paths (V5).
    pub(crate) allowed_direct: Bool,
    pub(crate) enforced: Bool,
    pub(crate) isolated: Bool,
    pub(crate) selecting: Vec<(usize, Bool)>,
    pub(crate) rules: Vec<(Provenance, Bool)>,
    /// V4: the other end carries the IP of this pod's own node.
    pub(crate) exempt: Bool,
}

/// V5: one way through a Service's ClusterIP to the destination.
#[derive(Debug)]
pub(crate) struct Via {
    /// Index into `Universe::services`.
    pub(crate) service: usize,
    /// The Service `port` the source connects to.
    pub(crate) port: u16,
    /// The egress rules at the source that admit it, each with its condition.
    pub(crate) rules: Vec<(Provenance, Bool)>,
    pub(crate) term: Bool,
}

/// How V7 ingress named ports resolve in this query (see docs/verify.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NamedMode {
    /// Over the existing pods the policy selects (scope existing).
    Existing,
    /// Widened to every port of the protocol: a further future pod selected by the same
    /// policy may declare the name with any number (scope any, deny/only).
    Widened,
    /// Existing pods plus the destination itself (scope any, allow).
    WithDestination,
}

pub(crate) struct Encoder<'u> {
    pub(crate) u: &'u Universe,
    pub(crate) scope: Scope,
    pub(crate) named: NamedMode,
    /// An `allow` query (subsumption keeps IP-less workloads).
    pub(crate) allow: bool,
}

/// Which peers constrain a side, for slicing.
pub(crate) enum SideFilter<'a> {
    /// The side satisfies this peer.
    Peer(&'a PeerSpec),
    /// The side satisfies none of these peers (`only` sources).
    NoneOf(&'a [PeerSpec]),
}

impl Encoder<'_> {
    /// Creates a side, its domain constraints (appended to `out`), and the slicing.
    pub(crate) fn side(&self, name: &str, filter: &SideFilter<'_>, out: &mut Vec<Bool>) -> Side {
        let u = self.u;
        let nsl = LabelVars::new(&format!("{name}.nsl"), &u.ns_vocab);
        let labels = LabelVars::new(&format!("{name}.l"), &u.pod_vocab);
        let ports = u
            .port_names
            .iter()
            .enumerate()
            .map(|(i, np)| {
                (
                    np.clone(),
                    Bool::new_const(format!("{name}.ph{i}")),
                    BV::new_const(format!("{name}.pn{i}"), 16),
                )
            })
            .collect();
        let kind = Int::new_const(format!("{name}.kind"));
        let ns = Int::new_const(format!("{name}.ns"));
        let mut side = Side {
            kind,
            ns,
            nsl,
            labels,
            ports,
            has_ip: Bool::new_const(format!("{name}.hasip")),
            ip: BV::new_const(format!("{name}.ip"), 32),
            host_network: Bool::new_const(format!("{name}.hostnet")),
            node: Int::new_const(format!("{name}.node")),
            candidate_ns: Vec::new(),
            new_ns: false,
            options: Vec::new(),
        };
        // Slicing: existing options that can satisfy the filter, future namespaces.
        let (options, future_ns, new_ns, future): (Vec<usize>, Vec<usize>, bool, bool) =
            match filter {
                SideFilter::Peer(p) => {
                    let named = p.workload.is_some() || p.pod.is_some();
                    let future = !named && self.scope == Scope::Any;
                    let opts = (0..u.eps.len())
                        .filter(|&j| u.rep[j] == j && self.peer_existing(p, j))
                        .filter(|&j| !(future && u.subsumed(j, self.allow)))
                        .collect();
                    let (fns, new) = self.peer_namespaces(p);
                    (opts, fns, new, future)
                }
                SideFilter::NoneOf(peers) => {
                    let future = self.scope == Scope::Any;
                    let opts = (0..u.eps.len())
                        .filter(|&j| {
                            u.rep[j] == j && !peers.iter().any(|p| self.peer_existing_exact(p, j))
                        })
                        .filter(|&j| !(future && u.subsumed(j, self.allow)))
                        .collect();
                    (opts, (0..u.namespaces.len()).collect(), true, future)
                }
            };
        let mut cands: Vec<usize> = options.iter().map(|&j| u.eps[j].ns).collect();
        if future {
            cands.extend(future_ns.iter().copied());
        }
        cands.sort_unstable();
        cands.dedup();
        side.candidate_ns = cands;
        side.new_ns = future && new_ns;
        side.options = options.clone();
        let mut kinds = Vec::new();
        for &j in &options {
            kinds.push(Bool::and(&[
                side.kind.eq(Int::from_i64(j as i64)),
                self.existing_facts(&side, j),
            ]));
        }
        if future {
            kinds.push(Bool::and(&[
                side.kind.eq(Int::from_i64(FUTURE)),
                self.future_facts(&side, &future_ns, side.new_ns),
            ]));
        }
        kinds.push(Bool::and(&[
            side.kind.eq(Int::from_i64(EXTERNAL)),
            self.external_facts(&side),
        ]));
        out.push(Bool::or(&kinds));
        side
    }

    fn ns_facts(&self, side: &Side, ns: usize) -> Bool {
        Bool::and(&[
            side.ns.eq(Int::from_i64(ns as i64)),
            side.nsl.fixed(&self.u.ns_vocab, &self.u.namespaces[ns].1),
        ])
    }

    fn existing_facts(&self, side: &Side, j: usize) -> Bool {
        let e = &self.u.eps[j];
        let mut parts = vec![
            self.ns_facts(side, e.ns),
            side.labels.fixed(&self.u.pod_vocab, &e.labels),
            Bool::from_bool(e.host_network).eq(&side.host_network),
            Self::runs_on(side, &e.runs_on),
        ];
        for ((name, proto), has, num) in &side.ports {
            match e
                .ports
                .iter()
                .find(|c| c.name.as_deref() == Some(name) && c.protocol == *proto)
            {
                Some(c) => {
                    parts.push(has.clone());
                    parts.push(num.eq(BV::from_u64(u64::from(c.port), 16)));
                }
                None => parts.push(has.not()),
            }
        }
        match e.ip {
            Some(ip) => {
                parts.push(side.has_ip.clone());
                parts.push(side.ip.eq(ip_const(ip)));
            }
            None if e.symbolic_ip => {
                parts.push(side.has_ip.clone());
                parts.push(self.in_pod_cidrs(&side.ip));
                parts.push(self.not_known_ip(&side.ip));
            }
            None => parts.push(side.has_ip.not()),
        }
        Bool::and(&parts)
    }

    /// S10/V4: the side runs on one of `nodes`, or (none given) on a node netpol does not
    /// know.
    fn runs_on(side: &Side, nodes: &[usize]) -> Bool {
        if nodes.is_empty() {
            return side.node.eq(Int::from_i64(-1));
        }
        let v: Vec<Bool> = nodes
            .iter()
            .map(|&k| side.node.eq(Int::from_i64(k as i64)))
            .collect();
        Bool::or(&v)
    }

    /// A pod's address: in `podCIDRs` (anywhere when none is configured), and never in the
    /// `serviceCIDR` (Kubernetes keeps the two apart).
    fn in_pod_cidrs(&self, ip: &BV) -> Bool {
        let mut parts = Vec::new();
        if !self.u.pod_cidrs.is_empty() {
            let v: Vec<Bool> = self.u.pod_cidrs.iter().map(|n| in_net(ip, n)).collect();
            parts.push(Bool::or(&v));
        }
        if let Some(ipnet::IpNet::V4(sc)) = self.u.profile.service_cidr {
            parts.push(in_net(ip, &sc).not());
        }
        Bool::and(&parts)
    }

    fn not_known_ip(&self, ip: &BV) -> Bool {
        let v: Vec<Bool> = self
            .u
            .known_ips
            .iter()
            .map(|a| ip.eq(ip_const(*a)).not())
            .collect();
        Bool::and(&v)
    }

    fn future_facts(&self, side: &Side, nss: &[usize], new_ns: bool) -> Bool {
        let u = self.u;
        let mut opts: Vec<Bool> = nss.iter().map(|&n| self.ns_facts(side, n)).collect();
        if new_ns {
            // A new namespace: free labels, but its name is none of the existing names.
            let mut parts = vec![
                side.ns.eq(Int::from_i64(u.namespaces.len() as i64)),
                side.nsl.bounded(&u.ns_vocab),
            ];
            if let Some((_, has, val)) = side.nsl.get(NAMESPACE_NAME_LABEL) {
                parts.push(has.clone());
                for (name, _) in &u.namespaces {
                    parts.push(
                        val.eq(Int::from_i64(u.ns_vocab.index(NAMESPACE_NAME_LABEL, name)))
                            .not(),
                    );
                }
            }
            opts.push(Bool::and(&parts));
        }
        // V4: a future pod runs on any configured node, or on one netpol does not know.
        let mut nodes = vec![side.node.eq(Int::from_i64(-1))];
        for (k, (_, ip)) in u.node_keys.iter().enumerate() {
            if ip.is_some() {
                nodes.push(side.node.eq(Int::from_i64(k as i64)));
            }
        }
        let mut parts = vec![
            Bool::or(&opts),
            Bool::or(&nodes),
            side.labels.bounded(&u.pod_vocab),
            side.host_network.not(),
            side.has_ip.clone(),
            self.in_pod_cidrs(&side.ip),
            self.not_known_ip(&side.ip),
        ];
        for (_, _, num) in &side.ports {
            parts.push(num.eq(BV::from_u64(0, 16)).not());
        }
        Bool::and(&parts)
    }

    fn external_facts(&self, side: &Side) -> Bool {
        // A node's primary IP is an external address too (the node endpoint), even when a
        // hostNetwork pod has the same IP.
        let node_ips: Vec<Bool> = self
            .u
            .node_keys
            .iter()
            .filter_map(|(_, ip)| ip.map(|a| side.ip.eq(ip_const(a))))
            .collect();
        // Pod subnets are VPC subnets, shared with unlisted nodes, load balancers and other
        // instances, so an external address may be in `podCIDRs` too.
        let mut parts = vec![
            side.ns.eq(Int::from_i64(-1)),
            side.node.eq(Int::from_i64(-1)),
            side.has_ip.clone(),
            side.host_network.not(),
            Bool::or(&[self.not_known_ip(&side.ip), Bool::or(&node_ips)]),
        ];
        for (_, has, _) in &side.ports {
            parts.push(has.not());
        }
        Bool::and(&parts)
    }

    /// Over-approximation for slicing: whether existing endpoint `j` may satisfy the peer.
    fn peer_existing(&self, p: &PeerSpec, j: usize) -> bool {
        self.peer_existing_exact(p, j)
            || (p.ip_block.is_some() && self.u.eps[j].symbolic_ip && self.peer_existing_no_ip(p, j))
    }

    fn peer_existing_no_ip(&self, p: &PeerSpec, j: usize) -> bool {
        let u = self.u;
        let e = &u.eps[j];
        let (ns_name, ns_labels) = &u.namespaces[e.ns];
        p.namespace.as_ref().is_none_or(|n| n == ns_name)
            && p.namespace_selector
                .as_ref()
                .is_none_or(|s| to_selector(s).matches(ns_labels))
            && p.pod_selector
                .as_ref()
                .is_none_or(|s| to_selector(s).matches(&e.labels))
            && p.workload
                .as_ref()
                .is_none_or(|w| u.find_workload(w) == Some(j))
            && p.pod.as_ref().is_none_or(|w| u.find_pod(w) == Some(j))
    }

    /// Whether existing endpoint `j` satisfies the peer for certain (symbolic IPs excluded).
    pub(crate) fn peer_existing_exact(&self, p: &PeerSpec, j: usize) -> bool {
        let e = &self.u.eps[j];
        self.peer_existing_no_ip(p, j)
            && p.ip_block.as_ref().is_none_or(|b| {
                let Some(ip) = e.ip else { return false };
                let Ok(ipnet::IpNet::V4(cidr)) = b.cidr.parse::<ipnet::IpNet>() else {
                    return false;
                };
                cidr.contains(&ip)
                    && !b.except.iter().any(|x| matches!(x.parse::<ipnet::IpNet>(), Ok(ipnet::IpNet::V4(n)) if n.contains(&ip)))
            })
    }

    /// Existing namespaces a future pod matching the peer may be in, and whether a new one.
    fn peer_namespaces(&self, p: &PeerSpec) -> (Vec<usize>, bool) {
        let u = self.u;
        let mut nss: Vec<usize> = (0..u.namespaces.len()).collect();
        let mut new = true;
        if let Some(n) = &p.namespace {
            nss.retain(|&i| &u.namespaces[i].0 == n);
            new = nss.is_empty();
        }
        if let Some(s) = &p.namespace_selector {
            let s = to_selector(s);
            nss.retain(|&i| s.matches(&u.namespaces[i].1));
        }
        (nss, new)
    }

    /// The assertion peer as a formula over a side.
    pub(crate) fn peer(&self, p: &PeerSpec, side: &Side) -> Bool {
        let u = self.u;
        let mut parts = Vec::new();
        let selects_pods = p.namespace.is_some()
            || p.namespace_selector.is_some()
            || p.pod_selector.is_some()
            || p.workload.is_some()
            || p.pod.is_some()
            || p.ip_block.is_none();
        if selects_pods {
            parts.push(side.is_pod());
        }
        if let Some(n) = &p.namespace {
            match side.nsl.get(NAMESPACE_NAME_LABEL) {
                Some((_, has, val)) => {
                    parts.push(has.clone());
                    parts.push(val.eq(Int::from_i64(u.ns_vocab.index(NAMESPACE_NAME_LABEL, n))));
                }
                None => parts.push(Bool::from_bool(false)),
            }
        }
        if let Some(s) = &p.namespace_selector {
            parts.push(side.nsl.matches(&u.ns_vocab, &to_selector(s)));
        }
        if let Some(s) = &p.pod_selector {
            parts.push(side.labels.matches(&u.pod_vocab, &to_selector(s)));
        }
        if let Some(w) = &p.workload {
            let j = u.find_workload(w).map_or(-100, |j| j as i64);
            parts.push(side.kind.eq(Int::from_i64(j)));
        }
        if let Some(w) = &p.pod {
            let j = u.find_pod(w).map_or(-100, |j| j as i64);
            parts.push(side.kind.eq(Int::from_i64(j)));
        }
        if let Some(b) = &p.ip_block {
            parts.push(self.in_block_spec(side, &b.cidr, &b.except));
        }
        Bool::and(&parts)
    }

    /// The scope restriction of a side.
    pub(crate) fn scope_ok(&self, side: &Side) -> Bool {
        match self.scope {
            Scope::Any => Bool::from_bool(true),
            Scope::Existing => side.kind.eq(Int::from_i64(FUTURE)).not(),
        }
    }

    /// Distinct pods: never the same bare Pod or external address, never one IP twice.
    pub(crate) fn distinct(&self, s: &Side, d: &Side) -> Bool {
        // A class of one bare Pod cannot be both ends; a workload (replicas) or a class of
        // several identical pods can.
        let u = self.u;
        let bare: Vec<Bool> = s
            .options
            .iter()
            .filter(|j| d.options.contains(j))
            .filter(|&&j| {
                u.eps[j].kind == EndpointKind::Pod && u.members.get(&j).is_none_or(|m| m.len() < 2)
            })
            .map(|&j| s.kind.eq(Int::from_i64(j as i64)))
            .collect();
        let same = s.kind.eq(&d.kind);
        Bool::and(&[
            same.implies(Bool::and(&[
                Bool::or(&bare).not(),
                s.kind.eq(Int::from_i64(EXTERNAL)).not(),
            ])),
            // hostNetwork pods on one node share its IP and are still distinct pods.
            Bool::and(&[
                s.has_ip.clone(),
                d.has_ip.clone(),
                Bool::and(&[s.host_network.clone(), d.host_network.clone()]).not(),
            ])
            .implies(s.ip.eq(&d.ip).not()),
            Bool::and(&[
                s.kind.eq(Int::from_i64(EXTERNAL)),
                d.kind.eq(Int::from_i64(EXTERNAL)),
            ])
            .not(),
        ])
    }

    /// The assertion's port set over (proto, port).
    pub(crate) fn ports_formula(&self, items: &[PortItem], proto: &Int, port: &BV) -> Bool {
        let v: Vec<Bool> = items
            .iter()
            .map(|it| match it {
                None => proto.eq(Int::from_i64(OTHER_PROTO)),
                Some((p, lo, hi)) => Bool::and(&[
                    proto.eq(Int::from_i64(proto_index(*p))),
                    port.bvuge(BV::from_u64(u64::from(*lo), 16)),
                    port.bvule(BV::from_u64(u64::from(*hi), 16)),
                ]),
            })
            .collect();
        Bool::and(&[
            Bool::or(&v),
            proto.ge(Int::from_i64(0)),
            proto.le(Int::from_i64(OTHER_PROTO)),
            proto
                .eq(Int::from_i64(OTHER_PROTO))
                .not()
                .implies(port.eq(BV::from_u64(0, 16)).not()),
        ])
    }

    /// S2 with V1/V2: (isolated, any policy selects, selecting terms) of `x` in `d`.
    fn isolation(&self, x: &Side, d: Direction) -> (Bool, Bool, Vec<(usize, Bool)>) {
        let u = self.u;
        let mut iso = Vec::new();
        let mut sel_all = Vec::new();
        let mut selecting = Vec::new();
        for &n in &x.candidate_ns {
            for &pi in &u.policies_in[n] {
                let p = &u.policies[pi];
                let sel = self.selected_by(x, n, pi);
                let di = usize::from(d == Direction::Egress);
                if p.policy_types.contains(d) || u.resolves[pi][di] {
                    iso.push(sel.clone());
                } else if self.scope == Scope::Any && u.may_resolve[pi][di] {
                    // V2: a pod created later may make this direction's rules resolve;
                    // whether one exists is the solver's choice, shared by both sides.
                    iso.push(Bool::and(&[sel.clone(), v2_resolved_later(pi, d)]));
                }
                sel_all.push(sel.clone());
                selecting.push((pi, sel));
            }
        }
        (Bool::or(&iso), Bool::or(&sel_all), selecting)
    }

    /// Policy `pi` of namespace `n` selects `x` (and policies are enforced at `x`).
    fn selected_by(&self, x: &Side, n: usize, pi: usize) -> Bool {
        Bool::and(&[
            x.enforced(),
            x.ns.eq(Int::from_i64(n as i64)),
            x.labels
                .matches(&self.u.pod_vocab, &self.u.policies[pi].subject),
        ])
    }

    /// Whether `x` is isolated in `d` as `isolated` means it (strict default deny included).
    pub(crate) fn isolated(&self, x: &Side, d: Direction) -> Bool {
        let (iso, any, _) = self.isolation(x, d);
        let strict = self.u.profile.flags.strict_default_deny;
        Bool::and(&[
            x.enforced(),
            Bool::or(&[iso, Bool::and(&[Bool::from_bool(strict), any.not()])]),
        ])
    }

    /// Direction `d` evaluated at `x` toward `y` on (proto, port).
    pub(crate) fn direction(
        &self,
        x: &Side,
        y: &Side,
        d: Direction,
        proto: &Int,
        port: &BV,
        at_dst: bool,
    ) -> Trace {
        let u = self.u;
        let (iso, any, selecting) = self.isolation(x, d);
        let strict = u.profile.flags.strict_default_deny;
        let vpc = u.profile.flags.rules_outside_policy_types;
        let mut allow = vec![
            x.enforced().not(),
            Bool::and(&[any.not(), Bool::from_bool(!strict)]),
            Bool::and(&[any.clone(), iso.not()]),
        ];
        let mut rules = Vec::new();
        let exempt = if u.profile.flags.exempts_node(d) {
            Bool::and(&[any.clone(), x.enforced(), self.node_exemption(x, y)])
        } else {
            Bool::from_bool(false)
        };
        allow.push(exempt.clone());
        for (pi, sel) in &selecting {
            let p = &u.policies[*pi];
            if !vpc && !p.policy_types.contains(d) {
                continue;
            }
            for (ri, r) in p.rules(d).iter().enumerate() {
                let m = match d {
                    Direction::Ingress => self.ingress_rule(*pi, ri, r, x, y, proto, port),
                    Direction::Egress => self.egress_rule(r, y, proto, port),
                };
                let t = Bool::and(&[sel.clone(), m]);
                allow.push(t.clone());
                rules.push((r.provenance, t));
            }
        }
        let allowed = Bool::or(&allow);
        Trace {
            direction: d,
            at_dst,
            allowed_direct: allowed.clone(),
            allowed,
            enforced: x.enforced(),
            isolated: iso,
            selecting,
            rules,
            exempt,
        }
    }

    /// S6/V3: `y`'s address is in the block; a hostNetwork workload without one address (a
    /// DaemonSet) is when the IP of a configured node it runs on is.
    fn in_block(&self, y: &Side, cidr: &Ipv4Net, except: &[Ipv4Net]) -> Bool {
        let u = self.u;
        let inside = |ip: Ipv4Addr| cidr.contains(&ip) && !except.iter().any(|e| e.contains(&ip));
        let mut v = vec![ip_block(y, cidr, except)];
        // The carriers are few; a side's options are many (and sorted).
        v.extend(
            u.node_carriers
                .iter()
                .filter(|&&j| {
                    let e = &u.eps[j];
                    e.ip.is_none()
                        && y.options.binary_search(&j).is_ok()
                        && e.carries
                            .iter()
                            .any(|&k| u.node_keys[k].1.is_some_and(inside))
                })
                .map(|&j| y.kind.eq(Int::from_i64(j as i64))),
        );
        Bool::or(&v)
    }

    /// An assertion's ipBlock, as [`Self::in_block`].
    fn in_block_spec(&self, y: &Side, cidr: &str, except: &[String]) -> Bool {
        let net = |s: &str| match s.parse::<ipnet::IpNet>() {
            Ok(ipnet::IpNet::V4(n)) => Some(n.trunc()),
            _ => None,
        };
        let Some(c) = net(cidr) else {
            return Bool::from_bool(false);
        };
        let ex: Vec<Ipv4Net> = except.iter().filter_map(|e| net(e)).collect();
        self.in_block(y, &c, &ex)
    }

    /// `y` carries the IP of node `k`: a hostNetwork pod on it, or the node itself.
    fn carries_node(&self, y: &Side, k: usize) -> Bool {
        let u = self.u;
        let mut v: Vec<Bool> = y
            .options
            .iter()
            .filter(|&&j| u.eps[j].carries.contains(&k))
            .map(|&j| y.kind.eq(Int::from_i64(j as i64)))
            .collect();
        if let Some(ip) = u.node_keys[k].1 {
            v.push(Bool::and(&[
                y.kind.eq(Int::from_i64(EXTERNAL)),
                y.ip.eq(ip_const(ip)),
            ]));
        }
        Bool::or(&v)
    }

    /// V4: `y` carries the primary IP of the configured node `x` runs on.
    fn node_exemption(&self, x: &Side, y: &Side) -> Bool {
        let v: Vec<Bool> = (0..self.u.node_keys.len())
            .filter(|&k| self.u.node_keys[k].1.is_some())
            .map(|k| Bool::and(&[x.node.eq(Int::from_i64(k as i64)), self.carries_node(y, k)]))
            .collect();
        Bool::or(&v)
    }

    /// V6: the nodes on which a selector peer matches a hostNetwork pod, with the pods.
    fn peer_nodes(&self, peer: &PeerMatch) -> BTreeMap<usize, Vec<usize>> {
        let u = self.u;
        let mut out: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        if !u.profile.flags.host_network_peers {
            return out;
        }
        for &j in &u.node_carriers {
            let e = &u.eps[j];
            if u.direct_match(peer, e) {
                for &k in &e.carries {
                    out.entry(k).or_default().push(j);
                }
            }
        }
        out
    }

    /// V5: the ways from `s` to `d` through a ClusterIP on (proto, port), where `port` is
    /// the destination pod's port (the Service's `targetPort`).
    pub(crate) fn via_services(&self, s: &Side, d: &Side, proto: &Int, port: &BV) -> Vec<Via> {
        let u = self.u;
        let mut out = Vec::new();
        for (si, svc) in u.services.iter().enumerate() {
            let Some(selector) = &svc.selector else {
                continue;
            };
            if d.candidate_ns.binary_search(&svc.ns).is_err() {
                continue;
            }
            let access = if self.allow {
                &svc.access_certain
            } else if self.named == NamedMode::Widened {
                &svc.access_widened
            } else {
                &svc.access
            };
            let sel_terms: Vec<(usize, usize, &netpol_graph::PortSet, Bool)> = access
                .iter()
                .filter_map(|(pi, ri, ports)| {
                    let n = u.ns_index(&u.policies[*pi].namespace)?;
                    s.candidate_ns.binary_search(&n).ok()?;
                    Some((*pi, *ri, ports, self.selected_by(s, n, *pi)))
                })
                .collect();
            if sel_terms.is_empty() {
                continue;
            }
            let mut backend = vec![d.is_pod(), d.ns.eq(Int::from_i64(svc.ns as i64))];
            for (k, v) in selector {
                match d.labels.get(k) {
                    Some((_, has, val)) => {
                        backend.push(has.clone());
                        backend.push(val.eq(Int::from_i64(u.pod_vocab.index(k, v))));
                    }
                    None => backend.push(Bool::from_bool(false)),
                }
            }
            let backend = Bool::and(&backend);
            for sp in &svc.ports {
                let rules: Vec<(Provenance, Bool)> = sel_terms
                    .iter()
                    .filter(|(_, _, ports, _)| ports.contains(sp.protocol, sp.port))
                    .map(|(pi, ri, _, sel)| (u.policies[*pi].egress[*ri].provenance, sel.clone()))
                    .collect();
                if rules.is_empty() {
                    continue;
                }
                let target = match &sp.target_port {
                    PortRef::Number(t) => port.eq(BV::from_u64(u64::from(*t), 16)),
                    PortRef::Name(n) => Self::named_on(d, n, sp.protocol, port),
                };
                let any_rule: Vec<Bool> = rules.iter().map(|(_, b)| b.clone()).collect();
                let term = Bool::and(&[
                    backend.clone(),
                    proto.eq(Int::from_i64(proto_index(sp.protocol))),
                    target,
                    Bool::or(&any_rule),
                ]);
                out.push(Via {
                    service: si,
                    port: sp.port,
                    rules,
                    term,
                });
            }
        }
        out
    }

    fn peer_match(&self, peer: &PeerMatch, y: &Side) -> Bool {
        let u = self.u;
        match peer {
            PeerMatch::IpBlock { cidr, except, .. } => match cidr {
                ipnet::IpNet::V4(c) => {
                    let ex: Vec<Ipv4Net> = except
                        .iter()
                        .filter_map(|e| match e {
                            ipnet::IpNet::V4(n) => Some(*n),
                            ipnet::IpNet::V6(_) => None,
                        })
                        .collect();
                    self.in_block(y, c, &ex)
                }
                ipnet::IpNet::V6(_) => Bool::from_bool(false),
            },
            PeerMatch::Pods {
                namespaces, pods, ..
            } => {
                let mut parts = vec![y.is_pod()];
                if !u.profile.flags.host_network_peers {
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
    fn named_on(on: &Side, name: &str, p: Protocol, port: &BV) -> Bool {
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
    fn ingress_rule(
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
                let v: Vec<Bool> = list.iter().map(|p| self.peer_match(p, src)).collect();
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

    fn egress_rule(&self, r: &LoweredRule, dst: &Side, proto: &Int, port: &BV) -> Bool {
        let vpc = self.u.profile.flags.named_ports_vpc;
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
                        Bool::and(&[self.peer_match(p, dst), ports])
                    })
                    .collect();
                Bool::or(&v)
            }
        }
    }
}

impl Encoder<'_> {
    /// V6 with S7: toward a node IP on which the peer matches hostNetwork pods, named ports
    /// resolve on those pods; elsewhere on the destination.
    fn node_or_dst_ports(
        &self,
        r: &LoweredRule,
        peer: &PeerMatch,
        dst: &Side,
        on_dst: &dyn Fn() -> Bool,
        proto: &Int,
        port: &BV,
    ) -> Bool {
        let named = r
            .ports
            .iter()
            .flatten()
            .any(|m| matches!(m.port, PortSpec::Named(_)));
        let nodes = if named {
            self.peer_nodes(peer)
        } else {
            BTreeMap::new()
        };
        if nodes.is_empty() {
            return on_dst();
        }
        let mut v = Vec::new();
        let mut at_node = Vec::new();
        for (&k, pods) in &nodes {
            let mut set = netpol_graph::PortSet::empty();
            for &j in pods {
                set.union_with(&resolve_ports(r.ports.as_deref(), &self.u.eps[j].ports));
            }
            let c = self.carries_node(dst, k);
            v.push(Bool::and(&[c.clone(), portset_formula(&set, proto, port)]));
            at_node.push(c);
        }
        v.push(Bool::and(&[Bool::or(&at_node).not(), on_dst()]));
        Bool::or(&v)
    }
}

fn ip_block(y: &Side, cidr: &Ipv4Net, except: &[Ipv4Net]) -> Bool {
    let mut parts = vec![y.has_ip.clone(), in_net(&y.ip, cidr)];
    for e in except {
        parts.push(in_net(&y.ip, e).not());
    }
    Bool::and(&parts)
}

/// A concrete [`netpol_graph::PortSet`] over (proto, port).
fn portset_formula(set: &netpol_graph::PortSet, proto: &Int, port: &BV) -> Bool {
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
        v.push(proto.eq(Int::from_i64(OTHER_PROTO)));
    }
    Bool::or(&v)
}

/// V2 under `scope: any`: a pod created later resolves the `d` rules of policy `pi`. One
/// variable per policy and direction, shared by both sides of a query.
pub(crate) fn v2_resolved_later(pi: usize, d: Direction) -> Bool {
    Bool::new_const(format!(
        "v2.resolved.{pi}.{}",
        usize::from(d == Direction::Egress)
    ))
}
