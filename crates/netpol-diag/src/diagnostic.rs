//! The owned diagnostic value that every crate produces and every renderer draws.

use crate::{Code, Severity, Span};

/// A span with a short message. The primary label says where the problem is; secondary
/// labels point at related places ("first defined here").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: Option<String>,
    pub primary: bool,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.default_severity(),
            message: message.into(),
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// Adds the primary label.
    pub fn with_primary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: non_empty(message.into()),
            primary: true,
        });
        self
    }

    /// Adds the primary label when a span is known.
    pub fn with_primary_opt(self, span: Option<Span>, message: impl Into<String>) -> Diagnostic {
        match span {
            Some(span) => self.with_primary(span, message),
            None => self,
        }
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: non_empty(message.into()),
            primary: false,
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Diagnostic {
        self.severity = severity;
        self
    }

    /// The primary label's span, or the first label's.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or_else(|| self.labels.first())
            .map(|l| l.span)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The order every renderer uses: by file, offset, then code and message.
    pub fn sort(diags: &mut [Diagnostic]) {
        diags.sort_by(Diagnostic::order);
    }

    /// The comparison [`Diagnostic::sort`] sorts by.
    pub fn order(a: &Diagnostic, b: &Diagnostic) -> std::cmp::Ordering {
        let key = |d: &Diagnostic| d.primary_span().map(|s| (s.file, s.start, s.end));
        // Diagnostics without a location come first: they are about the run itself.
        key(a)
            .cmp(&key(b))
            .then_with(|| a.code.cmp(&b.code))
            .then_with(|| a.message.cmp(&b.message))
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}
