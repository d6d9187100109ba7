//! What every command reads, read one way: the manifests (PATHS, else the config's
//! `manifests`, else the config's folder, else the current folder) and `netpol.yaml`
//! (`config.rs`) with the cluster flags laid over its settings.

use std::path::{Path, PathBuf};

use netpol_config::ParsedConfig;
use netpol_diag::{Code, Diagnostic, SourceMap};
use netpol_graph::Profile;
use netpol_manifest::{Model, Source};

use crate::cluster::ClusterArgs;
use crate::input::InputArgs;

/// What the command does with the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `verify`: needs a valid config with assertions, and objects to prove them about.
    Verify,
    /// `lint`, `matrix`, `explain`: the config is optional and its assertions are ignored.
    Analyse,
}

/// The loaded input of one run.
pub(crate) struct Inputs {
    pub(crate) map: SourceMap,
    pub(crate) model: Model,
    pub(crate) profile: Profile,
    /// For `verify`: the valid config, its `cluster` replaced by the settings in force.
    pub(crate) config: Option<ParsedConfig>,
    /// The config's and the loader's diagnostics (and `no-objects`), not yet sorted.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// The config's `snapshot`, relative to the current folder, when it stays inside the
    /// config's folder (or `--allow-outside-config`) and no flag changes the config's
    /// cluster settings.
    pub(crate) snapshot: Option<PathBuf>,
}

/// Reads the config and the manifests. Problems with the input are diagnostics; reading
/// stdin or a named config that cannot be read, or (for `verify`) no config, is an error.
pub(crate) fn load(
    input: &InputArgs,
    cluster: &ClusterArgs,
    purpose: Purpose,
) -> anyhow::Result<Inputs> {
    let mut map = SourceMap::new();
    let path = crate::config::locate(cluster.config(), input.folder_config());
    let config = match path {
        Some(path) => Some(crate::config::read(
            &path,
            &mut map,
            purpose == Purpose::Verify,
        )?),
        None if purpose == Purpose::Verify => anyhow::bail!(
            "no netpol.yaml in the current folder; give one with --config FILE (docs/verify.md)"
        ),
        None => None,
    };
    let mut diagnostics = Vec::new();
    let mut sources = crate::input::sources(input)?;
    if !input.has_paths() {
        match &config {
            Some(c) if !c.manifests.is_empty() => {
                let base = base_of(&c.path);
                for (m, span) in &c.manifests {
                    let path = join_relative(base, m);
                    match crate::confine::outside(base, m, &path) {
                        Some(why) if !cluster.allow_outside_config() => {
                            diagnostics.push(crate::confine::refused(
                                "manifests entry",
                                m,
                                &why,
                                *span,
                            ));
                        }
                        _ => sources.push(Source::Path(path)),
                    }
                }
            }
            Some(c) => sources.push(Source::Path(base_of(&c.path).to_path_buf())),
            None => sources.push(Source::Path(PathBuf::from("."))),
        }
    }
    let loaded = netpol_manifest::load(&sources, &input.options(), &mut map);
    // The config itself is not a manifest (a folder source may include it): drop the
    // loader's findings about it.
    let config_path = config
        .as_ref()
        .and_then(|c| std::fs::canonicalize(&c.path).ok());
    let config_file = config.as_ref().map(|c| c.file);
    let is_config = |d: &Diagnostic| {
        d.primary_span().is_some_and(|s| {
            Some(s.file) == config_file
                || (config_path.is_some()
                    && std::fs::canonicalize(map.name(s.file)).ok() == config_path)
        })
    };
    let found: Vec<Diagnostic> = loaded
        .diagnostics
        .into_iter()
        .filter(|d| !is_config(d))
        .collect();
    let nothing = match purpose {
        // Every assertion would be proved about an empty cluster.
        Purpose::Verify => {
            is_empty(&loaded.model) && config.as_ref().is_some_and(|c| c.parsed.is_some())
        }
        // An empty folder or empty stdin is not a clean result; files of kinds netpol
        // skips are input.
        Purpose::Analyse => {
            is_empty(&loaded.model) && found.iter().all(|d| d.code == Code::EmptyInput)
        }
    };
    diagnostics.extend(found);
    let settings = cluster.apply(
        config
            .as_ref()
            .map(|c| c.cluster.clone())
            .unwrap_or_default(),
    );
    // The config's own addresses of the other family are its diagnostics already.
    let from_config = config
        .as_ref()
        .map(|c| c.cluster.off_family())
        .unwrap_or_default();
    if let Some((at, ip)) = settings
        .off_family()
        .into_iter()
        .find(|x| !from_config.contains(x))
    {
        anyhow::bail!(
            "`{ip}` (cluster{at}) is not of the cluster's IP family ({}); EKS clusters are single-stack: give --ip-family or addresses of one family",
            settings.ip_family.as_str()
        );
    }
    let mut parsed = None;
    let mut snapshot = None;
    if let Some(c) = config {
        match snapshot_of(&c, cluster) {
            // The snapshot was taken under the config's settings: a run whose flags change
            // them is a what-if, neither checked against it nor written over it.
            Ok(_) if settings != c.cluster => {}
            Ok(path) => snapshot = path,
            Err(refused) => diagnostics.push(*refused),
        }
        diagnostics.splice(0..0, c.diagnostics);
        parsed = c.parsed.map(|mut p| {
            p.verification.cluster = settings.clone();
            p
        });
    }
    if nothing {
        diagnostics.push(no_objects(purpose));
    }
    crate::input::quote_only_manifests(&mut map, &diagnostics);
    Ok(Inputs {
        map,
        model: loaded.model,
        profile: Profile::new(&settings),
        config: parsed,
        diagnostics,
        snapshot,
    })
}

fn no_objects(purpose: Purpose) -> Diagnostic {
    let message = match purpose {
        Purpose::Verify => "no Kubernetes object was loaded, so no assertion is checked",
        Purpose::Analyse => "no Kubernetes manifest was found in the input",
    };
    Diagnostic::new(Code::NoObjects, message).with_help(
        "give the files or folders with the manifests as PATHS (`-` for stdin), or list them \
         in `manifests` of netpol.yaml",
    )
}

/// The config's `snapshot` relative to the current folder, or its refusal when it leaves
/// the config's folder (without `--allow-outside-config`).
pub(crate) fn snapshot_of(
    c: &crate::config::Config,
    cluster: &ClusterArgs,
) -> Result<Option<PathBuf>, Box<Diagnostic>> {
    let Some((entry, span)) = c.parsed.as_ref().and_then(|p| p.snapshot.as_ref()) else {
        return Ok(None);
    };
    let base = base_of(&c.path);
    let path = join_relative(base, entry);
    match crate::confine::outside(base, entry, &path) {
        Some(why) if !cluster.allow_outside_config() => Err(Box::new(crate::confine::refused(
            "snapshot",
            entry,
            &why,
            Some(*span),
        ))),
        _ => Ok(Some(path)),
    }
}

/// The config's folder, against which its `manifests` are read.
fn base_of(config: &Path) -> &Path {
    config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Whether the manifests gave no object at all (namespaces only referenced do not count).
fn is_empty(m: &Model) -> bool {
    m.endpoints.is_empty()
        && m.services.is_empty()
        && m.policies.is_empty()
        && m.cluster_policies.is_empty()
        && m.namespaces.iter().all(|ns| ns.span.is_none())
}

/// `base/m` without `.` components, so that file names in every output read
/// `k8s/a.yaml`, not `k8s/./a.yaml` (`manifests: ["."]` is common).
fn join_relative(base: &Path, m: &str) -> PathBuf {
    let joined: PathBuf = base
        .join(m)
        .components()
        .filter(|c| *c != std::path::Component::CurDir)
        .collect();
    if joined.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::join_relative;

    #[test]
    fn manifest_paths_drop_current_dir_components() {
        assert_eq!(join_relative(Path::new("."), "."), PathBuf::from("."));
        assert_eq!(
            join_relative(Path::new("examples/shop"), "."),
            PathBuf::from("examples/shop")
        );
        assert_eq!(
            join_relative(Path::new("./a"), "./k8s/"),
            PathBuf::from("a/k8s")
        );
        assert_eq!(
            join_relative(Path::new("a"), "../b"),
            PathBuf::from("a/../b")
        );
    }
}
