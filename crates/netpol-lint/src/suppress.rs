//! Inline suppressions: `netpol.dev/allow: code[,code]` on an object drops the findings of
//! those codes (or lint groups) whose primary label lies inside the object. An entry that
//! dropped nothing is an `unused-suppression` note, an entry that names no lint (or an
//! error code, which cannot be suppressed) an `invalid-suppression` warning.

use netpol_diag::render::Suppressed;
use netpol_diag::{Code, Diagnostic, Severity, SourceMap, Span};
use netpol_manifest::Model;
use netpol_manifest::model::{ALLOW_ANNOTATION, Suppression};

use crate::Target;

/// Applies the model's suppressions to `diags`. `map` holds the manifests' text, to point
/// at one entry of an annotation.
pub fn suppress(model: &Model, map: &SourceMap, diags: &mut Vec<Diagnostic>) {
    suppress_keeping(model, map, diags);
}

/// [`suppress`], returning the findings it dropped with the reason their object gives
/// (`netpol.dev/allow-reason`), for SARIF's `suppressions`.
pub fn suppress_keeping(
    model: &Model,
    map: &SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Suppressed> {
    let mut dropped = Vec::new();
    if model.suppressions.is_empty() {
        return dropped;
    }
    // (suppression, entry, its span, target); entries that are not a target are reported now.
    let mut entries: Vec<(&Suppression, &str, Span, Target)> = Vec::new();
    let mut found = Vec::new();
    for s in &model.suppressions {
        let spans = entry_spans(map, s);
        for (entry, at) in s.codes.iter().zip(spans) {
            match parse(entry) {
                Ok(t) => entries.push((s, entry, at, t)),
                Err(why) => found.push(
                    Diagnostic::new(
                        Code::InvalidSuppression,
                        format!("`{ALLOW_ANNOTATION}` names `{entry}`, {why}"),
                    )
                    .with_primary(at, "in this annotation")
                    .with_help(
                        "name lint codes or groups (docs/diagnostics.md), separated by commas",
                    ),
                ),
            }
        }
    }
    let mut used = vec![false; entries.len()];
    diags.retain(|d| {
        if d.code.default_severity() == Severity::Error {
            return true;
        }
        let Some(at) = d.primary_span() else {
            return true;
        };
        // The first matching entry's object gives the justification.
        let mut by: Option<&Suppression> = None;
        for (i, (s, _, _, t)) in entries.iter().enumerate() {
            if inside(at, s.object) && t.names(d) {
                used[i] = true;
                by.get_or_insert(s);
            }
        }
        match by {
            None => true,
            Some(s) => {
                dropped.push(Suppressed {
                    diagnostic: d.clone(),
                    justification: s.reason.clone(),
                });
                false
            }
        }
    });
    for ((s, entry, at, _), used) in entries.iter().zip(used) {
        if !used {
            let mut d = Diagnostic::new(
                Code::UnusedSuppression,
                format!(
                    "`{ALLOW_ANNOTATION}` names `{entry}`, but this object has no such finding"
                ),
            )
            .with_primary(*at, "suppresses nothing")
            .with_help(format!("remove `{entry}` from the annotation"));
            if let Some(reason) = &s.reason {
                d = d.with_note(format!("the reason given: {reason}"));
            }
            found.push(d);
        }
    }
    diags.extend(found);
    dropped
}

fn parse(entry: &str) -> Result<Target, String> {
    match entry.parse::<Target>() {
        Ok(Target::Warnings) => Err("which is not a code or group".to_owned()),
        Ok(Target::Code(c)) if c.default_severity() == Severity::Error => {
            Err("an error code: errors cannot be suppressed".to_owned())
        }
        Ok(t) => Ok(t),
        Err(_) => {
            let near = Code::ALL
                .iter()
                .map(|c| c.as_str())
                .chain(crate::GROUPS.iter().map(|(g, _)| *g))
                .filter(|c| strsim::levenshtein(c, entry) <= 2)
                .min_by_key(|c| strsim::levenshtein(c, entry));
            Err(match near {
                Some(n) => {
                    format!("which is not a diagnostic code or lint group (did you mean `{n}`?)")
                }
                None => "which is not a diagnostic code or lint group".to_owned(),
            })
        }
    }
}

/// The span of each entry inside the annotation's value, found in order in its source
/// text; the whole value where the source spells an entry differently (escapes, folding).
fn entry_spans(map: &SourceMap, s: &Suppression) -> Vec<Span> {
    let text = map.snippet(s.span);
    let mut from = 0;
    s.codes
        .iter()
        .map(
            |entry| match text.get(from..).and_then(|t| t.find(entry.as_str())) {
                Some(i) => {
                    let start = s.span.start as usize + from + i;
                    from += i + entry.len();
                    Span::new(s.span.file, start, start + entry.len())
                }
                None => s.span,
            },
        )
        .collect()
}

fn inside(at: Span, object: Span) -> bool {
    at.file == object.file && at.start >= object.start && at.end <= object.end
}
