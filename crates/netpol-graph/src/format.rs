//! Output formats of the matrix, written to any `fmt::Write`: the JSON contract
//! (`docs/output-formats.md`, "Matrix JSON"), a table, Graphviz dot, Mermaid, CSV and
//! Markdown. JSON is written directly (no intermediate value), so a million connections
//! stream out quickly.

use std::fmt::{self, Write};

use crate::matrix::Matrix;
use crate::world::EndpointInfo;

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

/// Writes the matrix in a format.
pub fn write(out: &mut impl Write, m: &Matrix, format: Format) -> fmt::Result {
    match format {
        Format::Json => json(out, m),
        Format::Table => table(out, m),
        Format::Dot => dot(out, m),
        Format::Mermaid => mermaid(out, m),
        Format::Csv => csv(out, m),
        Format::Md => md(out, m),
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
    out.write_char('}')
}

/// The JSON contract: one endpoint and one connection per line.
pub fn json(out: &mut impl Write, m: &Matrix) -> fmt::Result {
    write!(
        out,
        "{{\"version\": 1,\n \"semantics\": {{\"cni\": \"{}\", \"enforcingMode\": \"{}\"}},\n \"endpoints\": [",
        m.semantics.cni.as_str(),
        m.semantics.enforcing_mode.as_str()
    )?;
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
        out.write_str(", \"ports\": [")?;
        for (j, p) in c.ports.to_strings().iter().enumerate() {
            if j > 0 {
                out.write_str(", ")?;
            }
            json_str(out, p)?;
        }
        out.write_str("]}")?;
    }
    out.write_str(if m.connection_count() == 0 {
        "]}\n"
    } else {
        "\n ]}\n"
    })
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
    writeln!(out, "{t}")
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
    Ok(())
}
