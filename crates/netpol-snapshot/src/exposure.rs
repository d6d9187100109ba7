//! Exposure of pods that do not exist yet: for each namespace, what one new pod in that
//! namespace alone, with labels no policy names, could reach and be reached by. Derived
//! honestly from the graph: a copy of the model gets a probe pod (fresh labels, no ports,
//! no known IP or node), and the probe's row and column of that copy's matrix are kept.
//! Only selectors that match every pod of the namespace (`podSelector: {}`, `NotIn`,
//! `DoesNotExist`) and namespace selectors select or admit it, as they would a new pod.
//!
//! Probes of several namespaces share one copy when none can change another's answers.
//! They interact only through V2 (VPC CNI): a rule of a direction missing from
//! `policyTypes` that resolves to no existing endpoint but to a probe isolates the pods its
//! policy selects toward every probe. So namespaces are grouped by the set of such
//! "probe-resolved" policy directions their probe resolves: within a group the probes
//! resolve exactly what each alone would, and one matrix per group suffices (one in
//! the usual case, where no probe resolves anything new).

use std::collections::BTreeMap;

use netpol_graph::Analysis;
use netpol_manifest::Model;
use netpol_manifest::model::{Direction, Endpoint, EndpointKind, Labels};

/// The probe pod's name: parentheses make it a name no manifest can use.
const PROBE: &str = "(new-pod)";

/// How the snapshot writes the new pod of namespace `ns`.
pub fn new_pod(ns: &str) -> String {
    format!("new-pod@{ns}")
}

/// (from, to) to ports, one side a `new-pod@NS`, the other a real endpoint id. `base` is
/// the analysis of `model` itself.
pub(crate) fn exposure(model: &Model, base: &Analysis<'_>) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    if model.endpoints.is_empty() && model.services.is_empty() && model.policies.is_empty() {
        return out;
    }
    let all: Vec<&str> = model.namespaces.iter().map(|n| n.name.as_str()).collect();
    let profile = base.profile();
    let m = with_probes(model, &all);
    let analysis = Analysis::new(&m, profile);
    // Only a rule of a direction missing from `policyTypes` can make probes interact (V2);
    // asking the graph which rules resolve costs a pass over the rules, so only then.
    let v2 = netpol_graph::switches::unlisted_rules_enforced(profile)
        && (model.policies.iter()).any(|p| {
            Direction::BOTH
                .iter()
                .any(|&d| !p.policy_types.contains(d) && !p.rules(d).is_empty())
        });
    if !v2 {
        keep(&analysis, &mut out);
        return out;
    }
    let before = base.rules_resolve();
    let now = analysis.rules_resolve();
    let flat = |v: &[[bool; 2]]| v.iter().flatten().copied().collect::<Vec<bool>>();
    let b = flat(&before);
    let aligned = now.len() == before.len();
    let suspect: Vec<usize> = (0..b.len())
        .filter(|&i| !aligned || (now[i / 2][i % 2] && !b[i]))
        .collect();
    if aligned && suspect.is_empty() {
        keep(&analysis, &mut out);
        return out;
    }
    drop(analysis);
    let mut groups: BTreeMap<Vec<usize>, Vec<&str>> = BTreeMap::new();
    if !aligned {
        // Cannot happen (probes add no policy); stay correct: every namespace alone.
        for (i, ns) in all.iter().enumerate() {
            groups.insert(vec![i], vec![*ns]);
        }
    }
    let test = |set: &[&str]| -> Vec<usize> {
        let m = with_probes(model, set);
        let r = flat(&Analysis::new(&m, profile).rules_resolve());
        suspect.iter().copied().filter(|&i| r[i]).collect()
    };
    if aligned {
        split(&all, &test, &mut groups);
    }
    for set in groups.values() {
        let m = with_probes(model, set);
        keep(&Analysis::new(&m, profile), &mut out);
    }
    out
}

/// Sorts `set` into `groups` by signature (the suspect policy directions its probe
/// resolves). Resolving is "some endpoint matches", so a set's signature is the union of
/// its members': a set that resolves none has members that resolve none, and halving
/// finds the few that do with a logarithmic number of analyses each.
fn split<'a>(
    set: &[&'a str],
    test: &dyn Fn(&[&str]) -> Vec<usize>,
    groups: &mut BTreeMap<Vec<usize>, Vec<&'a str>>,
) {
    if set.is_empty() {
        return;
    }
    let sig = test(set);
    if sig.is_empty() || set.len() == 1 {
        groups.entry(sig).or_default().extend_from_slice(set);
        return;
    }
    let (a, b) = set.split_at(set.len() / 2);
    split(a, test, groups);
    split(b, test, groups);
}

/// `model` with one probe pod in each of `namespaces`.
fn with_probes(model: &Model, namespaces: &[&str]) -> Model {
    // Where a finding about a probe points: the first object.
    let span = (model.endpoints.first().map(|e| e.span))
        .or_else(|| model.services.first().map(|s| s.span))
        .or_else(|| model.policies.first().map(|p| p.span))
        .expect("checked by the caller");
    let mut m = model.clone();
    for ns in namespaces {
        m.endpoints.push(Endpoint::assumed(
            EndpointKind::Pod,
            ns,
            PROBE,
            Labels::from([("netpol.dev/new-pod".to_owned(), "true".to_owned())]),
            Vec::new(),
            span,
        ));
    }
    m.endpoints.sort_by_key(Endpoint::id);
    m
}

/// The probes' rows and columns of the copy's matrix, probe to probe left out.
fn keep(analysis: &Analysis<'_>, out: &mut BTreeMap<(String, String), String>) {
    let probe_ns = |id: &str| -> Option<String> {
        id.strip_suffix(PROBE)
            .and_then(|ns| ns.strip_suffix('/'))
            .map(new_pod)
    };
    for c in analysis.matrix().connections() {
        let key = match (probe_ns(&c.from.id), probe_ns(&c.to.id)) {
            (Some(ns), None) => (ns, c.to.id.clone()),
            (None, Some(ns)) => (c.from.id.clone(), ns),
            _ => continue,
        };
        out.insert(key, c.ports.to_strings().join(","));
    }
}
