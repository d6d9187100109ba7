//! Shared cluster settings: the `cluster:` section of `netpol.yaml`, overridden by flags.
//!
//! Every command that reads manifests flattens [`ClusterArgs`]; `--config` names the
//! Verification file (`config.rs` finds it by default), read by `workspace::load`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use netpol_manifest::config::{
    ClusterSettings, Cni, EnforcingMode, IpFamily, Node, Platform, Release,
};

/// Semantics and cluster facts (see docs/configuration.md).
#[derive(Debug, clap::Args)]
pub(crate) struct ClusterArgs {
    /// The netpol.yaml to read (its `manifests`, `cluster:` and, for verify, assertions);
    /// default: the one in the PATHS folder when a single folder is given, else
    /// ./netpol.yaml, if present.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Read `manifests` entries of the config that lead outside its folder (absolute
    /// paths, `..`, symbolic links out); refused by default.
    #[arg(long)]
    allow_outside_config: bool,

    /// Semantics profile: VPC CNI's enforcement, or the Kubernetes specification.
    #[arg(long, value_enum, value_name = "CNI")]
    cni: Option<CniArg>,

    /// VPC CNI enforcing mode: in strict mode, pods no policy selects deny everything.
    #[arg(long, value_enum, value_name = "MODE")]
    enforcing_mode: Option<ModeArg>,

    /// The cluster's IP family; under vpc-cni the agent drops ipBlocks of the other family
    /// and, on IPv6, lets ICMPv6 through.
    #[arg(long, value_enum, value_name = "FAMILY")]
    ip_family: Option<FamilyArg>,

    /// A VPC subnet pods take IPs from (repeatable); replaces the config's podCIDRs.
    #[arg(long = "pod-cidr", value_name = "CIDR")]
    pod_cidrs: Vec<IpNet>,

    /// The Service ClusterIP range.
    #[arg(long, value_name = "CIDR")]
    service_cidr: Option<IpNet>,

    /// A node and its primary IP, as NAME=IP (repeatable); replaces the config's nodes.
    #[arg(long = "node", value_name = "NAME=IP", value_parser = parse_node)]
    nodes: Vec<Node>,

    /// The managed platform: eks (CoreDNS assumed when the input has no DNS Service) or
    /// eks-auto-mode (DNS on the node, no CoreDNS pods).
    #[arg(long, value_enum, value_name = "PLATFORM")]
    platform: Option<PlatformArg>,

    /// The VPC CNI network policy agent release, such as v1.4.1 (default: the newest netpol
    /// has read); replaces the config's `vpcCni.agentVersion`.
    #[arg(long, value_name = "VERSION")]
    vpc_cni_agent_version: Option<Release>,

    /// The VPC CNI network policy controller release, such as v1.1.7 (default: the newest
    /// netpol has read); replaces the config's `vpcCni.controllerVersion`.
    #[arg(long, value_name = "VERSION")]
    vpc_cni_controller_version: Option<Release>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum PlatformArg {
    Eks,
    EksAutoMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum CniArg {
    VpcCni,
    Upstream,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FamilyArg {
    Ipv4,
    Ipv6,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ModeArg {
    Standard,
    Strict,
}

impl ClusterArgs {
    pub(crate) fn config(&self) -> Option<&Path> {
        self.config.as_deref()
    }

    pub(crate) fn allow_outside_config(&self) -> bool {
        self.allow_outside_config
    }

    /// The config's settings with the flags laid over them.
    pub(crate) fn apply(&self, mut settings: ClusterSettings) -> ClusterSettings {
        if let Some(cni) = self.cni {
            settings.cni = match cni {
                CniArg::VpcCni => Cni::VpcCni,
                CniArg::Upstream => Cni::Upstream,
            };
        }
        if let Some(mode) = self.enforcing_mode {
            settings.enforcing_mode = match mode {
                ModeArg::Standard => EnforcingMode::Standard,
                ModeArg::Strict => EnforcingMode::Strict,
            };
        }
        if let Some(f) = self.ip_family {
            settings.ip_family = match f {
                FamilyArg::Ipv4 => IpFamily::Ipv4,
                FamilyArg::Ipv6 => IpFamily::Ipv6,
            };
        }
        if !self.pod_cidrs.is_empty() {
            settings.pod_cidrs = self.pod_cidrs.iter().map(IpNet::trunc).collect();
        }
        if let Some(cidr) = self.service_cidr {
            settings.service_cidr = Some(cidr.trunc());
        }
        if !self.nodes.is_empty() {
            settings.nodes = self.nodes.clone();
        }
        if let Some(p) = self.platform {
            settings.platform = match p {
                PlatformArg::Eks => Platform::Eks,
                PlatformArg::EksAutoMode => Platform::EksAutoMode,
            };
        }
        if let Some(v) = &self.vpc_cni_agent_version {
            settings.vpc_cni.agent_version = Some(v.clone());
        }
        if let Some(v) = &self.vpc_cni_controller_version {
            settings.vpc_cni.controller_version = Some(v.clone());
        }
        settings
    }
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
