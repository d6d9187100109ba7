//! V11: where the agent's longest-prefix table may decide otherwise than the rules' union
//! (graph `rules/cidr_keys.rs`, read through `Analysis::except_bleed`): at an existing
//! endpoint whose direction has an `except`, toward an address inside an `except` or a key
//! whose inheritance an `except` cuts (or without a known address), and toward the
//! backends of a Service whose ClusterIP lies there. A pod created later may carry any such
//! table, so the pooled region of every policy applies to it. Such models make an
//! assertion `unknown`, never `proved` (`query.rs` looks for a model outside them first).

use ipnet::IpNet;
use netpol_manifest::model::Direction;
use z3::ast::{BV, Bool, Int};

use super::rules::portset_formula;

use super::{Encoder, FUTURE, Side};

const WHY: &str = "the agent decides this address by its longest CIDR key, and an `except` in the direction changes that decision (docs/semantics.md V11)";

impl Encoder<'_> {
    fn in_region(&self, y: &Side, region: &[IpNet]) -> Bool {
        let mut v = vec![y.has_ip.not()];
        for n in region {
            if let IpNet::V4(n) = n {
                v.push(self.in_block(y, &n.trunc(), &[]));
            }
        }
        Bool::or(&v)
    }

    /// `y` is the class of existing endpoint `id`, if it may be.
    fn is_class(&self, y: &Side, id: &str) -> Option<Bool> {
        let u = self.u;
        let k = u.eps.binary_search_by(|e| e.id.as_str().cmp(id)).ok()?;
        let r = u.rep.get(k).copied().unwrap_or(k);
        y.options
            .contains(&r)
            .then(|| y.kind.eq(Int::from_i64(r as i64)))
    }

    /// V11 at existing `x` in `d` toward existing `y` with a known address: the graph's
    /// verdict, as (condition, allowed) pairs that replace the rules' union.
    pub(crate) fn bleed_exact(
        &self,
        x: &Side,
        y: &Side,
        d: Direction,
        proto: &Int,
        port: &BV,
    ) -> Vec<(Bool, Bool)> {
        let mut out = Vec::new();
        for b in self.u.bleed.at.iter().filter(|b| b.direction == d) {
            let Some(at) = self.is_class(x, &b.endpoint) else {
                continue;
            };
            for (id, ports) in &b.exact {
                if let Some(to) = self.is_class(y, id) {
                    out.push((
                        Bool::and(&[at.clone(), to]),
                        portset_formula(ports, proto, port),
                    ));
                }
            }
        }
        out
    }

    /// V11 at existing `x` toward a ClusterIP: the Service ports the longest key leaves,
    /// which bound the ways through it (`via`).
    pub(crate) fn bleed_via(&self, x: &Side, via: &mut [super::Via]) {
        let u = self.u;
        for b in u
            .bleed
            .at
            .iter()
            .filter(|b| b.direction == Direction::Egress)
        {
            let Some(at) = self.is_class(x, &b.endpoint) else {
                continue;
            };
            for (id, ports) in &b.service_exact {
                let want = format!("{id}[Service]");
                for v in via.iter_mut() {
                    let svc = &u.services[v.service];
                    if svc.id != want {
                        continue;
                    }
                    let open = (svc.ports.iter())
                        .any(|sp| sp.port == v.port && ports.contains(sp.protocol, sp.port));
                    if !open {
                        v.term = Bool::and(&[v.term.clone(), at.clone().not()]);
                    }
                }
            }
        }
    }

    /// V11 at `x` in `d` toward `y`: the conditions under which the table may decide
    /// otherwise than the rules' union and the graph gave no exact verdict.
    pub(crate) fn bleed(&self, x: &Side, y: &Side, d: Direction) -> Vec<(Bool, String)> {
        let u = self.u;
        let di = usize::from(d == Direction::Egress);
        let mut out = Vec::new();
        let mut add =
            |at: Bool, region: &[IpNet], services: &[String], exact: &[Bool], whom: String| {
                if region.is_empty() {
                    return;
                }
                let mut toward = vec![Bool::and(&[
                    self.in_region(y, region),
                    Bool::or(exact).not(),
                ])];
                for id in services {
                    let want = format!("{id}[Service]");
                    if let Some(svc) = u.services.iter().find(|s| s.id == want) {
                        toward.push(self.backs(y, svc));
                    }
                }
                out.push((
                    Bool::and(&[at, Bool::or(&toward)]),
                    format!("at {whom}, {WHY}"),
                ));
            };
        for b in u.bleed.at.iter().filter(|b| b.direction == d) {
            let Ok(j) = u.eps.binary_search_by(|e| e.id.as_str().cmp(&b.endpoint)) else {
                continue;
            };
            let r = u.rep.get(j).copied().unwrap_or(j);
            if !x.options.contains(&r) {
                continue;
            }
            let at = x.kind.eq(Int::from_i64(r as i64));
            let exact: Vec<Bool> = (b.exact.iter())
                .filter_map(|(id, _)| self.is_class(y, id))
                .collect();
            add(at, &b.region, &b.services, &exact, b.endpoint.clone());
        }
        let future = x.kind.eq(Int::from_i64(FUTURE));
        let services = if d == Direction::Egress {
            u.bleed.any_services.as_slice()
        } else {
            &[]
        };
        add(
            future,
            &u.bleed.any[di],
            services,
            &[],
            "a pod created later".to_owned(),
        );
        out
    }
}
