//! Prints a synthetic cluster as multi-document YAML.
//!
//! `cargo run --release -p netpol-graph --example synth -- <S|M|L|XL|egress:SIZE|tiny|pods:N> [seed] > c.yaml`
//!
//! `pods:N` is a `kubectl get pods -A -o yaml` dump of N bare Pods (and a few policies);
//! `egress:XL` is XL with thousands of distinct ipBlocks (internet egress and a public /24 per
//! team namespace).

use std::io::Write as _;
use std::process::ExitCode;

use netpol_graph::synth::{Size, SynthConfig, generate};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: synth <S|M|L|XL|egress:SIZE|tiny|pods:N> [seed]";
    let Some(size) = args.first() else {
        let _ = writeln!(std::io::stderr(), "{usage}");
        return ExitCode::from(2);
    };
    let seed = match args.get(1).map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => {
            let _ = writeln!(std::io::stderr(), "seed must be a number\n{usage}");
            return ExitCode::from(2);
        }
    };
    let cfg = if size.eq_ignore_ascii_case("tiny") {
        SynthConfig::tiny(seed.unwrap_or(0))
    } else if let Some(n) = size.strip_prefix("pods:") {
        let Ok(n) = n.parse::<usize>() else {
            let _ = writeln!(std::io::stderr(), "pods:N needs a number\n{usage}");
            return ExitCode::from(2);
        };
        let cfg = SynthConfig::pods(n);
        seed.map_or(cfg, |s| cfg.with_seed(s))
    } else if let Some(size) = size.strip_prefix("egress:").and_then(Size::parse) {
        let cfg = SynthConfig::egress(size);
        seed.map_or(cfg, |s| cfg.with_seed(s))
    } else if let Some(size) = Size::parse(size) {
        let cfg = SynthConfig::size(size);
        seed.map_or(cfg, |s| cfg.with_seed(s))
    } else {
        let _ = writeln!(std::io::stderr(), "unknown size `{size}`\n{usage}");
        return ExitCode::from(2);
    };
    let text = generate(&cfg);
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
