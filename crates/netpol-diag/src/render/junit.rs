//! JUnit XML, which CI systems show as a test report. [`cases`] writes any list of test
//! cases (`netpol verify`: one per assertion); [`junit`] writes diagnostics as one test
//! suite per file, one failing case per error or warning and one passing case for a file
//! without findings (the shape ESLint's and kube-linter's reports have).

use std::collections::BTreeMap;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::{Diagnostic, Severity, SourceMap};

/// How one test case ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    Passed,
    /// A `<failure>` with a message and a type.
    Failed {
        message: String,
        kind: String,
    },
    /// An `<error>` (the test could not run to a verdict) with a message and a type.
    Errored {
        message: String,
        kind: String,
    },
}

/// One test case: name, class name and outcome.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub classname: String,
    pub outcome: Outcome,
}

/// A report named `report` holding one suite per `(suite name, cases)`, in the order given.
pub fn cases(report: &str, suites: Vec<(String, Vec<Case>)>) -> Result<String, String> {
    let mut out = Report::new(report);
    for (name, cases) in suites {
        let mut suite = TestSuite::new(name);
        for c in cases {
            let status = match c.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Failed { message, kind } => {
                    non_success(NonSuccessKind::Failure, message, kind)
                }
                Outcome::Errored { message, kind } => {
                    non_success(NonSuccessKind::Error, message, kind)
                }
            };
            let mut tc = TestCase::new(c.name, status);
            tc.set_classname(c.classname);
            suite.add_test_case(tc);
        }
        out.add_test_suite(suite);
    }
    out.to_string().map_err(|e| e.to_string())
}

fn non_success(kind: NonSuccessKind, message: String, ty: String) -> TestCaseStatus {
    let mut s = TestCaseStatus::non_success(kind);
    s.set_message(message);
    s.set_type(ty);
    s
}

/// Diagnostics as JUnit: a suite per file of `map` (and `netpol` for diagnostics without
/// a location, when there are any), a failing case per error or warning named
/// `code at line:col`, a passing case for a file without one. Notes are left out.
pub fn junit(report: &str, map: &SourceMap, diags: &[Diagnostic]) -> Result<String, String> {
    let mut by_file: BTreeMap<Option<crate::FileId>, Vec<Case>> = BTreeMap::new();
    for f in map.files() {
        by_file.entry(Some(f)).or_default();
    }
    for d in super::sorted(diags) {
        if d.severity == Severity::Note {
            continue;
        }
        let at = super::start(map, &d);
        let name = match &at {
            Some((_, line, col)) => format!("{} at {line}:{col}", d.code),
            None => d.code.to_string(),
        };
        let file = d.primary_span().map(|s| s.file);
        by_file.entry(file).or_default().push(Case {
            name,
            classname: format!("netpol.{}", d.code),
            outcome: Outcome::Failed {
                message: super::one_line(&d.message),
                kind: d.severity.as_str().to_owned(),
            },
        });
    }
    let suites = by_file
        .into_iter()
        .map(|(file, mut cases)| {
            let name = file.map_or_else(|| "netpol".to_owned(), |f| map.name(f).to_owned());
            if cases.is_empty() {
                cases.push(Case {
                    name: name.clone(),
                    classname: "netpol".to_owned(),
                    outcome: Outcome::Passed,
                });
            }
            (name, cases)
        })
        .collect();
    cases(report, suites)
}
