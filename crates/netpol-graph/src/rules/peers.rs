//! S5 with S9/V6: whether a selector peer matches a pod or workload, decided once for the
//! graph's world and the SMT universe (each passes its own view of the endpoint).

use netpol_manifest::model::Labels;

use crate::ir::{NamespaceScope, PeerMatch};
use crate::profile::Profile;

use super::switches;

/// S5: whether `peer` selects a pod in namespace `ns` carrying `labels`. `ns_labels` gives
/// the namespace's labels, asked only for a namespace selector. Upstream a hostNetwork pod
/// is node traffic and never matches (S9); under V6 it does.
pub fn peer_selects<'a>(
    profile: &Profile,
    peer: &PeerMatch,
    ns: &str,
    ns_labels: impl FnOnce() -> &'a Labels,
    labels: &Labels,
    host_network: bool,
) -> bool {
    let PeerMatch::Pods {
        namespaces, pods, ..
    } = peer
    else {
        return false;
    };
    if host_network && !switches::host_network_peers(profile) {
        return false;
    }
    let in_scope = match namespaces {
        NamespaceScope::Own(own) => own == ns,
        NamespaceScope::Selector(s) => s.matches(ns_labels()),
    };
    in_scope && pods.as_ref().is_none_or(|s| s.matches(labels))
}
