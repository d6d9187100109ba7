//! Loads Kubernetes manifests offline with an exact byte span for every node, validates
//! them the way the API server does, and lowers them into the [`model`].
//!
//! Loading never fails on bad input: every problem becomes a [`Diagnostic`] and the rest
//! of the input still loads. Only the file system is touched here; nothing is printed.
//!
//! # Pipeline
//!
//! 1. **Read** ([`Source`]): files, folders walked recursively in sorted order (`.yaml`,
//!    `.yml`, `.json`; symlinks followed, loops reported), or bytes from stdin. Files over
//!    [`LoadOptions::max_file_bytes`] are refused with a diagnostic; UTF-16 (with a byte
//!    order mark) is transcoded, and a document holding invalid UTF-8 is refused.
//! 2. **Parse** ([`yaml`]): each file, on its own thread, becomes documents: a
//!    `serde_json::Value` plus a JSON-pointer → span index, read the YAML 1.1 way
//!    Kubernetes reads YAML. A broken document does not stop the others.
//! 3. **Type and validate**: each object (including `List` items) is dispatched on
//!    `apiVersion`/`kind`, deserialized into its k8s-openapi type (`schema-error` at the
//!    failing node), validated like the API server, and lowered into the model. Invalid
//!    NetworkPolicies are left out; other objects keep their valid parts.
//! 4. **Assemble**: duplicates (`duplicate-object`), owner folding (a Pod, ReplicaSet or
//!    Job whose controller is in the input is not counted again), implicit namespaces,
//!    and sorting. Output is deterministic whatever the thread count.
//!
//! # The `yaml` module for other inputs
//!
//! [`yaml::parse_documents`] is public so that other files (such as `netpol.yaml`) get
//! the same spans and the same bad-input handling:
//!
//! ```ignore
//! let file = map.add("netpol.yaml", text.clone());
//! let (docs, diags) = yaml::parse_documents(file, &text, &yaml::Limits::default());
//! for doc in &docs {
//!     let config: MyConfig = serde_path_to_error::deserialize(&doc.value)?; // or serde_json::from_value
//!     let span = doc.span_of("/verify/0/from");          // the value's span
//!     let key = doc.key_span_of("/verify/0/from");       // the `from` key's span
//!     let near = doc.nearest_span_of("/verify/0/missing"); // nearest existing ancestor
//! }
//! ```
//!
//! Pointers follow RFC 6901 (`~1` for `/`, `~0` for `~`, see [`yaml::escape`]).
//! [`yaml::Document::ambiguities`] lists unquoted scalars that YAML 1.1 and 1.2 read
//! differently; [`yaml::Ambiguity::diagnostic`] turns one into a warning.
//!
//! # YAML 1.1
//!
//! kubectl and the API server read YAML with go-yaml v2 semantics, so this crate does
//! too: `yes`/`no`/`on`/`off`/`y`/`n` (all case variants go-yaml accepts) are booleans,
//! `0755` is octal 493, `1_000` is 1000, `80.0` is 80, and `<<` merge keys are applied
//! (a single alias or a list; in document order as go-yaml v2 does, so a key written
//! after the merge wins and one written before it does not; earlier sources win over
//! later ones).
//! Where the 1.1 reading differs from 1.2 a `yaml11-boolean` / `yaml11-octal` warning is
//! given, but only inside objects netpol reads. When the 1.1 reading makes the object
//! invalid (a label value `enabled: yes` is the boolean true, and labels are strings),
//! the object is rejected with a `schema-error` that explains the 1.1 reading, just as
//! `kubectl apply` fails. `0080` is not octal (8 is no octal digit) and reads as 80 in
//! both versions, so it is not warned about.
//!
//! # Limits
//!
//! Nesting deeper than [`yaml::Limits::max_depth`] (`nesting-too-deep`), alias expansion
//! beyond [`yaml::Limits::max_alias_nodes`] or the document's own size (`alias-limit`),
//! and recursive aliases are refused per document, in bounded time and memory.

pub mod config;
pub mod model;
mod objects;
mod read;
mod summary;
mod validate;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use netpol_diag::{Code, Diagnostic, FileId, SourceMap, Span};

pub use model::Model;
pub use summary::summary;

use objects::{FileOut, Item, ObjKey, Payload};

/// Where manifests come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A file, or a folder read recursively (`.yaml`, `.yml`, `.json`) in sorted order.
    Path(PathBuf),
    /// Bytes already read, for example from stdin, shown under `name`.
    Bytes { name: String, bytes: Vec<u8> },
}

/// Limits and defaults for loading.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The namespace of objects that name none.
    pub default_namespace: String,
    /// Files larger than this are refused with `file-too-large`.
    pub max_file_bytes: u64,
    /// One `unsupported-kind` note per skipped object (`--verbose`) instead of one
    /// summary note for all of them.
    pub each_skipped: bool,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            default_namespace: "default".to_owned(),
            max_file_bytes: 64 * 1024 * 1024,
            each_skipped: false,
        }
    }
}

/// The model and every diagnostic found while loading it.
#[derive(Debug, Default)]
pub struct Loaded {
    pub model: Model,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads, parses, validates and lowers all sources.
///
/// Files are added to `map` in a deterministic order (sources in the order given, folders
/// in sorted order). Never fails and never panics on bad input; see the crate docs.
pub fn load(sources: &[Source], options: &LoadOptions, map: &mut SourceMap) -> Loaded {
    let mut diagnostics = Vec::new();
    // (file, text, invalid UTF-8 offsets, a folder's `.json`: non-manifests are notes)
    let mut jobs: Vec<(FileId, Arc<str>, Vec<usize>, bool)> = Vec::new();
    for input in read::read_sources(sources, options, &mut diagnostics) {
        // UTF-16 is transcoded; invalid UTF-8 refuses only the documents that hold it.
        let stray_ok = input.in_folder && input.name.ends_with(".json");
        let decoded = yaml::split::decode(input.bytes);
        let id = map.add(input.name, decoded.text);
        jobs.push((id, Arc::clone(map.text(id)), decoded.bad, stray_ok));
    }
    // Big files are cut into runs of whole documents so that one huge file (a
    // `kubectl get -A -o yaml` dump, stdin) is parsed on every core too.
    type Chunk<'j> = (
        usize,
        FileId,
        &'j str,
        std::ops::Range<usize>,
        &'j [usize],
        bool,
    );
    let chunks: Vec<Chunk<'_>> = jobs
        .iter()
        .enumerate()
        .flat_map(|(i, (id, text, bad, stray_ok))| {
            yaml::split_documents(text, CHUNK_BYTES)
                .into_iter()
                .map(move |r| (i, *id, &**text, r, &bad[..], *stray_ok))
        })
        .collect();
    let outs = parallel_map(&chunks, |(_, id, text, range, bad, stray_ok)| {
        let mut out = FileOut::default();
        let mut diags = Vec::new();
        yaml::parse_range_with(
            *id,
            text,
            range.clone(),
            bad,
            &yaml::Limits::default(),
            &mut diags,
            &mut |doc, diags| {
                // A document's parse diagnostics come before its object diagnostics.
                out.diags.append(diags);
                if *stray_ok && !objects::looks_like_object(&doc.value) {
                    out.diags.push(objects::not_a_manifest(&doc));
                    return;
                }
                objects::extract(&doc, options, &mut out);
            },
        );
        out.diags.append(&mut diags);
        out
    });
    let mut model = Model::default();
    let mut items = Vec::new();
    let mut ns_refs = Vec::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    // (objects, diagnostics) per file, for `empty-input`.
    let mut per_file = vec![(0usize, 0usize); jobs.len()];
    for ((file_index, ..), mut out) in chunks.iter().zip(outs) {
        per_file[*file_index].0 += out.objects;
        per_file[*file_index].1 += out.diags.len();
        diagnostics.append(&mut out.diags);
        items.append(&mut out.items);
        ns_refs.append(&mut out.ns_refs);
        model.suppressions.append(&mut out.suppressions);
        model.operator_objects.append(&mut out.operators);
        for kind in out.skipped {
            *skipped.entry(kind).or_default() += 1;
        }
    }
    if let Some(d) = objects::skipped_summary(&skipped) {
        diagnostics.push(d);
    }
    for ((id, ..), (objects, diags)) in jobs.iter().zip(per_file) {
        if objects == 0 && diags == 0 {
            diagnostics.push(Diagnostic::new(
                Code::EmptyInput,
                format!("{} holds no Kubernetes object", map.name(*id)),
            ));
        }
    }
    assemble(items, ns_refs, &mut model, &mut diagnostics);
    Diagnostic::sort(&mut diagnostics);
    Loaded { model, diagnostics }
}

/// Size of the document runs a file is cut into for parallel parsing.
const CHUNK_BYTES: usize = 1 << 20;

/// Runs `f` over `jobs` on up to `available_parallelism` threads; results keep job order.
fn parallel_map<T: Sync, R: Send>(jobs: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(jobs.len());
    if threads <= 1 {
        return jobs.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        mine.push((i, f(job)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(r) => r,
                // A panic is a bug; re-raise it on the caller's thread.
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Cross-object work: duplicates, owner folding, namespaces, sorting.
fn assemble(
    items: Vec<Item>,
    ns_refs: Vec<String>,
    model: &mut Model,
    diags: &mut Vec<Diagnostic>,
) {
    let mut first: HashMap<ObjKey, Span> = HashMap::with_capacity(items.len());
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        if let Some(&prev) = first.get(&item.key) {
            let k = &item.key;
            let what = match &k.namespace {
                Some(ns) => format!("{} {ns}/{}", display_kind(k.kind), k.name),
                None => format!("{} {}", display_kind(k.kind), k.name),
            };
            diags.push(
                Diagnostic::new(
                    Code::DuplicateObject,
                    format!("{what} is defined twice; the first definition is used"),
                )
                .with_primary(item.name_span, "defined again here")
                .with_secondary(prev, "first defined here")
                .with_help("remove one of the two, or rename one"),
            );
            continue;
        }
        first.insert(item.key.clone(), item.name_span);
        kept.push(item);
    }
    let present: std::collections::HashSet<(String, String, String)> = kept
        .iter()
        .filter(|i| matches!(i.payload, Payload::Endpoint { .. }))
        .map(|i| {
            (
                i.key.kind.to_owned(),
                i.key.namespace.clone().unwrap_or_default(),
                i.key.name.clone(),
            )
        })
        .collect();
    let mut namespaces: BTreeMap<String, model::Namespace> = BTreeMap::new();
    let mut referenced: BTreeSet<String> = ns_refs.into_iter().collect();
    for item in kept {
        if let Some(ns) = &item.key.namespace {
            referenced.insert(ns.clone());
        }
        match item.payload {
            Payload::Namespace(ns) => {
                namespaces.insert(ns.name.clone(), ns);
            }
            Payload::Endpoint { endpoint, owner } => {
                // A pod (or ReplicaSet, Job) whose controller is in the input is that
                // controller's pod: count it once.
                let folded = owner.as_ref().is_some_and(|(kind, name)| {
                    present.contains(&(kind.clone(), endpoint.namespace.clone(), name.clone()))
                });
                if !folded {
                    if let (Some(owner), model::EndpointKind::Pod) = (owner, endpoint.kind) {
                        model.owners.insert(endpoint.id(), owner);
                    }
                    model.endpoints.push(endpoint);
                }
            }
            Payload::Service(s) => model.services.push(s),
            Payload::Policy(Some(p)) => model.policies.push(p),
            Payload::Policy(None) => {}
            Payload::Cluster(c) => model.cluster_policies.push(c),
        }
    }
    for name in referenced {
        namespaces
            .entry(name.clone())
            .or_insert_with(|| model::Namespace {
                labels: [(model::NAMESPACE_NAME_LABEL.to_owned(), name.clone())].into(),
                name,
                span: None,
            });
    }
    model.namespaces = namespaces.into_values().collect();
    let mut keyed: Vec<(String, model::Endpoint)> = std::mem::take(&mut model.endpoints)
        .into_iter()
        .map(|e| (e.id(), e))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    model.endpoints = keyed.into_iter().map(|(_, e)| e).collect();
    model
        .services
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    model
        .policies
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    model
        .cluster_policies
        .sort_by(|a, b| (a.kind, &a.namespace, &a.name).cmp(&(b.kind, &b.namespace, &b.name)));
    model
        .operator_objects
        .sort_by(|a, b| (&a.namespace, &a.kind, &a.name).cmp(&(&b.namespace, &b.kind, &b.name)));
}

fn display_kind(kind: &str) -> &str {
    kind.split('.').next().unwrap_or(kind)
}
