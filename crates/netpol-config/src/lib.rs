//! `netpol.yaml`: the [`Verification`] file users commit next to their manifests, its JSON
//! Schema, and [`parse_config`], which reports problems with exact spans.
//!
//! It sits between `netpol-manifest` and `netpol-graph`, so that every command reads the
//! file without the solver: `types.rs` is the schema (serde and schemars types), `load.rs`
//! turns text into a [`ParsedConfig`] with spans, `validate.rs` checks what serde
//! cannot, and `intent.rs` is a checked assertion typed ([`Intent`]), as the encoder reads it.

mod intent;
mod load;
mod types;
mod validate;

pub use intent::{Block, Body, Intent, Peer};
pub use load::{AssertionSpans, ParsedConfig, parse_config, parse_config_bytes};
pub use types::*;
pub use validate::PortItem;

/// An assertion body after checking: what the encoder reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Deny,
    Allow,
    Only,
    Isolated,
}

#[cfg(test)]
mod tests {
    use super::validate::{parse_port_item, port_items};
    use super::*;
    use netpol_diag::{Code, Diagnostic, SourceMap};
    use netpol_manifest::model::{Direction, Protocol};

    fn parse(text: &str) -> (Option<ParsedConfig>, Vec<Diagnostic>, SourceMap) {
        let mut map = SourceMap::new();
        let file = map.add("netpol.yaml", text.to_owned());
        let (c, d) = parse_config(file, text);
        (c, d, map)
    }

    #[test]
    fn committed_schema_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/netpol.schema.json");
        let generated = schema_json();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &generated).expect("write docs/netpol.schema.json");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            committed, generated,
            "docs/netpol.schema.json is stale: run UPDATE_SCHEMA=1 cargo test -p netpol-config"
        );
    }

    #[test]
    fn the_issue_example_parses() {
        let text = r#"apiVersion: netpol.dev/v1alpha1
kind: Verification
manifests: ["k8s/"]
cluster:
  cni: vpc-cni
  enforcingMode: standard
  podCIDRs: ["10.0.0.0/16"]
assertions:
  - name: dev-cannot-reach-prod
    scope: any
    deny:
      from: {namespaceSelector: {matchLabels: {env: dev}}}
      to:   {namespaceSelector: {matchLabels: {env: prod}}}
      ports: ["TCP/5432", "UDP/53", "TCP/8000-8080"]
  - name: api-reaches-db
    allow: {from: {namespace: shop, podSelector: {matchLabels: {app: api}}}, to: {namespace: shop, podSelector: {matchLabels: {app: db}}}, ports: ["TCP/5432"]}
  - name: db-only-from-api
    only: {to: {namespace: shop, podSelector: {matchLabels: {app: db}}}, from: [{namespace: shop, podSelector: {matchLabels: {app: api}}}], ports: ["TCP/5432"]}
  - name: shop-default-deny
    isolated: {pods: {namespace: shop}, directions: [Ingress, Egress]}
"#;
        let (c, d, _) = parse(text);
        assert!(d.is_empty(), "{d:?}");
        let c = c.expect("parsed");
        assert_eq!(c.verification.assertions.len(), 4);
        assert_eq!(c.verification.cluster.pod_cidrs.len(), 1);
        assert_eq!(c.verification.assertions[0].kind(), Some(Kind::Deny));
        assert_eq!(c.verification.assertions[3].kind(), Some(Kind::Isolated));
        let kinds: Vec<Kind> = c.intents.iter().map(Intent::kind).collect();
        assert_eq!(kinds, [Kind::Deny, Kind::Allow, Kind::Only, Kind::Isolated]);
        assert_eq!(c.intents[0].scope, Scope::Any);
        let Body::Pair { ports, .. } = &c.intents[0].body else {
            panic!("deny is a pair")
        };
        assert_eq!(
            ports,
            &[
                Some((Protocol::Tcp, 5432, 5432)),
                Some((Protocol::Udp, 53, 53)),
                Some((Protocol::Tcp, 8000, 8080))
            ]
        );
        let Body::Isolated { directions, .. } = &c.intents[3].body else {
            panic!("isolated")
        };
        assert_eq!(directions, &[Direction::Ingress, Direction::Egress]);
        assert!(c.spans.iter().all(|s| s.whole.is_some()));
    }

    #[test]
    fn peers_are_typed_once() {
        let text = "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: a\n    deny:\n      from: {ipBlock: {cidr: 10.0.0.1/8, except: [10.1.0.0/16]}}\n      to: {namespace: shop, podSelector: {matchLabels: {app: db}, matchExpressions: [{key: tier, operator: NotIn, values: [b, a, b]}]}}\n";
        let (c, d, _) = parse(text);
        assert!(d.is_empty(), "{d:?}");
        let c = c.expect("parsed");
        let Body::Pair {
            allow: false,
            from,
            to,
            ports,
        } = &c.intents[0].body
        else {
            panic!("deny is a pair")
        };
        assert_eq!(ports.len(), 4, "every protocol and port");
        let block = from.ip_block.as_ref().expect("ipBlock");
        // As written: the encoder truncates where it needs the network.
        assert_eq!(block.cidr.to_string(), "10.0.0.1/8");
        assert_eq!(block.except[0].to_string(), "10.1.0.0/16");
        assert_eq!(to.namespace.as_deref(), Some("shop"));
        let sel = to.pod_selector.as_ref().expect("podSelector");
        let reqs: Vec<String> = sel
            .requirements
            .iter()
            .map(|r| format!("{} {:?} {:?}", r.key, r.operator, r.values))
            .collect();
        assert_eq!(reqs, ["app In [\"db\"]", "tier NotIn [\"a\", \"b\"]"]);
    }

    #[test]
    fn ipv6_blocks_parse_and_an_except_of_the_other_family_is_reported() {
        let text = "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: a\n    deny:\n      from: {ipBlock: {cidr: 2600:1f00::/24, except: [2600:1f00:1::/48]}}\n      to: {}\n";
        let (c, d, _) = parse(text);
        assert!(d.is_empty(), "{d:?}");
        let c = c.expect("parsed");
        let Body::Pair { from, .. } = &c.intents[0].body else {
            panic!("deny is a pair")
        };
        let block = from.ip_block.as_ref().expect("ipBlock");
        assert_eq!(block.cidr.to_string(), "2600:1f00::/24");
        assert_eq!(block.except[0].to_string(), "2600:1f00:1::/48");
        let mixed = text.replace("2600:1f00:1::/48", "10.0.0.0/8");
        let (c, d, map) = parse(&mixed);
        assert!(c.is_none());
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message.contains("not of the family"),
            "{}",
            d[0].message
        );
        assert_eq!(map.start(d[0].primary_span().expect("span")).line, 6);
    }

    #[test]
    fn unknown_field_points_at_its_line() {
        let text = "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: a\n    deny: {from: {}, to: {}, prots: [TCP/1]}\n";
        let (c, d, map) = parse(text);
        assert!(c.is_none());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::InvalidConfig);
        assert!(d[0].message.contains("prots"), "{}", d[0].message);
        let span = d[0].primary_span().expect("span");
        assert_eq!(map.start(span).line, 5);
    }

    #[test]
    fn semantic_errors_are_reported_each() {
        let text = "apiVersion: netpol.dev/v1\nkind: Verification\nassertions:\n  - name: a\n    deny: {from: {}, to: {}, ports: [TCP/0, HTTP/80]}\n  - name: a\n    isolated: {pods: {ipBlock: {cidr: nope}}, directions: [Up]}\n  - name: b\n";
        let (c, d, _) = parse(text);
        assert!(c.is_none());
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(d.len(), 7, "{msgs:?}");
        assert!(d.iter().all(|d| d.code == Code::InvalidConfig));
    }

    #[test]
    fn port_items_parse() {
        assert_eq!(parse_port_item("TCP/80"), Some((Protocol::Tcp, 80, 80)));
        assert_eq!(parse_port_item("UDP/1-9"), Some((Protocol::Udp, 1, 9)));
        assert_eq!(parse_port_item("SCTP"), Some((Protocol::Sctp, 1, 65535)));
        assert_eq!(parse_port_item("TCP/9-1"), None);
        assert_eq!(parse_port_item("tcp/80"), None);
        assert_eq!(port_items(None).len(), 4);
    }

    #[test]
    fn empty_directions_are_invalid() {
        let text = "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nassertions:\n  - name: a\n    isolated: {pods: {}, directions: []}\n";
        let (c, d, map) = parse(text);
        assert!(c.is_none());
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, Code::InvalidConfig);
        let span = d[0].primary_span().expect("span");
        assert_eq!(map.snippet(span), "[]");
    }

    #[test]
    fn manifest_entries_have_spans() {
        let text =
            "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nmanifests: [k8s/, \"/etc\"]\n";
        let (c, d, map) = parse(text);
        assert!(d.is_empty(), "{d:?}");
        let c = c.expect("parsed");
        let spans: Vec<&str> = c
            .manifests
            .iter()
            .map(|s| map.snippet(s.expect("span")))
            .collect();
        assert_eq!(spans, ["k8s/", "\"/etc\""]);
    }

    #[test]
    fn snapshot_is_a_path_with_its_span() {
        let text =
            "apiVersion: netpol.dev/v1alpha1\nkind: Verification\nsnapshot: conn/matrix.json\n";
        let (c, d, map) = parse(text);
        assert!(d.is_empty(), "{d:?}");
        let (path, span) = c.expect("parsed").snapshot.expect("snapshot");
        assert_eq!(path, "conn/matrix.json");
        assert_eq!(map.snippet(span), "conn/matrix.json");
        let (c, _, _) = parse("apiVersion: netpol.dev/v1alpha1\nkind: Verification\n");
        assert_eq!(c.expect("parsed").snapshot, None);
    }

    #[test]
    fn an_empty_snapshot_is_invalid() {
        for value in ["\"\"", "[a]"] {
            let text =
                format!("apiVersion: netpol.dev/v1alpha1\nkind: Verification\nsnapshot: {value}\n");
            let (c, d, map) = parse(&text);
            assert!(c.is_none());
            assert_eq!(d.len(), 1, "{d:?}");
            assert_eq!(d[0].code, Code::InvalidConfig);
            assert_eq!(map.snippet(d[0].primary_span().expect("span")), value);
        }
    }

    #[test]
    fn a_config_that_is_not_utf8_is_a_diagnostic_at_the_byte() {
        let mut map = SourceMap::new();
        let bytes = b"apiVersion: netpol.dev/v1alpha1\n# caf\xe9\n".to_vec();
        let (file, c, d) = parse_config_bytes("netpol.yaml".to_owned(), bytes, &mut map);
        assert!(c.is_none());
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, Code::InvalidUtf8);
        let span = d[0].primary_span().expect("span");
        assert_eq!(span.file, file);
        assert_eq!((map.start(span).line, map.start(span).col), (2, 6));
    }
}
