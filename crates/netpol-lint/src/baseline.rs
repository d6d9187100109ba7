//! Baselines (`--baseline FILE`, `--write-baseline FILE`): the findings a repository
//! already has, so that a team adopting the lints fails only on new ones.
//!
//! A finding's key is its code, file, object (`Kind namespace/name` of the innermost
//! object holding its primary label) and message, never a line number, so inserting lines
//! above a finding keeps it known. Keys count: two identical findings need two entries.
//! Findings of error codes are never baselined (a broken input stays an error).

use std::collections::BTreeMap;

use netpol_diag::{Diagnostic, Severity, SourceMap, Span};
use netpol_manifest::Model;
use serde::{Deserialize, Serialize};

/// The format version written in `netpolBaseline`.
const VERSION: u32 = 1;

/// One finding as a baseline holds it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// The file as netpol prints it, without a leading `./`; empty without a location.
    file: String,
    /// `Kind namespace/name` (`Kind name` when cluster-scoped); empty when the finding
    /// is in no object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    object: String,
    code: String,
    message: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    netpol_baseline: u32,
    findings: Vec<Entry>,
}

/// A parsed baseline.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    counts: BTreeMap<Entry, usize>,
}

impl Baseline {
    /// Parses a baseline file's text.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.netpol_baseline != VERSION {
            return Err(format!(
                "netpolBaseline {} is not supported (this netpol writes {VERSION})",
                file.netpol_baseline
            ));
        }
        let mut counts = BTreeMap::new();
        for e in file.findings {
            *counts.entry(e).or_default() += 1;
        }
        Ok(Baseline { counts })
    }

    /// The baseline text of `diags` (pretty JSON, sorted, ending in a newline).
    pub fn write(model: &Model, map: &SourceMap, diags: &[Diagnostic]) -> String {
        let objects = Objects::new(model);
        let mut findings: Vec<Entry> = diags
            .iter()
            .filter(|d| baselined(d))
            .map(|d| entry(&objects, map, d))
            .collect();
        findings.sort();
        let file = File {
            netpol_baseline: VERSION,
            findings,
        };
        let mut s = serde_json::to_string_pretty(&file).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Drops the findings the baseline holds; returns how many.
    pub fn filter(&self, model: &Model, map: &SourceMap, diags: &mut Vec<Diagnostic>) -> usize {
        let objects = Objects::new(model);
        let mut left = self.counts.clone();
        let before = diags.len();
        diags.retain(|d| {
            if !baselined(d) {
                return true;
            }
            match left.get_mut(&entry(&objects, map, d)) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            }
        });
        before - diags.len()
    }
}

fn baselined(d: &Diagnostic) -> bool {
    d.code.default_severity() != Severity::Error
}

fn entry(objects: &Objects, map: &SourceMap, d: &Diagnostic) -> Entry {
    let at = d.primary_span();
    Entry {
        file: at.map(|s| file_name(map.name(s.file))).unwrap_or_default(),
        object: at.and_then(|s| objects.at(s)).unwrap_or_default(),
        code: d.code.as_str().to_owned(),
        message: d.message.clone(),
    }
}

fn file_name(name: &str) -> String {
    let name = name.replace('\\', "/");
    let mut rest = name.as_str();
    while let Some(r) = rest.strip_prefix("./") {
        rest = r;
    }
    rest.to_owned()
}

/// Every object of the model with its span, for "which object holds this span".
struct Objects(Vec<(Span, String)>);

impl Objects {
    fn new(m: &Model) -> Objects {
        let mut v = Vec::new();
        for ns in &m.namespaces {
            if let Some(s) = ns.span {
                v.push((s, format!("Namespace {}", ns.name)));
            }
        }
        for e in &m.endpoints {
            v.push((e.span, format!("{} {}/{}", e.kind, e.namespace, e.name)));
        }
        for s in &m.services {
            v.push((s.span, format!("Service {}/{}", s.namespace, s.name)));
        }
        for p in &m.policies {
            v.push((p.span, format!("NetworkPolicy {}/{}", p.namespace, p.name)));
        }
        Objects(v)
    }

    /// The innermost object whose span holds `at`.
    fn at(&self, at: Span) -> Option<String> {
        self.0
            .iter()
            .filter(|(s, _)| s.file == at.file && s.start <= at.start && at.end <= s.end)
            .min_by_key(|(s, _)| s.end - s.start)
            .map(|(_, name)| name.clone())
    }
}

#[cfg(test)]
mod tests {
    use netpol_diag::{Code, Diagnostic, SourceMap, Span};
    use netpol_manifest::Model;

    use super::Baseline;

    #[test]
    fn keys_ignore_lines_and_count_duplicates() {
        let mut map = SourceMap::new();
        let f = map.add("./k8s/a.yaml", "a\nb\nc\n".to_owned());
        let g = map.add("k8s/a.yaml", "\n\na\nb\nc\n".to_owned());
        let d = |file, at| {
            Diagnostic::new(Code::DnsUnreachable, "m").with_primary(Span::new(file, at, at + 1), "")
        };
        let model = Model::default();
        let text = Baseline::write(
            &model,
            &map,
            &[d(f, 0), Diagnostic::new(Code::SyntaxError, "x")],
        );
        assert!(text.contains("\"file\": \"k8s/a.yaml\""), "{text}");
        assert!(!text.contains("syntax-error"), "{text}");
        let base = Baseline::parse(&text).unwrap();
        // The same finding two lines lower is known; a second one is new.
        let mut now = vec![d(g, 2), d(g, 4)];
        assert_eq!(base.filter(&model, &map, &mut now), 1);
        assert_eq!(now.len(), 1);
        assert!(Baseline::parse("{\"netpolBaseline\": 2, \"findings\": []}").is_err());
    }
}
