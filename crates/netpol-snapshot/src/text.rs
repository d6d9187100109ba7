//! The text form: one fact per line, sections in a fixed order, lines sorted in each.
//! `parse(render(s)) == s` and `render(parse(t)) == t` for every rendered `t`.

use std::fmt::{self, Write as _};

use crate::{ClassEntry, FORMAT_VERSION, Section, Snapshot};

const MAGIC: &str = "# netpol snapshot v";
const NOTE: &str =
    "# One fact per line, sorted. Format: docs/snapshots.md. Regenerate with `netpol snapshot`.";

impl Snapshot {
    /// The snapshot as text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{MAGIC}{FORMAT_VERSION}");
        let _ = writeln!(s, "{NOTE}");
        for (k, v) in &self.semantics {
            let _ = writeln!(s, "semantics {k} {v}");
        }
        for (name, c) in &self.classes {
            for m in &c.members {
                let _ = writeln!(s, "class {name} {} {m}", c.kind);
            }
        }
        for ((section, from, to), ports) in &self.edges {
            let _ = writeln!(s, "{section} {from} -> {to} {ports}");
        }
        for ((from, to), ports) in &self.exposure {
            let _ = writeln!(s, "exposure {from} -> {to} {ports}");
        }
        for (name, verdict) in &self.verdicts {
            let _ = writeln!(s, "verdict {verdict} {name}");
        }
        s
    }

    /// Reads a rendered snapshot.
    pub fn parse(text: &str) -> Result<Snapshot, ParseError> {
        let mut lines = text.lines().enumerate();
        let err = |line: usize, message: String| ParseError {
            line: line + 1,
            message,
        };
        match lines.next() {
            Some((_, first)) if first.strip_prefix(MAGIC) == Some(&FORMAT_VERSION.to_string()) => {}
            Some((_, first)) if first.starts_with(MAGIC) => {
                return Err(err(
                    0,
                    format!(
                        "snapshot format `{first}` is not v{FORMAT_VERSION}: regenerate it with `netpol snapshot`"
                    ),
                ));
            }
            _ => {
                return Err(err(
                    0,
                    format!(
                        "not a netpol snapshot: the first line must be `{MAGIC}{FORMAT_VERSION}`"
                    ),
                ));
            }
        }
        let mut snap = Snapshot::default();
        for (i, line) in lines {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["semantics", k, v] => {
                    snap.semantics.insert((*k).to_owned(), (*v).to_owned());
                }
                ["class", name, kind, member] => {
                    let c = snap
                        .classes
                        .entry((*name).to_owned())
                        .or_insert_with(|| ClassEntry {
                            kind: (*kind).to_owned(),
                            members: Vec::new(),
                        });
                    if c.kind != *kind {
                        return Err(err(i, format!("class `{name}` has two kinds")));
                    }
                    c.members.push((*member).to_owned());
                }
                ["verdict", verdict, ..] if words.len() > 2 => {
                    let name = line.splitn(3, ' ').nth(2).unwrap_or_default();
                    snap.verdicts.insert(name.to_owned(), (*verdict).to_owned());
                }
                [section, from, "->", to, ports] => {
                    let Some(section) = Section::parse(section) else {
                        return Err(err(i, format!("unknown section `{section}`")));
                    };
                    if crate::parse_ports(ports).is_none() {
                        return Err(err(i, format!("`{ports}` is not a port list")));
                    }
                    if section == Section::Exposure {
                        let key = ((*from).to_owned(), (*to).to_owned());
                        snap.exposure.insert(key, (*ports).to_owned());
                        continue;
                    }
                    snap.edges.insert(
                        (section, (*from).to_owned(), (*to).to_owned()),
                        (*ports).to_owned(),
                    );
                }
                _ => return Err(err(i, format!("cannot read the line `{line}`"))),
            }
        }
        for (_, from, to) in snap.edges.keys() {
            for c in [from, to] {
                if !snap.classes.contains_key(c) {
                    return Err(ParseError {
                        line: 0,
                        message: format!("an edge names the undeclared class `{c}`"),
                    });
                }
            }
        }
        Ok(snap)
    }
}

/// A snapshot that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based; 0 when the problem is not on one line.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}
