//! Explain: why one endpoint can or cannot reach another, as plain data that points at
//! the policies and rules (with spans) and names the VPC CNI reasons.

use std::fmt::{self, Write as _};

use netpol_diag::{Code, Diagnostic};
use netpol_manifest::model::{Direction, Protocol};

use crate::eval::{self, Basis, DirectionVerdict, Unenforced};
use crate::ir::Provenance;
use crate::ports::PortSet;
use crate::rules::cidr_keys::KeyPorts;
use crate::rules::{ident, services, switches};
use crate::world::{EndpointInfo, Ep, EpKind, IdentifierRange, World};

/// The answer of [`crate::Analysis::explain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub from: EndpointInfo,
    pub to: EndpointInfo,
    /// The port asked about, if any.
    pub port: Option<(Protocol, u16)>,
    /// Everything the pair allows (empty when the pair is not modelled).
    pub allowed: PortSet,
    /// With a port: whether it is allowed. Without: whether anything is.
    pub verdict: bool,
    /// Egress at `from`, then ingress at `to` (for a Service, ingress at its backends is
    /// summarised in the reasons of the egress side).
    pub directions: Vec<DirectionExplanation>,
    /// Pair-level notes (not modelled, Service mapping).
    pub notes: Vec<String>,
}

/// One direction at one end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectionExplanation {
    pub direction: Direction,
    /// The endpoint where this direction is evaluated.
    pub at: String,
    pub allowed: PortSet,
    /// With a port: whether this direction allows it. Without: whether it allows anything.
    pub verdict: bool,
    /// Rules whose peer matches the other end, with the ports each allows.
    pub rules: Vec<RuleRef>,
    /// V7: rules dropped because none of their named ports resolves.
    pub dropped: Vec<RuleRef>,
    /// Sentences: isolation, selection, exemptions.
    pub reasons: Vec<String>,
}

/// A rule of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    /// `namespace/name` of the policy.
    pub policy: String,
    pub provenance: Provenance,
    pub ports: PortSet,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NetworkPolicy {} {} rule {}",
            self.policy,
            self.provenance.direction.as_str().to_ascii_lowercase(),
            self.provenance.rule
        )
    }
}

pub(crate) fn explain(
    w: &World<'_>,
    a: usize,
    b: usize,
    port: Option<(Protocol, u16)>,
) -> Explanation {
    let (src, dst) = (&w.eps[a], &w.eps[b]);
    // A workload to itself is two of its replicas: real traffic, evaluated as any pair.
    let replicas = a == b && src.info.has_replicas();
    let allowed = if replicas {
        eval::replicas(w, src)
    } else {
        eval::pair(w, src, dst)
    };
    let verdict_of = |p: &PortSet| match port {
        Some((proto, n)) => p.contains(proto, n),
        None => !p.is_empty(),
    };
    let mut notes = Vec::new();
    let mut directions = Vec::new();
    if replicas {
        notes.push(format!(
            "traffic between two replicas of {}: distinct pods, which the policies govern",
            src.info.id
        ));
        let eg = eval::egress(w, src, dst);
        let ing = eval::ingress(w, dst, src);
        directions.push(direction(w, src, &eg, verdict_of));
        directions.push(direction(w, dst, &ing, verdict_of));
    } else if a == b {
        notes.push("a pod's traffic to itself is never filtered and is not modelled".to_owned());
    } else if !eval::modelled(src, dst) {
        notes.push(
            "this pair is not modelled: one end must be a pod or workload, and a Service is only a destination"
                .to_owned(),
        );
    } else if let EpKind::Service(si) = dst.kind {
        let (eg, _) = eval::service(w, src, dst);
        directions.push(direction(w, src, &eg, verdict_of));
        let svc = &w.model.services[si];
        notes.push(format!(
            "egress is checked against the ClusterIP of {} before DNAT (V5), on the Service ports the controller maps a selector rule's ports to (V10); the edge keeps the Service ports whose targetPort ingress at some backend allows",
            dst.info.id
        ));
        let backends = services::backends(w, svc);
        if backends.is_empty() {
            notes.push("the Service has no backend pods in the input".to_owned());
        }
        for &bi in backends {
            if bi == a {
                continue;
            }
            let ing = eval::ingress(w, &w.eps[bi], src);
            directions.push(direction(w, &w.eps[bi], &ing, |p: &PortSet| !p.is_empty()));
        }
    } else {
        let eg = eval::egress(w, src, dst);
        let ing = eval::ingress(w, dst, src);
        directions.push(direction(w, src, &eg, verdict_of));
        directions.push(direction(w, dst, &ing, verdict_of));
    }
    if switches::icmpv6_passes(&w.profile) && !directions.is_empty() {
        notes.push(
            "ICMPv6 passes whatever the verdict: on an IPv6 cluster the agent lets every ICMPv6 packet through before any policy lookup (V15)"
                .to_owned(),
        );
    }
    Explanation {
        from: src.info.clone(),
        to: dst.info.clone(),
        port,
        verdict: verdict_of(&allowed),
        allowed,
        directions,
        notes,
    }
}

fn direction(
    w: &World<'_>,
    at_ep: &Ep,
    v: &DirectionVerdict,
    verdict_of: impl Fn(&PortSet) -> bool,
) -> DirectionExplanation {
    let name = |i: usize| format!("{}/{}", w.policies[i].namespace, w.policies[i].name);
    let names = |list: &[usize]| list.iter().map(|&i| name(i)).collect::<Vec<_>>().join(", ");
    let dir = v.direction.as_str().to_ascii_lowercase();
    let at = at_ep.info.id.as_str();
    let ns = at.split('/').next().unwrap_or("");
    let mut reasons = Vec::new();
    match &v.basis {
        Basis::Unenforced(Unenforced::External) => {
            reasons.push(format!("{at} is outside the cluster's pods: no policy applies to it"));
        }
        Basis::Unenforced(Unenforced::Node) => {
            reasons.push(format!("{at} is a node: no NetworkPolicy applies to it"));
        }
        Basis::Unenforced(Unenforced::HostNetwork) => reasons.push(format!(
            "{at} uses hostNetwork: policies never apply to it (hostNetwork unenforced, S9/V6)"
        )),
        Basis::NotSelected => reasons.push(format!(
            "not isolated for {dir}: no NetworkPolicy in namespace {ns} selects {at}"
        )),
        Basis::StrictDefaultDeny => reasons.push(format!(
            "strict mode default deny: no NetworkPolicy in namespace {ns} selects {at}, so it denies everything in both directions (V1)"
        )),
        Basis::NotIsolated { selecting } => {
            let mut s = format!(
                "not isolated for {dir}: selected by {} but none has {} in policyTypes",
                names(selecting),
                v.direction
            );
            if switches::unlisted_rules_enforced(&w.profile) {
                s.push_str(&format!(" and no {dir} rule resolves to an entry (V2)"));
            }
            reasons.push(s);
        }
        Basis::Isolated {
            selecting,
            listed,
            by_rules,
        } => {
            if *by_rules {
                reasons.push(format!(
                    "isolated for {dir} although no selecting policy lists {} in policyTypes: VPC CNI enforces the {dir} rules of {} (direction enforced although missing from policyTypes, V2)",
                    v.direction,
                    names(selecting)
                ));
            } else {
                reasons.push(format!(
                    "isolated for {dir} by {}; only the union of the {dir} rules of {} applies",
                    names(listed),
                    names(selecting)
                ));
            }
            if v.rules.is_empty() && v.node_exemption.is_none() {
                reasons.push(format!("no {dir} rule matches the other end"));
            }
        }
    }
    if let Some(r) = ident::shared(w, at_ep) {
        reasons.extend(sharing_reasons(w, at, r, v));
    }
    if let Some(node) = &v.node_exemption {
        let whose = if at_ep.runs_on.len() > 1 {
            "a node this pod may run on"
        } else {
            "this pod's own node"
        };
        reasons.push(if switches::node_exemption_egress(&w.profile) {
            format!("node exemption: the other end carries the primary IP of {node}, {whose}, always allowed in both directions (V4)")
        } else {
            format!("node exemption: the other end carries the primary IP of {node}, {whose}, and an ingress-isolated pod always accepts connections from its node (S10)")
        });
    }
    if let Some(lpm) = &v.lpm_key {
        reasons.push(match (&lpm.key, &lpm.ports) {
            (None, _) => "no key of the agent's address table holds the other end's address: nothing is allowed there (V11)".to_owned(),
            (Some(k), KeyPorts::DenyAll) => format!(
                "the agent's longest key holding the other end's address is {k}, a deny-all key made from an `except`; it overrides the rules' shorter keys (except bleed, V11)"
            ),
            (Some(k), KeyPorts::Allow(p)) => format!(
                "the agent's longest key holding the other end's address is {k}, which allows {p}: the agent decides by that key, not by the union of the rules (V11)"
            ),
        });
    }
    let rule_ref = |p: &Provenance, ports: PortSet| RuleRef {
        policy: name(p.policy),
        provenance: *p,
        ports,
    };
    for d in &v.dropped {
        reasons.push(format!(
            "{} is dropped: its named ports resolve nowhere (V7)",
            rule_ref(d, PortSet::empty())
        ));
    }
    DirectionExplanation {
        direction: v.direction,
        at: at.to_owned(),
        allowed: v.allowed.clone(),
        verdict: verdict_of(&v.allowed),
        rules: v
            .rules
            .iter()
            .map(|(p, ports)| rule_ref(p, ports.clone()))
            .collect(),
        dropped: v
            .dropped
            .iter()
            .map(|p| rule_ref(p, PortSet::empty()))
            .collect(),
        reasons,
    }
}

/// V9: the identifier `at` shares, and for each rule that applies at `at` only through a
/// sibling, the sibling and the policy that let the traffic in.
fn sharing_reasons(
    w: &World<'_>,
    at: &str,
    r: &IdentifierRange,
    v: &DirectionVerdict,
) -> Vec<String> {
    let name = |i: usize| format!("{}/{}", w.policies[i].namespace, w.policies[i].name);
    let siblings: Vec<&str> = r.siblings.iter().map(|(id, _)| id.as_str()).collect();
    let mut out = vec![format!(
        "{at} shares the agent's pod identifier {} with {}: the agent enforces one set of rules for the identifier, from every policy that selects any of them (V9)",
        r.identifier,
        siblings.join(", ")
    )];
    let mut seen = Vec::new();
    for (p, _) in &v.rules {
        if r.own.contains(&p.policy) || seen.contains(&p.policy) {
            continue;
        }
        seen.push(p.policy);
        let sibling = (r.siblings.iter())
            .find(|(_, sel)| sel.contains(&p.policy))
            .map_or("a sibling", |(id, _)| id.as_str());
        let how = if r.lower.contains(&p.policy) {
            "on this pod's node, so always"
        } else {
            "on another or an unknown node, so depending on the order in which pods and policies reached the agent"
        };
        out.push(format!(
            "NetworkPolicy {} applies here through {sibling}, which it selects ({how}; V9)",
            name(p.policy)
        ));
    }
    out
}

impl Explanation {
    fn what(&self) -> String {
        match self.port {
            Some((p, n)) => format!("{p}/{n}"),
            None => "any port".to_owned(),
        }
    }

    /// The explanation as `connection-explained` notes for the diagnostics renderers: one
    /// for the verdict, then one per direction whose labels point at the rules that allow
    /// traffic (and at dropped rules) and whose notes give the reasons.
    pub fn to_diagnostics(&self) -> Vec<Diagnostic> {
        let mut head = Diagnostic::new(
            Code::ConnectionExplained,
            format!(
                "{} -> {} on {}: {} (allowed: {})",
                self.from.id,
                self.to.id,
                self.what(),
                if self.verdict { "allowed" } else { "denied" },
                self.allowed
            ),
        );
        for n in &self.notes {
            head = head.with_note(n.clone());
        }
        let mut res = vec![head];
        for d in &self.directions {
            let mut diag = Diagnostic::new(
                Code::ConnectionExplained,
                format!(
                    "{} at {}: {} (allows {})",
                    d.direction.as_str().to_ascii_lowercase(),
                    d.at,
                    if d.verdict { "allowed" } else { "denied" },
                    d.allowed
                ),
            );
            for (i, r) in d.rules.iter().enumerate() {
                let msg = format!("{r} allows {}", r.ports);
                diag = if i == 0 {
                    diag.with_primary(r.provenance.span, msg)
                } else {
                    diag.with_secondary(r.provenance.span, msg)
                };
            }
            for r in &d.dropped {
                diag = diag.with_secondary(
                    r.provenance.span,
                    format!("{r} is dropped: its named ports resolve nowhere"),
                );
            }
            for reason in &d.reasons {
                diag = diag.with_note(reason.clone());
            }
            res.push(diag);
        }
        res
    }

    /// A plain-text summary, one fact per line.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let what = self.what();
        let _ = writeln!(
            s,
            "{} -> {} on {what}: {} (allowed: {})",
            self.from.id,
            self.to.id,
            if self.verdict { "allowed" } else { "denied" },
            self.allowed
        );
        for d in &self.directions {
            let _ = writeln!(
                s,
                "  {} at {}: {} (allows {})",
                d.direction.as_str().to_ascii_lowercase(),
                d.at,
                if d.verdict { "allowed" } else { "denied" },
                d.allowed
            );
            for r in &d.reasons {
                let _ = writeln!(s, "    - {r}");
            }
            for r in &d.rules {
                let _ = writeln!(s, "    + {r} allows {}", r.ports);
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        s
    }
}
