//! kubectl decoder parity. Every case in `testdata/kubectl/` (and the fixtures listed in
//! `testdata/kubectl/fixtures.txt`) has a golden file in `testdata/kubectl/expected/`
//! recorded by really running
//! `kubectl create --dry-run=client --validate=false -o json -f CASE` against a
//! read-only discovery stub: the objects kubectl decoded, and its error if it rejected
//! the input.
//!
//! - `netpol_reads_what_kubectl_reads` (always): where kubectl read the input, netpol's
//!   documents equal kubectl's objects; where kubectl rejected it while decoding, netpol
//!   has an error diagnostic with a line, and every object kubectl did read is read the
//!   same. Deliberate differences are listed in `DELIBERATE` and in docs/conformance.md.
//! - `goldens_match_kubectl` (when `kubectl` is on PATH): re-runs kubectl and checks the
//!   goldens are current. `NETPOL_BLESS_KUBECTL=1` rewrites them.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use netpol_diag::{Code, Severity, SourceMap};
use netpol_manifest::yaml::{Limits, parse_bytes};
use serde_json::{Value, json};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Case paths relative to `testdata/`, sorted.
fn cases() -> Vec<String> {
    let dir = testdata().join("kubectl");
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .expect("testdata/kubectl")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let ext = name.rsplit('.').next()?;
            matches!(ext, "yaml" | "yml" | "json").then(|| format!("kubectl/{name}"))
        })
        .collect();
    let listed = std::fs::read_to_string(dir.join("fixtures.txt")).expect("fixtures.txt");
    out.extend(
        listed
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned),
    );
    out.sort();
    out
}

fn golden_path(case: &str) -> PathBuf {
    testdata().join("kubectl/expected").join(format!(
        "{}.json",
        case.trim_start_matches("../").replace('/', "__")
    ))
}

/// Cases where netpol deliberately refuses what kubectl reads, with the codes it gives.
/// Each is explained in docs/conformance.md, "kubectl decoder parity".
const DELIBERATE: &[(&str, &[Code])] = &[
    // kubectl turns the byte into U+FFFD; netpol refuses that document.
    ("kubectl/latin1-byte.yaml", &[Code::InvalidUtf8]),
    // Only `--validate=false` reads a repeated key (the last wins); netpol reads the
    // same value but reports the error that kubectl's default strict validation gives.
    ("kubectl/duplicate-key.yaml", &[Code::DuplicateKey]),
    (
        "manifests/invalid/duplicate-key.yaml",
        &[Code::DuplicateKey],
    ),
    // NEL is a line break for go-yaml only; netpol refuses rather than guess.
    ("kubectl/char-nel.yaml", &[Code::SyntaxError]),
    // saphyr requires the lines of a flow collection to be indented more than its key;
    // libyaml does not.
    ("kubectl/tab-flow-continuation.yaml", &[Code::SyntaxError]),
];

/// Numbers compare by value (kubectl prints 1e19 where netpol keeps an f64).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y
                || (x.as_i64().is_some() && x.as_i64() == y.as_i64())
                || (x.as_u64().is_some() && x.as_u64() == y.as_u64())
                || x.as_f64() == y.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// kubectl prints the items of a `...List` in its place, giving items of a typed list
/// (`NamespaceList`) the list's kind and apiVersion when they name none.
fn flatten(values: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for v in values {
        let kind = v["kind"].as_str().and_then(|k| k.strip_suffix("List"));
        match (kind, &v["items"]) {
            (Some(kind), Value::Array(items)) => {
                for item in items {
                    let mut item = item.clone();
                    if let Some(m) = item.as_object_mut().filter(|m| !m.contains_key("kind"))
                        && !kind.is_empty()
                    {
                        m.insert("kind".into(), kind.into());
                        m.insert("apiVersion".into(), v["apiVersion"].clone());
                    }
                    out.push(item);
                }
            }
            _ => out.push(v),
        }
    }
    out
}

/// kubectl's objects without the namespace it added from its context.
fn unstub(mut objects: Vec<Value>) -> Vec<Value> {
    for o in &mut objects {
        if let Some(m) = o["metadata"].as_object_mut()
            && m.get("namespace").and_then(Value::as_str) == Some(CONTEXT_NAMESPACE)
        {
            m.remove("namespace");
            // kubectl made `metadata` to hold it.
            if m.is_empty()
                && let Some(o) = o.as_object_mut()
            {
                o.remove("metadata");
            }
        }
    }
    objects
}

/// Whether `sub` appears in `all` in order (not necessarily next to each other).
fn subsequence(sub: &[Value], all: &[Value]) -> bool {
    let mut it = all.iter();
    sub.iter().all(|s| it.any(|a| same(s, a)))
}

/// Compares netpol's reading of `bytes` with kubectl's recorded outcome; `Some` explains
/// a difference.
fn compare(case: &str, bytes: Vec<u8>, golden: &Value) -> Option<String> {
    let expected = unstub(golden["objects"].as_array().cloned().unwrap_or_default());
    let error = golden["error"].as_str();
    let mut map = SourceMap::new();
    let (_, docs, diags) = parse_bytes(case, bytes.clone(), &mut map, &Limits::default());
    let got = flatten(docs.into_iter().map(|d| d.value).collect());
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let deliberate = DELIBERATE.iter().find(|(c, _)| *c == case);
    let ok = match (error, deliberate) {
        (_, Some((_, codes))) => {
            subsequence(&got, &expected)
                && !errors.is_empty()
                && errors.iter().all(|d| codes.contains(&d.code))
        }
        (None, None) => {
            errors.is_empty()
                && got.len() == expected.len()
                && got.iter().zip(&expected).all(|(a, b)| same(a, b))
        }
        // Rejected while decoding: netpol must say so at a line.
        (Some(msg), None) if msg.starts_with("error: error parsing") => {
            subsequence(&expected, &got) && errors.iter().any(|d| d.primary_span().is_some())
        }
        // Rejected after parsing, still while decoding (an empty kind, `items` not a
        // list): the documents agree, and loading reports an error at a line.
        (Some(msg), None) if msg.starts_with("error: unable to decode") => {
            subsequence(&expected, &got) && load_has_located_error(case, &bytes)
        }
        // Rejected for reasons outside the decoder (no API mapping for a kind, nothing to
        // create): the decoded documents must still agree.
        (Some(_), None) => subsequence(&expected, &got),
    };
    if ok {
        return None;
    }
    let shown: Vec<String> = diags
        .iter()
        .map(|d| {
            let at = d.primary_span().map(|s| map.line_col(s.file, s.start));
            format!("{}@{at:?}: {}", d.code, d.message)
        })
        .collect();
    Some(format!(
        "== {case}\nnetpol docs {got:?}\nnetpol diagnostics {shown:?}\nkubectl objects {expected:?}\nkubectl error {error:?}"
    ))
}

/// Whether loading the case (objects included, not only the YAML stage) gives an error
/// diagnostic with a location.
fn load_has_located_error(case: &str, bytes: &[u8]) -> bool {
    let mut map = SourceMap::new();
    let source = netpol_manifest::Source::Bytes {
        name: case.to_owned(),
        bytes: bytes.to_vec(),
    };
    let loaded = netpol_manifest::load(
        &[source],
        &netpol_manifest::LoadOptions::default(),
        &mut map,
    );
    loaded
        .diagnostics
        .iter()
        .any(|d| d.is_error() && d.primary_span().is_some())
}

#[test]
fn netpol_reads_what_kubectl_reads() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases() {
        let golden = std::fs::read_to_string(golden_path(&case))
            .unwrap_or_else(|e| panic!("{case}: no golden ({e}); run with NETPOL_BLESS_KUBECTL=1"));
        let golden: Value = serde_json::from_str(&golden).expect("golden JSON");
        let bytes = std::fs::read(testdata().join(&case)).expect("case");
        checked += 1;
        failures.extend(compare(&case, bytes, &golden));
    }
    assert!(checked > 100, "only {checked} cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ from kubectl:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Recording kubectl's outcome.

/// The namespace of the stub's context: kubectl writes it into namespaced objects that
/// name none, and the comparison takes it out again.
const CONTEXT_NAMESPACE: &str = "kubectl-context-namespace";

/// Cluster-scoped kinds; kubectl drops `metadata.namespace` from them.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "CustomResourceDefinition",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "ClusterNetworkPolicy",
];

/// API groups and kinds the stub lists.
const RESOURCES: &[(&str, &[&str])] = &[
    (
        "v1",
        &[
            "ConfigMap",
            "Namespace",
            "Pod",
            "Service",
            "ReplicationController",
            "Secret",
            "ServiceAccount",
        ],
    ),
    ("networking.k8s.io/v1", &["NetworkPolicy", "Ingress"]),
    (
        "apps/v1",
        &["Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"],
    ),
    ("batch/v1", &["Job", "CronJob"]),
    ("apiextensions.k8s.io/v1", &["CustomResourceDefinition"]),
    (
        "policy.networking.k8s.io/v1alpha1",
        &["AdminNetworkPolicy", "BaselineAdminNetworkPolicy"],
    ),
    (
        "policy.networking.k8s.io/v1alpha2",
        &["ClusterNetworkPolicy"],
    ),
    (
        "networking.k8s.aws/v1alpha1",
        &["ClusterNetworkPolicy", "ApplicationNetworkPolicy"],
    ),
];

fn discovery(path: &str) -> Option<Value> {
    let path = path.split('?').next().unwrap_or(path);
    if path == "/api" {
        return Some(json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}));
    }
    if path == "/apis" {
        let groups: Vec<Value> = RESOURCES
            .iter()
            .filter_map(|(gv, _)| {
                let (g, v) = gv.split_once('/')?;
                let version = json!({"groupVersion": gv, "version": v});
                Some(json!({"name": g, "versions": [version], "preferredVersion": version}))
            })
            .collect();
        return Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}));
    }
    let gv = path
        .strip_prefix("/api/")
        .or_else(|| path.strip_prefix("/apis/"))?;
    let (_, kinds) = RESOURCES.iter().find(|(g, _)| *g == gv)?;
    let resources: Vec<Value> = kinds
        .iter()
        .map(|k| {
            json!({"name": format!("{}s", k.to_lowercase()), "singularName": k.to_lowercase(),
                "namespaced": !CLUSTER_SCOPED.contains(k), "kind": k, "verbs": ["create", "get", "list"]})
        })
        .collect();
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// Serves discovery on 127.0.0.1 from a background thread; returns the port. The thread
/// ends with the test process.
fn start_stub() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let Ok(read) = conn.try_clone() else { continue };
            let mut reader = BufReader::new(read);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // Skip the headers; discovery requests have no body.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let (status, body) = match discovery(path) {
                Some(v) => ("200 OK", v.to_string()),
                None => ("404 Not Found", "{}".to_owned()),
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// kubectl's outcome for one case, as stored in its golden file.
fn run_kubectl(kubectl: &Path, dir: &Path, case: &str) -> Value {
    let out = Command::new(kubectl)
        .args([
            "create",
            "--dry-run=client",
            "--validate=false",
            "-o",
            "json",
            "-f",
            case,
        ])
        .arg(format!("--cache-dir={}", dir.join("cache").display()))
        .current_dir(testdata())
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("HOME", dir)
        .output()
        .expect("run kubectl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // One JSON value per object, one after the other.
    let objects: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .map(|v| v.expect("kubectl prints JSON"))
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = (!out.status.success()).then(|| stderr.trim().to_owned());
    json!({ "objects": objects, "error": error })
}

fn write_kubeconfig(dir: &Path, port: u16) {
    std::fs::write(
        dir.join("kubeconfig"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: stub, cluster: {{server: \"http://127.0.0.1:{port}\"}}}}]\ncontexts: [{{name: stub, context: {{cluster: stub, namespace: {CONTEXT_NAMESPACE}}}}}]\ncurrent-context: stub\nusers: []\n"
        ),
    )
    .expect("kubeconfig");
}

fn kubectl_on_path() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    })
}

#[test]
fn goldens_match_kubectl() {
    let Some(kubectl) = kubectl_on_path() else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipped: kubectl is not on PATH, so the kubectl goldens were not re-checked"
            );
        }
        return;
    };
    let port = start_stub();
    let dir = tempfile::tempdir().expect("tempdir");
    write_kubeconfig(dir.path(), port);
    let bless = std::env::var_os("NETPOL_BLESS_KUBECTL").is_some();
    let mut stale = Vec::new();
    for case in cases() {
        let fresh = run_kubectl(&kubectl, dir.path(), &case);
        let path = golden_path(&case);
        let recorded: Option<Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok());
        if recorded.as_ref() != Some(&fresh) {
            if bless {
                let text = serde_json::to_string_pretty(&fresh).expect("json") + "\n";
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(&path, text).expect("write golden");
            } else {
                stale.push(case);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "kubectl now answers differently for {stale:?}; re-record with NETPOL_BLESS_KUBECTL=1 and review the diff"
    );
}

/// Exploration: with `NETPOL_KUBECTL_EXTRA_DIR=DIR` (absolute), runs kubectl on every file
/// of DIR and compares as above, without goldens. A no-op otherwise.
#[test]
fn extra_inputs_match_kubectl() {
    let (Some(dir), Some(kubectl)) = (
        std::env::var_os("NETPOL_KUBECTL_EXTRA_DIR"),
        kubectl_on_path(),
    ) else {
        return;
    };
    let port = start_stub();
    let home = tempfile::tempdir().expect("tempdir");
    write_kubeconfig(home.path(), port);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("extra dir")
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    for path in &entries {
        let case = path.display().to_string();
        let golden = run_kubectl(&kubectl, home.path(), &case);
        let bytes = std::fs::read(path).expect("read");
        failures.extend(compare(&case, bytes, &golden));
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs differ from kubectl:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}
