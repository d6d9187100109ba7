//! Named classes ([`Matrix::classes`]): they are exactly the matrix, maximal, uniquely
//! and stably named; replicas; owners; external CIDR classes.

use std::collections::BTreeMap;

use netpol_manifest::model::{EndpointKind, Protocol};
use netpol_manifest::{LoadOptions, Model, Source};

use super::build::*;
use crate::{Analysis, Matrix, Profile};

/// The pairs the classes stand for, as `from -> to: ports` lines, sorted.
fn expanded(m: &Matrix) -> Vec<String> {
    let c = m.classes();
    let mut res = Vec::new();
    for e in c.edges() {
        for a in &e.from.members {
            for b in &e.to.members {
                let (ea, eb) = (&m.endpoints[a.index()], &m.endpoints[b.index()]);
                if a != b || ea.has_replicas() {
                    let ports = e.ports.to_strings().join(", ");
                    res.push(format!("{} -> {}: {ports}", ea.id, eb.id));
                }
            }
        }
    }
    res.sort();
    res
}

/// Checks that the classes stand for exactly the matrix's connections, that names are
/// unique, and (small matrices) that no two classes could be one: swapping a member of
/// each changes the matrix.
pub(crate) fn check_classes(m: &Matrix) -> Result<(), String> {
    let mut want = super::lines(m);
    want.sort();
    let got = expanded(m);
    if got != want {
        return Err(format!("classes expand to\n{got:#?}\nnot\n{want:#?}"));
    }
    let c = m.classes();
    let mut names: Vec<&str> = c.classes.iter().map(|x| x.name.as_str()).collect();
    let n = names.len();
    names.dedup();
    if names.len() != n {
        return Err(format!("names not unique and sorted: {names:?}"));
    }
    if m.endpoints.len() > 80 {
        return Ok(());
    }
    let ports: BTreeMap<(usize, usize), String> = m
        .pairs()
        .map(|(a, b, p)| ((a as usize, b as usize), p.to_strings().join(",")))
        .collect();
    let at = |a: usize, b: usize| ports.get(&(a, b)).cloned().unwrap_or_default();
    let cat = |i: usize| {
        let e = &m.endpoints[i];
        (std::mem::discriminant(&e.kind), e.has_replicas())
    };
    // The ports between two members of a class: one set for the whole class, free for a
    // lone pod (it has no peer inside its class).
    let internal = |x: &crate::Class| match x.members[..] {
        [a, b, ..] => Some(at(a.index(), b.index())),
        [a] if cat(a.index()).1 => Some(at(a.index(), a.index())),
        _ => None,
    };
    for (i, x) in c.classes.iter().enumerate() {
        for y in &c.classes[i + 1..] {
            let (a, b) = (x.members[0].index(), y.members[0].index());
            if cat(a) != cat(b) {
                continue;
            }
            // One class has one set of ports between any two of its members.
            let between = at(a, b);
            if [internal(x), internal(y)]
                .iter()
                .any(|q| q.as_ref().is_some_and(|q| *q != between))
            {
                continue;
            }
            let swap = |v: usize| match v {
                v if v == a => b,
                v if v == b => a,
                v => v,
            };
            let same = (0..m.endpoints.len())
                .all(|u| (0..m.endpoints.len()).all(|v| at(u, v) == at(swap(u), swap(v))));
            if same {
                return Err(format!("{} and {} could be one class", x.name, y.name));
            }
        }
    }
    Ok(())
}

fn load(yaml: &str) -> Model {
    let mut map = netpol_diag::SourceMap::new();
    let loaded = netpol_manifest::load(
        &[Source::Bytes {
            name: "t.yaml".to_owned(),
            bytes: yaml.as_bytes().to_vec(),
        }],
        &LoadOptions::default(),
        &mut map,
    );
    assert!(
        loaded.diagnostics.iter().all(|d| !d.is_error()),
        "{:#?}",
        loaded.diagnostics
    );
    loaded.model
}

fn names(m: &Matrix) -> Vec<String> {
    m.classes().classes.into_iter().map(|c| c.name).collect()
}

fn edges(m: &Matrix) -> Vec<String> {
    let c = m.classes();
    c.edges()
        .map(|e| {
            format!(
                "{} -> {}: {}",
                e.from.name,
                e.to.name,
                e.ports.to_strings().join(", ")
            )
        })
        .collect()
}

/// Two replicas of a Deployment reach each other when its policy admits its own pods,
/// and not when it admits only others; a bare pod never reaches itself.
#[test]
fn replicas_reach_each_other() {
    let mut m = two_pods();
    m.endpoints[0].kind = EndpointKind::Deployment;
    m.endpoints.push(pod("x", "c", &[("app", "c")]));
    let mut p = policy("x", "only-from-a", sel(&[("app", "a")]));
    p.ingress = vec![rule(
        vec![pods_peer(None, Some(sel(&[("app", "a")])))],
        vec![port(Protocol::Tcp, 80)],
    )];
    m.policies = vec![default_types(p)];
    let m = finish(m);
    let lines = super::matrix_lines(&m, &vpc());
    assert!(lines.contains(&"x/a[Deployment] -> x/a[Deployment]: TCP/80".to_owned()));
    assert!(!lines.iter().any(|l| l.starts_with("x/c -> x/c")));
    let a = Analysis::new(&m, &vpc());
    let mx = a.matrix();
    check_classes(&mx).expect("classes");
    assert!(edges(&mx).contains(&"x/a[Deployment] -> x/a[Deployment]: TCP/80".to_owned()));
    // explain agrees: two replicas, not "traffic to itself".
    let e = a
        .explain(
            "x/a[Deployment]",
            "x/a[Deployment]",
            Some((Protocol::Tcp, 80)),
        )
        .expect("explain");
    assert!(e.verdict, "{e:?}");
    assert_eq!(e.directions.len(), 2);
    let e = a.explain("x/c", "x/c", None).expect("explain");
    assert!(!e.verdict && e.directions.is_empty(), "{e:?}");
    // Denied between replicas: no edge to itself.
    let mut m2 = m.clone();
    m2.policies[0].ingress[0].peers = vec![pods_peer(None, Some(sel(&[("app", "b")])))];
    let lines = super::matrix_lines(&m2, &vpc());
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("x/a[Deployment] -> x/a["))
    );
    let a2 = Analysis::new(&m2, &vpc());
    let e = a2
        .explain(
            "x/a[Deployment]",
            "x/a[Deployment]",
            Some((Protocol::Tcp, 80)),
        )
        .expect("explain");
    assert!(!e.verdict, "{e:?}");
}

/// Bare pods with the same connectivity are one class, across namespaces; a policy that
/// tells them apart splits them, and names do not depend on unrelated namespaces.
#[test]
fn identical_rows_and_columns_are_one_class() {
    let yaml = |extra: &str| {
        let mut s = String::new();
        for (ns, name) in [("a", "p1"), ("a", "p2"), ("b", "p3"), ("c", "q1")] {
            s.push_str(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {name}}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n---\n"
            ));
        }
        s.push_str(extra);
        s
    };
    let open = load(&yaml(""));
    let a = Analysis::new(&open, &vpc());
    let m = a.matrix();
    check_classes(&m).expect("classes");
    assert_eq!(names(&m), ["0.0.0.0/0", "a/p1+"]);
    assert_eq!(
        edges(&m),
        [
            "0.0.0.0/0 -> a/p1+: *",
            "a/p1+ -> 0.0.0.0/0: *",
            "a/p1+ -> a/p1+: *"
        ]
    );
    // Namespace c isolates q1: it leaves the class; the others keep their name.
    let deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: c}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n";
    let m2 = load(&yaml(deny));
    let a2 = Analysis::new(&m2, &vpc());
    let mx = a2.matrix();
    check_classes(&mx).expect("classes");
    assert_eq!(names(&mx), ["0.0.0.0/0", "a/p1+", "c/q1"]);
}

/// Pods whose controller is not in the input are grouped under it; a ReplicaSet
/// `<deployment>-<pod-template-hash>` stands for its Deployment.
#[test]
fn pods_are_grouped_by_a_missing_owner() {
    let mut s = String::new();
    for (i, ip) in ["10.0.0.1", "10.0.0.2"].iter().enumerate() {
        s.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-7d9f8-x{i}\n  namespace: shop\n  labels: {{app: web, pod-template-hash: 7d9f8}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f8, uid: u, controller: true}}]\nspec: {{containers: [{{name: c, image: i}}]}}\nstatus: {{podIP: {ip}}}\n---\n"
        ));
    }
    s.push_str("apiVersion: v1\nkind: Pod\nmetadata:\n  name: db-0\n  namespace: shop\n  labels: {app: db}\n  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, uid: u, controller: true}]\nspec: {containers: [{name: c, image: i}]}\n---\n");
    s.push_str("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]\n");
    let model = load(&s);
    let a = Analysis::new(&model, &vpc());
    let m = a.matrix();
    check_classes(&m).expect("classes");
    assert_eq!(
        names(&m),
        ["0.0.0.0/0", "shop/db[StatefulSet]", "shop/web[Deployment]"]
    );
    let c = m.classes();
    let web = &c.classes[2];
    assert_eq!(web.workloads, [("shop/web[Deployment]".to_owned(), 2)]);
    assert_eq!(web.kind, "Pod");
    assert!(edges(&m).contains(&"shop/web[Deployment] -> shop/db[StatefulSet]: *".to_owned()));
    // The owner is a filter pattern too.
    let f = m.filter(&crate::Filter {
        from: Some("shop/web".to_owned()),
        ..crate::Filter::default()
    });
    assert_eq!(
        f.connections()
            .filter(|c| c.from.id.starts_with("shop/web-"))
            .count(),
        6
    );
}

/// External ranges with the same connectivity are one class, a sorted list of CIDRs.
#[test]
fn external_ranges_are_grouped_into_cidr_classes() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {app: a}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: egress, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]}}]\n  - to: [{ipBlock: {cidr: 10.1.0.0/16}}]\n    ports: [{port: 443}]\n";
    let model = load(yaml);
    let a = Analysis::new(&model, &vpc());
    let m = a.matrix();
    check_classes(&m).expect("classes");
    let c = m.classes();
    let cidrs: Vec<Vec<String>> = c
        .classes
        .iter()
        .filter(|x| x.kind == "External")
        .map(|x| x.cidrs.iter().map(ToString::to_string).collect())
        .collect();
    assert_eq!(
        cidrs,
        [
            vec![
                "0.0.0.0/5",
                "8.0.0.0/7",
                "11.0.0.0/8",
                "12.0.0.0/6",
                "16.0.0.0/4",
                "32.0.0.0/3",
                "64.0.0.0/2",
                "128.0.0.0/3",
                "160.0.0.0/5",
                "168.0.0.0/6",
                "172.0.0.0/12",
                "172.32.0.0/11",
                "172.64.0.0/10",
                "172.128.0.0/9",
                "173.0.0.0/8",
                "174.0.0.0/7",
                "176.0.0.0/4",
                "192.0.0.0/9",
                "192.128.0.0/11",
                "192.160.0.0/13",
                "192.169.0.0/16",
                "192.170.0.0/15",
                "192.172.0.0/14",
                "192.176.0.0/12",
                "192.192.0.0/10",
                "193.0.0.0/8",
                "194.0.0.0/7",
                "196.0.0.0/6",
                "200.0.0.0/5",
                "208.0.0.0/4",
                "224.0.0.0/3"
            ],
            vec![
                "10.0.0.0/16",
                "10.2.0.0/15",
                "10.4.0.0/14",
                "10.8.0.0/13",
                "10.16.0.0/12",
                "10.32.0.0/11",
                "10.64.0.0/10",
                "10.128.0.0/9",
                "172.16.0.0/12",
                "192.168.0.0/16"
            ],
            vec!["10.1.0.0/16"],
        ]
    );
    assert_eq!(
        edges(&m),
        [
            "0.0.0.0/5+ -> x/a: *",
            "10.0.0.0/16+ -> x/a: *",
            "10.1.0.0/16 -> x/a: *",
            "x/a -> 0.0.0.0/5+: *",
            "x/a -> 10.1.0.0/16: TCP/443"
        ]
    );
}

/// Every format's output is the same from run to run (no hash order leaks).
#[test]
fn class_output_is_deterministic() {
    use crate::synth::{SynthConfig, generate};
    let yaml = generate(&SynthConfig::tiny(3));
    let model = load(&yaml);
    let render = || {
        let a = Analysis::new(&model, &vpc());
        let m = a.matrix();
        let mut out = String::new();
        for f in crate::format::Format::ALL {
            crate::format::write(&mut out, &m, f, false).expect("write");
        }
        out
    };
    assert_eq!(render(), render());
}

fn vpc() -> Profile {
    Profile::new(&netpol_manifest::config::ClusterSettings::default())
}
