//! Per class and direction, what policies allow: all, none, or entries over interned
//! class-sets, and their inverse for the join.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use netpol_manifest::model::Direction;
use rustc_hash::FxHashMap;

use super::{Allowance, Cat, Engine, Entry, EntryPorts, Inverse, LoweredEntries, Removal, SetRef};
use crate::ip::Block;
use crate::ir::{LoweredPolicy, LoweredRule, NamespaceScope, PeerMatch, resolve_ports};
use crate::ports::PortSet;
use crate::rules::{cidr_keys, ipblocks};
use crate::rules::{ident, services, switches, vpc};

/// What the allowances are computed from, kept for what-if runs.
pub(super) struct Prep {
    /// Per class: the selecting policies (V9: the upper end of its range) and the lower
    /// end of the range (the same list without sharing).
    pub(super) selecting: Vec<Vec<usize>>,
    pub(super) lower: Vec<Vec<usize>>,
    /// Per policy and direction (ingress, egress), each rule's entries and V2 flag.
    pub(super) lowered: Vec<[Vec<LoweredEntries>; 2]>,
}

impl Engine<'_, '_> {
    /// The namespaces a scope picks, among the keys of `index` (pods or Services by
    /// namespace). An own-namespace scope is a direct lookup, not a scan.
    pub(super) fn scoped_namespaces<'a>(
        &'a self,
        scope: &'a NamespaceScope,
        index: &'a BTreeMap<String, Vec<u32>>,
    ) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        match scope {
            NamespaceScope::Own(ns) => {
                Box::new(index.get_key_value(ns).map(|(k, _)| k).into_iter())
            }
            NamespaceScope::Selector(_) => {
                Box::new(index.keys().filter(move |ns| self.w.in_scope(scope, ns)))
            }
        }
    }

    /// Classes a selector peer matches directly, in class order.
    pub(super) fn direct(&self, peer: &PeerMatch) -> Vec<u32> {
        let PeerMatch::Pods { namespaces, .. } = peer else {
            return Vec::new();
        };
        let mut res: Vec<u32> = self
            .scoped_namespaces(namespaces, &self.by_ns)
            .flat_map(|ns| self.by_ns[ns].iter().copied())
            .filter(|&c| self.w.direct_match(peer, self.rep(c)))
            .collect();
        res.sort_unstable();
        res
    }

    /// The full class-set of a peer (S5, S6, V6) and its directly matched classes.
    pub(super) fn peer_set(
        &mut self,
        peer: &PeerMatch,
        cache: &mut FxHashMap<String, (SetRef, Vec<u32>)>,
    ) -> (SetRef, Vec<u32>) {
        let key = peer.key();
        if let Some(hit) = cache.get(&key) {
            return hit.clone();
        }
        let (members, direct) = match peer {
            PeerMatch::Pods { .. } => {
                let direct = self.direct(peer);
                let mut members = direct.clone();
                if switches::host_network_peers(&self.w.profile) {
                    let nodes: BTreeSet<&str> = direct
                        .iter()
                        .map(|&c| self.rep(c))
                        .filter(|e| e.host_network)
                        .flat_map(|e| e.carries.iter().map(String::as_str))
                        .collect();
                    if !nodes.is_empty() {
                        for c in 0..self.classes.len() as u32 {
                            if self
                                .rep(c)
                                .carries
                                .iter()
                                .any(|k| nodes.contains(k.as_str()))
                            {
                                members.push(c);
                            }
                        }
                    }
                }
                (members, direct)
            }
            PeerMatch::IpBlock { cidr, except, .. } => {
                let b = Block::new(*cidr, except);
                let members = (0..self.classes.len() as u32)
                    .filter(|&c| self.w.ipblock_matches(&b, self.rep(c)))
                    .collect();
                (members, Vec::new())
            }
        };
        let id = self.intern(members);
        let res = (SetRef::Id(id), direct);
        cache.insert(key, res.clone());
        res
    }

    /// V6 with named ports: per node, the ports resolved on the hostNetwork classes the peer
    /// matches directly there.
    pub(super) fn node_ports(
        &self,
        rule: &LoweredRule,
        direct: &[u32],
    ) -> Option<BTreeMap<String, PortSet>> {
        if !switches::host_network_peers(&self.w.profile) {
            return None;
        }
        let mut map: BTreeMap<String, PortSet> = BTreeMap::new();
        for &c in direct {
            let e = self.rep(c);
            if e.host_network {
                let ports = resolve_ports(rule.ports.as_deref(), self.w.container_ports(e));
                for k in &e.carries {
                    map.entry(k.clone()).or_default().union_with(&ports);
                }
            }
        }
        (!map.is_empty()).then_some(map)
    }

    pub(super) fn services_for(
        &mut self,
        rule: &LoweredRule,
        peer: Option<&PeerMatch>,
    ) -> Arc<[(u32, PortSet)]> {
        if !switches::cluster_ip_egress(&self.w.profile) || self.services.is_empty() {
            return Arc::from([]);
        }
        let ports_key: Vec<_> = rule
            .ports
            .iter()
            .flatten()
            .map(|m| (m.protocol, &m.port))
            .collect();
        let rule_key = format!(
            "{}{:?}{ports_key:?}",
            peer.map(PeerMatch::key).unwrap_or_default(),
            rule.ports.is_some()
        );
        if let Some(hit) = self.rule_services.get(&rule_key) {
            return Arc::clone(hit);
        }
        let mut res = Vec::new();
        let candidates: Vec<u32> = match peer {
            Some(PeerMatch::Pods { namespaces, .. }) => {
                let key = namespaces.key();
                if let Some(hit) = self.scope_services.get(&key) {
                    hit.clone()
                } else {
                    let mut list: Vec<u32> = self
                        .scoped_namespaces(namespaces, &self.services_by_ns)
                        .flat_map(|ns| self.services_by_ns[ns].iter().copied())
                        .collect();
                    list.sort_unstable();
                    self.scope_services.insert(key, list.clone());
                    list
                }
            }
            _ => (0..self.services.len() as u32).collect(),
        };
        for k in candidates {
            let svc = &self.w.model.services[self.services[k as usize].0];
            let ports = vpc::service_peer_ports(
                self.w,
                rule,
                peer,
                svc,
                services::Backends::Existing,
                vpc::Addresses::Certain,
            );
            if !ports.is_empty() {
                res.push((k, ports));
            }
        }
        let res: Arc<[(u32, PortSet)]> = res.into();
        self.rule_services.insert(rule_key, Arc::clone(&res));
        res
    }

    /// Per class and direction: all, none, or the entries (S2, V1, V2, V4, V7). Returns
    /// what they were computed from, and the V11 state, for what-if runs.
    pub(super) fn allowances(&mut self) -> (Prep, super::lpm::LpmState) {
        let prep = self.prepare();
        let n = self.classes.len();
        let mut egress = Vec::with_capacity(n);
        let mut ingress = Vec::with_capacity(n);
        let mut lpm = super::lpm::LpmState::default();
        for c in 0..n as u32 {
            for dir in Direction::BOTH {
                // Without a removal every allowance is decided.
                let a = (self.allowance(c, dir, &prep, None, &mut lpm))
                    .unwrap_or_else(|| unreachable!());
                match dir {
                    Direction::Ingress => ingress.push(a),
                    Direction::Egress => egress.push(a),
                }
            }
        }
        self.ingress = ingress;
        self.egress = egress;
        self.invert();
        (prep, lpm)
    }

    /// The selecting policies of every class (V9 ranges) and every rule lowered once.
    fn prepare(&mut self) -> Prep {
        let w = self.w;
        let n = self.classes.len();
        let mut by_ns: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (c, cl) in self.classes.iter().enumerate() {
            if let Some(ns) = &cl.ns {
                by_ns.entry(ns.as_str()).or_default().push(c as u32);
            }
        }
        // Selected classes per policy, and the selecting policies per class.
        let mut selecting: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut subjects_all: Vec<Vec<u32>> = vec![Vec::new(); w.policies.len()];
        for p in &w.policies {
            for &c in by_ns.get(p.namespace.as_str()).into_iter().flatten() {
                let e = self.rep(c);
                if w.subject_matches(p, e) {
                    subjects_all[p.index].push(c);
                    if w.selects(p, e) {
                        selecting[c as usize].push(p.index);
                    }
                }
            }
        }
        // V9: a class that shares an agent pod identifier takes the range of its selecting
        // set (the class key keeps members of different ranges apart).
        let mut lower = selecting.clone();
        for c in 0..n {
            if let Some(r) = ident::shared(w, self.rep(c as u32)) {
                lower[c] = r.lower.clone();
                selecting[c] = r.upper.clone();
            }
        }
        // Lower every rule once: its entries (without the subject; none when V7 drops it),
        // and for a direction missing from `policyTypes` whether it resolves (V2, decided
        // by its home; only there does it matter).
        let mut cache = FxHashMap::default();
        let mut lowered: Vec<[Vec<LoweredEntries>; 2]> = Vec::with_capacity(w.policies.len());
        for p in &w.policies {
            let mut both: [Vec<LoweredEntries>; 2] = [Vec::new(), Vec::new()];
            for (di, dir) in Direction::BOTH.into_iter().enumerate() {
                for (ri, rule) in p.rules(dir).iter().enumerate() {
                    let entries =
                        self.lower_rule(p.index, ri, rule, dir, &subjects_all[p.index], &mut cache);
                    let resolves = !p.policy_types.contains(dir) && vpc::rule_resolves(w, p, rule);
                    both[di].push((entries, resolves));
                }
            }
            lowered.push(both);
        }
        Prep {
            selecting,
            lower,
            lowered,
        }
    }

    /// The allowance of class `c` in `dir`, with `removal` left out of the policies. `None`
    /// when a removal cannot be masked here (a rule inside a V11 table, or a V11 row that
    /// falls back to the per-pair evaluator, which reads every policy).
    pub(super) fn allowance(
        &mut self,
        c: u32,
        dir: Direction,
        prep: &Prep,
        removal: Option<Removal>,
        lpm: &mut super::lpm::LpmState,
    ) -> Option<Allowance> {
        let w = self.w;
        let n = self.classes.len();
        let di = usize::from(dir == Direction::Egress);
        let e = self.rep(c);
        let kept = |list: &[usize]| -> Vec<usize> {
            (list.iter().copied())
                .filter(|&i| !removal.is_some_and(|r| r.drops_policy(i)))
                .collect()
        };
        let sel = kept(&prep.selecting[c as usize]);
        let lower = kept(&prep.lower[c as usize]);
        let lowered = &prep.lowered;
        let drops_rule =
            |i: usize, d: Direction, ri: usize| removal.is_some_and(|r| r.drops_rule(i, d, ri));
        if !w.enforced(e) {
            return Some(Allowance::All);
        }
        if sel.is_empty() {
            return Some(if switches::strict_default_deny(&w.profile) {
                Allowance::None
            } else {
                Allowance::All
            });
        }
        let isolates = |i: usize, d: Direction| {
            w.policies[i].policy_types.contains(d)
                || (switches::unlisted_rules_enforced(&w.profile)
                    && (lowered[i][usize::from(d == Direction::Egress)]
                        .iter()
                        .enumerate())
                    .any(|(ri, r)| r.1 && !drops_rule(i, d, ri)))
        };
        if ident::open_for_some_set(w, &lower, &sel, dir, isolates) {
            return Some(Allowance::All);
        }
        let mut entries = Vec::new();
        let mut exempt = None;
        // A rule left out is left out of a copy of its policy (V11 tables and V12 read
        // every rule of the counted policies); the V11 state keeps the copy.
        let copy = match removal {
            Some(r @ Removal::Rule(i, d, _)) if d == dir && sel.contains(&i) => {
                Some(lpm.without_rule(w, r))
            }
            _ => None,
        };
        let counted: Vec<&LoweredPolicy> = sel
            .iter()
            .map(|&i| match &copy {
                Some(p) if p.index == i => &**p,
                _ => &w.policies[i],
            })
            .filter(|p| {
                switches::unlisted_rules_enforced(&w.profile) || p.policy_types.contains(dir)
            })
            .collect();
        let denied = ipblocks::denied_node(&w.profile, e, counted.iter().copied(), dir);
        if !e.runs_on.is_empty() && switches::exempts_node(&w.profile, dir) && denied.is_none() {
            let names: BTreeSet<&str> = e
                .runs_on
                .iter()
                .map(|&i| w.profile.nodes[i].name.as_str())
                .collect();
            let set: Vec<u32> = (0..n as u32)
                .filter(|&k| {
                    self.rep(k)
                        .carries
                        .iter()
                        .any(|c| names.contains(c.as_str()))
                })
                .collect();
            let id = self.intern(set);
            exempt = Some(Entry {
                set: SetRef::Id(id),
                ports: EntryPorts::Fixed(PortSet::all()),
                services: Arc::from([]),
                block: None,
            });
        }
        for p in &counted {
            let i = p.index;
            for (ri, (rule_entries, _)) in lowered[i][di].iter().enumerate() {
                if drops_rule(i, dir, ri) {
                    continue;
                }
                for en in rule_entries {
                    if en
                        .block
                        .is_some_and(|a| ipblocks::agent_skips(&w.profile, Some(e), a))
                    {
                        continue;
                    }
                    let mut en = en.clone();
                    // Upstream ingress resolves named ports on the target.
                    if dir == Direction::Ingress
                        && let EntryPorts::OnDst { .. } = en.ports
                    {
                        en.ports = EntryPorts::Fixed(resolve_ports(
                            w.policies[i].ingress[ri].ports.as_deref(),
                            w.container_ports(e),
                        ));
                    }
                    entries.push(en);
                }
            }
        }
        if cidr_keys::applies(w, counted.iter().copied(), dir) {
            lpm.masked = removal.is_some();
            // Rows of a copy are its removal's alone.
            lpm.tag = copy
                .as_ref()
                .map(|_| format!("{removal:?}"))
                .unwrap_or_default();
            entries = self.lpm_entries(e, &counted, dir, entries, lpm);
            if std::mem::take(&mut lpm.tainted) {
                return None;
            }
        }
        entries.splice(0..0, exempt);
        if let Some(node) = denied {
            // V12: the node's key denies its address outright.
            let gone: Vec<u32> = (0..n as u32)
                .filter(|&k| self.rep(k).carries.iter().any(|c| c == node))
                .collect();
            for en in &mut entries {
                en.set = self.without(&en.set, &gone);
            }
        }
        Some(Allowance::Entries(entries))
    }

    /// A class-set without the classes `gone` (sorted).
    fn without(&mut self, set: &SetRef, gone: &[u32]) -> SetRef {
        if gone.is_empty() {
            return *set;
        }
        let members: Vec<u32> = match set {
            SetRef::All => (0..self.classes.len() as u32).collect(),
            SetRef::Id(id) => self.sets[*id as usize].clone(),
        };
        let kept: Vec<u32> = members
            .into_iter()
            .filter(|c| gone.binary_search(c).is_err())
            .collect();
        SetRef::Id(self.intern(kept))
    }

    pub(super) fn invert(&mut self) {
        let n = self.classes.len();
        let mut inv = Inverse {
            users: vec![Vec::new(); self.sets.len()],
            member: vec![Vec::new(); n],
            backs: vec![Vec::new(); n],
            ..Inverse::default()
        };
        for (d, a) in self.ingress.iter().enumerate() {
            match a {
                Allowance::All => {
                    inv.open.push(d as u32);
                    if self.classes[d].cat == Cat::Pod {
                        inv.open_pods.push(d as u32);
                    }
                }
                Allowance::None => {}
                Allowance::Entries(entries) => {
                    for en in entries {
                        match en.set {
                            SetRef::All => inv.any_peer.push(d as u32),
                            SetRef::Id(id) => inv.users[id as usize].push(d as u32),
                        }
                    }
                }
            }
        }
        inv.any_peer.dedup();
        for (id, users) in inv.users.iter_mut().enumerate() {
            users.dedup();
            if !users.is_empty() {
                for &c in &self.sets[id] {
                    inv.member[c as usize].push(id as u32);
                }
            }
        }
        for (k, (_, _, backs)) in self.services.iter().enumerate() {
            for &b in backs {
                inv.backs[b as usize].push(k as u32);
            }
        }
        self.inverse = inv;
    }
}
