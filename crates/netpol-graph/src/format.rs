//! Output formats of the matrix, written to any `fmt::Write`: the JSON contract
//! (`docs/output-formats.md`, "Matrix JSON"), a table, Graphviz dot, Mermaid, CSV and
//! Markdown. Each but CSV shows classes and edges between classes by default
//! ([`Matrix::classes`]); `expand` writes one line per pair of endpoints instead. JSON is
//! written directly (no intermediate value), so a million connections stream out quickly.

use std::fmt::{self, Write};

use crate::classes::{Class, Classes};
use crate::matrix::Matrix;
use crate::world::EndpointInfo;

/// The version of the matrix JSON (both layouts).
pub const JSON_VERSION: u32 = 2;

/// The matrix formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Table,
    Dot,
    Mermaid,
    Csv,
    Md,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Json,
        Format::Table,
        Format::Dot,
        Format::Mermaid,
        Format::Csv,
        Format::Md,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Table => "table",
            Format::Dot => "dot",
            Format::Mermaid => "mermaid",
            Format::Csv => "csv",
            Format::Md => "md",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Writes the matrix in a format: classes and edges between them, or with `expand` (and
/// always for CSV, which has no place for membership) one line per pair of endpoints.
pub fn write(out: &mut impl Write, m: &Matrix, format: Format, expand: bool) -> fmt::Result {
    if expand || format == Format::Csv {
        return match format {
            Format::Json => json(out, m),
            Format::Table => table(out, m),
            Format::Dot => dot(out, m),
            Format::Mermaid => mermaid(out, m),
            Format::Csv => csv(out, m),
            Format::Md => md(out, m),
        };
    }
    let c = m.classes();
    match format {
        Format::Json => json_classes(out, m, &c),
        Format::Table => table_classes(out, m, &c),
        Format::Dot => dot_classes(out, &c),
        Format::Mermaid => mermaid_classes(out, &c),
        Format::Md => md_classes(out, m, &c),
        Format::Csv => csv(out, m),
    }
}

fn json_str(out: &mut impl Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

fn json_opt(out: &mut impl Write, s: Option<&str>) -> fmt::Result {
    match s {
        Some(s) => json_str(out, s),
        None => out.write_str("null"),
    }
}

fn json_ports(out: &mut impl Write, ports: &crate::PortSet) -> fmt::Result {
    out.write_char('[')?;
    for (j, p) in ports.to_strings().iter().enumerate() {
        if j > 0 {
            out.write_str(", ")?;
        }
        json_str(out, p)?;
    }
    out.write_char(']')
}

fn json_endpoint(out: &mut impl Write, e: &EndpointInfo) -> fmt::Result {
    out.write_str("{\"id\": ")?;
    json_str(out, &e.id)?;
    out.write_str(", \"kind\": ")?;
    json_str(out, e.kind.as_str())?;
    out.write_str(", \"namespace\": ")?;
    match &e.namespace {
        Some(ns) => json_str(out, ns)?,
        None => out.write_str("null")?,
    }
    out.write_str(", \"name\": ")?;
    json_str(out, &e.name)?;
    out.write_str(", \"labels\": {")?;
    for (i, (k, v)) in e.labels.iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        json_str(out, k)?;
        out.write_str(": ")?;
        json_str(out, v)?;
    }
    out.write_str("}, \"ip\": ")?;
    match e.ip {
        Some(ip) => json_str(out, &ip.to_string())?,
        None => out.write_str("null")?,
    }
    out.write_str(", \"owner\": ")?;
    json_opt(out, e.owner.as_deref())?;
    out.write_char('}')
}

fn json_head(out: &mut impl Write, m: &Matrix, layout: &str) -> fmt::Result {
    write!(
        out,
        "{{\"version\": {JSON_VERSION}, \"layout\": \"{layout}\",\n \"semantics\": {{\"cni\": \"{}\", \"enforcingMode\": \"{}\"}},\n",
        m.semantics.cni.as_str(),
        m.semantics.enforcing_mode.as_str()
    )
}

/// The JSON contract, classes layout: the classes, then one edge per line.
pub fn json_classes(out: &mut impl Write, m: &Matrix, c: &Classes<'_>) -> fmt::Result {
    json_head(out, m, "classes")?;
    out.write_str(" \"classes\": [")?;
    for (i, class) in c.classes.iter().enumerate() {
        out.write_str(if i == 0 { "\n  " } else { ",\n  " })?;
        json_class(out, m, class)?;
    }
    out.write_str(if c.classes.is_empty() {
        "],\n \"edges\": ["
    } else {
        "\n ],\n \"edges\": ["
    })?;
    for (i, e) in c.edges().enumerate() {
        out.write_str(if i == 0 { "\n  " } else { ",\n  " })?;
        out.write_str("{\"from\": ")?;
        json_str(out, &e.from.name)?;
        out.write_str(", \"to\": ")?;
        json_str(out, &e.to.name)?;
        out.write_str(", \"ports\": ")?;
        json_ports(out, e.ports)?;
        out.write_char('}')?;
    }
    out.write_str(if c.edge_count() == 0 { "]" } else { "\n ]" })?;
    json_uncertain(out, m)
}

/// `"uncertain"` (V13), the last key of both layouts, and the closing brace.
fn json_uncertain(out: &mut impl Write, m: &Matrix) -> fmt::Result {
    out.write_str(",\n \"uncertain\": [")?;
    for (i, u) in m.uncertain.iter().enumerate() {
        out.write_str(if i == 0 { "\n  " } else { ",\n  " })?;
        out.write_str("{\"from\": ")?;
        json_str(out, &u.from)?;
        out.write_str(", \"to\": ")?;
        json_str(out, &u.to)?;
        out.write_str(", \"ports\": ")?;
        json_ports(out, &u.ports)?;
        out.write_str(", \"reasons\": [")?;
        for (j, r) in u.reasons.iter().enumerate() {
            out.write_str(if j == 0 { "" } else { ", " })?;
            json_str(out, r)?;
        }
        out.write_str("]}")?;
    }
    out.write_str(if m.uncertain.is_empty() {
        "]}\n"
    } else {
        "\n ]}\n"
    })
}

/// The V13 lines after a table (nothing when no connection is uncertain).
fn table_uncertain(out: &mut impl Write, m: &Matrix) -> fmt::Result {
    if m.uncertain.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "uncertain: the VPC CNI agent may drop these ports (more than {} port slots for one address key, V13)",
        crate::rules::slots::SLOTS
    )?;
    for u in &m.uncertain {
        writeln!(
            out,
            "  {} -> {}: {} ({})",
            u.from,
            u.to,
            u.ports.to_strings().join(", "),
            u.reasons.join("; ")
        )?;
    }
    Ok(())
}

fn json_class(out: &mut impl Write, m: &Matrix, c: &Class) -> fmt::Result {
    out.write_str("{\"name\": ")?;
    json_str(out, &c.name)?;
    out.write_str(", \"kind\": ")?;
    json_str(out, c.kind)?;
    write!(out, ", \"size\": {}, \"workloads\": [", c.members.len())?;
    for (i, (w, n)) in c.workloads.iter().enumerate() {
        out.write_str(if i == 0 { "" } else { ", " })?;
        out.write_str("{\"id\": ")?;
        json_str(out, w)?;
        write!(out, ", \"members\": {n}}}")?;
    }
    out.write_str("], \"cidrs\": [")?;
    for (i, net) in c.cidrs.iter().enumerate() {
        out.write_str(if i == 0 { "" } else { ", " })?;
        json_str(out, &net.to_string())?;
    }
    out.write_str("], \"members\": [")?;
    for (i, id) in c.members.iter().enumerate() {
        out.write_str(if i == 0 { "" } else { ", " })?;
        json_str(out, &m.endpoints[id.index()].id)?;
    }
    out.write_str("]}")
}

/// The JSON contract, pairs layout: one endpoint and one connection per line.
pub fn json(out: &mut impl Write, m: &Matrix) -> fmt::Result {
    json_head(out, m, "pairs")?;
    out.write_str(" \"endpoints\": [")?;
    for (i, e) in m.endpoints.iter().enumerate() {
        out.write_str(if i == 0 { "\n  " } else { ",\n  " })?;
        json_endpoint(out, e)?;
    }
    out.write_str(if m.endpoints.is_empty() {
        "],\n \"connections\": ["
    } else {
        "\n ],\n \"connections\": ["
    })?;
    for (i, c) in m.connections().enumerate() {
        out.write_str(if i == 0 { "\n  " } else { ",\n  " })?;
        out.write_str("{\"from\": ")?;
        json_str(out, &c.from.id)?;
        out.write_str(", \"to\": ")?;
        json_str(out, &c.to.id)?;
        out.write_str(", \"ports\": ")?;
        json_ports(out, c.ports)?;
        out.write_char('}')?;
    }
    out.write_str(if m.connection_count() == 0 {
        "]"
    } else {
        "\n ]"
    })?;
    json_uncertain(out, m)
}

/// A human-readable table: FROM, TO, PORTS.
pub fn table(out: &mut impl Write, m: &Matrix) -> fmt::Result {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(["FROM", "TO", "PORTS"]);
    for c in m.connections() {
        t.add_row([
            c.from.id.as_str(),
            c.to.id.as_str(),
            &c.ports.to_strings().join(", "),
        ]);
    }
    writeln!(
        out,
        "semantics: {} ({}), {} endpoints, {} connections",
        m.semantics.cni.as_str(),
        m.semantics.enforcing_mode.as_str(),
        m.endpoints.len(),
        m.connection_count()
    )?;
    writeln!(out, "{t}")?;
    table_uncertain(out, m)
}

fn dot_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz: one node per endpoint, one labelled edge per connection.
pub fn dot(out: &mut impl Write, m: &Matrix) -> fmt::Result {
    writeln!(out, "digraph netpol {{")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(out, "  node [shape=box];")?;
    for e in &m.endpoints {
        // `\n` is a line break inside a dot label.
        let label = format!("{}\\n{}", dot_str(&e.id).trim_matches('"'), e.kind.as_str());
        writeln!(out, "  {} [label=\"{label}\"];", dot_str(&e.id))?;
    }
    for c in m.connections() {
        writeln!(
            out,
            "  {} -> {} [label={}];",
            dot_str(&c.from.id),
            dot_str(&c.to.id),
            dot_str(&c.ports.to_strings().join(", "))
        )?;
    }
    writeln!(out, "}}")
}

/// Mermaid flowchart; nodes are `e<index>` with the id as label.
pub fn mermaid(out: &mut impl Write, m: &Matrix) -> fmt::Result {
    let esc = |s: &str| s.replace('"', "#quot;");
    writeln!(out, "flowchart LR")?;
    for (i, e) in m.endpoints.iter().enumerate() {
        writeln!(out, "  e{i}[\"{}\"]", esc(&e.id))?;
    }
    for (a, b, ports) in m.pairs() {
        writeln!(
            out,
            "  e{a} -->|\"{}\"| e{b}",
            esc(&ports.to_strings().join(", ")),
        )?;
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV with a header `from,to,ports`; ports are `;`-separated.
pub fn csv(out: &mut impl Write, m: &Matrix) -> fmt::Result {
    writeln!(out, "from,to,ports")?;
    for c in m.connections() {
        writeln!(
            out,
            "{},{},{}",
            csv_field(&c.from.id),
            csv_field(&c.to.id),
            csv_field(&c.ports.to_strings().join(";"))
        )?;
    }
    Ok(())
}

/// A Markdown table.
pub fn md(out: &mut impl Write, m: &Matrix) -> fmt::Result {
    let cell = |s: &str| s.replace('|', "\\|");
    writeln!(out, "| from | to | ports |")?;
    writeln!(out, "|---|---|---|")?;
    for c in m.connections() {
        writeln!(
            out,
            "| {} | {} | {} |",
            cell(&c.from.id),
            cell(&c.to.id),
            cell(&c.ports.to_strings().join(", "))
        )?;
    }
    md_uncertain(out, m)
}

/// The V13 section after a Markdown table (nothing when no connection is uncertain).
fn md_uncertain(out: &mut impl Write, m: &Matrix) -> fmt::Result {
    if m.uncertain.is_empty() {
        return Ok(());
    }
    let cell = |s: &str| s.replace('|', "\\|");
    writeln!(
        out,
        "\nUncertain: the VPC CNI agent may drop these ports (V13).\n"
    )?;
    writeln!(out, "| from | to | ports | why |")?;
    writeln!(out, "|---|---|---|---|")?;
    for u in &m.uncertain {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&u.from),
            cell(&u.to),
            cell(&u.ports.to_strings().join(", ")),
            cell(&u.reasons.join("; "))
        )?;
    }
    Ok(())
}

/// At most this many members are named in a table cell; the JSON lists all.
const SHOWN: usize = 3;

/// What a class row says about its members: the CIDRs of an external class, else its
/// workloads (with pod counts past one), the first few named.
fn class_members(c: &Class) -> String {
    let items: Vec<String> = if c.cidrs.is_empty() {
        c.workloads
            .iter()
            .map(|(w, n)| {
                if *n > 1 {
                    format!("{w} ×{n}")
                } else {
                    w.clone()
                }
            })
            .collect()
    } else {
        c.cidrs.iter().map(ToString::to_string).collect()
    };
    let mut s = items[..items.len().min(SHOWN)].join(", ");
    if items.len() > SHOWN {
        let _ = write!(s, ", … ({} more)", items.len() - SHOWN);
    }
    s
}

/// Whether a class needs a row in the class table: its name alone does not say who it is.
fn listed(m: &Matrix, c: &Class) -> bool {
    c.members.len() > 1 || (m.endpoints[c.members[0].index()].id != c.name && c.cidrs.len() != 1)
}

/// The default table: the classes whose name is not their one endpoint, then the edges
/// between classes.
pub fn table_classes(out: &mut impl Write, m: &Matrix, c: &Classes<'_>) -> fmt::Result {
    writeln!(
        out,
        "semantics: {} ({}), {} endpoints in {} classes, {} edges ({} connections)",
        m.semantics.cni.as_str(),
        m.semantics.enforcing_mode.as_str(),
        m.endpoints.len(),
        c.classes.len(),
        c.edge_count(),
        m.connection_count()
    )?;
    let new_table = |header: [&str; 3]| {
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
            .set_header(header);
        t
    };
    let mut t = new_table(["CLASS", "KIND", "MEMBERS"]);
    let mut any = false;
    for class in c.classes.iter().filter(|x| listed(m, x)) {
        any = true;
        t.add_row([
            class.name.clone(),
            format!("{} ×{}", class.kind, class.members.len()),
            class_members(class),
        ]);
    }
    if any {
        writeln!(out, "{t}")?;
    }
    let mut t = new_table(["FROM", "TO", "PORTS"]);
    for e in c.edges() {
        t.add_row([
            e.from.name.as_str(),
            e.to.name.as_str(),
            &e.ports.to_strings().join(", "),
        ]);
    }
    writeln!(out, "{t}")?;
    table_uncertain(out, m)
}

/// Graphviz, one node per class.
pub fn dot_classes(out: &mut impl Write, c: &Classes<'_>) -> fmt::Result {
    writeln!(out, "digraph netpol {{")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(out, "  node [shape=box];")?;
    for class in &c.classes {
        let label = format!(
            "{}\\n{} ×{}",
            dot_str(&class.name).trim_matches('"'),
            class.kind,
            class.members.len()
        );
        writeln!(out, "  {} [label=\"{label}\"];", dot_str(&class.name))?;
    }
    for e in c.edges() {
        writeln!(
            out,
            "  {} -> {} [label={}];",
            dot_str(&e.from.name),
            dot_str(&e.to.name),
            dot_str(&e.ports.to_strings().join(", "))
        )?;
    }
    writeln!(out, "}}")
}

/// Mermaid flowchart, one node per class (`c<index>` in name order).
pub fn mermaid_classes(out: &mut impl Write, c: &Classes<'_>) -> fmt::Result {
    let esc = |s: &str| s.replace('"', "#quot;");
    writeln!(out, "flowchart LR")?;
    let index: std::collections::HashMap<&str, usize> = (c.classes.iter().enumerate())
        .map(|(i, x)| (x.name.as_str(), i))
        .collect();
    for (i, class) in c.classes.iter().enumerate() {
        writeln!(
            out,
            "  c{i}[\"{} ×{}\"]",
            esc(&class.name),
            class.members.len()
        )?;
    }
    for e in c.edges() {
        writeln!(
            out,
            "  c{} -->|\"{}\"| c{}",
            index[e.from.name.as_str()],
            esc(&e.ports.to_strings().join(", ")),
            index[e.to.name.as_str()],
        )?;
    }
    Ok(())
}

/// Markdown: the classes, then the edges.
pub fn md_classes(out: &mut impl Write, m: &Matrix, c: &Classes<'_>) -> fmt::Result {
    let cell = |s: &str| s.replace('|', "\\|");
    writeln!(out, "| class | kind | members |")?;
    writeln!(out, "|---|---|---|")?;
    for class in &c.classes {
        writeln!(
            out,
            "| {} | {} ×{} | {} |",
            cell(&class.name),
            class.kind,
            class.members.len(),
            cell(&class_members(class))
        )?;
    }
    writeln!(out)?;
    writeln!(out, "| from | to | ports |")?;
    writeln!(out, "|---|---|---|")?;
    for e in c.edges() {
        writeln!(
            out,
            "| {} | {} | {} |",
            cell(&e.from.name),
            cell(&e.to.name),
            cell(&e.ports.to_strings().join(", "))
        )?;
    }
    md_uncertain(out, m)
}
