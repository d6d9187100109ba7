//! VPC CNI checks egress to a Service against its ClusterIP, before DNAT (V5), on the Service
//! ports the controller maps the rule's ports to (V10). Two surprises follow: a selector rule
//! admits other Service ports than those whose targetPort it names, and an ipBlock of the
//! backends' pod IPs does not admit the ClusterIP at all.

use std::collections::HashMap;

use netpol_diag::{Code, Diagnostic};
use netpol_graph::PortSet;
use netpol_manifest::model::{Endpoint, Peer, PortRef, Protocol, Rule, Service, ServicePort};

use crate::context::{Context, policy_name};

pub(crate) fn lint(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    if !cx.is_vpc() {
        return;
    }
    let groups = cx.analysis.service_access_groups();
    // (policy, rule) -> its group, whose Services come with [may, certain, widened, unsure,
    // stable] ports.
    let mut admitted: HashMap<(usize, usize), usize> = HashMap::new();
    for (g, group) in groups.iter().enumerate() {
        for &pr in &group.rules {
            admitted.insert(pr, g);
        }
    }
    // Each Service's backends, computed once (rules repeat Services many times).
    let all_backends: Vec<Vec<&Endpoint>> = (cx.model.services.iter())
        .map(|svc| {
            let Some(sel) = svc.selector.as_ref().filter(|s| !s.is_empty()) else {
                return Vec::new();
            };
            cx.endpoints_of(&svc.namespace)
                .filter(|e| sel.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
                .collect()
        })
        .collect();
    // Only backends with a known pod IP (V14: annotated ones too) can be covered by an
    // ipBlock.
    let profile = cx.analysis.profile();
    let ip_of = |b: &netpol_manifest::model::Endpoint| netpol_graph::switches::pod_ip(profile, b);
    let with_ip: Vec<usize> = (0..cx.model.services.len())
        .filter(|&si| all_backends[si].iter().any(|b| ip_of(b).is_some()))
        .collect();
    for (pi, p) in cx.model.policies.iter().enumerate() {
        for (ri, rule) in p.egress.iter().enumerate() {
            let selectors_only = rule.peers.iter().all(|x| matches!(x, Peer::Pods { .. }));
            let services = admitted.get(&(pi, ri)).map(|&g| &groups[g].services);
            if selectors_only && !rule.peers.is_empty() && !rule.ports.is_empty() {
                for (si, ports) in services.into_iter().flatten() {
                    let svc = &cx.model.services[*si];
                    let bs: Vec<&Endpoint> = (all_backends[*si].iter().copied())
                        .filter(|b| {
                            rule.peers.iter().any(|peer| match peer {
                                Peer::Pods {
                                    namespace_selector,
                                    pod_selector,
                                    ..
                                } => cx.peer_matches(
                                    &p.namespace,
                                    namespace_selector.as_ref(),
                                    pod_selector.as_ref(),
                                    b,
                                ),
                                Peer::IpBlock(_) => false,
                            })
                        })
                        .collect();
                    remapped(p, ri, rule, svc, &bs, ports, out);
                }
            }
            let blocks: Vec<_> = rule
                .peers
                .iter()
                .filter_map(|x| match x {
                    Peer::IpBlock(b) => Some(b),
                    Peer::Pods { .. } => None,
                })
                .collect();
            if blocks.is_empty() || with_ip.is_empty() {
                continue;
            }
            // Services the rule admits on some port are fine.
            let admits = |si: usize| {
                services.is_some_and(|l| {
                    l.binary_search_by_key(&si, |(s, _)| *s)
                        .is_ok_and(|i| !l[i].1[0].is_empty())
                })
            };
            for &si in &with_ip {
                let svc = &cx.model.services[si];
                if svc.headless || svc.service_type == "ExternalName" || admits(si) {
                    continue;
                }
                let hit = all_backends[si].iter().find_map(|b| {
                    let ip = ip_of(b)?;
                    let block = blocks.iter().find(|bl| {
                        bl.cidr.contains(&ip) && !bl.except.iter().any(|x| x.contains(&ip))
                    })?;
                    // A Service port whose target the rule's numeric ports allow.
                    let sp = svc.ports.iter().find(|sp| {
                        target_on(sp, b).is_some_and(|t| allows(rule, sp.protocol, t, b))
                    })?;
                    Some((b, *block, sp))
                });
                let Some((b, block, sp)) = hit else { continue };
                let ip = svc.cluster_ip.map_or("its ClusterIP".to_owned(), |ip| {
                    format!("its ClusterIP {ip}")
                });
                out.push(
                    Diagnostic::new(
                        Code::ServiceViaPodIpblock,
                        format!(
                            "egress rule {ri} of NetworkPolicy {} allows the pods behind Service {}/{} by ipBlock {}, but under VPC CNI egress to the Service is checked against {ip}, which the rule does not admit: connections through the Service are denied (V5)",
                            policy_name(p),
                            svc.namespace,
                            svc.name,
                            block.cidr
                        ),
                    )
                    .with_primary(block.span, format!("covers {} ({}), not the ClusterIP", b.id(), ip_of(b).map(|i| i.to_string()).unwrap_or_default()))
                    .with_secondary(svc.span, format!("clients connect to port {}/{} of this Service's ClusterIP", sp.protocol, sp.port))
                    .with_note("VPC CNI evaluates egress before kube-proxy's DNAT, so the destination is the ClusterIP and the Service port, not the pod (vpc-cni-semantics §1.3)")
                    .with_help("allow the backends with a podSelector (VPC CNI then admits the ClusterIP, V5), or add an ipBlock covering the Service CIDR on the Service ports"),
                );
            }
        }
    }
}

/// V10: the Service ports a selector rule admits on the ClusterIP, against those whose
/// targetPort (on the backends the rule's peers match) the rule names.
fn remapped(
    p: &netpol_manifest::model::Policy,
    ri: usize,
    rule: &Rule,
    svc: &Service,
    backends: &[&Endpoint],
    ports: &[PortSet; 5],
    out: &mut Vec<Diagnostic>,
) {
    if backends.is_empty() {
        return;
    }
    let [may, _certain, _widened, unsure, _stable] = ports;
    let mut expected = PortSet::empty();
    for sp in &svc.ports {
        if backends
            .iter()
            .any(|b| target_on(sp, b).is_some_and(|t| allows(rule, sp.protocol, t, b)))
        {
            expected.union_with(&PortSet::port(sp.protocol, sp.port));
        }
    }
    let missing = expected.difference(may);
    let extra = may.difference(&expected);
    if missing.is_empty() && extra.is_empty() && unsure.is_empty() {
        return;
    }
    let show = |s: &PortSet| {
        if s.is_empty() {
            "no port".to_owned()
        } else {
            s.to_string()
        }
    };
    let mut d = Diagnostic::new(
        Code::ServicePortRemapped,
        format!(
            "egress rule {ri} of NetworkPolicy {} admits Service {}/{} on {} under VPC CNI, while the ports it names lead to Service ports {} (V10)",
            policy_name(p),
            svc.namespace,
            svc.name,
            show(may),
            show(&expected)
        ),
    )
    .with_primary(rule.span, "ports mapped to Service ports by the controller")
    .with_secondary(svc.span, "the Service whose ports are mapped");
    if !missing.is_empty() {
        d = d.with_note(format!("not admitted: {missing}: connections through the Service on these ports are denied although the rule allows their targetPort; the controller takes the first Service port whose targetPort equals the rule's port, and a range only by its start port"));
    }
    if !extra.is_empty() {
        d = d.with_note(format!("admitted although the rule does not name their targetPort: {extra}: a range opens every Service port from the one its start maps to up to endPort"));
    }
    if !unsure.is_empty() {
        d = d.with_note(format!("{unsure}: decided by whichever backend the controller meets first (informer order), so it may change when pods restart"));
    }
    out.push(d.with_help(
        "name each Service port's targetPort as its own port entry (no ranges across Service ports), and give Service ports distinct targetPorts",
    ));
}

/// Where Service port `sp` leads on backend `b` (kube-proxy's DNAT).
fn target_on(sp: &ServicePort, b: &Endpoint) -> Option<u16> {
    match &sp.target_port {
        PortRef::Number(n) => Some(*n),
        PortRef::Name(name) => b
            .ports
            .iter()
            .find(|c| c.protocol == sp.protocol && c.name.as_deref() == Some(name.as_str()))
            .map(|c| c.port),
    }
}

/// Whether the rule's ports allow `proto`/`port` on destination `b` (egress named ports
/// resolve per destination, V7).
fn allows(rule: &Rule, proto: Protocol, port: u16, b: &Endpoint) -> bool {
    rule.ports.is_empty()
        || rule.ports.iter().any(|pp| {
            pp.protocol == proto
                && match &pp.port {
                    None => true,
                    Some(PortRef::Number(n)) => {
                        (*n..=pp.end_port.unwrap_or(*n).max(*n)).contains(&port)
                    }
                    Some(PortRef::Name(name)) => b.ports.iter().any(|c| {
                        c.protocol == proto
                            && c.name.as_deref() == Some(name.as_str())
                            && c.port == port
                    }),
                }
        })
}
