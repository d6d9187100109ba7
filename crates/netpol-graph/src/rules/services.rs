//! V10: which Service ports an egress selector peer admits on a ClusterIP, mapped from the
//! rule's ports exactly as the controller (NPC v1.1.7) maps them: `getMatchingServicePort`,
//! `LookupServiceListenPort`, `LookupListenPortFromPodSpec`, `hasTargetPortBypass`
//! (docs/semantics.md V10). V5 ([`super::vpc::service_peer_ports`]) decides *whether* a peer
//! admits the ClusterIP; this decides *on which Service ports*.

use std::borrow::Cow;
use std::cell::OnceCell;

use netpol_manifest::model::{ContainerPort, PortRef, Protocol, Service, ServicePort};

use crate::ir::{LoweredRule, PortMatch, PortSpec};
use crate::ports::PortSet;
use crate::world::World;

/// Which backends the controller may resolve a rule port on (V10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backends {
    /// The Service's backends in the manifests (the matrix).
    Existing,
    /// Also any future backend, which may declare any name or number (proofs over every
    /// possible pod).
    AnyFuture,
}

/// V5: the endpoints that back a Service (see `World::compute_backends`).
pub(crate) fn backends<'w>(w: &'w World<'_>, svc: &Service) -> &'w [usize] {
    w.model
        .services
        .binary_search_by(|s| (&s.namespace, &s.name).cmp(&(&svc.namespace, &svc.name)))
        .ok()
        .and_then(|i| w.backends.get(i))
        .map_or(&[], Vec::as_slice)
}

/// An agent slot: protocol (`None`: the catch-all of a port-less entry), port (0: every
/// port of the protocol), end (V13 counts them per key).
pub(crate) type Slot = (Option<Protocol>, u16, u16);

/// The ports a Service offers on its ClusterIP.
pub fn offered(svc: &Service) -> PortSet {
    let mut all = PortSet::empty();
    for sp in &svc.ports {
        all.union_with(&PortSet::port(sp.protocol, sp.port));
    }
    all
}

/// The Service ports a rule admits on one ClusterIP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Admitted {
    /// Every port the controller may admit, whichever backend it meets first.
    pub(crate) may: PortSet,
    /// The ports it admits whichever backend it meets first.
    pub(crate) certain: PortSet,
    /// The part of `certain` that no pod created later can change: mapped without the
    /// backends (a matching `targetPort`, or no `port`), so neither a new first backend
    /// nor the bypass check can move it.
    pub(crate) stable: PortSet,
}

/// V10 for a selector peer that admits `svc` (V5): the Service ports the rule's port
/// entries map to. `from` says whether pods that do not exist yet may be backends.
pub(crate) fn selector_peer_ports(
    w: &World<'_>,
    rule: &LoweredRule,
    svc: &Service,
    from: Backends,
) -> Admitted {
    let mut out = Admitted::default();
    for entry in entries_on(w, rule, svc, from) {
        // Each outcome: the Service ports the slot the chosen Service port opens admits.
        let outcomes: Vec<PortSet> = (entry.slots.iter())
            .map(|s| s.map_or_else(PortSet::empty, |s| slot_ports(svc, s)))
            .collect();
        let Some(first) = outcomes.first() else {
            continue;
        };
        let mut common = first.clone();
        for o in &outcomes {
            out.may.union_with(o);
            common = common.intersect(o);
        }
        if entry.stable {
            out.stable.union_with(&common);
        }
        out.certain.union_with(&common);
    }
    out
}

/// What one port entry of a rule becomes on a ClusterIP.
struct EntryOnService {
    /// The slot of each Service port the controller may pick (the first whose targetPort
    /// matches, else the one the first backend that resolves the entry gives: informer
    /// order, unknown), `None` where the bypass check drops the entry.
    slots: Vec<Option<Slot>>,
    /// Mapped without the backends (a matching `targetPort`, or no `port`), so neither a
    /// new first backend nor the bypass check can change it.
    stable: bool,
}

/// V13 on a ClusterIP key: every slot the rule's entries may write for `svc` (each pick the
/// controller may make, pods created later included: an upper bound on what it writes).
pub(crate) fn selector_peer_slots(w: &World<'_>, rule: &LoweredRule, svc: &Service) -> Vec<Slot> {
    (entries_on(w, rule, svc, Backends::AnyFuture).into_iter())
        .flat_map(|e| e.slots.into_iter().flatten())
        .collect()
}

/// NPC `getMatchingServiceClusterIPs` for one Service: the rule's port entries as the
/// controller writes them on its ClusterIP. A port-less rule is one catch-all entry.
fn entries_on(
    w: &World<'_>,
    rule: &LoweredRule,
    svc: &Service,
    from: Backends,
) -> Vec<EntryOnService> {
    let Some(list) = rule.ports.as_deref() else {
        return vec![EntryOnService {
            slots: vec![Some((None, 0, 0))],
            stable: true,
        }];
    };
    // Only a fallback or the bypass check needs the backends (a selectorless Service's
    // are every pod of its namespace).
    let cell = OnceCell::new();
    let pods = || cell.get_or_init(|| npc_backends(w, svc)).as_ref();
    let mut out = Vec::new();
    for m in list {
        let proto = m.protocol;
        let q = match &m.port {
            // No `port`: every port of the protocol on the ClusterIP.
            PortSpec::All => {
                out.push(EntryOnService {
                    slots: vec![Some((Some(proto), 0, 0))],
                    stable: true,
                });
                continue;
            }
            // A range is looked up by its start port only.
            PortSpec::Range(lo, _) => Query::Number(*lo),
            PortSpec::Named(n) => Query::Name(n),
        };
        let direct = listen_port(svc, proto, &q);
        let mut cands: Vec<usize> = match direct {
            Some(i) => vec![i],
            None => pods()
                .iter()
                .filter_map(|&b| listen_port_on(svc, w.container_ports(&w.eps[b]), proto, &q))
                .collect(),
        };
        if from == Backends::AnyFuture && direct.is_none() {
            // A new backend may declare the name with any number (or name the number).
            cands.extend(svc.ports.iter().enumerate().filter_map(|(i, sp)| {
                let fits = matches!(
                    (&q, &sp.target_port),
                    (Query::Name(_), PortRef::Number(_)) | (Query::Number(_), PortRef::Name(_))
                );
                (sp.protocol == proto && fits).then_some(i)
            }));
        }
        cands.sort_unstable();
        cands.dedup();
        let numeric = matches!(q, Query::Number(_));
        let slots = (cands.iter())
            .map(|&i| {
                let start = svc.ports[i].port;
                let dropped = numeric && bypassed(w, svc, &pods, i, list);
                (!dropped).then(|| (Some(proto), start, m.end_port.unwrap_or(0)))
            })
            .collect();
        // A numeric target never triggers the bypass check (ports are unique by number
        // and protocol), and a named query never has it.
        out.push(EntryOnService {
            slots,
            stable: direct.is_some(),
        });
    }
    out
}

/// Where a Service port leads on a backend (kube-proxy's DNAT, V5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A numeric `targetPort`: that port on every backend.
    Number(u16),
    /// A named `targetPort`: the backend's first container port with that name and the
    /// Service port's protocol (none: the backend is not reached).
    Named(&'a str, Protocol),
}

/// V5: where Service port `sp` leads on a backend. The one decision both engines read: the
/// graph on concrete backends ([`super::vpc::target_on`]), the SMT encoding on a symbolic one.
pub fn dnat_target(sp: &ServicePort) -> Target<'_> {
    match &sp.target_port {
        PortRef::Number(n) => Target::Number(*n),
        PortRef::Name(name) => Target::Named(name, sp.protocol),
    }
}

/// The port an entry is looked up by: a number (a range's start) or a name.
enum Query<'a> {
    Number(u16),
    Name(&'a str),
}

/// `LookupServiceListenPort`: the first Service port of `proto` whose `targetPort` has the
/// query's type and value.
fn listen_port(svc: &Service, proto: Protocol, q: &Query<'_>) -> Option<usize> {
    svc.ports.iter().position(|sp| {
        sp.protocol == proto
            && match (q, &sp.target_port) {
                (Query::Number(n), PortRef::Number(t)) => n == t,
                (Query::Name(n), PortRef::Name(t)) => *n == t.as_str(),
                _ => false,
            }
    })
}

/// `LookupContainerPortAndName` then `LookupListenPortFromPodSpec` on one backend: the query
/// resolved on the pod's container ports (a name to the first port with that name; a
/// number to the first port with that number, or to itself unnamed), then the first
/// Service port whose named targetPort is that name or whose numeric targetPort is that
/// number.
fn listen_port_on(
    svc: &Service,
    cps: &[ContainerPort],
    proto: Protocol,
    q: &Query<'_>,
) -> Option<usize> {
    let (number, name) = match q {
        Query::Name(n) => {
            let cp = cps
                .iter()
                .find(|c| c.protocol == proto && c.name.as_deref() == Some(*n))?;
            (cp.port, Some(*n))
        }
        Query::Number(p) => {
            let cp = cps.iter().find(|c| c.protocol == proto && c.port == *p);
            (*p, cp.and_then(|c| c.name.as_deref()))
        }
    };
    svc.ports.iter().position(|sp| {
        sp.protocol == proto
            && match &sp.target_port {
                PortRef::Name(t) => name == Some(t.as_str()),
                PortRef::Number(t) => *t == number,
            }
    })
}

/// `hasTargetPortBypass`: the Service port `i` was matched for a numeric entry; when the
/// Service port with that number has a named targetPort, and some backend's first
/// container port of that name has a number no numeric entry of the rule allows, the entry
/// is dropped for this ClusterIP.
fn bypassed<'p>(
    w: &World<'_>,
    svc: &Service,
    pods: &dyn Fn() -> &'p [usize],
    i: usize,
    list: &[PortMatch],
) -> bool {
    let matched = &svc.ports[i];
    let named = svc.ports.iter().find_map(|sp| match &sp.target_port {
        PortRef::Name(t) if sp.port == matched.port && sp.protocol == matched.protocol => Some(t),
        _ => None,
    });
    let Some(t) = named else {
        return false;
    };
    pods().iter().any(|&b| {
        w.container_ports(&w.eps[b])
            .iter()
            .find(|c| c.protocol == matched.protocol && c.name.as_deref() == Some(t.as_str()))
            .is_some_and(|cp| !numeric_allowed(cp.port, cp.protocol, list))
    })
}

/// `isNumericPortAllowed`: whether a numeric entry of the rule allows the port (a port-less
/// entry allows all; named entries are ignored).
fn numeric_allowed(port: u16, proto: Protocol, list: &[PortMatch]) -> bool {
    list.iter().any(|m| {
        m.protocol == proto
            && match m.port {
                PortSpec::All => true,
                PortSpec::Range(lo, hi) => (lo..=hi).contains(&port),
                PortSpec::Named(_) => false,
            }
    })
}

/// The Service ports an agent slot admits on the ClusterIP: `[start, end]` (just `start`
/// without `endPort`, or when `endPort` is below it), every port of the protocol from 0,
/// every port for the catch-all.
fn slot_ports(svc: &Service, (proto, start, end): Slot) -> PortSet {
    let mut res = PortSet::empty();
    for sp in &svc.ports {
        let hit = match proto {
            None => true,
            Some(p) if start == 0 => sp.protocol == p,
            Some(p) => sp.protocol == p && (start..=end.max(start)).contains(&sp.port),
        };
        if hit {
            res.union_with(&PortSet::port(sp.protocol, sp.port));
        }
    }
    res
}

/// The pods NPC falls back on: the Service's backends, or every pod of its namespace when
/// the Service has no selector (`labels.Set(nil).AsSelector()` selects everything).
fn npc_backends<'w>(w: &'w World<'_>, svc: &Service) -> Cow<'w, [usize]> {
    if svc.selector.is_some() {
        return Cow::Borrowed(backends(w, svc));
    }
    Cow::Owned(
        (w.eps.iter().enumerate())
            .filter(|(_, e)| {
                e.is_pod() && e.info.namespace.as_deref() == Some(svc.namespace.as_str())
            })
            .map(|(i, _)| i)
            .collect(),
    )
}
