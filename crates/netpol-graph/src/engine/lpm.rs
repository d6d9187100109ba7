//! V11 in the class engine: the entries of a class whose direction has an `except`, from
//! the longest-prefix table of `rules/cidr_keys.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use netpol_manifest::model::Direction;
use rustc_hash::FxHashMap;

use super::{Engine, Entry, EntryPorts, SetRef};
use crate::eval;
use crate::ports::PortSet;
use crate::rules::cidr_keys;
use crate::world::Ep;

impl Engine<'_, '_> {
    /// V11: a direction with an `except` is decided per address by the longest key
    /// ([`cidr_keys`]). Classes with one known address and no node IP are looked up in the
    /// table (the class key holds every CIDR and `except` around the address), the table
    /// and rows shared by classes with the same policies (`rows`); the others, and
    /// Services, go through the per-pair evaluator's rule.
    pub(super) fn lpm_entries(
        &mut self,
        e: &Ep,
        counted: &[&crate::ir::LoweredPolicy],
        dir: Direction,
        rows: &mut FxHashMap<String, Vec<(PortSet, Vec<u32>)>>,
    ) -> Vec<Entry> {
        let w = self.w;
        let n = self.classes.len() as u32;
        let table = cidr_keys::address_table(w, counted, e, dir);
        let row_key = format!(
            "{dir:?}{:?}{:?}",
            counted.iter().map(|p| p.index).collect::<Vec<_>>(),
            table.iter().map(|t| t.skipped).collect::<Vec<_>>()
        );
        let fast = |k: u32| {
            let o = self.rep(k);
            o.carries
                .is_empty()
                .then(|| cidr_keys::address(w, o))
                .flatten()
        };
        if !rows.contains_key(&row_key) {
            let t = cidr_keys::Table::new(&table);
            let mut groups: BTreeMap<PortSet, Vec<u32>> = BTreeMap::new();
            for k in 0..n {
                let Some(addr) = fast(k) else { continue };
                let own = cidr_keys::own_ports(w, counted, e, self.rep(k), dir);
                let ports = t.decide(addr, own).allowed();
                if !ports.is_empty() {
                    groups.entry(ports).or_default().push(k);
                }
            }
            rows.insert(row_key.clone(), groups.into_iter().collect());
        }
        let mut groups: BTreeMap<PortSet, Vec<u32>> = BTreeMap::new();
        for (ports, set) in &rows[&row_key] {
            groups.insert(ports.clone(), set.clone());
        }
        for k in (0..n).filter(|&k| fast(k).is_none()) {
            let other = self.rep(k);
            let ports = match dir {
                Direction::Ingress => eval::ingress(w, e, other).allowed,
                Direction::Egress => eval::egress(w, e, other).allowed,
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
        if dir == Direction::Egress {
            let mut services = Vec::new();
            for (k, (si, _, _)) in self.services.iter().enumerate() {
                let svc = &w.model.services[*si];
                let ports = match cidr_keys::decide_service(w, counted, e, svc) {
                    Some(lpm) => {
                        let mut all = PortSet::empty();
                        for sp in &svc.ports {
                            all.union_with(&PortSet::port(sp.protocol, sp.port));
                        }
                        lpm.allowed().intersect(&all)
                    }
                    None => {
                        let mut r = PortSet::empty();
                        for rule in counted.iter().flat_map(|p| &p.egress) {
                            r.union_with(&eval::service_rule_ports(w, rule, e, svc));
                        }
                        r
                    }
                };
                if !ports.is_empty() {
                    services.push((k as u32, ports));
                }
            }
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
}
