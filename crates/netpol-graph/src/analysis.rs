//! The reachability analysis: the entry point that ties the IR, the endpoints, the engine
//! and explain together.

use netpol_diag::Diagnostic;
use netpol_manifest::Model;
use netpol_manifest::model::Protocol;

use crate::explain::{self, Explanation};
use crate::ir::LoweredPolicy;
use crate::matrix::{Matrix, Semantics};
use crate::ports::PortSet;
use crate::profile::Profile;
use crate::world::{EndpointInfo, EndpointType, World};

/// A model analysed under one profile.
#[derive(Debug)]
pub struct Analysis<'m> {
    world: World<'m>,
}

impl<'m> Analysis<'m> {
    /// Lowers the model and lists the endpoints. Never fails; problems the semantics find
    /// (V3 partial pod-CIDR cover) are in [`Analysis::diagnostics`].
    pub fn new(model: &'m Model, profile: &Profile) -> Analysis<'m> {
        let mut world = World::new(model, profile);
        let gaps = crate::rules::versions::gaps(&world);
        world.add_warnings(gaps);
        Analysis { world }
    }

    pub fn profile(&self) -> &Profile {
        &self.world.profile
    }

    /// The policy IR, in model order ([`LoweredPolicy::index`] is the position).
    pub fn policies(&self) -> &[LoweredPolicy] {
        &self.world.policies
    }

    /// Every endpoint, sorted by id.
    pub fn endpoints(&self) -> impl Iterator<Item = &EndpointInfo> {
        self.world.eps.iter().map(|e| &e.info)
    }

    /// Warnings the semantics produce (`ipblock-partial-pod-cidr`).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.world.diagnostics
    }

    pub fn semantics(&self) -> Semantics {
        Semantics {
            cni: self.world.profile.cni,
            enforcing_mode: crate::rules::switches::effective_mode(&self.world.profile),
        }
    }

    /// V13: the address keys with more than 24 port slots, by endpoint and direction.
    pub fn truncated_slots(&self) -> Vec<crate::SlotFacts> {
        crate::facts::truncated_slots(&self.world)
    }

    /// V11: where the longest-prefix table may decide otherwise than the rules' union.
    pub fn except_bleed(&self) -> crate::ExceptBleed {
        crate::rules::cidr_facts::bleed_facts(&self.world)
    }

    /// V5 for other engines: which egress rules admit which Service ClusterIPs, on which
    /// Service ports (empty outside VPC CNI); rules with `to` and `ports` omitted are left
    /// out, since they admit every destination directly. See [`crate::ServiceAccess`].
    pub fn service_access(&self) -> Vec<crate::ServiceAccess> {
        crate::facts::service_access(&self.world)
    }

    /// [`Analysis::service_access`] grouped by rule peers and ports: linear in rules plus
    /// Services. See [`crate::ServiceAccessGroup`].
    pub fn service_access_groups(&self) -> Vec<crate::ServiceAccessGroup> {
        crate::facts::service_access_groups(&self.world)
    }

    /// V4/V6 for other engines: the node facts of every model endpoint, sorted by id.
    pub fn node_facts(&self) -> Vec<(String, crate::NodeFacts)> {
        crate::facts::node_facts(&self.world)
    }

    /// V7 for other engines: per policy (as [`Analysis::policies`]) and ingress rule, the
    /// ports the agent allows at every target (`None` when ports resolve per destination).
    pub fn ingress_unions(&self) -> Vec<Vec<Option<PortSet>>> {
        crate::facts::ingress_unions(&self.world)
    }

    /// V7/V11: the ports the agent gives the address entries of rule `rule` of `dir` of
    /// policy `policy` (in [`Analysis::policies`] order) at `endpoint` (by id); `None` when
    /// the rule is dropped there, or no such endpoint or rule exists.
    pub fn address_ports(
        &self,
        endpoint: &str,
        policy: usize,
        dir: netpol_manifest::model::Direction,
        rule: usize,
    ) -> Option<PortSet> {
        let at = &self.world.eps[self.world.find(endpoint)?];
        let p = self.world.policies.get(policy)?;
        let r = p.rules(dir).get(rule)?;
        crate::rules::cidr_keys::rule_cidr_ports(&self.world, p, r, at, dir)
    }

    /// V12/V15 (`shouldSkipRule`): whether the VPC CNI agent at `endpoint` (by id) skips an
    /// ipBlock whose network address is `addr`; its excepts still count (V11).
    pub fn agent_skips_block(&self, endpoint: &str, addr: std::net::IpAddr) -> bool {
        let at = self.world.find(endpoint).map(|i| &self.world.eps[i]);
        crate::rules::ipblocks::agent_skips(&self.world.profile, at, addr)
    }

    /// V2: per policy (in [`Analysis::policies`] order) and direction (ingress, egress),
    /// whether its rules resolve to at least one agent entry on the existing endpoints.
    pub fn rules_resolve(&self) -> Vec<[bool; 2]> {
        (self.world.policies.iter())
            .map(|p| {
                netpol_manifest::model::Direction::BOTH.map(|d| {
                    (p.rules(d).iter()).any(|r| crate::rules::vpc::rule_resolves(&self.world, p, r))
                })
            })
            .collect()
    }

    /// V9 for other engines: the endpoints (by id, sorted) whose selecting-policy set
    /// identifier sharing changes, with its range (empty outside VPC CNI).
    pub fn identifier_ranges(&self) -> Vec<(String, crate::IdentifierRange)> {
        (self.world.eps.iter())
            .filter_map(|e| {
                crate::rules::ident::shared(&self.world, e).map(|r| (e.info.id.clone(), r.clone()))
            })
            .collect()
    }

    /// The matrix, computed by the class-compressed engine.
    pub fn matrix(&self) -> Matrix {
        let g = crate::engine::connections(&self.world);
        let endpoints = self.endpoints().cloned().collect();
        let mut m = Matrix::from_groups(self.semantics(), endpoints, g.of, g.edges, g.ports);
        m.mark_uncertain(crate::facts::slot_marks(&self.world));
        m
    }

    /// Finds an endpoint by id, or by a workload id without its kind (`ns/name` for
    /// `ns/name[Deployment]`) when exactly one pod or workload fits.
    pub fn find_endpoint(&self, id: &str) -> Option<&EndpointInfo> {
        self.find(id).map(|i| &self.world.eps[i].info)
    }

    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        if let Some(i) = self.world.find(id) {
            return Some(i);
        }
        // `ns/api` means the workload, not the Service that usually shares its name.
        let mut hits = self.world.eps.iter().enumerate().filter(|(_, e)| {
            e.info.kind != EndpointType::Service
                && e.info
                    .id
                    .split_once('[')
                    .is_some_and(|(base, _)| base == id)
        });
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    /// Why `from` can or cannot reach `to` (optionally on one port): per direction the
    /// verdict, the responsible policies and rules, and the reasons. `None` when either
    /// id names no endpoint (or an ambiguous bare name).
    pub fn explain(
        &self,
        from: &str,
        to: &str,
        port: Option<(Protocol, u16)>,
    ) -> Option<Explanation> {
        let a = self.find(from)?;
        let b = self.find(to)?;
        Some(explain::explain(&self.world, a, b, port))
    }

    /// The matrix by the per-pair evaluator, for the tests (each endpoint its own group).
    #[cfg(test)]
    pub(crate) fn reference_matrix(&self) -> Matrix {
        let w = &self.world;
        let mut edges = Vec::new();
        for (i, a) in w.eps.iter().enumerate() {
            for (j, b) in w.eps.iter().enumerate() {
                let ports = if i == j {
                    crate::eval::replicas(w, a)
                } else {
                    crate::eval::pair(w, a, b)
                };
                if !ports.is_empty() {
                    edges.push((i as u32, j as u32, ports));
                }
            }
        }
        Matrix::from_pairs(self.semantics(), self.endpoints().cloned().collect(), edges)
    }

    /// What-if runs: whether leaving one policy or one rule out of the model changes any
    /// connection of the matrix, answered from this analysis's engine without a new matrix
    /// per removal (see [`crate::WhatIf::unchanged`]).
    pub fn what_if(&self) -> crate::WhatIf<'_, 'm> {
        crate::WhatIf::new(&self.world)
    }

    /// V11 for the `except-bleed` lint: per enforced pod and direction with an `except`,
    /// its longest-prefix table where V11 may decide (cheaper than [`Analysis::except_bleed`],
    /// which adds what `verify` needs).
    pub fn except_tables(&self) -> Vec<crate::ExceptTable> {
        crate::rules::cidr_facts::except_tables(&self.world)
    }

    /// What one direction of `at` (by id) admits toward or from `other` (by id): its
    /// egress toward `other`, or its ingress from it, as the per-pair evaluator decides
    /// it. `None` when either id names no endpoint.
    pub fn direction_ports(
        &self,
        at: &str,
        other: &str,
        dir: netpol_manifest::model::Direction,
    ) -> Option<PortSet> {
        let w = &self.world;
        let (a, b) = (&w.eps[w.find(at)?], &w.eps[w.find(other)?]);
        Some(match dir {
            netpol_manifest::model::Direction::Ingress => crate::eval::ingress(w, a, b).allowed,
            netpol_manifest::model::Direction::Egress => crate::eval::egress(w, a, b).allowed,
        })
    }

    /// V11: the Service ports `at`'s egress table leaves toward the ClusterIP of Service
    /// `service` (model index), when the graph knows them exactly (as
    /// [`crate::BleedAt::service_exact`]).
    pub fn service_ports_at(&self, at: &str, service: usize) -> Option<PortSet> {
        let w = &self.world;
        crate::rules::cidr_facts::service_ports_at(w, &w.eps[w.find(at)?], service)
    }
}
