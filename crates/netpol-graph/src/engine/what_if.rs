//! What-if runs: does leaving one policy or one rule out change any connection?
//!
//! The base engine is computed once. Leaving out policy `i` (or one of its rules) can only
//! change the allowances of the classes whose selecting set holds `i` (V9: whose range
//! does); every other class keeps its allowance, since a rule's entries (S5, V2, V5, V6,
//! V7) depend on its own policy alone. The class partition of the full model stays valid:
//! a model with fewer policies tells fewer endpoints apart. So per removal the affected
//! classes' allowances are recomputed by the same code with the removal masked
//! ([`Engine::allowance`]), and only the edges those allowances can change are compared:
//! toward the classes of the entries that differ (all classes when an allowance changes
//! kind), and the Service edges of the sources involved.
//!
//! A rule inside a V11 table is left out of a copy of its policy. A removal the mask cannot
//! express (a V11 row that falls back to the per-pair evaluator, which reads every policy)
//! is answered `None`, and the caller recomputes the model without it.

use std::collections::BTreeMap;
use std::sync::Arc;

use netpol_manifest::model::Direction;

use super::allowances::Prep;
use super::lpm::LpmState;
use super::{Allowance, Engine, Entry, Removal, SetRef};
use crate::matrix::PortSets;
use crate::ports::PortSet;
use crate::world::World;

/// What-if runs over one analysis ([`crate::Analysis::what_if`]): the base engine, kept.
pub struct WhatIf<'w, 'm> {
    eng: Engine<'w, 'm>,
    prep: Prep,
    lpm: LpmState,
    /// Per policy: the classes whose selecting set (or V9 range) holds it.
    classes_of: Vec<Vec<u32>>,
}

impl Drop for WhatIf<'_, '_> {
    fn drop(&mut self) {
        self.lpm.forget(self.eng.w);
    }
}

impl std::fmt::Debug for WhatIf<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatIf")
            .field("classes", &self.eng.classes.len())
            .finish()
    }
}

/// The other ends whose edges a changed allowance may change.
enum Cands {
    All,
    Some(Vec<u32>),
}

/// Where two allowances of one class and direction may differ: `None` when they are the
/// same; else the other ends they may disagree on, and whether Services may differ. Entries
/// matched in order count once; a class outside every unmatched entry's set gets the same
/// ports from both (the union of the matched entries).
fn differ(old: &Allowance, new: &Allowance) -> Option<(Cands, bool)> {
    let (a, b) = match (old, new) {
        (Allowance::All, Allowance::All) | (Allowance::None, Allowance::None) => return None,
        (Allowance::Entries(a), Allowance::Entries(b)) => (a, b),
        _ => return Some((Cands::All, true)),
    };
    let same = |x: &Entry, y: &Entry| {
        x.set == y.set
            && x.ports == y.ports
            && x.block == y.block
            && (Arc::ptr_eq(&x.services, &y.services) || x.services == y.services)
    };
    let mut unmatched: Vec<&Entry> = Vec::new();
    let mut j = 0;
    for x in a {
        if j < b.len() && same(x, &b[j]) {
            j += 1;
        } else {
            unmatched.push(x);
        }
    }
    unmatched.extend(&b[j..]);
    if unmatched.is_empty() {
        return None;
    }
    let services = unmatched.iter().any(|e| !e.services.is_empty());
    let mut ids = Vec::new();
    for e in unmatched {
        match e.set {
            SetRef::All => return Some((Cands::All, services)),
            SetRef::Id(id) => ids.push(id),
        }
    }
    Some((Cands::Some(ids), services))
}

impl<'w, 'm> WhatIf<'w, 'm> {
    pub(crate) fn new(w: &'w World<'m>) -> WhatIf<'w, 'm> {
        let mut eng = Engine::new(w);
        let (prep, lpm) = eng.allowances();
        let mut classes_of = vec![Vec::new(); w.policies.len()];
        for (c, (sel, lower)) in prep.selecting.iter().zip(&prep.lower).enumerate() {
            for &i in sel.iter().chain(lower) {
                classes_of[i].push(c as u32);
            }
        }
        for list in &mut classes_of {
            list.sort_unstable();
            list.dedup();
        }
        WhatIf {
            eng,
            prep,
            lpm,
            classes_of,
        }
    }

    /// The classes of the interned sets `ids`, sorted.
    fn members(&self, ids: &[u32]) -> Vec<u32> {
        let mut out: Vec<u32> = (ids.iter())
            .flat_map(|&id| self.eng.sets[id as usize].iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether leaving `removal` out changes no connection between the endpoints of the
    /// model (an external range a removed ipBlock merges with another is read as part of
    /// it); `None` when that cannot be decided here (the caller recomputes the model without
    /// it), or the removal names no policy or rule.
    pub fn unchanged(&mut self, removal: Removal) -> Option<bool> {
        if let Removal::Rule(i, dir, ri) = removal
            && ri >= self.eng.w.policies.get(i)?.rules(dir).len()
        {
            return None;
        }
        let affected = self.classes_of.get(removal.policy())?.clone();
        let mut new: Vec<(u32, Allowance, Allowance)> = Vec::with_capacity(affected.len());
        for &c in &affected {
            let eng = &mut self.eng;
            let eg = eng.allowance(
                c,
                Direction::Egress,
                &self.prep,
                Some(removal),
                &mut self.lpm,
            )?;
            let ing = eng.allowance(
                c,
                Direction::Ingress,
                &self.prep,
                Some(removal),
                &mut self.lpm,
            )?;
            new.push((c, eg, ing));
        }
        let n = self.eng.classes.len() as u32;
        // Pairs whose class edge may change, and sources whose Service edges may (`None`:
        // toward every Service, else toward those listed).
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut svc: BTreeMap<u32, Option<Vec<u32>>> = BTreeMap::new();
        let mut changed_ingress: Vec<u32> = Vec::new();
        for (c, eg, ing) in &new {
            let c = *c;
            if let Some((cands, services)) = differ(&self.eng.egress[c as usize], eg) {
                match cands {
                    Cands::All => pairs.extend((0..n).map(|d| (c, d))),
                    Cands::Some(ids) => {
                        pairs.extend(self.members(&ids).into_iter().map(|d| (c, d)))
                    }
                }
                if services {
                    svc.insert(c, None);
                }
            }
            if let Some((cands, _)) = differ(&self.eng.ingress[c as usize], ing) {
                changed_ingress.push(c);
                let sources = match cands {
                    Cands::All => (0..n).collect(),
                    Cands::Some(ids) => self.members(&ids),
                };
                let backs = &self.eng.inverse.backs[c as usize];
                for &s in &sources {
                    pairs.push((s, c));
                    if !backs.is_empty()
                        && let Some(list) = svc.entry(s).or_insert_with(|| Some(Vec::new()))
                    {
                        list.extend_from_slice(backs);
                    }
                }
            }
        }
        if pairs.is_empty() && svc.is_empty() {
            return Some(true);
        }
        pairs.sort_unstable();
        pairs.dedup();
        for list in svc.values_mut().flatten() {
            list.sort_unstable();
            list.dedup();
        }
        let mut sets = PortSets::default();
        let old_pairs: Vec<PortSet> = pairs.iter().map(|&(s, d)| self.eng.edge(s, d)).collect();
        let old_svc: Vec<Vec<(u32, u32, u32)>> = (svc.iter())
            .map(|(&s, only)| {
                let mut res = Vec::new();
                (self.eng).service_edges_among(s, &mut sets, &mut res, &[], only.as_deref());
                res
            })
            .collect();
        self.swap(&mut new);
        let same = pairs
            .iter()
            .zip(&old_pairs)
            .all(|(&(s, d), old)| self.eng.edge(s, d) == *old)
            && svc.iter().zip(&old_svc).all(|((&s, only), old)| {
                let mut res = Vec::new();
                (self.eng).service_edges_among(
                    s,
                    &mut sets,
                    &mut res,
                    &changed_ingress,
                    only.as_deref(),
                );
                res == *old
            });
        self.swap(&mut new);
        Some(same)
    }

    /// Exchanges the affected classes' allowances with `new` (twice: back to the base).
    fn swap(&mut self, new: &mut [(u32, Allowance, Allowance)]) {
        for (c, eg, ing) in new {
            std::mem::swap(&mut self.eng.egress[*c as usize], eg);
            std::mem::swap(&mut self.eng.ingress[*c as usize], ing);
        }
    }
}

#[cfg(test)]
#[path = "what_if_tests.rs"]
mod tests;
