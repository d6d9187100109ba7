//! Docs that match the binary (issue 11, §6): every command in a block marked runnable in
//! README.md and docs/*.md runs and exits as the block says, and every flag that
//! docs/configuration.md documents is a flag of every command that reads manifests.
//!
//! The marker is a fenced block whose info string is `sh runnable`. Each line (a trailing
//! `\` continues it) is one `netpol ...` command, run from the repository root with this
//! build; a comment `# exit N` gives the exit code it must have (default 0). Quoting is
//! the shell's, for single and double quotes; pipes and redirections are not supported.

use std::path::PathBuf;

use super::{root, run};

/// README.md and docs/*.md, sorted.
fn markdown_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files.insert(0, root().join("README.md"));
    files
}

/// One runnable command: where it is, its arguments after `netpol`, its exit code.
#[derive(Debug)]
struct Example {
    at: String,
    args: Vec<String>,
    exit: i32,
}

fn runnable(name: &str, text: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            if in_block {
                assert!(
                    pending.is_none(),
                    "{name}:{i}: a `\\` continues past the block"
                );
                in_block = false;
            } else {
                let words: Vec<&str> = info.split_whitespace().collect();
                in_block = words == ["sh", "runnable"];
            }
            continue;
        }
        if !in_block || (trimmed.is_empty() && pending.is_none()) || trimmed.starts_with('#') {
            continue;
        }
        let (start, mut command) = pending.take().unwrap_or((i + 1, String::new()));
        if let Some(head) = trimmed.strip_suffix('\\') {
            command.push_str(head);
            command.push(' ');
            pending = Some((start, command));
            continue;
        }
        command.push_str(trimmed);
        out.push(parse(&format!("{name}:{start}"), &command));
    }
    out
}

/// `netpol ARGS... [# exit N: why]`.
fn parse(at: &str, command: &str) -> Example {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut comment = "";
    for (i, c) in command.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_default().push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (None, '#') if word.is_none() => {
                comment = &command[i + 1..];
                break;
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, '|' | '>' | '<' | ';' | '&' | '$' | '`') => {
                panic!("{at}: `{command}` needs a shell; runnable blocks hold plain commands")
            }
            (None, c) => word.get_or_insert_default().push(c),
        }
    }
    assert!(quote.is_none(), "{at}: unbalanced quote in `{command}`");
    words.extend(word);
    assert_eq!(
        words.first().map(String::as_str),
        Some("netpol"),
        "{at}: runnable blocks hold `netpol` commands: `{command}`"
    );
    let exit = comment.trim().strip_prefix("exit ").map_or(0, |rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("{at}: `# exit N` needs a number"))
    });
    Example {
        at: at.to_owned(),
        args: words.split_off(1),
        exit,
    }
}

#[test]
fn every_runnable_command_in_the_docs_runs() {
    let mut examples = Vec::new();
    for path in markdown_files() {
        let text = std::fs::read_to_string(&path).expect("read markdown");
        let name = path
            .strip_prefix(root())
            .unwrap_or(&path)
            .display()
            .to_string();
        examples.extend(runnable(&name, &text));
    }
    // The marker is in use: README, configuration.md, verify.md and output-formats.md.
    assert!(examples.len() >= 15, "{examples:#?}");
    let mut failures = Vec::new();
    for ex in &examples {
        let args: Vec<&str> = ex.args.iter().map(String::as_str).collect();
        let res = run(&args);
        if res.code != Some(ex.exit) {
            failures.push(format!(
                "{}: netpol {}: expected exit {}\n{}",
                ex.at,
                ex.args.join(" "),
                ex.exit,
                res.snapshot()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_marker_parser() {
    let text = "x\n```sh runnable\nnetpol lint a/ \\\n  --cni upstream  # exit 1: why\n\n\
                # a comment\nnetpol matrix --from 'shop/*' \"a b\"\n```\n```sh\nnetpol no\n```\n";
    let got = runnable("f.md", text);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].at, "f.md:3");
    assert_eq!(got[0].args, ["lint", "a/", "--cni", "upstream"]);
    assert_eq!(got[0].exit, 1);
    assert_eq!(got[1].args, ["matrix", "--from", "shop/*", "a b"]);
    assert_eq!(got[1].exit, 0);
}

/// The `--flags` docs/configuration.md names, in order of first mention.
fn documented_flags() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("docs/configuration.md")).expect("read");
    let mut flags: Vec<String> = Vec::new();
    for piece in text.split('`').skip(1).step_by(2) {
        let flag: String = piece
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if flag.starts_with("--") && flag.len() > 2 && !flags.contains(&flag) {
            flags.push(flag);
        }
    }
    flags
}

/// The long options a `--help` text lists.
fn help_flags(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l
                .strip_prefix("-")
                .filter(|r| r.len() > 2 && &r[1..3] == ", ")
                .map_or(l, |r| &r[3..]);
            l.starts_with("--").then(|| {
                l.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect()
            })
        })
        .collect()
}

/// docs/configuration.md says each setting's flag and that every command takes it: true
/// for every command, and every input or cluster flag is documented there.
#[test]
fn configuration_doc_matches_every_commands_flags() {
    let documented = documented_flags();
    for want in [
        "--config",
        "--allow-outside-config",
        "--cni",
        "--enforcing-mode",
        "--pod-cidr",
        "--service-cidr",
        "--node",
        "--namespace",
        "--max-file-size",
    ] {
        assert!(
            documented.iter().any(|f| f == want),
            "{want} not in configuration.md"
        );
    }
    let mut common: Option<Vec<String>> = None;
    for cmd in ["lint", "matrix", "explain", "verify"] {
        let res = run(&[cmd, "--help"]);
        assert_eq!(res.code, Some(0), "{}", res.snapshot());
        let flags = help_flags(&res.stdout);
        for f in &documented {
            assert!(
                flags.contains(f),
                "`netpol {cmd}` has no {f}:\n{}",
                res.stdout
            );
        }
        assert!(res.stdout.contains("[PATHS]..."), "{}", res.stdout);
        assert!(res.stdout.contains("-n, --namespace"), "{}", res.stdout);
        common = Some(match common {
            None => flags,
            Some(c) => c.into_iter().filter(|f| flags.contains(f)).collect(),
        });
    }
    // What every command takes is an input or cluster setting, and documented (a
    // command's own options, such as --format or --timeout, are described with it).
    let own = ["--format", "--color", "--help", "--version"];
    for f in common.unwrap_or_default() {
        assert!(
            own.contains(&f.as_str()) || documented.contains(&f),
            "{f}, a flag of every command, is not in docs/configuration.md"
        );
    }
}
