//! The profile's switches, read here and nowhere else, and the rules that need no more than
//! the profile and one endpoint. A leaf: it imports no engine and not the world, so the
//! world may call it (see [`super`] for the index). The switches other crates need (the SMT
//! encoding) are public as `netpol_graph::switches`.

use std::net::IpAddr;

use netpol_manifest::config::{EnforcingMode, Release};
use netpol_manifest::model::{Direction, Endpoint, Service};

use crate::ip::{Block, Cover};
use crate::profile::Profile;
use crate::world::ep::Ep;

/// V1: whether a pod that no policy selects denies everything.
pub fn strict_default_deny(profile: &Profile) -> bool {
    profile.flags.strict_default_deny
}

/// V2: whether rules of a direction missing from `policyTypes` are enforced (when they
/// resolve, [`super::vpc::rule_resolves`]).
pub fn unlisted_rules_enforced(profile: &Profile) -> bool {
    profile.flags.rules_outside_policy_types
}

/// V12: whether the agent drops ipBlocks at the node's address and lets an `except` at the
/// node's /32 deny the node ([`super::ipblocks`]).
pub fn node_ip_blocks(profile: &Profile) -> bool {
    profile.flags.node_ip_blocks
}

/// V15: whether the agent runs in the cluster's IP family only ([`super::family`]). The
/// same VPC CNI agent as V12.
pub(crate) fn one_family(profile: &Profile) -> bool {
    profile.flags.node_ip_blocks
}

/// V15: whether ICMPv6 passes at every pod regardless of policy: on an IPv6 cluster the
/// agent's programs pass it before any lookup (NPA `pkg/ebpf/c/tc.v6ingress.bpf.c`,
/// `tc.v6egress.bpf.c`: `nexthdr == 58`, c8619c05).
pub fn icmpv6_passes(profile: &Profile) -> bool {
    one_family(profile) && profile.ip_family == netpol_manifest::config::IpFamily::Ipv6
}

/// V13: whether the agent keeps at most 24 port slots per address key
/// ([`super::slots`]). The same VPC CNI agent as V12.
pub(crate) fn port_slots_limited(profile: &Profile) -> bool {
    profile.flags.node_ip_blocks
}

/// V14: a pod's address: `status.podIP`, else (VPC CNI) its `vpc.amazonaws.com/pod-ips`
/// annotation, which the controller reads when the status has none (NPC `GetPodIP`).
pub fn pod_ip(profile: &Profile, e: &Endpoint) -> Option<IpAddr> {
    e.pod_ip
        .or(e.annotated_ip.filter(|_| profile.flags.pod_ip_annotation))
}

/// S6: whether an ipBlock can match a pod's own address (hostNetwork pods have their
/// node's, which always can).
pub fn ipblocks_match_pods(profile: &Profile) -> bool {
    !profile.flags.ipblocks_skip_pods
}

/// The other readings under which `verify --robust` proves an assertion only if it holds
/// too, each with a name for the reason: what an open upstream change or the freedom the
/// specification leaves could make of the same policies (docs/semantics.md, "Readings").
pub fn robust_readings(profile: &Profile) -> Vec<(&'static str, Profile)> {
    let with = |change: fn(&mut crate::profile::Flags)| {
        let mut p = profile.clone();
        change(&mut p.flags);
        p
    };
    if profile.flags.rules_outside_policy_types {
        // V2 is what NPC v1.1.7 does; its open PR #229 would drop the rules of a direction
        // missing from `policyTypes`.
        vec![(
            "the VPC CNI controller once it respects policyTypes (open PR #229)",
            with(|f| f.rules_outside_policy_types = false),
        )]
    } else if profile.flags.ipblock_matches_workloads {
        Vec::new()
    } else {
        vec![
            (
                "a CNI that matches ipBlocks to every pod address, known or not",
                with(|f| f.ipblock_matches_workloads = true),
            ),
            (
                "a CNI that matches ipBlocks to no pod address",
                with(|f| f.ipblocks_skip_pods = true),
            ),
        ]
    }
}

/// The VPC CNI agent and controller releases in force (`None` outside `vpc-cni`), for
/// [`super::versions`].
pub(crate) fn vpc_cni_releases(profile: &Profile) -> Option<(&Release, &Release)> {
    profile.releases.as_ref().map(|(a, c)| (a, c))
}

/// V11: whether a direction's ipBlocks form one longest-prefix table with deny-all keys
/// for excepts ([`super::cidr_keys`]). The same VPC CNI agent as V12.
pub(crate) fn except_bleed(profile: &Profile) -> bool {
    profile.flags.node_ip_blocks
}

/// V11 for the lints: the configured VPC CNI agent release when it predates the
/// longest-prefix table (NPA v1.2.4, f74d533), which wrote excepts without it; `None` when
/// the table is what the agent does (or outside `vpc-cni`). `version-not-modelled` warns.
pub fn agent_before_except_table(profile: &Profile) -> Option<&Release> {
    vpc_cni_releases(profile)
        .map(|(agent, _)| agent)
        .filter(|a| **a < Release::new(1, 2, 4))
}

/// V3: whether ipBlocks are held against workloads' pod ranges (and warned about when they
/// cover part of them).
pub fn ipblocks_match_workloads(profile: &Profile) -> bool {
    profile.flags.ipblock_matches_workloads
}

/// V3: an ipBlock matches a pod or workload without a known IP iff the block, after its
/// excepts, covers every pod range (all of IPv4 when no pod CIDR is configured). Partial
/// cover is warned about and does not match.
pub(crate) fn ipblock_matches_workload(profile: &Profile, block: &Block, e: &Ep) -> bool {
    profile.flags.ipblock_matches_workloads
        && e.is_pod()
        && !e.host_network
        && block.cover_all(profile.pod_ranges()) == Cover::Full
}

/// V3: how an ipBlock (or an omitted `to`, `block: None`) covers a Service's ClusterIP: the
/// ClusterIP itself when known, else the range it is taken from
/// ([`Profile::service_ranges`]). On a partial cover the matrix does not admit the Service
/// and warns; `deny` proofs count it ([`Addresses`]).
pub(crate) fn cluster_ip_cover(profile: &Profile, block: Option<&Block>, svc: &Service) -> Cover {
    let Some(block) = block else {
        return Cover::Full;
    };
    match svc.cluster_ip {
        Some(ip) if block.contains_ip(ip) => Cover::Full,
        Some(_) => Cover::None,
        None => block.cover_all(profile.service_ranges()),
    }
}

/// S10/V4: whether an isolated pod always allows its own node in direction `dir`.
pub fn exempts_node(profile: &Profile, dir: Direction) -> bool {
    dir == Direction::Ingress || profile.flags.node_exemption_egress
}

/// V4: whether the node exemption holds for egress too (explain says which rule applied).
pub(crate) fn node_exemption_egress(profile: &Profile) -> bool {
    profile.flags.node_exemption_egress
}

/// The enforcing mode that actually applies: always `standard` under `upstream`.
pub fn effective_mode(p: &Profile) -> EnforcingMode {
    if strict_default_deny(p) {
        EnforcingMode::Strict
    } else {
        EnforcingMode::Standard
    }
}

/// V5: whether egress reaches Service ClusterIPs, so Services are endpoints.
pub fn cluster_ip_egress(profile: &Profile) -> bool {
    profile.flags.cluster_ip_egress
}

/// V5: Services that have a ClusterIP (non-headless, not ExternalName).
pub(crate) fn is_cluster_ip_service(s: &Service) -> bool {
    !s.headless && s.service_type != "ExternalName"
}

/// V6 (S9 when off): whether selector peers match hostNetwork pods.
pub fn host_network_peers(profile: &Profile) -> bool {
    profile.flags.host_network_peers
}

/// V6: whether `q` is a hostNetwork endpoint with pods on the node `key`.
pub(crate) fn runs_on(q: &Ep, key: &str) -> bool {
    q.host_network && q.carries.iter().any(|n| n == key)
}

/// V7: whether named ports resolve as the agent does (ingress over every target, egress
/// dropped toward ipBlocks and an omitted `to`) rather than on each destination (S7).
pub fn named_ports_vpc(profile: &Profile) -> bool {
    profile.flags.named_ports_vpc
}

/// V9: whether pods that share an agent pod identifier share their policies.
pub fn shares_identifiers(profile: &Profile) -> bool {
    profile.flags.identifier_sharing
}
