//! Coverage (notes by default): pods that no policy isolates, and namespaces without a
//! default-deny policy, per direction.

use std::collections::BTreeSet;

use netpol_diag::{Code, Diagnostic};
use netpol_graph::switches;
use netpol_manifest::model::{Direction, Policy};

use crate::context::{Context, dir_word};

pub(crate) fn lint(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    // V1: in strict mode an unselected pod denies everything; it is covered, if harshly.
    let strict = switches::strict_default_deny(cx.analysis.profile());
    for e in &cx.model.endpoints {
        if e.host_network || (strict && cx.selecting(e).is_empty()) {
            continue;
        }
        let open: Vec<Direction> = Direction::BOTH
            .into_iter()
            .filter(|&d| cx.isolating(e, d).is_empty())
            .collect();
        if open.is_empty() {
            continue;
        }
        let dirs = words(&open);
        out.push(
            Diagnostic::new(
                Code::PodNotIsolated,
                format!("{} is not isolated for {dirs}: every connection in that direction is allowed", e.id()),
            )
            .with_primary(e.span, format!("no NetworkPolicy of namespace {} isolates {dirs}", e.namespace))
            .with_help(format!(
                "add a policy that selects it with {} in policyTypes (a namespace-wide default deny covers every pod)",
                open.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(" and ")
            )),
        );
    }
    // Namespaces with an enforced pod or a Namespace object.
    let mut namespaces: BTreeSet<&str> = cx
        .model
        .endpoints
        .iter()
        .filter(|e| !e.host_network)
        .map(|e| e.namespace.as_str())
        .collect();
    namespaces.extend(
        cx.model
            .namespaces
            .iter()
            .filter(|n| n.span.is_some())
            .map(|n| n.name.as_str()),
    );
    for ns in namespaces {
        let missing: Vec<Direction> = Direction::BOTH
            .into_iter()
            .filter(|&d| {
                !cx.model
                    .policies
                    .iter()
                    .any(|p| p.namespace == ns && default_deny(p, d))
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        let dirs = words(&missing);
        let span = cx.model.namespace(ns).and_then(|n| n.span);
        out.push(
            Diagnostic::new(
                Code::NoDefaultDeny,
                format!("namespace {ns} has no default-deny policy for {dirs}"),
            )
            .with_primary_opt(span, format!("no policy selects every pod of {ns} and denies {dirs}"))
            .with_help(format!(
                "add a NetworkPolicy with `podSelector: {{}}` and `policyTypes: [{}]` and no rules, then allow what the namespace needs",
                missing.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
            ))
            .with_note("a pod added later that no other policy selects would be open in that direction"),
        );
    }
}

/// Selects every pod of its namespace, isolates `dir`, and allows nothing in it.
fn default_deny(p: &Policy, dir: Direction) -> bool {
    p.pod_selector.is_empty() && p.policy_types.contains(dir) && p.rules(dir).is_empty()
}

fn words(dirs: &[Direction]) -> String {
    dirs.iter()
        .map(|&d| dir_word(d))
        .collect::<Vec<_>>()
        .join(" and ")
}
