//! A deterministic synthetic cluster generator for benchmarks and property tests.
//!
//! [`generate`] turns a [`SynthConfig`] into multi-document YAML: the same config always
//! gives the same bytes. [`Style::Realistic`] clusters look like a multi-team platform
//! (team namespaces per environment, tiered apps with named ports, Services, a default-deny
//! per namespace and allow rules of every kind, plus kube-system, ingress-nginx and
//! monitoring). [`Style::Random`] clusters ([`SynthConfig::tiny`]) draw selectors, peers and
//! ports from a small vocabulary so that policies overlap in many ways; they are meant for
//! property tests that compare two engines.
//!
//! The PRNG is a hand-rolled splitmix64 so the library has no dependency for it and the
//! output cannot change with a crate upgrade.

use std::fmt::Write as _;

/// A preset cluster size (workloads / policies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Size {
    /// 200 workloads, 100 policies.
    S,
    /// 2,000 workloads, 1,000 policies.
    M,
    /// 10,000 workloads, 5,000 policies.
    L,
    /// 50,000 workloads, 20,000 policies.
    XL,
}

impl Size {
    /// Every preset, smallest first.
    pub const ALL: [Size; 4] = [Size::S, Size::M, Size::L, Size::XL];

    /// `S`, `M`, `L` or `XL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Size::S => "S",
            Size::M => "M",
            Size::L => "L",
            Size::XL => "XL",
        }
    }

    /// Parses `S`, `M`, `L` or `XL` (any case).
    pub fn parse(s: &str) -> Option<Size> {
        Size::ALL
            .into_iter()
            .find(|z| z.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// What kind of cluster to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Style {
    /// A multi-team platform; see the module docs.
    Realistic,
    /// Random selectors, peers and ports over a small vocabulary; see the module docs.
    Random,
}

/// What to generate. The counts are exact: the YAML holds `workloads` pod-creating objects
/// (Deployments, StatefulSets, DaemonSets and bare Pods) and `policies` NetworkPolicies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SynthConfig {
    pub seed: u64,
    /// Team namespaces (realistic) or all namespaces (random). Realistic clusters add
    /// `kube-system`, `ingress-nginx` and `monitoring`, and have at least one team
    /// namespace when there are more than 4 workloads.
    pub namespaces: usize,
    pub workloads: usize,
    pub policies: usize,
    pub style: Style,
}

/// Workloads of the realistic infrastructure namespaces: CoreDNS, the ingress controller,
/// Prometheus and node-exporter.
const INFRA_WORKLOADS: usize = 4;

impl SynthConfig {
    /// A realistic cluster of a preset size, about 20 workloads per team namespace.
    pub fn size(size: Size) -> SynthConfig {
        let (workloads, policies) = match size {
            Size::S => (200, 100),
            Size::M => (2_000, 1_000),
            Size::L => (10_000, 5_000),
            Size::XL => (50_000, 20_000),
        };
        SynthConfig {
            seed: 1,
            namespaces: workloads / 20,
            workloads,
            policies,
            style: Style::Realistic,
        }
    }

    /// A small random cluster for property tests: 3 namespaces, 6 workloads, 5 policies.
    pub fn tiny(seed: u64) -> SynthConfig {
        SynthConfig {
            seed,
            namespaces: 3,
            workloads: 6,
            policies: 5,
            style: Style::Random,
        }
    }

    /// The same config with another seed.
    pub fn with_seed(self, seed: u64) -> SynthConfig {
        SynthConfig { seed, ..self }
    }
}

/// The cluster as multi-document YAML. Deterministic: depends only on `cfg`.
pub fn generate(cfg: &SynthConfig) -> String {
    let mut rng = Rng::new(cfg.seed);
    match cfg.style {
        Style::Realistic => realistic(cfg, &mut rng),
        Style::Random => random(cfg, &mut rng),
    }
}

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for test data.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`); the modulo bias is irrelevant here.
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// A uniform element; `items` must not be empty.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------
// Realistic clusters
// ---------------------------------------------------------------------------------------

const ENVS: [&str; 3] = ["dev", "staging", "prod"];

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

fn realistic(cfg: &SynthConfig, rng: &mut Rng) -> String {
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

// ---------------------------------------------------------------------------------------
// Random clusters
// ---------------------------------------------------------------------------------------

const APPS: [&str; 3] = ["a", "b", "c"];
const TIERS: [&str; 2] = ["web", "db"];
const TEAMS: [&str; 2] = ["red", "blue"];
/// Container ports: the same name with two numbers, and two protocols on 53.
const CONTAINER_PORTS: [(&str, u16, &str); 5] = [
    ("http", 80, "TCP"),
    ("http", 8080, "TCP"),
    ("dns", 53, "UDP"),
    ("dns-tcp", 53, "TCP"),
    ("metrics", 9100, "TCP"),
];
/// Pod IPs and ipBlocks share 10.0.0.0/24 so that blocks and pods overlap.
const BLOCKS: [(&str, &[&str]); 5] = [
    ("10.0.0.0/24", &[]),
    ("10.0.0.0/16", &["10.0.0.128/25"]),
    ("0.0.0.0/0", &["10.0.0.0/8"]),
    ("192.168.1.0/24", &[]),
    ("10.0.0.0/25", &["10.0.0.0/28", "10.0.0.64/27"]),
];

fn random(cfg: &SynthConfig, rng: &mut Rng) -> String {
    let mut out = String::new();
    let n = cfg.namespaces.max(1);
    for i in 0..n {
        let mut labels = format!("team: {}", rng.pick(&TEAMS));
        if rng.chance(50) {
            let _ = write!(labels, ", env: {}", rng.pick(&ENVS));
        }
        let _ = writeln!(
            out,
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{i}\n  labels: {{{labels}}}"
        );
    }
    for k in 0..cfg.workloads {
        let ns = rng.below(n);
        // `workload` keeps a Deployment's selector non-empty; no policy looks at it.
        let mut labels = vec![format!("workload: w{k}")];
        if rng.chance(85) {
            labels.push(format!("app: {}", rng.pick(&APPS)));
        }
        if rng.chance(60) {
            labels.push(format!("tier: {}", rng.pick(&TIERS)));
        }
        let labels = format!("{{{}}}", labels.join(", "));
        let mut ports = String::new();
        let mut used_names: Vec<&str> = Vec::new();
        for (name, number, proto) in CONTAINER_PORTS {
            // Container port names are unique within a pod.
            if rng.chance(40) && !used_names.contains(&name) {
                used_names.push(name);
                let _ = write!(
                    ports,
                    "\n    - {{name: {name}, containerPort: {number}, protocol: {proto}}}"
                );
            }
        }
        let ports = if ports.is_empty() {
            String::new()
        } else {
            format!("\n    ports:{ports}")
        };
        if rng.chance(40) {
            // A bare Pod, sometimes with a known IP inside the blocks' range.
            let status = if rng.chance(70) {
                format!("\nstatus:\n  podIP: 10.0.0.{}", rng.below(254) + 1)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{k}\n  namespace: ns-{ns}\n  labels: {labels}\nspec:\n  containers:\n  - name: c\n    image: img{ports}{status}"
            );
        } else {
            let kind = if rng.chance(70) {
                "Deployment"
            } else {
                "StatefulSet"
            };
            let ports = ports.replace("\n    ", "\n        ");
            let _ = writeln!(
                out,
                "---\napiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: w{k}\n  namespace: ns-{ns}\nspec:\n  selector:\n    matchLabels: {{workload: w{k}}}\n  template:\n    metadata:\n      labels: {labels}\n    spec:\n      containers:\n      - name: c\n        image: img{ports}"
            );
        }
    }
    for k in 0..cfg.policies {
        random_policy(&mut out, rng, n, k);
    }
    out
}

/// A random selector as an inline YAML value: empty, matchLabels or matchExpressions.
fn random_selector(rng: &mut Rng, namespace: bool) -> String {
    let (key, vocab): (&str, &[&str]) = match (namespace, rng.below(2)) {
        (true, 0) => ("team", &TEAMS),
        (true, _) => ("env", &ENVS),
        (false, 0) => ("app", &APPS),
        (false, _) => ("tier", &TIERS),
    };
    match rng.below(6) {
        0 => "{}".to_owned(),
        1 | 2 => format!("{{matchLabels: {{{key}: {}}}}}", rng.pick(vocab)),
        3 => {
            let op = rng.pick(&["In", "NotIn"]);
            let a = rng.pick(vocab);
            let b = rng.pick(vocab);
            let values = if a == b {
                a.to_string()
            } else {
                format!("{a}, {b}")
            };
            format!("{{matchExpressions: [{{key: {key}, operator: {op}, values: [{values}]}}]}}")
        }
        4 => {
            let op = rng.pick(&["Exists", "DoesNotExist"]);
            format!("{{matchExpressions: [{{key: {key}, operator: {op}}}]}}")
        }
        _ if namespace => {
            let ns = rng.below(3);
            format!("{{matchLabels: {{kubernetes.io/metadata.name: ns-{ns}}}}}")
        }
        _ => format!(
            "{{matchLabels: {{app: {}}}, matchExpressions: [{{key: tier, operator: Exists}}]}}",
            rng.pick(&APPS)
        ),
    }
}

fn random_peer(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!("podSelector: {}", random_selector(rng, false)),
        1 => format!("namespaceSelector: {}", random_selector(rng, true)),
        2 => format!(
            "namespaceSelector: {}\n      podSelector: {}",
            random_selector(rng, true),
            random_selector(rng, false)
        ),
        _ => {
            let (cidr, except) = rng.pick(&BLOCKS);
            if except.is_empty() || rng.chance(30) {
                format!("ipBlock: {{cidr: {cidr}}}")
            } else {
                format!("ipBlock: {{cidr: {cidr}, except: [{}]}}", except.join(", "))
            }
        }
    }
}

fn random_port(rng: &mut Rng) -> &'static str {
    const PORTS: [&str; 11] = [
        "{port: 80}",
        "{protocol: TCP, port: 8080}",
        "{protocol: UDP, port: 53}",
        "{port: http}",
        "{protocol: UDP, port: dns}",
        "{port: dns-tcp}",
        "{port: metrics}",
        "{port: 80, endPort: 90}",
        "{protocol: UDP}",
        "{protocol: SCTP}",
        "{protocol: TCP, port: 1, endPort: 1000}",
    ];
    rng.pick(&PORTS)
}

/// Rules of one direction: sometimes omitted, sometimes `[]`, sometimes `[{}]`.
fn random_rules(rng: &mut Rng, out: &mut String, direction: &str, peer_key: &str) {
    match rng.below(8) {
        0 => {}
        1 => {
            let _ = writeln!(out, "  {direction}: []");
        }
        2 => {
            let _ = writeln!(out, "  {direction}: [{{}}]");
        }
        _ => {
            let _ = writeln!(out, "  {direction}:");
            for _ in 0..=rng.below(2) {
                let mut first = true;
                let mut item = |out: &mut String, line: &str| {
                    let _ = writeln!(out, "  {} {line}", if first { "-" } else { " " });
                    first = false;
                };
                if rng.chance(75) {
                    item(out, &format!("{peer_key}:"));
                    for _ in 0..=rng.below(2) {
                        let _ = writeln!(out, "    - {}", random_peer(rng));
                    }
                }
                if rng.chance(70) {
                    item(out, "ports:");
                    for _ in 0..=rng.below(2) {
                        let _ = writeln!(out, "    - {}", random_port(rng));
                    }
                }
                if first {
                    let _ = writeln!(out, "  - {{}}");
                }
            }
        }
    }
}

fn random_policy(out: &mut String, rng: &mut Rng, namespaces: usize, k: usize) {
    let ns = rng.below(namespaces);
    let _ = writeln!(
        out,
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np{k}\n  namespace: ns-{ns}\nspec:\n  podSelector: {}",
        random_selector(rng, false)
    );
    match rng.below(5) {
        0 => {}
        1 => out.push_str("  policyTypes: [Ingress]\n"),
        2 => out.push_str("  policyTypes: [Egress]\n"),
        _ => out.push_str("  policyTypes: [Ingress, Egress]\n"),
    }
    random_rules(rng, out, "ingress", "from");
    random_rules(rng, out, "egress", "to");
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpol_diag::{Severity, SourceMap};
    use netpol_manifest::model::EndpointKind;
    use netpol_manifest::{LoadOptions, Loaded, Source};

    fn load(text: &str) -> (Loaded, SourceMap) {
        let mut map = SourceMap::default();
        let loaded = netpol_manifest::load(
            &[Source::Bytes {
                name: "synth.yaml".to_owned(),
                bytes: text.as_bytes().to_vec(),
            }],
            &LoadOptions::default(),
            &mut map,
        );
        (loaded, map)
    }

    fn errors(loaded: &Loaded) -> Vec<String> {
        loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity <= Severity::Warning)
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        for cfg in [SynthConfig::size(Size::S), SynthConfig::tiny(7)] {
            let a = generate(&cfg);
            assert_eq!(a, generate(&cfg));
            assert_ne!(a, generate(&cfg.with_seed(cfg.seed + 1)));
        }
    }

    #[test]
    fn sizes_parse() {
        for s in Size::ALL {
            assert_eq!(Size::parse(s.as_str()), Some(s));
        }
        assert_eq!(Size::parse("xl"), Some(Size::XL));
        assert_eq!(Size::parse("XXL"), None);
    }

    #[test]
    fn realistic_s_and_m_load_cleanly_with_exact_counts() {
        for size in [Size::S, Size::M] {
            let cfg = SynthConfig::size(size);
            let (loaded, _) = load(&generate(&cfg));
            assert_eq!(errors(&loaded), Vec::<String>::new(), "{size:?}");
            let m = &loaded.model;
            assert_eq!(m.endpoints.len(), cfg.workloads, "{size:?}");
            assert_eq!(m.policies.len(), cfg.policies, "{size:?}");
            assert_eq!(m.namespaces.len(), cfg.namespaces + 3, "{size:?}");
            let count = |k: EndpointKind| m.endpoints.iter().filter(|e| e.kind == k).count();
            assert!(count(EndpointKind::StatefulSet) > 0);
            assert!(count(EndpointKind::DaemonSet) > 0);
            assert!(count(EndpointKind::Pod) > 0);
            assert!(m.endpoints.iter().any(|e| e.pod_ip.is_some()));
            assert!(m.endpoints.iter().any(|e| e.host_network));
            assert!(m.services.len() > cfg.workloads / 2);
            // Every policy kind the brief lists is present.
            let names: Vec<&str> = m.policies.iter().map(|p| p.name.as_str()).collect();
            for prefix in [
                "default-deny",
                "allow-dns",
                "allow-from-ingress-nginx",
                "allow-prometheus-scrape",
                "allow-cross-team-",
                "allow-rds-egress-",
                "allow-monitoring-range-",
                "allow-worker-and-toolbox-",
            ] {
                assert!(
                    names.iter().any(|n| n.starts_with(prefix)),
                    "{size:?} {prefix}"
                );
            }
        }
    }

    #[test]
    fn odd_configs_keep_exact_counts() {
        for (namespaces, workloads, policies) in
            [(0, 2, 3), (0, 9, 0), (1, 1, 1), (7, 23, 61), (5, 4, 0)]
        {
            let cfg = SynthConfig {
                seed: 3,
                namespaces,
                workloads,
                policies,
                style: Style::Realistic,
            };
            let (loaded, _) = load(&generate(&cfg));
            assert_eq!(errors(&loaded), Vec::<String>::new(), "{cfg:?}");
            assert_eq!(loaded.model.endpoints.len(), workloads, "{cfg:?}");
            assert_eq!(loaded.model.policies.len(), policies, "{cfg:?}");
        }
    }

    #[test]
    fn tiny_clusters_load_cleanly_and_vary() {
        let mut distinct = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let cfg = SynthConfig::tiny(seed);
            let text = generate(&cfg);
            let (loaded, _) = load(&text);
            assert_eq!(
                errors(&loaded),
                Vec::<String>::new(),
                "seed {seed}:\n{text}"
            );
            assert_eq!(loaded.model.endpoints.len(), cfg.workloads, "seed {seed}");
            assert_eq!(loaded.model.policies.len(), cfg.policies, "seed {seed}");
            distinct.insert(text);
        }
        assert_eq!(distinct.len(), 200);
    }
}
