//! Property test: on random small clusters, under every profile, the class-compressed
//! engine gives exactly the matrix of the per-pair evaluator.

use netpol_manifest::Model;
use netpol_manifest::config::{Cni, EnforcingMode};
use netpol_manifest::model::{
    EndpointKind, Operator, Peer, PolicyPort, PortRef, Protocol, Requirement, Rule, Selector,
};
use proptest::prelude::*;

use super::build::*;
use crate::Analysis;

fn requirement() -> impl Strategy<Value = Requirement> {
    let key = prop_oneof![Just("app"), Just("tier")];
    let vals = proptest::collection::vec(prop_oneof![Just("x"), Just("y"), Just("web")], 1..3);
    (key, 0..4u8, vals).prop_map(|(k, op, vals)| match op {
        0 => req(k, Operator::In, &vals),
        1 => req(k, Operator::NotIn, &vals),
        2 => req(k, Operator::Exists, &[]),
        _ => req(k, Operator::DoesNotExist, &[]),
    })
}

fn selector() -> impl Strategy<Value = Selector> {
    proptest::collection::vec(requirement(), 0..3).prop_map(|mut r| {
        r.sort();
        r.dedup();
        Selector {
            requirements: r,
            span: None,
        }
    })
}

fn ns_selector() -> impl Strategy<Value = Selector> {
    prop_oneof![
        Just(sel(&[])),
        Just(sel(&[("team", "a")])),
        Just(sel(&[("kubernetes.io/metadata.name", "y")])),
    ]
}

fn peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        3 => (proptest::option::of(ns_selector()), proptest::option::of(selector()))
            .prop_map(|(n, p)| pods_peer(n, p)),
        1 => Just(block("10.0.0.0/24", &["10.0.0.128/25"])),
        1 => Just(block("0.0.0.0/0", &[])),
        1 => Just(block("10.0.0.0/8", &[])),
        1 => Just(block("192.168.1.0/24", &[])),
    ]
}

fn policy_port() -> impl Strategy<Value = PolicyPort> {
    prop_oneof![
        Just(port(Protocol::Tcp, 80)),
        Just(port_range(Protocol::Tcp, 8000, 8100)),
        Just(port(Protocol::Udp, 53)),
        Just(named(Protocol::Tcp, "http")),
        Just(named(Protocol::Udp, "dns")),
        Just(all_of(Protocol::Tcp)),
    ]
}

fn a_rule() -> impl Strategy<Value = Rule> {
    (
        proptest::collection::vec(peer(), 0..3),
        proptest::collection::vec(policy_port(), 0..3),
    )
        .prop_map(|(peers, ports)| rule(peers, ports))
}

fn endpoint() -> impl Strategy<Value = netpol_manifest::model::Endpoint> {
    (
        prop_oneof![Just("x"), Just("y")],
        0..6u8,
        proptest::option::of(prop_oneof![Just("x"), Just("y"), Just("web")]),
        proptest::option::of(prop_oneof![Just("x"), Just("web")]),
        0..4u8,
        0..8u8,
        0..4u8,
    )
        .prop_map(|(ns, name, app, tier, ports, flags, node)| {
            let mut l = Vec::new();
            if let Some(a) = app {
                l.push(("app", a));
            }
            if let Some(t) = tier {
                l.push(("tier", t));
            }
            // `p0-0`, `p0-2` and `p0-4` share the agent pod identifier `p0` (V9).
            let mut e = pod(ns, &format!("p{}-{name}", name % 2), &l);
            if flags & 1 == 1 {
                e.kind = EndpointKind::Deployment;
            } else if flags & 2 == 2 {
                e.pod_ip = Some(ip(&format!("10.0.0.{}", 100 + u16::from(name) * 10)));
            }
            // 7: a hostNetwork Deployment, whose pods may carry any node's IP.
            e.host_network = matches!(flags, 4 | 5 | 7);
            if flags == 5 {
                // A hostNetwork DaemonSet: its pods carry every node's IP (V6).
                e.kind = EndpointKind::DaemonSet;
            }
            if node > 0 && e.kind == EndpointKind::Pod {
                if flags == 6 {
                    // Known from status.hostIP alone (the profiles' node IPs).
                    e.host_ip = Some(ip(if node == 1 {
                        "192.168.1.1"
                    } else {
                        "10.0.0.50"
                    }));
                } else {
                    // n3 is not configured: the pod runs on a node netpol does not know.
                    e.node_name = Some(format!("n{node}"));
                }
            }
            e.ports = match ports {
                0 => vec![],
                1 => vec![cport("http", Protocol::Tcp, 80)],
                2 => vec![
                    cport("http", Protocol::Tcp, 8080),
                    cport("dns", Protocol::Udp, 53),
                ],
                _ => vec![cport("dns", Protocol::Udp, 5353)],
            };
            e
        })
}

pub(crate) fn model() -> impl Strategy<Value = Model> {
    let pol = (
        prop_oneof![Just("x"), Just("y")],
        selector(),
        0..4u8,
        proptest::collection::vec(a_rule(), 0..4),
        proptest::collection::vec(a_rule(), 0..4),
    );
    (
        proptest::collection::vec(endpoint(), 1..7),
        // Up to 5 policies of up to 3 rules per direction: a pod selected by many rules
        // is where the engine's candidate shortcuts are (see the committed regression).
        proptest::collection::vec(pol, 0..6),
        0..3u8,
        proptest::collection::vec((0..7usize, 0..5usize), 0..3),
        proptest::collection::vec((0..7usize, 0..3usize), 0..3),
    )
        .prop_map(|(eps, pols, svcs, twins, siblings)| {
            let mut m = Model {
                namespaces: vec![namespace("x", &[("team", "a")]), namespace("y", &[])],
                ..Model::default()
            };
            for e in eps {
                if m.endpoints.iter().all(|o| o.id() != e.id()) {
                    m.endpoints.push(e);
                }
            }
            // Twins: bare pods equal to another but for name and IP, on either side of the
            // blocks' edges (10.0.0.128/25 is an except of 10.0.0.0/24), so the engine
            // must merge them exactly when no ipBlock tells their IPs apart.
            for (j, (of, addr)) in twins.into_iter().enumerate() {
                let mut t = m.endpoints[of % m.endpoints.len()].clone();
                if t.kind != EndpointKind::Pod || t.host_network {
                    continue;
                }
                t.name = format!("{}-t{j}", t.name);
                t.pod_ip = Some(ip([
                    "10.0.0.7",
                    "10.0.0.127",
                    "10.0.0.128",
                    "10.1.0.9",
                    "192.168.1.77",
                ][addr]));
                m.endpoints.push(t);
            }
            // V9 siblings: bare pods of another's identifier on its node, with other labels.
            for (j, (of, app)) in siblings.into_iter().enumerate() {
                let mut t = m.endpoints[of % m.endpoints.len()].clone();
                if t.kind != EndpointKind::Pod || t.host_network {
                    continue;
                }
                let prefix = t
                    .name
                    .rsplit_once('-')
                    .map_or(t.name.clone(), |(p, _)| p.to_owned());
                t.name = format!("{prefix}-s{j}");
                t.pod_ip = None;
                t.labels = [("app", "x"), ("app", "web"), ("tier", "web")][app..=app]
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                m.endpoints.push(t);
            }
            for (i, (ns, subject, types, ingress, egress)) in pols.into_iter().enumerate() {
                let mut p = policy(ns, &format!("np{i}"), subject);
                p.ingress = ingress;
                p.egress = egress;
                let p = match types {
                    0 => declared(p, true, false),
                    1 => declared(p, false, true),
                    2 => declared(p, true, true),
                    _ => p,
                };
                m.policies.push(p);
            }
            if svcs > 0 {
                m.services.push(service(
                    "x",
                    "s1",
                    Some(&[("app", "web")]),
                    vec![sport(80, PortRef::Name("http".into()))],
                ));
            }
            if svcs > 1 {
                // Selectorless (like default/kubernetes): its endpoints are not pods.
                m.services.push(service(
                    "y",
                    "s2",
                    None,
                    vec![
                        sport(53, PortRef::Number(53)),
                        sport(81, PortRef::Number(8080)),
                    ],
                ));
            }
            finish(m)
        })
}

pub(crate) fn profiles() -> Vec<crate::Profile> {
    let mut res = Vec::new();
    for (cni, mode) in [
        (Cni::Upstream, EnforcingMode::Standard),
        (Cni::VpcCni, EnforcingMode::Standard),
        (Cni::VpcCni, EnforcingMode::Strict),
    ] {
        let p = profile(cni, mode);
        res.push(p.clone());
        let mut q = with_nodes(p, &[("n1", "192.168.1.1"), ("n2", "10.0.0.50")]);
        q.pod_cidrs = vec!["10.0.0.0/24".parse().expect("cidr")];
        q.service_cidr = Some("172.20.0.0/16".parse().expect("cidr"));
        res.push(q);
    }
    res
}

fn filters() -> Vec<crate::Filter> {
    let f = |from: Option<&str>, to: Option<&str>, port: Option<(Protocol, u16)>| crate::Filter {
        from: from.map(str::to_owned),
        to: to.map(str::to_owned),
        port,
    };
    vec![
        f(None, None, None),
        f(Some("x/*"), None, None),
        f(None, Some("y/p1"), None),
        f(Some("x/*"), Some("x/*"), Some((Protocol::Tcp, 80))),
        f(None, None, Some((Protocol::Udp, 53))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(800))]
    #[test]
    fn engine_matches_per_pair_evaluator(m in model()) {
        for p in profiles() {
            let a = Analysis::new(&m, &p);
            let (fast, slow) = (a.matrix(), a.reference_matrix());
            prop_assert_eq!(super::lines(&fast), super::lines(&slow), "profile {:?} {:?}", p.cni, p.enforcing_mode);
            prop_assert_eq!(super::classes::check_classes(&fast), Ok(()));
            // Filters split the engine's groups; the result must not depend on them.
            for f in filters() {
                let (ff, sf) = (fast.filter(&f), slow.filter(&f));
                prop_assert_eq!(super::lines(&ff), super::lines(&sf), "{:?}", f);
                prop_assert_eq!(&ff.endpoints, &sf.endpoints, "{:?}", f);
                prop_assert_eq!(ff.connection_count(), sf.connection_count());
            }
            prop_assert_eq!(fast.connection_count(), slow.connection_count());
        }
    }
}

/// The same agreement on the synthetic generator's random clusters, through the loader.
#[test]
fn engine_matches_evaluator_on_synthetic_clusters() {
    use crate::synth::{SynthConfig, generate};
    use netpol_manifest::{LoadOptions, Source};
    for seed in 0..48 {
        let yaml = generate(&SynthConfig::tiny(seed));
        let mut map = netpol_diag::SourceMap::new();
        let loaded = netpol_manifest::load(
            &[Source::Bytes {
                name: format!("synth-{seed}.yaml"),
                bytes: yaml.into_bytes(),
            }],
            &LoadOptions::default(),
            &mut map,
        );
        assert!(
            !loaded.model.endpoints.is_empty(),
            "seed {seed}: no endpoints"
        );
        for p in profiles() {
            let a = Analysis::new(&loaded.model, &p);
            let fm = a.matrix();
            if let Err(e) = super::classes::check_classes(&fm) {
                panic!("seed {seed}: {e}");
            }
            let fast = super::lines(&fm);
            let slow = super::lines(&a.reference_matrix());
            assert_eq!(
                fast, slow,
                "seed {seed}, profile {:?} {:?}",
                p.cni, p.enforcing_mode
            );
        }
    }
}

/// The random clusters above contain pod identifier collisions that change a pod's
/// selecting-policy set (V9), both certain (a sibling on the same node) and order-dependent
/// ones, so the
/// agreement covers them.
#[test]
fn random_clusters_share_pod_identifiers() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut certain, mut ranged) = (0, 0);
    for _ in 0..300 {
        let m = model().new_tree(&mut runner).expect("tree").current();
        for p in profiles() {
            for (_, r) in Analysis::new(&m, &p).identifier_ranges() {
                certain += usize::from(r.lower != r.own);
                ranged += usize::from(r.lower != r.upper);
            }
        }
    }
    assert!(
        certain > 0 && ranged > 0,
        "{certain} certain, {ranged} ranged"
    );
}
