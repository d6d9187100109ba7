//! V11: under VPC CNI an `except` written in one rule cuts what other rules allow. The
//! agent builds one longest-prefix table per pod and direction from the rules of every
//! policy selecting the pod; an `except` that is not itself a key becomes a deny-all key,
//! and a key never inherits a containing key's ports across one of its pooled excepts.
//!
//! The graph decides the table (`Analysis::except_tables`, per pod and direction, shared by
//! the pods of one policy set); this lint holds each piece of that table against the union
//! the same rules grant read one by one (S4, S6) and reports the ports V11 takes away, at
//! the `except` that cuts them, in either IP family (V15). The rules are those the graph
//! counts: every policy selecting the pod, or with a shared identifier (V9) any pod of it.
//! The endpoints a cut denies are decided per pair, for the endpoints inside the cut alone,
//! within a bound; the lint has a budget against pathological inputs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use netpol_diag::{Code, Diagnostic, Span};
use netpol_graph::ir::PeerMatch;
use netpol_graph::{ExceptTable, PortSet, switches};
use netpol_manifest::model::{Direction, Endpoint, Peer};

use crate::context::{Context, dir_word, few, rule_name};
use crate::inherit;

/// One address entry of a rule that counts at the pod: an ipBlock (its span) or an
/// omitted peer list (`0.0.0.0/0`, no block span).
pub(crate) struct Entry {
    pub(crate) policy: usize,
    pub(crate) rule: usize,
    pub(crate) cidr: IpNet,
    pub(crate) except: Vec<IpNet>,
    pub(crate) block: Option<Span>,
    pub(crate) ports: PortSet,
    /// V12/V15: the agent skips the block (no key, no ports; its excepts still count).
    pub(crate) skipped: bool,
}

/// What V11 takes at one pod and direction inside one `except`: the pieces with the ports
/// lost there and the rules whose allowance is cut (with those ports). Equal findings of
/// several pods merge.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    dir: Direction,
    except: IpNet,
    ranges: Vec<(IpAddr, IpAddr, PortSet)>,
    cut: BTreeMap<(usize, usize), (IpNet, PortSet)>,
    /// The ipBlocks (policy, rule, span) whose excepts hold this one.
    writers: BTreeSet<(usize, usize, Span)>,
    /// Whether the except is itself the CIDR of an ipBlock: then it is an allow key that
    /// does not inherit the ports of the wider keys, rather than a deny-all key.
    keyed: bool,
    /// Whether the pods share their VPC CNI identifier with others (V9), whose policies
    /// the table then holds too.
    shared: bool,
}

pub(crate) fn lint(cx: &Context<'_>, budget: usize, out: &mut Vec<Diagnostic>) {
    if !cx.is_vpc() {
        return;
    }
    let at = with_except(cx);
    if at == 0 {
        return;
    }
    let n = cx.model.endpoints.len();
    let steps = at.saturating_mul(n);
    if steps > budget {
        out.push(crate::dead::lint_skipped(
            format!("except-bleed was not run: {at} pod directions with an ipBlock except, each against {n} endpoints, exceed its budget"),
            steps,
            budget,
            "this lint",
        ));
        return;
    }
    let tables = cx.analysis.except_tables();
    if tables.is_empty() {
        return;
    }
    let by_id: HashMap<String, &Endpoint> =
        cx.model.endpoints.iter().map(|e| (e.id(), e)).collect();
    // V9: the graph builds the table of a pod that shares its identifier from the policies
    // of every pod of the identifier.
    let upper: HashMap<String, Vec<usize>> = (cx.analysis.identifier_ranges().into_iter())
        .map(|(id, r)| (id, r.upper))
        .collect();
    let mut inside = Inside::new(cx);
    let mut found: BTreeMap<Finding, Vec<String>> = BTreeMap::new();
    let mut gained: BTreeMap<inherit::Gain, Vec<String>> = BTreeMap::new();
    let nodes: Vec<IpAddr> = cx.analysis.profile().nodes.iter().map(|n| n.ip).collect();
    for at in &tables {
        let Some(e) = by_id.get(&at.endpoint) else {
            continue;
        };
        let counted = (upper.get(&at.endpoint).cloned()).unwrap_or_else(|| cx.selecting(e));
        let entries = entries(cx, &counted, e, at.direction);
        let shared = upper.contains_key(&at.endpoint);
        for mut f in findings(at, &entries) {
            f.shared = shared;
            found.entry(f).or_default().push(at.endpoint.clone());
        }
        let direct = |lo: IpAddr, hi: IpAddr| inside.selector_ports(&counted, at.direction, lo, hi);
        for mut g in inherit::gains(at, &entries, &nodes, &direct) {
            g.shared = shared;
            gained.entry(g).or_default().push(at.endpoint.clone());
        }
    }
    for (f, pods) in found {
        let denied = inside.denied(&f, &pods);
        out.push(render(cx, &f, &pods, &denied));
    }
    for (g, pods) in gained {
        out.push(inherit::render(cx, &g, &pods));
    }
}

/// The (enforced endpoint, direction) pairs where a selecting policy's rule has an ipBlock
/// `except`: those the graph builds a table for.
fn with_except(cx: &Context<'_>) -> usize {
    let has = |pi: usize, dir: Direction| {
        (cx.model.policies[pi]
            .rules(dir)
            .iter()
            .flat_map(|r| &r.peers))
        .any(|peer| matches!(peer, Peer::IpBlock(b) if !b.except.is_empty()))
    };
    let mut count = 0;
    for e in &cx.model.endpoints {
        let selecting = cx.selecting(e);
        for dir in Direction::BOTH {
            if selecting.iter().any(|&pi| has(pi, dir)) {
                count += 1;
            }
        }
    }
    count
}

/// The address entries of the `dir` rules of the `counted` policies at `e`, with the ports
/// the agent gives each toward an address: numeric egress ports, the ingress union (V7);
/// a rule none of whose ports resolves is dropped with its excepts, as the graph does.
fn entries(cx: &Context<'_>, counted: &[usize], e: &Endpoint, dir: Direction) -> Vec<Entry> {
    let id = e.id();
    let lowered = cx.analysis.policies();
    let mut out = Vec::new();
    for &pi in counted {
        let Some(p) = lowered.get(pi) else { continue };
        for (ri, rule) in p.rules(dir).iter().enumerate() {
            let Some(ports) = cx.analysis.address_ports(&id, pi, dir, ri) else {
                continue;
            };
            let Some(peers) = &rule.peers else {
                for any in [
                    IpNet::V4(ipnet::Ipv4Net::default()),
                    IpNet::V6(ipnet::Ipv6Net::default()),
                ] {
                    out.push(Entry {
                        policy: pi,
                        rule: ri,
                        cidr: any,
                        except: Vec::new(),
                        block: None,
                        ports: ports.clone(),
                        skipped: false,
                    });
                }
                continue;
            };
            for peer in peers {
                if let PeerMatch::IpBlock { cidr, except, span } = peer {
                    // V12/V15: a block the agent skips allows nothing; its excepts still
                    // count, as the graph's table has them.
                    let skipped = cx.analysis.agent_skips_block(&id, cidr.network());
                    out.push(Entry {
                        policy: pi,
                        rule: ri,
                        cidr: *cidr,
                        except: except.clone(),
                        block: Some(*span),
                        ports: if skipped {
                            PortSet::empty()
                        } else {
                            ports.clone()
                        },
                        skipped,
                    });
                }
            }
        }
    }
    out
}

/// The findings of one pod and direction, one per `except` that cuts something.
fn findings(at: &ExceptTable, entries: &[Entry]) -> Vec<Finding> {
    let mut by_except: BTreeMap<IpNet, Finding> = BTreeMap::new();
    for (lo, hi, kept) in at.table.iter() {
        let addr = *lo;
        let open =
            |e: &&Entry| e.cidr.contains(&addr) && !e.except.iter().any(|x| x.contains(&addr));
        let mut union = PortSet::empty();
        for e in entries.iter().filter(open) {
            union.union_with(&e.ports);
        }
        let lost = match kept {
            Some(k) => union.difference(k),
            None => union,
        };
        if lost.is_empty() {
            continue;
        }
        // The except that decides here: the longest one holding the piece (a deny-all key,
        // or the except that stops a longer key from inheriting).
        let Some(except) = (entries.iter().flat_map(|e| &e.except))
            .filter(|x| x.contains(&addr))
            .max_by_key(|x| x.prefix_len())
            .copied()
        else {
            continue; // not V11 (V12 skips an ipBlock at the node's address)
        };
        let f = by_except.entry(except).or_insert_with(|| Finding {
            dir: at.direction,
            except,
            ranges: Vec::new(),
            cut: BTreeMap::new(),
            writers: (entries.iter())
                .filter(|e| e.except.contains(&except))
                .filter_map(|e| Some((e.policy, e.rule, e.block?)))
                .collect(),
            keyed: entries.iter().any(|e| e.cidr == except && !e.skipped),
            shared: false,
        });
        match f.ranges.last_mut() {
            Some((_, h, p)) if *p == lost && next(*h) == Some(*lo) => {
                *h = *hi;
            }
            _ => f.ranges.push((*lo, *hi, lost.clone())),
        }
        for e in entries.iter().filter(open) {
            let cut = e.ports.intersect(&lost);
            if !cut.is_empty() {
                let slot =
                    (f.cut.entry((e.policy, e.rule))).or_insert_with(|| (e.cidr, PortSet::empty()));
                slot.1.union_with(&cut);
            }
        }
    }
    by_except.into_values().collect()
}

/// The endpoints (by address) and Services (by ClusterIP) of the input, to find those
/// inside a cut; and how many per-pair decisions are left.
struct Inside<'c, 'a> {
    cx: &'c Context<'a>,
    /// (address, id, index into the model's endpoints), by address.
    endpoints: Vec<(IpAddr, String, usize)>,
    services: Vec<(IpAddr, usize)>,
    left: usize,
}

/// The most per-pair decisions the notes on denied endpoints take over a run: beyond it the
/// notes name fewer endpoints.
const DENIED_PAIRS: usize = 20_000;

impl<'c, 'a> Inside<'c, 'a> {
    fn new(cx: &'c Context<'a>) -> Self {
        let profile = cx.analysis.profile();
        let mut endpoints: Vec<(IpAddr, String, usize)> = (cx.model.endpoints.iter().enumerate())
            .filter_map(|(i, e)| Some((switches::pod_ip(profile, e)?, e.id(), i)))
            .collect();
        endpoints.sort();
        let mut services: Vec<(IpAddr, usize)> = (cx.model.services.iter().enumerate())
            .filter_map(|(i, s)| Some((s.cluster_ip?, i)))
            .collect();
        services.sort();
        Inside {
            cx,
            endpoints,
            services,
            left: DENIED_PAIRS,
        }
    }

    /// What the selector peers of the `dir` rules of the `counted` policies allow toward
    /// the endpoints of the input at addresses `lo..=hi`, read as the rules say (S4, S5),
    /// widened where a port is named (every port of its protocol): what an `except` does not
    /// withhold there.
    fn selector_ports(&self, counted: &[usize], dir: Direction, lo: IpAddr, hi: IpAddr) -> PortSet {
        let mut out = PortSet::empty();
        let from = self.endpoints.partition_point(|(a, _, _)| *a < lo);
        for &(_, _, i) in self.endpoints[from..]
            .iter()
            .take_while(|(a, _, _)| *a <= hi)
        {
            let e = &self.cx.model.endpoints[i];
            // V6: a selector peer matching a hostNetwork pod opens its node's whole IP, which
            // this reading does not follow: count everything as allowed there.
            if e.host_network {
                return PortSet::all();
            }
            for &pi in counted {
                let p = &self.cx.model.policies[pi];
                for rule in p.rules(dir) {
                    let matches = rule.peers.iter().any(|peer| match peer {
                        Peer::Pods {
                            namespace_selector,
                            pod_selector,
                            ..
                        } => self.cx.peer_matches(
                            &p.namespace,
                            namespace_selector.as_ref(),
                            pod_selector.as_ref(),
                            e,
                        ),
                        Peer::IpBlock(_) => false,
                    });
                    if !matches {
                        continue;
                    }
                    if rule.ports.is_empty() {
                        return PortSet::all();
                    }
                    for port in &rule.ports {
                        out.union_with(&match port.port {
                            Some(netpol_manifest::model::PortRef::Number(n)) => {
                                PortSet::range(port.protocol, n, port.end_port.unwrap_or(n))
                            }
                            _ => PortSet::protocol(port.protocol),
                        });
                    }
                }
            }
        }
        out
    }

    /// The endpoints and Services inside the lost pieces of `f` that the graph's verdict at
    /// one of `pods` denies a lost port: what the cut means for traffic the input knows.
    fn denied(&mut self, f: &Finding, pods: &[String]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for pod in pods {
            for (lo, hi, lost) in &f.ranges {
                let from = self.endpoints.partition_point(|(a, _, _)| a < lo);
                for (ip, id, _) in self.endpoints[from..]
                    .iter()
                    .take_while(|(a, _, _)| a <= hi)
                {
                    // A pod's traffic to itself does not pass its policies.
                    if id == pod || self.left == 0 {
                        continue;
                    }
                    self.left -= 1;
                    let Some(allowed) = self.cx.analysis.direction_ports(pod, id, f.dir) else {
                        continue;
                    };
                    let missing = lost.difference(&allowed);
                    if !missing.is_empty() {
                        out.insert(format!("{id} ({ip}): {missing}"));
                    }
                }
                if f.dir != Direction::Egress {
                    continue;
                }
                let from = self.services.partition_point(|(a, _)| a < lo);
                for &(ip, si) in self.services[from..].iter().take_while(|(a, _)| a <= hi) {
                    if self.left == 0 {
                        break;
                    }
                    self.left -= 1;
                    let Some(kept) = self.cx.analysis.service_ports_at(pod, si) else {
                        continue;
                    };
                    let svc = &self.cx.model.services[si];
                    let missing = netpol_graph::offered(svc).intersect(lost).difference(&kept);
                    if !missing.is_empty() {
                        out.insert(format!(
                            "Service {}/{} ({ip}): {missing}",
                            svc.namespace, svc.name
                        ));
                    }
                }
            }
        }
        out
    }
}

/// The address after `a` in its family.
pub(crate) fn next(a: IpAddr) -> Option<IpAddr> {
    match a {
        IpAddr::V4(v) => u32::from(v).checked_add(1).map(|x| IpAddr::V4(x.into())),
        IpAddr::V6(v) => u128::from(v).checked_add(1).map(|x| IpAddr::V6(x.into())),
    }
}

fn render(cx: &Context<'_>, f: &Finding, ids: &[String], denied: &BTreeSet<String>) -> Diagnostic {
    let dir = dir_word(f.dir);
    let toward = match f.dir {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    };
    let mut lost = PortSet::empty();
    for r in &f.ranges {
        lost.union_with(&r.2);
    }
    // Whether every address of the except loses something (the pieces are in order).
    let whole = f.ranges.first().is_some_and(|r| r.0 == f.except.network())
        && f.ranges.last().is_some_and(|r| r.1 == f.except.broadcast())
        && f.ranges.windows(2).all(|w| next(w[0].1) == Some(w[1].0));
    let range = if whole {
        f.except.to_string()
    } else {
        format!("parts of {}", f.except)
    };
    let who = few(ids);
    let rule_name = |pi: usize, ri: usize| rule_name(cx, f.dir, pi, ri);
    let allowed_by = match f.cut.keys().next() {
        Some(&(pi, ri)) if f.cut.len() == 1 => format!("{} allows it", rule_name(pi, ri)),
        _ => format!("{} rules allow it", f.cut.len()),
    };
    // The rules that write this except: the first is the primary location.
    let mut writer_iter = f.writers.iter();
    let first = writer_iter.next();
    let by = first.map_or(String::new(), |&(pi, ri, _)| {
        format!(" in {}", rule_name(pi, ri))
    });
    let pods = if ids.len() == 1 {
        "the pod"
    } else {
        "each pod"
    };
    let x = f.except;
    let (effect, label) = if f.keyed {
        (
            format!(
                "keeps the key {x} of another ipBlock from inheriting the ports of the wider {dir} rules of {pods}"
            ),
            format!(
                "the key {x} does not inherit across this except: cuts {lost} that other rules allow"
            ),
        )
    } else {
        (
            format!("becomes a deny-all key for all the {dir} rules of {pods}"),
            format!("deny-all key for {x}: cuts {lost} that other rules allow"),
        )
    };
    let mut d = Diagnostic::new(
        Code::ExceptBleed,
        format!(
            "{who}: {dir} {toward} {range} on {lost} is denied under VPC CNI although {allowed_by}: `except: {x}`{by} {effect} (V11)"
        ),
    );
    if let Some(&(_, _, span)) = first {
        d = d.with_primary(cx.find_in(span, &x.to_string()), label);
    }
    for &(pi, ri, span) in writer_iter {
        d = d.with_secondary(
            cx.find_in(span, &f.except.to_string()),
            format!("{} excepts it too", rule_name(pi, ri)),
        );
    }
    for (&(pi, ri), (cidr, ports)) in &f.cut {
        let span = cx.model.policies[pi].rules(f.dir)[ri].span;
        let what = if cidr.prefix_len() == 0 {
            "every address".to_owned()
        } else {
            cidr.to_string()
        };
        d = d.with_secondary(
            span,
            format!("allows {ports} {toward} {what}: cut inside {}", f.except),
        );
    }
    d = d.with_note("the VPC CNI agent builds one longest-prefix table per pod and direction from every rule of every policy selecting it: an except that is not itself a CIDR of some rule becomes a deny-all key, a key does not inherit a containing key's ports across its excepts, and the longest key alone decides (NPA ComputeMapEntriesFromEndpointRules)");
    if !whole || f.ranges.len() > 1 {
        let shown: Vec<String> = (f.ranges.iter().take(4))
            .map(|(lo, hi, p)| format!("{} ({p})", fmt_range(*lo, *hi)))
            .collect();
        let more = f.ranges.len().saturating_sub(4);
        let tail = if more > 0 {
            format!(" and {more} more ranges")
        } else {
            String::new()
        };
        let between = if whole {
            ""
        } else {
            "; a longer key (a peer pod's /32, another ipBlock) keeps the addresses between"
        };
        d = d.with_note(format!("denied at {}{tail}{between}", shown.join(", ")));
    }
    if !denied.is_empty() {
        let more = denied.len().saturating_sub(3);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        d = d.with_note(format!(
            "denied {toward} endpoints of the input: {}{tail}",
            (denied.iter().take(3).cloned())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if f.shared {
        d = d.with_note("these pods share their VPC CNI pod identifier with pods that other policies select (V9), so the table also holds those policies' rules (see shared-pod-identifier)");
    }
    if let Some(agent) = switches::agent_before_except_table(cx.analysis.profile()) {
        d = d.with_note(format!("the configured agent {agent} predates this table (NPA v1.2.4): it writes excepts without it, so this may not happen there (version-not-modelled)"));
    }
    let fix = if f.keyed {
        format!(
            "add the ports {x} should keep to a rule whose ipBlock is {x} (rules with one CIDR pool their ports)"
        )
    } else {
        format!("give {x} its own rule (an ipBlock of that CIDR with the ports it should keep)")
    };
    d.with_help(format!(
        "{fix}, or split the policies so that they do not select the same pods"
    ))
}

/// A range as a CIDR when it is one, else `first-last`.
pub(crate) fn fmt_range(lo: IpAddr, hi: IpAddr) -> String {
    let (a, b, bits) = match (lo, hi) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return format!("{lo}-{hi}"),
    };
    // The range's size less one: all ones below some bit, with `a` aligned to it.
    let span = b.wrapping_sub(a);
    if b >= a && span & span.wrapping_add(1) == 0 && a & span == 0 {
        let len = bits - span.count_ones();
        return format!("{lo}/{len}");
    }
    format!("{lo}-{hi}")
}

#[cfg(test)]
mod tests {
    use super::fmt_range;

    #[test]
    fn ranges_print_as_cidrs_when_they_are_one() {
        let r = |a: &str, b: &str| fmt_range(a.parse().unwrap(), b.parse().unwrap());
        assert_eq!(r("fd00::", "fd00::ffff"), "fd00::/112");
        assert_eq!(r("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "::/0");
        assert_eq!(r("fd00::1", "fd00::2"), "fd00::1-fd00::2");
        assert_eq!(r("10.1.0.0", "10.1.255.255"), "10.1.0.0/16");
        assert_eq!(r("10.1.3.4", "10.1.3.4"), "10.1.3.4/32");
        assert_eq!(r("0.0.0.0", "255.255.255.255"), "0.0.0.0/0");
        assert_eq!(r("10.1.0.0", "10.1.0.8"), "10.1.0.0-10.1.0.8");
        assert_eq!(r("10.1.0.128", "10.1.1.127"), "10.1.0.128-10.1.1.127");
    }
}
