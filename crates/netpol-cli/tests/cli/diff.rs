//! `netpol diff OLD NEW`: changes by class, formats, `--fail-on`.

use serde_json::Value;

use super::snapshot::{shop_copy, widen_db, widened_repo};
use super::{git, run};

fn s(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn no_change_is_no_change() {
    let dir = shop_copy();
    let d = s(dir.path());
    let res = run(&["diff", "--fail-on", "any", "examples/eks-shop", &d]);
    assert_eq!(res.code, Some(0), "{}{}", res.stdout, res.stderr);
    assert_eq!(res.stdout, "no change in connectivity\n");
}

#[test]
fn widening_is_new_access_and_narrowing_is_removed_access() {
    let dir = shop_copy();
    widen_db(dir.path());
    let d = s(dir.path());
    let fwd = run(&["diff", "examples/eks-shop", &d]);
    assert_eq!(fwd.code, Some(0));
    let plain: Vec<&str> = (fwd.stdout.lines())
        .filter(|l| !l.starts_with("    because "))
        .collect();
    assert_eq!(
        plain,
        [
            "3 new flows, 0 removed, 1 changed",
            "~ pod monitoring/prometheus[Deployment] -> shop/db[Deployment]  TCP/9100,TCP/9187 => TCP/5432,TCP/9100,TCP/9187",
            "+ service monitoring/prometheus[Deployment] -> shop/db[Service]  TCP/5432",
            "+ exposure new-pod@monitoring -> shop/db[Deployment]  TCP/5432",
            "+ exposure new-pod@monitoring -> shop/db[Service]  TCP/5432",
            "! assertion db-only-from-api: proved => refuted",
        ]
    );
    // Each flow names the rules that allow it, with their place in the manifests.
    let policies = dir.path().join("shop-policies.yaml");
    let rule = format!(
        "    because NetworkPolicy shop/db-ingress ingress rule 0 ({}:",
        policies.display()
    );
    assert_eq!(fwd.stdout.matches(&rule).count(), 2, "{}", fwd.stdout);
    assert!(fwd.stdout.contains(
        "    because egress at monitoring/prometheus[Deployment]: not isolated for egress"
    ));
    // The other way round, the lost flows are explained by the old side's rules.
    let back = run(&["diff", &d, "examples/eks-shop"]);
    assert_eq!(back.stdout.matches(&rule).count(), 2, "{}", back.stdout);
    let code = |args: &[&str]| run(args).code;
    assert_eq!(
        code(&["diff", "--fail-on", "added", "examples/eks-shop", &d]),
        Some(1)
    );
    assert_eq!(
        code(&["diff", "--fail-on", "removed", "examples/eks-shop", &d]),
        Some(0)
    );
    assert_eq!(
        code(&["diff", "--fail-on", "any", "examples/eks-shop", &d]),
        Some(1)
    );
    // The other way round the same change is lost access only.
    assert_eq!(
        code(&["diff", "--fail-on", "added", &d, "examples/eks-shop"]),
        Some(0)
    );
    assert_eq!(
        code(&["diff", "--fail-on", "removed", &d, "examples/eks-shop"]),
        Some(1)
    );
}

#[test]
fn a_port_added_to_an_existing_flow_is_new_access() {
    // Only the ports change: no flow is added, yet `added` fails.
    let dir = shop_copy();
    let pol = dir.path().join("shop-policies.yaml");
    let text = std::fs::read_to_string(&pol).expect("policies");
    let old = "        - podSelector:\n            matchLabels: {app: api}\n      ports:\n        - {protocol: TCP, port: postgres}";
    assert!(text.contains(old));
    // api's egress to db and db's ingress from api, both on one more port.
    let egress =
        "            matchLabels: {app: db}\n      ports:\n        - {protocol: TCP, port: 5432}";
    assert!(text.contains(egress));
    let text = text.replace(
        egress,
        &format!("{egress}\n        - {{protocol: TCP, port: 6432}}"),
    );
    std::fs::write(
        &pol,
        text.replace(
            old,
            &format!("{old}\n        - {{protocol: TCP, port: 6432}}"),
        ),
    )
    .expect("write");
    let d = s(dir.path());
    let res = run(&[
        "diff",
        "--format",
        "json",
        "--fail-on",
        "added",
        "examples/eks-shop",
        &d,
    ]);
    assert_eq!(res.code, Some(1), "{}", res.stdout);
    let v: Value = serde_json::from_str(&res.stdout).expect("json");
    assert_eq!(v["summary"]["added"], 0);
    assert_eq!(v["summary"]["newAccess"], true);
    let flows = v["flows"].as_array().expect("flows");
    assert!(
        flows.iter().all(|f| f["change"] == "changed"
            && f["newAccess"] == true
            && f["lostAccess"] == false),
        "{flows:#?}"
    );
    assert!(flows.iter().any(|f| f["from"] == "shop/api[Deployment]"
        && f["to"] == "shop/db[Deployment]"
        && f["oldPorts"] == serde_json::json!(["TCP/5432"])
        && f["newPorts"] == serde_json::json!(["TCP/5432", "TCP/6432"])));
}

#[test]
fn markdown_is_a_summary_then_details() {
    let dir = shop_copy();
    widen_db(dir.path());
    let d = s(dir.path());
    let res = run(&["diff", "--format", "md", "examples/eks-shop", &d]);
    assert_eq!(res.code, Some(0));
    let mut lines = res.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("**netpol:** 3 new flows, 0 removed, 1 changed")
    );
    assert!(
        res.stdout
            .contains("<details><summary>Connectivity changes</summary>")
    );
    assert!(res.stdout.contains(
        "| + | service | `monitoring/prometheus[Deployment]` | `shop/db[Service]` | TCP/5432 |"
    ));
    assert!(res.stdout.trim_end().ends_with("</details>"));
}

#[test]
fn a_snapshot_file_is_a_side() {
    let dir = shop_copy();
    let snap = dir.path().join("old.snap");
    assert_eq!(
        run(&["snapshot", "-o", &s(&snap), "examples/eks-shop"]).code,
        Some(0)
    );
    widen_db(dir.path());
    let res = run(&["diff", "--fail-on", "added", &s(&snap), &s(dir.path())]);
    assert_eq!(res.code, Some(1));
    assert!(
        res.stdout
            .starts_with("3 new flows, 0 removed, 1 changed\n"),
        "{}",
        res.stdout
    );
}

#[test]
fn diff_needs_two_paths() {
    let res = run(&["diff", "examples/eks-shop"]);
    assert_eq!(res.code, Some(2));
    assert!(res.stderr.contains("exactly two paths"), "{}", res.stderr);
    let res = run(&["diff", "--fail-on", "sometimes", "a", "b"]);
    assert_eq!(res.code, Some(2));
}

#[test]
fn external_ranges_are_compared_by_address_not_by_id() {
    // The regression example splits the external addresses differently (other ipBlocks):
    // ranges are compared in their common refinement, so nothing external is "removed".
    let res = run(&["diff", "examples/eks-shop", "examples/eks-shop-regression"]);
    assert_eq!(res.code, Some(0));
    assert!(
        res.stdout
            .starts_with("13 new flows, 0 removed, 2 changed\n"),
        "{}",
        res.stdout
    );
    assert!(
        res.stdout
            .contains("+ external shop/worker[Deployment] -> 0.0.0.0/0  TCP/5432  (2 pairs)\n")
    );
    assert_eq!(
        run(&[
            "diff",
            "--fail-on",
            "removed",
            "examples/eks-shop",
            "examples/eks-shop-regression"
        ])
        .code,
        Some(0)
    );
    assert_eq!(
        run(&[
            "diff",
            "--fail-on",
            "added",
            "examples/eks-shop",
            "examples/eks-shop-regression"
        ])
        .code,
        Some(1)
    );
}

/// The "done when": `netpol diff --git HEAD~1..HEAD -- examples/` in a clone, and
/// `--fail-on added` exits 1 exactly when the range widens access.
#[test]
fn git_ranges_read_both_sides_from_the_repository() {
    let repo = widened_repo("examples", "widen");
    let k8s = repo.path().join("examples");
    // The working tree is changed back: --git must not read it.
    let shop = shop_copy();
    std::fs::copy(
        shop.path().join("shop-policies.yaml"),
        k8s.join("shop-policies.yaml"),
    )
    .expect("copy");
    let res = super::run_in(
        repo.path(),
        &["diff", "--git", "HEAD~1..HEAD", "--", "examples/"],
        b"",
    );
    assert_eq!(res.code, Some(0), "{}", res.stderr);
    assert!(
        res.stdout
            .starts_with("3 new flows, 0 removed, 1 changed\n"),
        "{}",
        res.stdout
    );
    let fail = |range: &str| {
        super::run_in(
            repo.path(),
            &[
                "diff",
                "--fail-on",
                "added",
                "--git",
                range,
                "--",
                "examples/",
            ],
            b"",
        )
        .code
    };
    // The rules are named by their path in the repository, not in the temporary folder.
    assert!(
        res.stdout
            .contains("    because NetworkPolicy shop/db-ingress ingress rule 0 (examples/shop-policies.yaml:93)\n"),
        "{}",
        res.stdout
    );
    let gh = super::run_in(
        repo.path(),
        &[
            "diff",
            "--format",
            "github",
            "--git",
            "HEAD~1..HEAD",
            "--",
            "examples/",
        ],
        b"",
    );
    assert!(
        gh.stdout.contains(
            "::warning file=examples/shop-policies.yaml,line=93,col=7,title=flow-added::"
        ),
        "{}",
        gh.stdout
    );
    assert_eq!(fail("HEAD~1..HEAD"), Some(1));
    assert_eq!(fail("HEAD~1.."), Some(1), "B defaults to HEAD");
    assert_eq!(fail("HEAD..HEAD~1"), Some(0), "narrowing is no new access");
    // A commit that changes no connectivity (a comment) passes the gate too.
    let pol = k8s.join("shop-policies.yaml");
    git(repo.path(), &["checkout", "-q", "--", "."]);
    let text = std::fs::read_to_string(&pol).expect("policies");
    std::fs::write(&pol, format!("# reviewed\n{text}")).expect("write");
    git(repo.path(), &["commit", "-qam", "comment"]);
    assert_eq!(fail("HEAD~1..HEAD"), Some(0), "a comment opens nothing");
    assert_eq!(fail("HEAD~2..HEAD"), Some(1));
    // From the subfolder, paths are relative to it.
    let sub = super::run_in(&k8s, &["diff", "--git", "HEAD~2..HEAD"], b"");
    assert!(
        sub.stdout.starts_with("3 new flows"),
        "{}{}",
        sub.stdout,
        sub.stderr
    );
    let bad = super::run_in(
        repo.path(),
        &["diff", "--git", "nope..HEAD", "--", "examples"],
        b"",
    );
    assert_eq!(bad.code, Some(2));
    assert!(bad.stderr.contains("git ls-tree"), "{}", bad.stderr);
    let up = super::run_in(&k8s, &["diff", "--git", "HEAD~1..HEAD", "--", ".."], b"");
    assert_eq!(up.code, Some(2));
}

#[test]
fn dot_and_mermaid_colour_the_changed_edges() {
    let dir = shop_copy();
    widen_db(dir.path());
    let d = s(dir.path());
    let dot = run(&["diff", "--format", "dot", &d, "examples/eks-shop"]);
    assert_eq!(dot.code, Some(0), "{}", dot.stderr);
    assert!(
        dot.stdout.starts_with("digraph netpol_diff {\n"),
        "{}",
        dot.stdout
    );
    assert!(
        dot.stdout
            .contains("  label=\"0 new flows, 3 removed, 1 changed\";\n")
    );
    // Removed: red and dashed; ports changed: orange, old => new.
    assert!(dot.stdout.contains(
        "  \"monitoring/prometheus[Deployment]\" -> \"shop/db[Service]\" [label=\"service: TCP/5432\", color=\"#cf222e\", fontcolor=\"#cf222e\", style=dashed];\n"
    ), "{}", dot.stdout);
    assert!(dot.stdout.contains(
        "  \"monitoring/prometheus[Deployment]\" -> \"shop/db[Deployment]\" [label=\"TCP/5432, TCP/9100, TCP/9187 => TCP/9100, TCP/9187\", color=\"#bc4c00\", fontcolor=\"#bc4c00\"];\n"
    ), "{}", dot.stdout);
    assert!(dot.stdout.ends_with("}\n"));

    let mm = run(&["diff", "--format", "mermaid", "examples/eks-shop", &d]);
    assert_eq!(mm.code, Some(0), "{}", mm.stderr);
    let lines: Vec<&str> = mm.stdout.lines().collect();
    assert_eq!(lines[0], "flowchart LR");
    // One edge and one linkStyle per flow, in the same order: added green, changed orange.
    let edges: Vec<&&str> = lines.iter().filter(|l| l.contains("-->|")).collect();
    let styles: Vec<&&str> = lines.iter().filter(|l| l.contains("linkStyle")).collect();
    assert_eq!(edges.len(), 4, "{}", mm.stdout);
    assert_eq!(styles.len(), 4);
    assert!(
        lines.contains(&"  linkStyle 0 stroke:#bc4c00,color:#bc4c00"),
        "{}",
        mm.stdout
    );
    assert!(lines.contains(&"  linkStyle 1 stroke:#1a7f37,color:#1a7f37"));
    assert!(mm.stdout.contains("-->|\"service: TCP/5432\"|"));
    // No change: an empty graph.
    let none = run(&[
        "diff",
        "--format",
        "mermaid",
        "examples/eks-shop",
        "examples/eks-shop",
    ]);
    assert_eq!(none.stdout, "flowchart LR\n");
}

#[test]
fn github_annotates_the_rule_that_opens_or_closes_each_flow() {
    let dir = shop_copy();
    widen_db(dir.path());
    let d = s(dir.path());
    let policies = dir.path().join("shop-policies.yaml");
    let res = run(&["diff", "--format", "github", "examples/eks-shop", &d]);
    assert_eq!(res.code, Some(0), "{}", res.stderr);
    let lines: Vec<&str> = res.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", res.stdout);
    // New access: a warning on db-ingress's rule 0 (line 93), the rule behind TCP/5432, not
    // on the Prometheus scrape rule that allows the other ports of the same pair.
    let at = format!("::warning file={},line=93,col=7,", policies.display());
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "{at}title=flow-added::new flow: service monitoring/prometheus[Deployment] -> shop/db[Service] TCP/5432%0A"
        ))),
        "{}",
        res.stdout
    );
    assert!(lines.iter().any(|l| l.starts_with(&format!(
        "{at}title=flow-changed::changed flow: pod monitoring/prometheus[Deployment] -> shop/db[Deployment] TCP/9100,TCP/9187 => TCP/5432,TCP/9100,TCP/9187%0A"
    ))));
    // A new pod's exposure has no rule to point at: no location.
    assert!(lines.contains(
        &"::warning title=flow-added::new flow: exposure new-pod@monitoring -> shop/db[Service] TCP/5432"
    ));
    // Lost access: a notice on the same rule of the new side, where the peer went away.
    let back = run(&["diff", "--format", "github", &d, "examples/eks-shop"]);
    assert!(
        back.stdout.lines().any(|l| l.starts_with(
            "::notice file=examples/eks-shop/shop-policies.yaml,line=93,col=7,title=flow-removed::removed flow: service monitoring/prometheus[Deployment] -> shop/db[Service] TCP/5432%0Abefore: because "
        )),
        "{}",
        back.stdout
    );
    assert!(!back.stdout.contains("::warning"), "{}", back.stdout);
    // --fail-on works the same with any format.
    let gate = run(&[
        "diff",
        "--format",
        "github",
        "--fail-on",
        "added",
        "examples/eks-shop",
        &d,
    ]);
    assert_eq!(gate.code, Some(1));
}

#[test]
fn sarif_holds_the_new_access_on_its_rule() {
    let dir = shop_copy();
    widen_db(dir.path());
    let d = s(dir.path());
    let res = run(&["diff", "--format", "sarif", "examples/eks-shop", &d]);
    assert_eq!(res.code, Some(0), "{}", res.stderr);
    let v: Value = serde_json::from_str(&res.stdout).expect("json");
    super::sarif::Sarif::load().assert_valid(&v);
    let results = v["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 4, "{v:#}");
    let located: Vec<&Value> = results
        .iter()
        .filter(|r| r["locations"].is_array())
        .collect();
    assert_eq!(located.len(), 2);
    for r in &located {
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(
            loc["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|u| u.ends_with("/shop-policies.yaml")),
            "{r:#}"
        );
        assert_eq!(loc["region"]["startLine"], 93);
    }
    // Lost access only: notes, which SARIF leaves out.
    let back = run(&["diff", "--format", "sarif", &d, "examples/eks-shop"]);
    let v: Value = serde_json::from_str(&back.stdout).expect("json");
    super::sarif::Sarif::load().assert_valid(&v);
    assert_eq!(v["runs"][0]["results"], serde_json::json!([]));
}
