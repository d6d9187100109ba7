//! One folder per lint code in `testdata/lint/<code>/`: every `positive*.yaml` makes the
//! code fire (its rendering is snapshotted, and its SARIF holds it unless it is a note) and
//! `negative.yaml` keeps it silent. Each case runs under the default profile (VPC CNI,
//! standard mode) unless a `# profile: upstream` or `# profile: strict` line says otherwise
//! (`# agent: v1.2.3` configures an older VPC CNI agent, `# ip-family: ipv6` an IPv6
//! cluster; `# what-if budget: N` and
//! `# bleed budget: N` lower the size budgets).

use std::path::{Path, PathBuf};

use netpol_diag::render::{self, HumanOptions};
use netpol_diag::{Code, Diagnostic, SourceMap};
use netpol_graph::Analysis;
use netpol_manifest::config::{ClusterSettings, Cni, EnforcingMode};
use netpol_manifest::{LoadOptions, Source};

/// The codes netpol-lint produces, first to last in `Code::ALL`.
const FIRST: Code = Code::SelectorMatchesNothing;
const LAST: Code = Code::InvalidSuppression; // lint-skipped lies between them

fn lint_codes() -> Vec<Code> {
    let all = Code::ALL;
    let a = all.iter().position(|c| *c == FIRST).expect("first");
    let b = all.iter().position(|c| *c == LAST).expect("last");
    all[a..=b].to_vec()
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/lint")
}

fn run(path: &Path) -> (SourceMap, Vec<Diagnostic>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // A stable name for the snapshots: `testdata/lint/<code>/<file>`.
    let rel: PathBuf = ["testdata", "lint"]
        .iter()
        .map(PathBuf::from)
        .chain(
            path.iter()
                .rev()
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .map(PathBuf::from),
        )
        .collect();
    let mut map = SourceMap::new();
    let loaded = netpol_manifest::load(
        &[Source::Bytes {
            name: rel.display().to_string(),
            bytes,
        }],
        &LoadOptions::default(),
        &mut map,
    );
    assert!(
        loaded.diagnostics.iter().all(|d| !d.is_error()),
        "{}: {:?}",
        path.display(),
        loaded.diagnostics
    );
    // A `# profile: upstream` or `# profile: strict` line picks another profile.
    let text = std::fs::read_to_string(path).expect("fixture text");
    let mut settings = ClusterSettings::default();
    if text.lines().any(|l| l == "# profile: upstream") {
        settings.cni = Cni::Upstream;
    }
    if text.lines().any(|l| l == "# profile: strict") {
        settings.enforcing_mode = EnforcingMode::Strict;
    }
    // A `# ip-family: ipv6` line makes the cluster IPv6 (cluster.ipFamily, V15).
    if text.lines().any(|l| l == "# ip-family: ipv6") {
        settings.ip_family = netpol_manifest::config::IpFamily::Ipv6;
    }
    // A `# agent: vX.Y.Z` line configures an older VPC CNI agent (cluster.vpcCni).
    if let Some(v) = text.lines().find_map(|l| l.strip_prefix("# agent: ")) {
        settings.vpc_cni.agent_version = Some(v.parse().expect("agent release"));
    }
    let profile = netpol_graph::Profile::new(&settings);
    let analysis = Analysis::new(&loaded.model, &profile);
    // A `# what-if budget: N` line lowers the size budget of the what-if lints.
    let mut options = netpol_lint::Options::default();
    if let Some(n) = text
        .lines()
        .find_map(|l| l.strip_prefix("# what-if budget: "))
    {
        options.what_if_budget = n.parse().expect("what-if budget");
    }
    // A `# bleed budget: N` line lowers the size budget of except-bleed.
    if let Some(n) = text
        .lines()
        .find_map(|l| l.strip_prefix("# bleed budget: "))
    {
        options.bleed_budget = n.parse().expect("bleed budget");
    }
    let mut diags = netpol_lint::lint(&loaded.model, &analysis, &map, &options);
    netpol_lint::suppress(&loaded.model, &map, &mut diags);
    Diagnostic::sort(&mut diags);
    (map, diags)
}

fn sarif_options() -> render::SarifOptions<'static> {
    render::SarifOptions {
        name: "netpol",
        version: "0.0.0",
        information_uri: "https://example.invalid/netpol",
        help_base: None,
    }
}

fn cases(code: Code) -> Vec<PathBuf> {
    let folder = dir().join(code.as_str());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (every lint needs a fixture folder)",
                folder.display()
            )
        })
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_lint_fires_on_its_positive_cases_and_not_on_its_negative_case() {
    for code in lint_codes() {
        let files = cases(code);
        let name = |p: &PathBuf| {
            p.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned()
        };
        assert!(
            files.iter().any(|p| name(p).starts_with("positive")),
            "{code}: no positive case"
        );
        assert!(
            files.iter().any(|p| name(p) == "negative.yaml"),
            "{code}: no negative case"
        );
        for file in files {
            let (map, diags) = run(&file);
            let hits: Vec<Diagnostic> = diags.into_iter().filter(|d| d.code == code).collect();
            if name(&file).starts_with("negative") {
                assert!(
                    hits.is_empty(),
                    "{code} fired on {}: {hits:?}",
                    file.display()
                );
                continue;
            }
            assert!(
                !hits.is_empty(),
                "{code} did not fire on {}",
                file.display()
            );
            for d in &hits {
                // `lint-skipped` is about the whole input, not a node of it.
                assert!(
                    d.primary_span().is_some() || code == Code::LintSkipped,
                    "{code}: no primary span"
                );
                assert!(d.help.is_some(), "{code}: no help");
            }
            // SARIF carries every finding but notes (code scanning shows results as alerts).
            let log = render::sarif(&map, &hits, &sarif_options());
            let results = log["runs"][0]["results"].as_array().expect("results");
            let expected = hits
                .iter()
                .filter(|d| d.severity != netpol_diag::Severity::Note)
                .count();
            assert_eq!(results.len(), expected, "{code}: {}", file.display());
            assert!(
                results
                    .iter()
                    .all(|r| r["ruleId"] == code.as_str() && r["locations"].is_array()),
                "{code}: {log:#}"
            );
            let mut text = String::new();
            render::human(&mut text, &map, &hits, &HumanOptions::deterministic()).expect("render");
            let snap = format!(
                "{}__{}",
                code.as_str(),
                name(&file).trim_end_matches(".yaml")
            );
            insta::assert_snapshot!(snap, text);
        }
    }
}

#[test]
fn lint_output_is_deterministic() {
    for code in lint_codes() {
        for file in cases(code) {
            assert_eq!(run(&file).1, run(&file).1, "{}", file.display());
        }
    }
}

#[test]
fn duplicates_are_not_also_reported_as_without_effect() {
    let file = dir().join("duplicate-policy/positive.yaml");
    let (_, diags) = run(&file);
    let codes: Vec<Code> = diags.iter().map(|d| d.code).collect();
    assert!(codes.contains(&Code::DuplicatePolicy), "{codes:?}");
    assert!(!codes.contains(&Code::PolicyWithoutEffect), "{codes:?}");
}

#[test]
fn a_used_suppression_drops_the_finding_and_only_in_its_object() {
    let (_, diags) = run(&dir().join("unused-suppression/negative.yaml"));
    let codes: Vec<Code> = diags.iter().map(|d| d.code).collect();
    assert!(!codes.contains(&Code::DnsPortTcpOnly), "{codes:?}");
    assert!(!codes.contains(&Code::UnusedSuppression), "{codes:?}");
    // A group suppresses each of its codes.
    let (_, diags) = run(&dir().join("invalid-suppression/negative.yaml"));
    let codes: Vec<Code> = diags.iter().map(|d| d.code).collect();
    assert!(!codes.contains(&Code::NoDefaultDeny), "{codes:?}");
}
