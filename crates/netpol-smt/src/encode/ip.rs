//! Addresses: an IPv4 address in a network, constants, and ipBlocks (S6/V3).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use z3::ast::{BV, Bool, Int};

use super::{Encoder, Side};
use crate::config::Block;

pub(super) fn in_net(ip: &BV, net: &Ipv4Net) -> Bool {
    let len = u32::from(net.prefix_len());
    if len == 0 {
        return Bool::from_bool(true);
    }
    let bits = u64::from(u32::from(net.network())) >> (32 - len);
    ip.extract(31, 32 - len).eq(BV::from_u64(bits, len))
}

pub(super) fn ip_const(a: Ipv4Addr) -> BV {
    BV::from_u64(u64::from(u32::from(a)), 32)
}

fn ip_block(y: &Side, cidr: &Ipv4Net, except: &[Ipv4Net]) -> Bool {
    let mut parts = vec![y.has_ip.clone(), in_net(&y.ip, cidr)];
    for e in except {
        parts.push(in_net(&y.ip, e).not());
    }
    Bool::and(&parts)
}

impl Encoder<'_> {
    /// S6/V3: `y`'s address is in the block; a hostNetwork workload without one address (a
    /// DaemonSet) is when the IP of a configured node it runs on is.
    pub(super) fn in_block(&self, y: &Side, cidr: &Ipv4Net, except: &[Ipv4Net]) -> Bool {
        let u = self.u;
        let inside = |ip: Ipv4Addr| cidr.contains(&ip) && !except.iter().any(|e| e.contains(&ip));
        let mut v = vec![ip_block(y, cidr, except)];
        // The carriers are few; a side's options are many (and sorted).
        v.extend(
            u.node_carriers
                .iter()
                .filter(|&&j| {
                    let e = &u.eps[j];
                    e.ip.is_none()
                        && y.options.binary_search(&j).is_ok()
                        && e.carries
                            .iter()
                            .any(|&k| u.node_keys[k].1.is_some_and(inside))
                })
                .map(|&j| y.kind.eq(Int::from_i64(j as i64))),
        );
        Bool::or(&v)
    }

    /// An assertion's ipBlock, as [`Self::in_block`].
    pub(super) fn in_block_spec(&self, y: &Side, b: &Block) -> Bool {
        let ex: Vec<Ipv4Net> = b.except.iter().map(Ipv4Net::trunc).collect();
        self.in_block(y, &b.cidr.trunc(), &ex)
    }
}
