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

/// V15 end to end: `--ip-family ipv6` makes the agent's key for an IPv4 except cut web's
/// egress to db, with the warning that says why; an address of the other family given by a
/// flag is a usage error, and in netpol.yaml an error at its line.
#[test]
fn the_ip_family_decides_what_the_agent_keeps() {
    let fixture = "testdata/reach/vpc-ip-family.yaml";
    let pairs = |args: &[&str]| -> (Vec<(String, String)>, String) {
        let mut all = vec!["matrix", "--expand", "--format", "json"];
        all.extend_from_slice(args);
        all.push(fixture);
        let r = run(&all);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("matrix JSON");
        let pairs = (v["connections"].as_array().expect("connections").iter())
            .map(|c| (c["from"].to_string(), c["to"].to_string()))
            .collect();
        (pairs, r.stderr)
    };
    let web_db = ("\"x/web\"".to_owned(), "\"x/db\"".to_owned());
    let (v6, stderr) = pairs(&["--ip-family", "ipv6"]);
    assert!(!v6.contains(&web_db), "{v6:?}");
    assert!(
        stderr.contains("except-other-family") && stderr.contains("a00::/8"),
        "{stderr}"
    );
    let (up, _) = pairs(&["--ip-family", "ipv6", "--cni", "upstream"]);
    assert!(up.contains(&web_db), "{up:?}");

    let bad = run(&[
        "matrix",
        "--ip-family",
        "ipv6",
        "--pod-cidr",
        "10.0.0.0/16",
        fixture,
    ]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("10.0.0.0"), "{}", bad.stderr);

    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("netpol.yaml"),
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\ncluster:\n  ipFamily: ipv6\n  podCIDRs: [\"fd00::/8\", 10.0.0.0/16]\nassertions: []\n",
    )
    .expect("write");
    let config = tmp.path().join("netpol.yaml");
    let r = run(&[
        "matrix",
        "--config",
        config.to_str().expect("utf-8"),
        fixture,
    ]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("invalid-config") && r.stderr.contains("netpol.yaml:5"),
        "{}",
        r.stderr
    );
}
