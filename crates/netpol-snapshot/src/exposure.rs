//! Exposure of pods that do not exist yet: for each namespace, what a new pod that no
//! policy names by its labels could reach and be reached by. Derived honestly from the
//! graph: a copy of the model gets one probe pod per namespace (fresh labels, no ports, no
//! known IP or node), and the probe's row and column of that copy's matrix are kept. Only
//! selectors that match every pod of the namespace (`podSelector: {}`, `NotIn`,
//! `DoesNotExist`) and namespace selectors select or admit it, as they would a new pod.

use std::collections::BTreeMap;

use netpol_graph::{Analysis, Profile};
use netpol_manifest::Model;
use netpol_manifest::model::{Endpoint, EndpointKind, Labels};

/// The probe pod's name: parentheses make it a name no manifest can use.
const PROBE: &str = "(new-pod)";

/// How the snapshot writes the new pod of namespace `ns`.
pub fn new_pod(ns: &str) -> String {
    format!("new-pod@{ns}")
}

/// (from, to) to ports, one side a `new-pod@NS`, the other a real endpoint id.
pub(crate) fn exposure(model: &Model, profile: &Profile) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let span = (model.endpoints.first().map(|e| e.span))
        .or_else(|| model.services.first().map(|s| s.span))
        .or_else(|| model.policies.first().map(|p| p.span));
    let Some(span) = span else {
        return out;
    };
    let mut m = model.clone();
    for ns in &model.namespaces {
        m.endpoints.push(Endpoint::assumed(
            EndpointKind::Pod,
            &ns.name,
            PROBE,
            Labels::from([("netpol.dev/new-pod".to_owned(), "true".to_owned())]),
            Vec::new(),
            span,
        ));
    }
    m.endpoints.sort_by_key(Endpoint::id);
    let probe_ns = |id: &str| -> Option<String> {
        id.strip_suffix(PROBE)
            .and_then(|ns| ns.strip_suffix('/'))
            .map(new_pod)
    };
    let analysis = Analysis::new(&m, profile);
    let matrix = analysis.matrix();
    for c in matrix.connections() {
        let (pf, pt) = (probe_ns(&c.from.id), probe_ns(&c.to.id));
        let key = match (pf, pt) {
            (Some(ns), None) => (ns, c.to.id.clone()),
            (None, Some(ns)) => (c.from.id.clone(), ns),
            // Between real endpoints: the snapshot's own edges; between probes: not kept.
            _ => continue,
        };
        out.insert(key, c.ports.to_strings().join(","));
    }
    out
}
