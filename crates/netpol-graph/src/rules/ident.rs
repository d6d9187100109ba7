//! V9: pod identifier sharing. The VPC CNI agent keys its eBPF programs and maps by pod
//! identifier (NPA `pkg/utils/utils.go` `GetPodIdentifier` @c8619c056b4c3a7156d2e3538864de3bc9faab82):
//! pods of one identifier on one node share the union of the rules of every policy that
//! selects any of them; across nodes the union depends on the order of events. Reads its
//! switch through [`super::switches`], so under `upstream` every range is the endpoint's own.

use std::collections::{BTreeMap, BTreeSet};

use netpol_manifest::model::{Direction, Endpoint, EndpointKind};

use crate::ir::LoweredPolicy;
use crate::world::{Ep, EpKind, IdentifierRange, World};

use super::switches;

/// NPA `GetPodIdentifier`: `.` → `_`, then the name minus its last `-segment` (a name
/// without `-` is its own prefix).
pub(crate) fn pod_identifier(name: &str) -> String {
    let name = name.replace('.', "_");
    match name.rsplit_once('-') {
        Some((prefix, _)) => prefix.to_owned(),
        None => name,
    }
}

/// The identifier prefix the pods of an endpoint get, or `None` when they share it with
/// no other endpoint netpol can name (Deployment: the pod-template hash is not in the
/// manifests; CronJob: one identifier per run).
fn prefix(e: &Endpoint) -> Option<String> {
    // `generateName` is `<base>-` cut to 58 characters, then 5 random characters without `-`
    // (k8s.io/apiserver pkg/storage/names/generate.go).
    let generated = |base: &str| {
        let mut b: String = format!("{base}-").chars().take(58).collect();
        b.push_str("xxxxx");
        pod_identifier(&b)
    };
    match e.kind {
        // An Indexed Job's pods get one identifier per index ([`index_base`]).
        EndpointKind::Job if e.indexed_completions.is_some() => None,
        EndpointKind::Pod => Some(pod_identifier(&e.name)),
        // `s-<ordinal>`.
        EndpointKind::StatefulSet => Some(pod_identifier(&format!("{}-0", e.name))),
        EndpointKind::DaemonSet
        | EndpointKind::ReplicaSet
        | EndpointKind::ReplicationController
        | EndpointKind::Job => Some(generated(&e.name)),
        EndpointKind::Deployment | EndpointKind::CronJob => None,
    }
}

/// An Indexed Job's pods are `<base>-<index>-<5 random>`, the `<job>` cut so that
/// `<base>-<index>-` has at most 58 characters (kubernetes `pkg/controller/job`
/// `podGenerateNameWithIndex`): identifier `<base>-<index>` (`.` → `_`). The base, and the
/// number of indexes.
fn index_base(e: &Endpoint) -> Option<(String, u32)> {
    let n = e.indexed_completions?;
    (e.kind == EndpointKind::Job).then(|| {
        let tail = format!("-{}-", n.saturating_sub(1)).len();
        let base: String = e.name.chars().take(58usize.saturating_sub(tail)).collect();
        (base.replace('.', "_"), n)
    })
}

/// Whether identifier `id` is one an Indexed Job with `base` and `n` indexes gives its pods
/// (`<base>-<i>`, `i < n` written without leading zeros).
fn is_index_of(id: &str, (base, n): &(String, u32)) -> bool {
    id.strip_prefix(base.as_str())
        .and_then(|r| r.strip_prefix('-'))
        .filter(|i| !i.is_empty() && (*i == "0" || !i.starts_with('0')))
        .and_then(|i| i.parse::<u32>().ok())
        .is_some_and(|i| i < *n)
}

/// Before agent v1.4.0 the identifier was `prefix-namespace` (`LegacyGetPodIdentifier`),
/// which two namespaces can share (`a-b-x` in `c`, `a-x` in `b-c`): the first two enforced
/// endpoints (model indices) whose legacy identifiers meet across namespaces. An Indexed
/// Job's pods have one per index (`<base>-<i>-<namespace>`).
pub(crate) fn legacy_collision(w: &World<'_>) -> Option<(usize, usize)> {
    let mut seen: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    let mut jobs: Vec<(usize, &str, (String, u32))> = Vec::new();
    for e in &w.eps {
        let EpKind::Workload(i) = e.kind else {
            continue;
        };
        let me = &w.model.endpoints[i];
        if !w.enforced(e) {
            continue;
        }
        if let Some(job) = index_base(me) {
            jobs.push((i, &me.namespace, job));
            continue;
        }
        let Some(p) = prefix(me) else {
            continue;
        };
        match seen.get(&format!("{p}-{}", me.namespace)) {
            Some(&(j, ns)) if ns != me.namespace => return Some((j, i)),
            Some(_) => {}
            None => {
                seen.insert(format!("{p}-{}", me.namespace), (i, &me.namespace));
            }
        }
    }
    // `<base>-<i>-<ns>` of a Job against each legacy identifier seen, and of every other
    // Job (few Indexed Jobs: enumerating one side's indexes is cheap).
    let index_of = |id: &str, (i, ns, job): &(usize, &str, (String, u32))| {
        (id.strip_suffix(*ns)?.strip_suffix('-'))
            .filter(|rest| is_index_of(rest, job))
            .map(|_| *i)
    };
    for (k, a) in jobs.iter().enumerate() {
        for (id, &(j, ns)) in &seen {
            if ns != a.1
                && let Some(i) = index_of(id, a)
            {
                return Some((j.min(i), j.max(i)));
            }
        }
        for b in jobs[k + 1..].iter().filter(|b| b.1 != a.1) {
            let (base, n) = &a.2;
            if let Some(j) = (0..*n).find_map(|x| index_of(&format!("{base}-{x}-{}", a.1), b)) {
                return Some((a.0.min(j), a.0.max(j)));
            }
        }
    }
    None
}

/// Whether two endpoints are known to run on one node (bare pods with the same node).
fn same_node(a: &Endpoint, b: &Endpoint) -> bool {
    (a.node_name.is_some() && a.node_name == b.node_name)
        || (a.host_ip.is_some() && a.host_ip == b.host_ip)
}

/// V9, the rule: per model endpoint, its identifier group and the range of its effective
/// selecting-policy set `S`: `lower` = the policies selecting it or a sibling known to run
/// on its node, `upper` = those selecting any member of the group. hostNetwork pods never
/// share (the agent does not manage them).
fn compute(w: &World<'_>) -> Vec<Option<IdentifierRange>> {
    let mut out = vec![None; w.model.endpoints.len()];
    if !switches::shares_identifiers(&w.profile) {
        return out;
    }
    let mut groups: BTreeMap<(String, String), Vec<(usize, &Ep)>> = BTreeMap::new();
    let mut indexed = Vec::new();
    for e in &w.eps {
        let EpKind::Workload(i) = e.kind else {
            continue;
        };
        let me = &w.model.endpoints[i];
        if !w.enforced(e) {
            continue;
        }
        if let Some(p) = prefix(me) {
            groups
                .entry((me.namespace.clone(), p))
                .or_default()
                .push((i, e));
        } else if let Some(job) = index_base(me) {
            indexed.push((i, e, job));
        }
    }
    // An Indexed Job joins every group of one of its index identifiers.
    for (i, e, job) in indexed {
        let ns = &w.model.endpoints[i].namespace;
        for ((g_ns, id), members) in groups.iter_mut() {
            if g_ns == ns && is_index_of(id, &job) {
                members.push((i, e));
            }
        }
    }
    let mut by_ns: BTreeMap<&str, Vec<&LoweredPolicy>> = BTreeMap::new();
    for p in &w.policies {
        by_ns.entry(p.namespace.as_str()).or_default().push(p);
    }
    for ((ns, p), members) in groups {
        if members.len() < 2 {
            continue;
        }
        let in_ns = by_ns.get(ns.as_str()).map_or(&[][..], Vec::as_slice);
        // Replicas of one workload in a dump have one label set: match each set once.
        let mut memo: BTreeMap<&netpol_manifest::model::Labels, Vec<usize>> = BTreeMap::new();
        let sel: Vec<Vec<usize>> = members
            .iter()
            .map(|(_, e)| {
                (memo.entry(&e.info.labels))
                    .or_insert_with(|| {
                        (in_ns.iter())
                            .filter(|p| w.selects(p, e))
                            .map(|p| p.index)
                            .collect()
                    })
                    .clone()
            })
            .collect();
        let upper: BTreeSet<usize> = sel.iter().flatten().copied().collect();
        for (k, &(i, _)) in members.iter().enumerate() {
            let me = &w.model.endpoints[i];
            let mut lower: BTreeSet<usize> = sel[k].iter().copied().collect();
            for (m, &(j, _)) in members.iter().enumerate() {
                if m != k && same_node(me, &w.model.endpoints[j]) {
                    lower.extend(sel[m].iter().copied());
                }
            }
            if lower.len() == sel[k].len() && upper.len() == sel[k].len() {
                continue;
            }
            // Only the siblings that bring a policy (a big ReplicaSet would be quadratic).
            let siblings = (members.iter().enumerate())
                .filter(|(m, _)| *m != k && sel[*m].iter().any(|pi| !sel[k].contains(pi)))
                .map(|(m, (_, q))| (q.info.id.clone(), sel[m].clone()))
                .collect();
            let range = IdentifierRange {
                identifier: format!("{p}@{ns}"),
                own: sel[k].clone(),
                lower: lower.into_iter().collect(),
                upper: upper.iter().copied().collect(),
                siblings,
            };
            // An Indexed Job in several groups: its pods take any of their ranges.
            out[i] = Some(match out[i].take() {
                Some(before) => widen(before, range),
                None => range,
            });
        }
    }
    out
}

/// The range of an endpoint whose pods have identifiers of two groups: the policies of
/// each pod's own node at least, and any policy of either group at most.
fn widen(a: IdentifierRange, b: IdentifierRange) -> IdentifierRange {
    let b_lower: BTreeSet<usize> = b.lower.into_iter().collect();
    let lower = a.lower.into_iter().filter(|p| b_lower.contains(p));
    let upper: BTreeSet<usize> = a.upper.into_iter().chain(b.upper).collect();
    let mut siblings = a.siblings;
    siblings.extend(b.siblings);
    IdentifierRange {
        identifier: format!("{} and {}", a.identifier, b.identifier),
        own: a.own,
        lower: lower.collect(),
        upper: upper.into_iter().collect(),
        siblings,
    }
}

/// V9: the identifier range of `e`, when sharing changes its policies.
pub(crate) fn shared<'w>(w: &'w World<'_>, e: &Ep) -> Option<&'w IdentifierRange> {
    let EpKind::Workload(i) = e.kind else {
        return None;
    };
    w.ident.get_or_init(|| compute(w))[i].as_ref()
}

/// V9 (S2 without sharing): the range `(lower, upper)` of the selecting-policy set of `e`.
pub(crate) fn range(w: &World<'_>, e: &Ep) -> (Vec<usize>, Vec<usize>) {
    if let Some(r) = shared(w, e) {
        return (r.lower.clone(), r.upper.clone());
    }
    let own: Vec<usize> = if w.enforced(e) {
        (w.policies.iter())
            .filter(|p| w.selects(p, e))
            .map(|p| p.index)
            .collect()
    } else {
        Vec::new()
    };
    (own.clone(), own)
}

/// V9 with S2/V1/V2: whether some set `S` with `lower ⊆ S ⊆ upper` leaves direction `dir`
/// open: `S = ∅` (not selected, standard mode), or a non-empty `S` of policies none of
/// which isolates `dir` (`isolates`: lists it, or under V2 has a rule that resolves).
/// Otherwise every `S` is isolated, and `S = upper` allows the most.
pub(crate) fn open_for_some_set(
    w: &World<'_>,
    lower: &[usize],
    upper: &[usize],
    dir: Direction,
    isolates: impl Fn(usize, Direction) -> bool,
) -> bool {
    if lower.is_empty() && !switches::strict_default_deny(&w.profile) {
        return true;
    }
    lower.iter().all(|&i| !isolates(i, dir))
        && (!lower.is_empty() || upper.iter().any(|&i| !isolates(i, dir)))
}

#[cfg(test)]
mod tests {
    use super::pod_identifier;

    #[test]
    fn identifier_as_the_agent_computes_it() {
        assert_eq!(pod_identifier("client-a"), "client");
        assert_eq!(pod_identifier("web"), "web");
        assert_eq!(pod_identifier("db-0"), "db");
        assert_eq!(pod_identifier("api-7d4b9c-x2x4z"), "api-7d4b9c");
        assert_eq!(pod_identifier("a.b-c"), "a_b");
        assert_eq!(pod_identifier("kafka-client"), "kafka");
    }
}
