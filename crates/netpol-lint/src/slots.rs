//! V13: an address key with more than the 24 port slots the VPC CNI agent keeps per pod and
//! direction. Which slots survive follows Go map order, so the ports the graph marks
//! uncertain may be open after one update and closed after the next.

use std::collections::HashMap;

use netpol_diag::{Code, Diagnostic};
use netpol_graph::SlotKey;
use netpol_manifest::model::Endpoint;

use crate::context::{Context, dir_word, policy_name};

pub(crate) fn lint(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let facts = cx.analysis.truncated_slots();
    if facts.is_empty() {
        return;
    }
    let by_id: HashMap<String, &Endpoint> =
        cx.model.endpoints.iter().map(|e| (e.id(), e)).collect();
    for f in facts {
        let Some(e) = by_id.get(&f.endpoint) else {
            continue;
        };
        for k in &f.keys {
            let key = match &k.key {
                SlotKey::Cidr(net) => format!("address range {net}"),
                SlotKey::Endpoint(id) => format!("the pods of {id}"),
                SlotKey::Service(id) => format!("the ClusterIP of Service {id}"),
            };
            let mut d = Diagnostic::new(
                Code::PortSlotsTruncated,
                format!(
                    "{} has {} port slots for {key} on {}, more than the 24 the VPC CNI agent keeps: {} may be dropped at any policy update (V13)",
                    f.endpoint,
                    k.slots,
                    dir_word(f.direction),
                    k.uncertain
                ),
            )
            .with_primary(e.span, format!("{} {} slots for one address key", k.slots, dir_word(f.direction)))
            .with_note("the agent keeps the distinct (protocol, port, endPort) entries of every rule of every policy selecting the pod for one address key in a Go map and writes the first 24 it iterates; the order changes at every update (NPA ComputeTrieValue, MAX_PORT_PROTOCOL)")
            .with_help("merge ports into ranges (port with endPort), or drop ports the pods do not listen on, so that at most 24 distinct entries reach each peer");
            for i in cx.selecting(e) {
                let p = &cx.model.policies[i];
                if !p.rules(f.direction).is_empty() {
                    d = d.with_secondary(
                        cx.subject_span(p),
                        format!(
                            "NetworkPolicy {} adds {} slots",
                            policy_name(p),
                            dir_word(f.direction)
                        ),
                    );
                }
            }
            out.push(d);
        }
    }
}
