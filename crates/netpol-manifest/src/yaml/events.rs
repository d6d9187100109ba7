//! saphyr's event stream to a node tree with byte spans, for one kubectl document.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use netpol_diag::{Code, Diagnostic, FileId, Span};
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

use super::convert::Converter;
use super::node::{Node, NodeKind};
use super::quoted::Insertions;
use super::{Document, Limits, SpanIndex, point_span};

/// Parses the first YAML document of `text[range]` (a piece between two `---` lines) and
/// hands it to `sink`. Like go-yaml, a second document in the piece (after `...`) is not
/// read; it gets an `ignored-content` warning.
pub(super) fn parse_piece(
    file: FileId,
    text: &str,
    range: Range<usize>,
    limits: &Limits,
    diags: &mut Vec<Diagnostic>,
    sink: &mut dyn FnMut(Document, &mut Vec<Diagnostic>),
) {
    let piece = &text[range.clone()];
    let chars = CharMap::new(piece);
    let mut local = Vec::new();
    let none = Insertions::default();
    let read = |parsed: &str, ins: &Insertions, local: &mut Vec<Diagnostic>| {
        let source = Source {
            piece,
            parsed,
            base: range.start,
            chars: &chars,
            ins,
        };
        parse_one(file, &source, limits, local)
    };
    let mut out = read(piece, &none, &mut local);
    // libyaml (and so kubectl) takes some tabs as whitespace where saphyr refuses them
    // (after `key:`, inside flow collections). Read again with those tabs as spaces:
    // same bytes, same offsets.
    if matches!(out, Outcome::Failed(_))
        && piece.contains('\t')
        && let Some(patched) = patch_tabs(piece)
    {
        local.clear();
        out = read(&patched, &none, &mut local);
    }
    // libyaml reads quoted scalars with lines left of their block (see `quoted`): read
    // again with those lines indented, one scalar at a time.
    let mut ins = Insertions::default();
    while let Outcome::Failed(Some(quote)) = out
        && ins.len() < MAX_PATCHED_LINES
        && ins.indent_quoted(piece, quote).is_some()
    {
        let mut again = Vec::new();
        out = read(&ins.apply(piece), &ins, &mut again);
        local = again;
    }
    diags.append(&mut local);
    if let Outcome::Doc(doc) = out {
        sink(*doc, diags);
    }
}

/// Continuation lines of quoted scalars re-indented in one piece at most (each retry reads
/// the piece again).
const MAX_PATCHED_LINES: usize = 256;

enum Outcome {
    Doc(Box<Document>),
    /// No document.
    None,
    /// A syntax error (its diagnostic is out); for a quoted scalar indented less than saphyr
    /// allows, the character index of its opening quote in the piece.
    Failed(Option<usize>),
}

/// What one read parses: `parsed` (the piece, or a copy with tabs or spaces patched), and
/// how its offsets map back to `piece`, which starts at byte `base` of the file.
struct Source<'a> {
    piece: &'a str,
    parsed: &'a str,
    base: usize,
    chars: &'a CharMap,
    ins: &'a Insertions,
}

fn parse_one(
    file: FileId,
    source: &Source<'_>,
    limits: &Limits,
    diags: &mut Vec<Diagnostic>,
) -> Outcome {
    let Source {
        piece,
        parsed,
        base,
        chars,
        ins,
    } = *source;
    let original = |m: saphyr_parser::Marker| ins.to_original(m.index());
    let to_byte = |m: saphyr_parser::Marker| base + chars.byte_of(original(m)).min(piece.len());
    let at_span = |at: usize| {
        let s = point_span(file, piece, at - base);
        Span::new(file, s.start as usize + base, s.end as usize + base)
    };
    let mut parser = Parser::new_from_str(parsed);
    let mut builder: Option<Builder<'_>> = None;
    let mut done: Option<Option<Document>> = None;
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(x) => x,
            Err(e) => {
                if done.is_some() {
                    diags.push(ignored(at_span(to_byte(*e.marker()))));
                    break;
                }
                diags.push(scan_error(&e, at_span(to_byte(*e.marker()))));
                let quoted = e.info() == "invalid indentation in quoted scalar";
                return Outcome::Failed(quoted.then(|| original(*e.marker())));
            }
        };
        let start = to_byte(span.start);
        let end = to_byte(span.end).max(start);
        if done.is_some() {
            if !matches!(event, Event::StreamEnd | Event::Nothing) {
                diags.push(ignored(at_span(start)));
            }
            break;
        }
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => builder = Some(Builder::new(piece, base)),
            Event::DocumentEnd => {
                done = Some(builder.take().and_then(|b| b.finish(file, limits, diags)));
            }
            other => {
                let Some(b) = builder.as_mut() else { continue };
                let node = matches!(
                    other,
                    Event::Scalar(..)
                        | Event::Alias(_)
                        | Event::SequenceStart(..)
                        | Event::MappingStart(..)
                );
                if node
                    && b.in_block_sequence()
                    && let Some(tab) = tab_after_dash(piece, start - base)
                {
                    diags.push(
                        Diagnostic::new(
                            Code::SyntaxError,
                            "kubectl does not accept a tab after the `-` of a list item",
                        )
                        .with_primary(at_span(base + tab), "tab")
                        .with_help("use spaces after `-`"),
                    );
                    return Outcome::None;
                }
                if let Err(at) = b.event(other, start, end, limits) {
                    diags.push(
                        Diagnostic::new(
                            Code::NestingTooDeep,
                            format!(
                                "this document is nested deeper than {} levels",
                                limits.max_depth
                            ),
                        )
                        .with_primary(at_span(at), "too deep here")
                        .with_help("manifests are rarely deeper than 20 levels; check for a runaway generator or unbalanced brackets"),
                    );
                    return Outcome::None;
                }
            }
        }
    }
    match done.flatten() {
        // kubectl leaves out a document that is `null`.
        Some(doc) if !doc.value.is_null() => Outcome::Doc(Box::new(doc)),
        _ => Outcome::None,
    }
}

/// The tab in the blanks right before `at` when they follow a `-`: libyaml refuses a tab
/// after a block sequence indicator, where YAML 1.2 parsers take it as whitespace.
fn tab_after_dash(piece: &str, at: usize) -> Option<usize> {
    let before = piece.get(..at)?;
    let trimmed = before.trim_end_matches([' ', '\t']);
    let blanks = &before[trimmed.len()..];
    (trimmed.ends_with('-') && blanks.contains('\t'))
        .then(|| trimmed.len() + blanks.find('\t').unwrap_or(0))
}

fn ignored(span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::IgnoredContent,
        "kubectl reads only the first YAML document between two `---` lines; this one is ignored",
    )
    .with_primary(span, "ignored from here")
    .with_help("put a `---` line before this document if it is meant to be read, or remove it")
}

fn scan_error(e: &ScanError, span: Span) -> Diagnostic {
    if e.info().contains("recursion limit exceeded") {
        return Diagnostic::new(
            Code::NestingTooDeep,
            "this document nests flow collections (`[` or `{`) too deeply",
        )
        .with_primary(span, "too deep here")
        .with_help("check for unbalanced brackets");
    }
    Diagnostic::new(
        Code::SyntaxError,
        format!("malformed YAML or JSON: {}", e.info()),
    )
    .with_primary(span, "here")
    .with_help("the other documents of this file were still read; fix this one and re-run")
}

/// A run of tabs outside comments, and outside quoted scalars but for their leading blanks.
struct TabRun {
    start: usize,
    end: usize,
    /// Inside a flow collection (`[...]`, `{...}`), as far as a bracket count tells.
    flow: bool,
    /// Where its line starts.
    line: usize,
    /// In the leading blanks of a quoted scalar's continuation line.
    quoted: bool,
}

/// The tab runs of `piece`, with a light scan that tracks brackets, quotes and comments
/// (enough for the tab rules below; the parser has the last word).
fn tab_runs(piece: &str) -> Vec<TabRun> {
    let b = piece.as_bytes();
    let mut runs = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut line = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            match c {
                b'\\' if q == b'"' => {
                    i += 2;
                    continue;
                }
                b'\n' => line = i + 1,
                // Leading blanks of a quoted scalar's next line are folded away.
                b'\t' if b[line..i].iter().all(|&x| x == b' ' || x == b'\t') => {
                    runs.push(TabRun {
                        start: i,
                        end: i + 1,
                        flow: depth > 0,
                        line,
                        quoted: true,
                    });
                }
                _ if c == q => quote = None,
                _ => {}
            }
            i += 1;
            continue;
        }
        let prev = (i > line).then(|| b[i - 1]);
        let at_token = prev.is_none_or(|p| matches!(p, b' ' | b'\t' | b'[' | b'{' | b','));
        match c {
            b'\n' => line = i + 1,
            b'#' if prev.is_none_or(|p| p == b' ' || p == b'\t') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' if at_token || prev == Some(b':') => quote = Some(c),
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\t' => {
                let end = b[i..]
                    .iter()
                    .position(|&x| x != b'\t')
                    .map_or(b.len(), |n| i + n);
                runs.push(TabRun {
                    start: i,
                    end,
                    flow: depth > 0,
                    line,
                    quoted: false,
                });
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    runs
}

/// The first tab that starts a line outside flow collections and quoted scalars: libyaml
/// refuses it (as indentation, or on an otherwise blank line), saphyr not always.
pub(super) fn leading_tab(piece: &str) -> Option<usize> {
    if !piece.contains('\t') {
        return None;
    }
    tab_runs(piece)
        .into_iter()
        .find(|r| !r.flow && !r.quoted && r.start == r.line)
        .map(|r| r.start)
}

/// Turns into spaces the tabs that libyaml reads as whitespace but saphyr refuses: inside
/// flow collections, after the `:` of a `key:`, before a comment or the line end, and in
/// the leading blanks of a quoted scalar's next line (folded away either way).
/// Tabs that indent a block line, or follow `-`, `?` or a complex-key `:`, stay (libyaml
/// refuses them too). `None` when nothing changed.
fn patch_tabs(piece: &str) -> Option<String> {
    let b = piece.as_bytes();
    let mut out = b.to_vec();
    let mut changed = false;
    for r in tab_runs(piece) {
        let lead = piece[r.line..r.start].trim_matches([' ', '\t']);
        let next = b.get(r.end).copied();
        let ok = if r.flow || r.quoted {
            true
        } else if lead.is_empty() {
            false
        } else if matches!(next, None | Some(b'\n' | b'\r' | b'#')) {
            true
        } else {
            lead.ends_with(':') && !lead.starts_with(':') && !lead.starts_with('?')
        };
        if ok {
            out[r.start..r.end].fill(b' ');
            changed = true;
        }
    }
    // Tabs and spaces are both ASCII, so `out` is still UTF-8.
    changed.then(|| String::from_utf8(out).ok()).flatten()
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
}

// ---------------------------------------------------------------------------------------
// Event stream to node arena.

pub(super) struct Builder<'a> {
    /// The piece being parsed, which starts at byte `base` of the file.
    text: &'a str,
    base: usize,
    nodes: Vec<Node<'a>>,
    /// Open collections and the anchor each will register when it closes.
    stack: Vec<(u32, usize)>,
    anchors: HashMap<usize, u32>,
    root: Option<u32>,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str, base: usize) -> Builder<'a> {
        Builder {
            text,
            base,
            nodes: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
        }
    }

    /// Whether the innermost open collection is a block sequence.
    fn in_block_sequence(&self) -> bool {
        self.stack.last().is_some_and(|&(id, _)| {
            let n = &self.nodes[id as usize];
            matches!(n.kind, NodeKind::Seq(_)) && !n.flow
        })
    }

    /// The file's byte at `at`.
    fn byte(&self, at: usize) -> Option<u8> {
        self.text
            .as_bytes()
            .get(at.checked_sub(self.base)?)
            .copied()
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
                    (start, trim_end(self.text, self.base, start, end))
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
                let flow = end > start && self.byte(end - 1) == Some(bracket);
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
                        match self.byte(start) {
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

fn trim_end(text: &str, base: usize, start: usize, end: usize) -> usize {
    let s = text.get(start - base..end - base).unwrap_or("");
    start + s.trim_end().len()
}
