//! Dead policies and rules, proved on the graph for the endpoints of the input: a policy or
//! rule whose removal leaves the matrix unchanged, duplicate policies, and a policy that
//! selects only hostNetwork pods.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet};

use netpol_diag::{Code, Diagnostic};
use netpol_graph::{Analysis, Matrix, Removal};
use netpol_manifest::model::{
    Direction, Endpoint, NAMESPACE_NAME_LABEL, Operator, Peer, Policy, Rule,
};

use crate::context::{Context, dir_word, policy_name};

/// The graph's what-if runs decide removals without a matrix, (policies + rules) x
/// endpoints steps at most; above `budget` the lints are skipped, with a note. A removal the
/// graph cannot decide (a V11 row that falls back to the per-pair evaluator) costs a matrix
/// of the model without it, endpoints^2 steps, within [`FALLBACK_STEPS`] and what is left
/// of `budget`; beyond, it is skipped with a note.
pub(crate) fn lint(
    cx: &Context<'_>,
    empty_subjects: &HashSet<usize>,
    budget: usize,
    out: &mut Vec<Diagnostic>,
) {
    let mut skip = empty_subjects.clone();
    skip.extend(duplicates(cx, out));
    for (i, p) in cx.model.policies.iter().enumerate() {
        let selected: Vec<&Endpoint> = cx
            .endpoints_of(&p.namespace)
            .filter(|e| p.pod_selector.matches(&e.labels))
            .collect();
        if !selected.is_empty() && selected.iter().all(|e| e.host_network) {
            skip.insert(i);
            out.push(
                Diagnostic::new(
                    Code::PolicySelectsHostNetworkOnly,
                    format!("NetworkPolicy {} selects only hostNetwork pods, where policies are never enforced", policy_name(p)),
                )
                .with_primary(cx.subject_span(p), "matches only hostNetwork pods")
                .with_note(format!(
                    "selected: {}",
                    selected.iter().map(|e| e.id()).collect::<Vec<_>>().join(", ")
                ))
                .with_help("hostNetwork pods share their node's network namespace; restrict their traffic with security groups or host firewalls instead"),
            );
        }
    }
    let n = cx.model.endpoints.len();
    let rules: usize = (cx.model.policies.iter())
        .map(|p| p.ingress.len() + p.egress.len())
        .sum();
    let runs = cx.model.policies.len() + rules;
    // A guard against pathological inputs: a what-if run is bounded by the classes the
    // removal touches times the others, far below endpoints^2.
    let steps = runs.saturating_mul(n);
    if steps > budget {
        out.push(lint_skipped(
            format!("policy-without-effect and rule-without-effect were not run: {runs} what-if runs over {n} endpoints exceed their budget"),
            steps,
            budget,
            "these lints",
        ));
        return;
    }
    let mut what_if = WhatIf {
        cx,
        engine: None,
        budget: FALLBACK_STEPS.min(budget - steps),
        spent: 0,
        skipped: 0,
    };
    // V13: the matrix does not hold which port slots the agent keeps, so a policy of a pod
    // with a truncated key may change that without changing a connection: not judged.
    let truncated = truncating_policies(cx);
    for (i, p) in cx.model.policies.iter().enumerate() {
        // A default deny guards pods created later; that it changes nothing today is its point.
        if skip.contains(&i)
            || truncated.contains(&i)
            || is_default_deny(p)
            || !policy_in_input(cx, p)
        {
            continue;
        }
        match what_if.unchanged(Removal::Policy(i)) {
            Some(true) => {
                out.push(
                    Diagnostic::new(
                        Code::PolicyWithoutEffect,
                        format!("NetworkPolicy {} changes nothing: every connection is the same without it", policy_name(p)),
                    )
                    .with_primary(p.span, "removing this policy leaves the matrix unchanged")
                    .with_note("proved for the pods and workloads of the input; a pod created later could still be affected")
                    .with_help("remove the policy, or fix its selectors and rules if it was meant to allow or isolate something"),
                );
                continue;
            }
            Some(false) => {}
            // Not known: its rules are not judged either (one of them may be the reason).
            None => continue,
        }
        for dir in Direction::BOTH {
            for ri in 0..p.rules(dir).len() {
                if !rule_in_input(cx, p, &p.rules(dir)[ri]) {
                    continue;
                }
                if what_if.unchanged(Removal::Rule(i, dir, ri)) == Some(true) {
                    out.push(
                        Diagnostic::new(
                            Code::RuleWithoutEffect,
                            format!(
                                "{} rule {ri} of NetworkPolicy {} allows nothing that other rules do not already allow",
                                dir_word(dir),
                                policy_name(p)
                            ),
                        )
                        .with_primary(p.rules(dir)[ri].span, "removing this rule leaves the matrix unchanged")
                        .with_note("proved for the pods and workloads of the input; a pod created later could still be affected")
                        .with_help("remove the rule, or fix its peers and ports if it was meant to allow something else"),
                    );
                }
            }
        }
    }
    if what_if.skipped > 0 {
        let k = what_if.skipped;
        out.push(lint_skipped(
            format!("policy-without-effect and rule-without-effect skipped {k} policies and rules: each needs a what-if matrix over {n} endpoints, which exceeds their budget"),
            (what_if.spent).saturating_add(k.saturating_mul(n).saturating_mul(n)),
            what_if.budget,
            "these lints",
        ));
    }
}

/// The policies that count at an endpoint with a V13 truncated key (those selecting it, or,
/// when it shares its VPC CNI identifier, any pod of the identifier).
fn truncating_policies(cx: &Context<'_>) -> HashSet<usize> {
    let facts = cx.analysis.truncated_slots();
    if facts.is_empty() {
        return HashSet::new();
    }
    let upper: BTreeMap<String, Vec<usize>> = (cx.analysis.identifier_ranges().into_iter())
        .map(|(id, r)| (id, r.upper))
        .collect();
    let mut out = HashSet::new();
    for f in &facts {
        match upper.get(&f.endpoint) {
            Some(u) => out.extend(u.iter().copied()),
            None => {
                let e = cx.model.endpoints.iter().find(|e| e.id() == f.endpoint);
                out.extend(e.map(|e| cx.selecting(e)).unwrap_or_default());
            }
        }
    }
    out
}

/// The most endpoints^2 steps the what-if matrices of removals the graph cannot decide may
/// take over a run (a matrix of 7,000 endpoints).
const FALLBACK_STEPS: usize = 50_000_000;

/// The what-if answers: from the graph's engine, else (a removal it cannot mask) from a
/// matrix of the model without it, within the budget.
struct WhatIf<'c, 'a> {
    cx: &'c Context<'a>,
    engine: Option<netpol_graph::WhatIf<'a, 'a>>,
    budget: usize,
    /// Steps (endpoints^2 per matrix) spent on what-if matrices.
    spent: usize,
    /// Removals left undecided for the budget.
    skipped: usize,
}

impl WhatIf<'_, '_> {
    /// Whether the removal leaves the matrix unchanged; `None` when not decided.
    fn unchanged(&mut self, removal: Removal) -> Option<bool> {
        let cx = self.cx;
        let engine = self.engine.get_or_insert_with(|| cx.analysis.what_if());
        if let Some(answer) = engine.unchanged(removal) {
            return Some(answer);
        }
        let n = cx.model.endpoints.len();
        let steps = n.saturating_mul(n);
        if self.spent.saturating_add(steps) > self.budget {
            self.skipped += 1;
            return None;
        }
        self.spent += steps;
        let mut without = cx.model.clone();
        match removal {
            Removal::Policy(i) => {
                without.policies.remove(i);
            }
            Removal::Rule(i, Direction::Ingress, ri) => {
                without.policies[i].ingress.remove(ri);
            }
            Removal::Rule(i, Direction::Egress, ri) => {
                without.policies[i].egress.remove(ri);
            }
        }
        let other = Analysis::new(&without, cx.analysis.profile()).matrix();
        Some(same(cx.matrix(), &other))
    }
}

fn same(a: &Matrix, b: &Matrix) -> bool {
    a.endpoints == b.endpoints
        && a.connection_count() == b.connection_count()
        && a.connections()
            .zip(b.connections())
            .all(|(x, y)| x.from.id == y.from.id && x.to.id == y.to.id && x.ports == y.ports)
}

/// Selects every pod and denies some direction outright.
fn is_default_deny(p: &Policy) -> bool {
    p.pod_selector.is_empty()
        && Direction::BOTH
            .into_iter()
            .any(|d| p.policy_types.contains(d) && p.rules(d).is_empty())
}

/// Policies of one namespace with the same meaning (selector, policyTypes, rules; spans
/// and names aside). Each later copy is reported against the first; returns every policy
/// that has a copy (removing either one alone changes nothing, which says nothing new).
fn duplicates(cx: &Context<'_>, out: &mut Vec<Diagnostic>) -> Vec<usize> {
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    let mut copies = Vec::new();
    for (i, p) in cx.model.policies.iter().enumerate() {
        match first.entry(meaning(p)) {
            Entry::Vacant(v) => {
                v.insert(i);
            }
            Entry::Occupied(o) => {
                let orig = &cx.model.policies[*o.get()];
                copies.extend([i, *o.get()]);
                out.push(
                    Diagnostic::new(
                        Code::DuplicatePolicy,
                        format!(
                            "NetworkPolicy {} is a copy of {}: same podSelector, policyTypes and rules",
                            policy_name(p),
                            policy_name(orig)
                        ),
                    )
                    .with_primary(p.span, "this policy adds nothing")
                    .with_secondary(orig.span, "same meaning as this one")
                    .with_help("delete one of the two"),
                );
            }
        }
    }
    copies
}

/// The policy's meaning as a string: everything but names and spans.
fn meaning(p: &Policy) -> String {
    let sel = |s: &Option<netpol_manifest::model::Selector>| {
        s.as_ref().map(|s| format!("{:?}", s.requirements))
    };
    let mut key = format!(
        "{}|{:?}|{:?}",
        p.namespace, p.pod_selector.requirements, p.policy_types
    );
    for dir in Direction::BOTH {
        key.push_str(&format!("|{dir}:"));
        for r in p.rules(dir) {
            key.push('[');
            for peer in &r.peers {
                match peer {
                    Peer::Pods {
                        namespace_selector,
                        pod_selector,
                        ..
                    } => key.push_str(&format!(
                        "P{:?}{:?}",
                        sel(namespace_selector),
                        sel(pod_selector)
                    )),
                    Peer::IpBlock(b) => key.push_str(&format!("B{}{:?}", b.cidr, b.except)),
                }
            }
            for port in &r.ports {
                key.push_str(&format!(
                    "{}{:?}{:?}",
                    port.protocol, port.port, port.end_port
                ));
            }
            key.push(']');
        }
    }
    key
}

/// Whether every peer of a rule stays among the input's pods: selector peers of the
/// policy's namespace, or of namespaces pinned by name, each with pods in the input. A peer
/// that may reach further (an ipBlock, a namespaceSelector that a namespace outside the
/// input could satisfy, such as `{}` toward CoreDNS) can matter for pods the matrix does
/// not hold, so a "no effect" would be a guess.
fn peer_in_input(cx: &Context<'_>, p: &Policy, peer: &Peer) -> bool {
    let described = |ns: &str| cx.endpoints_of(ns).next().is_some();
    match peer {
        Peer::IpBlock(_) => false,
        Peer::Pods {
            namespace_selector: None,
            ..
        } => described(&p.namespace),
        Peer::Pods {
            namespace_selector: Some(s),
            ..
        } => s.requirements.iter().any(|r| {
            r.key == NAMESPACE_NAME_LABEL
                && r.operator == Operator::In
                && r.values.iter().all(|v| described(v))
        }),
    }
}

/// A policy is judged only when none of its rules names peers outside the input (a rule
/// without peers allows everyone, which the matrix shows).
fn policy_in_input(cx: &Context<'_>, p: &Policy) -> bool {
    Direction::BOTH
        .into_iter()
        .flat_map(|d| p.rules(d))
        .all(|r| r.peers.iter().all(|peer| peer_in_input(cx, p, peer)))
}

/// A rule is judged when it has peers, all in the input, and one matches some pod (a peer
/// that matches nothing is the selector lints' finding).
fn rule_in_input(cx: &Context<'_>, p: &Policy, rule: &Rule) -> bool {
    let matches_some = |peer: &Peer| match peer {
        Peer::Pods {
            namespace_selector,
            pod_selector,
            ..
        } => cx
            .peer_endpoints(
                &p.namespace,
                namespace_selector.as_ref(),
                pod_selector.as_ref(),
            )
            .next()
            .is_some(),
        Peer::IpBlock(_) => false,
    };
    !rule.peers.is_empty()
        && rule.peers.iter().all(|peer| peer_in_input(cx, p, peer))
        && rule.peers.iter().any(matches_some)
}

/// `lint-skipped`: a lint's work over the input, `steps`, exceeds its `budget`.
pub(crate) fn lint_skipped(
    message: String,
    steps: usize,
    budget: usize,
    which: &str,
) -> Diagnostic {
    Diagnostic::new(Code::LintSkipped, message)
        .with_note(format!("{steps} steps, budget {budget}"))
        .with_help(format!(
            "lint a smaller set of manifests (one namespace's folder) to run {which}"
        ))
}
