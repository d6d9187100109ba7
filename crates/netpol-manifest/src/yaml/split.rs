//! Bytes to text, and text to documents, the way kubectl frames them
//! (`k8s.io/apimachinery/pkg/util/yaml`, `YAMLOrJSONDecoder`):
//!
//! - A stream whose first non-space character is `{` is read as a stream of JSON values.
//! - Otherwise the stream is cut at lines that start with `---`. The rest of such a line
//!   must be empty or a comment; anything else (`---apiVersion: v1`, `--- !!map`, `----`)
//!   is "invalid Yaml document separator" for kubectl, which then rejects the file.
//! - go-yaml then reads the first YAML document of each piece and ignores the rest.

use std::ops::Range;

use netpol_diag::{Code, Diagnostic, FileId, Span};

/// How far kubectl looks for the `{` that makes a stream JSON (`GuessJSONStream`).
const JSON_SNIFF_BYTES: usize = 4096;

/// Text decoded from bytes, and where invalid UTF-8 was replaced.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub(crate) text: String,
    /// Byte offsets in `text` of U+FFFD characters that replaced invalid UTF-8 bytes.
    pub(crate) bad: Vec<usize>,
}

/// Decodes a file's bytes as kubectl's file reader does: a UTF-16 byte order mark
/// selects UTF-16 (transcoded to UTF-8, so spans refer to the transcoded text),
/// otherwise UTF-8. Each invalid UTF-8 byte becomes U+FFFD (as in Go) and is recorded,
/// so that only the documents holding one are refused.
pub(crate) fn decode(bytes: Vec<u8>) -> Decoded {
    let utf16 = match bytes.get(..2) {
        Some([0xFF, 0xFE]) => Some(u16::from_le_bytes as fn([u8; 2]) -> u16),
        Some([0xFE, 0xFF]) => Some(u16::from_be_bytes as fn([u8; 2]) -> u16),
        _ => None,
    };
    if let Some(unit) = utf16 {
        let units = bytes[2..].chunks(2).map(|c| match *c {
            [a, b] => unit([a, b]),
            _ => 0xFFFD,
        });
        let text = char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        return Decoded {
            text,
            bad: Vec::new(),
        };
    }
    match String::from_utf8(bytes) {
        Ok(text) => Decoded {
            text,
            bad: Vec::new(),
        },
        Err(e) => {
            let bytes = e.into_bytes();
            let mut text = String::with_capacity(bytes.len() + 16);
            let mut bad = Vec::new();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                match std::str::from_utf8(rest) {
                    Ok(s) => {
                        text.push_str(s);
                        break;
                    }
                    Err(e) => {
                        let ok = e.valid_up_to();
                        // The prefix is valid UTF-8 by definition.
                        text.push_str(std::str::from_utf8(&rest[..ok]).unwrap_or_default());
                        bad.push(text.len());
                        text.push(char::REPLACEMENT_CHARACTER);
                        // Go replaces one byte at a time.
                        rest = &rest[ok + 1..];
                    }
                }
            }
            Decoded { text, bad }
        }
    }
}

/// The `invalid-utf8` error for a document holding a replaced byte at `at`.
pub(crate) fn invalid_utf8(file: FileId, at: usize) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidUtf8,
        "this document is not valid UTF-8; it is skipped",
    )
    .with_primary(Span::new(file, at, at + 3), "invalid byte")
    .with_help("Kubernetes manifests must be UTF-8 (kubectl silently turns such bytes into U+FFFD); re-encode the file (e.g. `iconv -t UTF-8`)")
}

/// The first invalid byte inside `range`, if any.
pub(crate) fn first_bad(bad: &[usize], range: &Range<usize>) -> Option<usize> {
    let i = bad.partition_point(|&b| b < range.start);
    bad.get(i).copied().filter(|&b| b < range.end)
}

/// Whether kubectl reads the whole stream as JSON: its first non-space character
/// (within the first 4 KiB, after a byte order mark) is `{`.
pub(crate) fn is_json_stream(text: &str) -> bool {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let head = &body.as_bytes()[..body.len().min(JSON_SNIFF_BYTES)];
    let head = String::from_utf8_lossy(head);
    head.trim_start().starts_with('{')
}

/// One piece of a YAML stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// The text between two separator lines (without them).
    Doc(Range<usize>),
    /// A line that starts with `---` followed by content: kubectl rejects the file here.
    /// `line` is the separator line, `rest` the content after `---`, `until` the end of
    /// the lines that follow it up to the next separator (read as part of it, skipped).
    BadSeparator {
        line: Range<usize>,
        rest: Range<usize>,
        until: usize,
    },
}

/// Whether the line starting at `at` starts with `---`. Its content decides whether it
/// is a separator or a bad one.
fn dashes(text: &str, at: usize) -> bool {
    let at = if at == 0 && text.starts_with('\u{feff}') {
        3
    } else {
        at
    };
    text.as_bytes().get(at..at + 3).is_some_and(|b| b == b"---")
}

/// Cuts `text[range]` into pieces at lines starting with `---`, as kubectl's
/// `YAMLReader` does. Lines end at `\n` only (a lone `\r` ends no line for kubectl).
pub(crate) fn pieces(text: &str, range: Range<usize>) -> Vec<Piece> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut doc_start = range.start;
    let mut pos = range.start;
    let mut bad: Option<(Range<usize>, Range<usize>)> = None;
    let flush = |out: &mut Vec<Piece>,
                 bad: &mut Option<(Range<usize>, Range<usize>)>,
                 from: usize,
                 to: usize| {
        match bad.take() {
            Some((line, rest)) => out.push(Piece::BadSeparator {
                line,
                rest,
                until: to,
            }),
            None => {
                if from < to {
                    out.push(Piece::Doc(from..to));
                }
            }
        }
    };
    while pos < range.end {
        let eol = memchr(b'\n', &bytes[pos..range.end]).map_or(range.end, |i| pos + i + 1);
        if dashes(text, pos) {
            flush(&mut out, &mut bad, doc_start, pos);
            let after = if pos == 0 && text.starts_with('\u{feff}') {
                6
            } else {
                pos + 3
            };
            let rest = &text[after..eol];
            let trimmed = rest.trim();
            if !(trimmed.is_empty() || trimmed.starts_with('#')) {
                let lead = rest.len() - rest.trim_start().len();
                let content = after + lead..after + lead + trimmed.len();
                let line_end = text[pos..eol].trim_end_matches(['\n', '\r']).len() + pos;
                bad = Some((pos..line_end, content));
            }
            doc_start = eol;
        }
        pos = eol;
    }
    flush(&mut out, &mut bad, doc_start, range.end);
    out
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// The `invalid-separator` error for a bad `---` line.
pub(crate) fn bad_separator(file: FileId, line: &Range<usize>, rest: &Range<usize>) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidSeparator,
        "a line that starts with `---` must hold nothing else but a comment; kubectl rejects this file",
    )
    .with_primary(Span::new(file, rest.start, rest.end), "content after `---`")
    .with_secondary(Span::new(file, line.start, line.start + 3), "document separator")
    .with_help("put `---` on a line of its own and the content on the next line; this document is skipped")
}

/// Splits `text` into runs of whole documents of roughly `target` bytes, at lines that
/// start with `---`, so that the runs can be parsed in parallel. A JSON stream is one run.
pub(crate) fn runs(text: &str, target: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    if text.len() >= 2 * target && !is_json_stream(text) {
        let bytes = text.as_bytes();
        let mut at = target;
        while at < text.len() {
            // The start of the next line at or after `at` that starts with `---`.
            let mut i = memchr(b'\n', &bytes[at..]).map_or(text.len(), |j| at + j + 1);
            while i < text.len() && !dashes(text, i) {
                i = memchr(b'\n', &bytes[i..]).map_or(text.len(), |j| i + j + 1);
            }
            if i >= text.len() {
                break;
            }
            out.push(from..i);
            from = i;
            at = i + target;
        }
    }
    out.push(from..text.len());
    out
}

/// Whether `c` may appear in YAML for go-yaml's reader; kubectl rejects a document
/// holding any other ("control characters are not allowed").
pub(crate) fn yaml_char_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// The first character in `text[range]` that go-yaml refuses, with its offset.
pub(crate) fn first_control(text: &str, range: &Range<usize>) -> Option<(usize, char)> {
    let s = &text[range.clone()];
    // Whole chunks without an early exit, so that the check vectorises.
    let plain = |c: &[u8]| {
        c.iter().fold(true, |ok, &b| {
            ok & ((0x20..0x7f).contains(&b) | (b == b'\n') | (b == b'\t') | (b == b'\r'))
        })
    };
    if s.as_bytes().chunks(256).all(plain) {
        return None;
    }
    s.char_indices()
        .find(|&(_, c)| !yaml_char_allowed(c))
        .map(|(i, c)| (range.start + i, c))
}

/// The first NEL, LS or PS character in `text[range]`: line breaks for go-yaml (YAML
/// 1.1) but not for YAML 1.2, so the two read the document differently.
pub(crate) fn first_yaml11_break(text: &str, range: &Range<usize>) -> Option<(usize, char)> {
    let s = &text[range.clone()];
    if s.is_ascii() {
        return None;
    }
    s.char_indices()
        .find(|&(_, c)| matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}'))
        .map(|(i, c)| (range.start + i, c))
}

/// The first content line of a piece when it is a `%` directive: kubectl cuts the `---`
/// that a directive needs, so go-yaml never accepts one.
pub(crate) fn leading_directive(text: &str, range: &Range<usize>) -> Option<Range<usize>> {
    let mut pos = range.start;
    for line in text[range.clone()].split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start_matches('\u{feff}').trim();
        if !(trimmed.is_empty() || trimmed.starts_with('#')) {
            return body
                .trim_start_matches('\u{feff}')
                .starts_with('%')
                .then(|| {
                    pos + (body.len() - body.trim_start_matches('\u{feff}').len())..pos + body.len()
                });
        }
        pos += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_follow_kubectl_separators() {
        let text = "a: 1\n---\nb: 2\n--- # c\nc: 3\n---x: 1\nd: 4\n---\ne: 5";
        let p = pieces(text, 0..text.len());
        let docs: Vec<String> = p
            .iter()
            .map(|p| match p {
                Piece::Doc(r) => text[r.clone()].to_owned(),
                Piece::BadSeparator { rest, until, .. } => {
                    format!("bad {} until {}", &text[rest.clone()], until)
                }
            })
            .collect();
        assert_eq!(
            docs,
            ["a: 1\n", "b: 2\n", "c: 3\n", "bad x: 1 until 40", "e: 5"]
        );
    }

    #[test]
    fn invalid_bytes_become_replacement_characters_one_each() {
        let d = decode(b"a\xe9b\xff\xfec".to_vec());
        assert_eq!(d.text, "a\u{fffd}b\u{fffd}\u{fffd}c");
        assert_eq!(d.bad, vec![1, 5, 8]);
        let d = decode(vec![0xFF, 0xFE, b'a', 0, 0xE9, 0]);
        assert_eq!(d.text, "a\u{e9}");
    }

    #[test]
    fn json_streams_start_with_a_brace() {
        assert!(is_json_stream(" \n{\"a\": 1}"));
        assert!(is_json_stream("\u{feff}{}"));
        assert!(!is_json_stream("[1]"));
        assert!(!is_json_stream("a: {}"));
    }
}
