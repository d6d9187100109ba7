//! The semantic diff of two snapshots: connections compared pair by pair of endpoints (so
//! that a class split or merged on one side is no change by itself), then grouped by the
//! classes they fall in.

use std::collections::BTreeMap;

use netpol_graph::PortSet;

use crate::{Section, Snapshot, parse_ports};

/// How one connection changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// No connection before.
    Added,
    /// No connection after.
    Removed,
    /// Ports changed. `widened`: some port is newly allowed; `narrowed`: some port no
    /// longer is (both at once is possible).
    Changed { widened: bool, narrowed: bool },
}

impl Change {
    /// New access: a new connection, or a new port on an existing one.
    pub fn adds(self) -> bool {
        matches!(self, Change::Added | Change::Changed { widened: true, .. })
    }

    /// Lost access.
    pub fn removes(self) -> bool {
        matches!(
            self,
            Change::Removed | Change::Changed { narrowed: true, .. }
        )
    }
}

/// Connections of the same change between the same classes, with the same ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowGroup {
    pub section: Section,
    pub change: Change,
    /// Class names: the new snapshot's, else (removed endpoints) the old one's.
    pub from_class: String,
    pub to_class: String,
    /// Ports before and after, as in the snapshot; `None` for no connection.
    pub old_ports: Option<String>,
    pub new_ports: Option<String>,
    /// The endpoint pairs, sorted.
    pub pairs: Vec<(String, String)>,
}

/// Every change between two snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Sorted by (section, from class, to class, change, ports).
    pub flows: Vec<FlowGroup>,
    /// Assertion name to (old verdict, new verdict), only those that differ.
    pub verdicts: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Semantics keys that differ: (old, new).
    pub semantics: BTreeMap<String, (Option<String>, Option<String>)>,
}

impl Diff {
    pub fn added(&self) -> usize {
        self.flows
            .iter()
            .filter(|f| f.change == Change::Added)
            .count()
    }

    pub fn removed(&self) -> usize {
        self.flows
            .iter()
            .filter(|f| f.change == Change::Removed)
            .count()
    }

    pub fn changed(&self) -> usize {
        self.flows.len() - self.added() - self.removed()
    }

    /// Whether any flow opens access (a new connection or a new port).
    pub fn has_new_access(&self) -> bool {
        self.flows.iter().any(|f| f.change.adds())
    }

    /// Whether any flow loses access.
    pub fn has_lost_access(&self) -> bool {
        self.flows.iter().any(|f| f.change.removes())
    }

    /// No flow changed (verdicts and semantics aside).
    pub fn is_empty_connectivity(&self) -> bool {
        self.flows.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty() && self.verdicts.is_empty() && self.semantics.is_empty()
    }

    /// The one-line summary: `3 new flows, 1 removed, 2 changed` or `no change in connectivity`.
    pub fn summary(&self) -> String {
        if self.flows.is_empty() {
            return "no change in connectivity".to_owned();
        }
        let (a, r, c) = (self.added(), self.removed(), self.changed());
        let flows = if a == 1 { "flow" } else { "flows" };
        format!("{a} new {flows}, {r} removed, {c} changed")
    }
}

/// The pairs of endpoints a snapshot connects, with their ports and section.
fn pairs(s: &Snapshot) -> BTreeMap<(String, String), (Section, String)> {
    let mut out = BTreeMap::new();
    for ((section, from, to), ports) in &s.edges {
        let (Some(f), Some(t)) = (s.classes.get(from), s.classes.get(to)) else {
            continue;
        };
        for a in &f.members {
            for b in &t.members {
                // An endpoint reaches itself only as a workload's replicas (`ns/name[Kind]`).
                if a == b && !a.ends_with(']') {
                    continue;
                }
                out.insert((a.clone(), b.clone()), (*section, ports.clone()));
            }
        }
    }
    out
}

/// What changed from `old` to `new`.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Diff {
    let (po, pn) = (pairs(old), pairs(new));
    let (co, cn) = (old.class_of(), new.class_of());
    let class = |e: &str| {
        cn.get(e)
            .or_else(|| co.get(e))
            .map_or_else(|| e.to_owned(), |c| (*c).to_owned())
    };
    type Key = (
        Section,
        String,
        String,
        Change,
        Option<String>,
        Option<String>,
    );
    let mut groups: BTreeMap<Key, Vec<(String, String)>> = BTreeMap::new();
    let mut record = |pair: &(String, String),
                      section: Section,
                      change: Change,
                      o: Option<&String>,
                      n: Option<&String>| {
        groups
            .entry((
                section,
                class(&pair.0),
                class(&pair.1),
                change,
                o.cloned(),
                n.cloned(),
            ))
            .or_default()
            .push(pair.clone());
    };
    for (pair, (section, ports)) in &po {
        match pn.get(pair) {
            None => record(pair, *section, Change::Removed, Some(ports), None),
            Some((_, now)) if now != ports => {
                let (a, b) = (parse(ports), parse(now));
                let change = Change::Changed {
                    widened: !b.difference(&a).is_empty(),
                    narrowed: !a.difference(&b).is_empty(),
                };
                record(pair, *section, change, Some(ports), Some(now));
            }
            Some(_) => {}
        }
    }
    for (pair, (section, ports)) in &pn {
        if !po.contains_key(pair) {
            record(pair, *section, Change::Added, None, Some(ports));
        }
    }
    let flows = groups
        .into_iter()
        .map(
            |((section, from_class, to_class, change, old_ports, new_ports), pairs)| FlowGroup {
                section,
                change,
                from_class,
                to_class,
                old_ports,
                new_ports,
                pairs,
            },
        )
        .collect();
    Diff {
        flows,
        verdicts: changed_keys(&old.verdicts, &new.verdicts),
        semantics: changed_keys(&old.semantics, &new.semantics),
    }
}

fn parse(ports: &str) -> PortSet {
    parse_ports(ports).unwrap_or_default()
}

fn changed_keys(
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) -> BTreeMap<String, (Option<String>, Option<String>)> {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| (k.clone(), (a.get(k).cloned(), b.get(k).cloned())))
        .collect()
}
