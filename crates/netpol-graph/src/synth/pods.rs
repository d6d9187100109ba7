//! Pod dumps: what `kubectl get pods -A -o yaml` and `kubectl get networkpolicies -A -o
//! yaml` print for a big cluster. Every endpoint is a bare Pod with `status.podIP` and
//! `status.hostIP`; their owners (ReplicaSets, StatefulSets, DaemonSets) are not in the
//! input. A quarter of the namespaces have policies, some of them with ipBlocks that cut
//! through the pod range, so pods that differ only by IP fall on both sides of a block.

use std::fmt::Write as _;

use super::{Rng, SynthConfig};

/// Nodes: one per 30 pods (EKS m5.large-style density), at least 3.
fn node_count(pods: usize) -> usize {
    (pods / 30).max(3)
}

fn node_name(n: usize) -> String {
    format!("ip-192-168-{}-{}.ec2.internal", 1 + n / 250, 1 + n % 250)
}

fn node_ip(n: usize) -> String {
    format!("192.168.{}.{}", 1 + n / 250, 1 + n % 250)
}

/// The `c`-th pod IP: scattered over 10.0.0.0/12 (a multiplication by an odd number is a
/// bijection modulo 2^20), as VPC CNI hands out secondary IPs across subnets.
fn pod_ip(c: usize) -> String {
    let v = (c as u64).wrapping_mul(7919) % (1 << 20);
    format!("10.{}.{}.{}", v >> 16, (v >> 8) & 255, v & 255)
}

/// A deterministic lowercase alphanumeric suffix like the ones controllers generate.
fn suffix(rng: &mut Rng, len: usize) -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..len)
        .map(|_| CHARS[rng.below(CHARS.len())] as char)
        .collect()
}

const APP_WORDS: [&str; 12] = [
    "api", "web", "worker", "billing", "search", "auth", "cart", "payments", "events", "mailer",
    "reports", "gateway",
];

/// One pod of the dump.
struct Pod<'a> {
    ns: &'a str,
    name: String,
    labels: Vec<(&'static str, String)>,
    /// (kind, name) of the controller.
    owner: Option<(&'static str, String)>,
    node: usize,
    host_network: bool,
    ip: String,
    /// Named container ports: (name, number).
    ports: &'static [(&'static str, u16)],
    image: String,
}

struct Out {
    text: String,
    pods: usize,
    ips: usize,
    uid: u64,
}

impl Out {
    fn pod(&mut self, p: &Pod<'_>) {
        self.pods += 1;
        self.uid += 1;
        let t = &mut self.text;
        let _ = write!(
            t,
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    creationTimestamp: \"2026-11-{:02}T08:{:02}:{:02}Z\"\n",
            1 + self.uid % 28,
            self.uid % 60,
            (self.uid / 60) % 60
        );
        if let Some((_, owner)) = &p.owner {
            let _ = writeln!(t, "    generateName: {owner}-");
        }
        t.push_str("    labels:\n");
        for (k, v) in &p.labels {
            let _ = writeln!(t, "      {k}: \"{v}\"");
        }
        let _ = write!(t, "    name: {}\n    namespace: {}\n", p.name, p.ns);
        if let Some((kind, owner)) = &p.owner {
            let _ = write!(
                t,
                "    ownerReferences:\n    - apiVersion: apps/v1\n      blockOwnerDeletion: true\n      controller: true\n      kind: {kind}\n      name: {owner}\n      uid: 7f3c{:08x}-0000-4000-8000-00000000{:04x}\n",
                self.uid.wrapping_mul(2_654_435_761) & 0xffff_ffff,
                self.uid % 0xffff
            );
        }
        let _ = write!(
            t,
            "    resourceVersion: \"{}\"\n    uid: 5e1a{:08x}-1111-4222-8333-{:012x}\n  spec:\n    containers:\n    - image: {}\n      imagePullPolicy: IfNotPresent\n      name: main\n",
            100_000 + self.uid * 7,
            self.uid,
            self.uid,
            p.image
        );
        if !p.ports.is_empty() {
            t.push_str("      ports:\n");
            for (name, number) in p.ports {
                let _ = write!(
                    t,
                    "      - containerPort: {number}\n        name: {name}\n        protocol: TCP\n"
                );
            }
        }
        let _ = write!(
            t,
            "      resources:\n        requests:\n          cpu: 100m\n          memory: 128Mi\n      terminationMessagePath: /dev/termination-log\n      terminationMessagePolicy: File\n    dnsPolicy: ClusterFirst\n    enableServiceLinks: true\n"
        );
        if p.host_network {
            t.push_str("    hostNetwork: true\n");
        }
        let _ = write!(
            t,
            "    nodeName: {}\n    preemptionPolicy: PreemptLowerPriority\n    priority: 0\n    restartPolicy: Always\n    schedulerName: default-scheduler\n    serviceAccountName: default\n    terminationGracePeriodSeconds: 30\n",
            node_name(p.node)
        );
        let host = node_ip(p.node);
        let _ = write!(
            t,
            "  status:\n    conditions:\n    - lastProbeTime: null\n      lastTransitionTime: \"2026-11-02T08:00:00Z\"\n      status: \"True\"\n      type: Ready\n    hostIP: {host}\n    hostIPs:\n    - ip: {host}\n    phase: Running\n    podIP: {}\n    podIPs:\n    - ip: {}\n    qosClass: Burstable\n    startTime: \"2026-11-02T07:59:00Z\"\n",
            p.ip, p.ip
        );
    }

    fn next_ip(&mut self) -> String {
        self.ips += 1;
        pod_ip(self.ips)
    }
}

/// The dump: a `List` of `cfg.workloads` Pods, then a `List` of `cfg.policies`
/// NetworkPolicies.
pub(super) fn pods(cfg: &SynthConfig, rng: &mut Rng) -> String {
    let total = cfg.workloads;
    let nodes = node_count(total);
    let mut out = Out {
        text: String::with_capacity(total * 1_700 + cfg.policies * 800 + 4096),
        pods: 0,
        ips: 0,
        uid: 0,
    };
    out.text.push_str("apiVersion: v1\nitems:\n");
    // kube-system: per node aws-node and kube-proxy (hostNetwork) and the EBS CSI node
    // plugin, while they fit in a third of the pods; then CoreDNS.
    let per_node = [
        ("aws-node", true, &[("metrics", 61678)][..]),
        ("kube-proxy", true, &[][..]),
        ("ebs-csi-node", false, &[("healthz", 9808)][..]),
    ];
    'ds: for (ds, host_network, ports) in per_node {
        let hash = suffix(rng, 9);
        for n in 0..nodes {
            if out.pods >= total / 3 {
                break 'ds;
            }
            let ip = if host_network {
                node_ip(n)
            } else {
                out.next_ip()
            };
            let p = Pod {
                ns: "kube-system",
                name: format!("{ds}-{}", suffix(rng, 5)),
                labels: vec![
                    ("app.kubernetes.io/name", ds.to_owned()),
                    ("controller-revision-hash", hash.clone()),
                    ("k8s-app", ds.to_owned()),
                    ("pod-template-generation", "3".to_owned()),
                ],
                owner: Some(("DaemonSet", ds.to_owned())),
                node: n,
                host_network,
                ip,
                ports,
                image: format!("602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/{ds}:v1.19.2"),
            };
            out.pod(&p);
        }
    }
    let namespaces = cfg.namespaces.max(1);
    // Apps: Deployments (1-8 replicas) and some StatefulSets (1-3), round-robin over the
    // namespaces until the count is reached.
    let mut k = 0usize;
    while out.pods < total {
        let i = k % namespaces;
        let ns = namespace_name(i);
        let word = APP_WORDS[(k / namespaces + i) % APP_WORDS.len()];
        let app = format!("{word}-{}", k / namespaces / APP_WORDS.len());
        let stateful = rng.chance(15);
        let replicas = if stateful {
            1 + rng.below(3)
        } else {
            1 + rng.below(8)
        };
        let hash = suffix(rng, if stateful { 10 } else { 9 });
        let version = if rng.chance(30) { "v2" } else { "v1" };
        let ports: &'static [(&'static str, u16)] = if stateful {
            &[("db", 5432), ("metrics", 9187)]
        } else if rng.chance(50) {
            &[("http", 8080), ("metrics", 9090)]
        } else {
            &[("http", 8080)]
        };
        for r in 0..replicas.min(total - out.pods) {
            let (name, owner, mut labels) = if stateful {
                (
                    format!("{app}-{r}"),
                    ("StatefulSet", app.clone()),
                    vec![
                        ("controller-revision-hash", format!("{app}-{hash}")),
                        ("statefulset.kubernetes.io/pod-name", format!("{app}-{r}")),
                    ],
                )
            } else {
                (
                    format!("{app}-{hash}-{}", suffix(rng, 5)),
                    ("ReplicaSet", format!("{app}-{hash}")),
                    vec![("pod-template-hash", hash.clone())],
                )
            };
            labels.push(("app", app.clone()));
            labels.push(("app.kubernetes.io/instance", format!("{ns}-{app}")));
            labels.push(("app.kubernetes.io/name", word.to_owned()));
            labels.push(("version", version.to_owned()));
            labels.sort();
            let ip = out.next_ip();
            let p = Pod {
                ns: &ns,
                name,
                labels,
                owner: Some(owner),
                node: rng.below(nodes),
                host_network: false,
                ip,
                ports,
                image: format!("registry.example.com/{ns}/{word}:{version}"),
            };
            out.pod(&p);
        }
        k += 1;
    }
    out.text
        .push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    policies(&mut out.text, cfg, namespaces);
    out.text
}

fn namespace_name(i: usize) -> String {
    const TEAMS: [&str; 6] = ["shop", "data", "platform", "ml", "growth", "infra"];
    const ENVS: [&str; 3] = ["prod", "staging", "dev"];
    format!("{}-{}-{}", TEAMS[i % 6], ENVS[(i / 6) % 3], i / 18)
}

/// `cfg.policies` NetworkPolicies in a `List`, six to a namespace: default-deny
/// ingress, same-namespace and ingress-controller allows, and ipBlocks (egress to the VPC
/// except two ranges, ingress from an office range except one /16, and an egress deny-list
/// of 24 /24s) that cut through the pod range.
fn policies(out: &mut String, cfg: &SynthConfig, namespaces: usize) {
    if cfg.policies == 0 {
        return;
    }
    out.push_str("---\napiVersion: v1\nitems:\n");
    let with_policies = namespaces.div_ceil(4);
    for j in 0..cfg.policies {
        // Six policies (one of each kind) per namespace, in every fourth namespace.
        let ns = namespace_name(((j / 6) % with_policies) * 4);
        let kind = j % 6;
        let _ = write!(
            out,
            "- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata:\n    name: {}-{}\n    namespace: {ns}\n  spec:\n",
            [
                "default-deny",
                "allow-same-ns",
                "allow-vpc-egress",
                "allow-office",
                "allow-from-kube-system",
                "deny-list"
            ][kind],
            j / 6
        );
        match kind {
            0 => out.push_str("    podSelector: {}\n    policyTypes: [Ingress]\n"),
            1 => out.push_str(
                "    podSelector: {}\n    ingress:\n    - from:\n      - podSelector: {}\n    policyTypes: [Ingress]\n",
            ),
            2 => out.push_str(
                "    podSelector: {}\n    egress:\n    - to:\n      - ipBlock:\n          cidr: 10.0.0.0/8\n          except: [10.2.0.0/16, 10.9.128.0/17]\n    - ports:\n      - {port: 53, protocol: UDP}\n    policyTypes: [Egress]\n",
            ),
            3 => out.push_str(
                "    podSelector:\n      matchLabels: {app.kubernetes.io/name: web}\n    ingress:\n    - from:\n      - ipBlock:\n          cidr: 10.4.0.0/14\n          except: [10.5.0.0/16]\n      ports:\n      - {port: http}\n    policyTypes: [Ingress]\n",
            ),
            4 => out.push_str(
                "    podSelector:\n      matchExpressions:\n      - {key: app.kubernetes.io/name, operator: In, values: [web, api, gateway]}\n    ingress:\n    - from:\n      - namespaceSelector:\n          matchLabels: {kubernetes.io/metadata.name: kube-system}\n      ports:\n      - {port: 8080}\n    policyTypes: [Ingress]\n",
            ),
            _ => {
                out.push_str(
                    "    podSelector: {}\n    egress:\n    - to:\n      - ipBlock:\n          cidr: 10.0.0.0/12\n          except:\n",
                );
                for e in 0..24 {
                    let _ = writeln!(out, "          - 10.{}.{}.0/24", e % 16, (e * 37) % 256);
                }
                out.push_str("    policyTypes: [Egress]\n");
            }
        }
    }
    out.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
}
