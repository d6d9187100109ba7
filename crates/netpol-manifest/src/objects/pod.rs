//! Pods and workloads: endpoints, their pod templates and container ports.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::apps::v1 as appsv1;
use k8s_openapi::api::batch::v1 as batchv1;
use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use netpol_diag::{Code, Diagnostic, Severity};
use serde_json::Value;

use super::meta::NameRule;
use super::{Cx, Item, Obj, ObjKey, Payload, controller};
use crate::model as m;
use crate::validate;

/// The annotation in which VPC CNI's IPAM records the address it gave a pod.
const POD_IPS_ANNOTATION: &str = "vpc.amazonaws.com/pod-ips";

impl Cx<'_> {
    pub(super) fn pod(&mut self, obj: &Obj<'_>, value: &Value) {
        let Some(pod) = self.typed::<corev1::Pod>(obj, value, "Pod") else {
            return;
        };
        let Some((name, ns, name_span)) =
            self.identity(obj, &pod.metadata, "Pod", true, NameRule::Subdomain)
        else {
            return;
        };
        let namespace = ns.unwrap_or_default();
        let spec = pod.spec.as_ref();
        let ports = spec.map_or_else(Vec::new, |s| self.container_ports(obj, s, "/spec"));
        let status = pod.status.as_ref();
        let owner = controller(&pod.metadata);
        // A finished pod has released its IP: it neither sends nor receives, and VPC CNI's
        // controller skips it when it resolves peers (vpc-cni-semantics.md §1.2 row 1). A
        // controlled one still stands for its workload, which runs new pods, so it stays
        // without the IP.
        let finished = matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        if let (true, None, Some(phase)) =
            (finished, &owner, status.and_then(|s| s.phase.as_deref()))
        {
            self.push(
                Diagnostic::new(
                    Code::PodNotRunning,
                    format!(
                        "Pod {namespace}/{name} has finished (phase {phase}); it is not an endpoint"
                    ),
                )
                .with_primary(obj.near("/status/phase"), "finished"),
            );
            return;
        }
        let pod_ip = self.address(
            obj,
            status.and_then(|s| s.pod_ip.as_deref()),
            "/status/podIP",
        );
        // V14: VPC CNI's IPAM writes the address it gave the pod here before the kubelet
        // reports it; the controller reads it when the status has none.
        let annotated_ip = match pod_ip {
            Some(_) => None,
            None => self.address(
                obj,
                (pod.metadata.annotations.as_ref())
                    .and_then(|a| a.get(POD_IPS_ANNOTATION))
                    .map(String::as_str),
                "/metadata/annotations/vpc.amazonaws.com~1pod-ips",
            ),
        };
        let ip = |s: Option<&String>| s.and_then(|s| s.parse::<IpAddr>().ok());
        let endpoint = m::Endpoint {
            kind: m::EndpointKind::Pod,
            namespace: namespace.clone(),
            name: name.clone(),
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            ports,
            host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
            pod_ip: pod_ip.filter(|_| !finished),
            annotated_ip: annotated_ip.filter(|_| !finished),
            host_ip: ip(status.and_then(|s| s.host_ip.as_ref())).filter(|_| !finished),
            node_name: spec.and_then(|s| s.node_name.clone()),
            indexed_completions: None,
            span: obj.near(""),
        };
        self.out.items.push(Item {
            key: ObjKey {
                kind: "Pod",
                namespace: Some(namespace),
                name,
            },
            name_span,
            payload: Payload::Endpoint { endpoint, owner },
        });
    }

    pub(super) fn workload(&mut self, obj: &Obj<'_>, value: &Value, kind: m::EndpointKind) {
        use m::EndpointKind as E;
        let k = kind.as_str();
        let mut indexed = None;
        let parsed: Option<(ObjectMeta, Option<corev1::PodTemplateSpec>, &str)> = match kind {
            E::Deployment => self
                .typed::<appsv1::Deployment>(obj, value, k)
                .map(|o| (o.metadata, Some(o.spec.template), "/spec/template")),
            E::StatefulSet => self
                .typed::<appsv1::StatefulSet>(obj, value, k)
                .map(|o| (o.metadata, Some(o.spec.template), "/spec/template")),
            E::DaemonSet => self
                .typed::<appsv1::DaemonSet>(obj, value, k)
                .map(|o| (o.metadata, Some(o.spec.template), "/spec/template")),
            E::ReplicaSet => self
                .typed::<appsv1::ReplicaSet>(obj, value, k)
                .map(|o| (o.metadata, o.spec.template, "/spec/template")),
            E::ReplicationController => self
                .typed::<corev1::ReplicationController>(obj, value, k)
                .map(|o| {
                    (
                        o.metadata,
                        o.spec.and_then(|s| s.template),
                        "/spec/template",
                    )
                }),
            E::Job => self.typed::<batchv1::Job>(obj, value, k).map(|o| {
                indexed = o.spec.as_ref().and_then(|s| {
                    (s.completion_mode.as_deref() == Some("Indexed"))
                        .then(|| s.completions.and_then(|n| u32::try_from(n).ok()))
                        .flatten()
                });
                (o.metadata, o.spec.map(|s| s.template), "/spec/template")
            }),
            E::CronJob => self.typed::<batchv1::CronJob>(obj, value, k).map(|o| {
                (
                    o.metadata,
                    o.spec.job_template.spec.map(|s| s.template),
                    "/spec/jobTemplate/spec/template",
                )
            }),
            E::Pod => None,
        };
        let Some((meta, template, tpl)) = parsed else {
            return;
        };
        let Some((name, ns, name_span)) = self.identity(obj, &meta, k, true, NameRule::Subdomain)
        else {
            return;
        };
        let namespace = ns.unwrap_or_default();
        let template = template.unwrap_or_default();
        let labels = template
            .metadata
            .as_ref()
            .and_then(|md| md.labels.clone())
            .unwrap_or_default();
        self.labels(obj, &labels, &format!("{tpl}/metadata/labels"));
        let spec = template.spec.as_ref();
        let ports = spec.map_or_else(Vec::new, |s| {
            self.container_ports(obj, s, &format!("{tpl}/spec"))
        });
        let endpoint = m::Endpoint {
            kind,
            namespace: namespace.clone(),
            name: name.clone(),
            labels,
            ports,
            host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
            pod_ip: None,
            annotated_ip: None,
            host_ip: None,
            node_name: spec.and_then(|s| s.node_name.clone()),
            indexed_completions: indexed,
            span: obj.near(""),
        };
        self.out.items.push(Item {
            key: ObjKey {
                kind: k,
                namespace: Some(namespace),
                name,
            },
            name_span,
            payload: Payload::Endpoint {
                endpoint,
                owner: controller(&meta),
            },
        });
    }

    /// An address field of a bare Pod: none when absent or empty, a warning when it is not
    /// one IP address (the API server stores any string).
    fn address(&mut self, obj: &Obj<'_>, value: Option<&str>, at: &str) -> Option<IpAddr> {
        let value = value.filter(|v| !v.is_empty())?;
        let parsed = value.parse::<IpAddr>().ok();
        if parsed.is_none() {
            self.push(
                Diagnostic::new(
                    Code::InvalidPodIp,
                    format!(
                        "`{value}` is not an IP address; the pod's address is taken as unknown"
                    ),
                )
                .with_primary(obj.near(at), "not an IP address")
                .with_help("give one IPv4 or IPv6 address, as the kubelet and VPC CNI write it"),
            );
        }
        parsed
    }

    pub(super) fn container_ports(
        &mut self,
        obj: &Obj<'_>,
        spec: &corev1::PodSpec,
        at: &str,
    ) -> Vec<m::ContainerPort> {
        let mut out = Vec::new();
        // The first port of each name: (container index, name pointer, port).
        let mut first: BTreeMap<&str, (usize, String, i32)> = BTreeMap::new();
        for (ci, c) in spec.containers.iter().enumerate() {
            for (pi, p) in c.ports.iter().flatten().enumerate() {
                let base = format!("{at}/containers/{ci}/ports/{pi}");
                if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
                    let ptr = format!("{base}/name");
                    match first.get(name) {
                        Some((fci, fptr, fport)) => {
                            let earlier = &spec.containers[*fci].name;
                            self.duplicate_port_name(
                                obj,
                                name,
                                (&ptr, *fci == ci),
                                (fptr, earlier, *fport),
                            );
                        }
                        None => {
                            first.insert(name, (ci, ptr, p.container_port));
                        }
                    }
                }
                if !self.required(obj, &base, "containerPort") {
                    continue;
                }
                let mut ok = true;
                let port = validate::port_number(i64::from(p.container_port));
                if port.is_none() {
                    ok = false;
                    self.port_range(
                        obj,
                        &format!("{base}/containerPort"),
                        i64::from(p.container_port),
                    );
                }
                let protocol =
                    self.protocol(obj, p.protocol.as_deref(), &format!("{base}/protocol"));
                if let Some(name) = &p.name
                    && !self.port_name(obj, name, &format!("{base}/name"))
                {
                    ok = false;
                }
                if let (true, Some(port), Some(protocol)) = (ok, port, protocol) {
                    out.push(m::ContainerPort {
                        name: p.name.clone(),
                        port,
                        protocol,
                    });
                }
            }
        }
        out
    }

    /// A container port name used twice in a pod: an error within one container (the API
    /// server rejects it), a warning across containers, where a Service targetPort resolves
    /// to the first and a NetworkPolicy named port to every port of that name.
    fn duplicate_port_name(
        &mut self,
        obj: &Obj<'_>,
        name: &str,
        (ptr, same_container): (&str, bool),
        (first_ptr, first_container, first_port): (&str, &str, i32),
    ) {
        let d = if same_container {
            Diagnostic::new(
                Code::DuplicatePortName,
                format!("container `{first_container}` names two ports `{name}`"),
            )
            .with_severity(Severity::Error)
            .with_help("port names must be unique within a container; rename or remove one")
            .with_note("the API server rejects the object")
        } else {
            Diagnostic::new(
                Code::DuplicatePortName,
                format!("port name `{name}` is also used by container `{first_container}`"),
            )
            .with_help("rename one of the ports so that the name means one port")
            .with_note(format!(
                "a Service targetPort `{name}` resolves to the first, port {first_port} of container `{first_container}`; a NetworkPolicy port `{name}` matches every port of that name"
            ))
        };
        self.push(
            d.with_primary(obj.near(ptr), "duplicate name")
                .with_secondary(obj.near(first_ptr), "first used here"),
        );
    }

    pub(super) fn port_range(&mut self, obj: &Obj<'_>, ptr: &str, n: i64) {
        self.push(
            Diagnostic::new(Code::PortOutOfRange, format!("port {n} is outside 1-65535"))
                .with_primary(obj.near(ptr), "out of range")
                .with_help("use a port number from 1 to 65535"),
        );
    }

    /// Checks a port name; false (and a diagnostic) when invalid.
    pub(super) fn port_name(&mut self, obj: &Obj<'_>, name: &str, ptr: &str) -> bool {
        match validate::port_name(name) {
            Ok(()) => true,
            Err(why) => {
                let help = if name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() {
                    "a quoted number is a port *name*; write the number unquoted".to_owned()
                } else {
                    "port names are IANA service names: at most 15 of [a-z0-9-], with a letter, no leading, trailing or double '-'".to_owned()
                };
                self.push(
                    Diagnostic::new(
                        Code::InvalidPortName,
                        format!("port name `{name}` is invalid: it {why}"),
                    )
                    .with_primary(obj.near(ptr), "invalid port name")
                    .with_help(help),
                );
                false
            }
        }
    }

    /// Parses a protocol, TCP when absent; `None` (and a diagnostic) when invalid.
    pub(super) fn protocol(
        &mut self,
        obj: &Obj<'_>,
        p: Option<&str>,
        ptr: &str,
    ) -> Option<m::Protocol> {
        let Some(p) = p else {
            return Some(m::Protocol::Tcp);
        };
        let parsed = m::Protocol::parse(p);
        if parsed.is_none() {
            let help = match m::Protocol::parse(&p.to_ascii_uppercase()) {
                Some(up) => format!("protocols are case-sensitive: write `{up}`"),
                None => "use TCP, UDP or SCTP".to_owned(),
            };
            self.push(
                Diagnostic::new(
                    Code::InvalidProtocol,
                    format!("protocol `{p}` is not supported"),
                )
                .with_primary(obj.near(ptr), "unsupported protocol")
                .with_help(help),
            );
        }
        parsed
    }
}
