//! Loads every case folder of the np-guard corpus (`../shared/corpus/npguard/tests`,
//! relative to the workspace root): no panic, and every Deployment, Pod and
//! NetworkPolicy found by a separate scan of the documents is in the model, unless an
//! error was reported inside it, it is a duplicate, or (for a Pod) its controller is in
//! the input.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use netpol_diag::{SourceMap, Span};
use netpol_manifest::yaml::{Limits, parse_documents};
use netpol_manifest::{LoadOptions, Source, load};
use serde_json::Value;

/// (kind, namespace, name, span) of the counted kinds in one parsed value.
fn scan(
    v: &Value,
    doc: &netpol_manifest::yaml::Document,
    base: &str,
    out: &mut Vec<(String, String, String, Span)>,
) {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind.ends_with("List")
        && let Some(items) = v.get("items").and_then(Value::as_array)
    {
        for (i, item) in items.iter().enumerate() {
            scan(item, doc, &format!("{base}/items/{i}"), out);
        }
        return;
    }
    let counted = matches!(
        (api, kind),
        ("apps/v1", "Deployment") | ("v1", "Pod") | ("networking.k8s.io/v1", "NetworkPolicy")
    );
    let Some(name) = v.pointer("/metadata/name").and_then(Value::as_str) else {
        return;
    };
    if counted {
        let ns = v
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        out.push((
            kind.to_owned(),
            ns.to_owned(),
            name.to_owned(),
            doc.nearest_span_of(base),
        ));
    }
}

#[test]
#[allow(clippy::print_stderr)]
fn npguard_corpus_loads() {
    let root = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/npguard/tests"
    ));
    let Ok(entries) = std::fs::read_dir(root) else {
        eprintln!("note: {} is absent; corpus test skipped", root.display());
        return;
    };
    let mut dirs: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() > 100,
        "expected the whole corpus, found {} folders",
        dirs.len()
    );
    let started = Instant::now();
    let mut objects = 0usize;
    let mut missing = Vec::new();
    for dir in &dirs {
        let mut map = SourceMap::new();
        let loaded = load(
            &[Source::Path(dir.clone())],
            &LoadOptions::default(),
            &mut map,
        );
        let model = &loaded.model;
        let mut present: BTreeSet<(String, String, String)> = BTreeSet::new();
        for e in &model.endpoints {
            present.insert((
                e.kind.as_str().to_owned(),
                e.namespace.clone(),
                e.name.clone(),
            ));
        }
        for p in &model.policies {
            present.insert(("NetworkPolicy".into(), p.namespace.clone(), p.name.clone()));
        }
        let error_in = |span: Span| {
            loaded.diagnostics.iter().any(|d| {
                d.is_error()
                    && d.labels.iter().any(|l| {
                        l.span.file == span.file
                            && l.span.start >= span.start
                            && l.span.end <= span.end
                    })
            })
        };
        let mut seen = BTreeSet::new();
        for file in map.files() {
            let text = map.text(file).clone();
            let (docs, _) = parse_documents(file, &text, &Limits::default());
            let mut found = Vec::new();
            for doc in &docs {
                scan(&doc.value, doc, "", &mut found);
            }
            for (kind, ns, name, span) in found {
                objects += 1;
                let key = (kind.clone(), ns.clone(), name.clone());
                let duplicate = !seen.insert(key.clone());
                // Pods owned by a controller that is also in the input are folded.
                let folded = kind == "Pod" && !present.contains(&key);
                let ok = present.contains(&key)
                    || duplicate
                    || error_in(span)
                    || (folded && owned(&docs, &name));
                if !ok {
                    missing.push(format!("{}: {kind} {ns}/{name}", map.name(file)));
                }
            }
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "loaded {} corpus folders ({objects} counted objects) in {:.2?}",
        dirs.len(),
        elapsed
    );
    assert!(objects > 500, "the scan found only {objects} objects");
    assert!(
        missing.is_empty(),
        "objects not loaded:\n{}",
        missing.join("\n")
    );
}

/// Whether the named Pod has a controller ownerReference (the loader folds it when the
/// owner is present; checked loosely here).
fn owned(docs: &[netpol_manifest::yaml::Document], name: &str) -> bool {
    fn walk(v: &Value, name: &str) -> bool {
        if let Some(items) = v.get("items").and_then(Value::as_array) {
            return items.iter().any(|i| walk(i, name));
        }
        v.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
            && v.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| {
                    refs.iter()
                        .any(|r| r.get("controller") == Some(&Value::Bool(true)))
                })
    }
    docs.iter().any(|d| walk(&d.value, name))
}
