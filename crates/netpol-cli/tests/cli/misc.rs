//! Top-level flags and `netpol completions`.

use super::run;

#[test]
fn version() {
    let res = run(&["--version"]);
    assert_eq!(res.code, Some(0));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn help() {
    let res = run(&["--help"]);
    assert_eq!(res.code, Some(0));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn lint_help() {
    let res = run(&["lint", "--help"]);
    assert_eq!(res.code, Some(0));
    insta::assert_snapshot!(res.snapshot());
}

#[test]
fn no_subcommand_is_exit_2() {
    let res = run(&[]);
    assert_eq!(res.code, Some(2));
    assert!(
        res.stderr.contains("Usage: netpol <COMMAND>"),
        "{}",
        res.stderr
    );
}

#[test]
fn completions() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let res = run(&["completions", shell]);
        assert_eq!(res.code, Some(0), "{shell}: {}", res.stderr);
        assert!(
            res.stdout.contains("lint"),
            "{shell} completions mention lint"
        );
    }
    let res = run(&["completions", "tcsh"]);
    assert_eq!(res.code, Some(2));
}
