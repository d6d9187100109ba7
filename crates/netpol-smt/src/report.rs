//! Reporting: results as diagnostics (`assertion-refuted`, `assertion-unknown`) and
//! counterexamples as the JSON of `netpol verify --format json`.

use std::collections::BTreeMap;

use netpol_diag::{Code, Diagnostic, Span};
use netpol_manifest::Model;

use crate::counterexample::{ConcreteEndpoint, Counterexample, EndpointRef};
use crate::{AssertionResult, Outcome};

/// Names of the model's policies by index, for rendering provenance.
pub fn policy_names(model: &Model) -> BTreeMap<usize, String> {
    model
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| (i, format!("{}/{}", p.namespace, p.name)))
        .collect()
}

/// The diagnostics of refuted (`assertion-refuted`) and unknown (`assertion-unknown`)
/// results: the primary label is the assertion, secondary labels the policies and rules
/// that decide the counterexample, notes describe it.
pub fn result_diagnostics(model: &Model, results: &[AssertionResult]) -> Vec<Diagnostic> {
    let names = policy_names(model);
    let mut out = Vec::new();
    for r in results {
        match &r.outcome {
            Outcome::Proved => {}
            Outcome::Unknown(reason) => {
                let help = if crate::suggest::is_unknown_reference(reason) {
                    "fix the name in netpol.yaml; `netpol matrix` lists the endpoint ids"
                } else {
                    "the reason says what stands in the way; when the solver gave up, raise --timeout or narrow the assertion's peers"
                };
                let d = Diagnostic::new(
                    Code::AssertionUnknown,
                    format!("assertion `{}` could not be decided: {reason}", r.name),
                )
                .with_help(help);
                out.push(match r.span {
                    Some(s) => d.with_primary(s, "undecided"),
                    None => d,
                });
            }
            Outcome::Refuted(cx) => {
                let msg = match &cx.source {
                    Some(src) => format!(
                        "assertion `{}` is refuted: {} -> {} on {}",
                        r.name,
                        src.describe(),
                        cx.destination.describe(),
                        cx.port_string()
                    ),
                    None => format!(
                        "assertion `{}` is refuted: {} is not isolated for {}",
                        r.name,
                        cx.destination.describe(),
                        cx.open_directions
                            .iter()
                            .map(|d| d.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let msg = match &cx.via {
                    Some((svc, port)) => {
                        format!("{msg}, through the ClusterIP of {svc} port {port}")
                    }
                    None => msg,
                };
                let mut d = Diagnostic::new(Code::AssertionRefuted, msg);
                if let Some(s) = r.span {
                    d = d.with_primary(s, "does not hold");
                }
                for t in &cx.directions {
                    let at = if t.at_destination {
                        "destination"
                    } else {
                        "source"
                    };
                    let state = match (t.allowed, t.isolated, t.selecting.is_empty()) {
                        _ if !t.enforced => {
                            "not enforced (external address or hostNetwork pod): allowed"
                        }
                        _ if cx.icmpv6 => {
                            "ICMPv6, which the VPC CNI agent passes at every pod of an IPv6 cluster before any policy lookup (V15): allowed"
                        }
                        (true, _, true) => "not selected by any policy: allowed",
                        (true, false, false) => "selected but not isolated: allowed",
                        (true, true, _) if t.node_exempt && t.rules.is_empty() => {
                            "isolated, allowed by the local-node exemption (the other end carries this pod's node IP)"
                        }
                        (true, true, _) => "isolated, allowed by a rule",
                        (false, _, true) => "not selected by any policy: denied (strict mode)",
                        (false, _, false) => "isolated, no rule allows it",
                    };
                    d = d.with_note(format!("{} at the {at}: {state}", t.direction));
                    for name in &t.isolated_by_new_pod {
                        d = d.with_note(format!(
                            "{name} lists no {} in policyTypes, yet VPC CNI enforces its {} rules once they resolve: a pod created later that matches one of their peers resolves them and isolates the {at}",
                            t.direction, t.direction
                        ));
                    }
                    if t.longest_prefix {
                        d = d.with_note(format!(
                            "{} at the {at}: decided by the VPC CNI agent's longest-prefix key for this address, not by the union of the rules: an `except` in this direction changes it (V11)",
                            t.direction
                        ));
                    }
                    for (policy, sibling, ident) in &t.shared_identifier {
                        d = d.with_note(format!(
                            "{policy} applies at the {at} through {sibling}, which it selects: both share the VPC CNI agent's pod identifier {ident}, and the agent enforces one set of rules per identifier (V9)"
                        ));
                    }
                    for prov in &t.rules {
                        let name = names.get(&prov.policy).cloned().unwrap_or_default();
                        d = d.with_secondary(
                            prov.span,
                            format!("{} rule {} of {name} allows it", t.direction, prov.rule),
                        );
                    }
                    if t.rules.is_empty() && t.isolated {
                        for (name, span) in &t.selecting {
                            d = d.with_secondary(*span, format!("{name} selects the {at}"));
                        }
                    }
                }
                out.push(d);
            }
        }
    }
    out
}

fn endpoint_json(e: &ConcreteEndpoint) -> serde_json::Value {
    let (kind, id) = match &e.endpoint {
        EndpointRef::Existing(id) => ("existing", Some(id.clone())),
        EndpointRef::Future => ("future", None),
        EndpointRef::External => ("external", None),
    };
    serde_json::json!({
        "kind": kind,
        "id": id,
        "namespace": e.namespace,
        "newNamespace": e.new_namespace,
        "namespaceLabels": e.namespace_labels,
        "labels": e.labels,
        "ip": e.ip.map(|ip| ip.to_string()),
        "ports": e.ports.iter().map(|p| serde_json::json!({
            "name": p.name, "protocol": p.protocol.as_str(), "port": p.port
        })).collect::<Vec<_>>(),
        "node": e.node,
    })
}

impl Counterexample {
    /// The JSON form used by `netpol verify --format json`.
    pub fn to_json(&self, model: &Model, map: &netpol_diag::SourceMap) -> serde_json::Value {
        let names = policy_names(model);
        let loc = |s: Span| {
            let lc = map.start(s);
            serde_json::json!({"file": map.name(s.file), "line": lc.line, "column": lc.col})
        };
        serde_json::json!({
            "source": self.source.as_ref().map(endpoint_json),
            "destination": endpoint_json(&self.destination),
            "protocol": self.protocol.map(|p| p.as_str()).or(self.icmpv6.then_some("ICMPv6")),
            "port": self.port,
            "via": self.via.as_ref().map(|(svc, port)| serde_json::json!({"service": svc, "port": port})),
            "openDirections": self.open_directions.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            "directions": self.directions.iter().map(|t| { let mut v = serde_json::json!({
                "direction": t.direction.as_str(),
                "at": if t.at_destination { "destination" } else { "source" },
                "allowed": t.allowed,
                "enforced": t.enforced,
                "isolated": t.isolated,
                "isolatedByNewPod": t.isolated_by_new_pod,
                "sharedIdentifier": t.shared_identifier.iter().map(|(policy, sibling, identifier)| serde_json::json!({
                    "policy": policy, "sibling": sibling, "identifier": identifier,
                })).collect::<Vec<_>>(),
                "nodeExempt": t.node_exempt,
                "selectedBy": t.selecting.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
                "rules": t.rules.iter().map(|p| {
                    let mut v = loc(p.span);
                    v["policy"] = serde_json::json!(names.get(&p.policy));
                    v["rule"] = serde_json::json!(p.rule);
                    v
                }).collect::<Vec<_>>(),
            });
            // V11: only where the longest-prefix key decided (keeps other output as it was).
            if t.longest_prefix {
                v["longestPrefix"] = serde_json::json!(true);
            }
            v }).collect::<Vec<_>>(),
        })
    }
}
