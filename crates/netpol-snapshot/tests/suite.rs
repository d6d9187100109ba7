//! The diff over pairs of manifest sets, one change each: a policy added, removed, widened,
//! narrowed; a label changed; a namespace added; a Service port changed (VPC CNI). Each
//! asserts the flows reported, and what `--fail-on added` and `removed` would say.

mod common;

use common::{lines, snap};
use netpol_snapshot::diff;

/// Namespaces `front` (web) and `back` (api, db); `back` denies ingress by default and
/// admits web to api on http; the api has a Service (80 -> http).
const BASE: &str = r"
apiVersion: v1
kind: Namespace
metadata: {name: front, labels: {tier: front}}
---
apiVersion: v1
kind: Namespace
metadata: {name: back, labels: {tier: back}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: front}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 80}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: back}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: back}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: i, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: back}
spec:
  clusterIP: 172.20.0.10
  selector: {app: api}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: back}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-web, namespace: back}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {tier: front}}, podSelector: {matchLabels: {app: web}}}]
      ports: [{port: http}]
";

/// `BASE` with `from` replaced by `to` (which must be there).
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE lost `{from}`");
    BASE.replacen(from, to, 1)
}

/// The flows from `old` to `new`, and whether they add and lose access.
fn flows(old: &str, new: &str) -> (Vec<String>, bool, bool) {
    let d = diff(&snap(old), &snap(new));
    (lines(&d), d.has_new_access(), d.has_lost_access())
}

const DB_POLICY: &str = r"---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api, namespace: back}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {app: api}}}]
      ports: [{port: 5432}]
";

#[test]
fn policy_added_and_removed() {
    let with = format!("{BASE}{DB_POLICY}");
    let (f, adds, loses) = flows(BASE, &with);
    assert_eq!(
        f,
        ["+ pod back/api[Deployment] -> back/db[Deployment] TCP/5432"]
    );
    assert!(adds && !loses);
    let (f, adds, loses) = flows(&with, BASE);
    assert_eq!(
        f,
        ["- pod back/api[Deployment] -> back/db[Deployment] TCP/5432"]
    );
    assert!(!adds && loses);
}

#[test]
fn policy_widened_and_narrowed() {
    let wide = edit(
        "      ports: [{port: http}]\n",
        "      ports: [{port: http}, {port: 9090}]\n",
    );
    let (f, adds, loses) = flows(BASE, &wide);
    assert_eq!(
        f,
        ["~ pod front/web[Deployment] -> back/api[Deployment] TCP/8080 => TCP/8080,TCP/9090"]
    );
    assert!(adds && !loses);
    let (f, adds, loses) = flows(&wide, BASE);
    assert_eq!(
        f,
        ["~ pod front/web[Deployment] -> back/api[Deployment] TCP/8080,TCP/9090 => TCP/8080"]
    );
    assert!(!adds && loses);
}

#[test]
fn peer_widened_to_every_namespace() {
    let wide = edit(
        "{namespaceSelector: {matchLabels: {tier: front}}, podSelector: {matchLabels: {app: web}}}",
        "{namespaceSelector: {}}",
    );
    let (f, adds, loses) = flows(BASE, &wide);
    // Every pod of every namespace, present or created later, now reaches the api.
    assert_eq!(
        f,
        [
            "+ pod back/api[Deployment] -> back/api[Deployment] TCP/8080",
            "+ pod back/db[Deployment] -> back/api[Deployment] TCP/8080",
            "+ service back/db[Deployment] -> back/api[Service] TCP/80",
            "+ exposure new-pod@back -> back/api[Deployment] TCP/8080",
            "+ exposure new-pod@back -> back/api[Service] TCP/80",
            "+ exposure new-pod@front -> back/api[Deployment] TCP/8080",
            "+ exposure new-pod@front -> back/api[Service] TCP/80",
        ]
    );
    assert!(adds && !loses);
}

#[test]
fn label_changed() {
    let relabelled = edit(
        "    metadata: {labels: {app: web}}\n",
        "    metadata: {labels: {app: www}}\n",
    );
    let (f, adds, loses) = flows(BASE, &relabelled);
    // The web pods no longer match the api's peer: directly or through the Service.
    assert_eq!(
        f,
        [
            "- pod front/web[Deployment] -> back/api[Deployment] TCP/8080",
            "- service front/web[Deployment] -> back/api[Service] TCP/80",
        ]
    );
    assert!(!adds && loses);
}

#[test]
fn namespace_added() {
    let more = format!(
        "{BASE}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: batch, labels: {{tier: front}}}}\n"
    );
    let (f, adds, loses) = flows(BASE, &more);
    // A pod created in the new namespace is unrestricted except where `back` isolates;
    // its fresh labels do not match the api's `app: web` peer.
    assert_eq!(
        f,
        [
            "+ exposure 0.0.0.0/0 -> new-pod@batch *",
            "+ exposure back/api[Deployment] -> new-pod@batch *",
            "+ exposure back/db[Deployment] -> new-pod@batch *",
            "+ exposure front/web[Deployment] -> new-pod@batch *",
            "+ exposure new-pod@batch -> 0.0.0.0/0 *",
            "+ exposure new-pod@batch -> front/web[Deployment] *",
        ]
    );
    assert!(adds && !loses);
}

#[test]
fn service_port_changed_under_vpc_cni() {
    let other = edit(
        "  ports: [{port: 80, targetPort: http}]\n",
        "  ports: [{port: 8443, targetPort: http}]\n",
    );
    let (f, adds, loses) = flows(BASE, &other);
    // VPC CNI checks egress before DNAT: the flows to the ClusterIP move to the new port;
    // the pods behind it are reached as before.
    assert_eq!(
        f,
        [
            "~ service back/api[Deployment] -> back/api[Service] TCP/80 => TCP/8443",
            "~ service front/web[Deployment] -> back/api[Service] TCP/80 => TCP/8443",
        ]
    );
    assert!(adds && loses);
    // Upstream semantics reach the pods behind the Service only: nothing changed there.
    let [_, upstream] = common::profiles();
    let snap_up = |y: &str| common::snapshot(&common::load(y), &upstream);
    assert!(diff(&snap_up(BASE), &snap_up(&other)).is_empty());
}
