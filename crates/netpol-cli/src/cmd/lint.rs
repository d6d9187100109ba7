//! `netpol lint`: load and validate manifests, run the semantic lints (netpol-lint) on the
//! same model and profile as `matrix`, and report the diagnostics after suppressions,
//! severity overrides (netpol.yaml's `lints:` and the flags), excludes and the baseline.

use std::path::PathBuf;

use anyhow::Context as _;
use netpol_graph::Analysis;
use netpol_lint::{Baseline, DnsPlatform, Exclude, Level};
use netpol_manifest::config::Platform;

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
as `matrix` does. Severities, suppressions, excludes and baselines: docs/lint.md.")]
pub(crate) struct Args {
    #[command(flatten)]
    input: input::InputArgs,
    #[command(flatten)]
    cluster: cluster::ClusterArgs,
    #[command(flatten)]
    output: report::OutputArgs,

    /// Report these as errors: a code, a group (selectors, dns, coverage, named-ports, dead,
    /// vpc-cni) or `warnings` (repeatable; beats netpol.yaml's `lints:`).
    #[arg(long, value_name = "CODE")]
    deny: Vec<netpol_lint::Target>,

    /// Report these as warnings (repeatable).
    #[arg(long, value_name = "CODE")]
    warn: Vec<netpol_lint::Target>,

    /// Do not report these (repeatable). Error codes stay errors.
    #[arg(long, value_name = "CODE")]
    allow: Vec<netpol_lint::Target>,

    /// Do not report findings in files matching GLOB; their objects are still read
    /// (repeatable, added to netpol.yaml's `lints.exclude`).
    #[arg(long, value_name = "GLOB", value_parser = glob)]
    exclude: Vec<String>,

    /// Do not report the findings recorded in this baseline file.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,

    /// Record the findings in FILE as a baseline (replacing it); they are then not reported.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,

    /// With `--format sarif`: also list the findings that `netpol.dev/allow` suppressed, as
    /// results carrying `suppressions` (kind inSource, `netpol.dev/allow-reason` as the
    /// justification), which SARIF viewers hide. They never change the exit code.
    #[arg(long)]
    show_suppressed: bool,
}

fn glob(s: &str) -> Result<String, String> {
    Exclude::new([s]).map(|_| s.to_owned())
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    if args.show_suppressed && args.output.format() != report::Format::Sarif {
        anyhow::bail!(
            "--show-suppressed needs --format sarif (the other formats cannot mark a finding as suppressed)"
        );
    }
    // Read before the work, so that a missing file is a usage error at once.
    let baseline = match &args.baseline {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the baseline {}", path.display()))?;
            Some(
                Baseline::parse(&text)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("{} is not a netpol baseline", path.display()))?,
            )
        }
        None => None,
    };
    let inputs = workspace::load(&args.input, &args.cluster, Purpose::Analyse)?;
    let mut diags = inputs.diagnostics;
    let settings = match crate::config::locate(args.cluster.config(), args.input.folder_config()) {
        Some(path) => crate::config::lint_settings(&path, &inputs.map, &mut diags),
        None => crate::config::LintSettings::default(),
    };
    let options = netpol_lint::Options {
        dns: match args.cluster.apply(settings.cluster).platform {
            Platform::Eks => DnsPlatform::CoreDns,
            Platform::EksAutoMode => DnsPlatform::EksAutoMode,
        },
        ..netpol_lint::Options::default()
    };
    let analysis = Analysis::new(&inputs.model, &inputs.profile);
    diags.extend(analysis.diagnostics().iter().cloned());
    diags.extend(netpol_lint::lint(
        &inputs.model,
        &analysis,
        &inputs.map,
        &options,
    ));
    let mut suppressed = netpol_lint::suppress_keeping(&inputs.model, &inputs.map, &mut diags);
    // The config's `lints:` first, then the flags, which win at equal precedence.
    let mut levels = settings.levels;
    let mut globs = settings.exclude;
    for (targets, level) in [
        (&args.deny, Level::Deny),
        (&args.warn, Level::Warn),
        (&args.allow, Level::Allow),
    ] {
        for t in targets {
            levels.add(t.clone(), level);
        }
    }
    levels.apply(&mut diags);
    globs.extend(args.exclude.iter().cloned());
    let exclude = Exclude::new(globs.iter().map(String::as_str)).map_err(anyhow::Error::msg)?;
    exclude.apply(&inputs.map, &mut diags);
    // The same overrides and excludes decide which suppressed findings are listed.
    suppressed.retain_mut(|s| {
        let mut one = vec![s.diagnostic.clone()];
        levels.apply(&mut one);
        exclude.apply(&inputs.map, &mut one);
        match one.pop() {
            Some(d) => {
                s.diagnostic = d;
                true
            }
            None => false,
        }
    });
    // What the human summary says the baseline hid.
    let mut hidden = None;
    if let Some(path) = &args.write_baseline {
        let text = Baseline::write(&inputs.model, &inputs.map, &diags);
        std::fs::write(path, &text)
            .with_context(|| format!("writing the baseline {}", path.display()))?;
        let written = Baseline::parse(&text).map_err(anyhow::Error::msg)?;
        let n = written.filter(&inputs.model, &inputs.map, &mut diags);
        hidden = Some(format!("{n} recorded in {}", path.display()));
    } else if let (Some(b), Some(path)) = (&baseline, &args.baseline) {
        let n = b.filter(&inputs.model, &inputs.map, &mut diags);
        hidden = Some(format!("{n} more in the baseline {}", path.display()));
    }
    if args.show_suppressed {
        let log = netpol_diag::render::sarif_with_suppressed(
            &inputs.map,
            &diags,
            &suppressed,
            &report::sarif_options(),
        );
        report::print(&report::pretty(&log)?)?;
    } else {
        report::diagnostics(&args.output, &inputs.map, &diags, hidden.as_deref())?;
    }
    Ok(ExitStatus::from_diagnostics(&diags))
}
