//! Realistic clusters: a multi-team platform (see the module docs of `synth`).

use std::fmt::Write as _;

use super::{INFRA_WORKLOADS, Rng, Style, SynthConfig};

pub(super) const ENVS: [&str; 3] = ["dev", "staging", "prod"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tier {
    Frontend,
    Api,
    Worker,
    Db,
    Cache,
    Agent,
}

impl Tier {
    fn as_str(self) -> &'static str {
        match self {
            Tier::Frontend => "frontend",
            Tier::Api => "api",
            Tier::Worker => "worker",
            Tier::Db => "db",
            Tier::Cache => "cache",
            Tier::Agent => "agent",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Tier::Frontend => "web",
            Tier::Api => "api",
            Tier::Worker => "worker",
            Tier::Db => "db",
            Tier::Cache => "cache",
            Tier::Agent => "agent",
        }
    }

    /// Named container ports: (name, number, protocol).
    fn ports(self) -> &'static [(&'static str, u16, &'static str)] {
        match self {
            Tier::Frontend => &[("http", 8080, "TCP"), ("metrics", 9100, "TCP")],
            Tier::Api => &[
                ("http", 8080, "TCP"),
                ("grpc", 9090, "TCP"),
                ("metrics", 9100, "TCP"),
            ],
            Tier::Worker => &[("metrics", 9100, "TCP")],
            Tier::Db => &[("postgres", 5432, "TCP"), ("metrics", 9187, "TCP")],
            Tier::Cache => &[("redis", 6379, "TCP"), ("metrics", 9121, "TCP")],
            Tier::Agent => &[("metrics", 9100, "TCP"), ("syslog", 5140, "UDP")],
        }
    }
}

/// The tier of the `k`-th workload of a namespace: a repeating pattern of 20.
fn tier_of(k: usize) -> Tier {
    match k % 20 {
        0 | 1 | 10 => Tier::Frontend,
        2..=4 | 11..=14 => Tier::Api,
        5 | 6 | 15 | 16 => Tier::Worker,
        7 | 17 => Tier::Db,
        8 | 18 => Tier::Cache,
        19 => Tier::Agent,
        _ => Tier::Api,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
    Pod,
}

struct Workload {
    name: String,
    kind: Kind,
    tier: Tier,
    version: &'static str,
}

struct TeamNs {
    name: String,
    team: usize,
    env: &'static str,
    workloads: Vec<Workload>,
}

/// Splits `total` into `parts` near-equal shares, the larger ones first.
fn share(total: usize, parts: usize, i: usize) -> usize {
    if parts == 0 {
        return 0;
    }
    total / parts + usize::from(i < total % parts)
}

pub(super) fn realistic(cfg: &SynthConfig, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(cfg.workloads * 900 + cfg.policies * 700 + 4096);
    let infra = cfg.workloads.min(INFRA_WORKLOADS);
    let team_workloads = cfg.workloads - infra;
    // Workloads beyond the infrastructure need a team namespace to live in.
    let n = if team_workloads > 0 {
        cfg.namespaces.max(1)
    } else {
        cfg.namespaces
    };
    let mut pod_ip_counter: u32 = 0;
    let namespaces: Vec<TeamNs> = (0..n)
        .map(|i| {
            let count = share(team_workloads, n, i);
            let workloads = (0..count)
                .map(|k| {
                    let tier = tier_of(k);
                    let mut kind = match tier {
                        Tier::Db | Tier::Cache => Kind::StatefulSet,
                        Tier::Agent => Kind::DaemonSet,
                        _ => Kind::Deployment,
                    };
                    // Every fourth namespace has one bare Pod (a toolbox with a known IP).
                    if i % 4 == 0 && k + 1 == count && tier != Tier::Db {
                        kind = Kind::Pod;
                    }
                    let name = match kind {
                        Kind::Pod => format!("toolbox-{k}"),
                        _ => format!("{}-{k}", tier.prefix()),
                    };
                    Workload {
                        name,
                        kind,
                        tier,
                        version: if rng.chance(30) { "v2" } else { "v1" },
                    }
                })
                .collect();
            TeamNs {
                name: format!("team-{}-{}", i / 3, ENVS[i % 3]),
                team: i / 3,
                env: ENVS[i % 3],
                workloads,
            }
        })
        .collect();

    infrastructure(&mut out, infra);
    for ns in &namespaces {
        let _ = writeln!(
            out,
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n  labels: {{team: team-{}, env: {}}}",
            ns.name, ns.team, ns.env
        );
        for w in &ns.workloads {
            workload(&mut out, ns, w, &mut pod_ip_counter);
            service(&mut out, ns, w);
        }
    }
    let mut left = cfg.policies;
    for i in 0..namespaces.len() {
        let count = share(cfg.policies, n, i);
        left -= count;
        for j in 0..count {
            if cfg.style == Style::Egress && j == 6 {
                internet_policy(&mut out, &namespaces[i].name, i);
                continue;
            }
            policy(&mut out, rng, &namespaces, i, j);
        }
    }
    // No team namespace to hold them: give the policies to the monitoring namespace.
    for j in 0..left {
        let _ = writeln!(
            out,
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-scrape-{j}\n  namespace: monitoring\nspec:\n  podSelector: {{}}\n  ingress:\n  - from:\n    - podSelector: {{}}\n    ports:\n    - port: {}",
            9090 + (j % 10)
        );
    }
    out
}

/// kube-system with CoreDNS, ingress-nginx, and monitoring with Prometheus and a
/// hostNetwork node-exporter; `count` (at most 4) of those workloads are written.
fn infrastructure(out: &mut String, count: usize) {
    out.push_str(
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-system\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ingress-nginx\n  labels: {app.kubernetes.io/name: ingress-nginx}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: monitoring\n  labels: {purpose: monitoring}\n",
    );
    let items: [&str; INFRA_WORKLOADS] = [
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: coredns\n  namespace: kube-system\n  labels: {k8s-app: kube-dns}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {k8s-app: kube-dns}\n  template:\n    metadata:\n      labels: {k8s-app: kube-dns}\n    spec:\n      containers:\n      - name: coredns\n        image: registry.k8s.io/coredns/coredns:v1.11.1\n        ports:\n        - {name: dns, containerPort: 53, protocol: UDP}\n        - {name: dns-tcp, containerPort: 53, protocol: TCP}\n        - {name: metrics, containerPort: 9153, protocol: TCP}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: kube-dns\n  namespace: kube-system\nspec:\n  clusterIP: 10.100.0.10\n  selector: {k8s-app: kube-dns}\n  ports:\n  - {name: dns, port: 53, targetPort: dns, protocol: UDP}\n  - {name: dns-tcp, port: 53, targetPort: dns-tcp, protocol: TCP}\n",
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ingress-nginx-controller\n  namespace: ingress-nginx\nspec:\n  selector:\n    matchLabels: {app.kubernetes.io/name: ingress-nginx}\n  template:\n    metadata:\n      labels: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller}\n    spec:\n      containers:\n      - name: controller\n        image: registry.k8s.io/ingress-nginx/controller:v1.10.0\n        ports:\n        - {name: http, containerPort: 80}\n        - {name: https, containerPort: 443}\n        - {name: metrics, containerPort: 10254}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: ingress-nginx-controller\n  namespace: ingress-nginx\nspec:\n  type: LoadBalancer\n  selector: {app.kubernetes.io/name: ingress-nginx}\n  ports:\n  - {name: http, port: 80, targetPort: http}\n  - {name: https, port: 443, targetPort: https}\n",
        "---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: prometheus\n  namespace: monitoring\nspec:\n  serviceName: prometheus\n  selector:\n    matchLabels: {app: prometheus}\n  template:\n    metadata:\n      labels: {app: prometheus, app.kubernetes.io/part-of: kube-prometheus}\n    spec:\n      containers:\n      - name: prometheus\n        image: quay.io/prometheus/prometheus:v2.51.0\n        ports:\n        - {name: web, containerPort: 9090}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: prometheus\n  namespace: monitoring\nspec:\n  selector: {app: prometheus}\n  ports:\n  - {name: web, port: 9090, targetPort: web}\n",
        "---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: node-exporter\n  namespace: monitoring\nspec:\n  selector:\n    matchLabels: {app: node-exporter}\n  template:\n    metadata:\n      labels: {app: node-exporter, app.kubernetes.io/part-of: kube-prometheus}\n    spec:\n      hostNetwork: true\n      containers:\n      - name: node-exporter\n        image: quay.io/prometheus/node-exporter:v1.7.0\n        ports:\n        - {name: metrics, containerPort: 9100}\n",
    ];
    for item in items.iter().take(count) {
        out.push_str(item);
    }
}

fn workload(out: &mut String, ns: &TeamNs, w: &Workload, pod_ip_counter: &mut u32) {
    let labels = format!(
        "{{app: {}, tier: {}, version: {}, team: team-{}}}",
        w.name,
        w.tier.as_str(),
        w.version,
        ns.team
    );
    let mut ports = String::new();
    for (name, number, proto) in w.tier.ports() {
        let _ = write!(
            ports,
            "\n        - {{name: {name}, containerPort: {number}, protocol: {proto}}}"
        );
    }
    let image = format!(
        "registry.example.com/team-{}/{}:{}",
        ns.team,
        w.tier.prefix(),
        w.version
    );
    match w.kind {
        Kind::Pod => {
            // Pod IPs from 10.1.0.0/16, one per toolbox.
            let ip = *pod_ip_counter;
            *pod_ip_counter += 1;
            let _ = writeln!(
                out,
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {}\n  namespace: {}\n  labels: {labels}\nspec:\n  containers:\n  - name: main\n    image: {image}\n    ports:{}\nstatus:\n  phase: Running\n  podIP: 10.1.{}.{}",
                w.name,
                ns.name,
                // A Pod's containers are indented two columns less than a template's.
                ports.replace("\n        ", "\n    "),
                (ip / 250) % 256,
                ip % 250 + 2
            );
        }
        Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet => {
            let (kind, extra) = match w.kind {
                Kind::StatefulSet => ("StatefulSet", format!("\n  serviceName: {}", w.name)),
                Kind::DaemonSet => ("DaemonSet", String::new()),
                _ => ("Deployment", "\n  replicas: 2".to_owned()),
            };
            let _ = writeln!(
                out,
                "---\napiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {}\n  namespace: {}\n  labels: {{app: {}}}\nspec:{extra}\n  selector:\n    matchLabels: {{app: {}}}\n  template:\n    metadata:\n      labels: {labels}\n    spec:\n      containers:\n      - name: main\n        image: {image}\n        ports:{ports}",
                w.name, ns.name, w.name, w.name
            );
        }
    }
}

fn service(out: &mut String, ns: &TeamNs, w: &Workload) {
    let ports = match w.tier {
        Tier::Frontend => "\n  - {name: http, port: 80, targetPort: http}",
        Tier::Api => {
            "\n  - {name: http, port: 80, targetPort: http}\n  - {name: grpc, port: 9090, targetPort: 9090}"
        }
        Tier::Db => "\n  - {name: postgres, port: 5432, targetPort: 5432}",
        Tier::Cache => "\n  - {name: redis, port: 6379, targetPort: redis}",
        Tier::Worker | Tier::Agent => return,
    };
    if w.kind == Kind::Pod {
        return;
    }
    let _ = writeln!(
        out,
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {}\n  namespace: {}\nspec:\n  selector: {{app: {}}}\n  ports:{ports}",
        w.name, ns.name, w.name
    );
}

/// The name of a random workload of tier `tier` in `ns`, if it has one.
fn some_app<'a>(rng: &mut Rng, ns: &'a TeamNs, tier: Tier) -> Option<&'a str> {
    let of_tier: Vec<&Workload> = ns.workloads.iter().filter(|w| w.tier == tier).collect();
    if of_tier.is_empty() {
        return None;
    }
    Some(rng.pick(&of_tier).name.as_str())
}

/// A pod selector for one app of `tier` when there is one, else for the whole tier.
fn app_or_tier(rng: &mut Rng, ns: &TeamNs, tier: Tier) -> String {
    match some_app(rng, ns, tier) {
        Some(app) if rng.chance(60) => format!("{{matchLabels: {{app: {app}}}}}"),
        _ => format!("{{matchLabels: {{tier: {}}}}}", tier.as_str()),
    }
}

/// The `j`-th policy of team namespace `i`.
/// [`Style::Egress`]: API and worker pods reach the internet (every address outside the
/// private ranges) on 443, and a SaaS range of their own namespace, a public /24 that no
/// other namespace names, on 443 and 8443: thousands of distinct ipBlocks that cut the
/// internet into pieces every such pod reaches.
fn internet_policy(out: &mut String, ns: &str, i: usize) {
    let _ = write!(
        out,
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-internet-egress\n  namespace: {ns}\nspec:\n  podSelector:\n    matchExpressions:\n    - {{key: tier, operator: In, values: [api, worker]}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n        except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]\n    ports:\n    - {{protocol: TCP, port: 443}}\n  - to:\n    - ipBlock:\n        cidr: 52.{}.{}.0/24\n    ports:\n    - {{protocol: TCP, port: 443}}\n    - {{protocol: TCP, port: 8443}}\n",
        i / 256,
        i % 256
    );
}

fn policy(out: &mut String, rng: &mut Rng, all: &[TeamNs], i: usize, j: usize) {
    let ns = &all[i];
    let header = |out: &mut String, name: &str| {
        let _ = write!(
            out,
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {}\nspec:\n",
            ns.name
        );
    };
    match j {
        0 => {
            header(out, "default-deny");
            out.push_str("  podSelector: {}\n  policyTypes: [Ingress, Egress]\n");
        }
        1 => {
            header(out, "allow-dns");
            out.push_str(
                "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: kube-system}\n      podSelector:\n        matchLabels: {k8s-app: kube-dns}\n    ports:\n    - {protocol: UDP, port: 53}\n    - {protocol: TCP, port: 53}\n",
            );
        }
        2 => {
            header(out, "allow-from-ingress-nginx");
            out.push_str(
                "  podSelector:\n    matchLabels: {tier: frontend}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: ingress-nginx}\n      podSelector:\n        matchLabels: {app.kubernetes.io/name: ingress-nginx}\n    ports:\n    - port: http\n",
            );
        }
        3 => {
            header(out, "allow-prometheus-scrape");
            out.push_str(
                "  podSelector:\n    matchExpressions:\n    - {key: tier, operator: Exists}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {purpose: monitoring}\n      podSelector:\n        matchLabels: {app: prometheus}\n    ports:\n    - port: metrics\n",
            );
        }
        _ => app_policy(out, rng, all, i, j, &header),
    }
}

fn app_policy(
    out: &mut String,
    rng: &mut Rng,
    all: &[TeamNs],
    i: usize,
    j: usize,
    header: &dyn Fn(&mut String, &str),
) {
    let ns = &all[i];
    // Rotate by namespace so that every template appears even with few policies each.
    match (j - 4 + i) % 9 {
        0 => {
            header(out, &format!("allow-web-to-api-{j}"));
            let target = app_or_tier(rng, ns, Tier::Api);
            let _ = write!(
                out,
                "  podSelector: {target}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels: {{tier: frontend}}\n    ports:\n    - {{protocol: TCP, port: 8080}}\n    - port: grpc\n"
            );
        }
        1 => {
            header(out, &format!("allow-web-egress-{j}"));
            out.push_str(
                "  podSelector:\n    matchLabels: {tier: frontend}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - podSelector:\n        matchLabels: {tier: api}\n    ports:\n    - port: http\n    - {protocol: TCP, port: 9090}\n",
            );
        }
        2 => {
            header(out, &format!("allow-data-access-{j}"));
            let target = app_or_tier(rng, ns, Tier::Db);
            let _ = write!(
                out,
                "  podSelector: {target}\n  ingress:\n  - from:\n    - podSelector:\n        matchExpressions:\n        - {{key: tier, operator: In, values: [api, worker]}}\n    ports:\n    - {{protocol: TCP, port: 5432}}\n"
            );
        }
        3 => {
            header(out, &format!("allow-data-egress-{j}"));
            out.push_str(
                "  podSelector:\n    matchExpressions:\n    - {key: tier, operator: In, values: [api, worker]}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - podSelector:\n        matchExpressions:\n        - {key: tier, operator: In, values: [db, cache]}\n    ports:\n    - {protocol: TCP, port: 5432}\n    - port: redis\n",
            );
        }
        4 => {
            // Another team's namespace in the same environment may call our APIs.
            let other = cross_ns_peer(rng, all, i);
            header(out, &format!("allow-cross-team-{j}"));
            let _ = write!(
                out,
                "  podSelector:\n    matchLabels: {{tier: api}}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {{team: team-{}}}\n        matchExpressions:\n        - {{key: env, operator: In, values: [{}]}}\n      podSelector:\n        matchLabels: {{tier: frontend}}\n    ports:\n    - {{protocol: TCP, port: 8080, endPort: 8090}}\n",
                other.team, other.env
            );
        }
        5 => {
            header(out, &format!("allow-cross-team-egress-{j}"));
            let _ = write!(
                out,
                "  podSelector:\n    matchLabels: {{tier: frontend}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector:\n        matchExpressions:\n        - {{key: env, operator: In, values: [{}]}}\n        - {{key: team, operator: Exists}}\n      podSelector:\n        matchLabels: {{tier: api}}\n    ports:\n    - {{protocol: TCP, port: 8080, endPort: 8090}}\n",
                ns.env
            );
        }
        6 => {
            header(out, &format!("allow-rds-egress-{j}"));
            let subnet = rng.below(4);
            let _ = write!(
                out,
                "  podSelector:\n    matchExpressions:\n    - {{key: tier, operator: In, values: [api, worker]}}\n    - {{key: version, operator: NotIn, values: [canary]}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 10.20.{}.0/22\n        except: [10.20.{}.0/24]\n    ports:\n    - {{protocol: TCP, port: 5432}}\n",
                subnet * 4,
                subnet * 4 + 3
            );
        }
        7 => {
            header(out, &format!("allow-monitoring-range-{j}"));
            out.push_str(
                "  podSelector:\n    matchExpressions:\n    - {key: tier, operator: NotIn, values: [db, cache]}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {purpose: monitoring}\n    ports:\n    - {protocol: TCP, port: 9000, endPort: 9200}\n",
            );
        }
        _ => {
            // The toolbox pods have known IPs in 10.1.0.0/16; ipBlocks can match them.
            header(out, &format!("allow-worker-and-toolbox-{j}"));
            out.push_str(
                "  podSelector:\n    matchLabels: {tier: api}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels: {tier: worker}\n    - ipBlock:\n        cidr: 10.1.0.0/16\n        except: [10.1.255.0/24]\n    ports:\n    - port: grpc\n    - {protocol: TCP, port: 8080}\n",
            );
        }
    }
}

/// A namespace of another team in the same environment (or this one when it is alone).
fn cross_ns_peer<'a>(rng: &mut Rng, all: &'a [TeamNs], i: usize) -> &'a TeamNs {
    let same_env: Vec<&TeamNs> = all
        .iter()
        .enumerate()
        .filter(|(k, n)| *k != i && n.env == all[i].env)
        .map(|(_, n)| n)
        .collect();
    if same_env.is_empty() {
        return &all[i];
    }
    rng.pick(&same_env)
}
