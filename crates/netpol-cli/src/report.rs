//! Shared diagnostics output: `--format human|short|json|sarif|github|junit` and
//! `--color auto|always|never`.
//!
//! Rendering itself is `netpol_diag::render`; this module only decides colour and width
//! from the terminal and writes the result. Diagnostics go to stdout (they are the
//! command's output); the human format's summary line goes to stderr.

use std::io::{self, IsTerminal as _, Write as _};

use anyhow::Context as _;
use netpol_diag::render::{self, HumanOptions};
use netpol_diag::{Diagnostic, Severity, SourceMap};

/// Output flags every command that prints diagnostics flattens.
#[derive(Debug, clap::Args)]
pub(crate) struct OutputArgs {
    /// Output format: code frames for people, one line each for editors, JSON, or for CI:
    /// SARIF (code scanning), GitHub workflow commands, JUnit XML.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// When to colour human output. auto: when the output is a terminal and NO_COLOR is unset.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

impl OutputArgs {
    pub(crate) fn format(&self) -> Format {
        self.format
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Human,
    Short,
    Json,
    Sarif,
    Github,
    Junit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Width of human output when stdout is not a terminal.
const DEFAULT_WIDTH: usize = 100;

/// Prints `diags` to stdout in the chosen format, then (human format) a summary to stderr,
/// followed by `; {more}` when given (what a baseline hid).
pub(crate) fn diagnostics(
    args: &OutputArgs,
    map: &SourceMap,
    diags: &[Diagnostic],
    more: Option<&str>,
) -> anyhow::Result<()> {
    let mut text = String::new();
    match args.format {
        Format::Human => {
            let opts = human_options(args.color);
            render::human(&mut text, map, diags, &opts).context("rendering diagnostics")?;
        }
        Format::Short => render::short(&mut text, map, diags).context("rendering diagnostics")?,
        Format::Json => text = pretty(&render::json(map, diags))?,
        Format::Sarif => text = pretty(&render::sarif(map, diags, &sarif_options()))?,
        Format::Github => render::github(&mut text, map, diags).context("rendering diagnostics")?,
        Format::Junit => {
            text = render::junit("netpol lint", map, diags)
                .map_err(anyhow::Error::msg)
                .context("serialising JUnit XML")?;
        }
    }
    print(&text)?;
    if args.format == Format::Human {
        let files = map.files().count();
        let more = more.map(|m| format!("; {m}")).unwrap_or_default();
        writeln!(io::stderr(), "{}{more}", summary(files, diags)).context("writing the summary")?;
    }
    Ok(())
}

/// Writes rendered diagnostics to stdout.
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing diagnostics to stdout")
}

/// What SARIF says about the tool, for `verify` and `lint` alike: help URIs are the
/// codes' sections of docs/diagnostics.md.
pub(crate) fn sarif_options() -> render::SarifOptions<'static> {
    render::SarifOptions {
        name: "netpol",
        version: env!("CARGO_PKG_VERSION"),
        information_uri: "https://github.com/netpol-dev/netpol",
        help_base: Some("https://github.com/netpol-dev/netpol/blob/main/docs/diagnostics.md"),
    }
}

/// Pretty JSON ending in a newline.
pub(crate) fn pretty(v: &serde_json::Value) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(v).context("serialising the report")?;
    s.push('\n');
    Ok(s)
}

pub(crate) fn human_options(color: ColorChoice) -> HumanOptions {
    let tty = io::stdout().is_terminal();
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        // https://no-color.org: any non-empty value disables colour.
        ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let width = if tty {
        // Some terminals report a width of 0; never wrap narrower than a code frame needs.
        terminal_size::terminal_size().map_or(DEFAULT_WIDTH, |(w, _)| usize::from(w.0).max(40))
    } else {
        DEFAULT_WIDTH
    };
    HumanOptions {
        color,
        width,
        unicode: true,
    }
}

/// For commands whose stdout is something else (a matrix, an explanation): errors and
/// warnings go to stderr as code frames; notes (skipped kinds) are only counted.
pub(crate) fn diagnostics_to_stderr(map: &SourceMap, diags: &[Diagnostic]) -> anyhow::Result<()> {
    let shown: Vec<Diagnostic> = diags
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .cloned()
        .collect();
    if shown.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    let opts = HumanOptions {
        color: io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        width: DEFAULT_WIDTH,
        unicode: true,
    };
    render::human(&mut text, map, &shown, &opts).context("rendering diagnostics")?;
    io::stderr()
        .write_all(text.as_bytes())
        .context("writing diagnostics to stderr")?;
    Ok(())
}

/// `checked 3 files: 1 error, 2 warnings, 0 notes`.
fn summary(files: usize, diags: &[Diagnostic]) -> String {
    let count = |s: Severity| diags.iter().filter(|d| d.severity == s).count();
    format!(
        "checked {}: {}, {}, {}",
        plural(files, "file"),
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
        plural(count(Severity::Note), "note"),
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
