//! Versions: behaviours of older VPC CNI agent and controller releases (`cluster.vpcCni`)
//! that netpol does not model, found where the input depends on them. netpol models the
//! newest releases it has read (docs/semantics.md, "Versions"); with an older one
//! configured, each behaviour that differs there and that the input exercises is a
//! `version-not-modelled` warning, and `verify` answers `unknown` (never a proof that the
//! configured release may break).

use netpol_diag::{Code, Diagnostic, Span};
use netpol_manifest::config::Release;
use netpol_manifest::model::{IpBlock, Peer, PortRef};

use super::{ident, switches};
use crate::world::{EpKind, World};

pub(crate) use crate::profile::{NEWEST_AGENT, NEWEST_CONTROLLER};

/// The `version-not-modelled` warnings for the configured releases, in a fixed order.
pub(crate) fn gaps(w: &World<'_>) -> Vec<Diagnostic> {
    let Some((agent, controller)) = switches::vpc_cni_releases(&w.profile) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // A newer release may change any rule; netpol cannot know how, so it says what it
    // assumes (a warning; `verify --robust` covers the pending change it knows of).
    let newer: Vec<String> = [
        ("agent", agent, &NEWEST_AGENT),
        ("controller", controller, &NEWEST_CONTROLLER),
    ]
    .into_iter()
    .filter(|(_, v, newest)| v > newest)
    .map(|(what, v, newest)| format!("{what} {v} (netpol models {newest})"))
    .collect();
    if !newer.is_empty() {
        out.push(
            Diagnostic::new(
                Code::VersionNewerThanModelled,
                format!(
                    "VPC CNI {} is newer than the releases netpol has read: it is taken to behave as those",
                    newer.join(" and ")
                ),
            )
            .with_note("docs/semantics.md, \"Versions\", lists the releases each rule was read from")
            .with_help("check the release notes of the newer releases for network policy changes; `verify --robust` also proves only what holds if the controller starts to respect policyTypes (NPC PR #229)"),
        );
    }
    // `span: None`: the behaviour belongs to a cluster setting, not to an object.
    let mut gap = |rule: &str, what: String, span: Option<Span>, label: &str, behaviour: &str| {
        let d = Diagnostic::new(
            Code::VersionNotModelled,
            format!("{what}: {behaviour}, which netpol does not model ({rule})"),
        );
        out.push(
            match span {
                Some(span) => d.with_primary(span, label),
                None => d,
            }
            .with_note("verify answers unknown while the input depends on it")
            .with_help(format!(
                "upgrade to VPC CNI agent {NEWEST_AGENT} and controller {NEWEST_CONTROLLER} (or newer), or set cluster.vpcCni to the releases the cluster runs"
            )),
        );
    };
    // V9: before v1.4.0 (d145d20) the identifier joins prefix and namespace with `-`, so
    // pods of two namespaces can share one; which policies then apply is last-writer-wins.
    if agent < &Release::new(1, 4, 0)
        && let Some((a, b)) = ident::legacy_collision(w)
    {
        let (ea, eb) = (&w.model.endpoints[a], &w.model.endpoints[b]);
        gap(
            "V9",
            format!(
                "{} and {} share a pod identifier under agent {agent}",
                ea.id(),
                eb.id()
            ),
            Some(ea.span),
            "shares its pod identifier with a pod of another namespace",
            "before v1.4.0 the agent keys pods by name prefix and namespace joined with `-`",
        );
    }
    // V6: hostNetwork targets are skipped by NPA >= v1.3.2 (f339dac) or NPC >= v1.1.2
    // (dc44b7e); with neither, a policy selecting one programs the node's interface.
    if agent < &Release::new(1, 3, 2)
        && controller < &Release::new(1, 1, 2)
        && let Some((p, e)) = w.policies.iter().find_map(|p| {
            (w.eps.iter())
                .find(|e| e.is_pod() && e.host_network && w.subject_matches(p, e))
                .map(|e| (p, e))
        })
        && let EpKind::Workload(i) = e.kind
    {
        gap(
            "V6",
            format!(
                "policy {}/{} selects hostNetwork pod {} under agent {agent} and controller {controller}",
                p.namespace,
                p.name,
                w.model.endpoints[i].id()
            ),
            Some(p.span),
            "selects a hostNetwork pod",
            "before agent v1.3.2 and controller v1.1.2 nothing skips hostNetwork targets",
        );
    }
    // V1: strict mode in today's form since NPA v1.2.0 (88497bf).
    if agent < &Release::new(1, 2, 0) && switches::strict_default_deny(&w.profile) {
        gap(
            "V1",
            format!("strict mode under agent {agent}"),
            None,
            "",
            "before v1.2.0 strict mode kept no per-pod state",
        );
    }
    // V11: the deny-all key per except and the same-CIDR merge since NPA v1.2.4 (f74d533).
    if switches::agent_before_except_table(&w.profile).is_some()
        && let Some(p) = w.model.policies.iter().find(|p| {
            (p.ingress.iter().chain(&p.egress))
                .flat_map(|r| &r.peers)
                .any(|peer| matches!(peer, Peer::IpBlock(b) if !b.except.is_empty()))
        })
    {
        gap(
            "V11",
            format!(
                "policy {}/{} has an ipBlock except, under agent {agent}",
                p.namespace, p.name
            ),
            Some(p.span),
            "ipBlock with except",
            "before v1.2.4 the agent wrote excepts without the longest-prefix table",
        );
    }
    // V11/V12 up to NPA v1.4.1: a CIDR written with host bits set is keyed and compared as
    // written (canonicalised from 9fdad23, after v1.4.1). Its address at a node's IP drops it
    // there (V12); beside the canonical form of the same block it is a second map entry for
    // one trie key, and Go map order picks the winner (V11).
    if agent < &Release::new(1, 4, 2) {
        for p in &w.model.policies {
            for (dir, rules) in [("ingress", &p.ingress), ("egress", &p.egress)] {
                let blocks: Vec<&IpBlock> = (rules.iter().flat_map(|r| &r.peers))
                    .filter_map(|peer| match peer {
                        Peer::IpBlock(b) => Some(b),
                        Peer::Pods { .. } => None,
                    })
                    .collect();
                for b in &blocks {
                    let Some(written) = b.written else { continue };
                    if let Some(n) = w.profile.nodes.iter().find(|n| n.ip == written) {
                        gap(
                            "V12",
                            format!(
                                "ipBlock {written}/{} of policy {}/{} is written with node {}'s address, under agent {agent}",
                                b.cidr.prefix_len(),
                                p.namespace,
                                p.name,
                                n.name
                            ),
                            Some(b.span),
                            "written with host bits at a node's address",
                            "up to v1.4.1 the agent drops an ipBlock whose address as written is the node's",
                        );
                    }
                    let twin = w.model.policies.iter().filter(|q| q.namespace == p.namespace).any(|q| {
                        let other = if dir == "ingress" { &q.ingress } else { &q.egress };
                        (other.iter().flat_map(|r| &r.peers)).any(|peer| {
                            matches!(peer, Peer::IpBlock(o) if o.cidr == b.cidr && o.written != b.written)
                        })
                    });
                    if twin {
                        gap(
                            "V11",
                            format!(
                                "ipBlock {written}/{} of policy {}/{} has host bits set and shares its block with another {dir} ipBlock, under agent {agent}",
                                b.cidr.prefix_len(),
                                p.namespace,
                                p.name
                            ),
                            Some(b.span),
                            "written with host bits beside the same block",
                            "up to v1.4.1 the agent keeps both as map entries for one key and Go map order picks one",
                        );
                    }
                }
            }
        }
    }
    for s in &w.model.services {
        // V10: the fallback to every pod of the namespace for a selectorless Service since
        // NPC v1.1.4 (29d4b0f).
        if controller < &Release::new(1, 1, 4) && s.selector.is_none() && !s.ports.is_empty() {
            gap(
                "V10",
                format!(
                    "Service {}/{} has no selector, under controller {controller}",
                    s.namespace, s.name
                ),
                Some(s.span),
                "selectorless Service",
                "before v1.1.4 the controller maps no port of a selectorless Service",
            );
        }
        // V10: the named-targetPort bypass check in its current form since NPC v1.1.6
        // (28eafb2); v1.1.2-v1.1.5 had other forms, earlier none.
        if controller < &Release::new(1, 1, 6)
            && s.ports
                .iter()
                .any(|p| matches!(p.target_port, PortRef::Name(_)))
        {
            gap(
                "V10",
                format!(
                    "Service {}/{} has a named targetPort, under controller {controller}",
                    s.namespace, s.name
                ),
                Some(s.span),
                "named targetPort",
                "before v1.1.6 the controller's named-targetPort bypass check differed",
            );
        }
    }
    out
}
