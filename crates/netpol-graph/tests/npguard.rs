//! The np-guard/netpol-analyzer corpus as an external oracle for the `upstream` profile.
//!
//! Every `np-core` connlist or exposure case (txt or json) of `../shared/corpus/npguard` is
//! run through the loader and the matrix, and both sides are compared by meaning, as
//! `peer-netpol-analyzer.md` §11 describes: node names normalised (bare Pods as `[Pod]`,
//! Pods folded one level into their controller), connection sets canonicalised to
//! protocol -> port intervals, the IP side of every (workload, direction) merged into a
//! piecewise-constant function, self, IP-to-IP and empty edges dropped, focus flags
//! applied as filters. Cases listed in `testdata/npguard/known-differences.txt` must still
//! disagree; every other case must agree. `docs/conformance.md` explains the list.
//!
//! Set `NPGUARD_REPORT=<file>` to write every case's verdict and differences to a file.

// A corpus run reports its verdict counts; that is the point of this test.
#![allow(clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use netpol_diag::SourceMap;
use netpol_graph::{Analysis, EndpointInfo, EndpointType, PortSet, Profile};
use netpol_manifest::config::{ClusterSettings, Cni};
use netpol_manifest::model::{EndpointKind, Protocol};
use netpol_manifest::{LoadOptions, Source};
use serde_json::Value;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/npguard"
);
const KNOWN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/npguard/known-differences.txt"
);

// ---------------------------------------------------------------------------------------
// Connection sets
// ---------------------------------------------------------------------------------------

/// np-guard's protocols, in our index order.
const PROTOS: [&str; 3] = ["TCP", "UDP", "SCTP"];
const FULL: (u16, u16) = (1, 65535);

/// A canonical connection set: per protocol, sorted disjoint non-adjacent port ranges,
/// plus named ports np-guard could not resolve (exposure output only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Conn {
    ranges: [Vec<(u16, u16)>; 3],
    named: BTreeSet<(usize, String)>,
}

fn canon(mut r: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    r.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(r.len());
    for (lo, hi) in r {
        match out.last_mut() {
            Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn minus(a: &[(u16, u16)], b: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    for &(lo, hi) in a {
        let mut cur = u32::from(lo);
        let hi = u32::from(hi);
        for &(blo, bhi) in b {
            let (blo, bhi) = (u32::from(blo), u32::from(bhi));
            if bhi < cur || blo > hi {
                continue;
            }
            if blo > cur {
                out.push((cur as u16, (blo - 1) as u16));
            }
            cur = cur.max(bhi + 1);
        }
        if cur <= hi {
            out.push((cur as u16, hi as u16));
        }
    }
    out
}

impl Conn {
    fn all() -> Conn {
        Conn {
            ranges: [vec![FULL], vec![FULL], vec![FULL]],
            named: BTreeSet::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.ranges.iter().all(Vec::is_empty) && self.named.is_empty()
    }

    fn is_all(&self) -> bool {
        self.ranges.iter().all(|r| r.as_slice() == [FULL]) && self.named.is_empty()
    }

    fn union(&self, o: &Conn) -> Conn {
        let mut c = self.clone();
        for (p, r) in c.ranges.iter_mut().enumerate() {
            r.extend_from_slice(&o.ranges[p]);
            *r = canon(std::mem::take(r));
        }
        c.named.extend(o.named.iter().cloned());
        c
    }

    fn minus(&self, o: &Conn) -> Conn {
        let mut c = Conn::default();
        for p in 0..3 {
            c.ranges[p] = minus(&self.ranges[p], &o.ranges[p]);
        }
        c.named = self.named.difference(&o.named).cloned().collect();
        c
    }

    fn contains(&self, proto: usize, port: u16) -> bool {
        self.ranges[proto]
            .iter()
            .any(|&(lo, hi)| lo <= port && port <= hi)
    }

    /// netpol's set; "other protocols" (ICMP, only ever with every port, `*`) has no
    /// np-guard counterpart and is dropped, so `*` becomes `All Connections`.
    fn from_portset(p: &PortSet) -> Conn {
        let mut c = Conn::default();
        for (i, proto) in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
            .into_iter()
            .enumerate()
        {
            c.ranges[i] = canon(p.ranges(proto).to_vec());
        }
        c
    }
}

impl fmt::Display for Conn {
    /// np-guard's notation: entries sorted by protocol name (SCTP, TCP, UDP).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        let mut parts = Vec::new();
        for p in [2, 0, 1] {
            let mut items: Vec<String> = self.ranges[p]
                .iter()
                .map(|&(lo, hi)| {
                    if lo == hi {
                        format!("{lo}")
                    } else {
                        format!("{lo}-{hi}")
                    }
                })
                .collect();
            items.extend(
                self.named
                    .iter()
                    .filter(|(q, _)| *q == p)
                    .map(|(_, n)| n.clone()),
            );
            if !items.is_empty() {
                parts.push(format!("{} {}", PROTOS[p], items.join(",")));
            }
        }
        f.write_str(&parts.join(","))
    }
}

/// Parses np-guard's `All Connections`, `No Connections` or `SCTP 9003,TCP 80,8080-8090`.
/// A protocol starts at every token beginning with `TCP `, `UDP ` or `SCTP `.
fn parse_conn(s: &str) -> Result<Conn, String> {
    let s = s.trim();
    match s {
        "All Connections" => return Ok(Conn::all()),
        "No Connections" => return Ok(Conn::default()),
        _ => {}
    }
    let mut c = Conn::default();
    let mut proto: Option<usize> = None;
    for tok in s.split(',') {
        let tok = tok.trim();
        let mut rest = tok;
        for (i, name) in PROTOS.iter().enumerate() {
            if let Some(r) = tok.strip_prefix(name).and_then(|r| r.strip_prefix(' ')) {
                proto = Some(i);
                rest = r.trim();
            }
        }
        let p = proto.ok_or_else(|| format!("`{tok}` before any protocol in `{s}`"))?;
        let num = |t: &str| t.parse::<u16>().ok().filter(|&n| n >= 1);
        match rest.split_once('-') {
            _ if rest.is_empty() => return Err(format!("empty port in `{s}`")),
            Some((a, b)) if num(a).is_some() => match (num(a), num(b)) {
                (Some(lo), Some(hi)) if lo <= hi => c.ranges[p].push((lo, hi)),
                _ => return Err(format!("bad range `{rest}` in `{s}`")),
            },
            _ => match num(rest) {
                Some(n) => c.ranges[p].push((n, n)),
                // An IANA service name: letters, digits and `-`, with at least one letter.
                None if rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && rest.bytes().any(|b| b.is_ascii_alphabetic()) =>
                {
                    c.named.insert((p, rest.to_owned()));
                }
                None => return Err(format!("bad port `{rest}` in `{s}`")),
            },
        }
    }
    for r in &mut c.ranges {
        *r = canon(std::mem::take(r));
    }
    Ok(c)
}

// ---------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------

/// One end of an edge after normalisation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    /// `ns/name[Kind]`, bare Pods as `[Pod]`, Pods folded into their controller.
    Name(String),
    /// IPv4 intervals (an np-guard node may list several ranges).
    Ips(Vec<(u32, u32)>),
}

/// `a.b.c.d-e.f.g.h`, a single address, or several joined by commas.
fn parse_ip_ranges(s: &str) -> Option<Vec<(u32, u32)>> {
    s.split(',')
        .map(|part| {
            let part = part.trim();
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: Ipv4Addr = a.trim().parse().ok()?;
            let b: Ipv4Addr = b.trim().parse().ok()?;
            let (a, b) = (u32::from(a), u32::from(b));
            (a <= b).then_some((a, b))
        })
        .collect()
}

fn parse_npguard_end(s: &str) -> Result<End, String> {
    let s = s.trim();
    let base = s.strip_suffix("[External]").unwrap_or(s);
    if let Some(ips) = parse_ip_ranges(base) {
        return Ok(End::Ips(ips));
    }
    let well_formed = s.split_once('/').is_some_and(|(ns, rest)| {
        !ns.is_empty() && !ns.contains('[') && rest.ends_with(']') && rest.contains('[')
    });
    if well_formed {
        Ok(End::Name(s.to_owned()))
    } else {
        Err(format!("unexpected np-guard node `{s}`"))
    }
}

/// (namespace, pod name) -> the controller owner's (kind, name), from the input files.
type Owners = BTreeMap<(String, String), (String, String)>;

fn collect_owners(map: &SourceMap) -> Owners {
    let mut owners = Owners::new();
    for file in map.files() {
        let limits = netpol_manifest::yaml::Limits::default();
        let (docs, _) = netpol_manifest::yaml::parse_documents(file, map.text(file), &limits);
        for doc in docs {
            // (object, kind implied by an enclosing `PodList`-style list)
            let mut stack: Vec<(&Value, Option<String>)> = vec![(&doc.value, None)];
            while let Some((v, implied)) = stack.pop() {
                let kind = v
                    .get("kind")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or(implied);
                if let Some(items) = v.get("items").and_then(Value::as_array) {
                    let item_kind = kind
                        .as_deref()
                        .and_then(|k| k.strip_suffix("List"))
                        .filter(|k| !k.is_empty())
                        .map(str::to_owned);
                    stack.extend(items.iter().map(|i| (i, item_kind.clone())));
                }
                if kind.as_deref() != Some("Pod") {
                    continue;
                }
                let meta = v.get("metadata");
                let field = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
                let Some(name) = field("name") else { continue };
                let ns = field("namespace")
                    .filter(|n| !n.is_empty())
                    .unwrap_or("default");
                let refs = meta
                    .and_then(|m| m.get("ownerReferences"))
                    .and_then(Value::as_array);
                let controller = refs
                    .into_iter()
                    .flatten()
                    .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true));
                if let Some(r) = controller {
                    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
                    let owner = r.get("name").and_then(Value::as_str);
                    // np-guard folds into workload kinds; an owner without a kind still
                    // groups the pods, shown as `[Pod]`. Mirror pods of static pods are
                    // "owned" by their Node and stay Pods.
                    let kind = match EndpointKind::from_kind(kind) {
                        _ if kind.is_empty() => Some("Pod"),
                        Some(k) if k != EndpointKind::Pod => Some(kind),
                        _ => None,
                    };
                    if let (Some(kind), Some(owner)) = (kind, owner) {
                        owners.insert(
                            (ns.to_owned(), name.to_owned()),
                            (kind.to_owned(), owner.to_owned()),
                        );
                    }
                }
            }
        }
    }
    owners
}

/// netpol's endpoint in np-guard's vocabulary; `None` for an IPv6 range (np-guard is
/// IPv4 only).
fn netpol_end(e: &EndpointInfo, owners: &Owners) -> Option<End> {
    match e.kind {
        EndpointType::External => parse_ip_ranges(&e.id).map(End::Ips),
        EndpointType::Workload(EndpointKind::Pod) => {
            let ns = e.namespace.clone().unwrap_or_default();
            Some(End::Name(match owners.get(&(ns.clone(), e.name.clone())) {
                Some((kind, owner)) => format!("{ns}/{owner}[{kind}]"),
                None => format!("{ns}/{}[Pod]", e.name),
            }))
        }
        _ => Some(End::Name(e.id.clone())),
    }
}

// ---------------------------------------------------------------------------------------
// Focus flags, applied as filters
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Focus {
    workloads: Vec<String>,
    peers: Vec<String>,
    /// `Some(true)`: the focus workload must be the destination (ingress).
    ingress: Option<bool>,
    conn: Option<(usize, u16)>,
}

/// `name` or `ns/name` against `ns/name[Kind]`.
fn name_matches(pattern: &str, end: &End) -> bool {
    let End::Name(id) = end else { return false };
    let base = id.split_once('[').map_or(id.as_str(), |(b, _)| b);
    if pattern.contains('/') {
        base == pattern
    } else {
        base.split_once('/').is_some_and(|(_, n)| n == pattern)
    }
}

impl Focus {
    fn from_flags(flags: &serde_json::Map<String, Value>) -> Result<Focus, String> {
        let list = |k: &str| -> Vec<String> {
            flags
                .get(k)
                .and_then(Value::as_str)
                .map(|s| {
                    s.split(',')
                        .map(|x| x.trim().to_owned())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let ingress = match flags.get("focus-direction").and_then(Value::as_str) {
            None => None,
            Some("ingress") => Some(true),
            Some("egress") => Some(false),
            Some(d) => return Err(format!("unknown focus-direction `{d}`")),
        };
        let conn = match flags.get("focus-conn").and_then(Value::as_str) {
            None => None,
            Some(s) => {
                let (p, n) = s.split_once('-').ok_or(format!("bad focus-conn `{s}`"))?;
                let p = PROTOS
                    .iter()
                    .position(|x| x.eq_ignore_ascii_case(p))
                    .ok_or(format!("bad focus-conn `{s}`"))?;
                let n = n
                    .parse::<u16>()
                    .map_err(|_| format!("bad focus-conn `{s}`"))?;
                Some((p, n))
            }
        };
        Ok(Focus {
            workloads: list("focusworkload"),
            peers: list("focusworkload-peer"),
            ingress,
            conn,
        })
    }

    fn keeps(&self, src: &End, dst: &End, conn: &Conn) -> bool {
        if let Some((p, n)) = self.conn
            && !conn.contains(p, n)
        {
            return false;
        }
        if self.workloads.is_empty() {
            return true;
        }
        let focus = |e: &End| self.workloads.iter().any(|w| name_matches(w, e));
        let peer = |e: &End| self.peers.is_empty() || self.peers.iter().any(|w| name_matches(w, e));
        let as_src = focus(src) && peer(dst);
        let as_dst = focus(dst) && peer(src);
        match self.ingress {
            None => as_src || as_dst,
            Some(true) => as_dst,
            Some(false) => as_src,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The normal form and the comparison
// ---------------------------------------------------------------------------------------

/// (workload, "egress" | "ingress") -> (first IP, last IP, connections) pieces.
type IpFunctions = BTreeMap<(String, &'static str), Vec<(u32, u32, Conn)>>;

/// Workload-to-workload edges, and per (workload, "egress" | "ingress") the piecewise
/// constant function from the IPv4 space to connection sets, as maximal intervals.
#[derive(Debug, Default, PartialEq)]
struct Normal {
    edges: BTreeMap<(String, String), Conn>,
    ips: IpFunctions,
}

type Row = (End, End, Conn);

fn normalise(rows: &[Row]) -> Normal {
    let mut n = Normal::default();
    let mut raw = IpFunctions::new();
    for (src, dst, conn) in rows {
        if conn.is_empty() {
            continue;
        }
        match (src, dst) {
            (End::Ips(_), End::Ips(_)) => {}
            (End::Name(a), End::Name(b)) => {
                if a != b {
                    let e = n.edges.entry((a.clone(), b.clone())).or_default();
                    *e = e.union(conn);
                }
            }
            (End::Name(w), End::Ips(r)) | (End::Ips(r), End::Name(w)) => {
                let dir = if matches!(dst, End::Ips(_)) {
                    "egress"
                } else {
                    "ingress"
                };
                let f = raw.entry((w.clone(), dir)).or_default();
                f.extend(r.iter().map(|&(lo, hi)| (lo, hi, conn.clone())));
            }
        }
    }
    for (key, pieces) in raw {
        let f = canonical_function(pieces);
        if !f.is_empty() {
            n.ips.insert(key, f);
        }
    }
    n
}

/// Sorts, resolves overlaps by union, drops empty values and merges touching intervals
/// with equal values.
fn canonical_function(mut pieces: Vec<(u32, u32, Conn)>) -> Vec<(u32, u32, Conn)> {
    pieces.sort_by_key(|a| (a.0, a.1));
    let disjoint = pieces.windows(2).all(|w| w[0].1 < w[1].0);
    if !disjoint {
        // Rare: cut at every boundary and take the union of the covering pieces.
        let mut cuts: BTreeSet<u64> = BTreeSet::new();
        for (lo, hi, _) in &pieces {
            cuts.insert(u64::from(*lo));
            cuts.insert(u64::from(*hi) + 1);
        }
        let cuts: Vec<u64> = cuts.into_iter().collect();
        pieces = cuts
            .windows(2)
            .map(|w| {
                let (lo, hi) = (w[0] as u32, (w[1] - 1) as u32);
                let value = pieces
                    .iter()
                    .filter(|(a, b, _)| *a <= lo && hi <= *b)
                    .fold(Conn::default(), |acc, (_, _, c)| acc.union(c));
                (lo, hi, value)
            })
            .collect();
    }
    let mut out: Vec<(u32, u32, Conn)> = Vec::new();
    for (lo, hi, c) in pieces {
        if c.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if u64::from(last.1) + 1 == u64::from(lo) && last.2 == c => last.1 = hi,
            _ => out.push((lo, hi, c)),
        }
    }
    out
}

fn ip_range(lo: u32, hi: u32) -> String {
    format!("{}-{}", Ipv4Addr::from(lo), Ipv4Addr::from(hi))
}

fn conn_diff(e: &Conn, g: &Conn) -> String {
    let mut s = format!("expected {e}, got {g}");
    let (missing, extra) = (e.minus(g), g.minus(e));
    if !missing.is_empty() {
        s.push_str(&format!("; missing {missing}"));
    }
    if !extra.is_empty() {
        s.push_str(&format!("; extra {extra}"));
    }
    s
}

/// The value of a canonical function at every piece of the common refinement of `a`
/// and `b`, as (lo, hi, a's value, b's value), gaps included as empty.
fn refine(a: &[(u32, u32, Conn)], b: &[(u32, u32, Conn)]) -> Vec<(u32, u32, Conn, Conn)> {
    let mut cuts: BTreeSet<u64> = [0, 1 << 32].into();
    for (lo, hi, _) in a.iter().chain(b) {
        cuts.insert(u64::from(*lo));
        cuts.insert(u64::from(*hi) + 1);
    }
    let at = |f: &[(u32, u32, Conn)], x: u32| -> Conn {
        let i = f.partition_point(|(_, hi, _)| *hi < x);
        match f.get(i) {
            Some((lo, _, c)) if *lo <= x => c.clone(),
            _ => Conn::default(),
        }
    };
    let cuts: Vec<u64> = cuts.into_iter().collect();
    cuts.windows(2)
        .map(|w| {
            let (lo, hi) = (w[0] as u32, (w[1] - 1) as u32);
            (lo, hi, at(a, lo), at(b, lo))
        })
        .collect()
}

/// The differences, one line each; empty when the two agree.
fn compare(expected: &Normal, got: &Normal) -> Vec<String> {
    let mut out = Vec::new();
    let keys: BTreeSet<&(String, String)> = expected.edges.keys().chain(got.edges.keys()).collect();
    for k in keys {
        let (a, b) = k;
        match (expected.edges.get(k), got.edges.get(k)) {
            (Some(e), None) => out.push(format!("missing {a} => {b} : {e}")),
            (None, Some(g)) => out.push(format!("extra   {a} => {b} : {g}")),
            (Some(e), Some(g)) if e != g => {
                out.push(format!("differs {a} => {b} : {}", conn_diff(e, g)))
            }
            _ => {}
        }
    }
    let keys: BTreeSet<&(String, &str)> = expected.ips.keys().chain(got.ips.keys()).collect();
    for k in keys {
        let (w, dir) = k;
        let e = expected.ips.get(k).map_or(&[][..], Vec::as_slice);
        let g = got.ips.get(k).map_or(&[][..], Vec::as_slice);
        if e == g {
            continue;
        }
        // Merge neighbouring refinement pieces with the same pair of values.
        let mut runs: Vec<(u32, u32, Conn, Conn)> = Vec::new();
        for (lo, hi, ec, gc) in refine(e, g) {
            match runs.last_mut() {
                Some(r) if r.2 == ec && r.3 == gc => r.1 = hi,
                _ => runs.push((lo, hi, ec, gc)),
            }
        }
        for (lo, hi, ec, gc) in runs.into_iter().filter(|r| r.2 != r.3) {
            let (a, b) = if *dir == "egress" {
                (w.clone(), ip_range(lo, hi))
            } else {
                (ip_range(lo, hi), w.clone())
            };
            out.push(format!("ip      {a} => {b} : {}", conn_diff(&ec, &gc)));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Expected files and netpol runs
// ---------------------------------------------------------------------------------------

/// (src, dst, conn) rows of an expected file; `conn` is `None` in focus-conn files. For
/// exposure cases only the connlist part is read.
fn parse_expected(
    text: &str,
    format: &str,
) -> Result<Vec<(String, String, Option<String>)>, String> {
    if format == "json" {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("bad json: {e}"))?;
        let rows = match &v {
            Value::Array(a) => a,
            Value::Object(o) => o
                .get("connlist_results")
                .and_then(Value::as_array)
                .ok_or("json object without connlist_results")?,
            _ => return Err("json is neither an array nor an object".to_owned()),
        };
        return rows
            .iter()
            .map(|r| {
                let f = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
                match (f("src"), f("dst")) {
                    (Some(s), Some(d)) => Ok((s, d, f("conn"))),
                    _ => Err(format!("json row without src/dst: {r}")),
                }
            })
            .collect();
    }
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.starts_with("Exposure Analysis Result:") {
            break;
        }
        let line = line.trim_end();
        let Some((src, rest)) = line.split_once(" => ") else {
            // Blank lines and section headers (`Permitted connections on TCP 80:`).
            if line.is_empty() || line.ends_with(':') {
                continue;
            }
            return Err(format!("unexpected line `{line}`"));
        };
        match rest.split_once(" : ") {
            Some((dst, conn)) => rows.push((src.to_owned(), dst.to_owned(), Some(conn.to_owned()))),
            None => rows.push((src.to_owned(), rest.to_owned(), None)),
        }
    }
    Ok(rows)
}

/// np-guard's rows in our vocabulary. Pair-only rows (focus-conn) get `All Connections`.
fn expected_rows(text: &str, format: &str) -> Result<Vec<Row>, String> {
    parse_expected(text, format)?
        .into_iter()
        .map(|(s, d, c)| {
            let conn = match c {
                Some(c) => parse_conn(&c)?,
                None => Conn::all(),
            };
            Ok((parse_npguard_end(&s)?, parse_npguard_end(&d)?, conn))
        })
        .collect()
}

/// netpol's matrix of a folder under `upstream`, and its error diagnostics.
struct Run {
    rows: Vec<Row>,
    errors: Vec<String>,
}

fn run_netpol(dir: &Path) -> Run {
    let mut map = SourceMap::default();
    let loaded = netpol_manifest::load(
        &[Source::Path(dir.to_owned())],
        &LoadOptions::default(),
        &mut map,
    );
    let errors = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let file = d
                .primary_span()
                .map(|s| map.name(s.file).to_owned())
                .unwrap_or_default();
            format!("{}: {} ({file})", d.code, d.message)
        })
        .collect();
    let owners = collect_owners(&map);
    let settings = ClusterSettings {
        cni: profile_under_test(),
        ..ClusterSettings::default()
    };
    let analysis = Analysis::new(&loaded.model, &Profile::new(&settings));
    let matrix = analysis.matrix();
    let rows = matrix
        .connections()
        .filter_map(|c| {
            let src = netpol_end(c.from, &owners)?;
            let dst = netpol_end(c.to, &owners)?;
            Some((src, dst, Conn::from_portset(c.ports)))
        })
        .collect();
    Run { rows, errors }
}

#[derive(Debug)]
struct Case {
    id: String,
    input: String,
    expected: String,
    format: String,
    flags: serde_json::Map<String, Value>,
}

/// `tags == ["np-core"]`, kind connlist or exposure, format txt or json.
fn select_cases(index: &Value) -> Vec<Case> {
    let Some(cases) = index.get("cases").and_then(Value::as_array) else {
        return Vec::new();
    };
    cases
        .iter()
        .filter_map(|c| {
            let s = |k: &str| c.get(k).and_then(Value::as_str);
            let tags: Vec<&str> = c
                .get("tags")?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let kind_ok = matches!(s("kind")?, "connlist" | "exposure");
            let format_ok = matches!(s("format")?, "txt" | "json");
            if tags != ["np-core"] || !kind_ok || !format_ok {
                return None;
            }
            Some(Case {
                id: s("case")?.to_owned(),
                input: c.get("inputs")?.as_array()?.first()?.as_str()?.to_owned(),
                expected: s("expected")?.to_owned(),
                format: s("format")?.to_owned(),
                flags: c.get("flags")?.as_object()?.clone(),
            })
        })
        .collect()
}

/// The differences of one case (empty: agree), or why it could not be compared.
/// The profile compared against np-guard: `upstream`, or `vpc-cni` when `NPGUARD_CNI=vpc-cni`
/// asks how far the VPC CNI semantics move the result (a report, not a test).
fn profile_under_test() -> Cni {
    match std::env::var("NPGUARD_CNI").as_deref() {
        Ok("vpc-cni") => Cni::VpcCni,
        _ => Cni::Upstream,
    }
}

fn check_case(
    root: &Path,
    case: &Case,
    runs: &mut BTreeMap<String, Run>,
) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(root.join(&case.expected))
        .map_err(|e| format!("{}: {e}", case.expected))?;
    let focus = Focus::from_flags(&case.flags)?;
    let expected: Vec<Row> = expected_rows(&text, &case.format)?;
    let run = runs
        .entry(case.input.clone())
        .or_insert_with(|| run_netpol(&root.join(&case.input)));
    let mut got: Vec<Row> = run
        .rows
        .iter()
        .filter(|(s, d, c)| focus.keeps(s, d, c))
        .cloned()
        .collect();
    if focus.conn.is_some() {
        got.iter_mut().for_each(|r| r.2 = Conn::all());
    }
    let mut diffs = compare(&normalise(&expected), &normalise(&got));
    if !diffs.is_empty() {
        diffs.extend(run.errors.iter().map(|e| format!("loader: {e}")));
    }
    Ok(diffs)
}

/// `case-id reason...` lines; `#` starts a comment line.
fn read_known(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((id, reason)) => (id.to_owned(), reason.trim().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

#[test]
fn npguard_corpus_agrees_except_known_differences() {
    let root = PathBuf::from(CORPUS);
    let Ok(index) = std::fs::read_to_string(root.join("index.json")) else {
        eprintln!("npguard: corpus not found at {CORPUS}; skipping");
        return;
    };
    let index: Value = serde_json::from_str(&index).expect("index.json is valid JSON");
    let cases = select_cases(&index);
    assert!(
        cases.len() > 100,
        "only {} np-core cases selected",
        cases.len()
    );
    let known = read_known(&std::fs::read_to_string(KNOWN).unwrap_or_default());
    let ids: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    let mut failures = Vec::new();
    for id in known.keys() {
        if !ids.contains(id.as_str()) {
            failures.push(format!(
                "{id}: listed in known-differences.txt but not a selected case"
            ));
        }
    }
    let mut runs = BTreeMap::new();
    let mut report = String::new();
    let mut agree = 0;
    for case in &cases {
        let verdict = check_case(&root, case, &mut runs);
        let listed = known.get(&case.id);
        let diffs = match &verdict {
            Ok(d) => d.clone(),
            Err(e) => vec![format!("cannot compare: {e}")],
        };
        if diffs.is_empty() {
            agree += 1;
            report.push_str(&format!("agree     {}\n", case.id));
        } else {
            report.push_str(&format!(
                "disagree  {} ({} differences)\n",
                case.id,
                diffs.len()
            ));
            for d in &diffs {
                report.push_str(&format!("    {d}\n"));
            }
        }
        match (diffs.is_empty(), listed) {
            (false, None) => {
                let shown: Vec<&String> = diffs.iter().take(10).collect();
                failures.push(format!(
                    "{} disagrees ({} differences):\n    {}",
                    case.id,
                    diffs.len(),
                    shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n    ")
                ));
            }
            (true, Some(reason)) => failures.push(format!(
                "{} now agrees but is listed as a known difference ({reason}); remove it from the list",
                case.id
            )),
            _ => {}
        }
    }
    let summary = format!(
        "npguard: {agree} of {} cases agree ({} known differences); corpus commit {}",
        cases.len(),
        known.len(),
        index
            .get("source_commit")
            .and_then(Value::as_str)
            .unwrap_or("?")
    );
    eprintln!("{summary}");
    if let Ok(path) = std::env::var("NPGUARD_REPORT") {
        let _ = std::fs::write(path, format!("{summary}\n{report}"));
    }
    if profile_under_test() != Cni::Upstream {
        eprintln!("npguard: NPGUARD_CNI is set, so this run only reports");
        return;
    }
    assert!(failures.is_empty(), "{}\n{summary}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Unit tests of the normalisation, on small strings
// ---------------------------------------------------------------------------------------

fn name(s: &str) -> End {
    End::Name(s.to_owned())
}

fn rows(text: &str) -> Vec<Row> {
    expected_rows(text, "txt").expect("test input parses")
}

#[test]
fn conn_parsing_and_printing() {
    let c = parse_conn("SCTP 9003,TCP 80,8080-8090,UDP 53").expect("parses");
    assert_eq!(c.ranges[0], vec![(80, 80), (8080, 8090)]);
    assert_eq!(c.ranges[1], vec![(53, 53)]);
    assert_eq!(c.ranges[2], vec![(9003, 9003)]);
    assert_eq!(c.to_string(), "SCTP 9003,TCP 80,8080-8090,UDP 53");
    assert!(parse_conn("All Connections").expect("parses").is_all());
    assert!(parse_conn("No Connections").expect("parses").is_empty());
    // Every port of all three protocols spelled out is All Connections.
    assert_eq!(
        parse_conn("TCP 1-65535,UDP 1-65535,SCTP 1-65535"),
        Ok(Conn::all())
    );
    // Adjacent ranges merge; order does not matter.
    assert_eq!(parse_conn("TCP 81-90,80"), parse_conn("TCP 80-90"));
    let named = parse_conn("TCP 80,http,local-dns").expect("parses");
    assert_eq!(named.named.len(), 2);
    assert_eq!(named.to_string(), "TCP 80,http,local-dns");
    for bad in ["80", "TCP 90-80", "TCP 0", "TCP 70000", "TCP ", "TCP a b"] {
        assert!(parse_conn(bad).is_err(), "{bad} should not parse");
    }
}

#[test]
fn conn_from_netpol_star_is_all_connections() {
    assert_eq!(Conn::from_portset(&PortSet::all()), Conn::all());
    let p = PortSet::port(Protocol::Udp, 53).union(&PortSet::range(Protocol::Tcp, 80, 81));
    assert_eq!(Conn::from_portset(&p).to_string(), "TCP 80-81,UDP 53");
    let e = parse_conn("TCP 80").expect("parses");
    let g = Conn::from_portset(&p);
    assert_eq!(
        conn_diff(&e, &g),
        "expected TCP 80, got TCP 80-81,UDP 53; extra TCP 81,UDP 53"
    );
}

#[test]
fn node_names() {
    assert_eq!(
        parse_npguard_end("0.0.0.0-255.255.255.255[External]"),
        Ok(End::Ips(vec![(0, u32::MAX)]))
    );
    assert_eq!(
        parse_npguard_end("10.0.0.0-10.0.0.255,10.0.1.7"),
        Ok(End::Ips(vec![
            (0x0a00_0000, 0x0a00_00ff),
            (0x0a00_0107, 0x0a00_0107)
        ]))
    );
    assert_eq!(
        parse_npguard_end("default/a[Deployment]"),
        Ok(name("default/a[Deployment]"))
    );
    assert!(parse_npguard_end("{ingress-controller}").is_err());
    assert!(parse_npguard_end("entire-cluster").is_err());
    assert!(parse_npguard_end("10.0.0.9-10.0.0.1").is_err());
}

#[test]
fn txt_and_json_and_exposure_parse_alike() {
    let txt = "a/x[Pod] => a/y[Deployment] : TCP 80\n\n0.0.0.0-255.255.255.255[External] => a/x[Pod] : All Connections\n\nExposure Analysis Result:\nEgress Exposure:\na/x[Pod] \t=> \tentire-cluster : All Connections\n";
    let json = r#"{"connlist_results": [
        {"src": "a/x[Pod]", "dst": "a/y[Deployment]", "conn": "TCP 80"},
        {"src": "0.0.0.0-255.255.255.255[External]", "dst": "a/x[Pod]", "conn": "All Connections"}
    ], "exposure_results": {"egress_exposure": [], "ingress_exposure": []}}"#;
    let a = normalise(&rows(txt));
    let b = normalise(&expected_rows(json, "json").expect("parses"));
    assert_eq!(a, b);
    assert_eq!(a.edges.len(), 1);
    assert_eq!(a.ips.len(), 1);
    let focus = parse_expected(
        "Permitted connections on TCP 80:\na/x[Pod] => a/y[Pod]\n",
        "txt",
    );
    assert_eq!(
        focus,
        Ok(vec![("a/x[Pod]".into(), "a/y[Pod]".into(), None)])
    );
    assert!(parse_expected("garbage line\n", "txt").is_err());
    assert_eq!(parse_expected("", "txt"), Ok(vec![]));
}

#[test]
fn ip_pieces_merge_and_compare_by_meaning() {
    // np-guard cuts 0/0 into pieces and never merges them; netpol may cut differently.
    let npguard = rows(
        "a/x[Pod] => 0.0.0.0-9.255.255.255[External] : All Connections\n\
         a/x[Pod] => 10.0.0.0-10.255.255.255[External] : All Connections\n\
         a/x[Pod] => 11.0.0.0-255.255.255.255[External] : All Connections\n\
         1.2.3.4-1.2.3.4[External] => a/x[Pod] : TCP 80\n",
    );
    let netpol = vec![
        (name("a/x[Pod]"), End::Ips(vec![(0, u32::MAX)]), Conn::all()),
        (
            End::Ips(vec![(0x0102_0304, 0x0102_0304)]),
            name("a/x[Pod]"),
            parse_conn("TCP 80").expect("ok"),
        ),
        // Dropped on both sides: IP to IP, self edges, empty sets.
        (End::Ips(vec![(0, 1)]), End::Ips(vec![(2, 3)]), Conn::all()),
        (name("a/x[Pod]"), name("a/x[Pod]"), Conn::all()),
        (name("a/x[Pod]"), name("a/z[Pod]"), Conn::default()),
    ];
    let (e, g) = (normalise(&npguard), normalise(&netpol));
    assert_eq!(compare(&e, &g), Vec::<String>::new());
    assert_eq!(
        e.ips[&("a/x[Pod]".to_owned(), "egress")],
        vec![(0, u32::MAX, Conn::all())]
    );

    // A hole in netpol's function shows up as one merged line.
    let holed = vec![
        (
            name("a/x[Pod]"),
            End::Ips(vec![(0, 0x09ff_ffff)]),
            Conn::all(),
        ),
        (
            name("a/x[Pod]"),
            End::Ips(vec![(0x0b00_0000, u32::MAX)]),
            Conn::all(),
        ),
        (
            End::Ips(vec![(0x0102_0304, 0x0102_0304)]),
            name("a/x[Pod]"),
            parse_conn("TCP 80").expect("ok"),
        ),
    ];
    assert_eq!(
        compare(&e, &normalise(&holed)),
        vec![
            "ip      a/x[Pod] => 10.0.0.0-10.255.255.255 : expected All Connections, got No Connections; missing All Connections"
        ]
    );
}

#[test]
fn overlapping_pieces_are_united() {
    let c80 = parse_conn("TCP 80").expect("ok");
    let c53 = parse_conn("UDP 53").expect("ok");
    let f = canonical_function(vec![(0, 10, c80.clone()), (5, 20, c53.clone())]);
    assert_eq!(
        f,
        vec![(0, 4, c80.clone()), (5, 10, c80.union(&c53)), (11, 20, c53)]
    );
}

#[test]
fn workload_edges_compare_and_report() {
    let e = normalise(&rows(
        "a/x[Pod] => a/y[Pod] : TCP 80\na/y[Pod] => a/x[Pod] : UDP 53\n",
    ));
    let g = normalise(&rows(
        "a/x[Pod] => a/y[Pod] : TCP 80-81\na/x[Pod] => b/z[Deployment] : All Connections\n",
    ));
    assert_eq!(
        compare(&e, &g),
        vec![
            "differs a/x[Pod] => a/y[Pod] : expected TCP 80, got TCP 80-81; extra TCP 81"
                .to_owned(),
            "extra   a/x[Pod] => b/z[Deployment] : All Connections".to_owned(),
            "missing a/y[Pod] => a/x[Pod] : UDP 53".to_owned(),
        ]
    );
}

#[test]
fn focus_filters() {
    let flags = |j: &str| -> serde_json::Map<String, Value> {
        serde_json::from_str(j).expect("test flags are JSON")
    };
    let r = rows(
        "ns/a[Deployment] => ns/b[Deployment] : TCP 80\n\
         ns/b[Deployment] => ns/a[Deployment] : UDP 53\n\
         ns/b[Deployment] => ns/c[Pod] : TCP 80\n\
         ns/c[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections\n",
    );
    let kept = |f: &Focus| r.iter().filter(|(s, d, c)| f.keeps(s, d, c)).count();
    assert_eq!(
        kept(&Focus::from_flags(&flags(r#"{"focusworkload": "a"}"#)).expect("ok")),
        2
    );
    assert_eq!(
        kept(&Focus::from_flags(&flags(r#"{"focusworkload": "ns/c"}"#)).expect("ok")),
        2
    );
    assert_eq!(
        kept(&Focus::from_flags(&flags(r#"{"focusworkload": "other/c"}"#)).expect("ok")),
        0
    );
    assert_eq!(
        kept(
            &Focus::from_flags(&flags(
                r#"{"focusworkload": "b", "focus-direction": "egress"}"#
            ))
            .expect("ok")
        ),
        2
    );
    assert_eq!(
        kept(
            &Focus::from_flags(&flags(
                r#"{"focusworkload": "b", "focusworkload-peer": "c"}"#
            ))
            .expect("ok")
        ),
        1
    );
    assert_eq!(
        kept(&Focus::from_flags(&flags(r#"{"focus-conn": "tcp-80"}"#)).expect("ok")),
        3
    );
    assert!(Focus::from_flags(&flags(r#"{"focus-direction": "sideways"}"#)).is_err());
}

#[test]
fn known_list_format() {
    let k = read_known(
        "# comment\n\nconnlist/a.txt  S6: ipBlock matches pods with known IPs\nexposure/b.json\n",
    );
    assert_eq!(k.len(), 2);
    assert_eq!(
        k["connlist/a.txt"],
        "S6: ipBlock matches pods with known IPs"
    );
    assert_eq!(k["exposure/b.json"], "");
}
