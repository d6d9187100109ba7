//! The schema of `netpol.yaml`: what serde reads and schemars describes.

use std::collections::BTreeMap;

use netpol_manifest::config::ClusterSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Kind;

/// The only `apiVersion` accepted.
pub const API_VERSION: &str = "netpol.dev/v1alpha1";
/// The only `kind` accepted.
pub const KIND: &str = "Verification";

/// A parsed `netpol.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "netpol Verification (netpol.yaml)")]
pub struct Verification {
    /// Must be `netpol.dev/v1alpha1`.
    #[schemars(extend("const" = "netpol.dev/v1alpha1"))]
    pub api_version: String,
    /// Must be `Verification`.
    #[schemars(extend("const" = "Verification"))]
    pub kind: String,
    /// Files or folders with the manifests, relative to this file. Paths given on the
    /// command line replace this list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<String>,
    /// A connectivity snapshot file, relative to this file and inside its folder (as
    /// `manifests` entries are), that the current matrix is compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// Facts about the cluster that the manifests do not carry.
    #[serde(default)]
    pub cluster: ClusterSettings,
    /// Severities and excludes of `netpol lint` (docs/lint.md); command-line flags
    /// are laid over them.
    #[serde(default, skip_serializing_if = "Lints::is_empty")]
    pub lints: Lints,
    /// The intents to prove, each decided by one solver query.
    #[serde(default)]
    pub assertions: Vec<Assertion>,
}

/// The `lints:` section. Each list names diagnostic codes, lint groups (`selectors`, `dns`,
/// `coverage`, `named-ports`, `dead`, `vpc-cni`) or `warnings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lints {
    /// Report these as errors (exit code 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// Report these as warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warn: Vec<String>,
    /// Do not report these. Error codes stay errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Globs of files whose findings are not reported (their objects are still read);
    /// `*` stays within a folder, `**` crosses folders, and a pattern matches the path as
    /// netpol prints it or any trailing part of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl Lints {
    pub fn is_empty(&self) -> bool {
        self.deny.is_empty()
            && self.warn.is_empty()
            && self.allow.is_empty()
            && self.exclude.is_empty()
    }
}

/// One intent. Exactly one of `deny`, `allow`, `only` and `isolated` is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Assertion {
    /// A unique name, shown in every output.
    pub name: String,
    /// What the assertion quantifies over.
    #[serde(default)]
    pub scope: Scope,
    /// Holds when no source in `from` can open a connection to any destination in `to` on
    /// any of `ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Pair>,
    /// Holds when every source in `from` can open a connection to every destination in `to`
    /// on every one of `ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Pair>,
    /// Holds when no source outside the listed `from` peers can open a connection to a
    /// destination in `to` on any of `ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Only>,
    /// Holds when every pod in `pods` is isolated in each of `directions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolated: Option<Isolated>,
}

/// What an assertion quantifies over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every pod that could be created (any labels, any namespace, any IP in `podCIDRs`,
    /// any named ports), plus the existing endpoints (the default).
    #[default]
    Any,
    /// Only the endpoints in the manifests.
    Existing,
}

/// Sources, destinations and ports of `deny` and `allow`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pair {
    pub from: PeerSpec,
    pub to: PeerSpec,
    /// `TCP/5432`, `UDP/53`, `TCP/8000-8080`, or `TCP` for every port of a protocol.
    /// Omitted: every protocol and port (ICMP included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
}

/// The body of `only`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Only {
    pub to: PeerSpec,
    /// The only sources allowed to connect.
    pub from: Vec<PeerSpec>,
    /// As in `deny`; omitted means every protocol and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
}

/// The body of `isolated`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Isolated {
    pub pods: PeerSpec,
    /// `Ingress`, `Egress` or both. Omitted: both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<DirectionName>>")]
    pub directions: Option<Vec<String>>,
}

/// A direction name, for the schema.
#[derive(JsonSchema)]
#[allow(dead_code)]
enum DirectionName {
    Ingress,
    Egress,
}

/// A set of endpoints. Fields are ANDed; `{}` is every pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerSpec {
    /// A namespace name (the namespace need not exist yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Matched against namespace labels (which include `kubernetes.io/metadata.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Matched against pod labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// `ns/name[Kind]` (or `ns/name` when only one workload has that name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// A bare Pod, `ns/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// External addresses in the block, and pods whose IP is (or could be) in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlockSpec>,
}

/// A Kubernetes LabelSelector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorRequirement>,
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectorRequirement {
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[schemars(with = "OperatorName")]
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A selector operator, for the schema.
#[derive(JsonSchema)]
#[allow(dead_code)]
enum OperatorName {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// An ipBlock: `cidr` minus every `except`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpBlockSpec {
    pub cidr: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
}

/// The JSON Schema of `netpol.yaml`, as committed in `docs/netpol.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Verification);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

impl Assertion {
    /// Which body is set, when exactly one is.
    pub fn kind(&self) -> Option<Kind> {
        match (&self.deny, &self.allow, &self.only, &self.isolated) {
            (Some(_), None, None, None) => Some(Kind::Deny),
            (None, Some(_), None, None) => Some(Kind::Allow),
            (None, None, Some(_), None) => Some(Kind::Only),
            (None, None, None, Some(_)) => Some(Kind::Isolated),
            _ => None,
        }
    }
}
