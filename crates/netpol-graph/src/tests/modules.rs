//! The crate's module structure: no file imports one that imports it back (the world does
//! not call the rules that read it; `profile.rs` is below every rule).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The module of each source file (`rules/slots`, `world` for `world/mod.rs`), with its
/// code (comments left out) up to its unit tests. Test modules and `synth/` (a generator) are left out.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("src") {
            let path = entry.expect("entry").path();
            let rel = path
                .strip_prefix(base)
                .expect("rel")
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                if rel != "tests" && rel != "synth" {
                    walk(&path, base, out);
                }
                continue;
            }
            let Some(stem) = rel.strip_suffix(".rs") else {
                continue;
            };
            if stem == "lib" || stem.ends_with("_tests") {
                continue;
            }
            let module = stem.strip_suffix("/mod").unwrap_or(stem).to_owned();
            let text = std::fs::read_to_string(&path).expect("read");
            // Code only: doc links name modules without importing them.
            let code = (text.split("#[cfg(test)]").next().unwrap_or("").lines())
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(module, code);
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&src, &src, &mut out);
    out
}

/// The paths written after each `crate::` and `super::` in `code`, a `{...}` group expanded
/// one level, as segment lists with the prefix word first.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for prefix in ["crate::", "super::"] {
        for (at, _) in code.match_indices(prefix) {
            if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let head = prefix.trim_end_matches("::").to_owned();
            let rest = &code[at + prefix.len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segs: Vec<String> = vec![head];
            segs.extend(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            let after = &rest[path.len()..];
            if after.starts_with('{') {
                let group = &after[1..after.find('}').unwrap_or(after.len())];
                for item in group.split(',') {
                    let first: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    let mut s = segs.clone();
                    s.extend(
                        first
                            .split("::")
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    );
                    out.push(s);
                }
            } else {
                out.push(segs);
            }
        }
    }
    out
}

/// The module a path refers to: the longest prefix of it that is a module.
fn target(from: &str, path: &[String], known: &BTreeMap<String, String>) -> Option<String> {
    let mut base: Vec<&str> = match path[0].as_str() {
        "crate" => Vec::new(),
        _ => {
            let mut b: Vec<&str> = from.split('/').collect();
            b.pop();
            b
        }
    };
    base.extend(path[1..].iter().map(String::as_str));
    (1..=base.len())
        .rev()
        .map(|n| base[..n].join("/"))
        .find(|m| known.contains_key(m))
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let known = modules();
    assert!(known.contains_key("rules/slots") && known.contains_key("world"));
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (m, code) in &known {
        for p in paths(code) {
            if let Some(t) = target(m, &p, &known).filter(|t| t != m) {
                edges.entry(m).or_default().insert(t);
            }
        }
    }
    // A path from `to` back to `from`, if any.
    let reaches = |from: &str, to: &str| -> Option<Vec<String>> {
        let mut stack = vec![vec![to.to_owned()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().expect("path").clone();
            if last == from {
                return Some(path);
            }
            if !seen.insert(last.clone()) {
                continue;
            }
            for next in edges.get(last.as_str()).into_iter().flatten() {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push(p);
            }
        }
        None
    };
    let mut cycles = Vec::new();
    for (m, ts) in &edges {
        for t in ts {
            if let Some(back) = reaches(m, t) {
                cycles.push(format!("{m} -> {}", back.join(" -> ")));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
    // The parser sees the imports it must: a known edge.
    assert!(
        edges["rules/slots"].contains("rules/services"),
        "{edges:#?}"
    );
}
