//! Shared input handling: PATHS and `-` become loader sources; the loader does the rest.
//!
//! Every command that reads manifests flattens [`InputArgs`] (and `cluster::ClusterArgs`)
//! and calls `workspace::load`, so paths, stdin, the default namespace and the size limit
//! behave the same everywhere.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context as _, ensure};
use std::collections::BTreeSet;

use netpol_diag::{Diagnostic, FileId, SourceMap};
use netpol_manifest::{LoadOptions, Source};

/// Where manifests come from, and loading limits.
#[derive(Debug, clap::Args)]
pub(crate) struct InputArgs {
    /// Manifest files or folders (read recursively: .yaml, .yml, .json); `-` reads stdin.
    /// With none, the config's `manifests` (else its folder, else the current folder).
    #[arg(value_name = "PATHS")]
    paths: Vec<PathBuf>,

    /// The namespace of objects that do not name one.
    #[arg(short = 'n', long, value_name = "NAME", default_value = "default")]
    namespace: String,

    /// Skip files larger than this (bytes; K, M and G suffixes are powers of 1024).
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    max_file_size: u64,

    /// One note per skipped object (a kind netpol does not model) instead of one summary.
    #[arg(short = 'v', long)]
    verbose: bool,
}

impl InputArgs {
    /// The folder's own netpol.yaml when the input is exactly one folder that has one.
    pub(crate) fn folder_config(&self) -> Option<PathBuf> {
        let [dir] = self.paths.as_slice() else {
            return None;
        };
        let config = dir.join("netpol.yaml");
        (dir.is_dir() && config.is_file()).then_some(config)
    }

    /// The same flags over other PATHS (`netpol diff` reads each side alone).
    pub(crate) fn with_paths(&self, paths: Vec<PathBuf>) -> InputArgs {
        InputArgs {
            paths,
            namespace: self.namespace.clone(),
            max_file_size: self.max_file_size,
            verbose: self.verbose,
        }
    }

    /// The PATHS given.
    pub(crate) fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Whether PATHS were given (else the config's `manifests`, or a folder, are read).
    pub(crate) fn has_paths(&self) -> bool {
        !self.paths.is_empty()
    }

    pub(crate) fn options(&self) -> LoadOptions {
        LoadOptions {
            default_namespace: self.namespace.clone(),
            max_file_bytes: self.max_file_size,
            each_skipped: self.verbose,
        }
    }
}

/// PATHS as loader sources, stdin read whole; only failing to read stdin is an error
/// (problems with the files are the loader's diagnostics).
pub(crate) fn sources(args: &InputArgs) -> anyhow::Result<Vec<Source>> {
    let stdin_count = args.paths.iter().filter(|p| p.as_os_str() == "-").count();
    ensure!(stdin_count <= 1, "`-` (stdin) can be given only once");
    let mut sources = Vec::with_capacity(args.paths.len());
    for path in &args.paths {
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            // One byte past the limit is enough to refuse it: endless stdin stops there.
            std::io::stdin()
                .lock()
                .take(args.max_file_size.saturating_add(1))
                .read_to_end(&mut bytes)
                .context("reading stdin")?;
            sources.push(Source::Bytes {
                name: "<stdin>".to_owned(),
                bytes,
            });
        } else {
            sources.push(Source::Path(path.clone()));
        }
    }
    Ok(sources)
}

/// Marks every file that `diags` point into and that does not look like a Kubernetes
/// manifest (or netpol.yaml) as not to be quoted: its diagnostics say `path:line:col`, and
/// no code frame echoes its text. A secret passed as a manifest (`/proc/self/environ`, a
/// `.env`, a Helm values file) must not end up in a CI log.
///
/// A file looks like a manifest when it has both an `apiVersion` and a `kind` key, as a
/// YAML line (`kind: Pod`, `- kind: Pod`) or a JSON member (`"kind": "Pod"`); the test is
/// textual, so a manifest with a syntax error still gets its frame. Only files with
/// diagnostics are scanned.
pub(crate) fn quote_only_manifests(map: &mut SourceMap, diags: &[Diagnostic]) {
    let files: BTreeSet<FileId> = diags
        .iter()
        .flat_map(|d| d.labels.iter().map(|l| l.span.file))
        .collect();
    for file in files {
        let text = map.text(file);
        if !(has_key(text, "apiVersion") && has_key(text, "kind")) {
            map.set_quoted(file, false);
        }
    }
}

fn has_key(text: &str, key: &str) -> bool {
    let quoted = format!("\"{key}\"");
    let json = text
        .match_indices(&quoted)
        .any(|(i, q)| text[i + q.len()..].trim_start().starts_with(':'));
    json || text.lines().any(|line| {
        line.trim_start_matches([' ', '\t', '-'])
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with(':'))
    })
}

/// `1048576`, `512K`, `64M`, `1G` (also `KiB`/`MiB`/`GiB`).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size such as 1048576, 512K or 64M"))?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return Err(format!("unknown size unit `{unit}`; use K, M or G")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::{has_key, parse_size};

    #[test]
    fn manifests_are_told_by_their_keys() {
        let yes = |t: &str| has_key(t, "apiVersion") && has_key(t, "kind");
        assert!(yes("apiVersion: v1\nkind: Pod\n"));
        assert!(yes("items:\n- apiVersion: v1\n  kind: Pod\n"));
        assert!(yes("{\"apiVersion\" : \"v1\", \"kind\":\"Pod\"}"));
        assert!(yes(
            "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nspec: ["
        ));
        assert!(!yes("TOKEN=hunter2\0kind=x\0apiVersion=1\0"));
        assert!(!yes("password: hunter2\nkindness: 1\napiVersion: v1\n"));
        assert!(!yes("[default]\naws_secret_access_key = x\n"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("512K"), Ok(512 * 1024));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert!(parse_size("18446744073709551615G").is_err());
    }
}
