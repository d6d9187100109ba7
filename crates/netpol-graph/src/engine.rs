//! The class-compressed matrix engine.
//!
//! Endpoints that no rule can tell apart (same namespace, same labels on the keys that
//! selectors mention, same named ports, same ipBlock matches, hostNetwork and node) form
//! one class. Per class and direction the engine computes an allowance: everything,
//! nothing, or a list of entries (an interned peer class-set, ports, provenance). It then
//! walks the sparse side of each source class (its egress entries, or the ingress entries
//! that name it, whichever is smaller) and intersects. Peer sets are interned, so a
//! `namespaceSelector: {}` peer is materialised once, not per rule and target.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use netpol_manifest::model::{Direction, PortRef, Requirement};
use rustc_hash::FxHashMap;

use crate::ip::Block;
use crate::ir::{LoweredRule, NamespaceScope, PeerMatch, PortSpec, numeric_ports, resolve_ports};
use crate::ports::PortSet;
use crate::vpc;
use crate::world::{Ep, EpKind, World};

/// A class-set: every class, or an interned sorted list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetRef {
    All,
    Id(u32),
}

/// How an entry's ports depend on the other end.
#[derive(Clone, Debug)]
enum EntryPorts {
    Fixed(PortSet),
    /// Named ports resolved on the destination class (egress, or upstream in general);
    /// under V6 the node map gives the ports toward classes carrying a node's IP.
    OnDst {
        rule: (usize, usize),
        node_ports: Option<BTreeMap<String, PortSet>>,
    },
}

#[derive(Clone, Debug)]
struct Entry {
    set: SetRef,
    ports: EntryPorts,
    /// V5: Services this entry allows, with the Service ports (sorted by Service index).
    /// Shared: an address peer can admit thousands of Services, and entries are cloned
    /// per class.
    services: Arc<[(u32, PortSet)]>,
}

/// The entries of one rule, and whether it resolves to an agent entry (V2).
type LoweredEntries = (Vec<Entry>, bool);

#[derive(Clone, Debug)]
enum Allowance {
    All,
    None,
    Entries(Vec<Entry>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cat {
    Pod,
    External,
    Node,
}

#[derive(Debug)]
struct Class {
    members: Vec<u32>,
    rep: u32,
    cat: Cat,
    ns: Option<String>,
}

struct Engine<'w, 'm> {
    w: &'w World<'m>,
    classes: Vec<Class>,
    sets: Vec<Vec<u32>>,
    set_ids: FxHashMap<Vec<u32>, u32>,
    egress: Vec<Allowance>,
    ingress: Vec<Allowance>,
    /// Services (model index, endpoint index, backend classes).
    services: Vec<(usize, u32, Vec<u32>)>,
    /// The inverse of the ingress entries, to find the destinations that admit a source.
    inverse: Inverse,
    /// Pod classes by namespace.
    by_ns: BTreeMap<String, Vec<u32>>,
    /// Services (indices into `services`) by namespace.
    services_by_ns: BTreeMap<String, Vec<u32>>,
    /// Selectorless Services (indices into `services`): open egress reaches them directly.
    selectorless: Vec<u32>,
    /// The Services of the namespaces a scope picks, by scope.
    scope_services: FxHashMap<String, Vec<u32>>,
    /// `services_for` results by (peer, ports): policies often repeat the same rule.
    rule_services: FxHashMap<String, Arc<[(u32, PortSet)]>>,
}

/// Which destination classes can admit a source class.
#[derive(Debug, Default)]
struct Inverse {
    /// Classes whose ingress allows everything.
    open: Vec<u32>,
    /// Classes with an ingress entry for every peer.
    any_peer: Vec<u32>,
    /// Per interned set: the classes with an ingress entry on it.
    users: Vec<Vec<u32>>,
    /// Per class: the interned sets (with users) that contain it.
    member: Vec<Vec<u32>>,
    /// Per class: the Services it backs.
    backs: Vec<Vec<u32>>,
}

impl std::fmt::Debug for Engine<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("classes", &self.classes.len())
            .finish()
    }
}

/// Computes every connection, sorted by (from, to) endpoint index.
pub(crate) fn connections(w: &World<'_>) -> Vec<(u32, u32, PortSet)> {
    let mut eng = Engine::new(w);
    eng.allowances();
    let n = eng.classes.len();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = n.div_ceil(threads).max(1);
    let eng = &eng;
    let mut parts: Vec<Vec<(u32, u32, PortSet)>> = Vec::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| scope.spawn(move || eng.join(start..(start + chunk).min(n))))
            .collect();
        for h in handles {
            // A panicking worker is a bug; its part is lost rather than aborting.
            parts.push(h.join().unwrap_or_default());
        }
    });
    let mut res: Vec<(u32, u32, PortSet)> = parts.into_iter().flatten().collect();
    res.sort_unstable_by_key(|&(a, b, _)| (a, b));
    res
}

fn key_of(w: &World<'_>, e: &Ep, vocab: &BTreeSet<&str>, blocks: &[Block]) -> String {
    use std::fmt::Write as _;
    let mut k = String::new();
    match e.kind {
        EpKind::Workload(_) => k.push('P'),
        // Externals and nodes are few; each is its own class.
        EpKind::External(_) | EpKind::Node(_) | EpKind::Service(_) => {
            let _ = write!(k, "X{}", e.info.id);
            return k;
        }
    }
    let _ = write!(
        k,
        "\0{}\0{}\0{:?}\0",
        e.info.namespace.as_deref().unwrap_or(""),
        e.host_network,
        e.carries,
    );
    // Most pods may run on every node: a short key for that (the indices are distinct).
    if !e.runs_on.is_empty() && e.runs_on.len() == w.profile.nodes.len() {
        k.push('*');
    } else {
        let _ = write!(k, "{:?}", e.runs_on);
    }
    for (key, v) in &e.info.labels {
        if vocab.contains(key.as_str()) {
            let _ = write!(k, "\0L{key}={v}");
        }
    }
    for cp in w.container_ports(e) {
        if let Some(name) = &cp.name {
            let _ = write!(k, "\0N{name}/{}/{}", cp.protocol, cp.port);
        }
    }
    for (i, b) in blocks.iter().enumerate() {
        if w.ipblock_matches(b, e) {
            let _ = write!(k, "\0B{i}");
        }
    }
    k
}

impl<'w, 'm> Engine<'w, 'm> {
    fn new(w: &'w World<'m>) -> Engine<'w, 'm> {
        let mut vocab: BTreeSet<&str> = BTreeSet::new();
        let mut add = |reqs: &'m [Requirement]| {
            for r in reqs {
                vocab.insert(r.key.as_str());
            }
        };
        for p in &w.model.policies {
            add(&p.pod_selector.requirements);
            for r in p.ingress.iter().chain(&p.egress) {
                for peer in &r.peers {
                    if let netpol_manifest::model::Peer::Pods {
                        pod_selector: Some(s),
                        ..
                    } = peer
                    {
                        add(&s.requirements);
                    }
                }
            }
        }
        for s in &w.model.services {
            for k in s.selector.iter().flatten() {
                vocab.insert(k.0.as_str());
            }
        }
        let mut blocks: Vec<Block> = Vec::new();
        for p in &w.policies {
            for r in p.ingress.iter().chain(&p.egress) {
                for peer in r.peers.iter().flatten() {
                    if let PeerMatch::IpBlock { cidr, except, .. } = peer {
                        blocks.push(Block::new(*cidr, except));
                    }
                }
            }
        }
        blocks.sort();
        blocks.dedup();
        let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
        let mut classes: Vec<Class> = Vec::new();
        let mut services = Vec::new();
        let mut ep_class = vec![u32::MAX; w.eps.len()];
        for (i, e) in w.eps.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            if let EpKind::Service(si) = e.kind {
                services.push((si, idx, Vec::new()));
                continue;
            }
            let key = key_of(w, e, &vocab, &blocks);
            let next = classes.len();
            let c = *by_key.entry(key).or_insert(next);
            if c == next {
                classes.push(Class {
                    members: Vec::new(),
                    rep: idx,
                    cat: match e.kind {
                        EpKind::Workload(_) => Cat::Pod,
                        EpKind::Node(_) => Cat::Node,
                        _ => Cat::External,
                    },
                    ns: e.info.namespace.clone(),
                });
            }
            classes[c].members.push(idx);
            ep_class[i] = c as u32;
        }
        let mut eng = Engine {
            w,
            classes,
            sets: Vec::new(),
            set_ids: FxHashMap::default(),
            egress: Vec::new(),
            ingress: Vec::new(),
            services,
            inverse: Inverse::default(),
            by_ns: BTreeMap::new(),
            services_by_ns: BTreeMap::new(),
            selectorless: Vec::new(),
            scope_services: FxHashMap::default(),
            rule_services: FxHashMap::default(),
        };
        for (c, cl) in eng.classes.iter().enumerate() {
            if let (Cat::Pod, Some(ns)) = (cl.cat, &cl.ns) {
                eng.by_ns.entry(ns.clone()).or_default().push(c as u32);
            }
        }
        for (k, (si, _, _)) in eng.services.iter().enumerate() {
            let ns = &w.model.services[*si].namespace;
            if w.model.services[*si].selector.is_none() {
                eng.selectorless.push(k as u32);
            }
            eng.services_by_ns
                .entry(ns.clone())
                .or_default()
                .push(k as u32);
        }
        for s in 0..eng.services.len() {
            let mut backs: Vec<u32> = w.backends[eng.services[s].0]
                .iter()
                .map(|&e| ep_class[e])
                .filter(|&c| c != u32::MAX)
                .collect();
            backs.sort_unstable();
            backs.dedup();
            eng.services[s].2 = backs;
        }
        eng
    }

    fn rep(&self, c: u32) -> &'w Ep {
        &self.w.eps[self.classes[c as usize].rep as usize]
    }

    fn intern(&mut self, mut set: Vec<u32>) -> u32 {
        set.sort_unstable();
        set.dedup();
        if let Some(&id) = self.set_ids.get(&set) {
            return id;
        }
        let id = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        self.sets.push(set.clone());
        self.set_ids.insert(set, id);
        id
    }

    fn contains(&self, set: SetRef, c: u32) -> bool {
        match set {
            SetRef::All => true,
            SetRef::Id(id) => self.sets[id as usize].binary_search(&c).is_ok(),
        }
    }

    /// The namespaces a scope picks, among the keys of `index` (pods or Services by
    /// namespace). An own-namespace scope is a direct lookup, not a scan.
    fn scoped_namespaces<'a>(
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
    fn direct(&self, peer: &PeerMatch) -> Vec<u32> {
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
    fn peer_set(
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
                if self.w.profile.flags.host_network_peers {
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
    fn node_ports(&self, rule: &LoweredRule, direct: &[u32]) -> Option<BTreeMap<String, PortSet>> {
        if !self.w.profile.flags.host_network_peers {
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

    fn services_for(
        &mut self,
        rule: &LoweredRule,
        peer: Option<&PeerMatch>,
    ) -> Arc<[(u32, PortSet)]> {
        if !self.w.profile.flags.cluster_ip_egress || self.services.is_empty() {
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
                vpc::Backends::Existing,
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

    /// Per class and direction: all, none, or the entries (S2, V1, V2, V4, V7).
    fn allowances(&mut self) {
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
        // Lower every rule once: its entries (without the subject), whether it resolves
        // (V2), and whether it was dropped (V7).
        let mut cache = FxHashMap::default();
        let mut lowered: Vec<[Vec<LoweredEntries>; 2]> = Vec::with_capacity(w.policies.len());
        for p in &w.policies {
            let mut both: [Vec<LoweredEntries>; 2] = [Vec::new(), Vec::new()];
            for (di, dir) in Direction::BOTH.into_iter().enumerate() {
                for (ri, rule) in p.rules(dir).iter().enumerate() {
                    let r =
                        self.lower_rule(p.index, ri, rule, dir, &subjects_all[p.index], &mut cache);
                    both[di].push(r);
                }
            }
            lowered.push(both);
        }
        let mut egress = Vec::with_capacity(n);
        let mut ingress = Vec::with_capacity(n);
        for (c, sel) in selecting.iter().enumerate() {
            let e = self.rep(c as u32);
            for (di, dir) in Direction::BOTH.into_iter().enumerate() {
                let a = if !w.enforced(e) {
                    Allowance::All
                } else if sel.is_empty() {
                    if vpc::strict_default_deny(&w.profile) {
                        Allowance::None
                    } else {
                        Allowance::All
                    }
                } else {
                    let listed = sel
                        .iter()
                        .any(|&i| w.policies[i].policy_types.contains(dir));
                    let by_rules = w.profile.flags.rules_outside_policy_types
                        && sel.iter().any(|&i| lowered[i][di].iter().any(|r| r.1));
                    if !listed && !by_rules {
                        Allowance::All
                    } else {
                        let mut entries = Vec::new();
                        if !e.runs_on.is_empty() && w.profile.flags.exempts_node(dir) {
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
                            entries.push(Entry {
                                set: SetRef::Id(id),
                                ports: EntryPorts::Fixed(PortSet::all()),
                                services: Arc::from([]),
                            });
                        }
                        for &i in sel {
                            let p = &w.policies[i];
                            if !w.profile.flags.rules_outside_policy_types
                                && !p.policy_types.contains(dir)
                            {
                                continue;
                            }
                            for (ri, (rule_entries, _)) in lowered[i][di].iter().enumerate() {
                                for en in rule_entries {
                                    let mut en = en.clone();
                                    // Upstream ingress resolves named ports on the target.
                                    if dir == Direction::Ingress
                                        && let EntryPorts::OnDst { .. } = en.ports
                                    {
                                        en.ports = EntryPorts::Fixed(resolve_ports(
                                            p.ingress[ri].ports.as_deref(),
                                            w.container_ports(e),
                                        ));
                                    }
                                    entries.push(en);
                                }
                            }
                        }
                        Allowance::Entries(entries)
                    }
                };
                match dir {
                    Direction::Ingress => ingress.push(a),
                    Direction::Egress => egress.push(a),
                }
            }
        }
        self.ingress = ingress;
        self.egress = egress;
        self.invert();
    }

    fn invert(&mut self) {
        let n = self.classes.len();
        let mut inv = Inverse {
            users: vec![Vec::new(); self.sets.len()],
            member: vec![Vec::new(); n],
            backs: vec![Vec::new(); n],
            ..Inverse::default()
        };
        for (d, a) in self.ingress.iter().enumerate() {
            match a {
                Allowance::All => inv.open.push(d as u32),
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

    /// How many candidates the ingress side of `s` gives.
    fn ingress_side_cost(&self, s: u32) -> usize {
        let inv = &self.inverse;
        inv.open.len()
            + inv.any_peer.len()
            + inv.member[s as usize]
                .iter()
                .map(|&id| inv.users[id as usize].len())
                .sum::<usize>()
    }

    /// Calls `f` on every class whose ingress may admit `s` (with repeats).
    fn ingress_side(&self, s: u32, mut f: impl FnMut(u32)) {
        let inv = &self.inverse;
        inv.open.iter().chain(&inv.any_peer).for_each(|&c| f(c));
        for &id in &inv.member[s as usize] {
            inv.users[id as usize].iter().for_each(|&c| f(c));
        }
    }

    /// The entries of one rule and whether it resolves to at least one agent entry (V2).
    fn lower_rule(
        &mut self,
        policy: usize,
        ri: usize,
        rule: &LoweredRule,
        dir: Direction,
        subjects: &[u32],
        cache: &mut FxHashMap<String, (SetRef, Vec<u32>)>,
    ) -> LoweredEntries {
        let w = self.w;
        let vpc_named = w.profile.flags.named_ports_vpc;
        let has_named = rule
            .ports
            .iter()
            .flatten()
            .any(|m| matches!(m.port, PortSpec::Named(_)));
        let on_dst = |node_ports| {
            if has_named {
                EntryPorts::OnDst {
                    rule: (policy, ri),
                    node_ports,
                }
            } else {
                EntryPorts::Fixed(numeric_ports(rule.ports.as_deref()))
            }
        };
        let mut entries = Vec::new();
        let mut resolves = false;
        match dir {
            Direction::Ingress => {
                let fixed = if vpc_named {
                    // V7: the union over every subject, hostNetwork included.
                    let mut ports = numeric_ports(rule.ports.as_deref());
                    if has_named {
                        for &c in subjects {
                            ports.union_with(&resolve_ports(
                                rule.ports.as_deref(),
                                w.container_ports(self.rep(c)),
                            ));
                        }
                    }
                    if ports.is_empty() {
                        return (entries, false);
                    }
                    Some(ports)
                } else {
                    None
                };
                let ports = fixed.map_or_else(|| on_dst(None), EntryPorts::Fixed);
                match &rule.peers {
                    None => {
                        resolves = true;
                        entries.push(Entry {
                            set: SetRef::All,
                            ports,
                            services: Arc::from([]),
                        });
                    }
                    Some(peers) => {
                        for peer in peers {
                            let (set, direct) = self.peer_set(peer, cache);
                            resolves |=
                                matches!(peer, PeerMatch::IpBlock { .. }) || !direct.is_empty();
                            entries.push(Entry {
                                set,
                                ports: ports.clone(),
                                services: Arc::from([]),
                            });
                        }
                    }
                }
            }
            Direction::Egress => {
                let numeric = numeric_ports(rule.ports.as_deref());
                let cidr_ports = || {
                    if vpc_named {
                        EntryPorts::Fixed(numeric.clone())
                    } else {
                        on_dst(None)
                    }
                };
                match &rule.peers {
                    None => {
                        if vpc_named && numeric.is_empty() {
                            return (entries, false);
                        }
                        resolves = !numeric.is_empty();
                        entries.push(Entry {
                            set: SetRef::All,
                            ports: cidr_ports(),
                            services: self.services_for(rule, None),
                        });
                    }
                    Some(peers) => {
                        for peer in peers {
                            let (set, direct) = self.peer_set(peer, cache);
                            let services = self.services_for(rule, Some(peer));
                            let ports = match peer {
                                PeerMatch::IpBlock { .. } => {
                                    resolves |= !numeric.is_empty();
                                    cidr_ports()
                                }
                                PeerMatch::Pods { .. } => {
                                    resolves |= !services.is_empty()
                                        || direct.iter().any(|&c| {
                                            !resolve_ports(
                                                rule.ports.as_deref(),
                                                w.container_ports(self.rep(c)),
                                            )
                                            .is_empty()
                                        });
                                    on_dst(if has_named {
                                        self.node_ports(rule, &direct)
                                    } else {
                                        None
                                    })
                                }
                            };
                            entries.push(Entry {
                                set,
                                ports,
                                services,
                            });
                        }
                    }
                }
            }
        }
        (
            entries,
            resolves && w.profile.flags.rules_outside_policy_types,
        )
    }

    /// The ports of an entry toward class `dst`.
    fn entry_ports(&self, en: &Entry, dst: u32) -> PortSet {
        match &en.ports {
            EntryPorts::Fixed(p) => p.clone(),
            EntryPorts::OnDst { rule, node_ports } => {
                let e = self.rep(dst);
                if let Some(map) = node_ports {
                    let mut at_nodes = e.carries.iter().filter_map(|k| map.get(k)).peekable();
                    if at_nodes.peek().is_some() {
                        let mut res = PortSet::empty();
                        at_nodes.for_each(|p| res.union_with(p));
                        return res;
                    }
                }
                let r = &self.w.policies[rule.0].egress[rule.1];
                resolve_ports(r.ports.as_deref(), self.w.container_ports(e))
            }
        }
    }

    fn allowed(&self, a: &Allowance, other: u32) -> PortSet {
        match a {
            Allowance::All => PortSet::all(),
            Allowance::None => PortSet::empty(),
            Allowance::Entries(entries) => {
                let mut res = PortSet::empty();
                for en in entries {
                    if self.contains(en.set, other) {
                        res.union_with(&self.entry_ports(en, other));
                    }
                }
                res
            }
        }
    }

    fn modelled(&self, s: u32, d: u32) -> bool {
        let (a, b) = (&self.classes[s as usize], &self.classes[d as usize]);
        (a.cat == Cat::Pod || b.cat == Cat::Pod) && (s != d || a.members.len() > 1)
    }

    fn join(&self, range: std::ops::Range<usize>) -> Vec<(u32, u32, PortSet)> {
        let n = self.classes.len();
        // Inverse of the ingress entries: which destination classes name a source class.
        let mut res = Vec::new();
        let mut seen = vec![false; n];
        let mut cand: Vec<u32> = Vec::new();
        for s in range {
            let s = s as u32;
            let eg = &self.egress[s as usize];
            if matches!(eg, Allowance::None) {
                continue;
            }
            cand.clear();
            let mut push = |c: u32, cand: &mut Vec<u32>| {
                if !seen[c as usize] {
                    seen[c as usize] = true;
                    cand.push(c);
                }
            };
            // The candidates are the smaller of the two sides: destinations the egress
            // entries name, or destinations whose ingress may admit `s`. An entry that
            // admits every class names no candidates, so only the ingress side is complete.
            let egress_cost: Option<usize> = match eg {
                Allowance::Entries(entries) => entries
                    .iter()
                    .map(|e| match e.set {
                        SetRef::All => None,
                        SetRef::Id(id) => Some(self.sets[id as usize].len()),
                    })
                    .sum(),
                _ => None,
            };
            match eg {
                Allowance::Entries(entries)
                    if egress_cost.is_some_and(|cost| cost <= self.ingress_side_cost(s)) =>
                {
                    for en in entries {
                        if let SetRef::Id(id) = en.set {
                            for &c in &self.sets[id as usize] {
                                push(c, &mut cand);
                            }
                        }
                    }
                }
                _ => self.ingress_side(s, |c| push(c, &mut cand)),
            }
            for &c in &cand {
                seen[c as usize] = false;
            }
            cand.sort_unstable();
            for &d in &cand {
                if !self.modelled(s, d) {
                    continue;
                }
                let e = self.allowed(eg, d);
                if e.is_empty() {
                    continue;
                }
                let ports = e.intersect(&self.allowed(&self.ingress[d as usize], s));
                if ports.is_empty() {
                    continue;
                }
                self.expand(s, d, &ports, &mut res);
            }
            if self.classes[s as usize].cat == Cat::Pod {
                self.service_edges(s, &mut res);
            }
        }
        res
    }

    fn expand(&self, s: u32, d: u32, ports: &PortSet, res: &mut Vec<(u32, u32, PortSet)>) {
        for &a in &self.classes[s as usize].members {
            for &b in &self.classes[d as usize].members {
                if a != b {
                    res.push((a, b, ports.clone()));
                }
            }
        }
    }

    /// V5: edges from class `s` to Services.
    fn service_edges(&self, s: u32, res: &mut Vec<(u32, u32, PortSet)>) {
        // Candidates: the Services the egress entries name, or (egress open) those backed
        // by a class whose ingress may admit `s`, or by `s` itself (hairpin).
        let mut cands: Vec<u32> = Vec::new();
        match &self.egress[s as usize] {
            Allowance::None => return,
            Allowance::All => {
                cands.extend_from_slice(&self.inverse.backs[s as usize]);
                self.ingress_side(s, |c| {
                    cands.extend_from_slice(&self.inverse.backs[c as usize]);
                });
                cands.extend_from_slice(&self.selectorless);
            }
            Allowance::Entries(entries) => {
                for en in entries {
                    cands.extend(en.services.iter().map(|x| x.0));
                }
            }
        }
        cands.sort_unstable();
        cands.dedup();
        for k in cands {
            let (si, ep, backs) = &self.services[k as usize];
            let svc = &self.w.model.services[*si];
            let allowed = match &self.egress[s as usize] {
                Allowance::None => continue,
                Allowance::All => {
                    let mut all = PortSet::empty();
                    for sp in &svc.ports {
                        all.union_with(&PortSet::port(sp.protocol, sp.port));
                    }
                    all
                }
                Allowance::Entries(entries) => {
                    let mut all = PortSet::empty();
                    for en in entries {
                        if let Ok(i) = en.services.binary_search_by_key(&k, |x| x.0) {
                            all.union_with(&en.services[i].1);
                        }
                    }
                    all
                }
            };
            if allowed.is_empty() {
                continue;
            }
            // A selectorless Service's endpoints are not pods in the model (the API
            // server's, or manual EndpointSlices): nothing enforces ingress there.
            if svc.selector.is_none() {
                for &a in &self.classes[s as usize].members {
                    res.push((a, *ep, allowed.clone()));
                }
                continue;
            }
            let mut ports = PortSet::empty();
            for sp in &svc.ports {
                if !allowed.contains(sp.protocol, sp.port) {
                    continue;
                }
                // Hairpin: every member of `s` backs the Service itself, and a pod always
                // admits itself (S1).
                let ok = backs.iter().any(|&b| {
                    target(self.w, &sp.target_port, sp.protocol, self.rep(b)).is_some_and(|t| {
                        b == s
                            || self
                                .allowed(&self.ingress[b as usize], s)
                                .contains(sp.protocol, t)
                    })
                });
                if ok {
                    ports.union_with(&PortSet::port(sp.protocol, sp.port));
                }
            }
            if ports.is_empty() {
                continue;
            }
            for &a in &self.classes[s as usize].members {
                res.push((a, *ep, ports.clone()));
            }
        }
    }
}

fn target(
    w: &World<'_>,
    tp: &PortRef,
    proto: netpol_manifest::model::Protocol,
    backend: &Ep,
) -> Option<u16> {
    match tp {
        PortRef::Number(n) => Some(*n),
        PortRef::Name(name) => w
            .container_ports(backend)
            .iter()
            .find(|cp| cp.protocol == proto && cp.name.as_deref() == Some(name.as_str()))
            .map(|cp| cp.port),
    }
}
