//! An assertion after validation, its strings parsed (ports, directions, selectors,
//! CIDRs): what the encoder reads.

use ipnet::IpNet;
use netpol_manifest::model::{Direction, Operator, Requirement, Selector};

use super::validate::{PortItem, parse_direction, port_items};
use super::{Assertion, Kind, LabelSelector, PeerSpec, Scope};

/// One assertion, typed: its body with peers, ports and directions parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    pub scope: Scope,
    pub body: Body,
}

/// A [`PeerSpec`] with its selectors and ipBlock parsed. Fields are ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peer {
    pub namespace: Option<String>,
    pub namespace_selector: Option<Selector>,
    pub pod_selector: Option<Selector>,
    /// `ns/name[Kind]` or `ns/name`, resolved against the model by the encoder.
    pub workload: Option<String>,
    pub pod: Option<String>,
    pub ip_block: Option<Block>,
}

/// An ipBlock: `cidr` minus every `except`, as written (host bits kept). Either family;
/// the `except` entries are of the `cidr`'s (validation checks it). The encoder decides
/// what a block of the family the cluster does not use means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
}

/// What an [`Intent`] claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `deny` (`allow: false`) or `allow`.
    Pair {
        allow: bool,
        from: Peer,
        to: Peer,
        ports: Vec<PortItem>,
    },
    Only {
        to: Peer,
        from: Vec<Peer>,
        ports: Vec<PortItem>,
    },
    Isolated {
        pods: Peer,
        directions: Vec<Direction>,
    },
}

impl Intent {
    /// The typed form of a checked assertion; `None` unless exactly one body is set and
    /// its CIDRs parse, the `except` entries in the `cidr`'s family.
    /// `parse_config` builds these after validation, so their strings are known valid;
    /// call it only for assertions made in code.
    pub fn of(a: &Assertion) -> Option<Intent> {
        let body = match (a.kind()?, &a.deny, &a.allow, &a.only, &a.isolated) {
            (Kind::Deny, Some(p), ..) | (Kind::Allow, _, Some(p), ..) => Body::Pair {
                allow: a.allow.is_some(),
                from: Peer::of(&p.from)?,
                to: Peer::of(&p.to)?,
                ports: port_items(p.ports.as_deref()),
            },
            (Kind::Only, _, _, Some(o), _) => Body::Only {
                to: Peer::of(&o.to)?,
                from: o.from.iter().map(Peer::of).collect::<Option<_>>()?,
                ports: port_items(o.ports.as_deref()),
            },
            (Kind::Isolated, .., Some(iso)) => Body::Isolated {
                pods: Peer::of(&iso.pods)?,
                directions: match &iso.directions {
                    None => Direction::BOTH.to_vec(),
                    Some(l) => l.iter().filter_map(|d| parse_direction(d)).collect(),
                },
            },
            _ => return None,
        };
        Some(Intent {
            scope: a.scope,
            body,
        })
    }

    pub fn kind(&self) -> Kind {
        match &self.body {
            Body::Pair { allow: false, .. } => Kind::Deny,
            Body::Pair { allow: true, .. } => Kind::Allow,
            Body::Only { .. } => Kind::Only,
            Body::Isolated { .. } => Kind::Isolated,
        }
    }
}

impl Peer {
    /// `None` when a CIDR does not parse or an `except` is of the other family
    /// (validation reports both).
    fn of(p: &PeerSpec) -> Option<Peer> {
        let ip_block = match &p.ip_block {
            None => None,
            Some(b) => {
                let cidr = b.cidr.parse::<IpNet>().ok()?;
                let same = |e: &String| {
                    (e.parse::<IpNet>().ok())
                        .filter(|n| n.addr().is_ipv4() == cidr.addr().is_ipv4())
                };
                Some(Block {
                    cidr,
                    except: b.except.iter().map(same).collect::<Option<_>>()?,
                })
            }
        };
        Some(Peer {
            namespace: p.namespace.clone(),
            namespace_selector: p.namespace_selector.as_ref().map(selector),
            pod_selector: p.pod_selector.as_ref().map(selector),
            workload: p.workload.clone(),
            pod: p.pod.clone(),
            ip_block,
        })
    }
}

/// A config LabelSelector as a model Selector (operators already checked by validation).
fn selector(s: &LabelSelector) -> Selector {
    let mut reqs: Vec<Requirement> = s
        .match_labels
        .iter()
        .map(|(k, v)| Requirement {
            key: k.clone(),
            operator: Operator::In,
            values: vec![v.clone()],
        })
        .collect();
    for r in &s.match_expressions {
        let operator = match r.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            _ => Operator::DoesNotExist,
        };
        let mut values = r.values.clone();
        values.sort();
        values.dedup();
        reqs.push(Requirement {
            key: r.key.clone(),
            operator,
            values,
        });
    }
    reqs.sort();
    reqs.dedup();
    Selector {
        requirements: reqs,
        span: None,
    }
}
