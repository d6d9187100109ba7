//! `netpol diff OLD NEW`: which connections a change adds, removes or changes (ports),
//! grouped by class, as a table, JSON or a pull-request comment (docs/snapshots.md).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use netpol_snapshot::{Change, Diff, Snapshot};
use serde_json::json;

use crate::cmd::ExitStatus;
use crate::{cluster, input};

mod git;

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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FailOn {
    Added,
    Removed,
    Any,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    let ((a, sa), (b, sb)) = if let Some(spec) = &args.git {
        let (ra, rb) = git::range(spec)?;
        let (_ta, pa) = git::extract(&ra, "old", args.input.paths())?;
        let (_tb, pb) = git::extract(&rb, "new", args.input.paths())?;
        let load = |paths: Vec<std::path::PathBuf>| {
            crate::cmd::snapshot::take(&args.input.with_paths(paths), &args.cluster, true)
        };
        (load(pa)?, load(pb)?)
    } else {
        let [old, new] = args.input.paths() else {
            anyhow::bail!("netpol diff takes exactly two paths, OLD and NEW (or --git A..B)");
        };
        (side(args, old)?, side(args, new)?)
    };
    let status = sa.max(sb);
    if status == ExitStatus::Error {
        return Ok(status);
    }
    let d = netpol_snapshot::diff(&a, &b);
    let text = match args.format {
        DiffFormat::Table => format!("{}\n{}", d.summary(), table(&d)),
        DiffFormat::Json => serde_json::to_string_pretty(&to_json(&d))? + "\n",
        DiffFormat::Md => markdown(&d),
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

/// One side: a snapshot file as it is, else manifests read like any command reads them.
fn side(args: &Args, path: &Path) -> anyhow::Result<(Snapshot, ExitStatus)> {
    if path.is_file() {
        let head = std::fs::read(path)
            .with_context(|| format!("reading {}", path.display()))?
            .starts_with(b"# netpol snapshot v");
        if head {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let snap =
                Snapshot::parse(&text).with_context(|| format!("reading {}", path.display()))?;
            return Ok((snap, ExitStatus::Success));
        }
    }
    let input = args.input.with_paths(vec![path.to_path_buf()]);
    crate::cmd::snapshot::take(&input, &args.cluster, true)
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

/// One line per flow group (`+` added, `-` removed, `~` ports changed), then verdicts.
pub(crate) fn table(d: &Diff) -> String {
    let mut s = String::new();
    for f in &d.flows {
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

fn to_json(d: &Diff) -> serde_json::Value {
    let flows: Vec<_> = d
        .flows
        .iter()
        .map(|f| {
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
fn markdown(d: &Diff) -> String {
    let mut s = format!("**netpol:** {}\n", d.summary());
    if d.is_empty() {
        return s;
    }
    s.push_str("\n<details><summary>Connectivity changes</summary>\n\n");
    s.push_str("| | kind | from | to | ports |\n| --- | --- | --- | --- | --- |\n");
    for f in &d.flows {
        let _ = writeln!(
            s,
            "| {} | {} | `{}` | `{}` | {} |",
            sign(f.change),
            f.section,
            f.from_class,
            f.to_class,
            ports(f).replace('|', "\\|")
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
