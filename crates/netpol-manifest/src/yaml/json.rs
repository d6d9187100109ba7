//! A stream of strict JSON values (RFC 8259, as Go's `encoding/json` reads it), with a
//! span for every node. kubectl reads a stream that starts with `{` this way: values may
//! follow each other with or without whitespace, and nothing but JSON is accepted (no
//! comments, single quotes, trailing commas, hex or leading zeros). One pass, linear.

use std::ops::Range;

use netpol_diag::{Code, Diagnostic, FileId, Span};
use serde_json::{Map, Value};

use super::resolve::float_value;
use super::{Document, Kids, Limits, SpanIndex, SpanNode, point_span, split};

pub(super) fn parse_stream(
    file: FileId,
    text: &str,
    range: Range<usize>,
    bad: &[usize],
    limits: &Limits,
    diags: &mut Vec<Diagnostic>,
    sink: &mut dyn FnMut(Document, &mut Vec<Diagnostic>),
) {
    let mut start = range.start;
    if start == 0 && text.starts_with('\u{feff}') {
        start = 3;
    }
    let mut p = JsonParser {
        file,
        text,
        b: &text.as_bytes()[..range.end],
        pos: start,
        limits,
        warnings: Vec::new(),
    };
    loop {
        p.skip_ws();
        if p.pos >= p.b.len() {
            break;
        }
        let from = p.pos;
        match p.value(0) {
            Ok((value, node)) => {
                if let Some(at) = split::first_bad(bad, &(from..p.pos)) {
                    p.warnings.clear();
                    diags.push(split::invalid_utf8(file, at));
                    continue;
                }
                diags.append(&mut p.warnings);
                // kubectl leaves out `null`.
                if value.is_null() {
                    continue;
                }
                let span = Span::new(file, node.start as usize, node.end as usize);
                let doc = Document {
                    value,
                    span,
                    index: SpanIndex { root: node },
                    ambiguities: Vec::new(),
                };
                sink(doc, diags);
            }
            Err(e) => {
                diags.append(&mut p.warnings);
                diags.push(*e);
                // Go's decoder cannot find the next value after a syntax error, so
                // kubectl stops here too.
                break;
            }
        }
    }
}

type Fatal = Box<Diagnostic>;

struct JsonParser<'t> {
    file: FileId,
    text: &'t str,
    b: &'t [u8],
    pos: usize,
    limits: &'t Limits,
    /// Duplicate keys of the value being read.
    warnings: Vec<Diagnostic>,
}

impl JsonParser<'_> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    fn point(&self, at: usize) -> Span {
        point_span(self.file, self.text, at)
    }

    fn error(&self, at: usize, message: impl Into<String>, label: &str) -> Fatal {
        Box::new(
            Diagnostic::new(Code::SyntaxError, message)
                .with_primary(self.point(at), label.to_owned())
                .with_help("a file that starts with `{` is read as JSON by kubectl, and JSON allows no comments, single quotes, trailing commas, hex numbers or leading zeros"),
        )
    }

    fn unexpected(&self, what: &str) -> Fatal {
        let Some(&c) = self.b.get(self.pos) else {
            return self.error(
                self.pos,
                format!("the JSON text ends where {what} was expected"),
                "ends here",
            );
        };
        let shown = self.text[self.pos..].chars().next().unwrap_or('?');
        let hint = match c {
            b'\'' => " (JSON strings take double quotes)",
            b'/' | b'#' => " (JSON has no comments)",
            b'}' | b']' => " (JSON allows no trailing comma)",
            _ => "",
        };
        self.error(
            self.pos,
            format!("invalid JSON: unexpected `{shown}` where {what} was expected{hint}"),
            "unexpected",
        )
    }

    /// The `{` or `[` at `open` is not closed before the text ends.
    fn unclosed(&self, open: usize) -> Fatal {
        let bracket = self.b[open] as char;
        let close = if bracket == '{' { '}' } else { ']' };
        let end = self.b.len();
        Box::new(
            Diagnostic::new(
                Code::SyntaxError,
                format!("this `{bracket}` is never closed: the JSON text ends first"),
            )
            .with_primary(Span::new(self.file, open, open + 1), "opened here")
            .with_secondary(
                self.point(end),
                format!("the text ends here, without `{close}`"),
            )
            .with_help("the file looks truncated; check that it was written completely"),
        )
    }

    fn value(&mut self, depth: usize) -> Result<(Value, SpanNode), Fatal> {
        self.skip_ws();
        let start = self.pos;
        let leaf = |v: Value, end: usize| {
            (
                v,
                SpanNode {
                    start: start as u32,
                    end: end as u32,
                    key: None,
                    kids: Kids::Leaf,
                },
            )
        };
        match self.b.get(self.pos) {
            Some(b'{' | b'[') if depth >= self.limits.max_depth => Err(Box::new(
                Diagnostic::new(
                    Code::NestingTooDeep,
                    format!(
                        "this document is nested deeper than {} levels",
                        self.limits.max_depth
                    ),
                )
                .with_primary(self.point(start), "too deep here")
                .with_help(
                    "manifests are rarely deeper than 20 levels; check for a runaway generator",
                ),
            )),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                let s = self.string()?;
                Ok(leaf(Value::String(s), self.pos))
            }
            Some(b't') => self
                .literal("true", Value::Bool(true))
                .map(|v| leaf(v, self.pos)),
            Some(b'f') => self
                .literal("false", Value::Bool(false))
                .map(|v| leaf(v, self.pos)),
            Some(b'n') => self.literal("null", Value::Null).map(|v| leaf(v, self.pos)),
            Some(b'-' | b'0'..=b'9') => {
                let v = self.number()?;
                Ok(leaf(v, self.pos))
            }
            _ => Err(self.unexpected("a value")),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, Fatal> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.unexpected("a value"))
        }
    }

    fn number(&mut self) -> Result<Value, Fatal> {
        let start = self.pos;
        let b = self.b;
        let mut i = self.pos;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => {
                self.pos = i;
                return Err(self.unexpected("a digit"));
            }
        }
        let mut integer = true;
        if b.get(i) == Some(&b'.') {
            integer = false;
            i += 1;
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                self.pos = i;
                return Err(self.unexpected("a digit after `.`"));
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            integer = false;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                self.pos = i;
                return Err(self.unexpected("a digit in the exponent"));
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        self.pos = i;
        let s = &self.text[start..i];
        // kubectl keeps an integer that fits an i64, and reads anything else as a float.
        if integer && let Ok(n) = s.parse::<i64>() {
            return Ok(Value::from(n));
        }
        match s.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(float_value(f)),
            _ => Err(Box::new(
                Diagnostic::new(
                    Code::SyntaxError,
                    format!("the number {s} is too large for a float; kubectl cannot read it"),
                )
                .with_primary(Span::new(self.file, start, i), "out of range")
                .with_help("quote it if a string is meant"),
            )),
        }
    }

    /// A string starting at the `"` under the cursor; the cursor ends after the closing `"`.
    fn string(&mut self) -> Result<String, Fatal> {
        let open = self.pos;
        let b = self.b;
        let mut i = open + 1;
        let mut out: Option<String> = None;
        let mut run = i;
        loop {
            match b.get(i) {
                None => {
                    return Err(Box::new(
                        Diagnostic::new(
                            Code::SyntaxError,
                            "this JSON string is never closed: the text ends first",
                        )
                        .with_primary(Span::new(self.file, open, open + 1), "opened here")
                        .with_help(
                            "the file looks truncated; check that it was written completely",
                        ),
                    ));
                }
                Some(b'"') => {
                    let tail = &self.text[run..i];
                    self.pos = i + 1;
                    return Ok(match out {
                        Some(mut s) => {
                            s.push_str(tail);
                            s
                        }
                        None => tail.to_owned(),
                    });
                }
                Some(b'\\') => {
                    let s = out.get_or_insert_with(String::new);
                    s.push_str(&self.text[run..i]);
                    let (c, next) = self.escape(i)?;
                    s.push(c);
                    i = next;
                    run = i;
                }
                Some(&c) if c < 0x20 => {
                    self.pos = i;
                    return Err(self.error(
                        i,
                        "invalid JSON: a control character inside a string must be escaped",
                        "here",
                    ));
                }
                Some(_) => i += 1,
            }
        }
    }

    /// The escape at `at` (a backslash): its character and where the text goes on.
    /// A lone surrogate becomes U+FFFD, as in Go.
    fn escape(&mut self, at: usize) -> Result<(char, usize), Fatal> {
        let b = self.b;
        let simple = match b.get(at + 1) {
            Some(b'"') => Some('"'),
            Some(b'\\') => Some('\\'),
            Some(b'/') => Some('/'),
            Some(b'b') => Some('\u{8}'),
            Some(b'f') => Some('\u{c}'),
            Some(b'n') => Some('\n'),
            Some(b'r') => Some('\r'),
            Some(b't') => Some('\t'),
            Some(b'u') => None,
            _ => {
                self.pos = at + 1;
                return Err(self.error(at, "invalid JSON escape", "here"));
            }
        };
        if let Some(c) = simple {
            return Ok((c, at + 2));
        }
        let hex = |i: usize| -> Option<u32> {
            let h = self.text.get(i..i + 4)?;
            if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(h, 16).ok()
        };
        let Some(u) = hex(at + 2) else {
            return Err(self.error(
                at,
                "invalid JSON escape: `\\u` needs four hex digits",
                "here",
            ));
        };
        if (0xD800..0xDC00).contains(&u)
            && b.get(at + 6) == Some(&b'\\')
            && b.get(at + 7) == Some(&b'u')
            && let Some(lo) = hex(at + 8)
            && (0xDC00..0xE000).contains(&lo)
        {
            let c = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            return Ok((char::from_u32(c).unwrap_or('\u{fffd}'), at + 12));
        }
        Ok((char::from_u32(u).unwrap_or('\u{fffd}'), at + 6))
    }

    fn object(&mut self, depth: usize) -> Result<(Value, SpanNode), Fatal> {
        let open = self.pos;
        self.pos += 1;
        let mut map = Map::new();
        let mut kids: Vec<SpanNode> = Vec::new();
        self.skip_ws();
        if self.b.get(self.pos) == Some(&b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                match self.b.get(self.pos) {
                    None => return Err(self.unclosed(open)),
                    Some(b'"') => {}
                    Some(_) => return Err(self.unexpected("a string key")),
                }
                let key_start = self.pos;
                let key = self.string()?;
                let key_span = (key_start as u32, self.pos as u32);
                self.skip_ws();
                match self.b.get(self.pos) {
                    None => return Err(self.unclosed(open)),
                    Some(b':') => self.pos += 1,
                    Some(_) => return Err(self.unexpected("`:`")),
                }
                self.skip_ws();
                if self.pos >= self.b.len() {
                    return Err(self.unclosed(open));
                }
                let (value, mut node) = self.value(depth + 1)?;
                node.key = Some(key_span);
                if let Some(i) = map
                    .contains_key(&key)
                    .then(|| map.keys().position(|k| *k == key))
                    .flatten()
                {
                    let (fs, fe) = kids[i].key.unwrap_or(key_span);
                    self.warnings.push(
                        Diagnostic::new(
                            Code::DuplicateKey,
                            format!("the key `{key}` appears twice in this object; kubectl rejects duplicate fields"),
                        )
                        .with_primary(Span::new(self.file, key_span.0 as usize, key_span.1 as usize), "repeated here")
                        .with_secondary(Span::new(self.file, fs as usize, fe as usize), "first here")
                        .with_help("remove one of them (netpol reads the last one)"),
                    );
                    kids[i] = node;
                    map.insert(key, value);
                } else {
                    kids.push(node);
                    map.insert(key, value);
                }
                self.skip_ws();
                match self.b.get(self.pos) {
                    None => return Err(self.unclosed(open)),
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    Some(_) => return Err(self.unexpected("`,` or `}`")),
                }
            }
        }
        let node = SpanNode {
            start: open as u32,
            end: self.pos as u32,
            key: None,
            kids: Kids::Map(kids),
        };
        Ok((Value::Object(map), node))
    }

    fn array(&mut self, depth: usize) -> Result<(Value, SpanNode), Fatal> {
        let open = self.pos;
        self.pos += 1;
        let mut values = Vec::new();
        let mut kids = Vec::new();
        self.skip_ws();
        if self.b.get(self.pos) == Some(&b']') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.pos >= self.b.len() {
                    return Err(self.unclosed(open));
                }
                let (v, n) = self.value(depth + 1)?;
                values.push(v);
                kids.push(n);
                self.skip_ws();
                match self.b.get(self.pos) {
                    None => return Err(self.unclosed(open)),
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    Some(_) => return Err(self.unexpected("`,` or `]`")),
                }
            }
        }
        let node = SpanNode {
            start: open as u32,
            end: self.pos as u32,
            key: None,
            kids: Kids::Seq(kids),
        };
        Ok((Value::Array(values), node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpol_diag::SourceMap;

    fn run(text: &str) -> (Vec<Value>, Vec<Diagnostic>) {
        let mut map = SourceMap::new();
        let file = map.add("x.json", text.to_owned());
        let (docs, diags) = super::super::parse_documents(file, text, &Limits::default());
        (docs.into_iter().map(|d| d.value).collect(), diags)
    }

    #[test]
    fn concatenated_values_are_documents() {
        let (docs, diags) = run("{\"a\": 1}{\"b\": [1.5, \"x\\u00e9\\ud83d\\ude00\"]}\n null {}");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1]["b"][1], "xé😀");
    }

    #[test]
    fn truncated_json_names_the_unclosed_bracket_fast() {
        let mut text = String::from("{\"items\": [");
        for i in 0..200_000 {
            text.push_str(&format!("{{\"name\": \"n{i}\", \"v\": [1, 2, 3]}},"));
        }
        text.push_str("{\"name\": \"last\", \"v\": [1, 2");
        let t = std::time::Instant::now();
        let (docs, diags) = run(&text);
        assert!(t.elapsed().as_secs() < 5);
        assert!(docs.is_empty());
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(
            diags[0].message.contains("`[` is never closed"),
            "{}",
            diags[0].message
        );
        let at = diags[0].primary_span().map(|s| s.start);
        assert_eq!(at.map(|a| a as usize), text.rfind('['));
    }

    #[test]
    fn non_json_syntax_is_an_error() {
        for bad in [
            "{\"a\": 0x10}",
            "{\"a\": 010}",
            "{'a': 1}",
            "{\"a\": 1, // c\n}",
            "{\"a\": 1,}",
            "{\"a\": [1,]}",
            "{\"a\": .5}",
        ] {
            let (docs, diags) = run(bad);
            assert!(docs.is_empty(), "{bad}");
            assert_eq!(diags.len(), 1, "{bad}: {diags:?}");
            assert_eq!(diags[0].code, Code::SyntaxError, "{bad}");
        }
    }
}
