//! `netpol lint`: load and validate manifests, print the diagnostics.

use crate::cmd::ExitStatus;
use crate::workspace::{self, Purpose};
use crate::{cluster, input, report};

/// Arguments of `netpol lint`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
With no PATHS, the `manifests` of netpol.yaml are read, else its folder, else the current
folder. Diagnostics are the command's output and go to stdout; the summary line of the
human format goes to stderr.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: input::InputArgs,
    #[command(flatten)]
    cluster: cluster::ClusterArgs,
    #[command(flatten)]
    output: report::OutputArgs,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    let inputs = workspace::load(&args.input, &args.cluster, Purpose::Analyse)?;
    report::diagnostics(&args.output, &inputs.map, &inputs.diagnostics)?;
    Ok(ExitStatus::from_diagnostics(&inputs.diagnostics))
}
