//! The what-if answer against the full recomputation: for every policy and every rule of
//! generated clusters, under every profile, leaving it out changes the matrix exactly when
//! [`WhatIf::unchanged`] says so (when it answers).

use netpol_manifest::Model;
use netpol_manifest::model::Direction;
use proptest::prelude::*;

use std::collections::HashMap;

use crate::tests::prop::{model, profiles};
use crate::{Analysis, Matrix, Removal};

/// Whether `other` (the model with a removal) has the connections of `base` between the
/// endpoints of `base`. Leaving out an ipBlock can merge external ranges: a range of `base`
/// is read as the range of `other` holding it.
fn same_on_base(base: &Matrix, other: &Matrix) -> bool {
    let map = |e: &crate::EndpointInfo| -> Option<String> {
        let Some((lo, _)) = e.range else {
            return Some(e.id.clone());
        };
        (other.endpoints.iter())
            .find(|o| o.range.is_some_and(|(a, b)| a <= lo && lo <= b))
            .map(|o| o.id.clone())
    };
    let mut pre: HashMap<String, usize> = HashMap::new();
    let mut mapped: HashMap<&str, Option<String>> = HashMap::new();
    for e in &base.endpoints {
        let m = map(e);
        if let Some(m) = &m {
            *pre.entry(m.clone()).or_default() += 1;
        }
        mapped.insert(e.id.as_str(), m);
    }
    let theirs: HashMap<(String, String), String> = (other.connections())
        .map(|c| ((c.from.id.clone(), c.to.id.clone()), format!("{}", c.ports)))
        .collect();
    let mut count = 0usize;
    for c in base.connections() {
        count += 1;
        let (Some(Some(a)), Some(Some(b))) =
            (mapped.get(c.from.id.as_str()), mapped.get(c.to.id.as_str()))
        else {
            return false;
        };
        if theirs.get(&(a.clone(), b.clone())) != Some(&format!("{}", c.ports)) {
            return false;
        }
    }
    // Every connection of `other` stands for all the base pairs mapped onto it.
    let covered: usize = (theirs.keys())
        .map(|(a, b)| pre.get(a).copied().unwrap_or(0) * pre.get(b).copied().unwrap_or(0))
        .sum();
    covered == count
}

/// Every removal of `m`: each policy, and each rule of each policy.
fn removals(m: &Model) -> Vec<Removal> {
    let mut out = Vec::new();
    for (i, p) in m.policies.iter().enumerate() {
        out.push(Removal::Policy(i));
        for dir in Direction::BOTH {
            out.extend((0..p.rules(dir).len()).map(|ri| Removal::Rule(i, dir, ri)));
        }
    }
    out
}

fn without(m: &Model, r: Removal) -> Model {
    let mut m = m.clone();
    match r {
        Removal::Policy(i) => {
            m.policies.remove(i);
        }
        Removal::Rule(i, Direction::Ingress, ri) => {
            m.policies[i].ingress.remove(ri);
        }
        Removal::Rule(i, Direction::Egress, ri) => {
            m.policies[i].egress.remove(ri);
        }
    }
    m
}

/// Checks every removal of `m` under every profile; returns (answered, undecided).
fn check(m: &Model, what: &str) -> Result<(usize, usize), TestCaseError> {
    let (mut answered, mut undecided) = (0, 0);
    for p in profiles() {
        let a = Analysis::new(m, &p);
        let base = a.matrix();
        let mut wi = a.what_if();
        for r in removals(m) {
            let Some(fast) = wi.unchanged(r) else {
                undecided += 1;
                continue;
            };
            answered += 1;
            let other = without(m, r);
            let full = same_on_base(&base, &Analysis::new(&other, &p).matrix());
            prop_assert_eq!(
                fast,
                full,
                "{} {:?}: profile {:?} {:?}",
                what,
                r,
                p.cni,
                p.enforcing_mode
            );
        }
    }
    Ok((answered, undecided))
}

/// `m` with a policy whose ipBlocks meet the profiles' node addresses (V12: a block at the
/// node's address is dropped there, an except at its /32 denies it) and carve a V11 table.
fn with_node_blocks(mut m: Model, egress: bool) -> Model {
    use crate::tests::build::{block, declared, policy, port, rule, sel};
    use netpol_manifest::model::Protocol;
    let mut p = policy("x", "nodes", sel(&[]));
    let rules = vec![
        // Allows 10.0.0.51 alone, which rule 2 allows too, and excepts node n2's address:
        // leaving it out changes only V12 (the except at the node's /32 denies the node key
        // of pods that run on n2 only).
        rule(
            vec![block("10.0.0.50/31", &["10.0.0.50/32"])],
            vec![port(Protocol::Tcp, 80)],
        ),
        // At node n1's address: dropped there (V12).
        rule(vec![block("192.168.1.1/32", &[])], vec![]),
        rule(
            vec![block("10.0.0.51/32", &[])],
            vec![port(Protocol::Tcp, 80)],
        ),
        rule(
            vec![block("10.1.0.0/16", &["10.1.0.0/24"])],
            vec![port(Protocol::Tcp, 443)],
        ),
    ];
    if egress {
        p.egress = rules;
        p = declared(p, false, true);
    } else {
        p.ingress = rules;
        p = declared(p, true, false);
    }
    m.policies.push(p);
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn what_if_matches_full_recomputation(m in model()) {
        check(&m, "random model")?;
    }

    #[test]
    fn what_if_matches_full_recomputation_with_node_blocks(m in model(), egress in any::<bool>()) {
        check(&with_node_blocks(m, egress), "random model with node blocks")?;
    }
}

/// The same on the synthetic generator's clusters, through the loader; most removals are
/// answered (a rule inside a V11 table is not).
#[test]
fn what_if_matches_full_recomputation_on_synthetic_clusters() {
    use crate::synth::{SynthConfig, generate};
    use netpol_manifest::{LoadOptions, Source};
    let (mut answered, mut undecided) = (0, 0);
    for seed in 0..12 {
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
        match check(&loaded.model, &format!("seed {seed}")) {
            Ok((a, u)) => {
                answered += a;
                undecided += u;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        answered > 5 * undecided,
        "{answered} answered, {undecided} not"
    );
}
