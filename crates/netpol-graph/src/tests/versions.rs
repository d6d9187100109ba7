//! `rules::versions`: the older VPC CNI releases' behaviours netpol reports.

use netpol_diag::Code;
use netpol_manifest::config::{Cni, EnforcingMode, Release};
use netpol_manifest::model::{Model, PortRef};

use super::build::*;
use crate::Analysis;
use crate::profile::Profile;

fn at(p: Profile, agent: (u64, u64, u64), controller: (u64, u64, u64)) -> Profile {
    Profile {
        releases: Some((
            Release::new(agent.0, agent.1, agent.2),
            Release::new(controller.0, controller.1, controller.2),
        )),
        ..p
    }
}

fn gaps(m: &Model, p: &Profile) -> Vec<String> {
    (Analysis::new(m, p).diagnostics().iter())
        .filter(|d| d.code == Code::VersionNotModelled)
        .map(|d| d.message.clone())
        .collect()
}

/// Each older behaviour is reported only for a release that has it and an input that
/// exercises it; the newest releases and `upstream` report nothing.
#[test]
fn older_releases_are_reported_where_the_input_depends_on_them() {
    let mut m = Model::default();
    // V9: `a-b-x` in `c` and `a-x` in `b-c` are both `a-b-c` before agent v1.4.0.
    m.endpoints.push(pod("c", "a-b-x", &[("app", "one")]));
    m.endpoints.push(pod("b-c", "a-x", &[("app", "two")]));
    let mut host = pod("c", "node-agent", &[("app", "host")]);
    host.host_network = true;
    m.endpoints.push(host);
    m.policies.push(policy("c", "all", sel(&[])));
    m.services.push(service(
        "c",
        "ext",
        None,
        vec![sport(80, PortRef::Number(8080))],
    ));
    m.services.push(service(
        "c",
        "web",
        Some(&[("app", "one")]),
        vec![sport(80, PortRef::Name("http".into()))],
    ));
    let m = finish(m);
    assert!(gaps(&m, &vpc()).is_empty());
    assert!(gaps(&m, &upstream()).is_empty());
    let all = gaps(&m, &at(strict(), (1, 1, 0), (1, 1, 1)));
    for needle in [
        "share a pod identifier under agent v1.1.0",
        "selects hostNetwork pod c/node-agent",
        "strict mode under agent v1.1.0",
        "Service c/ext has no selector",
        "Service c/web has a named targetPort",
    ] {
        assert!(all.iter().any(|g| g.contains(needle)), "{needle}: {all:#?}");
    }
    assert_eq!(all.len(), 5, "{all:#?}");
    // Strict mode is a cluster setting: reported without a pod in the input too (proofs
    // over pods created later depend on it).
    let none = gaps(
        &finish(Model::default()),
        &at(strict(), (1, 1, 0), (1, 1, 7)),
    );
    assert_eq!(none.len(), 1, "{none:#?}");
    // Just below each boundary, one behaviour at a time.
    assert_eq!(gaps(&m, &at(vpc(), (1, 3, 7), (1, 1, 7))).len(), 1);
    assert_eq!(gaps(&m, &at(vpc(), (1, 4, 0), (1, 1, 5))).len(), 1);
    assert_eq!(gaps(&m, &at(vpc(), (1, 4, 0), (1, 1, 6))).len(), 0);
    let profile = profile(Cni::VpcCni, EnforcingMode::Standard);
    assert_eq!(
        profile.releases,
        Some((
            crate::rules::versions::NEWEST_AGENT,
            crate::rules::versions::NEWEST_CONTROLLER
        ))
    );
}

/// Without the colliding names, an old agent changes nothing netpol can see.
#[test]
fn legacy_identifiers_collide_only_across_namespaces() {
    let mut m = Model::default();
    m.endpoints.push(pod("c", "a-b-x", &[]));
    m.endpoints.push(pod("c", "a-b-y", &[]));
    m.endpoints.push(pod("d", "a-b-x", &[]));
    let m = finish(m);
    assert!(gaps(&m, &at(vpc(), (1, 3, 7), (1, 1, 7))).is_empty());
}

/// An Indexed Job's pods have legacy identifiers `<base>-<i>-<namespace>`: Job `a` with 3
/// indexes in `c` meets pod `a-x` in `2-c` (`a-2-c`), and Job `a` with 2 indexes in `1-c` meets
/// Job `a-1` in `c` (`a-1-1-c`); index 3, or the same namespace, meets nothing.
#[test]
fn legacy_identifiers_of_indexed_jobs_collide_per_index() {
    use netpol_manifest::model::EndpointKind;
    let job = |ns: &str, name: &str, n: u32| {
        let mut e = pod(ns, name, &[]);
        e.kind = EndpointKind::Job;
        e.indexed_completions = Some(n);
        e
    };
    let old = || at(vpc(), (1, 3, 7), (1, 1, 7));
    let found = |eps: Vec<netpol_manifest::model::Endpoint>| {
        let m = finish(Model {
            endpoints: eps,
            ..Model::default()
        });
        gaps(&m, &old())
    };
    let g = found(vec![job("c", "a", 3), pod("2-c", "a-x", &[])]);
    assert_eq!(g.len(), 1, "{g:#?}");
    assert!(g[0].contains("share a pod identifier"), "{g:#?}");
    assert!(found(vec![job("c", "a", 2), pod("2-c", "a-x", &[])]).is_empty());
    assert!(found(vec![job("c", "a", 3), pod("c", "a-2-x", &[])]).is_empty());
    assert_eq!(found(vec![job("1-c", "a", 2), job("c", "a-1", 2)]).len(), 1);
    assert!(found(vec![job("1-c", "a", 1), job("c", "a-1", 2)]).is_empty());
}

/// Up to agent v1.4.1 (the default) a CIDR written with host bits is keyed and compared as
/// written: at a node's address it is dropped there (V12), and beside the same block written
/// canonically Go map order picks one entry (V11). netpol models the canonical form, so both
/// are reported; from v1.4.2 on (canonicalisation) neither is.
#[test]
fn cidrs_written_with_host_bits_are_reported_up_to_agent_v1_4_1() {
    use netpol_manifest::model::Peer;
    let written = |b: Peer, addr: &str| match b {
        Peer::IpBlock(mut x) => {
            x.written = Some(ip(addr));
            Peer::IpBlock(x)
        }
        other => other,
    };
    let mut m = Model::default();
    m.endpoints.push(pod("c", "api", &[("app", "api")]));
    let mut p = policy("c", "egress", sel(&[("app", "api")]));
    p.egress = vec![
        rule(
            vec![written(block("10.0.1.0/24", &[]), "10.0.1.5")],
            vec![port(netpol_manifest::model::Protocol::Tcp, 443)],
        ),
        rule(
            vec![block("10.0.1.0/24", &[])],
            vec![port(netpol_manifest::model::Protocol::Tcp, 80)],
        ),
    ];
    m.policies.push(p);
    let m = finish(m);
    let nodes = with_nodes(vpc(), &[("n1", "10.0.1.5")]);
    let found = gaps(&m, &nodes);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found.iter().any(|g| g.contains("node n1's address")),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|g| g.contains("shares its block")),
        "{found:#?}"
    );
    assert!(gaps(&m, &at(nodes.clone(), (1, 4, 2), (1, 1, 7))).is_empty());
    assert!(gaps(&m, &upstream()).is_empty());
}

/// A release newer than the modelled ones is one warning naming it (whatever the input), and
/// not a `version-not-modelled` gap, so `verify` still decides; the modelled releases and
/// `upstream` get none.
#[test]
fn newer_releases_are_named_in_one_warning() {
    let m = finish(Model::default());
    let newer = |p: &Profile| -> Vec<String> {
        (Analysis::new(&m, p).diagnostics().iter())
            .filter(|d| d.code == Code::VersionNewerThanModelled)
            .map(|d| d.message.clone())
            .collect()
    };
    assert!(newer(&vpc()).is_empty());
    assert!(newer(&upstream()).is_empty());
    let got = newer(&at(vpc(), (1, 5, 0), (1, 1, 7)));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].contains("agent v1.5.0 (netpol models v1.4.1)"),
        "{got:#?}"
    );
    assert!(!got[0].contains("controller"), "{got:#?}");
    let got = newer(&at(vpc(), (1, 4, 2), (1, 2, 0)));
    assert!(
        got[0].contains(
            "agent v1.4.2 (netpol models v1.4.1) and controller v1.2.0 (netpol models v1.1.7)"
        ),
        "{got:#?}"
    );
    assert!(gaps(&m, &at(vpc(), (2, 0, 0), (2, 0, 0))).is_empty());
}
