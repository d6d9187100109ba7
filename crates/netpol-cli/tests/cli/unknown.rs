//! `netpol verify` when the solver gives up: an assertion whose query runs out of
//! `--timeout` is `unknown`, a failure (exit code 1) with the solver's reason, never a pass.
//!
//! The Z3 timeout (libz3 4.8.12, through `Params` "timeout") is not always honoured: on a
//! loaded machine a `Solver::check` with a 1 ms limit sometimes runs to completion (measured:
//! 3 of 20 runs of a 0.5 s query, 1 of 20 of a 2 s query, with 4 concurrent runs on 2
//! cores), and the run then reports `refuted`, or `unknown: the solver returned no model`
//! when the late cancellation hits `get_model`. Each attempt below must still fail (exit code
//! 1, never `proved`), and the `unknown` result is required within a few attempts.

use std::path::Path;

use netpol_graph::synth::{Size, SynthConfig, generate};
use serde_json::Value;

use super::{Run, run_in};

/// Small enough to load in about a second in debug builds, large enough that the wide query
/// needs real solving.
fn cluster() -> SynthConfig {
    SynthConfig {
        namespaces: 50,
        workloads: 1_000,
        policies: 500,
        ..SynthConfig::size(Size::S)
    }
}

/// One wide assertion: every existing endpoint is a destination, and every source outside
/// kube-system is a candidate intruder.
const CONFIG: &str = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
manifests: ["cluster.yaml"]
cluster:
  podCIDRs: ["10.0.0.0/8"]
assertions:
  - name: only-kube-system-reaches-anything
    scope: existing
    only: {to: {}, from: [{namespace: kube-system}]}
"#;

fn folder() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("cluster.yaml"), generate(&cluster())).expect("cluster");
    std::fs::write(tmp.path().join("netpol.yaml"), CONFIG).expect("netpol.yaml");
    tmp
}

fn verify(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "--timeout", "0.001", "--color", "never"];
    args.extend_from_slice(extra);
    run_in(dir, &args, b"")
}

/// Attempts per output format; each misses with probability below 0.3 (measured above).
const ATTEMPTS: usize = 6;

/// Runs `verify --timeout 0.001` until `hit` accepts the output; every attempt must fail.
fn until_unknown(dir: &Path, extra: &[&str], hit: impl Fn(&Run) -> bool) -> Run {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let res = verify(dir, extra);
        assert_eq!(res.code, Some(1), "{}{}", res.stdout, res.stderr);
        let proved = res.stdout.contains("\"proved\"") || res.stdout.contains("(proved)");
        assert!(!proved, "a pass under the limit: {}", res.stdout);
        if hit(&res) {
            return res;
        }
        last = Some(res);
    }
    let last = last.expect("at least one attempt");
    panic!(
        "no `unknown` in {ATTEMPTS} runs with --timeout 0.001:\n{}{}",
        last.stdout, last.stderr
    );
}

fn json_unknown(res: &Run) -> bool {
    serde_json::from_str::<Value>(&res.stdout).is_ok_and(|v| {
        v["assertions"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("timeout") || r.contains("canceled"))
    })
}

#[test]
fn a_timeout_is_unknown_and_fails() {
    let tmp = folder();

    let res = until_unknown(tmp.path(), &["--format", "json"], json_unknown);
    let v: Value = serde_json::from_str(&res.stdout).expect("json");
    let a = &v["assertions"][0];
    assert_eq!(a["name"], "only-kube-system-reaches-anything", "{v:#}");
    assert_eq!(a["result"], "unknown", "{v:#}");
    assert!(a.get("counterexample").is_none(), "{v:#}");
    let reason = a["reason"].as_str().expect("a reason");
    let unknown: Vec<&Value> = v["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["code"] == "assertion-unknown")
        .collect();
    assert_eq!(unknown.len(), 1, "{v:#}");
    assert_eq!(unknown[0]["severity"], "error");

    let line = format!("? only-kube-system-reaches-anything (unknown: {reason})");
    let human = until_unknown(tmp.path(), &[], |r| r.stdout.contains(&line));
    for text in [
        "error[assertion-unknown]",
        "assertion `only-kube-system-reaches-anything` could not be decided",
        "raise --timeout",
        "0 of 1 assertions proved",
    ] {
        assert!(human.stdout.contains(text), "{text}: {}", human.stdout);
    }
}

/// With the default limit the same query is decided, so the `unknown` above comes from the
/// timeout and not from the assertion.
#[test]
fn the_same_query_is_decided_without_the_limit() {
    let tmp = folder();
    let res = run_in(tmp.path(), &["verify", "--format", "json"], b"");
    let v: Value = serde_json::from_str(&res.stdout).expect("json");
    let result = v["assertions"][0]["result"].as_str().unwrap_or_default();
    assert!(["proved", "refuted"].contains(&result), "{v:#}");
}
