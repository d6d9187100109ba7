//! Shared helpers of the snapshot tests: YAML to a model, a profile, a snapshot.

#![allow(dead_code)]

use netpol_diag::SourceMap;
use netpol_graph::{Analysis, Matrix, Profile};
use netpol_manifest::config::{ClusterSettings, Cni};
use netpol_manifest::{LoadOptions, Model, Source};
use netpol_snapshot::{Change, Diff, Snapshot};

/// The model of `yaml`, which must load without errors.
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

/// Both profiles, with pod and Service ranges so that every section shows up.
pub(crate) fn profiles() -> [Profile; 2] {
    [Cni::VpcCni, Cni::Upstream].map(|cni| {
        Profile::new(&ClusterSettings {
            cni,
            pod_cidrs: vec!["10.0.0.0/24".parse().expect("cidr")],
            service_cidr: Some("172.20.0.0/16".parse().expect("cidr")),
            ..ClusterSettings::default()
        })
    })
}

pub(crate) fn matrix(model: &Model, profile: &Profile) -> Matrix {
    Analysis::new(model, profile).matrix()
}

/// The snapshot of a model, with the exposure of new pods.
pub(crate) fn snapshot(model: &Model, profile: &Profile) -> Snapshot {
    let a = Analysis::new(model, profile);
    let mut s = Snapshot::new(&a.matrix(), profile, &[]);
    s.add_exposure(model, &a);
    s
}

/// The snapshot of a YAML text, under VPC CNI.
pub(crate) fn snap(yaml: &str) -> Snapshot {
    let [vpc, _] = profiles();
    snapshot(&load(yaml), &vpc)
}

/// The flows of a diff as `+ pod FROM -> TO PORTS` lines (`~` with `OLD => NEW`), one per
/// flow group, with `(N pairs)` when more than one.
pub(crate) fn lines(d: &Diff) -> Vec<String> {
    d.flows
        .iter()
        .map(|f| {
            let sign = match f.change {
                Change::Added => '+',
                Change::Removed => '-',
                Change::Changed { .. } => '~',
            };
            let ports = match (&f.old_ports, &f.new_ports) {
                (Some(o), Some(n)) => format!("{o} => {n}"),
                (Some(p), None) | (None, Some(p)) => p.clone(),
                (None, None) => String::new(),
            };
            let pairs = match f.pairs.len() {
                1 => String::new(),
                n => format!(" ({n} pairs)"),
            };
            format!(
                "{sign} {} {} -> {} {ports}{pairs}",
                f.section, f.from_class, f.to_class
            )
        })
        .collect()
}
