//! One parsed document to model items: kind dispatch, typed deserialization with
//! `schema-error` spans, API-server validation and lowering into [`crate::model`].
//!
//! This module dispatches on kind; one submodule per kind family lowers it: `meta`
//! (names, labels, Namespaces), `pod` (Pods and workloads), `service`, `policy`
//! (NetworkPolicies and the cluster-scoped kinds), and `typed` (typed deserialization).

mod meta;
mod pod;
mod policy;
mod service;
mod typed;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use netpol_diag::{Code, Diagnostic, Span};
use serde_json::Value;

use crate::model as m;
use crate::yaml::Document;

/// An object's identity for duplicate detection and owner folding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjKey {
    /// The kind, qualified by group where two groups share a kind name.
    pub(crate) kind: &'static str,
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
}

#[derive(Debug)]
pub(crate) enum Payload {
    Namespace(m::Namespace),
    Endpoint {
        endpoint: m::Endpoint,
        /// The controlling owner's (kind, name), same namespace.
        owner: Option<(String, String)>,
    },
    Service(m::Service),
    /// `None` when validation found errors: the API server would reject the policy.
    Policy(Option<m::Policy>),
    Cluster(m::ClusterPolicy),
}

#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) key: ObjKey,
    pub(crate) name_span: Span,
    pub(crate) payload: Payload,
}

/// What one file produced.
#[derive(Debug, Default)]
pub(crate) struct FileOut {
    pub(crate) items: Vec<Item>,
    pub(crate) diags: Vec<Diagnostic>,
    /// Namespaces named by objects that are not modelled.
    pub(crate) ns_refs: Vec<String>,
    /// Documents seen, including unsupported and broken ones.
    pub(crate) objects: usize,
    /// Kinds of skipped objects, one entry per object, for the summary note.
    pub(crate) skipped: Vec<String>,
    /// `netpol.dev/allow` annotations of modelled objects.
    pub(crate) suppressions: Vec<m::Suppression>,
    /// Objects of operators that run pods.
    pub(crate) operators: Vec<m::OperatorObject>,
}

enum Known {
    Namespace,
    Pod,
    Service,
    Workload(m::EndpointKind),
    NetworkPolicy,
    Cluster(m::ClusterPolicyKind),
}

fn classify(api_version: &str, kind: &str) -> Result<Known, bool> {
    use m::EndpointKind as E;
    let known = match (api_version, kind) {
        ("v1", "Namespace") => Known::Namespace,
        ("v1", "Pod") => Known::Pod,
        ("v1", "Service") => Known::Service,
        ("v1", "ReplicationController") => Known::Workload(E::ReplicationController),
        ("apps/v1", "Deployment") => Known::Workload(E::Deployment),
        ("apps/v1", "StatefulSet") => Known::Workload(E::StatefulSet),
        ("apps/v1", "DaemonSet") => Known::Workload(E::DaemonSet),
        ("apps/v1", "ReplicaSet") => Known::Workload(E::ReplicaSet),
        ("batch/v1", "Job") => Known::Workload(E::Job),
        ("batch/v1", "CronJob") => Known::Workload(E::CronJob),
        ("networking.k8s.io/v1", "NetworkPolicy") => Known::NetworkPolicy,
        _ => {
            let cluster = [
                m::ClusterPolicyKind::AwsClusterNetworkPolicy,
                m::ClusterPolicyKind::AwsApplicationNetworkPolicy,
                m::ClusterPolicyKind::AdminNetworkPolicy,
                m::ClusterPolicyKind::BaselineAdminNetworkPolicy,
                m::ClusterPolicyKind::ClusterNetworkPolicy,
            ];
            if let Some(k) = cluster
                .iter()
                .find(|k| k.kind() == kind && k.api_version() == api_version)
            {
                return Ok(Known::Cluster(*k));
            }
            let known_kind = matches!(kind, "Namespace" | "Pod" | "Service" | "NetworkPolicy")
                || m::EndpointKind::from_kind(kind).is_some()
                || cluster.iter().any(|k| k.kind() == kind);
            return Err(known_kind);
        }
    };
    Ok(known)
}

/// Lowers every object of one document.
pub(crate) fn extract(doc: &Document, options: &crate::LoadOptions, out: &mut FileOut) {
    let mut cx = Cx {
        doc,
        default_namespace: &options.default_namespace,
        each_skipped: options.each_skipped,
        out,
        modelled: Vec::new(),
        schema_spans: Vec::new(),
        errors: 0,
    };
    cx.object(&doc.value, String::new(), 0);
    // YAML 1.1 readings matter only inside objects netpol reads; a schema error on the
    // same scalar already explains it.
    let Cx {
        modelled,
        schema_spans,
        out,
        ..
    } = cx;
    for a in &doc.ambiguities {
        let inside = modelled
            .iter()
            .any(|&(s, e)| a.span.start >= s && a.span.end <= e);
        if inside && !schema_spans.contains(&a.span) {
            out.diags.push(a.diagnostic());
        }
    }
}

struct Cx<'a> {
    doc: &'a Document,
    default_namespace: &'a str,
    /// One note per skipped object rather than a summary.
    each_skipped: bool,
    out: &'a mut FileOut,
    /// Byte ranges of modelled objects.
    modelled: Vec<(u32, u32)>,
    /// Nodes that a schema error was reported on.
    schema_spans: Vec<Span>,
    /// Error diagnostics pushed so far.
    errors: usize,
}

/// One object inside a document, addressed by its pointer prefix.
struct Obj<'a> {
    doc: &'a Document,
    base: String,
}

impl Obj<'_> {
    fn ptr(&self, rel: &str) -> String {
        format!("{}{}", self.base, rel)
    }
    fn span(&self, rel: &str) -> Option<Span> {
        self.doc.span_of(&self.ptr(rel))
    }
    /// The span at `rel` or its nearest existing ancestor.
    fn near(&self, rel: &str) -> Span {
        self.doc.nearest_span_of(&self.ptr(rel))
    }
    fn key_span(&self, rel: &str) -> Option<Span> {
        self.doc.key_span_of(&self.ptr(rel))
    }
}

/// Counts error diagnostics pushed since it was taken.
struct ErrMark(usize);

impl Cx<'_> {
    fn push(&mut self, d: Diagnostic) {
        if d.is_error() {
            self.errors += 1;
        }
        self.out.diags.push(d);
    }

    fn mark(&self) -> ErrMark {
        ErrMark(self.errors)
    }

    fn errors_since(&self, mark: &ErrMark) -> bool {
        self.errors > mark.0
    }

    fn object(&mut self, value: &Value, base: String, depth: usize) {
        self.object_in(value, base, depth, None);
    }

    /// `implied` is the (apiVersion, kind) that items of a typed list (`NamespaceList`)
    /// have when they do not say.
    fn object_in(
        &mut self,
        value: &Value,
        base: String,
        depth: usize,
        implied: Option<(&str, &str)>,
    ) {
        let doc = self.doc;
        let obj = Obj { doc, base };
        let span = obj.near("");
        let Some(map) = value.as_object() else {
            self.out.objects += 1;
            self.push(
                Diagnostic::new(
                    Code::InvalidDocument,
                    format!(
                        "this document is a {}, not a Kubernetes object",
                        type_name(value)
                    ),
                )
                .with_primary(
                    span,
                    "expected a mapping with apiVersion, kind and metadata",
                )
                .with_help("each YAML document must be one object (or a List of objects)"),
            );
            return;
        };
        let kind = match (map.get("kind"), implied) {
            (Some(Value::String(k)), _) if !k.is_empty() => k.as_str(),
            (None, Some((_, k))) => k,
            (other, _) => {
                self.out.objects += 1;
                let (at, what) = match other {
                    None => (span, "this object has no `kind`".to_owned()),
                    // kubectl: "Object 'Kind' is missing".
                    Some(Value::String(_)) => (obj.near("/kind"), "`kind` is empty".to_owned()),
                    Some(v) => (
                        obj.near("/kind"),
                        format!("`kind` must be a string, not a {}", type_name(v)),
                    ),
                };
                self.push(
                    Diagnostic::new(Code::InvalidDocument, what)
                        .with_primary(at, "")
                        .with_help(
                            "add e.g. `kind: NetworkPolicy` and `apiVersion: networking.k8s.io/v1`",
                        ),
                );
                return;
            }
        };
        // `kind: List`, `PodList`, `kubectl get -o yaml` dumps.
        if kind.ends_with("List")
            && let Some(items) = map.get("items").filter(|v| !v.is_null())
        {
            let Value::Array(items) = items else {
                self.out.objects += 1;
                self.push(
                    Diagnostic::new(
                        Code::InvalidDocument,
                        format!(
                            "the `items` of this {kind} is a {}, not a list",
                            type_name(items)
                        ),
                    )
                    .with_primary(obj.near("/items"), "expected a list of objects")
                    .with_help("write `items:` as a list: `items: [ ... ]` or `- ` entries")
                    .with_note("kubectl rejects the whole document"),
                );
                return;
            };
            if depth >= 4 {
                return;
            }
            let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
            let api = map.get("apiVersion").and_then(Value::as_str);
            let implied = item_kind.zip(api).map(|(k, a)| (a, k));
            for (i, item) in items.iter().enumerate() {
                self.object_in(item, format!("{}/items/{i}", obj.base), depth + 1, implied);
            }
            return;
        }
        self.out.objects += 1;
        let api_version = match (map.get("apiVersion"), implied) {
            (Some(Value::String(v)), _) => v.as_str(),
            (None, Some((a, _))) => a,
            (other, _) => {
                let at = if other.is_some() {
                    obj.near("/apiVersion")
                } else {
                    span
                };
                self.push(
                    Diagnostic::new(
                        Code::InvalidDocument,
                        format!("this {kind} has no string `apiVersion`"),
                    )
                    .with_primary(at, "")
                    .with_help("add the apiVersion, e.g. `apiVersion: v1`"),
                );
                return;
            }
        };
        let known = match classify(api_version, kind) {
            Ok(k) => k,
            Err(known_kind) => {
                self.skip_unsupported(&obj, map, kind, api_version, known_kind);
                return;
            }
        };
        self.modelled.push((span.start, span.end));
        // Typed deserialization checks apiVersion and kind, so give list items the ones
        // their list implies.
        let patched;
        let value = if map.contains_key("kind") && map.contains_key("apiVersion") {
            value
        } else {
            let mut m = map.clone();
            m.insert("apiVersion".into(), Value::String(api_version.to_owned()));
            m.insert("kind".into(), Value::String(kind.to_owned()));
            patched = Value::Object(m);
            &patched
        };
        match known {
            Known::Namespace => self.namespace(&obj, value),
            Known::Pod => self.pod(&obj, value),
            Known::Service => self.service(&obj, value),
            Known::Workload(k) => self.workload(&obj, value, k),
            Known::NetworkPolicy => self.network_policy(&obj, value),
            Known::Cluster(k) => self.cluster(&obj, value, k),
        }
    }

    fn skip_unsupported(
        &mut self,
        obj: &Obj<'_>,
        map: &serde_json::Map<String, Value>,
        kind: &str,
        api_version: &str,
        known_kind: bool,
    ) {
        if let Some(Value::String(ns)) = map.get("metadata").and_then(|md| md.get("namespace")) {
            self.out.ns_refs.push(ns.clone());
        }
        // netpol's own `netpol.yaml` often sits in the manifests folder: not a skipped object.
        if kind == "Verification" && api_version.starts_with("netpol.dev/") {
            return;
        }
        if creates_pods(api_version, kind) {
            let meta = |key: &str| {
                map.get("metadata")
                    .and_then(|md| md.get(key))
                    .and_then(Value::as_str)
            };
            let pod_labels = (api_version.starts_with("monitoring.coreos.com/"))
                .then(|| {
                    map.get("spec")?
                        .get("podMetadata")?
                        .get("labels")?
                        .as_object()
                })
                .flatten()
                .map(|l| {
                    (l.iter())
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                });
            self.out.operators.push(m::OperatorObject {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
                namespace: meta("namespace")
                    .unwrap_or(self.default_namespace)
                    .to_owned(),
                name: meta("name").unwrap_or_default().to_owned(),
                pod_labels,
                span: obj.near(""),
            });
            let name = meta("name").map(|n| format!(" `{n}`")).unwrap_or_default();
            self.push(
                Diagnostic::new(
                    Code::CreatesPods,
                    format!(
                        "{kind}{name} creates pods netpol cannot see; selectors that target them match nothing here"
                    ),
                )
                .with_primary(obj.near(""), format!("`{api_version}` {kind}: its pods are not modelled"))
                .with_help("add the manifests of the workloads it creates (for example `kubectl get statefulsets,deployments -o yaml`) to analyse their traffic"),
            );
        } else if known_kind {
            self.push(
                Diagnostic::new(
                    Code::UnsupportedApiVersion,
                    format!("{kind} `{api_version}` is not read; this object is skipped"),
                )
                .with_primary(obj.near("/apiVersion"), "unsupported API version")
                .with_help(supported_versions(kind)),
            );
        } else if !self.each_skipped {
            self.out.skipped.push(kind.to_owned());
        } else {
            self.push(
                Diagnostic::new(
                    Code::UnsupportedKind,
                    format!(
                        "{kind} objects do not affect pod networking in netpol's model; skipped"
                    ),
                )
                .with_primary(obj.near("/kind"), "skipped"),
            );
        }
    }
}

/// Operator kinds (API group, kind) whose objects run pods: Prometheus Operator,
/// Argo Rollouts and Workflows, Knative Serving, KEDA, the Spark and Flink operators,
/// Strimzi.
const POD_CREATING: &[(&str, &str)] = &[
    ("monitoring.coreos.com", "Prometheus"),
    ("monitoring.coreos.com", "PrometheusAgent"),
    ("monitoring.coreos.com", "Alertmanager"),
    ("monitoring.coreos.com", "ThanosRuler"),
    ("argoproj.io", "Rollout"),
    ("argoproj.io", "Workflow"),
    ("serving.knative.dev", "Service"),
    ("keda.sh", "ScaledJob"),
    ("sparkoperator.k8s.io", "SparkApplication"),
    ("sparkoperator.k8s.io", "ScheduledSparkApplication"),
    ("flink.apache.org", "FlinkDeployment"),
    ("kafka.strimzi.io", "Kafka"),
    ("kafka.strimzi.io", "KafkaConnect"),
    ("kafka.strimzi.io", "KafkaBridge"),
    ("kafka.strimzi.io", "KafkaMirrorMaker2"),
];

fn creates_pods(api_version: &str, kind: &str) -> bool {
    let Some((group, _)) = api_version.split_once('/') else {
        return false;
    };
    POD_CREATING.contains(&(group, kind))
}

/// Whether a document is shaped like a Kubernetes object at all: a mapping with
/// `apiVersion` and `kind` (or a `List`'s `items`).
pub(crate) fn looks_like_object(value: &Value) -> bool {
    value.as_object().is_some_and(|m| {
        m.contains_key("kind") && (m.contains_key("apiVersion") || m.contains_key("items"))
    })
}

/// The note for a `.json` file in a manifest folder that is not a manifest
/// (`package.json`, a JSON schema): the folder holds other files too.
pub(crate) fn not_a_manifest(doc: &Document) -> Diagnostic {
    let span = doc.nearest_span_of("");
    Diagnostic::new(
        Code::NotAManifest,
        "this JSON file is not a Kubernetes manifest (no `apiVersion` and `kind`); skipped",
    )
    .with_primary(span, "not a Kubernetes object")
    .with_help("name the file explicitly to have it checked as a manifest, or move it out of the manifest folder")
}

/// One note for every skipped object of kinds netpol does not model, most frequent first.
pub(crate) fn skipped_summary(
    skipped: &std::collections::BTreeMap<String, usize>,
) -> Option<Diagnostic> {
    if skipped.is_empty() {
        return None;
    }
    let total: usize = skipped.values().sum();
    let mut kinds: Vec<(&String, &usize)> = skipped.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let list = kinds
        .iter()
        .map(|(k, n)| format!("{k} x{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let objects = if total == 1 { "object" } else { "objects" };
    let of_kinds = if kinds.len() == 1 { "kind" } else { "kinds" };
    Some(
        Diagnostic::new(
            Code::UnsupportedKind,
            format!(
                "{total} {objects} of {} {of_kinds} skipped: {list}; see --verbose",
                kinds.len()
            ),
        )
        .with_note("these kinds do not affect pod networking in netpol's model"),
    )
}

fn controller(meta: &ObjectMeta) -> Option<(String, String)> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| (o.kind.clone(), o.name.clone()))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null (empty)",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

fn short_reason(inner: &str) -> String {
    if let Some(rest) = inner.strip_prefix("invalid type: ") {
        let found = rest.split(", expected").next().unwrap_or(rest);
        let expected = rest.split(", expected ").nth(1).unwrap_or("");
        if expected.is_empty() {
            return format!("unexpected {found}");
        }
        return format!("expected {expected}, found {found}");
    }
    if inner.starts_with("missing field") {
        return inner.to_owned();
    }
    "here".to_owned()
}

fn supported_versions(kind: &str) -> String {
    let v = match kind {
        "Namespace" | "Pod" | "Service" | "ReplicationController" => "v1",
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "apps/v1",
        "Job" | "CronJob" => "batch/v1",
        "NetworkPolicy" => "networking.k8s.io/v1",
        "ClusterNetworkPolicy" => {
            "networking.k8s.aws/v1alpha1 or policy.networking.k8s.io/v1alpha2"
        }
        "ApplicationNetworkPolicy" => "networking.k8s.aws/v1alpha1",
        _ => "policy.networking.k8s.io/v1alpha1",
    };
    format!("netpol reads {kind} as `apiVersion: {v}`; older versions were removed from Kubernetes")
}
