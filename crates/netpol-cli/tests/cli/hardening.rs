//! Hostile or degenerate input to `netpol verify` and the renderers: forged workflow
//! commands, paths outside the config's folder, nothing to verify, bad encodings, memory.

use std::path::Path;

use super::run_in;

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

/// The human format lists assertion names on lines of their own: escaped too.
#[test]
fn human_format_escapes_assertion_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    manifests(tmp.path());
    config(
        tmp.path(),
        "[k8s]",
        "  - name: \"x\\n\\e[2Kforged\"\n    isolated: {pods: {namespace: shop}}\n",
    );
    let res = run_in(tmp.path(), &["verify", "--color", "never"], b"");
    assert_eq!(res.code, Some(1), "{}{}", res.stdout, res.stderr);
    assert!(
        res.stdout.starts_with("✗ x\\n\\u{1b}[2Kforged (refuted)\n"),
        "{}",
        res.stdout
    );
    assert!(!res.stdout.contains('\u{1b}'), "{}", res.stdout);
}

fn json(dir: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["verify", "--format", "json"];
    all.extend_from_slice(args);
    let res = run_in(dir, &all, b"");
    let v = serde_json::from_str(&res.stdout).unwrap_or_else(|e| panic!("{e}: {}", res.stdout));
    (res.code, v)
}

/// (code, line, column) of each diagnostic.
fn codes(v: &serde_json::Value) -> Vec<(String, u64, u64)> {
    v["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["line"].as_u64().unwrap_or(0),
                d["column"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

const ISOLATED: &str = "  - name: shop-isolated\n    isolated: {pods: {namespace: shop}}\n";

/// `manifests` stays inside the config's folder: absolute paths, `..` and symbolic links
/// out are refused at the entry (exit 2), unless `--allow-outside-config`.
#[test]
fn manifests_outside_the_config_folder_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    manifests(outside.path());
    let dir = tmp.path().join("repo");
    manifests(&dir);
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("k8s"), dir.join("link")).expect("symlink");
    config(
        &dir,
        "[\"/\", \"../x\", \"/proc/self/environ\", link, k8s]",
        ISOLATED,
    );
    let (code, v) = json(&dir, &[]);
    assert_eq!(code, Some(2), "{v:#}");
    let mut want = vec![
        ("manifest-outside-config".to_owned(), 3, 13),
        ("manifest-outside-config".to_owned(), 3, 18),
        ("manifest-outside-config".to_owned(), 3, 26),
    ];
    if cfg!(unix) {
        want.push(("manifest-outside-config".to_owned(), 3, 48));
    }
    let got: Vec<_> = codes(&v)
        .into_iter()
        .filter(|(c, ..)| c == "manifest-outside-config")
        .collect();
    assert_eq!(got, want, "{v:#}");
    // Nothing was read from outside, and the entry inside still was.
    assert_eq!(v["assertions"][0]["result"], "refuted", "{v:#}");
    // A link inside a listed folder cannot lead out either: the folder is refused.
    #[cfg(unix)]
    {
        std::fs::create_dir_all(dir.join("k8s2/sub")).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), dir.join("k8s2/sub/all")).expect("symlink");
        config(&dir, "[k8s, k8s2]", ISOLATED);
        let (code, v) = json(&dir, &[]);
        assert_eq!(code, Some(2), "{v:#}");
        let got: Vec<_> = codes(&v)
            .into_iter()
            .filter(|(c, ..)| c == "manifest-outside-config")
            .collect();
        assert_eq!(
            got,
            [("manifest-outside-config".to_owned(), 3, 18)],
            "{v:#}"
        );
        let message = v["diagnostics"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("holds k8s2/sub/all, a symbolic link to"),
            "{message}"
        );
        std::fs::remove_dir_all(dir.join("k8s2")).expect("rm");
    }
    // Trusted: the link is followed.
    config(&dir, "[link]", ISOLATED);
    let (code, v) = json(&dir, &["--allow-outside-config"]);
    assert_eq!(code, Some(1), "{v:#}");
    assert!(
        codes(&v)
            .iter()
            .all(|(c, ..)| c != "manifest-outside-config")
    );
}

/// Proving anything about no objects at all is a tool failure, not a pass.
#[test]
fn nothing_loaded_is_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    config(tmp.path(), "[netpol.yaml]", ISOLATED);
    let (code, v) = json(tmp.path(), &[]);
    assert_eq!(code, Some(2), "{v:#}");
    assert_eq!(codes(&v), [("no-objects".to_owned(), 0, 0)], "{v:#}");
    assert_eq!(v["assertions"].as_array().map(Vec::len), Some(0));
}

/// `directions: []` would assert isolation in no direction.
#[test]
fn empty_directions_are_invalid_config() {
    let tmp = tempfile::tempdir().expect("tempdir");
    manifests(tmp.path());
    config(
        tmp.path(),
        "[k8s]",
        "  - name: a\n    isolated: {pods: {}, directions: []}\n",
    );
    let (code, v) = json(tmp.path(), &[]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(codes(&v), [("invalid-config".to_owned(), 6, 38)], "{v:#}");
}

/// A netpol.yaml that is not UTF-8 gets a located diagnostic, like a manifest.
#[test]
fn a_config_that_is_not_utf8_is_located() {
    let tmp = tempfile::tempdir().expect("tempdir");
    manifests(tmp.path());
    std::fs::write(
        tmp.path().join("netpol.yaml"),
        b"apiVersion: netpol.dev/v1alpha1\nkind: Verification\nmanifests: [k8s]\n# caf\xe9\n",
    )
    .expect("write");
    let (code, v) = json(tmp.path(), &[]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(codes(&v), [("invalid-utf8".to_owned(), 4, 6)], "{v:#}");
}

/// A file that is not a Kubernetes manifest is located, never echoed: not in a code frame,
/// whatever its size and shape.
#[test]
fn a_file_that_is_not_a_manifest_is_never_echoed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    manifests(tmp.path());
    std::fs::write(
        tmp.path().join("k8s/environ.yaml"),
        "SECRET_TOKEN=hunter2\0HOME=/root\0",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("k8s/values.yaml"),
        "password: hunter3\nenabled: yes\nfoo: [1,\n",
    )
    .expect("write");
    config(tmp.path(), "[k8s]", ISOLATED);
    let res = run_in(tmp.path(), &["verify", "--color", "never"], b"");
    assert_eq!(res.code, Some(1), "{}", res.stdout);
    assert!(!res.stdout.contains("hunter"), "{}", res.stdout);
    assert!(
        res.stdout.contains("note: at k8s/environ.yaml:1:"),
        "{}",
        res.stdout
    );
    assert!(
        res.stdout.contains("note: at k8s/values.yaml:"),
        "{}",
        res.stdout
    );
    let lint = run_in(tmp.path(), &["lint", "--color", "never", "k8s"], b"");
    assert!(!lint.stdout.contains("hunter"), "{}", lint.stdout);
    assert!(
        lint.stdout.contains("error[syntax-error]"),
        "{}",
        lint.stdout
    );
    // A manifest still gets its frame.
    std::fs::write(
        tmp.path().join("k8s/pod.yaml"),
        "apiVersion: v1\nkind: Pod\nspec: [\n",
    )
    .expect("write");
    let lint = run_in(
        tmp.path(),
        &["lint", "--color", "never", "k8s/pod.yaml"],
        b"",
    );
    assert!(lint.stdout.contains(" 2 │ kind: Pod"), "{}", lint.stdout);
}

/// A 100 KB one-line JSON manifest with an error near its end: miette panicked past
/// column 65,535; the frame now shows the line cut around the error.
#[test]
fn an_error_past_column_65535_is_drawn() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cm = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "#;
    let text = format!(
        r#"{{"apiVersion": "v1", "kind": "List", "items": [{}{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "p"}}, "spec": {{"containers": [{{"name": "c", "ports": [{{"containerPort": 80800}}]}}]}}}}]}}"#,
        cm.repeat(1500)
    );
    std::fs::write(tmp.path().join("long.json"), &text).expect("write");
    let res = run_in(tmp.path(), &["lint", "--color", "never", "long.json"], b"");
    assert_eq!(res.code, Some(1), "{}{}", res.stdout, res.stderr);
    let col = text.find("80800").expect("port") + 1;
    assert!(
        res.stdout.contains(&format!("[long.json:1:{col}]")),
        "{}",
        res.stdout
    );
    assert!(res.stdout.lines().all(|l| l.chars().count() < 400));
}

/// Out of memory is exit 2 with a message, not an abort (134). 4,000 bare pods expanded to
/// pairs need far more than the 250 MB of address space the shell's `ulimit -v` leaves here.
#[cfg(unix)]
#[test]
fn out_of_memory_is_exit_2() {
    use std::fmt::Write as _;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut pods = String::new();
    for i in 0..4000 {
        let _ = write!(
            pods,
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: ns{}, labels: {{app: a{i}}}}}\n\
             spec: {{containers: [{{name: c, image: x}}]}}\n",
            i % 50
        );
    }
    std::fs::write(tmp.path().join("pods.yaml"), pods).expect("write");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 250000 && exec \"$0\" matrix --expand pods.yaml")
        .arg(env!("CARGO_BIN_EXE_netpol"))
        .current_dir(tmp.path())
        .output()
        .expect("running sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.ends_with(
            "netpol: error: out of memory: the input needs more memory than is available\n"
        ),
        "{stderr}"
    );
}

/// `matrix` reads the `cluster:` section of the same file: not UTF-8 is a located
/// diagnostic there too (it was an io error, exit 2).
#[test]
fn matrix_with_a_config_that_is_not_utf8() {
    let tmp = tempfile::tempdir().expect("tempdir");
    manifests(tmp.path());
    std::fs::write(
        tmp.path().join("netpol.yaml"),
        b"apiVersion: netpol.dev/v1alpha1\nkind: Verification\ncluster: {cni: vpc-cni} # \xff\n",
    )
    .expect("write");
    let res = run_in(
        tmp.path(),
        &["matrix", "--config", "netpol.yaml", "k8s"],
        b"",
    );
    assert_eq!(res.code, Some(1), "{}", res.stderr);
    assert!(res.stderr.contains("error[invalid-utf8]"), "{}", res.stderr);
    assert!(res.stderr.contains("[netpol.yaml:3:27]"), "{}", res.stderr);
}
