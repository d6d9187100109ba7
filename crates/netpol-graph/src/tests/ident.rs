//! V9 pod identifier sharing: explain names the sibling and the policy.

use netpol_diag::SourceMap;
use netpol_manifest::config::{ClusterSettings, Cni, EnforcingMode, Node};
use netpol_manifest::model::Protocol;
use netpol_manifest::{LoadOptions, Source};

use crate::{Analysis, Profile};

fn fixture(name: &str) -> netpol_manifest::Model {
    let path = super::fixtures::reach_dir().join(name);
    let mut map = SourceMap::new();
    netpol_manifest::load(&[Source::Path(path)], &LoadOptions::default(), &mut map).model
}

fn vpc() -> Profile {
    let node = |n: &str, ip: &str| Node {
        name: n.to_owned(),
        ip: ip.parse().expect("ip"),
    };
    Profile::new(&ClusterSettings {
        cni: Cni::VpcCni,
        enforcing_mode: EnforcingMode::Standard,
        nodes: vec![node("n1", "192.168.1.1"), node("n2", "192.168.1.2")],
        ..ClusterSettings::default()
    })
}

#[test]
fn explain_names_the_sibling_and_the_policy() {
    let m = fixture("vpc-identifier-sharing.yaml");
    let a = Analysis::new(&m, &vpc());
    let e = a
        .explain("x/web", "x/client-a", Some((Protocol::Tcp, 5432)))
        .expect("endpoints");
    assert!(e.verdict);
    let ingress = &e.directions[1];
    assert_eq!(ingress.rules[0].policy, "x/b-db");
    let text = ingress.reasons.join("\n");
    assert!(text.contains("pod identifier client@x"), "{text}");
    assert!(
        text.contains("NetworkPolicy x/b-db applies here through x/client-b, which it selects (on this pod's node, so always"),
        "{text}"
    );
    // Across nodes the same rule applies only in some order of events.
    let m = fixture("vpc-identifier-sharing-cross-node.yaml");
    let a = Analysis::new(&m, &vpc());
    let e = a
        .explain("x/web", "x/client-a", Some((Protocol::Tcp, 5432)))
        .expect("endpoints");
    let text = e.directions[1].reasons.join("\n");
    assert!(text.contains("depending on the order"), "{text}");
    // Upstream knows nothing of identifiers.
    let up = Profile::new(&ClusterSettings {
        cni: Cni::Upstream,
        ..ClusterSettings::default()
    });
    assert!(Analysis::new(&m, &up).identifier_ranges().is_empty());
}
