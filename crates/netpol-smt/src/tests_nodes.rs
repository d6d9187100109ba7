//! Node IPs and unknown addresses: the own-node exemption (S10/V4) for future pods, workloads
//! and DaemonSets, and addresses netpol does not know (V3).

use netpol_manifest::config::{Cni, EnforcingMode};

use crate::tests::{SHOP, config, load, outcomes, profile, verdicts};
use crate::*;

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
