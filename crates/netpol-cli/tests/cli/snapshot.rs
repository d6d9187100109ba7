//! `netpol snapshot` and the drift check `netpol verify --snapshot FILE` (docs/snapshots.md).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use netpol_snapshot::Snapshot;

use super::{Run, root, run, run_in};

/// A copy of examples/eks-shop (manifests, netpol.yaml and the committed netpol.snap) in a
/// temporary folder.
pub(super) fn shop_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for e in std::fs::read_dir(root().join("examples/eks-shop")).expect("examples/eks-shop") {
        let e = e.expect("entry");
        if e.path()
            .extension()
            .is_some_and(|x| x == "yaml" || x == "snap")
        {
            std::fs::copy(e.path(), dir.path().join(e.file_name())).expect("copy");
        }
    }
    dir
}

/// Lets monitoring reach the database on postgres: one peer added to one policy.
pub(super) fn widen_db(dir: &Path) {
    let p = dir.join("shop-policies.yaml");
    let s = std::fs::read_to_string(&p).expect("policies");
    let old = "        - podSelector:\n            matchLabels: {app: api}\n      ports:\n        - {protocol: TCP, port: postgres}";
    assert!(
        s.contains(old),
        "the db-ingress policy changed; update this test"
    );
    let new = "        - podSelector:\n            matchLabels: {app: api}\n        - namespaceSelector:\n            matchLabels: {kubernetes.io/metadata.name: monitoring}\n      ports:\n        - {protocol: TCP, port: postgres}";
    std::fs::write(&p, s.replace(old, new)).expect("write");
}

/// A git repository with [`shop_copy`] in `folder`, committed as `base`, then
/// [`widen_db`] committed with `message`.
pub(super) fn widened_repo(folder: &str, message: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("tempdir");
    let shop = shop_copy();
    let dir = repo.path().join(folder);
    std::fs::create_dir(&dir).expect("mkdir");
    for e in std::fs::read_dir(shop.path()).expect("read") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
    }
    super::git(repo.path(), &["init", "-q"]);
    super::git(repo.path(), &["add", "."]);
    super::git(repo.path(), &["commit", "-qm", "base"]);
    widen_db(&dir);
    super::git(repo.path(), &["commit", "-qam", message]);
    repo
}

fn snapshot_of(dir: &Path) -> String {
    let res = run_in(dir, &["snapshot", "-o", "-", "."], b"");
    assert_eq!(res.code, Some(0), "{}", res.stderr);
    res.stdout
}

fn lines(s: &str) -> BTreeSet<&str> {
    s.lines().collect()
}

#[test]
fn snapshot_is_sorted_deterministic_and_round_trips() {
    let a = run(&["snapshot", "-o", "-", "examples/eks-shop"]);
    let b = run(&["snapshot", "-o", "-", "examples/eks-shop"]);
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    assert_eq!(a.stdout, b.stdout);
    let first = a.stdout.lines().next().expect("a header");
    assert_eq!(first, "# netpol snapshot v1");
    for want in [
        "semantics cni vpc-cni",
        "semantics enforcingMode standard",
        "class shop/api[Deployment] Deployment shop/api[Deployment]",
        "pod shop/api[Deployment] -> shop/db[Deployment] TCP/5432",
        "service shop/frontend[Deployment] -> shop/api[Service] TCP/80",
        "external shop/worker[Deployment] -> 10.0.64.0/20 TCP/5432",
        "verdict proved db-only-from-api",
    ] {
        assert!(
            a.stdout.lines().any(|l| l == want),
            "missing `{want}`:\n{}",
            a.stdout
        );
    }
    // Each kind of fact is sorted within its section.
    for prefix in ["class ", "pod ", "service ", "external ", "verdict "] {
        let got: Vec<&str> = a.stdout.lines().filter(|l| l.starts_with(prefix)).collect();
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(got, sorted, "{prefix}lines are not sorted");
    }
    let parsed = Snapshot::parse(&a.stdout).expect("parses");
    assert_eq!(
        parsed.render(),
        a.stdout,
        "parse then render is byte-identical"
    );
}

#[test]
fn snapshot_without_config_has_no_verdicts_and_upstream_semantics_show() {
    let res = run(&[
        "snapshot",
        "-o",
        "-",
        "--cni",
        "upstream",
        "examples/eks-shop/shop-workloads.yaml",
        "examples/eks-shop/shop-policies.yaml",
    ]);
    assert_eq!(res.code, Some(0), "{}", res.stderr);
    assert!(res.stdout.contains("semantics cni upstream\n"));
    assert!(!res.stdout.contains("verdict "));
    // Upstream has no ClusterIP endpoints.
    assert!(!res.stdout.lines().any(|l| l.starts_with("service ")));
}

#[test]
fn one_policy_change_changes_a_handful_of_lines() {
    let dir = shop_copy();
    let before = snapshot_of(dir.path());
    widen_db(dir.path());
    let after = snapshot_of(dir.path());
    let (b, a) = (lines(&before), lines(&after));
    let removed: Vec<_> = b.difference(&a).collect();
    let added: Vec<_> = a.difference(&b).collect();
    assert!(
        removed.len() + added.len() <= 8 && !added.is_empty(),
        "removed {removed:#?}\nadded {added:#?}"
    );
    assert!(
        added.contains(&&"service monitoring/prometheus[Deployment] -> shop/db[Service] TCP/5432")
    );
    assert!(added.contains(
        &&"pod monitoring/prometheus[Deployment] -> shop/db[Deployment] TCP/5432,TCP/9100,TCP/9187"
    ));
    assert!(added.contains(&&"verdict refuted db-only-from-api"));
    // A pod created later in monitoring may reach the database too.
    assert!(added.contains(&&"exposure new-pod@monitoring -> shop/db[Deployment] TCP/5432"));
}

#[test]
fn an_unrelated_namespace_keeps_every_class_name() {
    let dir = shop_copy();
    let before = snapshot_of(dir.path());
    std::fs::write(
        dir.path().join("zz-other.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: other}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
    )
    .expect("write");
    let after = snapshot_of(dir.path());
    let classes = |s: &str| -> BTreeSet<String> {
        s.lines()
            .filter_map(|l| l.strip_prefix("class "))
            .map(|l| l.to_owned())
            .collect()
    };
    assert_eq!(classes(&before), classes(&after));
}

#[test]
fn written_beside_the_config_by_default() {
    let dir = shop_copy();
    std::fs::remove_file(dir.path().join("netpol.snap")).expect("rm");
    let res = run_in(dir.path(), &["snapshot"], b"");
    assert_eq!(res.code, Some(0), "{}", res.stderr);
    assert!(res.stdout.is_empty());
    let file =
        std::fs::read_to_string(dir.path().join("netpol.snap")).expect("netpol.snap written");
    assert_eq!(file, snapshot_of(dir.path()));
}

fn verify(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "--snapshot", "netpol.snap"];
    args.extend_from_slice(extra);
    run_in(dir, &args, b"")
}

#[test]
fn drift_fails_writes_new_and_accept_makes_it_pass() {
    let dir = shop_copy();
    let d = dir.path();
    assert_eq!(run_in(d, &["snapshot"], b"").code, Some(0));
    let clean = verify(d, &[]);
    assert_eq!(clean.code, Some(0), "{}{}", clean.stdout, clean.stderr);
    assert!(clean.stdout.contains("connectivity unchanged"));
    assert!(!d.join("netpol.snap.new").exists());

    widen_db(d);
    let drift = verify(d, &[]);
    assert_eq!(drift.code, Some(1));
    assert!(
        drift
            .stdout
            .contains("the connectivity drifted: 3 new flows, 0 removed, 1 changed"),
        "{}",
        drift.stdout
    );
    assert!(
        drift
            .stdout
            .contains("+ service monitoring/prometheus[Deployment] -> shop/db[Service]  TCP/5432"),
        "{}",
        drift.stdout
    );
    // The responsible rule is named, with its line.
    assert!(
        drift.stdout.contains(
            "    because NetworkPolicy shop/db-ingress ingress rule 0 (./shop-policies.yaml:"
        ),
        "{}",
        drift.stdout
    );
    let new = std::fs::read_to_string(d.join("netpol.snap.new")).expect("netpol.snap.new");
    assert_eq!(new, snapshot_of(d));

    let accept = run_in(d, &["snapshot", "--accept", "-o", "netpol.snap"], b"");
    assert_eq!(accept.code, Some(0), "{}", accept.stderr);
    assert!(!d.join("netpol.snap.new").exists());
    // The assertion the change refutes still fails verify; the drift is gone.
    let after = verify(d, &[]);
    assert!(
        after.stdout.contains("connectivity unchanged"),
        "{}",
        after.stdout
    );
    assert_eq!(after.code, Some(1));
    let again = run_in(d, &["snapshot", "--update", "-o", "netpol.snap"], b"");
    assert_eq!(again.code, Some(2), "nothing to accept any more");
}

#[test]
fn drift_check_alone_without_netpol_yaml() {
    let dir = shop_copy();
    let d = dir.path();
    assert_eq!(run_in(d, &["snapshot"], b"").code, Some(0));
    // Keep the cluster settings the snapshot recorded, then drop the config.
    std::fs::remove_file(d.join("netpol.yaml")).expect("rm");
    let flags = [
        "--pod-cidr",
        "10.0.0.0/18",
        "--service-cidr",
        "172.20.0.0/16",
        ".",
    ];
    let clean = verify(d, &flags);
    assert_eq!(clean.code, Some(0), "{}{}", clean.stdout, clean.stderr);
    widen_db(d);
    let drift = verify(d, &flags);
    assert_eq!(drift.code, Some(1), "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("+ service monitoring/prometheus"));
    // Without the flags the semantics differ: that is drift too.
    let other = verify(d, &["."]);
    assert_eq!(other.code, Some(1));
    assert!(
        other
            .stdout
            .contains("! semantics podCIDRs: 10.0.0.0/18 => -"),
        "{}",
        other.stdout
    );
}

#[test]
fn netpol_update_snapshots_updates_in_place() {
    let dir = shop_copy();
    let d = dir.path();
    assert_eq!(run_in(d, &["snapshot"], b"").code, Some(0));
    widen_db(d);
    std::fs::remove_file(d.join("netpol.yaml")).expect("rm");
    let out = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args([
            "verify",
            "--snapshot",
            "netpol.snap",
            "--pod-cidr",
            "10.0.0.0/18",
            "--service-cidr",
            "172.20.0.0/16",
            ".",
        ])
        .current_dir(d)
        .env("NETPOL_UPDATE_SNAPSHOTS", "1")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(!d.join("netpol.snap.new").exists());
    let file = std::fs::read_to_string(d.join("netpol.snap")).expect("snap");
    assert!(
        file.contains("service monitoring/prometheus[Deployment] -> shop/db[Service] TCP/5432")
    );
    let clean = verify(
        d,
        &[
            "--pod-cidr",
            "10.0.0.0/18",
            "--service-cidr",
            "172.20.0.0/16",
            ".",
        ],
    );
    assert_eq!(clean.code, Some(0), "{}", clean.stdout);
}

#[test]
fn a_broken_snapshot_is_a_tool_failure() {
    let dir = shop_copy();
    std::fs::write(dir.path().join("netpol.snap"), "not a snapshot\n").expect("write");
    let res = verify(dir.path(), &[]);
    assert_eq!(res.code, Some(2));
    assert!(
        res.stderr.contains("not a netpol snapshot"),
        "{}",
        res.stderr
    );
    std::fs::write(
        dir.path().join("netpol.snap"),
        "# netpol snapshot v1\npod a -> b TCP/80\n",
    )
    .expect("write");
    let res = verify(dir.path(), &[]);
    assert_eq!(res.code, Some(2));
    assert!(
        res.stderr.contains("undeclared class `a`"),
        "{}",
        res.stderr
    );
}

#[test]
fn exposure_of_pods_that_do_not_exist_yet() {
    let res = run(&["snapshot", "-o", "-", "examples/eks-shop"]);
    let exposure: Vec<&str> = (res.stdout.lines())
        .filter(|l| l.starts_with("exposure new-pod@shop "))
        .collect();
    // shop has a default deny: a new pod there reaches DNS only.
    assert_eq!(
        exposure,
        [
            "exposure new-pod@shop -> kube-system/coredns[Deployment] TCP/53,UDP/53",
            "exposure new-pod@shop -> kube-system/kube-dns[Service] TCP/53,UDP/53",
        ]
    );
    assert!(
        res.stdout
            .contains("exposure new-pod@monitoring -> shop/frontend[Service] TCP/80\n")
    );

    // A namespace without policies: a pod created there later reaches the frontend.
    let dir = shop_copy();
    std::fs::write(
        dir.path().join("zz-sandbox.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: sandbox}\n",
    )
    .expect("write");
    let d = dir.path().to_string_lossy().into_owned();
    let res = run(&["diff", "--fail-on", "added", "examples/eks-shop", &d]);
    assert_eq!(res.code, Some(1));
    assert!(
        res.stdout
            .contains("+ exposure new-pod@sandbox -> shop/frontend[Deployment]  TCP/8080\n"),
        "{}",
        res.stdout
    );
}

/// Sets `snapshot: <entry>` in the copied netpol.yaml.
fn with_snapshot_key(dir: &Path, entry: &str) {
    let p = dir.join("netpol.yaml");
    let s = std::fs::read_to_string(&p).expect("netpol.yaml");
    assert!(
        s.lines().any(|l| l.starts_with("snapshot: ")),
        "examples/eks-shop/netpol.yaml lost its snapshot key"
    );
    let lines: Vec<String> = (s.lines())
        .map(|l| match l.starts_with("snapshot: ") {
            true => format!("snapshot: {entry}"),
            false => l.to_owned(),
        })
        .collect();
    std::fs::write(&p, lines.join("\n") + "\n").expect("write");
}

/// Lets the worker reach the RDS subnet on one more port: new access no assertion forbids.
pub(super) fn widen_worker(dir: &Path) {
    let p = dir.join("shop-policies.yaml");
    let s = std::fs::read_to_string(&p).expect("policies");
    let old =
        "            cidr: 10.0.64.0/20\n      ports:\n        - {protocol: TCP, port: 5432}\n";
    assert!(
        s.contains(old),
        "the worker-to-rds policy changed; update this test"
    );
    let new = format!("{old}        - {{protocol: TCP, port: 6432}}\n");
    std::fs::write(&p, s.replace(old, &new)).expect("write");
}

/// The "done when": the committed snapshot of examples/eks-shop passes; one policy
/// changed in a copy fails `netpol verify` with a diff naming the rule; `netpol snapshot
/// --accept`, with nothing but the netpol.yaml in force, makes it pass again.
#[test]
fn committed_example_snapshot_drifts_and_accept_restores_it() {
    let dir = shop_copy();
    let d = dir.path();
    let clean = run_in(d, &["verify"], b"");
    assert_eq!(clean.code, Some(0), "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean
            .stdout
            .contains("snapshot netpol.snap: connectivity unchanged"),
        "{}",
        clean.stdout
    );
    // The committed file is what netpol writes for the example today.
    let committed = std::fs::read_to_string(d.join("netpol.snap")).expect("netpol.snap");
    assert_eq!(
        committed,
        snapshot_of(d),
        "examples/eks-shop/netpol.snap is stale"
    );

    widen_worker(d);
    let drift = run_in(d, &["verify"], b"");
    assert_eq!(drift.code, Some(1), "{}{}", drift.stdout, drift.stderr);
    let table: Vec<&str> = (drift.stdout.lines())
        .skip_while(|l| !l.starts_with("snapshot netpol.snap: the connectivity drifted"))
        .collect();
    assert_eq!(
        table[..3],
        [
            "snapshot netpol.snap: the connectivity drifted: 0 new flows, 0 removed, 1 changed",
            "~ external shop/worker[Deployment] -> 10.0.64.0/20  TCP/5432 => TCP/5432,TCP/6432",
            "    because NetworkPolicy shop/worker-to-rds egress rule 0 (./shop-policies.yaml:110)",
        ],
        "{}",
        drift.stdout
    );
    assert!(d.join("netpol.snap.new").exists());

    let accept = run_in(d, &["snapshot", "--accept"], b"");
    assert_eq!(accept.code, Some(0), "{}", accept.stderr);
    assert_eq!(accept.stderr, "accepted netpol.snap\n");
    let after = run_in(d, &["verify"], b"");
    assert_eq!(after.code, Some(0), "{}{}", after.stdout, after.stderr);
    assert!(after.stdout.contains("connectivity unchanged"));
}

#[test]
fn snapshot_writes_and_accepts_the_file_the_key_names() {
    let dir = shop_copy();
    let d = dir.path();
    with_snapshot_key(d, "conn.snap");
    assert_eq!(run_in(d, &["snapshot"], b"").code, Some(0));
    assert_eq!(
        std::fs::read_to_string(d.join("conn.snap")).expect("conn.snap"),
        snapshot_of(d)
    );
    widen_worker(d);
    assert_eq!(run_in(d, &["verify"], b"").code, Some(1));
    assert!(d.join("conn.snap.new").exists());
    let accept = run_in(d, &["snapshot", "--accept"], b"");
    assert_eq!(accept.code, Some(0), "{}", accept.stderr);
    assert!(!d.join("conn.snap.new").exists());
    assert_eq!(run_in(d, &["verify"], b"").code, Some(0));
    // A key outside the config's folder is refused by --accept too.
    with_snapshot_key(d, "../elsewhere.snap");
    let refused = run_in(d, &["snapshot", "--accept"], b"");
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("goes up with `..`"),
        "{}",
        refused.stderr
    );
}

#[test]
fn the_snapshot_key_of_netpol_yaml_is_the_drift_check() {
    let dir = shop_copy();
    let d = dir.path();
    with_snapshot_key(d, "conn.snap");
    assert_eq!(
        run_in(d, &["snapshot", "-o", "conn.snap"], b"").code,
        Some(0)
    );
    let clean = run_in(d, &["verify"], b"");
    assert_eq!(clean.code, Some(0), "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean.stdout.contains("connectivity unchanged"),
        "{}",
        clean.stdout
    );

    widen_db(d);
    let drift = run_in(d, &["verify"], b"");
    assert_eq!(drift.code, Some(1));
    assert!(
        drift.stdout.contains("the connectivity drifted"),
        "{}",
        drift.stdout
    );
    assert!(d.join("conn.snap.new").exists());
}

#[test]
fn a_snapshot_key_outside_the_config_folder_is_refused() {
    let dir = shop_copy();
    let d = dir.path();
    with_snapshot_key(d, "../elsewhere.snap");
    let res = run_in(d, &["verify"], b"");
    assert_eq!(res.code, Some(2), "{}{}", res.stdout, res.stderr);
    assert!(
        res.stdout
            .contains("snapshot `../elsewhere.snap` goes up with `..`"),
        "{}",
        res.stdout
    );
}

/// The committed snapshot holds under the config's settings: a flag that changes them is a
/// what-if, neither checked against the snapshot nor written over it.
#[test]
fn a_flag_that_changes_the_semantics_leaves_the_snapshot_alone() {
    let dir = shop_copy();
    let d = dir.path();
    let committed = std::fs::read_to_string(d.join("netpol.snap")).expect("netpol.snap");
    let res = run_in(d, &["verify", "--cni", "upstream"], b"");
    assert_eq!(res.code, Some(0), "{}{}", res.stdout, res.stderr);
    assert!(!res.stdout.contains("snapshot"), "{}", res.stdout);
    let res = run_in(d, &["snapshot", "--cni", "upstream"], b"");
    assert_eq!(res.code, Some(0), "{}", res.stderr);
    assert!(res.stdout.contains("semantics cni upstream\n"));
    assert_eq!(
        std::fs::read_to_string(d.join("netpol.snap")).expect("netpol.snap"),
        committed
    );
    // A flag equal to the config's setting changes nothing: the check runs.
    let same = run_in(d, &["verify", "--cni", "vpc-cni"], b"");
    assert!(
        same.stdout.contains("connectivity unchanged"),
        "{}",
        same.stdout
    );
    // `--snapshot FILE` is explicit: it is checked whatever the flags.
    let explicit = run_in(
        d,
        &["verify", "--cni", "upstream", "--snapshot", "netpol.snap"],
        b"",
    );
    assert_eq!(explicit.code, Some(1));
    assert!(
        explicit
            .stdout
            .contains("! semantics cni: vpc-cni => upstream")
    );
}
