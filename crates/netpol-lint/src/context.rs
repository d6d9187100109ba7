//! What every lint reads: the model, its analysis, the source text, and small helpers that
//! answer S2 and S5 questions on the model's own types.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use netpol_diag::{SourceMap, Span};
use netpol_graph::{Analysis, Matrix, switches};
use netpol_manifest::Model;
use netpol_manifest::model::{
    Direction, Endpoint, Labels, NAMESPACE_NAME_LABEL, Policy, Requirement, Selector,
};

pub(crate) struct Context<'a> {
    pub(crate) model: &'a Model,
    pub(crate) analysis: &'a Analysis<'a>,
    pub(crate) map: &'a SourceMap,
    /// Endpoints (indices into `model.endpoints`) by namespace, and policies likewise: the
    /// lints look up one namespace at a time, which keeps them linear on large inputs.
    endpoints_in: BTreeMap<&'a str, Vec<usize>>,
    policies_in: BTreeMap<&'a str, Vec<usize>>,
    /// The namespaces each namespace selector matches, by its requirements: thousands of
    /// peers share a handful of selectors.
    scopes: RefCell<HashMap<Vec<Requirement>, Rc<[&'a str]>>>,
    /// The analysis's matrix, computed once when a lint needs it.
    matrix: OnceCell<Matrix>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(model: &'a Model, analysis: &'a Analysis<'a>, map: &'a SourceMap) -> Self {
        let mut endpoints_in: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, e) in model.endpoints.iter().enumerate() {
            endpoints_in
                .entry(e.namespace.as_str())
                .or_default()
                .push(i);
        }
        let mut policies_in: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, p) in model.policies.iter().enumerate() {
            policies_in.entry(p.namespace.as_str()).or_default().push(i);
        }
        Context {
            model,
            analysis,
            map,
            endpoints_in,
            policies_in,
            scopes: RefCell::default(),
            matrix: OnceCell::new(),
        }
    }

    pub(crate) fn matrix(&self) -> &Matrix {
        self.matrix.get_or_init(|| self.analysis.matrix())
    }

    /// The endpoints of one namespace.
    pub(crate) fn endpoints_of(&self, ns: &str) -> impl Iterator<Item = &'a Endpoint> + '_ {
        let model = self.model;
        self.endpoints_in
            .get(ns)
            .into_iter()
            .flatten()
            .map(move |&i| &model.endpoints[i])
    }

    /// The namespaces of the model a peer looks in (S5): its own, or those its namespace
    /// selector matches.
    pub(crate) fn scope(&self, own: &str, namespaces: Option<&Selector>) -> Rc<[&'a str]> {
        let Some(sel) = namespaces else {
            let model = self.model;
            return model
                .namespace(own)
                .map(|n| n.name.as_str())
                .into_iter()
                .collect();
        };
        if let Some(hit) = self.scopes.borrow().get(&sel.requirements) {
            return hit.clone();
        }
        let found: Rc<[&str]> = self
            .model
            .namespaces
            .iter()
            .filter(|n| sel.matches(&n.labels))
            .map(|n| n.name.as_str())
            .collect();
        self.scopes
            .borrow_mut()
            .insert(sel.requirements.clone(), found.clone());
        found
    }

    /// The endpoints a selector peer of a policy in `own` matches (S5, V6), namespace by
    /// namespace.
    pub(crate) fn peer_endpoints<'s>(
        &'s self,
        own: &'s str,
        namespaces: Option<&'s Selector>,
        pods: Option<&'s Selector>,
    ) -> impl Iterator<Item = &'a Endpoint> + 's {
        let scope = self.scope(own, namespaces);
        (0..scope.len())
            .flat_map(move |i| self.endpoints_of(scope[i]))
            .filter(move |e| self.peer_matches(own, namespaces, pods, e))
    }

    pub(crate) fn is_vpc(&self) -> bool {
        self.analysis.profile().is_vpc_cni()
    }

    /// A namespace's labels; a namespace the input never mentions has only its name label.
    pub(crate) fn ns_labels(&self, ns: &str) -> Cow<'a, Labels> {
        match self.model.namespace(ns) {
            Some(n) => Cow::Borrowed(&n.labels),
            None => Cow::Owned(Labels::from([(
                NAMESPACE_NAME_LABEL.to_owned(),
                ns.to_owned(),
            )])),
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
        if e.host_network && !switches::host_network_peers(self.analysis.profile()) {
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
            || (switches::unlisted_rules_enforced(self.analysis.profile())
                && !p.rules(dir).is_empty())
    }

    /// The policies (indices into `model.policies`) that select an enforced endpoint.
    pub(crate) fn selecting(&self, e: &Endpoint) -> Vec<usize> {
        if e.host_network {
            return Vec::new();
        }
        self.policies_in
            .get(e.namespace.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| self.model.policies[i].pod_selector.matches(&e.labels))
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

/// Endpoint ids for a message: one, two, or the first and how many others.
pub(crate) fn few(ids: &[String]) -> String {
    match ids {
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, rest @ ..] => format!("{a} and {} others", rest.len()),
        [] => String::new(),
    }
}

/// `ingress rule 2 of NetworkPolicy ns/name`, for messages.
pub(crate) fn rule_name(cx: &Context<'_>, dir: Direction, policy: usize, rule: usize) -> String {
    format!(
        "{} rule {rule} of NetworkPolicy {}",
        dir_word(dir),
        policy_name(&cx.model.policies[policy])
    )
}

/// The lower-case direction word for messages.
pub(crate) fn dir_word(dir: Direction) -> &'static str {
    match dir {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}
