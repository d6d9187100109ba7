//! Builders for hand-made models.

use std::net::IpAddr;

use netpol_diag::{SourceMap, Span};
use netpol_manifest::Model;
use netpol_manifest::config::{ClusterSettings, Cni, EnforcingMode, Node};
use netpol_manifest::model::{
    ContainerPort, Endpoint, EndpointKind, IpBlock, Labels, NAMESPACE_NAME_LABEL, Namespace,
    Operator, Peer, Policy, PolicyPort, PolicyTypes, PortRef, Protocol, Requirement, Rule,
    Selector, Service, ServicePort,
};

use crate::Profile;

pub(crate) fn span() -> Span {
    let mut map = SourceMap::new();
    let f = map.add("test.yaml", "");
    Span::new(f, 0, 0)
}

pub(crate) fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(crate) fn sel(pairs: &[(&str, &str)]) -> Selector {
    let mut requirements: Vec<Requirement> = pairs
        .iter()
        .map(|(k, v)| Requirement {
            key: (*k).to_owned(),
            operator: Operator::In,
            values: vec![(*v).to_owned()],
        })
        .collect();
    requirements.sort();
    Selector {
        requirements,
        span: None,
    }
}

pub(crate) fn req(key: &str, op: Operator, values: &[&str]) -> Requirement {
    let mut values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    values.sort();
    values.dedup();
    Requirement {
        key: key.to_owned(),
        operator: op,
        values,
    }
}

pub(crate) fn namespace(name: &str, extra: &[(&str, &str)]) -> Namespace {
    let mut l = labels(extra);
    l.insert(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned());
    Namespace {
        name: name.to_owned(),
        labels: l,
        span: None,
    }
}

pub(crate) fn pod(ns: &str, name: &str, l: &[(&str, &str)]) -> Endpoint {
    Endpoint {
        kind: EndpointKind::Pod,
        namespace: ns.to_owned(),
        name: name.to_owned(),
        labels: labels(l),
        ports: Vec::new(),
        host_network: false,
        pod_ip: None,
        annotated_ip: None,
        host_ip: None,
        node_name: None,
        indexed_completions: None,
        span: span(),
    }
}

pub(crate) fn cport(name: &str, proto: Protocol, port: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        port,
        protocol: proto,
    }
}

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().expect("test IP")
}

pub(crate) fn policy(ns: &str, name: &str, subject: Selector) -> Policy {
    Policy {
        namespace: ns.to_owned(),
        name: name.to_owned(),
        span: span(),
        pod_selector: subject,
        policy_types: PolicyTypes {
            ingress: true,
            egress: false,
        },
        policy_types_declared: false,
        policy_types_span: None,
        ingress: Vec::new(),
        egress: Vec::new(),
    }
}

/// Applies S3 defaulting when `policyTypes` was not declared.
pub(crate) fn default_types(mut p: Policy) -> Policy {
    if !p.policy_types_declared {
        p.policy_types = PolicyTypes {
            ingress: true,
            egress: !p.egress.is_empty(),
        };
    }
    p
}

pub(crate) fn declared(mut p: Policy, ingress: bool, egress: bool) -> Policy {
    p.policy_types = PolicyTypes { ingress, egress };
    p.policy_types_declared = true;
    p
}

pub(crate) fn rule(peers: Vec<Peer>, ports: Vec<PolicyPort>) -> Rule {
    Rule {
        span: span(),
        peers,
        ports,
    }
}

pub(crate) fn pods_peer(ns: Option<Selector>, pods: Option<Selector>) -> Peer {
    Peer::Pods {
        namespace_selector: ns,
        pod_selector: pods,
        span: span(),
    }
}

pub(crate) fn block(cidr: &str, except: &[&str]) -> Peer {
    Peer::IpBlock(IpBlock {
        cidr: cidr.parse().expect("test CIDR"),
        written: None,
        except: except
            .iter()
            .map(|e| e.parse().expect("test CIDR"))
            .collect(),
        span: span(),
    })
}

pub(crate) fn port(proto: Protocol, n: u16) -> PolicyPort {
    PolicyPort {
        protocol: proto,
        port: Some(PortRef::Number(n)),
        end_port: None,
        span: span(),
    }
}

pub(crate) fn port_range(proto: Protocol, n: u16, end: u16) -> PolicyPort {
    PolicyPort {
        end_port: Some(end),
        ..port(proto, n)
    }
}

pub(crate) fn named(proto: Protocol, name: &str) -> PolicyPort {
    PolicyPort {
        protocol: proto,
        port: Some(PortRef::Name(name.to_owned())),
        end_port: None,
        span: span(),
    }
}

pub(crate) fn all_of(proto: Protocol) -> PolicyPort {
    PolicyPort {
        protocol: proto,
        port: None,
        end_port: None,
        span: span(),
    }
}

pub(crate) fn service(
    ns: &str,
    name: &str,
    selector: Option<&[(&str, &str)]>,
    ports: Vec<ServicePort>,
) -> Service {
    Service {
        namespace: ns.to_owned(),
        name: name.to_owned(),
        selector: selector.map(labels),
        ports,
        cluster_ip: None,
        headless: false,
        service_type: "ClusterIP".to_owned(),
        span: span(),
    }
}

pub(crate) fn sport(port: u16, target: PortRef) -> ServicePort {
    ServicePort {
        name: None,
        port,
        target_port: target,
        protocol: Protocol::Tcp,
    }
}

/// Sorts the model's lists as the loader does and fills in referenced namespaces.
pub(crate) fn finish(mut m: Model) -> Model {
    for e in &m.endpoints {
        if m.namespaces.iter().all(|n| n.name != e.namespace) {
            m.namespaces.push(namespace(&e.namespace, &[]));
        }
    }
    m.namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    m.endpoints.sort_by_key(Endpoint::id);
    m.policies = m.policies.into_iter().map(default_types).collect();
    m.policies
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    m.services
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    m
}

pub(crate) fn profile(cni: Cni, mode: EnforcingMode) -> Profile {
    Profile::new(&ClusterSettings {
        cni,
        enforcing_mode: mode,
        ..ClusterSettings::default()
    })
}

pub(crate) fn upstream() -> Profile {
    profile(Cni::Upstream, EnforcingMode::Standard)
}

pub(crate) fn vpc() -> Profile {
    profile(Cni::VpcCni, EnforcingMode::Standard)
}

pub(crate) fn strict() -> Profile {
    profile(Cni::VpcCni, EnforcingMode::Strict)
}

pub(crate) fn with_nodes(mut p: Profile, nodes: &[(&str, &str)]) -> Profile {
    p.nodes = nodes
        .iter()
        .map(|(n, a)| Node {
            name: (*n).to_owned(),
            ip: ip(a),
        })
        .collect();
    p
}

/// x/a and x/b.
pub(crate) fn two_pods() -> Model {
    Model {
        endpoints: vec![
            pod("x", "a", &[("app", "a")]),
            pod("x", "b", &[("app", "b")]),
        ],
        ..Model::default()
    }
}
