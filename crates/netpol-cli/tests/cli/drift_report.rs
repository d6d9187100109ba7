//! `netpol verify --format json|sarif|github|junit` with a snapshot drift: the drift is
//! part of the report, not only text on stderr.

use super::run_in;
use super::snapshot::{shop_copy, widen_worker};

/// `verify --format sarif|github|json|junit` with a drift: the drift is part of the report
/// (a `snapshot-drift` error and the flows on the rules behind them), so a CI that reads
/// the report sees why the exit status is 1; also for a drift check alone.
#[test]
fn drift_is_part_of_every_report_format() {
    let dir = shop_copy();
    let d = dir.path();
    widen_worker(d);
    let schema = super::sarif::Sarif::load();
    for extra in [&[][..], &["--snapshot", "netpol.snap"][..]] {
        if !extra.is_empty() {
            // A drift check alone: no netpol.yaml.
            std::fs::rename(d.join("netpol.yaml"), d.join("netpol.yaml.off")).expect("rename");
        }
        let drop_config = |args: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
            v.extend(extra.iter().map(|s| (*s).to_owned()));
            if !extra.is_empty() {
                v.push(".".to_owned());
            }
            v
        };
        let run_fmt = |f: &str| {
            let args = drop_config(&["verify", "--format", f]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let res = run_in(d, &args, b"");
            assert_eq!(res.code, Some(1), "{f}: {}{}", res.stdout, res.stderr);
            res.stdout
        };
        let sarif: serde_json::Value = serde_json::from_str(&run_fmt("sarif")).expect("json");
        schema.assert_valid(&sarif);
        let results = sarif["runs"][0]["results"].as_array().expect("results");
        let drift = (results.iter())
            .find(|r| r["ruleId"] == "snapshot-drift")
            .expect("a snapshot-drift result");
        assert_eq!(drift["level"], "error");
        let flow = (results.iter())
            .find(|r| r["ruleId"] == "flow-changed")
            .expect("a flow-changed result");
        let loc = &flow["locations"][0]["physicalLocation"];
        assert_eq!(
            loc["artifactLocation"]["uri"], "shop-policies.yaml",
            "{flow:#}"
        );
        assert_eq!(loc["region"]["startLine"], 110, "{flow:#}");
        assert!(
            (flow["message"]["text"].as_str().expect("text"))
                .contains("shop/worker[Deployment] -> 10.0.64.0/20 TCP/5432 => TCP/5432,TCP/6432"),
            "{flow:#}"
        );

        let gh = run_fmt("github");
        assert!(
            gh.lines()
                .any(|l| l.starts_with("::error") && l.contains("snapshot-drift")),
            "{gh}"
        );
        assert!(
            gh.lines().any(|l| l.starts_with("::warning file=")
                && l.contains("shop-policies.yaml,line=110,")
                && l.contains("flow-changed")),
            "{gh}"
        );
        let json: serde_json::Value = serde_json::from_str(&run_fmt("json")).expect("json");
        let codes: Vec<&str> = (json["diagnostics"].as_array().expect("diagnostics").iter())
            .filter_map(|x| x["code"].as_str())
            .collect();
        assert!(
            codes.contains(&"snapshot-drift") && codes.contains(&"flow-changed"),
            "{json:#}"
        );
        let junit = run_fmt("junit");
        assert!(
            junit.contains("<testcase name=\"snapshot\" classname=\"netpol.verify\">")
                && junit.contains("snapshot-drift"),
            "{junit}"
        );
    }
}
