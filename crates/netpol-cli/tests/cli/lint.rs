//! `netpol lint`.

use super::{root, run, run_in};

#[test]
fn valid_example_folder() {
    let res = run(&["lint", "examples/eks-shop/"]);
    assert_eq!(res.code, Some(0));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn valid_file() {
    let res = run(&["lint", "testdata/cli/valid.yaml"]);
    assert_eq!(res.code, Some(0));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn invalid_human() {
    let res = run(&["lint", "testdata/cli/invalid.yaml"]);
    assert_eq!(res.code, Some(1));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn invalid_short() {
    let res = run(&["lint", "--format", "short", "testdata/cli/invalid.yaml"]);
    assert_eq!(res.code, Some(1));
    // No summary line outside the human format.
    assert_eq!(res.stderr, "");
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn invalid_json() {
    let res = run(&["lint", "--format=json", "testdata/cli/invalid.yaml"]);
    assert_eq!(res.code, Some(1));
    let parsed: serde_json::Value = serde_json::from_str(&res.stdout).expect("stdout is JSON");
    let codes: Vec<&str> = parsed
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        [
            // The skipped-kinds summary has no location, so it comes first.
            "unsupported-kind",
            "port-out-of-range",
            "duplicate-object",
            "non-canonical-cidr",
        ]
    );
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn warnings_only_exit_zero() {
    let yaml = b"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n  podSelector: {}\n  egress: [{to: [{ipBlock: {cidr: 10.0.64.1/20}}]}]\n";
    let res = run_in(&root(), &["lint", "--format", "short", "-"], yaml);
    assert_eq!(res.code, Some(0), "{}", res.snapshot());
    assert!(res.stdout.starts_with("<stdin>:6:"), "{}", res.stdout);
    assert!(res.stdout.contains("warning[non-canonical-cidr]"));
}

#[test]
fn stdin() {
    let yaml = std::fs::read(root().join("testdata/cli/invalid.yaml")).expect("fixture");
    let res = run_in(&root(), &["lint", "-", "--format", "short"], &yaml);
    assert_eq!(res.code, Some(1));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn stdin_and_files_together() {
    let res = run_in(
        &root(),
        &["lint", "--format", "short", "testdata/cli/valid.yaml", "-"],
        b"kind: NetworkPolicy\n",
    );
    assert_eq!(res.code, Some(1));
    assert!(
        res.stdout.starts_with("<stdin>:1:1: error["),
        "{}",
        res.stdout
    );
}

#[test]
fn stdin_twice_is_a_usage_error() {
    let res = run(&["lint", "-", "-"]);
    assert_eq!(res.code, Some(2));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn no_paths_reads_the_current_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::copy(
        root().join("testdata/cli/invalid.yaml"),
        dir.path().join("sub/b.yaml"),
    )
    .expect("copy");
    std::fs::copy(
        root().join("testdata/cli/valid.yaml"),
        dir.path().join("a.yml"),
    )
    .expect("copy");
    std::fs::write(dir.path().join("notes.txt"), "not a manifest").expect("write");
    let res = run_in(dir.path(), &["lint", "--format", "short"], b"");
    assert_eq!(res.code, Some(1));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn nonexistent_path_is_exit_2() {
    let res = run(&["lint", "testdata/cli/valid.yaml", "no/such/dir"]);
    assert_eq!(res.code, Some(2));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn bad_flag_is_exit_2() {
    let res = run(&["lint", "--frobnicate"]);
    assert_eq!(res.code, Some(2));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn bad_format_value_is_exit_2() {
    let res = run(&["lint", "--format", "xml", "testdata/cli/valid.yaml"]);
    assert_eq!(res.code, Some(2));
    assert!(
        res.stderr.contains("possible values: human, short, json"),
        "{}",
        res.stderr
    );
}

#[test]
fn max_file_size() {
    let res = run(&[
        "lint",
        "--max-file-size",
        "100",
        "--format",
        "short",
        "testdata/cli/invalid.yaml",
    ]);
    assert_eq!(res.code, Some(1));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn namespace_default() {
    let yaml = b"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: team-a}\nspec: {podSelector: {}}\n";
    // Both policies land in team-a, so the second is a duplicate.
    let res = run_in(
        &root(),
        &["lint", "-n", "team-a", "--format", "short", "-"],
        yaml,
    );
    assert_eq!(res.code, Some(1), "{}", res.snapshot());
    assert!(
        res.stdout
            .contains("NetworkPolicy team-a/p is defined twice"),
        "{}",
        res.stdout
    );
    let res = run_in(&root(), &["lint", "--format", "short", "-"], yaml);
    assert_eq!(res.code, Some(0), "{}", res.snapshot());
}

#[test]
fn color() {
    let args = ["lint", "testdata/cli/invalid.yaml"];
    let plain = run(&args);
    assert!(
        !plain.stdout.contains('\u{1b}'),
        "auto is off when stdout is a pipe"
    );
    let forced = run(&[&args[..], &["--color", "always"]].concat());
    assert!(forced.stdout.contains('\u{1b}'));
    let never = run(&[&args[..], &["--color=never"]].concat());
    assert_eq!(never.stdout, plain.stdout);
}

#[test]
fn closed_stdout_is_not_an_error() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    // Enough duplicate objects that the output cannot fit in a pipe buffer.
    let doc = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n";
    let yaml = doc.repeat(2000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(["lint", "--format", "short", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning netpol");
    // Close the read end before netpol writes anything, like `netpol lint | head -0`.
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(yaml.as_bytes())
        .expect("netpol reads all of stdin");
    drop(stdin);
    let out = child.wait_with_output().expect("waiting for netpol");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        return;
    }
    let path = fifo.to_str().expect("utf-8 path");
    let res = run(&["lint", "--format", "short", path]);
    // Unreadable input is a tool failure, like io-error.
    assert_eq!(res.code, Some(2), "{}", res.stdout);
    assert!(res.stdout.contains("not-a-file"), "{}", res.stdout);
}

#[test]
fn endless_stdin_stops_at_the_size_limit() {
    use std::process::{Command, Stdio};

    // /dev/zero never ends: netpol must stop one byte past --max-file-size.
    let Ok(zero) = std::fs::File::open("/dev/zero") else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(["lint", "--format", "short", "--max-file-size", "4096", "-"])
        .stdin(Stdio::from(zero))
        .output()
        .expect("running netpol");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("file-too-large"), "{stdout}");
    assert!(
        stdout.contains("larger than the limit of 4096 bytes"),
        "{stdout}"
    );
}

/// Skipped kinds are one summary note; `--verbose` gives one note per object, at its kind.
#[test]
fn skipped_kinds_summary_and_verbose() {
    let notes = |args: &[&str]| -> Vec<String> {
        let res = run(args);
        assert_eq!(res.code, Some(0), "{}", res.stdout);
        res.stdout
            .lines()
            .filter(|l| l.contains("note[unsupported-kind]"))
            .map(str::to_owned)
            .collect()
    };
    let file = "testdata/manifests/valid/unsupported-kinds.yaml";
    let summary = notes(&["lint", "--format", "short", file]);
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert!(
        summary[0].contains("skipped") && summary[0].contains("--verbose"),
        "{summary:?}"
    );
    let each = notes(&["lint", "--format", "short", "--verbose", file]);
    assert!(each.len() > 1, "{each:?}");
    assert!(each.iter().all(|l| l.starts_with(file)), "{each:?}");
}

#[test]
fn semantic_lints_follow_the_profile_flags() {
    // Strict mode cuts off the pod no policy selects; standard mode leaves it open.
    let file = "testdata/lint/strict-mode-unselected/negative.yaml";
    let standard = run(&["lint", "--format", "short", file]);
    assert!(
        standard.stdout.contains("note[pod-not-isolated]"),
        "{}",
        standard.stdout
    );
    assert!(!standard.stdout.contains("warning[strict-mode-unselected]"));
    let strict = run(&[
        "lint",
        "--format",
        "short",
        "--enforcing-mode",
        "strict",
        file,
    ]);
    assert!(
        strict.stdout.contains("warning[strict-mode-unselected]"),
        "{}",
        strict.stdout
    );
}

#[test]
fn shared_pod_identifier_follows_the_cni_flag() {
    // `kubectl run kafka-client` beside StatefulSet kafka: one identifier under VPC CNI only.
    let file = "testdata/lint/shared-pod-identifier/positive-statefulset.yaml";
    let vpc = run(&["lint", "--format", "short", file]);
    let hits: Vec<&str> = vpc
        .stdout
        .lines()
        .filter(|l| l.contains("warning[shared-pod-identifier]"))
        .collect();
    assert_eq!(hits.len(), 1, "{}", vpc.stdout);
    assert!(
        hits[0].starts_with(&format!("{file}:17:1: ")) && hits[0].contains("`kafka@data`"),
        "{}",
        hits[0]
    );
    let upstream = run(&["lint", "--format", "short", "--cni", "upstream", file]);
    assert!(
        !upstream.stdout.contains("[shared-pod-identifier]"),
        "{}",
        upstream.stdout
    );
    // The group switches it off like every VPC CNI pitfall.
    let allowed = run(&["lint", "--format", "short", "--allow", "vpc-cni", file]);
    assert!(
        !allowed.stdout.contains("[shared-pod-identifier]"),
        "{}",
        allowed.stdout
    );
}

#[test]
fn severity_overrides() {
    let args = ["lint", "--format", "short", "examples/eks-shop/"];
    let plain = run(&args);
    assert_eq!(plain.code, Some(0));
    assert!(plain.stdout.contains("note[no-default-deny]"));
    let tuned = run(&[
        &args[..],
        &["--allow", "coverage", "--deny", "named-port-union"],
    ]
    .concat());
    assert_eq!(tuned.code, Some(1), "{}", tuned.snapshot());
    assert!(!tuned.stdout.contains("no-default-deny"));
    assert!(!tuned.stdout.contains("pod-not-isolated"));
    assert!(tuned.stdout.contains("error[named-port-union]"));
    let strict = run(&[&args[..], &["--deny", "warnings"]].concat());
    assert_eq!(strict.code, Some(1));
    let bad = run(&[&args[..], &["--allow", "nope"]].concat());
    assert_eq!(bad.code, Some(2));
    assert!(
        bad.stderr.contains("is not a diagnostic code"),
        "{}",
        bad.stderr
    );
}
