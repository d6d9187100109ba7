//! The caveats that turn a verdict into `unknown`: cluster-scoped policies netpol does not
//! model, and (scope any, VPC CNI) Services created later.

use netpol_diag::{Code, Diagnostic, Span};

use crate::Outcome;
use crate::config::{Assertion, Body, Intent, ParsedConfig, Peer, Scope};
use crate::universe::{Universe, family_name};

/// The cluster-scoped tiers (AWS ClusterNetworkPolicy and ApplicationNetworkPolicy, the
/// upstream Admin/Baseline/ClusterNetworkPolicy) are not modelled yet, and their Deny,
/// Accept and Pass actions can overturn what NetworkPolicies alone decide, in both
/// directions: a verdict reached without them is not a proof (docs/verify.md, "Cluster-scoped
/// policies"). Every policy-not-modelled warning points at one of them.
pub(crate) fn unknown_under_tiers(u: &Universe, outcome: Outcome) -> Outcome {
    let n = u.unmodelled.len();
    if n == 0 || matches!(outcome, Outcome::Unknown(_)) {
        return outcome;
    }
    let without = match outcome {
        Outcome::Proved => "it holds",
        _ => "it fails",
    };
    let which = if n == 1 {
        "a cluster-scoped policy".to_owned()
    } else {
        format!("{n} cluster-scoped policies")
    };
    Outcome::Unknown(format!(
        "{which} that netpol does not model yet could change the verdict (with NetworkPolicies alone, {without}); see the policy-not-modelled warnings"
    ))
}

/// The encoding's addresses are of the cluster's family (`cluster.ipFamily`, `encode/ip.rs`):
/// a pod with an address of the other family would take one of the cluster's family in the
/// solver, and an ipBlock of its family would match none of it, so with any address of the
/// other family in the cluster no verdict is exact (docs/verify.md, "IP family").
pub(crate) fn unknown_with_other_family(u: &Universe, outcome: Outcome) -> Outcome {
    match (&u.other_family, &outcome) {
        (None, _) | (_, Outcome::Unknown(_)) => outcome,
        (Some(why), _) => Outcome::Unknown(why.clone()),
    }
}

/// An assertion ipBlock of the family the cluster does not use matches no address the
/// solver ranges over. Where the claim quantifies over its traffic (either end of `deny` and
/// `allow`, the destination of `only`) that would prove a claim about traffic verify does
/// not model (on an IPv6 cluster, say, a pod's IPv4 egress), so the verdict is `unknown`.
/// In the `from` list of `only` it excludes no source (every source of the cluster's family
/// is still checked) and `isolated` selects the pods whose address is in it (none): both
/// exact, decided as usual.
pub(crate) fn other_family_block(u: &Universe, a: &Intent) -> Option<String> {
    let fam = u.profile.ip_family;
    let peers: Vec<&Peer> = match &a.body {
        Body::Pair { from, to, .. } => vec![from, to],
        Body::Only { to, .. } => vec![to],
        Body::Isolated { .. } => Vec::new(),
    };
    let b = (peers.into_iter())
        .find_map(|p| p.ip_block.as_ref().filter(|b| !fam.holds(b.cidr.addr())))?;
    let theirs = if b.cidr.addr().is_ipv6() {
        "IPv6"
    } else {
        "IPv4"
    };
    Some(format!(
        "its ipBlock {} is {theirs} on an {} cluster (cluster.ipFamily): verify models traffic of the cluster's family only",
        b.cidr,
        family_name(fam)
    ))
}

/// The configured VPC CNI releases behave differently from the modelled ones where the
/// input depends on it (`version-not-modelled`): no verdict is a proof for them.
pub(crate) fn unknown_for_releases(u: &Universe, outcome: Outcome) -> Outcome {
    match (u.version_gaps.first(), &outcome) {
        (None, _) | (_, Outcome::Unknown(_)) => outcome,
        (Some(gap), _) => Outcome::Unknown(format!(
            "{}; see the version-not-modelled warnings",
            gap.message
        )),
    }
}

/// A rule through which a Service created later could open a path (see
/// [`admits_new_service`]): the policy, the peer's span and why.
pub(crate) struct ServiceLimit {
    policy: usize,
    span: Span,
    why: &'static str,
}

/// `scope: any` quantifies over pods, not Services: the Services are the ones in the
/// manifests. Under VPC CNI a Service created later adds a ClusterIP path (V5) that the
/// direct one lacks only through an egress rule that [`admits_new_service`]; the first such
/// rule, if any. It depends on the policies only, so it is found once per run.
pub(crate) fn service_limit(u: &Universe) -> Option<ServiceLimit> {
    if !netpol_graph::switches::cluster_ip_egress(&u.profile) {
        return None;
    }
    u.policies.iter().enumerate().find_map(|(pi, p)| {
        p.egress
            .iter()
            .find_map(|r| admits_new_service(&u.profile, r))
            .map(|(span, why)| ServiceLimit {
                policy: pi,
                span,
                why,
            })
    })
}

/// Whether a Service created later could break this result: a `scope: any` proof of a
/// `deny` or `only`, made while some rule is a [`ServiceLimit`]. [`verify`] turns it into
/// `unknown`, since a proof that a later Service could break is not a proof.
///
/// [`verify`]: crate::verify
pub(crate) fn limited(limit: Option<&ServiceLimit>, a: &Assertion, outcome: &Outcome) -> bool {
    limit.is_some()
        && a.scope == Scope::Any
        && (a.deny.is_some() || a.only.is_some())
        && matches!(outcome, Outcome::Proved)
}

pub(crate) const LIMITED_REASON: &str = "it holds for the Services in the manifests, but a Service created later could open a path through its ClusterIP; see the proof-limitation warning";

/// The `proof-limitation` warning at the limiting rule, naming the affected assertions.
pub(crate) fn limitation_diagnostic(
    u: &Universe,
    limit: &ServiceLimit,
    affected: &[&str],
    config: &ParsedConfig,
) -> Diagnostic {
    let policy = &u.policies[limit.policy];
    let d = Diagnostic::new(
        Code::ProofLimitation,
        format!(
            "under vpc-cni, {} hold only for the Services in the manifests: a Service created later could open a path through its ClusterIP, so they are unknown",
            affected.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ),
    )
    .with_primary(limit.span, format!("egress rule of {}/{}: {}", policy.namespace, policy.name, limit.why))
    .with_help("set `cluster.serviceCIDR` so that ipBlocks can be checked against it, select egress peers with `In`/`Exists` and numeric ports, or re-verify after adding the Service")
    .with_note("docs/verify.md (\"Services created later\") lists the rules that can do this");
    match config.root {
        Some(span) => d.with_secondary(
            Span::new(span.file, span.start as usize, span.start as usize),
            "assertions in this file",
        ),
        None => d,
    }
}

/// Whether an egress rule may admit a Service created later on a path to a pod that it
/// does not admit directly, with the peer's span and why. A rule that matches a Service
/// only through its backends' own labels and port numbers adds nothing; these can:
/// - an omitted `to` with ports, or an ipBlock that may cover a new ClusterIP (anywhere in
///   `serviceCIDR`, or anywhere when it is not set), with numeric ports: they match the
///   Service `port`, which may map to any `targetPort`;
/// - a pod selector with `NotIn`/`DoesNotExist`: a Service selector can satisfy it while
///   its backends (with more labels) do not;
/// - a named port: it matches a numeric `targetPort` when any backend declares the name;
/// - a port range (V10): the ClusterIP slot runs from the matched Service port to
///   `endPort`, so it admits other Service ports of a new Service, whatever their target.
fn admits_new_service(
    profile: &netpol_graph::Profile,
    r: &netpol_graph::ir::LoweredRule,
) -> Option<(Span, &'static str)> {
    use netpol_graph::ir::{PeerMatch, PortSpec};
    use netpol_manifest::model::Operator;
    let numeric = r
        .ports
        .as_ref()
        .is_none_or(|l| l.iter().any(|m| !matches!(m.port, PortSpec::Named(_))));
    let named = r
        .ports
        .iter()
        .flatten()
        .any(|m| matches!(m.port, PortSpec::Named(_)));
    let ranged = r
        .ports
        .iter()
        .flatten()
        .any(|m| matches!(m.port, PortSpec::Range(lo, hi) if hi > lo));
    let Some(peers) = &r.peers else {
        // Without ports it admits every pod directly already; a Service adds nothing.
        return (numeric && r.ports.is_some())
            .then_some((r.provenance.span, "it allows every address on these ports"));
    };
    peers.iter().find_map(|peer| match peer {
        PeerMatch::IpBlock { cidr, except, span } => {
            let may_cover = match profile.service_cidr {
                None => true,
                Some(net) => overlaps(cidr, &net) && !except.iter().any(|x| x.contains(&net)),
            };
            (numeric && may_cover).then_some((*span, "this ipBlock may cover a new ClusterIP"))
        }
        PeerMatch::Pods { pods, span, .. } => {
            let non_monotone = pods.as_ref().is_some_and(|s| {
                s.requirements
                    .iter()
                    .any(|q| matches!(q.operator, Operator::NotIn | Operator::DoesNotExist))
            });
            if non_monotone {
                Some((
                    *span,
                    "NotIn/DoesNotExist can match a Service selector but not its backends",
                ))
            } else if named {
                Some((
                    *span,
                    "a named port matches a numeric targetPort through any backend",
                ))
            } else if ranged {
                Some((
                    *span,
                    "a port range admits every Service port from the matched one up to endPort",
                ))
            } else {
                None
            }
        }
    })
}

fn overlaps(a: &ipnet::IpNet, b: &ipnet::IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// V10: NPC maps a rule's port to the Service port that the first backend it meets
/// resolves (informer order), so when backends resolve it differently the agent's verdict
/// is not knowable offline. A refutation that goes through such a Service port, or an
/// `allow` refuted where a Service of the destination's namespace has such a port, is
/// `unknown`: only the ports every choice admits count for `allow`, all of them for
/// `deny`, and neither side is then a fact about the cluster.
pub(crate) fn unknown_by_backend_order(u: &Universe, a: &Assertion, outcome: Outcome) -> Outcome {
    let Outcome::Refuted(cx) = &outcome else {
        return outcome;
    };
    let unsure = |s: &crate::universe::Svc, port: u16| match cx.protocol {
        Some(p) => s.unsure.contains(p, port),
        None => !s.unsure.is_empty(),
    };
    let hit = match &cx.via {
        Some((id, port)) => u.services.iter().find(|s| &s.id == id && unsure(s, *port)),
        None if a.allow.is_some() => u.services.iter().find(|s| {
            !s.unsure.is_empty()
                && cx.destination.namespace.as_deref() == Some(u.namespaces[s.ns].0.as_str())
        }),
        None => None,
    };
    match hit {
        Some(s) => Outcome::Unknown(format!(
            "it turns on which backend of {} the controller meets first when it maps a rule's port to a Service port (docs/semantics.md V10)",
            s.id
        )),
        None => outcome,
    }
}
