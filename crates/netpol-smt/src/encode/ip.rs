//! Addresses: an address of the cluster's family in a network, constants, and ipBlocks
//! (S6/V3). A side's address is a bit-vector as wide as the family's addresses: 32 bits on
//! an IPv4 cluster, 128 on an IPv6 one (`cluster.ipFamily`, V15). A network or constant of
//! the other family never holds such an address: every in-cluster address is of the
//! cluster's family (`caveats::unknown_with_other_family` names any that is not).

use std::net::IpAddr;

use ipnet::IpNet;
use netpol_manifest::config::IpFamily;
use z3::ast::{BV, Bool, Int};

use super::{Encoder, Side};
use crate::config::Block;

/// The width of the family's addresses in bits.
pub(crate) fn width(f: IpFamily) -> u32 {
    match f {
        IpFamily::Ipv4 => 32,
        IpFamily::Ipv6 => 128,
    }
}

/// The address as an unsigned number and its width.
fn bits(a: IpAddr) -> (u128, u32) {
    match a {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// A `w`-bit constant; above 64 bits two halves concatenated (Z3's numerals from the crate
/// are at most 64 bits wide).
fn bv(v: u128, w: u32) -> BV {
    if w <= 64 {
        return BV::from_u64(v as u64, w);
    }
    BV::from_u64((v >> 64) as u64, w - 64).concat(BV::from_u64(v as u64, 64))
}

/// Whether `ip` (a side's address) is in `net`; never for a network of the other family.
pub(super) fn in_net(ip: &BV, net: &IpNet) -> Bool {
    let (addr, w) = bits(net.network());
    if w != ip.get_size() {
        return Bool::from_bool(false);
    }
    let len = u32::from(net.prefix_len());
    if len == 0 {
        return Bool::from_bool(true);
    }
    ip.extract(w - 1, w - len).eq(bv(addr >> (w - len), len))
}

/// `ip == a`; never for an address of the other family.
pub(super) fn ip_is(ip: &BV, a: IpAddr) -> Bool {
    let (v, w) = bits(a);
    if w != ip.get_size() {
        return Bool::from_bool(false);
    }
    ip.eq(bv(v, w))
}

/// `lo <= ip <= hi` (unsigned); never for bounds of the other family.
pub(super) fn ip_between(ip: &BV, lo: IpAddr, hi: IpAddr) -> Bool {
    let ((l, w), (h, _)) = (bits(lo), bits(hi));
    if w != ip.get_size() {
        return Bool::from_bool(false);
    }
    Bool::and(&[ip.bvuge(bv(l, w)), ip.bvule(bv(h, w))])
}

/// The value of a side's address in a model, of the width's family.
pub(crate) fn decode_ip(m: &z3::Model, ip: &BV) -> IpAddr {
    let half = |hi: u32, lo: u32| {
        m.eval(&ip.extract(hi, lo), true)
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    };
    if ip.get_size() == 32 {
        return IpAddr::V4((half(31, 0) as u32).into());
    }
    IpAddr::V6(((u128::from(half(127, 64)) << 64) | u128::from(half(63, 0))).into())
}

fn ip_block(y: &Side, cidr: &IpNet, except: &[IpNet]) -> Bool {
    let mut parts = vec![y.has_ip.clone(), in_net(&y.ip, cidr)];
    for e in except {
        parts.push(in_net(&y.ip, e).not());
    }
    Bool::and(&parts)
}

impl Encoder<'_> {
    /// S6/V3: `y`'s address is in the block; a hostNetwork workload without one address (a
    /// DaemonSet) is when the IP of a configured node it runs on is. A block of the other
    /// family holds no address the solver ranges over.
    pub(super) fn in_block(&self, y: &Side, cidr: &IpNet, except: &[IpNet]) -> Bool {
        let u = self.u;
        let inside = |ip: IpAddr| cidr.contains(&ip) && !except.iter().any(|e| e.contains(&ip));
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
        let ex: Vec<IpNet> = b.except.iter().map(IpNet::trunc).collect();
        self.in_block(y, &b.cidr.trunc(), &ex)
    }
}
