//! NetworkPolicies (rules, peers, ipBlocks, ports, selectors) and the cluster-scoped kinds.

use k8s_openapi::api::networking::v1 as netv1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netpol_diag::{Code, Diagnostic};
use serde_json::Value;

use super::meta::NameRule;
use super::{Cx, Item, Obj, ObjKey, Payload};
use crate::model as m;
use crate::validate;

impl Cx<'_> {
    pub(super) fn cluster(&mut self, obj: &Obj<'_>, value: &Value, kind: m::ClusterPolicyKind) {
        let meta = match value.get("metadata") {
            None => ObjectMeta::default(),
            Some(md) => {
                let wrapped = Obj {
                    doc: obj.doc,
                    base: obj.ptr("/metadata"),
                };
                match self.typed::<ObjectMeta>(&wrapped, md, kind.kind()) {
                    Some(md) => md,
                    None => return,
                }
            }
        };
        let namespaced = kind == m::ClusterPolicyKind::AwsApplicationNetworkPolicy;
        let Some((name, namespace, name_span)) =
            self.identity(obj, &meta, kind.kind(), namespaced, NameRule::Subdomain)
        else {
            return;
        };
        let key_kind = match kind {
            m::ClusterPolicyKind::AwsClusterNetworkPolicy => {
                "ClusterNetworkPolicy.networking.k8s.aws"
            }
            m::ClusterPolicyKind::AwsApplicationNetworkPolicy => "ApplicationNetworkPolicy",
            m::ClusterPolicyKind::AdminNetworkPolicy => "AdminNetworkPolicy",
            m::ClusterPolicyKind::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
            m::ClusterPolicyKind::ClusterNetworkPolicy => "ClusterNetworkPolicy",
        };
        self.out.items.push(Item {
            key: ObjKey {
                kind: key_kind,
                namespace: namespace.clone(),
                name: name.clone(),
            },
            name_span,
            payload: Payload::Cluster(m::ClusterPolicy {
                kind,
                api_version: kind.api_version().to_owned(),
                namespace,
                name,
                spec: value.get("spec").cloned().unwrap_or(Value::Null),
                span: obj.near(""),
            }),
        });
    }

    pub(super) fn network_policy(&mut self, obj: &Obj<'_>, value: &Value) {
        // An unknown field is an error too: the API server rejects the policy.
        let mark = self.mark();
        let Some(np) = self.typed::<netv1::NetworkPolicy>(obj, value, "NetworkPolicy") else {
            return;
        };
        let Some((name, ns, name_span)) = self.identity(
            obj,
            &np.metadata,
            "NetworkPolicy",
            true,
            NameRule::Subdomain,
        ) else {
            return;
        };
        let namespace = ns.unwrap_or_default();
        let spec = np.spec.unwrap_or_default();
        let pod_selector = match &spec.pod_selector {
            Some(sel) => self.selector(obj, sel, "/spec/podSelector"),
            None => m::Selector::default(),
        };
        let mut ingress = Vec::new();
        for (i, r) in spec.ingress.iter().flatten().enumerate() {
            let base = format!("/spec/ingress/{i}");
            ingress.push(self.rule(obj, &base, r.from.as_deref(), r.ports.as_deref(), "from"));
        }
        let mut egress = Vec::new();
        for (i, r) in spec.egress.iter().flatten().enumerate() {
            let base = format!("/spec/egress/{i}");
            egress.push(self.rule(obj, &base, r.to.as_deref(), r.ports.as_deref(), "to"));
        }
        let declared = spec.policy_types.as_ref().is_some_and(|t| !t.is_empty());
        let policy_types = if declared {
            let mut t = m::PolicyTypes::default();
            let mut seen: Vec<&str> = Vec::new();
            for (i, pt) in spec.policy_types.iter().flatten().enumerate() {
                let at = obj.near(&format!("/spec/policyTypes/{i}"));
                if seen.contains(&pt.as_str()) {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidPolicyType,
                            format!("policy type `{pt}` is listed twice"),
                        )
                        .with_primary(at, "duplicate")
                        .with_help("list each of Ingress and Egress at most once"),
                    );
                    continue;
                }
                seen.push(pt);
                match pt.as_str() {
                    "Ingress" => t.ingress = true,
                    "Egress" => t.egress = true,
                    other => {
                        let help = match other.to_ascii_lowercase().as_str() {
                            "ingress" => {
                                "policy types are case-sensitive: write `Ingress`".to_owned()
                            }
                            "egress" => {
                                "policy types are case-sensitive: write `Egress`".to_owned()
                            }
                            _ => "the only policy types are Ingress and Egress".to_owned(),
                        };
                        self.push(
                            Diagnostic::new(
                                Code::InvalidPolicyType,
                                format!("`{other}` is not a policy type"),
                            )
                            .with_primary(at, "not Ingress or Egress")
                            .with_help(help),
                        );
                    }
                }
            }
            t
        } else {
            m::PolicyTypes {
                ingress: true,
                egress: !egress.is_empty(),
            }
        };
        let policy = m::Policy {
            namespace: namespace.clone(),
            name: name.clone(),
            span: obj.near(""),
            pod_selector,
            policy_types,
            policy_types_declared: declared,
            policy_types_span: if declared {
                obj.span("/spec/policyTypes")
            } else {
                None
            },
            ingress,
            egress,
        };
        let valid = !self.errors_since(&mark);
        self.out.items.push(Item {
            key: ObjKey {
                kind: "NetworkPolicy",
                namespace: Some(namespace),
                name,
            },
            name_span,
            payload: Payload::Policy(valid.then_some(policy)),
        });
    }

    pub(super) fn rule(
        &mut self,
        obj: &Obj<'_>,
        base: &str,
        peers: Option<&[netv1::NetworkPolicyPeer]>,
        ports: Option<&[netv1::NetworkPolicyPort]>,
        field: &str,
    ) -> m::Rule {
        let mut out_peers = Vec::new();
        for (i, p) in peers.into_iter().flatten().enumerate() {
            let pp = format!("{base}/{field}/{i}");
            if let Some(peer) = self.peer(obj, &pp, p) {
                out_peers.push(peer);
            }
        }
        let mut out_ports = Vec::new();
        for (i, p) in ports.into_iter().flatten().enumerate() {
            let pp = format!("{base}/ports/{i}");
            if let Some(port) = self.policy_port(obj, &pp, p) {
                out_ports.push(port);
            }
        }
        m::Rule {
            span: obj.near(base),
            peers: out_peers,
            ports: out_ports,
        }
    }

    pub(super) fn peer(
        &mut self,
        obj: &Obj<'_>,
        at: &str,
        p: &netv1::NetworkPolicyPeer,
    ) -> Option<m::Peer> {
        let span = obj.near(at);
        let has_sel = p.pod_selector.is_some() || p.namespace_selector.is_some();
        match (&p.ip_block, has_sel) {
            (None, false) => {
                self.push(
                    Diagnostic::new(Code::EmptyPeer, "this peer sets none of podSelector, namespaceSelector and ipBlock")
                        .with_primary(span, "empty peer")
                        .with_help("to allow every pod of the namespace write `podSelector: {}`; to allow everything, leave out the whole from/to list"),
                );
                None
            }
            (Some(_), true) => {
                let sel = if p.pod_selector.is_some() {
                    "podSelector"
                } else {
                    "namespaceSelector"
                };
                let sel_at = format!("{at}/{sel}");
                let mut d = Diagnostic::new(
                    Code::PeerIpBlockWithSelector,
                    format!("this peer sets ipBlock together with {sel}"),
                )
                .with_primary(
                    obj.key_span(&sel_at).unwrap_or(span),
                    "a selector next to ipBlock",
                );
                if let Some(k) = obj.key_span(&format!("{at}/ipBlock")) {
                    d = d.with_secondary(k, "ipBlock");
                }
                self.push(d.with_help("split them into two list entries (`- ipBlock: ...` and `- podSelector: ...`); entries are ORed"));
                None
            }
            (Some(b), false) => self
                .ip_block(obj, &format!("{at}/ipBlock"), b)
                .map(m::Peer::IpBlock),
            (None, true) => {
                let namespace_selector = p
                    .namespace_selector
                    .as_ref()
                    .map(|s| self.selector(obj, s, &format!("{at}/namespaceSelector")));
                let pod_selector = p
                    .pod_selector
                    .as_ref()
                    .map(|s| self.selector(obj, s, &format!("{at}/podSelector")));
                Some(m::Peer::Pods {
                    namespace_selector,
                    pod_selector,
                    span,
                })
            }
        }
    }

    pub(super) fn ip_block(
        &mut self,
        obj: &Obj<'_>,
        at: &str,
        b: &netv1::IPBlock,
    ) -> Option<m::IpBlock> {
        let cidr_ptr = format!("{at}/cidr");
        if obj.span(&cidr_ptr).is_none() {
            self.push(
                Diagnostic::new(
                    Code::SchemaError,
                    "this ipBlock has no `cidr`, a required field",
                )
                .with_primary(obj.near(at), "`cidr` missing")
                .with_help("add `cidr:`, e.g. `cidr: 10.0.0.0/16`"),
            );
            return None;
        }
        let cidr = self.cidr(obj, &b.cidr, &cidr_ptr)?;
        let mut except = Vec::new();
        let mut ok = true;
        for (i, e) in b.except.iter().flatten().enumerate() {
            let ptr = format!("{at}/except/{i}");
            let Some(net) = self.cidr(obj, e, &ptr) else {
                ok = false;
                continue;
            };
            let inside = match (cidr, net) {
                (ipnet::IpNet::V4(c), ipnet::IpNet::V4(n)) => {
                    c.contains(&n) && n.prefix_len() > c.prefix_len()
                }
                (ipnet::IpNet::V6(c), ipnet::IpNet::V6(n)) => {
                    c.contains(&n) && n.prefix_len() > c.prefix_len()
                }
                _ => false,
            };
            if !inside {
                ok = false;
                let why = if cidr.addr().is_ipv4() != net.addr().is_ipv4() {
                    "is a different IP family from"
                } else if net == cidr {
                    "is equal to, not strictly inside,"
                } else {
                    "is not strictly inside"
                };
                self.push(
                    Diagnostic::new(Code::ExceptOutsideCidr, format!("except `{net}` {why} the cidr `{cidr}`"))
                        .with_primary(obj.near(&ptr), "not strictly inside the cidr")
                        .with_secondary(obj.near(&cidr_ptr), "the cidr")
                        .with_help("each except entry must be a smaller block inside cidr; remove it or fix the cidr"),
                );
                continue;
            }
            except.push(net);
        }
        let written = (b.cidr.split_once('/'))
            .and_then(|(a, _)| a.parse::<std::net::IpAddr>().ok())
            .filter(|a| *a != cidr.addr());
        ok.then(|| m::IpBlock {
            cidr,
            written,
            except,
            span: obj.near(at),
        })
    }

    pub(super) fn cidr(&mut self, obj: &Obj<'_>, s: &str, ptr: &str) -> Option<ipnet::IpNet> {
        match validate::cidr(s) {
            Err(why) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidCidr,
                        format!("`{s}` is not a valid CIDR: it {why}"),
                    )
                    .with_primary(obj.near(ptr), "invalid CIDR")
                    .with_help(
                        "write an address and a prefix length, e.g. 10.0.0.0/16 or fd00::/64",
                    ),
                );
                None
            }
            Ok(c) => {
                if !c.canonical {
                    self.push(
                        Diagnostic::new(
                            Code::NonCanonicalCidr,
                            format!("`{s}` has host bits set; it means `{}`", c.net),
                        )
                        .with_primary(obj.near(ptr), format!("read as {}", c.net))
                        .with_help(format!(
                            "write `{}`, or a longer prefix if you meant a smaller block",
                            c.net
                        )),
                    );
                }
                Some(c.net)
            }
        }
    }

    pub(super) fn policy_port(
        &mut self,
        obj: &Obj<'_>,
        at: &str,
        p: &netv1::NetworkPolicyPort,
    ) -> Option<m::PolicyPort> {
        let protocol = self.protocol(obj, p.protocol.as_deref(), &format!("{at}/protocol"));
        let port_ptr = format!("{at}/port");
        let end_ptr = format!("{at}/endPort");
        let mut ok = protocol.is_some();
        let port = match &p.port {
            None => None,
            Some(IntOrString::Int(n)) => match validate::port_number(i64::from(*n)) {
                Some(n) => Some(m::PortRef::Number(n)),
                None => {
                    self.port_range(obj, &port_ptr, i64::from(*n));
                    ok = false;
                    None
                }
            },
            Some(IntOrString::String(s)) => {
                if self.port_name(obj, s, &port_ptr) {
                    Some(m::PortRef::Name(s.clone()))
                } else {
                    ok = false;
                    None
                }
            }
        };
        let mut end_port = None;
        if let Some(end) = p.end_port {
            match (&p.port, &port) {
                (None, _) => {
                    ok = false;
                    self.push(
                        Diagnostic::new(
                            Code::EndPortWithNamedPort,
                            "endPort is set but port is not",
                        )
                        .with_primary(obj.near(&end_ptr), "endPort without port")
                        .with_help("set `port` to the first port of the range"),
                    );
                }
                (Some(IntOrString::String(name)), _) => {
                    ok = false;
                    self.push(
                        Diagnostic::new(
                            Code::EndPortWithNamedPort,
                            format!("endPort cannot be used with the named port `{name}`"),
                        )
                        .with_primary(obj.near(&end_ptr), "endPort with a named port")
                        .with_secondary(obj.near(&port_ptr), "named port")
                        .with_help("a range needs a numeric port; use numbers for both ends"),
                    );
                }
                (Some(IntOrString::Int(_)), Some(m::PortRef::Number(start))) => {
                    match validate::port_number(i64::from(end)) {
                        None => {
                            ok = false;
                            self.port_range(obj, &end_ptr, i64::from(end));
                        }
                        Some(e) if e < *start => {
                            ok = false;
                            self.push(
                                Diagnostic::new(
                                    Code::EndPortBeforePort,
                                    format!("endPort {e} is smaller than port {start}"),
                                )
                                .with_primary(obj.near(&end_ptr), "smaller than port")
                                .with_secondary(obj.near(&port_ptr), "port")
                                .with_help(
                                    "endPort must be greater than or equal to port; swap them",
                                ),
                            );
                        }
                        Some(e) => end_port = Some(e),
                    }
                }
                _ => {}
            }
        }
        let protocol = protocol?;
        ok.then(|| m::PolicyPort {
            protocol,
            port,
            end_port,
            span: obj.near(at),
        })
    }

    pub(super) fn selector(&mut self, obj: &Obj<'_>, sel: &LabelSelector, at: &str) -> m::Selector {
        let mut reqs = Vec::new();
        if let Some(ml) = &sel.match_labels {
            self.labels(obj, ml, &format!("{at}/matchLabels"));
            for (k, v) in ml {
                reqs.push(m::Requirement {
                    key: k.clone(),
                    operator: m::Operator::In,
                    values: vec![v.clone()],
                });
            }
        }
        for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
            let base = format!("{at}/matchExpressions/{i}");
            if let Err(why) = validate::qualified_name(&e.key) {
                self.push(
                    Diagnostic::new(Code::InvalidLabelKey, format!("label key `{}` is invalid: {why}", e.key))
                        .with_primary(obj.near(&format!("{base}/key")), "invalid key")
                        .with_help("a key is `name` or `prefix/name`: the name at most 63 of [A-Za-z0-9-_.], the prefix a DNS subdomain"),
                );
            }
            let values = e.values.clone().unwrap_or_default();
            let op = match e.operator.as_str() {
                "In" => Some(m::Operator::In),
                "NotIn" => Some(m::Operator::NotIn),
                "Exists" => Some(m::Operator::Exists),
                "DoesNotExist" => Some(m::Operator::DoesNotExist),
                other => {
                    let known = ["In", "NotIn", "Exists", "DoesNotExist"];
                    let help = known
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(other))
                        .map_or_else(
                            || "use In, NotIn, Exists or DoesNotExist".to_owned(),
                            |k| format!("operators are case-sensitive: write `{k}`"),
                        );
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSelectorOperator,
                            format!("`{other}` is not a selector operator"),
                        )
                        .with_primary(obj.near(&format!("{base}/operator")), "unknown operator")
                        .with_help(help),
                    );
                    None
                }
            };
            if let Some(op) = op {
                let needs_values = matches!(op, m::Operator::In | m::Operator::NotIn);
                if needs_values && values.is_empty() {
                    // Point at `values: []`, or at the operator when values is absent.
                    let at = obj
                        .span(&format!("{base}/values"))
                        .unwrap_or_else(|| obj.near(&format!("{base}/operator")));
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSelectorValues,
                            format!("operator {} needs at least one value", op.as_str()),
                        )
                        .with_primary(at, "no values")
                        .with_help("list the values to match, or use Exists / DoesNotExist"),
                    );
                } else if !needs_values && !values.is_empty() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSelectorValues,
                            format!("operator {} takes no values", op.as_str()),
                        )
                        .with_primary(obj.near(&format!("{base}/values")), "values not allowed")
                        .with_help("remove `values`, or use In / NotIn to match values"),
                    );
                }
                for (vi, v) in values.iter().enumerate() {
                    if let Err(why) = validate::label_value(v) {
                        self.push(
                            Diagnostic::new(Code::InvalidLabelValue, format!("label value `{v}` is invalid: it {why}"))
                                .with_primary(obj.near(&format!("{base}/values/{vi}")), "invalid value")
                                .with_help("a value is empty or at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric"),
                        );
                    }
                }
                let mut values = if needs_values { values } else { Vec::new() };
                values.sort();
                values.dedup();
                reqs.push(m::Requirement {
                    key: e.key.clone(),
                    operator: op,
                    values,
                });
            }
        }
        reqs.sort();
        reqs.dedup();
        m::Selector {
            requirements: reqs,
            span: obj.span(at),
        }
    }
}
