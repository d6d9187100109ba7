//! GitHub workflow commands: `::error file=…,line=…,col=…,title=…::message`, one line per
//! diagnostic. Every field is escaped by the runner's rules ([`escape_data`],
//! `escape_property`), so no input (a message, a file name) can break a line and forge a
//! command of its own.

use std::fmt;

use crate::{Diagnostic, Severity, SourceMap};

/// Writes one workflow command per diagnostic, in [`Diagnostic::sort`] order; notes
/// become `::notice`.
pub fn github(out: &mut impl fmt::Write, map: &SourceMap, diags: &[Diagnostic]) -> fmt::Result {
    for d in super::sorted(diags) {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let mut props = Vec::new();
        if let Some((file, line, col)) = super::start(map, &d) {
            props.push(format!("file={}", escape_property(&file)));
            props.push(format!("line={line}"));
            props.push(format!("col={col}"));
        }
        props.push(format!("title={}", escape_property(d.code.as_str())));
        writeln!(
            out,
            "::{level} {}::{}",
            props.join(","),
            escape_data(&super::sarif::text(&d))
        )?;
    }
    Ok(())
}

/// A workflow command's message (or any line the runner reads): `%`, CR and LF escaped.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as data, and `:` and `,` too.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
