//! The command line: top-level arguments and the list of subcommands.
//!
//! Each subcommand's arguments are defined next to its code in `cmd/<name>.rs`; this file
//! only lists them, so adding a subcommand is one variant here and one match arm in `cmd`.

use clap::{Parser, Subcommand};

use crate::cmd;

const EXAMPLES: &str = "\
Examples:
  netpol lint                          Check every manifest under the current folder
  netpol lint k8s/ extra.yaml          Check a folder and a file
  helm template chart | netpol lint -  Check manifests from stdin
  netpol lint --format json k8s/       Machine-readable diagnostics
  netpol completions bash              Print a shell completion script

Exit codes: 0 no errors, 1 error-severity findings, 2 usage error or tool failure
(including a path that cannot be read).

Diagnostic codes are explained in docs/diagnostics.md.";

/// Prove what your Kubernetes NetworkPolicies allow, offline, under AWS VPC CNI semantics.
#[derive(Debug, Parser)]
#[command(name = "netpol", version, after_help = EXAMPLES)]
#[command(propagate_version = true, disable_help_subcommand = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Load and validate manifests and report problems as diagnostics.
    Lint(cmd::lint::Args),
    /// Print every allowed connection between endpoints (table, json, dot, mermaid, csv, md).
    Matrix(cmd::matrix::Args),
    /// Explain why one endpoint can or cannot reach another, rule by rule.
    Explain(cmd::explain::Args),
    /// Prove the assertions of netpol.yaml with Z3 (see docs/verify.md).
    Verify(cmd::verify::Args),
    /// Write the connectivity as a sorted, reviewable snapshot file (see docs/snapshots.md).
    Snapshot(cmd::snapshot::Args),
    /// Show the connections a change adds, removes or changes, grouped by class.
    Diff(cmd::diff::Args),
    /// Print a shell completion script to stdout.
    Completions(cmd::completions::Args),
}

impl Args {
    /// Runs the subcommand.
    pub(crate) fn run(self) -> anyhow::Result<cmd::ExitStatus> {
        match self.command {
            Command::Lint(args) => cmd::lint::run(&args),
            Command::Matrix(args) => cmd::matrix::run(&args),
            Command::Explain(args) => cmd::explain::run(&args),
            Command::Verify(args) => cmd::verify::run(&args),
            Command::Snapshot(args) => cmd::snapshot::run(&args),
            Command::Diff(args) => cmd::diff::run(&args),
            Command::Completions(args) => {
                cmd::completions::run(&args, <Args as clap::CommandFactory>::command())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn clap_definition_is_consistent() {
        super::Args::command().debug_assert();
    }
}
