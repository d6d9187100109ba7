//! `netpol completions <shell>`: print a completion script generated from the clap definition.

use std::io::Write as _;

use anyhow::Context as _;
use clap_complete::Shell;

use crate::cmd::ExitStatus;

/// Arguments of `netpol completions`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example: netpol completions bash > ~/.local/share/bash-completion/completions/netpol"
)]
pub(crate) struct Args {
    /// The shell to generate completions for.
    shell: Shell,
}

/// `cli`: the whole command line's definition, to complete.
pub(crate) fn run(args: &Args, mut cli: clap::Command) -> anyhow::Result<ExitStatus> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "netpol", &mut script);
    std::io::stdout()
        .lock()
        .write_all(&script)
        .context("writing the completion script")?;
    Ok(ExitStatus::Success)
}
