//! The encoding against the graph engine: per-pair agreement on generated clusters (scope
//! existing; with ClusterIPs, nodes, hostNetwork pods and pod identifier siblings) and
//! counterexamples fed back into the graph as concrete pods.

use std::net::IpAddr;

use netpol_diag::SourceMap;
use netpol_graph::Profile;
use netpol_graph::synth::{self, SynthConfig};
use netpol_manifest::config::{Cni, EnforcingMode};
use netpol_manifest::model::{Direction, Protocol};
use netpol_manifest::{LoadOptions, Model, Source};

use crate::config::{Pair, PeerSpec};
use crate::tests::{config, load, profile};
use crate::tests_services::graph_connects;
use crate::*;

fn pair_assertion(name: String, from: &str, to: &str, port: &str) -> Assertion {
    Assertion {
        name,
        scope: Scope::Existing,
        deny: Some(Pair {
            from: PeerSpec {
                workload: Some(from.to_owned()),
                ..PeerSpec::default()
            },
            to: PeerSpec {
                workload: Some(to.to_owned()),
                ..PeerSpec::default()
            },
            ports: Some(vec![port.to_owned()]),
        }),
        ..Assertion::default()
    }
}

/// Services, nodes, hostNetwork pods and a hostNetwork DaemonSet on top of a random tiny
/// cluster, so that the VPC CNI paths through ClusterIPs (V5), the node exemption (V4) and
/// node-IP peers (V6) occur.
fn with_vpc_paths(yaml: &str, seed: u64) -> (String, Vec<netpol_manifest::config::Node>) {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let mut out = yaml.to_owned();
    let selectors = [
        "{app: a}",
        "{app: b}",
        "{tier: db}",
        "{}",
        "{app: c, tier: web}",
    ];
    let ports = [
        "{port: 80, targetPort: http}",
        "{port: 5432, targetPort: 5432}",
        "{port: 8000, targetPort: 8080}",
        "{port: 53, targetPort: dns, protocol: UDP}",
        "{port: 9100, targetPort: metrics}",
    ];
    for i in 0..4 {
        let ns = next(3);
        let sel = selectors[next(selectors.len() as u64) as usize];
        let a = ports[next(ports.len() as u64) as usize];
        let b = ports[next(ports.len() as u64) as usize];
        let list = if a == b {
            a.to_owned()
        } else {
            format!("{a}, {b}")
        };
        let ip = if next(2) == 0 {
            format!("\n  clusterIP: 10.100.0.{}", 10 + i)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc{i}, namespace: ns-{ns}}}\nspec:\n  selector: {sel}\n  ports: [{list}]{ip}\n"
        ));
    }
    // Two hostNetwork pods share node-a, so a peer matching one admits the other (V6).
    for (i, node) in ["node-a", "node-a", "node-b"].iter().enumerate() {
        let ns = next(3);
        let labels = selectors[next(selectors.len() as u64) as usize];
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: hn{i}, namespace: ns-{ns}, labels: {labels}}}\nspec:\n  hostNetwork: true\n  nodeName: {node}\n  containers: [{{name: c, image: img, ports: [{{name: http, containerPort: 80}}, {{name: metrics, containerPort: 9100}}]}}]\nstatus: {{hostIP: 10.99.0.{}}}\n",
            if *node == "node-a" { 1 } else { 2 }
        ));
    }
    // A hostNetwork DaemonSet runs on both nodes: a peer matching it admits both (V6).
    let ns = next(3);
    let labels = selectors[next(selectors.len() as u64) as usize];
    out.push_str(&format!(
        "---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: hnds, namespace: ns-{ns}}}\nspec:\n  selector: {{matchLabels: {labels}}}\n  template:\n    metadata: {{labels: {labels}}}\n    spec:\n      hostNetwork: true\n      containers: [{{name: c, image: img, ports: [{{name: http, containerPort: 8080}}, {{name: dns, containerPort: 53, protocol: UDP}}]}}]\n"
    ));
    let nodes = ["node-a", "node-b"]
        .iter()
        .enumerate()
        .map(|(i, n)| netpol_manifest::config::Node {
            name: (*n).to_owned(),
            ip: format!("10.99.0.{}", i + 1).parse().expect("ip"),
        })
        .collect();
    (out, nodes)
}

/// Scope existing: for every ordered pair of distinct pods or workloads and a few ports,
/// "deny src -> dst on port" is refuted by SMT iff the graph allows the connection,
/// directly or (V5) through a ClusterIP: egress at src admits the Service port and ingress
/// at dst, a backend, admits src on the target port.
fn agreement(seed: u64, p: &Profile) {
    agreement_in(seed, p, false);
}

/// An IPv4 address or CIDR of the generated text as IPv6: into `fd00::/96`, the prefix
/// length shifted by 96, so every containment between them is kept.
pub(crate) fn to_v6(net: &str) -> String {
    let (a, len) = net
        .split_once('/')
        .map_or((net, None), |(a, l)| (a, Some(l)));
    let (Ok(a), Ok(len)) = (
        a.parse::<std::net::Ipv4Addr>(),
        len.map_or(Ok(32), str::parse::<u8>),
    ) else {
        return net.to_owned();
    };
    let v6 = std::net::Ipv6Addr::from((0xfd00_u128 << 112) | u128::from(u32::from(a)));
    match net.contains('/') {
        true => format!("{v6}/{}", u16::from(len) + 96),
        false => v6.to_string(),
    }
}

/// `text` with every IPv4 address and CIDR in it replaced by [`to_v6`] (quoted: YAML
/// would not read an IPv6 address in a flow mapping as a string otherwise).
pub(crate) fn text_to_v6(text: &str) -> String {
    let mut out = String::new();
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        let v6 = to_v6(token);
        if v6 == *token {
            out.push_str(token);
        } else {
            let quoted = out.ends_with('"') || out.ends_with('\'');
            if quoted {
                out.push_str(&v6);
            } else {
                out.push_str(&format!("\"{v6}\""));
            }
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' || c == '/' {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// [`agreement`], on the same cluster with its addresses mapped into IPv6 (`v6`).
fn agreement_in(seed: u64, p: &Profile, v6: bool) {
    let (yaml, nodes) = with_vpc_paths(&synth::generate(&SynthConfig::tiny(seed)), seed);
    let yaml = if v6 { text_to_v6(&yaml) } else { yaml };
    let nodes: Vec<netpol_manifest::config::Node> = (nodes.into_iter())
        .map(|mut n| {
            if v6 {
                n.ip = to_v6(&n.ip.to_string()).parse().expect("ip");
            }
            n
        })
        .collect();
    let mut model = load(&yaml);
    // V4: bare Pods run on the nodes.
    for (i, e) in model.endpoints.iter_mut().enumerate() {
        if e.kind == netpol_manifest::model::EndpointKind::Pod && !e.host_network && i % 3 != 2 {
            e.node_name = Some(nodes[i % 2].name.clone());
        }
    }
    add_identifier_siblings(&mut model);
    let mut p = p.clone();
    p.nodes = nodes;
    // V3: every block synth writes covers 10.0.0.16/28 whole or not at all, so that the
    // matrix (which does not match partly covering blocks) can be the oracle.
    let fam = |n: &str| if v6 { to_v6(n) } else { n.to_owned() };
    p.pod_cidrs = vec![fam("10.0.0.16/28").parse().expect("cidr")];
    // The same for the ClusterIPs the manifests leave out (the matrix counts only what is
    // certain there).
    p.service_cidr = Some(fam("172.20.0.0/16").parse().expect("cidr"));
    if v6 {
        p.ip_family = netpol_manifest::config::IpFamily::Ipv6;
        assert!(
            model
                .endpoints
                .iter()
                .any(|e| e.pod_ip.is_some_and(|a| a.is_ipv6()))
        );
    }
    let p = &p;
    let analysis = netpol_graph::Analysis::new(&model, p);
    let matrix = analysis.matrix();
    let ids: Vec<String> = model.endpoints.iter().map(|e| e.id()).collect();
    let shared = analysis.identifier_ranges();
    let ranged: std::collections::BTreeSet<&str> = (shared.iter())
        .filter(|(_, r)| r.lower != r.upper)
        .map(|(id, _)| id.as_str())
        .collect();
    let mut order_dependent = Vec::new();
    let ports = [
        (Protocol::Tcp, 80),
        (Protocol::Tcp, 8080),
        (Protocol::Udp, 53),
        (Protocol::Tcp, 5432),
    ];
    let mut assertions = Vec::new();
    let mut expected = Vec::new();
    let mut via_count = 0;
    for a in &ids {
        for b in &ids {
            if a == b {
                continue;
            }
            let allowed = matrix.ports(a, b);
            for (proto, n) in ports {
                let name = format!("{a} -> {b} {proto}/{n}");
                assertions.push(pair_assertion(name.clone(), a, b, &format!("{proto}/{n}")));
                let direct = allowed.contains(proto, n);
                let via = !direct && graph_connects(&model, &analysis, a, b, proto, n);
                via_count += usize::from(via);
                expected.push((name, if direct || via { "refuted" } else { "proved" }));
                // V9: the matrix has an edge when some order of events allows it; verify
                // refutes only when the certain policies allow it, else says unknown.
                order_dependent.push(ranged.contains(a.as_str()) || ranged.contains(b.as_str()));
            }
        }
    }
    let n = assertions.len();
    let intents = assertions.iter().filter_map(config::Intent::of).collect();
    let cfg = ParsedConfig {
        verification: Verification {
            api_version: config::API_VERSION.to_owned(),
            kind: config::KIND.to_owned(),
            assertions,
            ..Verification::default()
        },
        spans: vec![config::AssertionSpans::default(); n],
        root: None,
        snapshot: None,
        intents,
        manifests: Vec::new(),
    };
    let v = verify(&model, p, &cfg, &Options::default());
    let got: Vec<(String, &str)> = v
        .results
        .iter()
        .map(|r| (r.name.clone(), r.outcome.as_str()))
        .collect();
    let diff: Vec<_> = got
        .iter()
        .zip(&expected)
        .zip(&order_dependent)
        .filter(|((g, e), od)| g.1 != e.1 && !(**od && g.1 == "unknown" && e.1 == "refuted"))
        .map(|((g, e), _)| format!("{}: smt {} graph {}", g.0, g.1, e.1))
        .collect();
    let count = |od: bool, verdict: &str| {
        (got.iter().zip(&order_dependent))
            .filter(|(g, o)| **o == od && g.1 == verdict)
            .count()
    };
    if !shared.is_empty() {
        let mut v = V9_VERDICTS.lock().expect("lock");
        v[0] += count(false, "refuted") + count(true, "refuted");
        v[1] += count(false, "proved") + count(true, "proved");
        v[2] += count(true, "unknown");
    }
    assert!(
        diff.is_empty(),
        "seed {seed} {:?}: {diff:#?}\n{yaml}",
        p.cni
    );
    VIA_PAIRS.fetch_add(via_count, std::sync::atomic::Ordering::Relaxed);
}

/// V9: bare pods of another bare pod's identifier, with the labels of another endpoint of
/// its namespace: the first on the same node (a certain union), the second on no known
/// node (an order-dependent range).
fn add_identifier_siblings(model: &mut Model) {
    use netpol_manifest::model::EndpointKind;
    let mut added = Vec::new();
    for e in &model.endpoints {
        if added.len() == 2 {
            break;
        }
        if e.kind != EndpointKind::Pod || e.host_network || e.node_name.is_none() {
            continue;
        }
        let Some(other) = (model.endpoints.iter())
            .find(|o| o.namespace == e.namespace && o.labels != e.labels && !o.host_network)
        else {
            continue;
        };
        let mut t = e.clone();
        let prefix = t
            .name
            .rsplit_once('-')
            .map_or(t.name.clone(), |(p, _)| p.to_owned());
        t.name = format!("{prefix}-v9s{}", added.len());
        t.labels = other.labels.clone();
        t.pod_ip = None;
        t.host_ip = None;
        if added.len() == 1 {
            t.node_name = None;
        }
        added.push(t);
    }
    model.endpoints.extend(added);
    model.endpoints.sort_by_key(|e| e.id());
}

/// V9 verdicts (refuted, proved, unknown) over the agreement runs with shared identifiers.
static V9_VERDICTS: std::sync::Mutex<[usize; 3]> = std::sync::Mutex::new([0; 3]);

/// Pairs only a ClusterIP connects, over all agreement runs (the test must see some).
static VIA_PAIRS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[test]
fn agrees_with_graph_on_generated_clusters_upstream() {
    for seed in 0..6 {
        agreement(seed, &profile(Cni::Upstream, EnforcingMode::Standard));
    }
}

#[test]
fn agrees_with_graph_on_generated_clusters_vpc_cni() {
    let before = VIA_PAIRS.load(std::sync::atomic::Ordering::Relaxed);
    for seed in 6..12 {
        agreement(seed, &profile(Cni::VpcCni, EnforcingMode::Standard));
        agreement(seed, &profile(Cni::VpcCni, EnforcingMode::Strict));
    }
    let via = VIA_PAIRS.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert!(via > 0, "no pair was connected only through a ClusterIP");
    // Clusters with shared identifiers give every answer, so the comparison can fail.
    let v9 = *V9_VERDICTS.lock().expect("lock");
    assert!(
        v9.iter().all(|&n| n > 0),
        "V9 refuted, proved, unknown: {v9:?}"
    );
}
/// V15: the same agreement on IPv6 clusters (the generated clusters with their addresses
/// mapped into IPv6), under both CNIs. Before, every verdict on them was `unknown`.
#[test]
fn agrees_with_graph_on_generated_ipv6_clusters() {
    for seed in [0, 3, 7, 9] {
        agreement_in(seed, &profile(Cni::Upstream, EnforcingMode::Standard), true);
        agreement_in(seed, &profile(Cni::VpcCni, EnforcingMode::Standard), true);
    }
    agreement_in(7, &profile(Cni::VpcCni, EnforcingMode::Strict), true);
}

/// The readings `--robust` adds (V2 off under vpc-cni; ipBlocks matching every pod address,
/// or none, under upstream) agree between the engines too.
#[test]
fn agrees_with_graph_under_the_robust_readings() {
    let mut differ = std::collections::BTreeMap::new();
    // Seeds whose matrices each reading changes (the check below holds them to it).
    for seed in [3, 12, 13] {
        let (yaml, _) = with_vpc_paths(&synth::generate(&SynthConfig::tiny(seed)), seed);
        let model = load(&yaml);
        for p in [
            profile(Cni::Upstream, EnforcingMode::Standard),
            profile(Cni::VpcCni, EnforcingMode::Standard),
        ] {
            let own = netpol_graph::Analysis::new(&model, &p)
                .matrix()
                .connection_count();
            for (name, reading) in netpol_graph::switches::robust_readings(&p) {
                agreement(seed, &reading);
                let other = netpol_graph::Analysis::new(&model, &reading).matrix();
                *differ.entry(name).or_insert(0) += usize::from(other.connection_count() != own);
            }
        }
    }
    // Each reading changes some cluster's matrix, so the agreement covers what it changes.
    assert!(differ.values().all(|&n| n > 0), "{differ:?}");
}

/// Refuted `deny` assertions under scope any: the counterexample, added to the cluster as
/// concrete pods, really connects in the graph engine.
#[test]
fn counterexamples_connect_in_the_graph() {
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: all-to-all
    deny: {from: {}, to: {}}
  - name: to-team-ns
    deny: {from: {}, to: {namespaceSelector: {matchLabels: {team: a}}}, ports: ["TCP/80", "TCP/8080"]}
  - name: from-new
    deny: {from: {namespace: brand-new}, to: {podSelector: {matchLabels: {app: web}}}}
  - name: isolated-all
    isolated: {pods: {}}
  - name: only-from-a
    scope: existing
    only: {to: {podSelector: {matchLabels: {tier: db}}}, from: [{podSelector: {matchLabels: {app: a}}}], ports: ["TCP/5432", "UDP/53"]}
  - name: existing-to-team-b
    scope: existing
    deny: {from: {}, to: {namespaceSelector: {matchLabels: {team: blue}}}}
"#;
    let (mut checked, mut checked6, mut icmpv6) = (0, 0, 0);
    // V15: a few of the clusters again with their addresses in IPv6.
    for (seed, v6) in (0..8).map(|s| (s, false)).chain((0..3).map(|s| (s, true))) {
        let (yaml, mut nodes) = with_vpc_paths(&synth::generate(&SynthConfig::tiny(seed)), seed);
        let yaml = if v6 { text_to_v6(&yaml) } else { yaml };
        for n in nodes.iter_mut().filter(|_| v6) {
            n.ip = to_v6(&n.ip.to_string()).parse().expect("ip");
        }
        let model = load(&yaml);
        for mut p in [
            profile(Cni::Upstream, EnforcingMode::Standard),
            profile(Cni::VpcCni, EnforcingMode::Standard),
        ] {
            p.nodes = nodes.clone();
            if v6 {
                p.ip_family = netpol_manifest::config::IpFamily::Ipv6;
            }
            let mut cfg = cfg.to_owned();
            if v6 && p.flags.cluster_ip_egress {
                // V15: two pods no rule connects are refuted on ICMPv6 alone (the solver
                // picks the protocol of the other counterexamples).
                let m = netpol_graph::Analysis::new(&model, &p).matrix();
                let pods: Vec<_> = (m.endpoints.iter())
                    .filter(|e| {
                        e.kind
                            == netpol_graph::EndpointType::Workload(
                                netpol_manifest::model::EndpointKind::Pod,
                            )
                    })
                    .collect();
                if let Some((a, b)) = pods
                    .iter()
                    .flat_map(|a| pods.iter().map(move |b| (a, b)))
                    .find(|(a, b)| a.id != b.id && m.ports(&a.id, &b.id).is_empty())
                {
                    cfg.push_str(&format!(
                        "  - name: icmpv6-only\n    scope: existing\n    deny: {{from: {{workload: {}}}, to: {{workload: {}}}}}\n",
                        a.id, b.id
                    ));
                }
            }
            let v = verify(&model, &p, &config(&cfg), &Options::default());
            for r in &v.results {
                if r.name == "icmpv6-only" {
                    assert!(
                        matches!(&r.outcome, Outcome::Refuted(cx) if cx.icmpv6),
                        "seed {seed}: {:?}",
                        r.outcome
                    );
                }
                let Outcome::Refuted(cx) = &r.outcome else {
                    continue;
                };
                let (m2, src, dst) = cx.materialize(&model);
                let a = netpol_graph::Analysis::new(&m2, &p);
                let Some(dst) = dst else { continue };
                if r.name == "isolated-all" {
                    // An open direction allows everything to or from an external address.
                    let m = a.matrix();
                    let Some(ext) = a
                        .endpoints()
                        .find(|e| e.kind == netpol_graph::EndpointType::External)
                    else {
                        continue;
                    };
                    for d in &cx.open_directions {
                        let ports = match d {
                            Direction::Ingress => m.ports(&ext.id, &dst),
                            Direction::Egress => m.ports(&dst, &ext.id),
                        };
                        assert!(
                            ports.is_all(),
                            "seed {seed}: {cx:#?} {d} {:?}",
                            ports.to_strings()
                        );
                    }
                    checked += 1;
                    continue;
                }
                let Some(src) = src else { continue };
                if src == dst {
                    // Two replicas of one workload: the matrix has no self pairs.
                    continue;
                }
                let m = a.matrix();
                let ok = match (&cx.via, cx.protocol, cx.port) {
                    // V5: the source reaches the Service port, and the backend admits it.
                    (Some((svc, sp)), Some(proto), Some(n)) => {
                        m.ports(&src, svc).contains(proto, *sp)
                            && a.explain(&src, &dst, None)
                                .is_some_and(|x| x.directions[1].allowed.contains(proto, n))
                    }
                    (_, Some(proto), Some(n)) => m.ports(&src, &dst).contains(proto, n),
                    // V15: passes at pods whatever the policies say.
                    _ if cx.icmpv6 => netpol_graph::switches::icmpv6_passes(&p),
                    _ => m.ports(&src, &dst).has_other(),
                };
                let allowed = m.ports(&src, &dst);
                // V7 widening: a third pod may be what opens the port; accept only when the
                // graph agrees or the port comes from a widened named port.
                let widened = p.flags.named_ports_vpc
                    && cx
                        .directions
                        .iter()
                        .any(|d| d.direction == Direction::Ingress && !d.rules.is_empty());
                assert!(
                    ok || widened,
                    "seed {seed} {}: {cx:#?} graph allows {:?}",
                    r.name,
                    allowed.to_strings()
                );
                checked += 1;
                checked6 += usize::from(v6);
                icmpv6 += usize::from(cx.icmpv6);
            }
        }
    }
    assert!(checked > 10, "only {checked} counterexamples checked");
    assert!(
        checked6 > 5 && icmpv6 > 0,
        "IPv6: {checked6}, ICMPv6: {icmpv6}"
    );
}

/// The shipped regression example: each counterexample, fed back into the graph, connects.
/// The models come from `check_assumptions`: one read after `push`/`pop` gave a source
/// that the graph denies.
#[test]
fn shop_regression_counterexamples_connect_in_the_graph() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/eks-shop-regression");
    let mut map = SourceMap::new();
    let mut sources = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("example folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !p.ends_with("netpol.yaml"))
        .collect();
    names.sort();
    for p in names {
        sources.push(Source::Bytes {
            name: p.display().to_string(),
            bytes: std::fs::read(&p).expect("manifest"),
        });
    }
    let model = netpol_manifest::load(&sources, &LoadOptions::default(), &mut map).model;
    let text = std::fs::read_to_string(dir.join("netpol.yaml")).expect("netpol.yaml");
    let cfg = config(&text);
    let p = Profile::new(&cfg.verification.cluster);
    let v = verify(&model, &p, &cfg, &Options::default());
    let mut refuted = 0;
    for r in &v.results {
        let Outcome::Refuted(cx) = &r.outcome else {
            continue;
        };
        refuted += 1;
        let (m2, src, dst) = cx.materialize(&model);
        let (Some(proto), Some(n)) = (cx.protocol, cx.port) else {
            panic!("{}: {cx:#?}", r.name)
        };
        let a = netpol_graph::Analysis::new(&m2, &p);
        let m = a.matrix();
        let ok = match (src, dst) {
            (Some(src), Some(dst)) => m.ports(&src, &dst).contains(proto, n),
            // An external destination: the graph names it by its range.
            (Some(src), None) => a.endpoints().any(|e| {
                e.kind == netpol_graph::EndpointType::External
                    && m.ports(&src, &e.id).contains(proto, n)
                    && cx.destination.ip.is_some_and(|ip| {
                        let (lo, hi) = e.id.split_once('-').expect("first-last");
                        let (lo, hi): (IpAddr, IpAddr) =
                            (lo.parse().expect("ip"), hi.parse().expect("ip"));
                        lo <= ip && ip <= hi
                    })
            }),
            _ => false,
        };
        assert!(ok, "{}: {cx:#?}", r.name);
    }
    assert_eq!(refuted, 2);
}
