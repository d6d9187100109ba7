//! What miette is shown of a file: a few lines around each label, long lines cut.
//!
//! miette finds a span's line by scanning its source from the start, and draws a line of
//! any length with `{:width$}` padding (which panics past 65,535 columns). So it is never
//! handed a whole file: a [`Window`] is a small text of its own, made of *pieces* (runs of
//! whole lines around the labels, one per group of nearby labels), in which every line
//! longer than [`LONG_LINE`] characters keeps only [`KEEP`] characters either side of each
//! label end, with `…` for the rest. Labels are moved into the window's offsets; line
//! numbers and the header's column are mapped back to the file's, so the frame reads as if
//! miette had the whole file. The cost of a diagnostic is the size of its frame, whatever
//! the distance between its labels or the length of its lines.

use std::ops::Range;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

use crate::{FileId, SourceMap};

/// miette's default, which the handler keeps.
const CONTEXT_LINES: usize = 1;
/// Lines longer than this many characters are cut around the labels.
pub(super) const LONG_LINE: usize = 200;
/// Characters kept on each side of a label's start and end on a cut line.
pub(super) const KEEP: usize = 60;
/// A label spanning more lines than this is drawn on its first line only, so that a frame
/// never echoes a whole document.
pub(super) const MAX_LABEL_LINES: usize = 12;

/// The text miette draws for one diagnostic, and how it maps back to the file.
pub(super) struct Window<'a> {
    map: &'a SourceMap,
    file: FileId,
    name: String,
    text: String,
    /// Byte ranges of `text`, each whole lines; 0-based number of each one's first line.
    pieces: Vec<(Range<usize>, usize)>,
    /// Runs of `text` copied from the file: (offset in `text`, offset in the file, length),
    /// sorted. What lies between two runs is an inserted `…`.
    runs: Vec<(usize, usize, usize)>,
}

impl<'a> Window<'a> {
    /// A window on `file` around `labels` (file byte ranges on character boundaries).
    /// Returns it with the labels moved into its offsets, in the same order.
    pub(super) fn new(
        map: &'a SourceMap,
        file: FileId,
        labels: &[Range<usize>],
        unicode: bool,
    ) -> (Window<'a>, Vec<Range<usize>>) {
        let src: &str = map.text(file);
        let ellipsis = if unicode { "…" } else { "..." };
        let labels: Vec<Range<usize>> = labels.iter().map(|r| shorten(map, file, r)).collect();
        // Line ranges around the labels, merged when they touch.
        let mut groups: Vec<(usize, usize)> = labels
            .iter()
            .map(|r| {
                let (first, last) = (map.line_index(file, r.start), map.line_index(file, r.end));
                // One line more than miette asks for, so that its requests stay inside.
                let ctx = CONTEXT_LINES + 1;
                (
                    first.saturating_sub(ctx),
                    (last + ctx).min(map.line_count(file) - 1),
                )
            })
            .collect();
        groups.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(groups.len());
        for (first, last) in groups {
            match merged.last_mut() {
                Some(prev) if first <= prev.1 + 1 => prev.1 = prev.1.max(last),
                _ => merged.push((first, last)),
            }
        }
        let mut window = Window {
            map,
            file,
            name: super::escape_controls(map.name(file)),
            text: String::new(),
            pieces: Vec::with_capacity(merged.len()),
            runs: Vec::new(),
        };
        for (first, last) in merged {
            let start = window.text.len();
            for line in first..=last {
                let whole = map.line_range(file, line);
                let content_end =
                    whole.start + src[whole.clone()].trim_end_matches(['\n', '\r']).len();
                let content = whole.start..content_end;
                if content.len() <= LONG_LINE
                    || src[content.clone()].chars().nth(LONG_LINE).is_none()
                {
                    window.copy(src, whole);
                    continue;
                }
                let ends = labels
                    .iter()
                    .flat_map(|r| [r.start, r.end])
                    .filter(|p| content.contains(p) || *p == content.end);
                let mut keep: Vec<Range<usize>> =
                    ends.map(|p| around(src, content.clone(), p)).collect();
                if keep.is_empty() {
                    // A context line: its start.
                    keep.push(content.start..advance(src, content.start, content.end, 2 * KEEP));
                }
                keep.sort_unstable_by_key(|r| r.start);
                let mut at = content.start;
                for r in keep {
                    let r = r.start.max(at)..r.end;
                    if r.start >= r.end && r.start != content.end {
                        continue;
                    }
                    if r.start > at {
                        window.text.push_str(ellipsis);
                    }
                    window.copy(src, r.clone());
                    at = r.end.max(at);
                }
                if at < content.end {
                    window.text.push_str(ellipsis);
                }
                window.copy(src, content.end..whole.end);
            }
            window.pieces.push((start..window.text.len(), first));
        }
        let moved = labels
            .iter()
            .map(|r| {
                let start = window.to_window(r.start);
                start..window.to_window(r.end).max(start)
            })
            .collect();
        (window, moved)
    }

    #[cfg(test)]
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// Copies `src[r]`, with every control character but line breaks and tabs shown as
    /// `?` (`??` for a two-byte one): a manifest must not drive the terminal or rewrite a
    /// CI log's lines. The length in bytes is kept, so offsets map one to one.
    fn copy(&mut self, src: &str, r: Range<usize>) {
        if r.is_empty() {
            return;
        }
        self.runs.push((self.text.len(), r.start, r.len()));
        let part = &src[r];
        let mut chars = part.chars().peekable();
        while let Some(c) = chars.next() {
            let line_break = c == '\n' || (c == '\r' && chars.peek().is_none_or(|&n| n == '\n'));
            if c.is_control() && c != '\t' && !line_break {
                self.text.extend(std::iter::repeat_n('?', c.len_utf8()));
            } else {
                self.text.push(c);
            }
        }
    }

    /// A file offset in the window (every label end is in a copied run).
    fn to_window(&self, offset: usize) -> usize {
        let i = self.runs.partition_point(|&(_, real, _)| real <= offset);
        match i.checked_sub(1).map(|i| self.runs[i]) {
            Some((virt, real, len)) if offset <= real + len => virt + (offset - real),
            // Past every run (an empty file): the end of the text.
            _ => self.text.len(),
        }
    }

    /// A window offset in the file.
    fn to_file(&self, offset: usize) -> Option<usize> {
        let i = self.runs.partition_point(|&(virt, _, _)| virt <= offset);
        let (virt, real, len) = self.runs[i.checked_sub(1)?];
        (offset <= virt + len).then_some(real + (offset - virt))
    }
}

/// A label spanning more than [`MAX_LABEL_LINES`] lines, cut to its first line.
fn shorten(map: &SourceMap, file: FileId, r: &Range<usize>) -> Range<usize> {
    let first = map.line_index(file, r.start);
    if map.line_index(file, r.end) - first < MAX_LABEL_LINES {
        return r.clone();
    }
    let line = map.line_range(file, first);
    let text = &map.text(file)[line.clone()];
    let end = line.start + text.trim_end_matches(['\n', '\r']).len();
    r.start..end.max(r.start)
}

/// `KEEP` characters either side of `p`, within `content`.
fn around(src: &str, content: Range<usize>, p: usize) -> Range<usize> {
    let p = p.min(content.end);
    let before = src[content.start..p]
        .char_indices()
        .rev()
        .nth(KEEP - 1)
        .map_or(content.start, |(i, _)| content.start + i);
    before..advance(src, p, content.end, KEEP)
}

/// The offset `n` characters after `from`, at most `end`.
fn advance(src: &str, from: usize, end: usize, n: usize) -> usize {
    src[from..end]
        .char_indices()
        .nth(n)
        .map_or(end, |(i, _)| from + i)
}

impl SourceCode for Window<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let (start, end) = (span.offset(), span.offset() + span.len());
        // The piece holding the span; a span across two pieces (miette trying to join two
        // far-apart labels into one frame) is refused, and miette draws two frames.
        let (range, first_line) = self
            .pieces
            .iter()
            .find(|(r, _)| r.start <= start && end <= r.end)
            .ok_or(MietteError::OutOfBounds)?;
        let piece = &self.text.as_bytes()[range.clone()];
        let local = SourceSpan::new((start - range.start).into(), span.len());
        let c = piece.read_span(&local, before, after)?;
        let column = if before == 0 {
            // The header's column: counted in the file, not in the cut line.
            self.to_file(start).map_or(c.column(), |o| {
                self.map.line_col(self.file, o as u32).col as usize - 1
            })
        } else {
            c.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            c.data(),
            SourceSpan::new((c.span().offset() + range.start).into(), c.span().len()),
            c.line() + first_line,
            column,
            // miette counts the lines from the start of the source to the context's end.
            c.line_count() + first_line,
        )))
    }
}
