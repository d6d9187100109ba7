//! `netpol matrix`: classes by default, `--expand`, exit codes and stdout after failures.

use super::{root, run, run_in};

/// Bare pods of a dump, owned by a ReplicaSet that is not in the input, in two namespaces.
fn dump(dir: &std::path::Path) {
    let mut s = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for (i, ns) in ["a", "a", "b"].iter().enumerate() {
        s.push_str(&format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: web-7d9f8-x{i}\n    namespace: {ns}\n    labels: {{app: web, pod-template-hash: 7d9f8}}\n    ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f8, uid: u{i}, controller: true}}]\n  spec: {{containers: [{{name: c, image: i}}]}}\n  status: {{podIP: 10.0.0.{i}}}\n"
        ));
    }
    std::fs::write(dir.join("pods.yaml"), s).expect("write");
}

#[test]
fn json_is_classes_by_default_and_pairs_with_expand() {
    let tmp = tempfile::tempdir().expect("tempdir");
    dump(tmp.path());
    let res = run_in(
        tmp.path(),
        &["matrix", "--format", "json", "pods.yaml"],
        b"",
    );
    assert_eq!(res.code, Some(0), "{}", res.stderr);
    let v: serde_json::Value = serde_json::from_str(&res.stdout).expect("JSON");
    assert_eq!(v["version"], 2);
    assert_eq!(v["layout"], "classes");
    let names: Vec<&str> = (v["classes"].as_array().expect("classes").iter())
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    // The three pods, in two namespaces, are one class named after their Deployment.
    assert_eq!(names, ["0.0.0.0/0", "a/web[Deployment]+"]);
    assert_eq!(v["classes"][1]["size"], 3);
    let res = run_in(
        tmp.path(),
        &["matrix", "--expand", "--format", "json", "pods.yaml"],
        b"",
    );
    let v: serde_json::Value = serde_json::from_str(&res.stdout).expect("JSON");
    assert_eq!(v["layout"], "pairs");
    assert_eq!(v["connections"].as_array().expect("connections").len(), 12);
    assert_eq!(v["endpoints"][1]["owner"], "a/web[Deployment]");
}

#[test]
fn output_is_byte_identical_across_runs() {
    for format in ["table", "json", "dot", "mermaid", "csv", "md"] {
        let args = ["matrix", "--format", format, "examples/eks-shop/"];
        let (a, b) = (run(&args), run(&args));
        assert_eq!(a.code, Some(0), "{}", a.stderr);
        assert_eq!(a.stdout, b.stdout, "{format}");
    }
}

/// A workload's replicas reach each other: an edge from the workload to itself.
#[test]
fn replicas_are_an_edge_to_itself() {
    let res = run(&[
        "matrix",
        "--expand",
        "--format",
        "csv",
        "examples/eks-shop/",
    ]);
    assert_eq!(res.code, Some(0), "{}", res.stderr);
    assert!(
        res.stdout.lines().any(|l| {
            let mut f = l.split(',');
            let (a, b) = (f.next(), f.next());
            a == b && a.is_some_and(|a| a.ends_with("[Deployment]"))
        }),
        "{}",
        res.stdout
    );
}

/// Input that cannot be read: exit 2 and nothing on stdout, not an empty matrix.
#[test]
fn unreadable_input_writes_no_matrix() {
    for format in ["json", "table"] {
        let res = run(&["matrix", "--format", format, "no/such/path.yaml"]);
        assert_eq!(res.code, Some(2), "{}", res.stderr);
        assert_eq!(res.stdout, "", "{format}");
        assert!(res.stderr.contains("io-error"), "{}", res.stderr);
    }
}

/// An error in the input: exit 1, as `lint`; the matrix is of what loaded.
#[test]
fn input_errors_exit_1() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("bad.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\nspec: {containers: [{name: c, image: i, ports: [{containerPort: 99999}]}]}\n",
    )
    .expect("write");
    let res = run_in(tmp.path(), &["matrix", "--format", "json", "bad.yaml"], b"");
    assert_eq!(res.code, Some(1), "{}", res.stderr);
    assert!(res.stderr.contains("port-out-of-range"), "{}", res.stderr);
    let lint = run_in(tmp.path(), &["lint", "bad.yaml"], b"");
    assert_eq!(lint.code, res.code);
    let _ = root();
}
