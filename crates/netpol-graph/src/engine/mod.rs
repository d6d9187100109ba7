//! The class-compressed matrix engine.
//!
//! Endpoints that no rule can tell apart (same namespace, same labels on the keys that
//! selectors mention, same named ports that rules or Services mention, same ipBlock
//! matches rather than the same IP, hostNetwork, and the nodes of selected pods) form one
//! class (`classes.rs`). Per class and direction the engine computes an allowance:
//! everything, nothing, or a list of entries (an interned peer class-set, ports,
//! provenance) (`allowances.rs`). It then walks the sparse side of each source class (its
//! egress entries, or the ingress entries that name it, whichever is smaller) and
//! intersects (`joins.rs`). Peer sets are interned, so a `namespaceSelector: {}` peer is
//! materialised once, not per rule and target. The result is edges between classes
//! (and Services); the matrix expands them into endpoint pairs only when they are written.

mod allowances;
mod classes;
mod joins;
mod lower;
mod lpm;
mod what_if;

pub use what_if::WhatIf;

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::matrix::PortSets;
use crate::ports::PortSet;
use crate::world::{Ep, World};

/// A class-set: every class, or an interned sorted list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SetRef {
    All,
    Id(u32),
}

/// A policy, or one rule of a policy, left out of the model (what-if runs): policy index
/// in model order, direction, rule index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Removal {
    Policy(usize),
    Rule(usize, netpol_manifest::model::Direction, usize),
}

impl Removal {
    pub(crate) fn policy(self) -> usize {
        match self {
            Removal::Policy(i) | Removal::Rule(i, _, _) => i,
        }
    }

    fn drops_policy(self, i: usize) -> bool {
        self == Removal::Policy(i)
    }

    fn drops_rule(self, i: usize, dir: netpol_manifest::model::Direction, ri: usize) -> bool {
        self == Removal::Rule(i, dir, ri)
    }
}

/// How an entry's ports depend on the other end.
#[derive(Clone, Debug, PartialEq)]
enum EntryPorts {
    Fixed(PortSet),
    /// Named ports resolved on the destination class (egress, or upstream in general);
    /// under V6 the node map gives the ports toward classes carrying a node's IP.
    OnDst {
        rule: (usize, usize),
        node_ports: Option<BTreeMap<String, PortSet>>,
    },
}

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    set: SetRef,
    ports: EntryPorts,
    /// V5: Services this entry allows, with the Service ports (sorted by Service index).
    /// Shared: an address peer can admit thousands of Services, and entries are cloned
    /// per class.
    services: Arc<[(u32, PortSet)]>,
    /// V12: an ipBlock peer's address: the agent drops the entry on the node with that IP.
    block: Option<std::net::IpAddr>,
}

/// The entries of one rule, and whether it resolves to an agent entry where that matters
/// (V2: a direction missing from `policyTypes`).
type LoweredEntries = (Vec<Entry>, bool);

#[derive(Clone, Debug)]
enum Allowance {
    All,
    None,
    Entries(Vec<Entry>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cat {
    Pod,
    External,
    Node,
}

#[derive(Debug)]
struct Class {
    members: Vec<u32>,
    rep: u32,
    cat: Cat,
    ns: Option<String>,
    /// Workloads, whose replicas reach each other (an edge from the class to itself).
    replicas: bool,
}

struct Engine<'w, 'm> {
    w: &'w World<'m>,
    classes: Vec<Class>,
    sets: Vec<Vec<u32>>,
    set_ids: FxHashMap<Vec<u32>, u32>,
    egress: Vec<Allowance>,
    ingress: Vec<Allowance>,
    /// Services (model index, endpoint index, backend classes).
    services: Vec<(usize, u32, Vec<u32>)>,
    /// The inverse of the ingress entries, to find the destinations that admit a source.
    inverse: Inverse,
    /// Pod classes by namespace.
    by_ns: BTreeMap<String, Vec<u32>>,
    /// Services (indices into `services`) by namespace.
    services_by_ns: BTreeMap<String, Vec<u32>>,
    /// Selectorless Services (indices into `services`): open egress reaches them directly.
    selectorless: Vec<u32>,
    /// The Services of the namespaces a scope picks, by scope.
    scope_services: FxHashMap<String, Vec<u32>>,
    /// `services_for` results by (peer, ports): policies often repeat the same rule.
    rule_services: FxHashMap<String, Arc<[(u32, PortSet)]>>,
}

/// Which destination classes can admit a source class.
#[derive(Debug, Default)]
struct Inverse {
    /// Classes whose ingress allows everything.
    open: Vec<u32>,
    /// The pod classes among `open`: all a non-pod source can reach, since only pairs
    /// with a pod end are modelled (thousands of external ranges must not meet each
    /// other: that was quadratic in an ipBlock's `except` entries).
    open_pods: Vec<u32>,
    /// Classes with an ingress entry for every peer.
    any_peer: Vec<u32>,
    /// Per interned set: the classes with an ingress entry on it.
    users: Vec<Vec<u32>>,
    /// Per class: the interned sets (with users) that contain it.
    member: Vec<Vec<u32>>,
    /// Per class: the Services it backs.
    backs: Vec<Vec<u32>>,
}

impl std::fmt::Debug for Engine<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("classes", &self.classes.len())
            .finish()
    }
}

/// Every connection, in groups of endpoints: the classes, then one group per Service.
#[derive(Debug, Default)]
pub(crate) struct Grouped {
    /// The group of each endpoint.
    pub(crate) of: Vec<u32>,
    /// (from group, to group, port-set id); each stands for every pair of distinct members.
    pub(crate) edges: Vec<(u32, u32, u32)>,
    pub(crate) ports: PortSets,
}

/// One worker's class edges, with its own port-set ids.
type Part = (Vec<(u32, u32, u32)>, PortSets);

/// Computes every connection, between groups of endpoints; never per pair.
pub(crate) fn connections(w: &World<'_>) -> Grouped {
    let mut eng = Engine::new(w);
    let _ = eng.allowances();
    let n = eng.classes.len();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = n.div_ceil(threads).max(1);
    let eng = &eng;
    let mut parts: Vec<Part> = Vec::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                scope.spawn(move || {
                    let mut sets = PortSets::default();
                    let edges = eng.join(start..(start + chunk).min(n), &mut sets);
                    (edges, sets)
                })
            })
            .collect();
        for h in handles {
            // A panicking worker is a bug; its part is lost rather than aborting.
            parts.push(h.join().unwrap_or_default());
        }
    });
    let mut res = Grouped {
        of: vec![u32::MAX; w.eps.len()],
        ..Grouped::default()
    };
    for (c, cl) in eng.classes.iter().enumerate() {
        for &m in &cl.members {
            res.of[m as usize] = c as u32;
        }
    }
    for (k, (_, ep, _)) in eng.services.iter().enumerate() {
        res.of[*ep as usize] = (n + k) as u32;
    }
    for (edges, sets) in parts {
        let ids: Vec<u32> = sets
            .into_sets()
            .into_iter()
            .map(|p| res.ports.id(p))
            .collect();
        res.edges
            .extend(edges.into_iter().map(|(s, d, p)| (s, d, ids[p as usize])));
    }
    res
}

impl<'w> Engine<'w, '_> {
    pub(super) fn rep(&self, c: u32) -> &'w Ep {
        &self.w.eps[self.classes[c as usize].rep as usize]
    }

    pub(super) fn intern(&mut self, mut set: Vec<u32>) -> u32 {
        set.sort_unstable();
        set.dedup();
        if let Some(&id) = self.set_ids.get(&set) {
            return id;
        }
        let id = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        self.sets.push(set.clone());
        self.set_ids.insert(set, id);
        id
    }

    pub(super) fn contains(&self, set: SetRef, c: u32) -> bool {
        match set {
            SetRef::All => true,
            SetRef::Id(id) => self.sets[id as usize].binary_search(&c).is_ok(),
        }
    }
}
