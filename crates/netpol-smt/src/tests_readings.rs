//! Verdicts that depend on more than the policies: the pod-ips annotation (V14), IPv6
//! addresses on an IPv4 cluster, the other readings of `--robust`, and older VPC CNI releases.

use netpol_diag::Code;
use netpol_graph::Profile;
use netpol_manifest::config::{ClusterSettings, Cni, EnforcingMode};

use crate::tests::{config, load, profile};
use crate::*;

/// A bare Pod `x/<name>` labelled `app: <name>`, with `status` (YAML flow text) and extra
/// metadata.
pub(crate) fn pod(name: &str, status: &str, metadata: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{namespace: x, name: {name}, labels: {{app: {name}}}{metadata}}}\nspec: {{containers: [{{name: c, image: i}}]}}\nstatus: {status}\n"
    )
}

/// A NetworkPolicy `x/<app>` selecting `app: <app>`, with `spec` lines after the selector.
pub(crate) fn policy(app: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{namespace: x, name: {app}}}\nspec:\n  podSelector: {{matchLabels: {{app: {app}}}}}\n{spec}"
    )
}

/// An assertion over `x/<from> -> x/<to>` with scope existing: `kind` is `deny` or
/// `allow`, `ports` a YAML list or empty.
pub(crate) fn assertion(name: &str, kind: &str, from: &str, to: &str, ports: &str) -> String {
    let ports = if ports.is_empty() {
        String::new()
    } else {
        format!(", ports: {ports}")
    };
    format!(
        "  - name: {name}\n    scope: existing\n    {kind}: {{from: {{namespace: x, podSelector: {{matchLabels: {{app: {from}}}}}}}, to: {{namespace: x, podSelector: {{matchLabels: {{app: {to}}}}}}}{ports}}}\n"
    )
}

pub(crate) fn assertions(list: &[String]) -> crate::config::ParsedConfig {
    config(&format!(
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n{}",
        list.concat()
    ))
}

fn with_pod_cidr(cni: Cni) -> Profile {
    Profile::new(&ClusterSettings {
        cni,
        pod_cidrs: vec!["10.0.0.0/16".parse().expect("cidr")],
        ..Default::default()
    })
}

const ROBUST: Options = Options {
    timeout: std::time::Duration::from_secs(30),
    deadline: None,
    jobs: 0,
    robust: true,
};

/// V14: a pod without `status.podIP` is at the address of its `vpc.amazonaws.com/pod-ips`
/// annotation under VPC CNI. Before, its address was symbolic in `podCIDRs`, so with the
/// annotated address outside them (a secondary VPC CIDR) a `deny` was proved that the
/// controller does not enforce.
#[test]
fn v14_the_annotated_address_is_the_pods() {
    let model = load(&[
        pod("db", "{podIP: 10.0.0.10}", ""),
        pod("batch", "{phase: Pending}", ", annotations: {vpc.amazonaws.com/pod-ips: 100.64.5.7}"),
        policy("db", "  policyTypes: [Ingress]\n  ingress: [{from: [{ipBlock: {cidr: 100.64.5.0/24}}]}]\n"),
    ]
    .concat());
    let cfg = assertions(&[
        assertion("batch-cannot-reach-db", "deny", "batch", "db", ""),
        assertion("batch-reaches-db", "allow", "batch", "db", "[\"TCP/5432\"]"),
    ]);
    let v = verify(
        &model,
        &with_pod_cidr(Cni::VpcCni),
        &cfg,
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
        &with_pod_cidr(Cni::Upstream),
        &cfg,
        &Options::default(),
    );
    assert_eq!(v.results[0].outcome, Outcome::Proved);
    assert_eq!(v.results[1].outcome.as_str(), "refuted");
}

/// On an IPv4 cluster the encoding's addresses are IPv4: an IPv6 pod took an IPv4 address
/// in the solver, so a `deny` into a pod whose IPv6 ipBlock admits the source was proved.
/// With an IPv6 address in an IPv4 cluster every verdict is `unknown`, naming it; IPv4
/// addresses are unaffected (the IPv6 family is `tests_family`'s).
#[test]
fn ipv6_addresses_make_verdicts_unknown() {
    let cluster = |db: &str, web: &str, block: &str| {
        load(&[
            pod("db", &format!("{{podIP: \"{db}\"}}"), ""),
            pod("web", &format!("{{podIP: \"{web}\"}}"), ""),
            policy("db", &format!("  policyTypes: [Ingress]\n  ingress: [{{from: [{{ipBlock: {{cidr: \"{block}\"}}}}], ports: [{{port: 5432}}]}}]\n")),
        ]
        .concat())
    };
    let cfg = assertions(&[assertion(
        "web-cannot-reach-db",
        "deny",
        "web",
        "db",
        "[\"TCP/5432\"]",
    )]);
    for cni in [Cni::VpcCni, Cni::Upstream] {
        let p = profile(cni, EnforcingMode::Standard);
        let v6 = cluster(
            "2600:1f14:abcd::10",
            "2600:1f14:abcd::20",
            "2600:1f14:abcd::/64",
        );
        let v = verify(&v6, &p, &cfg, &Options::default());
        assert!(
            matches!(&v.results[0].outcome, Outcome::Unknown(r) if r.contains("x/db has address 2600:1f14:abcd::10")),
            "{:?}",
            v.results[0].outcome
        );
        let v4 = cluster("10.0.0.10", "10.0.0.20", "10.0.0.0/24");
        let v = verify(&v4, &p, &cfg, &Options::default());
        assert_eq!(v.results[0].outcome.as_str(), "refuted");
    }
}

/// `--robust` under vpc-cni: V2 makes db's egress rule (outside `policyTypes`) isolate it,
/// so `deny db -> web` holds today; once the controller respects `policyTypes` (open NPC
/// PR #229) it fails. Robust, the proof is `unknown` naming the reading; proofs that hold
/// either way are unchanged.
#[test]
fn robust_proofs_hold_under_the_pending_controller_change() {
    let model = load(&[
        pod("db", "{podIP: 10.0.0.10}", ""),
        pod("cache", "{podIP: 10.0.0.11}", ""),
        pod("web", "{podIP: 10.0.0.12}", ""),
        policy("db", "  policyTypes: [Ingress]\n  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]\n  egress: [{to: [{podSelector: {matchLabels: {app: cache}}}]}]\n"),
    ]
    .concat());
    let cfg = assertions(&[
        assertion("db-cannot-reach-web", "deny", "db", "web", ""),
        assertion("web-reaches-db", "allow", "web", "db", "[\"TCP/5432\"]"),
        assertion("cache-cannot-reach-db", "deny", "cache", "db", ""),
    ]);
    let p = profile(Cni::VpcCni, EnforcingMode::Standard);
    let plain = verify(&model, &p, &cfg, &Options::default());
    assert!(
        plain.results.iter().all(|r| r.outcome == Outcome::Proved),
        "{:?}",
        plain.results
    );
    let v = verify(&model, &p, &cfg, &ROBUST);
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
    let batch = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {namespace: x, name: batch}\nspec:\n  selector: {matchLabels: {app: batch}}\n  template:\n    metadata: {labels: {app: batch}}\n    spec: {containers: [{name: c, image: i}]}\n";
    let model = load(
        &[
            pod("db", "{podIP: 10.0.0.10}", ""),
            pod("web", "{podIP: 10.0.0.12}", ""),
            batch.to_owned(),
            policy(
                "db",
                "  policyTypes: [Ingress]\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16}}]}]\n",
            ),
        ]
        .concat(),
    );
    let cfg = assertions(&[
        assertion("batch-cannot-reach-db", "deny", "batch", "db", ""),
        assertion("web-reaches-db", "allow", "web", "db", "[\"TCP/5432\"]"),
    ]);
    let p = with_pod_cidr(Cni::Upstream);
    let plain = verify(&model, &p, &cfg, &Options::default());
    assert!(
        plain.results.iter().all(|r| r.outcome == Outcome::Proved),
        "{:?}",
        plain.results
    );
    let v = verify(&model, &p, &cfg, &ROBUST);
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
    let model = load(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a-b-x, namespace: c}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a-x, namespace: b-c}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: c, name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n",
    );
    let cfg = config(
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: c-isolated\n    scope: existing\n    deny: {from: {namespace: b-c}, to: {namespace: c}}\n",
    );
    let at = |agent: &str| {
        let mut settings = ClusterSettings::default();
        settings.vpc_cni.agent_version = Some(agent.parse().expect("release"));
        Profile::new(&settings)
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
            .any(|d| d.code == Code::VersionNotModelled)
    );
}

/// Under the default agent (v1.4.1) an ipBlock written with host bits at a node's address
/// is dropped on that node as written (V12), which netpol, reading the canonical block, does
/// not model: `verify` answers `unknown`; with agent v1.4.2 (canonicalised) it decides.
#[test]
fn cidrs_written_at_a_node_address_are_unknown_up_to_agent_v1_4_1() {
    let model = load(&[
        pod("api", "{podIP: 10.0.0.10}", ""),
        policy("api", "  policyTypes: [Egress]\n  egress: [{to: [{ipBlock: {cidr: 10.0.1.5/24}}], ports: [{port: 443}]}]\n"),
    ]
    .concat());
    let cfg = config(
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: api-reaches-subnet\n    scope: existing\n    allow: {from: {namespace: x, podSelector: {matchLabels: {app: api}}}, to: {ipBlock: {cidr: 10.0.1.7/32}}, ports: [\"TCP/443\"]}\n",
    );
    let at = |agent: &str| {
        let mut settings = ClusterSettings {
            nodes: vec![netpol_manifest::config::Node {
                name: "n1".to_owned(),
                ip: "10.0.1.5".parse().expect("ip"),
            }],
            ..ClusterSettings::default()
        };
        settings.vpc_cni.agent_version = Some(agent.parse().expect("release"));
        Profile::new(&settings)
    };
    let old = verify(&model, &at("v1.4.1"), &cfg, &Options::default());
    assert!(
        matches!(&old.results[0].outcome, Outcome::Unknown(r) if r.contains("node n1's address")),
        "{:?}",
        old.results[0].outcome
    );
    let new = verify(&model, &at("v1.4.2"), &cfg, &Options::default());
    assert_eq!(new.results[0].outcome, Outcome::Proved);
}
