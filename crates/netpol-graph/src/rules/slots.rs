//! V13: at most 24 port slots per address key (NPA `pkg/utils/utils.go` `ComputeTrieValue`,
//! `pkg/fwruleprocessor/fw_rule_processor.go` `mergeDuplicateL4Info`, `tc.v4ingress.bpf.c`
//! `MAX_PORT_PROTOCOL`, NPA c8619c05). The agent keeps the distinct (protocol, port,
//! endPort) entries of one key (a CIDR, or a peer pod's /32) for one pod and direction in
//! a Go map, and writes the first 24 it iterates: beyond 24, which survive is unknown.
//! Truncation only removes allows, so `deny` proofs stand; an `allow` that needs a slot of
//! such a key is certain only when fewer than 24 of the key's slots miss it.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use netpol_manifest::model::{ContainerPort, Direction, Protocol, Service};

use crate::ir::{LoweredPolicy, LoweredRule, PeerMatch, PortSpec, resolve_ports};
use crate::ports::PortSet;
use crate::world::{Ep, EpKind, World};

use super::services::{self, Slot};
use super::{switches, vpc};

/// A Service's id in [`SlotKey::Service`].
fn service_id(svc: &Service) -> String {
    format!("{}/{}", svc.namespace, svc.name)
}

/// The agent's slots per key.
pub(crate) const SLOTS: usize = 24;

/// An address key of the agent's map.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SlotKey {
    /// An ipBlock's CIDR, or `0.0.0.0/0` for an omitted peer list.
    Cidr(IpNet),
    /// The /32 of every pod of an endpoint (a selector peer).
    Endpoint(String),
    /// The ClusterIP of a Service (`namespace/name`) that an egress selector peer admits
    /// (V5): its slots are Service ports (V10).
    Service(String),
}

/// A key with more than 24 distinct slots at one pod and direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruncatedKey {
    pub key: SlotKey,
    /// The number of distinct slots.
    pub slots: usize,
    /// The ports some slot allows but that truncation may drop (at least 24 slots miss
    /// them): an `allow` on them is not certain.
    pub uncertain: PortSet,
    /// The Services (`namespace/name`) whose ClusterIP the key holds or may hold: a flow
    /// through one of them (V5) on an uncertain Service port is not certain either.
    pub cluster_ips: Vec<String>,
}

/// The number of port entries of a policy's `dir` rules (a port-less rule counts one): a
/// bound on the slots any key can get from it.
pub(crate) fn entries(p: &LoweredPolicy, dir: Direction) -> usize {
    (p.rules(dir).iter())
        .map(|r| r.ports.as_ref().map_or(1, Vec::len))
        .sum()
}

/// The keys of each counted policy set and direction, computed once: they depend on
/// nothing else (the endpoint's own address is no key).
pub(crate) type SlotMemo = BTreeMap<(Vec<usize>, Direction), Vec<TruncatedKey>>;

/// V13: the keys with more than 24 slots at `at` in `dir` (none when the rule does not
/// apply, or at most 24 port entries are in play at all). `candidates`: the policies of
/// `at`'s namespace.
pub(crate) fn truncated_keys(
    w: &World<'_>,
    candidates: &[&LoweredPolicy],
    at: &Ep,
    dir: Direction,
    memo: &mut SlotMemo,
) -> Vec<TruncatedKey> {
    if !switches::port_slots_limited(&w.profile) || !w.enforced(at) {
        return Vec::new();
    }
    // V9: a pod that shares its identifier may get the rules of every policy selecting a
    // sibling; counting them all bounds the slots of any set it gets (more slots only make
    // fewer ports certain).
    let shared = super::ident::shared(w, at);
    let policies: Vec<_> = (candidates.iter().copied())
        .filter(|p| match shared {
            Some(r) => r.upper.binary_search(&p.index).is_ok(),
            None => w.selects(p, at),
        })
        .collect();
    if policies.iter().map(|p| entries(p, dir)).sum::<usize>() <= SLOTS {
        return Vec::new();
    }
    let set: Vec<usize> = policies.iter().map(|p| p.index).collect();
    (memo.entry((set, dir)))
        .or_insert_with(|| keys_of(w, &policies, dir))
        .clone()
}

/// The keys with more than 24 slots of the `dir` rules of `policies`.
fn keys_of(w: &World<'_>, policies: &[&LoweredPolicy], dir: Direction) -> Vec<TruncatedKey> {
    let mut keys: BTreeMap<SlotKey, BTreeSet<Slot>> = BTreeMap::new();
    // V5: the ClusterIPs the controller writes for egress selector peers are keys too.
    let cluster_ips: Vec<&Service> = if switches::cluster_ip_egress(&w.profile) {
        (w.model.services.iter())
            .filter(|s| switches::is_cluster_ip_service(s))
            .collect()
    } else {
        Vec::new()
    };
    for &p in policies {
        // Ingress named ports resolve over every pod the policy selects (V7).
        let subjects: Vec<&[ContainerPort]> = match dir {
            Direction::Ingress => (w.eps.iter())
                .filter(|e| w.subject_matches(p, e))
                .map(|e| w.container_ports(e))
                .collect(),
            Direction::Egress => Vec::new(),
        };
        for rule in p.rules(dir) {
            // Toward an address, named ports are dropped on egress (V7).
            let cidr_slots = || slots_of(rule, &subjects);
            match &rule.peers {
                None => {
                    let all = IpNet::V4(Default::default());
                    keys.entry(SlotKey::Cidr(all))
                        .or_default()
                        .extend(cidr_slots());
                }
                Some(peers) => {
                    for peer in peers {
                        match peer {
                            PeerMatch::IpBlock { cidr, .. } => {
                                let k = SlotKey::Cidr(*cidr);
                                keys.entry(k).or_default().extend(cidr_slots());
                            }
                            PeerMatch::Pods { .. } => {
                                for e in w.eps.iter().filter(|e| w.direct_match(peer, e)) {
                                    let slots = match dir {
                                        Direction::Ingress => slots_of(rule, &subjects),
                                        Direction::Egress => {
                                            slots_of(rule, &[w.container_ports(e)])
                                        }
                                    };
                                    let k = SlotKey::Endpoint(e.info.id.clone());
                                    keys.entry(k).or_default().extend(slots);
                                }
                                if dir == Direction::Egress {
                                    for svc in cluster_ips
                                        .iter()
                                        .filter(|s| vpc::selector_peer_admits(w, peer, s))
                                    {
                                        let k = SlotKey::Service(service_id(svc));
                                        let slots = services::selector_peer_slots(w, rule, svc);
                                        keys.entry(k).or_default().extend(slots);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    inherit(w, &mut keys);
    keys.into_iter()
        .filter(|(_, s)| s.len() > SLOTS)
        .map(|(key, s)| TruncatedKey {
            cluster_ips: held_cluster_ips(w, &key, &cluster_ips),
            key,
            slots: s.len(),
            uncertain: uncertain(&s),
        })
        .collect()
}

/// Why the ports of a key at `at` in `dir` are uncertain (the matrix's marks).
pub(crate) fn reason(at: &str, dir: Direction, k: &TruncatedKey) -> String {
    let toward = match dir {
        Direction::Ingress => "ingress from",
        Direction::Egress => "egress to",
    };
    format!(
        "at {at}, {toward} {} has {} port slots and the VPC CNI agent keeps {SLOTS} (V13)",
        key_name(&k.key),
        k.slots
    )
}

/// How a key reads in a reason.
fn key_name(key: &SlotKey) -> String {
    match key {
        SlotKey::Cidr(n) => n.to_string(),
        SlotKey::Endpoint(id) => format!("the pods of {id}"),
        SlotKey::Service(id) => format!("the ClusterIP of Service {id}"),
    }
}

/// The endpoints (indices into the world's) whose traffic with `at` in `dir` a key of `at`
/// decides, or may (an address not known: any key meeting the ranges it comes from): the
/// pairs whose ports the matrix marks when the key is truncated.
pub(crate) fn held_endpoints(
    w: &World<'_>,
    at: &Ep,
    dir: Direction,
    k: &TruncatedKey,
) -> Vec<usize> {
    let held = |q: &Ep| match (&k.key, q.kind) {
        (SlotKey::Endpoint(id), _) => q.info.id == *id,
        (SlotKey::Service(id), EpKind::Service(_)) => {
            q.info.id.strip_suffix("[Service]") == Some(id.as_str())
        }
        (SlotKey::Service(_), _) => false,
        (SlotKey::Cidr(_), EpKind::Service(_)) => (q.info.id.strip_suffix("[Service]"))
            .is_some_and(|id| k.cluster_ips.iter().any(|c| c == id)),
        (SlotKey::Cidr(n), _) => match (q.info.ip, q.info.range) {
            (Some(a), _) => n.contains(&a),
            (None, Some((first, last))) => n.network() <= last && first <= n.broadcast(),
            (None, None) => meets(n, w.profile.pod_ranges()),
        },
    };
    // ClusterIPs are destinations only.
    let service = |q: &Ep| matches!(q.kind, EpKind::Service(_));
    (w.eps.iter().enumerate())
        .filter(|(_, q)| (dir == Direction::Egress || !service(q)) && held(q))
        .filter(|(_, q)| !std::ptr::eq(*q, at) || at.info.has_replicas())
        .map(|(i, _)| i)
        .collect()
}

/// The Services whose ClusterIP a key holds: its own for a ClusterIP key; for a CIDR key,
/// those whose ClusterIP lies in it, or may (not known, and the key meets the Service
/// ranges).
fn held_cluster_ips(w: &World<'_>, key: &SlotKey, services: &[&Service]) -> Vec<String> {
    match key {
        SlotKey::Service(id) => vec![id.clone()],
        SlotKey::Endpoint(_) => Vec::new(),
        SlotKey::Cidr(n) => (services.iter())
            .filter(|s| match s.cluster_ip {
                Some(a) => n.contains(&a),
                None => meets(n, w.profile.service_ranges()),
            })
            .map(|s| service_id(s))
            .collect(),
    }
}

/// Whether a key meets the ranges an unknown address comes from.
fn meets(n: &IpNet, ranges: &[IpNet]) -> bool {
    (ranges.iter()).any(|r| r.contains(&n.network()) || n.contains(&r.network()))
}

/// V11 in the count: a key the agent writes takes the ports of every CIDR key containing it
/// (`checkAndDeriveL4InfoFromAnyMatchingCIDRsTrie`), unless it is one of that CIDR's excepts,
/// which is not counted here (more slots only make fewer ports certain). A peer's /32 takes
/// those of the keys holding its address, a ClusterIP those of the keys holding it; when the
/// address is not known, of every key that meets the pod (Service) ranges.
fn inherit(w: &World<'_>, keys: &mut BTreeMap<SlotKey, BTreeSet<Slot>>) {
    let cidrs: Vec<(IpNet, BTreeSet<Slot>)> = (keys.iter())
        .filter_map(|(k, s)| match k {
            SlotKey::Cidr(n) => Some((n.trunc(), s.clone())),
            SlotKey::Endpoint(_) | SlotKey::Service(_) => None,
        })
        .collect();
    if cidrs.is_empty() {
        return;
    }
    let ips: BTreeMap<&str, Option<std::net::IpAddr>> = (w.eps.iter())
        .map(|e| (e.info.id.as_str(), e.info.ip))
        .collect();
    let cluster_ips: BTreeMap<String, Option<std::net::IpAddr>> = (w.model.services.iter())
        .map(|s| (service_id(s), s.cluster_ip))
        .collect();
    for (k, slots) in keys.iter_mut() {
        let holds = |n: &IpNet| match k {
            SlotKey::Cidr(c) => {
                let c = c.trunc();
                n.prefix_len() < c.prefix_len() && n.contains(&c.network())
            }
            SlotKey::Endpoint(id) => match ips.get(id.as_str()).copied().flatten() {
                Some(a) => n.contains(&a),
                None => meets(n, w.profile.pod_ranges()),
            },
            SlotKey::Service(id) => match cluster_ips.get(id).copied().flatten() {
                Some(a) => n.contains(&a),
                None => meets(n, w.profile.service_ranges()),
            },
        };
        for (n, theirs) in &cidrs {
            if holds(n) {
                slots.extend(theirs.iter().copied());
            }
        }
    }
}

/// The slots of a rule: numeric entries as written, named ones resolved on each of `on`.
fn slots_of(rule: &LoweredRule, on: &[&[ContainerPort]]) -> Vec<Slot> {
    let Some(list) = rule.ports.as_deref() else {
        return vec![(None, 0, 0)];
    };
    let mut out = Vec::new();
    for m in list {
        match &m.port {
            PortSpec::All => out.push((Some(m.protocol), 0, 0)),
            PortSpec::Range(lo, _) => out.push((Some(m.protocol), *lo, m.end_port.unwrap_or(0))),
            PortSpec::Named(_) => {
                for ports in on {
                    let set = resolve_ports(Some(std::slice::from_ref(m)), ports);
                    for &(lo, hi) in set.ranges(m.protocol) {
                        out.extend((lo..=hi).map(|p| (Some(m.protocol), p, 0)));
                    }
                }
            }
        }
    }
    out
}

/// The ports a slot covers.
fn covers(s: &Slot) -> PortSet {
    match *s {
        (None, _, _) => PortSet::all(),
        (Some(p), 0, _) => PortSet::protocol(p),
        (Some(p), lo, end) => PortSet::range(p, lo, end.max(lo)),
    }
}

/// The ports `m` slots cover with `n - m >= 24` (`n` the key's slots, `m >= 1`).
fn uncertain(slots: &BTreeSet<Slot>) -> PortSet {
    let n = slots.len();
    if slots.iter().any(|s| s.0.is_none()) {
        // The catch-all may itself be dropped (n > 24 and it is one slot): nothing on this
        // key is certain, ICMP included (taken as a whole, over-approximated).
        return PortSet::all();
    }
    let mut out = PortSet::empty();
    for proto in Protocol::ALL {
        // Breakpoints of the slots of this protocol (and catch-alls, which cover it).
        let mut cuts: BTreeSet<u32> = BTreeSet::from([0, 65536]);
        let sets: Vec<PortSet> = slots.iter().map(covers).collect();
        for s in &sets {
            for &(lo, hi) in s.ranges(proto) {
                cuts.insert(u32::from(lo));
                cuts.insert(u32::from(hi) + 1);
            }
        }
        let cuts: Vec<u32> = cuts.into_iter().collect();
        for pair in cuts.windows(2) {
            let (lo, hi) = (pair[0], pair[1] - 1);
            let Ok(port) = u16::try_from(lo) else {
                continue;
            };
            let m = sets.iter().filter(|s| s.contains(proto, port)).count();
            if m >= 1 && n - m >= SLOTS {
                out.union_with(&PortSet::range(
                    proto,
                    port,
                    u16::try_from(hi).unwrap_or(u16::MAX),
                ));
            }
        }
    }
    out
}
