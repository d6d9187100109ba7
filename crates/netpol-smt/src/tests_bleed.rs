//! `verify` under V11 (ipBlocks merged per CIDR, decided by the longest prefix): proofs the
//! rules' union gave and the agent refutes, `unknown` where the table may decide for
//! addresses the graph does not pin, and agreement with the graph on the fixture.

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
        pod_cidrs: vec!["10.1.0.0/16".parse().expect("cidr")],
        service_cidr: Some("172.20.0.0/16".parse().expect("cidr")),
        ..ClusterSettings::default()
    })
}

fn run(model: &netpol_manifest::Model, cni: Cni, assertions: &str) -> Vec<Outcome> {
    let text =
        format!("apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n{assertions}");
    let mut map = SourceMap::new();
    let file = map.add("netpol.yaml", text.clone());
    let (c, d) = parse_config(file, &text);
    assert!(d.is_empty(), "{d:?}");
    let v = verify(
        model,
        &profile(cni),
        &c.expect("config"),
        &Options::default(),
    );
    v.results.into_iter().map(|r| r.outcome).collect()
}

fn fixture() -> netpol_manifest::Model {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reach/vpc-except-bleed.yaml");
    load(&std::fs::read_to_string(path).expect("fixture"))
}

/// "DNS anywhere + internet except RFC 1918": the union proved DNS to CoreDNS; the agent's
/// deny-all key 10.1.0.0/16 (and 172.16.0.0/12 for the ClusterIP) drops it. db's /32
/// inherits "all ports" from 0.0.0.0/0 through 10.0.0.0/8, so the `deny` on port 80 the
/// union proved is refuted.
#[test]
fn v11_refutes_an_allow_and_a_deny_the_union_proved() {
    let model = fixture();
    let assertions = r#"  - name: dns
    scope: existing
    allow: {from: {workload: x/app}, to: {workload: kube-system/coredns}, ports: ["UDP/53"]}
  - name: db-80
    scope: existing
    deny: {from: {workload: x/app}, to: {workload: x/db}, ports: ["TCP/80"]}
  - name: db-443
    scope: existing
    allow: {from: {workload: x/app}, to: {workload: x/db}, ports: ["TCP/443"]}
  - name: internet
    scope: existing
    allow: {from: {workload: x/app}, to: {ipBlock: {cidr: 8.8.8.8/32}}, ports: ["TCP/443"]}
  - name: internet-80
    scope: existing
    deny: {from: {workload: x/app}, to: {ipBlock: {cidr: 8.8.8.8/32}}, ports: ["TCP/80"]}
  - name: private-external
    scope: existing
    allow: {from: {workload: x/app}, to: {ipBlock: {cidr: 10.1.200.1/32}}, ports: ["TCP/443"]}
"#;
    let up = run(&model, Cni::Upstream, assertions);
    assert_eq!(up[0], Outcome::Proved, "{up:?}");
    assert_eq!(up[1], Outcome::Proved, "{up:?}");
    let vpc = run(&model, Cni::VpcCni, assertions);
    let Outcome::Refuted(cx) = &vpc[0] else {
        panic!("dns: {:?}", vpc[0])
    };
    assert_eq!((cx.protocol, cx.port), (Some(Protocol::Udp), Some(53)));
    assert_eq!(cx.via, None, "the ClusterIP path is closed too");
    let Outcome::Refuted(cx) = &vpc[1] else {
        panic!("db-80: {:?}", vpc[1])
    };
    assert_eq!((cx.protocol, cx.port), (Some(Protocol::Tcp), Some(80)));
    // The counterexample says the longest-prefix key decided the source's egress (V11).
    let egress = (cx.directions.iter())
        .find(|t| t.direction == netpol_manifest::model::Direction::Egress)
        .expect("an egress trace");
    assert!(egress.longest_prefix && egress.allowed, "{egress:?}");
    assert_eq!(vpc[2], Outcome::Proved, "db-443");
    assert_eq!(vpc[3], Outcome::Proved, "internet");
    // Outside every except and cut key the union decides: a real refutation.
    assert!(matches!(vpc[4], Outcome::Refuted(_)), "{:?}", vpc[4]);
    // An external address inside the except: the deny-all key 10.1.0.0/16 decides.
    let Outcome::Refuted(cx) = &vpc[5] else {
        panic!("private-external: {:?}", vpc[5])
    };
    assert_eq!(cx.destination.ip, Some("10.1.200.1".parse().unwrap()));
    assert_eq!(
        up[5],
        Outcome::Proved,
        "the union admits it through 10.0.0.0/8"
    );
}

/// V11 agreement on the fixture: every pair of pods on the ports the policy names, `deny`
/// proved exactly when the graph's matrix has no connection (directly or through the
/// kube-dns ClusterIP); both answers occur.
#[test]
fn v11_agrees_with_the_graph_on_the_fixture() {
    let model = fixture();
    let analysis = netpol_graph::Analysis::new(&model, &profile(Cni::VpcCni));
    let m = analysis.matrix();
    let ids = ["x/app", "x/db", "kube-system/coredns"];
    let ports = [
        (Protocol::Udp, 53),
        (Protocol::Tcp, 53),
        (Protocol::Tcp, 80),
        (Protocol::Tcp, 443),
        (Protocol::Tcp, 5432),
    ];
    let mut text = String::new();
    let mut want = Vec::new();
    for a in ids {
        for b in ids.iter().copied().filter(|b| *b != a) {
            for (proto, n) in ports {
                text.push_str(&format!(
                    "  - name: {a} {b} {proto}/{n}\n    scope: existing\n    deny: {{from: {{workload: {a}}}, to: {{workload: {b}}}, ports: [\"{proto}/{n}\"]}}\n"
                ));
                let via = b == "kube-system/coredns"
                    && m.ports(a, "kube-system/kube-dns[Service]")
                        .contains(proto, n);
                want.push(!(m.ports(a, b).contains(proto, n) || via));
            }
        }
    }
    let got = run(&model, Cni::VpcCni, &text);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        match g {
            Outcome::Proved => assert!(*w, "#{i}: smt proved, graph connects"),
            Outcome::Refuted(_) => assert!(!*w, "#{i}: smt refuted, graph denies"),
            other => panic!("#{i}: {other:?}"),
        }
    }
    assert!(want.iter().any(|w| *w) && want.iter().any(|w| !*w));
}

/// Beyond the pair budget of exact V11 facts (`EXACT_PAIRS` in graph `rules/cidr_facts.rs`)
/// a pair in the region is `unknown`, naming V11, never `proved`: 150 pods whose egress
/// table has the deny-all key 10.0.0.0/8 list 22,350 pairs, so the pods listed last (by id)
/// get none; the first ones keep exact verdicts.
#[test]
fn v11_beyond_the_pair_budget_is_unknown() {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: egress\n  namespace: x\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}\n    ports: [{protocol: TCP, port: 443}]\n  - ports: [{protocol: UDP, port: 53}]\n",
    );
    for i in 0..150 {
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: app-{i}\n  namespace: x\n  labels: {{app: a}}\nspec:\n  containers: [{{name: c, image: i}}]\nstatus:\n  podIP: 10.1.0.{}\n",
            i + 1
        ));
    }
    let model = load(&yaml);
    let assertions = r#"  - name: first
    scope: existing
    deny: {from: {workload: x/app-0}, to: {workload: x/app-1}, ports: ["UDP/53"]}
  - name: last
    scope: existing
    deny: {from: {workload: x/app-99}, to: {workload: x/app-1}, ports: ["UDP/53"]}
"#;
    let up = run(&model, Cni::Upstream, assertions);
    assert!(
        matches!(up[1], Outcome::Refuted(_)),
        "the union allows DNS: {up:?}"
    );
    let vpc = run(&model, Cni::VpcCni, assertions);
    assert_eq!(
        vpc[0],
        Outcome::Proved,
        "exact facts: the deny-all key 10.0.0.0/8"
    );
    let Outcome::Unknown(why) = &vpc[1] else {
        panic!("beyond the budget: {:?}", vpc[1])
    };
    assert!(why.contains("V11"), "{why}");
}

/// V11 needs both directions: at a pod created later the egress table may decide otherwise
/// than the union toward db (its address is in the region), but db's ingress admits only
/// 5432, and no table decides db's ingress otherwise, so a `deny` on 80 holds whatever the
/// egress table says (unknown, naming V11 at a pod created later, on the old code).
#[test]
fn v11_an_egress_table_does_not_matter_where_ingress_denies() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reach/vpc-except-bleed.yaml");
    // Without the DNS rule to 0.0.0.0/0, which a Service created later could use (a
    // caveat of its own, docs/verify.md).
    let dns = "  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]\n    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]\n";
    let fixture = std::fs::read_to_string(path).expect("fixture");
    assert!(fixture.contains(dns));
    let yaml = fixture.replace(dns, "")
        + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: x, name: db-ingress}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  policyTypes: [Ingress]\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: app}}}]\n    ports: [{port: 5432}]\n";
    let model = load(&yaml);
    let assertions = r#"  - name: new-app-80
    deny: {from: {namespace: x, podSelector: {matchLabels: {app: app}}}, to: {workload: x/db}, ports: ["TCP/80"]}
  - name: new-app-5432
    deny: {from: {namespace: x, podSelector: {matchLabels: {app: app}}}, to: {workload: x/db}, ports: ["TCP/5432"]}
"#;
    let vpc = run(&model, Cni::VpcCni, assertions);
    assert_eq!(vpc[0], Outcome::Proved, "{vpc:?}");
    // The existing app reaches db on 5432 (its egress rule 3 and db's ingress).
    assert!(matches!(vpc[1], Outcome::Refuted(_)), "{vpc:?}");
}
