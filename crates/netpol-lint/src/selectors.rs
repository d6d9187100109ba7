//! Selector lints: selectors that match nothing now or ever, ipBlocks that their excepts
//! swallow, namespaces that are named but never defined, and label keys no object carries.

use std::collections::{BTreeSet, HashSet};

use ipnet::IpNet;
use netpol_diag::{Code, Diagnostic, Severity, Span};
use netpol_manifest::model::{
    IpBlock, Labels, NAMESPACE_NAME_LABEL, Operator, OperatorObject, Peer, Policy, Selector,
};

use crate::context::{Context, dir_word, policy_name};

/// A peer that may match the CoreDNS pods every EKS cluster runs (`kube-system`, labelled
/// `k8s-app: kube-dns`): the input need not describe them (the DNS lint assumes them too).
fn aims_at_cluster_dns(
    cx: &Context<'_>,
    p: &Policy,
    ns_sel: Option<&Selector>,
    pod_sel: Option<&Selector>,
) -> bool {
    let dns = Labels::from([("k8s-app".to_owned(), "kube-dns".to_owned())]);
    let ns_ok = match ns_sel {
        None => p.namespace == "kube-system",
        Some(s) => s.matches(&cx.ns_labels("kube-system")),
    };
    ns_ok && pod_sel.is_some_and(|s| s.matches(&dns))
}

/// Namespaces every cluster has, whether the input defines them or not.
const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

/// Which side of the cluster a selector looks at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Pods,
    Namespaces,
}

impl Target {
    fn word(self) -> &'static str {
        match self {
            Target::Pods => "pod",
            Target::Namespaces => "namespace",
        }
    }
}

/// Runs the selector lints; returns the policies whose own podSelector matches no endpoint
/// (later lints do not report them again).
pub(crate) fn lint(cx: &Context<'_>, out: &mut Vec<Diagnostic>) -> HashSet<usize> {
    let pod_keys: BTreeSet<&str> = cx
        .model
        .endpoints
        .iter()
        .flat_map(|e| e.labels.keys().map(String::as_str))
        .collect();
    let ns_keys: BTreeSet<&str> = cx
        .model
        .namespaces
        .iter()
        .flat_map(|n| n.labels.keys().map(String::as_str))
        .chain([NAMESPACE_NAME_LABEL])
        .collect();
    let keys = Keys {
        pods: pod_keys,
        namespaces: ns_keys,
        // Without any pod in the input, "matches nothing" is the input's shape, not a bug.
        have_pods: !cx.model.endpoints.is_empty(),
        namespaces_defined: cx.model.namespaces.iter().any(|n| n.span.is_some()),
    };
    let mut empty_subjects = HashSet::new();
    for (i, p) in cx.model.policies.iter().enumerate() {
        if subject(cx, &keys, p, out) {
            empty_subjects.insert(i);
        }
        for dir in netpol_manifest::model::Direction::BOTH {
            for (ri, rule) in p.rules(dir).iter().enumerate() {
                for peer in &rule.peers {
                    let at = format!(
                        "{} rule {ri} of NetworkPolicy {}",
                        dir_word(dir),
                        policy_name(p)
                    );
                    match peer {
                        Peer::IpBlock(b) => ipblock(b, &at, out),
                        Peer::Pods {
                            namespace_selector,
                            pod_selector,
                            span,
                        } => pods_peer(
                            cx,
                            &keys,
                            p,
                            namespace_selector.as_ref(),
                            pod_selector.as_ref(),
                            *span,
                            &at,
                            out,
                        ),
                    }
                }
            }
        }
    }
    empty_subjects
}

struct Keys<'a> {
    pods: BTreeSet<&'a str>,
    namespaces: BTreeSet<&'a str>,
    have_pods: bool,
    /// Whether the input has a Namespace object (so namespace labels are known).
    namespaces_defined: bool,
}

/// The policy's own podSelector. Returns whether it matches no endpoint.
fn subject(cx: &Context<'_>, keys: &Keys<'_>, p: &Policy, out: &mut Vec<Diagnostic>) -> bool {
    let sel = &p.pod_selector;
    if sel.is_empty() || !keys.have_pods {
        return false;
    }
    let span = cx.subject_span(p);
    let what = format!("the podSelector of NetworkPolicy {}", policy_name(p));
    if !sel.satisfiable(None, &|_| true) {
        out.push(never(
            span,
            &what,
            "no pod, present or future, can carry labels that satisfy it",
        ));
        return true;
    }
    if unknown_keys(cx, keys, sel, Target::Pods, &what, out) {
        return true;
    }
    let any = cx
        .endpoints_of(&p.namespace)
        .any(|e| sel.matches(&e.labels));
    if !any {
        let d = Diagnostic::new(
            Code::SelectorMatchesNothing,
            format!(
                "NetworkPolicy {} selects no pod or workload in namespace {}",
                policy_name(p),
                p.namespace
            ),
        )
        .with_primary(span, "matches no endpoint of the input")
        .with_help("check the labels against the pod templates of the namespace; the policy takes effect only once a matching pod exists")
        .with_note("a pod created later with matching labels would be selected");
        out.push(aimed_at_operator(cx, &[p.namespace.as_str()], Some(sel), d));
    }
    !any
}

/// A finding about a selector that may be aimed at the pods an operator object of
/// `namespaces` runs (its stated pod labels satisfy `sel`, or it states none): netpol does
/// not see those pods (`creates-pods`), so the finding is a note that names the object.
fn aimed_at_operator(
    cx: &Context<'_>,
    namespaces: &[&str],
    sel: Option<&Selector>,
    d: Diagnostic,
) -> Diagnostic {
    let found = (cx.model.operator_objects.iter()).find(|o| {
        namespaces.contains(&o.namespace.as_str())
            && match (&o.pod_labels, sel) {
                (Some(labels), Some(s)) => s.matches(labels),
                _ => true,
            }
    });
    match found {
        Some(o) => operator_note(d, o),
        None => d,
    }
}

fn operator_note(d: Diagnostic, o: &OperatorObject) -> Diagnostic {
    let label = match o.pod_labels {
        Some(_) => format!(
            "{} {}/{} runs pods with these labels",
            o.kind, o.namespace, o.name
        ),
        None => format!(
            "{} {}/{} runs pods netpol cannot see",
            o.kind, o.namespace, o.name
        ),
    };
    d.with_severity(Severity::Note)
        .with_secondary(o.span, label)
        .with_note(format!(
            "the selector may be meant for the pods of {} {}/{}, which its operator creates and netpol does not model",
            o.kind, o.namespace, o.name
        ))
}

#[allow(clippy::too_many_arguments)]
fn pods_peer(
    cx: &Context<'_>,
    keys: &Keys<'_>,
    p: &Policy,
    ns_sel: Option<&Selector>,
    pod_sel: Option<&Selector>,
    span: Span,
    at: &str,
    out: &mut Vec<Diagnostic>,
) {
    let mut flagged = false;
    if let Some(s) = ns_sel {
        let what = format!("the namespaceSelector of {at}");
        let sspan = s.span.unwrap_or(span);
        // A namespace always carries its name label, with some value.
        if !s.satisfiable(Some(NAMESPACE_NAME_LABEL), &|_| true) {
            out.push(never(
                sspan,
                &what,
                "no namespace, present or future, can carry labels that satisfy it",
            ));
            flagged = true;
        } else {
            flagged |= unknown_namespaces(cx, s, sspan, out);
            // Without Namespace objects, namespaces carry only their name label.
            if keys.namespaces_defined {
                flagged |= unknown_keys(cx, keys, s, Target::Namespaces, &what, out);
            }
        }
    }
    if flagged || aims_at_cluster_dns(cx, p, ns_sel, pod_sel) {
        return;
    }
    // The namespaces the peer looks in. Pods of a namespace the input has no pod of
    // (kube-system's CoreDNS, usually) are unknown, not absent: nothing is said about them.
    let scoped = cx.scope(&p.namespace, ns_sel);
    let described = scoped.iter().any(|ns| cx.endpoints_of(ns).next().is_some());
    if let Some(s) = pod_sel {
        let what = format!("the podSelector of {at}");
        let sspan = s.span.unwrap_or(span);
        if !s.satisfiable(None, &|_| true) {
            out.push(never(
                sspan,
                &what,
                "no pod, present or future, can carry labels that satisfy it",
            ));
            flagged = true;
        } else if described {
            flagged |= unknown_keys(cx, keys, s, Target::Pods, &what, out);
        }
    }
    if flagged {
        return;
    }
    // System namespaces exist in every cluster, described or not.
    let system = ns_sel.is_some_and(|s| {
        SYSTEM_NAMESPACES
            .iter()
            .any(|n| s.matches(&cx.ns_labels(n)))
    });
    if scoped.is_empty() && keys.namespaces_defined && !system {
        let s = ns_sel.and_then(|s| s.span).unwrap_or(span);
        out.push(
            Diagnostic::new(
                Code::SelectorMatchesNothing,
                format!("the namespaceSelector of {at} matches no namespace of the input"),
            )
            .with_primary(s, "matches no namespace of the input")
            .with_help("check the selector against the labels of the Namespace objects")
            .with_note("a namespace created later with matching labels would match this peer"),
        );
        return;
    }
    if !described {
        return;
    }
    let any = cx
        .peer_endpoints(&p.namespace, ns_sel, pod_sel)
        .next()
        .is_some();
    if !any {
        let d = Diagnostic::new(
            Code::SelectorMatchesNothing,
            format!("the peer of {at} matches no pod or workload of the input"),
        )
        .with_primary(span, "matches no endpoint of the input")
        .with_help("check the selectors against the labels of the pods and namespaces; if the peer's pods live in manifests not given to netpol, add them")
        .with_note("a pod created later with matching labels (in a matching namespace) would match this peer");
        out.push(aimed_at_operator(cx, &scoped, pod_sel, d));
    }
}

fn never(span: Span, what: &str, why: &str) -> Diagnostic {
    Diagnostic::new(
        Code::SelectorNeverMatches,
        format!("{what} can never match anything"),
    )
    .with_primary(span, why)
    .with_help("a requirement contradicts another (such as `In [a]` with `NotIn [a]`, or `Exists` with `DoesNotExist`); remove the contradiction")
}

/// `kubernetes.io/metadata.name In [x]` naming a namespace the input neither defines nor
/// uses. Returns whether one was reported.
fn unknown_namespaces(
    cx: &Context<'_>,
    s: &Selector,
    span: Span,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let mut found = false;
    for r in &s.requirements {
        if r.key != NAMESPACE_NAME_LABEL || r.operator != Operator::In {
            continue;
        }
        for v in &r.values {
            if cx.model.namespace(v).is_some() || SYSTEM_NAMESPACES.contains(&v.as_str()) {
                continue;
            }
            found = true;
            let known: Vec<&str> = cx
                .model
                .namespaces
                .iter()
                .map(|n| n.name.as_str())
                .collect();
            let mut d = Diagnostic::new(
                Code::UnknownNamespace,
                format!("namespace `{v}` is selected but not defined in the input"),
            )
            .with_primary(
                cx.find_in(span, v),
                "no Namespace and no object of the input is in it",
            );
            d = match did_you_mean(v, known.iter().copied()) {
                Some(m) => d.with_help(format!("did you mean `{m}`?")),
                None => d.with_help("add the namespace's manifests to the input, or fix the name"),
            };
            out.push(d);
        }
    }
    found
}

/// Keys that no pod (or namespace) of the input carries. Returns whether one was reported.
fn unknown_keys(
    cx: &Context<'_>,
    keys: &Keys<'_>,
    s: &Selector,
    target: Target,
    what: &str,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let known = match target {
        Target::Pods => &keys.pods,
        Target::Namespaces => &keys.namespaces,
    };
    let mut seen = BTreeSet::new();
    let mut found = false;
    for r in &s.requirements {
        if known.contains(r.key.as_str()) || !seen.insert(r.key.as_str()) {
            continue;
        }
        found = true;
        let span = s.span.map(|sp| cx.find_in(sp, &r.key));
        let mut d = Diagnostic::new(
            Code::UnknownLabelKey,
            format!(
                "label key `{}` in {what} is carried by no {} of the input",
                r.key,
                target.word()
            ),
        )
        .with_primary_opt(span, format!("no {} has this label", target.word()));
        d = match did_you_mean(&r.key, known.iter().copied()) {
            Some(m) => d.with_help(format!("did you mean `{m}`?")),
            None => d.with_help(format!(
                "check the spelling against the {} labels of the input",
                target.word()
            )),
        };
        // A key the pods of an operator object carry (as it states them).
        let operator = (cx.model.operator_objects.iter()).find(|o| {
            target == Target::Pods
                && o.pod_labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key(&r.key))
        });
        out.push(match operator {
            Some(o) => operator_note(d, o),
            None => d,
        });
    }
    found
}

/// The closest candidate within a small edit distance.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = if word.len() <= 4 { 1 } else { 2 };
    candidates
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// An ipBlock whose excepts cover its whole cidr.
fn ipblock(b: &IpBlock, at: &str, out: &mut Vec<Diagnostic>) {
    if b.except.is_empty() || IpNet::aggregate(&b.except) != [b.cidr] {
        return;
    }
    out.push(
        Diagnostic::new(
            Code::IpblockFullyExcepted,
            format!("the ipBlock {} of {at} can never match anything", b.cidr),
        )
        .with_primary(b.span, "its except entries cover the whole cidr")
        .with_help("remove the except entries that cover the block, or remove the peer"),
    );
}
