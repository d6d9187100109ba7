//! Loads manifests, computes the matrix and writes it as JSON, timing each phase.
//!
//! ```text
//! matrix_e2e [--cni vpc-cni|upstream] [--out FILE] [--no-json] [--classes] [--timing] (--synth S|M|L|XL | PATH...)
//! ```
//!
//! Used for `docs/benchmarks.md` (end-to-end time and, under `/usr/bin/time -v`, peak
//! memory) and to inspect what netpol says about an np-guard corpus folder. With
//! `--timing`, one line per phase goes to stderr. The JSON is streamed to the file or
//! stdout through a buffer (never held whole); `--no-json` computes the matrix and its
//! connection count only, to measure the engine apart from the output.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use netpol_diag::SourceMap;
use netpol_graph::synth::{Size, SynthConfig, generate};
use netpol_graph::{Analysis, Profile};
use netpol_manifest::config::{ClusterSettings, Cni};
use netpol_manifest::{LoadOptions, Source};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "matrix_e2e: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut cni = Cni::VpcCni;
    let mut out_path: Option<String> = None;
    let mut timing = false;
    let mut no_json = false;
    // The classes layout (the CLI's default) instead of the pairs layout.
    let mut classes = false;
    let mut synth: Option<Size> = None;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cni" => {
                cni = match args.next().as_deref() {
                    Some("upstream") => Cni::Upstream,
                    Some("vpc-cni") => Cni::VpcCni,
                    other => return Err(format!("--cni takes upstream or vpc-cni, not {other:?}")),
                }
            }
            "--out" => out_path = Some(args.next().ok_or("--out needs a file")?),
            "--timing" => timing = true,
            "--no-json" => no_json = true,
            "--classes" => classes = true,
            "--synth" => {
                let s = args.next().ok_or("--synth needs a size")?;
                synth = Some(Size::parse(&s).ok_or(format!("unknown size `{s}`"))?);
            }
            _ => paths.push(a),
        }
    }
    let phase = |name: &str, start: Instant| {
        if timing {
            let _ = writeln!(
                std::io::stderr(),
                "{name:<10} {:>9.3} s",
                start.elapsed().as_secs_f64()
            );
        }
    };
    let total = Instant::now();
    let sources: Vec<Source> = match synth {
        Some(size) => {
            let t = Instant::now();
            let text = generate(&SynthConfig::size(size));
            phase("generate", t);
            vec![Source::Bytes {
                name: format!("synth-{}.yaml", size.as_str()),
                bytes: text.into_bytes(),
            }]
        }
        None if paths.is_empty() => return Err("give --synth SIZE or at least one PATH".into()),
        None => paths.into_iter().map(|p| Source::Path(p.into())).collect(),
    };
    let load_start = Instant::now();
    let mut map = SourceMap::default();
    let options = LoadOptions {
        max_file_bytes: u64::MAX,
        ..LoadOptions::default()
    };
    let loaded = netpol_manifest::load(&sources, &options, &mut map);
    drop(sources);
    phase("load", load_start);
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        let _ = writeln!(
            std::io::stderr(),
            "matrix_e2e: {errors} error diagnostics while loading"
        );
    }
    let t = Instant::now();
    let settings = ClusterSettings {
        cni,
        ..ClusterSettings::default()
    };
    let analysis = Analysis::new(&loaded.model, &Profile::new(&settings));
    phase("analysis", t);
    let t = Instant::now();
    let matrix = analysis.matrix();
    phase("matrix", t);
    let t = Instant::now();
    let mut out = Counted {
        out: std::io::BufWriter::with_capacity(
            1 << 16,
            match &out_path {
                Some(p) => Box::new(
                    std::fs::File::create(p).map_err(|e| format!("cannot create {p}: {e}"))?,
                ) as Box<dyn std::io::Write>,
                None => Box::new(std::io::stdout().lock()),
            },
        ),
        bytes: 0,
        error: None,
    };
    if !no_json {
        let written = if classes {
            let t = Instant::now();
            let c = matrix.classes();
            phase("classes", t);
            netpol_graph::format::json_classes(&mut out, &matrix, &c)
        } else {
            netpol_graph::format::json(&mut out, &matrix)
        };
        if let Some(e) = out.error.take() {
            return Err(format!("cannot write the matrix: {e}"));
        }
        written.map_err(|e| e.to_string())?;
    }
    phase("json", t);
    let t = Instant::now();
    out.out
        .flush()
        .map_err(|e| format!("cannot write the matrix: {e}"))?;
    phase("write", t);
    phase("total", total);
    if timing {
        let _ = writeln!(
            std::io::stderr(),
            "endpoints {} policies {} groups {} group edges {} connections {} json {} bytes",
            matrix.endpoints.len(),
            loaded.model.policies.len(),
            matrix.group_count(),
            matrix.group_edge_count(),
            matrix.connection_count(),
            out.bytes
        );
    }
    Ok(())
}

/// `fmt::Write` onto an `io::Write`, counting bytes and keeping the first IO error.
struct Counted<W: std::io::Write> {
    out: W,
    bytes: usize,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> std::fmt::Write for Counted<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.bytes += s.len();
        self.out.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            std::fmt::Error
        })
    }
}
