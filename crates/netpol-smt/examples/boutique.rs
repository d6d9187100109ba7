//! Online Boutique in N namespaces: the Service-heavy benchmark of docs/benchmarks.md
//! ("verify on Online Boutique × N", issue 11).
//!
//! `cargo run --release -p netpol-smt --example boutique -- N DIR` writes, from
//! `bench/online-boutique/online-boutique.yaml` (ServiceAccounts dropped):
//! - `DIR/cluster.yaml`: namespaces `team-000`… labelled `env: dev` / `env: prod`
//!   alternately, each with a copy of the app and its NetworkPolicies;
//! - `DIR/netpol.yaml`: the one assertion of the issue;
//! - `DIR/suite.yaml`: ten ordinary intents (two `scope: any`, eight `scope: existing`).
//!
//! Then `netpol verify --config DIR/netpol.yaml` (or `DIR/suite.yaml`) runs them.

use std::fmt::Write as _;
use std::path::PathBuf;

const APP: &str = include_str!("../../../bench/online-boutique/online-boutique.yaml");

const CLUSTER: &str = "cluster: {podCIDRs: [\"10.0.0.0/16\"], serviceCIDR: 172.20.0.0/16}\n";

const ONE: &str = r#"  - name: dev-cannot-reach-prod-payment
    deny:
      from: {namespaceSelector: {matchLabels: {env: dev}}}
      to: {namespaceSelector: {matchLabels: {env: prod}}, podSelector: {matchLabels: {app: paymentservice}}}
"#;

/// Eight `scope: existing` intents about `team-000` (dev) and `team-001` (prod), and one
/// more `scope: any`.
const SUITE: &str = r#"  - name: dev-cannot-reach-team-001-payment
    deny:
      from: {namespaceSelector: {matchLabels: {env: dev}}}
      to: {namespace: team-001, podSelector: {matchLabels: {app: paymentservice}}}
  - name: frontend-reaches-cart
    scope: existing
    allow: {from: {namespace: team-001, podSelector: {matchLabels: {app: frontend}}}, to: {namespace: team-001, podSelector: {matchLabels: {app: cartservice}}}, ports: ["TCP/7070"]}
  - name: checkout-reaches-payment
    scope: existing
    allow: {from: {namespace: team-001, podSelector: {matchLabels: {app: checkoutservice}}}, to: {namespace: team-001, podSelector: {matchLabels: {app: paymentservice}}}, ports: ["TCP/50051"]}
  - name: payment-only-from-checkout
    scope: existing
    only: {to: {namespace: team-001, podSelector: {matchLabels: {app: paymentservice}}}, from: [{namespace: team-001, podSelector: {matchLabels: {app: checkoutservice}}}]}
  - name: redis-only-from-cart
    scope: existing
    only: {to: {namespace: team-000, podSelector: {matchLabels: {app: redis-cart}}}, from: [{namespace: team-000, podSelector: {matchLabels: {app: cartservice}}}]}
  - name: loadgenerator-not-to-ads
    scope: existing
    deny: {from: {podSelector: {matchLabels: {app: loadgenerator}}}, to: {podSelector: {matchLabels: {app: adservice}}}}
  - name: frontend-not-to-email
    scope: existing
    deny: {from: {podSelector: {matchLabels: {app: frontend}}}, to: {podSelector: {matchLabels: {app: emailservice}}}}
  - name: prod-isolated
    scope: existing
    isolated: {pods: {namespaceSelector: {matchLabels: {env: prod}}}}
  - name: dev-catalog-not-from-prod
    scope: existing
    deny: {from: {namespaceSelector: {matchLabels: {env: prod}}}, to: {namespace: team-000, podSelector: {matchLabels: {app: productcatalogservice}}}}
"#;

/// The app's documents without ServiceAccounts, each with `namespace: {ns}` added.
fn copy_into(out: &mut String, ns: &str) {
    for doc in APP.split("\n---\n") {
        if doc.lines().any(|l| l == "kind: ServiceAccount") {
            continue;
        }
        let mut done = false;
        for line in doc.lines() {
            out.push_str(line);
            out.push('\n');
            if !done && line == "metadata:" {
                let _ = writeln!(out, "  namespace: {ns}");
                done = true;
            }
        }
        out.push_str("---\n");
    }
}

fn config(assertions: &str) -> String {
    format!(
        "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nmanifests: [cluster.yaml]\n{CLUSTER}assertions:\n{assertions}"
    )
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(n), Some(dir)) = (
        args.next().and_then(|s| s.parse::<usize>().ok()),
        args.next(),
    ) else {
        return Err(std::io::Error::other("usage: boutique N DIR"));
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    let mut cluster = String::new();
    for i in 0..n {
        let ns = format!("team-{i:03}");
        let env = if i % 2 == 0 { "dev" } else { "prod" };
        let _ = writeln!(
            cluster,
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels: {{env: {env}}}\n---"
        );
        copy_into(&mut cluster, &ns);
    }
    std::fs::write(dir.join("cluster.yaml"), cluster)?;
    std::fs::write(dir.join("netpol.yaml"), config(ONE))?;
    std::fs::write(dir.join("suite.yaml"), config(&format!("{ONE}{SUITE}")))?;
    Ok(())
}
