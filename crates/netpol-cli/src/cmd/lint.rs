//! `netpol lint`: load and validate manifests, print the diagnostics.

use crate::cmd::ExitStatus;
use crate::{input, report};

/// Arguments of `netpol lint`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
With no PATHS, the current folder is read. Diagnostics are the command's output and go to
stdout; the summary line of the human format goes to stderr.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: input::InputArgs,
    #[command(flatten)]
    output: report::OutputArgs,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    let (map, loaded) = input::load(&args.input)?;
    report::diagnostics(&args.output, &map, &loaded.diagnostics)?;
    Ok(ExitStatus::from_diagnostics(&loaded.diagnostics))
}
