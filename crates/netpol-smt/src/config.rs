//! `netpol.yaml`: the [`Verification`] file users commit next to their manifests, its JSON
//! Schema, and [`parse_config`], which reports problems with exact spans.

use std::collections::BTreeMap;

use ipnet::IpNet;
use netpol_diag::{Code, Diagnostic, FileId, Span};
use netpol_manifest::config::ClusterSettings;
use netpol_manifest::model::{Direction, Protocol};
use netpol_manifest::yaml::{self, Document};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only `apiVersion` accepted.
pub const API_VERSION: &str = "netpol.dev/v1alpha1";
/// The only `kind` accepted.
pub const KIND: &str = "Verification";

/// A parsed `netpol.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "netpol Verification (netpol.yaml)")]
pub struct Verification {
    /// Must be `netpol.dev/v1alpha1`.
    #[schemars(extend("const" = "netpol.dev/v1alpha1"))]
    pub api_version: String,
    /// Must be `Verification`.
    #[schemars(extend("const" = "Verification"))]
    pub kind: String,
    /// Files or folders with the manifests, relative to this file. Paths given on the
    /// command line replace this list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<String>,
    /// Facts about the cluster that the manifests do not carry.
    #[serde(default)]
    pub cluster: ClusterSettings,
    /// The intents to prove, each decided by one solver query.
    #[serde(default)]
    pub assertions: Vec<Assertion>,
}

/// One intent. Exactly one of `deny`, `allow`, `only` and `isolated` is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Assertion {
    /// A unique name, shown in every output.
    pub name: String,
    /// What the assertion quantifies over.
    #[serde(default)]
    pub scope: Scope,
    /// Holds when no source in `from` can open a connection to any destination in `to` on
    /// any of `ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Pair>,
    /// Holds when every source in `from` can open a connection to every destination in `to`
    /// on every one of `ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Pair>,
    /// Holds when no source outside the listed `from` peers can open a connection to a
    /// destination in `to` on any of `ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Only>,
    /// Holds when every pod in `pods` is isolated in each of `directions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolated: Option<Isolated>,
}

/// What an assertion quantifies over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every pod that could be created (any labels, any namespace, any IP in `podCIDRs`,
    /// any named ports), plus the existing endpoints (the default).
    #[default]
    Any,
    /// Only the endpoints in the manifests.
    Existing,
}

/// Sources, destinations and ports of `deny` and `allow`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pair {
    pub from: PeerSpec,
    pub to: PeerSpec,
    /// `TCP/5432`, `UDP/53`, `TCP/8000-8080`, or `TCP` for every port of a protocol.
    /// Omitted: every protocol and port (ICMP included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
}

/// The body of `only`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Only {
    pub to: PeerSpec,
    /// The only sources allowed to connect.
    pub from: Vec<PeerSpec>,
    /// As in `deny`; omitted means every protocol and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
}

/// The body of `isolated`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Isolated {
    pub pods: PeerSpec,
    /// `Ingress`, `Egress` or both. Omitted: both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<DirectionName>>")]
    pub directions: Option<Vec<String>>,
}

/// A direction name, for the schema.
#[derive(JsonSchema)]
#[allow(dead_code)]
enum DirectionName {
    Ingress,
    Egress,
}

/// A set of endpoints. Fields are ANDed; `{}` is every pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerSpec {
    /// A namespace name (the namespace need not exist yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Matched against namespace labels (which include `kubernetes.io/metadata.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Matched against pod labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// `ns/name[Kind]` (or `ns/name` when only one workload has that name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// A bare Pod, `ns/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// External addresses in the block, and pods whose IP is (or could be) in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlockSpec>,
}

/// A Kubernetes LabelSelector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorRequirement>,
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectorRequirement {
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[schemars(with = "OperatorName")]
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A selector operator, for the schema.
#[derive(JsonSchema)]
#[allow(dead_code)]
enum OperatorName {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// An ipBlock: `cidr` minus every `except`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpBlockSpec {
    pub cidr: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
}

/// The JSON Schema of `netpol.yaml`, as committed in `docs/netpol.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Verification);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

/// An assertion body after checking: what the encoder reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Deny,
    Allow,
    Only,
    Isolated,
}

/// A port list entry: a protocol with an inclusive range, or `None` for ICMP and the other
/// port-less protocols (only in the default "every protocol and port" set).
pub(crate) type PortItem = Option<(Protocol, u16, u16)>;

/// Where the parts of one assertion are in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AssertionSpans {
    /// The whole assertion.
    pub whole: Option<Span>,
    /// Its `name` value.
    pub name: Option<Span>,
}

/// A config with the spans of its assertions.
#[derive(Clone, Debug)]
pub struct ParsedConfig {
    pub verification: Verification,
    /// Parallel to `verification.assertions`.
    pub spans: Vec<AssertionSpans>,
    /// The file's root span.
    pub root: Option<Span>,
}

/// Parses `netpol.yaml`. Returns `None` when the file is unusable; every problem is a
/// diagnostic (`invalid-config`) pointing at the offending node.
pub fn parse_config(file: FileId, text: &str) -> (Option<ParsedConfig>, Vec<Diagnostic>) {
    let (docs, mut diags) = yaml::parse_documents(file, text, &yaml::Limits::default());
    let mut docs = docs.into_iter();
    let Some(doc) = docs.next() else {
        if diags.is_empty() {
            diags.push(
                Diagnostic::new(Code::InvalidConfig, "netpol.yaml is empty")
                    .with_primary(Span::new(file, 0, 0), "expected a Verification document"),
            );
        }
        return (None, diags);
    };
    if let Some(extra) = docs.next() {
        diags.push(
            Diagnostic::new(Code::InvalidConfig, "netpol.yaml must hold one document")
                .with_primary(extra.span, "extra document"),
        );
    }
    let v: Verification = match serde_path_to_error::deserialize(&doc.value) {
        Ok(v) => v,
        Err(e) => {
            let pointer = to_pointer(e.path());
            let span = doc.nearest_span_of(&pointer);
            diags.push(
                Diagnostic::new(Code::InvalidConfig, format!("netpol.yaml: {}", e.inner()))
                    .with_primary(span, "here")
                    .with_help("see docs/verify.md and docs/netpol.schema.json"),
            );
            return (None, diags);
        }
    };
    let before = diags.iter().filter(|d| d.is_error()).count();
    check(&v, &doc, &mut diags);
    let spans = (0..v.assertions.len())
        .map(|i| AssertionSpans {
            whole: doc.span_of(&format!("/assertions/{i}")),
            name: doc.span_of(&format!("/assertions/{i}/name")),
        })
        .collect();
    let ok = diags.iter().filter(|d| d.is_error()).count() == before;
    let parsed = ParsedConfig {
        verification: v,
        spans,
        root: Some(doc.span),
    };
    (ok.then_some(parsed), diags)
}

fn to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut s = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => s.push_str(&format!("/{index}")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                s.push('/');
                s.push_str(&yaml::escape(key));
            }
            Segment::Unknown => {}
        }
    }
    s
}

fn invalid(doc: &Document, pointer: &str, msg: impl Into<String>, label: &str) -> Diagnostic {
    Diagnostic::new(Code::InvalidConfig, msg).with_primary(doc.nearest_span_of(pointer), label)
}

/// Checks what serde cannot: versions, one body per assertion, unique names, ports, CIDRs,
/// selector operators and directions.
fn check(v: &Verification, doc: &Document, diags: &mut Vec<Diagnostic>) {
    if v.api_version != API_VERSION {
        diags.push(invalid(
            doc,
            "/apiVersion",
            format!("apiVersion must be `{API_VERSION}`"),
            "unsupported apiVersion",
        ));
    }
    if v.kind != KIND {
        diags.push(invalid(
            doc,
            "/kind",
            format!("kind must be `{KIND}`"),
            "unsupported kind",
        ));
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, a) in v.assertions.iter().enumerate() {
        let base = format!("/assertions/{i}");
        if let Some(prev) = names.insert(a.name.as_str(), i) {
            diags.push(
                invalid(
                    doc,
                    &format!("{base}/name"),
                    format!("assertion name `{}` is used twice", a.name),
                    "duplicate name",
                )
                .with_secondary(
                    doc.nearest_span_of(&format!("/assertions/{prev}/name")),
                    "first used here",
                ),
            );
        }
        if a.name.is_empty() {
            diags.push(invalid(
                doc,
                &format!("{base}/name"),
                "assertion name is empty",
                "empty",
            ));
        }
        let bodies = [
            a.deny.is_some(),
            a.allow.is_some(),
            a.only.is_some(),
            a.isolated.is_some(),
        ];
        if bodies.iter().filter(|b| **b).count() != 1 {
            diags.push(
                invalid(
                    doc,
                    &base,
                    format!(
                        "assertion `{}` must set exactly one of deny, allow, only, isolated",
                        a.name
                    ),
                    "here",
                )
                .with_help("split it into several assertions"),
            );
            continue;
        }
        let mut peer = |p: &PeerSpec, at: String| check_peer(p, doc, &at, diags);
        if let Some(pair) = a
            .deny
            .as_ref()
            .map(|p| ("deny", p))
            .or(a.allow.as_ref().map(|p| ("allow", p)))
        {
            let (key, pair) = pair;
            peer(&pair.from, format!("{base}/{key}/from"));
            peer(&pair.to, format!("{base}/{key}/to"));
            check_ports(
                pair.ports.as_deref(),
                doc,
                &format!("{base}/{key}/ports"),
                diags,
            );
        }
        if let Some(only) = &a.only {
            check_peer(&only.to, doc, &format!("{base}/only/to"), diags);
            for (j, f) in only.from.iter().enumerate() {
                check_peer(f, doc, &format!("{base}/only/from/{j}"), diags);
            }
            check_ports(
                only.ports.as_deref(),
                doc,
                &format!("{base}/only/ports"),
                diags,
            );
        }
        if let Some(iso) = &a.isolated {
            check_peer(&iso.pods, doc, &format!("{base}/isolated/pods"), diags);
            for (j, d) in iso.directions.iter().flatten().enumerate() {
                if parse_direction(d).is_none() {
                    diags.push(invalid(
                        doc,
                        &format!("{base}/isolated/directions/{j}"),
                        format!("`{d}` is not a direction: use Ingress or Egress"),
                        "unknown direction",
                    ));
                }
            }
        }
    }
}

fn check_peer(p: &PeerSpec, doc: &Document, at: &str, diags: &mut Vec<Diagnostic>) {
    for (key, sel) in [
        ("namespaceSelector", &p.namespace_selector),
        ("podSelector", &p.pod_selector),
    ] {
        for (j, r) in sel
            .iter()
            .flat_map(|s| s.match_expressions.iter())
            .enumerate()
        {
            let ptr = format!("{at}/{key}/matchExpressions/{j}");
            match r.operator.as_str() {
                "In" | "NotIn" if r.values.is_empty() => diags.push(invalid(
                    doc,
                    &ptr,
                    format!("operator {} needs at least one value", r.operator),
                    "no values",
                )),
                "Exists" | "DoesNotExist" if !r.values.is_empty() => diags.push(invalid(
                    doc,
                    &ptr,
                    format!("operator {} takes no values", r.operator),
                    "values given",
                )),
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                other => diags.push(invalid(
                    doc,
                    &format!("{ptr}/operator"),
                    format!("`{other}` is not In, NotIn, Exists or DoesNotExist"),
                    "unknown operator",
                )),
            }
        }
    }
    if let Some(b) = &p.ip_block {
        match b.cidr.parse::<IpNet>() {
            Ok(IpNet::V4(_)) => {}
            _ => diags.push(invalid(
                doc,
                &format!("{at}/ipBlock/cidr"),
                format!("`{}` is not an IPv4 CIDR", b.cidr),
                "invalid CIDR",
            )),
        }
        for (j, e) in b.except.iter().enumerate() {
            if !matches!(e.parse::<IpNet>(), Ok(IpNet::V4(_))) {
                diags.push(invalid(
                    doc,
                    &format!("{at}/ipBlock/except/{j}"),
                    format!("`{e}` is not an IPv4 CIDR"),
                    "invalid CIDR",
                ));
            }
        }
    }
}

fn check_ports(ports: Option<&[String]>, doc: &Document, at: &str, diags: &mut Vec<Diagnostic>) {
    for (j, p) in ports.into_iter().flatten().enumerate() {
        if parse_port_item(p).is_none() {
            diags.push(
                invalid(
                    doc,
                    &format!("{at}/{j}"),
                    format!(
                        "`{p}` is not a port: use PROTOCOL/PORT, PROTOCOL/LOW-HIGH or PROTOCOL"
                    ),
                    "invalid port",
                )
                .with_help("for example TCP/5432, UDP/53, TCP/8000-8080 or SCTP"),
            );
        }
    }
}

/// `TCP/80`, `TCP/80-90` or `TCP`.
pub(crate) fn parse_port_item(s: &str) -> Option<(Protocol, u16, u16)> {
    let (proto, rest) = match s.split_once('/') {
        Some((p, r)) => (p, Some(r)),
        None => (s, None),
    };
    let proto = Protocol::parse(proto.trim())?;
    let Some(rest) = rest else {
        return Some((proto, 1, u16::MAX));
    };
    let (lo, hi) = match rest.split_once('-') {
        Some((a, b)) => (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?),
        None => {
            let n = rest.trim().parse::<u16>().ok()?;
            (n, n)
        }
    };
    (lo >= 1 && hi >= lo).then_some((proto, lo, hi))
}

/// The port items of an assertion: the listed ones, or every protocol and port.
pub(crate) fn port_items(ports: Option<&[String]>) -> Vec<PortItem> {
    match ports {
        None => {
            let mut all: Vec<PortItem> = Protocol::ALL
                .into_iter()
                .map(|p| Some((p, 1, u16::MAX)))
                .collect();
            all.push(None);
            all
        }
        Some(list) => list
            .iter()
            .filter_map(|s| parse_port_item(s))
            .map(Some)
            .collect(),
    }
}

pub(crate) fn parse_direction(s: &str) -> Option<Direction> {
    Direction::BOTH.into_iter().find(|d| d.as_str() == s)
}

impl Assertion {
    pub(crate) fn kind(&self) -> Option<Kind> {
        match (&self.deny, &self.allow, &self.only, &self.isolated) {
            (Some(_), None, None, None) => Some(Kind::Deny),
            (None, Some(_), None, None) => Some(Kind::Allow),
            (None, None, Some(_), None) => Some(Kind::Only),
            (None, None, None, Some(_)) => Some(Kind::Isolated),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpol_diag::SourceMap;

    fn parse(text: &str) -> (Option<ParsedConfig>, Vec<Diagnostic>, SourceMap) {
        let mut map = SourceMap::new();
        let file = map.add("netpol.yaml", text.to_owned());
        let (c, d) = parse_config(file, text);
        (c, d, map)
    }

    #[test]
    fn committed_schema_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/netpol.schema.json");
        let generated = schema_json();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &generated).expect("write docs/netpol.schema.json");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            committed, generated,
            "docs/netpol.schema.json is stale: run UPDATE_SCHEMA=1 cargo test -p netpol-smt"
        );
    }

    #[test]
    fn the_issue_example_parses() {
        let text = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
manifests: ["k8s/"]
cluster:
  cni: vpc-cni
  enforcingMode: standard
  podCIDRs: ["10.0.0.0/16"]
assertions:
  - name: dev-cannot-reach-prod
    scope: any
    deny:
      from: {namespaceSelector: {matchLabels: {env: dev}}}
      to:   {namespaceSelector: {matchLabels: {env: prod}}}
      ports: ["TCP/5432", "UDP/53", "TCP/8000-8080"]
  - name: api-reaches-db
    allow: {from: {namespace: shop, podSelector: {matchLabels: {app: api}}}, to: {namespace: shop, podSelector: {matchLabels: {app: db}}}, ports: ["TCP/5432"]}
  - name: db-only-from-api
    only: {to: {namespace: shop, podSelector: {matchLabels: {app: db}}}, from: [{namespace: shop, podSelector: {matchLabels: {app: api}}}], ports: ["TCP/5432"]}
  - name: shop-default-deny
    isolated: {pods: {namespace: shop}, directions: [Ingress, Egress]}
"#;
        let (c, d, _) = parse(text);
        assert!(d.is_empty(), "{d:?}");
        let c = c.expect("parsed");
        assert_eq!(c.verification.assertions.len(), 4);
        assert_eq!(c.verification.cluster.pod_cidrs.len(), 1);
        assert_eq!(c.verification.assertions[0].kind(), Some(Kind::Deny));
        assert_eq!(c.verification.assertions[3].kind(), Some(Kind::Isolated));
        assert!(c.spans.iter().all(|s| s.whole.is_some()));
    }

    #[test]
    fn unknown_field_points_at_its_line() {
        let text = "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: a\n    deny: {from: {}, to: {}, prots: [TCP/1]}\n";
        let (c, d, map) = parse(text);
        assert!(c.is_none());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::InvalidConfig);
        assert!(d[0].message.contains("prots"), "{}", d[0].message);
        let span = d[0].primary_span().expect("span");
        assert_eq!(map.start(span).line, 5);
    }

    #[test]
    fn semantic_errors_are_reported_each() {
        let text = "apiVersion: netpol.dev/v1\nkind: Verification\nassertions:\n  - name: a\n    deny: {from: {}, to: {}, ports: [TCP/0, HTTP/80]}\n  - name: a\n    isolated: {pods: {ipBlock: {cidr: nope}}, directions: [Up]}\n  - name: b\n";
        let (c, d, _) = parse(text);
        assert!(c.is_none());
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(d.len(), 7, "{msgs:?}");
        assert!(d.iter().all(|d| d.code == Code::InvalidConfig));
    }

    #[test]
    fn port_items_parse() {
        assert_eq!(parse_port_item("TCP/80"), Some((Protocol::Tcp, 80, 80)));
        assert_eq!(parse_port_item("UDP/1-9"), Some((Protocol::Udp, 1, 9)));
        assert_eq!(parse_port_item("SCTP"), Some((Protocol::Sctp, 1, 65535)));
        assert_eq!(parse_port_item("TCP/9-1"), None);
        assert_eq!(parse_port_item("tcp/80"), None);
        assert_eq!(port_items(None).len(), 4);
    }
}
