//! Unit tests on hand-built models: one per rule of `docs/semantics.md` where the fixtures
//! do not already cover it, the engine-versus-evaluator property test, and the fixtures.

pub(crate) mod build;
mod classes;
pub(crate) mod fixtures;
mod ident;
mod modules;
pub(crate) mod prop;
mod rules;
mod scale;
mod slots;
mod versions;

use crate::{Analysis, Matrix, Profile};
use netpol_manifest::Model;

/// `from -> to: ports` lines of a matrix, sorted.
pub(crate) fn lines(m: &Matrix) -> Vec<String> {
    m.connections().map(|c| line(&c)).collect()
}

/// One connection as `from -> to: ports`.
pub(crate) fn line(c: &crate::Connection<'_>) -> String {
    format!(
        "{} -> {}: {}",
        c.from.id,
        c.to.id,
        c.ports.to_strings().join(", ")
    )
}

/// Computes the matrix with both engines, asserts they agree, and returns its lines.
pub(crate) fn matrix_lines(model: &Model, profile: &Profile) -> Vec<String> {
    let a = Analysis::new(model, profile);
    let fast = lines(&a.matrix());
    let slow = lines(&a.reference_matrix());
    assert_eq!(fast, slow, "engine and per-pair evaluator disagree");
    if let Err(e) = classes::check_classes(&a.matrix()) {
        panic!("{e}");
    }
    fast
}
