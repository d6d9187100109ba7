//! Names, namespaces and labels: `metadata` checks every kind shares, and Namespaces.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use netpol_diag::{Code, Diagnostic, Span};
use serde_json::Value;

use super::{Cx, Item, Obj, ObjKey, Payload};
use crate::model as m;
use crate::validate;
use crate::yaml::escape;

impl Cx<'_> {
    /// Name, namespace and label checks shared by every namespaced kind. Returns the
    /// object's name and namespace, or `None` when it has no name.
    pub(super) fn identity(
        &mut self,
        obj: &Obj<'_>,
        meta: &ObjectMeta,
        kind: &str,
        namespaced: bool,
        name_rule: NameRule,
    ) -> Option<(String, Option<String>, Span)> {
        let Some(name) = meta.name.clone() else {
            self.push(
                Diagnostic::new(
                    Code::MissingName,
                    format!("this {kind} has no metadata.name"),
                )
                .with_primary(obj.near("/metadata/name"), "no name")
                .with_help("add `metadata.name`; generateName is not supported by `kubectl apply`"),
            );
            return None;
        };
        let name_span = obj.near("/metadata/name");
        if let Err(why) = name_rule.check(&name) {
            self.push(
                Diagnostic::new(
                    Code::InvalidName,
                    format!("{kind} name `{name}` is invalid: it {why}"),
                )
                .with_primary(name_span, "invalid name")
                .with_help(name_rule.help()),
            );
        }
        let namespace = if namespaced {
            Some(match &meta.namespace {
                Some(ns) => {
                    if let Err(why) = validate::dns1123_label(ns) {
                        self.push(
                            Diagnostic::new(Code::InvalidName, format!("namespace name `{ns}` is invalid: it {why}"))
                                .with_primary(obj.near("/metadata/namespace"), "invalid namespace")
                                .with_help("namespace names are DNS-1123 labels: lower case letters, digits and '-', at most 63"),
                        );
                    }
                    ns.clone()
                }
                None => self.default_namespace.to_owned(),
            })
        } else {
            None
        };
        if let Some(labels) = &meta.labels {
            self.labels(obj, labels, "/metadata/labels");
        }
        self.suppression(obj, meta);
        Some((name, namespace, name_span))
    }

    /// Records the object's `netpol.dev/allow` annotation, if any.
    fn suppression(&mut self, obj: &Obj<'_>, meta: &ObjectMeta) {
        let Some(annotations) = &meta.annotations else {
            return;
        };
        let Some(value) = annotations.get(m::ALLOW_ANNOTATION) else {
            return;
        };
        let codes = value
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        let reason = annotations
            .get(m::ALLOW_REASON_ANNOTATION)
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        let at = format!("/metadata/annotations/{}", escape(m::ALLOW_ANNOTATION));
        self.out.suppressions.push(m::Suppression {
            object: obj.near(""),
            span: obj.near(&at),
            codes,
            reason,
        });
    }

    pub(super) fn labels(&mut self, obj: &Obj<'_>, labels: &BTreeMap<String, String>, at: &str) {
        for (k, v) in labels {
            let ptr = format!("{at}/{}", escape(k));
            if let Err(why) = validate::qualified_name(k) {
                self.push(
                    Diagnostic::new(Code::InvalidLabelKey, format!("label key `{k}` is invalid: {why}"))
                        .with_primary(obj.key_span(&ptr).unwrap_or_else(|| obj.near(&ptr)), "invalid key")
                        .with_help("a key is `name` or `prefix/name`: the name at most 63 of [A-Za-z0-9-_.], the prefix a DNS subdomain"),
                );
            }
            if let Err(why) = validate::label_value(v) {
                self.push(
                    Diagnostic::new(Code::InvalidLabelValue, format!("label value `{v}` is invalid: it {why}"))
                        .with_primary(obj.near(&ptr), "invalid value")
                        .with_help("a value is empty or at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric"),
                );
            }
        }
    }

    pub(super) fn namespace(&mut self, obj: &Obj<'_>, value: &Value) {
        let Some(ns) = self.typed::<corev1::Namespace>(obj, value, "Namespace") else {
            return;
        };
        let Some((name, _, name_span)) =
            self.identity(obj, &ns.metadata, "Namespace", false, NameRule::Label)
        else {
            return;
        };
        let mut labels = ns.metadata.labels.unwrap_or_default();
        // The API server always sets this label to the name, overwriting any other value.
        labels.insert(m::NAMESPACE_NAME_LABEL.to_owned(), name.clone());
        self.out.items.push(Item {
            key: ObjKey {
                kind: "Namespace",
                namespace: None,
                name: name.clone(),
            },
            name_span,
            payload: Payload::Namespace(m::Namespace {
                name,
                labels,
                span: Some(obj.near("")),
            }),
        });
    }
}

/// Which name syntax the API server applies to a kind.
#[derive(Clone, Copy)]
pub(super) enum NameRule {
    /// Namespaces.
    Label,
    /// Services.
    Dns1035,
    /// Everything else.
    Subdomain,
}

impl NameRule {
    pub(super) fn check(self, name: &str) -> Result<(), String> {
        match self {
            NameRule::Label => validate::dns1123_label(name),
            NameRule::Dns1035 => validate::dns1035_label(name),
            NameRule::Subdomain => validate::dns1123_subdomain(name),
        }
    }

    pub(super) fn help(self) -> &'static str {
        match self {
            NameRule::Label => {
                "names are DNS-1123 labels: at most 63 lower case letters, digits and '-', starting and ending alphanumeric"
            }
            NameRule::Dns1035 => {
                "Service names are DNS-1035 labels: at most 63 lower case letters, digits and '-', starting with a letter"
            }
            NameRule::Subdomain => {
                "names are DNS-1123 subdomains: lower case letters, digits, '-' and '.', at most 253"
            }
        }
    }
}
