//! Sets of (protocol, port) pairs as sorted interval lists per protocol.
//!
//! A [`PortSet`] holds, for each of TCP, UDP and SCTP, a sorted list of disjoint, non-adjacent
//! inclusive ranges over 1-65535 (port 0 is never used), plus one flag for "every other IP
//! protocol" (ICMP and the rest), which only a port-less rule allows (S4, V8). The algebra is
//! closed and canonical, so two equal sets compare equal with `==`.

use std::fmt;

use netpol_manifest::model::Protocol;

/// The lowest port number a rule can name.
pub const MIN_PORT: u16 = 1;
/// The highest port number.
pub const MAX_PORT: u16 = 65535;

/// A set of (protocol, port) pairs. See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSet {
    /// Indexed by [`proto_index`]: sorted, disjoint, non-adjacent inclusive ranges.
    ranges: [Vec<(u16, u16)>; 3],
    /// Every IP protocol other than TCP, UDP and SCTP (ICMP included).
    other: bool,
}

fn proto_index(p: Protocol) -> usize {
    match p {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Sctp => 2,
    }
}

const FULL: (u16, u16) = (MIN_PORT, MAX_PORT);

impl PortSet {
    /// Nothing.
    pub fn empty() -> PortSet {
        PortSet::default()
    }

    /// Every protocol and port, ICMP included (`*`).
    pub fn all() -> PortSet {
        PortSet {
            ranges: [vec![FULL], vec![FULL], vec![FULL]],
            other: true,
        }
    }

    /// Every port of one protocol (`TCP/*`).
    pub fn protocol(proto: Protocol) -> PortSet {
        PortSet::range(proto, MIN_PORT, MAX_PORT)
    }

    /// One port.
    pub fn port(proto: Protocol, port: u16) -> PortSet {
        PortSet::range(proto, port, port)
    }

    /// The inclusive range `lo..=hi`, clamped to 1-65535; empty when `lo > hi`.
    pub fn range(proto: Protocol, lo: u16, hi: u16) -> PortSet {
        let mut res = PortSet::empty();
        let lo = lo.max(MIN_PORT);
        if lo <= hi {
            res.ranges[proto_index(proto)].push((lo, hi));
        }
        res
    }

    pub fn is_empty(&self) -> bool {
        !self.other && self.ranges.iter().all(Vec::is_empty)
    }

    /// Whether this is every protocol and port (`*`).
    pub fn is_all(&self) -> bool {
        self.other && self.ranges.iter().all(|r| r.as_slice() == [FULL])
    }

    /// Whether every port of `proto` is in the set.
    pub fn has_all_of(&self, proto: Protocol) -> bool {
        self.ranges[proto_index(proto)].as_slice() == [FULL]
    }

    /// Whether "every other IP protocol" (ICMP and the rest) is in the set.
    pub fn has_other(&self) -> bool {
        self.other
    }

    pub fn contains(&self, proto: Protocol, port: u16) -> bool {
        let r = &self.ranges[proto_index(proto)];
        // The first range whose end is >= port is the only candidate.
        let i = r.partition_point(|&(_, hi)| hi < port);
        r.get(i).is_some_and(|&(lo, _)| lo <= port)
    }

    /// The ranges of one protocol, sorted and disjoint.
    pub fn ranges(&self, proto: Protocol) -> &[(u16, u16)] {
        &self.ranges[proto_index(proto)]
    }

    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut res = self.clone();
        res.union_with(other);
        res
    }

    /// Adds `other` in place.
    pub fn union_with(&mut self, other: &PortSet) {
        for i in 0..3 {
            if other.ranges[i].is_empty() {
                continue;
            }
            if self.ranges[i].is_empty() {
                self.ranges[i].clone_from(&other.ranges[i]);
                continue;
            }
            self.ranges[i] = union_ranges(&self.ranges[i], &other.ranges[i]);
        }
        self.other |= other.other;
    }

    pub fn intersect(&self, other: &PortSet) -> PortSet {
        let mut res = PortSet::empty();
        for i in 0..3 {
            res.ranges[i] = intersect_ranges(&self.ranges[i], &other.ranges[i]);
        }
        res.other = self.other && other.other;
        res
    }

    /// The pairs in `self` and not in `other`.
    pub fn difference(&self, other: &PortSet) -> PortSet {
        let mut res = PortSet::empty();
        for i in 0..3 {
            let complement = complement_ranges(&other.ranges[i]);
            res.ranges[i] = intersect_ranges(&self.ranges[i], &complement);
        }
        res.other = self.other && !other.other;
        res
    }

    /// The contract strings, sorted TCP, UDP, SCTP then ranges ascending: `PROTO/N`,
    /// `PROTO/N-M`, `PROTO/*` for every port of a protocol, `*` for everything. A set with
    /// "other protocols" but not every port (only set differences produce it) ends with
    /// `other`.
    pub fn to_strings(&self) -> Vec<String> {
        if self.is_all() {
            return vec!["*".to_owned()];
        }
        let mut res = Vec::new();
        for proto in Protocol::ALL {
            let r = &self.ranges[proto_index(proto)];
            if r.as_slice() == [FULL] {
                res.push(format!("{proto}/*"));
                continue;
            }
            for &(lo, hi) in r {
                if lo == hi {
                    res.push(format!("{proto}/{lo}"));
                } else {
                    res.push(format!("{proto}/{lo}-{hi}"));
                }
            }
        }
        if self.other {
            res.push("other".to_owned());
        }
        res
    }
}

impl fmt::Display for PortSet {
    /// The contract strings joined by `, `; `none` for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&self.to_strings().join(", "))
    }
}

/// Parses `80/TCP`, `TCP/80`, `tcp/80` or a bare `80` (TCP).
pub fn parse_port(s: &str) -> Option<(Protocol, u16)> {
    let s = s.trim();
    let (a, b) = match s.split_once('/') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => ("TCP", s),
    };
    let proto_of = |t: &str| Protocol::parse(&t.to_ascii_uppercase());
    let num_of = |t: &str| t.parse::<u16>().ok().filter(|&n| n >= MIN_PORT);
    if let (Some(p), Some(n)) = (proto_of(a), num_of(b)) {
        return Some((p, n));
    }
    match (num_of(a), proto_of(b)) {
        (Some(n), Some(p)) => Some((p, n)),
        _ => None,
    }
}

fn union_ranges(a: &[(u16, u16)], b: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut all: Vec<(u16, u16)> = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    let mut res: Vec<(u16, u16)> = Vec::with_capacity(all.len());
    for (lo, hi) in all {
        match res.last_mut() {
            // Merge overlapping and adjacent ranges, so the form stays canonical.
            Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => res.push((lo, hi)),
        }
    }
    res
}

fn intersect_ranges(a: &[(u16, u16)], b: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let (mut i, mut j) = (0, 0);
    let mut res = Vec::new();
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo <= hi {
            res.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    res
}

fn complement_ranges(a: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut res = Vec::new();
    let mut next: u32 = u32::from(MIN_PORT);
    for &(lo, hi) in a {
        if u32::from(lo) > next {
            res.push((next as u16, lo - 1));
        }
        next = u32::from(hi) + 1;
    }
    if next <= u32::from(MAX_PORT) {
        res.push((next as u16, MAX_PORT));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: Protocol = Protocol::Tcp;
    const U: Protocol = Protocol::Udp;
    const S: Protocol = Protocol::Sctp;

    #[test]
    fn display_forms() {
        let set = PortSet::port(T, 80)
            .union(&PortSet::range(T, 8000, 8080))
            .union(&PortSet::protocol(U))
            .union(&PortSet::range(S, 5, 6));
        assert_eq!(
            set.to_strings(),
            ["TCP/80", "TCP/8000-8080", "UDP/*", "SCTP/5-6"]
        );
        assert_eq!(PortSet::all().to_strings(), ["*"]);
        assert_eq!(PortSet::empty().to_string(), "none");
        // Every port of every protocol without ICMP is not `*`.
        let no_icmp = PortSet::protocol(T)
            .union(&PortSet::protocol(U))
            .union(&PortSet::protocol(S));
        assert_eq!(no_icmp.to_strings(), ["TCP/*", "UDP/*", "SCTP/*"]);
        assert_eq!(PortSet::all().difference(&no_icmp).to_strings(), ["other"]);
    }

    #[test]
    fn adjacent_ranges_merge() {
        let set = PortSet::range(T, 1, 10).union(&PortSet::range(T, 11, 20));
        assert_eq!(set.ranges(T), [(1, 20)]);
        assert_eq!(set, PortSet::range(T, 1, 20));
        assert!(PortSet::range(T, 0, 0).is_empty());
        assert_eq!(PortSet::range(T, 0, 5), PortSet::range(T, 1, 5));
    }

    #[test]
    fn parse_port_forms() {
        assert_eq!(parse_port("80/TCP"), Some((T, 80)));
        assert_eq!(parse_port("udp/53"), Some((U, 53)));
        assert_eq!(parse_port("443"), Some((T, 443)));
        assert_eq!(parse_port("0"), None);
        assert_eq!(parse_port("ICMP/1"), None);
        assert_eq!(parse_port("x"), None);
    }

    fn proto() -> impl Strategy<Value = Protocol> {
        prop_oneof![Just(T), Just(U), Just(S)]
    }

    /// Small port numbers make overlaps likely; a few large ones test the edges.
    fn port() -> impl Strategy<Value = u16> {
        prop_oneof![1u16..40, Just(MAX_PORT), 65500u16..=MAX_PORT]
    }

    fn set() -> impl Strategy<Value = PortSet> {
        let piece =
            (proto(), port(), port()).prop_map(|(p, a, b)| PortSet::range(p, a.min(b), a.max(b)));
        (
            proptest::collection::vec(piece, 0..6),
            any::<bool>(),
            any::<u8>(),
        )
            .prop_map(|(pieces, other, all)| {
                let mut res = if all < 8 {
                    PortSet::all()
                } else {
                    PortSet::empty()
                };
                for p in &pieces {
                    res.union_with(p);
                }
                res.other |= other;
                res
            })
    }

    fn probe() -> impl Strategy<Value = (Protocol, u16)> {
        (proto(), port())
    }

    fn canonical(s: &PortSet) -> bool {
        s.ranges.iter().all(|r| {
            r.iter().all(|&(lo, hi)| lo >= MIN_PORT && lo <= hi)
                && r.windows(2)
                    .all(|w| u32::from(w[0].1) + 1 < u32::from(w[1].0))
        })
    }

    proptest! {
        #[test]
        fn algebra_matches_membership(a in set(), b in set(), probes in proptest::collection::vec(probe(), 1..20)) {
            let u = a.union(&b);
            let i = a.intersect(&b);
            let d = a.difference(&b);
            prop_assert!(canonical(&u) && canonical(&i) && canonical(&d));
            for (p, n) in probes {
                prop_assert_eq!(u.contains(p, n), a.contains(p, n) || b.contains(p, n));
                prop_assert_eq!(i.contains(p, n), a.contains(p, n) && b.contains(p, n));
                prop_assert_eq!(d.contains(p, n), a.contains(p, n) && !b.contains(p, n));
            }
            prop_assert_eq!(u.has_other(), a.has_other() || b.has_other());
            prop_assert_eq!(i.has_other(), a.has_other() && b.has_other());
            prop_assert_eq!(d.has_other(), a.has_other() && !b.has_other());
        }

        #[test]
        fn algebra_laws(a in set(), b in set(), c in set()) {
            prop_assert_eq!(a.union(&b), b.union(&a));
            prop_assert_eq!(a.intersect(&b), b.intersect(&a));
            prop_assert_eq!(a.union(&b).union(&c), a.union(&b.union(&c)));
            prop_assert_eq!(a.intersect(&b.union(&c)), a.intersect(&b).union(&a.intersect(&c)));
            prop_assert_eq!(a.difference(&b).union(&a.intersect(&b)), a.clone());
            prop_assert!(a.difference(&b).intersect(&b).is_empty());
            prop_assert_eq!(a.union(&PortSet::all()).is_all(), true);
            prop_assert_eq!(a.intersect(&PortSet::all()), a.clone());
            prop_assert_eq!(a.is_empty(), a == PortSet::empty());
            prop_assert_eq!(a.is_all(), a == PortSet::all());
            prop_assert!(PortSet::all().difference(&a).union(&a).is_all());
        }

        #[test]
        fn strings_are_sorted_and_distinct(a in set()) {
            let s = a.to_strings();
            prop_assert_eq!(s.is_empty(), a.is_empty());
            let mut seen = std::collections::BTreeSet::new();
            for item in &s {
                prop_assert!(seen.insert(item.clone()));
            }
        }
    }
}
