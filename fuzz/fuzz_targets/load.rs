//! Fuzzes the manifest loader on arbitrary bytes, as if read from stdin: it must never
//! panic, and every diagnostic span must lie inside its file on character boundaries.
//! Run with `cargo +nightly fuzz run load` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netpol_diag::SourceMap;
use netpol_manifest::{LoadOptions, Source, load};

fuzz_target!(|data: &[u8]| {
    let mut map = SourceMap::new();
    let loaded = load(
        &[Source::Bytes {
            name: "<stdin>".into(),
            bytes: data.to_vec(),
        }],
        &LoadOptions::default(),
        &mut map,
    );
    for d in &loaded.diagnostics {
        for l in &d.labels {
            let text = map.text(l.span.file);
            let (s, e) = (l.span.start as usize, l.span.end as usize);
            assert!(s <= e && e <= text.len());
            assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
        }
    }
});
