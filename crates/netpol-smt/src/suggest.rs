//! Names that are not in the manifests: an assertion's `workload:` or `pod:` reference
//! that resolves to nothing gets the closest existing name ("did you mean"), so the
//! verdict says what is wrong instead of reading like a solver limit.
//! The run (`run.rs`) calls it where the reference is found missing, so streamed verdict
//! lines already carry the suggestion.

use netpol_manifest::Model;
use netpol_manifest::model::EndpointKind;

/// The first word of an unknown-reference verdict's reason (`no workload …`, `no pod …`).
const PREFIXES: [&str; 2] = ["no workload ", "no pod "];

/// Whether an `unknown` reason is a name that is not in the manifests (not a solver limit).
pub(crate) fn is_unknown_reference(reason: &str) -> bool {
    PREFIXES.iter().any(|p| reason.starts_with(p))
}

/// The verdict reason and the diagnostic help for an assertion's `workload:` or `pod:`
/// reference (`what`) that names nothing in the manifests: "no workload shop/apii; did you
/// mean shop/api?".
pub(crate) fn unknown_reference(model: &Model, what: &str, name: &str) -> (String, String) {
    match closest(model, name, what == "pod") {
        Some(g) => (
            format!("no {what} {name}; did you mean {g}?"),
            format!("did you mean `{g}`? `netpol matrix` lists the endpoint ids"),
        ),
        None => (
            format!("no {what} {name} in the manifests"),
            "name a pod or workload of the manifests; `netpol matrix` lists the ids".to_owned(),
        ),
    }
}

/// The existing name closest to `name` (edit distance, at most a third of its length),
/// in the form the user wrote: `ns/name` unless they gave the kind.
fn closest(model: &Model, name: &str, pods_only: bool) -> Option<String> {
    let with_kind = name.contains('[');
    let candidates = model
        .endpoints
        .iter()
        .filter(|e| !pods_only || e.kind == EndpointKind::Pod)
        .map(|e| {
            let id = e.id();
            if with_kind {
                id
            } else {
                format!("{}/{}", e.namespace, e.name)
            }
        });
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| (strsim::levenshtein(name, &c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::is_unknown_reference;

    #[test]
    fn reasons_tell_names_from_limits() {
        assert!(is_unknown_reference(
            "no workload shop/apii; did you mean shop/api?"
        ));
        assert!(is_unknown_reference("no pod shop/x in the manifests"));
        assert!(!is_unknown_reference("the solver gave up (timeout)"));
    }
}
