use super::*;
use netpol_diag::{Severity, SourceMap};
use netpol_manifest::model::EndpointKind;
use netpol_manifest::{LoadOptions, Loaded, Source};

fn load(text: &str) -> (Loaded, SourceMap) {
    let mut map = SourceMap::default();
    let loaded = netpol_manifest::load(
        &[Source::Bytes {
            name: "synth.yaml".to_owned(),
            bytes: text.as_bytes().to_vec(),
        }],
        &LoadOptions::default(),
        &mut map,
    );
    (loaded, map)
}

fn errors(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity <= Severity::Warning)
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for cfg in [SynthConfig::size(Size::S), SynthConfig::tiny(7)] {
        let a = generate(&cfg);
        assert_eq!(a, generate(&cfg));
        assert_ne!(a, generate(&cfg.with_seed(cfg.seed + 1)));
    }
}

#[test]
fn sizes_parse() {
    for s in Size::ALL {
        assert_eq!(Size::parse(s.as_str()), Some(s));
    }
    assert_eq!(Size::parse("xl"), Some(Size::XL));
    assert_eq!(Size::parse("XXL"), None);
}

#[test]
fn realistic_s_and_m_load_cleanly_with_exact_counts() {
    for size in [Size::S, Size::M] {
        let cfg = SynthConfig::size(size);
        let (loaded, _) = load(&generate(&cfg));
        assert_eq!(errors(&loaded), Vec::<String>::new(), "{size:?}");
        let m = &loaded.model;
        assert_eq!(m.endpoints.len(), cfg.workloads, "{size:?}");
        assert_eq!(m.policies.len(), cfg.policies, "{size:?}");
        assert_eq!(m.namespaces.len(), cfg.namespaces + 3, "{size:?}");
        let count = |k: EndpointKind| m.endpoints.iter().filter(|e| e.kind == k).count();
        assert!(count(EndpointKind::StatefulSet) > 0);
        assert!(count(EndpointKind::DaemonSet) > 0);
        assert!(count(EndpointKind::Pod) > 0);
        assert!(m.endpoints.iter().any(|e| e.pod_ip.is_some()));
        assert!(m.endpoints.iter().any(|e| e.host_network));
        assert!(m.services.len() > cfg.workloads / 2);
        // Every policy kind the brief lists is present.
        let names: Vec<&str> = m.policies.iter().map(|p| p.name.as_str()).collect();
        for prefix in [
            "default-deny",
            "allow-dns",
            "allow-from-ingress-nginx",
            "allow-prometheus-scrape",
            "allow-cross-team-",
            "allow-rds-egress-",
            "allow-monitoring-range-",
            "allow-worker-and-toolbox-",
        ] {
            assert!(
                names.iter().any(|n| n.starts_with(prefix)),
                "{size:?} {prefix}"
            );
        }
    }
}

#[test]
fn odd_configs_keep_exact_counts() {
    for (namespaces, workloads, policies) in
        [(0, 2, 3), (0, 9, 0), (1, 1, 1), (7, 23, 61), (5, 4, 0)]
    {
        let cfg = SynthConfig {
            seed: 3,
            namespaces,
            workloads,
            policies,
            style: Style::Realistic,
        };
        let (loaded, _) = load(&generate(&cfg));
        assert_eq!(errors(&loaded), Vec::<String>::new(), "{cfg:?}");
        assert_eq!(loaded.model.endpoints.len(), workloads, "{cfg:?}");
        assert_eq!(loaded.model.policies.len(), policies, "{cfg:?}");
    }
}

#[test]
fn tiny_clusters_load_cleanly_and_vary() {
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let cfg = SynthConfig::tiny(seed);
        let text = generate(&cfg);
        let (loaded, _) = load(&text);
        assert_eq!(
            errors(&loaded),
            Vec::<String>::new(),
            "seed {seed}:\n{text}"
        );
        assert_eq!(loaded.model.endpoints.len(), cfg.workloads, "seed {seed}");
        assert_eq!(loaded.model.policies.len(), cfg.policies, "seed {seed}");
        distinct.insert(text);
    }
    assert_eq!(distinct.len(), 200);
}

#[test]
fn pod_dumps_load_cleanly_as_bare_pods_with_addresses() {
    let cfg = SynthConfig::pods(600);
    let text = generate(&cfg);
    assert_eq!(text, generate(&cfg));
    let (loaded, _) = load(&text);
    assert_eq!(errors(&loaded), Vec::<String>::new());
    let m = &loaded.model;
    assert_eq!(m.endpoints.len(), cfg.workloads);
    assert_eq!(m.policies.len(), cfg.policies);
    assert!(m.endpoints.iter().all(|e| e.kind == EndpointKind::Pod
        && e.pod_ip.is_some()
        && e.host_ip.is_some()
        && e.node_name.is_some()));
    assert!(m.endpoints.iter().any(|e| e.host_network));
    let namespaces: std::collections::BTreeSet<&str> =
        m.endpoints.iter().map(|e| e.namespace.as_str()).collect();
    assert_eq!(namespaces.len(), cfg.namespaces + 1);
    // Pod IPs are distinct, apart from hostNetwork pods sharing their node's.
    let ips: std::collections::BTreeSet<_> = m
        .endpoints
        .iter()
        .filter(|e| !e.host_network)
        .map(|e| e.pod_ip)
        .collect();
    assert_eq!(
        ips.len(),
        m.endpoints.iter().filter(|e| !e.host_network).count()
    );
    assert!(
        m.policies
            .iter()
            .any(|p| p.name.starts_with("allow-office"))
    );
}
