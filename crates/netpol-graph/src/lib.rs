//! Semantics and the reachability graph.
//!
//! [`Analysis::new`] lowers a [`netpol_manifest::Model`] into the policy [`ir`] under a
//! semantics [`Profile`] (VPC CNI or upstream), and [`Analysis::matrix`] computes, for every
//! ordered pair of endpoints, the set of allowed (protocol, port range) pairs. This crate
//! does no IO and knows nothing of Z3 or the terminal; its output is deterministic.
//! `docs/semantics.md` is the contract both engines implement.

mod analysis;
mod classes;
mod engine;
mod eval;
mod explain;
mod facts;
pub mod format;
mod ip;
pub mod ir;
mod matrix;
pub mod ports;
pub mod profile;
mod rules;
pub mod synth;
mod world;

#[cfg(test)]
mod tests;

pub use analysis::Analysis;
pub use classes::{Class, ClassEdge, Classes};
pub use engine::{Removal, WhatIf};
pub use explain::{DirectionExplanation, Explanation, RuleRef};
pub use facts::{NodeFacts, ServiceAccess, ServiceAccessGroup, SlotFacts};
pub use matrix::{Connection, EndpointId, Filter, Matrix, Semantics, Uncertain, id_matches};
pub use ports::PortSet;
pub use profile::{Flags, Profile};
pub use rules::cidr_facts::{BleedAt, ExceptBleed, ExceptTable};
pub use rules::peers::peer_selects;
pub use rules::services::{Target, dnat_target, offered};
pub use rules::slots::{SlotKey, TruncatedKey};
pub use rules::switches;
pub use rules::vpc::rule_may_resolve;
pub use world::{EndpointInfo, EndpointType, IdentifierRange};
