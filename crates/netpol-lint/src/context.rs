//! What every lint reads: the model, its analysis, the source text, and small helpers that
//! answer S2 and S5 questions on the model's own types.

use netpol_diag::{SourceMap, Span};
use netpol_graph::Analysis;
use netpol_manifest::Model;
use netpol_manifest::model::{Direction, Endpoint, Labels, NAMESPACE_NAME_LABEL, Policy, Selector};

pub(crate) struct Context<'a> {
    pub(crate) model: &'a Model,
    pub(crate) analysis: &'a Analysis<'a>,
    pub(crate) map: &'a SourceMap,
}

impl<'a> Context<'a> {
    pub(crate) fn new(model: &'a Model, analysis: &'a Analysis<'a>, map: &'a SourceMap) -> Self {
        Context {
            model,
            analysis,
            map,
        }
    }

    pub(crate) fn is_vpc(&self) -> bool {
        self.analysis.profile().is_vpc_cni()
    }

    /// A namespace's labels; a namespace the input never mentions has only its name label.
    pub(crate) fn ns_labels(&self, ns: &str) -> Labels {
        match self.model.namespace(ns) {
            Some(n) => n.labels.clone(),
            None => Labels::from([(NAMESPACE_NAME_LABEL.to_owned(), ns.to_owned())]),
        }
    }

    /// S5: whether a selector peer of a policy in `own` matches an endpoint. hostNetwork
    /// pods match only under VPC CNI (V6).
    pub(crate) fn peer_matches(
        &self,
        own: &str,
        namespaces: Option<&Selector>,
        pods: Option<&Selector>,
        e: &Endpoint,
    ) -> bool {
        if e.host_network && !self.analysis.profile().flags.host_network_peers {
            return false;
        }
        let ns_ok = match namespaces {
            None => e.namespace == own,
            Some(s) => s.matches(&self.ns_labels(&e.namespace)),
        };
        ns_ok && pods.is_none_or(|s| s.matches(&e.labels))
    }

    /// S2 and V2: whether a policy isolates `dir` at an endpoint it selects.
    pub(crate) fn isolates(&self, p: &Policy, dir: Direction) -> bool {
        p.policy_types.contains(dir)
            || (self.analysis.profile().flags.rules_outside_policy_types
                && !p.rules(dir).is_empty())
    }

    /// The policies (indices into `model.policies`) that select an enforced endpoint.
    pub(crate) fn selecting(&self, e: &Endpoint) -> Vec<usize> {
        if e.host_network {
            return Vec::new();
        }
        self.model
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.namespace == e.namespace && p.pod_selector.matches(&e.labels))
            .map(|(i, _)| i)
            .collect()
    }

    /// The policies that isolate `dir` at an endpoint (empty when none does).
    pub(crate) fn isolating(&self, e: &Endpoint, dir: Direction) -> Vec<usize> {
        self.selecting(e)
            .into_iter()
            .filter(|&i| self.isolates(&self.model.policies[i], dir))
            .collect()
    }

    /// The span of `needle` inside `span`'s text (a label key or value of a selector), or
    /// `span` itself when the text does not contain it.
    pub(crate) fn find_in(&self, span: Span, needle: &str) -> Span {
        let text = self.map.snippet(span);
        let at = |i: usize| {
            Span::new(
                span.file,
                span.start as usize + i,
                span.start as usize + i + needle.len(),
            )
        };
        // Prefer a whole token: the needle not inside a longer word.
        let bytes = text.as_bytes();
        let mut from = 0;
        while let Some(i) = text[from..].find(needle).map(|i| i + from) {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            let after = bytes.get(i + needle.len()).copied();
            let word = |b: Option<u8>| {
                b.is_some_and(|b| {
                    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' || b == b'/'
                })
            };
            if !word(before) && !word(after) {
                return at(i);
            }
            from = i + 1;
        }
        span
    }

    /// The span that says which pods a policy selects: its podSelector, else the policy.
    pub(crate) fn subject_span(&self, p: &Policy) -> Span {
        p.pod_selector.span.unwrap_or(p.span)
    }
}

/// `ns/name`, for messages.
pub(crate) fn policy_name(p: &Policy) -> String {
    format!("{}/{}", p.namespace, p.name)
}

/// The lower-case direction word for messages.
pub(crate) fn dir_word(dir: Direction) -> &'static str {
    match dir {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}
