//! S2 with V1/V2: which policies select and isolate a side, and one direction of a
//! connection evaluated at one end (its [`Trace`]).

use netpol_graph::switches;
use netpol_manifest::model::Direction;
use z3::ast::{BV, Bool, Int};

use super::{Encoder, Side, Trace};
use crate::config::Scope;

impl Encoder<'_> {
    /// S2 with V1/V2: (isolated, any policy selects, selecting terms) of `x` in `d`.
    fn isolation(&self, x: &Side, d: Direction) -> (Bool, Bool, Vec<(usize, Bool)>) {
        let u = self.u;
        let mut iso = Vec::new();
        let mut sel_all = Vec::new();
        let mut selecting = Vec::new();
        for &n in &x.candidate_ns {
            if self.expired() {
                break;
            }
            for &pi in &u.policies_in[n] {
                let p = &u.policies[pi];
                let sel = self.selected_by(x, n, pi);
                let di = usize::from(d == Direction::Egress);
                if p.policy_types.contains(d) || u.resolves[pi][di] {
                    iso.push(sel.clone());
                } else if self.scope == Scope::Any && u.may_resolve[pi][di] {
                    // V2: a pod created later may make this direction's rules resolve;
                    // whether one exists is the solver's choice, shared by both sides.
                    iso.push(Bool::and(&[sel.clone(), v2_resolved_later(pi, d)]));
                }
                sel_all.push(sel.clone());
                selecting.push((pi, sel));
            }
        }
        (Bool::or(&iso), Bool::or(&sel_all), selecting)
    }

    /// Policy `pi` of namespace `n` selects `x` (and policies are enforced at `x`), or
    /// applies to `x` through its pod identifier (V9): certainly when `pi` is in the
    /// range's lower bound, by the free choice [`v9_applies`] when only in the upper one.
    pub(super) fn selected_by(&self, x: &Side, n: usize, pi: usize) -> Bool {
        let mut alts = vec![Bool::and(&[
            x.enforced(),
            x.ns.eq(Int::from_i64(n as i64)),
            x.labels
                .matches(&self.u.pod_vocab, &self.u.policies[pi].subject),
        ])];
        for &(j, certain) in &self.u.shared_by[pi] {
            if self.u.eps[j].ns != n || x.options.binary_search(&j).is_err() {
                continue;
            }
            let is_j = x.kind.eq(Int::from_i64(j as i64));
            alts.push(if certain {
                is_j
            } else {
                Bool::and(&[is_j, v9_applies(j, pi)])
            });
        }
        Bool::or(&alts)
    }

    /// Whether `x` is isolated in `d` as `isolated` means it (strict default deny included).
    pub(crate) fn isolated(&self, x: &Side, d: Direction) -> Bool {
        let (iso, any, _) = self.isolation(x, d);
        let strict = switches::strict_default_deny(&self.u.profile);
        Bool::and(&[
            x.enforced(),
            Bool::or(&[iso, Bool::and(&[Bool::from_bool(strict), any.not()])]),
        ])
    }

    /// Direction `d` evaluated at `x` toward `y` on (proto, port).
    pub(crate) fn direction(
        &self,
        x: &Side,
        y: &Side,
        d: Direction,
        proto: &Int,
        port: &BV,
        at_dst: bool,
    ) -> Trace {
        let u = self.u;
        let (iso, any, selecting) = self.isolation(x, d);
        let strict = switches::strict_default_deny(&u.profile);
        let vpc = switches::unlisted_rules_enforced(&u.profile);
        let mut allow = vec![
            x.enforced().not(),
            Bool::and(&[any.not(), Bool::from_bool(!strict)]),
            Bool::and(&[any.clone(), iso.not()]),
        ];
        let mut rules = Vec::new();
        let exempt = if switches::exempts_node(&u.profile, d) {
            Bool::and(&[any.clone(), x.enforced(), self.node_exemption(x, y)])
        } else {
            Bool::from_bool(false)
        };
        allow.push(exempt.clone());
        for (pi, sel) in &selecting {
            if self.expired() {
                break;
            }
            let p = &u.policies[*pi];
            if !vpc && !p.policy_types.contains(d) {
                continue;
            }
            for (ri, r) in p.rules(d).iter().enumerate() {
                let m = match d {
                    Direction::Ingress => self.ingress_rule(*pi, ri, r, x, y, proto, port),
                    Direction::Egress => self.egress_rule(r, x, y, proto, port),
                };
                let t = Bool::and(&[sel.clone(), m]);
                allow.push(t.clone());
                rules.push((r.provenance, t));
            }
        }
        let allowed = Bool::or(&allow);
        Trace {
            direction: d,
            at_dst,
            allowed_direct: allowed.clone(),
            allowed,
            enforced: x.enforced(),
            isolated: iso,
            selecting,
            rules,
            exempt,
            lpm: Bool::from_bool(false),
            at_kind: x.kind.clone(),
        }
    }
}

/// V2 under `scope: any`: a pod created later resolves the `d` rules of policy `pi`. One
/// variable per policy and direction, shared by both sides of a query.
pub(crate) fn v2_resolved_later(pi: usize, d: Direction) -> Bool {
    Bool::new_const(format!(
        "v2.resolved.{pi}.{}",
        usize::from(d == Direction::Egress)
    ))
}

/// V9: the order-dependent choice that policy `pi` applies to existing endpoint `j` (a
/// class representative) through its pod identifier. Free for the solver; `verify` checks a
/// counterexample again with every choice off (`query.rs`).
pub(crate) fn v9_applies(j: usize, pi: usize) -> Bool {
    Bool::new_const(format!("v9.applies.{j}.{pi}"))
}
