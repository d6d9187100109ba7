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
