//! End-to-end benchmarks on synthetic clusters (`netpol_graph::synth`): loading alone,
//! and loading plus the matrix written as JSON, for sizes S, M and L (XL with
//! `NETPOL_BENCH_XL=1`). The YAML is generated outside the timed region.
//!
//! `cargo bench -p netpol-graph --bench matrix`; figures are in `docs/benchmarks.md`.

use divan::Bencher;
use netpol_diag::SourceMap;
use netpol_graph::synth::{Size, SynthConfig, generate};
use netpol_graph::{Analysis, Profile};
use netpol_manifest::config::ClusterSettings;
use netpol_manifest::{LoadOptions, Loaded, Source};

fn main() {
    divan::main();
}

/// S, M, L, and XL when `NETPOL_BENCH_XL` is set (about 10 s per iteration).
fn sizes() -> Vec<&'static str> {
    let mut s = vec!["S", "M", "L"];
    if std::env::var_os("NETPOL_BENCH_XL").is_some() {
        s.push("XL");
    }
    s
}

fn sources(size: &str) -> Vec<Source> {
    let size = Size::parse(size).unwrap_or(Size::S);
    vec![Source::Bytes {
        name: format!("synth-{}.yaml", size.as_str()),
        bytes: generate(&SynthConfig::size(size)).into_bytes(),
    }]
}

fn load(sources: &[Source]) -> Loaded {
    let options = LoadOptions {
        max_file_bytes: u64::MAX,
        ..LoadOptions::default()
    };
    netpol_manifest::load(sources, &options, &mut SourceMap::default())
}

/// (a) Reading, parsing, validating and lowering the manifests.
#[divan::bench(args = sizes(), sample_count = 5, sample_size = 1)]
fn parse(bencher: Bencher, size: &str) {
    bencher
        .with_inputs(|| sources(size))
        .bench_local_values(|sources| load(&sources));
}

/// (b) Loading, the matrix under the default profile (vpc-cni), and its JSON in memory.
#[divan::bench(args = sizes(), sample_count = 5, sample_size = 1)]
fn load_matrix_json(bencher: Bencher, size: &str) {
    let profile = Profile::new(&ClusterSettings::default());
    bencher
        .with_inputs(|| sources(size))
        .bench_local_values(|sources| {
            let loaded = load(&sources);
            let matrix = Analysis::new(&loaded.model, &profile).matrix();
            let mut json = String::new();
            // Writing to a String cannot fail.
            let _ = netpol_graph::format::json(&mut json, &matrix);
            // Returned so that, as in `parse`, freeing happens outside the timed region.
            (loaded, matrix, json)
        });
}
