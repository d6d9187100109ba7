//! YAML and JSON text to `serde_json::Value` documents, with an exact byte span for every
//! node, read the way Kubernetes reads YAML.
//!
//! The parser is saphyr's event stream (YAML 1.2 syntax). On top of it this module applies
//! the YAML 1.1 reading of `sigs.k8s.io/yaml` (go-yaml v2), which is what `kubectl` and the
//! API server use: `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0755` is octal, `1_000` is an
//! integer, and `<<` merge keys are applied (explicit keys win). Scalars whose 1.1 and 1.2
//! readings differ are recorded as [`Ambiguity`]s so that callers can warn about them.
//!
//! Every node's span is recorded in a [`SpanIndex`] addressed by RFC 6901 JSON pointer
//! (`/spec/ingress/0/ports/1/port`): [`Document::span_of`] gives the value's span,
//! [`Document::key_span_of`] the span of the mapping key that holds it. A node that came
//! from an alias keeps the span of the anchored text it copies.
//!
//! Bad input never panics and never stops the other documents of a file: a syntax error
//! skips to the next `---` line, and aliases, nesting depth and node counts are bounded by
//! [`Limits`].

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use netpol_diag::{Code, Diagnostic, FileId, Span};
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Number, Value};

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
/// or nothing between two `---`) are left out. Diagnostics cover syntax errors, nesting,
/// alias expansion and duplicate keys; [`Document::ambiguities`] are left to the caller.
pub fn parse_documents(
    file: FileId,
    text: &str,
    limits: &Limits,
) -> (Vec<Document>, Vec<Diagnostic>) {
    parse_range(file, text, 0..text.len(), limits)
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
    parse_range_with(file, text, range, limits, &mut diags, &mut |d, _| {
        docs.push(d)
    });
    (docs, diags)
}

/// Like [`parse_range`], but hands each document to `sink` as soon as it is complete, so
/// that a caller can use and free it while it is still in the cache (loading a big file
/// then never holds more than one parsed document per thread). Diagnostics of a document
/// are in `diags` when the document reaches `sink`, which is given `diags` too.
pub(crate) fn parse_range_with(
    file: FileId,
    text: &str,
    range: Range<usize>,
    limits: &Limits,
    diags: &mut Vec<Diagnostic>,
    sink: &mut dyn FnMut(Document, &mut Vec<Diagnostic>),
) {
    let Range { start, end } = range;
    let chars = CharMap::new(&text[start..end]);
    let mut pos = start;
    // libyaml (and so kubectl) skips tabs as whitespace inside flow collections, where
    // saphyr rejects tabs at the start of a line. On that error the rest of the range is
    // re-read with such tabs turned into spaces: same bytes, same offsets.
    let mut patched: Option<String> = None;
    while pos < end {
        let src = patched.as_deref().unwrap_or(text);
        let region = Region {
            text: src,
            start,
            end,
            chars: &chars,
        };
        match parse_run(file, &region, pos, limits, sink, diags) {
            None => break,
            Some(failed_from) => {
                let tab_error = patched.is_none()
                    && diags.last().is_some_and(|d| {
                        d.code == Code::SyntaxError && d.message.contains("tabs disallowed")
                    });
                if tab_error {
                    diags.pop();
                    let mut p = String::with_capacity(text.len());
                    p.push_str(&text[..start]);
                    p.push_str(&leading_tabs_to_spaces(&text[start..end]));
                    p.push_str(&text[end..]);
                    patched = Some(p);
                    pos = line_start(text, failed_from).max(pos);
                    continue;
                }
                match next_document_marker(&text[..end], failed_from) {
                    Some(next) if next > pos => pos = next,
                    _ => break,
                }
            }
        }
    }
}

/// Splits `text` into runs of whole documents of roughly `target` bytes, at lines that
/// start with `---`, so that the runs can be parsed in parallel. Anchors are scoped to a
/// document, so nothing is lost. A split is never made right after a `%` directive.
pub(crate) fn split_documents(text: &str, target: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    if text.len() >= 2 * target {
        let mut at = from + target;
        while at < text.len() {
            let Some(next) = next_document_marker(text, at) else {
                break;
            };
            let prev_line = &text[line_start(text, next.saturating_sub(1))..next];
            if !prev_line.starts_with('%') {
                out.push(from..next);
                from = next;
            }
            at = next + target;
        }
    }
    out.push(from..text.len());
    out
}

/// Where one run of documents is parsed.
struct Region<'t> {
    /// The whole file (possibly with tabs patched).
    text: &'t str,
    start: usize,
    end: usize,
    /// Character map of `text[start..end]`.
    chars: &'t CharMap,
}

fn line_start(text: &str, at: usize) -> usize {
    text.get(..at)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1)
}

/// Replaces tabs in each line's leading whitespace by spaces (one byte for one byte).
fn leading_tabs_to_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut leading = true;
    for c in text.chars() {
        match c {
            '\n' => {
                leading = true;
                out.push(c);
            }
            '\t' if leading => out.push(' '),
            ' ' => out.push(c),
            _ => {
                leading = false;
                out.push(c);
            }
        }
    }
    out
}

/// Parses from byte `pos` to the end or to the first fatal error. On error returns the
/// byte offset where the failing document began, so the caller can resume after it.
fn parse_run(
    file: FileId,
    region: &Region<'_>,
    pos: usize,
    limits: &Limits,
    sink: &mut dyn FnMut(Document, &mut Vec<Diagnostic>),
    diags: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let text = region.text;
    let slice = &text[pos..region.end];
    let char_base = region.chars.char_of(pos - region.start);
    let to_byte = |m: saphyr_parser::Marker| {
        (region.start + region.chars.byte_of(char_base + m.index())).min(region.end)
    };
    let mut parser = Parser::new_from_str(slice);
    let mut builder: Option<Builder<'_>> = None;
    let mut doc_start = pos;
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(x) => x,
            Err(e) => {
                diags.push(scan_error(file, text, &e, to_byte(*e.marker())));
                return Some(doc_start);
            }
        };
        let start = to_byte(span.start);
        let end = to_byte(span.end).max(start);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                doc_start = start;
                builder = Some(Builder::new(text));
            }
            Event::DocumentEnd => {
                if let Some(doc) = builder.take().and_then(|b| b.finish(file, limits, diags)) {
                    sink(doc, diags);
                }
                doc_start = end;
            }
            other => {
                let Some(b) = builder.as_mut() else { continue };
                if let Err(at) = b.event(other, start, end, limits) {
                    diags.push(
                        Diagnostic::new(
                            Code::NestingTooDeep,
                            format!(
                                "this document is nested deeper than {} levels",
                                limits.max_depth
                            ),
                        )
                        .with_primary(point_span(file, text, at), "too deep here")
                        .with_help("manifests are rarely deeper than 20 levels; check for a runaway generator or unbalanced brackets"),
                    );
                    return Some(doc_start);
                }
            }
        }
    }
    None
}

fn scan_error(file: FileId, text: &str, e: &ScanError, at: usize) -> Diagnostic {
    if e.info().contains("recursion limit exceeded") {
        return Diagnostic::new(
            Code::NestingTooDeep,
            "this document nests flow collections (`[` or `{`) too deeply",
        )
        .with_primary(point_span(file, text, at), "too deep here")
        .with_help("check for unbalanced brackets");
    }
    Diagnostic::new(
        Code::SyntaxError,
        format!("malformed YAML or JSON: {}", e.info()),
    )
    .with_primary(point_span(file, text, at), "here")
    .with_help("the other documents of this file were still read; fix this one and re-run")
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

/// The start of the first line after byte `after` that begins a document (`---`).
fn next_document_marker(text: &str, after: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = after;
    // Move to the start of the next line.
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    while i < bytes.len() {
        i += 1; // past '\n'
        if bytes[i..].starts_with(b"---") {
            let next = bytes.get(i + 3).copied();
            if matches!(next, None | Some(b' ' | b'\t' | b'\n' | b'\r')) {
                return Some(i);
            }
        }
        while i < bytes.len() && bytes[i] != b'\n' {
            i += 1;
        }
    }
    None
}

/// Converts saphyr's character offsets to byte offsets and back. Only non-ASCII
/// characters are stored, so ASCII text costs nothing.
struct CharMap {
    /// For each non-ASCII character: (char index just after it, byte index just after it).
    points: Vec<(usize, usize)>,
}

impl CharMap {
    fn new(text: &str) -> CharMap {
        let mut points = Vec::new();
        if !text.is_ascii() {
            for (ci, (bi, c)) in text.char_indices().enumerate() {
                if !c.is_ascii() {
                    points.push((ci + 1, bi + c.len_utf8()));
                }
            }
        }
        CharMap { points }
    }

    fn byte_of(&self, ci: usize) -> usize {
        let i = self.points.partition_point(|&(c, _)| c <= ci);
        match i.checked_sub(1) {
            None => ci,
            Some(i) => {
                let (c, b) = self.points[i];
                b + (ci - c)
            }
        }
    }

    fn char_of(&self, bi: usize) -> usize {
        let i = self.points.partition_point(|&(_, b)| b <= bi);
        match i.checked_sub(1) {
            None => bi,
            Some(i) => {
                let (c, b) = self.points[i];
                c + (bi - b)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Event stream to node arena.

enum NodeKind<'a> {
    Scalar {
        /// Taken (moved into the value) when the document has no anchors, because then
        /// every node is converted exactly once.
        text: RefCell<Cow<'a, str>>,
        style: ScalarStyle,
        tag: Option<Cow<'a, Tag>>,
    },
    Seq(Vec<u32>),
    /// Keys and values alternating.
    Map(Vec<u32>),
    Alias(u32),
}

struct Node<'a> {
    kind: NodeKind<'a>,
    start: usize,
    end: usize,
    /// Flow collections end at their closing bracket; block ones at their last child.
    flow: bool,
}

struct Builder<'a> {
    text: &'a str,
    nodes: Vec<Node<'a>>,
    /// Open collections and the anchor each will register when it closes.
    stack: Vec<(u32, usize)>,
    anchors: HashMap<usize, u32>,
    root: Option<u32>,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Builder<'a> {
        Builder {
            text,
            nodes: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
        }
    }

    fn push(&mut self, node: Node<'a>) -> u32 {
        let id = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        self.nodes.push(node);
        match self.stack.last() {
            Some(&(parent, _)) => match &mut self.nodes[parent as usize].kind {
                NodeKind::Seq(items) | NodeKind::Map(items) => items.push(id),
                _ => {}
            },
            None => {
                if self.root.is_none() {
                    self.root = Some(id);
                }
            }
        }
        id
    }

    /// Adds one event. `Err(byte)` when nesting exceeds the limit.
    fn event(
        &mut self,
        event: Event<'a>,
        start: usize,
        end: usize,
        limits: &Limits,
    ) -> Result<(), usize> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let (start, end) = if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    (start, trim_end(self.text, start, end))
                } else {
                    (start, end)
                };
                let id = self.push(Node {
                    kind: NodeKind::Scalar {
                        text: RefCell::new(text),
                        style,
                        tag,
                    },
                    start,
                    end,
                    flow: false,
                });
                if anchor > 0 {
                    self.anchors.insert(anchor, id);
                }
            }
            Event::Alias(anchor) => {
                // An anchor registers when its node closes, so an alias to an open node
                // (a cycle) finds nothing and becomes a null alias target below.
                let target = self.anchors.get(&anchor).copied().unwrap_or(u32::MAX);
                self.push(Node {
                    kind: NodeKind::Alias(target),
                    start,
                    end,
                    flow: false,
                });
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= limits.max_depth {
                    return Err(start);
                }
                let is_seq = matches!(event, Event::SequenceStart(..));
                let bracket = if is_seq { b'[' } else { b'{' };
                let flow = end > start && self.text.as_bytes().get(end - 1) == Some(&bracket);
                let (s, e) = if flow { (end - 1, end) } else { (end, end) };
                let kind = if is_seq {
                    NodeKind::Seq(Vec::new())
                } else {
                    NodeKind::Map(Vec::new())
                };
                let id = self.push(Node {
                    kind,
                    start: s,
                    end: e,
                    flow,
                });
                self.stack.push((id, anchor));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((id, anchor)) = self.stack.pop() {
                    let node = &self.nodes[id as usize];
                    let new_end = if node.flow {
                        // The end event's span starts at the closing bracket.
                        match self.text.as_bytes().get(start) {
                            Some(b']' | b'}') => start + 1,
                            _ => start,
                        }
                    } else {
                        let last = match &node.kind {
                            NodeKind::Seq(items) | NodeKind::Map(items) => items.last().copied(),
                            _ => None,
                        };
                        last.map_or(node.end, |c| self.nodes[c as usize].end)
                    };
                    let node = &mut self.nodes[id as usize];
                    node.end = new_end.max(node.start);
                    if anchor > 0 {
                        self.anchors.insert(anchor, id);
                    }
                }
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => {}
        }
        Ok(())
    }

    /// Converts the finished document; fatal problems and warnings go to `diags`.
    fn finish(
        self,
        file: FileId,
        limits: &Limits,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Document> {
        let root = self.root?;
        // An empty document (`---` followed by nothing) is an empty plain scalar.
        if let NodeKind::Scalar {
            text,
            style: ScalarStyle::Plain,
            tag: None,
        } = &self.nodes[root as usize].kind
            && text.borrow().is_empty()
        {
            return None;
        }
        let budget = limits.max_alias_nodes.max(self.nodes.len()) + self.nodes.len();
        let mut conv = Converter {
            file,
            nodes: &self.nodes,
            shared: !self.anchors.is_empty(),
            budget,
            limits,
            ambiguities: Vec::new(),
            diags: Vec::new(),
            outer_alias: None,
        };
        let converted = conv.convert(root, 0);
        diags.append(&mut conv.diags);
        let (value, span_node) = match converted {
            Ok(x) => x,
            Err(fatal) => {
                diags.push(*fatal);
                return None;
            }
        };
        let span = Span {
            file,
            start: span_node.start,
            end: span_node.end,
        };
        let mut ambiguities = conv.ambiguities;
        ambiguities.sort_by_key(|a| (a.span.start, a.span.end));
        ambiguities.dedup();
        Some(Document {
            value,
            span,
            index: SpanIndex { root: span_node },
            ambiguities,
        })
    }
}

fn trim_end(text: &str, start: usize, end: usize) -> usize {
    let s = text.get(start..end).unwrap_or("");
    start + s.trim_end().len()
}

// ---------------------------------------------------------------------------------------
// Node arena to JSON value plus span index.

struct Converter<'n, 'a> {
    file: FileId,
    nodes: &'n [Node<'a>],
    /// Whether a node may be converted more than once (through an alias), so that scalar
    /// texts must be copied rather than moved.
    shared: bool,
    budget: usize,
    limits: &'n Limits,
    ambiguities: Vec<Ambiguity>,
    diags: Vec<Diagnostic>,
    /// The outermost alias being expanded: where an alias bomb is reported.
    outer_alias: Option<(usize, usize)>,
}

type Fatal = Box<Diagnostic>;

impl Converter<'_, '_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn tick(&mut self, at: &Node<'_>) -> Result<(), Fatal> {
        if self.budget == 0 {
            let (start, end) = self.outer_alias.unwrap_or((at.start, at.end));
            return Err(Box::new(
                Diagnostic::new(
                    Code::AliasLimit,
                    "YAML aliases in this document expand to too many nodes",
                )
                .with_primary(self.span(start, end), "expanding this alias reaches the limit")
                .with_help("this looks like an alias bomb (\"billion laughs\"); expand the aliases by hand if the document is legitimate"),
            ));
        }
        self.budget -= 1;
        Ok(())
    }

    fn convert(&mut self, id: u32, depth: usize) -> Result<(Value, SpanNode), Fatal> {
        let Some(node) = self.nodes.get(id as usize) else {
            return Ok((Value::Null, SpanNode::default()));
        };
        self.tick(node)?;
        if depth > self.limits.max_depth {
            return Err(Box::new(
                Diagnostic::new(
                    Code::NestingTooDeep,
                    format!(
                        "this document is nested deeper than {} levels once aliases are expanded",
                        self.limits.max_depth
                    ),
                )
                .with_primary(self.span(node.start, node.end), "too deep here"),
            ));
        }
        let (start, end) = (node.start as u32, node.end as u32);
        let leaf = |v: Value| {
            (
                v,
                SpanNode {
                    start,
                    end,
                    key: None,
                    kids: Kids::Leaf,
                },
            )
        };
        match &node.kind {
            NodeKind::Scalar { text, style, tag } => {
                let v = self.scalar(node, text, *style, tag.as_deref(), false);
                Ok(leaf(v.unwrap_or_else(|| Value::String(self.text_of(text)))))
            }
            NodeKind::Alias(target) => {
                if *target == u32::MAX {
                    return Err(Box::new(
                        Diagnostic::new(
                            Code::AliasLimit,
                            "this alias refers to the node that contains it, which would expand forever",
                        )
                        .with_primary(self.span(node.start, node.end), "recursive alias"),
                    ));
                }
                let outermost = self.outer_alias.is_none();
                if outermost {
                    self.outer_alias = Some((node.start, node.end));
                }
                let converted = self.convert(*target, depth + 1);
                if outermost {
                    self.outer_alias = None;
                }
                let (v, mut sn) = converted?;
                // The alias itself is where the value appears; its children keep the
                // spans of the anchored text they copy.
                sn.start = start;
                sn.end = end;
                Ok((v, sn))
            }
            NodeKind::Seq(items) => {
                let mut values = Vec::with_capacity(items.len());
                let mut kids = Vec::with_capacity(items.len());
                for &item in items {
                    let (v, sn) = self.convert(item, depth + 1)?;
                    values.push(v);
                    kids.push(sn);
                }
                Ok((
                    Value::Array(values),
                    SpanNode {
                        start,
                        end,
                        key: None,
                        kids: Kids::Seq(kids),
                    },
                ))
            }
            NodeKind::Map(_) => {
                let (map, kids) = self.mapping(id, depth)?;
                Ok((
                    Value::Object(map),
                    SpanNode {
                        start,
                        end,
                        key: None,
                        kids: Kids::Map(kids),
                    },
                ))
            }
        }
    }

    /// Converts a mapping node, applying `<<` merge keys.
    #[allow(clippy::type_complexity)]
    fn mapping(
        &mut self,
        id: u32,
        depth: usize,
    ) -> Result<(Map<String, Value>, Vec<SpanNode>), Fatal> {
        let nodes = self.nodes;
        let NodeKind::Map(items) = &nodes[id as usize].kind else {
            return Ok((Map::new(), Vec::new()));
        };
        let mut map = Map::with_capacity(items.len() / 2);
        let mut kids: Vec<SpanNode> = Vec::with_capacity(items.len() / 2);
        let mut merges = Vec::new();
        for pair in items.chunks(2) {
            let &[k, v] = pair else { continue };
            let knode = &nodes[k as usize];
            if is_merge_key(knode) {
                merges.push((k, v));
                continue;
            }
            let key = self.key_string(k)?;
            let (value, mut sn) = self.convert(v, depth + 1)?;
            sn.key = Some((knode.start as u32, knode.end as u32));
            if map.contains_key(&key) {
                // A repeated key keeps its place in the map, so its span does too.
                let at = map.keys().position(|k2| *k2 == key);
                if let Some(slot) = at.and_then(|i| kids.get_mut(i)) {
                    let (fs, fe) = slot.key.unwrap_or((sn.start, sn.end));
                    self.diags.push(
                        Diagnostic::new(
                            Code::DuplicateKey,
                            format!("the key `{key}` appears twice in this mapping; the last value wins"),
                        )
                        .with_primary(self.span(knode.start, knode.end), "repeated here")
                        .with_secondary(self.span(fs as usize, fe as usize), "first here")
                        .with_help("remove one of them; kubectl's strict field validation rejects duplicate fields"),
                    );
                    *slot = sn;
                }
            } else {
                kids.push(sn);
            }
            map.insert(key, value);
        }
        for (k, v) in merges {
            let sources: Vec<u32> = match &nodes[self.resolve(v) as usize].kind {
                NodeKind::Map(_) => vec![v],
                NodeKind::Seq(list) => list.clone(),
                _ => {
                    return Err(Box::new(self.merge_error(k, v)));
                }
            };
            for src in sources {
                let target = self.resolve(src);
                if !matches!(
                    nodes.get(target as usize).map(|n| &n.kind),
                    Some(NodeKind::Map(_))
                ) {
                    return Err(Box::new(self.merge_error(k, src)));
                }
                self.tick(&nodes[target as usize])?;
                let (m, mk) = self.mapping(target, depth + 1)?;
                // Both are in the merged mapping's order.
                for ((key, value), sn) in m.into_iter().zip(mk) {
                    if map.contains_key(&key) {
                        continue;
                    }
                    kids.push(sn);
                    map.insert(key, value);
                }
            }
        }
        Ok((map, kids))
    }

    fn merge_error(&self, k: u32, v: u32) -> Diagnostic {
        let kn = &self.nodes[k as usize];
        let vn = &self.nodes[v as usize];
        Diagnostic::new(
            Code::SyntaxError,
            "a `<<` merge key needs a mapping or a list of mappings",
        )
        .with_primary(self.span(vn.start, vn.end), "not a mapping")
        .with_secondary(self.span(kn.start, kn.end), "merge key")
    }

    /// Follows aliases to the node they copy.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..64 {
            match self.nodes.get(id as usize).map(|n| &n.kind) {
                Some(NodeKind::Alias(t)) => id = *t,
                _ => break,
            }
        }
        id
    }

    /// A mapping key as the JSON key `sigs.k8s.io/yaml` gives it.
    fn key_string(&mut self, id: u32) -> Result<String, Fatal> {
        let target = self.resolve(id);
        let node = &self.nodes[id as usize];
        match self.nodes.get(target as usize).map(|n| &n.kind) {
            Some(NodeKind::Scalar { text, style, tag }) => {
                let v = self.scalar(node, text, *style, tag.as_deref(), true);
                Ok(match v {
                    None => self.text_of(text),
                    Some(Value::String(s)) => s,
                    Some(Value::Null) => "null".to_owned(),
                    Some(other) => other.to_string(),
                })
            }
            _ => Err(Box::new(
                Diagnostic::new(
                    Code::SchemaError,
                    "a mapping key must be a scalar; Kubernetes cannot read this document",
                )
                .with_primary(self.span(node.start, node.end), "complex key"),
            )),
        }
    }

    /// A scalar's text as an owned string: moved out when no node is converted twice.
    fn text_of(&self, text: &RefCell<Cow<'_, str>>) -> String {
        if self.shared {
            text.borrow().as_ref().to_owned()
        } else {
            std::mem::take(&mut *text.borrow_mut()).into_owned()
        }
    }

    /// The value of a scalar; `None` when it is the text itself as a string (see
    /// [`Converter::text_of`]).
    fn scalar(
        &mut self,
        node: &Node<'_>,
        text: &RefCell<Cow<'_, str>>,
        style: ScalarStyle,
        tag: Option<&Tag>,
        is_key: bool,
    ) -> Option<Value> {
        let text = text.borrow();
        let text: &str = &text;
        if style != ScalarStyle::Plain {
            return match tag
                .filter(|t| t.is_yaml_core_schema())
                .map(|t| t.suffix.as_str())
            {
                Some("int" | "float" | "bool" | "null") => resolve_plain(text).map(|r| r.value),
                _ => None,
            };
        }
        if let Some(t) = tag {
            let core = t.is_yaml_core_schema();
            if !core || t.suffix == "str" {
                return None;
            }
        }
        let r = resolve_plain(text)?;
        if let Some((kind, yaml12)) = r.ambiguous {
            self.ambiguities.push(Ambiguity {
                kind,
                text: text.to_owned(),
                read_as: r.value.to_string(),
                yaml12,
                is_key,
                span: self.span(node.start, node.end),
            });
        }
        Some(r.value)
    }
}

fn is_merge_key(node: &Node<'_>) -> bool {
    matches!(&node.kind, NodeKind::Scalar { text, style: ScalarStyle::Plain, tag: None } if *text.borrow() == "<<")
}

struct Resolved {
    value: Value,
    /// Set when YAML 1.2 reads the text differently: which way and how.
    ambiguous: Option<(AmbiguityKind, String)>,
}

const TRUE_11: &[&str] = &["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"];
const FALSE_11: &[&str] = &["n", "N", "no", "No", "NO", "off", "Off", "OFF"];

/// Reads a plain scalar the way go-yaml v2 does. `None` means a string.
fn resolve_plain(text: &str) -> Option<Resolved> {
    let plain = |value| {
        Some(Resolved {
            value,
            ambiguous: None,
        })
    };
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return plain(Value::Null),
        "true" | "True" | "TRUE" => return plain(Value::Bool(true)),
        "false" | "False" | "FALSE" => return plain(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            // JSON has no infinities; Kubernetes would fail to encode them. Keep the text
            // so that a typed field reports a schema error.
            return None;
        }
        _ => {}
    }
    let quoted = || (AmbiguityKind::Boolean, format!("the string \"{text}\""));
    if TRUE_11.contains(&text) {
        return Some(Resolved {
            value: Value::Bool(true),
            ambiguous: Some(quoted()),
        });
    }
    if FALSE_11.contains(&text) {
        return Some(Resolved {
            value: Value::Bool(false),
            ambiguous: Some(quoted()),
        });
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return None;
    }
    let cleaned: Cow<'_, str> = if text.contains('_') {
        Cow::Owned(text.replace('_', ""))
    } else {
        Cow::Borrowed(text)
    };
    if let Some(v) = parse_go_int(&cleaned) {
        let ambiguous = octal_ambiguity(&cleaned, &v).map(|(k, yaml12)| {
            // YAML 1.2 has no digit separators: `01_0` is a string there.
            if text.contains('_') {
                (k, format!("the string \"{text}\""))
            } else {
                (k, yaml12)
            }
        });
        return Some(Resolved {
            value: v,
            ambiguous,
        });
    }
    if is_yaml_float(&cleaned)
        && let Ok(f) = cleaned.parse::<f64>()
    {
        return plain(float_value(f));
    }
    None
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint`: sign, 0x/0o/0b prefixes, and a
/// leading `0` meaning octal.
fn parse_go_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        let v = i64::try_from(magnitude)
            .ok()
            .map(|m| -m)
            .or_else(|| (magnitude == 1u64 << 63).then_some(i64::MIN))?;
        Some(Value::from(v))
    } else if let Ok(v) = i64::try_from(magnitude) {
        Some(Value::from(v))
    } else {
        Some(Value::from(magnitude))
    }
}

/// `0755`: octal 493 in YAML 1.1, decimal 755 in YAML 1.2. Only reported when the two
/// numbers differ (`007` is 7 either way).
fn octal_ambiguity(s: &str, v: &Value) -> Option<(AmbiguityKind, String)> {
    let body = s.trim_start_matches(['+', '-']);
    if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        let decimal: i64 = s.parse().ok()?;
        if Some(decimal) != v.as_i64() {
            return Some((AmbiguityKind::Octal, decimal.to_string()));
        }
    }
    None
}

/// go-yaml v2's float pattern: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's encoding/json writes integral floats without a fraction (`80.0` becomes `80`), so
/// an integer field accepts them; do the same.
fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpol_diag::SourceMap;

    fn summary(file: FileId, text: &str, ranges: &[Range<usize>]) -> Vec<String> {
        let mut out = Vec::new();
        for r in ranges {
            let (docs, diags) = parse_range(file, text, r.clone(), &Limits::default());
            for d in docs {
                let s = d.span_of("/a").map(|s| (s.start, s.end));
                out.push(format!("{} {:?} {:?}", d.value, d.span, s));
            }
            for d in diags {
                out.push(format!("{} {:?}", d.code, d.primary_span()));
            }
        }
        // Diagnostics come per run; compare as sets.
        out.sort();
        out
    }

    #[test]
    fn split_runs_parse_like_the_whole_file() {
        let mut text = String::from("# é\n");
        for i in 0..60 {
            match i % 7 {
                3 => text.push_str("---\na: [broken\n"),
                5 => text.push_str(&format!("---\na: &x {{é: {i}}}\nb: *x\n")),
                _ => text.push_str(&format!("---\na: \"ü{i}\"\nb: [{i}, {i}]\n")),
            }
        }
        let mut map = SourceMap::new();
        let file = map.add("x.yaml", text.clone());
        let whole = summary(file, &text, std::slice::from_ref(&(0..text.len())));
        let ranges = split_documents(&text, 64);
        assert!(ranges.len() > 10, "{ranges:?}");
        assert_eq!(ranges.first().map(|r| r.start), Some(0));
        assert_eq!(ranges.last().map(|r| r.end), Some(text.len()));
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(summary(file, &text, &ranges), whole);
    }

    #[test]
    fn no_split_after_a_directive() {
        let text = format!("{}%YAML 1.2\n---\na: 1\n", "a: 1\n".repeat(40));
        let ranges = split_documents(&text, 16);
        assert_eq!(ranges, vec![0..text.len()]);
    }
}
