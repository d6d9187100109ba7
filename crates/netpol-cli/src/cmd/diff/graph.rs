//! `netpol diff --format dot|mermaid`: the changed flows as a graph of classes, each edge
//! coloured by its change (added green, removed red and dashed, ports changed orange), in
//! the style of `netpol matrix --format dot|mermaid`. Unchanged connections are left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use netpol_snapshot::{Change, Diff, FlowGroup, Section};

const GREEN: &str = "#1a7f37";
const RED: &str = "#cf222e";
const ORANGE: &str = "#bc4c00";

fn colour(c: Change) -> &'static str {
    match c {
        Change::Added => GREEN,
        Change::Removed => RED,
        Change::Changed { .. } => ORANGE,
    }
}

/// An edge's label: the ports (`old => new` when they changed), the section when it is not
/// `pod`, and the number of endpoint pairs when more than one.
fn label(f: &FlowGroup) -> String {
    let mut s = match (&f.old_ports, &f.new_ports) {
        (Some(o), Some(n)) => format!("{o} => {n}"),
        (Some(p), None) | (None, Some(p)) => p.clone(),
        (None, None) => String::new(),
    };
    s = s.replace(',', ", ");
    if f.section != Section::Pod {
        s = format!("{}: {s}", f.section);
    }
    if f.pairs.len() > 1 {
        let _ = write!(s, " ({} pairs)", f.pairs.len());
    }
    s
}

/// Class names in first-seen order of the sorted flows, numbered.
fn nodes(d: &Diff) -> BTreeMap<&str, usize> {
    let mut names: Vec<&str> = (d.flows.iter())
        .flat_map(|f| [f.from_class.as_str(), f.to_class.as_str()])
        .collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().enumerate().map(|(i, n)| (n, i)).collect()
}

fn dot_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz.
pub(super) fn dot(d: &Diff) -> String {
    let mut s = String::new();
    s.push_str("digraph netpol_diff {\n  rankdir=LR;\n  node [shape=box];\n");
    let _ = writeln!(s, "  label={};", dot_str(&d.summary()));
    for name in nodes(d).keys() {
        let _ = writeln!(s, "  {};", dot_str(name));
    }
    for f in &d.flows {
        let style = if f.change == Change::Removed {
            ", style=dashed"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "  {} -> {} [label={}, color=\"{c}\", fontcolor=\"{c}\"{style}];",
            dot_str(&f.from_class),
            dot_str(&f.to_class),
            dot_str(&label(f)),
            c = colour(f.change),
        );
    }
    s.push_str("}\n");
    s
}

/// A Mermaid flowchart; nodes are `c<index>` in name order, edges coloured with
/// `linkStyle` by their position.
pub(super) fn mermaid(d: &Diff) -> String {
    let esc = |s: &str| s.replace('"', "#quot;");
    let index = nodes(d);
    let mut s = String::from("flowchart LR\n");
    for (name, i) in &index {
        let _ = writeln!(s, "  c{i}[\"{}\"]", esc(name));
    }
    for f in &d.flows {
        let arrow = if f.change == Change::Removed {
            "-.->"
        } else {
            "-->"
        };
        let _ = writeln!(
            s,
            "  c{} {arrow}|\"{}\"| c{}",
            index[f.from_class.as_str()],
            esc(&label(f)),
            index[f.to_class.as_str()],
        );
    }
    for (i, f) in d.flows.iter().enumerate() {
        let _ = writeln!(
            s,
            "  linkStyle {i} stroke:{c},color:{c}",
            c = colour(f.change)
        );
    }
    s
}
