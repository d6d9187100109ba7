//! `except-inherited`, V11 the other way: under VPC CNI a key inside an `except` can carry
//! the ports that the `except` withholds. A key's ports include those of every wider key
//! containing it unless one of that key's excepts holds the key's *first address* (NPA
//! `checkAndDeriveL4InfoFromAnyMatchingCIDRsTrie`, c8619c05): an ipBlock that starts
//! outside an except and reaches into it inherits the wider rule's ports for the excepted
//! addresses too, and the longest key alone decides there. The graph builds the table
//! (`Analysis::except_tables`, read by `bleed.rs`, which hands each pod direction's table
//! and entries here); this reports the ports the table allows inside an except that the
//! rules read one by one (S4, S6) do not, and that an excepting rule would give.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use netpol_diag::{Code, Diagnostic, Span};
use netpol_graph::{ExceptTable, PortSet};
use netpol_manifest::model::Direction;

use crate::bleed::{Entry, fmt_range, next};
use crate::context::{Context, dir_word, few, rule_name};

/// Ports V11 adds at one pod and direction inside one `except`, through one key. Equal
/// gains of several pods merge.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Gain {
    dir: Direction,
    except: IpNet,
    /// The longest ipBlock holding the pieces: the key that inherits across the except.
    key: IpNet,
    /// The pieces and the ports added there.
    ranges: Vec<(IpAddr, IpAddr, PortSet)>,
    /// The rules (policy, rule, ipBlock span) whose except holds the pieces.
    writers: BTreeSet<(usize, usize, Span)>,
    /// The rules (policy, rule, ipBlock span) whose CIDR is the key.
    keyed_by: BTreeSet<(usize, usize, Span)>,
    /// As in `bleed.rs`: the table holds the policies of pods sharing the identifier (V9).
    pub(crate) shared: bool,
}

/// The gains of one pod and direction. `nodes`: the configured nodes' IPs, whose keys (V4)
/// allow everything for another reason; `direct`: what the selector rules allow toward the
/// endpoints in a piece (not withheld by any except).
pub(crate) fn gains(
    at: &ExceptTable,
    entries: &[Entry],
    nodes: &[IpAddr],
    direct: &dyn Fn(IpAddr, IpAddr) -> PortSet,
) -> Vec<Gain> {
    let mut out: Vec<Gain> = Vec::new();
    for (lo, hi, kept) in at.table.iter() {
        let (addr, Some(kept)) = (*lo, kept) else {
            continue;
        };
        if lo == hi && nodes.contains(lo) {
            continue;
        }
        let holds = |e: &&Entry| e.cidr.contains(&addr);
        let excepted = |e: &&Entry| e.except.iter().any(|x| x.contains(&addr));
        let mut union = PortSet::empty();
        let mut withheld = PortSet::empty();
        for e in entries.iter().filter(holds) {
            if excepted(&e) {
                withheld.union_with(&e.ports);
            } else {
                union.union_with(&e.ports);
            }
        }
        let mut added = kept.difference(&union).intersect(&withheld);
        if !added.is_empty() {
            added = added.difference(&direct(*lo, *hi));
        }
        if added.is_empty() {
            continue;
        }
        let Some(except) = (entries.iter().filter(holds).filter(excepted))
            .flat_map(|e| e.except.iter().filter(|x| x.contains(&addr)))
            .max_by_key(|x| x.prefix_len())
            .copied()
        else {
            continue;
        };
        let Some(key) = (entries.iter().filter(holds))
            .filter(|e| !excepted(e) && !e.skipped)
            .map(|e| e.cidr)
            .max_by_key(IpNet::prefix_len)
        else {
            continue;
        };
        let spans = |keep: &dyn Fn(&Entry) -> bool| -> BTreeSet<(usize, usize, Span)> {
            (entries.iter().filter(|e| keep(e)))
                .filter_map(|e| Some((e.policy, e.rule, e.block?)))
                .collect()
        };
        let writers = spans(&|e: &Entry| e.except.contains(&except));
        let keyed_by = spans(&|e: &Entry| e.cidr == key && !e.skipped);
        let i = match (out.iter()).position(|g| g.except == except && g.key == key) {
            Some(i) => i,
            None => {
                out.push(Gain {
                    dir: at.direction,
                    except,
                    key,
                    ranges: Vec::new(),
                    writers,
                    keyed_by,
                    shared: false,
                });
                out.len() - 1
            }
        };
        let g = &mut out[i];
        match g.ranges.last_mut() {
            Some((_, h, p)) if *p == added && next(*h) == Some(*lo) => *h = *hi,
            _ => g.ranges.push((*lo, *hi, added)),
        }
    }
    out
}

pub(crate) fn render(cx: &Context<'_>, g: &Gain, ids: &[String]) -> Diagnostic {
    let dir = dir_word(g.dir);
    let toward = match g.dir {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    };
    let mut added = PortSet::empty();
    for r in &g.ranges {
        added.union_with(&r.2);
    }
    let who = few(ids);
    let rule_name = |pi: usize, ri: usize| rule_name(cx, g.dir, pi, ri);
    let shown: Vec<String> = (g.ranges.iter().take(4))
        .map(|(lo, hi, _)| fmt_range(*lo, *hi))
        .collect();
    let more = g.ranges.len().saturating_sub(4);
    let range = if more > 0 {
        format!("{} and {more} more ranges", shown.join(", "))
    } else {
        shown.join(", ")
    };
    let (x, key) = (g.except, g.key);
    let mut writers = g.writers.iter();
    let first = writers.next();
    let by = first.map_or(String::new(), |&(pi, ri, _)| {
        format!(" in {}", rule_name(pi, ri))
    });
    let mut d = Diagnostic::new(
        Code::ExceptInherited,
        format!(
            "{who}: {dir} {toward} {range} on {added} is allowed under VPC CNI although `except: {x}`{by} withholds it: the key {key} starts outside the except, so it takes the wider rule's ports, and the longer keys inside the except take them from {key} (V11)"
        ),
    );
    if let Some(&(_, _, span)) = first {
        d = d.with_primary(
            cx.find_in(span, &x.to_string()),
            format!("withholds {added} here, but {key} inherits it"),
        );
    }
    for &(pi, ri, span) in writers {
        d = d.with_secondary(
            cx.find_in(span, &x.to_string()),
            format!("{} excepts it too", rule_name(pi, ri)),
        );
    }
    for &(pi, ri, span) in &g.keyed_by {
        d = d.with_secondary(
            cx.find_in(span, &key.to_string()),
            format!(
                "{}: the key {key}, which takes {added} inside {x}",
                rule_name(pi, ri)
            ),
        );
    }
    d = d.with_note("the VPC CNI agent builds one longest-prefix table per pod and direction: a key takes the ports of every wider key containing it unless an except of that wider key holds the key's first address, and the longest key alone decides (NPA checkAndDeriveL4InfoFromAnyMatchingCIDRsTrie)");
    if g.shared {
        d = d.with_note("these pods share their VPC CNI pod identifier with pods that other policies select (V9), so the table also holds those policies' rules (see shared-pod-identifier)");
    }
    if let Some(agent) = netpol_graph::switches::agent_before_except_table(cx.analysis.profile()) {
        d = d.with_note(format!("the configured agent {agent} predates this table (NPA v1.2.4): it writes excepts without it, so this may not happen there (version-not-modelled)"));
    }
    d.with_help(format!(
        "add `{x}` to the excepts of the ipBlock {key} as well (its excepts then hold the range and the agent denies it), or narrow {key} so that it does not reach into {x}"
    ))
}
