//! `netpol verify` on the eks-shop examples: verdicts, exit codes and every output format.

use serde_json::Value;

use super::{root, run_in};

fn json(dir: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["verify", "--format", "json"];
    args.extend_from_slice(extra);
    let res = run_in(&root().join(dir), &args, b"");
    let v: Value = serde_json::from_str(&res.stdout).expect("json output");
    (res.code, v)
}

fn verdicts(v: &Value) -> Vec<(String, String)> {
    v["assertions"]
        .as_array()
        .expect("assertions")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or_default().to_owned(),
                a["result"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn eks_shop_is_all_proved() {
    let (code, v) = json("examples/eks-shop", &[]);
    assert_eq!(code, Some(0), "{v:#}");
    let got = verdicts(&v);
    assert!(got.len() >= 10, "{got:?}");
    assert!(got.iter().all(|(_, r)| r == "proved"), "{got:?}");
    // At most warnings that say what the vpc-cni proofs leave out.
    let diags = v["diagnostics"].as_array().expect("diagnostics");
    assert!(
        diags
            .iter()
            .all(|d| d["code"] == "proof-limitation" && d["severity"] == "warning"),
        "{v:#}"
    );
}

#[test]
fn eks_shop_regression_refutes_exactly_two() {
    let (code, v) = json("examples/eks-shop-regression", &[]);
    assert_eq!(code, Some(1));
    let refuted: Vec<String> = verdicts(&v)
        .into_iter()
        .filter(|(_, r)| r != "proved")
        .map(|(n, r)| format!("{n}:{r}"))
        .collect();
    assert_eq!(
        refuted,
        [
            "db-only-from-api:refuted",
            // The careless egress ipBlock could also admit a Service created later
            // (proof-limitation), so these two deny proofs are not proofs any more.
            "frontend-cannot-reach-db:unknown",
            "rds-subnet-cannot-reach-db:unknown",
            "shop-cannot-reach-internet:refuted"
        ]
    );
    for a in v["assertions"].as_array().into_iter().flatten() {
        if a["result"] == "refuted" {
            let cx = &a["counterexample"];
            assert!(cx["destination"]["kind"].is_string(), "{cx:#}");
            assert_eq!(cx["protocol"], "TCP");
            let rules: usize = cx["directions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| d["rules"].as_array().map_or(0, Vec::len))
                .sum();
            assert!(rules >= 1, "a rule allows the counterexample: {cx:#}");
        }
        assert!(a["durationMs"].is_number());
    }
    // db-only-from-api: the rule that lets the intruder in is db-ingress.
    let db = &v["assertions"][3]["counterexample"];
    let ing = &db["directions"][1];
    assert_eq!(ing["rules"][0]["policy"], "shop/db-ingress", "{db:#}");
}

#[test]
fn human_output_marks_each_assertion() {
    let res = run_in(
        &root().join("examples/eks-shop-regression"),
        &["verify", "--color", "never"],
        b"",
    );
    assert_eq!(res.code, Some(1));
    assert!(
        res.stdout.contains("✗ db-only-from-api (refuted)"),
        "{}",
        res.stdout
    );
    assert!(res.stdout.contains("✓ shop-default-deny (proved)"));
    assert!(res.stdout.contains("error[assertion-refuted]"));
    assert!(res.stdout.contains("? frontend-cannot-reach-db (unknown"));
    assert!(res.stdout.contains("7 of 11 assertions proved"));
}

/// SARIF 2.1.0, checked for what GitHub code scanning needs beyond the schema (ruleId with a
/// rule, a location for every result); `sarif.rs` validates against the schema itself.
#[test]
fn sarif_has_the_required_properties() {
    let res = run_in(
        &root().join("examples/eks-shop-regression"),
        &["verify", "--format", "sarif"],
        b"",
    );
    assert_eq!(res.code, Some(1));
    let v: Value = serde_json::from_str(&res.stdout).expect("sarif json");
    assert_eq!(v["version"], "2.1.0");
    assert!(
        v["$schema"]
            .as_str()
            .is_some_and(|s| s.contains("sarif-2.1.0"))
    );
    let runs = v["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "netpol");
    let rule_ids: Vec<&str> = driver["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("rule id"))
        .collect();
    let results = runs[0]["results"].as_array().expect("results");
    let errors = results.iter().filter(|r| r["level"] == "error").count();
    // Two refuted and two unknown assertions.
    assert_eq!(errors, 4, "{v:#}");
    assert!(
        results
            .iter()
            .filter(|r| r["level"] != "error")
            .all(|r| r["ruleId"] == "proof-limitation"),
        "{v:#}"
    );
    for r in results {
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(["none", "note", "warning", "error"].contains(&r["level"].as_str().unwrap_or("")));
        let id = r["ruleId"].as_str().expect("ruleId");
        assert!(rule_ids.contains(&id));
        let loc = &r["locations"][0]["physicalLocation"];
        // Refuted assertions point at netpol.yaml, warnings at the manifests they are about.
        let file = if r["level"] == "error" {
            "netpol.yaml"
        } else {
            ".yaml"
        };
        assert!(
            loc["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|u| u.ends_with(file)),
            "{r:#}"
        );
        assert!(loc["region"]["startLine"].as_u64().is_some_and(|l| l >= 1));
        assert!(
            loc["region"]["startColumn"]
                .as_u64()
                .is_some_and(|c| c >= 1)
        );
    }
}

#[test]
fn github_and_junit_formats() {
    let dir = root().join("examples/eks-shop-regression");
    let gh = run_in(&dir, &["verify", "--format", "github"], b"");
    assert_eq!(gh.code, Some(1));
    let errors: Vec<&str> = gh
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    // Two refuted and two unknown assertions.
    assert_eq!(errors.len(), 4, "{}", gh.stdout);
    // The first refuted assertion, at the `-` of its list item.
    let config = std::fs::read_to_string(dir.join("netpol.yaml")).expect("netpol.yaml");
    let line = 1 + config
        .lines()
        .position(|l| l.trim_start() == "- name: db-only-from-api")
        .expect("db-only-from-api in netpol.yaml");
    assert!(
        errors[0].starts_with(&format!(
            "::error file=netpol.yaml,line={line},col=5,title=assertion-refuted::"
        )),
        "{}",
        errors[0]
    );
    let junit = run_in(&dir, &["verify", "--format", "junit"], b"");
    assert_eq!(junit.code, Some(1));
    assert!(
        junit
            .stdout
            .contains("<testsuite name=\"netpol verify\" tests=\"11\""),
        "{}",
        junit.stdout
    );
    assert!(junit.stdout.contains("failures=\"2\""), "{}", junit.stdout);
    assert_eq!(junit.stdout.matches("<failure").count(), 2);
}

#[test]
fn bad_or_missing_config() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = run_in(tmp.path(), &["verify"], b"");
    assert_eq!(missing.code, Some(2), "{}", missing.stderr);
    std::fs::write(
        tmp.path().join("netpol.yaml"),
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: a\n    deny: {from: {}, to: {}, prots: []}\n",
    )
    .expect("write");
    let bad = run_in(tmp.path(), &["verify", "--format", "json"], b"");
    assert_eq!(bad.code, Some(1));
    let v: Value = serde_json::from_str(&bad.stdout).expect("json");
    assert_eq!(v["diagnostics"][0]["code"], "invalid-config");
    assert_eq!(v["diagnostics"][0]["line"], 5);
}

/// `--deadline` bounds the run: assertions not decided by then are unknown (exit 1), and
/// the run does not wait for them; a non-positive value is a usage error.
#[test]
fn deadline_makes_the_rest_unknown() {
    let start = std::time::Instant::now();
    let (code, v) = json("examples/eks-shop", &["--deadline", "0.000001"]);
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(code, Some(1), "{v:#}");
    let got = verdicts(&v);
    assert!(!got.is_empty());
    assert!(got.iter().all(|(_, r)| r == "unknown"), "{got:?}");
    let reasons: Vec<&str> = v["assertions"]
        .as_array()
        .expect("assertions")
        .iter()
        .filter_map(|a| a["reason"].as_str())
        .collect();
    assert!(
        reasons.iter().all(|r| r.contains("--deadline")),
        "{reasons:?}"
    );
    let res = run_in(
        &root().join("examples/eks-shop"),
        &["verify", "--deadline", "0"],
        b"",
    );
    assert_eq!(res.code, Some(2), "{}", res.stderr);
}

/// The human format is the same bytes whether verdict lines stream or not (a pipe here):
/// the verdict lines come first, in assertion order, then the diagnostics.
#[test]
fn human_verdict_lines_come_first_in_order() {
    let res = run_in(
        &root().join("examples/eks-shop-regression"),
        &["verify"],
        b"",
    );
    let (_, v) = json("examples/eks-shop-regression", &[]);
    let names: Vec<String> = verdicts(&v).into_iter().map(|(n, _)| n).collect();
    let lines: Vec<&str> = res.stdout.lines().take(names.len()).collect();
    for (line, name) in lines.iter().zip(&names) {
        assert!(line.contains(name.as_str()), "{line} / {name}");
    }
    // No progress line in a pipe.
    assert!(!res.stderr.contains("assertions decided"), "{}", res.stderr);
}

/// `--robust`: the eks-shop intents hold under every reading; a `deny` that leans on V2
/// (db's egress rule outside `policyTypes` isolates it) is `unknown` (exit 1), naming the
/// pending controller change, while a plain run proves it.
#[test]
fn robust_proves_only_what_holds_under_every_reading() {
    let (code, v) = json("examples/eks-shop", &["--robust"]);
    assert_eq!(code, Some(0));
    assert!(verdicts(&v).iter().all(|(_, r)| r == "proved"), "{v}");
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("db.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {namespace: x, name: db, labels: {app: db}}\nspec: {containers: [{name: c, image: i}]}\nstatus: {podIP: 10.0.0.10}\n---\napiVersion: v1\nkind: Pod\nmetadata: {namespace: x, name: web, labels: {app: web}}\nspec: {containers: [{name: c, image: i}]}\nstatus: {podIP: 10.0.0.12}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: x, name: db}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  policyTypes: [Ingress]\n  ingress: [{}]\n  egress: [{to: [{podSelector: {matchLabels: {app: db}}}]}]\n",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("netpol.yaml"),
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: db-cannot-reach-web\n    scope: existing\n    deny: {from: {namespace: x, podSelector: {matchLabels: {app: db}}}, to: {namespace: x, podSelector: {matchLabels: {app: web}}}}\n",
    )
    .expect("write");
    let plain = run_in(tmp.path(), &["verify", "--format", "json"], b"");
    assert_eq!(plain.code, Some(0), "{}", plain.stdout);
    let robust = run_in(tmp.path(), &["verify", "--robust", "--format", "json"], b"");
    assert_eq!(robust.code, Some(1), "{}", robust.stdout);
    let v: Value = serde_json::from_str(&robust.stdout).expect("json");
    assert_eq!(v["assertions"][0]["result"], "unknown");
    let reason = v["assertions"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("PR #229"), "{v}");
}

/// `--vpc-cni-agent-version`: an older agent under which two pods of different namespaces
/// share an identifier makes the proof `unknown` (exit 1) with a `version-not-modelled`
/// warning; a release that does not parse is a usage error (exit 2).
#[test]
fn older_vpc_cni_releases_are_not_proved_for() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("pods.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a-b-x, namespace: c}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a-x, namespace: b-c}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: c, name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("netpol.yaml"),
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: c-isolated\n    scope: existing\n    deny: {from: {namespace: b-c}, to: {namespace: c}}\n",
    )
    .expect("write");
    let newest = run_in(tmp.path(), &["verify"], b"");
    assert_eq!(newest.code, Some(0), "{}", newest.stderr);
    let old = run_in(
        tmp.path(),
        &[
            "verify",
            "--vpc-cni-agent-version",
            "v1.3.7",
            "--format",
            "json",
        ],
        b"",
    );
    assert_eq!(old.code, Some(1), "{}", old.stdout);
    let v: Value = serde_json::from_str(&old.stdout).expect("json");
    assert_eq!(v["assertions"][0]["result"], "unknown");
    assert!(
        v["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .any(|d| d["code"] == "version-not-modelled"),
        "{v}"
    );
    let bad = run_in(
        tmp.path(),
        &["verify", "--vpc-cni-agent-version", "one"],
        b"",
    );
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    // A newer release is taken to behave as the modelled ones: a warning, still proved.
    let newer = run_in(
        tmp.path(),
        &[
            "verify",
            "--vpc-cni-controller-version",
            "v1.2.0",
            "--format",
            "json",
        ],
        b"",
    );
    assert_eq!(newer.code, Some(0), "{}", newer.stdout);
    let v: Value = serde_json::from_str(&newer.stdout).expect("json");
    assert_eq!(v["assertions"][0]["result"], "proved");
    assert!(
        (v["diagnostics"].as_array().expect("diagnostics").iter())
            .any(|d| d["code"] == "version-newer-than-modelled"),
        "{v}"
    );
}
