//! One query per assertion: [`verify`] runs them all, `build` turns an assertion into
//! formulas over the encoding, `decide` checks them with Z3; plus the caveats that turn a
//! verdict into `unknown` or a `proof-limitation` warning.

use std::time::Instant;

use netpol_diag::{Code, Diagnostic, Span};
use netpol_graph::Profile;
use netpol_manifest::Model;
use netpol_manifest::model::Direction;
use z3::ast::{BV, Bool, Int};
use z3::{Params, SatResult, Solver};

use crate::config::{self, Assertion, Kind, ParsedConfig, Scope, Verification};
use crate::decode::decode;
use crate::encode::{Encoder, NamedMode, Query, Side, SideFilter};
use crate::universe::{Universe, assertion_peers};
use crate::{AssertionResult, Options, Outcome, Verified};

/// Decides every assertion of the config over the model under the profile.
pub fn verify(
    model: &Model,
    profile: &Profile,
    config: &ParsedConfig,
    options: &Options,
) -> Verified {
    let v = &config.verification;
    let u = Universe::new(model, profile, v);
    let mut out = Verified::default();
    out.diagnostics.extend(u.unmodelled.iter().cloned());
    for (i, a) in v.assertions.iter().enumerate() {
        let span = config.spans.get(i).and_then(|s| s.whole);
        let name_span = config.spans.get(i).and_then(|s| s.name).or(span);
        let start = Instant::now();
        let outcome = match unknown_references(&u, a) {
            Some(r) => {
                let d = Diagnostic::new(
                    Code::UnknownReference,
                    format!(
                        "assertion `{}` names `{r}`, which is not in the manifests",
                        a.name
                    ),
                );
                out.diagnostics.push(match name_span {
                    Some(s) => d.with_primary(s, "in this assertion"),
                    None => d,
                });
                Outcome::Unknown(format!("`{r}` is not in the manifests"))
            }
            None => {
                let (outcome, vacuous) = decide(&u, a, options);
                if vacuous {
                    let d = Diagnostic::new(
                        Code::VacuousAssertion,
                        format!(
                            "assertion `{}` selects nothing, so it holds vacuously",
                            a.name
                        ),
                    )
                    .with_help("check the selectors against the manifests");
                    out.diagnostics.push(match name_span {
                        Some(s) => d.with_primary(s, "selects no endpoint"),
                        None => d,
                    });
                }
                outcome
            }
        };
        let outcome = unknown_under_tiers(&u, outcome);
        out.results.push(AssertionResult {
            name: a.name.clone(),
            outcome,
            duration: start.elapsed(),
            span,
        });
    }
    if let Some((d, affected)) = proof_limitation(&u, v, &out.results, config) {
        // A proof that a Service created later could break is not a proof.
        for i in affected {
            out.results[i].outcome = Outcome::Unknown(
                "it holds for the Services in the manifests, but a Service created later could open a path through its ClusterIP; see the proof-limitation warning".to_owned(),
            );
        }
        out.diagnostics.push(d);
    }
    out
}

/// The cluster-scoped tiers (AWS ClusterNetworkPolicy and ApplicationNetworkPolicy, the
/// upstream Admin/Baseline/ClusterNetworkPolicy) are not modelled yet, and their Deny,
/// Accept and Pass actions can overturn what NetworkPolicies alone decide, in both
/// directions: a verdict reached without them is not a proof (docs/verify.md, "Cluster-scoped
/// policies"). Every policy-not-modelled warning points at one of them.
fn unknown_under_tiers(u: &Universe, outcome: Outcome) -> Outcome {
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

/// `scope: any` quantifies over pods, not Services: the Services are the ones in the
/// manifests. Under VPC CNI a Service created later adds a ClusterIP path (V5) that the
/// direct one lacks only through an egress rule that [`admits_new_service`]. Returns the
/// warning at the first such rule and the indices of the proofs that rest on the existing
/// Services, which [`verify`] turns into `unknown`.
fn proof_limitation(
    u: &Universe,
    v: &Verification,
    results: &[AssertionResult],
    config: &ParsedConfig,
) -> Option<(Diagnostic, Vec<usize>)> {
    if !u.profile.flags.cluster_ip_egress {
        return None;
    }
    let (indices, affected): (Vec<usize>, Vec<&str>) = v
        .assertions
        .iter()
        .zip(results)
        .enumerate()
        .filter(|(_, (a, r))| {
            a.scope == Scope::Any
                && (a.deny.is_some() || a.only.is_some())
                && matches!(r.outcome, Outcome::Proved)
        })
        .map(|(i, (a, _))| (i, a.name.as_str()))
        .unzip();
    if affected.is_empty() {
        return None;
    }
    let (policy, span, why) = u.policies.iter().find_map(|p| {
        p.egress
            .iter()
            .find_map(|r| admits_new_service(&u.profile, r))
            .map(|(span, why)| (p, span, why))
    })?;
    let d = Diagnostic::new(
        Code::ProofLimitation,
        format!(
            "under vpc-cni, {} hold only for the Services in the manifests: a Service created later could open a path through its ClusterIP, so they are unknown",
            affected.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ),
    )
    .with_primary(span, format!("egress rule of {}/{}: {why}", policy.namespace, policy.name))
    .with_help("set `cluster.serviceCIDR` so that ipBlocks can be checked against it, select egress peers with `In`/`Exists` and numeric ports, or re-verify after adding the Service")
    .with_note("docs/verify.md (\"Services created later\") lists the rules that can do this");
    let d = match config.root {
        Some(span) => d.with_secondary(
            Span::new(span.file, span.start as usize, span.start as usize),
            "assertions in this file",
        ),
        None => d,
    };
    Some((d, indices))
}

/// Whether an egress rule may admit a Service created later on a path to a pod that it
/// does not admit directly, with the peer's span and why. A rule that matches a Service
/// only through its backends' own labels and port numbers adds nothing; these can:
/// - an omitted `to` with ports, or an ipBlock that may cover a new ClusterIP (anywhere in
///   `serviceCIDR`, or anywhere when it is not set), with numeric ports: they match the
///   Service `port`, which may map to any `targetPort`;
/// - a pod selector with `NotIn`/`DoesNotExist`: a Service selector can satisfy it while
///   its backends (with more labels) do not;
/// - a named port: it matches a numeric `targetPort` when any backend declares the name.
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
            } else {
                None
            }
        }
    })
}

fn overlaps(a: &ipnet::IpNet, b: &ipnet::IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn unknown_references(u: &Universe, a: &Assertion) -> Option<String> {
    for p in assertion_peers(a) {
        if let Some(w) = &p.workload
            && u.find_workload(w).is_none()
        {
            return Some(w.clone());
        }
        if let Some(w) = &p.pod
            && u.find_pod(w).is_none()
        {
            return Some(w.clone());
        }
    }
    None
}

fn solver(options: &Options) -> Solver {
    let s = Solver::new();
    let mut params = Params::new();
    let ms = u32::try_from(options.timeout.as_millis())
        .unwrap_or(u32::MAX)
        .max(1);
    params.set_u32("timeout", ms);
    s.set_params(&params);
    s
}

/// Builds and solves one assertion. Returns the outcome and whether it is vacuous.
fn decide(u: &Universe, a: &Assertion, options: &Options) -> (Outcome, bool) {
    let Some(kind) = a.kind() else {
        return (
            Outcome::Unknown("the assertion has no single body".to_owned()),
            false,
        );
    };
    let named = match (a.scope, &kind) {
        (Scope::Existing, _) => NamedMode::Existing,
        (Scope::Any, Kind::Allow) => NamedMode::WithDestination,
        (Scope::Any, _) => NamedMode::Widened,
    };
    let enc = Encoder {
        u,
        scope: a.scope,
        named,
        allow: kind == Kind::Allow,
    };
    let mut q = build(&enc, a, &kind);
    let s = solver(options);
    for f in &q.assertions {
        s.assert(f);
    }
    let outcome = match check_readable(&s, &q) {
        SatResult::Unsat => Outcome::Proved,
        SatResult::Unknown => Outcome::Unknown(
            s.get_reason_unknown()
                .unwrap_or_else(|| "the solver gave up".to_owned()),
        ),
        SatResult::Sat => match s.get_model() {
            Some(m) => Outcome::Refuted(Box::new(decode(u, &mut q, &m, &kind, a))),
            None => Outcome::Unknown("the solver returned no model".to_owned()),
        },
    };
    // Vacuity, only for proofs (a counterexample selects something): the peers alone
    // (without the connection part, the last formula) have no solution.
    let vacuous = outcome == Outcome::Proved && {
        let vac = solver(options);
        for f in &q.assertions[..q.assertions.len() - 1] {
            vac.assert(f);
        }
        vac.check() == SatResult::Unsat
    };
    (outcome, vacuous)
}

/// Checks the query, preferring a model whose chosen IPs are host addresses (last octet
/// neither 0 nor 255): the solver's first choice is often `10.0.0.0`, valid in theory but
/// puzzling. The preference is an assumption, so one check usually decides: `unsat` with
/// an empty core is `unsat` without it. The model, if any, is the last check's (read
/// through assumptions, never after `pop`, which once gave an inconsistent model).
fn check_readable(s: &Solver, q: &Query) -> SatResult {
    let nice: Vec<Bool> = q
        .src
        .iter()
        .chain(std::iter::once(&q.dst))
        .map(|side| {
            let last = side.ip.extract(7, 0);
            Bool::and(&[
                last.eq(BV::from_u64(0, 8)).not(),
                last.eq(BV::from_u64(255, 8)).not(),
            ])
        })
        .collect();
    match s.check_assumptions(&nice) {
        SatResult::Sat => SatResult::Sat,
        SatResult::Unsat if s.get_unsat_core().is_empty() => SatResult::Unsat,
        _ => s.check(),
    }
}

/// A query about one side only (`isolated`, or an impossible body): no source, no traces.
fn one_sided(assertions: Vec<Bool>, dst: Side, proto: Int, port: BV) -> Query {
    Query {
        assertions,
        src: None,
        dst,
        proto,
        port,
        traces: Vec::new(),
        via: Vec::new(),
    }
}

/// The query of an assertion: the negation of what it claims. The last formula is the
/// connection (or isolation) part, so that the rest alone decides vacuity.
fn build(enc: &Encoder<'_>, a: &Assertion, kind: &Kind) -> Query {
    let mut f = Vec::new();
    let proto = Int::new_const("proto");
    let port = BV::new_const("port", 16);
    if let (Kind::Isolated, Some(iso)) = (kind, &a.isolated) {
        let x = enc.side("x", &SideFilter::Peer(&iso.pods), &mut f);
        f.push(x.is_pod());
        f.push(enc.peer(&iso.pods, &x));
        f.push(enc.scope_ok(&x));
        let dirs: Vec<Direction> = match &iso.directions {
            None => Direction::BOTH.to_vec(),
            Some(l) => l
                .iter()
                .filter_map(|d| config::parse_direction(d))
                .collect(),
        };
        let open: Vec<Bool> = dirs.iter().map(|d| enc.isolated(&x, *d).not()).collect();
        f.push(Bool::or(&open));
        return one_sided(f, x, proto, port);
    }
    let (from_filter, to, ports) = match (kind, &a.deny, &a.allow, &a.only) {
        (Kind::Deny, Some(p), _, _) | (Kind::Allow, _, Some(p), _) => {
            (SideFilter::Peer(&p.from), &p.to, p.ports.as_deref())
        }
        (_, _, _, Some(o)) => (SideFilter::NoneOf(&o.from), &o.to, o.ports.as_deref()),
        _ => {
            // `Assertion::kind` guarantees the body; an impossible query proves nothing.
            f.push(Bool::from_bool(false));
            let x = enc.side("x", &SideFilter::NoneOf(&[]), &mut f);
            f.push(Bool::from_bool(false));
            return one_sided(f, x, proto, port);
        }
    };
    let s = enc.side("s", &from_filter, &mut f);
    let d = enc.side("d", &SideFilter::Peer(to), &mut f);
    match &from_filter {
        SideFilter::Peer(p) => f.push(enc.peer(p, &s)),
        SideFilter::NoneOf(peers) => {
            let v: Vec<Bool> = peers.iter().map(|p| enc.peer(p, &s)).collect();
            f.push(Bool::or(&v).not());
        }
    }
    f.push(enc.peer(to, &d));
    f.push(enc.scope_ok(&s));
    f.push(enc.scope_ok(&d));
    f.push(enc.distinct(&s, &d));
    f.push(enc.ports_formula(&config::port_items(ports), &proto, &port));
    let mut eg = enc.direction(&s, &d, Direction::Egress, &proto, &port, false);
    let ing = enc.direction(&d, &s, Direction::Ingress, &proto, &port, true);
    // V5: egress may instead reach `d` through a ClusterIP; ingress at `d` is the same.
    let via = enc.via_services(&s, &d, &proto, &port);
    if !via.is_empty() {
        let mut ways = vec![eg.allowed.clone()];
        for v in &via {
            ways.push(v.term.clone());
            eg.rules.extend(
                v.rules
                    .iter()
                    .map(|(p, b)| (*p, Bool::and(&[b.clone(), v.term.clone()]))),
            );
        }
        eg.allowed = Bool::or(&ways);
    }
    let allowed = Bool::and(&[eg.allowed.clone(), ing.allowed.clone()]);
    f.push(match kind {
        Kind::Allow => allowed.not(),
        _ => allowed,
    });
    Query {
        assertions: f,
        src: Some(s),
        dst: d,
        proto,
        port,
        traces: vec![eg, ing],
        via,
    }
}
