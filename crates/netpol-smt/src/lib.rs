//! Proofs of isolation intents with Z3.
//!
//! [`parse_config`] reads `netpol.yaml` into a [`Verification`]; [`verify`] decides each of
//! its assertions with one sliced Z3 query (see `docs/verify.md`) and returns, per
//! assertion, `proved`, `refuted` with a concrete [`Counterexample`], or `unknown`
//! (timeout or resource limit, never a silent pass). The encoding follows
//! `docs/semantics.md`, the contract the graph engine implements too.
//!
//! Modules: `query` builds and decides one assertion's query, `encode` is its Z3
//! encoding, `decode` reads a model back into a [`Counterexample`] (`counterexample`),
//! `report` turns results into diagnostics and JSON; `universe` holds the facts computed
//! once per run.

pub mod config;
mod counterexample;
mod decode;
mod encode;
mod query;
mod report;
mod suggest;
mod universe;

#[cfg(test)]
mod tests;

use std::time::Duration;

use netpol_diag::{Diagnostic, Span};

pub use config::{Assertion, ParsedConfig, Scope, Verification, parse_config, schema_json};
pub use counterexample::{ConcreteEndpoint, Counterexample, DirectionTrace, EndpointRef};
pub use query::verify;
pub use report::{policy_names, result_diagnostics};
pub use suggest::name_unknown_references;

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

/// Everything [`verify`] found.
#[derive(Clone, Debug, Default)]
pub struct Verified {
    pub results: Vec<AssertionResult>,
    /// Vacuous assertions, unknown references.
    pub diagnostics: Vec<Diagnostic>,
}
