//! V11: ipBlocks merged per CIDR and decided by the longest prefix (NPA
//! `pkg/fwruleprocessor/fw_rule_processor.go` `ComputeMapEntriesFromEndpointRules`,
//! `checkAndDeriveL4InfoFromAnyMatchingCIDRsTrie`; `pkg/ebpf/c/tc.v4egress.bpf.c`
//! `evaluateNamespacePolicyByLookUp`; NPA c8619c05, v1.2.4 to v1.4.1).
//!
//! For one pod and direction the agent builds one longest-prefix table from the entries
//! of every counted policy: one key per distinct CIDR (entries with that CIDR pool their
//! ports and their `except` lists), one deny-everything key per `except` that is not a
//! key, and a key inherits the ports of every shorter non-host key containing it unless one
//! of that key's pooled excepts holds its first address. An address is decided by its
//! longest key alone. Without any `except` this equals the upstream union (S4, S6), so the
//! table is used only when the direction has one ([`applies`]).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use netpol_manifest::model::{Direction, Service};

use crate::ir::{LoweredPolicy, LoweredRule, PeerMatch, resolve_ports};
use crate::ports::PortSet;
use crate::world::{Ep, EpKind, World};

use super::{family, ipblocks, services, switches, vpc};

/// One entry of the agent's table before merging: a CIDR (a peer pod's /32, or
/// `0.0.0.0/0` for an omitted peer), its excepts and its ports. `skipped` entries (V12:
/// the node's address) add their excepts only; the agent collects them before the skip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyEntry {
    pub(crate) cidr: IpNet,
    pub(crate) except: Vec<IpNet>,
    pub(crate) ports: PortSet,
    pub(crate) skipped: bool,
}

/// What the agent stores at one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyPorts {
    /// An `except` that is not itself a key: every protocol and port is dropped.
    DenyAll,
    /// The pooled and inherited ports.
    Allow(PortSet),
}

/// The decision at one address: the longest key holding it (`None`: no key, dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lpm {
    pub(crate) key: Option<IpNet>,
    pub(crate) ports: KeyPorts,
}

impl Lpm {
    pub(crate) fn allowed(&self) -> PortSet {
        match &self.ports {
            KeyPorts::Allow(p) => p.clone(),
            KeyPorts::DenyAll => PortSet::empty(),
        }
    }
}

/// The built table: each key with its ports and pooled excepts (none for deny keys).
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub(super) keys: BTreeMap<IpNet, (KeyPorts, Vec<IpNet>)>,
}

impl Table {
    pub(crate) fn new(entries: &[KeyEntry]) -> Table {
        let mut sorted: Vec<&KeyEntry> = entries.iter().collect();
        sorted.sort_by_key(|e| e.cidr.prefix_len());
        // key -> (pooled excepts, stored ports), in ascending prefix length.
        let mut keys: BTreeMap<IpNet, (Vec<IpNet>, PortSet)> = BTreeMap::new();
        let mut excepts: Vec<IpNet> = Vec::new();
        for e in sorted {
            excepts.extend(e.except.iter().map(IpNet::trunc));
            if e.skipped {
                continue;
            }
            let cidr = e.cidr.trunc();
            let mut ports = e.ports.clone();
            let mut exc: Vec<IpNet> = e.except.iter().map(IpNet::trunc).collect();
            if let Some((old_exc, old_ports)) = keys.get(&cidr) {
                ports.union_with(old_ports);
                exc.extend(old_exc.iter().copied());
            } else {
                ports.union_with(&inherited(&keys, cidr.network(), cidr.prefix_len()));
            }
            keys.insert(cidr, (exc, ports));
        }
        let mut out: BTreeMap<IpNet, (KeyPorts, Vec<IpNet>)> = keys
            .into_iter()
            .map(|(k, (x, p))| (k, (KeyPorts::Allow(p), x)))
            .collect();
        for x in excepts {
            out.entry(x).or_insert((KeyPorts::DenyAll, Vec::new()));
        }
        Table { keys: out }
    }

    /// The decision at `addr`; `own`: the ports of selector peers matching the pod at
    /// `addr`, whose /32 is then a key (pooled with an ipBlock at that /32).
    pub(crate) fn decide(&self, addr: IpAddr, own: Option<PortSet>) -> Lpm {
        let host = IpNet::from(addr);
        if let Some(mut ports) = own {
            match self.keys.get(&host) {
                Some((KeyPorts::Allow(p), _)) => ports.union_with(p),
                _ => {
                    let allow = self.keys.iter().filter_map(|(k, (p, x))| match p {
                        KeyPorts::Allow(p) => Some((*k, (x.clone(), p.clone()))),
                        KeyPorts::DenyAll => None,
                    });
                    let allow: BTreeMap<IpNet, (Vec<IpNet>, PortSet)> = allow.collect();
                    ports.union_with(&inherited(&allow, addr, host.prefix_len()));
                }
            }
            return Lpm {
                key: Some(host),
                ports: KeyPorts::Allow(ports),
            };
        }
        for len in (0..=host.max_prefix_len()).rev() {
            let Ok(net) = IpNet::new(addr, len) else {
                continue;
            };
            if let Some((p, _)) = self.keys.get(&net.trunc()) {
                return Lpm {
                    key: Some(net.trunc()),
                    ports: p.clone(),
                };
            }
        }
        Lpm {
            key: None,
            ports: KeyPorts::Allow(PortSet::empty()),
        }
    }
}

impl Table {
    /// The keys: an address's decision changes only where one begins or ends.
    pub(crate) fn key_nets(&self) -> Vec<IpNet> {
        self.keys.keys().copied().collect()
    }
}

/// The ports a new key at `first`/`len` inherits: those stored at every shorter non-host
/// key containing `first` none of whose pooled excepts holds it.
fn inherited(keys: &BTreeMap<IpNet, (Vec<IpNet>, PortSet)>, first: IpAddr, len: u8) -> PortSet {
    let mut ports = PortSet::empty();
    for l in 0..len {
        let Ok(c) = IpNet::new(first, l) else {
            continue;
        };
        if let Some((exc, p)) = keys.get(&c.trunc())
            && !exc.iter().any(|x| x.contains(&first))
        {
            ports.union_with(p);
        }
    }
    ports
}

/// V11: the decision at `addr`: its longest key in the table of `entries`.
#[cfg(test)]
pub(crate) fn lpm(entries: &[KeyEntry], addr: IpAddr) -> Lpm {
    Table::new(entries).decide(addr, None)
}

/// V11 applies to a direction whose counted rules hold an `except` (without one the
/// longest-prefix table decides as the upstream union does).
pub(crate) fn applies<'a>(
    w: &World<'_>,
    policies: impl IntoIterator<Item = &'a LoweredPolicy>,
    dir: Direction,
) -> bool {
    switches::except_bleed(&w.profile)
        && policies.into_iter().any(|p| {
            p.rules(dir).iter().any(|r| {
                r.peers.iter().flatten().any(
                    |peer| matches!(peer, PeerMatch::IpBlock { except, .. } if !except.is_empty()),
                )
            })
        })
}

/// The single address the agent looks up for `e`: a pod's or node's IP, the first address
/// of an external range; `None` when unknown (a workload without an IP, a hostNetwork
/// workload on several nodes).
pub(crate) fn address(w: &World<'_>, e: &Ep) -> Option<IpAddr> {
    match e.kind {
        EpKind::External(iv) => Some(iv.bounds().0),
        EpKind::Service(si) => w.model.services[si].cluster_ip,
        EpKind::Node(_) | EpKind::Workload(_) => e.info.ip.or_else(|| {
            let mut ips = w.carried_ips(e);
            let first = ips.next();
            if ips.next().is_none() { first } else { None }
        }),
    }
}

/// The address entries of `at`'s table in `dir` (ipBlocks, an omitted peer as
/// `0.0.0.0/0` and `::/0`), with the ports each allows: the same for every other end.
pub(crate) fn address_table(
    w: &World<'_>,
    counted: &[&LoweredPolicy],
    at: &Ep,
    dir: Direction,
) -> Vec<KeyEntry> {
    let mut out = Vec::new();
    for p in counted {
        for rule in p.rules(dir) {
            if let Some(ports) = rule_cidr_ports(w, p, rule, at, dir) {
                rule_entries(w, rule, Some(at), &ports, &mut out);
            }
        }
    }
    out
}

/// One entry as the agent at `at` (unknown: any pod) reads it: skipped for the node's
/// address (V12) or the other family (V15), its excepts as the keys the agent writes (V15;
/// a key the kernel refuses is left out, and `verify` answers unknown while one exists,
/// `other-ip-family`).
fn agent_entry(
    w: &World<'_>,
    at: Option<&Ep>,
    cidr: IpNet,
    except: &[IpNet],
    ports: &PortSet,
) -> KeyEntry {
    KeyEntry {
        cidr,
        except: (except.iter())
            .filter_map(|x| family::except_key(&w.profile, *x).ok())
            .collect(),
        ports: ports.clone(),
        skipped: ipblocks::agent_skips(&w.profile, at, cidr.network()),
    }
}

/// The address entries of one rule with `ports`: its ipBlocks (at `at`, V12's skipped ones
/// marked) and an omitted peer list as `0.0.0.0/0` and `::/0`.
pub(crate) fn rule_entries(
    w: &World<'_>,
    rule: &LoweredRule,
    at: Option<&Ep>,
    ports: &PortSet,
    out: &mut Vec<KeyEntry>,
) {
    let Some(peers) = &rule.peers else {
        for any in ["0.0.0.0/0", "::/0"] {
            let any = any.parse().unwrap_or_else(|_| unreachable!());
            out.push(agent_entry(w, at, any, &[], ports));
        }
        return;
    };
    for peer in peers {
        if let PeerMatch::IpBlock { cidr, except, .. } = peer {
            out.push(agent_entry(w, at, *cidr, except, ports));
        }
    }
}

/// V12 at `at`: which of the `dir` ipBlocks of `counted` the agent skips there (what
/// [`address_table`] reads of `at` besides its ports), in rule order.
pub(crate) fn skipped_blocks(
    w: &World<'_>,
    counted: &[&LoweredPolicy],
    at: &Ep,
    dir: Direction,
) -> Vec<bool> {
    (counted.iter().flat_map(|p| p.rules(dir)))
        .flat_map(|r| r.peers.iter().flatten())
        .filter_map(|peer| match peer {
            PeerMatch::IpBlock { cidr, .. } => {
                Some(ipblocks::agent_skips(&w.profile, Some(at), cidr.network()))
            }
            PeerMatch::Pods { .. } => None,
        })
        .collect()
}

/// The ports of a rule toward an address (V7 under VPC CNI: numeric egress ports, the
/// ingress union); `None` when V7 drops the rule.
pub(crate) fn rule_cidr_ports(
    w: &World<'_>,
    p: &LoweredPolicy,
    rule: &crate::ir::LoweredRule,
    at: &Ep,
    dir: Direction,
) -> Option<PortSet> {
    let on_at = || resolve_ports(rule.ports.as_deref(), w.container_ports(at));
    let ports = match dir {
        Direction::Ingress => vpc::ingress_union_ports(w, p, rule).unwrap_or_else(on_at),
        Direction::Egress => vpc::egress_cidr_ports(&w.profile, rule).unwrap_or_else(on_at),
    };
    (rule.ports.is_none() || !ports.is_empty()).then_some(ports)
}

/// The ports of the selector peers of `at`'s `dir` rules that match `other` (its /32
/// key), `None` when none does.
pub(crate) fn own_ports(
    w: &World<'_>,
    counted: &[&LoweredPolicy],
    at: &Ep,
    other: &Ep,
    dir: Direction,
) -> Option<PortSet> {
    let mut res: Option<PortSet> = None;
    for p in counted {
        for rule in p.rules(dir) {
            for peer in rule.peers.iter().flatten() {
                if !matches!(peer, PeerMatch::Pods { .. })
                    || !(w.direct_match(peer, other) || vpc::node_expanded(w, peer, other))
                {
                    continue;
                }
                let ports = match dir {
                    // V7: an ingress rule none of whose ports resolves is dropped.
                    Direction::Ingress => match rule_cidr_ports(w, p, rule, at, dir) {
                        Some(ports) => ports,
                        None => continue,
                    },
                    Direction::Egress => {
                        vpc::node_ports(w, peer, rule, other).unwrap_or_else(|| {
                            resolve_ports(rule.ports.as_deref(), w.container_ports(other))
                        })
                    }
                };
                res.get_or_insert_with(PortSet::empty).union_with(&ports);
            }
        }
    }
    res
}

/// How the agent looks `other` up: one known IP; a hostNetwork workload's node IPs (any
/// must allow); a pod without a known IP, over the pod ranges (every piece must allow, as
/// V3 matches such pods only when a block covers all pod ranges); `Unknown` when nothing
/// is known (the rules then decide as S4/S6 say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    One(IpAddr),
    Any(Vec<IpAddr>),
    PodRanges,
    Unknown,
}

pub(crate) fn lookup(w: &World<'_>, other: &Ep) -> Lookup {
    if let Some(a) = address(w, other) {
        return Lookup::One(a);
    }
    if other.host_network {
        let ips: Vec<IpAddr> = w.carried_ips(other).collect();
        return if ips.is_empty() {
            Lookup::Unknown
        } else {
            Lookup::Any(ips)
        };
    }
    if !other.is_pod()
        || !switches::ipblocks_match_workloads(&w.profile)
        || w.profile.pod_ranges().is_empty()
    {
        return Lookup::Unknown;
    }
    Lookup::PodRanges
}

/// One address per piece of the pod ranges that the table's keys cut.
pub(crate) fn pod_range_samples(w: &World<'_>, table: &[KeyEntry]) -> Vec<IpAddr> {
    let ranges = w.profile.pod_ranges();
    let mut nets: Vec<IpNet> = ranges.to_vec();
    for e in table {
        nets.push(e.cidr);
        nets.extend(e.except.iter().copied());
    }
    let inside: Vec<crate::ip::Interval> = ranges
        .iter()
        .map(|r| crate::ip::Interval::of_net(*r))
        .collect();
    crate::ip::partition(&nets)
        .into_iter()
        .filter(|iv| {
            inside
                .iter()
                .any(|r| r.v6 == iv.v6 && r.lo <= iv.lo && iv.hi <= r.hi)
        })
        .map(|iv| iv.bounds().0)
        .collect()
}

/// The addresses the agent may look up for `other` ([`lookup`]), and whether any of them
/// (true) or every one (false) must allow; `None` when nothing is known.
pub(crate) fn samples(
    w: &World<'_>,
    other: &Ep,
    table: &[KeyEntry],
) -> Option<(Vec<IpAddr>, bool)> {
    let (addrs, any) = match lookup(w, other) {
        Lookup::One(a) => (vec![a], true),
        Lookup::Any(ips) => (ips, true),
        Lookup::PodRanges => (pod_range_samples(w, table), false),
        Lookup::Unknown => return None,
    };
    (!addrs.is_empty()).then_some((addrs, any))
}

/// The decision over `addrs` (any or every one must allow, [`samples`]), `own`: the
/// ports of selector peers matching the other end ([`own_ports`]).
pub(crate) fn decide_at(
    table: &Table,
    addrs: &[IpAddr],
    any: bool,
    own: Option<&PortSet>,
) -> Option<Lpm> {
    let mut res: Option<Lpm> = None;
    for &a in addrs {
        let d = table.decide(a, own.cloned());
        res = Some(match res {
            None => d,
            Some(mut r) => {
                let (x, y) = (r.allowed(), d.allowed());
                r.ports = KeyPorts::Allow(if any { x.union(&y) } else { x.intersect(&y) });
                r
            }
        });
    }
    res
}

/// V11 at `at` in `dir` toward `other`: the ports the longest key holding `other`'s address
/// allows, with that key (the first address's); `None` when V11 does not apply or nothing
/// is known of the address (then the rules decide as S4/S6 say).
pub(crate) fn decide(
    w: &World<'_>,
    counted: &[&LoweredPolicy],
    at: &Ep,
    other: &Ep,
    dir: Direction,
) -> Option<Lpm> {
    if !applies(w, counted.iter().copied(), dir) {
        return None;
    }
    let entries = address_table(w, counted, at, dir);
    let (addrs, any) = samples(w, other, &entries)?;
    let table = Table::new(&entries);
    let own = own_ports(w, counted, at, other, dir);
    decide_at(&table, &addrs, any, own.as_ref())
}

/// V11 at `src`'s egress toward Service `svc`'s ClusterIP: the Service ports its longest
/// key allows. The ClusterIP's own /32 key holds what the selector peers admit (V5, V10);
/// ipBlocks hold their numeric ports. `None` as for [`decide`].
pub(crate) fn decide_service(
    w: &World<'_>,
    counted: &[&LoweredPolicy],
    src: &Ep,
    svc: &Service,
) -> Option<Lpm> {
    if !applies(w, counted.iter().copied(), Direction::Egress) {
        return None;
    }
    let addr = svc.cluster_ip?;
    let (entries, selectors) = service_table(w, counted, src);
    let mut own: Option<PortSet> = None;
    for (rule, peer) in selectors {
        let at = services::Backends::Existing;
        let sp = vpc::service_peer_ports(w, rule, Some(peer), svc, at, vpc::Addresses::Certain);
        if !sp.is_empty() {
            own.get_or_insert_with(PortSet::empty).union_with(&sp);
        }
    }
    Some(Table::new(&entries).decide(addr, own))
}

/// `src`'s egress table toward ClusterIPs without the Service's own /32 key, and the
/// selector peers (with their rules) whose Service ports make that key: a key at the
/// ClusterIP is the longest, so it decides with what it pools and inherits
/// ([`Table::decide`] with `own`).
#[allow(clippy::type_complexity)]
pub(crate) fn service_table<'p>(
    w: &World<'_>,
    counted: &[&'p LoweredPolicy],
    src: &Ep,
) -> (
    Vec<KeyEntry>,
    Vec<(&'p crate::ir::LoweredRule, &'p PeerMatch)>,
) {
    let mut out = Vec::new();
    let mut selectors = Vec::new();
    for p in counted {
        for rule in &p.egress {
            let ports = vpc::egress_cidr_ports(&w.profile, rule).unwrap_or_else(PortSet::all);
            if rule.ports.is_some() && ports.is_empty() {
                continue; // V7: dropped
            }
            let Some(peers) = &rule.peers else {
                for any in ["0.0.0.0/0", "::/0"] {
                    let any = any.parse().unwrap_or_else(|_| unreachable!());
                    out.push(agent_entry(w, Some(src), any, &[], &ports));
                }
                continue;
            };
            for peer in peers {
                match peer {
                    PeerMatch::IpBlock { cidr, except, .. } => {
                        out.push(agent_entry(w, Some(src), *cidr, except, &ports));
                    }
                    PeerMatch::Pods { .. } => selectors.push((rule, peer)),
                }
            }
        }
    }
    (out, selectors)
}

#[cfg(test)]
#[path = "cidr_keys_tests.rs"]
mod tests;
