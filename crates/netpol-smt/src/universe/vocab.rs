//! The label vocabulary of a run, and assertion peers as model selectors.

use std::collections::BTreeMap;

use netpol_manifest::model::Selector;

use crate::config::{LabelSelector, PeerSpec};

/// Label keys and values (plus "any other value", the last index) a query can distinguish.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vocab {
    pub(crate) keys: BTreeMap<String, Vec<String>>,
}

impl Vocab {
    pub(super) fn add_selector(&mut self, s: &Selector) {
        for r in &s.requirements {
            self.keys
                .entry(r.key.clone())
                .or_default()
                .extend(r.values.iter().cloned());
        }
    }

    pub(super) fn add_label_selector(&mut self, s: &LabelSelector) {
        for (k, v) in &s.match_labels {
            self.keys.entry(k.clone()).or_default().push(v.clone());
        }
        for r in &s.match_expressions {
            self.keys
                .entry(r.key.clone())
                .or_default()
                .extend(r.values.iter().cloned());
        }
    }

    pub(super) fn finish(&mut self) {
        for v in self.keys.values_mut() {
            v.sort();
            v.dedup();
        }
    }

    /// The value index of `v` under `key` (the "other" index when not mentioned).
    pub(crate) fn index(&self, key: &str, v: &str) -> i64 {
        match self.keys.get(key) {
            Some(vals) => vals
                .binary_search_by(|x| x.as_str().cmp(v))
                .unwrap_or(vals.len()) as i64,
            None => 0,
        }
    }

    /// A concrete value for index `i` of `key`: the mentioned value, or a fresh one.
    pub(crate) fn value(&self, key: &str, i: i64) -> String {
        let vals = self.keys.get(key).map(Vec::as_slice).unwrap_or(&[]);
        match usize::try_from(i).ok().and_then(|i| vals.get(i)) {
            Some(v) => v.clone(),
            None => {
                let mut s = "other".to_owned();
                while vals.binary_search(&s).is_ok() {
                    s.push('-');
                    s.push('x');
                }
                s
            }
        }
    }
}

/// Every peer an assertion mentions.
pub(crate) fn assertion_peers(a: &crate::config::Assertion) -> Vec<&PeerSpec> {
    let mut v = Vec::new();
    if let Some(p) = a.deny.as_ref().or(a.allow.as_ref()) {
        v.push(&p.from);
        v.push(&p.to);
    }
    if let Some(o) = &a.only {
        v.push(&o.to);
        v.extend(o.from.iter());
    }
    if let Some(i) = &a.isolated {
        v.push(&i.pods);
    }
    v
}
