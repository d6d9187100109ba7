//! Fixture-driven tests: every file under `testdata/manifests/valid` snapshots the model
//! summary; every file under `testdata/manifests/invalid` snapshots its diagnostics and
//! must produce each `# expect: <code> <line>:<col>` it declares.

use std::path::Path;

use netpol_diag::render::{self, HumanOptions};
use netpol_diag::{Diagnostic, SourceMap};
use netpol_manifest::{LoadOptions, Loaded, Source, load, summary};

/// Loads one fixture under its path relative to `testdata/manifests`.
fn load_fixture(path: &Path) -> (Loaded, SourceMap) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root = fixtures_root()
        .canonicalize()
        .unwrap_or_else(|e| panic!("{e}"));
    let name = path
        .strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string();
    let mut map = SourceMap::new();
    let loaded = load(
        &[Source::Bytes { name, bytes }],
        &LoadOptions::default(),
        &mut map,
    );
    (loaded, map)
}

fn fixtures_root() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/manifests"
    ))
}

/// The human rendering used in snapshots (no colour, width 80).
fn render(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    render::human(&mut out, map, diags, &HumanOptions::deterministic())
        .unwrap_or_else(|e| panic!("{e}"));
    out
}

/// One line per diagnostic, for assertion messages.
fn short(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    render::short(&mut out, map, diags).unwrap_or_else(|e| panic!("{e}"));
    out
}

/// `# expect: <code> [<line>:<col>]` lines of a fixture.
fn expectations(text: &str) -> Vec<(String, Option<(u32, u32)>)> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("# expect:"))
        .map(|rest| {
            let mut parts = rest.split_whitespace();
            let code = parts.next().unwrap_or_default().to_owned();
            let pos = parts.next().map(|p| {
                let (l, c) = p
                    .split_once(':')
                    .unwrap_or_else(|| panic!("bad position {p}"));
                (
                    l.parse().unwrap_or_else(|_| panic!("bad line {l}")),
                    c.parse().unwrap_or_else(|_| panic!("bad column {c}")),
                )
            });
            (code, pos)
        })
        .collect()
}

fn check_why(text: &str, path: &Path) {
    assert!(
        text.starts_with("# why:") || text.starts_with("{\"_why\""),
        "{} must start with a `# why:` comment",
        path.display()
    );
}

#[test]
fn valid_fixtures() {
    insta::glob!("../../../testdata/manifests", "valid/*.*", |path| {
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
        check_why(&text, path);
        let (loaded, map) = load_fixture(path);
        let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(
            errors.is_empty(),
            "{}: valid fixture has errors:\n{}",
            path.display(),
            short(&map, &loaded.diagnostics)
        );
        for (code, pos) in expectations(&text) {
            assert_has(&loaded, &map, &code, pos, path);
        }
        let mut snap = summary(&loaded.model);
        if !loaded.diagnostics.is_empty() {
            snap.push_str("diagnostics:\n");
            snap.push_str(&render(&map, &loaded.diagnostics));
        }
        insta::assert_snapshot!(snap);
    });
}

#[test]
fn invalid_fixtures() {
    let failures = std::cell::RefCell::new(Vec::new());
    insta::glob!("../../../testdata/manifests", "invalid/*.*", |path| {
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
        check_why(&text, path);
        let expects = expectations(&text);
        assert!(
            !expects.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let (loaded, map) = load_fixture(path);
        let mut snap = short(&map, &loaded.diagnostics);
        snap.push('\n');
        snap.push_str(&render(&map, &loaded.diagnostics));
        snap.push_str("---\n");
        snap.push_str(&summary(&loaded.model));
        insta::assert_snapshot!(snap);
        for (code, pos) in expects {
            failures
                .borrow_mut()
                .extend(missing(&loaded, &map, &code, pos, path));
        }
    });
    let failures = failures.into_inner();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn assert_has(loaded: &Loaded, map: &SourceMap, code: &str, pos: Option<(u32, u32)>, path: &Path) {
    if let Some(msg) = missing(loaded, map, code, pos, path) {
        panic!("{msg}");
    }
}

/// Why an expected diagnostic is absent, if it is.
fn missing(
    loaded: &Loaded,
    map: &SourceMap,
    code: &str,
    pos: Option<(u32, u32)>,
    path: &Path,
) -> Option<String> {
    let found = loaded.diagnostics.iter().any(|d| {
        d.code.as_str() == code
            && match (pos, d.primary_span()) {
                (None, _) => true,
                (Some((l, c)), Some(span)) => {
                    let lc = map.start(span);
                    lc.line == l && lc.col == c
                }
                (Some(_), None) => false,
            }
    });
    (!found).then(|| {
        format!(
            "{}: expected {code} at {pos:?}, got:\n{}",
            path.display(),
            short(map, &loaded.diagnostics)
        )
    })
}
