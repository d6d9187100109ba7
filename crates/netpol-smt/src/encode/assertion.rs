//! The assertion's own formulas: its peers over a side, the scope, distinct ends, and its
//! port set.

use netpol_manifest::model::{EndpointKind, NAMESPACE_NAME_LABEL};
use z3::ast::{BV, Bool, Int};

use super::{EXTERNAL, Encoder, FUTURE, ICMPV6_PROTO, OTHER_PROTO, Side, proto_index};
use crate::config::{Peer, PortItem, Scope};

impl Encoder<'_> {
    /// The assertion peer as a formula over a side.
    pub(crate) fn peer(&self, p: &Peer, side: &Side) -> Bool {
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
            parts.push(side.nsl.matches(&u.ns_vocab, s));
        }
        if let Some(s) = &p.pod_selector {
            parts.push(side.labels.matches(&u.pod_vocab, s));
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
            parts.push(self.in_block_spec(side, b));
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
            self.one_label_set(s, d),
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

    /// A namespace has one set of labels: two sides in new namespaces of the same name (a
    /// name the query mentions) are in one namespace. Two unmentioned names ("any other
    /// value") may be two namespaces; the counterexample then names them apart.
    fn one_label_set(&self, s: &Side, d: &Side) -> Bool {
        if !(s.new_ns && d.new_ns) {
            return Bool::from_bool(true);
        }
        let (Some((_, s_has, s_name)), Some((_, d_has, d_name))) = (
            s.nsl.get(NAMESPACE_NAME_LABEL),
            d.nsl.get(NAMESPACE_NAME_LABEL),
        ) else {
            return Bool::from_bool(true);
        };
        let new = Int::from_i64(self.u.namespaces.len() as i64);
        let other = self
            .u
            .ns_vocab
            .keys
            .get(NAMESPACE_NAME_LABEL)
            .map_or(0, Vec::len) as i64;
        let one_namespace = Bool::and(&[
            s.ns.eq(&new),
            d.ns.eq(&new),
            s_has.clone(),
            d_has.clone(),
            s_name.eq(d_name),
            s_name.lt(Int::from_i64(other)),
        ]);
        let equal: Vec<Bool> = (s.nsl.vars.iter().zip(&d.nsl.vars))
            .map(|((_, sh, sv), (_, dh, dv))| Bool::and(&[sh.eq(dh), sh.implies(sv.eq(dv))]))
            .collect();
        one_namespace.implies(Bool::and(&equal))
    }

    /// The assertion's port set over (proto, port). A port-less item covers ICMPv6 too,
    /// with its own index where it passes at pods (V15).
    pub(crate) fn ports_formula(&self, items: &[PortItem], proto: &Int, port: &BV) -> Bool {
        let icmpv6 = netpol_graph::switches::icmpv6_passes(&self.u.profile);
        let other = Int::from_i64(OTHER_PROTO);
        let v: Vec<Bool> = items
            .iter()
            .map(|it| match it {
                None if icmpv6 => proto.ge(&other),
                None => proto.eq(&other),
                Some((p, lo, hi)) => Bool::and(&[
                    proto.eq(Int::from_i64(proto_index(*p))),
                    port.bvuge(BV::from_u64(u64::from(*lo), 16)),
                    port.bvule(BV::from_u64(u64::from(*hi), 16)),
                ]),
            })
            .collect();
        let (last, ported) = if icmpv6 {
            (ICMPV6_PROTO, proto.lt(&other))
        } else {
            (OTHER_PROTO, proto.eq(&other).not())
        };
        Bool::and(&[
            Bool::or(&v),
            proto.ge(Int::from_i64(0)),
            proto.le(Int::from_i64(last)),
            ported.implies(port.eq(BV::from_u64(0, 16)).not()),
        ])
    }
}
