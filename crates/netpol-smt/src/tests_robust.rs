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
