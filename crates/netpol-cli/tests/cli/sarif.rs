//! `netpol verify --format sarif` validated against the official SARIF 2.1.0 JSON Schema
//! (`tests/data/sarif-schema-2.1.0.json`, draft-07, with `format` assertions on), on an
//! all-proved run, a run with refuted assertions and a run with broken manifests, plus the
//! URI rules the schema cannot express (GitHub code scanning resolves relative URIs against
//! the repository root, so `./`, `\` and bare absolute paths break the link to the file).

use std::path::Path;

use serde_json::Value;

use super::{root, run_in};

/// The `$id` of the vendored schema.
const SCHEMA_ID: &str = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";

/// The compiled SARIF schema.
pub(super) struct Sarif {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Sarif {
    pub(super) fn load() -> Sarif {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
        let text = std::fs::read_to_string(&path).expect("reading the vendored SARIF schema");
        let doc: Value = serde_json::from_str(&text).expect("the SARIF schema is JSON");
        assert_eq!(doc["$id"], SCHEMA_ID);
        assert_eq!(doc["$schema"], "http://json-schema.org/draft-07/schema#");
        let mut compiler = boon::Compiler::new();
        // Draft-07 asserts formats by default; say so, so an upgrade cannot turn it off.
        compiler.enable_format_assertions();
        compiler
            .add_resource(SCHEMA_ID, doc)
            .expect("adding the SARIF schema");
        let mut schemas = boon::Schemas::new();
        let index = compiler
            .compile(SCHEMA_ID, &mut schemas)
            .unwrap_or_else(|e| panic!("compiling the SARIF schema: {e:#}"));
        Sarif { schemas, index }
    }

    /// `Err` with every violation, one per line.
    fn validate(&self, v: &Value) -> Result<(), String> {
        self.schemas
            .validate(v, self.index)
            .map_err(|e| format!("{e:#}"))
    }

    #[track_caller]
    pub(super) fn assert_valid(&self, v: &Value) {
        if let Err(e) = self.validate(v) {
            panic!("SARIF output does not match the 2.1.0 schema:\n{e}\n{v:#}");
        }
    }
}

/// Runs `netpol verify --format sarif` in `dir` and parses stdout.
fn sarif(dir: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["verify", "--format", "sarif"];
    args.extend_from_slice(extra);
    let res = run_in(dir, &args, b"");
    let v = serde_json::from_str(&res.stdout)
        .unwrap_or_else(|e| panic!("sarif is JSON ({e}): {}\n{}", res.stdout, res.stderr));
    (res.code, v)
}

fn results(v: &Value) -> &[Value] {
    v["runs"][0]["results"].as_array().expect("results")
}

/// Every `artifactLocation.uri` in the document, wherever it is.
fn uris(v: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "artifactLocation" {
                        out.extend(x["uri"].as_str().map(str::to_owned));
                    }
                    walk(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

/// What the schema's `uri-reference` allows but code scanning cannot resolve: a relative
/// URI is a clean path (no `.` segments, forward slashes); an absolute one is `file:`.
#[track_caller]
fn assert_clean_uris(v: &Value) {
    for u in uris(v) {
        assert!(!u.contains('\\'), "backslash in {u:?}");
        assert!(!u.is_empty(), "empty uri");
        if let Some(path) = u.strip_prefix("file://") {
            assert!(path.starts_with('/'), "file URI without a path: {u:?}");
        } else {
            assert!(!u.starts_with('/'), "absolute path without file://: {u:?}");
            assert!(
                !u.contains(':'),
                "relative uri that looks like a scheme: {u:?}"
            );
        }
        let path = u.strip_prefix("file://").unwrap_or(&u);
        let segments: Vec<&str> = path
            .split('/')
            .skip(usize::from(path.starts_with('/')))
            .collect();
        assert!(
            !segments.iter().any(|s| s.is_empty() || *s == "."),
            "empty or `.` segment in {u:?} (for example a ./ prefix)"
        );
    }
}

#[test]
fn all_proved_is_valid_sarif() {
    let schema = Sarif::load();
    let (code, v) = sarif(&root().join("examples/eks-shop"), &[]);
    assert_eq!(code, Some(0), "{v:#}");
    schema.assert_valid(&v);
    // No failing assertion and no error diagnostic: at most warnings.
    assert!(results(&v).iter().all(|r| r["level"] == "warning"), "{v:#}");
    assert_clean_uris(&v);
}

#[test]
fn refuted_is_valid_sarif_with_locations() {
    let schema = Sarif::load();
    let dir = root().join("examples/eks-shop-regression");
    let (code, v) = sarif(&dir, &[]);
    assert_eq!(code, Some(1));
    schema.assert_valid(&v);
    let refuted: Vec<&Value> = results(&v)
        .iter()
        .filter(|r| r["ruleId"] == "assertion-refuted")
        .collect();
    assert_eq!(refuted.len(), 2, "{v:#}");
    for r in refuted {
        assert_eq!(r["level"], "error");
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "netpol.yaml", "{r:#}");
        assert!(loc["region"]["startLine"].as_u64().is_some_and(|l| l > 1));
    }
    assert_clean_uris(&v);
    // Run from the workspace root, the same file is named by its path from there.
    let (code, v) = sarif(
        &root(),
        &["--config", "examples/eks-shop-regression/netpol.yaml"],
    );
    assert_eq!(code, Some(1));
    schema.assert_valid(&v);
    assert_clean_uris(&v);
    assert!(
        uris(&v)
            .iter()
            .all(|u| u.starts_with("examples/eks-shop-regression/")),
        "{:?}",
        uris(&v)
    );
}

/// A folder with a `netpol.yaml` that reads `.` (the loader names files `./…`) and a broken
/// manifest whose name needs percent-encoding.
fn broken_folder() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(tmp.path().join("k8s")).expect("mkdir");
    std::fs::copy(
        root().join("testdata/manifests/invalid/port-out-of-range.yaml"),
        tmp.path().join("k8s/bad port#1.yaml"),
    )
    .expect("copying the broken manifest");
    std::fs::write(
        tmp.path().join("netpol.yaml"),
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nmanifests: [\".\"]\nassertions:\n  \
         - name: a\n    deny: {from: {namespace: dev}, to: {namespace: prod}}\n",
    )
    .expect("writing netpol.yaml");
    tmp
}

#[test]
fn error_diagnostics_are_valid_sarif_with_clean_uris() {
    let schema = Sarif::load();
    let tmp = broken_folder();
    let (code, v) = sarif(tmp.path(), &[]);
    assert_eq!(code, Some(1), "{v:#}");
    schema.assert_valid(&v);
    assert_clean_uris(&v);
    let broken: Vec<&Value> = results(&v)
        .iter()
        .filter(|r| r["ruleId"] == "port-out-of-range")
        .collect();
    assert!(!broken.is_empty(), "{v:#}");
    for r in broken {
        assert_eq!(r["level"], "error", "{r:#}");
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "k8s/bad%20port%231.yaml",
            "{r:#}"
        );
    }
    // With an absolute --config every file has an absolute path: file URIs.
    let config = tmp.path().join("netpol.yaml");
    let (code, v) = sarif(&root(), &["--config", config.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(1), "{v:#}");
    schema.assert_valid(&v);
    assert_clean_uris(&v);
    assert!(
        uris(&v).iter().all(|u| u.starts_with("file:///")),
        "{:?}",
        uris(&v)
    );
}

/// Netpol counts columns in characters, SARIF in UTF-16 code units unless told otherwise.
#[test]
fn columns_are_code_points() {
    let (_, v) = sarif(&root().join("examples/eks-shop-regression"), &[]);
    assert_eq!(v["runs"][0]["columnKind"], "unicodeCodePoints", "{v:#}");
}

/// The validation above can fail: broken documents are rejected.
#[test]
fn the_schema_rejects_broken_sarif() {
    let schema = Sarif::load();
    let (_, good) = sarif(&root().join("examples/eks-shop-regression"), &[]);
    schema.assert_valid(&good);

    let mut v = good.clone();
    v["version"] = "2.0.0".into();
    assert!(schema.validate(&v).is_err(), "version 2.0.0 accepted");

    let mut v = good.clone();
    v["runs"][0]["results"][0]
        .as_object_mut()
        .expect("a result")
        .remove("message");
    assert!(
        schema.validate(&v).is_err(),
        "a result without message accepted"
    );

    let mut v = good.clone();
    v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    assert!(schema.validate(&v).is_err(), "startLine 0 accepted");

    // `format: uri-reference` is checked: a space is not allowed in a URI.
    let mut v = good.clone();
    v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        "k8s/bad port.yaml".into();
    assert!(schema.validate(&v).is_err(), "a uri with a space accepted");

    // And `format: uri` on `$schema`: a relative reference is not a URI.
    let mut v = good;
    v["$schema"] = "sarif-2.1.0.json".into();
    assert!(schema.validate(&v).is_err(), "a relative $schema accepted");
}

/// `netpol lint --format sarif` through the same renderer: valid on a clean example, on
/// lint warnings and on broken input, with help URIs for every rule.
#[test]
fn lint_output_is_valid_sarif() {
    let schema = Sarif::load();
    let lint = |dir: &Path, extra: &[&str]| {
        let res = run_in(dir, &[&["lint", "--format", "sarif"], extra].concat(), b"");
        let v: Value = serde_json::from_str(&res.stdout)
            .unwrap_or_else(|e| panic!("sarif is JSON ({e}): {}", res.snapshot()));
        (res.code, v)
    };
    let (code, v) = lint(&root().join("examples/eks-shop"), &[]);
    assert_eq!(code, Some(0), "{v:#}");
    schema.assert_valid(&v);
    assert_clean_uris(&v);
    let union: Vec<&Value> = results(&v)
        .iter()
        .filter(|r| r["ruleId"] == "named-port-union")
        .collect();
    assert_eq!(union.len(), 1, "{v:#}");
    assert_eq!(
        union[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "shop-policies.yaml"
    );
    // Notes (coverage) are not code-scanning alerts.
    assert!(results(&v).iter().all(|r| r["level"] != "note"), "{v:#}");
    let rules = v["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    for r in rules {
        let id = r["id"].as_str().expect("id");
        assert_eq!(
            r["helpUri"],
            format!("https://github.com/netpol-dev/netpol/blob/main/docs/diagnostics.md#{id}"),
            "{r:#}"
        );
    }
    let tmp = broken_folder();
    let (code, v) = lint(tmp.path(), &[]);
    assert_eq!(code, Some(1), "{v:#}");
    schema.assert_valid(&v);
    assert_clean_uris(&v);
    assert!(
        results(&v)
            .iter()
            .any(|r| r["ruleId"] == "port-out-of-range"),
        "{v:#}"
    );
    // The VPC CNI pitfall lints of V5, V9, V10 and V13 reach SARIF like every other code.
    for code in [
        "service-port-remapped",
        "service-via-pod-ipblock",
        "port-slots-truncated",
        "shared-pod-identifier",
    ] {
        let dir = root().join("testdata/lint").join(code);
        let file = dir.join("positive.yaml");
        let (_, v) = lint(&dir, &[file.to_str().expect("utf-8")]);
        schema.assert_valid(&v);
        assert!(
            results(&v)
                .iter()
                .any(|r| r["ruleId"] == code && r["level"] == "warning"),
            "{code}: {v:#}"
        );
    }
}

/// `netpol lint --format sarif --show-suppressed` lists what `netpol.dev/allow` hid, as
/// results with an `inSource` suppression whose justification is `netpol.dev/allow-reason`;
/// they are valid SARIF, absent without the flag, and never change the exit code.
#[test]
fn lint_suppressed_findings_are_sarif_suppressions() {
    let schema = Sarif::load();
    let file = "testdata/lint/unused-suppression/negative.yaml";
    let lint = |extra: &[&str]| {
        let res = run_in(
            &root(),
            &[&["lint", "--format", "sarif", file], extra].concat(),
            b"",
        );
        let v: Value = serde_json::from_str(&res.stdout)
            .unwrap_or_else(|e| panic!("sarif is JSON ({e}): {}", res.snapshot()));
        (res.code, v)
    };
    let suppressed = |v: &Value| -> Vec<Value> {
        results(v)
            .iter()
            .filter(|r| r.get("suppressions").is_some())
            .cloned()
            .collect()
    };
    let (plain_code, plain) = lint(&[]);
    assert!(suppressed(&plain).is_empty(), "{plain:#}");
    assert!(
        results(&plain)
            .iter()
            .all(|r| r["ruleId"] != "dns-port-tcp-only"),
        "{plain:#}"
    );
    let (code, v) = lint(&["--show-suppressed"]);
    assert_eq!(code, plain_code, "suppressed findings change no exit code");
    schema.assert_valid(&v);
    assert_clean_uris(&v);
    let hits = suppressed(&v);
    assert_eq!(hits.len(), 1, "{v:#}");
    assert_eq!(hits[0]["ruleId"], "dns-port-tcp-only");
    assert_eq!(
        hits[0]["suppressions"],
        serde_json::json!([{"kind": "inSource", "justification": "our resolver speaks TCP only"}])
    );
    // The unsuppressed results are the same, in the same order.
    let active: Vec<&Value> = results(&v)
        .iter()
        .filter(|r| r.get("suppressions").is_none())
        .collect();
    assert_eq!(active, results(&plain).iter().collect::<Vec<_>>());
    // `--allow` drops a suppressed finding as it drops any other.
    let (_, v) = lint(&["--show-suppressed", "--allow", "dns"]);
    assert!(suppressed(&v).is_empty(), "{v:#}");
    // The other formats cannot say "suppressed": a usage error.
    let res = run_in(
        &root(),
        &["lint", "--show-suppressed", "--format", "short", file],
        b"",
    );
    assert_eq!(res.code, Some(2), "{}", res.snapshot());
    assert!(res.stderr.contains("--format sarif"), "{}", res.stderr);
}
