//! V11: where the agent's longest-prefix table may decide otherwise than the rules' union
//! (graph `rules/cidr_keys.rs`, read through `Analysis::except_bleed`): at an existing
//! endpoint whose direction has an `except`, toward an address inside an `except` or a key
//! whose inheritance an `except` cuts (or without a known address), and toward the
//! backends of a Service whose ClusterIP lies there. A pod created later may carry any such
//! table, so the pooled region of every policy applies to it. Such models make an
//! assertion `unknown`, never `proved` (`query.rs` looks for a model outside them first).

use std::collections::BTreeMap;

use ipnet::IpNet;
use netpol_manifest::model::Direction;
use z3::ast::{BV, Bool, Int};

use super::ip::{in_net, ip_between};
use super::rules::portset_formula;

use super::{Encoder, FUTURE, Side};

/// Why a verdict turns on the table of `at` toward an address: the reason `bleed` gives.
fn table_reason(at: &str) -> String {
    format!("at {at}, {WHY}")
}

/// Whether `reason` is one `bleed` gives (the table at one end toward the other's address),
/// not one of a ClusterIP way: only those may change when the other end is counted.
pub(crate) fn is_table_reason(reason: &str) -> bool {
    reason.starts_with("at ") && reason.ends_with(WHY) && !reason.contains("ClusterIP")
}

const WHY: &str = "the agent decides this address by its longest CIDR key, and an `except` in the direction changes that decision (docs/semantics.md V11)";

impl Encoder<'_> {
    fn in_region(&self, y: &Side, region: &[IpNet]) -> Bool {
        let mut v = vec![y.has_ip.not()];
        for n in region {
            v.push(self.in_block(y, &n.trunc(), &[]));
        }
        Bool::or(&v)
    }

    /// `y` is the class of existing endpoint `id`, if it may be.
    fn is_class(&self, y: &Side, id: &str) -> Option<Bool> {
        self.class_of(y, id)
            .map(|r| y.kind.eq(Int::from_i64(r as i64)))
    }

    /// The V11 facts in direction `d` of the existing endpoints `x` may be, with their
    /// classes.
    fn facts_at<'s>(
        &'s self,
        x: &'s Side,
        d: Direction,
    ) -> impl Iterator<Item = (usize, &'s netpol_graph::BleedAt)> + 's {
        (self.u.bleed.at.iter())
            .filter(move |b| b.direction == d)
            .filter_map(move |b| self.class_of(x, &b.endpoint).map(|r| (r, b)))
    }

    /// The class (universe representative) of existing endpoint `id`, if `y` may be it.
    fn class_of(&self, y: &Side, id: &str) -> Option<usize> {
        let u = self.u;
        let k = u.eps.binary_search_by(|e| e.id.as_str().cmp(id)).ok()?;
        let r = u.rep.get(k).copied().unwrap_or(k);
        y.options.contains(&r).then_some(r)
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
        // One verdict per pair of classes (the last listed, as before): the conditions
        // exclude each other, so `query.rs` joins them flat instead of nesting them.
        let mut pairs: BTreeMap<(usize, usize), &netpol_graph::PortSet> = BTreeMap::new();
        for (at, b) in self.facts_at(x, d) {
            for (id, ports) in &b.exact {
                if let Some(to) = self.class_of(y, id) {
                    pairs.insert((at, to), ports);
                }
            }
        }
        let int = |r: usize| Int::from_i64(r as i64);
        (pairs.into_iter())
            .map(|((at, to), ports)| {
                (
                    Bool::and(&[x.kind.eq(int(at)), y.kind.eq(int(to))]),
                    portset_formula(ports, proto, port),
                )
            })
            .collect()
    }

    /// V11 at existing `x` in `d` toward an address outside pods: the longest key of the
    /// graph's whole table decides, as (condition, allowed) pairs.
    pub(crate) fn bleed_external(
        &self,
        x: &Side,
        y: &Side,
        d: Direction,
        proto: &Int,
        port: &BV,
    ) -> Vec<(Bool, Bool)> {
        // One table per class of `x` (the last listed): exclusive conditions, as above.
        let mut tables: BTreeMap<usize, &netpol_graph::BleedAt> = BTreeMap::new();
        tables.extend(self.facts_at(x, d));
        let mut out = Vec::new();
        for (r, b) in tables {
            let at = x.kind.eq(Int::from_i64(r as i64));
            // The graph's table as disjoint ranges: one disjunct per distinct decision, so
            // the term is as deep as a range check whatever the number of keys.
            let mut by: Vec<(&Option<netpol_graph::PortSet>, Vec<Bool>)> = Vec::new();
            for (lo, hi, ports) in b.table.iter() {
                let cond = ip_between(&y.ip, *lo, *hi);
                match by.iter_mut().find(|(p, _)| *p == ports) {
                    Some((_, conds)) => conds.push(cond),
                    None => by.push((ports, vec![cond])),
                }
            }
            let acc = Bool::or(
                &by.iter()
                    .filter_map(|(ports, conds)| {
                        let p = ports.as_ref()?;
                        Some(Bool::and(&[
                            Bool::or(conds),
                            portset_formula(p, proto, port),
                        ]))
                    })
                    .collect::<Vec<_>>(),
            );
            let when = Bool::and(&[at, y.is_pod().not(), y.has_ip.clone()]);
            out.push((when, acc));
        }
        out
    }

    /// V11 at existing `x` toward a ClusterIP: the Service ports the longest key leaves,
    /// which bound the ways through it (`via`).
    pub(crate) fn bleed_via(&self, x: &Side, via: &mut [super::Via]) {
        let u = self.u;
        for (r, b) in self.facts_at(x, Direction::Egress) {
            let at = x.kind.eq(Int::from_i64(r as i64));
            for (id, ports) in b.service_exact.iter() {
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
        for b in u.bleed.at.iter().filter(|b| b.direction == d) {
            let Some(at) = self.is_class(x, &b.endpoint) else {
                continue;
            };
            let exact: Vec<Bool> = (b.exact.iter())
                .filter_map(|(id, _)| self.is_class(y, id))
                .collect();
            // Addresses outside pods are decided by `bleed_external`, but for node IPs
            // that may or may not be the node key.
            let mut toward = vec![Bool::and(&[
                y.is_pod(),
                self.in_region(y, &b.region),
                Bool::or(&exact).not(),
            ])];
            let nodes: Vec<Bool> = (b.unsure_nodes.iter()).map(|n| in_net(&y.ip, n)).collect();
            if !nodes.is_empty() {
                toward.push(Bool::and(&[y.is_pod().not(), Bool::or(&nodes)]));
            }
            out.push((
                Bool::and(&[at, Bool::or(&toward)]),
                table_reason(&b.endpoint),
            ));
        }
        if !u.bleed.any[di].is_empty() {
            let future = x.kind.eq(Int::from_i64(FUTURE));
            out.push((
                Bool::and(&[future, self.in_region(y, &u.bleed.any[di])]),
                table_reason("a pod created later"),
            ));
        }
        out
    }

    /// V11 at `x`'s egress toward the ClusterIPs `y` backs: where the longest key may add
    /// ports the rules' union does not (or the ClusterIP is unknown). Only a way through
    /// the ClusterIP depends on it; `query.rs` ands these with "not directly allowed".
    /// Second list: Services without a known ClusterIP, which matter only to an `allow`
    /// that a way through them proves (with their ids, for `query.rs`).
    #[allow(clippy::type_complexity)]
    pub(crate) fn bleed_services(
        &self,
        x: &Side,
        y: &Side,
    ) -> (Vec<(Bool, String)>, Vec<(Bool, String, Vec<String>)>) {
        let u = self.u;
        let mut out = Vec::new();
        let mut maybe = Vec::new();
        let mut push = |at: Bool, adds: &[String], unknown: &[String], whom: &str| {
            let backs = self.backing(y, adds);
            if !backs.is_empty() {
                out.push((
                    Bool::and(&[at.clone(), Bool::or(&backs)]),
                    format!("at {whom}, through a ClusterIP {WHY}"),
                ));
            }
            if self.allow && !unknown.is_empty() {
                maybe.push((
                    at,
                    format!("at {whom}, through a ClusterIP not known in advance {WHY}"),
                    unknown.iter().map(|id| format!("{id}[Service]")).collect(),
                ));
            }
        };
        for (r, b) in self.facts_at(x, Direction::Egress) {
            let at = x.kind.eq(Int::from_i64(r as i64));
            push(at, &b.services, &b.services_maybe, &b.endpoint);
        }
        let future = x.kind.eq(Int::from_i64(FUTURE));
        push(
            future,
            &u.bleed.any_services,
            &u.bleed.any_services_maybe,
            "a pod created later",
        );
        (out, maybe)
    }

    /// `y` backs one of the Services (`namespace/name`).
    fn backing(&self, y: &Side, services: &[String]) -> Vec<Bool> {
        let mut out = Vec::new();
        for id in services {
            let want = format!("{id}[Service]");
            if let Some(svc) = self.u.services.iter().find(|s| s.id == want) {
                out.push(self.backs(y, svc));
            }
        }
        out
    }
}
