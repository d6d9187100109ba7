//! Cluster settings: the `cluster:` section of `netpol.yaml`, which flags can override.

use std::net::IpAddr;

use ipnet::IpNet;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which enforcement semantics the analysis follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Cni {
    /// AWS VPC CNI's network policy agent and controller (the default).
    #[default]
    VpcCni,
    /// The Kubernetes NetworkPolicy specification.
    Upstream,
}

impl Cni {
    pub fn as_str(self) -> &'static str {
        match self {
            Cni::VpcCni => "vpc-cni",
            Cni::Upstream => "upstream",
        }
    }
}

/// VPC CNI's `NETWORK_POLICY_ENFORCING_MODE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EnforcingMode {
    /// Pods that no policy selects allow all traffic (the default).
    #[default]
    Standard,
    /// Pods that no policy selects deny all traffic, in both directions.
    Strict,
}

impl EnforcingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EnforcingMode::Standard => "standard",
            EnforcingMode::Strict => "strict",
        }
    }
}

/// The managed platform that runs the cluster, for what it provides outside the manifests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// EKS with the CoreDNS add-on: when the manifests have no DNS Service, the lints assume
    /// `kube-system/kube-dns` in front of CoreDNS pods (the default).
    #[default]
    Eks,
    /// EKS Auto Mode: DNS is served on each node, without CoreDNS pods, so the DNS lint
    /// assumes nothing and is off.
    EksAutoMode,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Eks => "eks",
            Platform::EksAutoMode => "eks-auto-mode",
        }
    }

    fn is_default(&self) -> bool {
        *self == Platform::default()
    }
}

/// The cluster's IP family (`cluster.ipFamily`). EKS clusters are single-stack: pods,
/// nodes and Services have addresses of this family only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IpFamily {
    /// The default.
    #[default]
    Ipv4,
    /// Under `vpc-cni` the agent drops IPv4 ipBlocks and lets ICMPv6 through (V15).
    Ipv6,
}

impl IpFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
        }
    }

    /// Whether `ip` is of this family.
    pub fn holds(self, ip: IpAddr) -> bool {
        ip.is_ipv6() == (self == IpFamily::Ipv6)
    }

    fn is_default(&self) -> bool {
        *self == IpFamily::default()
    }
}

/// Facts about the cluster that the manifests do not carry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSettings {
    /// `vpc-cni` (default) or `upstream`.
    #[serde(default)]
    pub cni: Cni,
    /// `standard` (default) or `strict`. Only meaningful for `vpc-cni`.
    #[serde(default)]
    pub enforcing_mode: EnforcingMode,
    /// `ipv4` (default) or `ipv6`: the family of every pod, node and Service address.
    #[serde(default, skip_serializing_if = "IpFamily::is_default")]
    pub ip_family: IpFamily,
    /// The VPC subnets pods take IPs from, including subnets that Enhanced Subnet Discovery
    /// adds. Workload pods get their IP from these.
    #[serde(default, rename = "podCIDRs")]
    #[schemars(with = "Vec<String>")]
    pub pod_cidrs: Vec<IpNet>,
    /// The Service ClusterIP range.
    #[serde(default, rename = "serviceCIDR")]
    #[schemars(with = "Option<String>")]
    pub service_cidr: Option<IpNet>,
    /// The cluster's nodes and their primary IPs.
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// `eks` (default) or `eks-auto-mode`: what the platform runs that the manifests do not
    /// show (the DNS lint's assumed CoreDNS).
    #[serde(default, skip_serializing_if = "Platform::is_default")]
    pub platform: Platform,
    /// The VPC CNI network policy agent and controller releases (default: the newest netpol
    /// has read; docs/semantics.md, "Versions").
    #[serde(default, skip_serializing_if = "VpcCniVersions::is_default")]
    pub vpc_cni: VpcCniVersions,
}

/// `cluster.vpcCni`: which releases enforce the policies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VpcCniVersions {
    /// The node agent (aws-network-policy-agent), such as `v1.4.1` (VPC CNI v1.23.0 ships it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub agent_version: Option<Release>,
    /// The controller (amazon-network-policy-controller-k8s), such as `v1.1.7`. It runs in the
    /// EKS control plane, so users cannot pin it; see `verify --robust`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub controller_version: Option<Release>,
}

impl VpcCniVersions {
    fn is_default(&self) -> bool {
        *self == VpcCniVersions::default()
    }
}

/// A release `vMAJOR.MINOR.PATCH` (the `v` is optional; a pre-release such as `-rc1` sorts
/// before its release).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Release(semver::Version);

impl Release {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Release {
        Release(semver::Version::new(major, minor, patch))
    }
}

impl TryFrom<String> for Release {
    type Error = String;

    fn try_from(s: String) -> Result<Release, String> {
        s.parse()
    }
}

impl std::str::FromStr for Release {
    type Err = String;

    fn from_str(s: &str) -> Result<Release, String> {
        semver::Version::parse(s.strip_prefix('v').unwrap_or(s))
            .map(Release)
            .map_err(|e| format!("`{s}` is not a release such as v1.4.1: {e}"))
    }
}

impl From<Release> for String {
    fn from(r: Release) -> String {
        r.to_string()
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A node of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    /// The node name, as pods' `spec.nodeName` gives it.
    pub name: String,
    /// The node's primary IP (the one VPC CNI exempts).
    pub ip: IpAddr,
}

impl ClusterSettings {
    /// The addresses of the settings that are not of `ipFamily`, each with its JSON pointer
    /// under `cluster` (such as `/podCIDRs/0`).
    pub fn off_family(&self) -> Vec<(String, IpAddr)> {
        let fam = self.ip_family;
        let cidrs = self
            .pod_cidrs
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("/podCIDRs/{i}"), c.addr()));
        let service = self
            .service_cidr
            .iter()
            .map(|c| ("/serviceCIDR".to_owned(), c.addr()));
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("/nodes/{i}/ip"), n.ip));
        cidrs
            .chain(service)
            .chain(nodes)
            .filter(|(_, ip)| !fam.holds(*ip))
            .collect()
    }
}
