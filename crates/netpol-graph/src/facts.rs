//! Concrete facts of the VPC CNI deviations that another engine (the SMT encoding) needs
//! and that depend only on the manifests: which egress rules admit which Service
//! ClusterIPs (V5) and which node each endpoint runs on or speaks for (V4, V6). Computing
//! them here keeps a single implementation of those rules.

use std::collections::BTreeMap;

use netpol_manifest::model::Operator;

use crate::ip::{Block, Cover};
use crate::ir::{PeerMatch, PortSpec};
use crate::ports::PortSet;
use crate::rules::services::Backends;
use crate::rules::switches;
use crate::rules::vpc::{self, Addresses};
use crate::world::{EpKind, World};

/// V5: one egress rule admitting one Service's ClusterIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccess {
    /// Index into `model.services`.
    pub service: usize,
    /// Index into [`crate::Analysis::policies`].
    pub policy: usize,
    /// Index into the policy's egress rules.
    pub rule: usize,
    /// The Service `port`s the rule may allow (before the backends' ingress): an ipBlock
    /// that covers part of the range an unknown ClusterIP comes from counts.
    pub ports: PortSet,
    /// The part of `ports` the rule allows for certain, as the matrix counts them: what
    /// an `allow` proof may rely on.
    pub ports_certain: PortSet,
    /// The same when a named rule port may match any numeric `targetPort` of its protocol,
    /// as if some future backend declared the name with that number (for proofs over every
    /// possible pod). A superset of `ports`.
    pub ports_widened: PortSet,
    /// V10: the part of `ports_certain` that no pod created later can change (no backend
    /// decides it): what an `allow` under scope any may rely on.
    pub ports_stable: PortSet,
    /// V10: the part of `ports` not in `ports_certain` because a selector peer's port maps
    /// to a Service port chosen by whichever backend the controller meets first: `verify`
    /// answers `unknown` where the verdict turns on it.
    pub ports_unsure: PortSet,
}

/// V5, grouped: egress rules with the same peers and ports (the same `to` and `ports`
/// text, often in every namespace) admit the same Services on the same ports, so they are
/// listed once with the Services they admit. Linear in rules plus Services, where
/// [`ServiceAccess`] lists their product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccessGroup {
    /// (index into [`crate::Analysis::policies`], index into its egress rules), sorted.
    pub rules: Vec<(usize, usize)>,
    /// (Service index into `model.services`, [ports, ports_certain, ports_widened,
    /// ports_unsure, ports_stable]) as in [`ServiceAccess`], sorted by Service.
    pub services: Vec<(usize, [PortSet; 5])>,
}

/// V4 and V6 facts of one endpoint of the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    /// The nodes whose primary IP this endpoint's traffic may carry (the nodes a hostNetwork
    /// endpoint's pods run on), by name, sorted: S10/V4 exempt them, and a selector peer
    /// that matches the endpoint allows their IPs (V6).
    pub carries: Vec<String>,
    /// S10/V4: indices into `profile.nodes` of the nodes an enforced pod may run on, sorted
    /// (every configured node for a workload or a pod with no node).
    pub runs_on: Vec<usize>,
}

/// V5 for every egress rule and ClusterIP Service, sorted by (service, policy, rule),
/// except rules with `to` and `ports` both omitted (they admit everything directly).
pub(crate) fn service_access(w: &World<'_>) -> Vec<ServiceAccess> {
    let mut out = Vec::new();
    for g in service_access_groups(w) {
        for &(policy, rule) in &g.rules {
            out.extend(g.services.iter().map(
                |(service, [ports, certain, widened, unsure, stable])| ServiceAccess {
                    service: *service,
                    policy,
                    rule,
                    ports: ports.clone(),
                    ports_certain: certain.clone(),
                    ports_widened: widened.clone(),
                    ports_unsure: unsure.clone(),
                    ports_stable: stable.clone(),
                },
            ));
        }
    }
    out.sort_by_key(|a| (a.service, a.policy, a.rule));
    out
}

/// [`service_access`] grouped by rule key, groups in the order of their first rule; groups
/// that admit no Service are left out.
pub(crate) fn service_access_groups(w: &World<'_>) -> Vec<ServiceAccessGroup> {
    let mut out = Vec::new();
    if !switches::cluster_ip_egress(&w.profile) {
        return out;
    }
    let services: Vec<usize> = (0..w.model.services.len())
        .filter(|&i| switches::is_cluster_ip_service(&w.model.services[i]))
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
    // Address peers: Services without a known ClusterIP are all covered or none is (it
    // depends on `serviceCIDR` only), so one of them stands for the rest.
    let (known_ip, unknown_ip): (Vec<usize>, Vec<usize>) = services
        .iter()
        .partition(|&&i| w.model.services[i].cluster_ip.is_some());
    let by_address = |block: Option<&Block>| -> Vec<usize> {
        let mut v = known_ip.clone();
        if unknown_ip.first().is_some_and(|&i| {
            switches::cluster_ip_cover(&w.profile, block, &w.model.services[i]) != Cover::None
        }) {
            v.extend_from_slice(&unknown_ip);
        }
        v
    };
    // The Services of the namespaces a scope picks, by scope: policies repeat scopes.
    let mut scoped: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut by_label: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for &i in &services {
        for (k, v) in w.model.services[i].selector.iter().flatten() {
            by_label
                .entry((k.as_str(), v.as_str()))
                .or_default()
                .push(i);
        }
    }
    // Rules repeat across policies: the result by (peers, ports), and the group's index.
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    for (pi, p) in w.policies.iter().enumerate() {
        for (ri, rule) in p.egress.iter().enumerate() {
            if rule.peers.is_none() && rule.ports.is_none() {
                // It admits every destination directly on every port: a ClusterIP path
                // through it adds nothing, and listing it for every Service made this
                // quadratic (every policy of Online Boutique has `egress: [{}]`).
                continue;
            }
            // Without spans, so that the same rule text in every namespace is one group.
            let key = format!(
                "{:?}{:?}",
                rule.peers
                    .as_ref()
                    .map(|l| l.iter().map(PeerMatch::key).collect::<Vec<_>>()),
                rule.ports
                    .as_ref()
                    .map(|l| l.iter().map(|m| (m.protocol, &m.port)).collect::<Vec<_>>())
            );
            let has_named = rule
                .ports
                .iter()
                .flatten()
                .any(|m| matches!(m.port, PortSpec::Named(_)));
            if let Some(&g) = by_rule.get(&key) {
                if let Some(group) = out.get_mut(g) {
                    let group: &mut ServiceAccessGroup = group;
                    group.rules.push((pi, ri));
                }
                continue;
            }
            let hits: Vec<(usize, [PortSet; 5])> = {
                // Per Service: [may, certain, widened, unsure, stable] ports.
                let mut hits: BTreeMap<usize, [PortSet; 5]> = BTreeMap::new();
                let mut add = |si: usize, peer: Option<&PeerMatch>| {
                    let svc = &w.model.services[si];
                    let at = |backends, addresses| {
                        vpc::service_peer_ports(w, rule, peer, svc, backends, addresses)
                    };
                    let ports = at(Backends::Existing, Addresses::Possible);
                    let certain = at(Backends::Existing, Addresses::Certain);
                    let stable = at(Backends::Existing, Addresses::Stable);
                    let widened = if has_named {
                        at(Backends::AnyFuture, Addresses::Possible)
                    } else {
                        ports.clone()
                    };
                    if !widened.is_empty() {
                        let e = hits.entry(si).or_default();
                        e[0].union_with(&ports);
                        e[1].union_with(&certain);
                        e[2].union_with(&widened);
                        e[4].union_with(&stable);
                        if matches!(peer, Some(PeerMatch::Pods { .. })) {
                            // V10: for a selector peer, ports it may but need not admit
                            // turn on the backend the controller meets first.
                            e[3].union_with(&ports.difference(&certain));
                        }
                    }
                };
                match &rule.peers {
                    None => by_address(None).into_iter().for_each(|si| add(si, None)),
                    Some(peers) => {
                        for peer in peers {
                            match peer {
                                PeerMatch::IpBlock { cidr, except, .. } => {
                                    let block = Block::new(*cidr, except);
                                    by_address(Some(&block))
                                        .into_iter()
                                        .for_each(|si| add(si, Some(peer)));
                                }
                                PeerMatch::Pods {
                                    namespaces,
                                    pods: Some(sel),
                                    ..
                                } if let Some(r) = sel
                                    .requirements
                                    .iter()
                                    .find(|r| r.operator == Operator::In) =>
                                {
                                    // Only Services whose selector has one of the values
                                    // can match: look them up instead of scanning.
                                    let mut cands: Vec<usize> = r
                                        .values
                                        .iter()
                                        .flat_map(|v| {
                                            by_label
                                                .get(&(r.key.as_str(), v.as_str()))
                                                .into_iter()
                                                .flatten()
                                                .copied()
                                        })
                                        .filter(|&si| {
                                            w.in_scope(namespaces, &w.model.services[si].namespace)
                                        })
                                        .collect();
                                    cands.sort_unstable();
                                    cands.dedup();
                                    cands.into_iter().for_each(|si| add(si, Some(peer)));
                                }
                                PeerMatch::Pods { namespaces, .. } => {
                                    let list =
                                        scoped.entry(namespaces.key()).or_insert_with(|| {
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
                hits.into_iter()
                    .map(|(si, mut e)| {
                        e[3] = e[3].difference(&e[1]);
                        (si, e)
                    })
                    .collect()
            };
            // A group that admits nothing still takes its key (its rules are skipped).
            by_rule.insert(key, out.len());
            out.push(ServiceAccessGroup {
                rules: vec![(pi, ri)],
                services: hits,
            });
        }
    }
    out.retain(|g| !g.services.is_empty());
    out
}

/// V7 ingress: [`vpc::ingress_union_ports`] of every ingress rule, by policy and rule.
pub(crate) fn ingress_unions(w: &World<'_>) -> Vec<Vec<Option<PortSet>>> {
    (w.policies.iter())
        .map(|p| {
            (p.ingress.iter())
                .map(|r| vpc::ingress_union_ports(w, p, r))
                .collect()
        })
        .collect()
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
                    carries: e.carries.clone(),
                    runs_on: e.runs_on.to_vec(),
                },
            )
        })
        .collect()
}

/// V13: the address keys of one enforced endpoint and direction with more than 24 slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotFacts {
    /// The endpoint's id (a model endpoint).
    pub endpoint: String,
    pub direction: netpol_manifest::model::Direction,
    pub keys: Vec<crate::TruncatedKey>,
}

/// V13 for every model endpoint and direction that has a truncated key, sorted by id.
pub(crate) fn truncated_slots(w: &World<'_>) -> Vec<SlotFacts> {
    use crate::rules::slots;
    let mut out = Vec::new();
    let mut memo = slots::SlotMemo::new();
    let mut by_ns: BTreeMap<&str, Vec<&crate::ir::LoweredPolicy>> = BTreeMap::new();
    for p in &w.policies {
        by_ns.entry(p.namespace.as_str()).or_default().push(p);
    }
    for e in w
        .eps
        .iter()
        .filter(|e| matches!(e.kind, EpKind::Workload(_)))
    {
        let Some(policies) = e.info.namespace.as_deref().and_then(|ns| by_ns.get(ns)) else {
            continue;
        };
        for dir in netpol_manifest::model::Direction::BOTH {
            // Cheap bound first: most namespaces never reach 25 entries in all.
            if policies
                .iter()
                .map(|p| slots::entries(p, dir))
                .sum::<usize>()
                <= 24
            {
                continue;
            }
            let keys = slots::truncated_keys(w, policies, e, dir, &mut memo);
            if !keys.is_empty() {
                out.push(SlotFacts {
                    endpoint: e.info.id.clone(),
                    direction: dir,
                    keys,
                });
            }
        }
    }
    out
}

/// V13 for the matrix: the pairs (from id, to id) whose ports a truncated key may drop in
/// part, with those ports (before they meet the pair's allowed ports) and the reason.
pub(crate) fn slot_marks(w: &World<'_>) -> Vec<(String, String, PortSet, String)> {
    use netpol_manifest::model::Direction;
    let mut out = Vec::new();
    for f in truncated_slots(w) {
        let Some(at) = w.find(&f.endpoint).map(|i| &w.eps[i]) else {
            continue;
        };
        for k in &f.keys {
            let why = crate::rules::slots::reason(&f.endpoint, f.direction, k);
            for q in crate::rules::slots::held_endpoints(w, at, f.direction, k) {
                let q = w.eps[q].info.id.clone();
                let (from, to) = match f.direction {
                    Direction::Egress => (f.endpoint.clone(), q),
                    Direction::Ingress => (q, f.endpoint.clone()),
                };
                out.push((from, to, k.uncertain.clone(), why.clone()));
            }
        }
    }
    out
}
