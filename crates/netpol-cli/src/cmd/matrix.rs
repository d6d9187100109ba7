//! `netpol matrix`: every allowed connection between the endpoints of the manifests.

use std::io::{self, Write as _};

use anyhow::Context as _;
use netpol_graph::format::{self, Format};
use netpol_graph::{Analysis, Filter, ports};
use netpol_manifest::model::Protocol;

use crate::cmd::ExitStatus;
use crate::workspace::{self, Purpose};
use crate::{cluster, input, report};

/// Arguments of `netpol matrix`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  netpol matrix k8s/                            A table of who can reach whom, and on what
  netpol matrix --format json k8s/ > m.json     The stable JSON contract (docs/output-formats.md)
  netpol matrix --expand --format json k8s/     One connection per pair of endpoints
  netpol matrix --from 'shop/*' --port 5432/TCP Only connections from shop that allow TCP 5432
  netpol matrix --cni upstream k8s/             Kubernetes-spec semantics instead of VPC CNI

Endpoints with identical connectivity are shown as one class, and edges go between classes;
an edge from a class to itself means its pods (a workload's replicas too) reach each other.
Loading diagnostics go to stderr; the matrix goes to stdout. Exit code 1 when a diagnostic
is an error (the matrix is then of what loaded); 2, with nothing on stdout, when the input
cannot be read.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: input::InputArgs,
    #[command(flatten)]
    cluster: cluster::ClusterArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = MatrixFormat::Table)]
    format: MatrixFormat,

    /// Keep connections whose source matches (an id, `ns/name`, or a pattern with `*`).
    #[arg(long, value_name = "ENDPOINT")]
    from: Option<String>,

    /// Keep connections whose destination matches.
    #[arg(long, value_name = "ENDPOINT")]
    to: Option<String>,

    /// One line per pair of endpoints instead of classes (CSV always is).
    #[arg(long)]
    expand: bool,

    /// Keep connections that allow this port, as `80/TCP` or `TCP/80`.
    #[arg(long, value_name = "PORT", value_parser = parse_port_arg)]
    port: Option<(Protocol, u16)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum MatrixFormat {
    Table,
    Json,
    Dot,
    Mermaid,
    Csv,
    Md,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    let inputs = workspace::load(&args.input, &args.cluster, Purpose::Analyse)?;
    let mut diags = inputs.diagnostics;
    let analysis = Analysis::new(&inputs.model, &inputs.profile);
    diags.extend(analysis.diagnostics().iter().cloned());
    report::diagnostics_to_stderr(&inputs.map, &diags)?;
    let status = ExitStatus::from_diagnostics(&diags);
    // The input could not be read: no matrix, not even an empty one a script could trust.
    if status == ExitStatus::Error {
        return Ok(status);
    }

    let filter = Filter {
        from: args.from.clone(),
        to: args.to.clone(),
        port: args.port,
    };
    let matrix = analysis.matrix();
    let matrix = if filter == Filter::default() {
        matrix
    } else {
        matrix.filter(&filter)
    };
    let format = match args.format {
        MatrixFormat::Table => Format::Table,
        MatrixFormat::Json => Format::Json,
        MatrixFormat::Dot => Format::Dot,
        MatrixFormat::Mermaid => Format::Mermaid,
        MatrixFormat::Csv => Format::Csv,
        MatrixFormat::Md => Format::Md,
    };
    // Streamed: a large matrix is gigabytes of text, never held whole.
    let mut out = IoWrite {
        out: io::BufWriter::new(io::stdout().lock()),
        error: None,
    };
    let written = format::write(&mut out, &matrix, format, args.expand);
    let flushed = out.out.flush();
    match (written, out.error) {
        (Err(_), Some(e)) => Err(e).context("writing the matrix to stdout")?,
        (Err(e), None) => Err(e).context("formatting the matrix")?,
        (Ok(()), _) => flushed.context("writing the matrix to stdout")?,
    }
    Ok(status)
}

/// `fmt::Write` over an `io::Write` that keeps the IO error (a closed pipe exits 0).
struct IoWrite<W: io::Write> {
    out: W,
    error: Option<io::Error>,
}

impl<W: io::Write> std::fmt::Write for IoWrite<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.out.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            std::fmt::Error
        })
    }
}

pub(crate) fn parse_port_arg(s: &str) -> Result<(Protocol, u16), String> {
    ports::parse_port(s).ok_or_else(|| format!("`{s}` is not a port such as 80/TCP or UDP/53"))
}
