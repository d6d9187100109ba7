//! Text to a [`ParsedConfig`]: YAML with spans, serde, then the checks of `validate.rs`.

use netpol_diag::{Code, Diagnostic, FileId, SourceMap, Span};
use netpol_manifest::yaml;

use super::validate::check;
use super::{Intent, Verification};

/// Where the parts of one assertion are in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AssertionSpans {
    /// The whole assertion.
    pub whole: Option<Span>,
    /// Its `name` value.
    pub name: Option<Span>,
}

/// A config with the spans of its assertions.
#[derive(Clone, Debug)]
pub struct ParsedConfig {
    pub verification: Verification,
    /// Parallel to `verification.assertions`.
    pub spans: Vec<AssertionSpans>,
    /// Parallel to `verification.assertions`: each one typed, as the encoder reads it.
    pub intents: Vec<Intent>,
    /// The file's root span.
    pub root: Option<Span>,
    /// Parallel to `verification.manifests`: each entry's span.
    pub manifests: Vec<Option<Span>>,
    /// `snapshot` (relative to the config's folder, not yet confined) and its span.
    pub snapshot: Option<(String, Span)>,
}

/// Adds a config file's bytes to `map` under `name` and parses it like [`parse_config`].
/// A file that is not UTF-8 is an `invalid-utf8` diagnostic at its first invalid byte
/// (the map holds it with replacement characters), as for a manifest.
pub fn parse_config_bytes(
    name: String,
    bytes: Vec<u8>,
    map: &mut SourceMap,
) -> (FileId, Option<ParsedConfig>, Vec<Diagnostic>) {
    match String::from_utf8(bytes) {
        Ok(text) => {
            let file = map.add(name, text);
            let text = std::sync::Arc::clone(map.text(file));
            let (parsed, diags) = parse_config(file, &text);
            (file, parsed, diags)
        }
        Err(e) => {
            let bad = e.utf8_error().valid_up_to();
            let file = map.add(
                name.clone(),
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
            );
            // In the lossy text the bad bytes are one replacement character.
            let at = Span::new(file, bad, bad + '\u{fffd}'.len_utf8());
            let diag = Diagnostic::new(
                Code::InvalidUtf8,
                format!("{name} is not valid UTF-8; it is not read"),
            )
            .with_primary(at, "first invalid byte")
            .with_help("netpol.yaml must be UTF-8; re-encode it (e.g. `iconv -t UTF-8`)");
            (file, None, vec![diag])
        }
    }
}

/// Parses `netpol.yaml`. Returns `None` when the file is unusable; every problem is a
/// diagnostic (`invalid-config`) pointing at the offending node.
pub fn parse_config(file: FileId, text: &str) -> (Option<ParsedConfig>, Vec<Diagnostic>) {
    let (docs, mut diags) = yaml::parse_documents(file, text, &yaml::Limits::default());
    let mut docs = docs.into_iter();
    let Some(doc) = docs.next() else {
        if diags.is_empty() {
            diags.push(
                Diagnostic::new(Code::InvalidConfig, "netpol.yaml is empty")
                    .with_primary(Span::new(file, 0, 0), "expected a Verification document"),
            );
        }
        return (None, diags);
    };
    if let Some(extra) = docs.next() {
        diags.push(
            Diagnostic::new(Code::InvalidConfig, "netpol.yaml must hold one document")
                .with_primary(extra.span, "extra document"),
        );
    }
    let v: Verification = match serde_path_to_error::deserialize(&doc.value) {
        Ok(v) => v,
        Err(e) => {
            let pointer = to_pointer(e.path());
            let span = doc.nearest_span_of(&pointer);
            diags.push(
                Diagnostic::new(Code::InvalidConfig, format!("netpol.yaml: {}", e.inner()))
                    .with_primary(span, "here")
                    .with_help("see docs/verify.md and docs/netpol.schema.json"),
            );
            return (None, diags);
        }
    };
    let before = diags.iter().filter(|d| d.is_error()).count();
    check(&v, &doc, &mut diags);
    let spans = (0..v.assertions.len())
        .map(|i| AssertionSpans {
            whole: doc.span_of(&format!("/assertions/{i}")),
            name: doc.span_of(&format!("/assertions/{i}/name")),
        })
        .collect();
    let ok = diags.iter().filter(|d| d.is_error()).count() == before;
    // Valid assertions have exactly one body, so `Intent::of` drops none of them.
    let intents = v.assertions.iter().filter_map(Intent::of).collect();
    let manifests = (0..v.manifests.len())
        .map(|i| doc.span_of(&format!("/manifests/{i}")))
        .collect();
    let snapshot = v
        .snapshot
        .clone()
        .map(|path| (path, doc.nearest_span_of("/snapshot")));
    let parsed = ParsedConfig {
        verification: v,
        spans,
        intents,
        root: Some(doc.span),
        manifests,
        snapshot,
    };
    (ok.then_some(parsed), diags)
}

fn to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut s = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => s.push_str(&format!("/{index}")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                s.push('/');
                s.push_str(&yaml::escape(key));
            }
            Segment::Unknown => {}
        }
    }
    s
}
