//! V5: the paths from the source to the destination through a Service's ClusterIP.

use netpol_graph::ir::Provenance;
use netpol_manifest::model::PortRef;
use z3::ast::{BV, Bool, Int};

use super::{Encoder, NamedMode, Side, Via, proto_index};

impl Encoder<'_> {
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
}
