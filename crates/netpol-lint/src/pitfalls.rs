//! VPC CNI pitfalls and hygiene: rules of a direction missing from `policyTypes`, pods
//! that strict mode cuts off, and DNS ports written without UDP.

use netpol_diag::{Code, Diagnostic};
use netpol_graph::switches;
use netpol_manifest::model::{Direction, Endpoint, Peer, PolicyPort, PortRef, Protocol, Rule};

use crate::context::{Context, dir_word, policy_name};

pub(crate) fn lint(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    rules_outside_policy_types(cx, out);
    strict_unselected(cx, out);
    host_network_peers(cx, out);
    for p in &cx.model.policies {
        for dir in Direction::BOTH {
            for (ri, rule) in p.rules(dir).iter().enumerate() {
                dns_tcp_only(
                    cx,
                    rule,
                    &format!(
                        "{} rule {ri} of NetworkPolicy {}",
                        dir_word(dir),
                        policy_name(p)
                    ),
                    out,
                );
            }
        }
    }
}

/// `policyTypes` written without a direction whose rules are present: upstream ignores
/// them, VPC CNI enforces them once they resolve (V2). Either way the YAML misleads.
fn rules_outside_policy_types(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for p in &cx.model.policies {
        if !p.policy_types_declared {
            continue;
        }
        for dir in Direction::BOTH {
            let rules = p.rules(dir);
            let Some(first) = rules.first() else { continue };
            if p.policy_types.contains(dir) {
                continue;
            }
            let (what, help) = if cx.is_vpc() {
                (
                    format!(
                        "VPC CNI enforces them anyway, isolating {} at the selected pods once a rule resolves (V2)",
                        dir_word(dir)
                    ),
                    format!(
                        "add {} to policyTypes if the rules are meant, or delete them",
                        dir.as_str()
                    ),
                )
            } else {
                (
                    "the Kubernetes specification ignores them".to_owned(),
                    format!(
                        "add {} to policyTypes if the rules are meant, or delete them; under VPC CNI they would be enforced (V2)",
                        dir.as_str()
                    ),
                )
            };
            let mut d = Diagnostic::new(
                Code::RulesOutsidePolicyTypes,
                format!(
                    "NetworkPolicy {} has {} {} rule(s) but policyTypes does not list {}: {what}",
                    policy_name(p),
                    rules.len(),
                    dir_word(dir),
                    dir.as_str()
                ),
            )
            .with_primary(
                first.span,
                format!("{} rule outside policyTypes", dir_word(dir)),
            )
            .with_help(help);
            if let Some(span) = p.policy_types_span {
                d = d.with_secondary(span, format!("{} is not listed here", dir.as_str()));
            }
            out.push(d);
        }
    }
}

/// V1: in strict mode a pod that no policy selects denies everything.
fn strict_unselected(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    if !switches::strict_default_deny(cx.analysis.profile()) {
        return;
    }
    for e in &cx.model.endpoints {
        if e.host_network || !cx.selecting(e).is_empty() {
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::StrictModeUnselected,
                format!(
                    "{} is selected by no NetworkPolicy, so in strict mode VPC CNI denies all its traffic in both directions (V1)",
                    e.id()
                ),
            )
            .with_primary(e.span, format!("no NetworkPolicy of namespace {} selects it", e.namespace))
            .with_help("add a policy that selects the pod and allows what it needs, or run the cluster in standard mode"),
        );
    }
}

/// A rule that opens port 53 on TCP only, with `protocol` left out: DNS is UDP first.
fn dns_tcp_only(cx: &Context<'_>, rule: &Rule, at: &str, out: &mut Vec<Diagnostic>) {
    let covers = |pp: &PolicyPort, proto: Protocol| {
        pp.protocol == proto
            && match &pp.port {
                None => true,
                Some(PortRef::Number(n)) => (*n..=pp.end_port.unwrap_or(*n)).contains(&53),
                Some(PortRef::Name(_)) => false,
            }
    };
    if rule.ports.iter().any(|pp| covers(pp, Protocol::Udp)) {
        return;
    }
    for pp in &rule.ports {
        let defaulted = !cx.map.snippet(pp.span).contains("protocol");
        if defaulted && pp.port == Some(PortRef::Number(53)) && pp.end_port.is_none() {
            out.push(
                Diagnostic::new(
                    Code::DnsPortTcpOnly,
                    format!("port 53 of {at} has no protocol, so it is TCP only"),
                )
                .with_primary(pp.span, "protocol defaults to TCP")
                .with_help("DNS uses UDP first: add `{protocol: UDP, port: 53}` (and write `protocol: TCP` on this one to say TCP is meant)"),
            );
        }
    }
}

/// V6: under VPC CNI a selector peer that matches a hostNetwork pod allows its IP, which is
/// its node's: every process on that node (every node, for a DaemonSet or an unscheduled
/// pod) becomes an allowed peer.
fn host_network_peers(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    if !switches::host_network_peers(cx.analysis.profile()) {
        return;
    }
    // Few pods use hostNetwork: test each peer against them only.
    let host: Vec<&Endpoint> = cx
        .model
        .endpoints
        .iter()
        .filter(|e| e.host_network)
        .collect();
    if host.is_empty() {
        return;
    }
    for p in &cx.model.policies {
        for dir in Direction::BOTH {
            for (ri, rule) in p.rules(dir).iter().enumerate() {
                for peer in &rule.peers {
                    let Peer::Pods {
                        namespace_selector,
                        pod_selector,
                        span,
                    } = peer
                    else {
                        continue;
                    };
                    let hosts: Vec<&Endpoint> = host
                        .iter()
                        .copied()
                        .filter(|e| {
                            cx.peer_matches(
                                &p.namespace,
                                namespace_selector.as_ref(),
                                pod_selector.as_ref(),
                                e,
                            )
                        })
                        .collect();
                    if hosts.is_empty() {
                        continue;
                    }
                    let ids = hosts.iter().map(|e| e.id()).collect::<Vec<_>>().join(", ");
                    out.push(
                        Diagnostic::new(
                            Code::HostNetworkPeer,
                            format!(
                                "the peer of {} rule {ri} of NetworkPolicy {} matches hostNetwork pods, so under VPC CNI it allows their nodes' IPs",
                                dir_word(dir),
                                policy_name(p)
                            ),
                        )
                        .with_primary(*span, "matches hostNetwork pods")
                        .with_note(format!("hostNetwork pods matched: {ids}"))
                        .with_note("a hostNetwork pod's IP is its node's, so every process on the node (kubelet, other hostNetwork pods) is allowed too; a pod whose node is not named may run on every node (V6)")
                        .with_help("narrow the selector to pods on the pod network, or allow the node addresses explicitly with an ipBlock if that is meant"),
                    );
                }
            }
        }
    }
}
