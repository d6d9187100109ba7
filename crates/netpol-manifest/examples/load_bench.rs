//! Times `netpol_manifest::load` alone: wall clock and process CPU time, best of N runs.
//!
//! ```text
//! cargo run --release -p netpol-manifest --example load_bench -- [-n RUNS] PATH...
//! ```
//!
//! CPU time (from `/proc/self/stat`, Linux only) shows whether both cores are busy and
//! is steadier than wall clock on a shared machine. The model is dropped outside the
//! timed region, as in `matrix_e2e`.

use std::io::Write as _;
use std::time::Instant;

use netpol_diag::SourceMap;
use netpol_manifest::{LoadOptions, Source};

/// User + system CPU seconds of this process so far, if `/proc` is there.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and
    // 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() {
    let mut runs = 3;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "-n" {
            runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(3);
        } else {
            paths.push(a);
        }
    }
    let sources: Vec<Source> = paths.into_iter().map(|p| Source::Path(p.into())).collect();
    let options = LoadOptions {
        max_file_bytes: u64::MAX,
        ..LoadOptions::default()
    };
    let mut best = (f64::MAX, 0.0);
    let mut err = std::io::stderr();
    for _ in 0..runs {
        let mut map = SourceMap::default();
        let cpu = cpu_seconds().unwrap_or(0.0);
        let t = Instant::now();
        let loaded = netpol_manifest::load(&sources, &options, &mut map);
        let wall = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds().unwrap_or(0.0) - cpu;
        let _ = writeln!(
            err,
            "load {wall:.3} s wall, {cpu:.2} s cpu: {} endpoints, {} policies, {} diagnostics",
            loaded.model.endpoints.len(),
            loaded.model.policies.len(),
            loaded.diagnostics.len()
        );
        if wall < best.0 {
            best = (wall, cpu);
        }
        drop(loaded);
    }
    let _ = writeln!(err, "best {:.3} s wall, {:.2} s cpu", best.0, best.1);
}
