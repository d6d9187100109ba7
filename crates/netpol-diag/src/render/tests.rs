//! Snapshots of every rendering shape, in the three formats (cargo-deny `codespan_output`).

use super::window::LONG_LINE;
use super::*;
use crate::Code;

const POLICY: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-api
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: api
  ingress:
    - ports:
        - port: 80800
";

/// Byte span of the `nth` (0-based) occurrence of `needle` in `text`.
fn find(file: FileId, text: &str, needle: &str, nth: usize) -> Span {
    let start = text
        .match_indices(needle)
        .nth(nth)
        .map(|(i, _)| i)
        .expect("test needle present");
    Span::new(file, start, start + needle.len())
}

/// Renders one case in all three formats, so each snapshot shows them side by side.
fn render_all(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut res = String::new();
    human(&mut res, map, diags, &HumanOptions::deterministic()).expect("writing to a String");
    res.push_str("---- short ----\n");
    short(&mut res, map, diags).expect("writing to a String");
    res.push_str("---- json ----\n");
    let json = serde_json::to_string_pretty(&json(map, diags)).expect("serialisable");
    res.push_str(&json);
    res.push('\n');
    res
}

#[test]
fn no_label() {
    let map = SourceMap::new();
    let diags = [Diagnostic::new(
        Code::IoError,
        "cannot read manifests/: No such file or directory (os error 2)",
    )
    .with_help("check that the path exists and is readable")];
    insta::assert_snapshot!(render_all(&map, &diags));
}

#[test]
fn one_label() {
    let mut map = SourceMap::new();
    let f = map.add("policy.yaml", POLICY);
    let diags = [
        Diagnostic::new(Code::PortOutOfRange, "port 80800 is outside 1-65535")
            .with_primary(find(f, POLICY, "80800", 0), "this port"),
    ];
    insta::assert_snapshot!(render_all(&map, &diags));
}

#[test]
fn primary_and_secondary_out_of_order() {
    let mut map = SourceMap::new();
    let f = map.add("policy.yaml", POLICY);
    // The secondary label comes first in the file but second in the list.
    let diags = [
        Diagnostic::new(Code::PortOutOfRange, "port 80800 is outside 1-65535")
            .with_primary(find(f, POLICY, "80800", 0), "this port")
            .with_secondary(
                find(f, POLICY, "podSelector", 0),
                "for the pods selected here",
            ),
    ];
    insta::assert_snapshot!(render_all(&map, &diags));
}

#[test]
fn two_files() {
    let mut map = SourceMap::new();
    let a = map.add("a.yaml", POLICY);
    let b = map.add("dir/b.yaml", POLICY);
    let diags = [Diagnostic::new(
        Code::DuplicateObject,
        "NetworkPolicy shop/allow-api is defined twice; the first definition is used",
    )
    .with_primary(find(b, POLICY, "allow-api", 0), "defined again here")
    .with_secondary(find(a, POLICY, "allow-api", 0), "first defined here")
    .with_help("remove one of the two, or rename one")];
    insta::assert_snapshot!(render_all(&map, &diags));
}

#[test]
fn notes_and_help() {
    let mut map = SourceMap::new();
    let f = map.add("policy.yaml", POLICY);
    let diags = [
        Diagnostic::new(Code::PortOutOfRange, "port 80800 is outside 1-65535")
            .with_primary(find(f, POLICY, "80800", 0), "this port")
            .with_help("use a port between 1 and 65535, or a named port")
            .with_note("the API server rejects this policy, so it is not applied at all")
            .with_note(
                "a long note wraps at the configured width so that terminals and snapshots \
             stay readable even when the text runs on for a while",
            ),
    ];
    insta::assert_snapshot!(render_all(&map, &diags));
}

#[test]
fn help_only() {
    let mut map = SourceMap::new();
    let f = map.add("policy.yaml", POLICY);
    let diags = [
        Diagnostic::new(Code::MissingName, "NetworkPolicy has no metadata.name")
            .with_primary(find(f, POLICY, "metadata", 0), "")
            .with_help("add metadata.name"),
    ];
    insta::assert_snapshot!(render_all(&map, &diags));
}

#[test]
fn non_ascii() {
    let text = "# Zugriff für das Frontend – ☃\nmetadata:\n  labels:\n    tëam: café\n";
    let mut map = SourceMap::new();
    let f = map.add("ünïcode.yaml", text);
    let diags = [Diagnostic::new(
        Code::InvalidLabelKey,
        "label key `tëam` is not a valid qualified name",
    )
    .with_primary(find(f, text, "tëam", 0), "not ASCII")];
    let rendered = render_all(&map, &diags);
    // Columns count characters: `tëam` starts in column 5 of line 4.
    assert!(rendered.contains("ünïcode.yaml:4:5: error[invalid-label-key]"));
    insta::assert_snapshot!(rendered);
}

#[test]
fn span_at_eof() {
    let text = "kind: NetworkPolicy\nspec: [";
    let mut map = SourceMap::new();
    let f = map.add("eof.yaml", text);
    let diags = [Diagnostic::new(
        Code::SyntaxError,
        "unexpected end of input in a flow sequence",
    )
    .with_primary(Span::new(f, text.len(), text.len()), "input ends here")];
    insta::assert_snapshot!(render_all(&map, &diags));
}

#[test]
fn empty_span() {
    let mut map = SourceMap::new();
    let f = map.add("policy.yaml", POLICY);
    let at = find(f, POLICY, "ingress", 0).start as usize;
    let diags = [Diagnostic::new(Code::SchemaError, "missing field `from`")
        .with_primary(Span::new(f, at, at), "expected here")];
    insta::assert_snapshot!(render_all(&map, &diags));
}

#[test]
fn empty_file() {
    let mut map = SourceMap::new();
    let f = map.add("empty.yaml", "");
    let diags = [
        Diagnostic::new(Code::EmptyInput, "empty.yaml holds no Kubernetes object")
            .with_primary(Span::new(f, 0, 0), ""),
    ];
    insta::assert_snapshot!(render_all(&map, &diags));
}

#[test]
fn severities_and_order() {
    let mut map = SourceMap::new();
    let f = map.add("policy.yaml", POLICY);
    // Given out of order: the renderers sort (no location first, then by offset).
    let diags = [
        Diagnostic::new(Code::PortOutOfRange, "port 80800 is outside 1-65535")
            .with_primary(find(f, POLICY, "80800", 0), "this port"),
        Diagnostic::new(
            Code::UnsupportedKind,
            "ConfigMap shop/x is not modelled; skipped",
        )
        .with_primary(find(f, POLICY, "kind", 0), ""),
        Diagnostic::new(Code::Yaml11Boolean, "`yes` is a string in YAML 1.2")
            .with_primary(find(f, POLICY, "api", 1), "quote this"),
        Diagnostic::new(Code::EmptyInput, "<stdin> holds no Kubernetes object"),
    ];
    let out = render_all(&map, &diags);
    let short_part = out.split("---- short ----\n").nth(1).unwrap_or("");
    let first_lines: Vec<&str> = short_part.lines().take(4).collect();
    assert!(first_lines[0].starts_with("netpol: warning[empty-input]"));
    assert!(first_lines[1].starts_with("policy.yaml:2:1: note[unsupported-kind]"));
    assert!(first_lines[3].starts_with("policy.yaml:12:17: error[port-out-of-range]"));
    insta::assert_snapshot!(out);
}

#[test]
fn ascii_and_colour_options() {
    let mut map = SourceMap::new();
    let f = map.add("policy.yaml", POLICY);
    let diags = [
        Diagnostic::new(Code::PortOutOfRange, "port 80800 is outside 1-65535")
            .with_primary(find(f, POLICY, "80800", 0), "this port"),
    ];
    let mut ascii = String::new();
    let opts = HumanOptions {
        color: false,
        width: 80,
        unicode: false,
    };
    human(&mut ascii, &map, &diags, &opts).expect("writing to a String");
    assert!(ascii.is_ascii(), "{ascii}");
    assert!(!ascii.contains('\u{1b}'));
    let mut colour = String::new();
    let opts = HumanOptions {
        color: true,
        ..HumanOptions::deterministic()
    };
    human(&mut colour, &map, &diags, &opts).expect("writing to a String");
    assert!(colour.contains('\u{1b}'), "colour output has ANSI escapes");
    insta::assert_snapshot!(ascii);
}

#[test]
fn stale_spans_do_not_panic() {
    let text = "é: 1\n";
    let mut map = SourceMap::new();
    let f = map.add("x.yaml", text);
    // Mid-character and past-the-end offsets, as a buggy producer might make them.
    let diags = [
        Diagnostic::new(Code::SyntaxError, "mid char").with_primary(Span::new(f, 1, 2), "here"),
        Diagnostic::new(Code::SyntaxError, "past end").with_primary(Span::new(f, 50, 90), "here"),
    ];
    let out = render_all(&map, &diags);
    assert!(out.contains("x.yaml:1:1: error[syntax-error]: mid char"));
    assert!(out.contains("x.yaml:2:1: error[syntax-error]: past end"));
}

#[test]
fn span_at_eof_after_newline() {
    let text = "spec:\n  ingress: [\n";
    let mut map = SourceMap::new();
    let f = map.add("eof.yaml", text);
    let diags = [
        Diagnostic::new(Code::SyntaxError, "unexpected end of input")
            .with_primary(Span::new(f, text.len(), text.len()), "input ends here"),
    ];
    let out = render_all(&map, &diags);
    assert!(out.contains("╰── input ends here"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn every_span_renders_without_error() {
    // Multi-byte characters, CRLF, a tab, and both with and without a final newline.
    for text in ["a: é\r\n\tb: [☃]\n", "x: ü\ny", "", "\n"] {
        let mut map = SourceMap::new();
        let f = map.add("t.yaml", text);
        let other = map.add("u.yaml", "k: v\n");
        let n = text.len() + 2;
        for start in 0..n {
            for end in start..n {
                let diags = [Diagnostic::new(Code::SyntaxError, "m")
                    .with_primary(Span::new(f, start, end), "p")
                    .with_secondary(Span::new(f, end, end + 1), "s")
                    .with_secondary(Span::new(other, start, end), "o")];
                let mut out = String::new();
                let res = human(&mut out, &map, &diags, &HumanOptions::deterministic());
                assert!(res.is_ok(), "{text:?} {start}..{end}");
                assert!(out.contains("error[syntax-error]: m"), "{out}");
                short(&mut out, &map, &diags).expect("writing to a String");
                let _ = json(&map, &diags);
            }
        }
    }
}

/// miette is handed only the lines around the labels (`Window`): line numbers, columns and
/// the merging of nearby labels must come out as if it had the whole file.
#[test]
fn labels_deep_in_a_large_file_keep_their_lines() {
    let mut text: String = (1..=5000).map(|i| format!("key{i}: value{i}\n")).collect();
    text.push_str("last: x");
    let mut map = SourceMap::new();
    let f = map.add("big.yaml", text.clone());
    let diags = [Diagnostic::new(Code::DuplicateKey, "key is repeated")
        .with_primary(find(f, &text, "key4999:", 0), "again here")
        .with_secondary(find(f, &text, "key4997:", 0), "first here")
        .with_secondary(find(f, &text, "key2:", 0), "and this one far away")];
    let mut out = String::new();
    human(&mut out, &map, &diags, &HumanOptions::deterministic()).expect("writing");
    assert!(out.contains("[big.yaml:4999:1]"), "{out}");
    for line in [
        " 2 │ key2: value2",
        "4997 │ key4997",
        "4999 │ key4999",
        "5000 │ key5000",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    // 4997 and 4999 share one snippet; line 2 has its own.
    assert_eq!(out.matches("╰────").count(), 2, "{out}");
    // An empty span at the very end of the file points at its last character.
    let end = Span::new(f, text.len(), text.len());
    let mut out = String::new();
    let d = [Diagnostic::new(Code::SyntaxError, "unexpected end").with_primary(end, "here")];
    human(&mut out, &map, &d, &HumanOptions::deterministic()).expect("writing");
    assert!(
        out.contains("[big.yaml:5001:7]") && out.contains("5001 │ last: x"),
        "{out}"
    );
}

/// A one-line document of 100 KB with an error near its end: miette pads with
/// `{:width$}`, which panicked past column 65,535. The line is cut around the label and
/// the header keeps the real column.
#[test]
fn a_label_past_column_65535_renders_a_cut_line() {
    let mut text = format!(
        "{{\"items\": [{}",
        "{\"kind\": \"ConfigMap\"}, ".repeat(5000)
    );
    let at = text.len();
    text.push_str("{\"port\": 80800}]}");
    let mut map = SourceMap::new();
    let f = map.add("long.json", text.clone());
    let diags = [
        Diagnostic::new(Code::PortOutOfRange, "port 80800 is outside 1-65535")
            .with_primary(find(f, &text, "80800", 0), "this port")
            .with_secondary(Span::new(f, at, at + 1), "in this object"),
        // A label longer than a whole cut line, and one right at the start.
        Diagnostic::new(Code::InvalidDocument, "long")
            .with_primary(Span::new(f, 0, text.len()), ""),
    ];
    let mut out = String::new();
    human(&mut out, &map, &diags, &HumanOptions::deterministic()).expect("writing");
    let col = at + "{\"port\": ".len() + 1;
    assert!(out.contains(&format!("[long.json:1:{col}]")), "{out}");
    assert!(out.contains(" 1 │ …\"ConfigMap\"}, {\"kind\""), "{out}");
    assert!(out.contains("{\"port\": 80800}]}"), "{out}");
    assert!(out.contains("[long.json:1:1]"), "{out}");
    // Every line of the frame is short: the cut keeps 60 characters either side.
    let longest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest < 2 * LONG_LINE, "{longest}: {out}");
    short(&mut out, &map, &diags).expect("writing");
    assert!(out.contains(&format!("long.json:1:{col}: error[port-out-of-range]")));
}

/// The window miette is handed holds the lines around each label, never what lies between
/// them: with the whole stretch (as before), 5,000 duplicates of one object, each pointing
/// back at the first, took time quadratic in their number.
#[test]
fn the_window_is_independent_of_the_distance_between_labels() {
    let text: String = (1..=20_000)
        .map(|i| format!("key{i}: value{i}\n"))
        .collect();
    let mut map = SourceMap::new();
    let f = map.add("big.yaml", text.clone());
    let sizes: Vec<usize> = [100, 10_000, 19_990]
        .iter()
        .map(|n| {
            let first = find(f, &text, "key2:", 0);
            let again = find(f, &text, &format!("key{n}:"), 0);
            let labels = [
                first.start as usize..first.end as usize,
                again.start as usize..again.end as usize,
            ];
            let (window, moved) = window::Window::new(&map, f, &labels, true);
            assert_eq!(&window.text()[moved[1].clone()], format!("key{n}:"));
            window.text().len()
        })
        .collect();
    // The same lines around each label whatever the distance; only their digits differ.
    assert!(sizes.iter().all(|&s| s < 200), "{sizes:?}");
    // And the frame still shows both places, with their own line numbers.
    let first = find(f, &text, "key2:", 0);
    let diags: Vec<Diagnostic> = (10_000..10_003)
        .map(|n| {
            Diagnostic::new(Code::DuplicateObject, "defined twice")
                .with_primary(find(f, &text, &format!("key{n}:"), 0), "again")
                .with_secondary(first, "first")
        })
        .collect();
    let mut out = String::new();
    human(&mut out, &map, &diags, &HumanOptions::deterministic()).expect("writing");
    assert_eq!(out.matches(" 2 │ key2: value2").count(), 3, "{out}");
    assert!(out.contains("10001 │ key10001: value10001"), "{out}");
}

/// A label over a whole long document is drawn on its first line: a frame shows the lines
/// around a place, never a whole document.
#[test]
fn a_label_over_many_lines_is_drawn_on_its_first() {
    let text: String = (1..=40).map(|i| format!("secret{i}: s{i}\n")).collect();
    let mut map = SourceMap::new();
    let f = map.add("values.yaml", text.clone());
    let diags = [
        Diagnostic::new(Code::InvalidDocument, "this object has no `kind`")
            .with_primary(Span::new(f, 0, text.len()), ""),
    ];
    let mut out = String::new();
    human(&mut out, &map, &diags, &HumanOptions::deterministic()).expect("writing");
    assert!(out.contains("secret1: s1"), "{out}");
    assert!(!out.contains("secret5:"), "{out}");
}

/// A file the caller marks as not to be quoted is located, never shown.
#[test]
fn an_unquoted_file_gets_no_frame() {
    let text = "TOKEN=hunter2\0HOME=/root\0";
    let mut map = SourceMap::new();
    let f = map.add("/proc/self/environ", text);
    map.set_quoted(f, false);
    let other = map.add("netpol.yaml", POLICY);
    let diags = [
        Diagnostic::new(Code::SyntaxError, "found unprintable character")
            .with_primary(Span::new(f, 13, 14), "here")
            .with_secondary(find(other, POLICY, "80800", 0), "listed here")
            .with_note("a note"),
    ];
    let out = render_all(&map, &diags);
    assert!(!out.contains("hunter2"), "{out}");
    insta::assert_snapshot!(out);
}

/// A file name or message with a newline or an escape still gives one line in `short`.
#[test]
fn short_escapes_control_characters() {
    let mut map = SourceMap::new();
    let f = map.add(
        "evil\nfake.yaml:1:1: error[x]: forged\r\u{1b}[2K.yaml",
        "a: b\n",
    );
    let diags = [
        Diagnostic::new(Code::SyntaxError, "bad\u{1b}[31m\u{7}\nthing")
            .with_primary(Span::new(f, 0, 1), "here"),
    ];
    let mut out = String::new();
    short(&mut out, &map, &diags).expect("writing");
    assert_eq!(
        out,
        "evil\\nfake.yaml:1:1: error[x]: forged\\r\\u{1b}[2K.yaml:1:1: error[syntax-error]: \
         bad\\u{1b}[31m\\u{7} thing\n"
    );
}

/// Without colour, the human format writes no control character but line breaks (and the
/// source's own tabs): names and messages cannot drive the terminal or forge a line.
#[test]
fn human_escapes_control_characters() {
    let mut map = SourceMap::new();
    let f = map.add("evil\n\u{1b}[2K.yaml", POLICY);
    let other = map.add("other\r.yaml", POLICY);
    let diags = [Diagnostic::new(Code::SyntaxError, "bad\u{1b}[31m name")
        .with_primary(find(f, POLICY, "80800", 0), "here\u{7}")
        .with_secondary(find(other, POLICY, "80800", 0), "there\u{1b}]0;x")
        .with_help("help\u{1b}")
        .with_note("note\u{1b}")];
    let mut out = String::new();
    human(&mut out, &map, &diags, &HumanOptions::deterministic()).expect("writing");
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    assert!(out.contains("[evil\\n\\u{1b}[2K.yaml:12:17]"), "{out}");
    assert!(
        out.contains("see other\\r.yaml:12:17: there\\u{1b}]0;x"),
        "{out}"
    );
    assert!(out.contains("bad\\u{1b}[31m name"), "{out}");
}

/// The source lines of a frame show control characters as `?`, so a manifest cannot drive
/// the terminal either; columns and underlines stay in place.
#[test]
fn frames_show_control_characters_as_question_marks() {
    let text = "a: 1 # \u{1b}[2J\u{85}x\r\nport: 80800\r\n";
    let mut map = SourceMap::new();
    let f = map.add("c.yaml", text);
    let diags = [
        Diagnostic::new(Code::PortOutOfRange, "port 80800 is outside 1-65535")
            .with_primary(find(f, text, "80800", 0), "this port"),
    ];
    let mut out = String::new();
    human(&mut out, &map, &diags, &HumanOptions::deterministic()).expect("writing");
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    assert!(out.contains(" 1 │ a: 1 # ?[2J??x\n"), "{out}");
    assert!(out.contains("[c.yaml:2:7]"), "{out}");
}

/// The CI formats on one case: sorted, notes left out of SARIF and JUnit, help URIs from
/// the code, a clean file as a passing JUnit case, a forged command escaped.
#[test]
fn ci_formats() {
    let mut map = SourceMap::new();
    let f = map.add("policy.yaml", POLICY);
    map.add("clean.yaml", "kind: Namespace\n");
    let diags = [
        Diagnostic::new(Code::PortOutOfRange, "port 80800 is outside 1-65535")
            .with_primary(find(f, POLICY, "80800", 0), "this port")
            .with_note("a note\n::error::forged"),
        Diagnostic::new(Code::UnsupportedKind, "ConfigMap shop/x is not modelled")
            .with_primary(find(f, POLICY, "kind", 0), ""),
        Diagnostic::new(Code::EmptyInput, "<stdin> holds no Kubernetes object"),
    ];
    let opts = SarifOptions {
        name: "netpol",
        version: "0.0.0",
        information_uri: "https://example.invalid/netpol",
        help_base: Some("https://example.invalid/docs/diagnostics.md"),
    };
    let mut out = serde_json::to_string_pretty(&sarif(&map, &diags, &opts)).expect("json");
    out.push_str("\n---- github ----\n");
    let mut gh = String::new();
    github(&mut gh, &map, &diags).expect("writing to a String");
    assert!(gh.lines().all(|l| !l.starts_with("::error::forged")));
    out.push_str(&gh);
    out.push_str("---- junit ----\n");
    out.push_str(&junit("netpol", &map, &diags).expect("junit"));
    insta::assert_snapshot!(out);
}

/// Suppressed findings come in file order among the others, each with one `inSource`
/// suppression; the justification only when the annotation gives a reason.
#[test]
fn sarif_suppressions() {
    let mut map = SourceMap::new();
    let f = map.add("policy.yaml", POLICY);
    let at = |needle: &str| find(f, POLICY, needle, 0);
    let active = [Diagnostic::new(Code::DnsPortTcpOnly, "late").with_primary(at("80800"), "")];
    let suppressed = [
        Suppressed {
            diagnostic: Diagnostic::new(Code::UnknownLabelKey, "early")
                .with_primary(at("kind"), ""),
            justification: Some("owned by the platform team".into()),
        },
        Suppressed {
            diagnostic: Diagnostic::new(Code::DuplicatePolicy, "no reason")
                .with_primary(at("kind"), ""),
            justification: None,
        },
    ];
    let opts = SarifOptions {
        name: "netpol",
        version: "0.0.0",
        information_uri: "https://example.invalid/netpol",
        help_base: None,
    };
    let v = sarif_with_suppressed(&map, &active, &suppressed, &opts);
    let results = v["runs"][0]["results"].as_array().expect("results");
    let got: Vec<(&str, &serde_json::Value)> = results
        .iter()
        .map(|r| {
            (
                r["message"]["text"].as_str().expect("text"),
                &r["suppressions"],
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "early",
                &json!([{"kind": "inSource", "justification": "owned by the platform team"}])
            ),
            ("no reason", &json!([{"kind": "inSource"}])),
            ("late", &serde_json::Value::Null),
        ]
    );
    let rules = v["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert_eq!(
        rules.len(),
        3,
        "a suppressed finding's rule is described too"
    );
    // Without suppressed findings the log is `sarif`'s.
    assert_eq!(
        sarif_with_suppressed(&map, &active, &[], &opts),
        sarif(&map, &active, &opts)
    );
}
