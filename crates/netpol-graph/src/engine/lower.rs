//! One rule lowered to the class engine's entries: its peer class-sets, ports and
//! Services (S5, S6, V5, V6, V7), once per rule and shared by every class it counts at.

use std::sync::Arc;

use netpol_manifest::model::Direction;
use rustc_hash::FxHashMap;

use super::{Engine, Entry, EntryPorts, SetRef};
use crate::ir::{LoweredRule, PeerMatch, PortSpec, numeric_ports, resolve_ports};
use crate::rules::switches;

impl Engine<'_, '_> {
    /// The entries of one rule (none when V7 drops it).
    pub(super) fn lower_rule(
        &mut self,
        policy: usize,
        ri: usize,
        rule: &LoweredRule,
        dir: Direction,
        subjects: &[u32],
        cache: &mut FxHashMap<String, (SetRef, Vec<u32>)>,
    ) -> Vec<Entry> {
        let w = self.w;
        let vpc_named = switches::named_ports_vpc(&w.profile);
        let has_named = rule
            .ports
            .iter()
            .flatten()
            .any(|m| matches!(m.port, PortSpec::Named(_)));
        let on_dst = |node_ports| {
            if has_named {
                EntryPorts::OnDst {
                    rule: (policy, ri),
                    node_ports,
                }
            } else {
                EntryPorts::Fixed(numeric_ports(rule.ports.as_deref()))
            }
        };
        let mut entries = Vec::new();
        match dir {
            Direction::Ingress => {
                let fixed = if vpc_named {
                    // V7: the union over every subject, hostNetwork included.
                    let mut ports = numeric_ports(rule.ports.as_deref());
                    if has_named {
                        for &c in subjects {
                            ports.union_with(&resolve_ports(
                                rule.ports.as_deref(),
                                w.container_ports(self.rep(c)),
                            ));
                        }
                    }
                    if ports.is_empty() {
                        return entries;
                    }
                    Some(ports)
                } else {
                    None
                };
                let ports = fixed.map_or_else(|| on_dst(None), EntryPorts::Fixed);
                match &rule.peers {
                    None => {
                        entries.push(Entry {
                            set: SetRef::All,
                            ports,
                            services: Arc::from([]),
                            block: None,
                        });
                    }
                    Some(peers) => {
                        for peer in peers {
                            let (set, _) = self.peer_set(peer, cache);
                            entries.push(Entry {
                                set,
                                ports: ports.clone(),
                                services: Arc::from([]),
                                block: block_addr(peer),
                            });
                        }
                    }
                }
            }
            Direction::Egress => {
                let numeric = numeric_ports(rule.ports.as_deref());
                let cidr_ports = || {
                    if vpc_named {
                        EntryPorts::Fixed(numeric.clone())
                    } else {
                        on_dst(None)
                    }
                };
                match &rule.peers {
                    None => {
                        if vpc_named && numeric.is_empty() {
                            return entries;
                        }
                        entries.push(Entry {
                            set: SetRef::All,
                            ports: cidr_ports(),
                            services: self.services_for(rule, None),
                            block: None,
                        });
                    }
                    Some(peers) => {
                        for peer in peers {
                            let (set, direct) = self.peer_set(peer, cache);
                            let services = self.services_for(rule, Some(peer));
                            let ports = match peer {
                                PeerMatch::IpBlock { .. } => cidr_ports(),
                                PeerMatch::Pods { .. } => on_dst(if has_named {
                                    self.node_ports(rule, &direct)
                                } else {
                                    None
                                }),
                            };
                            entries.push(Entry {
                                set,
                                ports,
                                services,
                                block: block_addr(peer),
                            });
                        }
                    }
                }
            }
        }
        entries
    }
}
/// V12: the address of an ipBlock peer, which the agent drops on the node with that IP.
fn block_addr(peer: &PeerMatch) -> Option<std::net::IpAddr> {
    match peer {
        PeerMatch::IpBlock { cidr, .. } => Some(cidr.network()),
        PeerMatch::Pods { .. } => None,
    }
}
