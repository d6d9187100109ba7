//! The Z3 encoding of one assertion: two symbolic sides (or one for `isolated`), each an
//! existing endpoint, a future pod or an external address, with labels over the finite
//! vocabulary, named ports, an address of the cluster's family, and the policies of its candidate namespaces.
//! See `docs/verify.md` ("How it is decided") for the encoding and its soundness notes.
//!
//! This file holds the types a query is made of ([`Side`], [`Query`], [`Trace`], [`Via`],
//! [`ViaClass`], [`Encoder`]); the formulas are in the submodules: `labels` (label variables and
//! selectors), `side` (a side's domain and the slicing of its candidates), `assertion` (the
//! assertion's own peers, scope and ports), `isolation` (S2 isolation and one direction of
//! a connection), `rules` (policy rules: peers and ports), `ip` (addresses and ipBlocks),
//! `nodes` (node IPs: the V4 exemption, V6 hostNetwork peers) and `services` (V5
//! ClusterIP paths).

mod assertion;
mod bleed;
mod ip;
mod isolation;
mod labels;
mod node_ips;
mod nodes;
mod rules;
mod services;
mod side;
mod slots;

use std::cell::Cell;
use std::time::Instant;

use netpol_graph::ir::Provenance;
use netpol_manifest::model::{Direction, Protocol};
use z3::ast::{BV, Bool, Int};

use crate::config::{Peer, Scope};
use crate::universe::Universe;

pub(crate) use bleed::is_table_reason;
pub(crate) use ip::decode_ip;
pub(crate) use isolation::{v2_resolved_later, v9_applies};
pub(crate) use labels::LabelVars;

/// `kind` of a future pod.
pub(crate) const FUTURE: i64 = -1;
/// `kind` of an external address.
pub(crate) const EXTERNAL: i64 = -2;
/// The protocol index of ICMP and the other port-less protocols.
pub(crate) const OTHER_PROTO: i64 = 3;
/// The protocol index of ICMPv6 where it passes at every pod (V15,
/// `switches::icmpv6_passes`); elsewhere ICMPv6 is one of the other protocols. Both are
/// port-less: what matches "other" matches it too (`proto >= OTHER_PROTO`).
pub(crate) const ICMPV6_PROTO: i64 = 4;

pub(crate) fn proto_index(p: Protocol) -> i64 {
    match p {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Sctp => 2,
    }
}

/// One end of the connection.
#[derive(Debug)]
pub(crate) struct Side {
    pub(crate) kind: Int,
    pub(crate) ns: Int,
    pub(crate) nsl: LabelVars,
    pub(crate) labels: LabelVars,
    /// Per (name, protocol) of the vocabulary: declared, and its number.
    pub(crate) ports: Vec<((String, Protocol), Bool, BV)>,
    pub(crate) has_ip: Bool,
    pub(crate) ip: BV,
    pub(crate) host_network: Bool,
    /// S10/V4: index into `Universe::node_keys` of the configured node the pod runs on, or -1.
    pub(crate) node: Int,
    /// Namespace indices this side may be in (existing ones), and whether a new one.
    pub(crate) candidate_ns: Vec<usize>,
    pub(crate) new_ns: bool,
    /// Existing class representatives this side may be (sorted).
    pub(crate) options: Vec<usize>,
}

impl Side {
    pub(crate) fn is_pod(&self) -> Bool {
        self.kind.ge(Int::from_i64(FUTURE))
    }

    pub(crate) fn enforced(&self) -> Bool {
        Bool::and(&[self.is_pod(), self.host_network.not()])
    }

    fn named_port(&self, name: &str, proto: Protocol) -> Option<(&Bool, &BV)> {
        self.ports
            .iter()
            .find(|((n, p), _, _)| n == name && *p == proto)
            .map(|(_, h, b)| (h, b))
    }
}

/// A built query: the formula plus what decoding needs.
#[derive(Debug)]
pub(crate) struct Query {
    pub(crate) assertions: Vec<Bool>,
    pub(crate) src: Option<Side>,
    pub(crate) dst: Side,
    pub(crate) proto: Int,
    pub(crate) port: BV,
    pub(crate) traces: Vec<Trace>,
    /// V5: the ClusterIP paths of the egress trace.
    pub(crate) via: Vec<Via>,
    /// V5: the rule classes the paths refer to.
    pub(crate) via_classes: Vec<ViaClass>,
    /// V13 (`allow` only): conditions under which the connection needs a port slot the
    /// agent may drop, with the reason; a model that meets one is no counterexample.
    pub(crate) truncation: Vec<(Bool, String)>,
}

/// What decoding evaluates for one direction at one side.
#[derive(Debug)]
pub(crate) struct Trace {
    pub(crate) direction: Direction,
    /// `true`: at the destination (ingress), `false`: at the source (egress).
    pub(crate) at_dst: bool,
    pub(crate) allowed: Bool,
    /// `allowed` without the ClusterIP paths (V5).
    pub(crate) allowed_direct: Bool,
    pub(crate) enforced: Bool,
    pub(crate) isolated: Bool,
    pub(crate) selecting: Vec<(usize, Bool)>,
    pub(crate) rules: Vec<(Provenance, Bool)>,
    /// V4: the other end carries the IP of this pod's own node.
    pub(crate) exempt: Bool,
    /// V11: the agent's longest-prefix key decided this direction (the graph's verdict).
    pub(crate) lpm: Bool,
    /// The side's `kind` (an existing endpoint's index), for V9 in counterexamples.
    pub(crate) at_kind: Int,
}

/// V5: one way through a Service's ClusterIP to the destination.
#[derive(Debug)]
pub(crate) struct Via {
    /// Index into `Universe::services`.
    pub(crate) service: usize,
    /// The Service `port` the source connects to.
    pub(crate) port: u16,
    /// Index into `Query::via_classes`: the egress rules at the source that admit it.
    pub(crate) class: usize,
    pub(crate) term: Bool,
}

/// V5: a set of egress rules that admit the same Service ports.
#[derive(Debug)]
pub(crate) struct ViaClass {
    /// Each rule with "a policy of the rule selects the source".
    pub(crate) rules: Vec<(Provenance, Bool)>,
    /// The OR of those.
    pub(crate) admits: Bool,
}

/// How V7 ingress named ports resolve in this query (see docs/verify.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NamedMode {
    /// Over the existing pods the policy selects (scope existing).
    Existing,
    /// Widened to every port of the protocol: a further future pod selected by the same
    /// policy may declare the name with any number (scope any, deny/only).
    Widened,
    /// Existing pods plus the destination itself (scope any, allow).
    WithDestination,
}

pub(crate) struct Encoder<'u> {
    pub(crate) u: &'u Universe,
    pub(crate) scope: Scope,
    pub(crate) named: NamedMode,
    /// An `allow` query (subsumption keeps IP-less workloads).
    pub(crate) allow: bool,
    /// When building must stop (`--timeout`); the query is then `unknown`.
    pub(crate) deadline: Option<Instant>,
    /// Set once the deadline has been seen to pass.
    pub(crate) expired: Cell<bool>,
}

impl Encoder<'_> {
    /// V15: the connection is ICMPv6 and passes at every pod, when the cluster lets it.
    pub(crate) fn icmpv6(&self, proto: &Int) -> Option<Bool> {
        netpol_graph::switches::icmpv6_passes(&self.u.profile)
            .then(|| proto.eq(Int::from_i64(ICMPV6_PROTO)))
    }

    /// Whether the deadline has passed; loops that build many terms stop early then, and
    /// the caller turns the half-built query into `unknown` (never into a verdict).
    pub(crate) fn expired(&self) -> bool {
        if !self.expired.get() && self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.expired.set(true);
        }
        self.expired.get()
    }
}

/// Which peers constrain a side, for slicing.
pub(crate) enum SideFilter<'a> {
    /// The side satisfies this peer.
    Peer(&'a Peer),
    /// The side satisfies none of these peers (`only` sources).
    NoneOf(&'a [Peer]),
}
