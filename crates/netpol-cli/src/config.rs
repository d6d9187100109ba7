//! Finding and reading `netpol.yaml`, the same way for every command.
//!
//! `verify` needs the whole file valid; the other commands read only its `manifests` and
//! `cluster:` sections, so a broken assertion neither fails them nor hides the settings.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use netpol_config::{ParsedConfig, Verification};
use netpol_diag::{Diagnostic, FileId, SourceMap, Span};
use netpol_manifest::config::ClusterSettings;
use netpol_manifest::yaml;

/// What a command reads from `netpol.yaml`.
pub(crate) struct Config {
    pub(crate) path: PathBuf,
    pub(crate) file: FileId,
    /// The whole file, when it is valid (assertions included): what `verify` proves.
    pub(crate) parsed: Option<ParsedConfig>,
    /// `manifests` entries with their spans, relative to the config's folder.
    pub(crate) manifests: Vec<(String, Option<Span>)>,
    pub(crate) cluster: ClusterSettings,
    /// Problems with the file; for `assertions_matter: false`, none about assertions.
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// The config in force: `--config`, else the `netpol.yaml` of the single folder given as
/// PATHS, else `./netpol.yaml`, if present. The settings belong to the manifests they sit
/// with, so the input folder's file wins over the current folder's.
/// A `netpol.yaml` found by name (not given with `--config`) that is a Kubernetes manifest
/// (a NetworkPolicy saved as `netpol.yaml`, common in policy repositories) is not the
/// config: it is read as a manifest.
pub(crate) fn locate(explicit: Option<&Path>, folder_config: Option<PathBuf>) -> Option<PathBuf> {
    let default = Path::new("netpol.yaml");
    match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => folder_config.filter(|p| !is_manifest(p)).or_else(|| {
            (default.is_file() && !is_manifest(default)).then(|| default.to_path_buf())
        }),
    }
}

/// Whether a file's first document has an `apiVersion` and a `kind` that are not netpol's (a
/// Kubernetes object; a mistyped config keeps one of them). Large or unreadable files are
/// left to the config reader, which reports them.
fn is_manifest(path: &Path) -> bool {
    const MAX: u64 = 1 << 20;
    if std::fs::metadata(path).map_or(true, |m| m.len() > MAX) {
        return false;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return false;
    };
    let mut map = SourceMap::default();
    let file = map.add("netpol.yaml", String::new());
    let (docs, _) = yaml::parse_documents(file, text, &yaml::Limits::default());
    let Some(doc) = docs.first() else {
        return false;
    };
    let field = |k: &str| doc.value.get(k).and_then(|v| v.as_str());
    match (field("apiVersion"), field("kind")) {
        (Some(api), Some(kind)) => !api.starts_with("netpol.dev/") && kind != "Verification",
        _ => false,
    }
}

/// Reads and parses the config at `path` (a file that cannot be read is a tool failure).
pub(crate) fn read(
    path: &Path,
    map: &mut SourceMap,
    assertions_matter: bool,
) -> anyhow::Result<Config> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (file, parsed, mut diagnostics) =
        netpol_config::parse_config_bytes(path.display().to_string(), bytes, map);
    let (verification, manifest_spans, assertions_span) = match &parsed {
        Some(p) => (p.verification.clone(), p.manifests.clone(), None),
        None => lenient(file, map.text(file)).unwrap_or_default(),
    };
    if !assertions_matter {
        // Assertions are verify's business; only the rest of the file may fail the command.
        if let Some(a) = assertions_span {
            diagnostics.retain(|d| {
                d.primary_span()
                    .is_none_or(|s| s.file != a.file || s.start < a.start || s.end > a.end)
            });
        }
    }
    let manifests = verification
        .manifests
        .iter()
        .cloned()
        .zip(manifest_spans.into_iter().chain(std::iter::repeat(None)))
        .collect();
    Ok(Config {
        path: path.to_path_buf(),
        file,
        parsed,
        manifests,
        cluster: verification.cluster,
        diagnostics,
    })
}

/// The file without its `assertions`, when the rest of it is well-formed: its manifests
/// (with spans) and cluster settings, and where the assertions were.
fn lenient(file: FileId, text: &str) -> Option<(Verification, Vec<Option<Span>>, Option<Span>)> {
    let (docs, _) = yaml::parse_documents(file, text, &yaml::Limits::default());
    let doc = docs.into_iter().next()?;
    let assertions = doc.span_of("/assertions");
    let mut value = doc.value.clone();
    value.as_object_mut()?.remove("assertions");
    let v: Verification = serde_json::from_value(value).ok()?;
    let spans = (0..v.manifests.len())
        .map(|i| doc.span_of(&format!("/manifests/{i}")))
        .collect();
    Some((v, spans, assertions))
}

/// What `lint` reads from the config beyond what `workspace::load` does.
#[derive(Debug, Default)]
pub(crate) struct LintSettings {
    /// The `lints:` lists as overrides of origin `Config`.
    pub(crate) levels: netpol_lint::Levels,
    /// `lints.exclude`.
    pub(crate) exclude: Vec<String>,
    /// The `cluster:` section (flags not applied).
    pub(crate) cluster: ClusterSettings,
}

/// The `lints:` and `cluster:` sections of the config at `path`, which `load` already put in
/// `map`. An entry that names no code, group or `warnings`, or a bad glob, is an
/// `invalid-config` error at the entry; a section serde refuses is already one of `read`.
pub(crate) fn lint_settings(
    path: &Path,
    map: &SourceMap,
    diagnostics: &mut Vec<Diagnostic>,
) -> LintSettings {
    let mut out = LintSettings::default();
    let name = path.display().to_string();
    let Some(file) = map.files().find(|&f| map.name(f) == name) else {
        return out;
    };
    let (docs, _) = yaml::parse_documents(file, map.text(file), &yaml::Limits::default());
    let Some(doc) = docs.into_iter().next() else {
        return out;
    };
    if let Some(Ok(c)) = doc
        .value
        .get("cluster")
        .map(|v| serde_json::from_value(v.clone()))
    {
        out.cluster = c;
    }
    let Some(Ok(lints)) =
        (doc.value.get("lints")).map(|v| serde_json::from_value::<netpol_config::Lints>(v.clone()))
    else {
        return out;
    };
    let bad = |ptr: String, message: String, help: &str| {
        Diagnostic::new(netpol_diag::Code::InvalidConfig, message)
            .with_primary(doc.nearest_span_of(&ptr), "here")
            .with_help(help.to_owned())
    };
    for (key, list, level) in [
        ("deny", &lints.deny, netpol_lint::Level::Deny),
        ("warn", &lints.warn, netpol_lint::Level::Warn),
        ("allow", &lints.allow, netpol_lint::Level::Allow),
    ] {
        for (i, entry) in list.iter().enumerate() {
            match entry.parse::<netpol_lint::Target>() {
                Ok(t) => out.levels.add_from(netpol_lint::Origin::Config, t, level),
                Err(why) => diagnostics.push(bad(
                    format!("/lints/{key}/{i}"),
                    format!("netpol.yaml: lints.{key}: {why}"),
                    "see docs/lint.md",
                )),
            }
        }
    }
    for (i, glob) in lints.exclude.iter().enumerate() {
        match netpol_lint::Exclude::new([glob.as_str()]) {
            Ok(_) => out.exclude.push(glob.clone()),
            Err(why) => diagnostics.push(bad(
                format!("/lints/exclude/{i}"),
                format!("netpol.yaml: lints.exclude: {why}"),
                "`*` matches within a folder, `**` across folders, `?` one character, `[ab]` a class",
            )),
        }
    }
    out
}
