//! A deterministic synthetic cluster generator for benchmarks and property tests.
//!
//! [`generate`] turns a [`SynthConfig`] into multi-document YAML: the same config always
//! gives the same bytes. [`Style::Realistic`] clusters look like a multi-team platform
//! (team namespaces per environment, tiered apps with named ports, Services, a default-deny
//! per namespace and allow rules of every kind, plus kube-system, ingress-nginx and
//! monitoring). [`Style::Random`] clusters ([`SynthConfig::tiny`]) draw selectors, peers and
//! ports from a small vocabulary so that policies overlap in many ways; they are meant for
//! property tests that compare two engines. [`Style::Pods`] ([`SynthConfig::pods`]) is the
//! dump `kubectl get pods -A -o yaml` gives of a big cluster: thousands of bare Pods with
//! IPs, owned by controllers that are not in the input, and a few policies with ipBlocks
//! that cut through the pod range.
//!
//! The PRNG is a hand-rolled splitmix64 so the library has no dependency for it and the
//! output cannot change with a crate upgrade.

mod pods;
mod random;
mod realistic;

#[cfg(test)]
mod tests;

use pods::pods;
use random::random;
use realistic::realistic;

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
    /// A `kubectl get pods -A -o yaml` dump of a big cluster: bare Pods only, with IPs,
    /// and a few policies with ipBlocks; see the module docs.
    Pods,
    /// Realistic, but the RDS rule of each team namespace is replaced by egress to the
    /// internet and to a public /24 of its own: thousands of distinct ipBlocks.
    Egress,
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

    /// A pod dump of `pods` bare Pods over 50-200 namespaces, with one policy per 100 pods.
    pub fn pods(pods: usize) -> SynthConfig {
        SynthConfig {
            seed: 1,
            namespaces: (pods / 100).clamp(50, 200),
            workloads: pods,
            policies: pods / 100,
            style: Style::Pods,
        }
    }

    /// A preset size in [`Style::Egress`].
    pub fn egress(size: Size) -> SynthConfig {
        SynthConfig {
            style: Style::Egress,
            ..SynthConfig::size(size)
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
        Style::Realistic | Style::Egress => realistic(cfg, &mut rng),
        Style::Random => random(cfg, &mut rng),
        Style::Pods => pods(cfg, &mut rng),
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
