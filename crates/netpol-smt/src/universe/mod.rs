//! The concrete facts every query reads, computed once per `verify` run with plain loops:
//! namespaces, existing endpoints, the policy IR grouped by namespace, the label and port
//! vocabulary, and the VPC CNI facts that depend only on the existing endpoints (V2 rule
//! resolution, V7 ingress named-port unions).

mod family;
mod vocab;

pub(crate) use family::family_name;
pub(crate) use vocab::{Vocab, assertion_peers};

use family::first_other_family;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use netpol_graph::ir::{LoweredPolicy, NamespaceScope, PeerMatch, PortSpec};
use netpol_graph::{IdentifierRange, PortSet, Profile};
use netpol_manifest::Model;
use netpol_manifest::model::{
    ContainerPort, Direction, EndpointKind, Labels, NAMESPACE_NAME_LABEL, PortRef, Protocol,
    ServicePort,
};

use crate::config::Verification;

/// One existing pod or workload.
#[derive(Clone, Debug)]
pub(crate) struct Ex {
    pub(crate) id: String,
    pub(crate) kind: EndpointKind,
    pub(crate) ns: usize,
    pub(crate) labels: Labels,
    pub(crate) ports: Vec<ContainerPort>,
    /// A known address of the cluster's family (bare Pods with `status.podIP`, hostNetwork
    /// pods' node IP).
    pub(crate) ip: Option<IpAddr>,
    /// V3: a workload whose replicas take some IP of the pod CIDRs.
    pub(crate) symbolic_ip: bool,
    pub(crate) host_network: bool,
    /// V4/V6: indices into `Universe::node_keys` of the nodes whose IP this hostNetwork
    /// endpoint's traffic may carry (the nodes its pods run on), sorted.
    pub(crate) carries: Vec<usize>,
    /// S10/V4: indices into `Universe::node_keys` of the configured nodes an enforced pod
    /// may run on, sorted; empty when it runs on a node netpol does not know.
    pub(crate) runs_on: Vec<usize>,
}

/// V5: a ClusterIP Service that some egress rule admits.
#[derive(Clone, Debug)]
pub(crate) struct Svc {
    pub(crate) id: String,
    pub(crate) ns: usize,
    /// `None`: selectorless, so no backend.
    pub(crate) selector: Option<Labels>,
    pub(crate) ports: Vec<ServicePort>,
    /// (access group, Service ports) as the matrix resolves them: what a `deny` or `only`
    /// under scope existing must take into account.
    pub(crate) access: Vec<Access>,
    /// Only what certainly reaches the ClusterIP (an ipBlock may cover part of the range an
    /// unknown ClusterIP comes from): what an `allow` may rely on.
    pub(crate) access_certain: Vec<Access>,
    /// `access` with named rule ports widened over future backends (scope any deny/only).
    pub(crate) access_widened: Vec<Access>,
    /// `access_certain` without what a pod created later could change (V10): what an
    /// `allow` under scope any may rely on.
    pub(crate) access_stable: Vec<Access>,
    /// V10: Service ports some rule admits only if the controller meets the right backend
    /// first (`caveats::unknown_by_backend_order`).
    pub(crate) unsure: PortSet,
}

/// Everything the encoder needs, computed once.
#[derive(Debug)]
pub(crate) struct Universe {
    pub(crate) profile: Profile,
    /// (name, labels), sorted by name.
    pub(crate) namespaces: Vec<(String, Labels)>,
    pub(crate) eps: Vec<Ex>,
    pub(crate) policies: Vec<LoweredPolicy>,
    /// Policy indices per namespace index.
    pub(crate) policies_in: Vec<Vec<usize>>,
    pub(crate) pod_vocab: Vocab,
    pub(crate) ns_vocab: Vocab,
    /// Named ports the rules use, with their protocol.
    pub(crate) port_names: BTreeSet<(String, Protocol)>,
    /// V2: per policy, whether its (ingress, egress) rules resolve on the existing endpoints.
    pub(crate) resolves: Vec<[bool; 2]>,
    /// V2 under `scope: any`: per policy, whether a direction that does not resolve on the
    /// existing endpoints could resolve once a pod that does not exist yet matches a peer.
    pub(crate) may_resolve: Vec<[bool; 2]>,
    /// V9, per endpoint: its pod identifier's selecting-policy range, when sharing changes
    /// its set (from the graph's `rules/ident.rs`).
    pub(crate) ident: Vec<Option<IdentifierRange>>,
    /// V9: the free choices, (endpoint, policy) with the policy in `upper` but not `lower`.
    pub(crate) free: Vec<(usize, usize)>,
    /// V9, per policy: the class representatives it applies to only through their pod
    /// identifier, with whether certainly (in `lower`) or by a free choice.
    pub(crate) shared_by: Vec<Vec<(usize, bool)>>,
    /// V7: per policy and ingress rule, the union of the rule's ports over the existing pods
    /// the policy selects (`None` outside VPC CNI).
    pub(crate) ingress_union: Vec<Vec<Option<PortSet>>>,
    /// Known IPs of existing endpoints and configured nodes.
    pub(crate) known_ips: Vec<IpAddr>,
    /// The configured pod ranges of the cluster's family.
    pub(crate) pod_cidrs: Vec<IpNet>,
    /// V4/V6: node names (configured nodes and hostNetwork pods' nodes), sorted, with the
    /// primary IP of the configured ones.
    pub(crate) node_keys: Vec<(String, Option<IpAddr>)>,
    /// V6: existing hostNetwork endpoints with pods on nodes netpol can name.
    pub(crate) node_carriers: Vec<usize>,
    /// V5: the ClusterIP Services some egress rule admits.
    pub(crate) services: Vec<Svc>,
    /// V5: the (policy, egress rule) pairs of each access group of `Svc::access`.
    pub(crate) access_groups: Vec<Vec<(usize, usize)>>,
    /// Each endpoint's class representative: endpoints with the same projection onto the
    /// vocabulary (namespace, labels, named ports, IP, hostNetwork, bare Pod or not) behave
    /// the same in every query. Endpoints named by an assertion are their own class.
    pub(crate) rep: Vec<usize>,
    /// Members of each class, by representative (sorted).
    pub(crate) members: BTreeMap<usize, Vec<usize>>,
    /// `policy-not-modelled` warnings: policies the proofs ignore.
    pub(crate) unmodelled: Vec<netpol_diag::Diagnostic>,
    /// Why no verdict is exact, if so: the first address or range of the family the
    /// cluster does not use (the encoding's addresses are of the cluster's family), or an
    /// `other-ip-family` warning of the graph (`caveats::unknown_with_other_family`).
    pub(crate) other_family: Option<String>,
    /// `version-not-modelled` warnings: behaviours of the configured VPC CNI releases the
    /// input depends on and netpol does not model (`caveats::unknown_for_releases`).
    pub(crate) version_gaps: Vec<netpol_diag::Diagnostic>,
    /// Releases newer than the modelled ones: reported, taken to behave as those.
    pub(crate) newer_releases: Vec<netpol_diag::Diagnostic>,
    /// V13: per existing enforced endpoint (index into `eps`) and direction, the address
    /// keys with more than 24 port slots (`encode/slots.rs`).
    pub(crate) truncated: Vec<(usize, Direction, Vec<netpol_graph::TruncatedKey>)>,
    /// V11: where the longest-prefix table may decide (`encode/bleed.rs`).
    pub(crate) bleed: netpol_graph::ExceptBleed,
    /// V5 paths grouped into rule classes (`encode/services.rs`); `false` builds one
    /// disjunct per Service port and rule, the plain encoding the tests compare against.
    pub(crate) via_classes: bool,
}

impl Universe {
    pub(crate) fn new(model: &Model, profile: &Profile, config: &Verification) -> Universe {
        let analysis = netpol_graph::Analysis::new(model, profile);
        let policies = analysis.policies().to_vec();
        let mut ns_map: BTreeMap<String, Labels> = model
            .namespaces
            .iter()
            .map(|n| (n.name.clone(), n.labels.clone()))
            .collect();
        let implicit =
            |name: &str| Labels::from([(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned())]);
        for n in model
            .endpoints
            .iter()
            .map(|e| &e.namespace)
            .chain(policies.iter().map(|p| &p.namespace))
        {
            ns_map.entry(n.clone()).or_insert_with(|| implicit(n));
        }
        let namespaces: Vec<(String, Labels)> = ns_map.into_iter().collect();
        let ns_index = |n: &str| namespaces.binary_search_by(|x| x.0.as_str().cmp(n)).ok();
        let infos: BTreeMap<String, Option<IpAddr>> =
            analysis.endpoints().map(|e| (e.id.clone(), e.ip)).collect();
        // V3: workload pods take some address of the pod CIDRs, or any address when none is
        // configured.
        let symbolic = netpol_graph::switches::ipblocks_match_workloads(profile);
        let facts: BTreeMap<String, netpol_graph::NodeFacts> =
            analysis.node_facts().into_iter().collect();
        // Addresses of the other family have no place in the encoding (a caveat names them).
        let fam = profile.ip_family;
        let ours = |ip: Option<IpAddr>| ip.filter(|a| fam.holds(*a));
        let mut node_keys: BTreeMap<String, Option<IpAddr>> = profile
            .nodes
            .iter()
            .map(|n| (n.name.clone(), ours(Some(n.ip))))
            .collect();
        for f in facts.values() {
            for k in &f.carries {
                node_keys.entry(k.clone()).or_insert(None);
            }
        }
        let node_keys: Vec<(String, Option<IpAddr>)> = node_keys.into_iter().collect();
        let key_index = |name: &str| node_keys.binary_search_by(|k| k.0.as_str().cmp(name)).ok();
        let mut eps = Vec::new();
        for e in &model.endpoints {
            let id = e.id();
            let ip = ours(infos.get(&id).copied().flatten());
            let f = facts.get(&id).cloned().unwrap_or_default();
            let carries = f.carries.iter().filter_map(|n| key_index(n)).collect();
            let runs_on = f
                .runs_on
                .iter()
                .filter_map(|&n| profile.nodes.get(n))
                .filter_map(|n| key_index(&n.name))
                .collect();
            eps.push(Ex {
                ns: ns_index(&e.namespace).unwrap_or(0),
                kind: e.kind,
                labels: e.labels.clone(),
                ports: e.ports.clone(),
                symbolic_ip: ip.is_none() && symbolic && !e.host_network,
                ip,
                host_network: e.host_network,
                carries,
                runs_on,
                id,
            });
        }
        eps.sort_by(|a, b| a.id.cmp(&b.id));
        let ranges: BTreeMap<String, IdentifierRange> =
            analysis.identifier_ranges().into_iter().collect();
        let ident: Vec<Option<IdentifierRange>> =
            eps.iter().map(|e| ranges.get(&e.id).cloned()).collect();
        let node_carriers = (0..eps.len())
            .filter(|&j| eps[j].host_network && !eps[j].carries.is_empty())
            .collect();
        let mut policies_in = vec![Vec::new(); namespaces.len()];
        for (i, p) in policies.iter().enumerate() {
            policies_in[ns_index(&p.namespace).unwrap_or(0)].push(i);
        }
        let mut pod_vocab = Vocab::default();
        let mut ns_vocab = Vocab::default();
        let mut port_names = BTreeSet::new();
        for p in &policies {
            pod_vocab.add_selector(&p.subject);
            for r in p.ingress.iter().chain(&p.egress) {
                for peer in r.peers.iter().flatten() {
                    if let PeerMatch::Pods {
                        namespaces, pods, ..
                    } = peer
                    {
                        if let NamespaceScope::Selector(s) = namespaces {
                            ns_vocab.add_selector(s);
                        }
                        if let Some(s) = pods {
                            pod_vocab.add_selector(s);
                        }
                    }
                }
                for m in r.ports.iter().flatten() {
                    if let PortSpec::Named(n) = &m.port {
                        port_names.insert((n.clone(), m.protocol));
                    }
                }
            }
        }
        let (services, access_groups) = services(model, &analysis, &ns_index);
        for svc in &services {
            // Backends are matched on these labels and ports, so the vocabulary needs them.
            for (k, v) in svc.selector.iter().flatten() {
                pod_vocab.keys.entry(k.clone()).or_default().push(v.clone());
            }
            for sp in &svc.ports {
                if let PortRef::Name(n) = &sp.target_port {
                    port_names.insert((n.clone(), sp.protocol));
                }
            }
        }
        let names = ns_vocab
            .keys
            .entry(NAMESPACE_NAME_LABEL.to_owned())
            .or_default();
        names.extend(namespaces.iter().map(|n| n.0.clone()));
        for a in &config.assertions {
            for peer in assertion_peers(a) {
                if let Some(n) = &peer.namespace {
                    ns_vocab
                        .keys
                        .entry(NAMESPACE_NAME_LABEL.to_owned())
                        .or_default()
                        .push(n.clone());
                }
                if let Some(s) = &peer.namespace_selector {
                    ns_vocab.add_label_selector(s);
                }
                if let Some(s) = &peer.pod_selector {
                    pod_vocab.add_label_selector(s);
                }
            }
        }
        pod_vocab.finish();
        ns_vocab.finish();
        // Node IPs are never a pod's (nor an external range's: the node endpoint has one).
        let mut known_ips: Vec<IpAddr> = eps
            .iter()
            .filter_map(|e| e.ip)
            .chain(node_keys.iter().filter_map(|k| k.1))
            .collect();
        known_ips.sort_unstable();
        known_ips.dedup();
        let pod_cidrs = (profile.pod_cidrs.iter())
            .filter(|n| fam.holds(n.addr()))
            .copied()
            .collect();
        // And what the graph reports it cannot place either (`other-ip-family`: under VPC
        // CNI an `except` of the other family whose key the kernel refuses, V15).
        let other_family = (first_other_family(model, profile, &infos))
            .map(|what| {
                format!(
                    "{what}, but the cluster is {} (cluster.ipFamily) and verify models addresses of that family only (the matrix reads both)",
                    family_name(fam)
                )
            })
            .or_else(|| {
                (analysis.diagnostics().iter())
                    .find(|d| d.code == netpol_diag::Code::OtherIpFamily)
                    .map(|d| format!("{}; see the other-ip-family warning", d.message))
            });
        let of = |code| -> Vec<netpol_diag::Diagnostic> {
            (analysis.diagnostics().iter())
                .filter(|d| d.code == code)
                .cloned()
                .collect()
        };
        let unmodelled = of(netpol_diag::Code::PolicyNotModelled);
        let mut u = Universe {
            version_gaps: of(netpol_diag::Code::VersionNotModelled),
            newer_releases: of(netpol_diag::Code::VersionNewerThanModelled),
            other_family,
            unmodelled,
            profile: profile.clone(),
            namespaces,
            eps,
            policies,
            policies_in,
            pod_vocab,
            ns_vocab,
            port_names,
            resolves: Vec::new(),
            free: Vec::new(),
            shared_by: Vec::new(),
            ident,
            may_resolve: Vec::new(),
            ingress_union: analysis.ingress_unions(),
            known_ips,
            pod_cidrs,
            node_keys,
            node_carriers,
            access_groups,
            services,
            rep: Vec::new(),
            members: BTreeMap::new(),
            truncated: Vec::new(),
            bleed: analysis.except_bleed(),
            via_classes: true,
        };
        u.truncated = (analysis.truncated_slots().into_iter())
            .filter_map(|f| {
                let j = u
                    .eps
                    .binary_search_by(|e| e.id.as_str().cmp(&f.endpoint))
                    .ok()?;
                Some((j, f.direction, f.keys))
            })
            .collect();
        // V2 is decided by the graph's `rules/vpc.rs`; the encoding reads it as constants.
        u.resolves = analysis.rules_resolve();
        u.may_resolve = (0..u.policies.len())
            .map(|i| {
                Direction::BOTH.map(|d| {
                    let p = &u.policies[i];
                    p.rules(d)
                        .iter()
                        .any(|r| netpol_graph::rule_may_resolve(&u.profile, p, r, &u.namespaces))
                })
            })
            .collect();
        u.classes(config);
        u.shared_by = vec![Vec::new(); u.policies.len()];
        for j in (0..u.eps.len()).filter(|&j| u.rep[j] == j) {
            for r in u.ident[j].iter() {
                for &pi in r.upper.iter().filter(|pi| !r.own.contains(pi)) {
                    u.shared_by[pi].push((j, r.lower.contains(&pi)));
                }
            }
        }
        u.free = (0..u.eps.len())
            .filter(|&j| u.rep[j] == j)
            .flat_map(|j| {
                let free: Vec<usize> = (u.ident[j].iter())
                    .flat_map(|r| r.upper.iter().filter(|pi| !r.lower.contains(pi)))
                    .copied()
                    .collect();
                free.into_iter().map(move |pi| (j, pi))
            })
            .collect();
        u
    }

    fn classes(&mut self, config: &Verification) {
        let mut named = BTreeSet::new();
        for a in &config.assertions {
            for p in assertion_peers(a) {
                named.extend(p.workload.as_deref().and_then(|w| self.find_workload(w)));
                named.extend(p.pod.as_deref().and_then(|w| self.find_pod(w)));
            }
        }
        type Key = (
            usize,
            Vec<Option<i64>>,
            Vec<Option<u16>>,
            Option<IpAddr>,
            bool,
            bool,
            bool,
            Option<usize>,
            (Vec<usize>, Vec<usize>),
            Option<(Vec<usize>, Vec<usize>)>,
        );
        let mut seen: BTreeMap<Key, usize> = BTreeMap::new();
        let mut rep = Vec::with_capacity(self.eps.len());
        let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (j, e) in self.eps.iter().enumerate() {
            let labels = self
                .pod_vocab
                .keys
                .keys()
                .map(|k| e.labels.get(k).map(|v| self.pod_vocab.index(k, v)))
                .collect();
            let ports = self
                .port_names
                .iter()
                .map(|(n, p)| {
                    e.ports
                        .iter()
                        .find(|c| c.name.as_deref() == Some(n) && c.protocol == *p)
                        .map(|c| c.port)
                })
                .collect();
            let key = (
                e.ns,
                labels,
                ports,
                e.ip,
                e.symbolic_ip,
                e.host_network,
                e.kind == EndpointKind::Pod,
                named.contains(&j).then_some(j),
                (e.carries.clone(), e.runs_on.clone()),
                // V9: one selecting-policy range per class.
                self.ident[j]
                    .as_ref()
                    .map(|r| (r.lower.clone(), r.upper.clone())),
            );
            let r = *seen.entry(key).or_insert(j);
            rep.push(r);
            members.entry(r).or_default().push(j);
        }
        self.rep = rep;
        self.members = members;
    }

    /// Whether existing endpoint `j` can be left out of a scope-any side because a future
    /// pod with the same facts does everything it does: enforced, and its IP is symbolic
    /// or (except for `allow`, where an IP-less workload can fail an ipBlock rule) absent.
    pub(crate) fn subsumed(&self, j: usize, allow: bool) -> bool {
        let e = &self.eps[j];
        // V9: a future pod shares no identifier (docs/verify.md), so it does not stand for
        // one that does.
        !e.host_network && e.ip.is_none() && (e.symbolic_ip || !allow) && self.ident[j].is_none()
    }

    /// S5 on an existing endpoint (hostNetwork pods match only under V6).
    pub(crate) fn direct_match(&self, peer: &PeerMatch, e: &Ex) -> bool {
        let (ns, ns_labels) = &self.namespaces[e.ns];
        let p = &self.profile;
        netpol_graph::peer_selects(p, peer, ns, || ns_labels, &e.labels, e.host_network)
    }

    pub(crate) fn ns_index(&self, name: &str) -> Option<usize> {
        self.namespaces
            .binary_search_by(|x| x.0.as_str().cmp(name))
            .ok()
    }

    /// The endpoint a `workload:` reference names: an exact id, or `ns/name` of exactly one
    /// workload.
    pub(crate) fn find_workload(&self, r: &str) -> Option<usize> {
        if let Ok(i) = self.eps.binary_search_by(|e| e.id.as_str().cmp(r)) {
            return Some(i);
        }
        let mut hits = self
            .eps
            .iter()
            .enumerate()
            .filter(|(_, e)| e.id.split_once('[').is_some_and(|(b, _)| b == r));
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    /// The bare Pod `ns/name`.
    pub(crate) fn find_pod(&self, r: &str) -> Option<usize> {
        self.eps
            .binary_search_by(|e| e.id.as_str().cmp(r))
            .ok()
            .filter(|&i| self.eps[i].kind == EndpointKind::Pod)
    }
}

/// (index into `Universe::access_groups`, Service ports).
type Access = (usize, PortSet);

/// V5: the ClusterIP Services some egress rule admits, sorted by id, and the rules of each
/// access group (rules with the same peers and ports admit the same Services).
fn services(
    model: &Model,
    analysis: &netpol_graph::Analysis<'_>,
    ns_index: &dyn Fn(&str) -> Option<usize>,
) -> (Vec<Svc>, Vec<Vec<(usize, usize)>>) {
    let mut by_service: BTreeMap<usize, [Vec<Access>; 4]> = BTreeMap::new();
    let mut unsure: BTreeMap<usize, PortSet> = BTreeMap::new();
    let mut groups = Vec::new();
    for (g, group) in analysis.service_access_groups().into_iter().enumerate() {
        for (service, [ports, certain, widened, maybe, stable]) in group.services {
            unsure.entry(service).or_default().union_with(&maybe);
            let e = by_service.entry(service).or_default();
            if !ports.is_empty() {
                e[0].push((g, ports));
            }
            if !certain.is_empty() {
                e[1].push((g, certain));
            }
            e[2].push((g, widened));
            if !stable.is_empty() {
                e[3].push((g, stable));
            }
        }
        groups.push(group.rules);
    }
    let mut out: Vec<Svc> = by_service
        .into_iter()
        .filter_map(
            |(i, [access, access_certain, access_widened, access_stable])| {
                let s = &model.services[i];
                Some(Svc {
                    id: format!("{}/{}[Service]", s.namespace, s.name),
                    ns: ns_index(&s.namespace)?,
                    selector: s.selector.clone(),
                    ports: s.ports.clone(),
                    access,
                    access_certain,
                    access_widened,
                    access_stable,
                    unsure: unsure.remove(&i).unwrap_or_default(),
                })
            },
        )
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    (out, groups)
}
