//! V9 pod identifier sharing in proofs (issue 10 §2.1): the `deny` the old model proved and
//! the agent refutes, the `allow` direction, and the order-dependent case across nodes; and
//! V2 rules that a future target resolves (issue 10 §5).

use netpol_graph::Profile;
use netpol_manifest::config::{Cni, EnforcingMode, Node};
use netpol_manifest::model::Direction;
use netpol_manifest::{LoadOptions, Model, Source};

use crate::tests::{config, load, profile, verdicts};
use crate::*;

fn fixture(name: &str) -> Model {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reach")
        .join(name);
    let mut map = netpol_diag::SourceMap::new();
    let loaded = netpol_manifest::load(&[Source::Path(path)], &LoadOptions::default(), &mut map);
    loaded.model
}

fn with_nodes(mut p: Profile) -> Profile {
    p.nodes = ["192.168.1.1", "192.168.1.2"]
        .iter()
        .enumerate()
        .map(|(i, ip)| Node {
            name: format!("n{}", i + 1),
            ip: ip.parse().expect("ip"),
        })
        .collect();
    p
}

fn vpc() -> Profile {
    with_nodes(profile(Cni::VpcCni, EnforcingMode::Standard))
}

/// The profile as it was before V9: identifiers not shared.
fn vpc_before() -> Profile {
    let mut p = vpc();
    p.flags.identifier_sharing = false;
    p
}

const ASSERTIONS: &str = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: web-not-into-client-a
    scope: existing
    deny: {from: {pod: x/web}, to: {pod: x/client-a}, ports: ["TCP/5432"]}
  - name: web-into-client-c
    scope: existing
    allow: {from: {pod: x/web}, to: {pod: x/client-c}, ports: ["TCP/80"]}
  - name: web-into-client-c-db
    scope: existing
    allow: {from: {pod: x/web}, to: {pod: x/client-c}, ports: ["TCP/5432"]}
  - name: client-c-isolated
    scope: existing
    isolated: {pods: {pod: x/client-c}, directions: [Ingress]}
"#;

#[test]
fn identifier_sharing_refutes_a_deny_proved_before() {
    let m = fixture("vpc-identifier-sharing.yaml");
    let up = with_nodes(profile(Cni::Upstream, EnforcingMode::Standard));
    let old = ["proved", "proved", "proved", "refuted"];
    assert_eq!(verdicts(&m, &up, ASSERTIONS), old);
    assert_eq!(verdicts(&m, &vpc_before(), ASSERTIONS), old);
    assert_eq!(
        verdicts(&m, &vpc(), ASSERTIONS),
        ["refuted", "refuted", "proved", "proved"]
    );
    // The counterexample names the mechanism: b-db applies at client-a through client-b.
    let v = verify(&m, &vpc(), &config(ASSERTIONS), &Options::default());
    let Outcome::Refuted(cx) = &v.results[0].outcome else {
        panic!("{:?}", v.results[0].outcome)
    };
    let ingress = (cx.directions.iter())
        .find(|t| t.direction == Direction::Ingress)
        .expect("ingress trace");
    assert!(ingress.allowed && ingress.isolated, "{ingress:?}");
    assert_eq!(
        ingress.shared_identifier,
        [(
            "x/b-db".to_owned(),
            "x/client-b".to_owned(),
            "client@x".to_owned()
        )]
    );
    // The allow direction: client-c, selected by nothing, is isolated by its siblings'.
    let Outcome::Refuted(cx) = &v.results[1].outcome else {
        panic!("{:?}", v.results[1].outcome)
    };
    let ingress = (cx.directions.iter())
        .find(|t| t.direction == Direction::Ingress)
        .expect("ingress trace");
    assert!(!ingress.allowed && ingress.isolated, "{ingress:?}");
}

/// client-b runs on another node: whether client-a gets b-db's rule depends on the order
/// of events, so the `deny` is neither proved nor refuted.
#[test]
fn identifier_sharing_across_nodes_is_unknown() {
    let m = fixture("vpc-identifier-sharing-cross-node.yaml");
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: web-not-into-client-a
    scope: existing
    deny: {from: {pod: x/web}, to: {pod: x/client-a}, ports: ["TCP/5432"]}
  - name: web-not-into-client-a-80
    scope: existing
    deny: {from: {pod: x/web}, to: {pod: x/client-a}, ports: ["TCP/80"]}
"#;
    assert_eq!(verdicts(&m, &vpc_before(), cfg), ["proved", "proved"]);
    let v = verify(&m, &vpc(), &config(cfg), &Options::default());
    let Outcome::Unknown(reason) = &v.results[0].outcome else {
        panic!("{:?}", v.results[0].outcome)
    };
    assert!(
        reason.contains("x/b-db on x/client-a (pod identifier client@x)"),
        "{reason}"
    );
    assert_eq!(v.results[1].outcome, Outcome::Proved);
}

/// An unselected pod (client-c, on a third node) whose sibling client-a is isolated: with
/// only its own policies it is open, with the whole identifier's it admits web on 5432
/// only. A `deny` on port 80 fails at one end of the range and holds at the other, so it is
/// unknown, not refuted (the check with every choice off alone refuted it).
#[test]
fn identifier_sharing_refutes_only_what_fails_at_both_ends() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reach/vpc-identifier-sharing-cross-node.yaml");
    let text = std::fs::read_to_string(path).expect("fixture");
    let m = crate::tests::load(&format!(
        "{text}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{namespace: x, name: client-c, labels: {{app: client-c}}}}\nspec: {{containers: [{{name: c, image: i}}], nodeName: n3}}\nstatus: {{podIP: 10.0.3.12, hostIP: 192.168.1.3}}\n"
    ));
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: web-not-into-client-c-80
    scope: existing
    deny: {from: {pod: x/web}, to: {pod: x/client-c}, ports: ["TCP/80"]}
  - name: web-not-into-client-c-5432
    scope: existing
    deny: {from: {pod: x/web}, to: {pod: x/client-c}, ports: ["TCP/5432"]}
  - name: web-into-client-c-80
    scope: existing
    allow: {from: {pod: x/web}, to: {pod: x/client-c}, ports: ["TCP/80"]}
"#;
    assert_eq!(
        verdicts(&m, &vpc_before(), cfg),
        ["refuted", "refuted", "proved"]
    );
    let v = verify(&m, &vpc(), &config(cfg), &Options::default());
    let got: Vec<_> = v.results.iter().map(|r| &r.outcome).collect();
    assert!(
        matches!(got[0], Outcome::Unknown(r) if r.contains("holds once it applies all")),
        "{got:?}"
    );
    assert!(matches!(got[1], Outcome::Refuted(_)), "{got:?}");
    assert!(matches!(got[2], Outcome::Unknown(_)), "{got:?}");
}

/// A bare pod named into a StatefulSet's identifier (`kafka-client` beside `kafka`), nodes
/// unknown: the StatefulSet may inherit `tools-open`'s allow-all ingress, depending on the
/// order of events, so the `deny` is unknown, not proved; upstream proves it.
#[test]
fn identifier_shared_with_a_statefulset() {
    let m = fixture("vpc-identifier-sharing-statefulset.yaml");
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: outsider-not-into-kafka
    scope: existing
    deny: {from: {pod: x/outsider}, to: {workload: x/kafka}, ports: ["TCP/9092"]}
"#;
    let up = profile(Cni::Upstream, EnforcingMode::Standard);
    assert_eq!(verdicts(&m, &up, cfg), ["proved"]);
    assert_eq!(verdicts(&m, &vpc_before(), cfg), ["proved"]);
    let v = verify(&m, &vpc(), &config(cfg), &Options::default());
    let Outcome::Unknown(reason) = &v.results[0].outcome else {
        panic!("{:?}", v.results[0].outcome)
    };
    assert!(
        reason.contains("x/tools-open on x/kafka[StatefulSet] (pod identifier kafka@x)"),
        "{reason}"
    );
}

/// V2 under `scope: any` (issue 10 §5, research §9.1 b): an ingress rule with only a named
/// port that no target declares resolves nowhere, so `api`'s ingress (missing from
/// `policyTypes`) is open. A pod created later that the policy selects and that declares
/// `http` resolves the rule (V7 resolves ingress named ports over the targets) and isolates
/// ingress at every target.
#[test]
fn v2_named_ingress_port_resolved_by_a_future_target() {
    let m = crate::tests::load(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
status: {podIP: 10.0.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress: [{}]
  ingress: [{ports: [{port: http}]}]
"#,
    );
    let cfg = |scope: &str| {
        format!(
            "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: web-reaches-api\n    scope: {scope}\n    allow: {{from: {{pod: shop/web}}, to: {{pod: shop/api}}, ports: [\"TCP/80\"]}}\n"
        )
    };
    let p = profile(Cni::VpcCni, EnforcingMode::Standard);
    assert_eq!(verdicts(&m, &p, &cfg("existing")), ["proved"]);
    assert_eq!(verdicts(&m, &p, &cfg("any")), ["refuted"]);
    let up = profile(Cni::Upstream, EnforcingMode::Standard);
    assert_eq!(verdicts(&m, &up, &cfg("any")), ["proved"]);
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
