//! The semantic diff of two snapshots: connections compared pair by pair of endpoints (so
//! that a class split or merged on one side is no change by itself), then grouped by the
//! classes they fall in.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

/// An external endpoint `lo-hi` as (IPv6, lo, hi).
fn range_of(id: &str) -> Option<(bool, u128, u128)> {
    let (a, b) = id.split_once('-')?;
    match (a.parse().ok()?, b.parse().ok()?) {
        (IpAddr::V4(a), IpAddr::V4(b)) => Some((false, u32::from(a).into(), u32::from(b).into())),
        (IpAddr::V6(a), IpAddr::V6(b)) => Some((true, a.into(), b.into())),
        _ => None,
    }
}

fn addr(v6: bool, n: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
    }
}

/// The starts of every external range of both sides: the two sides split the addresses
/// differently (by the ipBlocks each has), so ranges are compared in their common
/// refinement, never by id.
type Cuts = BTreeSet<(bool, u128)>;

fn cuts(a: &Snapshot, b: &Snapshot) -> Cuts {
    (a.classes.values().chain(b.classes.values()))
        .flat_map(|c| &c.members)
        .filter_map(|m| range_of(m))
        .map(|(v6, lo, _)| (v6, lo))
        .collect()
}

/// An endpoint as the pieces of the common refinement it covers (itself, unless a range).
fn pieces(id: &str, cuts: &Cuts) -> Vec<String> {
    let Some((v6, lo, hi)) = range_of(id) else {
        return vec![id.to_owned()];
    };
    let starts: Vec<u128> = cuts.range((v6, lo)..=(v6, hi)).map(|c| c.1).collect();
    (starts.iter().enumerate())
        .map(|(i, &s)| {
            let end = starts.get(i + 1).map_or(hi, |n| n - 1);
            format!("{}-{}", addr(v6, s), addr(v6, end))
        })
        .collect()
}

type Pairs = BTreeMap<(String, String), (Section, String)>;

/// The pairs of endpoints (range pieces) a snapshot connects, with ports and section, and
/// the class of each endpoint.
fn pairs(s: &Snapshot, cuts: &Cuts) -> (Pairs, BTreeMap<String, String>) {
    let mut class = BTreeMap::new();
    let mut split: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, c) in &s.classes {
        let mut all = Vec::new();
        for m in &c.members {
            for p in pieces(m, cuts) {
                class.insert(p.clone(), name.clone());
                all.push(p);
            }
        }
        split.insert(name, all);
    }
    let mut out = BTreeMap::new();
    for ((section, from, to), ports) in &s.edges {
        let (Some(f), Some(t)) = (split.get(from.as_str()), split.get(to.as_str())) else {
            continue;
        };
        for a in f {
            for b in t {
                // An endpoint reaches itself only as a workload's replicas (`ns/name[Kind]`).
                if a == b && !a.ends_with(']') {
                    continue;
                }
                out.insert((a.clone(), b.clone()), (*section, ports.clone()));
            }
        }
    }
    (out, class)
}

/// What changed from `old` to `new`.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Diff {
    let cuts = cuts(old, new);
    let ((mut po, co), (mut pn, cn)) = (pairs(old, &cuts), pairs(new, &cuts));
    // New pods (`new-pod@NS`, never a member) are kept by endpoint id already.
    let exposure = |s: &Snapshot| -> Pairs {
        let mut out = Pairs::new();
        for ((from, to), p) in &s.exposure {
            for a in pieces(from, &cuts) {
                for b in pieces(to, &cuts) {
                    out.insert((a.clone(), b), (Section::Exposure, p.clone()));
                }
            }
        }
        out
    };
    po.extend(exposure(old));
    pn.extend(exposure(new));
    let class = |e: &str| {
        cn.get(e)
            .or_else(|| co.get(e))
            .map_or_else(|| e.to_owned(), Clone::clone)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(text: &str) -> Snapshot {
        Snapshot::parse(&format!("# netpol snapshot v1\n{text}")).expect("parses")
    }

    #[test]
    fn regrouping_alone_is_no_change() {
        let one = snap(
            "class a+ Pod ns/a\nclass a+ Pod ns/b\nclass c Pod ns/c\npod a+ -> c TCP/80\npod a+ -> a+ TCP/80\n",
        );
        let two = snap(
            "class a Pod ns/a\nclass b Pod ns/b\nclass c Pod ns/c\npod a -> c TCP/80\npod b -> c TCP/80\npod a -> b TCP/80\npod b -> a TCP/80\n",
        );
        assert!(diff(&one, &two).flows.is_empty(), "{:#?}", diff(&one, &two));
    }

    #[test]
    fn a_workload_reaches_its_replicas_a_pod_never_itself() {
        let old = snap("class w Deployment ns/w[Deployment]\nclass p Pod ns/p\n");
        let new = snap(
            "class w Deployment ns/w[Deployment]\nclass p Pod ns/p\npod w -> w TCP/80\npod p -> p TCP/80\n",
        );
        let d = diff(&old, &new);
        assert_eq!(d.flows.len(), 1);
        assert_eq!(
            d.flows[0].pairs,
            [("ns/w[Deployment]".into(), "ns/w[Deployment]".into())]
        );
    }

    #[test]
    fn ranges_are_refined_and_ports_widen_or_narrow() {
        let old =
            snap("class x External 0.0.0.0-255.255.255.255\nclass w Pod ns/w\npod w -> x TCP/80\n");
        let new = snap(
            "class x External 0.0.0.0-9.255.255.255\nclass y External 10.0.0.0-255.255.255.255\nclass w Pod ns/w\npod w -> x TCP/80\npod w -> y TCP/80,TCP/443\n",
        );
        let d = diff(&old, &new);
        assert_eq!(d.flows.len(), 1, "{d:#?}");
        assert_eq!(d.flows[0].to_class, "y");
        assert_eq!(
            d.flows[0].change,
            Change::Changed {
                widened: true,
                narrowed: false
            }
        );
        assert!(d.has_new_access() && !d.has_lost_access());
        let back = diff(&new, &old);
        assert!(!back.has_new_access() && back.has_lost_access());
    }
}
