//! `netpol lint`: load and validate manifests, run the semantic lints (netpol-lint) on the
//! same model and profile as `matrix`, print the diagnostics.

use netpol_graph::Analysis;

use crate::cmd::ExitStatus;
use crate::workspace::{self, Purpose};
use crate::{cluster, input, report};

/// Arguments of `netpol lint`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
With no PATHS, the `manifests` of netpol.yaml are read, else its folder, else the current
folder. Diagnostics are the command's output and go to stdout; the summary line of the
human format goes to stderr. The semantic lints (selectors, DNS, coverage, named ports, dead
policies; docs/diagnostics.md) follow the cluster flags and netpol.yaml's `cluster:` section,
as `matrix` does.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: input::InputArgs,
    #[command(flatten)]
    cluster: cluster::ClusterArgs,
    #[command(flatten)]
    output: report::OutputArgs,

    /// Report these as errors: a code, a group (selectors, dns, coverage, named-ports, dead,
    /// vpc-cni) or `warnings` (repeatable).
    #[arg(long, value_name = "CODE")]
    deny: Vec<netpol_lint::Target>,

    /// Report these as warnings (repeatable).
    #[arg(long, value_name = "CODE")]
    warn: Vec<netpol_lint::Target>,

    /// Do not report these (repeatable). Error codes stay errors.
    #[arg(long, value_name = "CODE")]
    allow: Vec<netpol_lint::Target>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    let inputs = workspace::load(&args.input, &args.cluster, Purpose::Analyse)?;
    let mut diags = inputs.diagnostics;
    let analysis = Analysis::new(&inputs.model, &inputs.profile);
    diags.extend(analysis.diagnostics().iter().cloned());
    diags.extend(netpol_lint::lint(
        &inputs.model,
        &analysis,
        &inputs.map,
        &netpol_lint::Options::default(),
    ));
    let mut levels = netpol_lint::Levels::default();
    for (targets, level) in [
        (&args.deny, netpol_lint::Level::Deny),
        (&args.warn, netpol_lint::Level::Warn),
        (&args.allow, netpol_lint::Level::Allow),
    ] {
        for t in targets {
            levels.add(t.clone(), level);
        }
    }
    levels.apply(&mut diags);
    report::diagnostics(&args.output, &inputs.map, &diags)?;
    Ok(ExitStatus::from_diagnostics(&diags))
}
