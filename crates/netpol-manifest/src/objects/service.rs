//! Services.

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::meta::NameRule;
use super::{Cx, Item, Obj, ObjKey, Payload};
use crate::model as m;
use crate::validate;

impl Cx<'_> {
    pub(super) fn service(&mut self, obj: &Obj<'_>, value: &Value) {
        let Some(svc) = self.typed::<corev1::Service>(obj, value, "Service") else {
            return;
        };
        let Some((name, ns, name_span)) =
            self.identity(obj, &svc.metadata, "Service", true, NameRule::Dns1035)
        else {
            return;
        };
        let namespace = ns.unwrap_or_default();
        let spec = svc.spec.unwrap_or_default();
        if let Some(sel) = &spec.selector {
            self.labels(obj, sel, "/spec/selector");
        }
        let mut ports = Vec::new();
        for (i, p) in spec.ports.iter().flatten().enumerate() {
            let base = format!("/spec/ports/{i}");
            if !self.required(obj, &base, "port") {
                continue;
            }
            let port = validate::port_number(i64::from(p.port));
            if port.is_none() {
                self.port_range(obj, &format!("{base}/port"), i64::from(p.port));
            }
            let protocol = self.protocol(obj, p.protocol.as_deref(), &format!("{base}/protocol"));
            let target = match &p.target_port {
                None => port.map(m::PortRef::Number),
                Some(IntOrString::Int(n)) => {
                    let t = validate::port_number(i64::from(*n));
                    if t.is_none() {
                        self.port_range(obj, &format!("{base}/targetPort"), i64::from(*n));
                    }
                    t.map(m::PortRef::Number)
                }
                Some(IntOrString::String(s)) => self
                    .port_name(obj, s, &format!("{base}/targetPort"))
                    .then(|| m::PortRef::Name(s.clone())),
            };
            if let (Some(port), Some(protocol), Some(target_port)) = (port, protocol, target) {
                ports.push(m::ServicePort {
                    name: p.name.clone(),
                    port,
                    target_port,
                    protocol,
                });
            }
        }
        let headless = spec.cluster_ip.as_deref() == Some("None");
        let service = m::Service {
            namespace: namespace.clone(),
            name: name.clone(),
            // An empty selector is stored as none: the Service selects no pods.
            selector: spec.selector.filter(|s| !s.is_empty()),
            ports,
            cluster_ip: spec.cluster_ip.as_deref().and_then(|s| s.parse().ok()),
            headless,
            service_type: spec.type_.unwrap_or_else(|| "ClusterIP".to_owned()),
            span: obj.near(""),
        };
        self.out.items.push(Item {
            key: ObjKey {
                kind: "Service",
                namespace: Some(namespace),
                name,
            },
            name_span,
            payload: Payload::Service(service),
        });
    }
}
