//! Hostile or degenerate input to `netpol verify` and the renderers: forged workflow
//! commands, paths outside the config's folder, nothing to verify, bad encodings, memory.

use std::path::Path;

use super::{root, run_in};

/// A config in `dir` with `manifests` and `assertions` (YAML flow text).
fn config(dir: &Path, manifests: &str, assertions: &str) {
    std::fs::write(
        dir.join("netpol.yaml"),
        format!(
            "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nmanifests: {manifests}\n\
             assertions:\n{assertions}"
        ),
    )
    .expect("write netpol.yaml");
}

/// A namespace with one bare pod, so that there is something to verify.
fn manifests(dir: &Path) {
    std::fs::create_dir_all(dir.join("k8s")).expect("mkdir");
    std::fs::write(
        dir.join("k8s/pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\n\
         spec: {containers: [{name: c, image: nginx}]}\n",
    )
    .expect("write pod");
}

/// An assertion name with a line break and `::error` must not become a command of its own.
#[test]
fn github_format_escapes_every_field() {
    let tmp = tempfile::tempdir().expect("tempdir");
    manifests(tmp.path());
    config(
        tmp.path(),
        "[k8s]",
        "  - name: \"x\\n::error file=a.yaml,line=1::forged, 100%\"\n    isolated: {pods: {namespace: shop}}\n",
    );
    let res = run_in(tmp.path(), &["verify", "--format", "github"], b"");
    assert_eq!(res.code, Some(1), "{}{}", res.stdout, res.stderr);
    let commands: Vec<&str> = res.stdout.lines().filter(|l| l.starts_with("::")).collect();
    // Only netpol's own: the refutation, whose message quotes the name escaped.
    assert_eq!(commands.len(), 1, "{}", res.stdout);
    assert!(
        commands[0].starts_with("::error file=netpol.yaml,"),
        "{}",
        res.stdout
    );
    assert!(
        commands[0].contains("x%0A::error file=a.yaml,line=1::forged, 100%25"),
        "{}",
        commands[0]
    );
    assert!(
        res.stdout
            .contains("✗ x%0A::error file=a.yaml,line=1::forged, 100%25 (refuted)"),
        "{}",
        res.stdout
    );
}
