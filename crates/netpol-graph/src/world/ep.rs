//! The endpoints as both engines see them (S8): what the matrix shows of one, and what the
//! engines know about it. A leaf of `world`, so that `rules::switches` can read an endpoint
//! without importing the world that calls it.

use std::net::IpAddr;
use std::sync::Arc;

use netpol_manifest::model::{EndpointKind, Labels};

use crate::ip::Interval;

/// What an endpoint of the matrix is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointType {
    /// A bare Pod or a workload.
    Workload(EndpointKind),
    /// A range of addresses outside the cluster's pods (S8).
    External,
    /// A node of `cluster.nodes`.
    Node,
    /// A Service ClusterIP (vpc-cni only, V5), destination only.
    Service,
}

impl EndpointType {
    /// `Pod`, `Deployment`, ..., `External`, `Node`, `Service`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointType::Workload(k) => k.as_str(),
            EndpointType::External => "External",
            EndpointType::Node => "Node",
            EndpointType::Service => "Service",
        }
    }
}

/// An endpoint as the matrix shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointInfo {
    /// `ns/name`, `ns/name[Kind]`, `first-last`, `node/<name>` or `ns/name[Service]`.
    pub id: String,
    pub kind: EndpointType,
    pub namespace: Option<String>,
    pub name: String,
    pub labels: Labels,
    /// The pod IP, node IP or ClusterIP when known.
    pub ip: Option<IpAddr>,
    /// A bare Pod's controller when the input lacks it (`ns/web[Deployment]` for a pod of
    /// ReplicaSet `web-<pod-template-hash>`): the workload the matrix groups it under.
    pub owner: Option<String>,
    /// An external endpoint's addresses, first and last.
    pub range: Option<(IpAddr, IpAddr)>,
}

impl EndpointInfo {
    /// Whether the endpoint stands for pods that may be several (a workload's replicas):
    /// traffic between two of them is real traffic, shown as an edge to itself.
    pub fn has_replicas(&self) -> bool {
        matches!(self.kind, EndpointType::Workload(k) if k != EndpointKind::Pod)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EpKind {
    /// Index into `model.endpoints`.
    Workload(usize),
    External(Interval),
    /// Index into `profile.nodes`.
    Node(usize),
    /// Index into `model.services`.
    Service(usize),
}

/// Everything the engines know about one endpoint.
#[derive(Clone, Debug)]
pub(crate) struct Ep {
    pub(crate) info: EndpointInfo,
    pub(crate) kind: EpKind,
    pub(crate) host_network: bool,
    /// The nodes whose primary IP this endpoint's traffic may carry, by name, sorted: a node
    /// itself, or the nodes a hostNetwork endpoint's pods run on (S10/V4 exempt them, and a
    /// selector peer that matches the endpoint allows them, V6).
    pub(crate) carries: Vec<String>,
    /// S10/V4: indices into `profile.nodes` of the nodes an enforced pod may run on, sorted.
    /// Shared: most pods (every workload's) may run on every node.
    pub(crate) runs_on: Arc<[usize]>,
}

impl Ep {
    pub(crate) fn is_pod(&self) -> bool {
        matches!(self.kind, EpKind::Workload(_))
    }
}

/// V9: the agent pod identifier an endpoint shares with other endpoints, and the range its
/// effective selecting-policy set lies in: `lower ⊆ S ⊆ upper` (policy indices, sorted).
/// Present only where sharing changes something (`lower` or `upper` differs from the
/// policies that select the endpoint itself, `own`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifierRange {
    /// `prefix@namespace`, as the agent writes it.
    pub identifier: String,
    /// The policies that select the endpoint itself.
    pub own: Vec<usize>,
    /// `own` and the policies of the siblings known to run on the endpoint's node.
    pub lower: Vec<usize>,
    /// The policies that select any endpoint of the identifier.
    pub upper: Vec<usize>,
    /// The other endpoints of the identifier that a policy not in `own` selects (ids,
    /// sorted), with the policies selecting each.
    pub siblings: Vec<(String, Vec<usize>)>,
}
