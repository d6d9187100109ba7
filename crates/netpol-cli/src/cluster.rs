//! Shared cluster settings: the `cluster:` section of `netpol.yaml`, overridden by flags.
//!
//! `matrix` and `explain` flatten [`ClusterArgs`]; `--config` names the Verification file
//! whose `cluster:` section is read (by default `./netpol.yaml` when it exists).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ipnet::IpNet;
use netpol_diag::{Diagnostic, SourceMap};
use netpol_graph::Profile;
use netpol_manifest::Loaded;
use netpol_manifest::config::{ClusterSettings, Cni, EnforcingMode, Node};

/// Semantics and cluster facts (see docs/configuration.md).
#[derive(Debug, clap::Args)]
pub(crate) struct ClusterArgs {
    /// Read the `cluster:` section of this netpol.yaml (default: the one in the PATHS folder
    /// when a single folder is given, else ./netpol.yaml, if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Semantics profile: VPC CNI's enforcement, or the Kubernetes specification.
    #[arg(long, value_enum, value_name = "CNI")]
    cni: Option<CniArg>,

    /// VPC CNI enforcing mode: in strict mode, pods no policy selects deny everything.
    #[arg(long, value_enum, value_name = "MODE")]
    enforcing_mode: Option<ModeArg>,

    /// A VPC subnet pods take IPs from (repeatable); replaces the config's podCIDRs.
    #[arg(long = "pod-cidr", value_name = "CIDR")]
    pod_cidrs: Vec<IpNet>,

    /// The Service ClusterIP range.
    #[arg(long, value_name = "CIDR")]
    service_cidr: Option<IpNet>,

    /// A node and its primary IP, as NAME=IP (repeatable); replaces the config's nodes.
    #[arg(long = "node", value_name = "NAME=IP", value_parser = parse_node)]
    nodes: Vec<Node>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum CniArg {
    VpcCni,
    Upstream,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ModeArg {
    Standard,
    Strict,
}

/// Loads the manifests and the cluster settings: the source map, the model, the profile
/// in force, and every diagnostic so far (loading and config).
pub(crate) fn load(
    input: &crate::input::InputArgs,
    args: &ClusterArgs,
) -> anyhow::Result<(SourceMap, Loaded, Profile, Vec<Diagnostic>)> {
    let (mut map, loaded) = crate::input::load(input)?;
    let (settings, mut diags) = settings(args, input.folder_config(), &mut map)?;
    crate::input::quote_only_manifests(&mut map, &diags);
    diags.extend(loaded.diagnostics.iter().cloned());
    Ok((map, loaded, Profile::new(&settings), diags))
}

/// The settings in force, plus the config's diagnostics (its file is added to `map`).
/// Without `--config`, the input folder's netpol.yaml wins over the current folder's: the
/// settings belong to the manifests they sit with.
fn settings(
    args: &ClusterArgs,
    folder_config: Option<PathBuf>,
    map: &mut SourceMap,
) -> anyhow::Result<(ClusterSettings, Vec<Diagnostic>)> {
    let default = Path::new("netpol.yaml");
    let path = match &args.config {
        Some(path) => Some(path.clone()),
        None => folder_config.or_else(|| default.is_file().then(|| default.to_path_buf())),
    };
    let path = path.as_deref();
    let (mut settings, diags) = match path {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let (_, parsed, diags) =
                netpol_smt::config::parse_config_bytes(path.display().to_string(), bytes, map);
            let cluster = parsed.map(|p| p.verification.cluster).unwrap_or_default();
            (cluster, diags)
        }
        None => (ClusterSettings::default(), Vec::new()),
    };
    if let Some(cni) = args.cni {
        settings.cni = match cni {
            CniArg::VpcCni => Cni::VpcCni,
            CniArg::Upstream => Cni::Upstream,
        };
    }
    if let Some(mode) = args.enforcing_mode {
        settings.enforcing_mode = match mode {
            ModeArg::Standard => EnforcingMode::Standard,
            ModeArg::Strict => EnforcingMode::Strict,
        };
    }
    if !args.pod_cidrs.is_empty() {
        settings.pod_cidrs = args.pod_cidrs.iter().map(IpNet::trunc).collect();
    }
    if let Some(cidr) = args.service_cidr {
        settings.service_cidr = Some(cidr.trunc());
    }
    if !args.nodes.is_empty() {
        settings.nodes = args.nodes.clone();
    }
    Ok((settings, diags))
}

fn parse_node(s: &str) -> Result<Node, String> {
    let (name, ip) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=IP"))?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("`{ip}` is not an IP address"))?;
    if name.is_empty() {
        return Err(format!("`{s}` has an empty node name"));
    }
    Ok(Node {
        name: name.to_owned(),
        ip,
    })
}
