//! V11: where the agent's longest-prefix table may decide otherwise than the rules' union
//! (graph `rules/cidr_keys.rs`, read through `Analysis::except_bleed`): at an existing
//! endpoint whose direction has an `except`, toward an address inside an `except` or a key
//! whose inheritance an `except` cuts (or without a known address), and toward the
//! backends of a Service whose ClusterIP lies there. A pod created later may carry any such
//! table, so the pooled region of every policy applies to it. Such models make an
//! assertion `unknown`, never `proved` (`query.rs` looks for a model outside them first).

use ipnet::IpNet;
use netpol_manifest::model::Direction;
use z3::ast::{Bool, Int};

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

    /// V11 at `x` in `d` toward `y`: the conditions under which the table may decide.
    pub(crate) fn bleed(&self, x: &Side, y: &Side, d: Direction) -> Vec<(Bool, String)> {
        let u = self.u;
        let di = usize::from(d == Direction::Egress);
        let mut out = Vec::new();
        let mut add = |at: Bool, region: &[IpNet], services: &[String], whom: String| {
            if region.is_empty() {
                return;
            }
            let mut toward = vec![self.in_region(y, region)];
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
            add(at, &b.region, &b.services, b.endpoint.clone());
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
            "a pod created later".to_owned(),
        );
        out
    }
}
