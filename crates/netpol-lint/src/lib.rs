//! Semantic lints: what the user did not ask about but probably wants to know.
//!
//! Every lint reads the same [`Model`] and [`Analysis`] (so the same profile) as
//! `netpol matrix`. Lints about present pods are proved on the graph engine, which is exact
//! for the endpoints of the input; none is a guess from the YAML's shape alone.
//! The result is sorted with [`Diagnostic::sort`], so the output is deterministic.

mod baseline;
mod bleed;
mod context;
mod coverage;
mod dead;
mod dns;
mod exclude;
mod ident;
mod inherit;
mod levels;
mod named_ports;
mod pitfalls;
mod selectors;
mod service_ports;
mod slots;
mod suppress;

use netpol_diag::{Diagnostic, SourceMap};
use netpol_graph::Analysis;
use netpol_manifest::Model;

pub use baseline::Baseline;
pub use dns::DnsPlatform;
pub use exclude::Exclude;
pub use levels::{GROUPS, Level, Levels, Origin, Target};
pub use suppress::{suppress, suppress_keeping};

/// What the lints need beyond the model and its analysis.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How the cluster serves DNS (EKS Auto Mode has no CoreDNS pods).
    pub dns: DnsPlatform,
    /// The most (policies + rules) x endpoints steps the what-if lints
    /// (`policy-without-effect`, `rule-without-effect`) may take (the graph decides each
    /// removal on the classes it touches); above it they are skipped with a `lint-skipped`
    /// note. A guard against pathological inputs: the synthetic XL cluster takes 1.9e9.
    pub what_if_budget: usize,
    /// The most (pod, direction with an `except`) x endpoints steps `except-bleed` may take
    /// (the graph builds one longest-prefix table per policy set); above it the lint is
    /// skipped with a `lint-skipped` note. The synthetic XL cluster takes 1.1e9.
    pub bleed_budget: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dns: DnsPlatform::default(),
            what_if_budget: 3_000_000_000,
            bleed_budget: 3_000_000_000,
        }
    }
}

/// Runs every lint. `map` holds the manifests' text (used to point at one label key inside
/// a selector).
pub fn lint(
    model: &Model,
    analysis: &Analysis<'_>,
    map: &SourceMap,
    options: &Options,
) -> Vec<Diagnostic> {
    let cx = context::Context::new(model, analysis, map);
    let mut out = Vec::new();
    let reported = selectors::lint(&cx, &mut out);
    named_ports::lint(&cx, &mut out);
    dns::lint(&cx, options.dns, &mut out);
    coverage::lint(&cx, &mut out);
    pitfalls::lint(&cx, &mut out);
    service_ports::lint(&cx, &mut out);
    slots::lint(&cx, &mut out);
    bleed::lint(&cx, options.bleed_budget, &mut out);
    ident::lint(&cx, &mut out);
    dead::lint(&cx, &reported, options.what_if_budget, &mut out);
    Diagnostic::sort(&mut out);
    out
}
