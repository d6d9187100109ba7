//! Fixture cases in `testdata/reach/`: each `<case>.yaml` (a multi-document manifest that
//! starts with `# why:` and `# source:` comments) has a sibling `<case>.expect` with the
//! hand-derived connections per profile:
//!
//! ```text
//! pod-cidr 10.0.0.0/16        # optional cluster settings
//! service-cidr 172.20.0.0/16
//! node n1=192.168.1.1
//! ip-family ipv6              # default ipv4
//! pods-only                   # compare only pairs of pods, workloads and Services
//! [upstream]
//! x/a -> y/b: TCP/80
//! [vpc-cni]
//! ...
//! [vpc-cni-strict]            # optional: when absent, strict must equal vpc-cni
//! ```
//!
//! The test loads each case with `netpol_manifest::load`, runs both engines under each
//! profile, and compares to the expectation exactly (missing and extra lines).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netpol_diag::SourceMap;
use netpol_manifest::config::{ClusterSettings, Cni, EnforcingMode, IpFamily, Node};
use netpol_manifest::{LoadOptions, Source};

use crate::{Analysis, EndpointType, Profile};

pub(crate) fn reach_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reach")
}

#[derive(Debug, Default)]
struct Expect {
    settings: ClusterSettings,
    pods_only: bool,
    profiles: BTreeMap<String, Vec<String>>,
}

fn parse_expect(text: &str) -> Expect {
    let mut e = Expect::default();
    let mut section: Option<String> = None;
    for raw in text.lines() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_owned());
            e.profiles.entry(name.to_owned()).or_default();
            continue;
        }
        match &section {
            Some(s) => e
                .profiles
                .entry(s.clone())
                .or_default()
                .push(line.to_owned()),
            None => {
                let (k, v) = line.split_once(' ').unwrap_or((line, ""));
                match k {
                    "pod-cidr" => e.settings.pod_cidrs.push(v.parse().expect("pod-cidr")),
                    "service-cidr" => {
                        e.settings.service_cidr = Some(v.parse().expect("service-cidr"))
                    }
                    "node" => {
                        let (name, ip) = v.split_once('=').expect("node NAME=IP");
                        e.settings.nodes.push(Node {
                            name: name.to_owned(),
                            ip: ip.parse().expect("node ip"),
                        });
                    }
                    "ip-family" => {
                        e.settings.ip_family = match v {
                            "ipv4" => IpFamily::Ipv4,
                            "ipv6" => IpFamily::Ipv6,
                            other => panic!("unknown ip-family {other}"),
                        }
                    }
                    "pods-only" => e.pods_only = true,
                    other => panic!("unknown directive {other}"),
                }
            }
        }
    }
    e
}

fn run_case(yaml: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let text = std::fs::read_to_string(yaml).expect("read case");
    assert!(
        text.starts_with("# why:") && text.contains("\n# source:"),
        "{} must start with `# why:` and `# source:` comments",
        yaml.display()
    );
    let expect_path = yaml.with_extension("expect");
    let expect = parse_expect(&std::fs::read_to_string(&expect_path).expect("read .expect"));
    let mut map = SourceMap::new();
    let loaded = netpol_manifest::load(
        &[Source::Path(yaml.to_path_buf())],
        &LoadOptions::default(),
        &mut map,
    );
    let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", yaml.display());
    for (name, cni, mode) in [
        ("upstream", Cni::Upstream, EnforcingMode::Standard),
        ("vpc-cni", Cni::VpcCni, EnforcingMode::Standard),
        ("vpc-cni-strict", Cni::VpcCni, EnforcingMode::Strict),
    ] {
        let want = expect.profiles.get(name).or_else(|| {
            (name == "vpc-cni-strict")
                .then(|| expect.profiles.get("vpc-cni"))
                .flatten()
        });
        let Some(want) = want else {
            failures.push(format!("{}: no [{name}] section", expect_path.display()));
            continue;
        };
        let profile = Profile::new(&ClusterSettings {
            cni,
            enforcing_mode: mode,
            ..expect.settings.clone()
        });
        let a = Analysis::new(&loaded.model, &profile);
        let m = a.matrix();
        let keep = |k: EndpointType| {
            !expect.pods_only || matches!(k, EndpointType::Workload(_) | EndpointType::Service)
        };
        let got: Vec<String> = m
            .connections()
            // Replicas reaching each other are checked against the evaluator below and in
            // `replicas_reach_each_other`; the `.expect` files list pairs of endpoints.
            .filter(|c| keep(c.from.kind) && keep(c.to.kind) && c.from.id != c.to.id)
            .map(|c| super::line(&c))
            .collect();
        let reference: Vec<String> = super::lines(&a.reference_matrix());
        let all: Vec<String> = super::lines(&m);
        if all != reference {
            failures.push(format!(
                "{} [{name}]: engine and evaluator disagree",
                yaml.display()
            ));
        }
        let mut want_sorted = want.clone();
        want_sorted.sort();
        let missing: Vec<&String> = want_sorted.iter().filter(|l| !got.contains(l)).collect();
        let extra: Vec<&String> = got.iter().filter(|l| !want_sorted.contains(l)).collect();
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!(
                "{} [{name}]:\n  missing: {missing:#?}\n  extra: {extra:#?}",
                yaml.display()
            ));
        }
    }
    failures
}

#[test]
fn reach_fixtures() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(reach_dir())
        .expect("testdata/reach")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "expected the fixture cases, found {}",
        cases.len()
    );
    let failures: Vec<String> = cases.iter().flat_map(|c| run_case(c)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn load_case(name: &str) -> netpol_manifest::Model {
    let mut map = SourceMap::new();
    let loaded = netpol_manifest::load(
        &[Source::Path(reach_dir().join(format!("{name}.yaml")))],
        &LoadOptions::default(),
        &mut map,
    );
    loaded.model
}

fn render(
    name: &str,
    settings: ClusterSettings,
    format: crate::format::Format,
    expand: bool,
) -> String {
    let model = load_case(name);
    let a = Analysis::new(&model, &Profile::new(&settings));
    let mut out = String::new();
    crate::format::write(&mut out, &a.matrix(), format, expand).expect("write to String");
    out
}

#[test]
fn json_contract_snapshots() {
    use crate::format::Format;
    for name in ["egress-dns-coredns", "vpc-host-network", "vpc-port-slots"] {
        let settings = ClusterSettings {
            nodes: vec![Node {
                name: "n1".to_owned(),
                ip: "192.168.1.1".parse().expect("ip"),
            }],
            ..ClusterSettings::default()
        };
        for expand in [false, true] {
            let json = render(name, settings.clone(), Format::Json, expand);
            // The contract is valid JSON with the documented top-level keys.
            let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
            assert_eq!(v["version"], 2);
            assert_eq!(v["layout"], if expand { "pairs" } else { "classes" });
            assert_eq!(v["semantics"]["cni"], "vpc-cni");
            // V13 marks: only the fixture with more than 24 slots has any.
            let marks = v["uncertain"].as_array().expect("uncertain").len();
            assert_eq!(marks > 0, name == "vpc-port-slots", "{name}: {json}");
            let layout = if expand { "pairs_" } else { "" };
            insta::assert_snapshot!(format!("json_{layout}{name}"), json);
        }
    }
}

#[test]
fn format_snapshots() {
    use crate::format::Format;
    for f in Format::ALL {
        let settings = ClusterSettings {
            nodes: vec![
                Node {
                    name: "n1".to_owned(),
                    ip: "192.168.1.1".parse().expect("ip"),
                },
                Node {
                    name: "n2".to_owned(),
                    ip: "192.168.1.2".parse().expect("ip"),
                },
            ],
            ..ClusterSettings::default()
        };
        for expand in [false, true] {
            let out = render("vpc-node-exemption", settings.clone(), f, expand);
            let layout = if expand { "_expanded" } else { "" };
            insta::assert_snapshot!(format!("format_{}{layout}", f.as_str()), out);
        }
    }
}

#[test]
fn explain_on_fixtures() {
    let model = load_case("vpc-cluster-ip-egress");
    let a = Analysis::new(&model, &Profile::new(&ClusterSettings::default()));
    let ex = a
        .explain(
            "x/cli2",
            "x/web[Service]",
            Some((netpol_manifest::model::Protocol::Tcp, 80)),
        )
        .expect("pair");
    assert!(ex.verdict, "{}", ex.summary());
    insta::assert_snapshot!("explain_service", ex.summary());
    let model = load_case("vpc-rules-outside-policy-types");
    let a = Analysis::new(&model, &Profile::new(&ClusterSettings::default()));
    let ex = a.explain("x/a", "x/c", None).expect("pair");
    assert!(!ex.verdict);
    insta::assert_snapshot!("explain_v2", ex.summary());
    // The own-node exemption: ingress only upstream (S10), both directions under VPC CNI (V4).
    let model = load_case("vpc-node-exemption");
    for cni in [Cni::Upstream, Cni::VpcCni] {
        let settings = ClusterSettings {
            cni,
            nodes: vec![Node {
                name: "n1".to_owned(),
                ip: "192.168.1.1".parse().expect("ip"),
            }],
            ..ClusterSettings::default()
        };
        let a = Analysis::new(&model, &Profile::new(&settings));
        let into = a.explain("node/n1", "x/db", None).expect("pair");
        let out = a.explain("x/db", "node/n1", None).expect("pair");
        assert!(into.verdict);
        assert_eq!(out.verdict, cni == Cni::VpcCni);
        insta::assert_snapshot!(
            format!("explain_node_exemption_{}", cni.as_str()),
            format!("{}\n{}", into.summary(), out.summary())
        );
    }
}

/// `explain` names the agent's deciding key (V11; V15 made it from an IPv4 except on an IPv6
/// cluster) and that ICMPv6 passes there.
#[test]
fn explain_names_the_deciding_key_and_icmpv6() {
    let model = load_case("vpc-ip-family");
    let a = Analysis::new(
        &model,
        &Profile::new(&ClusterSettings {
            ip_family: IpFamily::Ipv6,
            ..ClusterSettings::default()
        }),
    );
    let ex = a.explain("x/web", "x/db", None).expect("pair");
    assert!(!ex.verdict);
    insta::assert_snapshot!("explain_v11_v15", ex.summary());
}

/// The tiers are loaded but not modelled: every such policy gets `policy-not-modelled` at
/// its own span, so no answer silently ignores it.
#[test]
fn cluster_policies_are_reported_as_not_modelled() {
    let path = reach_dir().join("../manifests/valid/cluster-policies.yaml");
    let mut map = SourceMap::new();
    let loaded = netpol_manifest::load(&[Source::Path(path)], &LoadOptions::default(), &mut map);
    assert!(!loaded.model.cluster_policies.is_empty());
    let a = Analysis::new(&loaded.model, &Profile::new(&ClusterSettings::default()));
    let warned: Vec<_> = a
        .diagnostics()
        .iter()
        .filter(|d| d.code == netpol_diag::Code::PolicyNotModelled)
        .map(|d| d.primary_span().expect("a span"))
        .collect();
    let spans: Vec<_> = loaded
        .model
        .cluster_policies
        .iter()
        .map(|c| c.span)
        .collect();
    assert_eq!(warned, spans);
}

/// V15: each except of the other family is reported with the key the agent writes, only
/// under VPC CNI; so is a pod address of the other family, under every profile.
#[test]
fn excepts_and_addresses_of_the_other_family_are_reported() {
    let model = load_case("vpc-ip-family");
    let messages = |cni: Cni, ip_family: IpFamily| -> Vec<(&'static str, String)> {
        let profile = Profile::new(&ClusterSettings {
            cni,
            ip_family,
            ..ClusterSettings::default()
        });
        let a = Analysis::new(&model, &profile);
        (a.diagnostics().iter())
            .filter(|d| {
                [
                    netpol_diag::Code::OtherIpFamily,
                    netpol_diag::Code::ExceptOtherFamily,
                ]
                .contains(&d.code)
            })
            .map(|d| (d.code.as_str(), d.message.clone()))
            .collect()
    };
    let v6 = messages(Cni::VpcCni, IpFamily::Ipv6);
    assert_eq!(v6.len(), 1, "{v6:?}");
    assert_eq!(v6[0].0, "except-other-family");
    assert!(
        v6[0]
            .1
            .contains("except 10.0.0.0/8 as the deny-all key a00::/8"),
        "{v6:?}"
    );
    assert!(messages(Cni::Upstream, IpFamily::Ipv6).is_empty());
    // Read as an IPv4 cluster, the three pod addresses are of the other family.
    let v4 = messages(Cni::Upstream, IpFamily::Ipv4);
    assert_eq!(v4.len(), 3, "{v4:?}");
    assert!(
        (v4.iter())
            .any(|(c, m)| *c == "other-ip-family" && m.contains("x/db has address a00:1::10")),
        "{v4:?}"
    );
}
