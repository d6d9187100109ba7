//! `manifests` entries and the `snapshot` of `netpol.yaml` stay inside the config's folder.

use std::path::{Component, Path};

use netpol_diag::{Code, Diagnostic, Span};
use walkdir::WalkDir;

/// Why a `manifests` entry leads outside the config's folder, if it does. The entry comes
/// from a file anyone may edit in a pull request, and what is read may be echoed into a
/// CI log: it must stay in the repository. Symbolic links are resolved, so a link cannot
/// lead out either.
pub(crate) fn outside(base: &Path, entry: &str, path: &Path) -> Option<String> {
    let entry_path = Path::new(entry);
    if entry_path.has_root() || entry_path.is_absolute() {
        return Some("is an absolute path".to_owned());
    }
    // A Windows drive-relative path (`C:k8s`) has a prefix but no root.
    if entry_path
        .components()
        .any(|c| matches!(c, Component::Prefix(_)))
    {
        return Some("is an absolute path".to_owned());
    }
    if entry_path.components().any(|c| c == Component::ParentDir) {
        return Some("goes up with `..`".to_owned());
    }
    // A path that does not exist is the loader's `io-error`.
    let (Ok(base), Ok(real)) = (std::fs::canonicalize(base), std::fs::canonicalize(path)) else {
        return None;
    };
    if !real.starts_with(&base) {
        return Some(format!("resolves to {}", real.display()));
    }
    if real.is_dir() {
        return link_out_of(path, &base);
    }
    None
}

/// A symbolic link in the folder `dir` (followed as the loader follows them) that resolves
/// outside `base`, as the reason to refuse the folder. The loader reads a folder whole, so
/// one such link (`k8s/all -> /`) is enough. Unreadable entries and loops are left to the
/// loader, which reports them.
fn link_out_of(dir: &Path, base: &Path) -> Option<String> {
    let mut found = None;
    let walker = WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            if found.is_some() {
                return false;
            }
            if !e.path_is_symlink() {
                return true;
            }
            match std::fs::canonicalize(e.path()) {
                Ok(real) if !real.starts_with(base) => {
                    found = Some(format!(
                        "holds {}, a symbolic link to {}",
                        e.path().display(),
                        real.display()
                    ));
                    false
                }
                _ => true,
            }
        });
    walker.for_each(drop);
    found
}

/// The refusal of `what` (`manifests entry`, `snapshot`) `entry` for `why`.
pub(crate) fn refused(what: &str, entry: &str, why: &str, span: Option<Span>) -> Diagnostic {
    Diagnostic::new(
        Code::ManifestOutsideConfig,
        format!("{what} `{entry}` {why}, outside the folder of netpol.yaml; it is not read"),
    )
    .with_primary_opt(span, "outside the config's folder")
    .with_help(
        "list files and folders inside the folder of netpol.yaml, give the paths on the \
         command line, or pass --allow-outside-config",
    )
}
