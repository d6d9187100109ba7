//! V9: pods that share a VPC CNI pod identifier but are selected by different policies.
//! The agent enforces per identifier (NPA `GetPodIdentifier`: the name minus its last
//! `-segment`, per namespace), so a pod inherits the policies of its siblings. The graph
//! computes which endpoints this changes ([`netpol_graph::Analysis::identifier_ranges`]);
//! this lint says so at the pod.

use std::collections::HashMap;

use netpol_diag::{Code, Diagnostic};
use netpol_manifest::model::Endpoint;

use crate::context::{Context, policy_name};

/// At most this many siblings (and policies) get a secondary label; the rest are counted.
const SHOWN: usize = 3;

pub(crate) fn lint(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let ranges = cx.analysis.identifier_ranges();
    if ranges.is_empty() {
        return;
    }
    let by_id: HashMap<String, &Endpoint> =
        cx.model.endpoints.iter().map(|e| (e.id(), e)).collect();
    for (id, r) in ranges {
        let Some(e) = by_id.get(&id) else { continue };
        // The policies a sibling brings that do not select the pod itself.
        let mut extra: Vec<usize> = (r.siblings.iter())
            .flat_map(|(_, ps)| ps.iter().copied())
            .filter(|p| !r.own.contains(p))
            .collect();
        extra.sort_unstable();
        extra.dedup();
        if extra.is_empty() {
            continue;
        }
        let names = |ps: &[usize]| list(ps.iter().map(|&i| policy_name(&cx.model.policies[i])));
        let siblings = list(r.siblings.iter().map(|(s, _)| s.clone()));
        let always = extra.iter().all(|p| r.lower.contains(p));
        let when = if always {
            "always: the pods run on one node"
        } else if extra.iter().any(|p| r.lower.contains(p)) {
            "always for the policies of a sibling on its node, and for the others depending on which pod reached a shared node first"
        } else {
            "on a node where the pods run together, depending on which of them reached it first"
        };
        let mut d = Diagnostic::new(
            Code::SharedPodIdentifier,
            format!(
                "{id} shares the VPC CNI pod identifier `{}` with {siblings}, so the agent may apply NetworkPolicy {} to it although it does not select {id} (V9)",
                r.identifier,
                names(&extra),
            ),
        )
        .with_primary(e.span, format!("pod identifier `{}`", r.identifier));
        for (s, _) in r.siblings.iter().take(SHOWN) {
            if let Some(sib) = by_id.get(s) {
                d = d.with_secondary(sib.span, format!("{s} has the same identifier"));
            }
        }
        // Each policy once, with the first sibling it selects.
        for &pi in extra.iter().take(SHOWN) {
            let Some((s, _)) = r.siblings.iter().find(|(_, ps)| ps.contains(&pi)) else {
                continue;
            };
            let p = &cx.model.policies[pi];
            d = d.with_secondary(cx.subject_span(p), format!("selects {s}, not {id}"));
        }
        let own = if r.own.is_empty() {
            format!(
                "no policy selects {id} itself, yet the agent may enforce its siblings' policies on it: it is then isolated where they isolate and allowed only what they allow"
            )
        } else {
            format!(
                "{id} is selected by {}; the agent enforces the union of these and its siblings' policies, so it may be isolated where only they isolate and allowed what only they allow",
                names(&r.own)
            )
        };
        let prefix = r.identifier.split('@').next().unwrap_or_default();
        out.push(
            d.with_note(own)
                .with_note(format!("this applies {when}"))
                .with_note("the agent keys its eBPF maps by pod identifier: the pod name with `.` as `_` and its last `-segment` removed, per namespace (NPA pkg/utils/utils.go GetPodIdentifier; docs/semantics.md V9)")
                .with_help(format!("rename the pods so that their names differ before the last `-` (these are all `{prefix}` to the agent), or select every pod of `{}` with the same policies", r.identifier)),
        );
    }
}

/// At most [`SHOWN`] items, then how many more: a large group of bare pods must not make
/// every message list every sibling.
fn list(items: impl ExactSizeIterator<Item = String>) -> String {
    let n = items.len();
    let mut s = items.take(SHOWN).collect::<Vec<_>>().join(", ");
    if n > SHOWN {
        s.push_str(&format!(" and {} more", n - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::list;

    #[test]
    fn long_lists_are_cut() {
        let items = |n: usize| (0..n).map(|i| format!("p{i}")).collect::<Vec<_>>();
        assert_eq!(list(items(2).into_iter()), "p0, p1");
        assert_eq!(list(items(3).into_iter()), "p0, p1, p2");
        assert_eq!(list(items(1000).into_iter()), "p0, p1, p2 and 997 more");
    }
}
