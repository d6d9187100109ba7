//! The checks behind the fuzz targets, one function per target. Each takes arbitrary bytes
//! and panics when netpol breaks a promise on them: a panic inside netpol, or a diagnostic
//! whose span lies outside its file or off a character boundary. The AFL++ harnesses in
//! `fuzz_targets/` call these; `tests/regressions.rs` replays every saved crasher through
//! them with plain `cargo test`, no fuzzer needed.

use std::fmt::Write as _;

use netpol_diag::render::{self, HumanOptions};
use netpol_diag::{Diagnostic, SourceMap};
use netpol_manifest::{LoadOptions, Loaded, Source};

/// A target's checks: panics when netpol mishandles the input.
pub type Check = fn(&[u8]);

/// The targets, by the name `fuzz/run.sh` and `testdata/fuzz-regressions/` use.
pub const TARGETS: &[(&str, Check)] = &[("load", load), ("config", config), ("render", render)];

/// The manifest loader on `data` as one file. The name only changes messages (the loader
/// parses JSON as YAML), so JSON-looking input gets a `.json` name and the rest `.yaml`.
pub fn load(data: &[u8]) {
    let mut map = SourceMap::new();
    let loaded = load_bytes(data, &mut map);
    check_spans(&map, &loaded.diagnostics);
}

/// The `netpol.yaml` parser ([`netpol_config::parse_config`]) on `data`. Invalid UTF-8
/// is replaced first: the CLI refuses such a file before parsing, so only text is worth
/// exploring.
pub fn config(data: &[u8]) {
    let mut map = SourceMap::new();
    let file = map.add("netpol.yaml", String::from_utf8_lossy(data).into_owned());
    let text = map.text(file).clone();
    let (parsed, diags) = netpol_config::parse_config(file, &text);
    check_spans(&map, &diags);
    if let Some(parsed) = parsed {
        let spans = parsed.spans.iter().flat_map(|s| [s.whole, s.name]);
        for span in spans.chain([parsed.root]).flatten() {
            check_span(&map, span);
        }
    }
}

/// Loads `data` like [`load`], then renders every diagnostic with the human (two option
/// sets: the snapshot form, and narrow ASCII with colour), short and JSON renderers.
pub fn render(data: &[u8]) {
    let mut map = SourceMap::new();
    let loaded = load_bytes(data, &mut map);
    let diags = &loaded.diagnostics;
    let narrow = HumanOptions {
        color: true,
        width: 40,
        unicode: false,
    };
    for opts in [HumanOptions::deterministic(), narrow] {
        let mut out = String::new();
        render::human(&mut out, &map, diags, &opts).expect("human renderer failed");
    }
    let mut out = String::new();
    render::short(&mut out, &map, diags).expect("short renderer failed");
    assert_eq!(
        out.lines().count(),
        diags.len(),
        "short: one line per diagnostic"
    );
    let json = render::json(&map, diags);
    let items = json.as_array().expect("json renders an array");
    assert_eq!(items.len(), diags.len(), "json: one object per diagnostic");
    let mut text = String::new();
    write!(text, "{json}").expect("json serialises");
}

fn load_bytes(data: &[u8], map: &mut SourceMap) -> Loaded {
    let json = matches!(data.trim_ascii_start().first(), Some(b'{' | b'['));
    let name = if json { "input.json" } else { "input.yaml" };
    let source = Source::Bytes {
        name: name.into(),
        bytes: data.to_vec(),
    };
    netpol_manifest::load(&[source], &LoadOptions::default(), map)
}

fn check_spans(map: &SourceMap, diags: &[Diagnostic]) {
    for label in diags.iter().flat_map(|d| &d.labels) {
        check_span(map, label.span);
    }
}

/// Every span must lie inside a file of `map`, on character boundaries.
fn check_span(map: &SourceMap, span: netpol_diag::Span) {
    assert!(
        span.file.index() < map.files().count(),
        "span {span:?} names a file not in the map"
    );
    let text = map.text(span.file);
    let (s, e) = (span.start as usize, span.end as usize);
    assert!(
        s <= e && e <= text.len(),
        "span {s}..{e} outside a file of {} bytes",
        text.len()
    );
    assert!(
        text.is_char_boundary(s) && text.is_char_boundary(e),
        "span {s}..{e} splits a character"
    );
}
