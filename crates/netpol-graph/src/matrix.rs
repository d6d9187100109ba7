//! The reachability matrix: endpoints and the allowed ports of every ordered pair, held in
//! groups of endpoints that share their row and column (the engine's classes), plus the
//! `--from`/`--to`/`--port` [`Filter`]. Memory is linear in the endpoints and the group
//! edges, never in the pairs: the pairs are expanded only while they are written.

use std::rc::Rc;

use netpol_manifest::config::{Cni, EnforcingMode};
use netpol_manifest::model::Protocol;
use rustc_hash::FxHashMap;

use crate::ports::PortSet;
use crate::world::EndpointInfo;

/// Index of an endpoint in [`Matrix::endpoints`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointId(pub u32);

impl EndpointId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which semantics produced a matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Semantics {
    pub cni: Cni,
    /// Always `standard` under `upstream`.
    pub enforcing_mode: EnforcingMode,
}

/// Every modelled ordered pair of distinct endpoints with at least one allowed port.
#[derive(Clone, Debug)]
pub struct Matrix {
    pub semantics: Semantics,
    /// Sorted by id.
    pub endpoints: Vec<EndpointInfo>,
    groups: Groups,
    /// V13: connections whose ports the agent may drop in part, sorted by (from, to).
    pub uncertain: Vec<Uncertain>,
}

/// V13: a connection some of whose allowed ports the VPC CNI agent may drop (an address
/// key with more than 24 port slots keeps 24 in no knowable order). The matrix lists what
/// the policies allow; these are the ports of it that are not certain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uncertain {
    pub from: String,
    pub to: String,
    /// A non-empty part of the connection's ports.
    pub ports: PortSet,
    /// Why, per key ("at x/db, ingress from the pods of x/web has 27 port slots ...").
    pub reasons: Vec<String>,
}

/// Endpoints in groups, and edges between groups: an edge `(g, h, p)` stands for every
/// pair `(a, b)` of distinct endpoints with `a` in `g` and `b` in `h`, allowing the port
/// set `ports[p]`, and in a group of workloads also for `(a, a)`: two replicas of `a`.
/// No edge stands for no pair, and no port set is empty.
#[derive(Clone, Debug, Default)]
struct Groups {
    /// The group of each endpoint.
    of: Vec<u32>,
    /// The members of each group, sorted.
    members: Vec<Vec<u32>>,
    /// Sorted by (from, to), without duplicates.
    edges: Vec<(u32, u32, u32)>,
    /// Per group `g`, its edges are `edges[start[g]..start[g + 1]]`.
    start: Vec<usize>,
    /// Interned port sets.
    ports: Vec<PortSet>,
    /// Per group: its members are workloads (every group's members are all workloads or
    /// none), whose replicas reach each other.
    replicas: Vec<bool>,
}

impl Groups {
    /// `of` gives each endpoint's group (dense ids); `edges` may come in any order.
    fn new(
        of: Vec<u32>,
        mut edges: Vec<(u32, u32, u32)>,
        ports: Vec<PortSet>,
        endpoints: &[EndpointInfo],
    ) -> Groups {
        let count = of.iter().map(|&g| g as usize + 1).max().unwrap_or(0);
        let mut members = vec![Vec::new(); count];
        let mut replicas = vec![false; count];
        for (i, &g) in of.iter().enumerate() {
            members[g as usize].push(u32::try_from(i).unwrap_or(u32::MAX));
            replicas[g as usize] |= endpoints[i].has_replicas();
        }
        edges.retain(|&(g, h, _)| g != h || members[g as usize].len() > 1 || replicas[g as usize]);
        edges.sort_unstable();
        edges.dedup_by_key(|e| (e.0, e.1));
        let mut start = vec![0; count + 1];
        for &(g, _, _) in &edges {
            start[g as usize + 1] += 1;
        }
        for g in 0..count {
            start[g + 1] += start[g];
        }
        Groups {
            of,
            members,
            edges,
            start,
            ports,
            replicas,
        }
    }

    fn out(&self, g: u32) -> &[(u32, u32, u32)] {
        &self.edges[self.start[g as usize]..self.start[g as usize + 1]]
    }

    fn pairs(&self, &(g, h, _): &(u32, u32, u32)) -> usize {
        let (a, b) = (
            self.members[g as usize].len(),
            self.members[h as usize].len(),
        );
        match (g == h, self.replicas[g as usize]) {
            (false, _) => a * b,
            (true, false) => a * (a - 1),
            (true, true) => a * a,
        }
    }
}

/// Interns port sets into dense ids.
#[derive(Debug, Default)]
pub(crate) struct PortSets {
    ids: FxHashMap<PortSet, u32>,
    sets: Vec<PortSet>,
}

impl PortSets {
    pub(crate) fn id(&mut self, p: PortSet) -> u32 {
        if let Some(&id) = self.ids.get(&p) {
            return id;
        }
        let id = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        self.sets.push(p.clone());
        self.ids.insert(p, id);
        id
    }

    pub(crate) fn into_sets(self) -> Vec<PortSet> {
        self.sets
    }
}

/// One edge of the matrix.
#[derive(Clone, Copy, Debug)]
pub struct Connection<'a> {
    pub from: &'a EndpointInfo,
    pub to: &'a EndpointInfo,
    pub ports: &'a PortSet,
}

/// Target lists of at most this many entries in all are kept for reuse (8 bytes each).
const TARGET_CACHE: usize = 1 << 23;

/// The pairs of a matrix in (from, to) order, expanded from the group edges one source
/// group at a time. Endpoints sorted by id interleave groups, so each group's sorted
/// target list is kept for reuse, within [`TARGET_CACHE`].
pub(crate) struct Pairs<'a> {
    g: &'a Groups,
    /// The next source endpoint.
    a: usize,
    /// The targets of `a`'s group: (target endpoint, port-set id), sorted.
    targets: Rc<[(u32, u32)]>,
    pos: usize,
    /// The group `targets` belongs to.
    current: Option<u32>,
    cache: FxHashMap<u32, Rc<[(u32, u32)]>>,
    cached: usize,
}

impl Pairs<'_> {
    fn targets_of(&mut self, g: u32) -> Rc<[(u32, u32)]> {
        if let Some(t) = self.cache.get(&g) {
            return Rc::clone(t);
        }
        let mut t: Vec<(u32, u32)> = Vec::new();
        for &(_, h, p) in self.g.out(g) {
            t.extend(self.g.members[h as usize].iter().map(|&b| (b, p)));
        }
        t.sort_unstable();
        let t: Rc<[(u32, u32)]> = t.into();
        if self.cached + t.len() > TARGET_CACHE {
            self.cache.clear();
            self.cached = 0;
        }
        self.cached += t.len();
        self.cache.insert(g, Rc::clone(&t));
        t
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (u32, u32, &'a PortSet);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let a = self.a;
            let &g = self.g.of.get(a)?;
            if self.current != Some(g) {
                self.current = Some(g);
                self.targets = if self.g.out(g).is_empty() {
                    Rc::from([])
                } else {
                    self.targets_of(g)
                };
                self.pos = 0;
            }
            while let Some(&(b, p)) = self.targets.get(self.pos) {
                self.pos += 1;
                if b as usize != a || self.g.replicas[g as usize] {
                    let a = u32::try_from(a).unwrap_or(u32::MAX);
                    return Some((a, b, &self.g.ports[p as usize]));
                }
            }
            self.a += 1;
            self.pos = 0;
        }
    }
}

impl Matrix {
    /// Builds a matrix from connections between endpoints, without duplicates; each
    /// endpoint is its own group.
    #[cfg(test)]
    pub(crate) fn from_pairs(
        semantics: Semantics,
        endpoints: Vec<EndpointInfo>,
        edges: Vec<(u32, u32, PortSet)>,
    ) -> Matrix {
        let of = (0..endpoints.len())
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        let mut sets = PortSets::default();
        let edges = edges
            .into_iter()
            .map(|(a, b, p)| (a, b, sets.id(p)))
            .collect();
        Matrix::from_groups(semantics, endpoints, of, edges, sets)
    }

    /// Builds a matrix from endpoint groups (`of`: each endpoint's group, dense ids) and
    /// edges between groups with interned port sets; see [`Groups`].
    pub(crate) fn from_groups(
        semantics: Semantics,
        endpoints: Vec<EndpointInfo>,
        of: Vec<u32>,
        edges: Vec<(u32, u32, u32)>,
        ports: PortSets,
    ) -> Matrix {
        Matrix {
            semantics,
            groups: Groups::new(of, edges, ports.into_sets(), &endpoints),
            endpoints,
            uncertain: Vec::new(),
        }
    }

    /// Sets [`Matrix::uncertain`] from (from, to, ports at stake, reason): each meets the
    /// pair's allowed ports; pairs without any are left out, and one pair's marks merge.
    pub(crate) fn mark_uncertain(&mut self, marks: Vec<(String, String, PortSet, String)>) {
        let mut by_pair: std::collections::BTreeMap<(String, String), Uncertain> =
            std::collections::BTreeMap::new();
        for (from, to, ports, why) in marks {
            let ports = ports.intersect(&self.ports(&from, &to));
            if ports.is_empty() {
                continue;
            }
            let u = by_pair
                .entry((from.clone(), to.clone()))
                .or_insert_with(|| Uncertain {
                    from,
                    to,
                    ports: PortSet::empty(),
                    reasons: Vec::new(),
                });
            u.ports.union_with(&ports);
            if !u.reasons.contains(&why) {
                u.reasons.push(why);
            }
        }
        self.uncertain = by_pair.into_values().collect();
    }

    /// The connections as endpoint indices, in output order: sorted by (from, to).
    pub(crate) fn pairs(&self) -> Pairs<'_> {
        Pairs {
            g: &self.groups,
            a: 0,
            targets: Rc::from([]),
            pos: 0,
            current: None,
            cache: FxHashMap::default(),
            cached: 0,
        }
    }

    /// The connections in output order: sorted by (from, to).
    pub fn connections(&self) -> impl Iterator<Item = Connection<'_>> {
        self.pairs().map(|(a, b, ports)| Connection {
            from: &self.endpoints[a as usize],
            to: &self.endpoints[b as usize],
            ports,
        })
    }

    /// The groups: each endpoint's group, each group's members, the edges between groups
    /// (sorted) and the interned port sets.
    #[allow(clippy::type_complexity)]
    pub(crate) fn group_parts(&self) -> (&[u32], &[Vec<u32>], &[(u32, u32, u32)], &[PortSet]) {
        let g = &self.groups;
        (&g.of, &g.members, &g.edges, &g.ports)
    }

    /// How many groups of endpoints with equal rows and columns the matrix holds; its
    /// memory follows this and the edges between groups, not the connections.
    pub fn group_count(&self) -> usize {
        self.groups.members.len()
    }

    /// How many edges between groups the matrix holds.
    pub fn group_edge_count(&self) -> usize {
        self.groups.edges.len()
    }

    pub fn connection_count(&self) -> usize {
        self.groups.edges.iter().map(|e| self.groups.pairs(e)).sum()
    }

    /// The allowed ports between two endpoint ids (empty when there is no edge).
    pub fn ports(&self, from: &str, to: &str) -> PortSet {
        let find = |id: &str| {
            self.endpoints
                .binary_search_by(|e| e.id.as_str().cmp(id))
                .ok()
        };
        let (Some(a), Some(b)) = (find(from), find(to)) else {
            return PortSet::empty();
        };
        let g = &self.groups;
        if a == b && !g.replicas[g.of[a] as usize] {
            return PortSet::empty();
        }
        let out = g.out(g.of[a]);
        match out.binary_search_by_key(&g.of[b], |e| e.1) {
            Ok(i) => g.ports[out[i].2 as usize].clone(),
            Err(_) => PortSet::empty(),
        }
    }

    /// The connections the filter keeps, and the endpoints they touch plus those the
    /// filter names. Groups are split by what the filter keeps, never expanded to pairs.
    pub fn filter(&self, filter: &Filter) -> Matrix {
        let g = &self.groups;
        let keep = |p: &Option<String>, e: &EndpointInfo| {
            p.as_deref().is_none_or(|p| {
                id_matches(p, &e.id) || e.owner.as_deref().is_some_and(|o| id_matches(p, o))
            })
        };
        // Sub-groups: (group, kept as a source, kept as a destination).
        let mut sub_ids: FxHashMap<(u32, bool, bool), u32> = FxHashMap::default();
        let mut subs: Vec<(u32, bool, bool)> = Vec::new();
        let mut sub_of = Vec::with_capacity(self.endpoints.len());
        for (i, e) in self.endpoints.iter().enumerate() {
            let key = (g.of[i], keep(&filter.from, e), keep(&filter.to, e));
            let next = u32::try_from(subs.len()).unwrap_or(u32::MAX);
            let id = *sub_ids.entry(key).or_insert_with(|| {
                subs.push(key);
                next
            });
            sub_of.push(id);
        }
        let mut by_group: Vec<Vec<u32>> = vec![Vec::new(); g.members.len()];
        for (id, &(grp, _, _)) in subs.iter().enumerate() {
            by_group[grp as usize].push(u32::try_from(id).unwrap_or(u32::MAX));
        }
        let mut size = vec![0usize; subs.len()];
        for &s in &sub_of {
            size[s as usize] += 1;
        }
        let mut edges = Vec::new();
        let mut used = vec![false; subs.len()];
        for &(gf, gt, p) in &g.edges {
            if let Some((proto, port)) = filter.port
                && !g.ports[p as usize].contains(proto, port)
            {
                continue;
            }
            for &sf in &by_group[gf as usize] {
                if !subs[sf as usize].1 {
                    continue;
                }
                for &st in &by_group[gt as usize] {
                    let alone = size[sf as usize] < 2 && !g.replicas[gf as usize];
                    if !subs[st as usize].2 || (sf == st && alone) {
                        continue;
                    }
                    used[sf as usize] = true;
                    used[st as usize] = true;
                    edges.push((sf, st, p));
                }
            }
        }
        let no_filter = filter.from.is_none() && filter.to.is_none() && filter.port.is_none();
        let mut endpoints = Vec::new();
        let mut of = Vec::new();
        for (i, e) in self.endpoints.iter().enumerate() {
            let s = sub_of[i];
            let (_, kf, kt) = subs[s as usize];
            let named = (filter.from.is_some() && kf) || (filter.to.is_some() && kt);
            if no_filter || named || used[s as usize] {
                endpoints.push(e.clone());
                of.push(s);
            }
        }
        // Renumber the sub-groups densely over the endpoints kept; a sub-group with an
        // edge keeps all its members, so no edge loses an end.
        let mut dense = vec![u32::MAX; subs.len()];
        let mut next = 0u32;
        for s in &mut of {
            if dense[*s as usize] == u32::MAX {
                dense[*s as usize] = next;
                next += 1;
            }
            *s = dense[*s as usize];
        }
        let edges = edges
            .into_iter()
            .map(|(a, b, p)| (dense[a as usize], dense[b as usize], p))
            .collect();
        let mut out = Matrix {
            semantics: self.semantics,
            groups: Groups::new(of, edges, g.ports.clone(), &endpoints),
            endpoints,
            uncertain: Vec::new(),
        };
        let marks = (self.uncertain.iter())
            .flat_map(|u| {
                (u.reasons.iter())
                    .map(|r| (u.from.clone(), u.to.clone(), u.ports.clone(), r.clone()))
            })
            .collect();
        out.mark_uncertain(marks);
        out
    }
}

/// `--from`, `--to` and `--port`. Endpoint patterns are an id (`x/a`, `x/a[Deployment]`),
/// a workload id without its kind (`x/a` also matches `x/a[Deployment]`), or a pattern
/// with `*` wildcards (`x/*`, `*[Service]`, `node/*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Keep only connections that allow this (protocol, port).
    pub port: Option<(Protocol, u16)>,
}

/// Whether an endpoint id matches a filter pattern.
pub fn id_matches(pattern: &str, id: &str) -> bool {
    if glob(pattern.as_bytes(), id.as_bytes()) {
        return true;
    }
    // `ns/name` matches `ns/name[Kind]`.
    !pattern.contains('[')
        && id
            .split_once('[')
            .is_some_and(|(base, _)| glob(pattern.as_bytes(), base.as_bytes()))
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    // Iterative wildcard match with backtracking to the last `*`.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == s[si] && p[pi] != b'*') {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(id_matches("x/*", "x/a"));
        assert!(id_matches("x/*", "x/a[Deployment]"));
        assert!(!id_matches("x/*", "y/a"));
        assert!(id_matches("x/a", "x/a[Deployment]"));
        assert!(!id_matches("x/a", "x/ab"));
        assert!(id_matches("*[Service]", "x/s[Service]"));
        assert!(id_matches("*", "10.0.0.0-10.255.255.255"));
        assert!(!id_matches("x/a[Pod]", "x/a[Deployment]"));
    }

    fn info(id: &str) -> EndpointInfo {
        EndpointInfo {
            id: id.to_owned(),
            kind: crate::EndpointType::External,
            namespace: None,
            name: id.to_owned(),
            labels: Default::default(),
            ip: None,
            owner: None,
            range: None,
        }
    }

    #[test]
    fn filter_keeps_matching_connections_and_their_endpoints() {
        let tcp = Protocol::Tcp;
        let m = Matrix::from_pairs(
            Semantics {
                cni: Cni::Upstream,
                enforcing_mode: EnforcingMode::Standard,
            },
            vec![info("x/a"), info("x/b"), info("y/c")],
            vec![
                (0, 1, PortSet::port(tcp, 80)),
                (0, 2, PortSet::all()),
                (2, 0, PortSet::port(tcp, 443)),
            ],
        );
        assert_eq!(m.ports("x/a", "y/c"), PortSet::all());
        assert!(m.ports("x/b", "x/a").is_empty());
        let f = m.filter(&Filter {
            from: Some("x/*".to_owned()),
            to: None,
            port: Some((tcp, 80)),
        });
        let got: Vec<(String, String)> = f
            .connections()
            .map(|c| (c.from.id.clone(), c.to.id.clone()))
            .collect();
        assert_eq!(
            got,
            [("x/a".into(), "x/b".into()), ("x/a".into(), "y/c".into())]
        );
        assert_eq!(f.endpoints.len(), 3);
        let f = m.filter(&Filter {
            to: Some("x/a".to_owned()),
            ..Filter::default()
        });
        assert_eq!(f.connection_count(), 1);
        assert_eq!(
            f.endpoints
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            ["x/a", "y/c"]
        );
        assert_eq!(m.filter(&Filter::default()).connection_count(), 3);
    }
}
