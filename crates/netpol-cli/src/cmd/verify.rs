//! `netpol verify`: prove the assertions of `netpol.yaml` with Z3 and report them as
//! human text, JSON, SARIF, GitHub workflow commands or JUnit XML.

use std::io::{self, IsTerminal as _, Write as _};
use std::time::Duration;

use anyhow::Context as _;
use netpol_diag::render::{self, HumanOptions};
use netpol_diag::{Code, Diagnostic, SourceMap};
use netpol_smt::{AssertionResult, Options, Outcome};
use serde_json::{Value, json};

use crate::cmd::ExitStatus;

mod live;
use live::Live;

/// Arguments of `netpol verify`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Manifests come from PATHS, else from the config's `manifests` (relative to the config and
inside its folder), else from the config's folder. Exit codes: 0 all proved, 1 refuted/unknown
or error diagnostics, 2 usage or tool failure (unreadable or refused paths, no object loaded).
See docs/verify.md.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: crate::input::InputArgs,
    #[command(flatten)]
    cluster: crate::cluster::ClusterArgs,

    /// Time limit per assertion, in seconds, end to end (building, solving, decoding);
    /// past it the assertion is unknown and the next one starts.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    timeout: f64,

    /// Time limit of the whole run, in seconds; assertions not decided by then are unknown.
    #[arg(long, value_name = "SECONDS")]
    deadline: Option<f64>,

    /// Prove an assertion only when it also holds under the other readings of the profile:
    /// vpc-cni once its controller respects policyTypes (open PR #229); upstream with
    /// ipBlocks matching every pod address, and none (docs/verify.md, "Robust proofs").
    #[arg(long)]
    robust: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// Colour human output: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Color::Auto)]
    color: Color,

    /// Also fail (exit 1) when the connectivity differs from this snapshot, writing
    /// FILE.new; with no netpol.yaml, only this drift check runs (docs/snapshots.md).
    #[arg(long, value_name = "FILE")]
    snapshot: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Human,
    Json,
    Sarif,
    Github,
    Junit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

/// What a run produced, before formatting.
pub(crate) struct Report {
    pub(crate) map: SourceMap,
    pub(crate) model: netpol_manifest::Model,
    pub(crate) results: Vec<AssertionResult>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// The config's `snapshot`, for the drift check when `--snapshot` is not given.
    pub(crate) snapshot: Option<std::path::PathBuf>,
    /// The semantics the input was read under (the drift check's too).
    pub(crate) profile: netpol_graph::Profile,
    /// A snapshot was compared (its drift, if any, is among the diagnostics).
    pub(crate) snapshot_checked: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    anyhow::ensure!(
        args.timeout.is_finite() && args.timeout > 0.0,
        "--timeout must be a positive number of seconds"
    );
    anyhow::ensure!(
        args.deadline.is_none_or(|d| d.is_finite() && d > 0.0),
        "--deadline must be a positive number of seconds"
    );
    let human = args.format == Format::Human;
    // A drift check alone: a snapshot and no netpol.yaml.
    if let Some(file) = &args.snapshot
        && crate::config::locate(args.cluster.config(), args.input.folder_config()).is_none()
    {
        let side = crate::side::read(&args.input, &args.cluster, false)?;
        let status = side.report(&side.analysis())?;
        if status == ExitStatus::Error {
            return Ok(status);
        }
        if human {
            return crate::cmd::snapshot::drift(&side, file, &[], true);
        }
        let drift = crate::cmd::snapshot::drift_report(&side, file, &[], false)?;
        let inputs = side.inputs;
        let report = Report {
            map: inputs.map,
            model: inputs.model,
            results: Vec::new(),
            diagnostics: drift.diagnostics,
            snapshot: None,
            profile: inputs.profile,
            snapshot_checked: true,
        };
        write_out(&render(args, &report, false)?)?;
        return Ok(status.max(drift.status));
    }
    let mut live = Live::new(human);
    let mut report = collect(args, &mut live)?;
    if let Some(e) = live.finish() {
        return Err(e).context("writing the report to stdout");
    }
    let verdicts: Vec<(String, String)> = (report.results.iter())
        .map(|r| (r.name.clone(), r.outcome.as_str().to_owned()))
        .collect();
    let status = status(&report);
    let snapshot =
        (args.snapshot.clone().or(report.snapshot.clone())).filter(|_| status != ExitStatus::Error);
    if !human && let Some(file) = &snapshot {
        // A report format: the drift is part of the report (diagnostics, a JUnit case).
        let side = drift_side(&mut report);
        let drift = crate::cmd::snapshot::drift_report(&side, file, &verdicts, false)?;
        let inputs = side.inputs;
        (report.map, report.model) = (inputs.map, inputs.model);
        report.diagnostics.extend(drift.diagnostics);
        report.snapshot_checked = true;
        write_out(&render(args, &report, live.streamed())?)?;
        return Ok(status.max(drift.status));
    }
    write_out(&render(args, &report, live.streamed())?)?;
    let Some(file) = snapshot else {
        return Ok(status);
    };
    // The drift check reads the same input: the one loaded above, not a second time.
    let side = drift_side(&mut report);
    let drift = crate::cmd::snapshot::drift(&side, &file, &verdicts, true)?;
    Ok(status.max(drift))
}

/// The report's input as a snapshot side (moved out; the caller may move it back).
fn drift_side(report: &mut Report) -> crate::side::Side {
    crate::side::Side::from_inputs(crate::workspace::Inputs {
        map: std::mem::take(&mut report.map),
        model: std::mem::take(&mut report.model),
        profile: report.profile.clone(),
        config: None,
        diagnostics: Vec::new(),
        snapshot: None,
    })
}

fn render(args: &Args, report: &Report, streamed: bool) -> anyhow::Result<String> {
    Ok(match args.format {
        Format::Human if streamed => human_rest(report, color(args.color))?,
        Format::Human => human(report, color(args.color))?,
        Format::Json => pretty(&to_json(report, true))?,
        Format::Sarif => pretty(&sarif(report))?,
        Format::Github => github(report),
        Format::Junit => junit(report)?,
    })
}

fn write_out(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the report to stdout")
}

fn color(c: Color) -> bool {
    match c {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Reads the config and the manifests and runs the solver, showing verdicts and progress
/// through `live` as they come.
fn collect(args: &Args, live: &mut Live) -> anyhow::Result<Report> {
    let deadline = args
        .deadline
        .map(|d| std::time::Instant::now() + Duration::from_secs_f64(d.min(1e6)));
    let inputs = crate::workspace::load(
        &args.input,
        &args.cluster,
        crate::workspace::Purpose::Verify,
    )?;
    let (mut map, model, mut diagnostics) = (inputs.map, inputs.model, inputs.diagnostics);
    let mut results = Vec::new();
    if let Some(parsed) = &inputs.config
        && !diagnostics.iter().any(|d| d.code == Code::NoObjects)
    {
        let opts = Options {
            timeout: Duration::from_secs_f64(args.timeout.min(1e6)),
            deadline,
            robust: args.robust,
            ..Options::default()
        };
        live.start(parsed.verification.assertions.len());
        let v = netpol_smt::verify_each(&model, &inputs.profile, parsed, &opts, &mut |r| {
            live.result(r, result_line);
        });
        diagnostics.extend(v.diagnostics);
        diagnostics.extend(netpol_smt::result_diagnostics(&model, &v.results));
        results = v.results;
    }
    crate::input::quote_only_manifests(&mut map, &diagnostics);
    Diagnostic::sort(&mut diagnostics);
    Ok(Report {
        map,
        model,
        results,
        diagnostics,
        snapshot: inputs.snapshot,
        profile: inputs.profile,
        snapshot_checked: false,
    })
}

pub(crate) fn status(r: &Report) -> ExitStatus {
    // Input that could not (or may not) be read, or nothing to verify: the tool could not
    // do its job, as for `lint`.
    let tool_failure = [Code::IoError, Code::ManifestOutsideConfig, Code::NoObjects];
    if r.diagnostics.iter().any(|d| tool_failure.contains(&d.code)) {
        return ExitStatus::Error;
    }
    let failed = r
        .results
        .iter()
        .any(|a| !matches!(a.outcome, Outcome::Proved));
    if failed || r.diagnostics.iter().any(Diagnostic::is_error) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

fn pretty(v: &Value) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(v).context("serialising the report")?;
    s.push('\n');
    Ok(s)
}

fn mark(o: &Outcome) -> &'static str {
    match o {
        Outcome::Proved => "✓",
        Outcome::Refuted(_) => "✗",
        Outcome::Unknown(_) => "?",
    }
}

/// The verdict line of one assertion.
fn result_line(a: &AssertionResult) -> String {
    let detail = match &a.outcome {
        Outcome::Unknown(reason) => format!("unknown: {reason}"),
        o => o.as_str().to_owned(),
    };
    // The name is input: one line, no escape sequences.
    let name = render::escape_controls(&a.name);
    format!("{} {name} ({detail})\n", mark(&a.outcome))
}

/// One line per assertion, then the diagnostics (counterexamples included) with frames.
pub(crate) fn human(r: &Report, color: bool) -> anyhow::Result<String> {
    let mut s: String = r.results.iter().map(result_line).collect();
    s.push_str(&human_rest(r, color)?);
    Ok(s)
}

/// [`human`] without the verdict lines (streamed as they were decided).
fn human_rest(r: &Report, color: bool) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut s = String::new();
    if !r.diagnostics.is_empty() {
        s.push('\n');
        let opts = HumanOptions {
            color,
            width: 100,
            unicode: true,
        };
        render::human(&mut s, &r.map, &r.diagnostics, &opts).context("rendering diagnostics")?;
    }
    let proved = r
        .results
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Proved))
        .count();
    let _ = writeln!(s, "{proved} of {} assertions proved", r.results.len());
    Ok(s)
}

/// `{"assertions": [...], "diagnostics": [...]}`; `durations: false` leaves `durationMs` out.
pub(crate) fn to_json(r: &Report, durations: bool) -> Value {
    let assertions: Vec<Value> = r
        .results
        .iter()
        .map(|a| {
            let mut v = json!({"name": a.name, "result": a.outcome.as_str()});
            match &a.outcome {
                Outcome::Refuted(cx) => v["counterexample"] = cx.to_json(&r.model, &r.map),
                Outcome::Unknown(reason) => v["reason"] = json!(reason),
                Outcome::Proved => {}
            }
            if durations {
                v["durationMs"] = json!(a.duration.as_secs_f64() * 1000.0);
            }
            v
        })
        .collect();
    json!({"assertions": assertions, "diagnostics": render::json(&r.map, &r.diagnostics)})
}

/// SARIF 2.1.0 for GitHub code scanning: one result per error or warning diagnostic
/// (refuted and unknown assertions are error diagnostics).
pub(crate) fn sarif(r: &Report) -> Value {
    render::sarif(&r.map, &r.diagnostics, &crate::report::sarif_options())
}

/// GitHub workflow commands for the diagnostics, then one plain line per assertion (its
/// name escaped, so it cannot forge a command).
pub(crate) fn github(r: &Report) -> String {
    let mut out = String::new();
    render::github(&mut out, &r.map, &r.diagnostics).expect("writing to a String");
    for a in &r.results {
        out.push_str(&format!(
            "{} {} ({})\n",
            mark(&a.outcome),
            render::github::escape_data(&a.name),
            a.outcome.as_str()
        ));
    }
    out
}

/// JUnit XML: one test case per assertion.
pub(crate) fn junit(r: &Report) -> anyhow::Result<String> {
    use render::junit::{Case, Outcome as JOutcome};
    let mut cases: Vec<Case> = (r.results.iter())
        .map(|a| {
            let outcome = match &a.outcome {
                Outcome::Proved => JOutcome::Passed,
                Outcome::Refuted(cx) => {
                    let what = match &cx.source {
                        Some(src) => format!(
                            "{} -> {} on {}",
                            src.describe(),
                            cx.destination.describe(),
                            cx.port_string()
                        ),
                        None => format!("{} is not isolated", cx.destination.describe()),
                    };
                    JOutcome::Failed {
                        message: format!("refuted: {what}"),
                        kind: "refuted".to_owned(),
                    }
                }
                Outcome::Unknown(reason) => JOutcome::Errored {
                    message: format!("unknown: {reason}"),
                    kind: "unknown".to_owned(),
                },
            };
            Case {
                name: a.name.clone(),
                classname: "netpol.verify".to_owned(),
                outcome,
            }
        })
        .collect();
    if r.snapshot_checked {
        let drift = (r.diagnostics.iter()).find(|d| d.code == Code::SnapshotDrift);
        cases.push(Case {
            name: "snapshot".to_owned(),
            classname: "netpol.verify".to_owned(),
            outcome: match drift {
                Some(d) => JOutcome::Failed {
                    message: d.message.clone(),
                    kind: "snapshot-drift".to_owned(),
                },
                None => JOutcome::Passed,
            },
        });
    }
    render::junit::cases("netpol", vec![("netpol verify".to_owned(), cases)])
        .map_err(anyhow::Error::msg)
        .context("serialising JUnit XML")
}
