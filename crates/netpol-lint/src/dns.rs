//! DNS: an egress-isolated pod that cannot reach the cluster DNS Service on UDP/53 and
//! TCP/53, whether its own egress or CoreDNS's ingress refuses it. Proved on the graph.

use netpol_diag::{Code, Diagnostic, Span};
use netpol_graph::Analysis;
use netpol_manifest::Model;
use netpol_manifest::model::{
    ContainerPort, Direction, Endpoint, EndpointKind, Labels, NAMESPACE_NAME_LABEL, Namespace,
    Operator, Policy, PolicyTypes, PortRef, Protocol, Requirement, Rule, Selector, Service,
    ServicePort,
};

use crate::context::{Context, policy_name};

/// How the cluster serves DNS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DnsPlatform {
    /// CoreDNS pods behind `kube-system/kube-dns` (EKS's default); when the input has no DNS
    /// Service, that default is assumed.
    #[default]
    CoreDns,
    /// EKS Auto Mode: DNS is served on the node without CoreDNS pods; the lint is off.
    EksAutoMode,
}

const DNS_NS: &str = "kube-system";
const DNS_NAME: &str = "kube-dns";
const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

pub(crate) fn lint(cx: &Context<'_>, platform: DnsPlatform, out: &mut Vec<Diagnostic>) {
    if platform == DnsPlatform::EksAutoMode {
        return;
    }
    let candidates: Vec<(&Endpoint, Vec<usize>)> = cx
        .model
        .endpoints
        .iter()
        .filter(|e| !e.host_network)
        .map(|e| (e, cx.isolating(e, Direction::Egress)))
        .filter(|(_, isolating)| !isolating.is_empty())
        .collect();
    if candidates.is_empty() {
        return;
    }
    let found = dns_service(cx.model);
    let assumed;
    let (model, svc) = match found {
        Some(svc) => (cx.model, svc),
        None => {
            assumed = with_default_dns(cx.model, candidates[0].0.span);
            let svc = dns_service(&assumed).unwrap_or_else(|| &assumed.services[0]);
            (&assumed, svc)
        }
    };
    let analysis = if found.is_some() {
        None
    } else {
        Some(Analysis::new(model, cx.analysis.profile()))
    };
    let own_matrix = analysis.as_ref().map(Analysis::matrix);
    let analysis = analysis.as_ref().unwrap_or(cx.analysis);
    let matrix = own_matrix.as_ref().unwrap_or_else(|| cx.matrix());
    let svc_id = format!("{}/{}[Service]", svc.namespace, svc.name);
    let via_service = cx.is_vpc() && analysis.find_endpoint(&svc_id).is_some();
    let backends: Vec<&Endpoint> = model
        .endpoints
        .iter()
        .filter(|e| is_backend(svc, e))
        .collect();
    let mut protos: Vec<&ServicePort> = svc.ports.iter().filter(|p| p.port == 53).collect();
    // UDP first: it is what resolvers use; TCP is the fallback.
    protos.sort_by_key(|p| p.protocol != Protocol::Udp);
    let wanted: Vec<Protocol> = if protos.is_empty() {
        vec![Protocol::Udp, Protocol::Tcp]
    } else {
        protos.iter().map(|p| p.protocol).collect()
    };
    for (e, isolating) in candidates {
        if is_backend(svc, e) {
            continue; // CoreDNS itself forwards upstream, not to its own Service
        }
        let id = e.id();
        let mut missing = Vec::new();
        let mut at_dns = false;
        for &proto in &wanted {
            let sp = protos.iter().find(|p| p.protocol == proto).copied();
            // Decided on the matrix; only a refused connection is explained (which side).
            let targets: Vec<(String, u16)> = if via_service {
                vec![(svc_id.clone(), 53)]
            } else {
                backends
                    .iter()
                    .filter_map(|b| Some((b.id(), target_on(sp, b, proto)?)))
                    .collect()
            };
            if targets
                .iter()
                .any(|(t, port)| matrix.ports(&id, t).contains(proto, *port))
            {
                continue;
            }
            missing.push(proto);
            // Whose side refuses it: the pod's egress, or ingress at CoreDNS.
            at_dns |= targets.iter().any(|(t, port)| {
                analysis
                    .explain(&id, t, Some((proto, *port)))
                    .and_then(|x| x.directions.into_iter().next())
                    .is_some_and(|d| d.direction == Direction::Egress && d.verdict)
            });
        }
        if missing.is_empty() {
            continue;
        }
        let what = missing
            .iter()
            .map(|p| format!("{p}/53"))
            .collect::<Vec<_>>()
            .join(" and ");
        let mut d = Diagnostic::new(
            Code::DnsUnreachable,
            format!(
                "{id} is egress-isolated and cannot reach the cluster DNS ({}/{}) on {what}",
                svc.namespace, svc.name
            ),
        )
        .with_primary(e.span, "this pod cannot resolve names");
        for i in isolating {
            let p = &cx.model.policies[i];
            d = d.with_secondary(
                cx.subject_span(p),
                format!("NetworkPolicy {} isolates its egress", policy_name(p)),
            );
        }
        d = if at_dns {
            d.with_note("its egress allows DNS, but ingress at the CoreDNS pods refuses it")
                .with_help(format!(
                    "allow ingress to the CoreDNS pods ({}: {}) on UDP and TCP 53 from this namespace",
                    DNS_LABEL.0, DNS_LABEL.1
                ))
        } else {
            d.with_help(format!(
                "add an egress rule to namespace {DNS_NS} pods labelled {}: {} on UDP 53 and TCP 53 (DNS falls back to TCP for large answers)",
                DNS_LABEL.0, DNS_LABEL.1
            ))
        };
        if found.is_none() {
            d = d.with_note(format!(
                "the input has no DNS Service: netpol assumed EKS's default, Service {DNS_NS}/{DNS_NAME} in front of CoreDNS pods labelled {}: {}",
                DNS_LABEL.0, DNS_LABEL.1
            ));
        }
        out.push(d);
    }
}

/// The number the DNS Service port's `targetPort` has on a backend.
fn target_on(sp: Option<&ServicePort>, b: &Endpoint, proto: Protocol) -> Option<u16> {
    match sp.map(|s| &s.target_port) {
        None => Some(53),
        Some(PortRef::Number(n)) => Some(*n),
        Some(PortRef::Name(name)) => b
            .ports
            .iter()
            .find(|cp| cp.protocol == proto && cp.name.as_deref() == Some(name.as_str()))
            .map(|cp| cp.port),
    }
}

fn is_backend(svc: &Service, e: &Endpoint) -> bool {
    e.namespace == svc.namespace
        && svc
            .selector
            .as_ref()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
}

/// `kube-system/kube-dns`, else a Service selecting `k8s-app: kube-dns`.
fn dns_service(model: &Model) -> Option<&Service> {
    let by_name = model
        .services
        .iter()
        .find(|s| s.namespace == DNS_NS && s.name == DNS_NAME);
    by_name.or_else(|| {
        model.services.iter().find(|s| {
            s.selector
                .as_ref()
                .is_some_and(|sel| sel.get(DNS_LABEL.0).map(String::as_str) == Some(DNS_LABEL.1))
        })
    })
}

/// The model plus EKS's default DNS: the kube-dns Service and, unless the input has them,
/// CoreDNS pods. Assumed CoreDNS pods accept every connection: their policies are not in
/// the input either, and a cluster whose CoreDNS refused its pods (strict mode without a
/// CoreDNS policy) would resolve nothing at all, so only the pod's own egress is checked.
/// `span` is only a placeholder; no diagnostic points at these objects.
fn with_default_dns(model: &Model, span: Span) -> Model {
    let mut m = model.clone();
    if m.namespace(DNS_NS).is_none() {
        m.namespaces.push(Namespace {
            name: DNS_NS.to_owned(),
            labels: Labels::from([(NAMESPACE_NAME_LABEL.to_owned(), DNS_NS.to_owned())]),
            span: None,
        });
        m.namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let labels = Labels::from([(DNS_LABEL.0.to_owned(), DNS_LABEL.1.to_owned())]);
    let svc = Service {
        namespace: DNS_NS.to_owned(),
        name: DNS_NAME.to_owned(),
        selector: Some(labels.clone()),
        ports: [("dns", Protocol::Udp), ("dns-tcp", Protocol::Tcp)]
            .into_iter()
            .map(|(name, protocol)| ServicePort {
                name: Some(name.to_owned()),
                port: 53,
                target_port: PortRef::Number(53),
                protocol,
            })
            .collect(),
        cluster_ip: None,
        headless: false,
        service_type: "ClusterIP".to_owned(),
        span,
    };
    if !m.endpoints.iter().any(|e| is_backend(&svc, e)) {
        let ports = [("dns", Protocol::Udp), ("dns-tcp", Protocol::Tcp)]
            .into_iter()
            .map(|(name, protocol)| ContainerPort {
                name: Some(name.to_owned()),
                port: 53,
                protocol,
            })
            .collect();
        m.endpoints.push(Endpoint::assumed(
            EndpointKind::Deployment,
            DNS_NS,
            "coredns",
            labels,
            ports,
            span,
        ));
        m.endpoints.sort_by_key(Endpoint::id);
        let selects_coredns = Selector {
            requirements: vec![Requirement {
                key: DNS_LABEL.0.to_owned(),
                operator: Operator::In,
                values: vec![DNS_LABEL.1.to_owned()],
            }],
            span: None,
        };
        m.policies.push(Policy {
            namespace: DNS_NS.to_owned(),
            name: "netpol-assumed-coredns".to_owned(),
            span,
            pod_selector: selects_coredns,
            policy_types: PolicyTypes {
                ingress: true,
                egress: false,
            },
            policy_types_declared: true,
            policy_types_span: None,
            ingress: vec![Rule {
                span,
                peers: Vec::new(),
                ports: Vec::new(),
            }],
            egress: Vec::new(),
        });
    }
    m.services.push(svc);
    m.services
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    m
}
