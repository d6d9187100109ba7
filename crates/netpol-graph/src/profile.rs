//! Semantics profiles: which enforcement rules the analysis follows.
//!
//! A [`Profile`] is the cluster settings plus one flag per VPC CNI deviation (V1-V8 of
//! `docs/semantics.md`). `vpc-cni` turns every flag on, `upstream` turns them all off; the
//! engines only ever read the flags, so each deviation can be tested on its own.

use ipnet::IpNet;
use netpol_manifest::config::{ClusterSettings, Cni, EnforcingMode, IpFamily, Node, Release};

/// The semantics in force, derived from the cluster settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub cni: Cni,
    pub enforcing_mode: EnforcingMode,
    /// The family of every pod, node and Service address (V15).
    pub ip_family: IpFamily,
    /// VPC subnets workload pods take their IPs from (V3).
    pub pod_cidrs: Vec<IpNet>,
    /// The ClusterIP range, used for Services without a `clusterIP` (V3, V5).
    pub service_cidr: Option<IpNet>,
    /// Node names and primary IPs; node endpoints exist only when this is non-empty.
    pub nodes: Vec<Node>,
    pub flags: Flags,
    /// Under `vpc-cni`: the agent and controller releases (`cluster.vpcCni`, else the
    /// newest netpol models), read by `rules::versions`.
    pub releases: Option<(Release, Release)>,
}

/// One switch per VPC CNI deviation; all off is the upstream specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flags {
    /// V1: a pod that no policy selects denies everything (strict mode).
    pub strict_default_deny: bool,
    /// V2: rules of a direction missing from `policyTypes` are enforced when they resolve
    /// to at least one entry.
    pub rules_outside_policy_types: bool,
    /// V3: ipBlocks match workloads through `podCIDRs`, and Service ClusterIPs on egress.
    pub ipblock_matches_workloads: bool,
    /// V4: the own-node exemption (S10: an ingress-isolated pod accepts its node's
    /// traffic) holds for egress too.
    pub node_exemption_egress: bool,
    /// V5: egress to Service ClusterIPs; Services are endpoints.
    pub cluster_ip_egress: bool,
    /// V6: a selector peer matching a hostNetwork pod allows its node's IP.
    pub host_network_peers: bool,
    /// V7: ingress named ports resolve over all the policy's targets (rule dropped when
    /// nothing resolves); egress named ports are dropped for ipBlock peers and omitted `to`.
    pub named_ports_vpc: bool,
    /// V12: an ipBlock whose address is the node's IP is dropped on that node, and an
    /// `except` equal to the node's /32 denies the node in that direction.
    pub node_ip_blocks: bool,
    /// V9: pods that share an agent pod identifier (name minus its last `-segment`, per
    /// namespace) share the union of the policies that select any of them.
    pub identifier_sharing: bool,
    /// V14: a pod without `status.podIP` has the address of its
    /// `vpc.amazonaws.com/pod-ips` annotation.
    pub pod_ip_annotation: bool,
    /// S6, one reading `verify --robust` checks under `upstream`: ipBlocks match no pod
    /// address (the specification leaves it to the CNI; some identify pods otherwise).
    pub ipblocks_skip_pods: bool,
}

impl Flags {
    /// The flags of a CNI and enforcing mode. Strict mode exists only for `vpc-cni`.
    pub fn for_cni(cni: Cni, mode: EnforcingMode) -> Flags {
        match cni {
            Cni::Upstream => Flags::default(),
            Cni::VpcCni => Flags {
                strict_default_deny: mode == EnforcingMode::Strict,
                rules_outside_policy_types: true,
                ipblock_matches_workloads: true,
                node_exemption_egress: true,
                cluster_ip_egress: true,
                host_network_peers: true,
                named_ports_vpc: true,
                node_ip_blocks: true,
                identifier_sharing: true,
                pod_ip_annotation: true,
                ipblocks_skip_pods: false,
            },
        }
    }
}

/// The releases netpol models (every rule of docs/semantics.md holds there): NPA v1.4.1
/// (c8619c05) and NPC v1.1.7 (ecc7e6a): the defaults of `cluster.vpcCni`; the rules that
/// depend on the release are in `rules/versions.rs`.
pub(crate) const NEWEST_AGENT: Release = Release::new(1, 4, 1);
pub(crate) const NEWEST_CONTROLLER: Release = Release::new(1, 1, 7);

impl Profile {
    pub fn new(settings: &ClusterSettings) -> Profile {
        Profile {
            cni: settings.cni,
            enforcing_mode: settings.enforcing_mode,
            ip_family: settings.ip_family,
            pod_cidrs: settings.pod_cidrs.clone(),
            service_cidr: settings.service_cidr,
            nodes: settings.nodes.clone(),
            flags: Flags::for_cni(settings.cni, settings.enforcing_mode),
            releases: (settings.cni == Cni::VpcCni).then(|| {
                let v = &settings.vpc_cni;
                (
                    (v.agent_version.clone()).unwrap_or(NEWEST_AGENT),
                    (v.controller_version.clone()).unwrap_or(NEWEST_CONTROLLER),
                )
            }),
        }
    }

    /// V3: the ranges pod IPs come from: `pod_cidrs`, or every address of the cluster's
    /// family when none is configured (a VPC may use any range, so nothing narrower would
    /// be sound).
    pub fn pod_ranges(&self) -> &[IpNet] {
        const ANY_V4: [IpNet; 1] = [IpNet::V4(ipnet::Ipv4Net::new_assert(
            std::net::Ipv4Addr::UNSPECIFIED,
            0,
        ))];
        const ANY_V6: [IpNet; 1] = [IpNet::V6(ipnet::Ipv6Net::new_assert(
            std::net::Ipv6Addr::UNSPECIFIED,
            0,
        ))];
        match (self.pod_cidrs.is_empty(), self.ip_family) {
            (false, _) => &self.pod_cidrs,
            (true, IpFamily::Ipv4) => &ANY_V4,
            (true, IpFamily::Ipv6) => &ANY_V6,
        }
    }

    /// V3/V5: the ranges a ClusterIP that the manifests do not give comes from:
    /// `service_cidr`, or else the ranges EKS takes the Service CIDR from: the private IPv4
    /// ranges, or on IPv6 the unique local range fc00::/7.
    pub fn service_ranges(&self) -> &[IpNet] {
        const EKS_SERVICE_RANGES: [IpNet; 3] = [
            IpNet::V4(ipnet::Ipv4Net::new_assert(
                std::net::Ipv4Addr::new(10, 0, 0, 0),
                8,
            )),
            IpNet::V4(ipnet::Ipv4Net::new_assert(
                std::net::Ipv4Addr::new(172, 16, 0, 0),
                12,
            )),
            IpNet::V4(ipnet::Ipv4Net::new_assert(
                std::net::Ipv4Addr::new(192, 168, 0, 0),
                16,
            )),
        ];
        const EKS_SERVICE_RANGES_V6: [IpNet; 1] = [IpNet::V6(ipnet::Ipv6Net::new_assert(
            std::net::Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
            7,
        ))];
        match (&self.service_cidr, self.ip_family) {
            (Some(net), _) => std::slice::from_ref(net),
            (None, IpFamily::Ipv4) => &EKS_SERVICE_RANGES,
            (None, IpFamily::Ipv6) => &EKS_SERVICE_RANGES_V6,
        }
    }

    pub fn is_vpc_cni(&self) -> bool {
        self.cni == Cni::VpcCni
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_has_no_deviation_and_no_strict_mode() {
        let settings = ClusterSettings {
            cni: Cni::Upstream,
            enforcing_mode: EnforcingMode::Strict,
            ..ClusterSettings::default()
        };
        let p = Profile::new(&settings);
        assert_eq!(p.flags, Flags::default());
        assert_eq!(
            crate::rules::switches::effective_mode(&p),
            EnforcingMode::Standard
        );
    }

    #[test]
    fn vpc_cni_strict_sets_every_flag() {
        let f = Flags::for_cni(Cni::VpcCni, EnforcingMode::Strict);
        assert!(f.strict_default_deny && f.rules_outside_policy_types && f.named_ports_vpc);
        assert!(!Flags::for_cni(Cni::VpcCni, EnforcingMode::Standard).strict_default_deny);
    }
}
