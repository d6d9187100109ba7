//! A deterministic, readable listing of a [`Model`], for snapshots and debugging.

use std::fmt::Write;

use crate::model::{Labels, Model, Peer, PolicyPort, Rule, Selector};

/// Lists namespaces, endpoints, services, policies with their lowered rules, and cluster
/// policies, one item per line (rules indented below their policy).
pub fn summary(model: &Model) -> String {
    let mut s = String::new();
    let _ = write_summary(&mut s, model);
    s
}

fn write_summary(s: &mut String, model: &Model) -> std::fmt::Result {
    writeln!(s, "namespaces:")?;
    for ns in &model.namespaces {
        let origin = if ns.span.is_some() { "" } else { " (implicit)" };
        writeln!(s, "  {}{origin} {}", ns.name, labels(&ns.labels))?;
    }
    writeln!(s, "endpoints:")?;
    for e in &model.endpoints {
        write!(s, "  {} {}", e.id(), labels(&e.labels))?;
        if !e.ports.is_empty() {
            let ports: Vec<String> = e
                .ports
                .iter()
                .map(|p| match &p.name {
                    Some(n) => format!("{n}={}/{}", p.port, p.protocol),
                    None => format!("{}/{}", p.port, p.protocol),
                })
                .collect();
            write!(s, " ports=[{}]", ports.join(", "))?;
        }
        if e.host_network {
            write!(s, " hostNetwork")?;
        }
        if let Some(ip) = e.pod_ip {
            write!(s, " ip={ip}")?;
        }
        if let Some(ip) = e.annotated_ip {
            write!(s, " annotatedIP={ip}")?;
        }
        if let Some(ip) = e.host_ip {
            write!(s, " hostIP={ip}")?;
        }
        if let Some(n) = &e.node_name {
            write!(s, " node={n}")?;
        }
        writeln!(s)?;
    }
    writeln!(s, "services:")?;
    for svc in &model.services {
        let sel = svc
            .selector
            .as_ref()
            .map_or_else(|| "none".to_owned(), labels);
        let ports: Vec<String> = svc
            .ports
            .iter()
            .map(|p| {
                let name = p
                    .name
                    .as_ref()
                    .map_or_else(String::new, |n| format!("{n}="));
                format!("{name}{}->{}/{}", p.port, p.target_port, p.protocol)
            })
            .collect();
        let ip = if svc.headless {
            "headless".to_owned()
        } else {
            svc.cluster_ip
                .map_or_else(|| "no-ip".to_owned(), |ip| ip.to_string())
        };
        writeln!(
            s,
            "  {}/{} {} selector={sel} ports=[{}] {ip}",
            svc.namespace,
            svc.name,
            svc.service_type,
            ports.join(", ")
        )?;
    }
    writeln!(s, "policies:")?;
    for p in &model.policies {
        let mut types = Vec::new();
        if p.policy_types.ingress {
            types.push("Ingress");
        }
        if p.policy_types.egress {
            types.push("Egress");
        }
        let declared = if p.policy_types_declared {
            ""
        } else {
            " (defaulted)"
        };
        writeln!(
            s,
            "  {}/{} podSelector={} types=[{}]{declared}",
            p.namespace,
            p.name,
            selector(&p.pod_selector),
            types.join(", ")
        )?;
        for (i, r) in p.ingress.iter().enumerate() {
            rule(s, "ingress", i, r)?;
        }
        for (i, r) in p.egress.iter().enumerate() {
            rule(s, "egress", i, r)?;
        }
    }
    writeln!(s, "cluster policies:")?;
    for c in &model.cluster_policies {
        let ns = c
            .namespace
            .as_ref()
            .map_or_else(String::new, |n| format!("{n}/"));
        writeln!(
            s,
            "  {} {} {ns}{} spec={}",
            c.api_version,
            c.kind.kind(),
            c.name,
            c.spec
        )?;
    }
    if !model.operator_objects.is_empty() {
        writeln!(s, "operator objects:")?;
    }
    for o in &model.operator_objects {
        let labels = o.pod_labels.as_ref().map_or_else(
            || "unknown".to_owned(),
            |l| {
                let parts: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{{{}}}", parts.join(","))
            },
        );
        writeln!(
            s,
            "  {} {} {}/{} pods={labels}",
            o.api_version, o.kind, o.namespace, o.name
        )?;
    }
    Ok(())
}

fn rule(s: &mut String, dir: &str, i: usize, r: &Rule) -> std::fmt::Result {
    let peers = if r.peers.is_empty() {
        "all".to_owned()
    } else {
        r.peers.iter().map(peer).collect::<Vec<_>>().join(" | ")
    };
    let ports = if r.ports.is_empty() {
        "all".to_owned()
    } else {
        r.ports.iter().map(port).collect::<Vec<_>>().join(", ")
    };
    writeln!(s, "    {dir}[{i}] peers: {peers}; ports: {ports}")
}

fn peer(p: &Peer) -> String {
    match p {
        Peer::Pods {
            namespace_selector,
            pod_selector,
            ..
        } => {
            let ns = namespace_selector
                .as_ref()
                .map_or_else(|| "own".to_owned(), selector);
            let pods = pod_selector
                .as_ref()
                .map_or_else(|| "all".to_owned(), selector);
            format!("ns={ns} pods={pods}")
        }
        Peer::IpBlock(b) => {
            if b.except.is_empty() {
                format!("ipBlock {}", b.cidr)
            } else {
                let ex: Vec<String> = b.except.iter().map(ToString::to_string).collect();
                format!("ipBlock {} except {}", b.cidr, ex.join(","))
            }
        }
    }
}

fn port(p: &PolicyPort) -> String {
    match (&p.port, p.end_port) {
        (None, _) => format!("{}/*", p.protocol),
        (Some(port), None) => format!("{}/{port}", p.protocol),
        (Some(port), Some(end)) => format!("{}/{port}-{end}", p.protocol),
    }
}

fn labels(l: &Labels) -> String {
    let parts: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn selector(sel: &Selector) -> String {
    if sel.is_empty() {
        return "{}".to_owned();
    }
    let parts: Vec<String> = sel
        .requirements
        .iter()
        .map(|r| match r.operator {
            crate::model::Operator::Exists => format!("{} Exists", r.key),
            crate::model::Operator::DoesNotExist => format!("{} DoesNotExist", r.key),
            op => format!("{} {} ({})", r.key, op.as_str(), r.values.join(",")),
        })
        .collect();
    format!("{{{}}}", parts.join("; "))
}
