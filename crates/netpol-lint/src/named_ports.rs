//! Named-port lints (S7, V7): a name that resolves nowhere, a name that means different
//! numbers on different pods, and VPC CNI's ingress union that opens a pod's ports wider
//! than its own declaration.

use std::collections::BTreeMap;

use netpol_diag::{Code, Diagnostic};
use netpol_manifest::model::{
    Direction, Endpoint, Peer, Policy, PolicyPort, PortRef, Protocol, Rule,
};

use crate::context::{Context, dir_word, policy_name};

pub(crate) fn lint(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for p in &cx.model.policies {
        for dir in Direction::BOTH {
            for (ri, rule) in p.rules(dir).iter().enumerate() {
                if !rule
                    .ports
                    .iter()
                    .any(|pp| matches!(pp.port, Some(PortRef::Name(_))))
                {
                    continue;
                }
                let targets = targets(cx, p, dir, rule);
                if targets.is_empty() {
                    continue; // selector-matches-nothing says why
                }
                let at = format!(
                    "{} rule {ri} of NetworkPolicy {}",
                    dir_word(dir),
                    policy_name(p)
                );
                let resolves: Vec<bool> = rule
                    .ports
                    .iter()
                    .map(|pp| match &pp.port {
                        Some(PortRef::Name(n)) => !numbers(&targets, n, pp.protocol).is_empty(),
                        _ => true,
                    })
                    .collect();
                let dropped = resolves.iter().all(|r| !r);
                for (pp, ok) in rule.ports.iter().zip(&resolves) {
                    let Some(PortRef::Name(name)) = &pp.port else {
                        continue;
                    };
                    if !ok {
                        let names = targets
                            .iter()
                            .flat_map(|e| e.ports.iter())
                            .filter_map(|cp| cp.name.as_deref());
                        let hint = crate::selectors::did_you_mean(name, names);
                        out.push(unresolved(cx, dir, pp, name, &at, dropped, hint));
                        continue;
                    }
                    let found = numbers(&targets, name, pp.protocol);
                    if cx.is_vpc() && dir == Direction::Ingress {
                        union(&targets, pp, name, &found, &at, out);
                    } else if found.len() > 1 {
                        out.push(ambiguous(pp, name, &found, &at));
                    }
                }
            }
        }
    }
}

/// The pods a rule's named ports resolve on: for ingress the policy's subjects (under VPC
/// CNI hostNetwork ones included, V7), for egress the pods its selector peers match.
fn targets<'m>(
    cx: &Context<'m>,
    p: &'m Policy,
    dir: Direction,
    rule: &'m Rule,
) -> Vec<&'m Endpoint> {
    match dir {
        Direction::Ingress => cx
            .endpoints_of(&p.namespace)
            .filter(|e| p.pod_selector.matches(&e.labels) && (cx.is_vpc() || !e.host_network))
            .collect(),
        Direction::Egress if rule.peers.is_empty() => {
            if cx.is_vpc() {
                // V7: an omitted `to` drops named ports; nothing to resolve on.
                Vec::new()
            } else {
                cx.model
                    .endpoints
                    .iter()
                    .filter(|e| !e.host_network)
                    .collect()
            }
        }
        Direction::Egress => {
            let mut res: Vec<&Endpoint> = Vec::new();
            for peer in &rule.peers {
                if let Peer::Pods {
                    namespace_selector,
                    pod_selector,
                    ..
                } = peer
                {
                    res.extend(cx.peer_endpoints(
                        &p.namespace,
                        namespace_selector.as_ref(),
                        pod_selector.as_ref(),
                    ));
                }
            }
            // Endpoints are unique by id; peers may overlap.
            res.sort_by_key(|e| e.id());
            res.dedup_by_key(|e| e.id());
            res
        }
    }
}

/// Number -> the endpoints that declare `name` on `proto` with that number.
fn numbers<'m>(
    targets: &[&'m Endpoint],
    name: &str,
    proto: Protocol,
) -> BTreeMap<u16, Vec<&'m Endpoint>> {
    let mut res: BTreeMap<u16, Vec<&Endpoint>> = BTreeMap::new();
    for e in targets {
        for cp in &e.ports {
            if cp.protocol == proto && cp.name.as_deref() == Some(name) {
                let list = res.entry(cp.port).or_default();
                if !list.iter().any(|x| std::ptr::eq(*x, *e)) {
                    list.push(e);
                }
            }
        }
    }
    res
}

fn unresolved(
    cx: &Context<'_>,
    dir: Direction,
    pp: &PolicyPort,
    name: &str,
    at: &str,
    dropped: bool,
    hint: Option<&str>,
) -> Diagnostic {
    let whose = match dir {
        Direction::Ingress => "pod the policy selects",
        Direction::Egress => "pod the rule's peers match",
    };
    let mut d = Diagnostic::new(
        Code::NamedPortUnresolved,
        format!("named port `{name}` ({}) of {at} resolves on no destination", pp.protocol),
    )
    .with_primary(pp.span, format!("no {whose} declares a container port `{name}` on {}", pp.protocol))
    .with_help(match hint {
        Some(h) => format!("did you mean `{h}`?"),
        None => "use the container port's name as the pod template declares it (names are case-sensitive, protocol included), or a number".to_owned(),
    });
    if dropped {
        d = d.with_note(if cx.is_vpc() && dir == Direction::Ingress {
            "none of the rule's ports resolves, so VPC CNI drops the whole rule (V7)"
        } else {
            "none of the rule's ports resolves, so the rule allows nothing"
        });
    }
    d
}

fn ambiguous(
    pp: &PolicyPort,
    name: &str,
    found: &BTreeMap<u16, Vec<&Endpoint>>,
    at: &str,
) -> Diagnostic {
    let list = found
        .iter()
        .map(|(n, eps)| format!("{n} on {}", ids(eps)))
        .collect::<Vec<_>>()
        .join("; ");
    Diagnostic::new(
        Code::NamedPortAmbiguous,
        format!("named port `{name}` of {at} means different numbers on different destinations"),
    )
    .with_primary(pp.span, format!("resolves to {}", nums(found)))
    .with_note(format!("{} `{name}` is {list}", pp.protocol))
    .with_help("give the port one number everywhere, or write the numbers in the rule")
}

/// V7 ingress: the union over the selected pods applies to each of them. Reported when a
/// pod gets a number it does not declare under that name.
fn union(
    targets: &[&Endpoint],
    pp: &PolicyPort,
    name: &str,
    found: &BTreeMap<u16, Vec<&Endpoint>>,
    at: &str,
    out: &mut Vec<Diagnostic>,
) {
    let widened: Vec<String> = targets
        .iter()
        .filter(|e| !e.host_network)
        .filter_map(|e| {
            let own: Vec<u16> = e
                .ports
                .iter()
                .filter(|cp| cp.protocol == pp.protocol && cp.name.as_deref() == Some(name))
                .map(|cp| cp.port)
                .collect();
            let extra: Vec<String> = found
                .keys()
                .filter(|n| !own.contains(n))
                .map(u16::to_string)
                .collect();
            (!extra.is_empty())
                .then(|| format!("{} gets {}/{}", e.id(), pp.protocol, extra.join(",")))
        })
        .collect();
    if widened.is_empty() {
        return;
    }
    let mut d = Diagnostic::new(
        Code::NamedPortUnion,
        format!("under VPC CNI, named port `{name}` of {at} opens {} on every pod the policy selects", nums(found)),
    )
    .with_primary(pp.span, format!("resolved over all selected pods to {}", nums(found)))
    .with_help("give the port one number on every pod the policy selects, write numbers in the rule, or split the policy per workload");
    for n in found
        .iter()
        .map(|(n, eps)| format!("`{name}` is {n} on {}", ids(eps)))
    {
        d = d.with_note(n);
    }
    d = d.with_note(format!(
        "VPC CNI resolves an ingress named port over every pod the policy selects and applies the union to each (V7): {}",
        widened.join("; ")
    ));
    out.push(d);
}

fn ids(eps: &[&Endpoint]) -> String {
    eps.iter().map(|e| e.id()).collect::<Vec<_>>().join(", ")
}

fn nums(found: &BTreeMap<u16, Vec<&Endpoint>>) -> String {
    found
        .keys()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
