//! Counterexamples: the concrete endpoints, per-direction traces and connection that
//! break an assertion, and [`Counterexample::materialize`], which adds the pods it invents
//! to a model.

use std::net::IpAddr;

use netpol_diag::Span;
use netpol_graph::ir::Provenance;
use netpol_manifest::Model;
use netpol_manifest::model::{ContainerPort, Direction, EndpointKind, Labels, Namespace, Protocol};

/// What a side of a counterexample is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointRef {
    /// An endpoint of the manifests, by id.
    Existing(String),
    /// A pod that does not exist yet.
    Future,
    /// An address outside the cluster's pods.
    External,
}

/// A concrete endpoint of a counterexample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcreteEndpoint {
    pub endpoint: EndpointRef,
    /// `None` for an external address.
    pub namespace: Option<String>,
    /// The namespace does not exist yet.
    pub new_namespace: bool,
    pub namespace_labels: Labels,
    pub labels: Labels,
    pub ip: Option<IpAddr>,
    pub ports: Vec<ContainerPort>,
    /// S10/V4: the configured node the pod runs on (`spec.nodeName`), when it matters: a
    /// future pod, or a replica of a workload.
    pub node: Option<String>,
}

impl ConcreteEndpoint {
    /// A one-line description.
    pub fn describe(&self) -> String {
        let fmt_labels = |l: &Labels| {
            let v: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{{{}}}", v.join(", "))
        };
        let ip = self.ip.map(|ip| format!(" ip {ip}")).unwrap_or_default();
        let on_node = self
            .node
            .as_ref()
            .map(|n| format!(" on node {n}"))
            .unwrap_or_default();
        match &self.endpoint {
            EndpointRef::External => format!("external address{ip}"),
            EndpointRef::Existing(id) => format!("{id}{ip}{on_node}"),
            EndpointRef::Future => {
                let ns = self.namespace.as_deref().unwrap_or("?");
                let ns = if self.new_namespace {
                    let shown: Labels = self
                        .namespace_labels
                        .iter()
                        .filter(|(k, _)| k.as_str() != netpol_manifest::model::NAMESPACE_NAME_LABEL)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    format!("new namespace {ns} {}", fmt_labels(&shown))
                } else {
                    format!("namespace {ns}")
                };
                let ports: Vec<String> = self
                    .ports
                    .iter()
                    .map(|p| {
                        format!(
                            "{}={}/{}",
                            p.name.as_deref().unwrap_or(""),
                            p.protocol,
                            p.port
                        )
                    })
                    .collect();
                let ports = if ports.is_empty() {
                    String::new()
                } else {
                    format!(" ports [{}]", ports.join(", "))
                };
                format!(
                    "future pod {} in {ns}{ip}{ports}{on_node}",
                    fmt_labels(&self.labels)
                )
            }
        }
    }
}

/// One direction of a counterexample, at one end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectionTrace {
    pub direction: Direction,
    /// `true` when evaluated at the destination.
    pub at_destination: bool,
    pub allowed: bool,
    /// Policies are enforced at this end (a pod that is not hostNetwork).
    pub enforced: bool,
    pub isolated: bool,
    /// Policies that select the pod (indices into `Model::policies`) with their spans.
    pub selecting: Vec<(String, Span)>,
    /// Rules that allow the connection.
    pub rules: Vec<Provenance>,
    /// V4: allowed because the other end carries the IP of this pod's own node.
    pub node_exempt: bool,
    /// V11: decided by the VPC CNI agent's longest-prefix key, which an `except` in this
    /// direction makes differ from the rules' union.
    pub longest_prefix: bool,
    /// V2 under `scope: any`: selecting policies whose rules of this direction resolve only
    /// because a pod created later matches one of their peers, which isolates the direction.
    pub isolated_by_new_pod: Vec<String>,
    /// V9: (policy, sibling, pod identifier) for each selecting policy that applies at this
    /// end only because it selects a sibling of the same pod identifier.
    pub shared_identifier: Vec<(String, String, String)>,
}

/// A concrete connection (or, for `isolated`, a pod) that breaks an assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// `None` for `isolated`.
    pub source: Option<ConcreteEndpoint>,
    /// The destination (for `isolated`, the pod that is not isolated).
    pub destination: ConcreteEndpoint,
    /// `None`: ICMP or another port-less protocol (or `isolated`).
    pub protocol: Option<Protocol>,
    /// The port-less protocol is ICMPv6, which passes at every pod of an IPv6 cluster under
    /// VPC CNI whatever the policies say (V15).
    pub icmpv6: bool,
    pub port: Option<u16>,
    /// For `isolated`: the directions that are not isolated.
    pub open_directions: Vec<Direction>,
    pub directions: Vec<DirectionTrace>,
    /// V5: the source connects to this Service (`ns/name[Service]`) on this Service port,
    /// and the ClusterIP is translated to the destination.
    pub via: Option<(String, u16)>,
}

impl Counterexample {
    /// `TCP/5432`, `ICMPv6`, `ICMP/other protocol` or empty.
    pub fn port_string(&self) -> String {
        match (self.protocol, self.port) {
            (Some(p), Some(n)) => format!("{p}/{n}"),
            (None, _) if self.icmpv6 => "ICMPv6".to_owned(),
            (None, _) if self.source.is_some() => "ICMP/other protocol".to_owned(),
            _ => String::new(),
        }
    }

    /// The counterexample as a cluster: `model` plus the future pods (and new namespaces)
    /// it invents, as bare Pods named `netpol-cx-src`/`netpol-cx-dst`. Returns the model and
    /// the endpoint ids of source and destination (`None` for an external address).
    pub fn materialize(&self, model: &Model) -> (Model, Option<String>, Option<String>) {
        let mut m = model.clone();
        let mut add = |e: &ConcreteEndpoint, name: &str| -> Option<String> {
            match &e.endpoint {
                EndpointRef::Existing(id) => Some(id.clone()),
                EndpointRef::External => None,
                EndpointRef::Future => {
                    let ns = e.namespace.clone()?;
                    if m.namespace(&ns).is_none() {
                        m.namespaces.push(Namespace {
                            name: ns.clone(),
                            labels: e.namespace_labels.clone(),
                            span: None,
                        });
                        m.namespaces.sort_by(|a, b| a.name.cmp(&b.name));
                    }
                    let span = m
                        .endpoints
                        .first()
                        .map(|x| x.span)
                        .or(m.policies.first().map(|p| p.span))
                        .unwrap_or(Span::new(netpol_diag::SourceMap::new().add("x", ""), 0, 0));
                    let ep = netpol_manifest::model::Endpoint {
                        kind: EndpointKind::Pod,
                        namespace: ns,
                        name: name.to_owned(),
                        labels: e.labels.clone(),
                        ports: e.ports.clone(),
                        host_network: false,
                        pod_ip: e.ip,
                        annotated_ip: None,
                        host_ip: None,
                        node_name: e.node.clone(),
                        indexed_completions: None,
                        span,
                    };
                    let id = ep.id();
                    m.endpoints.push(ep);
                    m.endpoints.sort_by_key(|a| a.id());
                    Some(id)
                }
            }
        };
        let src = self.source.as_ref().and_then(|s| add(s, "netpol-cx-src"));
        let dst = add(&self.destination, "netpol-cx-dst");
        (m, src, dst)
    }
}
