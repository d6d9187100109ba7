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
    // A drift check alone: a snapshot and no netpol.yaml.
    if let Some(file) = &args.snapshot
        && crate::config::locate(args.cluster.config(), args.input.folder_config()).is_none()
    {
        let side = crate::cmd::snapshot::read(&args.input, &args.cluster, false)?;
        let status = side.report(&side.analysis())?;
        if status == ExitStatus::Error {
            return Ok(status);
        }
        return crate::cmd::snapshot::drift(&side, file, &[], args.format == Format::Human);
    }
    let mut live = Live::new(args.format == Format::Human);
    let report = collect(args, &mut live)?;
    if let Some(e) = live.finish() {
        return Err(e).context("writing the report to stdout");
    }
    let text = match args.format {
        Format::Human if live.streamed() => human_rest(&report, color(args.color))?,
        Format::Human => human(&report, color(args.color))?,
        Format::Json => pretty(&to_json(&report, true))?,
        Format::Sarif => pretty(&sarif(&report))?,
        Format::Github => github(&report),
        Format::Junit => junit(&report)?,
    };
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the report to stdout")?;
    let verdicts: Vec<(String, String)> = (report.results.iter())
        .map(|r| (r.name.clone(), r.outcome.as_str().to_owned()))
        .collect();
    let status = status(&report);
    let snapshot = args.snapshot.clone().or(report.snapshot.clone());
    let Some(file) = snapshot.filter(|_| status != ExitStatus::Error) else {
        return Ok(status);
    };
    // The drift check reads the same input: the one loaded above, not a second time.
    let side = crate::cmd::snapshot::Side::from_inputs(crate::workspace::Inputs {
        map: report.map,
        model: report.model,
        profile: report.profile,
        config: None,
        diagnostics: Vec::new(),
        snapshot: None,
    });
    let drift = crate::cmd::snapshot::drift(&side, &file, &verdicts, args.format == Format::Human)?;
    Ok(status.max(drift))
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

fn location(map: &SourceMap, d: &Diagnostic) -> Option<(String, u32, u32)> {
    let s = d.primary_span()?;
    let lc = map.start(s);
    Some((map.name(s.file).to_owned(), lc.line, lc.col))
}

/// SARIF 2.1.0 for GitHub code scanning: one result per error or warning diagnostic
/// (refuted and unknown assertions are error diagnostics).
pub(crate) fn sarif(r: &Report) -> Value {
    let mut rules: Vec<&str> = r.diagnostics.iter().map(|d| d.code.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    let results: Vec<Value> = r
        .diagnostics
        .iter()
        .filter(|d| d.severity != netpol_diag::Severity::Note)
        .map(|d| {
            let mut v = json!({
                "ruleId": d.code.as_str(),
                "level": match d.severity {
                    netpol_diag::Severity::Error => "error",
                    netpol_diag::Severity::Warning => "warning",
                    netpol_diag::Severity::Note => "note",
                },
                "message": {"text": sarif_text(d)},
            });
            if let Some((file, line, col)) = location(&r.map, d) {
                v["locations"] = json!([{"physicalLocation": {
                    "artifactLocation": {"uri": sarif_uri(&file)},
                    "region": {"startLine": line, "startColumn": col},
                }}]);
            }
            v
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "netpol",
                "informationUri": "https://github.com/netpol-dev/netpol",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|id| json!({
                    "id": id,
                    "shortDescription": {"text": id.parse::<netpol_diag::Code>().map(|c| c.description()).unwrap_or("")},
                })).collect::<Vec<_>>(),
            }},
            "results": results,
            // Columns count characters (SARIF's default is UTF-16 code units).
            "columnKind": "unicodeCodePoints",
        }],
    })
}

/// A file name as a SARIF `artifactLocation.uri`: a relative reference without `./` or
/// empty segments and with forward slashes (code scanning resolves it against the
/// repository root), or a `file:` URI for an absolute path; every byte outside RFC 3986's
/// unreserved set and `!$&'()*+,;=@/` is percent-encoded (spaces, `#`, `%`, `:`, non-ASCII).
fn sarif_uri(name: &str) -> String {
    let name = if cfg!(windows) {
        name.replace('\\', "/")
    } else {
        name.to_owned()
    };
    let absolute = name.starts_with('/');
    // A Windows drive (`C:/x`) keeps its colon: `file:///C:/x`.
    let drive = name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && name.as_bytes().get(1..3) == Some(b":/");
    let segments: Vec<&str> = name
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let mut out = String::new();
    if absolute || drive {
        out.push_str("file:///");
    }
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if i == 0 && drive {
            out.push_str(seg);
            continue;
        }
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if out.is_empty() { ".".to_owned() } else { out }
}

fn sarif_text(d: &Diagnostic) -> String {
    let mut s = d.message.clone();
    for n in &d.notes {
        s.push('\n');
        s.push_str(n);
    }
    s
}

/// GitHub workflow commands: `::error file=…,line=…,col=…,title=…::message`, then one
/// plain line per assertion. Every field is escaped by the runner's rules
/// (`github_data`, `github_property`), so no input (an assertion name, a file name) can
/// break a line and forge a command of its own.
pub(crate) fn github(r: &Report) -> String {
    let esc_data = github_data;
    let esc_prop = github_property;
    let mut out = String::new();
    for d in &r.diagnostics {
        let level = match d.severity {
            netpol_diag::Severity::Error => "error",
            netpol_diag::Severity::Warning => "warning",
            netpol_diag::Severity::Note => "notice",
        };
        let mut props = Vec::new();
        if let Some((file, line, col)) = location(&r.map, d) {
            props.push(format!("file={}", esc_prop(&file)));
            props.push(format!("line={line}"));
            props.push(format!("col={col}"));
        }
        props.push(format!("title={}", esc_prop(d.code.as_str())));
        out.push_str(&format!(
            "::{level} {}::{}\n",
            props.join(","),
            esc_data(&sarif_text(d))
        ));
    }
    for a in &r.results {
        out.push_str(&format!(
            "{} {} ({})\n",
            mark(&a.outcome),
            esc_data(&a.name),
            a.outcome.as_str()
        ));
    }
    out
}

/// A workflow command's message (or any line the runner reads): `%`, CR and LF escaped.
fn github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as data, and `:` and `,` too.
fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// JUnit XML: one test case per assertion.
pub(crate) fn junit(r: &Report) -> anyhow::Result<String> {
    use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("netpol verify");
    for a in &r.results {
        let status = match &a.outcome {
            Outcome::Proved => TestCaseStatus::success(),
            Outcome::Refuted(cx) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let what = match &cx.source {
                    Some(src) => format!(
                        "{} -> {} on {}",
                        src.describe(),
                        cx.destination.describe(),
                        cx.port_string()
                    ),
                    None => format!("{} is not isolated", cx.destination.describe()),
                };
                s.set_message(format!("refuted: {what}"));
                s.set_type("refuted");
                s
            }
            Outcome::Unknown(reason) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(format!("unknown: {reason}"));
                s.set_type("unknown");
                s
            }
        };
        let mut tc = TestCase::new(a.name.clone(), status);
        tc.set_classname("netpol.verify");
        suite.add_test_case(tc);
    }
    let mut report = JReport::new("netpol");
    report.add_test_suite(suite);
    report.to_string().context("serialising JUnit XML")
}

#[cfg(test)]
mod tests {
    use super::sarif_uri;

    #[test]
    fn sarif_uris_are_clean_references() {
        assert_eq!(sarif_uri("netpol.yaml"), "netpol.yaml");
        assert_eq!(sarif_uri("./k8s/a.yaml"), "k8s/a.yaml");
        assert_eq!(sarif_uri("././k8s//./a.yaml"), "k8s/a.yaml");
        assert_eq!(sarif_uri("../up/a.yaml"), "../up/a.yaml");
        assert_eq!(
            sarif_uri("k8s/bad port#1%.yaml"),
            "k8s/bad%20port%231%25.yaml"
        );
        assert_eq!(sarif_uri("a:b/é.yaml"), "a%3Ab/%C3%A9.yaml");
        assert_eq!(sarif_uri("/tmp/x y/a.yaml"), "file:///tmp/x%20y/a.yaml");
        assert_eq!(sarif_uri("C:/k8s/a.yaml"), "file:///C:/k8s/a.yaml");
        assert_eq!(sarif_uri("Cé/a"), "C%C3%A9/a");
        assert_eq!(sarif_uri("./"), ".");
    }
}
