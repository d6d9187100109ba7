//! Concrete facts of the VPC CNI deviations that another engine (the SMT encoding) needs
//! and that depend only on the manifests: which egress rules admit which Service
//! ClusterIPs (V5) and which node each endpoint runs on or speaks for (V4, V6). Computing
//! them here keeps a single implementation of those rules.

use std::collections::BTreeMap;

use netpol_manifest::model::{PortRef, Service};

use crate::ir::{NamespaceScope, PeerMatch, PortSpec};
use crate::ports::PortSet;
use crate::vpc;
use crate::world::{EpKind, World, is_cluster_ip_service};

/// V5: one egress rule admitting one Service's ClusterIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccess {
    /// Index into `model.services`.
    pub service: usize,
    /// Index into [`crate::Analysis::policies`].
    pub policy: usize,
    /// Index into the policy's egress rules.
    pub rule: usize,
    /// The Service `port`s the rule allows (before the backends' ingress).
    pub ports: PortSet,
}

/// V4 and V6 facts of one endpoint of the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    /// The node whose IP this endpoint's traffic carries (a hostNetwork pod's node), by name.
    pub carries: Option<String>,
    /// V4: index into `profile.nodes` of the node a bare, non-hostNetwork Pod runs on.
    pub runs_on: Option<usize>,
}

/// V5 for every egress rule and ClusterIP Service, sorted by (service, policy, rule).
/// `widen_named`: a named rule port matches a numeric `targetPort` whenever the protocols
/// agree, as if some future backend declared the name with that number (for proofs over
/// every possible pod); otherwise only when an existing backend does (as the matrix does).
pub(crate) fn service_access(w: &World<'_>, widen_named: bool) -> Vec<ServiceAccess> {
    let mut out = Vec::new();
    if !w.profile.flags.cluster_ip_egress {
        return out;
    }
    let services: Vec<usize> = (0..w.model.services.len())
        .filter(|&i| is_cluster_ip_service(&w.model.services[i]))
        .collect();
    if services.is_empty() {
        return out;
    }
    let mut by_ns: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in &services {
        by_ns
            .entry(w.model.services[i].namespace.as_str())
            .or_default()
            .push(i);
    }
    // The Services of the namespaces a scope picks, by scope: policies repeat scopes.
    let mut scoped: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (pi, p) in w.policies.iter().enumerate() {
        for (ri, rule) in p.egress.iter().enumerate() {
            let mut hits: BTreeMap<usize, PortSet> = BTreeMap::new();
            let mut add = |si: usize, peer: Option<&PeerMatch>| {
                let svc = &w.model.services[si];
                let mut ports = vpc::service_peer_ports(w, rule, peer, svc);
                if widen_named && let Some(PeerMatch::Pods { .. }) = peer {
                    ports.union_with(&widened_ports(w, rule, peer, svc));
                }
                if !ports.is_empty() {
                    hits.entry(si)
                        .or_insert_with(PortSet::empty)
                        .union_with(&ports);
                }
            };
            match &rule.peers {
                None => services.iter().for_each(|&si| add(si, None)),
                Some(peers) => {
                    for peer in peers {
                        match peer {
                            PeerMatch::IpBlock { .. } => {
                                services.iter().for_each(|&si| add(si, Some(peer)));
                            }
                            PeerMatch::Pods { namespaces, .. } => {
                                let key = match namespaces {
                                    NamespaceScope::Own(own) => format!("O{own}"),
                                    NamespaceScope::Selector(s) => format!("S{:?}", s.requirements),
                                };
                                let list = scoped.entry(key).or_insert_with(|| {
                                    by_ns
                                        .iter()
                                        .filter(|(ns, _)| w.in_scope(namespaces, ns))
                                        .flat_map(|(_, l)| l.iter().copied())
                                        .collect()
                                });
                                list.iter().for_each(|&si| add(si, Some(peer)));
                            }
                        }
                    }
                }
            }
            out.extend(hits.into_iter().map(|(service, ports)| ServiceAccess {
                service,
                policy: pi,
                rule: ri,
                ports,
            }));
        }
    }
    out.sort_by_key(|a| (a.service, a.policy, a.rule));
    out
}

/// The Service ports a selector peer admits when a named rule port may resolve, on some
/// future backend, to any numeric `targetPort` of the same protocol.
fn widened_ports(
    w: &World<'_>,
    rule: &crate::ir::LoweredRule,
    peer: Option<&PeerMatch>,
    svc: &Service,
) -> PortSet {
    let mut res = PortSet::empty();
    let Some(PeerMatch::Pods { pods, .. }) = peer else {
        return res;
    };
    let empty = Default::default();
    let labels = svc.selector.as_ref().unwrap_or(&empty);
    if !w.profile.flags.cluster_ip_egress || !pods.as_ref().is_none_or(|s| s.matches(labels)) {
        return res;
    }
    for sp in &svc.ports {
        let named = rule.ports.iter().flatten().any(|m| {
            m.protocol == sp.protocol
                && matches!(m.port, PortSpec::Named(_))
                && matches!(sp.target_port, PortRef::Number(_))
        });
        if named {
            res.union_with(&PortSet::port(sp.protocol, sp.port));
        }
    }
    res
}

/// V4/V6 facts by endpoint id (model endpoints only), sorted by id.
pub(crate) fn node_facts(w: &World<'_>) -> Vec<(String, NodeFacts)> {
    w.eps
        .iter()
        .filter(|e| matches!(e.kind, EpKind::Workload(_)))
        .map(|e| {
            (
                e.info.id.clone(),
                NodeFacts {
                    carries: e.node_key.clone().filter(|_| e.host_network),
                    runs_on: e.own_node,
                },
            )
        })
        .collect()
}
