//! The reachability matrix: endpoints and the allowed ports of every ordered pair, held as a
//! petgraph graph whose node `i` is endpoint `i` and whose edges carry [`PortSet`]s, plus
//! the `--from`/`--to`/`--port` [`Filter`].

use netpol_manifest::config::{Cni, EnforcingMode};
use netpol_manifest::model::Protocol;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::ports::PortSet;
use crate::world::EndpointInfo;

/// Index of an endpoint in [`Matrix::endpoints`] (and of its node in [`Matrix::graph`]).
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
    /// Node `i` is endpoint `i`; edges are inserted sorted by (from, to), so
    /// `graph.raw_edges()` is in output order. No edge has an empty port set.
    pub graph: DiGraph<EndpointId, PortSet>,
}

/// One edge of the matrix.
#[derive(Clone, Copy, Debug)]
pub struct Connection<'a> {
    pub from: &'a EndpointInfo,
    pub to: &'a EndpointInfo,
    pub ports: &'a PortSet,
}

impl Matrix {
    /// Builds a matrix from connections sorted by (from, to), without duplicates.
    pub(crate) fn from_sorted(
        semantics: Semantics,
        endpoints: Vec<EndpointInfo>,
        edges: Vec<(u32, u32, PortSet)>,
    ) -> Matrix {
        let mut graph = DiGraph::with_capacity(endpoints.len(), edges.len());
        for i in 0..endpoints.len() {
            graph.add_node(EndpointId(u32::try_from(i).unwrap_or(u32::MAX)));
        }
        for (a, b, ports) in edges {
            graph.add_edge(
                NodeIndex::new(a as usize),
                NodeIndex::new(b as usize),
                ports,
            );
        }
        Matrix {
            semantics,
            endpoints,
            graph,
        }
    }

    /// The connections in output order: sorted by (from, to).
    pub fn connections(&self) -> impl Iterator<Item = Connection<'_>> {
        self.graph.raw_edges().iter().map(|e| Connection {
            from: &self.endpoints[e.source().index()],
            to: &self.endpoints[e.target().index()],
            ports: &e.weight,
        })
    }

    pub fn connection_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// The allowed ports between two endpoint ids (empty when there is no edge).
    pub fn ports(&self, from: &str, to: &str) -> PortSet {
        let find = |id: &str| {
            self.endpoints
                .binary_search_by(|e| e.id.as_str().cmp(id))
                .ok()
        };
        match (find(from), find(to)) {
            (Some(a), Some(b)) => self
                .graph
                .find_edge(NodeIndex::new(a), NodeIndex::new(b))
                .map(|e| self.graph[e].clone())
                .unwrap_or_default(),
            _ => PortSet::empty(),
        }
    }

    /// The connections the filter keeps, and the endpoints they touch plus those the
    /// filter names.
    pub fn filter(&self, filter: &Filter) -> Matrix {
        let keep_from: Vec<bool> = self
            .endpoints
            .iter()
            .map(|e| filter.from.as_deref().is_none_or(|p| id_matches(p, &e.id)))
            .collect();
        let keep_to: Vec<bool> = self
            .endpoints
            .iter()
            .map(|e| filter.to.as_deref().is_none_or(|p| id_matches(p, &e.id)))
            .collect();
        let mut edges = Vec::new();
        let mut used = vec![false; self.endpoints.len()];
        for e in self.graph.raw_edges() {
            let (a, b) = (e.source().index(), e.target().index());
            if !keep_from[a] || !keep_to[b] {
                continue;
            }
            if let Some((proto, port)) = filter.port
                && !e.weight.contains(proto, port)
            {
                continue;
            }
            used[a] = true;
            used[b] = true;
            edges.push((a, b, e.weight.clone()));
        }
        for (i, u) in used.iter_mut().enumerate() {
            *u |= (filter.from.is_some() && keep_from[i]) || (filter.to.is_some() && keep_to[i]);
        }
        if filter.from.is_none() && filter.to.is_none() && filter.port.is_none() {
            used.iter_mut().for_each(|u| *u = true);
        }
        let mut new_index = vec![u32::MAX; self.endpoints.len()];
        let mut endpoints = Vec::new();
        for (i, e) in self.endpoints.iter().enumerate() {
            if used[i] {
                new_index[i] = u32::try_from(endpoints.len()).unwrap_or(u32::MAX);
                endpoints.push(e.clone());
            }
        }
        let edges = edges
            .into_iter()
            .map(|(a, b, p)| (new_index[a], new_index[b], p))
            .collect();
        Matrix::from_sorted(self.semantics, endpoints, edges)
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
        }
    }

    #[test]
    fn filter_keeps_matching_connections_and_their_endpoints() {
        let tcp = Protocol::Tcp;
        let m = Matrix::from_sorted(
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
