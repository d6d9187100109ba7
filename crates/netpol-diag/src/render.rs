//! Renderers: human (miette), short (one line each), JSON, and the CI formats: SARIF
//! ([`sarif`]), GitHub workflow commands ([`github`]) and JUnit XML ([`junit`]).
//!
//! Every renderer prints diagnostics in [`Diagnostic::sort`] order whatever order it is
//! given, so output never depends on how a caller collected them ([`human_in_order`] is the
//! one exception, for narratives). None of them looks at
//! the terminal: colour, width and glyphs come from [`HumanOptions`], which the CLI fills in.
//!
//! miette draws one source file per diagnostic. The file of the primary label is drawn;
//! labels in other files become notes of the form `see path:line:col: message`. A file the
//! caller marked as not to be quoted ([`SourceMap::set_quoted`]) is never drawn: its labels
//! become notes too (`at path:line:col: message` for the primary one).

use std::fmt::{self, Write as _};

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode};
use serde_json::{Value, json};

use crate::{Diagnostic, FileId, Label, Severity, SourceMap, Span};

/// How the human renderer draws.
#[derive(Clone, Debug)]
pub struct HumanOptions {
    /// ANSI colours.
    pub color: bool,
    /// Wrap text at this many columns.
    pub width: usize,
    /// Box-drawing characters and symbols; ASCII art when false.
    pub unicode: bool,
}

impl HumanOptions {
    /// No colour, width 80, unicode glyphs, no links: the form used in snapshots.
    pub fn deterministic() -> HumanOptions {
        HumanOptions {
            color: false,
            width: 80,
            unicode: true,
        }
    }
}

/// Renders diagnostics for people, with code frames, separated by blank lines.
pub fn human(
    out: &mut impl fmt::Write,
    map: &SourceMap,
    diags: &[Diagnostic],
    opts: &HumanOptions,
) -> fmt::Result {
    human_in_order(out, map, &sorted(diags), opts)
}

/// Renders diagnostics like [`human`], but in the order given: for a narrative whose order
/// carries the meaning, such as `netpol explain` (egress, ingress, then the verdict).
pub fn human_in_order(
    out: &mut impl fmt::Write,
    map: &SourceMap,
    diags: &[Diagnostic],
    opts: &HumanOptions,
) -> fmt::Result {
    let theme = match (opts.unicode, opts.color) {
        (true, true) => GraphicalTheme::unicode(),
        (true, false) => GraphicalTheme::unicode_nocolor(),
        (false, true) => GraphicalTheme::ascii(),
        (false, false) => GraphicalTheme::none(),
    };
    // Links off: hyperlink escapes depend on the terminal and would break snapshots.
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(opts.width)
        .with_links(false);
    for (i, diag) in diags.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let adapted = Adapter::new(map, diag, opts.unicode);
        let mut text = String::new();
        handler.render_report(&mut text, &adapted)?;
        // miette ends a report with a blank line when it drew a snippet; keep one newline.
        out.write_str(text.trim_end_matches('\n'))?;
        writeln!(out)?;
        for note in &adapted.notes {
            wrap_prefixed(out, "  note: ", note, opts.width)?;
        }
    }
    Ok(())
}

/// One line per diagnostic: `path:line:col: severity[code]: message`, or
/// `netpol: severity[code]: message` when it has no location. Control characters in file
/// names and messages are escaped (`\n`, `\u{1b}`), so a diagnostic is always one line
/// and cannot move the terminal's cursor.
pub fn short(out: &mut impl fmt::Write, map: &SourceMap, diags: &[Diagnostic]) -> fmt::Result {
    for diag in sorted(diags) {
        match diag.primary_span() {
            Some(span) => {
                let span = clamp(map, span);
                let at = map.start(span);
                let name = escape_controls(map.name(span.file));
                write!(out, "{name}:{}:{}: ", at.line, at.col)?;
            }
            None => out.write_str("netpol: ")?,
        }
        writeln!(
            out,
            "{}[{}]: {}",
            diag.severity,
            diag.code,
            escape_controls(&one_line(&diag.message))
        )?;
    }
    Ok(())
}

/// The JSON form: an array of diagnostic objects. See `docs/output-formats.md`.
pub fn json(map: &SourceMap, diags: &[Diagnostic]) -> Value {
    let items = sorted(diags)
        .iter()
        .map(|diag| {
            let loc = diag.primary_span().map(|s| location(map, s));
            let labels: Vec<Value> = diag
                .labels
                .iter()
                .map(|label| {
                    let l = location(map, label.span);
                    json!({
                        "file": l.file,
                        "line": l.line,
                        "column": l.column,
                        "endLine": l.end_line,
                        "endColumn": l.end_column,
                        "message": label.message,
                        "primary": label.primary,
                    })
                })
                .collect();
            json!({
                "code": diag.code.as_str(),
                "severity": diag.severity.as_str(),
                "message": diag.message,
                "file": loc.as_ref().map(|l| l.file.clone()),
                "line": loc.as_ref().map(|l| l.line),
                "column": loc.as_ref().map(|l| l.column),
                "endLine": loc.as_ref().map(|l| l.end_line),
                "endColumn": loc.as_ref().map(|l| l.end_column),
                "labels": labels,
                "help": diag.help,
                "notes": diag.notes,
            })
        })
        .collect();
    Value::Array(items)
}

/// File name, line and column of a diagnostic's primary label.
fn start(map: &SourceMap, d: &Diagnostic) -> Option<(String, u32, u32)> {
    let s = clamp(map, d.primary_span()?);
    let lc = map.start(s);
    Some((map.name(s.file).to_owned(), lc.line, lc.col))
}

fn sorted(diags: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut res = diags.to_vec();
    Diagnostic::sort(&mut res);
    res
}

struct Location {
    file: String,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
}

fn location(map: &SourceMap, span: Span) -> Location {
    let span = clamp(map, span);
    let start = map.start(span);
    let end = map.line_col(span.file, span.end);
    Location {
        file: map.name(span.file).to_owned(),
        line: start.line,
        column: start.col,
        end_line: end.line,
        end_column: end.col,
    }
}

/// Clamps a span into its file and onto character boundaries, so a span from a buggy or
/// stale producer renders somewhere sensible instead of panicking a renderer.
fn clamp(map: &SourceMap, span: Span) -> Span {
    let text = map.text(span.file);
    let floor = |n: u32| {
        let mut n = (n as usize).min(text.len());
        while !text.is_char_boundary(n) {
            n -= 1;
        }
        n
    };
    Span::new(span.file, floor(span.start), floor(span.end))
}

/// `s` with every control character written as Rust writes it in a string literal
/// (`\n`, `\u{1b}`): for text from the input printed on a line of its own.
pub fn escape_controls(s: &str) -> String {
    escape(s, |c| c.is_control())
}

/// `s` with every control character but line breaks and tabs escaped: for the human
/// format, where a message may span lines but must not drive the terminal (an escape
/// sequence in an assertion name).
fn escape_terminal(s: &str) -> String {
    escape(s, |c| c.is_control() && !matches!(c, '\n' | '\t'))
}

fn escape(s: &str, bad: impl Fn(char) -> bool) -> String {
    if !s.chars().any(&bad) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if bad(c) {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Writes `prefix text`, wrapped at `width` with continuation lines indented to the prefix.
fn wrap_prefixed(out: &mut impl fmt::Write, prefix: &str, text: &str, width: usize) -> fmt::Result {
    let indent = " ".repeat(prefix.chars().count());
    let mut line = String::from(prefix);
    let mut line_len = prefix.chars().count();
    let mut empty = true;
    for word in text.split_whitespace() {
        let n = word.chars().count();
        if !empty && line_len + 1 + n > width {
            writeln!(out, "{line}")?;
            line.clone_from(&indent);
            line_len = indent.len();
            empty = true;
        }
        if !empty {
            line.push(' ');
            line_len += 1;
        }
        line.push_str(word);
        line_len += n;
        empty = false;
    }
    writeln!(out, "{line}")
}

/// Our diagnostic seen through miette's trait, with a window on its primary file.
struct Adapter<'a> {
    diag: &'a Diagnostic,
    title: String,
    help: Option<String>,
    source: Option<Window<'a>>,
    labels: Vec<LabeledSpan>,
    /// One per label miette does not draw (`at` first, `see` last) around the
    /// diagnostic's own notes.
    notes: Vec<String>,
}

impl<'a> Adapter<'a> {
    fn new(map: &'a SourceMap, diag: &'a Diagnostic, unicode: bool) -> Adapter<'a> {
        // Only a file that may be quoted is drawn (see `SourceMap::set_quoted`); the labels
        // of any other become `at path:line:col` notes.
        let file: Option<FileId> = diag
            .primary_span()
            .map(|s| s.file)
            .filter(|&f| map.is_quoted(f));
        let mut drawn = Vec::new();
        // `at` (a primary label not drawn) first, then the diagnostic's notes, then `see`.
        let mut at = Vec::new();
        let mut see = Vec::new();
        for label in &diag.labels {
            let span = clamp(map, label.span);
            if Some(span.file) == file {
                drawn.push((label, drawable(map.text(span.file), span)));
            } else if label.primary {
                at.push(elsewhere(map, label, span));
            } else {
                see.push(elsewhere(map, label, span));
            }
        }
        let mut notes = at;
        notes.extend(diag.notes.iter().map(|n| escape_terminal(n)));
        notes.extend(see);
        let mut labels = Vec::with_capacity(drawn.len());
        let source = file.map(|f| {
            let ranges: Vec<_> = drawn.iter().map(|(_, r)| r.clone()).collect();
            let (window, moved) = Window::new(map, f, &ranges, unicode);
            for ((label, _), range) in drawn.iter().zip(moved) {
                let message = label.message.as_deref().map(escape_terminal);
                labels.push(if label.primary {
                    LabeledSpan::new_primary_with_span(message, range)
                } else {
                    LabeledSpan::new_with_span(message, range)
                });
            }
            window
        });
        Adapter {
            diag,
            title: format!(
                "{}[{}]: {}",
                diag.severity,
                diag.code,
                escape_terminal(&diag.message)
            ),
            help: diag.help.as_deref().map(escape_terminal),
            source,
            labels,
            notes,
        }
    }
}

/// The byte range miette draws. miette drops an empty label at the very end of a file, so
/// that one points at the last visible character instead.
fn drawable(text: &str, span: Span) -> std::ops::Range<usize> {
    let (start, end) = (span.start as usize, span.end as usize);
    if start == end
        && start == text.len()
        && let Some((i, c)) = text
            .trim_end_matches(['\n', '\r'])
            .char_indices()
            .next_back()
    {
        return i..i + c.len_utf8();
    }
    start..end
}

/// A label as a note: `at path:line:col: message` (`see` for a secondary label).
fn elsewhere(map: &SourceMap, label: &Label, span: Span) -> String {
    let at = map.start(span);
    let verb = if label.primary { "at" } else { "see" };
    let name = escape_controls(map.name(span.file));
    let mut res = format!("{verb} {name}:{}:{}", at.line, at.col);
    if let Some(message) = &label.message {
        let _ = write!(res, ": {}", escape_terminal(message));
    }
    res
}

impl fmt::Debug for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adapter").field("diag", self.diag).finish()
    }
}

impl fmt::Display for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl std::error::Error for Adapter<'_> {}

impl miette::Diagnostic for Adapter<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Note => miette::Severity::Advice,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}

pub mod github;
pub mod junit;
pub mod sarif;
#[cfg(test)]
mod tests;
mod window;

pub use github::github;
pub use junit::junit;
pub use sarif::{SarifOptions, Suppressed, sarif, sarif_with_suppressed};

use window::Window;
