//! The per-pair evaluator: `docs/semantics.md` applied literally to one ordered pair of
//! endpoints, recording which policies and rules decide. It backs `explain`, and the tests
//! use it as the oracle for the class-compressed engine. It is deliberately simple and
//! scans everything; never use it for the whole matrix of a large cluster.

use netpol_manifest::model::{Direction, Service};

use crate::ip::Block;
use crate::ir::{LoweredPolicy, LoweredRule, PeerMatch, Provenance, resolve_ports};
use crate::ports::PortSet;
use crate::rules::services::{self, Backends};
use crate::rules::vpc::Addresses;
use crate::rules::{cidr_keys, ipblocks};
use crate::rules::{ident, switches, vpc};
use crate::world::{Ep, EpKind, World};

/// Why a direction allows what it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Basis {
    /// Policies are not enforced at this end.
    Unenforced(Unenforced),
    /// No NetworkPolicy selects the pod: everything is allowed (standard mode).
    NotSelected,
    /// No NetworkPolicy selects the pod, and strict mode denies everything (V1).
    StrictDefaultDeny,
    /// Policies select the pod but none isolates this direction (S2, V2).
    NotIsolated { selecting: Vec<usize> },
    /// The direction is isolated: only the matching rules allow traffic.
    Isolated {
        selecting: Vec<usize>,
        /// Selecting policies that list the direction in `policyTypes`.
        listed: Vec<usize>,
        /// V2: isolated only because rules of the direction resolve, although no selecting
        /// policy lists it in `policyTypes`.
        by_rules: bool,
    },
}

/// Why policies are not enforced at an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unenforced {
    External,
    Node,
    /// hostNetwork pods are never policy targets (S9, V6).
    HostNetwork,
}

/// The verdict of one direction at one end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirectionVerdict {
    pub(crate) direction: Direction,
    pub(crate) allowed: PortSet,
    pub(crate) basis: Basis,
    /// Rules whose peer matches the other end, with the ports each allows toward it.
    pub(crate) rules: Vec<(Provenance, PortSet)>,
    /// V7: rules dropped because none of their ports resolves.
    pub(crate) dropped: Vec<Provenance>,
    /// S10/V4: the node, one this pod may run on, whose primary IP the other end carries.
    pub(crate) node_exemption: Option<String>,
    /// V11: the longest address key that decided, when the direction has an `except`.
    pub(crate) lpm_key: Option<cidr_keys::Lpm>,
}

impl DirectionVerdict {
    /// `dir` at `e`, with its basis and nothing allowed yet.
    fn at(w: &World<'_>, e: &Ep, dir: Direction) -> DirectionVerdict {
        DirectionVerdict {
            direction: dir,
            allowed: PortSet::empty(),
            basis: basis(w, e, dir),
            rules: Vec::new(),
            dropped: Vec::new(),
            node_exemption: None,
            lpm_key: None,
        }
    }
}

/// Selection and isolation of `e` in `dir`.
fn basis(w: &World<'_>, e: &Ep, dir: Direction) -> Basis {
    match e.kind {
        EpKind::External(_) => return Basis::Unenforced(Unenforced::External),
        EpKind::Node(_) => return Basis::Unenforced(Unenforced::Node),
        EpKind::Service(_) => return Basis::Unenforced(Unenforced::External),
        EpKind::Workload(_) if e.host_network => return Basis::Unenforced(Unenforced::HostNetwork),
        EpKind::Workload(_) => {}
    }
    // V9: the selecting set is any set in [lower, upper]; the verdict is the most any such
    // set allows (S2 alone: lower = upper = the policies selecting `e`).
    let (lower, selecting) = ident::range(w, e);
    if selecting.is_empty() {
        return if switches::strict_default_deny(&w.profile) {
            Basis::StrictDefaultDeny
        } else {
            Basis::NotSelected
        };
    }
    let isolates = |i: usize, d: Direction| {
        let p = &w.policies[i];
        p.policy_types.contains(d) || p.rules(d).iter().any(|r| vpc::rule_resolves(w, p, r))
    };
    if ident::open_for_some_set(w, &lower, &selecting, dir, isolates) {
        return if lower.is_empty() && !switches::strict_default_deny(&w.profile) {
            Basis::NotSelected
        } else {
            Basis::NotIsolated { selecting }
        };
    }
    let listed: Vec<usize> = selecting
        .iter()
        .copied()
        .filter(|&i| w.policies[i].policy_types.contains(dir))
        .collect();
    let by_rules = listed.is_empty();
    Basis::Isolated {
        selecting,
        listed,
        by_rules,
    }
}

/// The rules that count at an isolated pod: upstream only those of policies listing the
/// direction; VPC CNI every selecting policy's (V2).
fn counted_policies<'w>(w: &'w World<'_>, b: &Basis, dir: Direction) -> Vec<&'w LoweredPolicy> {
    let Basis::Isolated { selecting, .. } = b else {
        return Vec::new();
    };
    selecting
        .iter()
        .map(|&i| &w.policies[i])
        .filter(|p| switches::unlisted_rules_enforced(&w.profile) || p.policy_types.contains(dir))
        .collect()
}

/// The policies whose `dir` rules count at `e` (none when the direction is not isolated).
pub(crate) fn counted_at<'w>(w: &'w World<'_>, e: &Ep, dir: Direction) -> Vec<&'w LoweredPolicy> {
    counted_policies(w, &basis(w, e, dir), dir)
}

/// Whether a peer of a rule enforced at `at` matches the other end `e` (not a Service).
fn peer_matches(w: &World<'_>, peer: &PeerMatch, at: &Ep, e: &Ep) -> bool {
    match peer {
        PeerMatch::Pods { .. } => w.direct_match(peer, e) || vpc::node_expanded(w, peer, e),
        PeerMatch::IpBlock { cidr, except, .. } => {
            !ipblocks::agent_skips(&w.profile, Some(at), cidr.network())
                && w.ipblock_matches(&Block::new(*cidr, except), e)
        }
    }
}

/// Ingress at `dst` from `src`.
pub(crate) fn ingress(w: &World<'_>, dst: &Ep, src: &Ep) -> DirectionVerdict {
    direction(w, dst, src, Direction::Ingress)
}

/// Egress at `src` toward `dst` (not a Service).
pub(crate) fn egress(w: &World<'_>, src: &Ep, dst: &Ep) -> DirectionVerdict {
    direction(w, src, dst, Direction::Egress)
}

fn direction(w: &World<'_>, at: &Ep, other: &Ep, dir: Direction) -> DirectionVerdict {
    let mut v = DirectionVerdict::at(w, at, dir);
    match &v.basis {
        Basis::Unenforced(_) | Basis::NotSelected | Basis::NotIsolated { .. } => {
            v.allowed = PortSet::all();
            return v;
        }
        Basis::StrictDefaultDeny => return v,
        Basis::Isolated { .. } => {}
    }
    let counted = counted_policies(w, &v.basis, dir);
    // V12: an `except` at the node's /32 denies that node's address outright.
    if let Some(node) = ipblocks::denied_node(&w.profile, at, counted.iter().copied(), dir)
        && other.carries.iter().any(|c| c == node)
    {
        return v;
    }
    if let Some(node) = vpc::node_exempt(w, at, other, dir) {
        v.node_exemption = Some(node.to_owned());
        v.allowed = PortSet::all();
    }
    // V11: the longest key holding `other`'s address decides, not the union of the rules.
    let lpm = cidr_keys::decide(w, &counted, at, other, dir);
    for p in counted {
        for rule in p.rules(dir) {
            let ports = match dir {
                Direction::Ingress => ingress_rule(w, p, rule, at, other, &mut v.dropped),
                Direction::Egress => egress_rule(w, rule, at, other, &mut v.dropped),
            };
            if let Some(ports) = ports {
                v.allowed.union_with(&ports);
                v.rules.push((rule.provenance, ports));
            }
        }
    }
    if let Some(lpm) = lpm
        && v.node_exemption.is_none()
    {
        v.allowed = lpm.allowed();
        v.lpm_key = Some(lpm);
    }
    v
}

/// The ports an ingress rule allows at `dst` from `src`; `None` if no peer matches.
fn ingress_rule(
    w: &World<'_>,
    p: &LoweredPolicy,
    rule: &LoweredRule,
    dst: &Ep,
    src: &Ep,
    dropped: &mut Vec<Provenance>,
) -> Option<PortSet> {
    let ports = match vpc::ingress_union_ports(w, p, rule) {
        Some(ports) if ports.is_empty() => {
            dropped.push(rule.provenance);
            return None;
        }
        Some(ports) => ports,
        None => resolve_ports(rule.ports.as_deref(), w.container_ports(dst)),
    };
    let matched = match &rule.peers {
        None => true,
        Some(peers) => peers.iter().any(|peer| peer_matches(w, peer, dst, src)),
    };
    matched.then_some(ports)
}

/// The ports an egress rule allows toward `dst` (not a Service); `None` if no peer matches.
fn egress_rule(
    w: &World<'_>,
    rule: &LoweredRule,
    src: &Ep,
    dst: &Ep,
    dropped: &mut Vec<Provenance>,
) -> Option<PortSet> {
    let on_dst = || resolve_ports(rule.ports.as_deref(), w.container_ports(dst));
    let cidr_ports = || vpc::egress_cidr_ports(&w.profile, rule).unwrap_or_else(on_dst);
    let Some(peers) = &rule.peers else {
        let ports = cidr_ports();
        if ports.is_empty() && rule.ports.is_some() && switches::named_ports_vpc(&w.profile) {
            dropped.push(rule.provenance);
            return None;
        }
        return Some(ports);
    };
    let mut res: Option<PortSet> = None;
    for peer in peers {
        if !peer_matches(w, peer, src, dst) {
            continue;
        }
        let ports = match peer {
            PeerMatch::IpBlock { .. } => cidr_ports(),
            PeerMatch::Pods { .. } => vpc::node_ports(w, peer, rule, dst).unwrap_or_else(on_dst),
        };
        res.get_or_insert_with(PortSet::empty).union_with(&ports);
    }
    res
}

/// V5: the Service ports `src` may open on Service `svc` (endpoint `dst`): those egress
/// allows toward the ClusterIP and that ingress at some backend other than `src` allows
/// on the target port. Returns the egress verdict (with Service ports) and the result.
pub(crate) fn service(w: &World<'_>, src: &Ep, dst: &Ep) -> (DirectionVerdict, PortSet) {
    let EpKind::Service(si) = dst.kind else {
        return (egress(w, src, dst), PortSet::empty());
    };
    let svc = &w.model.services[si];
    let all_svc_ports = || services::offered(svc);
    let mut v = DirectionVerdict::at(w, src, Direction::Egress);
    match &v.basis {
        Basis::Unenforced(_) | Basis::NotSelected | Basis::NotIsolated { .. } => {
            v.allowed = all_svc_ports();
        }
        Basis::StrictDefaultDeny => {}
        Basis::Isolated { .. } => {
            let counted = counted_policies(w, &v.basis, Direction::Egress);
            let lpm = cidr_keys::decide_service(w, &counted, src, svc);
            for p in counted {
                for rule in &p.egress {
                    let ports = service_rule_ports(w, rule, src, svc);
                    if !ports.is_empty() {
                        v.allowed.union_with(&ports);
                        v.rules.push((rule.provenance, ports));
                    }
                }
            }
            if let Some(lpm) = lpm {
                v.allowed = lpm.allowed().intersect(&all_svc_ports());
                v.lpm_key = Some(lpm);
            }
        }
    }
    // A selectorless Service's endpoints are not pods in the model (the API server's, or
    // manual EndpointSlices): nothing enforces ingress there.
    if svc.selector.is_none() {
        let allowed = v.allowed.intersect(&all_svc_ports());
        return (v, allowed);
    }
    let mut res = PortSet::empty();
    let backends = services::backends(w, svc);
    for sp in &svc.ports {
        if !v.allowed.contains(sp.protocol, sp.port) {
            continue;
        }
        let reachable = backends.iter().any(|&b| {
            let be = &w.eps[b];
            // A pod reaching itself through its own Service (hairpin) is always admitted:
            // a pod cannot block access to itself (S1).
            vpc::target_on(w, sp, be).is_some_and(|t| {
                std::ptr::eq(be, src) || ingress(w, be, src).allowed.contains(sp.protocol, t)
            })
        });
        if reachable {
            res.union_with(&PortSet::port(sp.protocol, sp.port));
        }
    }
    (v, res)
}

/// V5 at `src`: the Service ports a rule admits toward `svc`, without the ipBlocks the
/// agent drops on `src`'s node (V12).
pub(crate) fn service_rule_ports(
    w: &World<'_>,
    rule: &LoweredRule,
    src: &Ep,
    svc: &Service,
) -> PortSet {
    let Some(peers) = &rule.peers else {
        return vpc::service_rule_ports(w, rule, svc);
    };
    let mut res = PortSet::empty();
    for peer in peers {
        if let PeerMatch::IpBlock { cidr, .. } = peer
            && ipblocks::agent_skips(&w.profile, Some(src), cidr.network())
        {
            continue;
        }
        let at = Backends::Existing;
        res.union_with(&vpc::service_peer_ports(
            w,
            rule,
            Some(peer),
            svc,
            at,
            Addresses::Certain,
        ));
    }
    res
}

/// Whether the pair is modelled (S8): distinct, at least one end a pod or workload, and a
/// Service only as the destination of a pod or workload.
pub(crate) fn modelled(src: &Ep, dst: &Ep) -> bool {
    if matches!(src.kind, EpKind::Service(_)) {
        return false;
    }
    if matches!(dst.kind, EpKind::Service(_)) {
        return src.is_pod();
    }
    src.is_pod() || dst.is_pod()
}

/// The allowed ports from `src` to `dst` (empty for pairs that are not modelled).
pub(crate) fn pair(w: &World<'_>, src: &Ep, dst: &Ep) -> PortSet {
    if std::ptr::eq(src, dst) || !modelled(src, dst) {
        return PortSet::empty();
    }
    if matches!(dst.kind, EpKind::Service(_)) {
        return service(w, src, dst).1;
    }
    let e = egress(w, src, dst).allowed;
    if e.is_empty() {
        return e;
    }
    e.intersect(&ingress(w, dst, src).allowed)
}

/// The ports between two replicas of one workload: real traffic between distinct pods
/// with the same labels, namespace and ports (empty for a bare pod, which has no other self).
pub(crate) fn replicas(w: &World<'_>, a: &Ep) -> PortSet {
    if !a.info.has_replicas() {
        return PortSet::empty();
    }
    let e = egress(w, a, a).allowed;
    if e.is_empty() {
        return e;
    }
    e.intersect(&ingress(w, a, a).allowed)
}
