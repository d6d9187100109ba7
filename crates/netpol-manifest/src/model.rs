//! The validated model that the loader produces and the analysis crates consume.
//!
//! These types are netpol's own, not k8s-openapi's: defaults are applied (`policyTypes`,
//! protocols, the `default` namespace, `kubernetes.io/metadata.name`), CIDRs are parsed and
//! canonical, and selectors are lists of requirements. Every object and rule keeps the span
//! it came from, so that later findings can point at it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use netpol_diag::Span;

/// Labels of a pod or namespace, sorted by key.
pub type Labels = BTreeMap<String, String>;

/// The label every namespace carries, set by the API server.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The annotation that suppresses lint findings on an object (`code[,code]`).
pub const ALLOW_ANNOTATION: &str = "netpol.dev/allow";
/// Why the findings are suppressed (free text, optional).
pub const ALLOW_REASON_ANNOTATION: &str = "netpol.dev/allow-reason";

/// Everything loaded from the inputs. Each list is sorted by its natural key, so that
/// iterating it is deterministic.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Sorted by name. Includes namespaces that are only referenced (`span` is `None`).
    pub namespaces: Vec<Namespace>,
    /// Pods and workloads, sorted by [`Endpoint::id`].
    pub endpoints: Vec<Endpoint>,
    /// Sorted by (namespace, name).
    pub services: Vec<Service>,
    /// NetworkPolicies that passed validation, sorted by (namespace, name).
    pub policies: Vec<Policy>,
    /// Cluster-scoped and AWS policies, parsed for later use. Sorted by (kind, namespace, name).
    pub cluster_policies: Vec<ClusterPolicy>,
    /// The controller (kind, name) named by the `ownerReferences` of a bare Pod whose
    /// controller is not in the input (a `kubectl get pods` dump), by [`Endpoint::id`].
    pub owners: BTreeMap<String, (String, String)>,
    /// `netpol.dev/allow` annotations of every modelled object, in input order (file,
    /// offset).
    pub suppressions: Vec<Suppression>,
}

/// The annotation `netpol.dev/allow: code[,code]` on an object: findings of those codes
/// (or lint groups) inside the object are not reported by `netpol lint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// The whole object.
    pub object: Span,
    /// The annotation's value.
    pub span: Span,
    /// The entries as written, trimmed, empty ones left out.
    pub codes: Vec<String>,
    /// `netpol.dev/allow-reason`, when given.
    pub reason: Option<String>,
}

impl Model {
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces
            .binary_search_by(|ns| ns.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.namespaces[i])
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    /// Always contains `kubernetes.io/metadata.name: <name>`.
    pub labels: Labels,
    /// Where the Namespace object is; `None` when it was created implicitly.
    pub span: Option<Span>,
}

/// What created an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointKind {
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    ReplicationController,
    Job,
    CronJob,
}

impl EndpointKind {
    pub const ALL: &'static [EndpointKind] = &[
        EndpointKind::Pod,
        EndpointKind::Deployment,
        EndpointKind::StatefulSet,
        EndpointKind::DaemonSet,
        EndpointKind::ReplicaSet,
        EndpointKind::ReplicationController,
        EndpointKind::Job,
        EndpointKind::CronJob,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndpointKind::Pod => "Pod",
            EndpointKind::Deployment => "Deployment",
            EndpointKind::StatefulSet => "StatefulSet",
            EndpointKind::DaemonSet => "DaemonSet",
            EndpointKind::ReplicaSet => "ReplicaSet",
            EndpointKind::ReplicationController => "ReplicationController",
            EndpointKind::Job => "Job",
            EndpointKind::CronJob => "CronJob",
        }
    }

    pub fn from_kind(kind: &str) -> Option<EndpointKind> {
        EndpointKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == kind)
    }
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bare Pod, or a workload standing for all the pods its template creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub kind: EndpointKind,
    pub namespace: String,
    pub name: String,
    /// The pod's labels (for a workload, its pod template's).
    pub labels: Labels,
    /// Ports of `spec.containers` (not init containers), in declaration order.
    pub ports: Vec<ContainerPort>,
    pub host_network: bool,
    /// `status.podIP` of a bare Pod. Workload pods have no IP until they run.
    pub pod_ip: Option<IpAddr>,
    /// The `vpc.amazonaws.com/pod-ips` annotation of a bare Pod: the address VPC CNI's IPAM
    /// gave it, written before the kubelet reports `status.podIP` (V14 reads it).
    pub annotated_ip: Option<IpAddr>,
    /// `status.hostIP` of a bare Pod.
    pub host_ip: Option<IpAddr>,
    /// `spec.nodeName`, when set.
    pub node_name: Option<String>,
    /// An Indexed Job's `spec.completions`: its pods are named per index
    /// (`<job>-<index>-<random>`), which the VPC CNI agent's pod identifier reads (V9).
    pub indexed_completions: Option<u32>,
    /// The whole object.
    pub span: Span,
}

impl Endpoint {
    /// An endpoint that an analysis assumes and the manifests do not have (an EKS default
    /// CoreDNS, a pod created later): on the pod network, with no IP and no node yet, and
    /// `span` pointing at whatever the finding should point at.
    pub fn assumed(
        kind: EndpointKind,
        namespace: &str,
        name: &str,
        labels: Labels,
        ports: Vec<ContainerPort>,
        span: Span,
    ) -> Endpoint {
        Endpoint {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            labels,
            ports,
            host_network: false,
            pod_ip: None,
            annotated_ip: None,
            host_ip: None,
            node_name: None,
            indexed_completions: None,
            span,
        }
    }

    /// `ns/name` for a bare Pod, `ns/name[Kind]` for a workload.
    pub fn id(&self) -> String {
        match self.kind {
            EndpointKind::Pod => format!("{}/{}", self.namespace, self.name),
            kind => format!("{}/{}[{}]", self.namespace, self.name, kind),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    /// Parses the exact upper-case names the API server accepts.
    pub fn parse(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

/// A port given by number or by name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(s) => f.write_str(s),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    /// `spec.selector`; `None` for a selectorless Service (manual EndpointSlices).
    pub selector: Option<Labels>,
    pub ports: Vec<ServicePort>,
    /// `spec.clusterIP`; `None` when absent or `None` (headless).
    pub cluster_ip: Option<IpAddr>,
    /// `spec.clusterIP: None`.
    pub headless: bool,
    /// `spec.type`, `ClusterIP` by default.
    pub service_type: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    /// Defaults to `port`.
    pub target_port: PortRef,
    pub protocol: Protocol,
}

/// A traffic direction, as seen from the pod a policy selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::Ingress, Direction::Egress];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `networking.k8s.io/v1` NetworkPolicy after validation and defaulting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    /// The whole object.
    pub span: Span,
    /// `spec.podSelector`; empty selects every pod of the namespace.
    pub pod_selector: Selector,
    /// `policyTypes` as the API server stores it: when omitted or empty, Ingress, plus
    /// Egress if `egress` has at least one rule.
    pub policy_types: PolicyTypes,
    /// Whether `policyTypes` was written in the manifest (non-empty).
    pub policy_types_declared: bool,
    /// Where `policyTypes` is, when written.
    pub policy_types_span: Option<Span>,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PolicyTypes {
    pub ingress: bool,
    pub egress: bool,
}

impl PolicyTypes {
    pub fn contains(self, direction: Direction) -> bool {
        match direction {
            Direction::Ingress => self.ingress,
            Direction::Egress => self.egress,
        }
    }
}

impl Policy {
    pub fn rules(&self, direction: Direction) -> &[Rule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// One entry of `ingress` or `egress`. Its index in the policy's list is its rule number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub span: Span,
    /// `from` / `to`. Empty (omitted or `[]`) means every peer.
    pub peers: Vec<Peer>,
    /// `ports`. Empty (omitted or `[]`) means every protocol and port.
    pub ports: Vec<PolicyPort>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Pods chosen by selectors. `namespace_selector: None` means the policy's own
    /// namespace; `pod_selector: None` means every pod of the chosen namespaces.
    Pods {
        namespace_selector: Option<Selector>,
        pod_selector: Option<Selector>,
        span: Span,
    },
    IpBlock(IpBlock),
}

impl Peer {
    pub fn span(&self) -> Span {
        match self {
            Peer::Pods { span, .. } => *span,
            Peer::IpBlock(b) => b.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpBlock {
    /// Canonical (host bits cleared).
    pub cidr: IpNet,
    /// The address of `cidr` as written, when it has host bits set: VPC CNI agents up to
    /// v1.4.1 key and compare it as written (`rules::versions`).
    pub written: Option<IpAddr>,
    /// Canonical, each strictly inside `cidr`.
    pub except: Vec<IpNet>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyPort {
    /// Defaults to TCP.
    pub protocol: Protocol,
    /// `None` means every port of the protocol.
    pub port: Option<PortRef>,
    /// Only with a numeric `port`; `end_port >= port`.
    pub end_port: Option<u16>,
    pub span: Span,
}

/// A Kubernetes LabelSelector: the AND of its requirements. `matchLabels` entries become
/// `In` requirements with one value. An empty selector matches everything.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Selector {
    /// Sorted by (key, operator, values) and deduplicated.
    pub requirements: Vec<Requirement>,
    /// The selector in the manifest, when it came from one.
    pub span: Option<Span>,
}

impl Selector {
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether some label set that does not exist yet could match: no key is both required
    /// and forbidden, and every `In` leaves a value. `fixed` is a key that is always present,
    /// taking only the values `fixed_ok` accepts (a new namespace's
    /// `kubernetes.io/metadata.name`, which is no existing namespace's name).
    pub fn satisfiable(&self, fixed: Option<&str>, fixed_ok: &dyn Fn(&str) -> bool) -> bool {
        let mut keys: Vec<&str> = self.requirements.iter().map(|r| r.key.as_str()).collect();
        keys.dedup();
        keys.into_iter().all(|key| {
            let reqs = || self.requirements.iter().filter(move |r| r.key == key);
            let present = fixed == Some(key);
            let value_ok = |v: &str| !present || fixed_ok(v);
            let has = |op| reqs().any(|r| r.operator == op);
            let required = present || has(Operator::In) || has(Operator::Exists);
            if has(Operator::DoesNotExist) {
                return !required;
            }
            let forbidden = |v: &str| {
                reqs().any(|r| r.operator == Operator::NotIn && r.values.iter().any(|x| x == v))
            };
            let mut ins = reqs().filter(|r| r.operator == Operator::In);
            match ins.next() {
                // Exists or NotIn only: some fresh value fits (names are unbounded).
                None => true,
                Some(first) => first.values.iter().any(|v| {
                    ins.clone().all(|r| r.values.contains(v)) && !forbidden(v) && value_ok(v)
                }),
            }
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    /// Sorted and deduplicated; empty for Exists and DoesNotExist.
    pub values: Vec<String>,
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.binary_search(v).is_ok()),
            Operator::NotIn => value.is_none_or(|v| self.values.binary_search(v).is_err()),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "In",
            Operator::NotIn => "NotIn",
            Operator::Exists => "Exists",
            Operator::DoesNotExist => "DoesNotExist",
        }
    }
}

/// A cluster-scoped or AWS policy, kept for the tiers issue. Only its identity and raw
/// spec are modelled so far.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterPolicy {
    pub kind: ClusterPolicyKind,
    pub api_version: String,
    /// Set for the namespaced AWS ApplicationNetworkPolicy.
    pub namespace: Option<String>,
    pub name: String,
    pub spec: serde_json::Value,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClusterPolicyKind {
    /// `networking.k8s.aws/v1alpha1` ClusterNetworkPolicy.
    AwsClusterNetworkPolicy,
    /// `networking.k8s.aws/v1alpha1` ApplicationNetworkPolicy.
    AwsApplicationNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy.
    AdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` BaselineAdminNetworkPolicy.
    BaselineAdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy.
    ClusterNetworkPolicy,
}

impl ClusterPolicyKind {
    pub fn kind(self) -> &'static str {
        match self {
            ClusterPolicyKind::AwsClusterNetworkPolicy
            | ClusterPolicyKind::ClusterNetworkPolicy => "ClusterNetworkPolicy",
            ClusterPolicyKind::AwsApplicationNetworkPolicy => "ApplicationNetworkPolicy",
            ClusterPolicyKind::AdminNetworkPolicy => "AdminNetworkPolicy",
            ClusterPolicyKind::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            ClusterPolicyKind::AwsClusterNetworkPolicy
            | ClusterPolicyKind::AwsApplicationNetworkPolicy => "networking.k8s.aws/v1alpha1",
            ClusterPolicyKind::AdminNetworkPolicy
            | ClusterPolicyKind::BaselineAdminNetworkPolicy => "policy.networking.k8s.io/v1alpha1",
            ClusterPolicyKind::ClusterNetworkPolicy => "policy.networking.k8s.io/v1alpha2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Operator, Requirement, Selector};

    fn sel(reqs: &[(&str, Operator, &[&str])]) -> Selector {
        let mut requirements: Vec<Requirement> = reqs
            .iter()
            .map(|(k, op, vs)| Requirement {
                key: (*k).to_owned(),
                operator: *op,
                values: vs.iter().map(|v| (*v).to_owned()).collect(),
            })
            .collect();
        requirements.sort();
        Selector {
            requirements,
            span: None,
        }
    }

    #[test]
    fn satisfiable_selectors() {
        use Operator::{DoesNotExist, Exists, In, NotIn};
        let any = |_: &str| true;
        assert!(sel(&[]).satisfiable(None, &any));
        assert!(sel(&[("app", In, &["a", "b"]), ("app", NotIn, &["a"])]).satisfiable(None, &any));
        assert!(!sel(&[("app", In, &["a"]), ("app", NotIn, &["a"])]).satisfiable(None, &any));
        assert!(!sel(&[("app", In, &["a"]), ("app", In, &["b"])]).satisfiable(None, &any));
        assert!(!sel(&[("app", Exists, &[]), ("app", DoesNotExist, &[])]).satisfiable(None, &any));
        assert!(
            sel(&[("app", NotIn, &["a"]), ("tier", DoesNotExist, &[])]).satisfiable(None, &any)
        );
        // A new namespace always has its name label, and not an existing name.
        let name = "kubernetes.io/metadata.name";
        let new = |v: &str| v != "shop";
        assert!(!sel(&[(name, DoesNotExist, &[])]).satisfiable(Some(name), &new));
        assert!(!sel(&[(name, In, &["shop"])]).satisfiable(Some(name), &new));
        assert!(sel(&[(name, In, &["shop", "dev"])]).satisfiable(Some(name), &new));
        assert!(sel(&[(name, NotIn, &["dev"])]).satisfiable(Some(name), &new));
    }
}
