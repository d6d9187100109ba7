//! `netpol diff --format github|sarif`: each flow group as a diagnostic (`flow-added`,
//! `flow-removed`, `flow-changed`; a warning when it adds access, else a note) on the
//! policy line that opens or closes it, rendered by netpol-diag's CI renderers.
//!
//! New access is placed on the rule of the new side that allows it (the first link of the
//! "because" chain). Lost access is placed on the new side too, where the change is: the
//! same rule (policy, direction, index) when it still exists, else its policy; a policy
//! that is gone leaves the flow without a location.

use std::collections::HashMap;

use netpol_diag::{Code, Diagnostic, FileId, Severity, SourceMap, Span};
use netpol_manifest::model::Direction;
use netpol_snapshot::{Change, Diff, FlowGroup};

use super::{Explainer, Reason, on_new_side};

/// The diagnostics, and the files of the new side their labels point into (copied, named
/// as the because chain names them). `why` is parallel to the flows.
pub(super) fn diagnostics(
    d: &Diff,
    why: &[Vec<Reason>],
    new: Option<Explainer<'_>>,
) -> (SourceMap, Vec<Diagnostic>) {
    let mut out = Out {
        map: SourceMap::new(),
        files: HashMap::new(),
        copy: true,
    };
    let diags = flows(&mut out, d, why, new);
    (out.map, diags)
}

/// The same diagnostics with their labels in the new side's own source map (`verify`'s
/// drift check, whose report renders that map).
pub(crate) fn in_place(d: &Diff, why: &[Vec<Reason>], new: Explainer<'_>) -> Vec<Diagnostic> {
    let mut out = Out {
        map: SourceMap::new(),
        files: HashMap::new(),
        copy: false,
    };
    flows(&mut out, d, why, Some(new))
}

fn flows(
    out: &mut Out,
    d: &Diff,
    why: &[Vec<Reason>],
    new: Option<Explainer<'_>>,
) -> Vec<Diagnostic> {
    let none = Vec::new();
    (d.flows.iter().enumerate())
        .map(|(i, f)| flow(out, f, why.get(i).unwrap_or(&none), new))
        .collect()
}

struct Out {
    map: SourceMap,
    /// A file of the new side to its copy's id.
    files: HashMap<FileId, FileId>,
    /// Copy the new side's files into `map` (else spans stay in the new side's map).
    copy: bool,
}

impl Out {
    /// `span` of the new side, as a span of the copy of its file.
    fn span(&mut self, side: &Explainer<'_>, span: Span) -> Span {
        if !self.copy {
            return span;
        }
        let file = *self.files.entry(span.file).or_insert_with(|| {
            self.map
                .add(side.file_name(span.file), side.map.text(span.file).clone())
        });
        Span::new(file, span.start as usize, span.end as usize)
    }
}

fn flow(out: &mut Out, f: &FlowGroup, why: &[Reason], new: Option<Explainer<'_>>) -> Diagnostic {
    let (code, verb) = match f.change {
        Change::Added => (Code::FlowAdded, "new flow"),
        Change::Removed => (Code::FlowRemoved, "removed flow"),
        Change::Changed { .. } => (Code::FlowChanged, "changed flow"),
    };
    let ports = match (&f.old_ports, &f.new_ports) {
        (Some(o), Some(n)) => format!("{o} => {n}"),
        (Some(p), None) | (None, Some(p)) => p.clone(),
        (None, None) => String::new(),
    };
    let pairs = match f.pairs.len() {
        1 => String::new(),
        n => format!(" ({n} pairs)"),
    };
    let message = format!(
        "{verb}: {} {} -> {} {ports}{pairs}",
        f.section, f.from_class, f.to_class
    );
    let adds = on_new_side(f.change);
    let severity = if f.change.adds() {
        Severity::Warning
    } else {
        Severity::Note
    };
    let mut diag = Diagnostic::new(code, message).with_severity(severity);
    // The rule behind the ports that changed, else the first rule.
    let parse = |p: &Option<String>| {
        p.as_deref()
            .and_then(netpol_snapshot::parse_ports)
            .unwrap_or_default()
    };
    let (o, n) = (parse(&f.old_ports), parse(&f.new_ports));
    let delta = if adds {
        n.difference(&o)
    } else {
        o.difference(&n)
    };
    let first = (why.iter())
        .find(|r| {
            r.ports
                .as_ref()
                .is_some_and(|p| !p.intersect(&delta).is_empty())
        })
        .or_else(|| why.iter().find(|r| r.span.is_some()));
    let label = match (adds, first, new) {
        // The rule that allows it now.
        (true, Some(r), Some(side)) => r.span.map(|s| {
            let what = if f.change == Change::Added {
                "opens this flow"
            } else {
                "widens this flow"
            };
            (out.span(&side, s), what)
        }),
        // Where the rule that allowed it before is now.
        (false, Some(r), Some(side)) => r
            .rule
            .as_ref()
            .and_then(|(policy, dir, idx)| place(&side, policy, *dir, *idx))
            .map(|(s, what)| (out.span(&side, s), what)),
        _ => None,
    };
    if let Some((span, what)) = label {
        diag = diag.with_primary(span, what);
    }
    let before = if adds { "" } else { "before: " };
    for r in why {
        diag = diag.with_note(format!("{before}because {}", r.text));
    }
    if !adds && label.is_none() && first.is_some_and(|r| r.rule.is_some()) && new.is_some() {
        diag = diag.with_note("the policy that allowed it is gone");
    }
    diag
}

/// On the new side: the rule `idx` of `dir` of `policy` (`ns/name`), else the policy.
fn place(
    side: &Explainer<'_>,
    policy: &str,
    dir: Direction,
    idx: usize,
) -> Option<(Span, &'static str)> {
    let p =
        (side.model.policies.iter()).find(|p| format!("{}/{}", p.namespace, p.name) == policy)?;
    let rules = match dir {
        Direction::Ingress => &p.ingress,
        Direction::Egress => &p.egress,
    };
    Some(match rules.get(idx) {
        Some(r) => (r.span, "this rule allowed the flow before the change"),
        None => (p.span, "this policy allowed the flow before the change"),
    })
}
