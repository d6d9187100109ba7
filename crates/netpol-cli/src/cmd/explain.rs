//! `netpol explain`: why one endpoint can or cannot reach another, rule by rule.

use std::io::{self, Write as _};
use std::net::IpAddr;

use anyhow::Context as _;
use netpol_diag::{Diagnostic, SourceMap, render};
use netpol_graph::{
    Analysis, DirectionExplanation, EndpointInfo, EndpointType, Explanation, RuleRef,
};
use netpol_manifest::model::Protocol;
use serde_json::{Value, json};

use crate::cmd::ExitStatus;
use crate::cmd::matrix::parse_port_arg;
use crate::workspace::{self, Purpose};
use crate::{cluster, input, report};

/// Arguments of `netpol explain`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  netpol explain --from shop/frontend --to shop/api k8s/
  netpol explain --from 'monitoring/prometheus[Deployment]' --to shop/db --port 9187/TCP k8s/
  netpol explain --from shop/api --to 10.0.3.7 --format json k8s/

Endpoints are ids as `netpol matrix` prints them (`ns/pod`, `ns/name[Kind]`,
`ns/name[Service]`, `node/NAME`, an external range `a.b.c.d-e.f.g.h`), `ns/name` for a
workload when that is unambiguous, or an IP address (the pod, node or Service that has it,
else the external range that holds it). Exit code 0 when the connection is allowed, 1 when
it is denied or the input has errors, 2 when an endpoint does not exist or the input cannot
be read.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: input::InputArgs,
    #[command(flatten)]
    cluster: cluster::ClusterArgs,

    /// The source endpoint: an id, `ns/name`, or an IP address.
    #[arg(long, value_name = "ENDPOINT")]
    from: String,

    /// The destination endpoint: an id, `ns/name`, or an IP address.
    #[arg(long, value_name = "ENDPOINT")]
    to: String,

    /// Explain one port, as `80/TCP` or `TCP/80` (default: every port).
    #[arg(long, value_name = "PORT", value_parser = parse_port_arg)]
    port: Option<(Protocol, u16)>,

    /// Output format: rule-by-rule text, or one JSON document (docs/output-formats.md).
    #[arg(long, value_enum, default_value_t = ExplainFormat::Human)]
    format: ExplainFormat,

    /// Colour: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = report::ColorChoice::Auto)]
    color: report::ColorChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ExplainFormat {
    Human,
    Json,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    let inputs = workspace::load(&args.input, &args.cluster, Purpose::Analyse)?;
    let (map, mut diags) = (inputs.map, inputs.diagnostics);
    let analysis = Analysis::new(&inputs.model, &inputs.profile);
    diags.extend(analysis.diagnostics().iter().cloned());
    let input_status = ExitStatus::from_diagnostics(&diags);
    if args.format == ExplainFormat::Human || input_status == ExitStatus::Error {
        report::diagnostics_to_stderr(&map, &diags)?;
    }
    if input_status == ExitStatus::Error {
        // Unreadable or absent input: there is nothing to explain.
        return Ok(input_status);
    }
    let from = resolve(&analysis, &args.from)?;
    let to = resolve(&analysis, &args.to)?;
    let explanation = analysis
        .explain(&from, &to, args.port)
        .context("explaining the connection")?;
    let text = match args.format {
        ExplainFormat::Human => {
            let mut text = String::new();
            let opts = report::human_options(args.color);
            render::human_in_order(&mut text, &map, &explanation.to_diagnostics(), &opts)
                .context("rendering the explanation")?;
            text
        }
        ExplainFormat::Json => {
            let mut text = serde_json::to_string_pretty(&to_json(&explanation, &map, &diags))
                .context("serialising the explanation")?;
            text.push('\n');
            text
        }
    };
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the explanation to stdout")?;
    // An answer about input with errors is not one to rely on.
    Ok(
        if input_status == ExitStatus::Failure || !explanation.verdict {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        },
    )
}

/// The endpoint id an argument names: an id or `ns/name` as `Analysis::find_endpoint`
/// takes them, or an IP address.
fn resolve(analysis: &Analysis, arg: &str) -> anyhow::Result<String> {
    if let Some(e) = analysis.find_endpoint(arg) {
        return Ok(e.id.clone());
    }
    let Ok(ip) = arg.parse::<IpAddr>() else {
        anyhow::bail!(
            "no endpoint `{arg}` (or the name is ambiguous); `netpol matrix` lists the ids"
        );
    };
    // A pod, node or ClusterIP with exactly this address; a Service only when nothing
    // else has it (a connection to a pod's IP is not one to a Service).
    let holders: Vec<&EndpointInfo> = analysis.endpoints().filter(|e| e.ip == Some(ip)).collect();
    let direct: Vec<&EndpointInfo> = holders
        .iter()
        .copied()
        .filter(|e| e.kind != EndpointType::Service)
        .collect();
    let holders = if direct.is_empty() { holders } else { direct };
    match holders.as_slice() {
        [one] => return Ok(one.id.clone()),
        [] => {}
        many => anyhow::bail!(
            "{ip} is the address of {}; name one of them",
            many.iter()
                .map(|e| format!("`{}`", e.id))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    analysis
        .endpoints()
        .find(|e| e.kind == EndpointType::External && range_holds(&e.id, ip))
        .map(|e| e.id.clone())
        .with_context(|| {
            format!(
                "no endpoint has the address {ip}: pods whose IP the manifests do not give \
                 have no address to find; name the pod or workload"
            )
        })
}

/// Whether an external endpoint id (`first-last`, or CIDRs separated by `,` or spaces)
/// holds `ip`.
fn range_holds(id: &str, ip: IpAddr) -> bool {
    if let Some((lo, hi)) = id.split_once('-')
        && let (Ok(lo), Ok(hi)) = (lo.parse::<IpAddr>(), hi.parse::<IpAddr>())
    {
        return lo <= ip && ip <= hi && lo.is_ipv4() == ip.is_ipv4();
    }
    id.split([',', ' '])
        .filter_map(|c| c.trim().parse::<ipnet::IpNet>().ok())
        .any(|net| net.contains(&ip))
}

/// The `--format json` document (docs/output-formats.md, "Explanation JSON").
fn to_json(e: &Explanation, map: &SourceMap, diags: &[Diagnostic]) -> Value {
    let endpoint = |i: &EndpointInfo| {
        json!({
            "id": i.id,
            "kind": i.kind.as_str(),
            "namespace": i.namespace,
            "name": i.name,
            "ip": i.ip.map(|ip| ip.to_string()),
        })
    };
    let rule = |r: &RuleRef| {
        let start = map.start(r.provenance.span);
        json!({
            "policy": r.policy,
            "direction": r.provenance.direction.as_str(),
            "rule": r.provenance.rule,
            "ports": r.ports.to_strings(),
            "file": map.name(r.provenance.span.file),
            "line": start.line,
            "column": start.col,
        })
    };
    let direction = |d: &DirectionExplanation| {
        json!({
            "direction": d.direction.as_str(),
            "at": d.at,
            "verdict": verdict(d.verdict),
            "allowed": d.allowed.to_strings(),
            "rules": d.rules.iter().map(rule).collect::<Vec<_>>(),
            "dropped": d.dropped.iter().map(rule).collect::<Vec<_>>(),
            "reasons": d.reasons,
        })
    };
    let mut shown: Vec<Diagnostic> = diags
        .iter()
        .filter(|d| d.severity != netpol_diag::Severity::Note)
        .cloned()
        .collect();
    Diagnostic::sort(&mut shown);
    json!({
        "from": endpoint(&e.from),
        "to": endpoint(&e.to),
        "port": e.port.map(|(proto, n)| format!("{proto}/{n}")),
        "verdict": verdict(e.verdict),
        "allowed": e.allowed.to_strings(),
        "directions": e.directions.iter().map(direction).collect::<Vec<_>>(),
        "notes": e.notes,
        "diagnostics": render::json(map, &shown),
    })
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allowed" } else { "denied" }
}

#[cfg(test)]
mod tests {
    use super::range_holds;

    #[test]
    fn external_ids_hold_addresses() {
        let ip = |s: &str| s.parse().expect("ip");
        assert!(range_holds("10.0.0.0-10.0.255.255", ip("10.0.3.7")));
        assert!(!range_holds("10.0.0.0-10.0.255.255", ip("10.1.0.0")));
        assert!(range_holds(
            "10.0.0.0/16, 192.168.0.0/24",
            ip("192.168.0.9")
        ));
        assert!(!range_holds("10.0.0.0/16,192.168.0.0/24", ip("172.16.0.1")));
        assert!(!range_holds("shop/api", ip("10.0.3.7")));
    }
}
