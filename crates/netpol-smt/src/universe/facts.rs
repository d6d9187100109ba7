//! VPC CNI facts about the existing endpoints that the encoding reads as constants: which
//! rules resolve (V2), also once pods that do not exist yet are created, and the ingress
//! union of named ports (V7).

use netpol_graph::PortSet;
use netpol_graph::ir::{
    LoweredPolicy, LoweredRule, NamespaceScope, PeerMatch, PortSpec, numeric_ports, resolve_ports,
};
use netpol_manifest::model::{Direction, NAMESPACE_NAME_LABEL};

use super::{Ex, Universe};

impl Universe {
    /// V2 with pods that do not exist yet: some peer could match a new pod (in an existing
    /// namespace or a new one), which resolves the rule whatever its ports are, because a
    /// new pod may declare any named port. An omitted peer list or an ipBlock already
    /// resolves as far as it ever will ([`Universe::rule_resolves`]).
    pub(super) fn rule_may_resolve(&self, r: &LoweredRule) -> bool {
        if !self.profile.flags.rules_outside_policy_types {
            return false;
        }
        let Some(peers) = &r.peers else {
            return false;
        };
        let new_name = |v: &str| self.ns_index(v).is_none();
        peers.iter().any(|peer| match peer {
            PeerMatch::IpBlock { .. } => false,
            PeerMatch::Pods {
                namespaces, pods, ..
            } => {
                let ns_ok = match namespaces {
                    NamespaceScope::Own(_) => true,
                    NamespaceScope::Selector(sel) => {
                        self.namespaces.iter().any(|(_, l)| sel.matches(l))
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

    pub(super) fn subject_matches(&self, p: &LoweredPolicy, e: &Ex) -> bool {
        self.namespaces[e.ns].0 == p.namespace && p.subject.matches(&e.labels)
    }

    /// V7 ingress: the rule's ports resolved over every existing pod the policy selects.
    pub(super) fn union_ports(&self, p: &LoweredPolicy, r: &LoweredRule) -> Option<PortSet> {
        if !self.profile.flags.named_ports_vpc {
            return None;
        }
        let Some(list) = r.ports.as_deref() else {
            return Some(PortSet::all());
        };
        let mut res = numeric_ports(Some(list));
        if list.iter().any(|m| matches!(m.port, PortSpec::Named(_))) {
            for e in &self.eps {
                if self.subject_matches(p, e) {
                    res.union_with(&resolve_ports(Some(list), &e.ports));
                }
            }
        }
        Some(res)
    }

    /// V2 on the existing endpoints and Services.
    pub(super) fn rule_resolves(&self, pi: usize, ri: usize, r: &LoweredRule) -> bool {
        if !self.profile.flags.rules_outside_policy_types {
            return false;
        }
        let ports = r.ports.as_deref();
        match r.provenance.direction {
            Direction::Ingress => {
                let ok = self.ingress_union[pi][ri]
                    .as_ref()
                    .is_none_or(|s| !s.is_empty());
                ok && r.peers.as_ref().is_none_or(|peers| {
                    peers.iter().any(|peer| match peer {
                        PeerMatch::IpBlock { .. } => true,
                        PeerMatch::Pods { .. } => {
                            self.eps.iter().any(|e| self.direct_match(peer, e))
                        }
                    })
                })
            }
            Direction::Egress => {
                let numeric_ok = !numeric_ports(ports).is_empty();
                let Some(peers) = &r.peers else {
                    return numeric_ok;
                };
                // V5: a selector peer that admits a ClusterIP resolves too.
                if self.admits_service.contains(&(pi, ri)) {
                    return true;
                }
                peers.iter().any(|peer| match peer {
                    PeerMatch::IpBlock { .. } => numeric_ok,
                    PeerMatch::Pods { .. } => self.eps.iter().any(|e| {
                        self.direct_match(peer, e) && !resolve_ports(ports, &e.ports).is_empty()
                    }),
                })
            }
        }
    }
}
