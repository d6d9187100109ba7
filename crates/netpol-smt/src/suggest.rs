//! Names that are not in the manifests: an assertion's `workload:` or `pod:` reference
//! that resolves to nothing gets the closest existing name ("did you mean"), so the
//! verdict says what is wrong instead of reading like a solver limit.

use netpol_diag::Code;
use netpol_manifest::Model;
use netpol_manifest::model::EndpointKind;

use crate::config::ParsedConfig;
use crate::universe::assertion_peers;
use crate::{Outcome, Verified};

/// The first word of an unknown-reference verdict's reason (`no workload …`, `no pod …`).
const PREFIXES: [&str; 2] = ["no workload ", "no pod "];

/// Whether an `unknown` reason is a name that is not in the manifests (not a solver limit).
pub(crate) fn is_unknown_reference(reason: &str) -> bool {
    PREFIXES.iter().any(|p| reason.starts_with(p))
}

/// Rewrites the verdicts and `unknown-reference` diagnostics of [`crate::verify`]'s
/// assertions that name a workload or pod the manifests do not have: "no workload
/// shop/apii; did you mean shop/api?". Call it before reporting the results.
pub fn name_unknown_references(model: &Model, config: &ParsedConfig, out: &mut Verified) {
    for (a, result) in config.verification.assertions.iter().zip(&mut out.results) {
        let Outcome::Unknown(reason) = &result.outcome else {
            continue;
        };
        let missing = assertion_peers(a).into_iter().find_map(|p| {
            let workload = p.workload.as_deref().filter(|w| !workload_exists(model, w));
            let pod = p.pod.as_deref().filter(|w| !pod_exists(model, w));
            workload
                .map(|w| ("workload", w))
                .or(pod.map(|w| ("pod", w)))
        });
        let Some((what, name)) = missing else {
            continue;
        };
        // Only the verdict the query gives a name it cannot find.
        if *reason != format!("`{name}` is not in the manifests") {
            continue;
        }
        let guess = closest(model, name, what == "pod");
        result.outcome = Outcome::Unknown(match &guess {
            Some(g) => format!("no {what} {name}; did you mean {g}?"),
            None => format!("no {what} {name} in the manifests"),
        });
        let help = match &guess {
            Some(g) => format!("did you mean `{g}`? `netpol matrix` lists the endpoint ids"),
            None => {
                "name a pod or workload of the manifests; `netpol matrix` lists the ids".to_owned()
            }
        };
        let needle = format!("assertion `{}` names `{name}`", a.name);
        for d in &mut out.diagnostics {
            if d.code == Code::UnknownReference && d.message.starts_with(&needle) {
                d.help = Some(help.clone());
            }
        }
    }
}

fn workload_exists(model: &Model, r: &str) -> bool {
    let mut short = model
        .endpoints
        .iter()
        .map(|e| e.id())
        .filter(|id| id.split_once('[').is_some_and(|(b, _)| b == r));
    model.endpoints.iter().any(|e| e.id() == r)
        || (short.next().is_some() && short.next().is_none())
}

fn pod_exists(model: &Model, r: &str) -> bool {
    model
        .endpoints
        .iter()
        .any(|e| e.kind == EndpointKind::Pod && e.id() == r)
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
