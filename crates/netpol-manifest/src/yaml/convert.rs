//! The node tree to a JSON value plus span index: aliases, `<<` merge keys, tags, and
//! mapping keys turned into JSON strings the way `sigs.k8s.io/yaml` turns them.

use std::borrow::Cow;
use std::cell::RefCell;

use netpol_diag::{Code, Diagnostic, FileId, Span};
use saphyr_parser::{ScalarStyle, Tag};
use serde_json::{Map, Value};

use super::node::{Node, NodeKind};
use super::resolve::{
    decode_binary, go_float_key, is_go_timestamp, is_merge_key, resolve_plain, special_float,
};
use super::{Ambiguity, Kids, Limits, SpanNode};

pub(super) struct Converter<'n, 'a> {
    pub(super) file: FileId,
    pub(super) nodes: &'n [Node<'a>],
    /// Whether a node may be converted more than once (through an alias), so that scalar
    /// texts must be copied rather than moved.
    pub(super) shared: bool,
    pub(super) budget: usize,
    pub(super) limits: &'n Limits,
    pub(super) ambiguities: Vec<Ambiguity>,
    pub(super) diags: Vec<Diagnostic>,
    /// The outermost alias being expanded: where an alias bomb is reported.
    pub(super) outer_alias: Option<(usize, usize)>,
}

pub(super) type Fatal = Box<Diagnostic>;

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

    pub(super) fn convert(&mut self, id: u32, depth: usize) -> Result<(Value, SpanNode), Fatal> {
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
                let v = self.scalar(node, text, *style, tag.as_deref(), false)?;
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

    /// Converts a mapping node, applying `<<` merge keys as go-yaml v2 does: entries are
    /// applied in document order, so a merge overrides the keys written before it and
    /// the keys after it override the merge; in a list of sources, earlier ones win.
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
        // In the map's order; a replaced key keeps its place, so its span does too.
        let mut kids: Vec<SpanNode> = Vec::with_capacity(items.len() / 2);
        // Slots filled by a merge, not written explicitly (for duplicate-key). Merges are
        // rare: an empty Vec does not allocate.
        let mut merged: Vec<usize> = Vec::new();
        let slot = |map: &Map<String, Value>, key: &str| {
            map.contains_key(key)
                .then(|| map.keys().position(|k2| k2 == key))
                .flatten()
        };
        for pair in items.chunks(2) {
            let &[k, v] = pair else { continue };
            let knode = &nodes[k as usize];
            if is_merge_key(knode) {
                let sources: Vec<u32> = match nodes.get(self.resolve(v) as usize).map(|n| &n.kind) {
                    Some(NodeKind::Map(_)) => vec![v],
                    Some(NodeKind::Seq(list)) => list.clone(),
                    // An alias to the mapping that holds it (`&x {<<: *x}`).
                    None => return Err(Box::new(self.recursive_alias(v))),
                    _ => return Err(Box::new(self.merge_error(k, v))),
                };
                for &src in sources.iter().rev() {
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
                        match slot(&map, &key) {
                            Some(i) => {
                                kids[i] = sn;
                                if !merged.contains(&i) {
                                    merged.push(i);
                                }
                            }
                            None => {
                                merged.push(kids.len());
                                kids.push(sn);
                            }
                        }
                        map.insert(key, value);
                    }
                }
                continue;
            }
            let key = self.key_string(k)?;
            let (value, mut sn) = self.convert(v, depth + 1)?;
            sn.key = Some((knode.start as u32, knode.end as u32));
            match slot(&map, &key) {
                Some(i) => {
                    let was_merged = merged.iter().position(|&m| m == i);
                    if was_merged.is_none() {
                        let (fs, fe) = kids[i].key.unwrap_or((sn.start, sn.end));
                        self.diags.push(
                            Diagnostic::new(
                                Code::DuplicateKey,
                                format!("the key `{key}` appears twice in this mapping; kubectl rejects duplicate fields"),
                            )
                            .with_primary(self.span(knode.start, knode.end), "repeated here")
                            .with_secondary(self.span(fs as usize, fe as usize), "first here")
                            .with_help("remove one of them (netpol reads the last one)"),
                        );
                    }
                    kids[i] = sn;
                    if let Some(m) = was_merged {
                        merged.swap_remove(m);
                    }
                }
                None => kids.push(sn),
            }
            map.insert(key, value);
        }
        Ok((map, kids))
    }

    fn recursive_alias(&self, id: u32) -> Diagnostic {
        let n = &self.nodes[id as usize];
        Diagnostic::new(
            Code::AliasLimit,
            "this alias refers to the node that contains it, which would expand forever",
        )
        .with_primary(self.span(n.start, n.end), "recursive alias")
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

    /// A mapping key as the JSON key `sigs.k8s.io/yaml` gives it: strings as they are,
    /// integers in decimal, floats as Go float32 text, booleans as `true`/`false`; a null
    /// key or an integer beyond i64 makes kubectl fail ("unsupported map key").
    fn key_string(&mut self, id: u32) -> Result<String, Fatal> {
        let target = self.resolve(id);
        let node = &self.nodes[id as usize];
        match self.nodes.get(target as usize).map(|n| &n.kind) {
            Some(NodeKind::Scalar { text, style, tag }) => {
                let v = self.scalar(node, text, *style, tag.as_deref(), true)?;
                let key_error = |what: &str| {
                    Box::new(
                        Diagnostic::new(
                            Code::SyntaxError,
                            format!(
                                "{what} cannot be a JSON object key; kubectl rejects this document"
                            ),
                        )
                        .with_primary(self.span(node.start, node.end), "this key")
                        .with_help("quote the key to make it a string"),
                    )
                };
                let float = {
                    let t = text.borrow();
                    let plain = *style == ScalarStyle::Plain
                        || tag
                            .as_deref()
                            .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "float");
                    let core_float = tag
                        .as_deref()
                        .is_none_or(|t| t.is_yaml_core_schema() && t.suffix == "float");
                    (plain && core_float)
                        .then(|| {
                            special_float(&t).or_else(|| resolve_plain(&t).and_then(|r| r.float))
                        })
                        .flatten()
                };
                if let Some(f) = float {
                    return Ok(go_float_key(f));
                }
                Ok(match v {
                    None => self.text_of(text),
                    Some(Value::String(s)) => s,
                    Some(Value::Null) => return Err(key_error("a null key")),
                    Some(Value::Number(n)) if n.is_u64() && n.as_i64().is_none() => {
                        return Err(key_error("an integer larger than 9223372036854775807"));
                    }
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
    /// [`Converter::text_of`]). Explicit core tags must match what the text resolves to,
    /// as in go-yaml (`!!null x` is an error; `!!float 1` is fine).
    fn scalar(
        &mut self,
        node: &Node<'_>,
        text: &RefCell<Cow<'_, str>>,
        style: ScalarStyle,
        tag: Option<&Tag>,
        is_key: bool,
    ) -> Result<Option<Value>, Fatal> {
        let text = text.borrow();
        let text: &str = &text;
        let span = self.span(node.start, node.end);
        let suffix = match tag {
            None => None,
            Some(t) if t.is_yaml_core_schema() => Some(t.suffix.as_str()),
            // A local tag (`!foo`): go-yaml keeps the text.
            Some(_) => return Ok(None),
        };
        if let Some(want @ ("int" | "float" | "bool" | "null")) = suffix {
            let r = resolve_plain(text);
            let special = special_float(text);
            let got = match (&r, special) {
                (_, Some(_)) => "float",
                (None, None) => "str",
                (Some(r), _) if r.float.is_some() => "float",
                (Some(r), _) => match r.value {
                    Value::Null => "null",
                    Value::Bool(_) => "bool",
                    _ => "int",
                },
            };
            if got != want && !(want == "float" && got == "int") {
                return Err(Box::new(
                    Diagnostic::new(
                        Code::SyntaxError,
                        format!("`{text}` is not a {want}, but it is tagged `!!{want}`; kubectl rejects this document"),
                    )
                    .with_primary(span, format!("a {got}"))
                    .with_help("remove the tag, or write a value of that type"),
                ));
            }
            if special.is_some() && !is_key {
                return Err(Box::new(not_json(span, text)));
            }
            return Ok(r.map(|r| r.value));
        }
        match suffix {
            Some("binary") => {
                return match decode_binary(text) {
                    Some(s) => Ok(Some(Value::String(s))),
                    None => Err(Box::new(
                        Diagnostic::new(Code::SyntaxError, "this `!!binary` value is not valid base64; kubectl rejects this document")
                            .with_primary(span, "not base64")
                            .with_help("use standard base64 with `=` padding"),
                    )),
                };
            }
            Some("timestamp") if !is_go_timestamp(text) => {
                return Err(Box::new(
                    Diagnostic::new(
                        Code::SyntaxError,
                        format!("`{text}` is not a timestamp, but it is tagged `!!timestamp`; kubectl rejects this document"),
                    )
                    .with_primary(span, "not a timestamp")
                    .with_help("write `2001-12-14`, `2001-12-14T21:59:43Z` or `2001-12-14 21:59:43`, or remove the tag"),
                ));
            }
            Some(_) => return Ok(None),
            None => {}
        }
        if style != ScalarStyle::Plain {
            return Ok(None);
        }
        if special_float(text).is_some() && !is_key {
            return Err(Box::new(not_json(span, text)));
        }
        let Some(r) = resolve_plain(text) else {
            return Ok(None);
        };
        if let Some((kind, yaml12)) = r.ambiguous {
            self.ambiguities.push(Ambiguity {
                kind,
                text: text.to_owned(),
                read_as: r.value.to_string(),
                yaml12,
                is_key,
                span,
            });
        }
        Ok(Some(r.value))
    }
}

/// `.inf` and `.nan` are floats for go-yaml, and JSON has no way to write them.
fn not_json(span: Span, text: &str) -> Diagnostic {
    Diagnostic::new(
        Code::SyntaxError,
        format!("`{text}` is an infinite or not-a-number float, which JSON cannot hold; kubectl rejects this document"),
    )
    .with_primary(span, "not a JSON number")
    .with_help(format!("quote it (\"{text}\") if a string is meant"))
}
