//! Connectivity snapshots: the matrix as sorted, one-fact-per-line text meant to be
//! committed and reviewed, and the semantic diff between two of them (docs/snapshots.md).
//!
//! A snapshot names endpoints by their matrix ids and groups them into the matrix's named
//! classes (`Matrix::classes`), whose names survive unrelated changes, so that a one-policy
//! change touches a handful of lines. No IO here: the CLI reads and writes the files.

use std::collections::BTreeMap;
use std::fmt;

use netpol_graph::{Matrix, Profile};

mod diff;
mod exposure;
mod ports;
mod text;

pub use diff::{Change, Diff, FlowGroup, diff};
pub use exposure::new_pod;
pub use ports::parse_ports;

/// The snapshot format version, the first line of every snapshot.
pub const FORMAT_VERSION: u32 = 1;

/// Which part of the connectivity an edge belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// Pod (or workload) to pod, directly.
    Pod,
    /// To a Service's ClusterIP (VPC CNI checks egress before DNAT).
    Service,
    /// To or from addresses outside the cluster (ipBlock ranges).
    External,
    /// To or from node IPs.
    Node,
    /// To or from a pod that does not exist yet (`new-pod@NS`), by endpoint.
    Exposure,
}

impl Section {
    pub const ALL: [Section; 5] = [
        Section::Pod,
        Section::Service,
        Section::External,
        Section::Node,
        Section::Exposure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Section::Pod => "pod",
            Section::Service => "service",
            Section::External => "external",
            Section::Node => "node",
            Section::Exposure => "exposure",
        }
    }

    fn parse(s: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn of(from_kind: &str, to_kind: &str) -> Section {
        match (from_kind, to_kind) {
            (_, "Service") => Section::Service,
            ("External", _) | (_, "External") => Section::External,
            ("Node", _) | (_, "Node") => Section::Node,
            _ => Section::Pod,
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One named class: its kind and member endpoint ids (sorted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassEntry {
    pub kind: String,
    pub members: Vec<String>,
}

/// A connectivity snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The semantics the answers depend on (`cni`, `enforcingMode`, `podCIDRs`, ...).
    pub semantics: BTreeMap<String, String>,
    /// By class name.
    pub classes: BTreeMap<String, ClassEntry>,
    /// (section, from class, to class) to the allowed ports, as `PortSet::to_strings`
    /// joined by `,`.
    pub edges: BTreeMap<(Section, String, String), String>,
    /// (from, to) to ports, between a new pod (`new-pod@NS`) and an endpoint id: what a
    /// pod created later with labels no policy names could reach and be reached by.
    pub exposure: BTreeMap<(String, String), String>,
    /// Assertion name to verdict (`proved`, `refuted`, `unknown`), when a config was given.
    pub verdicts: BTreeMap<String, String>,
}

impl Snapshot {
    /// The snapshot of a matrix under `profile`, with the assertion verdicts (name,
    /// verdict) the CLI hands in.
    pub fn new(matrix: &Matrix, profile: &Profile, verdicts: &[(String, String)]) -> Snapshot {
        let mut semantics = BTreeMap::new();
        semantics.insert("cni".to_owned(), matrix.semantics.cni.as_str().to_owned());
        semantics.insert(
            "enforcingMode".to_owned(),
            matrix.semantics.enforcing_mode.as_str().to_owned(),
        );
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "-".to_owned()
            } else {
                v.join(",")
            }
        };
        semantics.insert(
            "podCIDRs".to_owned(),
            list(profile.pod_cidrs.iter().map(ToString::to_string).collect()),
        );
        semantics.insert(
            "serviceCIDR".to_owned(),
            list(
                profile
                    .service_cidr
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            ),
        );
        semantics.insert(
            "nodes".to_owned(),
            list(
                profile
                    .nodes
                    .iter()
                    .map(|n| format!("{}={}", n.name, n.ip))
                    .collect(),
            ),
        );
        let classes = matrix.classes();
        let mut out = BTreeMap::new();
        for c in &classes.classes {
            out.insert(
                c.name.clone(),
                ClassEntry {
                    kind: c.kind.to_owned(),
                    members: c
                        .members
                        .iter()
                        .map(|m| matrix.endpoints[m.index()].id.clone())
                        .collect(),
                },
            );
        }
        let edges = classes
            .edges()
            .map(|e| {
                (
                    (
                        Section::of(e.from.kind, e.to.kind),
                        e.from.name.clone(),
                        e.to.name.clone(),
                    ),
                    e.ports.to_strings().join(","),
                )
            })
            .collect();
        Snapshot {
            semantics,
            classes: out,
            edges,
            exposure: BTreeMap::new(),
            verdicts: verdicts.iter().cloned().collect(),
        }
    }

    /// Adds the exposure of pods that do not exist yet (see `exposure.rs`): usually one
    /// more analysis, of a copy of the model with one new pod per namespace. `analysis`
    /// is that of `model`.
    pub fn add_exposure(
        &mut self,
        model: &netpol_manifest::Model,
        analysis: &netpol_graph::Analysis<'_>,
    ) {
        self.exposure = exposure::exposure(model, analysis);
    }
}

pub use text::ParseError;
