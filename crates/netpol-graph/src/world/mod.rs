//! The endpoints (S8) and the per-endpoint facts both engines read: namespace labels,
//! addresses, node identity, selection by policies.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use netpol_diag::Diagnostic;
use netpol_manifest::Model;
use netpol_manifest::model::{ContainerPort, Endpoint, Labels, NAMESPACE_NAME_LABEL};

use crate::ip::{self, Block, Cover};
use crate::ir::{LoweredPolicy, NamespaceScope, PeerMatch};
use crate::profile::Profile;
use crate::rules::peers::peer_selects;
use crate::rules::{family, switches};

pub(crate) mod ep;
mod warnings;

pub use ep::{EndpointInfo, EndpointType, IdentifierRange};
pub(crate) use ep::{Ep, EpKind};

/// The workload a controller reference stands for: a ReplicaSet named
/// `<deployment>-<pod-template-hash>` stands for its Deployment.
fn owner_id(ns: &str, labels: &Labels, (kind, name): &(String, String)) -> String {
    if kind == "ReplicaSet"
        && let Some(hash) = labels.get("pod-template-hash")
        && let Some(deployment) = name
            .strip_suffix(hash.as_str())
            .and_then(|n| n.strip_suffix('-'))
            .filter(|n| !n.is_empty())
    {
        return format!("{ns}/{deployment}[Deployment]");
    }
    format!("{ns}/{name}[{kind}]")
}

/// Where a model endpoint's pods run, as far as the manifests and `cluster.nodes` tell.
enum Placement {
    /// On this configured node (index into `profile.nodes`).
    Node(usize),
    /// On a node that is not configured, by name when the manifest gives one.
    Elsewhere(Option<String>),
    /// Anywhere: a workload's replicas, or a pod not scheduled yet, may land on every
    /// configured node.
    Anywhere,
}

impl Placement {
    /// `spec.nodeName`, else the configured node whose IP is `status.hostIP` (a
    /// hostNetwork pod's `podIP` is its host's IP; kubectl dumps have both, hand-written
    /// manifests often one).
    fn of(e: &Endpoint, index: &NodeIndex<'_>) -> Placement {
        if let Some(n) = e.node_name.as_deref().and_then(|n| index.by_name.get(n)) {
            return Placement::Node(*n);
        }
        let host_ip = e.host_ip.or(e.pod_ip.filter(|_| e.host_network));
        if let Some(n) = host_ip.and_then(|ip| index.by_ip.get(&ip)) {
            return Placement::Node(*n);
        }
        if e.node_name.is_some() || host_ip.is_some() {
            return Placement::Elsewhere(e.node_name.clone());
        }
        Placement::Anywhere
    }
}

/// The configured nodes by name and by IP (indices into `profile.nodes`).
struct NodeIndex<'p> {
    by_name: BTreeMap<&'p str, usize>,
    by_ip: BTreeMap<IpAddr, usize>,
}

/// The model under one profile, with its endpoints.
#[derive(Debug)]
pub(crate) struct World<'m> {
    pub(crate) model: &'m Model,
    pub(crate) profile: Profile,
    pub(crate) policies: Vec<LoweredPolicy>,
    /// Sorted by id.
    pub(crate) eps: Vec<Ep>,
    ns_labels: BTreeMap<String, Labels>,
    empty_labels: Labels,
    /// V3 warnings.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// V5: per model Service, the endpoints backing it.
    pub(crate) backends: Vec<Vec<usize>>,
    /// V9, per model endpoint: filled on first use by `rules::ident` (the world does not
    /// import the rule).
    pub(crate) ident: std::sync::OnceLock<Vec<Option<IdentifierRange>>>,
    /// V7, per ingress rule (by address): filled on use by `rules::vpc::ingress_union_ports`,
    /// which walks every endpoint for a named port (V11 asks it once per row and peer).
    pub(crate) ingress_union:
        std::sync::Mutex<rustc_hash::FxHashMap<usize, Option<crate::PortSet>>>,
}

impl<'m> World<'m> {
    pub(crate) fn new(model: &'m Model, profile: &Profile) -> World<'m> {
        let policies = crate::ir::lower(model);
        let mut ns_labels: BTreeMap<String, Labels> = model
            .namespaces
            .iter()
            .map(|n| (n.name.clone(), n.labels.clone()))
            .collect();
        for e in &model.endpoints {
            ns_labels.entry(e.namespace.clone()).or_insert_with(|| {
                Labels::from([(NAMESPACE_NAME_LABEL.to_owned(), e.namespace.clone())])
            });
        }
        let mut eps = Vec::new();
        let index = NodeIndex {
            by_name: (profile.nodes.iter().enumerate())
                .map(|(i, n)| (n.name.as_str(), i))
                .collect(),
            by_ip: (profile.nodes.iter().enumerate())
                .map(|(i, n)| (n.ip, i))
                .collect(),
        };
        let all_nodes: Arc<[usize]> = (0..profile.nodes.len()).collect();
        for (i, e) in model.endpoints.iter().enumerate() {
            let placement = Placement::of(e, &index);
            let mut ip = crate::rules::switches::pod_ip(profile, e);
            if e.host_network {
                ip = ip.or(e.host_ip).or(match &placement {
                    Placement::Node(n) => Some(profile.nodes[*n].ip),
                    _ => None,
                });
            }
            let nodes: Arc<[usize]> = match &placement {
                Placement::Node(n) => Arc::from([*n]),
                Placement::Elsewhere(_) => Arc::from([]),
                Placement::Anywhere => Arc::clone(&all_nodes),
            };
            // A hostNetwork pod is not enforced; it carries its nodes' IPs instead.
            let (carries, runs_on) = if e.host_network {
                let mut names: Vec<String> = match placement {
                    Placement::Elsewhere(name) => name.into_iter().collect(),
                    _ => nodes
                        .iter()
                        .map(|&n| profile.nodes[n].name.clone())
                        .collect(),
                };
                names.sort();
                (names, Arc::from([]))
            } else {
                (Vec::new(), nodes)
            };
            eps.push(Ep {
                info: EndpointInfo {
                    id: e.id(),
                    kind: EndpointType::Workload(e.kind),
                    namespace: Some(e.namespace.clone()),
                    name: e.name.clone(),
                    labels: e.labels.clone(),
                    ip,
                    owner: (model.owners.get(&e.id()))
                        .map(|o| owner_id(&e.namespace, &e.labels, o)),
                    range: None,
                },
                kind: EpKind::Workload(i),
                host_network: e.host_network,
                carries,
                runs_on,
            });
        }
        for (i, n) in profile.nodes.iter().enumerate() {
            eps.push(Ep {
                info: EndpointInfo {
                    id: format!("node/{}", n.name),
                    kind: EndpointType::Node,
                    namespace: None,
                    name: n.name.clone(),
                    labels: Labels::new(),
                    ip: Some(n.ip),
                    owner: None,
                    range: None,
                },
                kind: EpKind::Node(i),
                host_network: false,
                carries: vec![n.name.clone()],
                runs_on: Arc::from([]),
            });
        }
        let mut nets = Vec::new();
        for p in &policies {
            for r in p.ingress.iter().chain(&p.egress) {
                for peer in r.peers.iter().flatten() {
                    if let PeerMatch::IpBlock { cidr, except, .. } = peer {
                        nets.push(*cidr);
                        nets.extend(except.iter().copied());
                        // V15: the keys the agent writes for excepts of the other family.
                        nets.extend(
                            (except.iter())
                                .filter_map(|x| family::except_key(profile, *x).ok())
                                .filter(|k| !except.contains(k)),
                        );
                    }
                }
            }
        }
        for iv in ip::partition(&nets) {
            let id = iv.to_string();
            eps.push(Ep {
                info: EndpointInfo {
                    id: id.clone(),
                    kind: EndpointType::External,
                    namespace: None,
                    name: id,
                    labels: Labels::new(),
                    ip: None,
                    owner: None,
                    range: Some(iv.bounds()),
                },
                kind: EpKind::External(iv),
                host_network: false,
                carries: Vec::new(),
                runs_on: Arc::from([]),
            });
        }
        if switches::cluster_ip_egress(profile) {
            for (i, s) in model.services.iter().enumerate() {
                if !switches::is_cluster_ip_service(s) {
                    continue;
                }
                eps.push(Ep {
                    info: EndpointInfo {
                        id: format!("{}/{}[Service]", s.namespace, s.name),
                        kind: EndpointType::Service,
                        namespace: Some(s.namespace.clone()),
                        name: s.name.clone(),
                        labels: s.selector.clone().unwrap_or_default(),
                        ip: s.cluster_ip,
                        owner: None,
                        range: None,
                    },
                    kind: EpKind::Service(i),
                    host_network: false,
                    carries: Vec::new(),
                    runs_on: Arc::from([]),
                });
            }
        }
        eps.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        let mut world = World {
            model,
            profile: profile.clone(),
            policies,
            eps,
            ns_labels,
            empty_labels: Labels::new(),
            diagnostics: Vec::new(),
            backends: Vec::new(),
            ident: std::sync::OnceLock::new(),
            ingress_union: std::sync::Mutex::default(),
        };
        world.backends = world.compute_backends();
        world.diagnostics = world.partial_cover_warnings();
        world
            .diagnostics
            .extend(warnings::unmodelled_policy_warnings(model));
        world
    }

    /// The warnings that need the whole world: V15's, after the release gaps that rules
    /// find in it (`gaps`, computed by the caller: the world does not call into the rules
    /// that read it).
    pub(crate) fn add_warnings(&mut self, gaps: Vec<Diagnostic>) {
        self.diagnostics.extend(gaps);
        let family = warnings::family_warnings(self);
        self.diagnostics.extend(family);
    }

    pub(crate) fn ns_labels(&self, ns: &str) -> &Labels {
        self.ns_labels.get(ns).unwrap_or(&self.empty_labels)
    }

    pub(crate) fn container_ports(&self, e: &Ep) -> &'m [ContainerPort] {
        match e.kind {
            EpKind::Workload(i) => &self.model.endpoints[i].ports,
            _ => &[],
        }
    }

    /// Whether policies are enforced at this endpoint: pods and workloads that are not
    /// hostNetwork (S9, V6). Externals, nodes and Services are never enforced.
    pub(crate) fn enforced(&self, e: &Ep) -> bool {
        e.is_pod() && !e.host_network
    }

    /// S2: whether the policy's subject selector picks this endpoint.
    pub(crate) fn selects(&self, p: &LoweredPolicy, e: &Ep) -> bool {
        self.enforced(e) && self.subject_matches(p, e)
    }

    /// The subject selector alone, hostNetwork pods included (for V7 ingress named ports).
    pub(crate) fn subject_matches(&self, p: &LoweredPolicy, e: &Ep) -> bool {
        e.is_pod()
            && e.info.namespace.as_deref() == Some(p.namespace.as_str())
            && p.subject.matches(&e.info.labels)
    }

    pub(crate) fn in_scope(&self, scope: &NamespaceScope, ns: &str) -> bool {
        match scope {
            NamespaceScope::Own(own) => own == ns,
            NamespaceScope::Selector(s) => s.matches(self.ns_labels(ns)),
        }
    }

    /// S5: a selector peer matches a pod or workload directly. Upstream, hostNetwork pods
    /// are node traffic and never match (S9); under V6 they do.
    pub(crate) fn direct_match(&self, peer: &PeerMatch, e: &Ep) -> bool {
        let (true, Some(ns)) = (e.is_pod(), e.info.namespace.as_deref()) else {
            return false;
        };
        let ns_labels = || self.ns_labels(ns);
        peer_selects(
            &self.profile,
            peer,
            ns,
            ns_labels,
            &e.info.labels,
            e.host_network,
        )
    }

    /// S6 and V3: whether an ipBlock matches an endpoint (not a Service).
    pub(crate) fn ipblock_matches(&self, block: &Block, e: &Ep) -> bool {
        match e.kind {
            EpKind::External(iv) => block.cover(&iv) == Cover::Full,
            EpKind::Service(_) => false,
            EpKind::Workload(_)
                if !e.host_network && !switches::ipblocks_match_pods(&self.profile) =>
            {
                false
            }
            EpKind::Node(_) | EpKind::Workload(_) => match e.info.ip {
                Some(ip) => block.contains_ip(ip),
                // A hostNetwork workload has its nodes' IPs (a DaemonSet: every node's).
                None if e.host_network => self.carried_ips(e).any(|ip| block.contains_ip(ip)),
                None => switches::ipblock_matches_workload(&self.profile, block, e),
            },
        }
    }

    /// The primary IPs of the configured nodes whose IP `e`'s traffic may carry.
    pub(crate) fn carried_ips<'a>(&'a self, e: &'a Ep) -> impl Iterator<Item = IpAddr> + 'a {
        self.profile
            .nodes
            .iter()
            .filter(|n| e.carries.contains(&n.name))
            .map(|n| n.ip)
    }

    /// V5: the endpoints that back each Service: pods and workloads of its namespace whose
    /// labels contain its `spec.selector` (none for a selectorless Service).
    fn compute_backends(&self) -> Vec<Vec<usize>> {
        let mut by_ns: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.eps.iter().enumerate() {
            if let (true, Some(ns)) = (e.is_pod(), e.info.namespace.as_deref()) {
                by_ns.entry(ns).or_default().push(i);
            }
        }
        self.model
            .services
            .iter()
            .map(|svc| {
                let Some(sel) = &svc.selector else {
                    return Vec::new();
                };
                by_ns
                    .get(svc.namespace.as_str())
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&i| {
                        let labels = &self.eps[i].info.labels;
                        sel.iter().all(|(k, v)| labels.get(k) == Some(v))
                    })
                    .collect()
            })
            .collect()
    }

    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        self.eps
            .binary_search_by(|e| e.info.id.as_str().cmp(id))
            .ok()
    }
}
