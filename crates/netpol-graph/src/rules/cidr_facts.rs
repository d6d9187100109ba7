//! V11 facts for `verify` (netpol-smt's `encode/bleed.rs`): where the longest-prefix table
//! of [`super::cidr_keys`] may decide otherwise than the rules' union, and the graph's exact
//! verdicts where it knows the addresses. No rule is decided here: it calls `cidr_keys`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use netpol_manifest::model::Direction;

use crate::ir::{LoweredPolicy, PortSpec};
use crate::ports::PortSet;
use crate::world::{Ep, EpKind, World};

use super::cidr_keys::{
    KeyEntry, KeyPorts, Lookup, Table, address_table, applies, decide_service, lookup, own_ports,
    rule_entries,
};
use super::switches;

/// V11 for `verify`: the addresses where the table may decide otherwise than the union of
/// S4/S6: every `except`, and every key whose inheritance from a containing key an except
/// of that key cuts. Elsewhere the longest key holds the union of its containing entries.
pub(crate) fn region(entries: &[KeyEntry]) -> Vec<IpNet> {
    let mut pooled: BTreeMap<IpNet, Vec<IpNet>> = BTreeMap::new();
    let mut out: Vec<IpNet> = Vec::new();
    for e in entries {
        out.extend(e.except.iter().map(IpNet::trunc));
        if !e.skipped {
            let ex = pooled.entry(e.cidr.trunc()).or_default();
            ex.extend(e.except.iter().map(IpNet::trunc));
        }
    }
    for k in pooled.keys() {
        let first = k.network();
        let cut = pooled.iter().any(|(c, ex)| {
            c.prefix_len() < k.prefix_len()
                && c.contains(&first)
                && ex.iter().any(|x| x.contains(&first))
        });
        if cut {
            out.push(*k);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The address entries (ipBlocks and omitted peers) of `dir` rules of `policies`, ports
/// left out: what [`region`] needs.
fn address_entries<'a>(
    w: &World<'_>,
    policies: impl IntoIterator<Item = &'a LoweredPolicy>,
    at: Option<&Ep>,
    dir: Direction,
) -> Vec<KeyEntry> {
    let mut out = Vec::new();
    for p in policies {
        for rule in p.rules(dir) {
            rule_entries(w, rule, at, &PortSet::empty(), &mut out);
        }
    }
    out
}

/// V11 facts for `verify`: per enforced model endpoint and direction with an `except`, the
/// [`region`] of its table; and per direction the region of every policy's entries pooled,
/// a superset of the region of any pod (for pods created later).
pub(crate) fn bleed_facts(w: &World<'_>) -> ExceptBleed {
    let mut res = ExceptBleed::default();
    if !switches::except_bleed(&w.profile) {
        return res;
    }
    let mut pairs_left = EXACT_PAIRS;
    let mut counted = Counted::new(w);
    // Endpoints the agent can look up: the exact pairs range over them.
    let lookupable: Vec<&Ep> = (w.eps.iter())
        .filter(|o| !matches!(o.kind, EpKind::Service(_)) && lookup(w, o) != Lookup::Unknown)
        .collect();
    // Pods with one policy set, nodes and (for named ports) container ports have one table
    // and one region: decide them once (the table scans every pod for /32 keys).
    let mut shared: BTreeMap<_, Option<Shared>> = BTreeMap::new();
    let services: Vec<(String, PortSet)> = (w.model.services.iter())
        .map(|svc| {
            let all = super::services::offered(svc);
            (format!("{}/{}", svc.namespace, svc.name), all)
        })
        .collect();
    for (di, dir) in Direction::BOTH.into_iter().enumerate() {
        if applies(w, &w.policies, dir) {
            res.any[di] = region(&address_entries(w, &w.policies, None, dir));
        }
        for e in w.eps.iter().filter(|e| e.is_pod()) {
            let counted = counted.get(w, e, dir);
            if !applies(w, counted.iter().copied(), dir) {
                continue;
            }
            let key = share_key(w, &counted, e, di);
            let Some(sh) = shared
                .entry(key)
                .or_insert_with(|| Shared::new(w, &services, &counted, e, dir))
                .clone()
            else {
                continue;
            };
            // Exact verdicts toward existing endpoints with one known address, within a
            // budget (beyond it those pairs stay `unknown`).
            let mut exact = Vec::new();
            if !lookupable.is_empty() && lookupable.len() <= pairs_left {
                pairs_left -= lookupable.len();
                for o in &lookupable {
                    let v = match dir {
                        Direction::Ingress => crate::eval::ingress(w, e, o),
                        Direction::Egress => crate::eval::egress(w, e, o),
                    };
                    exact.push((o.info.id.clone(), v.allowed));
                }
            }
            res.at.push(BleedAt {
                endpoint: e.info.id.clone(),
                direction: dir,
                region: sh.region,
                services: sh.services,
                services_maybe: sh.services_maybe,
                service_exact: sh.service_exact,
                exact,
                table: sh.table,
                unsure_nodes: sh.unsure_nodes,
            });
        }
    }
    for si in services_in(w, &res.any[1], Direction::Egress) {
        let svc = &w.model.services[si];
        let id = format!("{}/{}", svc.namespace, svc.name);
        match svc.cluster_ip {
            Some(_) => res.any_services.push(id),
            None => res.any_services_maybe.push(id),
        }
    }
    res.at.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    res
}

/// The counted policies of pods (`eval::counted_at`), once per direction, selecting set
/// (S2) and V9 range: all it reads of a pod. Deciding them scans every policy (and V2 every
/// endpoint per rule), which per pod was quadratic; the selecting set is found among the
/// policies of the pod's namespace.
#[derive(Default)]
struct Counted<'w> {
    by_ns: BTreeMap<&'w str, Vec<&'w LoweredPolicy>>,
    memo: BTreeMap<CountedKey, Vec<usize>>,
}

type CountedKey = (Direction, Vec<usize>, Option<(Vec<usize>, Vec<usize>)>);

impl<'w> Counted<'w> {
    fn new(w: &'w World<'_>) -> Counted<'w> {
        let mut by_ns: BTreeMap<&str, Vec<&LoweredPolicy>> = BTreeMap::new();
        for p in &w.policies {
            by_ns.entry(p.namespace.as_str()).or_default().push(p);
        }
        Counted {
            by_ns,
            memo: BTreeMap::new(),
        }
    }

    /// The counted policies of `e` in `dir`; empty without calling `counted_at` when V11
    /// cannot apply to them (they are among the selecting set or the V9 range's upper end).
    fn get(&mut self, w: &'w World<'_>, e: &Ep, dir: Direction) -> Vec<&'w LoweredPolicy> {
        let shared = super::ident::shared(w, e).map(|r| (r.lower.clone(), r.upper.clone()));
        let ns = e.info.namespace.as_deref().unwrap_or_default();
        let selecting: Vec<usize> = (self.by_ns.get(ns).into_iter().flatten())
            .filter(|p| w.selects(p, e))
            .map(|p| p.index)
            .collect();
        let upper = shared.as_ref().map_or(&[][..], |r| &r.1[..]);
        let candidates = selecting.iter().chain(upper).map(|&i| &w.policies[i]);
        if !applies(w, candidates, dir) {
            return Vec::new();
        }
        let list = self
            .memo
            .entry((dir, selecting, shared))
            .or_insert_with(|| {
                (crate::eval::counted_at(w, e, dir).iter())
                    .map(|p| p.index)
                    .collect()
            });
        list.iter().map(|&i| &w.policies[i]).collect()
    }
}

/// What a pod's table in one direction reads of the pod: its counted policies, its nodes
/// (V4, V12) and, for named ports, its container ports. Pods with one key share a table.
type ShareKey = (Vec<usize>, usize, Arc<[usize]>, Option<String>);

fn share_key(w: &World<'_>, counted: &[&LoweredPolicy], e: &Ep, di: usize) -> ShareKey {
    let dir = Direction::BOTH[di];
    let named = counted
        .iter()
        .flat_map(|p| p.rules(dir))
        .any(|r| (r.ports.iter().flatten()).any(|m| matches!(m.port, PortSpec::Named(_))));
    (
        counted.iter().map(|p| p.index).collect::<Vec<_>>(),
        di,
        e.runs_on.clone(),
        named.then(|| format!("{:?}", w.container_ports(e))),
    )
}

/// V11 tables for the `except-bleed` lint: per enforced pod and direction with an
/// `except`, the table of [`BleedAt::table`] inside its [`region`] (the /32 keys of
/// existing pods only where their address lies in the region; elsewhere the table holds
/// the rules' union), without the per-pair and per-Service facts `verify` needs.
pub(crate) fn except_tables(w: &World<'_>) -> Vec<ExceptTable> {
    let mut res = Vec::new();
    if !switches::except_bleed(&w.profile) {
        return res;
    }
    let mut by_ip: Vec<(IpAddr, &Ep)> = (w.eps.iter())
        .filter(|o| o.is_pod())
        .filter_map(|o| Some((o.info.ip?, o)))
        .collect();
    by_ip.sort_by_key(|&(a, _)| a);
    type Table = Option<Arc<[(IpAddr, IpAddr, Option<PortSet>)]>>;
    let mut shared: BTreeMap<ShareKey, Table> = BTreeMap::new();
    let mut counted = Counted::new(w);
    for (di, dir) in Direction::BOTH.into_iter().enumerate() {
        for e in w.eps.iter().filter(|e| e.is_pod()) {
            let counted = counted.get(w, e, dir);
            if !applies(w, counted.iter().copied(), dir) {
                continue;
            }
            let key = share_key(w, &counted, e, di);
            let table = shared.entry(key).or_insert_with(|| {
                let region = region(&address_entries(w, counted.iter().copied(), Some(e), dir));
                if region.is_empty() {
                    return None;
                }
                let mut pods = Vec::new();
                for n in &region {
                    let lo = by_ip.partition_point(|&(a, _)| a < n.network());
                    let hi = by_ip.partition_point(|&(a, _)| a <= n.broadcast());
                    pods.extend(by_ip[lo..hi].iter().map(|&(_, o)| o));
                }
                Some(full_table(w, &counted, e, dir, pods.into_iter()).0.into())
            });
            if let Some(table) = table {
                res.push(ExceptTable {
                    endpoint: e.info.id.clone(),
                    direction: dir,
                    table: Arc::clone(table),
                });
            }
        }
    }
    res.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    res
}

/// The exact Service ports V11 leaves `e`'s egress toward `svc`'s ClusterIP: `None` when
/// the address is unknown, or the table would admit ports the rules' union does not (then
/// the graph does not know which).
fn service_exact(
    w: &World<'_>,
    counted: &[&LoweredPolicy],
    e: &Ep,
    svc: &netpol_manifest::model::Service,
    all: &PortSet,
) -> Result<PortSet, bool> {
    let mut union = PortSet::empty();
    for rule in counted.iter().flat_map(|p| &p.egress) {
        union.union_with(&crate::eval::service_rule_ports(w, rule, e, svc));
    }
    match decide_service(w, counted, e, svc) {
        // V11 only removes ports here: the exact ports bound the union's.
        Some(l) if l.allowed().intersect(all).difference(&union).is_empty() => {
            Ok(l.allowed().intersect(all))
        }
        Some(_) => Err(true),
        None => Err(false),
    }
}

/// V11 at `at`'s egress toward Service `svc` (model index) for the lint: the exact Service
/// ports, as [`BleedAt::service_exact`]; `None` where that list would not hold it.
pub(crate) fn service_ports_at(w: &World<'_>, at: &Ep, svc: usize) -> Option<PortSet> {
    let svc = w.model.services.get(svc)?;
    let counted = crate::eval::counted_at(w, at, Direction::Egress);
    service_exact(w, &counted, at, svc, &super::services::offered(svc)).ok()
}

/// What the pods of one policy set, nodes and container ports share in one direction.
#[derive(Clone)]
struct Shared {
    region: Arc<[IpNet]>,
    services: Arc<[String]>,
    services_maybe: Arc<[String]>,
    service_exact: Arc<[(String, PortSet)]>,
    table: Arc<[(IpAddr, IpAddr, Option<PortSet>)]>,
    unsure_nodes: Vec<IpNet>,
}

impl Shared {
    /// The facts at `e` in `dir` under `counted`, `None` when V11 cannot differ there.
    /// `services`: per Service of the model, its id and every port it offers.
    fn new(
        w: &World<'_>,
        services: &[(String, PortSet)],
        counted: &[&LoweredPolicy],
        e: &Ep,
        dir: Direction,
    ) -> Option<Shared> {
        let region = region(&address_entries(w, counted.iter().copied(), Some(e), dir));
        if region.is_empty() {
            return None;
        }
        let mut unsure = Vec::new();
        let mut service_exact = Vec::new();
        let mut services_maybe = Vec::new();
        for si in services_in(w, &region, dir) {
            let svc = &w.model.services[si];
            let (id, all) = (services[si].0.clone(), &services[si].1);
            match self::service_exact(w, counted, e, svc, all) {
                Ok(ports) => service_exact.push((id, ports)),
                Err(true) => unsure.push(id),
                Err(false) => services_maybe.push(id),
            }
        }
        let pods = w.eps.iter().filter(|o| o.is_pod());
        let (table, unsure_nodes) = full_table(w, counted, e, dir, pods);
        Some(Shared {
            region: region.into(),
            services: unsure.into(),
            services_maybe: services_maybe.into(),
            service_exact: service_exact.into(),
            table: table.into(),
            unsure_nodes,
        })
    }
}

/// `at`'s whole table in `dir` for addresses outside pods: the address keys, the /32 of
/// each existing pod a selector peer matches, and the node key (V4) when `at` runs on one
/// known node and no `except` overwrites it (V12); `None` ports deny everything. With
/// several possible nodes their /32s are returned apart: which one is the node key is
/// not known.
#[allow(clippy::type_complexity)]
fn full_table<'e>(
    w: &World<'_>,
    counted: &[&LoweredPolicy],
    at: &Ep,
    dir: Direction,
    pods: impl Iterator<Item = &'e Ep>,
) -> (Vec<(IpAddr, IpAddr, Option<PortSet>)>, Vec<IpNet>) {
    let t = Table::new(&address_table(w, counted, at, dir));
    let mut keys: BTreeMap<IpNet, Option<PortSet>> = (t.keys.iter())
        .map(|(k, (p, _))| {
            let p = match p {
                KeyPorts::Allow(p) => Some(p.clone()),
                KeyPorts::DenyAll => None,
            };
            (*k, p)
        })
        .collect();
    for o in pods {
        let Some(a) = o.info.ip else { continue };
        if let Some(own) = own_ports(w, counted, at, o, dir) {
            keys.insert(IpNet::from(a), Some(t.decide(a, Some(own)).allowed()));
        }
    }
    let mut unsure = Vec::new();
    if switches::exempts_node(&w.profile, dir) {
        for &n in at.runs_on.iter() {
            let key = IpNet::from(w.profile.nodes[n].ip);
            if matches!(keys.get(&key), Some(None)) {
                continue; // V12: the except's deny-all key overwrites the node key
            }
            if at.runs_on.len() == 1 {
                keys.insert(key, Some(PortSet::all()));
            } else {
                unsure.push(key);
            }
        }
    }
    (ranges(&keys), unsure)
}

/// The keys as disjoint ranges with the longest key's decision, in address order (IPv4
/// first; a flat lookup for `verify`: no term nests as deep as the number of keys).
/// Addresses in no range have no key.
#[allow(clippy::type_complexity)]
fn ranges(keys: &BTreeMap<IpNet, Option<PortSet>>) -> Vec<(IpAddr, IpAddr, Option<PortSet>)> {
    let nets: Vec<IpNet> = keys.keys().copied().collect();
    let mut out = Vec::new();
    for iv in crate::ip::partition(&nets) {
        let (lo, hi) = iv.bounds();
        let max = if lo.is_ipv4() { 32 } else { 128 };
        let longest = (0..=max).rev().find_map(|len| {
            let net = IpNet::new(lo, len).ok()?.trunc();
            keys.get(&net)
        });
        if let Some(d) = longest {
            out.push((lo, hi, d.clone()));
        }
    }
    out
}

/// Endpoint pairs for which exact V11 verdicts are listed for `verify`, over the whole
/// model: an endpoint whose pairs no longer fit gets none (its pairs in the region stay
/// `unknown`, naming V11), so the facts and the solver's terms stay bounded.
pub(crate) const EXACT_PAIRS: usize = 20_000;

/// The Services whose ClusterIP lies in `region` or is unknown (egress only), by index.
fn services_in(w: &World<'_>, region: &[IpNet], dir: Direction) -> Vec<usize> {
    if dir != Direction::Egress || region.is_empty() {
        return Vec::new();
    }
    (w.model.services.iter().enumerate())
        .filter(|(_, s)| match s.cluster_ip {
            Some(ip) => region.iter().any(|n| n.contains(&ip)),
            // V3: an unknown ClusterIP comes from the Service ranges.
            None => (w.profile.service_ranges().iter()).any(|r| {
                region
                    .iter()
                    .any(|n| n.contains(&r.network()) || r.contains(&n.network()))
            }),
        })
        .map(|(i, _)| i)
        .collect()
}

/// V11 facts of one endpoint and direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BleedAt {
    pub endpoint: String,
    pub direction: Direction,
    /// Addresses where V11 may decide otherwise than the rules' union.
    pub region: Arc<[IpNet]>,
    /// Egress: the Services (`namespace/name`) whose ClusterIP lies there and where V11
    /// adds ports the rules' union does not admit.
    pub services: Arc<[String]>,
    /// Egress: the Services without a known ClusterIP while the region meets the Service
    /// range: V11 may take ports the union certainly admits (an `allow` at risk).
    pub services_maybe: Arc<[String]>,
    /// Egress: the Service ports V11 leaves at each other Service whose ClusterIP lies
    /// in the region (a subset of what the rules' union admits there).
    pub service_exact: Arc<[(String, PortSet)]>,
    /// The direction's verdict toward each existing endpoint whose addresses are known
    /// (by id): `verify` takes it as is.
    pub exact: Vec<(String, PortSet)>,
    /// The whole table for addresses outside pods, as disjoint ranges in address order
    /// (IPv4 first) with the longest key's ports (`None`: deny-all key); no range, no key.
    #[allow(clippy::type_complexity)]
    pub table: Arc<[(IpAddr, IpAddr, Option<PortSet>)]>,
    /// Node /32s that may or may not be the node key (the pod may run on several nodes).
    pub unsure_nodes: Vec<IpNet>,
}

/// V11 table of one pod and direction for the lint (see [`except_tables`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExceptTable {
    pub endpoint: String,
    pub direction: Direction,
    /// As [`BleedAt::table`], exact inside the region of V11 (every `except` lies there).
    #[allow(clippy::type_complexity)]
    pub table: Arc<[(IpAddr, IpAddr, Option<PortSet>)]>,
}

/// V11 facts (see [`bleed_facts`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExceptBleed {
    /// Per enforced model endpoint and direction with an `except`, sorted by id.
    pub at: Vec<BleedAt>,
    /// Per direction (`Direction::BOTH` order): the region for a pod created later.
    pub any: [Vec<IpNet>; 2],
    /// The Services of `any[1]` (egress), as [`BleedAt::services`].
    pub any_services: Vec<String>,
    /// As [`BleedAt::services_maybe`], for a pod created later.
    pub any_services_maybe: Vec<String>,
}
