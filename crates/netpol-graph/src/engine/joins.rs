//! The join: per source class, the destination classes and Services it reaches.

use netpol_manifest::model::PortRef;

use super::{Allowance, Cat, Engine, Entry, EntryPorts, SetRef};
use crate::ir::resolve_ports;
use crate::matrix::PortSets;
use crate::ports::PortSet;
use crate::world::{Ep, World};

impl Engine<'_, '_> {
    /// The classes with open ingress that `s` may reach.
    fn open_for(&self, s: u32) -> &[u32] {
        if self.classes[s as usize].cat == Cat::Pod {
            &self.inverse.open
        } else {
            &self.inverse.open_pods
        }
    }

    /// How many candidates the ingress side of `s` gives.
    pub(super) fn ingress_side_cost(&self, s: u32) -> usize {
        let inv = &self.inverse;
        self.open_for(s).len()
            + inv.any_peer.len()
            + inv.member[s as usize]
                .iter()
                .map(|&id| inv.users[id as usize].len())
                .sum::<usize>()
    }

    /// Calls `f` on every class whose ingress may admit `s` (with repeats).
    pub(super) fn ingress_side(&self, s: u32, mut f: impl FnMut(u32)) {
        let inv = &self.inverse;
        self.open_for(s)
            .iter()
            .chain(&inv.any_peer)
            .for_each(|&c| f(c));
        for &id in &inv.member[s as usize] {
            inv.users[id as usize].iter().for_each(|&c| f(c));
        }
    }

    /// The ports of an entry toward class `dst`.
    pub(super) fn entry_ports(&self, en: &Entry, dst: u32) -> PortSet {
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

    pub(super) fn allowed(&self, a: &Allowance, other: u32) -> PortSet {
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

    pub(super) fn modelled(&self, s: u32, d: u32) -> bool {
        let (a, b) = (&self.classes[s as usize], &self.classes[d as usize]);
        (a.cat == Cat::Pod || b.cat == Cat::Pod) && (s != d || a.members.len() > 1 || a.replicas)
    }

    /// What the egress of `s` and the ingress of `d` both allow (the pair need not be
    /// modelled: see [`Engine::edge`]).
    pub(super) fn pair_ports(&self, s: u32, d: u32) -> PortSet {
        let e = self.allowed(&self.egress[s as usize], d);
        if e.is_empty() {
            return e;
        }
        e.intersect(&self.allowed(&self.ingress[d as usize], s))
    }

    /// The ports of the edge from class `s` to class `d` (empty when the pair is not
    /// modelled): what [`Engine::join`] finds for it.
    pub(super) fn edge(&self, s: u32, d: u32) -> PortSet {
        if !self.modelled(s, d) {
            return PortSet::empty();
        }
        self.pair_ports(s, d)
    }

    /// The class edges from the source classes in `range`: (source class, destination
    /// group, port-set id in `sets`). Groups are the classes, then one per Service.
    pub(super) fn join(
        &self,
        range: std::ops::Range<usize>,
        sets: &mut PortSets,
    ) -> Vec<(u32, u32, u32)> {
        let n = self.classes.len();
        // Inverse of the ingress entries: which destination classes name a source class.
        let mut res = Vec::new();
        let all = sets.id(PortSet::all());
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
                // Open at both ends, the common case in a cluster with few policies: no
                // port-set arithmetic (it allocates) per class pair.
                if let (Allowance::All, Allowance::All) = (eg, &self.ingress[d as usize]) {
                    res.push((s, d, all));
                    continue;
                }
                let ports = self.pair_ports(s, d);
                if ports.is_empty() {
                    continue;
                }
                res.push((s, d, sets.id(ports)));
            }
            if self.classes[s as usize].cat == Cat::Pod {
                self.service_edges(s, sets, &mut res);
            }
        }
        res
    }

    /// V5: edges from class `s` to Services.
    pub(super) fn service_edges(
        &self,
        s: u32,
        sets: &mut PortSets,
        res: &mut Vec<(u32, u32, u32)>,
    ) {
        self.service_edges_among(s, sets, res, &[], None);
    }

    /// [`Engine::service_edges`], where the ingress of the classes `changed` may differ from
    /// what the inverse holds (a what-if run), and only toward the Services `only` (sorted)
    /// when given.
    pub(super) fn service_edges_among(
        &self,
        s: u32,
        sets: &mut PortSets,
        res: &mut Vec<(u32, u32, u32)>,
        changed: &[u32],
        only: Option<&[u32]>,
    ) {
        let group = |k: u32| u32::try_from(self.classes.len()).unwrap_or(u32::MAX) + k;
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
                for &c in changed {
                    cands.extend_from_slice(&self.inverse.backs[c as usize]);
                }
            }
            Allowance::Entries(entries) => {
                for en in entries {
                    cands.extend(en.services.iter().map(|x| x.0));
                }
            }
        }
        cands.sort_unstable();
        cands.dedup();
        if let Some(only) = only {
            cands.retain(|k| only.binary_search(k).is_ok());
        }
        for k in cands {
            let (si, _, backs) = &self.services[k as usize];
            let svc = &self.w.model.services[*si];
            let allowed = match &self.egress[s as usize] {
                Allowance::None => continue,
                Allowance::All => crate::rules::services::offered(svc),
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
                res.push((s, group(k), sets.id(allowed)));
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
            res.push((s, group(k), sets.id(ports)));
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
