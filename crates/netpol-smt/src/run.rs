//! [`verify`]: the run over all assertions. Each assertion is decided on a worker thread in
//! a Z3 context of its own, within its time limit (`Options::timeout`, and the run's
//! `Options::deadline`); results are handed to the caller in assertion order as soon as
//! they and every earlier one are decided, so that output streams and stays deterministic.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use netpol_diag::{Code, Diagnostic};
use netpol_graph::Profile;
use netpol_manifest::Model;

use crate::caveats::{
    LIMITED_REASON, ServiceLimit, limitation_diagnostic, limited, other_family_block,
    service_limit, unknown_by_backend_order, unknown_for_releases, unknown_under_tiers,
    unknown_with_other_family,
};
use crate::config::{Assertion, ParsedConfig};
use crate::query::{Limit, decide};
use crate::suggest::unknown_reference;
use crate::universe::{Universe, assertion_peers};
use crate::{AssertionResult, Options, Outcome, Verified};

/// Decides every assertion of the config over the model under the profile.
pub fn verify(
    model: &Model,
    profile: &Profile,
    config: &ParsedConfig,
    options: &Options,
) -> Verified {
    verify_each(model, profile, config, options, &mut |_| {})
}

/// [`verify`], calling `each` with every result as soon as it and all earlier ones are
/// decided (the results are final: the caveats are already applied).
pub fn verify_each(
    model: &Model,
    profile: &Profile,
    config: &ParsedConfig,
    options: &Options,
    each: &mut dyn FnMut(&AssertionResult),
) -> Verified {
    let readings = match options.robust {
        true => netpol_graph::switches::robust_readings(profile),
        false => Vec::new(),
    };
    if readings.is_empty() {
        return verify_with(model, profile, config, options, true, each);
    }
    let mut out = verify_with(model, profile, config, options, true, &mut |_| {});
    for (name, other) in &readings {
        let alt = verify_with(model, other, config, options, true, &mut |_| {});
        for (r, a) in out.results.iter_mut().zip(alt.results) {
            r.duration += a.duration;
            r.outcome = robust(
                std::mem::replace(&mut r.outcome, Outcome::Proved),
                a.outcome,
                name,
            );
        }
    }
    for r in &out.results {
        each(r);
    }
    out
}

/// `--robust`: a proof stands only when the other reading proves it too; a refutation or
/// `unknown` of the profile's own reading stands as it is.
fn robust(own: Outcome, other: Outcome, reading: &str) -> Outcome {
    match (own, other) {
        (Outcome::Proved, Outcome::Proved) => Outcome::Proved,
        (Outcome::Proved, Outcome::Refuted(cx)) => {
            let (from, to) = (cx.source.as_ref(), &cx.destination);
            let path = match from {
                Some(s) => format!(
                    "{} -> {} on {}",
                    s.describe(),
                    to.describe(),
                    cx.port_string()
                ),
                None => format!("{} is not isolated", to.describe()),
            };
            Outcome::Unknown(format!(
                "it holds as netpol reads the profile, but not under {reading}: {path}"
            ))
        }
        (Outcome::Proved, Outcome::Unknown(why)) => Outcome::Unknown(format!(
            "it holds as netpol reads the profile, and is undecided under {reading}: {why}"
        )),
        (own, _) => own,
    }
}

/// [`verify_each`]; `via_classes: false` selects the plain V5 encoding (tests compare the
/// two).
pub(crate) fn verify_with(
    model: &Model,
    profile: &Profile,
    config: &ParsedConfig,
    options: &Options,
    via_classes: bool,
    each: &mut dyn FnMut(&AssertionResult),
) -> Verified {
    let v = &config.verification;
    let mut u = Universe::new(model, profile, v);
    u.via_classes = via_classes;
    let u = u;
    let limit = service_limit(&u);
    let mut out = Verified::default();
    out.diagnostics.extend(u.unmodelled.iter().cloned());
    out.diagnostics.extend(u.version_gaps.iter().cloned());
    out.diagnostics.extend(u.newer_releases.iter().cloned());
    let n = v.assertions.len();
    let jobs = match options.jobs {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        j => j,
    }
    .clamp(1, n.max(1));
    // Assertions are decided in fixed chunks, each in a fresh Z3 context that its
    // assertions then share (a fresh context per assertion made the wide L queries 3x
    // slower). What Z3 answers depends on what the context saw before, so the chunks are
    // fixed by assertion index, never by which worker is free: the output is the same
    // whatever the number of cores or the scheduling.
    let chunks = n.div_ceil(CONTEXT_CHUNK);
    let jobs = jobs.min(chunks.max(1));
    let next = AtomicUsize::new(0);
    let mut pending: BTreeMap<usize, (AssertionResult, Vec<Diagnostic>)> = BTreeMap::new();
    let mut affected = Vec::new();
    std::thread::scope(|sc| {
        let (tx, rx) = mpsc::channel();
        let (u, next, limit) = (&u, &next, limit.as_ref());
        let work = move |tx: mpsc::Sender<_>| {
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= chunks {
                    return;
                }
                let mut i = c * CONTEXT_CHUNK;
                let end = (i + CONTEXT_CHUNK).min(n);
                // A fresh context per chunk, and again after an interrupt, which may
                // stay in it.
                while i < end {
                    let sent = z3::with_z3_config(&z3::Config::new(), || {
                        while i < end {
                            let (r, interrupted) = one(model, u, config, i, options, limit);
                            i += 1;
                            if tx.send((i - 1, r)).is_err() {
                                return false;
                            }
                            if interrupted {
                                break;
                            }
                        }
                        true
                    });
                    if !sent {
                        return;
                    }
                }
            }
        };
        for _ in 0..jobs {
            let tx2 = tx.clone();
            // Z3 recurses over deep terms (long ite chains, wide disjunctions) on the
            // calling thread's stack, so workers get a large one (reserved, not committed).
            let spawned = std::thread::Builder::new()
                .stack_size(WORKER_STACK)
                .spawn_scoped(sc, move || work(tx2));
            if spawned.is_err() {
                // No thread to be had: decide what is left here (the channel is unbounded).
                work(tx.clone());
                break;
            }
        }
        drop(tx);
        let mut emitted = 0;
        for (i, r) in rx {
            pending.insert(i, r);
            while let Some((result, diags)) = pending.remove(&emitted) {
                each(&result);
                if matches!(&result.outcome, Outcome::Unknown(r) if r == LIMITED_REASON) {
                    affected.push(emitted);
                }
                out.results.push(result);
                out.diagnostics.extend(diags);
                emitted += 1;
            }
        }
    });
    if let Some(limit) = &limit
        && !affected.is_empty()
    {
        let names: Vec<&str> = affected
            .iter()
            .map(|&i| v.assertions[i].name.as_str())
            .collect();
        out.diagnostics
            .push(limitation_diagnostic(&u, limit, &names, config));
    }
    out
}

/// The stack of a verify worker: Z3 needs deep recursion on long terms.
const WORKER_STACK: usize = 512 << 20;

/// How many consecutive assertions share one Z3 context (see [`verify_each`]).
const CONTEXT_CHUNK: usize = 4;

/// Decides assertion `i` in the thread's Z3 context: its result and its diagnostics
/// (unknown references, vacuity), and whether Z3 was interrupted.
fn one(
    model: &Model,
    u: &Universe,
    config: &ParsedConfig,
    i: usize,
    options: &Options,
    limit: Option<&ServiceLimit>,
) -> ((AssertionResult, Vec<Diagnostic>), bool) {
    let a = &config.verification.assertions[i];
    let span = config.spans.get(i).and_then(|s| s.whole);
    let name_span = config.spans.get(i).and_then(|s| s.name).or(span);
    let start = Instant::now();
    let mut diags = Vec::new();
    let mut interrupted = false;
    let by_timeout = start + options.timeout;
    let bound = match options.deadline {
        Some(d) if d < by_timeout => Limit::Deadline(d),
        _ => Limit::Timeout(by_timeout),
    };
    let other_family = (config.intents.get(i)).and_then(|t| other_family_block(u, t));
    let outcome = match (unknown_references(u, a), other_family) {
        (Some((what, r)), _) => {
            let (reason, help) = unknown_reference(model, what, &r);
            let d = Diagnostic::new(
                Code::UnknownReference,
                format!(
                    "assertion `{}` names `{r}`, which is not in the manifests",
                    a.name
                ),
            )
            .with_help(help);
            diags.push(match name_span {
                Some(s) => d.with_primary(s, "in this assertion"),
                None => d,
            });
            Outcome::Unknown(reason)
        }
        (None, _) if bound.at() <= start => Outcome::Unknown(bound.reason(options)),
        // Before the solver: it would find the block empty and call the assertion vacuous.
        (None, Some(why)) => Outcome::Unknown(why),
        (None, None) => {
            let (outcome, vacuous, fired) = decide(u, config.intents.get(i), bound, options);
            interrupted = fired;
            if vacuous {
                let d = Diagnostic::new(
                    Code::VacuousAssertion,
                    format!(
                        "assertion `{}` selects nothing, so it holds vacuously",
                        a.name
                    ),
                )
                .with_help("check the selectors against the manifests");
                diags.push(match name_span {
                    Some(s) => d.with_primary(s, "selects no endpoint"),
                    None => d,
                });
            }
            outcome
        }
    };
    let outcome = unknown_by_backend_order(u, a, outcome);
    let outcome = unknown_with_other_family(u, unknown_under_tiers(u, outcome));
    let mut outcome = unknown_for_releases(u, outcome);
    if limited(limit, a, &outcome) {
        outcome = Outcome::Unknown(LIMITED_REASON.to_owned());
    }
    let result = AssertionResult {
        name: a.name.clone(),
        outcome,
        duration: start.elapsed(),
        span,
    };
    ((result, diags), interrupted)
}

/// The first `workload:` or `pod:` reference of the assertion that names nothing, with
/// which of the two it is.
fn unknown_references(u: &Universe, a: &Assertion) -> Option<(&'static str, String)> {
    for p in assertion_peers(a) {
        if let Some(w) = &p.workload
            && u.find_workload(w).is_none()
        {
            return Some(("workload", w.clone()));
        }
        if let Some(w) = &p.pod
            && u.find_pod(w).is_none()
        {
            return Some(("pod", w.clone()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use netpol_graph::Profile;

    use crate::tests::{config, load};
    use crate::{Options, verify};

    /// Counterexamples depend on what a Z3 context decided before, so they must not depend
    /// on how many workers there are or which was free: every job count gives the same
    /// outcomes, counterexamples included (the shop regression has 11 assertions, 3
    /// chunks, 2 refuted).
    #[test]
    fn outcomes_do_not_depend_on_the_number_of_workers() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/eks-shop-regression");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .expect("example folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !p.ends_with("netpol.yaml"))
            .collect();
        names.sort();
        let yaml: Vec<String> = (names.iter())
            .map(|p| std::fs::read_to_string(p).expect("manifest"))
            .collect();
        let model = load(&yaml.join("\n---\n"));
        let cfg = config(&std::fs::read_to_string(dir.join("netpol.yaml")).expect("config"));
        let p = Profile::new(&cfg.verification.cluster);
        let run = |jobs| {
            let v = verify(
                &model,
                &p,
                &cfg,
                &Options {
                    jobs,
                    ..Options::default()
                },
            );
            (v.results.iter())
                .map(|r| format!("{}: {:?}", r.name, r.outcome))
                .collect::<Vec<_>>()
        };
        let one = run(1);
        assert!(
            one.iter().filter(|r| r.contains("Refuted")).count() >= 2,
            "{one:#?}"
        );
        for jobs in [2, 3, 1, 2] {
            assert_eq!(run(jobs), one, "{jobs} workers");
        }
    }
}
