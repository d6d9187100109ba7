//! Spans, diagnostics with stable codes, and their renderers.
//!
//! Every problem netpol reports, from a YAML syntax error to a refuted assertion, is a
//! [`Diagnostic`]: a stable [`Code`], a [`Severity`], a message, labelled [`Span`]s, help and
//! notes. Spans are byte ranges into files held by a [`SourceMap`]. The renderers in
//! [`render`] turn diagnostics into text for people (miette), one line each for editors
//! (`short`), or JSON. They write to any `fmt::Write`; choosing colour and width is the
//! caller's business.

mod code;
mod diagnostic;
pub mod render;
mod source;

pub use code::{Code, Severity};
pub use diagnostic::{Diagnostic, Label};
pub use source::{FileId, LineCol, SourceMap, Span};
