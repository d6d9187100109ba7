//! V13: an `allow` that needs a port slot the agent may drop (graph `rules/slots.rs`): at
//! an existing endpoint with an address key of more than 24 slots, a flow from that key
//! on a port that at least 24 of the key's slots miss is allowed only if the right slots
//! survive, which is not knowable. `decide` reports such an `allow` as `unknown`. A pod
//! created later (`scope: any`) is taken to be like any of them, at either end.

use netpol_graph::SlotKey;
use netpol_manifest::model::Direction;
use z3::ast::{BV, Bool, Int};

use super::rules::portset_formula;
use super::{Encoder, FUTURE, Side, Via};

impl Encoder<'_> {
    /// `side` is existing endpoint `j` (through its class representative), or a pod that
    /// does not exist yet: one may have the same labels, so the same policies and keys.
    fn is_endpoint(&self, side: &Side, j: usize) -> Bool {
        let r = self.u.rep.get(j).copied().unwrap_or(j);
        let mut v = vec![side.kind.eq(Int::from_i64(FUTURE))];
        if side.options.contains(&r) {
            v.push(side.kind.eq(Int::from_i64(r as i64)));
        }
        Bool::or(&v)
    }

    /// V13 at `x` in `d` toward `y` on (proto, port): the conditions under which the flow
    /// may need a slot that truncation drops, each with its reason.
    pub(crate) fn truncation(
        &self,
        x: &Side,
        y: &Side,
        d: Direction,
        proto: &Int,
        port: &BV,
    ) -> Vec<(Bool, String)> {
        let u = self.u;
        let mut out = Vec::new();
        for (j, dir, keys) in &u.truncated {
            if *dir != d {
                continue;
            }
            let at = self.is_endpoint(x, *j);
            for k in keys {
                let (inside, name) = match &k.key {
                    SlotKey::Cidr(c) => (self.in_block(y, &c.trunc(), &[]), c.to_string()),
                    SlotKey::Endpoint(id) => {
                        let Ok(q) = u.eps.binary_search_by(|e| e.id.as_str().cmp(id)) else {
                            continue;
                        };
                        (self.is_endpoint(y, q), format!("the pods of {id}"))
                    }
                    // A ClusterIP is not an end of the flow: see `truncation_via`.
                    SlotKey::Service(_) => continue,
                };
                let dir = match d {
                    Direction::Ingress => "ingress",
                    Direction::Egress => "egress",
                };
                out.push((
                    Bool::and(&[at.clone(), inside, portset_formula(&k.uncertain, proto, port)]),
                    format!(
                        "it needs a port slot the agent may drop: at {}, {dir} from {name} has {} distinct port slots, and the agent keeps 24 of them in no knowable order (docs/semantics.md V13)",
                        u.eps[*j].id, k.slots
                    ),
                ));
            }
        }
        out
    }

    /// V13 on the ClusterIP paths (V5): for each way through a Service port that a slot of
    /// a key holding the ClusterIP at the source (its own, or a CIDR's) may cover but
    /// truncation may drop, the condition
    /// that the source is such an endpoint, with its reason. Such a way counts for an
    /// `allow` only where no certain way exists (see `query.rs`).
    pub(crate) fn truncated_via(&self, s: &Side, via: &[Via]) -> Vec<(usize, Bool, String)> {
        let u = self.u;
        let mut out = Vec::new();
        for (j, dir, keys) in &u.truncated {
            if *dir != Direction::Egress {
                continue;
            }
            let at = self.is_endpoint(s, *j);
            for k in &keys
                .iter()
                .filter(|k| !k.cluster_ips.is_empty())
                .collect::<Vec<_>>()
            {
                let name = match &k.key {
                    SlotKey::Cidr(c) => c.to_string(),
                    _ => "the ClusterIP".to_owned(),
                };
                for (vi, v) in via.iter().enumerate() {
                    let svc = &u.services[v.service];
                    let Some(id) = svc.id.strip_suffix("[Service]") else {
                        continue;
                    };
                    let hit = k.cluster_ips.iter().any(|c| c == id)
                        && (svc.ports.iter()).any(|sp| {
                            sp.port == v.port && k.uncertain.contains(sp.protocol, sp.port)
                        });
                    if hit {
                        out.push((
                            vi,
                            at.clone(),
                            format!(
                                "it needs a port slot the agent may drop: at {}, egress to {name} (the key of the ClusterIP of Service {id}) has {} distinct port slots, and the agent keeps 24 of them in no knowable order (docs/semantics.md V13)",
                                u.eps[*j].id, k.slots
                            ),
                        ));
                    }
                }
            }
        }
        out
    }
}
