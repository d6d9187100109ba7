//! `netpol.dev/allow` annotations reach the model: on every modelled kind, inside `List`
//! items, with the object's span, the annotation's span, the entries and the reason.

use netpol_diag::SourceMap;
use netpol_manifest::{LoadOptions, Source, load};

const INPUT: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations: {netpol.dev/allow: " coverage ,, no-default-deny "}
---
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      namespace: shop
      name: api
      annotations:
        netpol.dev/allow: dns
        netpol.dev/allow-reason: "  DNS is on the node  "
    spec:
      selector: {matchLabels: {app: api}}
      template:
        metadata: {labels: {app: api}, annotations: {netpol.dev/allow: not-this-one}}
        spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: x, namespace: shop, annotations: {netpol.dev/allow: coverage}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: api}, ports: [{port: 80}]}
"#;

#[test]
fn suppressions_are_kept_with_their_spans() {
    let mut map = SourceMap::new();
    let loaded = load(
        &[Source::Bytes {
            name: "a.yaml".into(),
            bytes: INPUT.as_bytes().to_vec(),
        }],
        &LoadOptions::default(),
        &mut map,
    );
    let s = &loaded.model.suppressions;
    // The skipped ConfigMap, the pod template and the Service without one add nothing.
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[0].codes, ["coverage", "no-default-deny"]);
    assert_eq!(s[0].reason, None);
    assert_eq!(map.snippet(s[0].span), "\" coverage ,, no-default-deny \"");
    assert!(
        map.snippet(s[0].object)
            .starts_with("apiVersion: v1\nkind: Namespace")
    );
    assert_eq!(s[1].codes, ["dns"]);
    assert_eq!(s[1].reason.as_deref(), Some("DNS is on the node"));
    assert_eq!(map.snippet(s[1].span), "dns");
    let object = map.snippet(s[1].object);
    assert!(object.starts_with("apiVersion: apps/v1"), "{object}");
    assert!(object.contains("not-this-one") && !object.contains("kind: Service"));
}
