//! YAML and JSON text to `serde_json::Value` documents, with an exact byte span for every
//! node, read the way Kubernetes reads YAML.
//!
//! The parser is saphyr's event stream (YAML 1.2 syntax). On top of it this module applies
//! the YAML 1.1 reading of `sigs.k8s.io/yaml` (go-yaml v2), which is what `kubectl` and the
//! API server use: `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0755` is octal, `1_000` is an
//! integer, and `<<` merge keys are applied in document order as go-yaml v2 applies them (a
//! key before the merge is overridden by it, a key after it wins). Scalars whose 1.1 and 1.2
//! readings differ are recorded as [`Ambiguity`]s so that callers can warn about them.
//!
//! Every node's span is recorded in a [`SpanIndex`] addressed by RFC 6901 JSON pointer
//! (`/spec/ingress/0/ports/1/port`): [`Document::span_of`] gives the value's span,
//! [`Document::key_span_of`] the span of the mapping key that holds it. A node that came
//! from an alias keeps the span of the anchored text it copies.
//!
//! Documents are framed the way kubectl frames them ([`split`]): a stream whose first
//! character is `{` is strict JSON ([`json`]); otherwise every line that starts with `---`
//! ends a document, and only the first YAML document of each piece is read. Stages:
//! `split` (bytes, documents), `events` (saphyr events to a node tree with spans),
//! `convert` (tree to JSON, merge keys, keys as JSON strings) and `resolve` (YAML 1.1
//! scalars).
//!
//! Bad input never panics and never stops the other documents of a file: a broken
//! document gets one diagnostic and the next `---` line starts afresh; aliases, nesting
//! depth and node counts are bounded by [`Limits`].

mod convert;
mod events;
mod json;
mod node;
mod quoted;
mod resolve;
pub(crate) mod split;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::ops::Range;

use netpol_diag::{Code, Diagnostic, FileId, SourceMap, Span};
use serde_json::Value;

/// Bounds that keep hostile input cheap.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Deepest nesting of collections accepted in one document.
    pub max_depth: usize,
    /// Nodes that alias expansion may add to a document beyond its own nodes. The budget
    /// is the larger of this and the document's own node count.
    pub max_alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 200,
            max_alias_nodes: 1_000_000,
        }
    }
}

/// Which YAML 1.1 reading differs from the YAML 1.2 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmbiguityKind {
    /// `yes`, `off`, `Y`...: a boolean in YAML 1.1, a string in YAML 1.2.
    Boolean,
    /// `0755`: octal in YAML 1.1, decimal in YAML 1.2.
    Octal,
}

/// An unquoted scalar that Kubernetes (YAML 1.1) reads differently from YAML 1.2 tools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ambiguity {
    pub kind: AmbiguityKind,
    /// The scalar's text.
    pub text: String,
    /// How Kubernetes reads it (`true`, `493`).
    pub read_as: String,
    /// How a YAML 1.2 reader reads it (`"yes"`, `755`).
    pub yaml12: String,
    /// Whether the scalar is a mapping key (then it becomes the key `true`, `493`...).
    pub is_key: bool,
    pub span: Span,
}

impl Ambiguity {
    /// The `yaml11-boolean` / `yaml11-octal` warning for this scalar.
    pub fn diagnostic(&self) -> Diagnostic {
        let code = match self.kind {
            AmbiguityKind::Boolean => Code::Yaml11Boolean,
            AmbiguityKind::Octal => Code::Yaml11Octal,
        };
        let what = if self.is_key { "key" } else { "value" };
        Diagnostic::new(
            code,
            format!(
                "unquoted {what} `{}` is read as {} by Kubernetes (YAML 1.1), but as {} by YAML 1.2 tools",
                self.text, self.read_as, self.yaml12
            ),
        )
        .with_primary(self.span, format!("read as {}", self.read_as))
        .with_help(match self.kind {
            AmbiguityKind::Boolean => format!(
                "quote it (\"{}\") if a string is meant, or write `{}` to say so explicitly",
                self.text, self.read_as
            ),
            AmbiguityKind::Octal => format!(
                "write `{}` (or `{}` if decimal was meant) so that every tool reads the same number; quote it if a string is meant",
                self.read_as,
                self.text.trim_start_matches(['0', '+', '-']).replace('_', "")
            ),
        })
    }
}

/// Spans of one node: its value and, for a mapping entry, its key.
#[derive(Clone, Debug, Default)]
struct SpanNode {
    start: u32,
    end: u32,
    key: Option<(u32, u32)>,
    kids: Kids,
}

#[derive(Clone, Debug, Default)]
enum Kids {
    #[default]
    Leaf,
    Seq(Vec<SpanNode>),
    /// In the order of the value's map entries (serde_json keeps insertion order with
    /// its `preserve_order` feature, which the workspace enables), so keys are not
    /// stored twice.
    Map(Vec<SpanNode>),
}

/// JSON pointer to span lookup for one document.
#[derive(Clone, Debug, Default)]
pub struct SpanIndex {
    root: SpanNode,
}

impl SpanIndex {
    /// The deepest node along `pointer` and whether the whole pointer was found.
    fn walk<'s>(&'s self, mut value: &Value, pointer: &str) -> (&'s SpanNode, bool) {
        let mut node = &self.root;
        if pointer.is_empty() {
            return (node, true);
        }
        let Some(rest) = pointer.strip_prefix('/') else {
            return (node, false);
        };
        for raw in rest.split('/') {
            let seg = unescape(raw);
            let next = match (&node.kids, value) {
                (Kids::Seq(items), Value::Array(values)) => seg
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| Some((items.get(i)?, values.get(i)?))),
                (Kids::Map(items), Value::Object(map)) if items.len() == map.len() => map
                    .iter()
                    .position(|(k, _)| *k == seg)
                    .and_then(|i| Some((items.get(i)?, map.get(seg.as_ref())?))),
                _ => None,
            };
            match next {
                Some((n, v)) => {
                    node = n;
                    value = v;
                }
                None => return (node, false),
            }
        }
        (node, true)
    }
}

/// One YAML document (or the whole of a JSON text) as a JSON value with spans.
#[derive(Clone, Debug)]
pub struct Document {
    pub value: Value,
    /// The root node's span.
    pub span: Span,
    pub index: SpanIndex,
    /// Unquoted scalars that YAML 1.1 and 1.2 read differently, in source order.
    pub ambiguities: Vec<Ambiguity>,
}

impl Document {
    /// The span of the value at an RFC 6901 pointer (`""` is the root).
    pub fn span_of(&self, pointer: &str) -> Option<Span> {
        let (node, found) = self.index.walk(&self.value, pointer);
        found.then(|| self.mk(node.start, node.end))
    }

    /// The span of the mapping key holding the value at `pointer`.
    pub fn key_span_of(&self, pointer: &str) -> Option<Span> {
        let (node, found) = self.index.walk(&self.value, pointer);
        if !found {
            return None;
        }
        node.key.map(|(s, e)| self.mk(s, e))
    }

    /// The span at `pointer`, or of its nearest existing ancestor (for missing fields).
    pub fn nearest_span_of(&self, pointer: &str) -> Span {
        let (node, _) = self.index.walk(&self.value, pointer);
        self.mk(node.start, node.end)
    }

    fn mk(&self, start: u32, end: u32) -> Span {
        Span {
            file: self.span.file,
            start,
            end,
        }
    }
}

/// Escapes one pointer segment (`a/b` becomes `a~1b`).
pub fn escape(segment: &str) -> Cow<'_, str> {
    if segment.contains(['~', '/']) {
        Cow::Owned(segment.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(segment)
    }
}

fn unescape(segment: &str) -> Cow<'_, str> {
    if segment.contains('~') {
        Cow::Owned(segment.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(segment)
    }
}

/// Parses every document of a YAML or JSON text. `text` must be the whole file that
/// `file` names, so that spans are file-relative. Documents that are empty (only comments,
/// or nothing between two `---`) or `null` are left out, as kubectl leaves them out.
/// Diagnostics cover syntax errors, nesting, alias expansion and duplicate keys;
/// [`Document::ambiguities`] are left to the caller.
pub fn parse_documents(
    file: FileId,
    text: &str,
    limits: &Limits,
) -> (Vec<Document>, Vec<Diagnostic>) {
    parse_range(file, text, 0..text.len(), limits)
}

/// Decodes `bytes` as kubectl does (UTF-16 when it starts with a byte order mark, UTF-8
/// otherwise, where a document holding an invalid byte is refused with `invalid-utf8`),
/// adds the text to `map` as `name`, and parses every document.
pub fn parse_bytes(
    name: &str,
    bytes: Vec<u8>,
    map: &mut SourceMap,
    limits: &Limits,
) -> (FileId, Vec<Document>, Vec<Diagnostic>) {
    let decoded = split::decode(bytes);
    let file = map.add(name, decoded.text);
    let text = std::sync::Arc::clone(map.text(file));
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    parse_range_with(
        file,
        &text,
        0..text.len(),
        &decoded.bad,
        limits,
        &mut diags,
        &mut |d, _| docs.push(d),
    );
    (file, docs, diags)
}

/// Parses the documents in `range`, a run of whole documents of `text` (see
/// [`split_documents`]). Spans stay relative to the whole text.
pub(crate) fn parse_range(
    file: FileId,
    text: &str,
    range: Range<usize>,
    limits: &Limits,
) -> (Vec<Document>, Vec<Diagnostic>) {
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    parse_range_with(file, text, range, &[], limits, &mut diags, &mut |d, _| {
        docs.push(d)
    });
    (docs, diags)
}

/// Like [`parse_range`], but hands each document to `sink` as soon as it is complete, so
/// that a caller can use and free it while it is still in the cache (loading a big file
/// then never holds more than one parsed document per thread). Diagnostics of a document
/// are in `diags` when the document reaches `sink`, which is given `diags` too. `bad`
/// lists the offsets of bytes that were not UTF-8 (see [`split::decode`]): a document
/// holding one is refused.
pub(crate) fn parse_range_with(
    file: FileId,
    text: &str,
    range: Range<usize>,
    bad: &[usize],
    limits: &Limits,
    diags: &mut Vec<Diagnostic>,
    sink: &mut dyn FnMut(Document, &mut Vec<Diagnostic>),
) {
    if split::is_json_stream(text) {
        json::parse_stream(file, text, range, bad, limits, diags, sink);
        return;
    }
    for piece in split::pieces(text, range) {
        match piece {
            split::Piece::BadSeparator { line, rest, .. } => {
                diags.push(split::bad_separator(file, &line, &rest));
            }
            split::Piece::Doc(r) => {
                if let Some(at) = split::first_bad(bad, &r) {
                    diags.push(split::invalid_utf8(file, at));
                } else if let Some((at, c)) = split::first_control(text, &r) {
                    diags.push(control_character(file, at, c));
                } else if let Some(at) = events::leading_tab(&text[r.clone()]) {
                    let at = r.start + at;
                    diags.push(
                        Diagnostic::new(
                            Code::SyntaxError,
                            "kubectl does not accept a tab at the start of a line outside a flow collection (`[...]`, `{...}`)",
                        )
                        .with_primary(Span::new(file, at, at + 1), "tab")
                        .with_help("indent with spaces; YAML forbids tabs in indentation"),
                    );
                } else if let Some((at, c)) = split::first_yaml11_break(text, &r) {
                    diags.push(
                        Diagnostic::new(
                            Code::SyntaxError,
                            format!("U+{:04X} is a line break for kubectl (YAML 1.1) but not for YAML 1.2 tools; netpol does not guess which is meant", c as u32),
                        )
                        .with_primary(Span::new(file, at, at + c.len_utf8()), "here")
                        .with_help("use a plain line break, or write the character as an escape (`\\u0085`) in a double-quoted string"),
                    );
                } else if let Some(line) = split::leading_directive(text, &r) {
                    diags.push(
                        Diagnostic::new(
                            Code::SyntaxError,
                            "kubectl does not accept `%` directives: it cuts the `---` line a directive needs",
                        )
                        .with_primary(Span::new(file, line.start, line.end), "directive")
                        .with_help("remove the directive; Kubernetes reads YAML 1.1 whatever `%YAML` says"),
                    );
                } else {
                    events::parse_piece(file, text, r, limits, diags, sink);
                }
            }
        }
    }
}

/// Splits `text` into runs of whole documents of roughly `target` bytes, at lines that
/// start with `---`, so that the runs can be parsed in parallel. A JSON stream is one run.
pub(crate) fn split_documents(text: &str, target: usize) -> Vec<Range<usize>> {
    split::runs(text, target)
}

fn control_character(file: FileId, at: usize, c: char) -> Diagnostic {
    Diagnostic::new(
        Code::SyntaxError,
        format!(
            "the control character U+{:04X} is not allowed in YAML; kubectl rejects this document",
            c as u32
        ),
    )
    .with_primary(Span::new(file, at, at + c.len_utf8()), "here")
    .with_help(
        "remove the character, or write it as an escape (`\\u00XX`) inside a double-quoted string",
    )
}

/// A one-character span at `at` (empty at a line end or the end of the text).
fn point_span(file: FileId, text: &str, at: usize) -> Span {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let len = text[at..]
        .chars()
        .next()
        .filter(|c| *c != '\n' && *c != '\r')
        .map_or(0, char::len_utf8);
    Span::new(file, at, at + len)
}
