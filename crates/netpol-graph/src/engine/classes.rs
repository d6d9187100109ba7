//! Endpoints into classes: the key of what rules can tell apart.

use std::collections::{BTreeMap, BTreeSet};

use netpol_manifest::model::Requirement;
use rustc_hash::FxHashMap;

use super::{Cat, Class, Engine, Inverse};
use crate::ip::Block;
use crate::ir::PeerMatch;
use crate::world::{Ep, EpKind, World};

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
}
