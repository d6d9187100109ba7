//! `netpol lint` adoption features: inline suppressions, the `lints:` section of
//! netpol.yaml merged with the flags, excludes, baselines, and the CI formats.

use std::path::Path;

use super::run_in;

const CONFIG: &str = "apiVersion: netpol.dev/v1alpha1\nkind: Verification\n";

const NAMESPACE: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
";

/// A workload whose egress policy has a rule that opens port 53 over TCP only
/// (`dns-port-tcp-only`) and one for UDP 53 (so DNS works).
const APP: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {namespace: shop, name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: shop, name: api-dns}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress: [{ports: [{port: 53}]}, {ports: [{port: 53, protocol: UDP}]}]
";

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
}

fn short(dir: &Path, extra: &[&str]) -> super::Run {
    let mut args = vec!["lint", "--format", "short"];
    args.extend_from_slice(extra);
    run_in(dir, &args, b"")
}

#[test]
fn suppressions_used_and_unused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let suppressed = APP.replace(
        "metadata: {namespace: shop, name: api-dns}",
        "metadata:\n  namespace: shop\n  name: api-dns\n  annotations:\n    \
         netpol.dev/allow: dns-port-tcp-only, unknown-label-key\n    \
         netpol.dev/allow-reason: TCP resolver",
    );
    write(
        tmp.path(),
        &[("ns.yaml", NAMESPACE), ("app.yaml", &suppressed)],
    );
    let res = short(tmp.path(), &["--allow", "coverage"]);
    assert_eq!(res.code, Some(0), "{}", res.snapshot());
    // The used entry drops the warning; the unused one is a note at the annotation.
    assert!(!res.stdout.contains("dns-port-tcp-only]"), "{}", res.stdout);
    insta::assert_snapshot!(res.snapshot());
    // Without the annotation the warning is back.
    write(tmp.path(), &[("app.yaml", APP)]);
    let res = short(tmp.path(), &["--allow", "coverage"]);
    assert!(
        res.stdout.contains("warning[dns-port-tcp-only]"),
        "{}",
        res.stdout
    );
    assert!(!res.stdout.contains("unused-suppression"), "{}", res.stdout);
}

#[test]
fn lints_config_is_merged_with_flags() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = format!("{CONFIG}lints:\n  deny: [dns-port-tcp-only]\n  allow: [coverage]\n");
    write(
        tmp.path(),
        &[
            ("netpol.yaml", &config),
            ("ns.yaml", NAMESPACE),
            ("app.yaml", APP),
        ],
    );
    let res = short(tmp.path(), &[]);
    assert_eq!(res.code, Some(1), "{}", res.snapshot());
    assert!(
        res.stdout.contains("error[dns-port-tcp-only]"),
        "{}",
        res.stdout
    );
    assert!(
        !res.stdout.contains("note["),
        "coverage is allowed: {}",
        res.stdout
    );
    // A flag beats the config on the same code.
    let res = short(tmp.path(), &["--warn", "dns-port-tcp-only"]);
    assert_eq!(res.code, Some(0), "{}", res.snapshot());
    assert!(
        res.stdout.contains("warning[dns-port-tcp-only]"),
        "{}",
        res.stdout
    );
    // `--deny warnings` does not bring back what the config allows by name.
    let res = short(
        tmp.path(),
        &["--deny", "warnings", "--warn", "dns-port-tcp-only"],
    );
    assert_eq!(res.code, Some(0), "{}", res.snapshot());
    // An entry that names nothing is an invalid-config error at the entry.
    let config =
        format!("{CONFIG}lints:\n  deny: [dns-port-tcp-only, nope]\n  exclude: ['a/[b']\n");
    write(tmp.path(), &[("netpol.yaml", &config)]);
    let res = short(tmp.path(), &[]);
    assert_eq!(res.code, Some(1), "{}", res.snapshot());
    assert!(
        res.stdout
            .contains("netpol.yaml:4:29: error[invalid-config]: netpol.yaml: lints.deny: `nope`"),
        "{}",
        res.stdout
    );
    assert!(
        res.stdout
            .contains("netpol.yaml:5:13: error[invalid-config]: netpol.yaml: lints.exclude:"),
        "{}",
        res.stdout
    );
}

#[test]
fn excluded_files_are_read_but_not_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The app's policy admits monitoring, a namespace only the vendored file defines.
    let app = APP.replace(
        "policyTypes: [Egress]\n  egress: [{ports: [{port: 53}]}, {ports: [{port: 53, protocol: UDP}]}]",
        "policyTypes: [Ingress]\n  ingress: [{from: [{namespaceSelector: \
         {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]}]",
    );
    let vendored = format!(
        "{NAMESPACE}---\n{}",
        &APP[APP.find("apiVersion: networking").expect("policy")..]
    )
    .replace("name: api-dns", "name: vendored-dns");
    write(
        tmp.path(),
        &[("k8s/app.yaml", &app), ("vendor/x/ns.yaml", &vendored)],
    );
    let all = short(tmp.path(), &["--allow", "coverage"]);
    assert!(all.stdout.contains("vendor/x/ns.yaml"), "{}", all.stdout);
    for flag in [&["--exclude", "vendor/**"][..], &["--exclude", "x/*.yaml"]] {
        let res = short(tmp.path(), &[&["--allow", "coverage"], flag].concat());
        assert_eq!(res.code, Some(0), "{}", res.snapshot());
        assert!(!res.stdout.contains("vendor/"), "{}", res.stdout);
        // Its namespace is still in the model: no unknown-namespace for monitoring.
        assert!(!res.stdout.contains("unknown-namespace"), "{}", res.stdout);
    }
    // The same from the config.
    let config = format!("{CONFIG}lints:\n  exclude: [vendor/**]\n  allow: [coverage]\n");
    write(tmp.path(), &[("netpol.yaml", &config)]);
    let res = short(tmp.path(), &[]);
    assert_eq!(res.stdout, "", "{}", res.snapshot());
    let bad = short(tmp.path(), &["--exclude", "[x"]);
    assert_eq!(bad.code, Some(2), "{}", bad.snapshot());
}

#[test]
fn a_baseline_survives_inserted_lines_and_reports_only_new_findings() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), &[("ns.yaml", NAMESPACE), ("app.yaml", APP)]);
    let files = ["ns.yaml", "app.yaml"];
    let res = short(
        tmp.path(),
        &[&files[..], &["--write-baseline", "base.json"]].concat(),
    );
    assert_eq!(res.code, Some(0), "{}", res.snapshot());
    assert_eq!(res.stdout, "", "recorded findings are not reported");
    let base = std::fs::read_to_string(tmp.path().join("base.json")).expect("baseline");
    assert!(base.contains("\"netpolBaseline\": 1"), "{base}");
    assert!(
        base.contains("\"object\": \"NetworkPolicy shop/api-dns\""),
        "{base}"
    );
    assert!(!base.contains("\"line\""), "no line numbers: {base}");
    // Lines inserted above the finding, and a second, new policy with the same problem.
    let moved = format!(
        "# a comment\n# another\n{APP}---\n{}",
        &APP[APP.find("apiVersion: networking").expect("policy")..].replace("api-dns", "api-dns-2")
    );
    write(tmp.path(), &[("app.yaml", &moved)]);
    let res = short(
        tmp.path(),
        &[&files[..], &["--baseline", "base.json"]].concat(),
    );
    assert_eq!(res.code, Some(0), "{}", res.snapshot());
    // Only the new policy's findings (its own problem, and being a copy).
    let lines: Vec<&str> = res.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", res.stdout);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("app.yaml:") && l.contains("api-dns-2")),
        "{}",
        res.stdout
    );
    // The human summary says how many findings the baseline hid.
    let human = run_in(
        tmp.path(),
        &["lint", "ns.yaml", "app.yaml", "--baseline", "base.json"],
        b"",
    );
    let hidden = base.matches("\"code\"").count();
    assert!(
        human
            .stderr
            .contains(&format!("; {hidden} more in the baseline base.json")),
        "{}",
        human.snapshot()
    );
    // Without it, all findings.
    assert!(short(tmp.path(), &files).stdout.lines().count() > 4);
    let missing = short(
        tmp.path(),
        &[&files[..], &["--baseline", "nope.json"]].concat(),
    );
    assert_eq!(missing.code, Some(2), "{}", missing.snapshot());
}

#[test]
fn ci_formats() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), &[("ns.yaml", NAMESPACE), ("app.yaml", APP)]);
    let gh = run_in(tmp.path(), &["lint", "--format", "github"], b"");
    assert_eq!(gh.code, Some(0), "{}", gh.snapshot());
    assert!(
        gh.stdout
            .lines()
            .any(|l| l.starts_with("::warning file=./app.yaml,line=16,col=")
                && l.contains("title=dns-port-tcp-only::")),
        "{}",
        gh.stdout
    );
    let junit = run_in(tmp.path(), &["lint", "--format", "junit"], b"");
    assert!(junit.stdout.starts_with("<?xml"), "{}", junit.stdout);
    assert!(
        junit.stdout.contains("<testsuite name=\"./app.yaml\""),
        "{}",
        junit.stdout
    );
    assert!(
        junit.stdout.contains("<testcase name=\"./ns.yaml\""),
        "a clean file passes: {}",
        junit.stdout
    );
    assert_eq!(
        junit.stdout.matches("<failure").count(),
        1,
        "{}",
        junit.stdout
    );
}

#[test]
fn eks_auto_mode_switches_off_the_assumed_coredns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = APP.replace(
        "egress: [{ports: [{port: 53}]}, {ports: [{port: 53, protocol: UDP}]}]",
        "egress: [{ports: [{port: 443}]}]",
    );
    write(tmp.path(), &[("ns.yaml", NAMESPACE), ("app.yaml", &app)]);
    let dns = |extra: &[&str]| short(tmp.path(), extra).stdout.contains("dns-unreachable");
    assert!(dns(&[]));
    assert!(!dns(&["--platform", "eks-auto-mode"]));
    let config = format!("{CONFIG}cluster:\n  platform: eks-auto-mode\n");
    write(tmp.path(), &[("netpol.yaml", &config)]);
    assert!(!dns(&[]));
    // The flag overrides the config.
    assert!(dns(&["--platform", "eks"]));
}

/// np-guard's corpus and many policy repositories save a NetworkPolicy as `netpol.yaml`:
/// found by name, it is a manifest, not a broken config.
#[test]
fn a_network_policy_named_netpol_yaml_is_a_manifest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let deny = "\
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {namespace: shop, name: deny-all}
spec: {podSelector: {}, policyTypes: [Ingress]}
";
    write(
        tmp.path(),
        &[
            ("ns.yaml", NAMESPACE),
            ("app.yaml", APP),
            ("netpol.yaml", deny),
        ],
    );
    let folder = tmp.path().to_str().expect("utf-8");
    for run in [short(tmp.path(), &[]), short(tmp.path(), &[folder])] {
        assert!(!run.stdout.contains("invalid-config"), "{}", run.stdout);
        // The policy is read: api is isolated for ingress too.
        assert!(!run.stdout.contains("is not isolated"), "{}", run.stdout);
    }
    // A mistyped config is still the config, and reported.
    write(
        tmp.path(),
        &[("netpol.yaml", "apiVersion: v1alpha1\nkind: Verification\n")],
    );
    assert!(short(tmp.path(), &[]).stdout.contains("invalid-config"));
}

/// V14 in the lints: a backend pod whose address is only in its `vpc.amazonaws.com/pod-ips`
/// annotation is covered by the ipBlock as one with `status.podIP` is.
#[test]
fn service_via_pod_ipblock_reads_annotated_pod_addresses() {
    let positive = std::fs::read_to_string(
        super::root().join("testdata/lint/service-via-pod-ipblock/positive.yaml"),
    )
    .expect("fixture");
    let annotated = positive.replace(
        "metadata: {namespace: shop, name: db, labels: {app: db}}\nspec: {containers: [{name: c, image: i, ports: [{containerPort: 5432}]}]}\nstatus: {podIP: 10.0.0.10}",
        "metadata: {namespace: shop, name: db, labels: {app: db}, annotations: {vpc.amazonaws.com/pod-ips: 10.0.0.10}}\nspec: {containers: [{name: c, image: i, ports: [{containerPort: 5432}]}]}",
    );
    assert_ne!(annotated, positive, "the fixture changed: update this test");
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("m.yaml"), annotated).expect("write");
    let out = run_in(tmp.path(), &["lint", "--format", "short", "m.yaml"], b"");
    assert!(
        out.stdout.contains("service-via-pod-ipblock"),
        "{}",
        out.stdout
    );
    let upstream = run_in(
        tmp.path(),
        &["lint", "--format", "short", "--cni", "upstream", "m.yaml"],
        b"",
    );
    assert!(
        !upstream.stdout.contains("service-via-pod-ipblock"),
        "{}",
        upstream.stdout
    );
}
