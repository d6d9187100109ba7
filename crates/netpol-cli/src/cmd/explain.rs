//! `netpol explain`: why one endpoint can or cannot reach another, rule by rule.

use std::io::{self, Write as _};

use anyhow::Context as _;
use netpol_diag::render;
use netpol_graph::Analysis;
use netpol_manifest::model::Protocol;

use crate::cmd::ExitStatus;
use crate::cmd::matrix::parse_port_arg;
use crate::{cluster, input, report};

/// Arguments of `netpol explain`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  netpol explain --from shop/frontend --to shop/api k8s/
  netpol explain --from 'monitoring/prometheus[Deployment]' --to shop/db --port 9187/TCP k8s/

Endpoints are ids as `netpol matrix` prints them (`ns/pod`, `ns/name[Kind]`,
`ns/name[Service]`, `node/NAME`, an external range `a.b.c.d-e.f.g.h`), or `ns/name` for a
workload when that is unambiguous. Exit code 0 when the connection is allowed, 1 when it
is denied, 2 when an endpoint does not exist.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: input::InputArgs,
    #[command(flatten)]
    cluster: cluster::ClusterArgs,

    /// The source endpoint.
    #[arg(long, value_name = "ENDPOINT")]
    from: String,

    /// The destination endpoint.
    #[arg(long, value_name = "ENDPOINT")]
    to: String,

    /// Explain one port, as `80/TCP` or `TCP/80` (default: every port).
    #[arg(long, value_name = "PORT", value_parser = parse_port_arg)]
    port: Option<(Protocol, u16)>,

    /// Colour: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = report::ColorChoice::Auto)]
    color: report::ColorChoice,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    let (map, loaded, profile, mut diags) = cluster::load(&args.input, &args.cluster)?;
    let analysis = Analysis::new(&loaded.model, &profile);
    diags.extend(analysis.diagnostics().iter().cloned());
    report::diagnostics_to_stderr(&map, &diags)?;

    for id in [&args.from, &args.to] {
        anyhow::ensure!(
            analysis.find_endpoint(id).is_some(),
            "no endpoint `{id}` (or the name is ambiguous); `netpol matrix` lists the ids"
        );
    }
    let explanation = analysis
        .explain(&args.from, &args.to, args.port)
        .context("explaining the connection")?;
    let mut text = String::new();
    let opts = report::human_options(args.color);
    render::human_in_order(&mut text, &map, &explanation.to_diagnostics(), &opts)
        .context("rendering the explanation")?;
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the explanation to stdout")?;
    Ok(if explanation.verdict {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
