//! Address arithmetic: ipBlocks as interval lists, coverage tests, and the partition of the
//! address space into external ranges (S8).

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// An inclusive address interval of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Interval {
    pub(crate) v6: bool,
    pub(crate) lo: u128,
    pub(crate) hi: u128,
}

fn addr_value(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

fn family_max(v6: bool) -> u128 {
    if v6 { u128::MAX } else { u128::from(u32::MAX) }
}

fn show(v6: bool, n: u128) -> String {
    if v6 {
        Ipv6Addr::from(n).to_string()
    } else {
        // Values of the IPv4 family never exceed u32::MAX.
        Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)).to_string()
    }
}

impl Interval {
    pub(crate) fn of_net(net: IpNet) -> Interval {
        let (v6, lo) = addr_value(net.network());
        let (_, hi) = addr_value(net.broadcast());
        Interval { v6, lo, hi }
    }

    pub(crate) fn contains_ip(&self, ip: IpAddr) -> bool {
        let (v6, n) = addr_value(ip);
        v6 == self.v6 && self.lo <= n && n <= self.hi
    }

    /// The first and last address.
    pub(crate) fn bounds(&self) -> (IpAddr, IpAddr) {
        let ip = |n: u128| -> IpAddr {
            if self.v6 {
                IpAddr::V6(Ipv6Addr::from(n))
            } else {
                IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
            }
        };
        (ip(self.lo), ip(self.hi))
    }

    pub(crate) fn overlaps(&self, other: &Interval) -> bool {
        self.v6 == other.v6 && self.lo <= other.hi && other.lo <= self.hi
    }
}

/// The fewest CIDRs that cover address ranges (first, last), adjacent ranges joined;
/// sorted, IPv4 first.
pub(crate) fn cidrs(ranges: &[(IpAddr, IpAddr)]) -> Vec<IpNet> {
    let mut ivs: Vec<Interval> = ranges
        .iter()
        .map(|&(a, b)| {
            let ((v6, lo), (_, hi)) = (addr_value(a), addr_value(b));
            Interval { v6, lo, hi }
        })
        .collect();
    ivs.sort();
    let mut joined: Vec<Interval> = Vec::new();
    for iv in ivs {
        match joined.last_mut() {
            Some(last)
                if last.v6 == iv.v6 && last.hi.checked_add(1).is_some_and(|n| n >= iv.lo) =>
            {
                last.hi = last.hi.max(iv.hi);
            }
            _ => joined.push(iv),
        }
    }
    let mut res = Vec::new();
    for iv in joined {
        let (a, b) = iv.bounds();
        match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                res.extend(ipnet::Ipv4Subnets::new(a, b, 0).map(IpNet::V4));
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                res.extend(ipnet::Ipv6Subnets::new(a, b, 0).map(IpNet::V6));
            }
            _ => {}
        }
    }
    res
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", show(self.v6, self.lo), show(self.v6, self.hi))
    }
}

/// `cidr` minus its `except` entries, as sorted disjoint intervals.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Block {
    pieces: Vec<Interval>,
}

/// How much of a range a block covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cover {
    None,
    Partial,
    Full,
}

impl Block {
    /// One sweep over the sorted holes: O(e log e) for `e` except entries (subtracting them
    /// one by one rebuilt the piece list each time, quadratic in `e`).
    pub(crate) fn new(cidr: IpNet, except: &[IpNet]) -> Block {
        let base = Interval::of_net(cidr);
        let mut holes: Vec<Interval> = except
            .iter()
            .map(|e| Interval::of_net(*e))
            .filter(|h| h.overlaps(&base))
            .collect();
        holes.sort_unstable();
        let mut pieces = Vec::new();
        // The first address not yet covered by a piece or a hole; `None` past the end.
        let mut next = Some(base.lo);
        for h in holes {
            let Some(lo) = next else { break };
            if h.hi < lo {
                continue;
            }
            if h.lo > lo {
                pieces.push(Interval {
                    hi: h.lo - 1,
                    lo,
                    ..base
                });
            }
            next = h.hi.checked_add(1).filter(|&n| n <= base.hi);
        }
        if let Some(lo) = next {
            pieces.push(Interval { lo, ..base });
        }
        Block { pieces }
    }

    /// The pieces that may overlap `range`, from the first one ending at or after its start
    /// (pieces are sorted and disjoint, so also sorted by their ends).
    fn from(&self, v6: bool, lo: u128) -> &[Interval] {
        let start = self.pieces.partition_point(|p| (p.v6, p.hi) < (v6, lo));
        &self.pieces[start..]
    }

    pub(crate) fn contains_ip(&self, ip: IpAddr) -> bool {
        let (v6, n) = addr_value(ip);
        self.from(v6, n).first().is_some_and(|p| p.contains_ip(ip))
    }

    /// How much of `range` the block covers.
    pub(crate) fn cover(&self, range: &Interval) -> Cover {
        // The pieces are sorted and disjoint: full cover means the clipped pieces tile the
        // range without a gap (no counting, so the whole IPv6 space cannot overflow).
        let mut next = Some(range.lo);
        let mut any = false;
        let mut gap = false;
        for p in self
            .from(range.v6, range.lo)
            .iter()
            .take_while(|p| p.overlaps(range))
        {
            any = true;
            let lo = p.lo.max(range.lo);
            let hi = p.hi.min(range.hi);
            if next != Some(lo) {
                gap = true;
            }
            next = hi.checked_add(1);
        }
        let reaches_end = next.is_none_or(|n| n > range.hi);
        if !any {
            Cover::None
        } else if !gap && reaches_end {
            Cover::Full
        } else {
            Cover::Partial
        }
    }

    /// How much of the union of `nets` the block covers.
    pub(crate) fn cover_all(&self, nets: &[IpNet]) -> Cover {
        let covers: Vec<Cover> = nets
            .iter()
            .map(|n| self.cover(&Interval::of_net(*n)))
            .collect();
        if covers.is_empty() || covers.iter().all(|c| *c == Cover::None) {
            Cover::None
        } else if covers.iter().all(|c| *c == Cover::Full) {
            Cover::Full
        } else {
            Cover::Partial
        }
    }
}

/// The coarsest partition of the address space induced by every `cidr` and `except` edge:
/// the whole IPv4 space always, the IPv6 space when some net is IPv6. Sorted, v4 first.
pub(crate) fn partition(nets: &[IpNet]) -> Vec<Interval> {
    let mut res = Vec::new();
    for v6 in [false, true] {
        let family: Vec<Interval> = nets
            .iter()
            .map(|n| Interval::of_net(*n))
            .filter(|i| i.v6 == v6)
            .collect();
        if v6 && family.is_empty() {
            continue;
        }
        // Cut points: the first address of each piece.
        let mut cuts = BTreeSet::from([0u128]);
        for i in &family {
            cuts.insert(i.lo);
            if i.hi < family_max(v6) {
                cuts.insert(i.hi + 1);
            }
        }
        let cuts: Vec<u128> = cuts.into_iter().collect();
        for (k, &lo) in cuts.iter().enumerate() {
            let hi = cuts.get(k + 1).map_or(family_max(v6), |next| next - 1);
            res.push(Interval { v6, lo, hi });
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test CIDR")
    }

    #[test]
    fn partition_cuts_at_every_edge() {
        let parts = partition(&[net("10.0.0.0/8"), net("10.1.0.0/16")]);
        let names: Vec<String> = parts.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "0.0.0.0-9.255.255.255",
                "10.0.0.0-10.0.255.255",
                "10.1.0.0-10.1.255.255",
                "10.2.0.0-10.255.255.255",
                "11.0.0.0-255.255.255.255"
            ]
        );
        assert_eq!(partition(&[]).len(), 1);
        assert_eq!(partition(&[net("0.0.0.0/0")]).len(), 1);
        let with_v6 = partition(&[net("fd00::/8")]);
        assert_eq!(with_v6.len(), 4);
        assert_eq!(
            with_v6[3].to_string(),
            "fe00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
    }

    /// The old subtraction, one hole at a time: the reference for the sweep.
    fn subtract_one_by_one(cidr: IpNet, except: &[IpNet]) -> Vec<Interval> {
        let mut pieces = vec![Interval::of_net(cidr)];
        for e in except {
            let hole = Interval::of_net(*e);
            let mut next = Vec::new();
            for p in pieces {
                if !p.overlaps(&hole) {
                    next.push(p);
                    continue;
                }
                if p.lo < hole.lo {
                    next.push(Interval {
                        hi: hole.lo - 1,
                        ..p
                    });
                }
                if hole.hi < p.hi {
                    next.push(Interval {
                        lo: hole.hi + 1,
                        ..p
                    });
                }
            }
            pieces = next;
        }
        pieces
    }

    #[test]
    fn sweep_equals_subtraction_and_is_fast() {
        // Deterministic pseudo-random excepts inside 10.0.0.0/16, nested and overlapping.
        let mut x: u32 = 12345;
        for round in 0..200 {
            let mut except = Vec::new();
            for _ in 0..(round % 17) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let len = 17 + (x >> 8) % 16;
                let addr = 0x0a00_0000 | ((x >> 4) & 0xffff);
                let n = ipnet::Ipv4Net::new(addr.into(), len as u8)
                    .expect("prefix")
                    .trunc();
                except.push(IpNet::V4(n));
            }
            let cidr = net("10.0.0.0/16");
            assert_eq!(
                Block::new(cidr, &except).pieces,
                subtract_one_by_one(cidr, &except),
                "{except:?}"
            );
        }
        // 100,000 excepts: linearithmic, well under a second even in a debug build.
        let except: Vec<IpNet> = (0..100_000u32)
            .map(|i| {
                IpNet::V4(ipnet::Ipv4Net::new((0x0a00_0000 + 4 * i).into(), 31).expect("prefix"))
            })
            .collect();
        let t = std::time::Instant::now();
        let b = Block::new(net("10.0.0.0/8"), &except);
        assert_eq!(b.pieces.len(), 100_000);
        assert!(t.elapsed().as_secs() < 5, "{:?}", t.elapsed());
        assert!(b.contains_ip("10.0.0.2".parse().expect("ip")));
        assert!(!b.contains_ip("10.0.0.4".parse().expect("ip")));
    }

    #[test]
    fn block_except_and_cover() {
        let b = Block::new(net("10.0.0.0/8"), &[net("10.1.0.0/16")]);
        assert!(b.contains_ip("10.2.3.4".parse().expect("ip")));
        assert!(!b.contains_ip("10.1.3.4".parse().expect("ip")));
        assert_eq!(b.cover_all(&[net("10.2.0.0/16")]), Cover::Full);
        assert_eq!(b.cover_all(&[net("10.0.0.0/8")]), Cover::Partial);
        assert_eq!(b.cover_all(&[net("10.1.0.0/16")]), Cover::None);
        assert_eq!(
            b.cover_all(&[net("10.2.0.0/16"), net("192.168.0.0/16")]),
            Cover::Partial
        );
        let v6 = Block::new(net("::/0"), &[net("fd00::/128")]);
        assert_eq!(v6.cover_all(&[net("::/0")]), Cover::Partial);
        assert_eq!(
            Block::new(net("::/0"), &[]).cover_all(&[net("::/0")]),
            Cover::Full
        );
        // Nested, overlapping, out-of-order and edge-touching holes.
        let b = Block::new(
            net("10.0.0.0/8"),
            &[
                net("10.255.0.0/16"),
                net("10.0.0.0/16"),
                net("10.0.0.0/24"),
                net("10.1.0.0/16"),
            ],
        );
        let pieces: Vec<String> = b.pieces.iter().map(ToString::to_string).collect();
        assert_eq!(pieces, ["10.2.0.0-10.254.255.255"]);
        assert!(!b.contains_ip("10.0.0.1".parse().expect("ip")));
        assert!(b.contains_ip("10.254.255.255".parse().expect("ip")));
        assert!(!b.contains_ip("11.0.0.0".parse().expect("ip")));
        assert!(!b.contains_ip("::1".parse().expect("ip")));
        let all = Block::new(net("0.0.0.0/0"), &[]);
        assert_eq!(all.cover_all(&[net("10.0.0.0/8")]), Cover::Full);
    }
}
