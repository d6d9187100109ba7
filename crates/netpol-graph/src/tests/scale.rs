//! Scale: what many endpoints or long lists must not cost (issue 9), with the answers
//! still checked against the per-pair evaluator.

use netpol_manifest::Model;

use super::build::*;
use super::matrix_lines;
use crate::Analysis;

fn has(lines: &[String], line: &str) -> bool {
    lines.iter().any(|l| l == line)
}

/// Issue 9: bare pods that differ only by IP share a class (and the matrix holds groups,
/// not pairs) unless an ipBlock tells their IPs apart; then they must not be merged.
#[test]
fn bare_pods_differing_only_by_ip_share_a_class_unless_an_ip_block_splits_them() {
    let mut m = Model::default();
    for i in 0..40u8 {
        let mut p = pod("x", &format!("p{i:02}"), &[("app", "a")]);
        p.pod_ip = Some(ip(&format!("10.0.{}.{i}", i % 2)));
        p.host_ip = Some(ip("192.168.1.1"));
        m.endpoints.push(p);
    }
    let mut z = pod("y", "z", &[("app", "z")]);
    z.pod_ip = Some(ip("10.9.9.9"));
    m.endpoints.push(z.clone());
    let m1 = finish(m.clone());
    for p in [
        upstream(),
        vpc(),
        with_nodes(vpc(), &[("n1", "192.168.1.1")]),
    ] {
        let lines = matrix_lines(&m1, &p);
        assert!(has(&lines, "x/p00 -> x/p01: *") && has(&lines, "y/z -> x/p39: *"));
        let a = Analysis::new(&m1, &p);
        // x's 40 pods, y/z, the external range and the nodes: not one group per pod.
        assert_eq!(a.matrix().group_count(), 3 + p.nodes.len(), "{:?}", p.cni);
    }
    // z may reach 10.0.0.0/24 except 10.0.0.128/25: the pods of 10.0.0.x below .128 only.
    let mut eg = policy("y", "to-block", sel(&[]));
    eg.egress = vec![rule(vec![block("10.0.0.0/24", &["10.0.0.128/25"])], vec![])];
    m.policies.push(declared(eg, false, true));
    let m2 = finish(m);
    for p in [
        upstream(),
        vpc(),
        with_nodes(vpc(), &[("n1", "192.168.1.1")]),
    ] {
        let lines = matrix_lines(&m2, &p);
        assert!(has(&lines, "y/z -> x/p00: *"), "{lines:#?}");
        assert!(!lines.iter().any(|l| l.starts_with("y/z -> x/p01:")));
        // Every pod of x still reaches every other (both sides of the block).
        assert!(has(&lines, "x/p01 -> x/p00: *") && has(&lines, "x/p00 -> x/p01: *"));
        let a = Analysis::new(&m2, &p);
        // Two classes of x (in the block or not), y/z, and four external ranges.
        assert_eq!(
            a.matrix().group_count(),
            3 + 4 + p.nodes.len(),
            "{:?}",
            p.cni
        );
    }
}

/// Issue 9: an ipBlock with 20,000 `except` entries makes 40,001 external ranges. Only
/// pairs with a pod end are modelled, so the ranges must not be joined with each other
/// (that was quadratic: 2.7 s for 40,000 entries in a release build).
#[test]
fn a_long_except_list_stays_linear() {
    let mut m = two_pods();
    m.endpoints[0].pod_ip = Some(ip("10.0.0.1"));
    let except: Vec<String> = (0..20_000u32)
        .map(|i| {
            let v = 256 + 4 * i;
            format!("10.{}.{}.{}/31", v >> 16, (v >> 8) & 255, v & 255)
        })
        .collect();
    let except: Vec<&str> = except.iter().map(String::as_str).collect();
    let mut p = policy("x", "big-except", sel(&[("app", "a")]));
    p.egress = vec![rule(vec![block("10.0.0.0/8", &except)], vec![])];
    let m = finish(m);
    let m = Model {
        policies: vec![declared(p, false, true)],
        ..m
    };
    let start = std::time::Instant::now();
    let a = Analysis::new(&m, &vpc());
    let matrix = a.matrix();
    let took = start.elapsed();
    // 40,003 ranges: below 10/8, before the first except, 20,000 excepts, 19,999 gaps,
    // after the last except, above 10/8. x/a reaches the 20,001 ranges the block keeps;
    // x/b (egress open) reaches x/a and every range; every range reaches both pods.
    assert_eq!(matrix.endpoints.len(), 2 + 40_003);
    assert_eq!(
        matrix.connection_count(),
        20_001 + 1 + 3 * 40_003,
        "{took:?}"
    );
    // Quadratic took minutes in a debug build; linear takes well under a second.
    assert!(took.as_secs() < 20, "{took:?}");
}
