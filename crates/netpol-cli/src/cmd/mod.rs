//! Subcommands. Each `cmd/<name>.rs` has an `Args` struct (clap derive) and a
//! `run(&Args) -> anyhow::Result<ExitStatus>`; `cli::Args::run` dispatches to them.

pub(crate) mod completions;
pub(crate) mod diff;
pub(crate) mod explain;
pub(crate) mod lint;
pub(crate) mod matrix;
pub(crate) mod snapshot;
pub(crate) mod verify;

use std::process::ExitCode;

use netpol_diag::{Code, Diagnostic};

/// How a run ended, as the exit code scripts see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ExitStatus {
    /// 0: nothing of error severity.
    Success,
    /// 1: error-severity findings (or, for `verify`, a refuted assertion).
    Failure,
    /// 2: usage error or the tool could not do its job (e.g. a path that cannot be read).
    Error,
}

impl ExitStatus {
    /// The status diagnostics call for: unreadable, refused or absent input is a tool
    /// failure, like ripgrep; any other error-severity diagnostic is a finding.
    pub(crate) fn from_diagnostics(diags: &[Diagnostic]) -> ExitStatus {
        let unreadable = |d: &Diagnostic| {
            matches!(
                d.code,
                Code::IoError | Code::ManifestOutsideConfig | Code::NoObjects
            ) || (d.code == Code::NotAFile && d.is_error())
        };
        if diags.iter().any(unreadable) {
            ExitStatus::Error
        } else if diags.iter().any(Diagnostic::is_error) {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}
