//! One side of a snapshot or a diff: the input read and analysed, and the verdicts of its
//! assertions (`netpol snapshot`, `netpol diff`, `netpol verify --snapshot`).

use std::time::Duration;

use netpol_graph::Analysis;
use netpol_snapshot::Snapshot;

use crate::cmd::ExitStatus;
use crate::workspace::{self, Purpose};
use crate::{cluster, input, report};

/// One input read for a snapshot: what loaded, and the verdicts of its assertions.
pub(crate) struct Side {
    pub(crate) inputs: workspace::Inputs,
    verdicts: Vec<(String, String)>,
}

impl Side {
    /// A side of input already read (by `verify`), without verdicts.
    pub(crate) fn from_inputs(inputs: workspace::Inputs) -> Side {
        Side {
            inputs,
            verdicts: Vec::new(),
        }
    }

    pub(crate) fn analysis(&self) -> Analysis<'_> {
        Analysis::new(&self.inputs.model, &self.inputs.profile)
    }

    /// Prints the loading and analysis diagnostics to stderr; the exit status they call for.
    pub(crate) fn report(&self, analysis: &Analysis<'_>) -> anyhow::Result<ExitStatus> {
        let mut diags = self.inputs.diagnostics.clone();
        diags.extend(analysis.diagnostics().iter().cloned());
        report::diagnostics_to_stderr(&self.inputs.map, &diags)?;
        Ok(ExitStatus::from_diagnostics(&diags))
    }

    /// The snapshot of the connectivity; nothing is printed.
    pub(crate) fn connectivity(&self, analysis: &Analysis<'_>) -> Snapshot {
        let mut snap = Snapshot::new(&analysis.matrix(), &self.inputs.profile, &self.verdicts);
        snap.add_exposure(&self.inputs.model, analysis);
        snap
    }

    /// The snapshot, with the loading and analysis diagnostics printed to stderr.
    pub(crate) fn snapshot(
        &self,
        analysis: &Analysis<'_>,
    ) -> anyhow::Result<(Snapshot, ExitStatus)> {
        let status = self.report(analysis)?;
        Ok((self.connectivity(analysis), status))
    }
}

/// Reads the input; with `verdicts` and a netpol.yaml whose assertions are valid, they are
/// proved and their verdicts kept.
pub(crate) fn read(
    input: &input::InputArgs,
    cluster: &cluster::ClusterArgs,
    verdicts: bool,
) -> anyhow::Result<Side> {
    let inputs = workspace::load(input, cluster, Purpose::Analyse)?;
    let mut results = Vec::new();
    if let Some(parsed) = inputs.config.as_ref().filter(|_| verdicts)
        && !(inputs.diagnostics.iter()).any(|d| d.code == netpol_diag::Code::NoObjects)
    {
        let opts = netpol_smt::Options {
            timeout: Duration::from_secs(30),
            ..netpol_smt::Options::default()
        };
        let v = netpol_smt::verify(&inputs.model, &inputs.profile, parsed, &opts);
        results = (v.results.iter())
            .map(|r| (r.name.clone(), r.outcome.as_str().to_owned()))
            .collect();
    }
    Ok(Side {
        inputs,
        verdicts: results,
    })
}
