//! A side's variables and domain (an existing endpoint, a future pod or an external
//! address), and the slicing that keeps only the candidates an assertion peer may match.

use netpol_manifest::model::NAMESPACE_NAME_LABEL;
use z3::ast::{BV, Bool, Int};

use super::ip::{in_net, ip_is, width};
use super::{EXTERNAL, Encoder, FUTURE, LabelVars, Side, SideFilter};
use crate::config::{Peer, Scope};

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
            ip: BV::new_const(format!("{name}.ip"), width(u.profile.ip_family)),
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
            if self.expired() {
                break;
            }
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
                parts.push(ip_is(&side.ip, ip));
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
        if let Some(sc) = &self.u.profile.service_cidr {
            parts.push(in_net(ip, sc).not());
        }
        Bool::and(&parts)
    }

    fn not_known_ip(&self, ip: &BV) -> Bool {
        let v: Vec<Bool> = self
            .u
            .known_ips
            .iter()
            .map(|a| ip_is(ip, *a).not())
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
            .filter_map(|(_, ip)| ip.map(|a| ip_is(&side.ip, a)))
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
    fn peer_existing(&self, p: &Peer, j: usize) -> bool {
        self.peer_existing_exact(p, j)
            || (p.ip_block.is_some() && self.u.eps[j].symbolic_ip && self.peer_existing_no_ip(p, j))
    }

    fn peer_existing_no_ip(&self, p: &Peer, j: usize) -> bool {
        let u = self.u;
        let e = &u.eps[j];
        let (ns_name, ns_labels) = &u.namespaces[e.ns];
        p.namespace.as_ref().is_none_or(|n| n == ns_name)
            && p.namespace_selector
                .as_ref()
                .is_none_or(|s| s.matches(ns_labels))
            && p.pod_selector.as_ref().is_none_or(|s| s.matches(&e.labels))
            && p.workload
                .as_ref()
                .is_none_or(|w| u.find_workload(w) == Some(j))
            && p.pod.as_ref().is_none_or(|w| u.find_pod(w) == Some(j))
    }

    /// Whether existing endpoint `j` satisfies the peer for certain (symbolic IPs excluded).
    pub(crate) fn peer_existing_exact(&self, p: &Peer, j: usize) -> bool {
        let e = &self.u.eps[j];
        self.peer_existing_no_ip(p, j)
            && p.ip_block.as_ref().is_none_or(|b| {
                let Some(ip) = e.ip else { return false };
                b.cidr.contains(&ip) && !b.except.iter().any(|n| n.contains(&ip))
            })
    }

    /// Existing namespaces a future pod matching the peer may be in, and whether a new one.
    fn peer_namespaces(&self, p: &Peer) -> (Vec<usize>, bool) {
        let u = self.u;
        let mut nss: Vec<usize> = (0..u.namespaces.len()).collect();
        let mut new = true;
        if let Some(n) = &p.namespace {
            nss.retain(|&i| &u.namespaces[i].0 == n);
            new = nss.is_empty();
        }
        if let Some(s) = &p.namespace_selector {
            nss.retain(|&i| s.matches(&u.namespaces[i].1));
        }
        (nss, new)
    }
}
