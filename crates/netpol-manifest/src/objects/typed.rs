//! Typed deserialization with `schema-error` spans, and required fields.

use netpol_diag::{Code, Diagnostic};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Cx, Obj, short_reason};
use crate::yaml::{AmbiguityKind, escape};

impl Cx<'_> {
    /// Typed deserialization; a failure is a `schema-error` at the failing node.
    pub(super) fn typed<T: DeserializeOwned>(
        &mut self,
        obj: &Obj<'_>,
        value: &Value,
        kind: &str,
    ) -> Option<T> {
        // Tracking the path costs about as much as deserializing, and errors are rare:
        // deserialize plainly, and again with the path only to report a failure.
        if let Ok(t) = T::deserialize(value) {
            return Some(t);
        }
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut rel = String::new();
                let mut dotted = String::new();
                for seg in e.path().iter() {
                    match seg {
                        serde_path_to_error::Segment::Seq { index } => {
                            rel.push_str(&format!("/{index}"));
                            dotted.push_str(&format!("[{index}]"));
                        }
                        serde_path_to_error::Segment::Map { key } => {
                            rel.push('/');
                            rel.push_str(&escape(key));
                            if !dotted.is_empty() {
                                dotted.push('.');
                            }
                            dotted.push_str(key);
                        }
                        serde_path_to_error::Segment::Enum { .. }
                        | serde_path_to_error::Segment::Unknown => {}
                    }
                }
                let at = obj.near(&rel);
                let inner = e.inner().to_string();
                let where_ = if dotted.is_empty() {
                    String::new()
                } else {
                    format!(" at `{dotted}`")
                };
                let mut d = Diagnostic::new(
                    Code::SchemaError,
                    format!("this {kind} does not match the Kubernetes schema{where_}: {inner}"),
                )
                .with_primary(at, short_reason(&inner));
                if let Some(a) = self.doc.ambiguities.iter().find(|a| a.span == at) {
                    let reading = match a.kind {
                        AmbiguityKind::Boolean => "boolean",
                        AmbiguityKind::Octal => "octal number",
                    };
                    d = d
                        .with_note(format!(
                            "Kubernetes reads YAML 1.1, where unquoted `{}` is the {reading} {}; this field needs a string, so `kubectl apply` and the API server reject the object",
                            a.text, a.read_as
                        ))
                        .with_help(format!("quote it: \"{}\"", a.text));
                } else if inner.contains("expected a string")
                    && matches!(
                        self.doc.value.pointer(&obj.ptr(&rel)),
                        Some(Value::Number(_) | Value::Bool(_))
                    )
                {
                    d = d.with_help("quote the value; Kubernetes needs a string here");
                }
                self.schema_spans.push(at);
                self.push(d.with_note("the object is skipped"));
                None
            }
        }
    }

    /// Checks that a required field is written (k8s-openapi fills in a zero value when it
    /// is not); reports a `schema-error` at the mapping otherwise.
    pub(super) fn required(&mut self, obj: &Obj<'_>, at: &str, field: &str) -> bool {
        if obj.span(&format!("{at}/{field}")).is_some() {
            return true;
        }
        let mut d = Diagnostic::new(
            Code::SchemaError,
            format!("required field `{field}` is missing"),
        )
        .with_primary(obj.near(at), format!("no `{field}`"));
        if let Some(Value::Object(m)) = obj.doc.value.pointer(&obj.ptr(at))
            && let Some(k) = m.keys().find(|k| k.eq_ignore_ascii_case(field))
        {
            d = d.with_help(format!(
                "field names are case-sensitive: `{k}` should be `{field}`"
            ));
        }
        self.push(d);
        false
    }
}
