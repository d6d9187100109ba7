//! The warnings the endpoints and addresses call for: ipBlocks that cover part of the pod or
//! ClusterIP ranges (V3), and policies of the tiers netpol does not model yet.

use ipnet::IpNet;
use netpol_diag::{Code, Diagnostic, Span};
use netpol_manifest::Model;
use netpol_manifest::model::Service;

use super::World;
use crate::ip::{Block, Cover};
use crate::ir::{LoweredRule, PeerMatch};
use crate::rules::{family, switches};

impl World<'_> {
    /// The V3 warnings: ipBlocks that cover part of the pod ranges, then those that cover
    /// part of the ClusterIP range.
    pub(super) fn partial_cover_warnings(&self) -> Vec<Diagnostic> {
        let mut res = self.partial_pod_cover_warnings();
        res.extend(self.partial_service_cover_warnings());
        res
    }

    /// ipBlocks that cover part of the pod ranges. Without configured pod CIDRs every block
    /// short of all IPv4 does; only those reaching into private address space (where VPCs
    /// almost always are) count then, and they get one warning between them.
    fn partial_pod_cover_warnings(&self) -> Vec<Diagnostic> {
        if !switches::ipblocks_match_workloads(&self.profile) {
            return Vec::new();
        }
        let configured = !self.profile.pod_cidrs.is_empty();
        let private: Vec<IpNet> = PRIVATE_RANGES
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        let ranges = join(&self.profile.pod_cidrs);
        let mut res = Vec::new();
        for (cidr, except, span) in self.ip_blocks(false) {
            if Block::new(cidr, except).cover_all(self.profile.pod_ranges()) != Cover::Partial {
                continue;
            }
            let note = "the matrix treats this ipBlock as not matching workloads; verify reasons about their IPs";
            if configured {
                res.push(
                    Diagnostic::new(
                        Code::IpBlockPartialPodCidr,
                        format!(
                            "ipBlock {cidr} covers only part of the pod CIDRs, so whether it matches a workload's pods depends on their IPs"
                        ),
                    )
                    .with_primary(span, "covers part of the pod CIDRs")
                    .with_note(format!("pod CIDRs: {ranges}"))
                    .with_note(note)
                    .with_help("cover every pod CIDR, or select the pods with a podSelector"),
                );
                continue;
            }
            // Pods never have an address of the serviceCIDR.
            let outside: Vec<IpNet> = except
                .iter()
                .copied()
                .chain(self.profile.service_cidr)
                .collect();
            if Block::new(cidr, &outside).cover_all(&private) != Cover::None {
                res.push(
                    Diagnostic::new(
                        Code::IpBlockPartialPodCidr,
                        format!(
                            "ipBlock {cidr} may match some workload pods: the pod CIDRs are not configured, so a pod may have any address"
                        ),
                    )
                    .with_primary(span, "may cover pod IPs")
                    .with_note(note)
                    .with_help("set cluster.podCIDRs in netpol.yaml (or --pod-cidr) to the VPC subnets pods take their IPs from"),
                );
            }
        }
        if configured { res } else { once(res) }
    }

    /// Egress ipBlocks that cover part of the range the ClusterIPs missing from the
    /// manifests come from; one warning between them when serviceCIDR is not configured.
    fn partial_service_cover_warnings(&self) -> Vec<Diagnostic> {
        let unknown: Vec<&Service> = self
            .model
            .services
            .iter()
            .filter(|s| switches::is_cluster_ip_service(s) && s.cluster_ip.is_none())
            .collect();
        let Some(first) = unknown.first() else {
            return Vec::new();
        };
        if !switches::cluster_ip_egress(&self.profile) {
            return Vec::new();
        }
        let ranges = join(self.profile.service_ranges());
        let configured = self.profile.service_cidr.is_some();
        let (range, help) = if configured {
            (
                format!("the serviceCIDR {ranges}"),
                "admit the whole serviceCIDR or none of it, or select the backends with a podSelector",
            )
        } else {
            (
                format!(
                    "the private ranges EKS takes Service CIDRs from ({ranges}), as serviceCIDR is not configured"
                ),
                "set cluster.serviceCIDR in netpol.yaml (or --service-cidr)",
            )
        };
        let services = match unknown.len() {
            1 => "a Service missing from the manifests, so whether it admits the Service depends on its address".to_owned(),
            n => format!("{n} Services missing from the manifests, so whether it admits them depends on their addresses"),
        };
        let mut res = Vec::new();
        for (cidr, except, span) in self.ip_blocks(true) {
            let block = Block::new(cidr, except);
            if switches::cluster_ip_cover(&self.profile, Some(&block), first) != Cover::Partial {
                continue;
            }
            res.push(
                Diagnostic::new(
                    Code::IpBlockPartialServiceCidr,
                    format!("ipBlock {cidr} covers part of {range}, the ClusterIP range of {services}"),
                )
                .with_primary(span, "covers part of the ClusterIP range")
                .with_note(format!(
                    "for example {}/{}; the matrix does not count these ClusterIPs as admitted, and verify counts them for deny and only, never for allow",
                    first.namespace, first.name
                ))
                .with_help(help),
            );
        }
        if configured { res } else { once(res) }
    }

    /// Every ipBlock peer (of egress rules only, or of both directions), with its span.
    fn ip_blocks(&self, egress_only: bool) -> impl Iterator<Item = (IpNet, &[IpNet], Span)> {
        self.policies
            .iter()
            .flat_map(move |p| {
                let ingress: &[LoweredRule] = if egress_only { &[] } else { &p.ingress };
                ingress.iter().chain(&p.egress)
            })
            .flat_map(|r| r.peers.iter().flatten())
            .filter_map(|peer| match peer {
                PeerMatch::IpBlock { cidr, except, span } => {
                    Some((*cidr, except.as_slice(), *span))
                }
                PeerMatch::Pods { .. } => None,
            })
    }
}

/// `policy-not-modelled`: the tiers above and beside NetworkPolicy are loaded but not yet
/// part of the semantics, and an Admin Accept or Deny can change any answer, so say so.
pub(super) fn unmodelled_policy_warnings(model: &Model) -> Vec<Diagnostic> {
    model
        .cluster_policies
        .iter()
        .map(|c| {
            let kind = c.kind.kind();
            let id = match &c.namespace {
                Some(ns) => format!("{ns}/{}", c.name),
                None => c.name.clone(),
            };
            Diagnostic::new(
                Code::PolicyNotModelled,
                format!("{kind} {id} is not modelled yet: the matrix and the proofs ignore it"),
            )
            .with_primary(c.span, format!("{kind} ignored"))
            .with_note("results describe what the NetworkPolicies alone allow")
            .with_help(
                "check this policy's effect by hand; its tiers, priorities and Accept/Deny/Pass actions are on netpol's roadmap",
            )
        })
        .collect()
}

/// `other-ip-family`: what `verify` cannot place, so it answers `unknown`: addresses of the
/// family the cluster does not use (pods, Services), and under VPC CNI an `except` of the
/// other family whose key the kernel refuses. `except-other-family`: under VPC CNI an
/// `except` of the other family, with the key of the cluster's family the agent writes.
pub(super) fn family_warnings(w: &World<'_>) -> Vec<Diagnostic> {
    let p = &w.profile;
    let fam = p.ip_family.as_str();
    let mut out = Vec::new();
    let help = "EKS clusters are single-stack: set cluster.ipFamily to the cluster's family, or fix the address";
    for e in &w.model.endpoints {
        if let Some(ip) = switches::pod_ip(p, e).filter(|ip| !p.ip_family.holds(*ip)) {
            out.push(
                Diagnostic::new(
                    Code::OtherIpFamily,
                    format!(
                        "{} has address {ip}, not of the cluster's IP family ({fam})",
                        e.id()
                    ),
                )
                .with_primary(e.span, "address of the other family")
                .with_note("verify answers unknown while the cluster has such an address")
                .with_help(help),
            );
        }
    }
    for s in &w.model.services {
        if let Some(ip) = s.cluster_ip.filter(|ip| !p.ip_family.holds(*ip)) {
            out.push(
                Diagnostic::new(
                    Code::OtherIpFamily,
                    format!(
                        "Service {}/{} has ClusterIP {ip}, not of the cluster's IP family ({fam})",
                        s.namespace, s.name
                    ),
                )
                .with_primary(s.span, "address of the other family")
                .with_note("verify answers unknown while the cluster has such an address")
                .with_help(help),
            );
        }
    }
    if !switches::one_family(p) {
        return out;
    }
    let rules = (w.policies.iter()).flat_map(|q| q.ingress.iter().chain(&q.egress));
    for peer in rules.flat_map(|r| r.peers.iter().flatten()) {
        let PeerMatch::IpBlock { cidr, except, span } = peer else {
            continue;
        };
        for x in except.iter().filter(|x| !p.ip_family.holds(x.addr())) {
            let d = match family::except_key(p, *x) {
                Ok(key) => Diagnostic::new(
                    Code::ExceptOtherFamily,
                    format!(
                        "the VPC CNI agent skips ipBlock {cidr} on this {fam} cluster but writes its except {x} as the deny-all key {key}"
                    ),
                )
                .with_note("the key denies its addresses to every rule of the pods the policy selects, in this direction (V11, V15)"),
                Err(len) => Diagnostic::new(
                    Code::OtherIpFamily,
                    format!(
                        "the VPC CNI agent skips ipBlock {cidr} on this {fam} cluster but writes its except {x} as a /{len} key, which the kernel refuses"
                    ),
                )
                .with_note("the agent stops its map update at the refused key, leaving an order-dependent mix of new and old entries (NPA BulkRefresh): verify answers unknown while it exists"),
            };
            out.push(
                d.with_primary(*span, "except of the other IP family")
                    .with_help(
                        "remove the except, or the ipBlock, of the family the cluster does not use",
                    ),
            );
        }
    }
    out
}

/// Private IPv4 address space, where VPC CIDRs almost always are.
const PRIVATE_RANGES: [&str; 4] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];

fn join(nets: &[IpNet]) -> String {
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first of several warnings that a missing setting causes, standing for all of them.
fn once(mut found: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let more = found.len().saturating_sub(1);
    found.truncate(1);
    if let Some(d) = found.pop() {
        let d = if more > 0 {
            d.with_note(match more {
                1 => "1 more ipBlock is in the same case; this warning is given once until the setting is configured".to_owned(),
                n => format!("{n} more ipBlocks are in the same case; this warning is given once until the setting is configured"),
            })
        } else {
            d
        };
        found.push(d);
    }
    found
}
