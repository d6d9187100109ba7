//! Proofs of isolation intents with Z3.
//!
//! `netpol_config::parse_config` reads `netpol.yaml` into a [`ParsedConfig`]; [`verify`] decides each of
//! its assertions with one sliced Z3 query (see `docs/verify.md`) and returns, per
//! assertion, `proved`, `refuted` with a concrete [`Counterexample`], or `unknown`
//! (timeout or resource limit, never a silent pass). The encoding follows
//! `docs/semantics.md`, the contract the graph engine implements too.
//!
//! Modules: `run` decides the assertions (in parallel, in order), `query` builds and
//! decides one assertion's query, `caveats` turns verdicts into `unknown` where netpol
//! cannot be sure, `encode` is its Z3
//! encoding, `decode` reads a model back into a [`Counterexample`] (`counterexample`),
//! `report` turns results into diagnostics and JSON; `universe` holds the facts computed
//! once per run.

mod caveats;
mod counterexample;
mod decode;
mod encode;
mod query;
mod report;
mod run;
mod suggest;
mod universe;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_agreement;
#[cfg(test)]
mod tests_bleed;
#[cfg(test)]
mod tests_family;
#[cfg(test)]
mod tests_ident;
#[cfg(test)]
mod tests_nodes;
#[cfg(test)]
mod tests_ports;
#[cfg(test)]
mod tests_readings;
#[cfg(test)]
mod tests_robust;
#[cfg(test)]
mod tests_services;

use std::time::{Duration, Instant};

use netpol_diag::{Diagnostic, Span};

// The schema types in the public API (`verify` takes a `ParsedConfig`); inside the crate
// `crate::config` is the config crate.
pub use counterexample::{ConcreteEndpoint, Counterexample, DirectionTrace, EndpointRef};
use netpol_config as config;
pub use netpol_config::{Assertion, ParsedConfig, Scope, Verification};
pub use report::{policy_names, result_diagnostics};
pub use run::{verify, verify_each};

/// Limits and parallelism of a run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Per assertion, end to end (building, solving, decoding); past it, `unknown`.
    pub timeout: Duration,
    /// For the whole run: assertions not decided by then are `unknown`.
    pub deadline: Option<Instant>,
    /// Assertions decided at once; 0 means one per available core.
    pub jobs: usize,
    /// Prove only what also holds under the other readings of the profile
    /// (`netpol_graph::switches::robust_readings`); otherwise `unknown`.
    pub robust: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(30),
            deadline: None,
            jobs: 0,
            robust: false,
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

/// Everything [`verify`] found.
#[derive(Clone, Debug, Default)]
pub struct Verified {
    pub results: Vec<AssertionResult>,
    /// Vacuous assertions, unknown references.
    pub diagnostics: Vec<Diagnostic>,
}
