//! One parsed document to model items: kind dispatch, typed deserialization with
//! `schema-error` spans, API-server validation and lowering into [`crate::model`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::apps::v1 as appsv1;
use k8s_openapi::api::batch::v1 as batchv1;
use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::api::networking::v1 as netv1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netpol_diag::{Code, Diagnostic, Span};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model as m;
use crate::validate;
use crate::yaml::{AmbiguityKind, Document, escape};

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
pub(crate) fn extract(doc: &Document, default_namespace: &str, out: &mut FileOut) {
    let mut cx = Cx {
        doc,
        default_namespace,
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
            (Some(Value::String(k)), _) => k.as_str(),
            (None, Some((_, k))) => k,
            (other, _) => {
                self.out.objects += 1;
                let (at, what) = match other {
                    None => (span, "this object has no `kind`".to_owned()),
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
            && let Some(Value::Array(items)) = map.get("items")
        {
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
        if known_kind {
            self.push(
                Diagnostic::new(
                    Code::UnsupportedApiVersion,
                    format!("{kind} `{api_version}` is not read; this object is skipped"),
                )
                .with_primary(obj.near("/apiVersion"), "unsupported API version")
                .with_help(supported_versions(kind)),
            );
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

    /// Typed deserialization; a failure is a `schema-error` at the failing node.
    fn typed<T: DeserializeOwned>(
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

    /// Name, namespace and label checks shared by every namespaced kind. Returns the
    /// object's name and namespace, or `None` when it has no name.
    fn identity(
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
        Some((name, namespace, name_span))
    }

    fn labels(&mut self, obj: &Obj<'_>, labels: &BTreeMap<String, String>, at: &str) {
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

    fn namespace(&mut self, obj: &Obj<'_>, value: &Value) {
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

    fn pod(&mut self, obj: &Obj<'_>, value: &Value) {
        let Some(pod) = self.typed::<corev1::Pod>(obj, value, "Pod") else {
            return;
        };
        let Some((name, ns, name_span)) =
            self.identity(obj, &pod.metadata, "Pod", true, NameRule::Subdomain)
        else {
            return;
        };
        let namespace = ns.unwrap_or_default();
        let spec = pod.spec.as_ref();
        let ports = spec.map_or_else(Vec::new, |s| self.container_ports(obj, s, "/spec"));
        let status = pod.status.as_ref();
        let owner = controller(&pod.metadata);
        // A finished pod has released its IP: it neither sends nor receives, and VPC CNI's
        // controller skips it when it resolves peers (vpc-cni-semantics.md §1.2 row 1). A
        // controlled one still stands for its workload, which runs new pods, so it stays
        // without the IP.
        let finished = matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        if let (true, None, Some(phase)) =
            (finished, &owner, status.and_then(|s| s.phase.as_deref()))
        {
            self.push(
                Diagnostic::new(
                    Code::PodNotRunning,
                    format!(
                        "Pod {namespace}/{name} has finished (phase {phase}); it is not an endpoint"
                    ),
                )
                .with_primary(obj.near("/status/phase"), "finished"),
            );
            return;
        }
        let ip = |s: Option<&String>| s.and_then(|s| s.parse::<IpAddr>().ok());
        let endpoint = m::Endpoint {
            kind: m::EndpointKind::Pod,
            namespace: namespace.clone(),
            name: name.clone(),
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            ports,
            host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
            pod_ip: ip(status.and_then(|s| s.pod_ip.as_ref())).filter(|_| !finished),
            host_ip: ip(status.and_then(|s| s.host_ip.as_ref())).filter(|_| !finished),
            node_name: spec.and_then(|s| s.node_name.clone()),
            span: obj.near(""),
        };
        self.out.items.push(Item {
            key: ObjKey {
                kind: "Pod",
                namespace: Some(namespace),
                name,
            },
            name_span,
            payload: Payload::Endpoint { endpoint, owner },
        });
    }

    fn workload(&mut self, obj: &Obj<'_>, value: &Value, kind: m::EndpointKind) {
        use m::EndpointKind as E;
        let k = kind.as_str();
        let parsed: Option<(ObjectMeta, Option<corev1::PodTemplateSpec>, &str)> = match kind {
            E::Deployment => self
                .typed::<appsv1::Deployment>(obj, value, k)
                .map(|o| (o.metadata, Some(o.spec.template), "/spec/template")),
            E::StatefulSet => self
                .typed::<appsv1::StatefulSet>(obj, value, k)
                .map(|o| (o.metadata, Some(o.spec.template), "/spec/template")),
            E::DaemonSet => self
                .typed::<appsv1::DaemonSet>(obj, value, k)
                .map(|o| (o.metadata, Some(o.spec.template), "/spec/template")),
            E::ReplicaSet => self
                .typed::<appsv1::ReplicaSet>(obj, value, k)
                .map(|o| (o.metadata, o.spec.template, "/spec/template")),
            E::ReplicationController => self
                .typed::<corev1::ReplicationController>(obj, value, k)
                .map(|o| {
                    (
                        o.metadata,
                        o.spec.and_then(|s| s.template),
                        "/spec/template",
                    )
                }),
            E::Job => self
                .typed::<batchv1::Job>(obj, value, k)
                .map(|o| (o.metadata, o.spec.map(|s| s.template), "/spec/template")),
            E::CronJob => self.typed::<batchv1::CronJob>(obj, value, k).map(|o| {
                (
                    o.metadata,
                    o.spec.job_template.spec.map(|s| s.template),
                    "/spec/jobTemplate/spec/template",
                )
            }),
            E::Pod => None,
        };
        let Some((meta, template, tpl)) = parsed else {
            return;
        };
        let Some((name, ns, name_span)) = self.identity(obj, &meta, k, true, NameRule::Subdomain)
        else {
            return;
        };
        let namespace = ns.unwrap_or_default();
        let template = template.unwrap_or_default();
        let labels = template
            .metadata
            .as_ref()
            .and_then(|md| md.labels.clone())
            .unwrap_or_default();
        self.labels(obj, &labels, &format!("{tpl}/metadata/labels"));
        let spec = template.spec.as_ref();
        let ports = spec.map_or_else(Vec::new, |s| {
            self.container_ports(obj, s, &format!("{tpl}/spec"))
        });
        let endpoint = m::Endpoint {
            kind,
            namespace: namespace.clone(),
            name: name.clone(),
            labels,
            ports,
            host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
            pod_ip: None,
            host_ip: None,
            node_name: spec.and_then(|s| s.node_name.clone()),
            span: obj.near(""),
        };
        self.out.items.push(Item {
            key: ObjKey {
                kind: k,
                namespace: Some(namespace),
                name,
            },
            name_span,
            payload: Payload::Endpoint {
                endpoint,
                owner: controller(&meta),
            },
        });
    }

    fn container_ports(
        &mut self,
        obj: &Obj<'_>,
        spec: &corev1::PodSpec,
        at: &str,
    ) -> Vec<m::ContainerPort> {
        let mut out = Vec::new();
        for (ci, c) in spec.containers.iter().enumerate() {
            for (pi, p) in c.ports.iter().flatten().enumerate() {
                let base = format!("{at}/containers/{ci}/ports/{pi}");
                if !self.required(obj, &base, "containerPort") {
                    continue;
                }
                let mut ok = true;
                let port = validate::port_number(i64::from(p.container_port));
                if port.is_none() {
                    ok = false;
                    self.port_range(
                        obj,
                        &format!("{base}/containerPort"),
                        i64::from(p.container_port),
                    );
                }
                let protocol =
                    self.protocol(obj, p.protocol.as_deref(), &format!("{base}/protocol"));
                if let Some(name) = &p.name
                    && !self.port_name(obj, name, &format!("{base}/name"))
                {
                    ok = false;
                }
                if let (true, Some(port), Some(protocol)) = (ok, port, protocol) {
                    out.push(m::ContainerPort {
                        name: p.name.clone(),
                        port,
                        protocol,
                    });
                }
            }
        }
        out
    }

    /// Checks that a required field is written (k8s-openapi fills in a zero value when it
    /// is not); reports a `schema-error` at the mapping otherwise.
    fn required(&mut self, obj: &Obj<'_>, at: &str, field: &str) -> bool {
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

    fn port_range(&mut self, obj: &Obj<'_>, ptr: &str, n: i64) {
        self.push(
            Diagnostic::new(Code::PortOutOfRange, format!("port {n} is outside 1-65535"))
                .with_primary(obj.near(ptr), "out of range")
                .with_help("use a port number from 1 to 65535"),
        );
    }

    /// Checks a port name; false (and a diagnostic) when invalid.
    fn port_name(&mut self, obj: &Obj<'_>, name: &str, ptr: &str) -> bool {
        match validate::port_name(name) {
            Ok(()) => true,
            Err(why) => {
                let help = if name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() {
                    "a quoted number is a port *name*; write the number unquoted".to_owned()
                } else {
                    "port names are IANA service names: at most 15 of [a-z0-9-], with a letter, no leading, trailing or double '-'".to_owned()
                };
                self.push(
                    Diagnostic::new(
                        Code::InvalidPortName,
                        format!("port name `{name}` is invalid: it {why}"),
                    )
                    .with_primary(obj.near(ptr), "invalid port name")
                    .with_help(help),
                );
                false
            }
        }
    }

    /// Parses a protocol, TCP when absent; `None` (and a diagnostic) when invalid.
    fn protocol(&mut self, obj: &Obj<'_>, p: Option<&str>, ptr: &str) -> Option<m::Protocol> {
        let Some(p) = p else {
            return Some(m::Protocol::Tcp);
        };
        let parsed = m::Protocol::parse(p);
        if parsed.is_none() {
            let help = match m::Protocol::parse(&p.to_ascii_uppercase()) {
                Some(up) => format!("protocols are case-sensitive: write `{up}`"),
                None => "use TCP, UDP or SCTP".to_owned(),
            };
            self.push(
                Diagnostic::new(
                    Code::InvalidProtocol,
                    format!("protocol `{p}` is not supported"),
                )
                .with_primary(obj.near(ptr), "unsupported protocol")
                .with_help(help),
            );
        }
        parsed
    }

    fn service(&mut self, obj: &Obj<'_>, value: &Value) {
        let Some(svc) = self.typed::<corev1::Service>(obj, value, "Service") else {
            return;
        };
        let Some((name, ns, name_span)) =
            self.identity(obj, &svc.metadata, "Service", true, NameRule::Dns1035)
        else {
            return;
        };
        let namespace = ns.unwrap_or_default();
        let spec = svc.spec.unwrap_or_default();
        if let Some(sel) = &spec.selector {
            self.labels(obj, sel, "/spec/selector");
        }
        let mut ports = Vec::new();
        for (i, p) in spec.ports.iter().flatten().enumerate() {
            let base = format!("/spec/ports/{i}");
            if !self.required(obj, &base, "port") {
                continue;
            }
            let port = validate::port_number(i64::from(p.port));
            if port.is_none() {
                self.port_range(obj, &format!("{base}/port"), i64::from(p.port));
            }
            let protocol = self.protocol(obj, p.protocol.as_deref(), &format!("{base}/protocol"));
            let target = match &p.target_port {
                None => port.map(m::PortRef::Number),
                Some(IntOrString::Int(n)) => {
                    let t = validate::port_number(i64::from(*n));
                    if t.is_none() {
                        self.port_range(obj, &format!("{base}/targetPort"), i64::from(*n));
                    }
                    t.map(m::PortRef::Number)
                }
                Some(IntOrString::String(s)) => self
                    .port_name(obj, s, &format!("{base}/targetPort"))
                    .then(|| m::PortRef::Name(s.clone())),
            };
            if let (Some(port), Some(protocol), Some(target_port)) = (port, protocol, target) {
                ports.push(m::ServicePort {
                    name: p.name.clone(),
                    port,
                    target_port,
                    protocol,
                });
            }
        }
        let headless = spec.cluster_ip.as_deref() == Some("None");
        let service = m::Service {
            namespace: namespace.clone(),
            name: name.clone(),
            // An empty selector is stored as none: the Service selects no pods.
            selector: spec.selector.filter(|s| !s.is_empty()),
            ports,
            cluster_ip: spec.cluster_ip.as_deref().and_then(|s| s.parse().ok()),
            headless,
            service_type: spec.type_.unwrap_or_else(|| "ClusterIP".to_owned()),
            span: obj.near(""),
        };
        self.out.items.push(Item {
            key: ObjKey {
                kind: "Service",
                namespace: Some(namespace),
                name,
            },
            name_span,
            payload: Payload::Service(service),
        });
    }

    fn cluster(&mut self, obj: &Obj<'_>, value: &Value, kind: m::ClusterPolicyKind) {
        let meta = match value.get("metadata") {
            None => ObjectMeta::default(),
            Some(md) => {
                let wrapped = Obj {
                    doc: obj.doc,
                    base: obj.ptr("/metadata"),
                };
                match self.typed::<ObjectMeta>(&wrapped, md, kind.kind()) {
                    Some(md) => md,
                    None => return,
                }
            }
        };
        let namespaced = kind == m::ClusterPolicyKind::AwsApplicationNetworkPolicy;
        let Some((name, namespace, name_span)) =
            self.identity(obj, &meta, kind.kind(), namespaced, NameRule::Subdomain)
        else {
            return;
        };
        let key_kind = match kind {
            m::ClusterPolicyKind::AwsClusterNetworkPolicy => {
                "ClusterNetworkPolicy.networking.k8s.aws"
            }
            m::ClusterPolicyKind::AwsApplicationNetworkPolicy => "ApplicationNetworkPolicy",
            m::ClusterPolicyKind::AdminNetworkPolicy => "AdminNetworkPolicy",
            m::ClusterPolicyKind::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
            m::ClusterPolicyKind::ClusterNetworkPolicy => "ClusterNetworkPolicy",
        };
        self.out.items.push(Item {
            key: ObjKey {
                kind: key_kind,
                namespace: namespace.clone(),
                name: name.clone(),
            },
            name_span,
            payload: Payload::Cluster(m::ClusterPolicy {
                kind,
                api_version: kind.api_version().to_owned(),
                namespace,
                name,
                spec: value.get("spec").cloned().unwrap_or(Value::Null),
                span: obj.near(""),
            }),
        });
    }

    fn network_policy(&mut self, obj: &Obj<'_>, value: &Value) {
        let Some(np) = self.typed::<netv1::NetworkPolicy>(obj, value, "NetworkPolicy") else {
            return;
        };
        let mark = self.mark();
        let Some((name, ns, name_span)) = self.identity(
            obj,
            &np.metadata,
            "NetworkPolicy",
            true,
            NameRule::Subdomain,
        ) else {
            return;
        };
        let namespace = ns.unwrap_or_default();
        let spec = np.spec.unwrap_or_default();
        let pod_selector = match &spec.pod_selector {
            Some(sel) => self.selector(obj, sel, "/spec/podSelector"),
            None => m::Selector::default(),
        };
        let mut ingress = Vec::new();
        for (i, r) in spec.ingress.iter().flatten().enumerate() {
            let base = format!("/spec/ingress/{i}");
            ingress.push(self.rule(obj, &base, r.from.as_deref(), r.ports.as_deref(), "from"));
        }
        let mut egress = Vec::new();
        for (i, r) in spec.egress.iter().flatten().enumerate() {
            let base = format!("/spec/egress/{i}");
            egress.push(self.rule(obj, &base, r.to.as_deref(), r.ports.as_deref(), "to"));
        }
        let declared = spec.policy_types.as_ref().is_some_and(|t| !t.is_empty());
        let policy_types = if declared {
            let mut t = m::PolicyTypes::default();
            let mut seen: Vec<&str> = Vec::new();
            for (i, pt) in spec.policy_types.iter().flatten().enumerate() {
                let at = obj.near(&format!("/spec/policyTypes/{i}"));
                if seen.contains(&pt.as_str()) {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidPolicyType,
                            format!("policy type `{pt}` is listed twice"),
                        )
                        .with_primary(at, "duplicate")
                        .with_help("list each of Ingress and Egress at most once"),
                    );
                    continue;
                }
                seen.push(pt);
                match pt.as_str() {
                    "Ingress" => t.ingress = true,
                    "Egress" => t.egress = true,
                    other => {
                        let help = match other.to_ascii_lowercase().as_str() {
                            "ingress" => {
                                "policy types are case-sensitive: write `Ingress`".to_owned()
                            }
                            "egress" => {
                                "policy types are case-sensitive: write `Egress`".to_owned()
                            }
                            _ => "the only policy types are Ingress and Egress".to_owned(),
                        };
                        self.push(
                            Diagnostic::new(
                                Code::InvalidPolicyType,
                                format!("`{other}` is not a policy type"),
                            )
                            .with_primary(at, "not Ingress or Egress")
                            .with_help(help),
                        );
                    }
                }
            }
            t
        } else {
            m::PolicyTypes {
                ingress: true,
                egress: !egress.is_empty(),
            }
        };
        let policy = m::Policy {
            namespace: namespace.clone(),
            name: name.clone(),
            span: obj.near(""),
            pod_selector,
            policy_types,
            policy_types_declared: declared,
            policy_types_span: if declared {
                obj.span("/spec/policyTypes")
            } else {
                None
            },
            ingress,
            egress,
        };
        let valid = !self.errors_since(&mark);
        self.out.items.push(Item {
            key: ObjKey {
                kind: "NetworkPolicy",
                namespace: Some(namespace),
                name,
            },
            name_span,
            payload: Payload::Policy(valid.then_some(policy)),
        });
    }

    fn rule(
        &mut self,
        obj: &Obj<'_>,
        base: &str,
        peers: Option<&[netv1::NetworkPolicyPeer]>,
        ports: Option<&[netv1::NetworkPolicyPort]>,
        field: &str,
    ) -> m::Rule {
        let mut out_peers = Vec::new();
        for (i, p) in peers.into_iter().flatten().enumerate() {
            let pp = format!("{base}/{field}/{i}");
            if let Some(peer) = self.peer(obj, &pp, p) {
                out_peers.push(peer);
            }
        }
        let mut out_ports = Vec::new();
        for (i, p) in ports.into_iter().flatten().enumerate() {
            let pp = format!("{base}/ports/{i}");
            if let Some(port) = self.policy_port(obj, &pp, p) {
                out_ports.push(port);
            }
        }
        m::Rule {
            span: obj.near(base),
            peers: out_peers,
            ports: out_ports,
        }
    }

    fn peer(&mut self, obj: &Obj<'_>, at: &str, p: &netv1::NetworkPolicyPeer) -> Option<m::Peer> {
        let span = obj.near(at);
        let has_sel = p.pod_selector.is_some() || p.namespace_selector.is_some();
        match (&p.ip_block, has_sel) {
            (None, false) => {
                self.push(
                    Diagnostic::new(Code::EmptyPeer, "this peer sets none of podSelector, namespaceSelector and ipBlock")
                        .with_primary(span, "empty peer")
                        .with_help("to allow every pod of the namespace write `podSelector: {}`; to allow everything, leave out the whole from/to list"),
                );
                None
            }
            (Some(_), true) => {
                let sel = if p.pod_selector.is_some() {
                    "podSelector"
                } else {
                    "namespaceSelector"
                };
                let sel_at = format!("{at}/{sel}");
                let mut d = Diagnostic::new(
                    Code::PeerIpBlockWithSelector,
                    format!("this peer sets ipBlock together with {sel}"),
                )
                .with_primary(
                    obj.key_span(&sel_at).unwrap_or(span),
                    "a selector next to ipBlock",
                );
                if let Some(k) = obj.key_span(&format!("{at}/ipBlock")) {
                    d = d.with_secondary(k, "ipBlock");
                }
                self.push(d.with_help("split them into two list entries (`- ipBlock: ...` and `- podSelector: ...`); entries are ORed"));
                None
            }
            (Some(b), false) => self
                .ip_block(obj, &format!("{at}/ipBlock"), b)
                .map(m::Peer::IpBlock),
            (None, true) => {
                let namespace_selector = p
                    .namespace_selector
                    .as_ref()
                    .map(|s| self.selector(obj, s, &format!("{at}/namespaceSelector")));
                let pod_selector = p
                    .pod_selector
                    .as_ref()
                    .map(|s| self.selector(obj, s, &format!("{at}/podSelector")));
                Some(m::Peer::Pods {
                    namespace_selector,
                    pod_selector,
                    span,
                })
            }
        }
    }

    fn ip_block(&mut self, obj: &Obj<'_>, at: &str, b: &netv1::IPBlock) -> Option<m::IpBlock> {
        let cidr_ptr = format!("{at}/cidr");
        if obj.span(&cidr_ptr).is_none() {
            self.push(
                Diagnostic::new(
                    Code::SchemaError,
                    "this ipBlock has no `cidr`, a required field",
                )
                .with_primary(obj.near(at), "`cidr` missing")
                .with_help("add `cidr:`, e.g. `cidr: 10.0.0.0/16`"),
            );
            return None;
        }
        let cidr = self.cidr(obj, &b.cidr, &cidr_ptr)?;
        let mut except = Vec::new();
        let mut ok = true;
        for (i, e) in b.except.iter().flatten().enumerate() {
            let ptr = format!("{at}/except/{i}");
            let Some(net) = self.cidr(obj, e, &ptr) else {
                ok = false;
                continue;
            };
            let inside = match (cidr, net) {
                (ipnet::IpNet::V4(c), ipnet::IpNet::V4(n)) => {
                    c.contains(&n) && n.prefix_len() > c.prefix_len()
                }
                (ipnet::IpNet::V6(c), ipnet::IpNet::V6(n)) => {
                    c.contains(&n) && n.prefix_len() > c.prefix_len()
                }
                _ => false,
            };
            if !inside {
                ok = false;
                let why = if cidr.addr().is_ipv4() != net.addr().is_ipv4() {
                    "is a different IP family from"
                } else if net == cidr {
                    "is equal to, not strictly inside,"
                } else {
                    "is not strictly inside"
                };
                self.push(
                    Diagnostic::new(Code::ExceptOutsideCidr, format!("except `{net}` {why} the cidr `{cidr}`"))
                        .with_primary(obj.near(&ptr), "not strictly inside the cidr")
                        .with_secondary(obj.near(&cidr_ptr), "the cidr")
                        .with_help("each except entry must be a smaller block inside cidr; remove it or fix the cidr"),
                );
                continue;
            }
            except.push(net);
        }
        ok.then(|| m::IpBlock {
            cidr,
            except,
            span: obj.near(at),
        })
    }

    fn cidr(&mut self, obj: &Obj<'_>, s: &str, ptr: &str) -> Option<ipnet::IpNet> {
        match validate::cidr(s) {
            Err(why) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidCidr,
                        format!("`{s}` is not a valid CIDR: it {why}"),
                    )
                    .with_primary(obj.near(ptr), "invalid CIDR")
                    .with_help(
                        "write an address and a prefix length, e.g. 10.0.0.0/16 or fd00::/64",
                    ),
                );
                None
            }
            Ok(c) => {
                if !c.canonical {
                    self.push(
                        Diagnostic::new(
                            Code::NonCanonicalCidr,
                            format!("`{s}` has host bits set; it means `{}`", c.net),
                        )
                        .with_primary(obj.near(ptr), format!("read as {}", c.net))
                        .with_help(format!(
                            "write `{}`, or a longer prefix if you meant a smaller block",
                            c.net
                        )),
                    );
                }
                Some(c.net)
            }
        }
    }

    fn policy_port(
        &mut self,
        obj: &Obj<'_>,
        at: &str,
        p: &netv1::NetworkPolicyPort,
    ) -> Option<m::PolicyPort> {
        let protocol = self.protocol(obj, p.protocol.as_deref(), &format!("{at}/protocol"));
        let port_ptr = format!("{at}/port");
        let end_ptr = format!("{at}/endPort");
        let mut ok = protocol.is_some();
        let port = match &p.port {
            None => None,
            Some(IntOrString::Int(n)) => match validate::port_number(i64::from(*n)) {
                Some(n) => Some(m::PortRef::Number(n)),
                None => {
                    self.port_range(obj, &port_ptr, i64::from(*n));
                    ok = false;
                    None
                }
            },
            Some(IntOrString::String(s)) => {
                if self.port_name(obj, s, &port_ptr) {
                    Some(m::PortRef::Name(s.clone()))
                } else {
                    ok = false;
                    None
                }
            }
        };
        let mut end_port = None;
        if let Some(end) = p.end_port {
            match (&p.port, &port) {
                (None, _) => {
                    ok = false;
                    self.push(
                        Diagnostic::new(
                            Code::EndPortWithNamedPort,
                            "endPort is set but port is not",
                        )
                        .with_primary(obj.near(&end_ptr), "endPort without port")
                        .with_help("set `port` to the first port of the range"),
                    );
                }
                (Some(IntOrString::String(name)), _) => {
                    ok = false;
                    self.push(
                        Diagnostic::new(
                            Code::EndPortWithNamedPort,
                            format!("endPort cannot be used with the named port `{name}`"),
                        )
                        .with_primary(obj.near(&end_ptr), "endPort with a named port")
                        .with_secondary(obj.near(&port_ptr), "named port")
                        .with_help("a range needs a numeric port; use numbers for both ends"),
                    );
                }
                (Some(IntOrString::Int(_)), Some(m::PortRef::Number(start))) => {
                    match validate::port_number(i64::from(end)) {
                        None => {
                            ok = false;
                            self.port_range(obj, &end_ptr, i64::from(end));
                        }
                        Some(e) if e < *start => {
                            ok = false;
                            self.push(
                                Diagnostic::new(
                                    Code::EndPortBeforePort,
                                    format!("endPort {e} is smaller than port {start}"),
                                )
                                .with_primary(obj.near(&end_ptr), "smaller than port")
                                .with_secondary(obj.near(&port_ptr), "port")
                                .with_help(
                                    "endPort must be greater than or equal to port; swap them",
                                ),
                            );
                        }
                        Some(e) => end_port = Some(e),
                    }
                }
                _ => {}
            }
        }
        let protocol = protocol?;
        ok.then(|| m::PolicyPort {
            protocol,
            port,
            end_port,
            span: obj.near(at),
        })
    }

    fn selector(&mut self, obj: &Obj<'_>, sel: &LabelSelector, at: &str) -> m::Selector {
        let mut reqs = Vec::new();
        if let Some(ml) = &sel.match_labels {
            self.labels(obj, ml, &format!("{at}/matchLabels"));
            for (k, v) in ml {
                reqs.push(m::Requirement {
                    key: k.clone(),
                    operator: m::Operator::In,
                    values: vec![v.clone()],
                });
            }
        }
        for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
            let base = format!("{at}/matchExpressions/{i}");
            if let Err(why) = validate::qualified_name(&e.key) {
                self.push(
                    Diagnostic::new(Code::InvalidLabelKey, format!("label key `{}` is invalid: {why}", e.key))
                        .with_primary(obj.near(&format!("{base}/key")), "invalid key")
                        .with_help("a key is `name` or `prefix/name`: the name at most 63 of [A-Za-z0-9-_.], the prefix a DNS subdomain"),
                );
            }
            let values = e.values.clone().unwrap_or_default();
            let op = match e.operator.as_str() {
                "In" => Some(m::Operator::In),
                "NotIn" => Some(m::Operator::NotIn),
                "Exists" => Some(m::Operator::Exists),
                "DoesNotExist" => Some(m::Operator::DoesNotExist),
                other => {
                    let known = ["In", "NotIn", "Exists", "DoesNotExist"];
                    let help = known
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(other))
                        .map_or_else(
                            || "use In, NotIn, Exists or DoesNotExist".to_owned(),
                            |k| format!("operators are case-sensitive: write `{k}`"),
                        );
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSelectorOperator,
                            format!("`{other}` is not a selector operator"),
                        )
                        .with_primary(obj.near(&format!("{base}/operator")), "unknown operator")
                        .with_help(help),
                    );
                    None
                }
            };
            if let Some(op) = op {
                let needs_values = matches!(op, m::Operator::In | m::Operator::NotIn);
                if needs_values && values.is_empty() {
                    // Point at `values: []`, or at the operator when values is absent.
                    let at = obj
                        .span(&format!("{base}/values"))
                        .unwrap_or_else(|| obj.near(&format!("{base}/operator")));
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSelectorValues,
                            format!("operator {} needs at least one value", op.as_str()),
                        )
                        .with_primary(at, "no values")
                        .with_help("list the values to match, or use Exists / DoesNotExist"),
                    );
                } else if !needs_values && !values.is_empty() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSelectorValues,
                            format!("operator {} takes no values", op.as_str()),
                        )
                        .with_primary(obj.near(&format!("{base}/values")), "values not allowed")
                        .with_help("remove `values`, or use In / NotIn to match values"),
                    );
                }
                for (vi, v) in values.iter().enumerate() {
                    if let Err(why) = validate::label_value(v) {
                        self.push(
                            Diagnostic::new(Code::InvalidLabelValue, format!("label value `{v}` is invalid: it {why}"))
                                .with_primary(obj.near(&format!("{base}/values/{vi}")), "invalid value")
                                .with_help("a value is empty or at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric"),
                        );
                    }
                }
                let mut values = if needs_values { values } else { Vec::new() };
                values.sort();
                values.dedup();
                reqs.push(m::Requirement {
                    key: e.key.clone(),
                    operator: op,
                    values,
                });
            }
        }
        reqs.sort();
        reqs.dedup();
        m::Selector {
            requirements: reqs,
            span: obj.span(at),
        }
    }
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

/// Which name syntax the API server applies to a kind.
#[derive(Clone, Copy)]
enum NameRule {
    /// Namespaces.
    Label,
    /// Services.
    Dns1035,
    /// Everything else.
    Subdomain,
}

impl NameRule {
    fn check(self, name: &str) -> Result<(), String> {
        match self {
            NameRule::Label => validate::dns1123_label(name),
            NameRule::Dns1035 => validate::dns1035_label(name),
            NameRule::Subdomain => validate::dns1123_subdomain(name),
        }
    }

    fn help(self) -> &'static str {
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
