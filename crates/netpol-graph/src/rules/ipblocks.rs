//! V12: ipBlocks at the node's address (NPA `pkg/fwruleprocessor/fw_rule_processor.go`
//! `ComputeMapEntriesFromEndpointRules`, `shouldSkipRule`; `pkg/utils/utils.go` `IsNodeIP`,
//! NPA c8619c05). On a node, the agent drops every ipBlock entry whose address is the
//! node's primary IP, and an `except` equal to the node's /32 becomes a deny-all key that
//! overwrites the node's exemption key in that direction. Both only remove allows.

use std::net::IpAddr;

use ipnet::IpNet;
use netpol_manifest::model::Direction;

use crate::ir::{LoweredPolicy, PeerMatch};
use crate::profile::Profile;
use crate::world::ep::Ep;

use super::switches;

/// How sure a node must be: the matrix counts a replica elsewhere (`Every` node the pod may
/// run on must be affected), an `allow` proof may not (`Some` node suffices).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnNodes {
    Every,
    Some,
}

/// The primary IPs of the nodes `at` may run on, if the rule applies (empty otherwise).
fn node_ips<'p>(profile: &'p Profile, at: &'p Ep) -> impl Iterator<Item = IpAddr> + 'p {
    let on = switches::node_ip_blocks(profile);
    at.runs_on
        .iter()
        .filter(move |_| on)
        .map(|&n| profile.nodes[n].ip)
}

fn holds(on: OnNodes, mut ips: impl Iterator<Item = IpAddr>, f: impl Fn(IpAddr) -> bool) -> bool {
    match on {
        OnNodes::Every => {
            let mut any = false;
            let all = ips.all(|ip| {
                any = true;
                f(ip)
            });
            any && all
        }
        OnNodes::Some => ips.any(f),
    }
}

/// V12: whether the agent drops the ipBlock with address `addr` (its network address, as
/// netpol stores it) at pod `at`: `at` runs on a node whose primary IP it is.
pub(crate) fn block_dropped(profile: &Profile, at: &Ep, addr: IpAddr, on: OnNodes) -> bool {
    holds(on, node_ips(profile, at), |ip| ip == addr)
}

/// V12: the nodes (indices into `profile.nodes`) among those `at` may run on whose /32 is
/// an `except` of an ipBlock in a `dir` rule of `policies` (those counted at `at`): there
/// the node's key denies everything in that direction, exemption included.
pub(crate) fn node_key_denied<'a>(
    profile: &Profile,
    at: &Ep,
    policies: impl IntoIterator<Item = &'a LoweredPolicy>,
    dir: Direction,
) -> Vec<usize> {
    if !switches::node_ip_blocks(profile) || at.runs_on.is_empty() {
        return Vec::new();
    }
    let mut excepts: Vec<IpNet> = Vec::new();
    for p in policies {
        for r in p.rules(dir) {
            for peer in r.peers.iter().flatten() {
                if let PeerMatch::IpBlock { except, .. } = peer {
                    excepts.extend(except.iter().filter(|x| x.prefix_len() == x.max_prefix_len()));
                }
            }
        }
    }
    at.runs_on
        .iter()
        .copied()
        .filter(|&n| excepts.iter().any(|x| x.addr() == profile.nodes[n].ip))
        .collect()
}

/// V12 for the matrix: the node whose key denies everything at `at` in `dir` when `at`
/// certainly runs there (a replica elsewhere keeps the exemption).
pub(crate) fn denied_node<'a>(
    profile: &'a Profile,
    at: &Ep,
    policies: impl IntoIterator<Item = &'a LoweredPolicy>,
    dir: Direction,
) -> Option<&'a str> {
    match (node_key_denied(profile, at, policies, dir).as_slice(), &at.runs_on[..]) {
        ([n], [m]) if n == m => Some(profile.nodes[*n].name.as_str()),
        _ => None,
    }
}
