//! V11 in the class engine: the entries of a class whose direction has an `except`, from
//! the longest-prefix table of `rules/cidr_keys.rs`.
//!
//! Cost: classes the agent cannot look up ([`Lookup::Unknown`], e.g. workloads without an
//! IP and no pod ranges configured) keep the rules' entries (the evaluator falls back to
//! the union there too). The others are decided per table, not per pair: the table cuts
//! the address space into pieces once and the classes with one known address are found
//! by binary search among them, sorted by address; only classes a selector peer matches
//! (their own /32 key) and node-carrying classes are decided one by one. Rows are cached
//! per policy set, direction and what of the subject the table reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use netpol_manifest::model::Direction;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{Engine, Entry, EntryPorts, SetRef};
use crate::eval;
use crate::ip::Interval;
use crate::ir::{LoweredPolicy, PeerMatch, PortSpec};
use crate::ports::PortSet;
use crate::rules::cidr_keys::{self, Lookup, Table};
use crate::rules::switches;
use crate::world::Ep;

/// V11 state shared by the rows of one engine run.
#[derive(Default)]
pub(super) struct LpmState {
    ready: bool,
    kinds: Vec<Lookup>,
    /// Classes with one known address and no node IP, by (family, address).
    sorted: Vec<(bool, u128, u32)>,
    /// Classes V11 decides (the others keep the rules' entries), sorted.
    decided: Vec<u32>,
    /// Services with a known ClusterIP, by (family, address), and the others' flags.
    svc_sorted: Vec<(bool, u128, u32)>,
    svc_decided: Vec<bool>,
    /// Per policy set row: the entries V11 decides.
    rows: FxHashMap<String, Vec<Entry>>,
    /// Per table (its entries): the one-address classes by allowed ports.
    tables: FxHashMap<String, Vec<(PortSet, Vec<u32>)>>,
    /// A rule entry's set without the decided classes.
    reduced: FxHashMap<u32, SetRef>,
    all_reduced: Option<SetRef>,
    /// A rule entry's Services without those with a known ClusterIP (by list address).
    reduced_services: FxHashMap<usize, Arc<[(u32, PortSet)]>>,
    direct: FxHashMap<String, Vec<u32>>,
}

fn value(a: std::net::IpAddr) -> (bool, u128) {
    let iv = Interval::of_net(ipnet::IpNet::from(a));
    (iv.v6, iv.lo)
}

/// The ids in `sorted` (by family and address) whose address lies in `iv`.
fn within<'a>(sorted: &'a [(bool, u128, u32)], iv: &Interval) -> impl Iterator<Item = u32> + 'a {
    let lo = sorted.partition_point(|&(v6, a, _)| (v6, a) < (iv.v6, iv.lo));
    let hi = sorted.partition_point(|&(v6, a, _)| (v6, a) <= (iv.v6, iv.hi));
    sorted[lo..hi].iter().map(|&(_, _, id)| id)
}

impl Engine<'_, '_> {
    fn lpm_init(&mut self, st: &mut LpmState) {
        if st.ready {
            return;
        }
        st.ready = true;
        let w = self.w;
        for k in 0..self.classes.len() as u32 {
            let rep = self.rep(k);
            let kind = cidr_keys::lookup(w, rep);
            match &kind {
                Lookup::One(a) if rep.carries.is_empty() => {
                    let (v6, x) = value(*a);
                    st.sorted.push((v6, x, k));
                    st.decided.push(k);
                }
                Lookup::Unknown => {}
                _ => st.decided.push(k),
            }
            st.kinds.push(kind);
        }
        st.sorted.sort_unstable();
        for (k, (si, _, _)) in self.services.iter().enumerate() {
            let ip = w.model.services[*si].cluster_ip;
            if let Some(a) = ip {
                let (v6, x) = value(a);
                st.svc_sorted.push((v6, x, k as u32));
            }
            st.svc_decided.push(ip.is_some());
        }
        st.svc_sorted.sort_unstable();
    }

    /// V11: a direction with an `except` is decided per address by the longest key
    /// ([`cidr_keys`]). `rules`: the direction's entries from the rules (S4/S6), kept for
    /// the classes and Services the agent cannot look up. The node exemption (V4) and
    /// V12 are applied by the caller, as for the rules' entries.
    pub(super) fn lpm_entries(
        &mut self,
        e: &Ep,
        counted: &[&LoweredPolicy],
        dir: Direction,
        rules: Vec<Entry>,
        st: &mut LpmState,
    ) -> Vec<Entry> {
        self.lpm_init(st);
        let w = self.w;
        let entries = cidr_keys::address_table(w, counted, e, dir);
        let named = counted.iter().flat_map(|p| p.rules(dir)).any(|r| {
            r.ports
                .iter()
                .flatten()
                .any(|m| matches!(m.port, PortSpec::Named(_)))
        });
        let row_key = format!(
            "{dir:?}{:?}{:?}{}",
            counted.iter().map(|p| p.index).collect::<Vec<_>>(),
            entries.iter().map(|t| t.skipped).collect::<Vec<_>>(),
            if named {
                format!("{:?}", w.container_ports(e))
            } else {
                String::new()
            }
        );
        let mut out = self.reduce_rules(rules, st);
        if let Some(hit) = st.rows.get(&row_key) {
            out.extend(hit.iter().cloned());
            return out;
        }
        let row = self.lpm_row(e, counted, dir, &entries, st);
        out.extend(row.iter().cloned());
        st.rows.insert(row_key, row);
        out
    }

    /// The rules' entries without the classes and Services V11 decides.
    fn reduce_rules(&mut self, rules: Vec<Entry>, st: &mut LpmState) -> Vec<Entry> {
        let mut out = Vec::with_capacity(rules.len());
        for mut en in rules {
            en.set = match en.set {
                SetRef::All => match st.all_reduced {
                    Some(s) => s,
                    None => {
                        let s = self.without_sorted(SetRef::All, &st.decided);
                        st.all_reduced = Some(s);
                        s
                    }
                },
                SetRef::Id(id) => match st.reduced.get(&id) {
                    Some(s) => *s,
                    None => {
                        let s = self.without_sorted(SetRef::Id(id), &st.decided);
                        st.reduced.insert(id, s);
                        s
                    }
                },
            };
            if st.svc_decided.iter().any(|&d| d) && !en.services.is_empty() {
                let key = Arc::as_ptr(&en.services) as *const (u32, PortSet) as usize;
                let kept = st.reduced_services.entry(key).or_insert_with(|| {
                    en.services
                        .iter()
                        .filter(|(k, _)| !st.svc_decided[*k as usize])
                        .cloned()
                        .collect::<Vec<_>>()
                        .into()
                });
                en.services = Arc::clone(kept);
            }
            out.push(en);
        }
        out
    }

    fn without_sorted(&mut self, set: SetRef, gone: &[u32]) -> SetRef {
        let members: Vec<u32> = match set {
            SetRef::All => (0..self.classes.len() as u32).collect(),
            SetRef::Id(id) => self.sets[id as usize].clone(),
        };
        let kept: Vec<u32> = members
            .into_iter()
            .filter(|c| gone.binary_search(c).is_err())
            .collect();
        SetRef::Id(self.intern(kept))
    }

    /// The entries V11 decides for one row: classes by their longest key, and (egress)
    /// Services with a known ClusterIP.
    fn lpm_row(
        &mut self,
        e: &Ep,
        counted: &[&LoweredPolicy],
        dir: Direction,
        entries: &[cidr_keys::KeyEntry],
        st: &mut LpmState,
    ) -> Vec<Entry> {
        let w = self.w;
        let table = Table::new(entries);
        // Classes whose own /32 key a selector peer makes, or that carry node IPs: one by one.
        let mut single: FxHashSet<u32> = FxHashSet::default();
        for peer in counted
            .iter()
            .flat_map(|p| p.rules(dir))
            .flat_map(|r| r.peers.iter().flatten())
        {
            if matches!(peer, PeerMatch::Pods { .. }) {
                let key = peer.key();
                if !st.direct.contains_key(&key) {
                    let d = self.direct(peer);
                    st.direct.insert(key.clone(), d);
                }
                single.extend(st.direct[&key].iter().copied());
            }
        }
        let mut groups: BTreeMap<PortSet, Vec<u32>> = BTreeMap::new();
        let tkey = format!("{entries:?}");
        if !st.tables.contains_key(&tkey) {
            let mut by: BTreeMap<PortSet, Vec<u32>> = BTreeMap::new();
            for (iv, d) in table.pieces() {
                let ports = d.allowed();
                if ports.is_empty() {
                    continue;
                }
                by.entry(ports)
                    .or_default()
                    .extend(within(&st.sorted, &iv));
            }
            st.tables.insert(tkey.clone(), by.into_iter().collect());
        }
        for (ports, set) in &st.tables[&tkey] {
            let kept: Vec<u32> = set.iter().copied().filter(|k| !single.contains(k)).collect();
            if !kept.is_empty() {
                groups.entry(ports.clone()).or_default().extend(kept);
            }
        }
        let mut ranges: Option<Option<cidr_keys::Lpm>> = None;
        for k in st.decided.clone() {
            let kind = &st.kinds[k as usize];
            let rep = self.rep(k);
            let one_plain = matches!(kind, Lookup::One(_)) && rep.carries.is_empty();
            if one_plain && !single.contains(&k) {
                continue; // decided through the pieces above
            }
            let by_class = single.contains(&k) || !rep.carries.is_empty();
            let d = if !by_class && *kind == Lookup::PodRanges {
                ranges
                    .get_or_insert_with(|| {
                        let addrs = cidr_keys::pod_range_samples(w, entries);
                        cidr_keys::decide_at(&table, &addrs, false, None)
                    })
                    .clone()
            } else {
                let own = cidr_keys::own_ports(w, counted, e, rep, dir);
                cidr_keys::samples(w, rep, entries)
                    .and_then(|(addrs, any)| cidr_keys::decide_at(&table, &addrs, any, own.as_ref()))
            };
            let ports = match d {
                Some(d) => d.allowed(),
                // Nothing to look up: the rules' union, as the evaluator does.
                None => match dir {
                    Direction::Ingress => eval::ingress(w, e, rep).allowed,
                    Direction::Egress => eval::egress(w, e, rep).allowed,
                },
            };
            if !ports.is_empty() {
                groups.entry(ports).or_default().push(k);
            }
        }
        let mut out = Vec::new();
        for (ports, set) in groups {
            let id = self.intern(set);
            out.push(Entry {
                set: SetRef::Id(id),
                ports: EntryPorts::Fixed(ports),
                services: Arc::from([]),
                block: None,
            });
        }
        if dir == Direction::Egress && st.svc_decided.iter().any(|&d| d) {
            let services = self.lpm_services(e, counted, st);
            if !services.is_empty() {
                let id = self.intern(Vec::new());
                out.push(Entry {
                    set: SetRef::Id(id),
                    ports: EntryPorts::Fixed(PortSet::empty()),
                    services: services.into(),
                    block: None,
                });
            }
        }
        out
    }

    /// V11 toward Services with a known ClusterIP: the Service ports the longest key allows.
    fn lpm_services(
        &mut self,
        e: &Ep,
        counted: &[&LoweredPolicy],
        st: &LpmState,
    ) -> Vec<(u32, PortSet)> {
        let w = self.w;
        let (entries, selectors) = cidr_keys::service_table(w, counted, e);
        let table = Table::new(&entries);
        let mut own: BTreeMap<u32, PortSet> = BTreeMap::new();
        if switches::cluster_ip_egress(&w.profile) {
            for (rule, peer) in selectors {
                for (k, ports) in self.services_for(rule, Some(peer)).iter() {
                    own.entry(*k).or_default().union_with(ports);
                }
            }
        } else {
            for (k, (si, _, _)) in self.services.iter().enumerate() {
                let svc = &w.model.services[*si];
                if let Some(l) = cidr_keys::decide_service(w, counted, e, svc) {
                    own.insert(k as u32, l.allowed());
                }
            }
        }
        let svc_ports = |k: u32| {
            let svc = &w.model.services[self.services[k as usize].0];
            let mut all = PortSet::empty();
            for sp in &svc.ports {
                all.union_with(&PortSet::port(sp.protocol, sp.port));
            }
            all
        };
        let mut res: BTreeMap<u32, PortSet> = BTreeMap::new();
        for (iv, d) in table.pieces() {
            let allowed = d.allowed();
            if allowed.is_empty() {
                continue;
            }
            for k in within(&st.svc_sorted, &iv) {
                if !own.contains_key(&k) {
                    res.insert(k, allowed.intersect(&svc_ports(k)));
                }
            }
        }
        for (k, ports) in own {
            let svc = &w.model.services[self.services[k as usize].0];
            let Some(addr) = svc.cluster_ip else { continue };
            let d = if switches::cluster_ip_egress(&w.profile) {
                table.decide(addr, Some(ports)).allowed()
            } else {
                ports
            };
            res.insert(k, d.intersect(&svc_ports(k)));
        }
        res.into_iter().filter(|(_, p)| !p.is_empty()).collect()
    }
}
