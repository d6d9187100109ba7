//! One assertion's query: `build` turns an assertion into formulas over the encoding,
//! [`decide`] checks them with Z3 within the assertion's time limit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netpol_manifest::model::Direction;
use z3::ast::{BV, Bool, Int};
use z3::{Params, SatResult, Solver};

use crate::config::{Body, Intent, Kind, Scope};
use crate::decode::decode;
use crate::encode::{Encoder, NamedMode, Query, Side, SideFilter};
use crate::universe::Universe;
use crate::{Options, Outcome};

/// When an assertion must be decided by, and which limit set it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Limit {
    /// `Options::timeout` after the assertion started.
    Timeout(Instant),
    /// `Options::deadline`, the whole run's.
    Deadline(Instant),
}

impl Limit {
    pub(crate) fn at(self) -> Instant {
        match self {
            Limit::Timeout(t) | Limit::Deadline(t) => t,
        }
    }

    /// The `unknown` reason when the limit passes.
    pub(crate) fn reason(self, options: &Options) -> String {
        match self {
            Limit::Timeout(_) => format!(
                "not decided within the time limit of {} per assertion (--timeout)",
                seconds(options.timeout)
            ),
            Limit::Deadline(_) => {
                "the time limit of the whole run passed before it was decided (--deadline)"
                    .to_owned()
            }
        }
    }
}

/// `5 s`, `0.25 s` (to the millisecond).
fn seconds(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    format!("{} s", s.trim_end_matches('0').trim_end_matches('.'))
}

/// A solver whose own time limit is what is left until `until`.
fn solver(until: Instant) -> Solver {
    let s = Solver::new();
    set_timeout(&s, until);
    s
}

fn set_timeout(s: &Solver, until: Instant) {
    let mut params = Params::new();
    let left = until.saturating_duration_since(Instant::now());
    let ms = u32::try_from(left.as_millis()).unwrap_or(u32::MAX).max(1);
    params.set_u32("timeout", ms);
    s.set_params(&params);
}

/// Builds and solves one assertion in the current thread's Z3 context. Returns the
/// outcome, whether it is vacuous, and whether Z3 was interrupted (the context may then
/// stay cancelled: the caller replaces it). Past `limit` (building, solving and decoding
/// alike) the outcome is `unknown`: the encoder stops building, and a watchdog interrupts
/// Z3.
pub(crate) fn decide(
    u: &Universe,
    a: Option<&Intent>,
    limit: Limit,
    options: &Options,
) -> (Outcome, bool, bool) {
    let ctx = z3::Context::thread_local();
    let handle = ctx.handle();
    let fired = AtomicBool::new(false);
    let (done, wait) = mpsc::channel::<()>();
    let (outcome, vacuous) = std::thread::scope(|sc| {
        let (handle, fired) = (&handle, &fired);
        sc.spawn(move || {
            let left = limit.at().saturating_duration_since(Instant::now());
            if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(left) {
                fired.store(true, Ordering::SeqCst);
                handle.interrupt();
            }
        });
        let r = decide_within(u, a, limit.at());
        drop(done);
        r
    });
    let gave_up = matches!(&outcome, Outcome::Unknown(r) if gave_up(r));
    let fired = fired.load(Ordering::SeqCst);
    if gave_up || fired || Instant::now() > limit.at() {
        return (Outcome::Unknown(limit.reason(options)), false, fired);
    }
    (outcome, vacuous, fired)
}

/// An `unknown` that is no answer: the build or the solver stopped (time limit, interrupt).
fn gave_up(reason: &str) -> bool {
    reason.is_empty() || reason == "timeout" || reason == "canceled"
}

fn decide_within(u: &Universe, a: Option<&Intent>, until: Instant) -> (Outcome, bool) {
    let Some(a) = a else {
        return (
            Outcome::Unknown("the assertion has no single body".to_owned()),
            false,
        );
    };
    let first = decide_once(u, a, until, false);
    // V11 again where it left a `deny`, `only` or `isolated` open, now with each end's table
    // counted only where the other end may allow: a proof may follow (the other end denies
    // for certain). A heavier query for the solver, so only for these (docs/benchmarks.md,
    // stop 13); an `allow` stays unknown there.
    match &first.0 {
        Outcome::Unknown(r) if crate::encode::is_table_reason(r) && a.kind() != Kind::Allow => {
            let second = decide_once(u, a, until, true);
            match &second.0 {
                // Out of time or given up: the first answer's reason says more.
                Outcome::Unknown(r) if gave_up(r) => first,
                _ => second,
            }
        }
        _ => first,
    }
}

/// One query; `both_ends`: a V11 table at one end counts only where the other end may allow.
fn decide_once(u: &Universe, a: &Intent, until: Instant, both_ends: bool) -> (Outcome, bool) {
    let kind = a.kind();
    let named = match (a.scope, kind) {
        (Scope::Existing, _) => NamedMode::Existing,
        (Scope::Any, Kind::Allow) => NamedMode::WithDestination,
        (Scope::Any, _) => NamedMode::Widened,
    };
    let enc = Encoder {
        u,
        scope: a.scope,
        named,
        allow: kind == Kind::Allow,
        deadline: Some(until),
        expired: std::cell::Cell::new(false),
    };
    let mut q = build(&enc, a, both_ends);
    if enc.expired() {
        // Half built: no verdict (the caller reports the time limit).
        return (Outcome::Unknown(String::new()), false);
    }
    let s = solver(until);
    for f in &q.assertions {
        s.assert(f);
    }
    let outcome = match check_readable(&s, &q, until) {
        SatResult::Unsat => Outcome::Proved,
        SatResult::Unknown => Outcome::Unknown(
            s.get_reason_unknown()
                .unwrap_or_else(|| "the solver gave up".to_owned()),
        ),
        SatResult::Sat if u.free.is_empty() => match s.get_model() {
            Some(m) => refuted(u, &s, &mut q, &m, a),
            None => Outcome::Unknown("the solver returned no model".to_owned()),
        },
        SatResult::Sat => order_dependent(u, &s, &mut q, a, until),
    };
    // Vacuity, only for proofs (a counterexample selects something): the peers alone
    // (without the connection part, the last formula) have no solution.
    let vacuous = outcome == Outcome::Proved && {
        let vac = solver(until);
        for f in &q.assertions[..q.assertions.len() - 1] {
            vac.assert(f);
        }
        vac.check() == SatResult::Unsat
    };
    (outcome, vacuous)
}

/// Checks the query, preferring a model whose chosen IPs are host addresses (IPv4: last
/// octet neither 0 nor 255): the solver's first choice is often `10.0.0.0`, valid in theory
/// but puzzling. IPv6 has no broadcast address, but the all-zero interface part is the
/// subnet-router anycast address and reads as a network (`2600::`), so there the last 16
/// bits are not all zero (`2600::1`). The preference is an assumption, so one check usually
/// decides: `unsat` with an empty core is `unsat` without it. The model, if any, is the last
/// check's (read through assumptions, never after `pop`, which once gave an inconsistent
/// model).
fn check_readable(s: &Solver, q: &Query, until: Instant) -> SatResult {
    let nice: Vec<Bool> = q
        .src
        .iter()
        .chain(std::iter::once(&q.dst))
        .map(|side| {
            if side.ip.get_size() == 128 {
                return side.ip.extract(15, 0).eq(BV::from_u64(0, 16)).not();
            }
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
        _ => {
            set_timeout(s, until);
            s.check()
        }
    }
}

/// A model of the query: a counterexample, unless it needs a port slot the agent may drop
/// (V13) or an address where the longest key may decide (V11). Then a model clear of every
/// such condition refutes, and without one the verdict is `unknown`.
fn refuted(u: &Universe, s: &Solver, q: &mut Query, m: &z3::Model, a: &Intent) -> Outcome {
    let hit = (q.truncation.iter())
        .find(|(b, _)| m.eval(b, true).and_then(|v| v.as_bool()) == Some(true));
    let Some((_, why)) = hit else {
        return Outcome::Refuted(Box::new(decode(u, q, m, a)));
    };
    let why = why.clone();
    let unsure: Vec<Bool> = q.truncation.iter().map(|(b, _)| b.clone()).collect();
    s.push();
    s.assert(Bool::or(&unsure).not());
    let outcome = match (s.check(), s.get_model()) {
        (SatResult::Sat, Some(m)) => Outcome::Refuted(Box::new(decode(u, q, &m, a))),
        _ => Outcome::Unknown(why),
    };
    s.pop(1);
    outcome
}

/// V9: the assertion fails for some selecting set an identifier allows. It is refuted
/// when it fails both with every order-dependent choice off (each pod gets the policies of
/// its own and of its siblings on its node only) and with every choice on (the union of its
/// whole identifier): which sets the agent ends up with depends on the order in which it saw
/// pods and policies, and these are the two ends of the range. Otherwise the verdict is
/// `unknown`, naming the identifiers and policies the first counterexample used.
fn order_dependent(u: &Universe, s: &Solver, q: &mut Query, a: &Intent, until: Instant) -> Outcome {
    let Some(first) = s.get_model() else {
        return Outcome::Unknown("the solver returned no model".to_owned());
    };
    let mut used: Vec<String> = u
        .free
        .iter()
        .filter(|&&(j, pi)| {
            first
                .eval(&crate::encode::v9_applies(j, pi), true)
                .and_then(|b| b.as_bool())
                .unwrap_or(false)
        })
        .map(|&(j, pi)| {
            let p = &u.policies[pi];
            let id = u.ident[j].as_ref().map_or("", |r| r.identifier.as_str());
            format!(
                "{}/{} on {} (pod identifier {id})",
                p.namespace, p.name, u.eps[j].id
            )
        })
        .collect();
    used.dedup();
    s.push();
    for &(j, pi) in &u.free {
        s.assert(crate::encode::v9_applies(j, pi).not());
    }
    let off = check_readable(s, q, until);
    // The lower end's counterexample, decided while every choice is still off.
    let at_lower = match (off, s.get_model()) {
        (SatResult::Sat, Some(m)) => Some(refuted(u, s, q, &m, a)),
        _ => None,
    };
    s.pop(1);
    s.push();
    for &(j, pi) in &u.free {
        s.assert(crate::encode::v9_applies(j, pi));
    }
    // The upper end must fail as surely: not through a V11/V13 condition.
    let unsure: Vec<Bool> = q.truncation.iter().map(|(b, _)| b.clone()).collect();
    s.assert(Bool::or(&unsure).not());
    let on = if matches!(at_lower, Some(Outcome::Refuted(_))) {
        s.check()
    } else {
        SatResult::Unknown
    };
    let outcome = match (off, at_lower, on) {
        (_, Some(refutation @ Outcome::Refuted(_)), SatResult::Sat) => refutation,
        (_, Some(Outcome::Refuted(_)), SatResult::Unsat) => Outcome::Unknown(
            "fails while the agent applies only the policies certain for each pod identifier, and holds once it applies all of them, which depends on the order in which pods and policies reached nodes (V9)".to_owned(),
        ),
        (_, Some(Outcome::Refuted(_)), _) => Outcome::Unknown(
            s.get_reason_unknown()
                .unwrap_or_else(|| "the solver gave up".to_owned()),
        ),
        (_, Some(other), _) => other,
        (SatResult::Unsat, _, _) => Outcome::Unknown(format!(
            "fails only if the agent applies {} through identifier sharing, which depends on the order in which pods and policies reached nodes (V9)",
            used.join(", ")
        )),
        _ => Outcome::Unknown(
            s.get_reason_unknown()
                .unwrap_or_else(|| "the solver gave up".to_owned()),
        ),
    };
    s.pop(1);
    outcome
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
        via_classes: Vec::new(),
        truncation: Vec::new(),
    }
}

/// The query of an assertion: the negation of what it claims. The last formula is the
/// connection (or isolation) part, so that the rest alone decides vacuity.
fn build(enc: &Encoder<'_>, a: &Intent, both_ends: bool) -> Query {
    let mut f = Vec::new();
    let proto = Int::new_const("proto");
    let port = BV::new_const("port", 16);
    let (from_filter, to, ports) = match &a.body {
        Body::Isolated { pods, directions } => {
            let x = enc.side("x", &SideFilter::Peer(pods), &mut f);
            f.push(x.is_pod());
            f.push(enc.peer(pods, &x));
            f.push(enc.scope_ok(&x));
            let open: Vec<Bool> = directions
                .iter()
                .map(|d| enc.isolated(&x, *d).not())
                .collect();
            f.push(Bool::or(&open));
            return one_sided(f, x, proto, port);
        }
        Body::Pair {
            from, to, ports, ..
        } => (SideFilter::Peer(from), to, ports),
        Body::Only { to, from, ports } => (SideFilter::NoneOf(from), to, ports),
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
    f.push(enc.ports_formula(ports, &proto, &port));
    let mut eg = enc.direction(&s, &d, Direction::Egress, &proto, &port, false);
    let mut ing = enc.direction(&d, &s, Direction::Ingress, &proto, &port, true);
    // V12: a node key that an `except` denies overrides every rule and the exemption.
    for (t, x, y, dir) in [
        (&mut eg, &s, &d, Direction::Egress),
        (&mut ing, &d, &s, Direction::Ingress),
    ] {
        let denied = enc.node_key_denied(x, y, dir);
        t.allowed = Bool::and(&[t.allowed.clone(), denied.not()]);
        // V11: between existing endpoints the graph's longest-prefix verdict is exact (it
        // overrides the table for addresses outside pods, which overrides the union).
        let external = enc.bleed_external(x, y, dir, &proto, &port);
        let exact = enc.bleed_exact(x, y, dir, &proto, &port);
        let conds: Vec<Bool> = external
            .iter()
            .chain(&exact)
            .map(|(c, _)| c.clone())
            .collect();
        t.lpm = Bool::or(&conds);
        t.allowed = overridden(overridden(t.allowed.clone(), external), exact);
        t.allowed_direct = t.allowed.clone();
    }
    // V15: ICMPv6 passes at every pod before any lookup, so no table or rule decides it.
    let icmpv6 = enc.icmpv6(&proto);
    if let Some(icmp) = &icmpv6 {
        for t in [&mut eg, &mut ing] {
            t.allowed = Bool::or(&[t.allowed.clone(), icmp.clone()]);
            t.allowed_direct = t.allowed.clone();
            t.lpm = Bool::and(&[t.lpm.clone(), icmp.not()]);
        }
    }
    // V5: egress may instead reach `d` through a ClusterIP; ingress at `d` is the same.
    let direct = Bool::and(&[eg.allowed.clone(), ing.allowed.clone()]);
    let (mut via, via_classes) = enc.via_services(&s, &d, &proto, &port);
    // V11: at a source with an `except`, the ClusterIP's longest key bounds the way.
    enc.bleed_via(&s, &mut via);
    if !via.is_empty() {
        let mut ways = vec![eg.allowed.clone()];
        ways.extend(via.iter().map(|v| v.term.clone()));
        eg.allowed = Bool::or(&ways);
    }
    let allowed = Bool::and(&[eg.allowed.clone(), ing.allowed.clone()]);
    // V13: an `allow` is proved only without slots the agent may drop.
    let truncation = match a.kind() {
        Kind::Allow => {
            let mut t = enc.truncation(&s, &d, Direction::Egress, &proto, &port);
            t.extend(enc.truncation(&d, &s, Direction::Ingress, &proto, &port));
            // Only a connection that is otherwise allowed turns on the slots.
            let mut t: Vec<(Bool, String)> = (t.into_iter())
                .map(|(b, why)| (Bool::and(&[b, allowed.clone()]), why))
                .collect();
            // On a ClusterIP key, a way whose slot may be dropped matters only where no
            // other way is certain.
            let risky = enc.truncated_via(&s, &via);
            if !risky.is_empty() {
                let mut ways = vec![direct.clone()];
                for (vi, v) in via.iter().enumerate() {
                    let unsure: Vec<Bool> = (risky.iter())
                        .filter(|(i, _, _)| *i == vi)
                        .map(|(_, at, _)| at.clone())
                        .collect();
                    let way = Bool::and(&[v.term.clone(), ing.allowed.clone()]);
                    ways.push(Bool::and(&[way, Bool::or(&unsure).not()]));
                }
                let certain = Bool::or(&ways);
                for (vi, at, why) in risky {
                    let way = Bool::and(&[via[vi].term.clone(), ing.allowed.clone()]);
                    t.push((Bool::and(&[at, way, certain.not()]), why));
                }
            }
            t
        }
        _ => Vec::new(),
    };
    // V11: where the longest-prefix table may decide, neither verdict is certain, unless
    // (`both_ends`) the other direction denies for certain (its rules deny and its own
    // table cannot decide otherwise): the connection needs both.
    let mut truncation = truncation;
    let (adds, maybe) = enc.bleed_services(&s, &d);
    let bleed_eg = enc.bleed(&s, &d, Direction::Egress);
    let bleed_ing = enc.bleed(&d, &s, Direction::Ingress);
    let conds = |v: &[(Bool, String)]| v.iter().map(|(b, _)| b.clone()).collect::<Vec<_>>();
    if both_ends {
        let mut ing_may = vec![ing.allowed.clone()];
        ing_may.extend(conds(&bleed_ing));
        let mut eg_may = vec![eg.allowed.clone()];
        eg_may.extend(conds(&bleed_eg));
        eg_may.extend(conds(&adds));
        let (ing_may, eg_may) = (Bool::or(&ing_may), Bool::or(&eg_may));
        for (b, why) in bleed_eg {
            truncation.push((Bool::and(&[b, ing_may.clone()]), why));
        }
        for (b, why) in bleed_ing {
            truncation.push((Bool::and(&[b, eg_may.clone()]), why));
        }
    } else {
        truncation.extend(bleed_eg);
        truncation.extend(bleed_ing);
    }
    for (b, why) in adds {
        truncation.push((Bool::and(&[b, direct.clone().not()]), why));
    }
    for (at, why, ids) in maybe {
        let ways: Vec<Bool> = (via.iter())
            .filter(|v| ids.contains(&enc.u.services[v.service].id))
            .map(|v| v.term.clone())
            .collect();
        if !ways.is_empty() {
            truncation.push((Bool::and(&[at, Bool::or(&ways)]), why));
        }
    }
    if let Some(icmp) = &icmpv6 {
        truncation = (truncation.into_iter())
            .map(|(b, why)| (Bool::and(&[b, icmp.not()]), why))
            .collect();
    }
    let unsure: Vec<Bool> = truncation.iter().map(|(b, _)| b.clone()).collect();
    f.push(match a.kind() {
        Kind::Allow if !truncation.is_empty() => {
            Bool::and(&[allowed, Bool::or(&unsure).not()]).not()
        }
        Kind::Allow => allowed.not(),
        _ if !truncation.is_empty() => Bool::or(&[allowed, Bool::or(&unsure)]),
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
        via_classes,
        truncation,
    }
}

/// `base` where none of the conditions holds, else the verdict of the one that holds (the
/// conditions exclude each other): a flat term, however many pairs (a chain of `ite`s as
/// deep as the pairs overflowed Z3's stack).
fn overridden(base: Bool, by: Vec<(Bool, Bool)>) -> Bool {
    if by.is_empty() {
        return base;
    }
    let any = Bool::or(&by.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>());
    let mut ways: Vec<Bool> = by.into_iter().map(|(c, v)| Bool::and(&[c, v])).collect();
    ways.push(Bool::and(&[any.not(), base]));
    Bool::or(&ways)
}
