//! The policy IR: policies lowered from the model, each rule with its provenance.
//!
//! The IR is what both engines read (the graph here, the Z3 encoding in `netpol-smt`).
//! Selectors stay as [`Selector`]s, ports as [`PortMatch`]es (named ports symbolic until
//! they are resolved against a destination), and ipBlocks as `cidr` plus `except`.
//! A policy carries a [`Tier`] and a priority and a rule an [`Action`], so that the
//! cluster-scoped tiers (ANP/BANP/CNP, Accept/Deny/Pass) can be added without rework;
//! today only NetworkPolicy with Allow exists.

use ipnet::IpNet;
use netpol_diag::Span;
use netpol_manifest::Model;
use netpol_manifest::model::{
    ContainerPort, Direction, Peer, PolicyPort, PolicyTypes, PortRef, Protocol, Rule, Selector,
};

use crate::ports::PortSet;

/// Where a rule comes from: enough for explain, lints and counterexamples to point at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Provenance {
    /// Index into [`Model::policies`] (and into [`lower`]'s result).
    pub policy: usize,
    pub direction: Direction,
    /// Index in the policy's `ingress` or `egress` list.
    pub rule: usize,
    /// The rule in the manifest.
    pub span: Span,
}

/// Which tier a policy belongs to. Tiers are evaluated in order; only NetworkPolicy exists
/// today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// `networking.k8s.io/v1` NetworkPolicy: additive allow rules, isolation by selection.
    NetworkPolicy,
}

/// What a matching rule does. NetworkPolicy rules only allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Allow,
}

/// A lowered policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoweredPolicy {
    /// Index into [`Model::policies`].
    pub index: usize,
    pub namespace: String,
    pub name: String,
    pub span: Span,
    pub tier: Tier,
    /// Lower is evaluated first; always 0 for NetworkPolicy.
    pub priority: i32,
    /// The subject: pods of [`LoweredPolicy::namespace`] that this selector matches
    /// (hostNetwork pods are never subjects, S9/V6).
    pub subject: Selector,
    /// `policyTypes` as the API server stores it (S3). Under `vpc-cni` a direction can
    /// also be isolated by its rules alone (V2); see [`crate::Profile::flags`].
    pub policy_types: PolicyTypes,
    pub ingress: Vec<LoweredRule>,
    pub egress: Vec<LoweredRule>,
}

impl LoweredPolicy {
    pub fn rules(&self, direction: Direction) -> &[LoweredRule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// One rule: it matches when one of its peers matches the other end and one of its ports
/// matches the (protocol, port) (S4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoweredRule {
    pub provenance: Provenance,
    pub action: Action,
    /// `None`: `from`/`to` omitted or empty, every peer (pods and external addresses).
    pub peers: Option<Vec<PeerMatch>>,
    /// `None`: `ports` omitted or empty, every protocol and port, ICMP included.
    pub ports: Option<Vec<PortMatch>>,
}

/// Which namespaces a selector peer looks in (S5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamespaceScope {
    /// `namespaceSelector` absent: the policy's own namespace.
    Own(String),
    /// `namespaceSelector` present, matched against namespace labels (`{}` = all).
    Selector(Selector),
}

/// A peer of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerMatch {
    /// Pods chosen by selectors; `pods: None` is every pod of the chosen namespaces.
    Pods {
        namespaces: NamespaceScope,
        pods: Option<Selector>,
        span: Span,
    },
    /// Addresses inside `cidr` and outside every `except` (S6).
    IpBlock {
        cidr: IpNet,
        except: Vec<IpNet>,
        span: Span,
    },
}

impl NamespaceScope {
    /// The scope's meaning as a string, for caches keyed by scope.
    pub(crate) fn key(&self) -> String {
        match self {
            NamespaceScope::Own(n) => format!("O{n}"),
            NamespaceScope::Selector(s) => format!("S{:?}", s.requirements),
        }
    }
}

impl PeerMatch {
    pub fn span(&self) -> Span {
        match self {
            PeerMatch::Pods { span, .. } | PeerMatch::IpBlock { span, .. } => *span,
        }
    }

    /// The peer's meaning as a string, for caches (spans differ between identical peers).
    pub(crate) fn key(&self) -> String {
        match self {
            PeerMatch::Pods {
                namespaces, pods, ..
            } => format!(
                "P{}{:?}",
                namespaces.key(),
                pods.as_ref().map(|p| &p.requirements)
            ),
            PeerMatch::IpBlock { cidr, except, .. } => format!("B{cidr}{except:?}"),
        }
    }
}

/// One `ports` entry (S7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMatch {
    pub protocol: Protocol,
    pub port: PortSpec,
    /// The written `endPort` (V10 reads it: a ClusterIP slot runs to it).
    pub end_port: Option<u16>,
    pub span: Span,
}

/// The port part of a [`PortMatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    /// No `port`: every port of the protocol.
    All,
    /// `port` and optional `endPort`, inclusive.
    Range(u16, u16),
    /// A named port, resolved against the destination's container ports.
    Named(String),
}

impl PortMatch {
    /// The numeric part: `None` for a named port.
    pub fn numeric(&self) -> Option<PortSet> {
        match &self.port {
            PortSpec::All => Some(PortSet::protocol(self.protocol)),
            PortSpec::Range(lo, hi) => Some(PortSet::range(self.protocol, *lo, *hi)),
            PortSpec::Named(_) => None,
        }
    }

    /// The ports this entry matches on a pod with `ports` as container ports.
    pub fn resolve(&self, ports: &[ContainerPort]) -> PortSet {
        match &self.port {
            PortSpec::Named(name) => {
                let mut res = PortSet::empty();
                for cp in ports {
                    if cp.protocol == self.protocol && cp.name.as_deref() == Some(name) {
                        res.union_with(&PortSet::port(cp.protocol, cp.port));
                    }
                }
                res
            }
            _ => self.numeric().unwrap_or_default(),
        }
    }
}

/// The ports of a rule on a pod with the given container ports: everything for a
/// port-less rule, otherwise numeric ports plus the named ports that resolve.
pub fn resolve_ports(ports: Option<&[PortMatch]>, on: &[ContainerPort]) -> PortSet {
    match ports {
        None => PortSet::all(),
        Some(list) => {
            let mut res = PortSet::empty();
            for p in list {
                res.union_with(&p.resolve(on));
            }
            res
        }
    }
}

/// The numeric ports of a rule only (named ports dropped): everything for a port-less
/// rule.
pub fn numeric_ports(ports: Option<&[PortMatch]>) -> PortSet {
    match ports {
        None => PortSet::all(),
        Some(list) => {
            let mut res = PortSet::empty();
            for p in list {
                if let Some(n) = p.numeric() {
                    res.union_with(&n);
                }
            }
            res
        }
    }
}

/// Lowers every NetworkPolicy of the model, in model order.
pub fn lower(model: &Model) -> Vec<LoweredPolicy> {
    model
        .policies
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let rules = |direction: Direction, rules: &[Rule]| -> Vec<LoweredRule> {
                rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| lower_rule(&p.namespace, index, direction, i, r))
                    .collect()
            };
            LoweredPolicy {
                index,
                namespace: p.namespace.clone(),
                name: p.name.clone(),
                span: p.span,
                tier: Tier::NetworkPolicy,
                priority: 0,
                subject: p.pod_selector.clone(),
                policy_types: p.policy_types,
                ingress: rules(Direction::Ingress, &p.ingress),
                egress: rules(Direction::Egress, &p.egress),
            }
        })
        .collect()
}

fn lower_rule(ns: &str, policy: usize, direction: Direction, idx: usize, r: &Rule) -> LoweredRule {
    let peers = (!r.peers.is_empty()).then(|| {
        r.peers
            .iter()
            .map(|peer| match peer {
                Peer::Pods {
                    namespace_selector,
                    pod_selector,
                    span,
                } => PeerMatch::Pods {
                    namespaces: match namespace_selector {
                        None => NamespaceScope::Own(ns.to_owned()),
                        Some(s) => NamespaceScope::Selector(s.clone()),
                    },
                    pods: pod_selector.clone(),
                    span: *span,
                },
                Peer::IpBlock(b) => PeerMatch::IpBlock {
                    cidr: b.cidr,
                    except: b.except.clone(),
                    span: b.span,
                },
            })
            .collect()
    });
    let ports = (!r.ports.is_empty()).then(|| r.ports.iter().map(lower_port).collect());
    LoweredRule {
        provenance: Provenance {
            policy,
            direction,
            rule: idx,
            span: r.span,
        },
        action: Action::Allow,
        peers,
        ports,
    }
}

fn lower_port(p: &PolicyPort) -> PortMatch {
    let port = match &p.port {
        None => PortSpec::All,
        Some(PortRef::Number(n)) => PortSpec::Range(*n, p.end_port.unwrap_or(*n).max(*n)),
        Some(PortRef::Name(s)) => PortSpec::Named(s.clone()),
    };
    PortMatch {
        protocol: p.protocol,
        port,
        end_port: p.end_port,
        span: p.span,
    }
}
