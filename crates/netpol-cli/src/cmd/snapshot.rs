//! `netpol snapshot`: the connectivity as a sorted, diff-friendly file to commit
//! (docs/snapshots.md), `--accept` to promote the `FILE.new` a drift check wrote, and the
//! drift check `netpol verify --snapshot FILE` runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use netpol_snapshot::Snapshot;

use crate::cmd::ExitStatus;
use crate::side::{Side, read};
use crate::{cluster, input, report, workspace};

/// Arguments of `netpol snapshot`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  netpol snapshot examples/eks-shop                 Write examples/eks-shop/netpol.snap
  netpol snapshot -o - k8s/                         The snapshot on stdout
  netpol verify --snapshot netpol.snap k8s/         Fail (exit 1) when the connectivity drifted
  netpol snapshot --accept -o netpol.snap           Promote the netpol.snap.new verify wrote
  netpol snapshot --accept                          The same, for the netpol.yaml in force

The file defaults to the `snapshot:` of the netpol.yaml in force, else netpol.snap beside
it, else stdout; --accept finds it the same way, reading no manifest. With a
netpol.yaml, its assertions are proved and their verdicts recorded. Exit codes: 0 written,
1 error diagnostics in the input (the snapshot is then of what loaded), 2 usage or tool failure.
See docs/snapshots.md.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: input::InputArgs,
    #[command(flatten)]
    cluster: cluster::ClusterArgs,

    /// Where to write the snapshot (`-` for stdout).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Promote FILE.new (written by `netpol verify --snapshot FILE`) to FILE, without
    /// reading any manifest.
    #[arg(long, visible_alias = "update")]
    accept: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    if args.accept {
        let target = match &args.output {
            Some(o) => Some(o.clone()),
            None => configured(args)?,
        };
        let Some(target) = target.filter(|t| t != Path::new("-")) else {
            anyhow::bail!(
                "--accept needs the snapshot file: give it with -o FILE, or as `snapshot:` in netpol.yaml"
            );
        };
        let new = new_path(&target);
        anyhow::ensure!(
            new.exists(),
            "nothing to accept: {} does not exist (`netpol verify --snapshot {}` writes it when the connectivity drifted)",
            new.display(),
            target.display()
        );
        std::fs::rename(&new, &target)
            .with_context(|| format!("moving {} to {}", new.display(), target.display()))?;
        note(&format!("accepted {}\n", target.display()));
        return Ok(ExitStatus::Success);
    }
    let side = read(&args.input, &args.cluster, true)?;
    let (snap, status) = side.snapshot(&side.analysis())?;
    if status == ExitStatus::Error {
        return Ok(status);
    }
    let target = match (&args.output, &side.inputs.config) {
        (Some(o), _) => Some(o.clone()),
        (None, Some(c)) if c.verification.snapshot.is_some() => side.inputs.snapshot.clone(),
        (None, _) => crate::config::locate(args.cluster.config(), args.input.folder_config())
            .map(|c| c.with_file_name("netpol.snap")),
    };
    let text = snap.render();
    match target {
        Some(t) if t != Path::new("-") => {
            std::fs::write(&t, text).with_context(|| format!("writing {}", t.display()))?;
            note(&format!("wrote {}\n", t.display()));
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("writing the snapshot to stdout")?;
        }
    }
    Ok(status)
}

/// The snapshot file of the netpol.yaml in force, read without any manifest: its
/// `snapshot:`, else `netpol.snap` beside it; `None` without a netpol.yaml.
fn configured(args: &Args) -> anyhow::Result<Option<PathBuf>> {
    let Some(path) = crate::config::locate(args.cluster.config(), args.input.folder_config())
    else {
        return Ok(None);
    };
    let mut map = netpol_diag::SourceMap::new();
    let config = crate::config::read(&path, &mut map, false)?;
    match workspace::snapshot_of(&config, &args.cluster) {
        Ok(Some(file)) => Ok(Some(file)),
        Ok(None) => Ok(Some(path.with_file_name("netpol.snap"))),
        Err(refused) => {
            report::diagnostics_to_stderr(&map, &[*refused])?;
            anyhow::bail!("the `snapshot:` of {} is refused", path.display())
        }
    }
}

/// `FILE.new` beside `FILE`.
pub(crate) fn new_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".new");
    PathBuf::from(s)
}

/// The drift check of `netpol verify --snapshot FILE`: compares the connectivity of
/// `side` (the input `verify` read, its diagnostics already reported) with FILE. On a
/// difference it prints the diff, writes FILE.new (or, with `NETPOL_UPDATE_SNAPSHOTS=1`,
/// FILE itself) and fails. `verdicts` are the run's own.
pub(crate) fn drift(
    side: &Side,
    file: &Path,
    verdicts: &[(String, String)],
    to_stdout: bool,
) -> anyhow::Result<ExitStatus> {
    Ok(drift_report(side, file, verdicts, to_stdout)?.status)
}

/// What a drift check found: its exit status and, when the connectivity drifted, the
/// diagnostics for a report (`snapshot-drift`, then one `flow-*` per flow group, labelled
/// in the side's own source map).
pub(crate) struct Drift {
    pub(crate) status: ExitStatus,
    pub(crate) diagnostics: Vec<netpol_diag::Diagnostic>,
}

/// [`drift`], with the diagnostics.
pub(crate) fn drift_report(
    side: &Side,
    file: &Path,
    verdicts: &[(String, String)],
    to_stdout: bool,
) -> anyhow::Result<Drift> {
    let done = |status| Drift {
        status,
        diagnostics: Vec::new(),
    };
    let analysis = side.analysis();
    let mut now = side.connectivity(&analysis);
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the snapshot {}", file.display()))?;
    let old = Snapshot::parse(&text).with_context(|| format!("reading {}", file.display()))?;
    // A drift check alone proves nothing: it keeps the recorded verdicts.
    now.verdicts = if verdicts.is_empty() {
        old.verdicts.clone()
    } else {
        verdicts.iter().cloned().collect()
    };
    let d = netpol_snapshot::diff(&old, &now);
    let update = std::env::var_os("NETPOL_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let mut msg = String::new();
    if d.flows.is_empty() && d.semantics.is_empty() {
        // Same connectivity: keep the file unless only the verdicts moved and we update.
        if update && now.render() != text {
            std::fs::write(file, now.render())
                .with_context(|| format!("writing {}", file.display()))?;
        }
        msg.push_str(&format!(
            "snapshot {}: connectivity unchanged\n",
            file.display()
        ));
        emit(&msg, to_stdout)?;
        return Ok(done(ExitStatus::Success));
    }
    msg.push_str(&format!(
        "snapshot {}: the connectivity drifted: {}\n",
        file.display(),
        d.summary()
    ));
    let explainer = crate::cmd::diff::Explainer {
        analysis: &analysis,
        map: &side.inputs.map,
        model: &side.inputs.model,
        root: None,
    };
    let why = crate::cmd::diff::because(&d, None, Some(explainer));
    msg.push_str(&crate::cmd::diff::table(&d, &why));
    if update {
        std::fs::write(file, now.render())
            .with_context(|| format!("writing {}", file.display()))?;
        msg.push_str(&format!(
            "updated {} (NETPOL_UPDATE_SNAPSHOTS=1)\n",
            file.display()
        ));
        emit(&msg, to_stdout)?;
        return Ok(done(ExitStatus::Success));
    }
    let new = new_path(file);
    std::fs::write(&new, now.render()).with_context(|| format!("writing {}", new.display()))?;
    msg.push_str(&format!(
        "wrote {}; review it, then `netpol snapshot --accept -o {}`\n",
        new.display(),
        file.display()
    ));
    emit(&msg, to_stdout)?;
    let mut diagnostics = vec![
        netpol_diag::Diagnostic::new(
            netpol_diag::Code::SnapshotDrift,
            format!(
                "the connectivity differs from the snapshot {}: {}",
                file.display(),
                d.summary()
            ),
        )
        .with_help(format!(
            "review {}, then `netpol snapshot --accept -o {}`",
            new.display(),
            file.display()
        )),
    ];
    diagnostics.extend(crate::cmd::diff::annotate::in_place(&d, &why, explainer));
    Ok(Drift {
        status: ExitStatus::Failure,
        diagnostics,
    })
}

fn emit(msg: &str, to_stdout: bool) -> anyhow::Result<()> {
    if to_stdout {
        let mut out = std::io::stdout().lock();
        out.write_all(msg.as_bytes())
            .and_then(|()| out.flush())
            .context("writing to stdout")
    } else {
        note(msg);
        Ok(())
    }
}

/// A line for the user on stderr (a closed stderr is ignored, like a closed pipe).
fn note(msg: &str) {
    let _ = std::io::stderr().lock().write_all(msg.as_bytes());
}
