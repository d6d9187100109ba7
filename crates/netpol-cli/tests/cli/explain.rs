//! `netpol explain`: exit codes on broken input, `--format json`, IP addresses as endpoints.

use serde_json::Value;

use super::{run, run_in};

fn json(args: &[&str]) -> (Option<i32>, Value) {
    let res = run(args);
    let v = serde_json::from_str(&res.stdout).unwrap_or_else(|e| panic!("{e}: {}", res.snapshot()));
    (res.code, v)
}

/// An answer about input with errors is not one to rely on: exit 1 even when allowed.
#[test]
fn input_errors_exit_1() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("pods.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\n\
         spec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\n\
         metadata: {name: b, namespace: x}\nspec: {containers: [{name: c, image: i}]}\n",
    )
    .expect("write");
    let args = ["explain", "--from", "x/a", "--to", "x/b", "."];
    let clean = run_in(tmp.path(), &args, b"");
    assert_eq!(clean.code, Some(0), "{}", clean.snapshot());
    std::fs::write(
        tmp.path().join("policy.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: z9}\n\
         spec: {podSelector: {}, ingress: [{ports: [{port: 80800}]}]}\n",
    )
    .expect("write");
    let broken = run_in(tmp.path(), &args, b"");
    assert_eq!(broken.code, Some(1), "{}", broken.snapshot());
    assert!(
        broken.stderr.contains("port-out-of-range"),
        "{}",
        broken.snapshot()
    );
    assert!(broken.stdout.contains("allowed"), "{}", broken.snapshot());
}

/// `--format json` is one document: endpoints, verdict, ports, per-direction rules with
/// locations, and the input's diagnostics (docs/output-formats.md, "Explanation JSON").
#[test]
fn json_format() {
    let (code, v) = json(&[
        "explain",
        "--format",
        "json",
        "--from",
        "shop/api",
        "--to",
        "shop/db",
        "--port",
        "5432/TCP",
        "examples/eks-shop/",
    ]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["from"]["id"], "shop/api[Deployment]");
    assert_eq!(v["from"]["kind"], "Deployment");
    assert_eq!(v["to"]["namespace"], "shop");
    assert_eq!(v["port"], "TCP/5432");
    assert_eq!(v["verdict"], "allowed");
    assert_eq!(v["allowed"], serde_json::json!(["TCP/5432"]));
    let dirs = v["directions"].as_array().expect("directions");
    assert_eq!(dirs.len(), 2, "{v:#}");
    assert_eq!(dirs[0]["direction"], "Egress");
    assert_eq!(dirs[1]["direction"], "Ingress");
    let rule = &dirs[0]["rules"][0];
    assert_eq!(rule["policy"], "shop/api");
    assert_eq!(rule["file"], "examples/eks-shop/shop-policies.yaml");
    assert!(rule["line"].as_u64().is_some_and(|l| l > 0), "{rule:#}");
    assert!(
        v["diagnostics"].as_array().is_some_and(Vec::is_empty),
        "{v:#}"
    );
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "from",
            "to",
            "port",
            "verdict",
            "allowed",
            "directions",
            "notes",
            "diagnostics"
        ]
    );
    let (code, v) = json(&[
        "explain",
        "--format",
        "json",
        "--from",
        "shop/frontend",
        "--to",
        "shop/db",
        "examples/eks-shop/",
    ]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["verdict"], "denied");
    assert_eq!(v["port"], Value::Null);
}

/// An IP address names the endpoint that has it (a pod with a known IP, a node) or the
/// external range that holds it.
#[test]
fn ip_addresses_are_endpoints() {
    let (code, v) = json(&[
        "explain",
        "--format",
        "json",
        "--from",
        "shop/api",
        "--to",
        "10.0.70.1",
        "examples/eks-shop/",
    ]);
    assert!(code == Some(0) || code == Some(1), "{v:#}");
    assert_eq!(v["to"]["kind"], "External", "{v:#}");
    assert_eq!(v["to"]["id"], "10.0.64.0-10.0.79.255", "{v:#}");
    let (code, v) = json(&[
        "explain",
        "--format",
        "json",
        "--node",
        "n1=10.0.1.5",
        "--from",
        "10.0.1.5",
        "--to",
        "shop/api",
        "examples/eks-shop/",
    ]);
    assert!(code == Some(0) || code == Some(1), "{v:#}");
    assert_eq!(v["from"]["id"], "node/n1", "{v:#}");
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\n\
         spec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\n\
         metadata: {name: b, namespace: x}\nspec: {containers: [{name: c, image: i}]}\n\
         status: {podIP: 10.0.3.7}\n",
    )
    .expect("write");
    let res = run_in(
        tmp.path(),
        &["explain", "--from", "x/a", "--to", "10.0.3.7"],
        b"",
    );
    assert_eq!(res.code, Some(0), "{}", res.snapshot());
    assert!(res.stdout.contains("x/a -> x/b"), "{}", res.snapshot());
    let res = run(&[
        "explain",
        "--from",
        "shop/api",
        "--to",
        "10.0.3.256",
        "examples/eks-shop/",
    ]);
    assert_eq!(res.code, Some(2), "{}", res.snapshot());
}
