//! Tests of the encoding against hand-checked clusters, and the helpers the other test
//! modules share (`tests_agreement`: against the graph engine; `tests_services`: V5;
//! `tests_ident`: V9 and V2; `tests_robust`: z3 surface, garbage input, ignored policies, one label set per namespace; `tests_readings`: V14, IPv6 on IPv4, `--robust` readings, older releases; `tests_family`: V15, IPv6 clusters, ICMPv6; `tests_nodes`: S10/V4 node exemption and V3 unknown addresses).

use netpol_diag::{Code, SourceMap};
use netpol_graph::Profile;
use netpol_manifest::config::{ClusterSettings, Cni, EnforcingMode};
use netpol_manifest::model::Protocol;
use netpol_manifest::{LoadOptions, Model, Source};

use crate::config::parse_config;
use crate::*;

/// The model of `yaml`, which must load without errors (shared with `tests_services`).
pub(crate) fn load(yaml: &str) -> Model {
    let mut map = SourceMap::new();
    let loaded = netpol_manifest::load(
        &[Source::Bytes {
            name: "test.yaml".to_owned(),
            bytes: yaml.as_bytes().to_vec(),
        }],
        &LoadOptions::default(),
        &mut map,
    );
    let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    loaded.model
}

pub(crate) fn config(text: &str) -> ParsedConfig {
    let mut map = SourceMap::new();
    let file = map.add("netpol.yaml", text.to_owned());
    let (c, d) = parse_config(file, text);
    assert!(d.is_empty(), "{d:?}");
    c.expect("config")
}

pub(crate) fn profile(cni: Cni, mode: EnforcingMode) -> Profile {
    Profile::new(&ClusterSettings {
        cni,
        enforcing_mode: mode,
        ..ClusterSettings::default()
    })
}

pub(crate) fn outcomes(model: &Model, p: &Profile, cfg: &str) -> Vec<(String, &'static str)> {
    let v = verify(model, p, &config(cfg), &Options::default());
    v.results
        .iter()
        .map(|r| (r.name.clone(), r.outcome.as_str()))
        .collect()
}

/// The verdicts alone, in assertion order.
pub(crate) fn verdicts(model: &Model, p: &Profile, cfg: &str) -> Vec<&'static str> {
    outcomes(model, p, cfg).into_iter().map(|o| o.1).collect()
}

pub(crate) const SHOP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {env: dev}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: tool, namespace: dev}
spec:
  selector: {matchLabels: {app: tool}}
  template:
    metadata: {labels: {app: tool}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: pg}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-to-db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
"#;

pub(crate) const SHOP_ASSERTIONS: &str = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: dev-cannot-reach-prod
    deny: {from: {namespaceSelector: {matchLabels: {env: dev}}}, to: {namespace: shop}}
  - name: dev-cannot-reach-any-prod
    deny: {from: {namespaceSelector: {matchLabels: {env: dev}}}, to: {namespaceSelector: {matchLabels: {env: prod}}}}
  - name: api-reaches-db
    scope: existing
    allow: {from: {workload: shop/api}, to: {workload: shop/db}, ports: ["TCP/5432"]}
  - name: api-reaches-db-any
    allow: {from: {namespace: shop, podSelector: {matchLabels: {app: api}}}, to: {namespace: shop, podSelector: {matchLabels: {app: db}}}, ports: ["TCP/5432"]}
  - name: db-only-from-api
    only: {to: {namespace: shop, podSelector: {matchLabels: {app: db}}}, from: [{namespace: shop, podSelector: {matchLabels: {app: api}}}]}
  - name: shop-isolated
    isolated: {pods: {namespace: shop}}
  - name: dev-isolated
    isolated: {pods: {namespace: dev}, directions: [Ingress]}
  - name: anything-reaches-dev
    scope: existing
    deny: {from: {}, to: {namespace: dev}}
  - name: ghost-is-open
    deny: {from: {namespace: ghost}, to: {namespace: ghost}, ports: ["UDP/53"]}
  - name: nothing-named-x
    deny: {from: {podSelector: {matchLabels: {app: nope}}, workload: shop/api}, to: {}}
"#;

#[test]
fn shop_upstream_verdicts() {
    let model = load(SHOP);
    let got = outcomes(
        &model,
        &profile(Cni::Upstream, EnforcingMode::Standard),
        SHOP_ASSERTIONS,
    );
    let want = [
        ("dev-cannot-reach-prod", "proved"),
        // A future pod in a new namespace labelled env=prod has no policy.
        ("dev-cannot-reach-any-prod", "refuted"),
        ("api-reaches-db", "proved"),
        // A future api pod in shop without the `pg` port on the db side: db is a future pod
        // too, so it may not declare `pg`, and the named port does not resolve.
        ("api-reaches-db-any", "refuted"),
        ("db-only-from-api", "proved"),
        ("shop-isolated", "proved"),
        ("dev-isolated", "refuted"),
        ("anything-reaches-dev", "refuted"),
        ("ghost-is-open", "refuted"),
        ("nothing-named-x", "proved"),
    ];
    let want: Vec<(String, &str)> = want.iter().map(|(a, b)| ((*a).to_owned(), *b)).collect();
    assert_eq!(got, want);
}

#[test]
fn vacuous_assertions_warn() {
    let model = load(SHOP);
    let v = verify(
        &model,
        &profile(Cni::Upstream, EnforcingMode::Standard),
        &config(SHOP_ASSERTIONS),
        &Options::default(),
    );
    let vac: Vec<&str> = v
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::VacuousAssertion)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(vac.len(), 1, "{vac:?}");
    assert!(vac[0].contains("nothing-named-x"));
}

#[test]
fn strict_mode_denies_unselected_pods() {
    let model = load(SHOP);
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: dev-isolated
    isolated: {pods: {namespace: dev}}
  - name: new-namespaces-isolated
    isolated: {pods: {namespace: brand-new}}
"#;
    let strict = outcomes(&model, &profile(Cni::VpcCni, EnforcingMode::Strict), cfg);
    assert!(strict.iter().all(|(_, o)| *o == "proved"), "{strict:?}");
    let standard = outcomes(&model, &profile(Cni::VpcCni, EnforcingMode::Standard), cfg);
    assert!(
        standard.iter().all(|(_, o)| *o == "refuted"),
        "{standard:?}"
    );
}

#[test]
fn unknown_reference_is_an_error() {
    let model = load(SHOP);
    let cfg = "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: a\n    deny: {from: {workload: shop/nope}, to: {}}\n";
    let v = verify(
        &model,
        &profile(Cni::Upstream, EnforcingMode::Standard),
        &config(cfg),
        &Options::default(),
    );
    assert_eq!(v.results[0].outcome.as_str(), "unknown");
    assert_eq!(v.diagnostics[0].code, Code::UnknownReference);
}

/// V7 under scope any: a further pod selected by the same policy may declare `http` with
/// any number, so a deny on a port nobody declares today is refuted.
#[test]
fn vpc_named_ingress_ports_widen_under_any() {
    let model = load(SHOP);
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: api-to-db-9999-existing
    scope: existing
    deny: {from: {workload: shop/api}, to: {workload: shop/db}, ports: ["TCP/9999"]}
  - name: api-to-db-9999-any
    deny: {from: {namespace: shop, podSelector: {matchLabels: {app: api}}}, to: {workload: shop/db}, ports: ["TCP/9999"]}
"#;
    let got = outcomes(&model, &profile(Cni::VpcCni, EnforcingMode::Standard), cfg);
    assert_eq!(got[0].1, "proved");
    // Egress of an api pod allows only TCP/5432, so 9999 stays denied even when widened.
    assert_eq!(got[1].1, "proved");
    let cfg2 = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: x
    deny: {from: {workload: dev/tool}, to: {workload: shop/db}, ports: ["TCP/9999"]}
"#;
    // dev/tool is not an api pod: ingress at db denies it whatever the port.
    let got = outcomes(&model, &profile(Cni::VpcCni, EnforcingMode::Standard), cfg2);
    assert_eq!(got[0].1, "proved");
}

/// SHOP plus a Service in front of db (port 80 -> targetPort 5432) and an api egress rule
/// that admits the Service CIDR on TCP/80 only.
fn shop_with_service(service_cidr: &str) -> (Model, Profile) {
    let yaml = format!(
        "{SHOP}---
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: shop}}
spec:
  selector: {{app: db}}
  clusterIP: 172.20.0.10
  ports: [{{port: 80, targetPort: 5432}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: api-to-services, namespace: shop}}
spec:
  podSelector: {{matchLabels: {{app: api}}}}
  policyTypes: [Egress]
  egress:
  - to: [{{ipBlock: {{cidr: {service_cidr}}}}}]
    ports: [{{port: 80}}]
"
    );
    let mut p = profile(Cni::VpcCni, EnforcingMode::Standard);
    p.service_cidr = Some("172.20.0.0/16".parse().expect("cidr"));
    p.pod_cidrs = vec!["10.0.0.0/16".parse().expect("cidr")];
    (load(&yaml), p)
}

/// V5 (docs/semantics.md V5, V3; vpc-cni-semantics.md §1.3 row 1 and §1.2 ipBlock row):
/// through the db Service (port 80, targetPort 5432), an egress ipBlock on the Service
/// CIDR for TCP/80 lets api reach db's pods on 5432. Upstream has no such path, and a block
/// that misses the ClusterIP opens nothing.
#[test]
fn cluster_ip_egress_reaches_backends_on_the_target_port() {
    let (model, vpc) = shop_with_service("172.20.0.0/16");
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: api-cannot-reach-db-on-80
    deny: {from: {workload: shop/api}, to: {workload: shop/db}, ports: ["TCP/80"]}
  - name: api-to-db-5432-only-direct
    scope: existing
    deny: {from: {workload: shop/api}, to: {workload: shop/db}, ports: ["TCP/5432"]}
  - name: any-api-to-db
    deny: {from: {namespace: shop, podSelector: {matchLabels: {app: api}}}, to: {namespace: shop, podSelector: {matchLabels: {app: db}}}, ports: ["TCP/5432"]}
"#;
    // Direct egress allows 5432 anyway and ingress at db allows only `pg` (5432), so 80 is
    // closed and 5432 open. Without the direct rule, 5432 is open through the Service only.
    let no_direct = {
        let mut m = model.clone();
        m.policies.retain(|p| p.name != "api-to-db");
        m
    };
    // The first holds for the Services of the manifests, but the ipBlock on the Service CIDR
    // with a numeric port could admit a Service created later (proof-limitation), so under
    // scope any it is unknown rather than proved.
    assert_eq!(
        verdicts(&model, &vpc, cfg),
        ["unknown", "refuted", "refuted"]
    );
    assert_eq!(
        verdicts(&no_direct, &vpc, cfg),
        ["unknown", "refuted", "refuted"]
    );
    // Over the existing pods and Services it is proved.
    let existing = cfg.replacen(
        "  - name: api-cannot-reach-db-on-80\n",
        "  - name: api-cannot-reach-db-on-80\n    scope: existing\n",
        1,
    );
    assert_eq!(verdicts(&model, &vpc, &existing)[0], "proved");
    let v = verify(&no_direct, &vpc, &config(cfg), &Options::default());
    let Outcome::Refuted(cx) = &v.results[1].outcome else {
        unreachable!()
    };
    assert_eq!(cx.via, Some(("shop/db[Service]".to_owned(), 80)));
    assert_eq!((cx.protocol, cx.port), (Some(Protocol::Tcp), Some(5432)));
    // Re-checked in the graph: the edge to the Service carries port 80, not the pod edge.
    let (m2, src, dst) = cx.materialize(&no_direct);
    let (src, dst) = (src.expect("source"), dst.expect("destination"));
    let matrix = netpol_graph::Analysis::new(&m2, &vpc).matrix();
    assert!(
        matrix
            .ports(&src, "shop/db[Service]")
            .contains(Protocol::Tcp, 80)
    );
    assert!(!matrix.ports(&src, &dst).contains(Protocol::Tcp, 5432));
    // Upstream: no ClusterIP path, and without the direct rule api's egress is closed.
    let up = profile(Cni::Upstream, EnforcingMode::Standard);
    assert_eq!(
        verdicts(&no_direct, &up, cfg),
        ["proved", "proved", "proved"]
    );
    // An ipBlock that misses the ClusterIP opens nothing.
    let (model, vpc) = shop_with_service("172.21.0.0/16");
    let mut model = model;
    model.policies.retain(|p| p.name != "api-to-db");
    assert_eq!(verdicts(&model, &vpc, cfg), ["proved", "proved", "proved"]);
    // Unless the pod CIDRs are unknown (V3): then db's pods may have an address in it.
    let mut vpc = vpc;
    vpc.pod_cidrs.clear();
    assert_eq!(verdicts(&model, &vpc, cfg)[0], "refuted");
}

/// `proof-limitation` (docs/verify.md "Services created later"; V5 matches ipBlocks and an
/// omitted `to` against the Service `port`, vpc-cni-semantics.md §1.3 row 1) names the
/// scope-any proofs a later Service could break, at the rule that could admit it, makes them
/// `unknown`, and stays silent when no egress rule can.
#[test]
fn proof_limitation_points_at_rules_that_admit_new_services() {
    let cfg = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: dev-cannot-reach-shop
    deny: {from: {namespace: dev}, to: {namespace: shop}}
  - name: existing-only
    scope: existing
    deny: {from: {namespace: dev}, to: {namespace: shop}}
"#;
    let codes = |model: &Model, p: &Profile| -> Vec<String> {
        verify(model, p, &config(cfg), &Options::default())
            .diagnostics
            .iter()
            .map(|d| format!("{} {}", d.code.as_str(), d.message))
            .collect()
    };
    let vpc = profile(Cni::VpcCni, EnforcingMode::Standard);
    // SHOP's egress rules select pods by `In` with numeric ports: nothing to warn about;
    // nor about an allow-all egress rule, which admits every pod directly.
    assert_eq!(codes(&load(SHOP), &vpc), Vec::<String>::new());
    let allow_all = format!(
        "{SHOP}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: all-out, namespace: dev}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress: [{{}}]\n"
    );
    assert_eq!(codes(&load(&allow_all), &vpc), Vec::<String>::new());
    let to_any_443 = allow_all.replace("egress: [{}]", "egress: [{ports: [{port: 443}]}]");
    assert_eq!(codes(&load(&to_any_443), &vpc).len(), 1);
    // An ipBlock egress rule covering the Service CIDR could admit a new ClusterIP.
    let (model, p) = shop_with_service("172.20.0.0/16");
    let got = codes(&model, &p);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("proof-limitation"), "{got:?}");
    assert!(got[0].contains("`dev-cannot-reach-shop`") && !got[0].contains("existing-only"));
    // Such a proof is not a proof: the scope-any verdict is unknown, not proved.
    assert_eq!(verdicts(&model, &p, cfg), ["unknown", "proved"]);
    // Outside the Service CIDR it cannot; upstream has no ClusterIP paths at all.
    let (model, p) = shop_with_service("10.50.0.0/16");
    assert_eq!(codes(&model, &p), Vec::<String>::new());
    assert_eq!(verdicts(&model, &p, cfg), ["proved", "proved"]);
    let (model, _) = shop_with_service("172.20.0.0/16");
    assert_eq!(
        codes(&model, &profile(Cni::Upstream, EnforcingMode::Standard)),
        Vec::<String>::new()
    );
}
