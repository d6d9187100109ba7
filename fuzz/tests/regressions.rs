//! Replays every saved crasher under `testdata/fuzz-regressions/<target>/` through its
//! target's checks: once fixed, a crasher must stay fixed. Inputs that still crash are
//! listed together, so one run shows every open bug. Run with
//! `cargo test --manifest-path fuzz/Cargo.toml`.

use std::panic;
use std::path::Path;

#[test]
fn saved_crashers_no_longer_crash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/fuzz-regressions");
    let mut replayed = 0;
    let mut failures = Vec::new();
    for (target, check) in netpol_fuzz::TARGETS {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = dir.map(|e| e.expect("read dir entry").path()).collect();
        paths.sort();
        for path in paths
            .iter()
            .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        {
            let data = std::fs::read(path).expect("read crasher");
            replayed += 1;
            if panic::catch_unwind(|| check(&data)).is_err() {
                failures.push(format!("{target}: {}", path.display()));
            }
        }
    }
    assert!(replayed > 0, "no crashers found under {}", root.display());
    assert!(
        failures.is_empty(),
        "still crashing:\n{}",
        failures.join("\n")
    );
}

/// The checks themselves must hold on ordinary input, or every fuzz run would only find
/// the harness's own mistakes.
#[test]
fn seeds_pass_every_check() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let mut checked = 0;
    for (dir, targets) in [
        ("yaml", &["load", "render"][..]),
        ("config", &["config"][..]),
    ] {
        for entry in std::fs::read_dir(seeds.join(dir)).expect("read seeds") {
            let data = std::fs::read(entry.expect("read dir entry").path()).expect("read seed");
            for (_, check) in netpol_fuzz::TARGETS
                .iter()
                .filter(|(t, _)| targets.contains(t))
            {
                check(&data);
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} seed checks ran");
}
