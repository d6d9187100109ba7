//! Robustness of `verify`: the z3 API surface, empty and garbage inputs, and the policies
//! the proofs ignore (cluster-scoped tiers).

use netpol_diag::SourceMap;
use netpol_manifest::Model;
use netpol_manifest::config::{Cni, EnforcingMode};

use crate::config::parse_config;
use crate::tests::{SHOP, SHOP_ASSERTIONS, config, load, profile};
use crate::*;

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

/// A namespace has one set of labels (issue 10 §5): two sides pinned to one new namespace
/// with different labels cannot both exist, so the `deny` holds (it was refuted with a
/// counterexample that gave `ghost` two label sets). Two new namespaces whose names the
/// assertion leaves open are two namespaces, and the counterexample names them apart.
#[test]
fn a_new_namespace_has_one_label_set() {
    let p = profile(Cni::VpcCni, EnforcingMode::Standard);
    let cfg = config(
        r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: one-namespace
    deny: {from: {namespace: ghost, namespaceSelector: {matchLabels: {team: a}}}, to: {namespace: ghost, namespaceSelector: {matchLabels: {team: b}}}}
  - name: two-namespaces
    deny: {from: {namespaceSelector: {matchLabels: {team: a}}}, to: {namespaceSelector: {matchLabels: {team: b}}}}
  - name: same-labels
    deny: {from: {namespace: ghost, namespaceSelector: {matchLabels: {team: a}}}, to: {namespace: ghost}}
"#,
    );
    let v = verify(&load(SHOP), &p, &cfg, &Options::default());
    assert_eq!(
        v.results[0].outcome,
        Outcome::Proved,
        "{:?}",
        v.results[0].outcome
    );
    let Outcome::Refuted(cx) = &v.results[1].outcome else {
        panic!("{:?}", v.results[1].outcome);
    };
    let src = cx.source.as_ref().expect("source");
    assert!(src.new_namespace && cx.destination.new_namespace);
    assert_ne!(src.namespace, cx.destination.namespace);
    assert_eq!(
        src.namespace_labels
            .get(netpol_manifest::model::NAMESPACE_NAME_LABEL),
        src.namespace.as_ref()
    );
    // Pinned to one new namespace, both ends carry its one label set.
    let Outcome::Refuted(cx) = &v.results[2].outcome else {
        panic!("{:?}", v.results[2].outcome);
    };
    let src = cx.source.as_ref().expect("source");
    assert_eq!(src.namespace_labels, cx.destination.namespace_labels);
}

/// V14: a pod without `status.podIP` is at the address of its `vpc.amazonaws.com/pod-ips`
/// annotation under VPC CNI. Before, its address was symbolic in `podCIDRs`, so with the
/// annotated address outside them (a secondary VPC CIDR) a `deny` was proved that the
/// controller does not enforce.
#[test]
fn v14_the_annotated_address_is_the_pods() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {namespace: x, name: db, labels: {app: db}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.10}
---
apiVersion: v1
kind: Pod
metadata: {namespace: x, name: batch, labels: {app: batch}, annotations: {vpc.amazonaws.com/pod-ips: 100.64.5.7}}
spec: {containers: [{name: c, image: i}]}
status: {phase: Pending}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: x, name: db}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{ipBlock: {cidr: 100.64.5.0/24}}]}]
"#;
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: batch-cannot-reach-db
    scope: existing
    deny: {from: {namespace: x, podSelector: {matchLabels: {app: batch}}}, to: {namespace: x, podSelector: {matchLabels: {app: db}}}}
  - name: batch-reaches-db
    scope: existing
    allow: {from: {namespace: x, podSelector: {matchLabels: {app: batch}}}, to: {namespace: x, podSelector: {matchLabels: {app: db}}}, ports: ["TCP/5432"]}
"#;
    let model = load(yaml);
    let with_cidrs = |cni| {
        netpol_graph::Profile::new(&netpol_manifest::config::ClusterSettings {
            cni,
            pod_cidrs: vec!["10.0.0.0/16".parse().expect("cidr")],
            ..Default::default()
        })
    };
    let v = verify(
        &model,
        &with_cidrs(Cni::VpcCni),
        &config(cfg),
        &Options::default(),
    );
    let Outcome::Refuted(cx) = &v.results[0].outcome else {
        panic!("{:?}", v.results[0].outcome);
    };
    let src = cx.source.as_ref().expect("source");
    assert_eq!(src.ip, Some("100.64.5.7".parse().expect("ip")));
    assert_eq!(v.results[1].outcome, Outcome::Proved);
    // Upstream reads only the status: the address is unknown within podCIDRs.
    let v = verify(
        &model,
        &with_cidrs(Cni::Upstream),
        &config(cfg),
        &Options::default(),
    );
    assert_eq!(v.results[0].outcome, Outcome::Proved);
    assert_eq!(v.results[1].outcome.as_str(), "refuted");
}

/// The encoding's addresses are IPv4: an IPv6 pod took an IPv4 address in the solver, so a
/// `deny` into a pod whose IPv6 ipBlock admits the source was proved. With an IPv6 address
/// in the cluster every verdict is `unknown`, naming it; IPv4 clusters are unaffected.
#[test]
fn ipv6_addresses_make_verdicts_unknown() {
    let pods = |db: &str, web: &str, block: &str| {
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{namespace: x, name: db, labels: {{app: db}}}}
spec: {{containers: [{{name: c, image: i}}]}}
status: {{podIP: "{db}"}}
---
apiVersion: v1
kind: Pod
metadata: {{namespace: x, name: web, labels: {{app: web}}}}
spec: {{containers: [{{name: c, image: i}}]}}
status: {{podIP: "{web}"}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{namespace: x, name: db}}
spec:
  podSelector: {{matchLabels: {{app: db}}}}
  policyTypes: [Ingress]
  ingress: [{{from: [{{ipBlock: {{cidr: "{block}"}}}}], ports: [{{port: 5432}}]}}]
"#
        )
    };
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: web-cannot-reach-db
    scope: existing
    deny: {from: {namespace: x, podSelector: {matchLabels: {app: web}}}, to: {namespace: x, podSelector: {matchLabels: {app: db}}}, ports: ["TCP/5432"]}
"#;
    for cni in [Cni::VpcCni, Cni::Upstream] {
        let p = profile(cni, EnforcingMode::Standard);
        let v6 = load(&pods(
            "2600:1f14:abcd::10",
            "2600:1f14:abcd::20",
            "2600:1f14:abcd::/64",
        ));
        let v = verify(&v6, &p, &config(cfg), &Options::default());
        assert!(
            matches!(&v.results[0].outcome, Outcome::Unknown(r) if r.contains("x/db has address 2600:1f14:abcd::10")),
            "{:?}",
            v.results[0].outcome
        );
        let v4 = load(&pods("10.0.0.10", "10.0.0.20", "10.0.0.0/24"));
        let v = verify(&v4, &p, &config(cfg), &Options::default());
        assert_eq!(v.results[0].outcome.as_str(), "refuted");
    }
}

/// `--robust` under vpc-cni: V2 makes db's egress rule (outside `policyTypes`) isolate it,
/// so `deny db -> web` holds today; once the controller respects `policyTypes` (open NPC
/// PR #229) it fails. Robust, the proof is `unknown` naming the reading; a refutation and
/// a proof that holds either way are unchanged.
#[test]
fn robust_proofs_hold_under_the_pending_controller_change() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {namespace: x, name: db, labels: {app: db}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.10}
---
apiVersion: v1
kind: Pod
metadata: {namespace: x, name: cache, labels: {app: cache}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.11}
---
apiVersion: v1
kind: Pod
metadata: {namespace: x, name: web, labels: {app: web}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.12}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: x, name: db}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
  egress: [{to: [{podSelector: {matchLabels: {app: cache}}}]}]
"#;
    let cfg = config(
        r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: db-cannot-reach-web
    scope: existing
    deny: {from: {namespace: x, podSelector: {matchLabels: {app: db}}}, to: {namespace: x, podSelector: {matchLabels: {app: web}}}}
  - name: web-reaches-db
    scope: existing
    allow: {from: {namespace: x, podSelector: {matchLabels: {app: web}}}, to: {namespace: x, podSelector: {matchLabels: {app: db}}}, ports: ["TCP/5432"]}
  - name: cache-cannot-reach-db
    scope: existing
    deny: {from: {namespace: x, podSelector: {matchLabels: {app: cache}}}, to: {namespace: x, podSelector: {matchLabels: {app: db}}}}
"#,
    );
    let p = profile(Cni::VpcCni, EnforcingMode::Standard);
    let model = load(yaml);
    let plain = verify(&model, &p, &cfg, &Options::default());
    let names: Vec<&str> = plain.results.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(names, ["proved", "proved", "proved"]);
    let robust = Options {
        robust: true,
        ..Options::default()
    };
    let v = verify(&model, &p, &cfg, &robust);
    assert!(
        matches!(&v.results[0].outcome, Outcome::Unknown(r) if r.contains("PR #229") && r.contains("x/db")),
        "{:?}",
        v.results[0].outcome
    );
    assert_eq!(v.results[1].outcome, Outcome::Proved);
    assert_eq!(v.results[2].outcome, Outcome::Proved);
}

/// `--robust` under upstream: whether an ipBlock matches a pod's address is left to the
/// CNI. A `deny` proved because a workload's unknown address is taken to be outside the
/// block, and an `allow` proved because a bare Pod's address is inside it, are `unknown`.
#[test]
fn robust_upstream_proofs_do_not_lean_on_ipblocks_matching_pods() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {namespace: x, name: db, labels: {app: db}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.10}
---
apiVersion: v1
kind: Pod
metadata: {namespace: x, name: web, labels: {app: web}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.12}
---
apiVersion: apps/v1
kind: Deployment
metadata: {namespace: x, name: batch}
spec:
  selector: {matchLabels: {app: batch}}
  template:
    metadata: {labels: {app: batch}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: x, name: db}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16}}]}]
"#;
    let cfg = config(
        r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: batch-cannot-reach-db
    scope: existing
    deny: {from: {namespace: x, podSelector: {matchLabels: {app: batch}}}, to: {namespace: x, podSelector: {matchLabels: {app: db}}}}
  - name: web-reaches-db
    scope: existing
    allow: {from: {namespace: x, podSelector: {matchLabels: {app: web}}}, to: {namespace: x, podSelector: {matchLabels: {app: db}}}, ports: ["TCP/5432"]}
"#,
    );
    let p = netpol_graph::Profile::new(&netpol_manifest::config::ClusterSettings {
        cni: Cni::Upstream,
        pod_cidrs: vec!["10.0.0.0/16".parse().expect("cidr")],
        ..Default::default()
    });
    let model = load(yaml);
    let plain = verify(&model, &p, &cfg, &Options::default());
    assert!(
        plain.results.iter().all(|r| r.outcome == Outcome::Proved),
        "{:?}",
        plain.results
    );
    let robust = Options {
        robust: true,
        ..Options::default()
    };
    let v = verify(&model, &p, &cfg, &robust);
    assert!(
        matches!(&v.results[0].outcome, Outcome::Unknown(r) if r.contains("every pod address")),
        "{:?}",
        v.results[0].outcome
    );
    assert!(
        matches!(&v.results[1].outcome, Outcome::Unknown(r) if r.contains("no pod address")),
        "{:?}",
        v.results[1].outcome
    );
}

/// `cluster.vpcCni`: under agent v1.3.7 the pods `c/a-b-x` and `b-c/a-x` share one pod
/// identifier (prefix and namespace joined with `-`), which netpol does not model, so a
/// proof about them is `unknown` with a `version-not-modelled` warning; under the newest
/// releases it is proved.
#[test]
fn older_agent_releases_make_dependent_verdicts_unknown() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {name: a-b-x, namespace: c, labels: {app: one}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: a-x, namespace: b-c, labels: {app: two}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: c, name: deny}
spec: {podSelector: {}, policyTypes: [Ingress]}
"#;
    let cfg = config(
        r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: c-isolated
    scope: existing
    deny: {from: {namespace: b-c}, to: {namespace: c}}
"#,
    );
    let model = load(yaml);
    let at = |agent: &str| {
        let mut settings = netpol_manifest::config::ClusterSettings::default();
        settings.vpc_cni.agent_version = Some(agent.parse().expect("release"));
        netpol_graph::Profile::new(&settings)
    };
    let newest = verify(&model, &at("v1.4.1"), &cfg, &Options::default());
    assert_eq!(newest.results[0].outcome, Outcome::Proved);
    let old = verify(&model, &at("v1.3.7"), &cfg, &Options::default());
    assert!(
        matches!(&old.results[0].outcome, Outcome::Unknown(r) if r.contains("share a pod identifier under agent v1.3.7")),
        "{:?}",
        old.results[0].outcome
    );
    assert!(
        old.diagnostics
            .iter()
            .any(|d| d.code == netpol_diag::Code::VersionNotModelled)
    );
}
