//! Proofs of isolation intents with Z3.
//!
//! [`parse_config`] reads `netpol.yaml` into a [`Verification`]; [`verify`] decides each of
//! its assertions with one sliced Z3 query (see `docs/verify.md`) and returns, per
//! assertion, `proved`, `refuted` with a concrete [`Counterexample`], or `unknown`
//! (timeout or resource limit, never a silent pass). The encoding follows
//! `docs/semantics.md`, the contract the graph engine implements too.

pub mod config;
mod encode;
mod universe;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use netpol_diag::{Code, Diagnostic, Span};
use netpol_graph::Profile;
use netpol_graph::ir::Provenance;
use netpol_manifest::Model;
use netpol_manifest::model::{ContainerPort, Direction, EndpointKind, Labels, Namespace, Protocol};
use z3::ast::{BV, Bool, Int};
use z3::{Model as Z3Model, Params, SatResult, Solver};

pub use config::{Assertion, ParsedConfig, Scope, Verification, parse_config, schema_json};

use config::Kind;
use encode::{EXTERNAL, Encoder, FUTURE, NamedMode, OTHER_PROTO, Query, Side, SideFilter, Trace};
use universe::{Universe, assertion_peers};

/// Solver limits.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Per assertion.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(30),
        }
    }
}

/// The verdict of one assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Proved,
    Refuted(Box<Counterexample>),
    /// The solver gave up (timeout, resource limit) or the assertion could not be encoded.
    Unknown(String),
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Proved => "proved",
            Outcome::Refuted(_) => "refuted",
            Outcome::Unknown(_) => "unknown",
        }
    }
}

/// One assertion's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionResult {
    pub name: String,
    pub outcome: Outcome,
    pub duration: Duration,
    /// The assertion in `netpol.yaml`.
    pub span: Option<Span>,
}

/// What a side of a counterexample is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointRef {
    /// An endpoint of the manifests, by id.
    Existing(String),
    /// A pod that does not exist yet.
    Future,
    /// An address outside the cluster's pods.
    External,
}

/// A concrete endpoint of a counterexample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcreteEndpoint {
    pub endpoint: EndpointRef,
    /// `None` for an external address.
    pub namespace: Option<String>,
    /// The namespace does not exist yet.
    pub new_namespace: bool,
    pub namespace_labels: Labels,
    pub labels: Labels,
    pub ip: Option<Ipv4Addr>,
    pub ports: Vec<ContainerPort>,
    /// S10/V4: the configured node the pod runs on (`spec.nodeName`), when it matters: a
    /// future pod, or a replica of a workload.
    pub node: Option<String>,
}

impl ConcreteEndpoint {
    /// A one-line description.
    pub fn describe(&self) -> String {
        let fmt_labels = |l: &Labels| {
            let v: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{{{}}}", v.join(", "))
        };
        let ip = self.ip.map(|ip| format!(" ip {ip}")).unwrap_or_default();
        let on_node = self
            .node
            .as_ref()
            .map(|n| format!(" on node {n}"))
            .unwrap_or_default();
        match &self.endpoint {
            EndpointRef::External => format!("external address{ip}"),
            EndpointRef::Existing(id) => format!("{id}{ip}{on_node}"),
            EndpointRef::Future => {
                let ns = self.namespace.as_deref().unwrap_or("?");
                let ns = if self.new_namespace {
                    let shown: Labels = self
                        .namespace_labels
                        .iter()
                        .filter(|(k, _)| k.as_str() != netpol_manifest::model::NAMESPACE_NAME_LABEL)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    format!("new namespace {ns} {}", fmt_labels(&shown))
                } else {
                    format!("namespace {ns}")
                };
                let ports: Vec<String> = self
                    .ports
                    .iter()
                    .map(|p| {
                        format!(
                            "{}={}/{}",
                            p.name.as_deref().unwrap_or(""),
                            p.protocol,
                            p.port
                        )
                    })
                    .collect();
                let ports = if ports.is_empty() {
                    String::new()
                } else {
                    format!(" ports [{}]", ports.join(", "))
                };
                format!(
                    "future pod {} in {ns}{ip}{ports}{on_node}",
                    fmt_labels(&self.labels)
                )
            }
        }
    }
}

/// One direction of a counterexample, at one end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectionTrace {
    pub direction: Direction,
    /// `true` when evaluated at the destination.
    pub at_destination: bool,
    pub allowed: bool,
    /// Policies are enforced at this end (a pod that is not hostNetwork).
    pub enforced: bool,
    pub isolated: bool,
    /// Policies that select the pod (indices into `Model::policies`) with their spans.
    pub selecting: Vec<(String, Span)>,
    /// Rules that allow the connection.
    pub rules: Vec<Provenance>,
    /// V4: allowed because the other end carries the IP of this pod's own node.
    pub node_exempt: bool,
    /// V2 under `scope: any`: selecting policies whose rules of this direction resolve only
    /// because a pod created later matches one of their peers, which isolates the direction.
    pub isolated_by_new_pod: Vec<String>,
}

/// A concrete connection (or, for `isolated`, a pod) that breaks an assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// `None` for `isolated`.
    pub source: Option<ConcreteEndpoint>,
    /// The destination (for `isolated`, the pod that is not isolated).
    pub destination: ConcreteEndpoint,
    /// `None`: ICMP or another port-less protocol (or `isolated`).
    pub protocol: Option<Protocol>,
    pub port: Option<u16>,
    /// For `isolated`: the directions that are not isolated.
    pub open_directions: Vec<Direction>,
    pub directions: Vec<DirectionTrace>,
    /// V5: the source connects to this Service (`ns/name[Service]`) on this Service port,
    /// and the ClusterIP is translated to the destination.
    pub via: Option<(String, u16)>,
}

impl Counterexample {
    /// `TCP/5432`, `ICMP/*` or empty.
    pub fn port_string(&self) -> String {
        match (self.protocol, self.port) {
            (Some(p), Some(n)) => format!("{p}/{n}"),
            (None, _) if self.source.is_some() => "ICMP/other protocol".to_owned(),
            _ => String::new(),
        }
    }

    /// The counterexample as a cluster: `model` plus the future pods (and new namespaces)
    /// it invents, as bare Pods named `netpol-cx-src`/`netpol-cx-dst`. Returns the model and
    /// the endpoint ids of source and destination (`None` for an external address).
    pub fn materialize(&self, model: &Model) -> (Model, Option<String>, Option<String>) {
        let mut m = model.clone();
        let mut add = |e: &ConcreteEndpoint, name: &str| -> Option<String> {
            match &e.endpoint {
                EndpointRef::Existing(id) => Some(id.clone()),
                EndpointRef::External => None,
                EndpointRef::Future => {
                    let ns = e.namespace.clone()?;
                    if m.namespace(&ns).is_none() {
                        m.namespaces.push(Namespace {
                            name: ns.clone(),
                            labels: e.namespace_labels.clone(),
                            span: None,
                        });
                        m.namespaces.sort_by(|a, b| a.name.cmp(&b.name));
                    }
                    let span = m
                        .endpoints
                        .first()
                        .map(|x| x.span)
                        .or(m.policies.first().map(|p| p.span))
                        .unwrap_or(Span::new(netpol_diag::SourceMap::new().add("x", ""), 0, 0));
                    let ep = netpol_manifest::model::Endpoint {
                        kind: EndpointKind::Pod,
                        namespace: ns,
                        name: name.to_owned(),
                        labels: e.labels.clone(),
                        ports: e.ports.clone(),
                        host_network: false,
                        pod_ip: e.ip.map(IpAddr::V4),
                        host_ip: None,
                        node_name: e.node.clone(),
                        span,
                    };
                    let id = ep.id();
                    m.endpoints.push(ep);
                    m.endpoints.sort_by_key(|a| a.id());
                    Some(id)
                }
            }
        };
        let src = self.source.as_ref().and_then(|s| add(s, "netpol-cx-src"));
        let dst = add(&self.destination, "netpol-cx-dst");
        (m, src, dst)
    }
}

/// Everything [`verify`] found.
#[derive(Clone, Debug, Default)]
pub struct Verified {
    pub results: Vec<AssertionResult>,
    /// Vacuous assertions, unknown references.
    pub diagnostics: Vec<Diagnostic>,
}

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
    if let Some(d) = proof_limitation(&u, v, &out.results, config) {
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
/// direct one lacks only through an egress rule that [`admits_new_service`]; name the proofs
/// that rest on the existing Services, pointing at the first such rule.
fn proof_limitation(
    u: &Universe,
    v: &Verification,
    results: &[AssertionResult],
    config: &ParsedConfig,
) -> Option<Diagnostic> {
    if !u.profile.flags.cluster_ip_egress {
        return None;
    }
    let affected: Vec<&str> = v
        .assertions
        .iter()
        .zip(results)
        .filter(|(a, r)| {
            a.scope == Scope::Any
                && (a.deny.is_some() || a.only.is_some())
                && matches!(r.outcome, Outcome::Proved)
        })
        .map(|(a, _)| a.name.as_str())
        .collect();
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
            "under vpc-cni, the proofs of {} hold for the Services in the manifests; a Service created later could open a path through its ClusterIP",
            affected.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ),
    )
    .with_primary(span, format!("egress rule of {}/{}: {why}", policy.namespace, policy.name))
    .with_help("set `cluster.serviceCIDR` so that ipBlocks can be checked against it, select egress peers with `In`/`Exists` and numeric ports, or re-verify after adding the Service")
    .with_note("docs/verify.md (\"Services created later\") lists the rules that can do this");
    Some(match config.root {
        Some(span) => d.with_secondary(
            Span::new(span.file, span.start as usize, span.start as usize),
            "proofs in this file",
        ),
        None => d,
    })
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
        return Query {
            assertions: f,
            src: None,
            dst: x,
            proto,
            port,
            traces: Vec::new(),
            via: Vec::new(),
        };
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
            return Query {
                assertions: f,
                src: None,
                dst: x,
                proto,
                port,
                traces: Vec::new(),
                via: Vec::new(),
            };
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

fn eval_bool(m: &Z3Model, b: &Bool) -> bool {
    m.eval(b, true).and_then(|v| v.as_bool()).unwrap_or(false)
}

fn eval_int(m: &Z3Model, i: &Int) -> i64 {
    m.eval(i, true).and_then(|v| v.as_i64()).unwrap_or(0)
}

fn eval_bv(m: &Z3Model, b: &BV) -> u64 {
    m.eval(b, true).and_then(|v| v.as_u64()).unwrap_or(0)
}

fn decode_side(u: &Universe, m: &Z3Model, s: &Side) -> ConcreteEndpoint {
    let kind = eval_int(m, &s.kind);
    let ip = eval_bool(m, &s.has_ip).then(|| Ipv4Addr::from(eval_bv(m, &s.ip) as u32));
    // The node a pod runs on: free for future pods and workloads (S10/V4).
    let node = usize::try_from(eval_int(m, &s.node))
        .ok()
        .and_then(|k| u.node_keys.get(k))
        .map(|k| k.0.clone());
    if kind == EXTERNAL {
        return ConcreteEndpoint {
            endpoint: EndpointRef::External,
            namespace: None,
            new_namespace: false,
            namespace_labels: Labels::new(),
            labels: Labels::new(),
            ip,
            ports: Vec::new(),
            node: None,
        };
    }
    let labels_of = |vars: &encode::LabelVars, vocab: &universe::Vocab| -> Labels {
        vars.vars
            .iter()
            .filter(|(_, has, _)| eval_bool(m, has))
            .map(|(k, _, val)| (k.clone(), vocab.value(k, eval_int(m, val))))
            .collect()
    };
    if let Some(e) = usize::try_from(kind).ok().and_then(|j| u.eps.get(j)) {
        let (ns, nsl) = &u.namespaces[e.ns];
        return ConcreteEndpoint {
            endpoint: EndpointRef::Existing(e.id.clone()),
            namespace: Some(ns.clone()),
            new_namespace: false,
            namespace_labels: nsl.clone(),
            labels: e.labels.clone(),
            ip,
            ports: e.ports.clone(),
            node,
        };
    }
    debug_assert_eq!(kind, FUTURE);
    let ns_i = eval_int(m, &s.ns);
    let (namespace, new_namespace, namespace_labels) =
        match usize::try_from(ns_i).ok().and_then(|i| u.namespaces.get(i)) {
            Some((n, l)) => (n.clone(), false, l.clone()),
            None => {
                let l = labels_of(&s.nsl, &u.ns_vocab);
                let name = l
                    .get(netpol_manifest::model::NAMESPACE_NAME_LABEL)
                    .cloned()
                    .unwrap_or_else(|| "new-namespace".to_owned());
                (name, true, l)
            }
        };
    let ports = s
        .ports
        .iter()
        .filter(|(_, has, _)| eval_bool(m, has))
        .map(|((name, proto), _, num)| ContainerPort {
            name: Some(name.clone()),
            port: eval_bv(m, num) as u16,
            protocol: *proto,
        })
        .collect();
    ConcreteEndpoint {
        endpoint: EndpointRef::Future,
        namespace: Some(namespace),
        new_namespace,
        namespace_labels,
        labels: labels_of(&s.labels, &u.pod_vocab),
        ip,
        ports,
        node,
    }
}

fn decode_trace(u: &Universe, m: &Z3Model, t: &Trace) -> DirectionTrace {
    DirectionTrace {
        direction: t.direction,
        at_destination: t.at_dst,
        allowed: eval_bool(m, &t.allowed),
        enforced: eval_bool(m, &t.enforced),
        isolated: eval_bool(m, &t.isolated),
        selecting: t
            .selecting
            .iter()
            .filter(|(_, b)| eval_bool(m, b))
            .map(|(pi, _)| {
                let p = &u.policies[*pi];
                (format!("{}/{}", p.namespace, p.name), p.span)
            })
            .collect(),
        rules: t
            .rules
            .iter()
            .filter(|(_, b)| eval_bool(m, b))
            .map(|(p, _)| *p)
            .collect(),
        node_exempt: eval_bool(m, &t.exempt),
        isolated_by_new_pod: t
            .selecting
            .iter()
            .filter(|(pi, b)| {
                let di = usize::from(t.direction == Direction::Egress);
                let p = &u.policies[*pi];
                eval_bool(m, b)
                    && !p.policy_types.contains(t.direction)
                    && !u.resolves[*pi][di]
                    && u.may_resolve[*pi][di]
                    && eval_bool(m, &encode::v2_resolved_later(*pi, t.direction))
            })
            .map(|(pi, _)| {
                let p = &u.policies[*pi];
                format!("{}/{}", p.namespace, p.name)
            })
            .collect(),
    }
}

fn decode(u: &Universe, q: &mut Query, m: &Z3Model, kind: &Kind, a: &Assertion) -> Counterexample {
    let destination = decode_side(u, m, &q.dst);
    if let Kind::Isolated = kind {
        let enc = Encoder {
            u,
            scope: a.scope,
            named: NamedMode::Existing,
            allow: false,
        };
        let dirs: Vec<Direction> = match a.isolated.as_ref().and_then(|i| i.directions.as_ref()) {
            None => Direction::BOTH.to_vec(),
            Some(l) => l
                .iter()
                .filter_map(|d| config::parse_direction(d))
                .collect(),
        };
        let open = dirs
            .into_iter()
            .filter(|d| !eval_bool(m, &enc.isolated(&q.dst, *d)))
            .collect();
        return Counterexample {
            source: None,
            destination,
            protocol: None,
            port: None,
            open_directions: open,
            directions: Vec::new(),
            via: None,
        };
    }
    let mut source = q.src.as_ref().map(|s| decode_side(u, m, s));
    // Both ends in one class of identical pods: show two different members.
    if let (Some(src), EndpointRef::Existing(d)) = (&mut source, &destination.endpoint)
        && src.endpoint == destination.endpoint
        && let Some(j) = u.eps.iter().position(|e| &e.id == d)
        && let Some(other) = u.members.get(&j).and_then(|m| m.get(1))
    {
        src.endpoint = EndpointRef::Existing(u.eps[*other].id.clone());
    }
    let proto = eval_int(m, &q.proto);
    let protocol = match proto {
        0 => Some(Protocol::Tcp),
        1 => Some(Protocol::Udp),
        2 => Some(Protocol::Sctp),
        _ => None,
    };
    let port = (proto != OTHER_PROTO).then(|| eval_bv(m, &q.port) as u16);
    let directions: Vec<DirectionTrace> = q.traces.iter().map(|t| decode_trace(u, m, t)).collect();
    // A pod's node is shown only where the node exemption (S10/V4) decides.
    let mut destination = destination;
    let exempt_at = |at_dst: bool| {
        directions
            .iter()
            .any(|d| d.at_destination == at_dst && d.node_exempt)
    };
    if !exempt_at(true) {
        destination.node = None;
    }
    if let Some(src) = &mut source
        && !exempt_at(false)
    {
        src.node = None;
    }
    // V5: shown when the direct path is closed and a ClusterIP path carries it.
    let direct_egress = q
        .traces
        .first()
        .is_some_and(|t| eval_bool(m, &t.allowed_direct));
    let via = if direct_egress {
        None
    } else {
        q.via
            .iter()
            .find(|v| eval_bool(m, &v.term))
            .map(|v| (u.services[v.service].id.clone(), v.port))
    };
    Counterexample {
        source,
        destination,
        protocol,
        port,
        open_directions: Vec::new(),
        directions,
        via,
    }
}

/// Names of the model's policies by index, for rendering provenance.
pub fn policy_names(model: &Model) -> BTreeMap<usize, String> {
    model
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| (i, format!("{}/{}", p.namespace, p.name)))
        .collect()
}

/// The diagnostics of refuted (`assertion-refuted`) and unknown (`assertion-unknown`)
/// results: the primary label is the assertion, secondary labels the policies and rules
/// that decide the counterexample, notes describe it.
pub fn result_diagnostics(model: &Model, results: &[AssertionResult]) -> Vec<Diagnostic> {
    let names = policy_names(model);
    let mut out = Vec::new();
    for r in results {
        match &r.outcome {
            Outcome::Proved => {}
            Outcome::Unknown(reason) => {
                let d = Diagnostic::new(
                    Code::AssertionUnknown,
                    format!("assertion `{}` could not be decided: {reason}", r.name),
                )
                .with_help("raise --timeout, or narrow the assertion's peers");
                out.push(match r.span {
                    Some(s) => d.with_primary(s, "undecided"),
                    None => d,
                });
            }
            Outcome::Refuted(cx) => {
                let msg = match &cx.source {
                    Some(src) => format!(
                        "assertion `{}` is refuted: {} -> {} on {}",
                        r.name,
                        src.describe(),
                        cx.destination.describe(),
                        cx.port_string()
                    ),
                    None => format!(
                        "assertion `{}` is refuted: {} is not isolated for {}",
                        r.name,
                        cx.destination.describe(),
                        cx.open_directions
                            .iter()
                            .map(|d| d.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let msg = match &cx.via {
                    Some((svc, port)) => {
                        format!("{msg}, through the ClusterIP of {svc} port {port}")
                    }
                    None => msg,
                };
                let mut d = Diagnostic::new(Code::AssertionRefuted, msg);
                if let Some(s) = r.span {
                    d = d.with_primary(s, "does not hold");
                }
                for t in &cx.directions {
                    let at = if t.at_destination {
                        "destination"
                    } else {
                        "source"
                    };
                    let state = match (t.allowed, t.isolated, t.selecting.is_empty()) {
                        _ if !t.enforced => {
                            "not enforced (external address or hostNetwork pod): allowed"
                        }
                        (true, _, true) => "not selected by any policy: allowed",
                        (true, false, false) => "selected but not isolated: allowed",
                        (true, true, _) if t.node_exempt && t.rules.is_empty() => {
                            "isolated, allowed by the local-node exemption (the other end carries this pod's node IP)"
                        }
                        (true, true, _) => "isolated, allowed by a rule",
                        (false, _, true) => "not selected by any policy: denied (strict mode)",
                        (false, _, false) => "isolated, no rule allows it",
                    };
                    d = d.with_note(format!("{} at the {at}: {state}", t.direction));
                    for name in &t.isolated_by_new_pod {
                        d = d.with_note(format!(
                            "{name} lists no {} in policyTypes, yet VPC CNI enforces its {} rules once they resolve: a pod created later that matches one of their peers resolves them and isolates the {at}",
                            t.direction, t.direction
                        ));
                    }
                    for prov in &t.rules {
                        let name = names.get(&prov.policy).cloned().unwrap_or_default();
                        d = d.with_secondary(
                            prov.span,
                            format!("{} rule {} of {name} allows it", t.direction, prov.rule),
                        );
                    }
                    if t.rules.is_empty() && t.isolated {
                        for (name, span) in &t.selecting {
                            d = d.with_secondary(*span, format!("{name} selects the {at}"));
                        }
                    }
                }
                out.push(d);
            }
        }
    }
    out
}

fn endpoint_json(e: &ConcreteEndpoint) -> serde_json::Value {
    let (kind, id) = match &e.endpoint {
        EndpointRef::Existing(id) => ("existing", Some(id.clone())),
        EndpointRef::Future => ("future", None),
        EndpointRef::External => ("external", None),
    };
    serde_json::json!({
        "kind": kind,
        "id": id,
        "namespace": e.namespace,
        "newNamespace": e.new_namespace,
        "namespaceLabels": e.namespace_labels,
        "labels": e.labels,
        "ip": e.ip.map(|ip| ip.to_string()),
        "ports": e.ports.iter().map(|p| serde_json::json!({
            "name": p.name, "protocol": p.protocol.as_str(), "port": p.port
        })).collect::<Vec<_>>(),
        "node": e.node,
    })
}

impl Counterexample {
    /// The JSON form used by `netpol verify --format json`.
    pub fn to_json(&self, model: &Model, map: &netpol_diag::SourceMap) -> serde_json::Value {
        let names = policy_names(model);
        let loc = |s: Span| {
            let lc = map.start(s);
            serde_json::json!({"file": map.name(s.file), "line": lc.line, "column": lc.col})
        };
        serde_json::json!({
            "source": self.source.as_ref().map(endpoint_json),
            "destination": endpoint_json(&self.destination),
            "protocol": self.protocol.map(|p| p.as_str()),
            "port": self.port,
            "via": self.via.as_ref().map(|(svc, port)| serde_json::json!({"service": svc, "port": port})),
            "openDirections": self.open_directions.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            "directions": self.directions.iter().map(|t| serde_json::json!({
                "direction": t.direction.as_str(),
                "at": if t.at_destination { "destination" } else { "source" },
                "allowed": t.allowed,
                "enforced": t.enforced,
                "isolated": t.isolated,
                "isolatedByNewPod": t.isolated_by_new_pod,
                "nodeExempt": t.node_exempt,
                "selectedBy": t.selecting.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
                "rules": t.rules.iter().map(|p| {
                    let mut v = loc(p.span);
                    v["policy"] = serde_json::json!(names.get(&p.policy));
                    v["rule"] = serde_json::json!(p.rule);
                    v
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}
