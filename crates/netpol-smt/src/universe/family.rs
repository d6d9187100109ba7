//! The cluster's IP family (V15): what of the input is of the family the cluster does not
//! use, which the encoding cannot place.

use std::collections::BTreeMap;
use std::net::IpAddr;

use netpol_graph::Profile;
use netpol_manifest::Model;
use netpol_manifest::config::IpFamily;

/// The family's name in reasons.
pub(crate) fn family_name(f: IpFamily) -> &'static str {
    match f {
        IpFamily::Ipv4 => "IPv4",
        IpFamily::Ipv6 => "IPv6",
    }
}

/// The first address or range of the family the cluster does not use among the endpoints
/// (by id), the configured nodes, the pod and Service ranges and the ClusterIPs, described
/// for a reason.
pub(super) fn first_other_family(
    model: &Model,
    profile: &Profile,
    infos: &BTreeMap<String, Option<IpAddr>>,
) -> Option<String> {
    let fam = profile.ip_family;
    let other = |ip: &IpAddr| !fam.holds(*ip);
    let endpoint = infos
        .iter()
        .find_map(|(id, ip)| ip.filter(other).map(|a| format!("{id} has address {a}")));
    let node = || {
        (profile.nodes.iter())
            .find(|n| other(&n.ip))
            .map(|n| format!("node {} has address {}", n.name, n.ip))
    };
    let range = || {
        (profile.pod_cidrs.iter().chain(&profile.service_cidr))
            .find(|n| other(&n.addr()))
            .map(|n| {
                let f = if n.addr().is_ipv6() { "IPv6" } else { "IPv4" };
                format!("the cluster range {n} is {f}")
            })
    };
    let service = || {
        (model.services.iter())
            .find_map(|s| s.cluster_ip.filter(other).map(|ip| (s, ip)))
            .map(|(s, ip)| format!("Service {}/{} has ClusterIP {ip}", s.namespace, s.name))
    };
    endpoint.or_else(node).or_else(range).or_else(service)
}
