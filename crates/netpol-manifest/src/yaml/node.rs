//! The node arena a document is parsed into: what the event stream builds
//! (`events.rs`) and the JSON conversion reads (`convert.rs`, `resolve.rs`).

use std::borrow::Cow;
use std::cell::RefCell;

use saphyr_parser::{ScalarStyle, Tag};

pub(super) enum NodeKind<'a> {
    Scalar {
        /// Taken (moved into the value) when the document has no anchors, because then
        /// every node is converted exactly once.
        text: RefCell<Cow<'a, str>>,
        style: ScalarStyle,
        tag: Option<Cow<'a, Tag>>,
    },
    Seq(Vec<u32>),
    /// Keys and values alternating.
    Map(Vec<u32>),
    Alias(u32),
}

pub(super) struct Node<'a> {
    pub(super) kind: NodeKind<'a>,
    pub(super) start: usize,
    pub(super) end: usize,
    /// Flow collections end at their closing bracket; block ones at their last child.
    pub(super) flow: bool,
}
