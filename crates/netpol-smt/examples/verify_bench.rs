//! Times `verify` on a synthetic cluster with 10 assertions covering every kind and both
//! scopes (the benchmark of docs/benchmarks.md, "verify").
//!
//! `cargo run --release -p netpol-smt --example verify_bench -- [S|M|L] [vpc-cni|upstream]`

use std::io::Write as _;
use std::time::Instant;

use netpol_diag::SourceMap;
use netpol_graph::Profile;
use netpol_graph::synth::{Size, SynthConfig, generate};
use netpol_manifest::config::{ClusterSettings, Cni};
use netpol_manifest::{LoadOptions, Source};

const SUITE: &str = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
assertions:
  - name: dev-ns-cannot-reach-prod-ns
    deny: {from: {namespace: team-0-dev}, to: {namespace: team-0-prod}}
  - name: dev-cannot-reach-prod-db
    deny: {from: {namespaceSelector: {matchLabels: {env: dev}}}, to: {namespaceSelector: {matchLabels: {env: prod}}, podSelector: {matchLabels: {tier: db}}}}
  - name: db-only-from-backends
    only: {to: {namespaceSelector: {matchLabels: {env: prod}}, podSelector: {matchLabels: {tier: db}}}, from: [{podSelector: {matchExpressions: [{key: tier, operator: In, values: [api, worker]}]}}], ports: ["TCP/5432"]}
  - name: ns-ingress-isolated
    isolated: {pods: {namespace: team-0-prod}, directions: [Ingress]}
  - name: ns-isolated-both-directions
    isolated: {pods: {namespace: team-1-dev}}
  - name: all-team-ns-ingress-isolated
    isolated: {pods: {namespaceSelector: {matchExpressions: [{key: team, operator: Exists}]}}, directions: [Ingress]}
  - name: dns-allowed
    allow: {from: {namespace: team-0-prod}, to: {namespace: kube-system, podSelector: {matchLabels: {k8s-app: kube-dns}}}, ports: ["UDP/53", "TCP/53"]}
  - name: ingress-controller-denied
    deny: {from: {namespace: ingress-nginx}, to: {namespace: team-0-prod, podSelector: {matchLabels: {tier: frontend}}}}
  - name: api-reaches-db-existing
    scope: existing
    allow: {from: {namespace: team-0-prod, podSelector: {matchLabels: {tier: api}}}, to: {namespace: team-0-prod, podSelector: {matchLabels: {tier: db}}}, ports: ["TCP/5432"]}
  - name: frontend-not-to-db-existing
    scope: existing
    deny: {from: {namespace: team-0-prod, podSelector: {matchLabels: {tier: frontend}}}, to: {namespace: team-0-prod, podSelector: {matchLabels: {tier: db}}}}
"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size = args.first().and_then(|s| Size::parse(s)).unwrap_or(Size::L);
    let cni = match args.get(1).map(String::as_str) {
        Some("upstream") => Cni::Upstream,
        _ => Cni::VpcCni,
    };
    let mut err = std::io::stderr();
    let t0 = Instant::now();
    let yaml = generate(&SynthConfig::size(size));
    let t_gen = t0.elapsed();
    let mut map = SourceMap::new();
    let t1 = Instant::now();
    let loaded = netpol_manifest::load(
        &[Source::Bytes {
            name: "synth.yaml".to_owned(),
            bytes: yaml.into_bytes(),
        }],
        &LoadOptions::default(),
        &mut map,
    );
    let t_load = t1.elapsed();
    let file = map.add("netpol.yaml", SUITE);
    let (cfg, diags) = netpol_config::parse_config(file, SUITE);
    let Some(cfg) = cfg else {
        let _ = writeln!(err, "bad suite: {diags:?}");
        return;
    };
    let profile = Profile::new(&ClusterSettings {
        cni,
        pod_cidrs: vec!["10.0.0.0/8".parse().expect("cidr")],
        // The EKS default; without it every ClusterIP the manifests leave out may lie in
        // any private range, which partial ipBlocks may then admit (slower, see
        // docs/benchmarks.md). NETPOL_BENCH_NO_SERVICE_CIDR=1 measures that case.
        service_cidr: std::env::var_os("NETPOL_BENCH_NO_SERVICE_CIDR")
            .is_none()
            .then(|| "172.20.0.0/16".parse().expect("cidr")),
        ..ClusterSettings::default()
    });
    // The once-per-run precomputation alone (no assertion).
    let mut empty = cfg.clone();
    empty.verification.assertions.clear();
    let t_pre = Instant::now();
    let _ = netpol_smt::verify(
        &loaded.model,
        &profile,
        &empty,
        &netpol_smt::Options::default(),
    );
    let t_pre = t_pre.elapsed();
    // NETPOL_BENCH_JOBS=1 decides one assertion at a time (default: one per core).
    let options = netpol_smt::Options {
        jobs: std::env::var("NETPOL_BENCH_JOBS")
            .ok()
            .and_then(|j| j.parse().ok())
            .unwrap_or(0),
        ..netpol_smt::Options::default()
    };
    let t2 = Instant::now();
    let v = netpol_smt::verify(&loaded.model, &profile, &cfg, &options);
    let t_verify = t2.elapsed();
    let _ = writeln!(
        err,
        "size {} cni {}: {} endpoints, {} policies; generate {:.2?}, load {:.2?}, precompute {:.2?}, verify {:.2?}",
        size.as_str(),
        cni.as_str(),
        loaded.model.endpoints.len(),
        loaded.model.policies.len(),
        t_gen,
        t_load,
        t_pre,
        t_verify
    );
    for r in &v.results {
        let _ = writeln!(
            err,
            "  {:<32} {:<8} {:>8.1} ms",
            r.name,
            r.outcome.as_str(),
            r.duration.as_secs_f64() * 1000.0
        );
        if let netpol_smt::Outcome::Unknown(why) = &r.outcome {
            let _ = writeln!(err, "    {why}");
        }
    }
}
