//! The CI adoption kit: the shell steps of action.yml (`.github/netpol-action.sh`) against a
//! temporary git repository with two commits, and the entries of `.pre-commit-hooks.yaml`.
//! No network: the GitHub CLI is a stub that logs its calls.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::snapshot::{shop_copy, widen_db, widened_repo};
use super::{git, root};

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs a step of the action in `dir` with `env`.
fn step(dir: &Path, name: &str, env: &[(&str, &str)]) -> Out {
    let out = Command::new("bash")
        .arg(root().join(".github/netpol-action.sh"))
        .arg(name)
        .current_dir(dir)
        .env("NETPOL_BIN", env!("CARGO_BIN_EXE_netpol"))
        .env_remove("GITHUB_PATH")
        .envs(env.iter().copied())
        .output()
        .expect("bash");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A repository whose `k8s/` is examples/eks-shop (with its snapshot), then a commit that
/// lets monitoring reach the database.
fn repo() -> tempfile::TempDir {
    widened_repo("k8s", "monitoring reads the database")
}

/// A `gh` that logs each call's arguments, one line each, and answers the comment listing
/// with `FAKE_COMMENT_ID` when set.
fn stub_gh(dir: &Path) -> (PathBuf, PathBuf) {
    let gh = dir.join("gh");
    let log = dir.join("gh.log");
    std::fs::write(
        &gh,
        "#!/usr/bin/env bash\necho \"$*\" >>\"$GH_LOG\"\ncase \" $* \" in *\" --method \"*) ;; *) [ -n \"${FAKE_COMMENT_ID:-}\" ] && echo \"$FAKE_COMMENT_ID\" ;; esac\nexit 0\n",
    )
    .expect("write gh");
    let ok = Command::new("chmod")
        .arg("+x")
        .arg(&gh)
        .status()
        .expect("chmod");
    assert!(ok.success());
    (gh, log)
}

#[test]
fn action_steps_on_a_repository_with_two_commits() {
    let repo = repo();
    let r = repo.path();
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = |name: &str| tmp.path().join(name).to_string_lossy().into_owned();

    let install = step(r, "install", &[]);
    assert_eq!(install.code, Some(0), "{}", install.stderr);
    assert!(install.stdout.starts_with("netpol "), "{}", install.stdout);

    // verify at the head: the widened policy refutes an assertion and drifts the snapshot.
    let sarif = t("verify.sarif");
    let env = [
        ("NETPOL_CONFIG", "k8s/netpol.yaml"),
        ("NETPOL_SARIF", sarif.as_str()),
    ];
    let verify = step(r, "verify", &env);
    assert_eq!(verify.code, Some(1), "{}{}", verify.stdout, verify.stderr);
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).expect("sarif"))
        .expect("the SARIF file is JSON");
    super::sarif::Sarif::load().assert_valid(&log);
    let rules: Vec<&str> = (log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter())
    .filter_map(|r| r["ruleId"].as_str())
    .collect();
    assert!(rules.contains(&"assertion-refuted"), "{log:#}");
    // The log shows the human report, drift included.
    assert!(
        verify.stdout.contains("the connectivity drifted"),
        "{}",
        verify.stdout
    );
    // At the base everything holds.
    git(r, &["checkout", "-q", "HEAD~1"]);
    let clean = step(r, "verify", &env);
    assert_eq!(clean.code, Some(0), "{}{}", clean.stdout, clean.stderr);
    git(r, &["checkout", "-q", "-"]);

    // diff: the pull-request comment, with the marker the comment step looks for.
    let base = git(r, &["rev-parse", "HEAD~1"]);
    let head = git(r, &["rev-parse", "HEAD"]);
    let comment = t("comment.md");
    let mut env = vec![
        ("NETPOL_BASE", base.as_str()),
        ("NETPOL_HEAD", head.as_str()),
        ("NETPOL_PATHS", "k8s"),
        ("NETPOL_COMMENT", comment.as_str()),
    ];
    let diff = step(r, "diff", &env);
    assert_eq!(diff.code, Some(0), "{}", diff.stderr);
    let body = std::fs::read_to_string(&comment).expect("comment");
    assert_eq!(body, diff.stdout);
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("<!-- netpol-diff -->"));
    assert_eq!(
        lines.next(),
        Some("**netpol:** 3 new flows, 0 removed, 1 changed")
    );
    assert!(body.contains("`shop/db[Service]`"));
    // The gate: new access fails with fail-on added, and not the other way round.
    env.push(("NETPOL_FAIL_ON", "added"));
    assert_eq!(step(r, "diff", &env).code, Some(1));
    env[0].1 = head.as_str();
    env[1].1 = base.as_str();
    assert_eq!(step(r, "diff", &env).code, Some(0));

    // comment: posted once, then updated in place.
    let (gh, gh_log) = stub_gh(tmp.path());
    let (gh, gh_log) = (
        gh.to_string_lossy().into_owned(),
        gh_log.to_string_lossy().into_owned(),
    );
    let env = [
        ("NETPOL_GH", gh.as_str()),
        ("GH_LOG", gh_log.as_str()),
        ("GITHUB_REPOSITORY", "acme/k8s"),
        ("NETPOL_PR", "7"),
        ("NETPOL_COMMENT", comment.as_str()),
    ];
    let first = step(r, "comment", &env);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let mut with_id = env.to_vec();
    with_id.push(("FAKE_COMMENT_ID", "42"));
    let again = step(r, "comment", &with_id);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stderr.contains("updated comment 42"));
    let calls = std::fs::read_to_string(&gh_log).expect("gh log");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 4, "{calls:#?}");
    assert!(calls[0].starts_with("api repos/acme/k8s/issues/7/comments --paginate --jq"));
    assert!(calls[0].contains("startswith(\"<!-- netpol-diff -->\")"));
    assert_eq!(
        calls[1],
        format!("api --method POST repos/acme/k8s/issues/7/comments -F body=@{comment}")
    );
    assert_eq!(
        calls[3],
        format!("api --method PATCH repos/acme/k8s/issues/comments/42 -F body=@{comment}")
    );
}

/// `id` and `entry` of each hook, read from the file's `- id:` and `entry:` lines.
fn hooks() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).expect("hooks");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(id) = line.strip_prefix("- id: ") {
            out.push((id.trim().to_owned(), String::new()));
        } else if let Some(entry) = line.trim_start().strip_prefix("entry: ") {
            out.last_mut().expect("entry after id").1 = entry.trim().to_owned();
        }
    }
    out
}

#[test]
fn pre_commit_entries_run() {
    let hooks = hooks();
    let ids: Vec<&str> = hooks.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["netpol-lint", "netpol-verify"]);
    let bin = Path::new(env!("CARGO_BIN_EXE_netpol"))
        .parent()
        .expect("bin folder")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // pre-commit runs the entry in the repository root with pass_filenames: false.
    let run = |dir: &Path, entry: &str| {
        Command::new("sh")
            .args(["-c", entry])
            .current_dir(dir)
            .env("PATH", &path)
            .output()
            .expect("sh")
    };
    let dir = shop_copy();
    for (id, entry) in &hooks {
        let out = run(dir.path(), entry);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{id}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A change that opens access fails the verify hook (refuted assertion and drift).
    widen_db(dir.path());
    let verify = &hooks[1].1;
    let out = run(dir.path(), verify);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the connectivity drifted"));
}

/// action.yml calls the script's four steps, and nothing else.
#[test]
fn the_action_runs_the_tested_script() {
    let action = std::fs::read_to_string(root().join("action.yml")).expect("action.yml");
    let mut steps: Vec<&str> = (action.split("/.github/netpol-action.sh\" ").skip(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    steps.sort_unstable();
    assert_eq!(steps, ["comment", "diff", "install", "verify"]);
    let bad = step(Path::new("."), "deploy", &[]);
    assert_eq!(bad.code, Some(2));
}

/// `install` without NETPOL_BIN: the release binary for the runner when the release has
/// one (here a `file://` release, so no network), else `cargo install` from the action's
/// source (here a stub `cargo`); either way the folder goes on GITHUB_PATH.
#[test]
fn install_prefers_the_release_binary_then_builds_from_source() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let exe = |path: &Path, body: &str| {
        std::fs::write(path, format!("#!/usr/bin/env bash\n{body}\n")).expect("write");
        assert!(
            Command::new("chmod")
                .arg("+x")
                .arg(path)
                .status()
                .expect("chmod")
                .success()
        );
    };
    // A release with a binary for Linux X64 only.
    let release = t.join("release");
    std::fs::create_dir(&release).expect("mkdir");
    exe(&release.join("netpol"), "echo 'netpol 9.9.9 (release)'");
    let tar = Command::new("tar")
        .args(["-czf", "netpol-x86_64-unknown-linux-gnu.tar.gz", "netpol"])
        .current_dir(&release)
        .status()
        .expect("tar");
    assert!(tar.success());
    // The action's source: a no-op setup, and a `cargo` that "builds" a binary.
    let source = t.join("source");
    std::fs::create_dir_all(source.join(".ci")).expect("mkdir");
    exe(&source.join(".ci/setup"), "echo setup >>\"$CALLS\"");
    let bin = t.join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    exe(
        &bin.join("cargo"),
        "echo \"cargo $*\" >>\"$CALLS\"\nroot=$4\nmkdir -p \"$root/bin\"\nprintf '#!/bin/sh\\necho \"netpol 9.9.9 (source)\"\\n' >\"$root/bin/netpol\"\nchmod +x \"$root/bin/netpol\"",
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |arch: &str, name: &str| {
        let runner_temp = t.join(name);
        std::fs::create_dir(&runner_temp).expect("mkdir");
        let github_path = t.join(format!("{name}.path"));
        let out = Command::new("bash")
            .arg(root().join(".github/netpol-action.sh"))
            .arg("install")
            .env_remove("NETPOL_BIN")
            .env("PATH", &path)
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", arch)
            .env("RUNNER_TEMP", &runner_temp)
            .env("GITHUB_PATH", &github_path)
            .env(
                "NETPOL_RELEASE_URL",
                format!("file://{}", release.display()),
            )
            .env("NETPOL_SOURCE", &source)
            .env("CALLS", t.join(format!("{name}.calls")))
            .output()
            .expect("bash");
        let added = std::fs::read_to_string(&github_path).expect("GITHUB_PATH written");
        assert_eq!(
            added.trim(),
            runner_temp.join("netpol-bin").display().to_string()
        );
        (
            out,
            std::fs::read_to_string(t.join(format!("{name}.calls"))).unwrap_or_default(),
        )
    };
    let (out, calls) = run("X64", "x64");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "netpol 9.9.9 (release)\n"
    );
    assert_eq!(calls, "", "no build when the release has the binary");
    // No ARM64 Linux binary in this release: built from the action's source.
    let (out, calls) = run("ARM64", "arm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "netpol 9.9.9 (source)\n"
    );
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls[0], "setup");
    assert!(
        calls[1].starts_with("cargo install --locked --root ")
            && calls[1].ends_with(&format!("--path {}/crates/netpol-cli", source.display())),
        "{calls:?}"
    );
}
