//! A leaf like [`super::switches`] (the world calls it).
//!
//! V15: the cluster's IP family (`cluster.ipFamily`). The agent runs in one family: it
//! skips every ipBlock of the other one (NPA `pkg/fwruleprocessor/fw_rule_processor.go`
//! `shouldSkipRule`, c8619c05), after collecting its `except` entries, which it then writes
//! into its table as keys of its own family (`pkg/utils/utils.go` `ComputeTrieKey` copies
//! the prefix length and the leading address bytes). ICMPv6 is `switches::icmpv6_passes`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::switches;
use crate::profile::Profile;

/// V15: whether the agent skips an ipBlock at `addr` for being of the other family.
pub(crate) fn block_skipped(profile: &Profile, addr: IpAddr) -> bool {
    switches::one_family(profile) && !profile.ip_family.holds(addr)
}

/// V15: the key the agent writes for an `except` entry: the entry itself in the cluster's
/// family; one of the other family becomes the key of the cluster's family with the same
/// prefix length and the entry's leading bytes (an IPv4 /8 `10.0.0.0/8` on IPv6 is
/// `a00::/8`). `Err` with the prefix length when the kernel refuses the key: an IPv6 entry
/// longer than /32 in the IPv4 table.
pub(crate) fn except_key(profile: &Profile, except: IpNet) -> Result<IpNet, u8> {
    if !switches::one_family(profile) || profile.ip_family.holds(except.addr()) {
        return Ok(except);
    }
    let len = except.prefix_len();
    match except.network() {
        IpAddr::V4(a) => {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&a.octets());
            Ipv6Net::new(Ipv6Addr::from(bytes), len)
                .map(|n| IpNet::V6(n.trunc()))
                .map_err(|_| len)
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            let v4 = Ipv4Addr::new(o[0], o[1], o[2], o[3]);
            Ipv4Net::new(v4, len)
                .map(|n| IpNet::V4(n.trunc()))
                .map_err(|_| len)
        }
    }
}

#[cfg(test)]
mod tests {
    use netpol_manifest::config::{ClusterSettings, Cni, IpFamily};

    use super::*;

    fn profile(cni: Cni, ip_family: IpFamily) -> Profile {
        Profile::new(&ClusterSettings {
            cni,
            ip_family,
            ..ClusterSettings::default()
        })
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn excepts_of_the_other_family_take_the_leading_bytes() {
        let v6 = profile(Cni::VpcCni, IpFamily::Ipv6);
        assert_eq!(except_key(&v6, net("10.0.0.0/8")), Ok(net("a00::/8")));
        assert_eq!(except_key(&v6, net("192.168.0.0/16")), Ok(net("c0a8::/16")));
        assert_eq!(except_key(&v6, net("fd00::/8")), Ok(net("fd00::/8")));
        let v4 = profile(Cni::VpcCni, IpFamily::Ipv4);
        assert_eq!(
            except_key(&v4, net("2600:1f00::/24")),
            Ok(net("38.0.31.0/24"))
        );
        assert_eq!(except_key(&v4, net("2600::/64")), Err(64));
        let up = profile(Cni::Upstream, IpFamily::Ipv4);
        assert_eq!(except_key(&up, net("2600::/64")), Ok(net("2600::/64")));
    }

    #[test]
    fn only_the_agent_skips_blocks_and_passes_icmpv6() {
        let v6 = profile(Cni::VpcCni, IpFamily::Ipv6);
        assert!(block_skipped(&v6, "10.0.0.0".parse().unwrap()));
        assert!(!block_skipped(&v6, "fd00::".parse().unwrap()));
        assert!(switches::icmpv6_passes(&v6));
        let up = profile(Cni::Upstream, IpFamily::Ipv6);
        assert!(!block_skipped(&up, "10.0.0.0".parse().unwrap()));
        assert!(!switches::icmpv6_passes(&up));
        assert!(!switches::icmpv6_passes(&profile(
            Cni::VpcCni,
            IpFamily::Ipv4
        )));
    }
}
