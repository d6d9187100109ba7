//! One way to read inputs and settings: `lint`, `matrix`, `explain` and `verify` take the
//! same PATHS and cluster flags, read `netpol.yaml` (its `manifests` and `cluster:`) the same
//! way, and fail the same way on unreadable or absent input (issue 11, §4 and §5).

use std::path::Path;

use super::{Run, root, run_in};

/// Every command that reads manifests, with the arguments it needs besides the input.
const COMMANDS: [&[&str]; 4] = [
    &["lint"],
    &["matrix"],
    &["explain", "--from", "shop/web", "--to", "shop/db"],
    &["verify"],
];

fn with<'a>(cmd: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    cmd.iter().chain(rest).copied().collect()
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

const PODS: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: postgres}]}
";

/// Holds with no policy: web can reach db.
const ALLOW: &str = "  - name: web-reaches-db\n    \
    allow: {from: {pod: shop/web}, to: {pod: shop/db}, ports: [TCP/5432]}\n";

/// A repository: `netpol.yaml` listing `k8s/`, and a broken file outside the list.
fn repo(cluster: &str, assertions: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(&tmp.path().join("k8s/pods.yaml"), PODS);
    write(
        &tmp.path().join("other/broken.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: shop\n",
    );
    write(
        &tmp.path().join("netpol.yaml"),
        &format!(
            "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nmanifests: [k8s]\n\
             cluster: {cluster}\nassertions:\n{assertions}"
        ),
    );
    tmp
}

fn explain(args: &[&str]) -> bool {
    args.first() == Some(&"explain")
}

/// `--config` (and `./netpol.yaml`) gives every command the `manifests` list: the broken
/// file outside it is never read, and the listed pods are.
#[test]
fn every_command_reads_the_configs_manifests() {
    let tmp = repo("{}", ALLOW);
    let config = tmp.path().join("netpol.yaml");
    let config = config.to_str().expect("utf-8 path");
    for cmd in COMMANDS {
        for (dir, extra) in [
            (root(), vec!["--config", config]),
            (tmp.path().to_path_buf(), vec![]),
        ] {
            let res = run_in(&dir, &with(cmd, &extra), b"");
            assert_eq!(res.code, Some(0), "{cmd:?} {extra:?}\n{}", res.snapshot());
            assert!(!res.stdout.contains("broken.yaml"), "{}", res.snapshot());
            assert!(!res.stderr.contains("broken.yaml"), "{}", res.snapshot());
        }
    }
    let res = run_in(tmp.path(), &["matrix"], b"");
    assert!(res.stdout.contains("shop/web"), "{}", res.snapshot());
}

/// Every command takes the same input and cluster flags, and they take effect: `--node`
/// makes a node endpoint in each (explained from, matrixed, verified), `-n` places
/// namespace-less objects, `-` reads stdin.
#[test]
fn every_command_takes_the_same_flags() {
    let tmp = repo("{}", ALLOW);
    let pods = PODS.replace(", namespace: shop", "");
    let flags = [
        "--config",
        "netpol.yaml",
        "--cni",
        "vpc-cni",
        "--enforcing-mode",
        "standard",
        "--pod-cidr",
        "10.0.0.0/16",
        "--service-cidr",
        "172.20.0.0/16",
        "--node",
        "n1=10.0.1.5",
        "-n",
        "shop",
        "--max-file-size",
        "1M",
        "-",
    ];
    for cmd in COMMANDS {
        let res = run_in(tmp.path(), &with(cmd, &flags), pods.as_bytes());
        assert_eq!(res.code, Some(0), "{cmd:?}\n{}", res.snapshot());
    }
    let res = run_in(tmp.path(), &with(&["matrix"], &flags), pods.as_bytes());
    assert!(res.stdout.contains("node/n1"), "{}", res.snapshot());
    let res = run_in(
        tmp.path(),
        &with(
            &["explain", "--from", "node/n1", "--to", "shop/web"],
            &flags,
        ),
        pods.as_bytes(),
    );
    assert_eq!(res.code, Some(0), "{}", res.snapshot());
}

/// A flag overrides the config's setting in every command: the config says `upstream`,
/// `--cni vpc-cni` brings back the Service endpoints of VPC CNI (V5).
#[test]
fn flags_override_the_config() {
    let tmp = repo("{cni: upstream}", ALLOW);
    write(
        &tmp.path().join("k8s/svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: shop}\n\
         spec: {selector: {app: db}, ports: [{port: 5432}]}\n",
    );
    let upstream = run_in(tmp.path(), &["matrix"], b"");
    assert!(
        upstream.stdout.contains("upstream"),
        "{}",
        upstream.snapshot()
    );
    assert!(
        !upstream.stdout.contains("[Service]"),
        "{}",
        upstream.snapshot()
    );
    let vpc = run_in(tmp.path(), &["matrix", "--cni", "vpc-cni"], b"");
    assert!(
        vpc.stdout.contains("shop/db[Service]"),
        "{}",
        vpc.snapshot()
    );
    let res = run_in(
        tmp.path(),
        &[
            "explain",
            "--cni",
            "vpc-cni",
            "--from",
            "shop/web",
            "--to",
            "shop/db[Service]",
        ],
        b"",
    );
    assert_eq!(res.code, Some(0), "{}", res.snapshot());
}

/// An assertion that is not valid fails `verify` only: the other commands still read the
/// config's `manifests` and `cluster:` and pass.
#[test]
fn an_invalid_assertion_fails_only_verify() {
    let broken = "  - name: bad\n    deny: {from: {}, to: {}, prots: [TCP/1]}\n  - name: \"\"\n";
    let tmp = repo("{nodes: [{name: n1, ip: 10.0.1.5}]}", broken);
    for cmd in COMMANDS {
        let res = run_in(tmp.path(), cmd, b"");
        let want = if cmd[0] == "verify" { 1 } else { 0 };
        assert_eq!(res.code, Some(want), "{cmd:?}\n{}", res.snapshot());
        if cmd[0] == "verify" {
            assert!(res.stdout.contains("invalid-config"), "{}", res.snapshot());
        } else {
            assert!(!res.stdout.contains("invalid-config"), "{}", res.snapshot());
            assert!(!res.stderr.contains("invalid-config"), "{}", res.snapshot());
        }
    }
    // The cluster section was still read.
    let res = run_in(tmp.path(), &["matrix"], b"");
    assert!(res.stdout.contains("node/n1"), "{}", res.snapshot());
    // A broken cluster section is an error everywhere.
    let tmp = repo("{podCIDRs: [nope]}", ALLOW);
    for cmd in COMMANDS {
        let res = run_in(tmp.path(), cmd, b"");
        assert_eq!(res.code, Some(1), "{cmd:?}\n{}", res.snapshot());
    }
}

fn exit_2_with(res: &Run, code: &str) {
    assert_eq!(res.code, Some(2), "{}", res.snapshot());
    assert!(
        res.stdout.contains(code) || res.stderr.contains(code),
        "{}",
        res.snapshot()
    );
}

/// A path that cannot be read is a tool failure (2) in every command, never findings or a
/// pass about what was left.
#[test]
fn an_unreadable_path_exits_2_everywhere() {
    let tmp = repo("{}", ALLOW);
    for cmd in COMMANDS {
        let res = run_in(tmp.path(), &with(cmd, &["k8s", "nonexistent.yaml"]), b"");
        exit_2_with(&res, "io-error");
        // With the config elsewhere too (verify used to prove things about nothing).
        let res = run_in(
            tmp.path(),
            &with(cmd, &["--config", "netpol.yaml", "nonexistent.yaml"]),
            b"",
        );
        exit_2_with(&res, "io-error");
    }
    // A --config that cannot be read.
    for cmd in COMMANDS {
        let res = run_in(
            tmp.path(),
            &with(cmd, &["--config", "nope.yaml", "k8s"]),
            b"",
        );
        assert_eq!(res.code, Some(2), "{}", res.snapshot());
        assert!(
            res.stderr.contains("reading nope.yaml"),
            "{}",
            res.snapshot()
        );
    }
}

/// No input at all (an empty folder, empty stdin, a config whose `manifests` hold nothing)
/// is `no-objects` and exit 2 in every command, not a clean pass.
#[test]
fn no_input_is_an_error_everywhere() {
    let tmp = repo("{}", ALLOW);
    std::fs::create_dir(tmp.path().join("empty")).expect("mkdir");
    for cmd in COMMANDS {
        for input in [&["empty"][..], &["-"][..]] {
            let res = run_in(
                tmp.path(),
                &with(cmd, &[&["--config", "netpol.yaml"][..], input].concat()),
                b"",
            );
            exit_2_with(&res, "no-objects");
            if explain(cmd) {
                assert!(!res.stderr.contains("no endpoint"), "{}", res.snapshot());
            }
        }
    }
    // Without a config, for the commands that need none.
    let empty = tempfile::tempdir().expect("tempdir");
    for cmd in &COMMANDS[..3] {
        exit_2_with(&run_in(empty.path(), cmd, b""), "no-objects");
    }
    // verify without any config is a usage error that says what to do.
    let res = run_in(empty.path(), &["verify"], b"");
    assert_eq!(res.code, Some(2), "{}", res.snapshot());
    assert!(res.stderr.contains("--config"), "{}", res.snapshot());
}

/// A typo'd workload name in an assertion says what is wrong and what was meant, instead
/// of advice about the solver's time limit.
#[test]
fn a_typo_in_an_assertion_gets_did_you_mean() {
    let tmp = repo(
        "{}",
        "  - name: typo\n    deny: {from: {workload: shop/webb}, to: {pod: shop/db}}\n",
    );
    let res = run_in(tmp.path(), &["verify", "--format", "json"], b"");
    assert_eq!(res.code, Some(1), "{}", res.snapshot());
    let v: serde_json::Value = serde_json::from_str(&res.stdout).expect("json");
    assert_eq!(
        v["assertions"][0]["reason"], "no workload shop/webb; did you mean shop/web?",
        "{v:#}"
    );
    let helps: Vec<&str> = v["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["help"].as_str())
        .collect();
    assert!(helps.iter().all(|h| !h.contains("timeout")), "{helps:?}");
    assert!(
        helps.iter().any(|h| h.contains("did you mean `shop/web`?")),
        "{helps:?}"
    );
    // Nothing close: no guess, still no timeout advice.
    let tmp = repo(
        "{}",
        "  - name: far\n    deny: {from: {pod: shop/zzzzzzzz}, to: {pod: shop/db}}\n",
    );
    let res = run_in(tmp.path(), &["verify"], b"");
    assert_eq!(res.code, Some(1), "{}", res.snapshot());
    assert!(
        res.stdout.contains("no pod shop/zzzzzzzz in the manifests"),
        "{}",
        res.snapshot()
    );
    assert!(!res.stdout.contains("timeout"), "{}", res.snapshot());
}
