//! Properties of snapshots and the diff on generated clusters (netpol-graph's synth), under
//! both profiles: the diff is the set difference of the two matrices, a snapshot
//! round-trips through its text, class names survive an unrelated namespace.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use common::{load, matrix, profiles, snapshot};
use netpol_graph::synth::{self, SynthConfig};
use netpol_graph::{EndpointType, Matrix, Profile};
use netpol_manifest::Model;
use netpol_snapshot::{Snapshot, diff};

const SEEDS: u64 = 24;

/// The cluster of `seed`, and the same cluster with one NetworkPolicy left out and one of
/// another seed's added: two sides that share their workloads but not their rules.
fn pair(seed: u64) -> (String, String) {
    let a = synth::generate(&SynthConfig::tiny(seed));
    let other = synth::generate(&SynthConfig::tiny(seed + 1000));
    let docs = |s: &str| -> Vec<String> {
        s.split("---\n")
            .filter(|d| !d.trim().is_empty())
            .map(|d| format!("---\n{d}"))
            .collect()
    };
    let policies = |d: &Vec<String>| -> Vec<usize> {
        (0..d.len())
            .filter(|&i| d[i].contains("kind: NetworkPolicy"))
            .collect()
    };
    let mut b = docs(&a);
    let pa = policies(&b);
    if !pa.is_empty() {
        b.remove(pa[seed as usize % pa.len()]);
    }
    let extra = docs(&other);
    if let Some(&i) = policies(&extra).first() {
        // The other seed names its policies as this one does: rename to keep both.
        b.push(extra[i].replacen("  name: np", "  name: extra-np", 1));
    }
    (a, b.concat())
}

/// An external endpoint id `first-last` as (IPv6, first, last).
fn range(id: &str) -> Option<(bool, u128, u128)> {
    let (a, b) = id.split_once('-')?;
    let n = |ip: IpAddr| match ip {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    };
    let (a, b): (IpAddr, IpAddr) = (a.parse().ok()?, b.parse().ok()?);
    Some((a.is_ipv6(), n(a), n(b)))
}

/// Every pair the matrix connects, with its ports; an external range stands for each
/// single address of `probes` it holds (so two sides' ranges compare by address).
fn facts(m: &Matrix, probes: &BTreeSet<(bool, u128)>) -> BTreeMap<(String, String), String> {
    let expand = |e: &netpol_graph::EndpointInfo| -> Vec<String> {
        if e.kind != EndpointType::External {
            return vec![e.id.clone()];
        }
        let (v6, lo, hi) = range(&e.id).expect("an external id is a range");
        probes
            .range((v6, lo)..=(v6, hi))
            .map(|(v6, x)| format!("{v6}:{x}"))
            .collect()
    };
    let mut out = BTreeMap::new();
    for c in m.connections() {
        for a in expand(c.from) {
            for b in expand(c.to) {
                out.insert((a.clone(), b), c.ports.to_strings().join(","));
            }
        }
    }
    out
}

/// The first address of every external range of both matrices: one address per piece of
/// their common refinement.
fn probes(a: &Matrix, b: &Matrix) -> BTreeSet<(bool, u128)> {
    (a.endpoints.iter().chain(&b.endpoints))
        .filter(|e| e.kind == EndpointType::External)
        .filter_map(|e| range(&e.id))
        .map(|(v6, lo, _)| (v6, lo))
        .collect()
}

/// A piece `first-last` of the diff as the probe address it starts with.
fn probe_of(id: &str) -> String {
    match range(id) {
        Some((v6, lo, _)) => format!("{v6}:{lo}"),
        None => id.to_owned(),
    }
}

fn check_set_difference(ma: &Model, mb: &Model, p: &Profile, what: &str) {
    let (x, y) = (matrix(ma, p), matrix(mb, p));
    let probes = probes(&x, &y);
    let (fa, fb) = (facts(&x, &probes), facts(&y, &probes));
    // What the matrices say changed: pair -> (old ports, new ports).
    let mut want = BTreeMap::new();
    for k in fa.keys().chain(fb.keys()) {
        let (o, n) = (fa.get(k), fb.get(k));
        if o != n {
            want.insert(k.clone(), (o.cloned(), n.cloned()));
        }
    }
    let d = diff(&Snapshot::new(&x, p, &[]), &Snapshot::new(&y, p, &[]));
    let mut got = BTreeMap::new();
    for f in &d.flows {
        for (a, b) in &f.pairs {
            let key = (probe_of(a), probe_of(b));
            let prev = got.insert(key, (f.old_ports.clone(), f.new_ports.clone()));
            assert!(prev.is_none(), "{what}: pair {a} -> {b} reported twice");
        }
    }
    assert_eq!(got, want, "{what}");
    assert_eq!(
        d.has_new_access(),
        want.values().any(|(o, n)| adds(o, n)),
        "{what}"
    );
}

/// Whether `o` to `n` allows something new (a new pair or a new port).
fn adds(o: &Option<String>, n: &Option<String>) -> bool {
    match (o, n) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(o), Some(n)) => {
            let (o, n) = (
                netpol_snapshot::parse_ports(o).expect("ports"),
                netpol_snapshot::parse_ports(n).expect("ports"),
            );
            !n.difference(&o).is_empty()
        }
    }
}

#[test]
fn diff_is_the_set_difference_of_the_matrices() {
    let mut changed = 0;
    for seed in 0..SEEDS {
        let (a, b) = pair(seed);
        let (ma, mb) = (load(&a), load(&b));
        for p in &profiles() {
            let what = format!("seed {seed}, {}", p.cni.as_str());
            check_set_difference(&ma, &mb, p, &what);
            check_set_difference(&mb, &ma, p, &format!("{what}, reversed"));
            changed += usize::from(!diff(&snapshot(&ma, p), &snapshot(&mb, p)).is_empty());
        }
        // Unrelated clusters: every pair differs.
        let c = load(&synth::generate(&SynthConfig::tiny(seed + 500)));
        check_set_difference(
            &ma,
            &c,
            &profiles()[0],
            &format!("seed {seed} vs {}", seed + 500),
        );
    }
    // The generated pairs do differ: the property is not about empty diffs.
    assert!(changed >= SEEDS as usize, "only {changed} pairs differ");
}

#[test]
fn a_diff_with_itself_is_empty() {
    for seed in 0..SEEDS {
        let m = load(&synth::generate(&SynthConfig::tiny(seed)));
        for p in &profiles() {
            let s = snapshot(&m, p);
            assert!(diff(&s, &s).is_empty(), "seed {seed}");
        }
    }
}

#[test]
fn snapshots_round_trip_through_their_text() {
    for seed in 0..SEEDS {
        let m = load(&synth::generate(&SynthConfig::tiny(seed)));
        for p in &profiles() {
            let s = snapshot(&m, p);
            let text = s.render();
            let back = Snapshot::parse(&text).expect("parses");
            assert_eq!(back, s, "seed {seed}: parse gives the snapshot back");
            assert_eq!(
                back.render(),
                text,
                "seed {seed}: parse then render is byte-identical"
            );
        }
    }
    // A realistic cluster too: named ports, Services, ipBlocks, infrastructure namespaces.
    let cfg = SynthConfig {
        workloads: 60,
        policies: 40,
        namespaces: 3,
        ..SynthConfig::size(synth::Size::S)
    };
    let m = load(&synth::generate(&cfg));
    for p in &profiles() {
        let text = snapshot(&m, p).render();
        assert_eq!(Snapshot::parse(&text).expect("parses").render(), text);
    }
}

/// A namespace with a default deny and no pods: nothing in it can be reached or reach out.
const UNRELATED: &str = "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: zz-unrelated\n  labels: {purpose: unrelated}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n  namespace: zz-unrelated\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n";

/// One pod there. A random selector always matches it one way or the other (`DoesNotExist`,
/// `NotIn`, `{}`), and under VPC CNI a rule that starts to resolve changes what it allows
/// (V2), so the pod is related after all: only classes whose members stay keep names.
const LONELY: &str = "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: lonely\n  namespace: zz-unrelated\n  labels: {role: lonely}\nspec:\n  containers:\n  - name: c\n    image: img\n";

#[test]
fn class_names_survive_an_unrelated_namespace() {
    for seed in 0..SEEDS {
        let yaml = synth::generate(&SynthConfig::tiny(seed));
        let ma = load(&yaml);
        let mb = load(&format!("{yaml}{UNRELATED}"));
        let mc = load(&format!("{yaml}{UNRELATED}{LONELY}"));
        for p in &profiles() {
            let what = format!("seed {seed}, {}", p.cni.as_str());
            let (a, b, c) = (snapshot(&ma, p), snapshot(&mb, p), snapshot(&mc, p));
            // Nothing but the new namespace's own exposure changes, and no class at all:
            // a namespace's exposure does not depend on the other namespaces' new pods.
            assert_eq!(a.classes, b.classes, "{what}");
            let d = diff(&a, &b);
            assert!(
                (d.flows.iter()).all(|f| f.from_class == "new-pod@zz-unrelated"
                    || f.to_class == "new-pod@zz-unrelated"),
                "{what}: {:#?}",
                common::lines(&d)
            );
            // With a pod: a class whose members are the same keeps its name.
            let by_members: BTreeMap<&Vec<String>, &String> =
                c.classes.iter().map(|(n, k)| (&k.members, n)).collect();
            let mut kept = 0;
            for (name, k) in &a.classes {
                if let Some(n) = by_members.get(&k.members) {
                    assert_eq!(*n, name, "{what}: class renamed");
                    kept += 1;
                }
            }
            assert!(
                kept * 2 >= a.classes.len(),
                "{what}: {kept} of {} kept",
                a.classes.len()
            );
        }
    }
}

/// The exposure of `ns` as the model with one new pod in `ns` alone gives it: the oracle.
fn exposure_alone(model: &Model, p: &Profile, ns: &str) -> BTreeMap<(String, String), String> {
    use netpol_manifest::model::{Endpoint, EndpointKind, Labels};
    let mut m = model.clone();
    let span = m.endpoints.first().map(|e| e.span).expect("a pod");
    m.endpoints.push(Endpoint::assumed(
        EndpointKind::Pod,
        ns,
        "(new-pod)",
        Labels::from([("netpol.dev/new-pod".to_owned(), "true".to_owned())]),
        Vec::new(),
        span,
    ));
    let probe = format!("{ns}/(new-pod)");
    let name = netpol_snapshot::new_pod(ns);
    (matrix(&m, p).connections())
        .filter_map(|c| {
            let key = match (c.from.id == probe, c.to.id == probe) {
                (true, false) => (name.clone(), c.to.id.clone()),
                (false, true) => (c.from.id.clone(), name.clone()),
                _ => return None,
            };
            Some((key, c.ports.to_strings().join(",")))
        })
        .collect()
}

/// Each namespace's exposure is what one new pod there alone would get: the new pods of
/// other namespaces do not change it (under VPC CNI they could, through V2, when they all
/// existed in one what-if model). A namespace without pods makes it likelier: only its
/// new pod can resolve a rule whose peers select it.
#[test]
fn exposure_of_a_namespace_is_independent_of_the_others() {
    for seed in 0..SEEDS {
        let yaml = synth::generate(&SynthConfig::tiny(seed));
        for m in [load(&yaml), load(&format!("{yaml}{UNRELATED}"))] {
            for p in &profiles() {
                let s = snapshot(&m, p);
                for ns in &m.namespaces {
                    let name = netpol_snapshot::new_pod(&ns.name);
                    let got: BTreeMap<(String, String), String> = (s.exposure.iter())
                        .filter(|((f, t), _)| *f == name || *t == name)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    assert_eq!(
                        got,
                        exposure_alone(&m, p, &ns.name),
                        "seed {seed}, {}, namespace {}",
                        p.cni.as_str(),
                        ns.name
                    );
                }
            }
        }
    }
}
