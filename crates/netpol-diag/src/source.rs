//! Files, byte spans into them, and line/column lookup.

use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(u32);

impl FileId {
    /// The raw index, for serialisation.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A byte range `[start, end)` in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span {
            file,
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// 1-based line and column (column counted in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug)]
struct SourceFile {
    name: String,
    text: Arc<str>,
    /// Byte offset of the start of every line.
    line_starts: Vec<u32>,
    /// Whether code frames may show the text (see [`SourceMap::set_quoted`]).
    quoted: bool,
    /// For a text that is not ASCII: the number of characters before every
    /// [`MARK_BYTES`]-th byte (rounded up to a character boundary), so that a column on a
    /// long line costs at most one block of counting, not the whole line (many diagnostics
    /// on one huge line made `short` quadratic). Empty for ASCII, where a column is a
    /// subtraction.
    char_marks: Vec<(u32, u32)>,
}

const MARK_BYTES: usize = 4096;

impl SourceFile {
    /// Characters in `text[..offset]`, `offset` on a character boundary.
    fn chars_before(&self, offset: usize) -> usize {
        if self.char_marks.is_empty() {
            return offset;
        }
        let i = self
            .char_marks
            .partition_point(|&(byte, _)| byte as usize <= offset);
        let (byte, chars) = self.char_marks[i - 1];
        chars as usize + self.text[byte as usize..offset].chars().count()
    }
}

fn char_marks(text: &str) -> Vec<(u32, u32)> {
    if text.is_ascii() {
        return Vec::new();
    }
    let mut marks = vec![(0, 0)];
    let (mut byte, mut chars) = (0usize, 0usize);
    while byte + MARK_BYTES < text.len() {
        let mut next = byte + MARK_BYTES;
        while !text.is_char_boundary(next) {
            next += 1;
        }
        chars += text[byte..next].chars().count();
        byte = next;
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        marks.push((clamp(byte), clamp(chars)));
    }
    marks
}

/// All files read in one run. File ids are handed out in insertion order.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file under a display name (a path as the user gave it, or `<stdin>`).
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<Arc<str>>) -> FileId {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| u32::try_from(i + 1).unwrap_or(u32::MAX)),
        );
        let id = FileId(u32::try_from(self.files.len()).expect("fewer than 4 billion files"));
        self.files.push(SourceFile {
            name: name.into(),
            char_marks: char_marks(&text),
            text,
            line_starts,
            quoted: true,
        });
        id
    }

    pub fn name(&self, file: FileId) -> &str {
        &self.files[file.index()].name
    }

    /// Whether diagnostics may quote this file's text. Files are quoted unless the caller
    /// says otherwise: a file that is not what the tool expected (a secret passed as a
    /// manifest) should be located (`path:line:col`), never echoed into a log.
    pub fn set_quoted(&mut self, file: FileId, quoted: bool) {
        self.files[file.index()].quoted = quoted;
    }

    pub fn is_quoted(&self, file: FileId) -> bool {
        self.files[file.index()].quoted
    }

    pub fn text(&self, file: FileId) -> &Arc<str> {
        &self.files[file.index()].text
    }

    /// The text a span covers (empty when the span is out of range).
    pub fn snippet(&self, span: Span) -> &str {
        let text = self.text(span.file);
        text.get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    pub fn files(&self) -> impl Iterator<Item = FileId> + '_ {
        (0..self.files.len()).map(|i| FileId(i as u32))
    }

    /// Line and column of a byte offset. Offsets past the end map to the last position.
    pub fn line_col(&self, file: FileId, offset: u32) -> LineCol {
        let f = &self.files[file.index()];
        let offset = offset.min(f.text.len() as u32);
        let line = f.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = f.line_starts[line] as usize;
        let end = (offset as usize).max(start);
        let col = if f.text.is_char_boundary(end) {
            f.chars_before(end) - f.chars_before(start)
        } else {
            end - start
        };
        LineCol {
            line: line as u32 + 1,
            col: col as u32 + 1,
        }
    }

    /// The 0-based line of a byte offset (offsets past the end: the last line).
    pub(crate) fn line_index(&self, file: FileId, offset: usize) -> usize {
        let f = &self.files[file.index()];
        f.line_starts
            .partition_point(|&s| s as usize <= offset)
            .saturating_sub(1)
    }

    /// How many lines a file has (a final newline starts an empty last line).
    pub(crate) fn line_count(&self, file: FileId) -> usize {
        self.files[file.index()].line_starts.len()
    }

    /// The byte range of a 0-based line, with its line break.
    pub(crate) fn line_range(&self, file: FileId, line: usize) -> std::ops::Range<usize> {
        let f = &self.files[file.index()];
        let start = f.line_starts[line] as usize;
        let end = f
            .line_starts
            .get(line + 1)
            .map_or(f.text.len(), |&s| s as usize);
        start..end
    }

    /// Where a span starts.
    pub fn start(&self, span: Span) -> LineCol {
        self.line_col(span.file, span.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let mut map = SourceMap::new();
        let f = map.add("a.yaml", "# é\nkey: 1\n");
        assert_eq!(map.line_col(f, 0), LineCol { line: 1, col: 1 });
        // "é" is two bytes; "key" starts on line 2.
        assert_eq!(map.line_col(f, 5), LineCol { line: 2, col: 1 });
        assert_eq!(map.line_col(f, 10), LineCol { line: 2, col: 6 });
        assert_eq!(map.line_col(f, 4), LineCol { line: 1, col: 4 });
        assert_eq!(map.line_col(f, 999), LineCol { line: 3, col: 1 });
    }

    /// Columns on a long non-ASCII line come from the character marks: they must agree
    /// with counting from the line's start.
    #[test]
    fn columns_on_a_long_line_match_counting() {
        let text = format!("a\n{}", "é☃x".repeat(5000));
        let mut map = SourceMap::new();
        let f = map.add("long.yaml", text.clone());
        for (offset, _) in text.char_indices().step_by(997) {
            let want = text[..offset]
                .rsplit('\n')
                .next()
                .unwrap_or("")
                .chars()
                .count();
            let got = map.line_col(f, offset as u32);
            assert_eq!(got.col as usize, want + 1, "{offset}");
        }
    }
}
