//! `netpol lint`: load and validate manifests, run the semantic lints (netpol-lint) on the
//! same model and profile as `matrix`, print the diagnostics.

use netpol_graph::Analysis;

use crate::cmd::ExitStatus;
use crate::{cluster, input, report};

/// Arguments of `netpol lint`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
With no PATHS, the current folder is read. Diagnostics are the command's output and go to
stdout; the summary line of the human format goes to stderr. The semantic lints (selectors,
DNS, coverage, named ports, dead policies; docs/diagnostics.md) follow the cluster flags and
netpol.yaml's `cluster:` section, as `matrix` does.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: input::InputArgs,
    #[command(flatten)]
    cluster: cluster::ClusterArgs,
    #[command(flatten)]
    output: report::OutputArgs,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    let (map, loaded, profile, mut diags) = cluster::load(&args.input, &args.cluster)?;
    let analysis = Analysis::new(&loaded.model, &profile);
    diags.extend(analysis.diagnostics().iter().cloned());
    diags.extend(netpol_lint::lint(
        &loaded.model,
        &analysis,
        &map,
        &netpol_lint::Options::default(),
    ));
    report::diagnostics(&args.output, &map, &diags)?;
    Ok(ExitStatus::from_diagnostics(&diags))
}
