//! End-to-end tests of the `netpol` binary: exit code, stdout and stderr, snapshotted.
//!
//! One test binary for every subcommand (ruff, ripgrep). Commands run from the workspace
//! root so paths in the output are the relative paths given on the command line.

mod ci;
mod diff;
mod docs;
mod drift_report;
mod explain;
mod hardening;
mod inputs;
mod lint;
mod lint_options;
mod matrix;
mod matrix_classes;
mod misc;
mod sarif;
mod snapshot;
mod unknown;
mod verify;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What a run produced.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The snapshot form: exit code, then both streams, with volatile parts replaced.
    fn snapshot(&self) -> String {
        let code = self
            .code
            .map_or_else(|| "signal".to_owned(), |c| c.to_string());
        let clean = |s: &str| s.replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
        format!(
            "exit code: {code}\n----- stdout -----\n{}----- stderr -----\n{}",
            clean(&self.stdout),
            clean(&self.stderr)
        )
    }
}

/// Runs `netpol` with `args` in `dir`, feeding `stdin`.
fn run_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("COLUMNS", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning netpol");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    // netpol may exit without reading stdin; a broken pipe here is fine.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    let out = child.wait_with_output().expect("waiting for netpol");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    run_in(&root(), args, b"")
}

/// Runs git in `dir` with a fixed identity and returns its trimmed stdout (tests that build
/// throwaway repositories).
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=netpol",
            "-c",
            "user.email=netpol@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
