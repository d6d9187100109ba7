//! An assertion after validation, its strings parsed: what the encoder reads.

use netpol_manifest::model::Direction;

use super::validate::{PortItem, parse_direction, port_items};
use super::{Assertion, Kind, PeerSpec, Scope};

/// One assertion, typed: its body with ports and directions parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    pub scope: Scope,
    pub body: Body,
}

/// What an [`Intent`] claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `deny` (`allow: false`) or `allow`.
    Pair {
        allow: bool,
        from: PeerSpec,
        to: PeerSpec,
        ports: Vec<PortItem>,
    },
    Only {
        to: PeerSpec,
        from: Vec<PeerSpec>,
        ports: Vec<PortItem>,
    },
    Isolated {
        pods: PeerSpec,
        directions: Vec<Direction>,
    },
}

impl Intent {
    /// The typed form of a checked assertion; `None` unless exactly one body is set.
    /// `parse_config` builds these after validation, so their strings are known valid;
    /// call it only for assertions made in code.
    pub fn of(a: &Assertion) -> Option<Intent> {
        let body = match (a.kind()?, &a.deny, &a.allow, &a.only, &a.isolated) {
            (Kind::Deny, Some(p), ..) | (Kind::Allow, _, Some(p), ..) => Body::Pair {
                allow: a.allow.is_some(),
                from: p.from.clone(),
                to: p.to.clone(),
                ports: port_items(p.ports.as_deref()),
            },
            (Kind::Only, _, _, Some(o), _) => Body::Only {
                to: o.to.clone(),
                from: o.from.clone(),
                ports: port_items(o.ports.as_deref()),
            },
            (Kind::Isolated, .., Some(iso)) => Body::Isolated {
                pods: iso.pods.clone(),
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
