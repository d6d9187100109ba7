//! Endpoints into classes: the key of what rules can tell apart.

use std::collections::{BTreeMap, BTreeSet};

use netpol_manifest::model::{PortRef, Requirement};
use rustc_hash::FxHashMap;

use super::{Cat, Class, Engine, Inverse};
use crate::ip::Block;
use crate::ir::{LoweredPolicy, PeerMatch, PortSpec};
use crate::rules::{family, ident, switches};
use crate::world::{Ep, EpKind, World};

/// What the rules and Services look at, the only facts a class key holds.
struct Seen<'a> {
    /// Label keys that selectors mention.
    vocab: BTreeSet<&'a str>,
    /// Container port names that rules or Service target ports mention.
    port_names: BTreeSet<&'a str>,
    /// Distinct ipBlocks (cidr minus except).
    blocks: Vec<Block>,
    /// V11 may decide somewhere: some ipBlock has an `except` under VPC CNI.
    bleed: bool,
    /// Policies by namespace.
    policies: BTreeMap<&'a str, Vec<&'a LoweredPolicy>>,
}

/// The class key of an endpoint. Two pods share a class when they agree on everything a
/// rule can see: namespace, mentioned labels and named ports, hostNetwork and carried
/// nodes, the ipBlocks their IP falls in (not the IP), and, when some policy selects
/// them (the only case where S10/V4 exempts their nodes), the nodes they run on.
fn key_of(w: &World<'_>, e: &Ep, seen: &Seen<'_>) -> String {
    use std::fmt::Write as _;
    let mut k = String::new();
    match e.kind {
        // A workload's replicas reach each other; a bare pod has no other self.
        EpKind::Workload(_) if e.info.has_replicas() => k.push('R'),
        EpKind::Workload(_) => k.push('P'),
        // Externals and nodes are few; each is its own class.
        EpKind::External(_) | EpKind::Node(_) | EpKind::Service(_) => {
            let _ = write!(k, "X{}", e.info.id);
            return k;
        }
    }
    let ns = e.info.namespace.as_deref().unwrap_or("");
    let _ = write!(k, "\0{ns}\0{}\0{:?}\0", e.host_network, e.carries);
    let shared = ident::shared(w, e);
    let selected = shared.is_some_and(|r| !r.upper.is_empty())
        || (seen.policies.get(ns).into_iter().flatten()).any(|p| w.selects(p, e));
    if let Some(r) = shared {
        // V9: members of one class have one selecting-policy range.
        let _ = write!(k, "I{:?}{:?}\0", r.lower, r.upper);
    }
    if !selected {
        k.push('-');
    } else if !e.runs_on.is_empty() && e.runs_on.len() == w.profile.nodes.len() {
        // Most pods may run on every node: a short key for that (the indices are distinct).
        k.push('*');
    } else {
        let _ = write!(k, "{:?}", e.runs_on);
    }
    for (key, v) in &e.info.labels {
        if seen.vocab.contains(key.as_str()) {
            let _ = write!(k, "\0L{key}={v}");
        }
    }
    for cp in w.container_ports(e) {
        if let Some(name) = cp.name.as_deref().filter(|n| seen.port_names.contains(n)) {
            let _ = write!(k, "\0N{name}/{}/{}", cp.protocol, cp.port);
        }
    }
    for (i, b) in seen.blocks.iter().enumerate() {
        if w.ipblock_matches(b, e) {
            let _ = write!(k, "\0B{i}");
        }
    }
    // V11 decides a pod without a known IP over the pod ranges, one with an IP at its IP.
    if e.info.ip.is_none() && seen.bleed {
        k.push_str("\0?");
    }
    k
}

impl<'w, 'm> Engine<'w, 'm> {
    pub(super) fn new(w: &'w World<'m>) -> Engine<'w, 'm> {
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
        let mut bleed = false;
        for p in &w.policies {
            for r in p.ingress.iter().chain(&p.egress) {
                for peer in r.peers.iter().flatten() {
                    if let PeerMatch::IpBlock { cidr, except, .. } = peer {
                        blocks.push(Block::new(*cidr, except));
                        // V11: the longest key of an address depends on every CIDR and
                        // `except` holding it, not only on the carved-out block.
                        if switches::except_bleed(&w.profile) && !except.is_empty() {
                            bleed = true;
                            blocks.push(Block::new(*cidr, &[]));
                            blocks.extend(except.iter().map(|x| Block::new(*x, &[])));
                            // V15: the key the agent writes for an except of the other family.
                            blocks.extend(
                                (except.iter())
                                    .filter_map(|x| family::except_key(&w.profile, *x).ok())
                                    .map(|k| Block::new(k, &[])),
                            );
                        }
                    }
                }
            }
        }
        blocks.sort();
        blocks.dedup();
        let mut port_names: BTreeSet<&str> = BTreeSet::new();
        let mut policies: BTreeMap<&str, Vec<&LoweredPolicy>> = BTreeMap::new();
        for p in &w.policies {
            policies.entry(p.namespace.as_str()).or_default().push(p);
            for r in p.ingress.iter().chain(&p.egress) {
                for m in r.ports.iter().flatten() {
                    if let PortSpec::Named(name) = &m.port {
                        port_names.insert(name.as_str());
                    }
                }
            }
        }
        for s in &w.model.services {
            for sp in &s.ports {
                if let PortRef::Name(name) = &sp.target_port {
                    port_names.insert(name.as_str());
                }
            }
        }
        let seen = Seen {
            vocab,
            port_names,
            blocks,
            bleed,
            policies,
        };
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
            let key = key_of(w, e, &seen);
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
                    replicas: e.info.has_replicas(),
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
}
