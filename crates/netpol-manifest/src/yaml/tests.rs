use super::*;
use netpol_diag::SourceMap;
fn summary(file: FileId, text: &str, ranges: &[Range<usize>]) -> Vec<String> {
    let mut out = Vec::new();
    for r in ranges {
        let (docs, diags) = parse_range(file, text, r.clone(), &Limits::default());
        for d in docs {
            let s = d.span_of("/a").map(|s| (s.start, s.end));
            out.push(format!("{} {:?} {:?}", d.value, d.span, s));
        }
        for d in diags {
            out.push(format!("{} {:?}", d.code, d.primary_span()));
        }
    }
    // Diagnostics come per run; compare as sets.
    out.sort();
    out
}

#[test]
fn split_runs_parse_like_the_whole_file() {
    let mut text = String::from("# é\n");
    for i in 0..60 {
        match i % 7 {
            3 => text.push_str("---\na: [broken\n"),
            5 => text.push_str(&format!("---\na: &x {{é: {i}}}\nb: *x\n")),
            _ => text.push_str(&format!("---\na: \"ü{i}\"\nb: [{i}, {i}]\n")),
        }
    }
    let mut map = SourceMap::new();
    let file = map.add("x.yaml", text.clone());
    let whole = summary(file, &text, std::slice::from_ref(&(0..text.len())));
    let ranges = split_documents(&text, 64);
    assert!(ranges.len() > 10, "{ranges:?}");
    assert_eq!(ranges.first().map(|r| r.start), Some(0));
    assert_eq!(ranges.last().map(|r| r.end), Some(text.len()));
    assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
    assert_eq!(summary(file, &text, &ranges), whole);
}

/// A quoted scalar with lines left of its block is read as libyaml reads it (kubectl.rs holds
/// the values to kubectl's), and the spans after it still point into the original text.
#[test]
fn reindented_quoted_scalars_keep_their_spans() {
    let text = "data:\n  a: 'x\n  y'\n  b: \"p\nq\"\n  c: done\n";
    let mut map = netpol_diag::SourceMap::new();
    let (_, docs, diags) = super::parse_bytes(
        "t.yaml",
        text.as_bytes().to_vec(),
        &mut map,
        &super::Limits::default(),
    );
    assert!(diags.is_empty(), "{diags:?}");
    let doc = &docs[0];
    assert_eq!(doc.value["data"]["a"], "x y");
    assert_eq!(doc.value["data"]["b"], "p q");
    for (pointer, at) in [("/data/c", "done"), ("/data/b", "\"p"), ("/data/a", "'x")] {
        let span = doc.nearest_span_of(pointer);
        assert_eq!(
            &text[span.start as usize..span.start as usize + at.len()],
            at,
            "{pointer}"
        );
    }
}
