//! One home per rule of `docs/semantics.md`: the function that decides each rule id.
//!
//! The profile's switches ([`crate::profile::Flags`]) are read in [`switches`] and nowhere
//! else in this crate; the engines, `explain` and the facts the SMT encoding reads call the
//! functions below. `switches` is a leaf (the world calls it); `vpc` reads the world.
//!
//! | Rule | Decided by |
//! |------|------------|
//! | S1 connection | `eval::pair` |
//! | S2 isolation | `eval::basis` |
//! | S3 policyTypes defaulting | `network_policy` in netpol-manifest's `objects/policy.rs` (the loader stores the defaulted `policyTypes`) |
//! | S4 rules | `eval::direction` |
//! | S5 peers | `peers::peer_selects` |
//! | S6 ipBlock | `World::ipblock_matches` |
//! | S7 ports | `ir::resolve_ports` |
//! | S8 endpoints | `World::new` |
//! | S9 hostNetwork (upstream) | `switches::host_network_peers` (off) |
//! | S10 own node, ingress | `vpc::node_exempt` with `switches::exempts_node` |
//! | V1 strict mode | `switches::strict_default_deny` |
//! | V2 rules outside policyTypes | `vpc::rule_resolves`; under `scope: any` `vpc::rule_may_resolve` |
//! | V3 ipBlocks and unknown addresses | `switches::ipblock_matches_workload`, `switches::cluster_ip_cover` |
//! | V4 node exemption both ways | `switches::exempts_node` |
//! | V5 ClusterIP egress | `vpc::service_peer_ports` |
//! | V6 hostNetwork peers | `vpc::node_expanded`, `vpc::node_ports` |
//! | V7 named ports | `vpc::ingress_union_ports`, `vpc::egress_cidr_ports` |
//! | V8 port matching | `ports::PortSet::all` (only a port-less rule has `other`) |
//! | V9 pod identifier sharing | `ident::range` with `ident::open_for_some_set` |
//! | V10 Service port mapping | `services::selector_peer_ports` |
//! | V11 ipBlocks merged per CIDR, longest prefix | `cidr_keys::Table::new`, `cidr_keys::decide` |
//! | V12 ipBlocks at the node's address | `ipblocks::block_dropped`, `ipblocks::node_key_denied` |
//! | V13 24 port slots per key | `slots::truncated_keys` |
//! | V14 pod address from the `pod-ips` annotation | `switches::pod_ip` |
//! | V15 IP family | `family::block_skipped`, `family::except_key`, `switches::icmpv6_passes` |
//!
//! [`INDEX`] is this table as data; a test holds it against `docs/semantics.md` and the source.

pub(crate) mod cidr_facts;
pub(crate) mod cidr_keys;
pub(crate) mod family;
pub(crate) mod ident;
pub(crate) mod ipblocks;
pub(crate) mod peers;
pub(crate) mod services;
pub(crate) mod slots;
pub mod switches;
pub(crate) mod versions;
pub(crate) mod vpc;

/// Rule id → (file under `crates/`, function) that decides it. The first function named is
/// the rule's home; a test checks that every file defines its function.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const INDEX: &[(&str, &[(&str, &str)])] = &[
    ("S1", &[("netpol-graph/src/eval.rs", "pair")]),
    ("S2", &[("netpol-graph/src/eval.rs", "basis")]),
    (
        "S3",
        &[("netpol-manifest/src/objects/policy.rs", "network_policy")],
    ),
    ("S4", &[("netpol-graph/src/eval.rs", "direction")]),
    ("S5", &[("netpol-graph/src/rules/peers.rs", "peer_selects")]),
    (
        "S6",
        &[("netpol-graph/src/world/mod.rs", "ipblock_matches")],
    ),
    ("S7", &[("netpol-graph/src/ir.rs", "resolve_ports")]),
    ("S8", &[("netpol-graph/src/world/mod.rs", "new")]),
    (
        "S9",
        &[("netpol-graph/src/rules/switches.rs", "host_network_peers")],
    ),
    (
        "S10",
        &[
            ("netpol-graph/src/rules/vpc.rs", "node_exempt"),
            ("netpol-graph/src/rules/switches.rs", "exempts_node"),
        ],
    ),
    (
        "V1",
        &[("netpol-graph/src/rules/switches.rs", "strict_default_deny")],
    ),
    (
        "V2",
        &[
            ("netpol-graph/src/rules/vpc.rs", "rule_resolves"),
            ("netpol-graph/src/rules/vpc.rs", "rule_may_resolve"),
        ],
    ),
    (
        "V3",
        &[
            (
                "netpol-graph/src/rules/switches.rs",
                "ipblock_matches_workload",
            ),
            ("netpol-graph/src/rules/switches.rs", "cluster_ip_cover"),
        ],
    ),
    (
        "V4",
        &[("netpol-graph/src/rules/switches.rs", "exempts_node")],
    ),
    (
        "V5",
        &[("netpol-graph/src/rules/vpc.rs", "service_peer_ports")],
    ),
    (
        "V6",
        &[
            ("netpol-graph/src/rules/vpc.rs", "node_expanded"),
            ("netpol-graph/src/rules/vpc.rs", "node_ports"),
        ],
    ),
    (
        "V7",
        &[
            ("netpol-graph/src/rules/vpc.rs", "ingress_union_ports"),
            ("netpol-graph/src/rules/vpc.rs", "egress_cidr_ports"),
        ],
    ),
    ("V8", &[("netpol-graph/src/ports.rs", "all")]),
    (
        "V9",
        &[
            ("netpol-graph/src/rules/ident.rs", "range"),
            ("netpol-graph/src/rules/ident.rs", "open_for_some_set"),
        ],
    ),
    (
        "V11",
        &[
            ("netpol-graph/src/rules/cidr_keys.rs", "Table::new"),
            ("netpol-graph/src/rules/cidr_keys.rs", "decide"),
        ],
    ),
    (
        "V10",
        &[("netpol-graph/src/rules/services.rs", "selector_peer_ports")],
    ),
    (
        "V12",
        &[
            ("netpol-graph/src/rules/ipblocks.rs", "block_dropped"),
            ("netpol-graph/src/rules/ipblocks.rs", "node_key_denied"),
        ],
    ),
    (
        "V13",
        &[("netpol-graph/src/rules/slots.rs", "truncated_keys")],
    ),
    ("V14", &[("netpol-graph/src/rules/switches.rs", "pod_ip")]),
    (
        "V15",
        &[
            ("netpol-graph/src/rules/family.rs", "block_skipped"),
            ("netpol-graph/src/rules/family.rs", "except_key"),
            ("netpol-graph/src/rules/switches.rs", "icmpv6_passes"),
        ],
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::INDEX;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .parent()
            .unwrap()
    }

    /// The rule ids of `docs/semantics.md` (`**S1.`, `**V8.`) with the fixtures each names.
    fn rules_in_semantics() -> Vec<(String, Vec<String>)> {
        let text = std::fs::read_to_string(root().join("docs/semantics.md")).unwrap();
        let mut rules: Vec<(String, Vec<String>)> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("**") {
                let id: String = rest.chars().take_while(|c| *c != '.').collect();
                let is_id = id.len() >= 2
                    && matches!(id.as_bytes()[0], b'S' | b'V')
                    && id[1..].bytes().all(|b| b.is_ascii_digit());
                if is_id {
                    rules.push((id, Vec::new()));
                    continue;
                }
            }
            if let Some((_, fixtures)) = rules.last_mut() {
                for part in line.split('`').skip(1).step_by(2) {
                    if part.starts_with("testdata/reach/") {
                        fixtures.push(part.to_owned());
                    }
                }
            }
        }
        rules
    }

    #[test]
    fn every_rule_of_semantics_md_has_its_function_and_a_fixture() {
        let rules = rules_in_semantics();
        assert!(rules.len() >= 18, "rule ids found: {rules:?}");
        let documented: BTreeSet<&str> = rules.iter().map(|(id, _)| id.as_str()).collect();
        let indexed: BTreeSet<&str> = INDEX.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            documented, indexed,
            "docs/semantics.md and rules::INDEX differ"
        );
        for (id, fixtures) in &rules {
            assert!(
                !fixtures.is_empty(),
                "{id} names no fixture in docs/semantics.md"
            );
            for f in fixtures {
                assert!(root().join(f).is_file(), "{id}: fixture {f} is missing");
            }
        }
        for (id, homes) in INDEX {
            for (file, func) in *homes {
                let src = std::fs::read_to_string(root().join("crates").join(file)).unwrap();
                let name = func.rsplit("::").next().unwrap();
                let defined =
                    src.contains(&format!("fn {name}(")) || src.contains(&format!("fn {name}<"));
                assert!(defined, "{id}: {file} does not define {func}");
            }
        }
    }

    #[test]
    fn semantics_md_has_the_index_table() {
        let text = std::fs::read_to_string(root().join("docs/semantics.md")).unwrap();
        for (id, homes) in INDEX {
            let (_, func) = homes[0];
            let row = format!("| {id} |");
            let line = text.lines().find(|l| l.starts_with(&row));
            let line = line.unwrap_or_else(|| panic!("docs/semantics.md has no index row {id}"));
            assert!(
                line.contains(func),
                "docs/semantics.md row {id} does not name {func}"
            );
        }
    }

    /// The profile's switches are read in `rules/` and nowhere else in the workspace (tests
    /// aside): a `.flags.` anywhere else is a second home for a rule.
    #[test]
    fn profile_flags_are_read_only_in_rules() {
        fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    out.push(path);
                }
            }
        }
        let crates = root().join("crates");
        let mut files = Vec::new();
        for krate in std::fs::read_dir(&crates).unwrap() {
            walk(&krate.unwrap().path().join("src"), &mut files);
        }
        let mut readers = Vec::new();
        for f in files {
            let rel = f
                .strip_prefix(&crates)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let is_test = name == "tests.rs"
                || name.starts_with("tests_")
                || name.ends_with("_tests.rs")
                || rel.contains("/tests/");
            if is_test
                || rel.starts_with("netpol-graph/src/rules/")
                || rel == "netpol-graph/src/profile.rs"
            {
                continue;
            }
            let src = std::fs::read_to_string(&f).unwrap();
            if src.contains(".flags.") {
                readers.push(rel);
            }
        }
        assert!(
            readers.is_empty(),
            "read profile flags outside rules/: {readers:?}"
        );
    }
}
