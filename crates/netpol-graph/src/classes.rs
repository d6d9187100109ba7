//! Named classes: the matrix in its readable form. Endpoints with identical rows and
//! columns (swapping two of them leaves the matrix unchanged) form one class, and edges go
//! between classes. Names come from the members (their workload, owner or first address),
//! never from a position, so that a change elsewhere leaves a class's name alone.

use std::collections::BTreeMap;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use crate::matrix::{EndpointId, Matrix};
use crate::ports::PortSet;
use crate::world::{EndpointInfo, EndpointType};

/// One class of endpoints with identical rows and columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    /// Unique and stable: the first workload (or range) of the class, with `+` when the
    /// class has more than one; `@<first member>` is added when two classes would share it.
    pub name: String,
    /// `Pod`, `Deployment`, ..., `External`, `Node`, `Service`: the members' kind, or
    /// `Workload` when the members are workloads of several kinds.
    pub kind: &'static str,
    /// Sorted by id.
    pub members: Vec<EndpointId>,
    /// The workloads the members stand for (a pod's owner when the input lacks it, else
    /// the member itself) with how many members each has, sorted; empty for externals.
    pub workloads: Vec<(String, usize)>,
    /// External classes: the addresses, as the fewest CIDRs, sorted.
    pub cidrs: Vec<IpNet>,
}

/// The matrix as classes and edges between classes.
#[derive(Clone, Debug)]
pub struct Classes<'m> {
    /// Sorted by name.
    pub classes: Vec<Class>,
    /// (from class, to class, port-set id), sorted, one per ordered class pair.
    edges: Vec<(u32, u32, u32)>,
    ports: &'m [PortSet],
}

/// An edge between classes: every endpoint of `from` may reach every endpoint of `to` (an
/// endpoint never itself, but a workload's replicas each other) on `ports`.
#[derive(Clone, Copy, Debug)]
pub struct ClassEdge<'a> {
    pub from: &'a Class,
    pub to: &'a Class,
    pub ports: &'a PortSet,
}

impl<'m> Classes<'m> {
    pub fn edges(&self) -> impl Iterator<Item = ClassEdge<'_>> {
        self.edges.iter().map(|&(a, b, p)| ClassEdge {
            from: &self.classes[a as usize],
            to: &self.classes[b as usize],
            ports: &self.ports[p as usize],
        })
    }

    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }
}

/// Never a port-set id: "no edge".
const NONE: u32 = u32::MAX;

/// A commutative hash term for one (group, port set) entry of a row or column.
fn term(g: u32, p: u32) -> u64 {
    if p == NONE {
        return 0;
    }
    let mut x = (u64::from(g) << 32) ^ u64::from(p) ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The category a class never leaves: pods, workloads, externals, nodes, Services.
fn category(e: &EndpointInfo) -> u8 {
    match e.kind {
        EndpointType::Workload(_) if e.has_replicas() => 1,
        EndpointType::Workload(_) => 0,
        EndpointType::External => 2,
        EndpointType::Node => 3,
        EndpointType::Service => 4,
    }
}

/// The groups' rows and columns, for the merge.
struct View<'a> {
    /// Per group: (to, port id), sorted.
    out: Vec<&'a [(u32, u32, u32)]>,
    /// Per group: (from, port id), sorted.
    inn: Vec<Vec<(u32, u32)>>,
    /// Per group: the ports between two of its members (`NONE` for none), when fixed: it
    /// has two members or replicas. A lone pod's is free.
    own: Vec<Option<u32>>,
}

impl View<'_> {
    /// The row (or column) of `g` with its own entry set to `q`: the row a class holding
    /// `g` with internal ports `q` gives each member.
    fn completed(&self, g: u32, q: u32, col: bool) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = if col {
            self.inn[g as usize]
                .iter()
                .copied()
                .filter(|e| e.0 != g)
                .collect()
        } else {
            self.out[g as usize]
                .iter()
                .filter(|e| e.1 != g)
                .map(|e| (e.1, e.2))
                .collect()
        };
        if q != NONE {
            let at = v.partition_point(|e| e.0 < g);
            v.insert(at, (g, q));
        }
        v
    }

    fn same(&self, a: u32, b: u32, q: u32) -> bool {
        self.completed(a, q, false) == self.completed(b, q, false)
            && self.completed(a, q, true) == self.completed(b, q, true)
    }
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let up = parent[parent[x as usize] as usize];
        parent[x as usize] = up;
        x = up;
    }
    x
}

impl Matrix {
    /// The matrix as named classes of endpoints with identical rows and columns, and the
    /// edges between them. Linear in the group edges (plus the rows of merged groups).
    pub fn classes(&self) -> Classes<'_> {
        let (of, members, edges, ports) = self.group_parts();
        let n = members.len();
        let cat: Vec<u8> = members
            .iter()
            .map(|m| {
                m.first()
                    .map_or(0, |&e| category(&self.endpoints[e as usize]))
            })
            .collect();
        // Columns: the edges by destination, by a counting sort.
        let mut count = vec![0usize; n + 1];
        for e in edges {
            count[e.1 as usize + 1] += 1;
        }
        for g in 0..n {
            count[g + 1] += count[g];
        }
        let mut inn: Vec<Vec<(u32, u32)>> = (0..n)
            .map(|g| Vec::with_capacity(count[g + 1] - count[g]))
            .collect();
        for e in edges {
            inn[e.1 as usize].push((e.0, e.2));
        }
        drop(count);
        let mut out = Vec::with_capacity(n);
        let mut start = 0;
        for g in 0..n {
            let end = start + edges[start..].partition_point(|e| e.0 as usize == g);
            out.push(&edges[start..end]);
            start = end;
        }
        let own: Vec<Option<u32>> = (0..n)
            .map(|g| {
                let g32 = g as u32;
                let fixed = members[g].len() > 1 || cat[g] == 1;
                fixed.then(|| {
                    out[g]
                        .binary_search_by_key(&g32, |e| e.1)
                        .map_or(NONE, |i| out[g][i].2)
                })
            })
            .collect();
        let view = View { out, inn, own };
        // Candidate keys: (category, own ports, row hash, column hash) with the own entry
        // completed; a lone pod tries each port set of its row and column, and none.
        let mut buckets: BTreeMap<(u8, u32, u64, u64), Vec<u32>> = BTreeMap::new();
        for (g, &category) in cat.iter().enumerate() {
            let g32 = g as u32;
            let row: u64 = (view.out[g].iter().filter(|e| e.1 != g32))
                .fold(0, |h, e| h.wrapping_add(term(e.1, e.2)));
            let col: u64 = (view.inn[g].iter().filter(|e| e.0 != g32))
                .fold(0, |h, e| h.wrapping_add(term(e.0, e.1)));
            let qs: Vec<u32> = match view.own[g] {
                Some(q) => vec![q],
                None => {
                    let mut qs: Vec<u32> = (view.out[g].iter().map(|e| e.2))
                        .chain(view.inn[g].iter().map(|e| e.1))
                        .chain([NONE])
                        .collect();
                    qs.sort_unstable();
                    qs.dedup();
                    qs
                }
            };
            for q in qs {
                let t = term(g32, q);
                buckets
                    .entry((category, q, row.wrapping_add(t), col.wrapping_add(t)))
                    .or_default()
                    .push(g32);
            }
        }
        let mut parent: Vec<u32> = (0..n as u32).collect();
        for ((_, q, _, _), gs) in &buckets {
            let Some((&first, rest)) = gs.split_first() else {
                continue;
            };
            for &g in rest {
                let (a, b) = (find(&mut parent, first), find(&mut parent, g));
                if a != b && view.same(first, g, *q) {
                    parent[b as usize] = a;
                }
            }
        }
        drop(buckets);
        // Classes: their members, names, then sorted by name.
        // Class ids in endpoint order, so that every class has a member.
        let mut root_class = vec![NONE; n];
        let mut class_members: Vec<Vec<EndpointId>> = Vec::new();
        for (e, &g) in of.iter().enumerate() {
            let r = find(&mut parent, g) as usize;
            if root_class[r] == NONE {
                root_class[r] = class_members.len() as u32;
                class_members.push(Vec::new());
            }
            class_members[root_class[r] as usize].push(EndpointId(e as u32));
        }
        let class_of: Vec<u32> = (0..n as u32)
            .map(|g| root_class[find(&mut parent, g) as usize])
            .collect();
        let mut classes: Vec<Class> = class_members
            .into_iter()
            .map(|m| self.describe(m))
            .collect();
        disambiguate(&mut classes, &self.endpoints);
        let mut order: Vec<u32> = (0..classes.len() as u32).collect();
        order.sort_by(|&a, &b| classes[a as usize].name.cmp(&classes[b as usize].name));
        let mut rank = vec![0u32; classes.len()];
        for (i, &c) in order.iter().enumerate() {
            rank[c as usize] = i as u32;
        }
        let mut sorted: Vec<Option<Class>> = classes.into_iter().map(Some).collect();
        let classes: Vec<Class> = order
            .iter()
            .filter_map(|&c| sorted[c as usize].take())
            .collect();
        // The groups of a class have the same row (their own entries completed), so one
        // group's row gives the class's edges: never a pass over every group edge.
        let mut rep = vec![NONE; rank.len()];
        for (g, &c) in class_of.iter().enumerate() {
            if c != NONE && rep[c as usize] == NONE {
                rep[c as usize] = g as u32;
            }
        }
        let mut class_edges: Vec<(u32, u32, u32)> = Vec::new();
        for (c, &g) in rep.iter().enumerate() {
            for &(_, h, p) in view.out[g as usize] {
                if class_of[h as usize] != NONE {
                    class_edges.push((rank[c], rank[class_of[h as usize] as usize], p));
                }
            }
        }
        class_edges.sort_unstable();
        class_edges.dedup_by_key(|e| (e.0, e.1));
        Classes {
            classes,
            edges: class_edges,
            ports,
        }
    }

    /// A class of these members, named before disambiguation.
    fn describe(&self, members: Vec<EndpointId>) -> Class {
        let infos: Vec<&EndpointInfo> = members
            .iter()
            .map(|id| &self.endpoints[id.index()])
            .collect();
        let first = infos[0];
        let kind = if infos.iter().all(|e| e.kind == first.kind) {
            first.kind.as_str()
        } else {
            "Workload"
        };
        if first.kind == EndpointType::External {
            let ranges: Vec<_> = infos.iter().filter_map(|e| e.range).collect();
            let cidrs = crate::ip::cidrs(&ranges);
            let mut name = cidrs
                .first()
                .map_or_else(|| first.id.clone(), |c| c.to_string());
            if cidrs.len() > 1 {
                name.push('+');
            }
            return Class {
                name,
                kind,
                members,
                workloads: Vec::new(),
                cidrs,
            };
        }
        let mut workloads: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &infos {
            *workloads
                .entry(e.owner.as_deref().unwrap_or(e.id.as_str()))
                .or_default() += 1;
        }
        let workloads: Vec<(String, usize)> = workloads
            .into_iter()
            .map(|(w, n)| (w.to_owned(), n))
            .collect();
        let mut name = workloads[0].0.clone();
        if workloads.len() > 1 {
            name.push('+');
        }
        Class {
            name,
            kind,
            members,
            workloads,
            cidrs: Vec::new(),
        }
    }
}

/// Names shared by several classes (a workload whose pods differ) get `@<first member>`.
fn disambiguate(classes: &mut [Class], endpoints: &[EndpointInfo]) {
    let mut by_name: FxHashMap<String, usize> = FxHashMap::default();
    for c in classes.iter() {
        *by_name.entry(c.name.clone()).or_default() += 1;
    }
    for c in classes.iter_mut() {
        if by_name[&c.name] > 1 {
            let first = &endpoints[c.members[0].index()].id;
            c.name = format!("{}@{first}", c.name);
        }
    }
}
