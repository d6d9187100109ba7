//! `netpol diff OLD NEW`: which connections a change adds, removes or changes (ports),
//! grouped by class, as a table, JSON or a pull-request comment (docs/snapshots.md).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use netpol_diag::{FileId, SourceMap, Span};
use netpol_graph::Analysis;
use netpol_manifest::model::Direction;
use netpol_snapshot::{Change, Diff, Snapshot};
use serde_json::json;

use crate::cmd::ExitStatus;
use crate::{cluster, input};

pub(crate) mod annotate;
mod git;
mod graph;

/// Arguments of `netpol diff`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  netpol diff old/ new/                        What the change opens and closes
  netpol diff --fail-on added old/ new/        Exit 1 when any access is new (a port too)
  netpol diff --format md netpol.snap k8s/     A pull-request comment against a snapshot
  netpol diff --git main..HEAD -- k8s/         Both sides from the repository, no checkout

PATHS are exactly two: OLD and NEW, each a manifest file or folder (with its own
netpol.yaml, if any) or a snapshot file written by `netpol snapshot`. Connections are
compared pair by pair of endpoints and shown by class. Exit codes: 0 (or no change of the
--fail-on kind), 1 a change of the --fail-on kind or error diagnostics, 2 usage or tool failure.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: input::InputArgs,
    #[command(flatten)]
    cluster: cluster::ClusterArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    format: DiffFormat,

    /// Exit 1 when a change of this kind exists: `added` (a new connection or port),
    /// `removed` (a lost connection or port), `any`.
    #[arg(long, value_enum, value_name = "KIND")]
    fail_on: Option<FailOn>,

    /// Compare two revisions A..B (B defaults to HEAD) of the repository in the current
    /// folder; PATHS (after `--`) are then the manifests inside it, default `.`.
    #[arg(long, value_name = "A..B")]
    git: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum DiffFormat {
    Table,
    Json,
    Md,
    /// Graphviz: the changed flows between classes, coloured by change.
    Dot,
    /// A Mermaid flowchart of the changed flows, coloured by change.
    Mermaid,
    /// GitHub workflow commands: a warning (new access) or notice per flow, on its rule.
    Github,
    /// SARIF 2.1.0: a result per flow that adds access, on its rule.
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FailOn {
    Added,
    Removed,
    Any,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    // Each side is a snapshot file or manifests (read, kept for the "because" chain).
    let (a, b) = if let Some(spec) = &args.git {
        let (ra, rb) = git::range(spec)?;
        let (ta, pa) = git::extract(&ra, "old", args.input.paths())?;
        let (tb, pb) = git::extract(&rb, "new", args.input.paths())?;
        let load = |paths: Vec<std::path::PathBuf>| {
            crate::side::read(&args.input.with_paths(paths), &args.cluster, true)
        };
        let sides = (
            Input::Read(Box::new(load(pa)?), Some(ta.root().to_path_buf())),
            Input::Read(Box::new(load(pb)?), Some(tb.root().to_path_buf())),
        );
        drop((ta, tb));
        sides
    } else {
        let [old, new] = args.input.paths() else {
            anyhow::bail!("netpol diff takes exactly two paths, OLD and NEW (or --git A..B)");
        };
        (side(args, old)?, side(args, new)?)
    };
    let (aa, ab) = (a.analysis(), b.analysis());
    let (sa, ka) = a.snapshot(aa.as_ref())?;
    let (sb, kb) = b.snapshot(ab.as_ref())?;
    let status = ka.max(kb);
    if status == ExitStatus::Error {
        return Ok(status);
    }
    let d = netpol_snapshot::diff(&sa, &sb);
    let why = because(&d, a.explainer(aa.as_ref()), b.explainer(ab.as_ref()));
    let text = match args.format {
        DiffFormat::Table => format!("{}\n{}", d.summary(), table(&d, &why)),
        DiffFormat::Json => serde_json::to_string_pretty(&to_json(&d, &why))? + "\n",
        DiffFormat::Md => markdown(&d, &why),
        DiffFormat::Dot => graph::dot(&d),
        DiffFormat::Mermaid => graph::mermaid(&d),
        DiffFormat::Github | DiffFormat::Sarif => {
            let (map, diags) = annotate::diagnostics(&d, &why, b.explainer(ab.as_ref()));
            if args.format == DiffFormat::Github {
                let mut s = String::new();
                netpol_diag::render::github(&mut s, &map, &diags).expect("writing to a String");
                s
            } else {
                let log = netpol_diag::render::sarif(&map, &diags, &crate::report::sarif_options());
                serde_json::to_string_pretty(&log)? + "\n"
            }
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the diff to stdout")?;
    let fails = match args.fail_on {
        Some(FailOn::Added) => d.has_new_access(),
        Some(FailOn::Removed) => d.has_lost_access(),
        Some(FailOn::Any) => !d.is_empty(),
        None => false,
    };
    Ok(if fails {
        status.max(ExitStatus::Failure)
    } else {
        status
    })
}

/// One side of a diff.
enum Input {
    File(Snapshot),
    /// Manifests read, and the `--git` folder they were read from.
    Read(Box<crate::side::Side>, Option<PathBuf>),
}

impl Input {
    fn analysis(&self) -> Option<Analysis<'_>> {
        match self {
            Input::File(_) => None,
            Input::Read(side, _) => Some(side.analysis()),
        }
    }

    fn snapshot(&self, analysis: Option<&Analysis<'_>>) -> anyhow::Result<(Snapshot, ExitStatus)> {
        match (self, analysis) {
            (Input::Read(side, _), Some(a)) => side.snapshot(a),
            (Input::File(s), _) => Ok((s.clone(), ExitStatus::Success)),
            (Input::Read(side, _), None) => side.snapshot(&side.analysis()),
        }
    }

    fn explainer<'a>(&'a self, analysis: Option<&'a Analysis<'a>>) -> Option<Explainer<'a>> {
        match (self, analysis) {
            (Input::Read(side, root), Some(analysis)) => Some(Explainer {
                analysis,
                map: &side.inputs.map,
                model: &side.inputs.model,
                root: root.as_deref(),
            }),
            _ => None,
        }
    }
}

/// A side's analysis and text, to name the rules behind a connection.
#[derive(Clone, Copy)]
pub(crate) struct Explainer<'a> {
    pub(crate) analysis: &'a Analysis<'a>,
    pub(crate) map: &'a SourceMap,
    pub(crate) model: &'a netpol_manifest::Model,
    /// The temporary folder a `--git` side was read from: file names are shown relative to
    /// it (as paths in the repository).
    pub(crate) root: Option<&'a Path>,
}

/// One link of the "because" chain: its text and, for a rule, where it is written (in the
/// side's source map).
#[derive(Clone, Debug)]
pub(crate) struct Reason {
    pub(crate) text: String,
    pub(crate) span: Option<Span>,
    /// The rule: policy `ns/name`, direction and index.
    pub(crate) rule: Option<(String, Direction, usize)>,
    /// The ports the rule allows for the pair.
    pub(crate) ports: Option<netpol_graph::PortSet>,
}

impl Explainer<'_> {
    /// A file's name as shown: relative to the `--git` folder, else as read.
    pub(crate) fn file_name(&self, file: FileId) -> String {
        let name = self.map.name(file);
        match self.root.and_then(|r| Path::new(name).strip_prefix(r).ok()) {
            Some(rel) => rel.display().to_string(),
            None => name.to_owned(),
        }
    }

    /// The rules that allow `from` to reach `to`, each with its place in the manifests; a
    /// direction no rule decides gives its reason instead.
    fn rules(&self, from: &str, to: &str) -> Vec<Reason> {
        let Some(e) = self.analysis.explain(from, to, None) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for dir in &e.directions {
            if dir.rules.is_empty() {
                if let Some(r) = dir.reasons.first() {
                    out.push(Reason {
                        text: format!(
                            "{} at {}: {r}",
                            dir.direction.as_str().to_ascii_lowercase(),
                            dir.at
                        ),
                        span: None,
                        rule: None,
                        ports: None,
                    });
                }
                continue;
            }
            for r in &dir.rules {
                let span = r.provenance.span;
                let at = self.map.start(span);
                out.push(Reason {
                    text: format!("{r} ({}:{})", self.file_name(span.file), at.line),
                    span: Some(span),
                    rule: Some((r.policy.clone(), r.provenance.direction, r.provenance.rule)),
                    ports: Some(r.ports.clone()),
                });
            }
        }
        out
    }
}

/// Whether a flow's access exists on the new side (added or widened), else the old one.
pub(crate) fn on_new_side(c: Change) -> bool {
    c.adds()
}

/// Per flow group, the rules responsible on the side where the access exists: the new side
/// for added or widened flows, the old side for removed or only narrowed ones.
pub(crate) fn because(
    d: &Diff,
    old: Option<Explainer<'_>>,
    new: Option<Explainer<'_>>,
) -> Vec<Vec<Reason>> {
    d.flows
        .iter()
        .map(|f| {
            let side = if on_new_side(f.change) { new } else { old };
            match (side, f.pairs.first()) {
                (Some(x), Some((a, b))) => x.rules(a, b),
                _ => Vec::new(),
            }
        })
        .collect()
}

/// One side: a snapshot file as it is, else manifests read like any command reads them.
fn side(args: &Args, path: &Path) -> anyhow::Result<Input> {
    if path.is_file() {
        let head = std::fs::read(path)
            .with_context(|| format!("reading {}", path.display()))?
            .starts_with(b"# netpol snapshot v");
        if head {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let snap =
                Snapshot::parse(&text).with_context(|| format!("reading {}", path.display()))?;
            return Ok(Input::File(snap));
        }
    }
    let input = args.input.with_paths(vec![path.to_path_buf()]);
    let side = crate::side::read(&input, &args.cluster, true)?;
    Ok(Input::Read(Box::new(side), None))
}

fn sign(c: Change) -> char {
    match c {
        Change::Added => '+',
        Change::Removed => '-',
        Change::Changed { .. } => '~',
    }
}

fn ports(d: &netpol_snapshot::FlowGroup) -> String {
    match (&d.old_ports, &d.new_ports) {
        (Some(o), Some(n)) => format!("{o} => {n}"),
        (Some(p), None) | (None, Some(p)) => p.clone(),
        (None, None) => String::new(),
    }
}

/// One line per flow group (`+` added, `-` removed, `~` ports changed) with the rules
/// responsible (`why`, parallel to the flows), then verdicts.
pub(crate) fn table(d: &Diff, why: &[Vec<Reason>]) -> String {
    let mut s = String::new();
    for (i, f) in d.flows.iter().enumerate() {
        let pairs = match f.pairs.len() {
            1 => String::new(),
            n => format!("  ({n} pairs)"),
        };
        let _ = writeln!(
            s,
            "{} {} {} -> {}  {}{pairs}",
            sign(f.change),
            f.section,
            f.from_class,
            f.to_class,
            ports(f)
        );
        for r in why.get(i).into_iter().flatten() {
            let _ = writeln!(s, "    because {}", r.text);
        }
    }
    for (k, (o, n)) in &d.semantics {
        let _ = writeln!(s, "! semantics {k}: {} => {}", show(o), show(n));
    }
    for (k, (o, n)) in &d.verdicts {
        let _ = writeln!(s, "! assertion {k}: {} => {}", show(o), show(n));
    }
    s
}

fn show(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(none)")
}

fn change_str(c: Change) -> &'static str {
    match c {
        Change::Added => "added",
        Change::Removed => "removed",
        Change::Changed { .. } => "changed",
    }
}

fn to_json(d: &Diff, why: &[Vec<Reason>]) -> serde_json::Value {
    let flows: Vec<_> = (d.flows.iter().enumerate())
        .map(|(i, f)| {
            let (widened, narrowed) = match f.change {
                Change::Changed { widened, narrowed } => (widened, narrowed),
                c => (c == Change::Added, c == Change::Removed),
            };
            json!({
                "change": change_str(f.change),
                "section": f.section.as_str(),
                "from": f.from_class,
                "to": f.to_class,
                "oldPorts": f.old_ports.as_ref().map(|p| p.split(',').collect::<Vec<_>>()),
                "newPorts": f.new_ports.as_ref().map(|p| p.split(',').collect::<Vec<_>>()),
                "newAccess": widened,
                "lostAccess": narrowed,
                "because": why.get(i).into_iter().flatten().map(|r| r.text.as_str()).collect::<Vec<_>>(),
                "pairs": f.pairs.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>(),
            })
        })
        .collect();
    let pair = |(o, n): &(Option<String>, Option<String>)| json!({"old": o, "new": n});
    json!({
        "version": 1,
        "summary": {
            "added": d.added(),
            "removed": d.removed(),
            "changed": d.changed(),
            "newAccess": d.has_new_access(),
            "lostAccess": d.has_lost_access(),
        },
        "flows": flows,
        "semantics": d.semantics.iter().map(|(k, v)| (k.clone(), pair(v))).collect::<serde_json::Map<_, _>>(),
        "verdicts": d.verdicts.iter().map(|(k, v)| (k.clone(), pair(v))).collect::<serde_json::Map<_, _>>(),
    })
}

/// A pull-request comment: the summary line, then the details folded.
fn markdown(d: &Diff, why: &[Vec<Reason>]) -> String {
    let mut s = format!("**netpol:** {}\n", d.summary());
    if d.is_empty() {
        return s;
    }
    s.push_str("\n<details><summary>Connectivity changes</summary>\n\n");
    s.push_str("| | kind | from | to | ports | because |\n| --- | --- | --- | --- | --- | --- |\n");
    for (i, f) in d.flows.iter().enumerate() {
        let why = (why.get(i).into_iter().flatten())
            .map(|r| r.text.as_str())
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            s,
            "| {} | {} | `{}` | `{}` | {} | {} |",
            sign(f.change),
            f.section,
            f.from_class,
            f.to_class,
            ports(f).replace('|', "\\|"),
            why.replace('|', "\\|")
        );
    }
    for (k, (o, n)) in &d.semantics {
        let _ = writeln!(s, "\nsemantics `{k}`: {} → {}", show(o), show(n));
    }
    for (k, (o, n)) in &d.verdicts {
        let _ = writeln!(s, "\nassertion `{k}`: {} → {}", show(o), show(n));
    }
    s.push_str("\n</details>\n");
    s
}
