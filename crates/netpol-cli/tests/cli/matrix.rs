//! `netpol matrix` and `netpol explain` on the shipped example.

use super::run;

#[test]
fn matrix_table_of_the_example() {
    let run = run(&["matrix", "examples/eks-shop/"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    insta::assert_snapshot!(run.snapshot());
}

#[test]
fn matrix_json_follows_the_contract() {
    let run = run(&[
        "matrix",
        "--expand",
        "--format",
        "json",
        "examples/eks-shop/",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("matrix JSON parses");
    assert_eq!(v["version"], 2);
    assert_eq!(v["layout"], "pairs");
    assert_eq!(v["semantics"]["cni"], "vpc-cni");
    assert_eq!(v["semantics"]["enforcingMode"], "standard");
    let ids: Vec<&str> = v["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "endpoints are sorted by id");
    let conns = v["connections"].as_array().expect("connections");
    let pairs: Vec<(&str, &str)> = conns
        .iter()
        .map(|c| {
            (
                c["from"].as_str().expect("from"),
                c["to"].as_str().expect("to"),
            )
        })
        .collect();
    let mut sorted = pairs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        pairs, sorted,
        "connections sorted by (from, to), each pair once"
    );
    // Only a workload's replicas reach "themselves".
    assert!(
        pairs
            .iter()
            .all(|(a, b)| a != b || a.ends_with("[Deployment]")),
        "no self pairs but replicas"
    );
    // The api reaches the database on Postgres only.
    let api_db = conns
        .iter()
        .find(|c| c["from"] == "shop/api[Deployment]" && c["to"] == "shop/db[Deployment]")
        .expect("api -> db");
    assert_eq!(api_db["ports"], serde_json::json!(["TCP/5432"]));
    // The frontend never reaches the database directly.
    assert!(
        !pairs.contains(&("shop/frontend[Deployment]", "shop/db[Deployment]")),
        "frontend -> db must be denied"
    );
}

#[test]
fn matrix_is_deterministic_and_filters() {
    let args = [
        "matrix",
        "--format",
        "csv",
        "--to",
        "shop/db",
        "--port",
        "5432/TCP",
        "examples/eks-shop/",
    ];
    let a = run(&args);
    let b = run(&args);
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    assert_eq!(a.stdout, b.stdout);
    insta::assert_snapshot!(a.snapshot());
}

#[test]
fn matrix_upstream_profile_has_no_service_endpoints() {
    let run = run(&[
        "matrix",
        "--cni",
        "upstream",
        "--format",
        "json",
        "examples/eks-shop/",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("\"cni\": \"upstream\""),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("[Service]"), "{}", run.stdout);
}

#[test]
fn explain_allowed_connection() {
    let run = run(&[
        "explain",
        "--color",
        "never",
        "--from",
        "shop/api",
        "--to",
        "shop/db",
        "--port",
        "TCP/5432",
        "examples/eks-shop/",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    insta::assert_snapshot!(run.snapshot());
}

#[test]
fn explain_denied_connection() {
    let run = run(&[
        "explain",
        "--color",
        "never",
        "--from",
        "shop/frontend",
        "--to",
        "shop/db",
        "--port",
        "5432/TCP",
        "examples/eks-shop/",
    ]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    insta::assert_snapshot!(run.snapshot());
}

#[test]
fn explain_unknown_endpoint_is_a_usage_error() {
    let run = run(&[
        "explain",
        "--from",
        "shop/nope",
        "--to",
        "shop/db",
        "examples/eks-shop/",
    ]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("shop/nope"), "{}", run.stderr);
}
