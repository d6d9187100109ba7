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
use crate::rules::cidr_facts;
use crate::rules::cidr_keys::{self, Lookup, Table};
use crate::rules::switches;
use crate::world::{Ep, World};

/// Services with the ports an entry admits there.
type ServiceList = Arc<[(u32, PortSet)]>;

/// V11 state shared by the rows of one engine run.
#[derive(Default)]
pub(super) struct LpmState {
    ready: bool,
    kinds: Vec<Lookup>,
    /// Classes with one known address and no node IP, by (family, address).
    sorted: Vec<(bool, u128, u32)>,
    /// Classes decided one by one in every row: node-carrying ones and pods without an IP
    /// looked up over the pod ranges.
    always: Vec<u32>,
    /// Services with a known ClusterIP, by (family, address).
    svc_sorted: Vec<(bool, u128, u32)>,
    /// Pods without an IP looked up over the pod ranges (sorted), and that list interned.
    ranged: Vec<u32>,
    ranged_id: Option<u32>,
    /// Per row: its region, its Services' region and the entries V11 decides.
    rows: FxHashMap<String, (u32, u32, Arc<Vec<Entry>>)>,
    /// Regions by key, and per region the classes (or Services) V11 decides there (sorted).
    region_ids: FxHashMap<String, u32>,
    regions: Vec<Vec<u32>>,
    svc_region_ids: FxHashMap<String, u32>,
    svc_regions: Vec<Vec<u32>>,
    /// A rule entry's set (or Services, by list address) without those, per region.
    reduced: FxHashMap<(SetRef, u32), SetRef>,
    reduced_services: FxHashMap<(usize, u32), ServiceList>,
    peers: FxHashMap<String, (SetRef, Vec<u32>)>,
    /// A what-if run is computing rows (a policy left out of `counted`).
    pub(super) masked: bool,
    /// Set when a row computed in a what-if run fell back to the per-pair evaluator,
    /// which reads every policy of the world: the row is wrong there and not kept.
    pub(super) tainted: bool,
    /// Appended to row keys: the removal when `counted` holds a copy without a rule.
    pub(super) tag: String,
    /// Policies with one rule left out (what-if runs), kept while the state lives: the
    /// world caches V7 unions by rule address (see [`LpmState::forget`]).
    copies: FxHashMap<super::Removal, Arc<LoweredPolicy>>,
}

impl LpmState {
    /// The policy of a rule removal without that rule.
    pub(super) fn without_rule(&mut self, w: &World<'_>, r: super::Removal) -> Arc<LoweredPolicy> {
        let copy = self.copies.entry(r).or_insert_with(|| {
            let mut p = w.policies[r.policy()].clone();
            if let super::Removal::Rule(_, dir, ri) = r {
                match dir {
                    Direction::Ingress => p.ingress.remove(ri),
                    Direction::Egress => p.egress.remove(ri),
                };
            }
            Arc::new(p)
        });
        Arc::clone(copy)
    }

    /// Drops the world's V7 cache entries of the copies' rules (keyed by address, which
    /// a later allocation may reuse), before the copies go.
    pub(super) fn forget(&mut self, w: &World<'_>) {
        if self.copies.is_empty() {
            return;
        }
        if let Ok(mut cache) = w.ingress_union.lock() {
            for p in self.copies.values() {
                for rule in p.ingress.iter().chain(&p.egress) {
                    cache.remove(&(std::ptr::from_ref(rule) as usize));
                }
            }
        }
        self.copies.clear();
    }
}

fn value(a: std::net::IpAddr) -> (bool, u128) {
    let iv = Interval::of_net(ipnet::IpNet::from(a));
    (iv.v6, iv.lo)
}

/// The ids in `sorted` (by family and address) whose address lies in one of `region`.
fn within(sorted: &[(bool, u128, u32)], region: &[ipnet::IpNet]) -> Vec<u32> {
    let mut out = Vec::new();
    for n in region {
        let iv = Interval::of_net(*n);
        let lo = sorted.partition_point(|&(v6, a, _)| (v6, a) < (iv.v6, iv.lo));
        let hi = sorted.partition_point(|&(v6, a, _)| (v6, a) <= (iv.v6, iv.hi));
        out.extend(sorted[lo..hi].iter().map(|&(_, _, id)| id));
    }
    out.sort_unstable();
    out.dedup();
    out
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
                }
                Lookup::Unknown => {}
                Lookup::PodRanges => st.ranged.push(k),
                _ => st.always.push(k),
            }
            st.kinds.push(kind);
        }
        st.sorted.sort_unstable();
        for (k, (si, _, _)) in self.services.iter().enumerate() {
            if let Some(a) = w.model.services[*si].cluster_ip {
                let (v6, x) = value(a);
                st.svc_sorted.push((v6, x, k as u32));
            }
        }
        st.svc_sorted.sort_unstable();
    }

    /// V11: a direction with an `except` is decided per address by the longest key
    /// ([`cidr_keys`]). Outside the table's region (its excepts and the keys they cut,
    /// `cidr_facts::region`) the longest key holds the rules' union, so `rules` (the
    /// direction's entries from the rules, S4/S6) stay for every class and Service there
    /// and for those the agent cannot look up; the others are decided one by one. The node
    /// exemption (V4) and V12 are applied by the caller, as for the rules' entries.
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
        let named = counted.iter().flat_map(|p| p.rules(dir)).any(|r| {
            r.ports
                .iter()
                .flatten()
                .any(|m| matches!(m.port, PortSpec::Named(_)))
        });
        let row_key = format!(
            "{dir:?}{:?}{:?}{}{}",
            counted.iter().map(|p| p.index).collect::<Vec<_>>(),
            cidr_keys::skipped_blocks(w, counted, e, dir),
            if named {
                format!("{:?}", w.container_ports(e))
            } else {
                String::new()
            },
            st.tag
        );
        if !st.rows.contains_key(&row_key) {
            let row = self.lpm_row(e, counted, dir, st);
            if st.tainted {
                return rules;
            }
            st.rows.insert(row_key.clone(), row);
        }
        let (region, svc_region, row) = st.rows[&row_key].clone();
        let mut out = self.reduce_rules(rules, region, svc_region, st);
        out.extend(row.iter().cloned());
        out
    }

    /// The rules' entries without the classes and Services V11 decides in the region.
    fn reduce_rules(
        &mut self,
        rules: Vec<Entry>,
        region: u32,
        svc_region: u32,
        st: &mut LpmState,
    ) -> Vec<Entry> {
        let mut out = Vec::with_capacity(rules.len());
        for mut en in rules {
            let key = (en.set, region);
            en.set = match st.reduced.get(&key) {
                Some(s) => *s,
                None => {
                    let s = self.without_sorted(en.set, &st.regions[region as usize]);
                    st.reduced.insert(key, s);
                    s
                }
            };
            let gone = &st.svc_regions[svc_region as usize];
            if !gone.is_empty() && !en.services.is_empty() {
                let ptr = Arc::as_ptr(&en.services) as *const (u32, PortSet) as usize;
                let kept = st
                    .reduced_services
                    .entry((ptr, svc_region))
                    .or_insert_with(|| {
                        en.services
                            .iter()
                            .filter(|(k, _)| gone.binary_search(k).is_err())
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
        if gone.is_empty() {
            return set;
        }
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

    /// One row: its regions and the entries V11 decides there.
    fn lpm_row(
        &mut self,
        e: &Ep,
        counted: &[&LoweredPolicy],
        dir: Direction,
        st: &mut LpmState,
    ) -> (u32, u32, Arc<Vec<Entry>>) {
        let w = self.w;
        let entries = cidr_keys::address_table(w, counted, e, dir);
        let table = Table::new(&entries);
        let region = cidr_facts::region(&entries);
        let region_key = format!("{region:?}");
        let rid = match st.region_ids.get(&region_key) {
            Some(&id) => id,
            None => {
                // Pods over the pod ranges are decided in every row (`ranged`).
                let mut decided = within(&st.sorted, &region);
                decided.extend(st.always.iter().copied());
                decided.extend(st.ranged.iter().copied());
                decided.sort_unstable();
                decided.dedup();
                let id = st.regions.len() as u32;
                st.regions.push(decided);
                st.region_ids.insert(region_key, id);
                id
            }
        };
        // Classes whose own /32 key a selector peer makes (V6 node IPs included), among
        // the region's: whichever of the two lists is shorter is walked.
        let mut single: FxHashSet<u32> = FxHashSet::default();
        for peer in counted
            .iter()
            .flat_map(|p| p.rules(dir))
            .flat_map(|r| r.peers.iter().flatten())
        {
            if !matches!(peer, PeerMatch::Pods { .. }) {
                continue;
            }
            let (set, _) = self.peer_set(peer, &mut st.peers);
            let SetRef::Id(id) = set else { continue };
            let (members, decided) = (&self.sets[id as usize], &st.regions[rid as usize]);
            if members.len() <= decided.len() {
                single.extend(members.iter().filter(|k| decided.binary_search(k).is_ok()));
            } else {
                single.extend(decided.iter().filter(|k| members.binary_search(k).is_ok()));
            }
        }
        let mut groups: BTreeMap<PortSet, Vec<u32>> = BTreeMap::new();
        // Classes with one address and no own key: per piece of the region that the keys
        // cut, not per class (most of a region is deny-all keys, which add nothing).
        let mut nets = table.key_nets();
        nets.extend(region.iter().copied());
        let inside: Vec<Interval> = region.iter().map(|n| Interval::of_net(*n)).collect();
        for iv in crate::ip::partition(&nets) {
            if !inside
                .iter()
                .any(|r| r.v6 == iv.v6 && r.lo <= iv.lo && iv.hi <= r.hi)
            {
                continue;
            }
            let ports = table.decide(iv.bounds().0, None).allowed();
            if ports.is_empty() {
                continue;
            }
            let lo = (st.sorted).partition_point(|&(v6, a, _)| (v6, a) < (iv.v6, iv.lo));
            let hi = (st.sorted).partition_point(|&(v6, a, _)| (v6, a) <= (iv.v6, iv.hi));
            let ks = st.sorted[lo..hi].iter().map(|&(_, _, k)| k);
            let ks: Vec<u32> = ks.filter(|k| !single.contains(k)).collect();
            if !ks.is_empty() {
                groups.entry(ports).or_default().extend(ks);
            }
        }
        // Pods over the pod ranges without an own key: one decision for all of them.
        let mut out = Vec::new();
        if !st.ranged.is_empty() {
            let addrs = cidr_keys::pod_range_samples(w, &entries);
            let ports = cidr_keys::decide_at(&table, &addrs, false, None)
                .map(|d| d.allowed())
                .unwrap_or_default();
            if !ports.is_empty() {
                let set = if st.ranged.iter().any(|k| single.contains(k)) {
                    let ks = st.ranged.iter().copied().filter(|k| !single.contains(k));
                    self.intern(ks.collect())
                } else if let Some(id) = st.ranged_id {
                    id
                } else {
                    let id = self.intern(st.ranged.clone());
                    st.ranged_id = Some(id);
                    id
                };
                out.push(Entry {
                    set: SetRef::Id(set),
                    ports: EntryPorts::Fixed(ports),
                    services: Arc::from([]),
                    block: None,
                });
            }
        }
        // Node-carrying classes and those with an own key: one by one.
        let mut one_by_one: Vec<u32> = single.iter().copied().collect();
        one_by_one.extend(st.always.iter().copied());
        one_by_one.sort_unstable();
        one_by_one.dedup();
        for k in one_by_one {
            let rep = self.rep(k);
            let own = single
                .contains(&k)
                .then(|| cidr_keys::own_ports(w, counted, e, rep, dir))
                .flatten();
            let d = cidr_keys::samples(w, rep, &entries)
                .and_then(|(addrs, any)| cidr_keys::decide_at(&table, &addrs, any, own.as_ref()));
            let ports = match d {
                Some(d) => d.allowed(),
                // Nothing to look up: the rules' union, as the evaluator does (which reads
                // the world's policies: a what-if run cannot use it).
                None if st.masked => {
                    st.tainted = true;
                    PortSet::empty()
                }
                None => match dir {
                    Direction::Ingress => eval::ingress(w, e, rep).allowed,
                    Direction::Egress => eval::egress(w, e, rep).allowed,
                },
            };
            if !ports.is_empty() {
                groups.entry(ports).or_default().push(k);
            }
        }
        for (ports, set) in groups {
            let id = self.intern(set);
            out.push(Entry {
                set: SetRef::Id(id),
                ports: EntryPorts::Fixed(ports),
                services: Arc::from([]),
                block: None,
            });
        }
        let mut sid = self.svc_region(String::new(), Vec::new(), st);
        if dir == Direction::Egress
            && !st.svc_sorted.is_empty()
            && switches::cluster_ip_egress(&w.profile)
        {
            let (services, id) = self.lpm_services(e, counted, st);
            sid = id;
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
        (rid, sid, Arc::new(out))
    }

    fn svc_region(&mut self, key: String, decided: Vec<u32>, st: &mut LpmState) -> u32 {
        if let Some(&id) = st.svc_region_ids.get(&key) {
            return id;
        }
        let id = st.svc_regions.len() as u32;
        st.svc_regions.push(decided);
        st.svc_region_ids.insert(key, id);
        id
    }

    /// V11 toward Services whose ClusterIP lies in the region of `e`'s egress table toward
    /// ClusterIPs: the Service ports the longest key allows; and that region's key.
    fn lpm_services(
        &mut self,
        e: &Ep,
        counted: &[&LoweredPolicy],
        st: &mut LpmState,
    ) -> (Vec<(u32, PortSet)>, u32) {
        let w = self.w;
        let (entries, selectors) = cidr_keys::service_table(w, counted, e);
        let region = cidr_facts::region(&entries);
        let key = format!("{region:?}");
        let decided = within(&st.svc_sorted, &region);
        let sid = self.svc_region(key, decided.clone(), st);
        if decided.is_empty() {
            return (Vec::new(), sid);
        }
        let table = Table::new(&entries);
        let mut own: BTreeMap<u32, PortSet> = BTreeMap::new();
        for (rule, peer) in selectors {
            let list: Vec<(u32, PortSet)> = if switches::cluster_ip_egress(&w.profile) {
                self.services_for(rule, Some(peer)).to_vec()
            } else {
                Vec::new()
            };
            for (k, ports) in list {
                own.entry(k).or_default().union_with(&ports);
            }
        }
        let mut res = Vec::new();
        for k in decided {
            let svc = &w.model.services[self.services[k as usize].0];
            let Some(addr) = svc.cluster_ip else { continue };
            let all = crate::rules::services::offered(svc);
            let ports = table.decide(addr, own.get(&k).cloned()).allowed();
            let ports = ports.intersect(&all);
            if !ports.is_empty() {
                res.push((k, ports));
            }
        }
        (res, sid)
    }
}
