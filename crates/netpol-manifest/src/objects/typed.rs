//! Typed deserialization with `schema-error` spans, and required fields.

use netpol_diag::{Code, Diagnostic, Severity};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Cx, Obj, short_reason};
use crate::yaml::{AmbiguityKind, escape};

impl Cx<'_> {
    /// Typed deserialization; a failure is a `schema-error` at the failing node, and a
    /// field the schema does not have is an `unknown-field` error (kubectl's default
    /// `--validate=strict` rejects the object).
    pub(super) fn typed<T: DeserializeOwned + JsonSchema>(
        &mut self,
        obj: &Obj<'_>,
        value: &Value,
        kind: &str,
    ) -> Option<T> {
        // Tracking the path costs about as much as deserializing, and errors are rare:
        // deserialize plainly, and again with the path only to report a failure.
        let mut unknown = Vec::new();
        if let Ok(t) = serde_ignored::deserialize(value, |path| unknown.push(segments(&path))) {
            if !unknown.is_empty() {
                let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
                for path in unknown {
                    self.unknown_field(obj, &schema, &path, kind);
                }
            }
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

impl Cx<'_> {
    /// The `unknown-field` error for the field at `path`, with the nearest name the
    /// schema has at that level.
    fn unknown_field(
        &mut self,
        obj: &Obj<'_>,
        schema: &schemars::Schema,
        path: &[String],
        kind: &str,
    ) {
        let Some((field, parent)) = path.split_last() else {
            return;
        };
        let rel: String = path.iter().map(|s| format!("/{}", escape(s))).collect();
        let at = obj.key_span(&rel).unwrap_or_else(|| obj.near(&rel));
        let dotted = path.iter().fold(String::new(), |mut out, seg| {
            if seg.parse::<usize>().is_ok() {
                out.push_str(&format!("[{seg}]"));
            } else {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(seg);
            }
            out
        });
        let mut d = Diagnostic::new(
            Code::UnknownField,
            format!("this {kind} has an unknown field `{dotted}`"),
        )
        .with_primary(at, "not in the Kubernetes schema");
        if path == ["status"] {
            // `kubectl get -o yaml` dumps of older clusters carry a NetworkPolicy `status`;
            // it is written by the server and never changes what the object means.
            d = d
                .with_severity(Severity::Warning)
                .with_help("remove the server-written `status`; netpol ignores it");
            self.push(d);
            return;
        }
        d = d.with_note("kubectl (whose default is `--validate=strict`) and the API server reject the object; without strict validation the field is dropped and the object means something else");
        let names = field_names(schema, parent);
        d = match closest(field, &names) {
            Some(name) => d.with_help(format!("did you mean `{name}`?")),
            None if names.is_empty() => d.with_help("remove the field"),
            None => d.with_help(format!(
                "remove the field; the fields here are {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        self.push(d);
    }
}

/// The path of an ignored field as keys and list indices.
fn segments(path: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path;
    let mut out = Vec::new();
    let mut at = path;
    loop {
        at = match at {
            Path::Root => break,
            Path::Seq { parent, index } => {
                out.push(index.to_string());
                parent
            }
            Path::Map { parent, key } => {
                out.push(key.clone());
                parent
            }
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => parent,
        };
    }
    out.reverse();
    out
}

/// The property names the schema allows at `path` (keys and list indices), sorted.
fn field_names(root: &schemars::Schema, path: &[String]) -> Vec<String> {
    let defs = root.get("$defs").or_else(|| root.get("definitions"));
    let resolve = |v| resolve_ref(defs, v);
    let mut node = resolve(root.as_value());
    for seg in path {
        let Some(n) = node else { break };
        let prop = n.get("properties").and_then(|p| p.get(seg));
        let next = match prop {
            Some(p) => Some(p),
            None if seg.parse::<usize>().is_ok() => n.get("items"),
            None => n.get("additionalProperties"),
        };
        node = next.and_then(resolve);
    }
    let mut names: Vec<String> = node
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Follows `$ref: "#/$defs/io.k8s..."` into the root's definitions; a chain is short.
fn resolve_ref<'a>(defs: Option<&'a Value>, mut v: &'a Value) -> Option<&'a Value> {
    for _ in 0..8 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return Some(v);
        };
        v = defs?.get(r.rsplit('/').next()?)?;
    }
    None
}

/// The known name a typo most likely meant: same letters in another case, or at most
/// two edits away.
fn closest<'a>(field: &str, names: &'a [String]) -> Option<&'a str> {
    if let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(field)) {
        return Some(n);
    }
    names
        .iter()
        .map(|n| (strsim::damerau_levenshtein(field, n), n))
        .filter(|&(d, n)| d <= 2.max(n.len() / 5) && d < n.len())
        .min()
        .map(|(_, n)| n.as_str())
}
