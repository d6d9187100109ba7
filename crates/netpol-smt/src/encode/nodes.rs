//! Node IPs: what carries a node's address (S10/V4 exemption) and the nodes on which a
//! selector peer matches hostNetwork pods (V6), with their named ports.

use std::collections::BTreeMap;

use netpol_graph::ir::{LoweredRule, PeerMatch, PortSpec, resolve_ports};
use z3::ast::{BV, Bool, Int};

use super::ip::ip_is;
use super::rules::portset_formula;
use super::{EXTERNAL, Encoder, Side};

impl Encoder<'_> {
    /// `y` carries the IP of node `k`: a hostNetwork pod on it, or the node itself.
    pub(super) fn carries_node(&self, y: &Side, k: usize) -> Bool {
        let u = self.u;
        let mut v: Vec<Bool> = y
            .options
            .iter()
            .filter(|&&j| u.eps[j].carries.contains(&k))
            .map(|&j| y.kind.eq(Int::from_i64(j as i64)))
            .collect();
        if let Some(ip) = u.node_keys[k].1 {
            v.push(Bool::and(&[
                y.kind.eq(Int::from_i64(EXTERNAL)),
                ip_is(&y.ip, ip),
            ]));
        }
        Bool::or(&v)
    }

    /// V4: `y` carries the primary IP of the configured node `x` runs on.
    pub(super) fn node_exemption(&self, x: &Side, y: &Side) -> Bool {
        let v: Vec<Bool> = (0..self.u.node_keys.len())
            .filter(|&k| self.u.node_keys[k].1.is_some())
            .map(|k| Bool::and(&[x.node.eq(Int::from_i64(k as i64)), self.carries_node(y, k)]))
            .collect();
        Bool::or(&v)
    }

    /// V6: the nodes on which a selector peer matches a hostNetwork pod, with the pods.
    pub(super) fn peer_nodes(&self, peer: &PeerMatch) -> BTreeMap<usize, Vec<usize>> {
        let u = self.u;
        let mut out: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        if !netpol_graph::switches::host_network_peers(&u.profile) {
            return out;
        }
        for &j in &u.node_carriers {
            let e = &u.eps[j];
            if u.direct_match(peer, e) {
                for &k in &e.carries {
                    out.entry(k).or_default().push(j);
                }
            }
        }
        out
    }
}

impl Encoder<'_> {
    /// V6 with S7: toward a node IP on which the peer matches hostNetwork pods, named ports
    /// resolve on those pods; elsewhere on the destination.
    pub(super) fn node_or_dst_ports(
        &self,
        r: &LoweredRule,
        peer: &PeerMatch,
        dst: &Side,
        on_dst: &dyn Fn() -> Bool,
        proto: &Int,
        port: &BV,
    ) -> Bool {
        let named = r
            .ports
            .iter()
            .flatten()
            .any(|m| matches!(m.port, PortSpec::Named(_)));
        let nodes = if named {
            self.peer_nodes(peer)
        } else {
            BTreeMap::new()
        };
        if nodes.is_empty() {
            return on_dst();
        }
        let mut v = Vec::new();
        let mut at_node = Vec::new();
        for (&k, pods) in &nodes {
            let mut set = netpol_graph::PortSet::empty();
            for &j in pods {
                set.union_with(&resolve_ports(r.ports.as_deref(), &self.u.eps[j].ports));
            }
            let c = self.carries_node(dst, k);
            v.push(Bool::and(&[c.clone(), portset_formula(&set, proto, port)]));
            at_node.push(c);
        }
        v.push(Bool::and(&[Bool::or(&at_node).not(), on_dst()]));
        Bool::or(&v)
    }
}
