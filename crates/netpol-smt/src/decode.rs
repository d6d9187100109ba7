//! Decoding a Z3 model into a [`Counterexample`]: concrete endpoints, direction traces,
//! protocol, port and the ClusterIP path, if any.

use netpol_manifest::model::{ContainerPort, Direction, Labels, NAMESPACE_NAME_LABEL, Protocol};
use z3::Model as Z3Model;
use z3::ast::{BV, Bool, Int};

use crate::config::{Body, Intent};
use crate::counterexample::{ConcreteEndpoint, Counterexample, DirectionTrace, EndpointRef};
use crate::encode::{
    self, EXTERNAL, Encoder, FUTURE, ICMPV6_PROTO, NamedMode, OTHER_PROTO, Query, Side, Trace,
};
use crate::universe::{self, Universe};

fn eval_bool(m: &Z3Model, b: &Bool) -> bool {
    m.eval(b, true).and_then(|v| v.as_bool()).unwrap_or(false)
}

fn eval_int(m: &Z3Model, i: &Int) -> i64 {
    m.eval(i, true).and_then(|v| v.as_i64()).unwrap_or(0)
}

fn eval_bv(m: &Z3Model, b: &BV) -> u64 {
    m.eval(b, true).and_then(|v| v.as_u64()).unwrap_or(0)
}

fn decode_side(u: &Universe, m: &Z3Model, s: &Side) -> ConcreteEndpoint {
    let kind = eval_int(m, &s.kind);
    let ip = eval_bool(m, &s.has_ip).then(|| encode::decode_ip(m, &s.ip));
    // The node a pod runs on: free for future pods and workloads (S10/V4).
    let node = usize::try_from(eval_int(m, &s.node))
        .ok()
        .and_then(|k| u.node_keys.get(k))
        .map(|k| k.0.clone());
    if kind == EXTERNAL {
        return ConcreteEndpoint {
            endpoint: EndpointRef::External,
            namespace: None,
            new_namespace: false,
            namespace_labels: Labels::new(),
            labels: Labels::new(),
            ip,
            ports: Vec::new(),
            node: None,
        };
    }
    let labels_of = |vars: &encode::LabelVars, vocab: &universe::Vocab| -> Labels {
        vars.vars
            .iter()
            .filter(|(_, has, _)| eval_bool(m, has))
            .map(|(k, _, val)| (k.clone(), vocab.value(k, eval_int(m, val))))
            .collect()
    };
    if let Some(e) = usize::try_from(kind).ok().and_then(|j| u.eps.get(j)) {
        let (ns, nsl) = &u.namespaces[e.ns];
        return ConcreteEndpoint {
            endpoint: EndpointRef::Existing(e.id.clone()),
            namespace: Some(ns.clone()),
            new_namespace: false,
            namespace_labels: nsl.clone(),
            labels: e.labels.clone(),
            ip,
            ports: e.ports.clone(),
            node,
        };
    }
    debug_assert_eq!(kind, FUTURE);
    let ns_i = eval_int(m, &s.ns);
    let (namespace, new_namespace, namespace_labels) =
        match usize::try_from(ns_i).ok().and_then(|i| u.namespaces.get(i)) {
            Some((n, l)) => (n.clone(), false, l.clone()),
            None => {
                let l = labels_of(&s.nsl, &u.ns_vocab);
                let name = l
                    .get(netpol_manifest::model::NAMESPACE_NAME_LABEL)
                    .cloned()
                    .unwrap_or_else(|| "new-namespace".to_owned());
                (name, true, l)
            }
        };
    let ports = s
        .ports
        .iter()
        .filter(|(_, has, _)| eval_bool(m, has))
        .map(|((name, proto), _, num)| ContainerPort {
            name: Some(name.clone()),
            port: eval_bv(m, num) as u16,
            protocol: *proto,
        })
        .collect();
    ConcreteEndpoint {
        endpoint: EndpointRef::Future,
        namespace: Some(namespace),
        new_namespace,
        namespace_labels,
        labels: labels_of(&s.labels, &u.pod_vocab),
        ip,
        ports,
        node,
    }
}

/// V9: the selecting policies that apply at the trace's end only through a sibling.
fn shared_identifier(u: &Universe, m: &Z3Model, t: &Trace) -> Vec<(String, String, String)> {
    let j = m.eval(&t.at_kind, true).and_then(|v| v.as_i64());
    let Some(r) = j
        .and_then(|j| usize::try_from(j).ok())
        .and_then(|j| u.ident.get(j))
        .and_then(Option::as_ref)
    else {
        return Vec::new();
    };
    (t.selecting.iter())
        .filter(|(pi, b)| !r.own.contains(pi) && eval_bool(m, b))
        .map(|(pi, _)| {
            let p = &u.policies[*pi];
            let sibling = (r.siblings.iter())
                .find(|(_, sel)| sel.contains(pi))
                .map_or(String::new(), |(id, _)| id.clone());
            (
                format!("{}/{}", p.namespace, p.name),
                sibling,
                r.identifier.clone(),
            )
        })
        .collect()
}

fn decode_trace(u: &Universe, m: &Z3Model, t: &Trace) -> DirectionTrace {
    DirectionTrace {
        shared_identifier: shared_identifier(u, m, t),
        direction: t.direction,
        at_destination: t.at_dst,
        allowed: eval_bool(m, &t.allowed),
        enforced: eval_bool(m, &t.enforced),
        isolated: eval_bool(m, &t.isolated),
        selecting: t
            .selecting
            .iter()
            .filter(|(_, b)| eval_bool(m, b))
            .map(|(pi, _)| {
                let p = &u.policies[*pi];
                (format!("{}/{}", p.namespace, p.name), p.span)
            })
            .collect(),
        rules: t
            .rules
            .iter()
            .filter(|(_, b)| eval_bool(m, b))
            .map(|(p, _)| *p)
            .collect(),
        node_exempt: eval_bool(m, &t.exempt),
        longest_prefix: eval_bool(m, &t.lpm),
        isolated_by_new_pod: t
            .selecting
            .iter()
            .filter(|(pi, b)| {
                let di = usize::from(t.direction == Direction::Egress);
                let p = &u.policies[*pi];
                eval_bool(m, b)
                    && !p.policy_types.contains(t.direction)
                    && !u.resolves[*pi][di]
                    && u.may_resolve[*pi][di]
                    && eval_bool(m, &encode::v2_resolved_later(*pi, t.direction))
            })
            .map(|(pi, _)| {
                let p = &u.policies[*pi];
                format!("{}/{}", p.namespace, p.name)
            })
            .collect(),
    }
}

pub(crate) fn decode(u: &Universe, q: &mut Query, m: &Z3Model, a: &Intent) -> Counterexample {
    let destination = decode_side(u, m, &q.dst);
    if let Body::Isolated { directions, .. } = &a.body {
        let enc = Encoder {
            u,
            scope: a.scope,
            named: NamedMode::Existing,
            allow: false,
            deadline: None,
            expired: std::cell::Cell::new(false),
        };
        let open = directions
            .iter()
            .copied()
            .filter(|d| !eval_bool(m, &enc.isolated(&q.dst, *d)))
            .collect();
        return Counterexample {
            source: None,
            destination,
            protocol: None,
            icmpv6: false,
            port: None,
            open_directions: open,
            directions: Vec::new(),
            via: None,
        };
    }
    let mut source = q.src.as_ref().map(|s| decode_side(u, m, s));
    // Both ends in one class of identical pods: show two different members.
    if let (Some(src), EndpointRef::Existing(d)) = (&mut source, &destination.endpoint)
        && src.endpoint == destination.endpoint
        && let Some(j) = u.eps.iter().position(|e| &e.id == d)
        && let Some(other) = u.members.get(&j).and_then(|m| m.get(1))
    {
        src.endpoint = EndpointRef::Existing(u.eps[*other].id.clone());
    }
    // Two new namespaces of unmentioned names ("any other value") with different labels are
    // two namespaces: give them two names.
    if let Some(src) = &mut source
        && src.new_namespace
        && destination.new_namespace
        && src.namespace == destination.namespace
        && src.namespace_labels != destination.namespace_labels
    {
        let mentioned = u.ns_vocab.keys.get(NAMESPACE_NAME_LABEL);
        let mut name = format!("{}-2", destination.namespace.as_deref().unwrap_or_default());
        while mentioned.is_some_and(|v| v.contains(&name)) {
            name.push_str("-2");
        }
        src.namespace_labels
            .insert(NAMESPACE_NAME_LABEL.to_owned(), name.clone());
        src.namespace = Some(name);
    }
    let proto = eval_int(m, &q.proto);
    let protocol = match proto {
        0 => Some(Protocol::Tcp),
        1 => Some(Protocol::Udp),
        2 => Some(Protocol::Sctp),
        _ => None,
    };
    let port = (proto < OTHER_PROTO).then(|| eval_bv(m, &q.port) as u16);
    let mut directions: Vec<DirectionTrace> =
        q.traces.iter().map(|t| decode_trace(u, m, t)).collect();
    // V5: the egress rules that admit a ClusterIP path the model takes.
    if let Some(egress) = directions.iter_mut().find(|d| !d.at_destination) {
        for v in q.via.iter().filter(|v| eval_bool(m, &v.term)) {
            let class = &q.via_classes[v.class];
            egress.rules.extend(
                class
                    .rules
                    .iter()
                    .filter(|(_, b)| eval_bool(m, b))
                    .map(|(p, _)| *p),
            );
        }
    }
    // A pod's node is shown only where the node exemption (S10/V4) decides.
    let mut destination = destination;
    let exempt_at = |at_dst: bool| {
        directions
            .iter()
            .any(|d| d.at_destination == at_dst && d.node_exempt)
    };
    if !exempt_at(true) {
        destination.node = None;
    }
    if let Some(src) = &mut source
        && !exempt_at(false)
    {
        src.node = None;
    }
    // V5: shown when the direct path is closed and a ClusterIP path carries it.
    let direct_egress = q
        .traces
        .first()
        .is_some_and(|t| eval_bool(m, &t.allowed_direct));
    let via = if direct_egress {
        None
    } else {
        q.via
            .iter()
            .find(|v| eval_bool(m, &v.term))
            .map(|v| (u.services[v.service].id.clone(), v.port))
    };
    Counterexample {
        source,
        destination,
        protocol,
        icmpv6: proto == ICMPV6_PROTO,
        port,
        open_directions: Vec::new(),
        directions,
        via,
    }
}
