//! Random clusters over a small vocabulary, for property tests.

use std::fmt::Write as _;

use super::realistic::ENVS;
use super::{Rng, SynthConfig};

const APPS: [&str; 3] = ["a", "b", "c"];
const TIERS: [&str; 2] = ["web", "db"];
const TEAMS: [&str; 2] = ["red", "blue"];
/// Container ports: the same name with two numbers, and two protocols on 53.
const CONTAINER_PORTS: [(&str, u16, &str); 5] = [
    ("http", 80, "TCP"),
    ("http", 8080, "TCP"),
    ("dns", 53, "UDP"),
    ("dns-tcp", 53, "TCP"),
    ("metrics", 9100, "TCP"),
];
/// Pod IPs and ipBlocks share 10.0.0.0/24 so that blocks and pods overlap.
const BLOCKS: [(&str, &[&str]); 5] = [
    ("10.0.0.0/24", &[]),
    ("10.0.0.0/16", &["10.0.0.128/25"]),
    ("0.0.0.0/0", &["10.0.0.0/8"]),
    ("192.168.1.0/24", &[]),
    ("10.0.0.0/25", &["10.0.0.0/28", "10.0.0.64/27"]),
];

pub(super) fn random(cfg: &SynthConfig, rng: &mut Rng) -> String {
    let mut out = String::new();
    let n = cfg.namespaces.max(1);
    for i in 0..n {
        let mut labels = format!("team: {}", rng.pick(&TEAMS));
        if rng.chance(50) {
            let _ = write!(labels, ", env: {}", rng.pick(&ENVS));
        }
        let _ = writeln!(
            out,
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{i}\n  labels: {{{labels}}}"
        );
    }
    for k in 0..cfg.workloads {
        let ns = rng.below(n);
        // `workload` keeps a Deployment's selector non-empty; no policy looks at it.
        let mut labels = vec![format!("workload: w{k}")];
        if rng.chance(85) {
            labels.push(format!("app: {}", rng.pick(&APPS)));
        }
        if rng.chance(60) {
            labels.push(format!("tier: {}", rng.pick(&TIERS)));
        }
        let labels = format!("{{{}}}", labels.join(", "));
        let mut ports = String::new();
        let mut used_names: Vec<&str> = Vec::new();
        for (name, number, proto) in CONTAINER_PORTS {
            // Container port names are unique within a pod.
            if rng.chance(40) && !used_names.contains(&name) {
                used_names.push(name);
                let _ = write!(
                    ports,
                    "\n    - {{name: {name}, containerPort: {number}, protocol: {proto}}}"
                );
            }
        }
        let ports = if ports.is_empty() {
            String::new()
        } else {
            format!("\n    ports:{ports}")
        };
        if rng.chance(40) {
            // A bare Pod, sometimes with a known IP inside the blocks' range.
            let status = if rng.chance(70) {
                format!("\nstatus:\n  podIP: 10.0.0.{}", rng.below(254) + 1)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{k}\n  namespace: ns-{ns}\n  labels: {labels}\nspec:\n  containers:\n  - name: c\n    image: img{ports}{status}"
            );
        } else {
            let kind = if rng.chance(70) {
                "Deployment"
            } else {
                "StatefulSet"
            };
            let ports = ports.replace("\n    ", "\n        ");
            let _ = writeln!(
                out,
                "---\napiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: w{k}\n  namespace: ns-{ns}\nspec:\n  selector:\n    matchLabels: {{workload: w{k}}}\n  template:\n    metadata:\n      labels: {labels}\n    spec:\n      containers:\n      - name: c\n        image: img{ports}"
            );
        }
    }
    for k in 0..cfg.policies {
        random_policy(&mut out, rng, n, k);
    }
    out
}

/// A random selector as an inline YAML value: empty, matchLabels or matchExpressions.
fn random_selector(rng: &mut Rng, namespace: bool) -> String {
    let (key, vocab): (&str, &[&str]) = match (namespace, rng.below(2)) {
        (true, 0) => ("team", &TEAMS),
        (true, _) => ("env", &ENVS),
        (false, 0) => ("app", &APPS),
        (false, _) => ("tier", &TIERS),
    };
    match rng.below(6) {
        0 => "{}".to_owned(),
        1 | 2 => format!("{{matchLabels: {{{key}: {}}}}}", rng.pick(vocab)),
        3 => {
            let op = rng.pick(&["In", "NotIn"]);
            let a = rng.pick(vocab);
            let b = rng.pick(vocab);
            let values = if a == b {
                a.to_string()
            } else {
                format!("{a}, {b}")
            };
            format!("{{matchExpressions: [{{key: {key}, operator: {op}, values: [{values}]}}]}}")
        }
        4 => {
            let op = rng.pick(&["Exists", "DoesNotExist"]);
            format!("{{matchExpressions: [{{key: {key}, operator: {op}}}]}}")
        }
        _ if namespace => {
            let ns = rng.below(3);
            format!("{{matchLabels: {{kubernetes.io/metadata.name: ns-{ns}}}}}")
        }
        _ => format!(
            "{{matchLabels: {{app: {}}}, matchExpressions: [{{key: tier, operator: Exists}}]}}",
            rng.pick(&APPS)
        ),
    }
}

fn random_peer(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!("podSelector: {}", random_selector(rng, false)),
        1 => format!("namespaceSelector: {}", random_selector(rng, true)),
        2 => format!(
            "namespaceSelector: {}\n      podSelector: {}",
            random_selector(rng, true),
            random_selector(rng, false)
        ),
        _ => {
            let (cidr, except) = rng.pick(&BLOCKS);
            if except.is_empty() || rng.chance(30) {
                format!("ipBlock: {{cidr: {cidr}}}")
            } else {
                format!("ipBlock: {{cidr: {cidr}, except: [{}]}}", except.join(", "))
            }
        }
    }
}

fn random_port(rng: &mut Rng) -> &'static str {
    const PORTS: [&str; 11] = [
        "{port: 80}",
        "{protocol: TCP, port: 8080}",
        "{protocol: UDP, port: 53}",
        "{port: http}",
        "{protocol: UDP, port: dns}",
        "{port: dns-tcp}",
        "{port: metrics}",
        "{port: 80, endPort: 90}",
        "{protocol: UDP}",
        "{protocol: SCTP}",
        "{protocol: TCP, port: 1, endPort: 1000}",
    ];
    rng.pick(&PORTS)
}

/// Rules of one direction: sometimes omitted, sometimes `[]`, sometimes `[{}]`.
fn random_rules(rng: &mut Rng, out: &mut String, direction: &str, peer_key: &str) {
    match rng.below(8) {
        0 => {}
        1 => {
            let _ = writeln!(out, "  {direction}: []");
        }
        2 => {
            let _ = writeln!(out, "  {direction}: [{{}}]");
        }
        _ => {
            let _ = writeln!(out, "  {direction}:");
            for _ in 0..=rng.below(2) {
                let mut first = true;
                let mut item = |out: &mut String, line: &str| {
                    let _ = writeln!(out, "  {} {line}", if first { "-" } else { " " });
                    first = false;
                };
                if rng.chance(75) {
                    item(out, &format!("{peer_key}:"));
                    for _ in 0..=rng.below(2) {
                        let _ = writeln!(out, "    - {}", random_peer(rng));
                    }
                }
                if rng.chance(70) {
                    item(out, "ports:");
                    for _ in 0..=rng.below(2) {
                        let _ = writeln!(out, "    - {}", random_port(rng));
                    }
                }
                if first {
                    let _ = writeln!(out, "  - {{}}");
                }
            }
        }
    }
}

fn random_policy(out: &mut String, rng: &mut Rng, namespaces: usize, k: usize) {
    let ns = rng.below(namespaces);
    let _ = writeln!(
        out,
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np{k}\n  namespace: ns-{ns}\nspec:\n  podSelector: {}",
        random_selector(rng, false)
    );
    match rng.below(5) {
        0 => {}
        1 => out.push_str("  policyTypes: [Ingress]\n"),
        2 => out.push_str("  policyTypes: [Egress]\n"),
        _ => out.push_str("  policyTypes: [Ingress, Egress]\n"),
    }
    random_rules(rng, out, "ingress", "from");
    random_rules(rng, out, "egress", "to");
}
