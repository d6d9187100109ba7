//! V12: ipBlocks at the node's address (graph `rules/ipblocks.rs`): the agent drops an
//! ipBlock whose address is the primary IP of the node the enforced pod runs on, and an
//! `except` equal to that node's /32 denies the node's address in that direction.

use ipnet::IpNet;
use netpol_graph::ir::PeerMatch;
use netpol_manifest::model::Direction;
use z3::ast::{Bool, Int};

use super::{Encoder, Side};

impl Encoder<'_> {
    /// The node keys whose primary IP is `ip` (V12 applies only under VPC CNI).
    fn nodes_at(&self, ip: std::net::IpAddr) -> Vec<usize> {
        if !netpol_graph::switches::node_ip_blocks(&self.u.profile) {
            return Vec::new();
        }
        (0..self.u.node_keys.len())
            .filter(|&k| self.u.node_keys[k].1.is_some_and(|a| a == ip))
            .collect()
    }

    /// V12: the ipBlock `cidr` is kept at `x`: `x` does not run on a node whose IP is the
    /// block's address.
    pub(super) fn block_kept(&self, x: &Side, cidr: &IpNet) -> Bool {
        let on: Vec<Bool> = (self.nodes_at(cidr.network()).into_iter())
            .map(|k| x.node.eq(Int::from_i64(k as i64)))
            .collect();
        Bool::or(&on).not()
    }

    /// V12: at `x` in `d`, the key of `x`'s node denies `y`: a policy selecting `x` has a
    /// `d` rule with an ipBlock `except` equal to that node's /32, and `y` carries its IP.
    pub(crate) fn node_key_denied(&self, x: &Side, y: &Side, d: Direction) -> Bool {
        let u = self.u;
        let mut v = Vec::new();
        for &n in &x.candidate_ns {
            for &pi in &u.policies_in[n] {
                let excepts = u.policies[pi].rules(d).iter().flat_map(|r| {
                    r.peers.iter().flatten().flat_map(|p| match p {
                        PeerMatch::IpBlock { except, .. } => except.as_slice(),
                        PeerMatch::Pods { .. } => &[],
                    })
                });
                let mut keys: Vec<usize> = excepts
                    .filter(|x| x.prefix_len() == x.max_prefix_len())
                    .flat_map(|x| self.nodes_at(x.addr()))
                    .collect();
                keys.sort_unstable();
                keys.dedup();
                for k in keys {
                    v.push(Bool::and(&[
                        self.selected_by(x, n, pi),
                        x.node.eq(Int::from_i64(k as i64)),
                        self.carries_node(y, k),
                    ]));
                }
            }
        }
        Bool::or(&v)
    }
}
