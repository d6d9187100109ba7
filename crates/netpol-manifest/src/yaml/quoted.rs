//! Quoted scalars whose continuation lines are indented less than saphyr requires.
//!
//! saphyr refuses a multi-line quoted scalar with a line at or left of its block's
//! indentation ("invalid indentation in quoted scalar", as YAML 1.2 reads the line
//! prefixes); libyaml, and so kubectl, reads it (checked with `kubectl create`: a closing
//! `}'` under its key, or lines at column 0). The leading white space of a continuation line
//! is not part of the value, so the piece is read again with spaces inserted at the start of
//! that scalar's continuation lines: the same value, and [`Insertions`] maps every offset
//! back to the original text.

/// Spaces inserted into a piece: (character index in the original, how many), sorted.
#[derive(Debug, Default)]
pub(super) struct Insertions(Vec<(usize, usize)>);

impl Insertions {
    /// The character index in the original text of character `i` of [`Self::apply`]'s
    /// text (an inserted space maps to the character it precedes).
    pub(super) fn to_original(&self, i: usize) -> usize {
        let mut shift = 0;
        for &(at, n) in &self.0 {
            if i < at + shift {
                break;
            }
            if i < at + shift + n {
                return at;
            }
            shift += n;
        }
        i - shift
    }

    /// The character index in the text with the insertions of original character `i`.
    #[cfg(test)]
    fn to_patched(&self, i: usize) -> usize {
        i + (self.0.iter())
            .take_while(|&&(at, _)| at <= i)
            .map(|&(_, n)| n)
            .sum::<usize>()
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// `text` with the spaces inserted.
    pub(super) fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + self.0.iter().map(|x| x.1).sum::<usize>());
        let mut next = self.0.iter().peekable();
        for (ci, c) in text.chars().enumerate() {
            while let Some(&&(at, n)) = next.peek() {
                if at != ci {
                    break;
                }
                out.extend(std::iter::repeat_n(' ', n));
                next.next();
            }
            out.push(c);
        }
        out
    }

    /// Adds the insertions that indent the continuation lines of the quoted scalar whose
    /// opening quote is character `quote` of `text` past the quote's column, which is past
    /// every enclosing block's indentation. `None` when there is no such scalar, when it
    /// is already patched, or when a continuation line starts with a document marker
    /// (`---`, `...`), which libyaml refuses too.
    pub(super) fn indent_quoted(&mut self, text: &str, quote: usize) -> Option<()> {
        let chars: Vec<char> = text.chars().collect();
        let q = *chars.get(quote)?;
        if q != '\'' && q != '"' {
            return None;
        }
        let col = chars[..quote]
            .iter()
            .rev()
            .take_while(|&&c| c != '\n')
            .count();
        let mut lines = Vec::new();
        let mut i = quote + 1;
        loop {
            match *chars.get(i)? {
                '\'' if q == '\'' && chars.get(i + 1) == Some(&'\'') => i += 1,
                '\\' if q == '"' => i += 1,
                c if c == q => break,
                '\n' => {
                    let rest: String = chars[i + 1..].iter().take(3).collect();
                    if rest == "---" || rest == "..." {
                        return None;
                    }
                    lines.push(i + 1);
                }
                _ => {}
            }
            i += 1;
        }
        if lines.is_empty() || lines.iter().any(|l| self.0.iter().any(|x| x.0 == *l)) {
            return None;
        }
        self.0.extend(lines.into_iter().map(|l| (l, col + 1)));
        self.0.sort_unstable();
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::Insertions;

    #[test]
    fn offsets_map_back_and_values_keep_their_text() {
        let text = "a:\n  k: '{\n  x\n}'\n";
        let mut ins = Insertions::default();
        let quote = text.find('\'').expect("quote");
        assert_eq!(ins.indent_quoted(text, quote), Some(()));
        let patched = ins.apply(text);
        assert_eq!(patched, "a:\n  k: '{\n        x\n      }'\n");
        for (i, c) in text.chars().enumerate() {
            let p = ins.to_patched(i);
            assert_eq!(patched.chars().nth(p), Some(c));
            assert_eq!(ins.to_original(p), i);
        }
        // Patching the same scalar twice, or a document marker inside, is refused.
        assert_eq!(ins.indent_quoted(text, quote), None);
        let mut other = Insertions::default();
        assert_eq!(other.indent_quoted("k: 'a\n...\n'", 3), None);
    }
}
