//! The diagnostic codes and their documentation stay in sync, and the code list itself is
//! snapshotted so a rename or a severity change shows up in review.

use std::fmt::Write as _;

use netpol_diag::Code;

fn diagnostics_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/diagnostics.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

#[test]
fn every_code_has_a_docs_section_in_order() {
    let docs = diagnostics_md();
    let headings: Vec<&str> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(str::trim)
        .collect();
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        headings, codes,
        "docs/diagnostics.md must have one `## <code>` section per Code, in Code::ALL order"
    );
}

#[test]
fn every_section_states_its_default_severity() {
    let docs = diagnostics_md();
    for section in docs.split("\n## ").skip(1) {
        let (name, body) = section.split_once('\n').unwrap_or((section, ""));
        let code: Code = name.trim().parse().unwrap_or_else(|e| panic!("{e}"));
        let want = match code.default_severity() {
            netpol_diag::Severity::Error => "*Error.*",
            netpol_diag::Severity::Warning => "*Warning.*",
            netpol_diag::Severity::Note => "*Note.*",
        };
        assert!(
            body.trim_start().starts_with(want),
            "section {name} should start with {want}"
        );
        for part in ["**Why it matters.**", "**Example.**", "**Fix.**"] {
            assert!(body.contains(part), "section {name} lacks {part}");
        }
    }
}

#[test]
fn code_list() {
    let mut res = String::new();
    for code in Code::ALL {
        let _ = writeln!(
            res,
            "{:<28} {:<8} {}",
            code.as_str(),
            code.default_severity().as_str(),
            code.description()
        );
    }
    insta::assert_snapshot!(res);
}
