//! V5: the paths from the source to the destination through a Service's ClusterIP.
//!
//! The egress side of a path is "some policy selecting the source has an egress rule that
//! admits this Service port". Rules with the same peers and ports (an access group, from
//! `netpol-graph`) admit the same Service ports, and many Service ports are admitted by the
//! same groups (an omitted `to` admits every ClusterIP), so the rules form classes: one OR
//! per group over one selecting term per policy, and one OR of groups per distinct set of
//! groups, shared by every path of the class. A query thus grows with the Services plus the
//! policies, not with their product. Rules that admit every destination directly on every port (`to`
//! and `ports` omitted) are not in the access groups (`netpol-graph`'s `service_access_groups`):
//! the direct path already holds whenever they would.

use std::collections::BTreeMap;

use netpol_graph::Target;

use crate::config::Scope;
use netpol_graph::ir::Provenance;
use z3::ast::{BV, Bool, Int};

use super::{Encoder, NamedMode, Side, Via, ViaClass, proto_index};

/// An access group's rules that may select the source, each with that term, and their OR.
type GroupTerms = (Vec<(Provenance, Bool)>, Bool);

impl Encoder<'_> {
    /// `d` is a pod that backs `svc` (false for a selectorless Service).
    pub(crate) fn backs(&self, d: &Side, svc: &crate::universe::Svc) -> Bool {
        let Some(selector) = &svc.selector else {
            return Bool::from_bool(false);
        };
        let mut backend = vec![d.is_pod(), d.ns.eq(Int::from_i64(svc.ns as i64))];
        for (k, v) in selector {
            match d.labels.get(k) {
                Some((_, has, val)) => {
                    backend.push(has.clone());
                    backend.push(val.eq(Int::from_i64(self.u.pod_vocab.index(k, v))));
                }
                None => backend.push(Bool::from_bool(false)),
            }
        }
        Bool::and(&backend)
    }

    /// V5: the ways from `s` to `d` through a ClusterIP on (proto, port), where `port` is
    /// the destination pod's port (the Service's `targetPort`), and their rule classes.
    pub(crate) fn via_services(
        &self,
        s: &Side,
        d: &Side,
        proto: &Int,
        port: &BV,
    ) -> (Vec<Via>, Vec<ViaClass>) {
        let u = self.u;
        let mut out = Vec::new();
        let mut sel_cache: BTreeMap<usize, Bool> = BTreeMap::new();
        // Per access group: its rules whose policy may select `s`, each with that term,
        // and their OR (`None`: no such rule).
        let mut groups: BTreeMap<usize, Option<GroupTerms>> = BTreeMap::new();
        let mut class_of: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
        let mut classes: Vec<ViaClass> = Vec::new();
        for (si, svc) in u.services.iter().enumerate() {
            if self.expired() {
                break;
            }
            if svc.selector.is_none() {
                continue;
            }
            if d.candidate_ns.binary_search(&svc.ns).is_err() {
                continue;
            }
            let access = if self.allow && self.scope == Scope::Any {
                // V10: a pod created later may become the backend the controller meets
                // first, or trip the bypass check.
                &svc.access_stable
            } else if self.allow {
                &svc.access_certain
            } else if self.named == NamedMode::Widened {
                &svc.access_widened
            } else {
                &svc.access
            };
            let mut admitting: Vec<(usize, &netpol_graph::PortSet)> = Vec::new();
            for (g, ports) in access {
                let group = groups.entry(*g).or_insert_with(|| {
                    let rules: Vec<(Provenance, Bool)> = u.access_groups[*g]
                        .iter()
                        .filter_map(|&(pi, ri)| {
                            let n = u.ns_index(&u.policies[pi].namespace)?;
                            s.candidate_ns.binary_search(&n).ok()?;
                            let sel = sel_cache
                                .entry(pi)
                                .or_insert_with(|| self.selected_by(s, n, pi));
                            Some((u.policies[pi].egress[ri].provenance, sel.clone()))
                        })
                        .collect();
                    if rules.is_empty() {
                        return None;
                    }
                    let any: Vec<Bool> = rules.iter().map(|(_, b)| b.clone()).collect();
                    Some((rules, Bool::or(&any)))
                });
                if group.is_some() {
                    admitting.push((*g, ports));
                }
            }
            if admitting.is_empty() {
                continue;
            }
            let backend = self.backs(d, svc);
            for sp in &svc.ports {
                if self.expired() {
                    break;
                }
                let key: Vec<usize> = admitting
                    .iter()
                    .filter(|(_, ports)| ports.contains(sp.protocol, sp.port))
                    .map(|(g, _)| *g)
                    .collect();
                if key.is_empty() {
                    continue;
                }
                let shared = if u.via_classes {
                    class_of.get(&key).copied()
                } else {
                    None
                };
                let class = match shared {
                    Some(c) => c,
                    None => {
                        let members = key.iter().filter_map(|g| groups.get(g)?.as_ref());
                        let mut rules = Vec::new();
                        let mut any = Vec::new();
                        for (r, or) in members {
                            rules.extend(r.iter().cloned());
                            if u.via_classes {
                                any.push(or.clone());
                            } else {
                                // The plain encoding: one disjunct per rule.
                                any.extend(r.iter().map(|(_, b)| b.clone()));
                            }
                        }
                        // In rule order, as the trace lists them.
                        rules.sort_by_key(|(p, _)| (p.policy, p.rule));
                        classes.push(ViaClass {
                            admits: Bool::or(&any),
                            rules,
                        });
                        class_of.insert(key, classes.len() - 1);
                        classes.len() - 1
                    }
                };
                // Where kube-proxy sends the Service port: the graph decides it.
                let target = match netpol_graph::dnat_target(sp) {
                    Target::Number(t) => port.eq(BV::from_u64(u64::from(t), 16)),
                    Target::Named(n, p) => Self::named_on(d, n, p, port),
                };
                let term = Bool::and(&[
                    backend.clone(),
                    proto.eq(Int::from_i64(proto_index(sp.protocol))),
                    target,
                    classes[class].admits.clone(),
                ]);
                out.push(Via {
                    service: si,
                    port: sp.port,
                    class,
                    term,
                });
            }
        }
        (out, classes)
    }
}
