//! What serde cannot check in `netpol.yaml`, each problem an `invalid-config` diagnostic
//! at the offending node; and the parsers of port and direction strings that `intent.rs`
//! applies once the file is valid.

use std::collections::BTreeMap;

use ipnet::IpNet;
use netpol_diag::{Code, Diagnostic};
use netpol_manifest::model::{Direction, Protocol};
use netpol_manifest::yaml::Document;

use super::{API_VERSION, KIND, PeerSpec, Verification};

/// A port list entry: a protocol with an inclusive range, or `None` for ICMP and the other
/// port-less protocols (only in the default "every protocol and port" set).
pub type PortItem = Option<(Protocol, u16, u16)>;

fn invalid(doc: &Document, pointer: &str, msg: impl Into<String>, label: &str) -> Diagnostic {
    Diagnostic::new(Code::InvalidConfig, msg).with_primary(doc.nearest_span_of(pointer), label)
}

/// Checks what serde cannot: versions, a non-empty `snapshot`, one body per assertion, unique names, ports, CIDRs,
/// selector operators and directions.
pub(super) fn check(v: &Verification, doc: &Document, diags: &mut Vec<Diagnostic>) {
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
    if v.snapshot.as_deref().is_some_and(str::is_empty) {
        diags.push(
            invalid(doc, "/snapshot", "`snapshot` is empty", "empty path").with_help(
                "give the snapshot file's path relative to netpol.yaml, or leave `snapshot` out",
            ),
        );
    }
    let family = v.cluster.ip_family.as_str();
    for (at, ip) in v.cluster.off_family() {
        diags.push(
            invalid(
                doc,
                &format!("/cluster{at}"),
                format!("`{ip}` is not of the cluster's IP family (`ipFamily: {family}`)"),
                "other IP family",
            )
            .with_help("EKS clusters are single-stack: set `ipFamily` to the family of the cluster's pod, node and Service addresses"),
        );
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
            if iso.directions.as_ref().is_some_and(Vec::is_empty) {
                // An empty list would assert isolation in no direction: a vacuous proof.
                diags.push(
                    invalid(
                        doc,
                        &format!("{base}/isolated/directions"),
                        "`directions` is empty: list Ingress, Egress or both",
                        "empty list",
                    )
                    .with_help("leave `directions` out to assert both"),
                );
            }
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
        // Either family: what a block of the family the cluster does not use means is the
        // encoder's to decide (it knows the cluster).
        let cidr = b.cidr.parse::<IpNet>().ok();
        if cidr.is_none() {
            diags.push(invalid(
                doc,
                &format!("{at}/ipBlock/cidr"),
                format!("`{}` is not an IPv4 or IPv6 CIDR", b.cidr),
                "invalid CIDR",
            ));
        }
        for (j, e) in b.except.iter().enumerate() {
            let msg = match (e.parse::<IpNet>(), cidr) {
                (Err(_), _) => format!("`{e}` is not an IPv4 or IPv6 CIDR"),
                (Ok(n), Some(c)) if n.addr().is_ipv4() != c.addr().is_ipv4() => {
                    format!("`{e}` is not of the family of the cidr `{c}`")
                }
                _ => continue,
            };
            diags.push(invalid(
                doc,
                &format!("{at}/ipBlock/except/{j}"),
                msg,
                "invalid CIDR",
            ));
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

/// `Ingress` or `Egress`.
pub(crate) fn parse_direction(s: &str) -> Option<Direction> {
    Direction::BOTH.into_iter().find(|d| d.as_str() == s)
}
