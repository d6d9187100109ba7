//! Label variables over a finite vocabulary, and selectors over them.

use netpol_manifest::model::{Labels, Operator, Selector};
use z3::ast::{Bool, Int};

use crate::universe::Vocab;

/// Label variables over one vocabulary: per key, present and value index.
#[derive(Debug)]
pub(crate) struct LabelVars {
    pub(crate) vars: Vec<(String, Bool, Int)>,
}

impl LabelVars {
    pub(super) fn new(prefix: &str, vocab: &Vocab) -> LabelVars {
        LabelVars {
            vars: vocab
                .keys
                .keys()
                .enumerate()
                .map(|(i, k)| {
                    (
                        k.clone(),
                        Bool::new_const(format!("{prefix}.has{i}")),
                        Int::new_const(format!("{prefix}.val{i}")),
                    )
                })
                .collect(),
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&(String, Bool, Int)> {
        self.vars
            .binary_search_by(|(k, _, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.vars[i])
    }

    /// The variables equal these concrete labels.
    pub(super) fn fixed(&self, vocab: &Vocab, labels: &Labels) -> Bool {
        let mut parts = Vec::new();
        for (k, has, val) in &self.vars {
            match labels.get(k) {
                Some(v) => {
                    parts.push(has.clone());
                    parts.push(val.eq(Int::from_i64(vocab.index(k, v))));
                }
                None => parts.push(has.not()),
            }
        }
        Bool::and(&parts)
    }

    /// Values within the vocabulary (the last index is "any other value").
    pub(super) fn bounded(&self, vocab: &Vocab) -> Bool {
        let parts: Vec<Bool> = self
            .vars
            .iter()
            .map(|(k, _, val)| {
                let n = vocab.keys.get(k).map_or(0, Vec::len) as i64;
                Bool::and(&[val.ge(Int::from_i64(0)), val.le(Int::from_i64(n))])
            })
            .collect();
        Bool::and(&parts)
    }

    /// A selector over these labels. Keys outside the vocabulary never occur.
    pub(super) fn matches(&self, vocab: &Vocab, s: &Selector) -> Bool {
        let parts: Vec<Bool> = s
            .requirements
            .iter()
            .map(|r| {
                let Some((_, has, val)) = self.get(&r.key) else {
                    return Bool::from_bool(matches!(
                        r.operator,
                        Operator::NotIn | Operator::DoesNotExist
                    ));
                };
                let any_of = || {
                    let eqs: Vec<Bool> = r
                        .values
                        .iter()
                        .map(|v| val.eq(Int::from_i64(vocab.index(&r.key, v))))
                        .collect();
                    Bool::or(&eqs)
                };
                match r.operator {
                    Operator::In => Bool::and(&[has.clone(), any_of()]),
                    Operator::NotIn => Bool::or(&[has.not(), any_of().not()]),
                    Operator::Exists => has.clone(),
                    Operator::DoesNotExist => has.not(),
                }
            })
            .collect();
        Bool::and(&parts)
    }
}
