//! Path excludes (`--exclude GLOB`, `lints.exclude` in netpol.yaml): the objects of an
//! excluded file stay in the model (a policy there still selects pods elsewhere), but its
//! findings are not reported, errors excepted (a file that does not parse still changes
//! what the others mean).

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use netpol_diag::{Diagnostic, Severity, SourceMap};

/// A set of file globs.
#[derive(Clone, Debug, Default)]
pub struct Exclude {
    set: Option<GlobSet>,
}

impl Exclude {
    /// Compiles the patterns; the error names the first bad one. `*` does not cross `/`,
    /// `**` does.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Result<Exclude, String> {
        let mut b = GlobSetBuilder::new();
        let mut any = false;
        for p in patterns {
            let glob = GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("`{p}` is not a valid glob: {}", e.kind()))?;
            b.add(glob);
            any = true;
        }
        if !any {
            return Ok(Exclude::default());
        }
        let set = b.build().map_err(|e| e.to_string())?;
        Ok(Exclude { set: Some(set) })
    }

    /// Whether a file name (as netpol prints it) is excluded: the pattern matches the
    /// whole path without a leading `./`, or a trailing part of it that starts after a
    /// `/` (so `vendor/**` excludes `charts/vendor/a.yaml`).
    pub fn matches(&self, name: &str) -> bool {
        let Some(set) = &self.set else {
            return false;
        };
        let name = name.replace('\\', "/");
        let mut rest = name.as_str();
        while let Some(r) = rest.strip_prefix("./") {
            rest = r;
        }
        loop {
            if set.is_match(rest) {
                return true;
            }
            match rest.split_once('/') {
                Some((_, tail)) if !tail.is_empty() => rest = tail,
                _ => return false,
            }
        }
    }

    /// Drops the findings located in excluded files, except errors of error codes.
    pub fn apply(&self, map: &SourceMap, diags: &mut Vec<Diagnostic>) {
        if self.set.is_none() {
            return;
        }
        diags.retain(|d| {
            d.code.default_severity() == Severity::Error
                || d.primary_span()
                    .is_none_or(|s| !self.matches(map.name(s.file)))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::Exclude;

    #[test]
    fn globs_match_whole_paths_and_trailing_parts() {
        let ex = Exclude::new(["vendor/**", "*.gen.yaml"]).unwrap();
        assert!(ex.matches("vendor/a.yaml"));
        assert!(ex.matches("./charts/vendor/sub/a.yaml"));
        assert!(ex.matches("k8s/x.gen.yaml"));
        assert!(!ex.matches("k8s/vendors/a.yaml"));
        assert!(!ex.matches("k8s/a.yaml"));
        assert!(!Exclude::new([]).unwrap().matches("a.yaml"));
        assert!(Exclude::new(["a/[b"]).unwrap_err().contains("a/[b"));
    }
}
