//! VPC CNI facts about the existing endpoints that the encoding reads as constants: which
//! rules resolve (V2). V2 once pods that do not exist yet are created
//! (`netpol_graph::rule_may_resolve`) and the ingress union of named ports (V7,
//! `Analysis::ingress_unions`) come from the graph.

use netpol_graph::ir::{LoweredRule, PeerMatch, numeric_ports, resolve_ports};
use netpol_manifest::model::Direction;

use super::Universe;

impl Universe {
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
