//! VPC CNI agent limits: V13's 24 port slots per address key.

use netpol_manifest::model::{Direction, Protocol};

use super::build::*;
use crate::Analysis;

const TCP: Protocol = Protocol::Tcp;

/// V13: web's /32 at db has 27 slots (25 ports, a range and a port inside it); every port
/// some slot allows is missed by at least 24 others, so none is certain; with 25 slots
/// (the second rule gone) a single port is missed by exactly 24: still uncertain; with 24,
/// nothing is truncated.
#[test]
fn v13_more_than_24_slots_make_their_ports_uncertain() {
    use crate::rules::slots::SlotKey;
    let path = crate::tests::fixtures::reach_dir().join("vpc-port-slots.yaml");
    let yaml = std::fs::read_to_string(path).expect("fixture");
    let load = |yaml: &str| {
        let mut map = netpol_diag::SourceMap::new();
        let src = netpol_manifest::Source::Bytes {
            name: "t.yaml".to_owned(),
            bytes: yaml.as_bytes().to_vec(),
        };
        netpol_manifest::load(&[src], &Default::default(), &mut map).model
    };
    let facts = |m: &netpol_manifest::Model| Analysis::new(m, &vpc()).truncated_slots();
    let m = load(&yaml);
    let f = facts(&m);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        (f[0].endpoint.as_str(), f[0].direction),
        ("x/db", Direction::Ingress)
    );
    let k = &f[0].keys[0];
    assert_eq!((&k.key, k.slots), (&SlotKey::Endpoint("x/web".into()), 27));
    for p in [8001, 8025, 9000, 9050, 9100] {
        assert!(k.uncertain.contains(TCP, p), "{p}");
    }
    assert!(!k.uncertain.contains(TCP, 7000));
    assert!(Analysis::new(&m, &upstream()).truncated_slots().is_empty());
    let cut = |from: &str| yaml[..yaml.find(from).expect("cut")].to_owned();
    let m = load(&cut(
        "  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 9000",
    ));
    let f = facts(&m);
    assert!(f[0].keys[0].uncertain.contains(TCP, 8001), "{f:#?}");
    let m = load(
        &cut("  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 9000")
            .replace("{port: 8024},\n            {port: 8025}]", "{port: 8024}]"),
    );
    assert!(facts(&m).is_empty());
}

/// V13 with V9: `db-a` and `db-b` share the identifier `db@x`, so the agent may give
/// either the rules of both policies: 15 + 15 slots at web's /32 are over 24 although each
/// policy alone stays under.
#[test]
fn v13_counts_the_slots_of_an_identifier() {
    let ports = |from: u16| {
        (from..from + 15)
            .map(|p| format!("{{port: {p}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{namespace: x, name: web, labels: {{app: web}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\nstatus: {{podIP: 10.0.0.5}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{namespace: x, name: db-a, labels: {{app: a}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{namespace: x, name: db-b, labels: {{app: b}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{namespace: x, name: a}}\nspec: {{podSelector: {{matchLabels: {{app: a}}}}, ingress: [{{from: [{{podSelector: {{matchLabels: {{app: web}}}}}}], ports: [{}]}}]}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{namespace: x, name: b}}\nspec: {{podSelector: {{matchLabels: {{app: b}}}}, ingress: [{{from: [{{podSelector: {{matchLabels: {{app: web}}}}}}], ports: [{}]}}]}}\n",
        ports(8000),
        ports(9000)
    );
    let mut map = netpol_diag::SourceMap::new();
    let src = netpol_manifest::Source::Bytes {
        name: "t.yaml".to_owned(),
        bytes: yaml.into_bytes(),
    };
    let m = netpol_manifest::load(&[src], &Default::default(), &mut map).model;
    assert_eq!(m.policies.len(), 2);
    let f = Analysis::new(&m, &vpc()).truncated_slots();
    let at: Vec<&str> = f.iter().map(|s| s.endpoint.as_str()).collect();
    assert_eq!(at, ["x/db-a", "x/db-b"], "{f:#?}");
    assert_eq!(f[0].keys[0].slots, 30);
}

/// V13 with V11: web's /32 at client inherits the 10 slots of the `0.0.0.0/0` key holding
/// its address, so 15 + 10 slots are over 24 although each rule alone stays under; a peer
/// outside every CIDR key inherits nothing.
#[test]
fn v13_counts_the_slots_a_key_inherits() {
    let ports = |from: u16, n: u16| {
        (from..from + n)
            .map(|p| format!("{{port: {p}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let yaml = |cidr: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{namespace: x, name: web, labels: {{app: web}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\nstatus: {{podIP: 10.0.0.5}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{namespace: x, name: client, labels: {{app: client}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\nstatus: {{podIP: 10.0.0.6}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{namespace: x, name: client}}\nspec:\n  podSelector: {{matchLabels: {{app: client}}}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{{ipBlock: {{cidr: {cidr}}}}}]\n    ports: [{}]\n  - to: [{{podSelector: {{matchLabels: {{app: web}}}}}}]\n    ports: [{}]\n",
            ports(7000, 10),
            ports(8000, 15)
        )
    };
    let facts = |text: String| {
        let mut map = netpol_diag::SourceMap::new();
        let src = netpol_manifest::Source::Bytes {
            name: "t.yaml".to_owned(),
            bytes: text.into_bytes(),
        };
        let m = netpol_manifest::load(&[src], &Default::default(), &mut map).model;
        Analysis::new(&m, &vpc()).truncated_slots()
    };
    let f = facts(yaml("0.0.0.0/0"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].keys[0].slots, 25, "{f:#?}");
    assert!(facts(yaml("192.168.0.0/16")).is_empty());
}

/// V13 on a ClusterIP (V5, V10): client's egress key for the ClusterIP of `x/db` has its own
/// slot (the range 79-81, mapped to Service port 79) and the 24 it inherits from the
/// ipBlock `172.20.0.0/16` holding it: 25 slots, so Service ports 79 and 80 are uncertain,
/// while the ipBlock's own key (24) and db's /32 (1) are not truncated. With 23 ports in
/// the ipBlock rule nothing is. A CIDR key over 24 names the ClusterIPs it holds.
#[test]
fn v13_counts_the_slots_of_a_cluster_ip() {
    use crate::rules::slots::SlotKey;
    let path = crate::tests::fixtures::reach_dir().join("vpc-port-slots-cluster-ip.yaml");
    let yaml = std::fs::read_to_string(path).expect("fixture");
    let facts = |text: &str| {
        let mut map = netpol_diag::SourceMap::new();
        let src = netpol_manifest::Source::Bytes {
            name: "t.yaml".to_owned(),
            bytes: text.as_bytes().to_vec(),
        };
        let m = netpol_manifest::load(&[src], &Default::default(), &mut map).model;
        Analysis::new(&m, &vpc()).truncated_slots()
    };
    let f = facts(&yaml);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        (f[0].endpoint.as_str(), f[0].direction),
        ("x/client", Direction::Egress)
    );
    assert_eq!(f[0].keys.len(), 1, "{f:#?}");
    let k = &f[0].keys[0];
    assert_eq!((&k.key, k.slots), (&SlotKey::Service("x/db".into()), 25));
    assert_eq!(k.cluster_ips, ["x/db"]);
    for p in [79, 80] {
        assert!(k.uncertain.contains(TCP, p), "{p}");
    }
    assert!(!k.uncertain.contains(TCP, 9000));
    assert!(facts(&yaml.replace("{port: 2000}, ", "")).is_empty());
    // The ipBlock's key itself over 24: it holds the ClusterIP.
    let f = facts(&yaml.replace("{port: 2000}, ", "{port: 80}, {port: 2000}, "));
    let cidr: Vec<_> = (f[0].keys.iter())
        .filter(|k| matches!(k.key, SlotKey::Cidr(_)))
        .collect();
    assert_eq!(cidr.len(), 1, "{f:#?}");
    assert_eq!(cidr[0].cluster_ips, ["x/db"]);
}

/// V13 in the matrix: the connections a truncated key decides are marked with the part of
/// their ports at stake (web -> db on every port some slot allows; client's ClusterIP of
/// x/db, not client -> db itself, whose /32 key has 1 slot); none with 24 slots or under
/// `upstream`; a filter keeps a mark only with its connection.
#[test]
fn the_matrix_marks_the_connections_a_truncated_key_decides() {
    let load = |name: &str, edit: &dyn Fn(String) -> String| {
        let path = crate::tests::fixtures::reach_dir().join(name);
        let yaml = edit(std::fs::read_to_string(path).expect("fixture"));
        let mut map = netpol_diag::SourceMap::new();
        let src = netpol_manifest::Source::Bytes {
            name: "t.yaml".to_owned(),
            bytes: yaml.into_bytes(),
        };
        netpol_manifest::load(&[src], &Default::default(), &mut map).model
    };
    let marks = |m: &crate::Matrix| -> Vec<String> {
        (m.uncertain.iter())
            .map(|u| {
                format!(
                    "{} -> {}: {}",
                    u.from,
                    u.to,
                    u.ports.to_strings().join(", ")
                )
            })
            .collect()
    };
    let m = load("vpc-port-slots.yaml", &|y| y);
    let matrix = Analysis::new(&m, &vpc()).matrix();
    assert_eq!(
        marks(&matrix),
        ["x/web -> x/db: TCP/8001-8025, TCP/9000-9100"]
    );
    assert!(matrix.uncertain[0].reasons[0].contains("27 port slots"));
    assert!(Analysis::new(&m, &upstream()).matrix().uncertain.is_empty());
    let only_db = crate::Filter {
        from: Some("x/db".into()),
        ..Default::default()
    };
    assert!(matrix.filter(&only_db).uncertain.is_empty());
    let only_web = crate::Filter {
        from: Some("x/web".into()),
        ..Default::default()
    };
    assert_eq!(marks(&matrix.filter(&only_web)).len(), 1);
    let m = load("vpc-port-slots.yaml", &|y| {
        let cut = "  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 9000";
        y[..y.find(cut).expect("cut")]
            .replace("{port: 8024},\n            {port: 8025}]", "{port: 8024}]")
    });
    assert!(Analysis::new(&m, &vpc()).matrix().uncertain.is_empty());
    let m = load("vpc-port-slots-cluster-ip.yaml", &|y| y);
    let matrix = Analysis::new(&m, &vpc()).matrix();
    assert_eq!(marks(&matrix), ["x/client -> x/db[Service]: TCP/79-80"]);
}
