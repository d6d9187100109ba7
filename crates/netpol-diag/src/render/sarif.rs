//! SARIF 2.1.0 for GitHub code scanning: one result per error or warning diagnostic, one
//! rule per code that occurs, with its description and a help URI (the code's section of
//! docs/diagnostics.md).

use serde_json::{Value, json};

use crate::{Code, Diagnostic, Severity, SourceMap};

/// The tool a SARIF log names, and where its codes are documented.
#[derive(Clone, Debug)]
pub struct SarifOptions<'a> {
    /// `tool.driver.name`.
    pub name: &'a str,
    /// `tool.driver.version`.
    pub version: &'a str,
    /// `tool.driver.informationUri`.
    pub information_uri: &'a str,
    /// A rule's `helpUri` is this followed by `#` and its code (a docs/diagnostics.md
    /// anchor); no `helpUri` when `None`.
    pub help_base: Option<&'a str>,
}

/// A finding that an in-source annotation (`netpol.dev/allow`) suppressed. SARIF reports
/// it with `suppressions: [{"kind": "inSource"}]`, so viewers hide it and an audit still
/// sees it, with the annotation's reason as the justification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppressed {
    pub diagnostic: Diagnostic,
    /// `netpol.dev/allow-reason`, when given.
    pub justification: Option<String>,
}

/// The SARIF log of `diags`, in [`Diagnostic::sort`] order. Notes are left out: code
/// scanning shows every result as an alert, and notes are not findings.
pub fn sarif(map: &SourceMap, diags: &[Diagnostic], opts: &SarifOptions<'_>) -> Value {
    sarif_with_suppressed(map, diags, &[], opts)
}

/// [`sarif`] with the suppressed findings too, each marked with its suppression (SARIF
/// 2.1.0 §3.27.23, §3.35), in one [`Diagnostic::sort`] order with the others.
pub fn sarif_with_suppressed(
    map: &SourceMap,
    diags: &[Diagnostic],
    suppressed: &[Suppressed],
    opts: &SarifOptions<'_>,
) -> Value {
    let mut all: Vec<(&Diagnostic, Option<&Suppressed>)> = (diags.iter().map(|d| (d, None)))
        .chain(suppressed.iter().map(|s| (&s.diagnostic, Some(s))))
        .collect();
    // Stable: among equal keys an active finding comes before a suppressed one.
    all.sort_by(|a, b| Diagnostic::order(a.0, b.0).then(a.1.is_some().cmp(&b.1.is_some())));
    let mut rules: Vec<Code> = all.iter().map(|(d, _)| d.code).collect();
    // By name, as before rules had metadata: stable whatever the declaration order.
    rules.sort_unstable_by_key(|c| c.as_str());
    rules.dedup();
    let results: Vec<Value> = all
        .iter()
        .filter(|(d, _)| d.severity != Severity::Note)
        .map(|&(d, s)| {
            let mut v = json!({
                "ruleId": d.code.as_str(),
                "level": match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                    Severity::Note => "note",
                },
                "message": {"text": text(d)},
            });
            if let Some((file, line, col)) = super::start(map, d) {
                v["locations"] = json!([{"physicalLocation": {
                    "artifactLocation": {"uri": uri(&file)},
                    "region": {"startLine": line, "startColumn": col},
                }}]);
            }
            if let Some(s) = s {
                let mut sup = json!({"kind": "inSource"});
                if let Some(j) = &s.justification {
                    sup["justification"] = json!(j);
                }
                v["suppressions"] = json!([sup]);
            }
            v
        })
        .collect();
    let rules: Vec<Value> = rules
        .iter()
        .map(|c| {
            let mut r = json!({
                "id": c.as_str(),
                "shortDescription": {"text": c.description()},
            });
            if let Some(base) = opts.help_base {
                r["helpUri"] = json!(format!("{base}#{}", c.as_str()));
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": opts.name,
                "informationUri": opts.information_uri,
                "version": opts.version,
                "rules": rules,
            }},
            "results": results,
            // Columns count characters (SARIF's default is UTF-16 code units).
            "columnKind": "unicodeCodePoints",
        }],
    })
}

/// The message and the notes, one per line.
pub(super) fn text(d: &Diagnostic) -> String {
    let mut s = d.message.clone();
    for n in &d.notes {
        s.push('\n');
        s.push_str(n);
    }
    s
}

/// A file name as a SARIF `artifactLocation.uri`: a relative reference without `./` or
/// empty segments and with forward slashes (code scanning resolves it against the
/// repository root), or a `file:` URI for an absolute path; every byte outside RFC 3986's
/// unreserved set and `!$&'()*+,;=@/` is percent-encoded (spaces, `#`, `%`, `:`, non-ASCII).
fn uri(name: &str) -> String {
    let name = if cfg!(windows) {
        name.replace('\\', "/")
    } else {
        name.to_owned()
    };
    let absolute = name.starts_with('/');
    // A Windows drive (`C:/x`) keeps its colon: `file:///C:/x`.
    let drive = name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && name.as_bytes().get(1..3) == Some(b":/");
    let segments: Vec<&str> = name
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let mut out = String::new();
    if absolute || drive {
        out.push_str("file:///");
    }
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if i == 0 && drive {
            out.push_str(seg);
            continue;
        }
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if out.is_empty() { ".".to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn sarif_uris_are_clean_references() {
        assert_eq!(uri("netpol.yaml"), "netpol.yaml");
        assert_eq!(uri("./k8s/a.yaml"), "k8s/a.yaml");
        assert_eq!(uri("././k8s//./a.yaml"), "k8s/a.yaml");
        assert_eq!(uri("../up/a.yaml"), "../up/a.yaml");
        assert_eq!(uri("k8s/bad port#1%.yaml"), "k8s/bad%20port%231%25.yaml");
        assert_eq!(uri("a:b/é.yaml"), "a%3Ab/%C3%A9.yaml");
        assert_eq!(uri("/tmp/x y/a.yaml"), "file:///tmp/x%20y/a.yaml");
        assert_eq!(uri("C:/k8s/a.yaml"), "file:///C:/k8s/a.yaml");
        assert_eq!(uri("Cé/a"), "C%C3%A9/a");
        assert_eq!(uri("./"), ".");
    }
}
