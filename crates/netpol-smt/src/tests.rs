//! Tests of the encoding against hand-checked clusters and against the graph engine:
//! per-pair agreement on generated clusters (scope existing) and counterexamples fed back
//! into the graph as concrete pods.

use std::net::Ipv4Addr;

use netpol_diag::{Code, SourceMap};
use netpol_graph::Profile;
use netpol_graph::synth::{self, SynthConfig};
use netpol_manifest::config::{ClusterSettings, Cni, EnforcingMode};
use netpol_manifest::model::{Direction, Protocol};
use netpol_manifest::{LoadOptions, Model, Source};

use crate::config::{Pair, PeerSpec, parse_config};
use crate::tests_services::graph_connects;
use crate::*;

/// The model of `yaml`, which must load without errors (shared with `tests_services`).
pub(crate) fn load(yaml: &str) -> Model {
    let mut map = SourceMap::new();
    let loaded = netpol_manifest::load(
        &[Source::Bytes {
            name: "test.yaml".to_owned(),
            bytes: yaml.as_bytes().to_vec(),
        }],
        &LoadOptions::default(),
        &mut map,
    );
    let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    loaded.model
}

pub(crate) fn config(text: &str) -> ParsedConfig {
    let mut map = SourceMap::new();
    let file = map.add("netpol.yaml", text.to_owned());
    let (c, d) = parse_config(file, text);
    assert!(d.is_empty(), "{d:?}");
    c.expect("config")
}

pub(crate) fn profile(cni: Cni, mode: EnforcingMode) -> Profile {
    Profile::new(&ClusterSettings {
        cni,
        enforcing_mode: mode,
        ..ClusterSettings::default()
    })
}

fn outcomes(model: &Model, p: &Profile, cfg: &str) -> Vec<(String, &'static str)> {
    let v = verify(model, p, &config(cfg), &Options::default());
    v.results
        .iter()
        .map(|r| (r.name.clone(), r.outcome.as_str()))
        .collect()
}

/// The verdicts alone, in assertion order.
pub(crate) fn verdicts(model: &Model, p: &Profile, cfg: &str) -> Vec<&'static str> {
    outcomes(model, p, cfg).into_iter().map(|o| o.1).collect()
}

const SHOP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {env: dev}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: tool, namespace: dev}
spec:
  selector: {matchLabels: {app: tool}}
  template:
    metadata: {labels: {app: tool}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: pg}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-to-db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
"#;

const SHOP_ASSERTIONS: &str = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: dev-cannot-reach-prod
    deny: {from: {namespaceSelector: {matchLabels: {env: dev}}}, to: {namespace: shop}}
  - name: dev-cannot-reach-any-prod
    deny: {from: {namespaceSelector: {matchLabels: {env: dev}}}, to: {namespaceSelector: {matchLabels: {env: prod}}}}
  - name: api-reaches-db
    scope: existing
    allow: {from: {workload: shop/api}, to: {workload: shop/db}, ports: ["TCP/5432"]}
  - name: api-reaches-db-any
    allow: {from: {namespace: shop, podSelector: {matchLabels: {app: api}}}, to: {namespace: shop, podSelector: {matchLabels: {app: db}}}, ports: ["TCP/5432"]}
  - name: db-only-from-api
    only: {to: {namespace: shop, podSelector: {matchLabels: {app: db}}}, from: [{namespace: shop, podSelector: {matchLabels: {app: api}}}]}
  - name: shop-isolated
    isolated: {pods: {namespace: shop}}
  - name: dev-isolated
    isolated: {pods: {namespace: dev}, directions: [Ingress]}
  - name: anything-reaches-dev
    scope: existing
    deny: {from: {}, to: {namespace: dev}}
  - name: ghost-is-open
    deny: {from: {namespace: ghost}, to: {namespace: ghost}, ports: ["UDP/53"]}
  - name: nothing-named-x
    deny: {from: {podSelector: {matchLabels: {app: nope}}, workload: shop/api}, to: {}}
"#;

#[test]
fn shop_upstream_verdicts() {
    let model = load(SHOP);
    let got = outcomes(
        &model,
        &profile(Cni::Upstream, EnforcingMode::Standard),
        SHOP_ASSERTIONS,
    );
    let want = [
        ("dev-cannot-reach-prod", "proved"),
        // A future pod in a new namespace labelled env=prod has no policy.
        ("dev-cannot-reach-any-prod", "refuted"),
        ("api-reaches-db", "proved"),
        // A future api pod in shop without the `pg` port on the db side: db is a future pod
        // too, so it may not declare `pg`, and the named port does not resolve.
        ("api-reaches-db-any", "refuted"),
        ("db-only-from-api", "proved"),
        ("shop-isolated", "proved"),
        ("dev-isolated", "refuted"),
        ("anything-reaches-dev", "refuted"),
        ("ghost-is-open", "refuted"),
        ("nothing-named-x", "proved"),
    ];
    let want: Vec<(String, &str)> = want.iter().map(|(a, b)| ((*a).to_owned(), *b)).collect();
    assert_eq!(got, want);
}

#[test]
fn vacuous_assertions_warn() {
    let model = load(SHOP);
    let v = verify(
        &model,
        &profile(Cni::Upstream, EnforcingMode::Standard),
        &config(SHOP_ASSERTIONS),
        &Options::default(),
    );
    let vac: Vec<&str> = v
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::VacuousAssertion)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(vac.len(), 1, "{vac:?}");
    assert!(vac[0].contains("nothing-named-x"));
}

#[test]
fn strict_mode_denies_unselected_pods() {
    let model = load(SHOP);
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: dev-isolated
    isolated: {pods: {namespace: dev}}
  - name: new-namespaces-isolated
    isolated: {pods: {namespace: brand-new}}
"#;
    let strict = outcomes(&model, &profile(Cni::VpcCni, EnforcingMode::Strict), cfg);
    assert!(strict.iter().all(|(_, o)| *o == "proved"), "{strict:?}");
    let standard = outcomes(&model, &profile(Cni::VpcCni, EnforcingMode::Standard), cfg);
    assert!(
        standard.iter().all(|(_, o)| *o == "refuted"),
        "{standard:?}"
    );
}

#[test]
fn unknown_reference_is_an_error() {
    let model = load(SHOP);
    let cfg = "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: a\n    deny: {from: {workload: shop/nope}, to: {}}\n";
    let v = verify(
        &model,
        &profile(Cni::Upstream, EnforcingMode::Standard),
        &config(cfg),
        &Options::default(),
    );
    assert_eq!(v.results[0].outcome.as_str(), "unknown");
    assert_eq!(v.diagnostics[0].code, Code::UnknownReference);
}

/// V7 under scope any: a further pod selected by the same policy may declare `http` with
/// any number, so a deny on a port nobody declares today is refuted.
#[test]
fn vpc_named_ingress_ports_widen_under_any() {
    let model = load(SHOP);
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: api-to-db-9999-existing
    scope: existing
    deny: {from: {workload: shop/api}, to: {workload: shop/db}, ports: ["TCP/9999"]}
  - name: api-to-db-9999-any
    deny: {from: {namespace: shop, podSelector: {matchLabels: {app: api}}}, to: {workload: shop/db}, ports: ["TCP/9999"]}
"#;
    let got = outcomes(&model, &profile(Cni::VpcCni, EnforcingMode::Standard), cfg);
    assert_eq!(got[0].1, "proved");
    // Egress of an api pod allows only TCP/5432, so 9999 stays denied even when widened.
    assert_eq!(got[1].1, "proved");
    let cfg2 = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: x
    deny: {from: {workload: dev/tool}, to: {workload: shop/db}, ports: ["TCP/9999"]}
"#;
    // dev/tool is not an api pod: ingress at db denies it whatever the port.
    let got = outcomes(&model, &profile(Cni::VpcCni, EnforcingMode::Standard), cfg2);
    assert_eq!(got[0].1, "proved");
}

/// SHOP plus a Service in front of db (port 80 -> targetPort 5432) and an api egress rule
/// that admits the Service CIDR on TCP/80 only.
fn shop_with_service(service_cidr: &str) -> (Model, Profile) {
    let yaml = format!(
        "{SHOP}---
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: shop}}
spec:
  selector: {{app: db}}
  clusterIP: 172.20.0.10
  ports: [{{port: 80, targetPort: 5432}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: api-to-services, namespace: shop}}
spec:
  podSelector: {{matchLabels: {{app: api}}}}
  policyTypes: [Egress]
  egress:
  - to: [{{ipBlock: {{cidr: {service_cidr}}}}}]
    ports: [{{port: 80}}]
"
    );
    let mut p = profile(Cni::VpcCni, EnforcingMode::Standard);
    p.service_cidr = Some("172.20.0.0/16".parse().expect("cidr"));
    p.pod_cidrs = vec!["10.0.0.0/16".parse().expect("cidr")];
    (load(&yaml), p)
}

/// V5 (docs/semantics.md V5, V3; vpc-cni-semantics.md §1.3 row 1 and §1.2 ipBlock row):
/// through the db Service (port 80, targetPort 5432), an egress ipBlock on the Service
/// CIDR for TCP/80 lets api reach db's pods on 5432. Upstream has no such path, and a block
/// that misses the ClusterIP opens nothing.
#[test]
fn cluster_ip_egress_reaches_backends_on_the_target_port() {
    let (model, vpc) = shop_with_service("172.20.0.0/16");
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: api-cannot-reach-db-on-80
    deny: {from: {workload: shop/api}, to: {workload: shop/db}, ports: ["TCP/80"]}
  - name: api-to-db-5432-only-direct
    scope: existing
    deny: {from: {workload: shop/api}, to: {workload: shop/db}, ports: ["TCP/5432"]}
  - name: any-api-to-db
    deny: {from: {namespace: shop, podSelector: {matchLabels: {app: api}}}, to: {namespace: shop, podSelector: {matchLabels: {app: db}}}, ports: ["TCP/5432"]}
"#;
    // Direct egress allows 5432 anyway and ingress at db allows only `pg` (5432), so 80 is
    // closed and 5432 open. Without the direct rule, 5432 is open through the Service only.
    let no_direct = {
        let mut m = model.clone();
        m.policies.retain(|p| p.name != "api-to-db");
        m
    };
    // The first holds for the Services of the manifests, but the ipBlock on the Service CIDR
    // with a numeric port could admit a Service created later (proof-limitation), so under
    // scope any it is unknown rather than proved.
    assert_eq!(
        verdicts(&model, &vpc, cfg),
        ["unknown", "refuted", "refuted"]
    );
    assert_eq!(
        verdicts(&no_direct, &vpc, cfg),
        ["unknown", "refuted", "refuted"]
    );
    // Over the existing pods and Services it is proved.
    let existing = cfg.replacen(
        "  - name: api-cannot-reach-db-on-80\n",
        "  - name: api-cannot-reach-db-on-80\n    scope: existing\n",
        1,
    );
    assert_eq!(verdicts(&model, &vpc, &existing)[0], "proved");
    let v = verify(&no_direct, &vpc, &config(cfg), &Options::default());
    let Outcome::Refuted(cx) = &v.results[1].outcome else {
        unreachable!()
    };
    assert_eq!(cx.via, Some(("shop/db[Service]".to_owned(), 80)));
    assert_eq!((cx.protocol, cx.port), (Some(Protocol::Tcp), Some(5432)));
    // Re-checked in the graph: the edge to the Service carries port 80, not the pod edge.
    let (m2, src, dst) = cx.materialize(&no_direct);
    let (src, dst) = (src.expect("source"), dst.expect("destination"));
    let matrix = netpol_graph::Analysis::new(&m2, &vpc).matrix();
    assert!(
        matrix
            .ports(&src, "shop/db[Service]")
            .contains(Protocol::Tcp, 80)
    );
    assert!(!matrix.ports(&src, &dst).contains(Protocol::Tcp, 5432));
    // Upstream: no ClusterIP path, and without the direct rule api's egress is closed.
    let up = profile(Cni::Upstream, EnforcingMode::Standard);
    assert_eq!(
        verdicts(&no_direct, &up, cfg),
        ["proved", "proved", "proved"]
    );
    // An ipBlock that misses the ClusterIP opens nothing.
    let (model, vpc) = shop_with_service("172.21.0.0/16");
    let mut model = model;
    model.policies.retain(|p| p.name != "api-to-db");
    assert_eq!(verdicts(&model, &vpc, cfg), ["proved", "proved", "proved"]);
    // Unless the pod CIDRs are unknown (V3): then db's pods may have an address in it.
    let mut vpc = vpc;
    vpc.pod_cidrs.clear();
    assert_eq!(verdicts(&model, &vpc, cfg)[0], "refuted");
}

/// `proof-limitation` (docs/verify.md "Services created later"; V5 matches ipBlocks and an
/// omitted `to` against the Service `port`, vpc-cni-semantics.md §1.3 row 1) names the
/// scope-any proofs a later Service could break, at the rule that could admit it, makes them
/// `unknown`, and stays silent when no egress rule can.
#[test]
fn proof_limitation_points_at_rules_that_admit_new_services() {
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: dev-cannot-reach-shop
    deny: {from: {namespace: dev}, to: {namespace: shop}}
  - name: existing-only
    scope: existing
    deny: {from: {namespace: dev}, to: {namespace: shop}}
"#;
    let codes = |model: &Model, p: &Profile| -> Vec<String> {
        verify(model, p, &config(cfg), &Options::default())
            .diagnostics
            .iter()
            .map(|d| format!("{} {}", d.code.as_str(), d.message))
            .collect()
    };
    let vpc = profile(Cni::VpcCni, EnforcingMode::Standard);
    // SHOP's egress rules select pods by `In` with numeric ports: nothing to warn about;
    // nor about an allow-all egress rule, which admits every pod directly.
    assert_eq!(codes(&load(SHOP), &vpc), Vec::<String>::new());
    let allow_all = format!(
        "{SHOP}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: all-out, namespace: dev}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress: [{{}}]\n"
    );
    assert_eq!(codes(&load(&allow_all), &vpc), Vec::<String>::new());
    let to_any_443 = allow_all.replace("egress: [{}]", "egress: [{ports: [{port: 443}]}]");
    assert_eq!(codes(&load(&to_any_443), &vpc).len(), 1);
    // An ipBlock egress rule covering the Service CIDR could admit a new ClusterIP.
    let (model, p) = shop_with_service("172.20.0.0/16");
    let got = codes(&model, &p);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("proof-limitation"), "{got:?}");
    assert!(got[0].contains("`dev-cannot-reach-shop`") && !got[0].contains("existing-only"));
    // Such a proof is not a proof: the scope-any verdict is unknown, not proved.
    assert_eq!(verdicts(&model, &p, cfg), ["unknown", "proved"]);
    // Outside the Service CIDR it cannot; upstream has no ClusterIP paths at all.
    let (model, p) = shop_with_service("10.50.0.0/16");
    assert_eq!(codes(&model, &p), Vec::<String>::new());
    assert_eq!(verdicts(&model, &p, cfg), ["proved", "proved"]);
    let (model, _) = shop_with_service("172.20.0.0/16");
    assert_eq!(
        codes(&model, &profile(Cni::Upstream, EnforcingMode::Standard)),
        Vec::<String>::new()
    );
}

/// V4 and S10 under scope any (docs/semantics.md V4, S10; vpc-cni-semantics.md §1.2 "Traffic
/// from the pod's own node"; docs/verify.md "VPC CNI under scope any"): a future shop pod may
/// run on a configured node, and then accepts that node's traffic although default deny
/// selects it.
#[test]
fn node_exemption_covers_future_pods_on_configured_nodes() {
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: node-cannot-reach-shop
    deny: {from: {ipBlock: {cidr: 10.99.0.1/32}}, to: {namespace: shop, podSelector: {matchLabels: {app: api}}}}
"#;
    let model = load(SHOP);
    let mut p = profile(Cni::VpcCni, EnforcingMode::Standard);
    assert_eq!(outcomes(&model, &p, cfg)[0].1, "proved");
    p.nodes = vec![netpol_manifest::config::Node {
        name: "node-a".to_owned(),
        ip: "10.99.0.1".parse().expect("ip"),
    }];
    let v = verify(&model, &p, &config(cfg), &Options::default());
    let Outcome::Refuted(cx) = &v.results[0].outcome else {
        panic!("{:?}", v.results[0].outcome)
    };
    assert_eq!(cx.destination.node.as_deref(), Some("node-a"), "{cx:#?}");
    assert!(
        cx.directions
            .iter()
            .any(|d| d.at_destination && d.node_exempt)
    );
    // Re-checked: the pod, materialised on node-a, accepts the node in the graph.
    let (m2, _, dst) = cx.materialize(&model);
    let dst = dst.expect("a future pod");
    let ports = netpol_graph::Analysis::new(&m2, &p)
        .matrix()
        .ports("node/node-a", &dst);
    assert!(!ports.is_empty(), "{cx:#?}");
    // Upstream exempts the node on ingress only (S10): the pod accepts its node, but only
    // VPC CNI also lets it connect to the node (V4).
    let mut up = profile(Cni::Upstream, EnforcingMode::Standard);
    up.nodes = p.nodes.clone();
    assert_eq!(outcomes(&model, &up, cfg)[0].1, "refuted");
    let egress = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: shop-cannot-reach-node
    deny: {from: {namespace: shop, podSelector: {matchLabels: {app: api}}}, to: {ipBlock: {cidr: 10.99.0.1/32}}}
"#;
    assert_eq!(outcomes(&model, &up, egress)[0].1, "proved");
    assert_eq!(outcomes(&model, &p, egress)[0].1, "refuted");
}

/// S10/V4 for existing endpoints whose node the manifests do not name (docs/semantics.md
/// "Where pods run"): a workload's replicas may run on every configured node, and a
/// hostNetwork DaemonSet carries every node's IP. `deny` is refuted by one placement,
/// `allow` by one placement that fails.
#[test]
fn node_exemption_for_workloads_and_daemonsets() {
    let yaml = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {namespace: x, name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {namespace: x, name: db, labels: {app: db}}
spec: {nodeName: node-a, containers: [{name: c, image: i}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {namespace: kube-system, name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {hostNetwork: true, containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: x, name: deny-all}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"#;
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: agent-cannot-reach-db
    scope: existing
    deny: {from: {workload: "kube-system/agent[DaemonSet]"}, to: {pod: x/db}}
  - name: node-b-cannot-reach-api
    scope: existing
    deny: {from: {ipBlock: {cidr: 10.99.0.2/32}}, to: {workload: x/api}}
  - name: node-a-reaches-api
    scope: existing
    allow: {from: {ipBlock: {cidr: 10.99.0.1/32}}, to: {workload: x/api}}
"#;
    let model = load(yaml);
    let node = |name: &str, ip: &str| netpol_manifest::config::Node {
        name: name.to_owned(),
        ip: ip.parse().expect("ip"),
    };
    let mut p = profile(Cni::VpcCni, EnforcingMode::Standard);
    p.nodes = vec![node("node-a", "10.99.0.1"), node("node-b", "10.99.0.2")];
    let v = verify(&model, &p, &config(cfg), &Options::default());
    let got: Vec<&str> = v.results.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(got, ["refuted", "refuted", "refuted"], "{:#?}", v.results);
    let Outcome::Refuted(cx) = &v.results[1].outcome else {
        unreachable!()
    };
    assert_eq!(cx.destination.node.as_deref(), Some("node-b"), "{cx:#?}");
    let shown = cx.destination.describe();
    assert!(
        shown.starts_with("x/api[Deployment] ip ") && shown.ends_with(" on node node-b"),
        "{shown}"
    );
    let Outcome::Refuted(cx) = &v.results[2].outcome else {
        unreachable!()
    };
    assert!(
        cx.directions.iter().all(|d| !d.node_exempt),
        "the failing replica runs elsewhere: {cx:#?}"
    );
    // With one configured node every replica runs on it; node-b's address is then just an
    // external one.
    p.nodes.truncate(1);
    let v = verify(&model, &p, &config(cfg), &Options::default());
    let got: Vec<&str> = v.results.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(got, ["refuted", "proved", "proved"], "{:#?}", v.results);
    // Without nodes, nothing carries a node's IP.
    p.nodes.clear();
    let got: Vec<(String, &str)> = outcomes(&model, &p, cfg);
    assert_eq!(got[0].1, "proved", "{got:?}");
}

/// Addresses netpol does not know (docs/semantics.md V3, docs/verify.md conventions):
/// without `podCIDRs` a workload pod may have any address; a ClusterIP missing from the
/// manifests may be anywhere in the Service range, so a partial cover refutes `deny` but
/// cannot prove `allow`; a hostNetwork DaemonSet has its nodes' addresses; and an external
/// address may lie in `podCIDRs` (pod subnets are VPC subnets, shared with load balancers).
#[test]
fn unknown_addresses_are_not_assumed_away() {
    let yaml = |egress: &str| {
        format!(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{namespace: x, name: cli}}
spec:
  selector: {{matchLabels: {{app: cli}}}}
  template:
    metadata: {{labels: {{app: cli}}}}
    spec: {{containers: [{{name: c, image: i}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{namespace: x, name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: c, image: i, ports: [{{containerPort: 8080}}]}}]}}
---
apiVersion: v1
kind: Service
metadata: {{namespace: x, name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{namespace: kube-system, name: agent}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec: {{hostNetwork: true, containers: [{{name: c, image: i}}]}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{namespace: x, name: cli-egress}}
spec:
  podSelector: {{matchLabels: {{app: cli}}}}
  policyTypes: [Egress]
  egress: [{egress}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{namespace: x, name: web-ingress}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  ingress:
  - from: [{{podSelector: {{matchLabels: {{app: cli}}}}}}, {{ipBlock: {{cidr: 10.0.0.0/16}}}}]
"#
        )
    };
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: cli-cannot-reach-web
    scope: existing
    deny: {from: {workload: x/cli}, to: {workload: x/web}, ports: ["TCP/8080"]}
  - name: cli-reaches-web
    scope: existing
    allow: {from: {workload: x/cli}, to: {workload: x/web}, ports: ["TCP/8080"]}
  - name: cli-cannot-reach-agent
    scope: existing
    deny: {from: {workload: x/cli}, to: {workload: "kube-system/agent[DaemonSet]"}, ports: ["TCP/9100"]}
  - name: web-only-from-cli
    scope: existing
    only: {to: {workload: x/web}, from: [{workload: x/cli}]}
"#;
    let mut p = profile(Cni::VpcCni, EnforcingMode::Standard);
    // Every address: web's pods are in it wherever they are.
    let model = load(&yaml("{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}"));
    assert_eq!(verdicts(&model, &p, cfg)[..2], ["refuted", "proved"]);
    // "The internet, not the VPC": web's pods (in 10.0.0.0/16) are out, but the ClusterIP
    // of x/web may be anywhere in the private ranges EKS takes Service CIDRs from.
    p.pod_cidrs = vec!["10.0.0.0/16".parse().expect("cidr")];
    let model = load(&yaml(
        "{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}], ports: [{port: 80}]}",
    ));
    assert_eq!(verdicts(&model, &p, cfg)[..2], ["refuted", "refuted"]);
    // Known to be inside the block, or outside it: decided.
    p.service_cidr = Some("172.20.0.0/16".parse().expect("cidr"));
    assert_eq!(verdicts(&model, &p, cfg)[..2], ["refuted", "proved"]);
    p.service_cidr = Some("10.100.0.0/16".parse().expect("cidr"));
    assert_eq!(verdicts(&model, &p, cfg)[..2], ["proved", "refuted"]);
    // The DaemonSet listens on the nodes' addresses; web admits any address of 10.0.0.0/16,
    // where load balancers and unlisted nodes live too.
    p.nodes = vec![netpol_manifest::config::Node {
        name: "n1".to_owned(),
        ip: "192.168.5.1".parse().expect("ip"),
    }];
    let model = load(&yaml(
        "{to: [{ipBlock: {cidr: 192.168.5.0/24}}], ports: [{port: 9100}]}",
    ));
    assert_eq!(verdicts(&model, &p, cfg)[2..], ["refuted", "refuted"]);
}

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
    let (yaml, nodes) = with_vpc_paths(&synth::generate(&SynthConfig::tiny(seed)), seed);
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
    p.pod_cidrs = vec!["10.0.0.16/28".parse().expect("cidr")];
    // The same for the ClusterIPs the manifests leave out (the matrix counts only what is
    // certain there).
    p.service_cidr = Some("172.20.0.0/16".parse().expect("cidr"));
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
        let prefix = t.name.rsplit_once('-').map_or(t.name.clone(), |(p, _)| p.to_owned());
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
    assert!(v9.iter().all(|&n| n > 0), "V9 refuted, proved, unknown: {v9:?}");
}

/// V2 on the existing endpoints has one home, the graph's `rules/vpc.rs::rule_resolves`,
/// read through `Analysis::rules_resolve`: the verdict follows it. `db` lists only Ingress;
/// its egress rule names `app: ghost`. With no ghost pod the rule does not resolve, so db's
/// egress is open; with one it resolves and isolates db's egress (web is not admitted).
#[test]
fn v2_resolution_is_read_from_the_graph() {
    let cluster = |ghost: bool| {
        let mut y = String::from(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
status: {podIP: 10.0.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{}]
  egress: [{to: [{podSelector: {matchLabels: {app: ghost}}}]}]
"#,
        );
        if ghost {
            y.push_str("---\napiVersion: v1\nkind: Pod\nmetadata: {name: ghost, namespace: shop, labels: {app: ghost}}\nstatus: {podIP: 10.0.0.3}\n");
        }
        load(&y)
    };
    let cfg = "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: db-reaches-web\n    scope: existing\n    allow: {from: {workload: shop/db}, to: {workload: shop/web}, ports: [\"TCP/80\"]}\n";
    let p = profile(Cni::VpcCni, EnforcingMode::Standard);
    for (ghost, verdict) in [(false, "proved"), (true, "refuted")] {
        let m = cluster(ghost);
        let graph = netpol_graph::Analysis::new(&m, &p).rules_resolve();
        assert_eq!(graph, [[true, ghost]], "ghost {ghost}");
        assert_eq!(verdicts(&m, &p, cfg), [verdict], "ghost {ghost}");
    }
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
    let mut checked = 0;
    for seed in 0..8 {
        let (yaml, nodes) = with_vpc_paths(&synth::generate(&SynthConfig::tiny(seed)), seed);
        let model = load(&yaml);
        for mut p in [
            profile(Cni::Upstream, EnforcingMode::Standard),
            profile(Cni::VpcCni, EnforcingMode::Standard),
        ] {
            p.nodes = nodes.clone();
            let v = verify(&model, &p, &config(cfg), &Options::default());
            for r in &v.results {
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
            }
        }
    }
    assert!(checked > 10, "only {checked} counterexamples checked");
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
                        let (lo, hi): (Ipv4Addr, Ipv4Addr) =
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

/// Every z3 API the encoder uses, against the system libz3 (4.8.12 here): a link or
/// behaviour change in the `z3` crate shows up here first.
#[test]
fn z3_api_surface() {
    use z3::ast::{BV, Bool, Int};
    use z3::{Params, SatResult, Solver};
    let b = Bool::new_const("b");
    let i = Int::new_const("i");
    let ip = BV::new_const("ip", 32);
    let port = BV::new_const("port", 16);
    let s = Solver::new();
    let mut params = Params::new();
    params.set_u32("timeout", 5_000);
    s.set_params(&params);
    s.assert(Bool::and(&[b.clone(), Bool::from_bool(true)]));
    s.assert(Bool::or(&[b.not(), i.eq(Int::from_i64(7))]));
    s.assert(b.implies(i.ge(Int::from_i64(-2))));
    s.assert(i.le(Int::from_i64(7)));
    s.assert(ip.extract(31, 24).eq(BV::from_u64(10, 8)));
    s.assert(port.bvuge(BV::from_u64(80, 16)));
    s.assert(port.bvule(BV::from_u64(80, 16)));
    assert_eq!(s.check(), SatResult::Sat);
    let m = s.get_model().expect("model");
    assert_eq!(m.eval(&b, true).and_then(|v| v.as_bool()), Some(true));
    assert_eq!(m.eval(&i, true).and_then(|v| v.as_i64()), Some(7));
    assert_eq!(m.eval(&port, true).and_then(|v| v.as_u64()), Some(80));
    let ipv = m.eval(&ip, true).and_then(|v| v.as_u64()).expect("ip");
    assert_eq!(ipv >> 24, 10);
    // Assumptions narrow one check without changing the assertions (readable models).
    let low = ip.extract(7, 0).eq(BV::from_u64(1, 8));
    assert_eq!(s.check_assumptions(&[low]), SatResult::Sat);
    let m = s.get_model().expect("model");
    assert_eq!(
        m.eval(&ip, true).and_then(|v| v.as_u64()).map(|v| v & 0xff),
        Some(1)
    );
    assert_eq!(
        s.check_assumptions(&[port.eq(BV::from_u64(81, 16))]),
        SatResult::Unsat
    );
    assert_eq!(s.get_unsat_core().len(), 1);
    assert_eq!(s.check(), SatResult::Sat);
    s.assert(port.eq(BV::from_u64(81, 16)));
    assert_eq!(s.check(), SatResult::Unsat);
    // Only meaningful after `unknown`; must not crash after `unsat`.
    let _ = s.get_reason_unknown();
}

#[test]
fn empty_cluster_and_garbage_configs_do_not_panic() {
    let model = Model::default();
    for p in [
        profile(Cni::Upstream, EnforcingMode::Standard),
        profile(Cni::VpcCni, EnforcingMode::Strict),
    ] {
        let v = verify(&model, &p, &config(SHOP_ASSERTIONS), &Options::default());
        assert_eq!(v.results.len(), SHOP_ASSERTIONS.matches("- name:").count());
    }
    for text in [
        "",
        "---\n---\n",
        "[1, 2",
        "apiVersion: 3\nkind: [x]\n",
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions: {a: 1}\n",
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: x\n    deny: {from: {ipBlock: {cidr: '::/0'}}, to: {pod: 'a/b/c'}}\n",
        "a: &x [*x]\n",
    ] {
        let mut map = SourceMap::new();
        let file = map.add("netpol.yaml", text.to_owned());
        let (c, d) = parse_config(file, text);
        assert!(
            c.is_none() || !d.is_empty() || text.contains("pod:"),
            "{text:?}"
        );
    }
}

/// Proofs ignore the tiers for now, so verify says so for each such policy
/// (docs/diagnostics.md, policy-not-modelled).
#[test]
fn verify_warns_about_policies_it_ignores() {
    let anp = "---\napiVersion: networking.k8s.aws/v1alpha1\nkind: ApplicationNetworkPolicy\nmetadata: {namespace: shop, name: allow-all}\nspec: {podSelector: {}, ingress: [{}]}\n";
    let p = profile(Cni::VpcCni, EnforcingMode::Standard);
    let warned = |yaml: &str| {
        verify(
            &load(yaml),
            &p,
            &config(SHOP_ASSERTIONS),
            &Options::default(),
        )
        .diagnostics
        .iter()
        .filter(|d| d.code == netpol_diag::Code::PolicyNotModelled)
        .count()
    };
    assert_eq!(warned(SHOP), 0);
    assert_eq!(warned(&format!("{SHOP}{anp}")), 1);
}

/// issue 10 §4: a tier policy could overturn any verdict, so none is `proved` or `refuted`
/// while one is present (docs/verify.md, "Cluster-scoped policies").
#[test]
fn cluster_scoped_policies_make_verdicts_unknown() {
    let cnp = "---\napiVersion: networking.k8s.aws/v1alpha1\nkind: ClusterNetworkPolicy\nmetadata: {name: admin}\nspec: {tier: Admin, priority: 10, subject: {namespaces: {}}, ingress: [{action: Accept, from: [{namespaces: {}}]}]}\n";
    let p = profile(Cni::VpcCni, EnforcingMode::Standard);
    let outcomes = |yaml: &str| -> Vec<&'static str> {
        verify(
            &load(yaml),
            &p,
            &config(SHOP_ASSERTIONS),
            &Options::default(),
        )
        .results
        .iter()
        .map(|r| r.outcome.as_str())
        .collect()
    };
    let alone = outcomes(SHOP);
    assert!(alone.iter().all(|o| *o != "unknown"), "{alone:?}");
    let with_tier = outcomes(&format!("{SHOP}{cnp}"));
    assert_eq!(with_tier.len(), alone.len());
    assert!(with_tier.iter().all(|o| *o == "unknown"), "{with_tier:?}");
}

/// issue 10 §5, V2 under `scope: any` (docs/semantics.md V2): `db` lists only Ingress, and its
/// egress rule names pods that do not exist, so on the existing pods its egress is open. A
/// pod labelled `app: ghost` created later resolves the rule and isolates db's egress, so
/// `allow db -> web` holds for the existing pods only. A peer no pod can ever match keeps
/// the direction open.
#[test]
fn v2_rules_that_future_pods_resolve_refute_allow_under_scope_any() {
    let cluster = |peer: &str| {
        format!(
            r#"
apiVersion: v1
kind: Namespace
metadata: {{name: shop}}
---
apiVersion: v1
kind: Pod
metadata: {{name: db, namespace: shop, labels: {{app: db}}}}
status: {{podIP: 10.0.0.1}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: shop, labels: {{app: web}}}}
status: {{podIP: 10.0.0.2}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: db, namespace: shop}}
spec:
  podSelector: {{matchLabels: {{app: db}}}}
  policyTypes: [Ingress]
  ingress: [{{}}]
  egress: [{{to: [{{podSelector: {peer}}}]}}]
"#
        )
    };
    let assertions = |scope: &str| {
        format!(
            "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: db-reaches-web\n    scope: {scope}\n    allow: {{from: {{workload: shop/db}}, to: {{workload: shop/web}}, ports: [\"TCP/80\"]}}\n"
        )
    };
    let p = profile(Cni::VpcCni, EnforcingMode::Standard);
    let ghost = load(&cluster("{matchLabels: {app: ghost}}"));
    assert_eq!(verdicts(&ghost, &p, &assertions("existing")), ["proved"]);
    assert_eq!(verdicts(&ghost, &p, &assertions("any")), ["refuted"]);
    // The counterexample names the mechanism.
    let v = verify(&ghost, &p, &config(&assertions("any")), &Options::default());
    let Outcome::Refuted(cx) = &v.results[0].outcome else {
        panic!("{:?}", v.results[0].outcome)
    };
    let egress = cx
        .directions
        .iter()
        .find(|t| t.direction == Direction::Egress)
        .expect("egress trace");
    assert!(egress.isolated && !egress.allowed, "{egress:?}");
    assert_eq!(egress.isolated_by_new_pod, ["shop/db"]);
    // Upstream ignores rules of a direction missing from policyTypes.
    let up = profile(Cni::Upstream, EnforcingMode::Standard);
    assert_eq!(verdicts(&ghost, &up, &assertions("any")), ["proved"]);
    let never = load(&cluster(
        "{matchExpressions: [{key: app, operator: In, values: [ghost]}, {key: app, operator: NotIn, values: [ghost]}]}",
    ));
    assert_eq!(verdicts(&never, &p, &assertions("any")), ["proved"]);
}
