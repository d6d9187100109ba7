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

use super::{family, switches};

/// The agent's `shouldSkipRule` at pod `at` (unknown: any pod) for an ipBlock whose
/// network address is `addr`: V15 (the other IP family) or V12 (the node's address).
pub(crate) fn agent_skips(profile: &Profile, at: Option<&Ep>, addr: IpAddr) -> bool {
    family::block_skipped(profile, addr) || at.is_some_and(|at| block_dropped(profile, at, addr))
}

/// V12 for the matrix: whether the agent drops the ipBlock with address `addr` (its
/// network address, as netpol stores it) at pod `at`: every node `at` may run on has that
/// primary IP (a replica elsewhere keeps it; `verify` decides per node).
pub(crate) fn block_dropped(profile: &Profile, at: &Ep, addr: IpAddr) -> bool {
    switches::node_ip_blocks(profile)
        && !at.runs_on.is_empty()
        && at.runs_on.iter().all(|&n| profile.nodes[n].ip == addr)
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
                    excepts.extend(
                        except
                            .iter()
                            .filter(|x| x.prefix_len() == x.max_prefix_len()),
                    );
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
    match (
        node_key_denied(profile, at, policies, dir).as_slice(),
        &at.runs_on[..],
    ) {
        ([n], [m]) if n == m => Some(profile.nodes[*n].name.as_str()),
        _ => None,
    }
}
