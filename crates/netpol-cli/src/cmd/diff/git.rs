//! `netpol diff --git A..B -- PATHS`: each side's manifests read from the repository's
//! objects with the git CLI (`git ls-tree`, `git show REV:PATH`), never from a checkout.
//! The files are copied into a temporary folder per side, removed afterwards.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

/// A side's files, in a temporary folder removed on drop.
pub(super) struct Tree {
    root: PathBuf,
}

impl Tree {
    /// The folder the side's files are in.
    pub(super) fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// `A..B` (B defaults to `HEAD`) as two revisions.
pub(super) fn range(spec: &str) -> anyhow::Result<(String, String)> {
    let (a, b) = spec
        .split_once("..")
        .with_context(|| format!("--git takes a range A..B, not `{spec}`"))?;
    anyhow::ensure!(!a.is_empty(), "--git `{spec}`: the old revision is missing");
    anyhow::ensure!(
        !b.starts_with('.'),
        "--git takes A..B; A...B is not supported"
    );
    let b = if b.is_empty() { "HEAD" } else { b };
    Ok((a.to_owned(), b.to_owned()))
}

fn git(args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let out = Command::new("git")
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    anyhow::ensure!(
        out.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(out.stdout)
}

/// Copies the manifests under `paths` (relative to the current folder) at `rev` into a
/// temporary folder; returns it and the paths to load inside it.
pub(super) fn extract(
    rev: &str,
    side: &str,
    paths: &[PathBuf],
) -> anyhow::Result<(Tree, Vec<PathBuf>)> {
    for p in paths {
        anyhow::ensure!(
            p.components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir)),
            "--git paths must lie inside the current folder, relative and without `..`: {}",
            p.display()
        );
    }
    let prefix = String::from_utf8(git(&["rev-parse", "--show-prefix"])?)
        .context("git rev-parse output")?
        .trim()
        .to_owned();
    let root = std::env::temp_dir().join(format!("netpol-diff-{}-{side}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let tree = Tree { root };
    let mut args = vec!["ls-tree", "-r", "-z", "--full-name", rev, "--"];
    let wanted: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    args.extend(wanted.iter().map(String::as_str));
    let listing = git(&args)?;
    for entry in listing.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let mut meta = meta.split(' ');
        let (mode, kind) = (meta.next(), meta.next());
        let manifest = [".yaml", ".yml", ".json"].iter().any(|e| path.ends_with(e));
        if kind != Some("blob") || mode == Some("120000") || !manifest {
            continue;
        }
        let text = git(&["show", &format!("{rev}:{path}")])?;
        let dest = tree.root.join(path);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&dest, text).with_context(|| format!("writing {}", dest.display()))?;
    }
    let base = tree.root.join(prefix);
    let load: Vec<PathBuf> = if paths.is_empty() {
        vec![base]
    } else {
        paths.iter().map(|p| base.join(p)).collect()
    };
    // A path the revision does not have is an empty side, not an error.
    for p in &load {
        if !p.exists() && Path::new(p).extension().is_none() {
            std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
        }
    }
    Ok((tree, load))
}
