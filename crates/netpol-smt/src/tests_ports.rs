//! `verify` on the Service port mapping (V10): proofs the old, generous mapping gave and
//! the controller refutes, and `unknown` where the mapping turns on which backend the
//! controller meets first; ipBlocks at the node's address (V12).

use netpol_diag::SourceMap;
use netpol_graph::Profile;
use netpol_manifest::config::{ClusterSettings, Cni, EnforcingMode};
use netpol_manifest::model::Protocol;

use crate::config::parse_config;
use crate::tests::load;
use crate::*;

fn profile(cni: Cni) -> Profile {
    Profile::new(&ClusterSettings {
        cni,
        enforcing_mode: EnforcingMode::Standard,
        ..ClusterSettings::default()
    })
}

fn run(model: &netpol_manifest::Model, cni: Cni, assertions: &str) -> Vec<Outcome> {
    run_on(model, &profile(cni), assertions)
}

pub(crate) fn run_on(
    model: &netpol_manifest::Model,
    p: &Profile,
    assertions: &str,
) -> Vec<Outcome> {
    let text =
        format!("apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n{assertions}");
    let mut map = SourceMap::new();
    let file = map.add("netpol.yaml", text.clone());
    let (c, d) = parse_config(file, &text);
    assert!(d.is_empty(), "{d:?}");
    let v = verify(model, p, &c.expect("config"), &Options::default());
    v.results.into_iter().map(|r| r.outcome).collect()
}

pub(crate) fn fixture(name: &str) -> netpol_manifest::Model {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reach")
        .join(name);
    load(&std::fs::read_to_string(path).expect("fixture"))
}

/// V10, the range slot: the rule allows api's pods on 8080-8090 only, but NPC maps the
/// range's start 8080 to the first Service port with that target, 80, and opens the
/// ClusterIP slot [80, 8090], which covers Service port 443 -> api:9443. The old mapping
/// (Service ports whose targetPort lies in the range) proved this `deny`.
#[test]
fn v10_range_slot_refutes_a_deny_the_old_mapping_proved() {
    let model = fixture("vpc-service-port-mapping.yaml");
    let assertions = r#"  - name: no-admin
    scope: existing
    deny: {from: {workload: x/client}, to: {workload: svc/api}, ports: ["TCP/9443"]}
  - name: direct-range
    scope: existing
    allow: {from: {workload: x/client}, to: {workload: svc/api}, ports: ["TCP/8085"]}
"#;
    let vpc = run(&model, Cni::VpcCni, assertions);
    let Outcome::Refuted(cx) = &vpc[0] else {
        panic!("{:?}", vpc[0])
    };
    // The counterexample names the mechanism: the ClusterIP's port 443.
    assert_eq!(cx.via, Some(("svc/api[Service]".to_owned(), 443)));
    assert_eq!((cx.protocol, cx.port), (Some(Protocol::Tcp), Some(9443)));
    assert_eq!(vpc[1], Outcome::Proved);
    let up = run(&model, Cni::Upstream, assertions);
    assert_eq!(up, [Outcome::Proved, Outcome::Proved]);
}

/// Two backends name port 7000 differently, and the Service maps each name to its own
/// port: which Service port NPC opens depends on the backend it meets first. The peer's
/// `DoesNotExist` matches the Service's selector but not the backends, so the ClusterIP
/// is the only path: neither `deny` nor `allow` is decidable.
const ORDER: &str = r#"
apiVersion: v1
kind: Pod
metadata: {namespace: x, name: client, labels: {app: client}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {namespace: z, name: multi-a, labels: {app: multi, track: a}}
spec: {containers: [{name: c, image: i, ports: [{name: a, containerPort: 7000}]}]}
---
apiVersion: v1
kind: Pod
metadata: {namespace: z, name: multi-b, labels: {app: multi, track: b}}
spec: {containers: [{name: c, image: i, ports: [{name: NAME_B, containerPort: 7000}]}]}
---
apiVersion: v1
kind: Service
metadata: {namespace: z, name: multi}
spec: {clusterIP: 172.20.1.3, selector: {app: multi}, ports: [{name: a, port: 81, targetPort: a}, {name: b, port: 82, targetPort: b}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: x, name: client}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}, podSelector: {matchLabels: {app: multi}, matchExpressions: [{key: track, operator: DoesNotExist}]}}]
    ports: [{port: 7000}]
"#;

#[test]
fn v10_first_backend_choice_is_unknown() {
    let assertions = r#"  - name: deny
    scope: existing
    deny: {from: {workload: x/client}, to: {workload: z/multi-a}, ports: ["TCP/7000"]}
  - name: allow
    scope: existing
    allow: {from: {workload: x/client}, to: {workload: z/multi-a}, ports: ["TCP/7000"]}
"#;
    let model = load(&ORDER.replace("NAME_B", "b"));
    let got = run(&model, Cni::VpcCni, assertions);
    for o in &got {
        let Outcome::Unknown(why) = o else {
            panic!("{got:?}")
        };
        assert!(
            why.contains("z/multi[Service]") && why.contains("first"),
            "{why}"
        );
    }
    // When both backends name the port `a`, every choice is Service port 81: decided.
    let model = load(&ORDER.replace("NAME_B", "a"));
    let got = run(&model, Cni::VpcCni, assertions);
    assert!(matches!(got[0], Outcome::Refuted(_)), "{got:?}");
    assert_eq!(got[1], Outcome::Proved);
    // Under scope any a backend created later may name the port otherwise and be met
    // first (or trip the bypass check): the allow is not proved.
    let any = assertions.replace(
        "  - name: allow\n    scope: existing",
        "  - name: allow\n    scope: any",
    );
    assert_ne!(any, assertions);
    let got = run(&model, Cni::VpcCni, &any);
    assert!(!matches!(got[1], Outcome::Proved), "{got:?}");
    // Upstream: no ClusterIP path, and the peer matches neither pod.
    let got = run(&model, Cni::Upstream, assertions);
    assert_eq!(got[0], Outcome::Proved);
    assert!(matches!(got[1], Outcome::Refuted(_)), "{got:?}");
}

fn with_nodes(cni: Cni) -> Profile {
    let node = |name: &str, ip: &str| netpol_manifest::config::Node {
        name: name.to_owned(),
        ip: ip.parse().expect("ip"),
    };
    let mut p = profile(cni);
    p.nodes = vec![node("n1", "10.0.1.0"), node("n2", "10.0.1.1")];
    p
}

/// V12 only removes allows: each `allow` here was proved by the old code (and is upstream)
/// and the agent refutes it. api runs on n1 (10.0.1.0): its egress block 10.0.1.0/24 has
/// n1's address, so the agent drops it there; its ingress `except: [10.0.1.0/32]` is n1's
/// /32, whose deny-all key overwrites n1's exemption. worker, same policy on n2, keeps both.
#[test]
fn v12_node_ip_blocks_refute_allows_the_old_code_proved() {
    let model = fixture("vpc-node-ip-ipblock.yaml");
    let assertions = r#"  - name: api-to-cache
    scope: existing
    allow: {from: {workload: x/api}, to: {workload: x/cache}, ports: ["TCP/6379"]}
  - name: n1-to-api
    scope: existing
    allow: {from: {ipBlock: {cidr: 10.0.1.0/32}}, to: {workload: x/api}, ports: ["TCP/8080"]}
  - name: worker-to-cache
    scope: existing
    allow: {from: {workload: x/worker}, to: {workload: x/cache}, ports: ["TCP/6379"]}
  - name: n2-to-api
    scope: existing
    allow: {from: {ipBlock: {cidr: 10.0.1.1/32}}, to: {workload: x/api}, ports: ["TCP/8080"]}
"#;
    let vpc = run_on(&model, &with_nodes(Cni::VpcCni), assertions);
    assert!(matches!(vpc[0], Outcome::Refuted(_)), "{vpc:?}");
    assert!(matches!(vpc[1], Outcome::Refuted(_)), "{vpc:?}");
    assert_eq!(vpc[2..], [Outcome::Proved, Outcome::Proved]);
    let up = run_on(&model, &with_nodes(Cni::Upstream), assertions);
    assert_eq!(
        up,
        [
            Outcome::Proved,
            Outcome::Proved,
            Outcome::Proved,
            Outcome::Proved
        ]
    );
    // The counterexample of n1-to-api shows n1's address at api, which runs on n1.
    let Outcome::Refuted(cx) = &vpc[1] else {
        unreachable!()
    };
    assert_eq!(cx.destination.node.as_deref(), Some("n1"), "{cx:#?}");
}

/// A workload whose pods may run on either node: the matrix keeps the block (a replica on
/// n2 has it), `verify` cannot prove the `allow` (a replica on n1 does not).
#[test]
fn v12_replica_on_the_node_is_enough_to_refute_allow() {
    let yaml = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/reach/vpc-node-ip-ipblock.yaml"),
    )
    .expect("fixture")
    .replace(
        "metadata: {namespace: x, name: api, labels: {app: api}}\nspec: {containers: [{name: c, image: i}], nodeName: n1}\nstatus: {podIP: 10.0.1.50, hostIP: 10.0.1.0}",
        "metadata: {namespace: x, name: api, labels: {app: api}}\nspec: {containers: [{name: c, image: i}]}",
    );
    let model = load(&yaml);
    let p = with_nodes(Cni::VpcCni);
    let m = netpol_graph::Analysis::new(&model, &p).matrix();
    assert!(m.ports("x/api", "x/cache").contains(Protocol::Tcp, 6379));
    let got = run_on(
        &model,
        &p,
        "  - name: a\n    scope: existing\n    allow: {from: {workload: x/api}, to: {workload: x/cache}, ports: [\"TCP/6379\"]}\n  - name: d\n    scope: existing\n    deny: {from: {workload: x/api}, to: {workload: x/cache}, ports: [\"TCP/6379\"]}\n",
    );
    assert!(matches!(got[0], Outcome::Refuted(_)), "{got:?}");
    assert!(matches!(got[1], Outcome::Refuted(_)), "{got:?}");
}

/// Agreement with the graph on the V10 and V12 fixtures, pair by pair under scope
/// existing: a `deny` is proved exactly when the graph connects nothing (an `unknown` is
/// allowed only where the graph connects: V10's first-backend choice).
#[test]
fn v10_v12_fixtures_agree_with_the_graph() {
    use std::fmt::Write as _;
    let ports = [80, 443, 6379, 7000, 8080, 8085, 9090, 9443];
    let mut connected = 0;
    for (file, p) in [
        ("vpc-service-port-mapping.yaml", profile(Cni::VpcCni)),
        ("vpc-node-ip-ipblock.yaml", with_nodes(Cni::VpcCni)),
        ("vpc-node-ip-ipblock.yaml", with_nodes(Cni::Upstream)),
    ] {
        let model = fixture(file);
        let analysis = netpol_graph::Analysis::new(&model, &p);
        let ids: Vec<String> = model.endpoints.iter().map(|e| e.id()).collect();
        let mut text = String::new();
        let mut expected = Vec::new();
        for a in &ids {
            for b in ids.iter().filter(|b| *b != a) {
                for n in ports {
                    let _ = writeln!(
                        text,
                        "  - name: \"{a} -> {b} {n}\"\n    scope: existing\n    deny: {{from: {{workload: \"{a}\"}}, to: {{workload: \"{b}\"}}, ports: [\"TCP/{n}\"]}}"
                    );
                    let connects = crate::tests_services::graph_connects(
                        &model,
                        &analysis,
                        a,
                        b,
                        Protocol::Tcp,
                        n,
                    );
                    connected += usize::from(connects);
                    expected.push(connects);
                }
            }
        }
        let got = run_on(&model, &p, &text);
        for (i, (o, connects)) in got.iter().zip(&expected).enumerate() {
            let ok = match o {
                Outcome::Proved => !connects,
                Outcome::Refuted(_) | Outcome::Unknown(_) => *connects,
            };
            assert!(
                ok,
                "{file} assertion {i}: smt {o:?}, graph connects {connects}"
            );
        }
    }
    assert!(connected > 10);
}

/// V13: web's /32 at db has 27 port slots, so which survive is unknown: an `allow` that
/// needs one is `unknown` (never proved, as it was before V13), while a `deny` stands.
/// With 24 slots the same `allow` is proved.
#[test]
fn v13_allow_that_needs_a_truncated_slot_is_unknown() {
    let model = fixture("vpc-port-slots.yaml");
    let assertions = r#"  - name: allow-8001
    scope: existing
    allow: {from: {workload: x/web}, to: {workload: x/db}, ports: ["TCP/8001"]}
  - name: allow-9050
    allow: {from: {workload: x/web}, to: {workload: x/db}, ports: ["TCP/9050"]}
  - name: deny-7000
    deny: {from: {workload: x/web}, to: {workload: x/db}, ports: ["TCP/7000"]}
  - name: allow-7000
    scope: existing
    allow: {from: {workload: x/web}, to: {workload: x/db}, ports: ["TCP/7000"]}
"#;
    let vpc = run(&model, Cni::VpcCni, assertions);
    for o in &vpc[..2] {
        let Outcome::Unknown(why) = o else {
            panic!("{vpc:?}")
        };
        assert!(
            why.contains("27 distinct port slots") && why.contains("x/db"),
            "{why}"
        );
    }
    assert_eq!(vpc[2], Outcome::Proved);
    // Denied for sure (no slot matches): a real refutation.
    assert!(matches!(vpc[3], Outcome::Refuted(_)), "{vpc:?}");
    let up = run(&model, Cni::Upstream, assertions);
    assert_eq!(up[..3], [Outcome::Proved, Outcome::Proved, Outcome::Proved]);
    // 24 slots: nothing is truncated.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reach/vpc-port-slots.yaml");
    let yaml = std::fs::read_to_string(path).expect("fixture");
    let cut = &yaml[..yaml
        .find("  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 9000")
        .expect("cut")];
    let model = load(&cut.replace("{port: 8024},\n            {port: 8025}]", "{port: 8024}]"));
    assert_eq!(run(&model, Cni::VpcCni, assertions)[0], Outcome::Proved);
}

/// V13 on a ClusterIP: client reaches db:9000 only through Service port 80, whose slot on
/// the ClusterIP key is one of 25 (1 own, 24 inherited from the ipBlock holding the
/// ClusterIP): the old code proved the `allow`, now it is unknown naming the ClusterIP;
/// with 24 slots it is proved. The same when the ipBlock's own key is over 24 and admits
/// Service port 80 itself (the flow through the ClusterIP needs one of its slots).
#[test]
fn v13_allow_through_a_truncated_cluster_ip_key_is_unknown() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reach/vpc-port-slots-cluster-ip.yaml");
    let yaml = std::fs::read_to_string(path).expect("fixture");
    let assertions = r#"  - name: via-cluster-ip
    scope: existing
    allow: {from: {workload: x/client}, to: {workload: x/db}, ports: ["TCP/9000"]}
  - name: no-other-port
    scope: existing
    deny: {from: {workload: x/client}, to: {workload: x/db}, ports: ["TCP/9001"]}
"#;
    let out = run(&load(&yaml), Cni::VpcCni, assertions);
    let Outcome::Unknown(why) = &out[0] else {
        panic!("{out:?}")
    };
    assert!(
        why.contains("Service x/db")
            && why.contains("25 distinct port slots")
            && why.contains("x/client"),
        "{why}"
    );
    assert_eq!(out[1], Outcome::Proved);
    let fewer = yaml.replace("{port: 2000}, ", "");
    assert_eq!(
        run(&load(&fewer), Cni::VpcCni, assertions),
        [Outcome::Proved, Outcome::Proved]
    );
    // Only the ipBlock admits the ClusterIP, on 25 slots with Service port 80 among them.
    let cidr_only = yaml
        .replace("  - to: [{podSelector: {matchLabels: {app: db}}}]\n    ports: [{port: 79, endPort: 81}]\n", "")
        .replace("{port: 2000}, ", "{port: 80}, {port: 2000}, ");
    assert!(!cidr_only.contains("endPort"));
    let out = run(&load(&cidr_only), Cni::VpcCni, assertions);
    let Outcome::Unknown(why) = &out[0] else {
        panic!("{out:?}")
    };
    assert!(
        why.contains("172.20.0.0/16") && why.contains("25 distinct port slots"),
        "{why}"
    );
    assert_eq!(
        run(
            &load(&cidr_only.replace("{port: 2000}, ", "")),
            Cni::VpcCni,
            assertions
        )[0],
        Outcome::Proved
    );
}

/// V13 agreement: for every port around the fixture's slots, `allow web -> db` is refuted
/// where the matrix has no edge, `unknown` where the graph's facts call the port
/// uncertain, and proved otherwise; with 24 slots, proved wherever allowed.
#[test]
fn v13_verdicts_agree_with_the_graph_facts() {
    use std::fmt::Write as _;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reach/vpc-port-slots.yaml");
    let full = std::fs::read_to_string(path).expect("fixture");
    // 24 slots: the second rule and port 8025 gone.
    let cut = &full[..full
        .find("  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 9000")
        .expect("cut")];
    let fewer = cut.replace("{port: 8024},\n            {port: 8025}]", "{port: 8024}]");
    let ports = [
        7000, 8000, 8001, 8013, 8025, 8026, 8999, 9000, 9050, 9100, 9101,
    ];
    let mut unknown = 0;
    for yaml in [full.clone(), fewer] {
        let model = load(&yaml);
        let p = profile(Cni::VpcCni);
        let analysis = netpol_graph::Analysis::new(&model, &p);
        let facts = analysis.truncated_slots();
        let mut text = String::new();
        for n in ports {
            let _ = writeln!(
                text,
                "  - name: \"{n}\"\n    scope: existing\n    allow: {{from: {{workload: x/web}}, to: {{workload: x/db}}, ports: [\"TCP/{n}\"]}}"
            );
        }
        let got = run_on(&model, &p, &text);
        for (n, o) in ports.iter().zip(&got) {
            let allowed = analysis
                .matrix()
                .ports("x/web", "x/db")
                .contains(Protocol::Tcp, *n);
            let unsure = facts.iter().any(|f| {
                f.keys
                    .iter()
                    .any(|k| k.uncertain.contains(Protocol::Tcp, *n))
            });
            let ok = match o {
                Outcome::Proved => allowed && !unsure,
                Outcome::Unknown(_) => allowed && unsure,
                Outcome::Refuted(_) => !allowed,
            };
            unknown += usize::from(matches!(o, Outcome::Unknown(_)));
            assert!(ok, "TCP/{n}: {o:?}, allowed {allowed}, uncertain {unsure}");
        }
    }
    assert!(unknown > 0);
}
