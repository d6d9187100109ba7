//! The rules that need the whole world to decide (V2, V5, V6, V7, S10/V4), and V2 over
//! pods that do not exist yet. Each reads its
//! profile switch through [`super::switches`], so under `upstream` each is a no-op.

use netpol_manifest::model::{Direction, Labels, NAMESPACE_NAME_LABEL, Service, ServicePort};

use crate::ip::{Block, Cover};
use crate::ir::{
    LoweredPolicy, LoweredRule, NamespaceScope, PeerMatch, PortSpec, numeric_ports, resolve_ports,
};
use crate::ports::PortSet;
use crate::profile::Profile;
use crate::world::{Ep, EpKind, World};

use super::services::{self, Backends};
use super::switches::{self, cluster_ip_cover, runs_on};

/// V2: whether a rule resolves to at least one entry of the agent's map (so that it
/// isolates its direction even when the direction is missing from `policyTypes`).
pub(crate) fn rule_resolves(w: &World<'_>, p: &LoweredPolicy, rule: &LoweredRule) -> bool {
    if !switches::unlisted_rules_enforced(&w.profile) {
        return false;
    }
    let ports = rule.ports.as_deref();
    match rule.provenance.direction {
        Direction::Ingress => {
            if ingress_rule_ports(w, p, rule).is_empty() {
                return false;
            }
            let Some(peers) = &rule.peers else {
                return true;
            };
            peers.iter().any(|peer| match peer {
                PeerMatch::IpBlock { .. } => true,
                PeerMatch::Pods { .. } => w.eps.iter().any(|e| w.direct_match(peer, e)),
            })
        }
        Direction::Egress => {
            let numeric_ok = !numeric_ports(ports).is_empty();
            let Some(peers) = &rule.peers else {
                return numeric_ok;
            };
            peers.iter().any(|peer| match peer {
                PeerMatch::IpBlock { .. } => numeric_ok,
                PeerMatch::Pods { .. } => {
                    w.eps.iter().any(|e| {
                        w.direct_match(peer, e)
                            && !resolve_ports(ports, w.container_ports(e)).is_empty()
                    }) || w.eps.iter().any(|e| match e.kind {
                        EpKind::Service(i) => {
                            let svc = &w.model.services[i];
                            !service_rule_ports(w, rule, svc).is_empty()
                        }
                        _ => false,
                    })
                }
            })
        }
    }
}

/// V2 under `scope: any`: whether a rule of policy `p` could resolve once pods that do not
/// exist yet are created: some selector peer could match a new pod, in an existing
/// namespace (of `namespaces`, sorted by name) or a new one; a new pod may declare any named
/// port, so its ports would resolve too. An ingress rule with a named port also resolves
/// once a new pod that `p` selects declares the name (V7 resolves it over the targets), even
/// with an omitted `from` or ipBlock peers. Otherwise an omitted peer list or an ipBlock
/// already resolves as far as it ever will ([`rule_resolves`]).
pub fn rule_may_resolve(
    profile: &Profile,
    p: &LoweredPolicy,
    rule: &LoweredRule,
    namespaces: &[(String, Labels)],
) -> bool {
    if !switches::unlisted_rules_enforced(profile) {
        return false;
    }
    let named = (rule.ports.iter().flatten()).any(|m| matches!(m.port, PortSpec::Named(_)));
    let new_target = rule.provenance.direction == Direction::Ingress
        && named
        && p.subject.satisfiable(None, &|_| true);
    let Some(peers) = &rule.peers else {
        return new_target;
    };
    if new_target && peers.iter().any(|x| matches!(x, PeerMatch::IpBlock { .. })) {
        return true;
    }
    let new_name = |v: &str| {
        namespaces
            .binary_search_by(|x| x.0.as_str().cmp(v))
            .is_err()
    };
    peers.iter().any(|peer| match peer {
        PeerMatch::IpBlock { .. } => false,
        PeerMatch::Pods {
            namespaces: scope,
            pods,
            ..
        } => {
            let ns_ok = match scope {
                NamespaceScope::Own(_) => true,
                NamespaceScope::Selector(sel) => {
                    namespaces.iter().any(|(_, l)| sel.matches(l))
                        || sel.satisfiable(Some(NAMESPACE_NAME_LABEL), &new_name)
                }
            };
            ns_ok
                && pods
                    .as_ref()
                    .is_none_or(|sel| sel.satisfiable(None, &|_| true))
        }
    })
}

/// S10/V4: the node that makes `pod` (isolated in `dir`) exempt `other`: one the pod may
/// run on whose primary IP `other` carries.
pub(crate) fn node_exempt<'w>(
    w: &'w World<'_>,
    pod: &Ep,
    other: &Ep,
    dir: Direction,
) -> Option<&'w str> {
    if !switches::exempts_node(&w.profile, dir) {
        return None;
    }
    pod.runs_on
        .iter()
        .map(|&n| w.profile.nodes[n].name.as_str())
        .find(|name| other.carries.iter().any(|c| c == name))
}

/// V6: whether a selector peer matches `e` because `e` carries the IP of a node on which
/// the peer matches a hostNetwork pod (the node itself, or another hostNetwork pod there).
pub(crate) fn node_expanded(w: &World<'_>, peer: &PeerMatch, e: &Ep) -> bool {
    switches::host_network_peers(&w.profile)
        && e.carries.iter().any(|key| {
            w.eps
                .iter()
                .any(|q| runs_on(q, key) && w.direct_match(peer, q))
        })
}

/// V6 with S7: the ports an egress selector rule allows toward `dst` when `dst` carries a
/// node IP: named ports resolve on the hostNetwork pods the peer matches on that node.
/// `None` when `dst` is not reached through a node IP.
pub(crate) fn node_ports(
    w: &World<'_>,
    peer: &PeerMatch,
    rule: &LoweredRule,
    dst: &Ep,
) -> Option<PortSet> {
    if !switches::host_network_peers(&w.profile) {
        return None;
    }
    let mut res: Option<PortSet> = None;
    for q in &w.eps {
        if dst.carries.iter().any(|key| runs_on(q, key)) && w.direct_match(peer, q) {
            let ports = resolve_ports(rule.ports.as_deref(), w.container_ports(q));
            res.get_or_insert_with(PortSet::empty).union_with(&ports);
        }
    }
    res
}

/// V7 (ingress) and S7: the ports an ingress rule allows at its targets. Under VPC CNI
/// a named port resolves over every pod the policy selects, hostNetwork pods included,
/// and the union applies to every target; an empty result drops the rule. Returns `None`
/// when the profile resolves per destination instead.
pub(crate) fn ingress_union_ports(
    w: &World<'_>,
    p: &LoweredPolicy,
    rule: &LoweredRule,
) -> Option<PortSet> {
    if !switches::named_ports_vpc(&w.profile) {
        return None;
    }
    let Some(list) = rule.ports.as_deref() else {
        return Some(PortSet::all());
    };
    let mut res = numeric_ports(Some(list));
    if list.iter().any(|m| matches!(m.port, PortSpec::Named(_))) {
        let key = std::ptr::from_ref(rule) as usize;
        let hit = (w.ingress_union.lock().ok()).and_then(|m| m.get(&key).cloned());
        if let Some(hit) = hit {
            return hit;
        }
        // Subjects are in the policy's namespace: ids `ns/...`, one run of the sorted list.
        let prefix = format!("{}/", p.namespace);
        let lo = w
            .eps
            .partition_point(|e| e.info.id.as_str() < prefix.as_str());
        for e in w.eps[lo..]
            .iter()
            .take_while(|e| e.info.id.starts_with(&prefix))
        {
            if w.subject_matches(p, e) {
                res.union_with(&resolve_ports(Some(list), w.container_ports(e)));
            }
        }
        if let Ok(mut m) = w.ingress_union.lock() {
            m.insert(key, Some(res.clone()));
        }
    }
    Some(res)
}

/// The ports of an ingress rule as the agent sees them, for V2 (both profiles use this
/// only under VPC CNI).
fn ingress_rule_ports(w: &World<'_>, p: &LoweredPolicy, rule: &LoweredRule) -> PortSet {
    ingress_union_ports(w, p, rule).unwrap_or_else(PortSet::all)
}

/// V7 (egress): ports toward an ipBlock peer or an omitted `to`: named ports are dropped.
/// `None` when the profile resolves named ports on the destination instead.
pub(crate) fn egress_cidr_ports(profile: &Profile, rule: &LoweredRule) -> Option<PortSet> {
    switches::named_ports_vpc(profile).then(|| numeric_ports(rule.ports.as_deref()))
}

/// V5: the Service ports a rule allows toward a Service's ClusterIP, as a [`PortSet`] of
/// Service `port`s (before the backends' ingress is checked).
pub(crate) fn service_rule_ports(w: &World<'_>, rule: &LoweredRule, svc: &Service) -> PortSet {
    match &rule.peers {
        None => service_peer_ports(w, rule, None, svc, Backends::Existing, Addresses::Certain),
        Some(peers) => {
            let mut res = PortSet::empty();
            for peer in peers {
                res.union_with(&service_peer_ports(
                    w,
                    rule,
                    Some(peer),
                    svc,
                    Backends::Existing,
                    Addresses::Certain,
                ));
            }
            res
        }
    }
}

/// Which ClusterIPs missing from the manifests an ipBlock admits (V3), and which Service
/// ports count when the controller's choice depends on which backend it meets first (V10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Addresses {
    /// Only when it covers the whole range they come from, and only ports every choice
    /// admits (the matrix, `allow` proofs).
    Certain,
    /// Also when it covers part of it, and ports some choice admits (`deny` and `only`
    /// proofs).
    Possible,
    /// As `Certain`, without the Service ports a pod created later could change (V10: a
    /// new backend met first, or one the bypass check trips on): `allow` under scope any.
    Stable,
}

/// V5 for one peer (`None`: an omitted `to`).
pub(crate) fn service_peer_ports(
    w: &World<'_>,
    rule: &LoweredRule,
    peer: Option<&PeerMatch>,
    svc: &Service,
    backends: Backends,
    addresses: Addresses,
) -> PortSet {
    let mut res = PortSet::empty();
    if !switches::cluster_ip_egress(&w.profile) || !switches::is_cluster_ip_service(svc) {
        return res;
    }
    let ports = rule.ports.as_deref();
    let by_packet = |res: &mut PortSet| {
        let numeric = numeric_ports(ports);
        for sp in &svc.ports {
            if numeric.contains(sp.protocol, sp.port) {
                res.union_with(&PortSet::port(sp.protocol, sp.port));
            }
        }
    };
    match peer {
        None => {
            by_packet(&mut res);
        }
        Some(PeerMatch::IpBlock { cidr, except, .. }) => {
            let block = Block::new(*cidr, except);
            let admitted = match cluster_ip_cover(&w.profile, Some(&block), svc) {
                Cover::Full => true,
                Cover::Partial => addresses == Addresses::Possible,
                Cover::None => false,
            };
            if admitted {
                by_packet(&mut res);
            }
        }
        Some(peer @ PeerMatch::Pods { .. }) => {
            if selector_peer_admits(w, peer, svc) {
                // V10: the controller maps the rule's ports to Service ports.
                let got = services::selector_peer_ports(w, rule, svc, backends);
                res = match addresses {
                    Addresses::Certain => got.certain,
                    Addresses::Possible => got.may,
                    Addresses::Stable => got.stable,
                };
            }
        }
    }
    res
}

/// V5: the controller writes `svc`'s ClusterIP for a selector peer whose namespaces hold
/// the Service and whose pod selector matches the Service's selector as a label set (NPC
/// `getMatchingServiceClusterIPs`; a selectorless Service is the empty set).
pub(crate) fn selector_peer_admits(w: &World<'_>, peer: &PeerMatch, svc: &Service) -> bool {
    let PeerMatch::Pods {
        namespaces, pods, ..
    } = peer
    else {
        return false;
    };
    let empty = Default::default();
    let labels = svc.selector.as_ref().unwrap_or(&empty);
    w.in_scope(namespaces, &svc.namespace) && pods.as_ref().is_none_or(|s| s.matches(labels))
}

/// V5: the number a Service port's `targetPort` has on one backend.
pub(crate) fn target_on(w: &World<'_>, sp: &ServicePort, backend: &Ep) -> Option<u16> {
    match services::dnat_target(sp) {
        services::Target::Number(n) => Some(n),
        services::Target::Named(name, proto) => w
            .container_ports(backend)
            .iter()
            .find(|cp| cp.protocol == proto && cp.name.as_deref() == Some(name))
            .map(|cp| cp.port),
    }
}
