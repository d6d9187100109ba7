//! Port lists as snapshots write them (`PortSet::to_strings` joined by `,`), read back.

use netpol_graph::PortSet;
use netpol_graph::ports::MIN_PORT;
use netpol_manifest::model::Protocol;

/// `*`, `TCP/*`, `TCP/80`, `TCP/8000-8080`, `other`, joined by `,`; `None` when malformed.
pub fn parse_ports(s: &str) -> Option<PortSet> {
    let mut set = PortSet::empty();
    for item in s.split(',') {
        let one = match item {
            "*" => PortSet::all(),
            // Every protocol but TCP, UDP and SCTP: all minus those three.
            "other" => Protocol::ALL
                .into_iter()
                .fold(PortSet::all(), |a, p| a.difference(&PortSet::protocol(p))),
            _ => {
                let (proto, ports) = item.split_once('/')?;
                let proto = Protocol::parse(proto)?;
                if ports == "*" {
                    PortSet::protocol(proto)
                } else {
                    let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
                    let (lo, hi) = (lo.parse::<u16>().ok()?, hi.parse::<u16>().ok()?);
                    if lo < MIN_PORT || lo > hi {
                        return None;
                    }
                    PortSet::range(proto, lo, hi)
                }
            }
        };
        set.union_with(&one);
    }
    (!set.is_empty()).then_some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "*",
            "TCP/*",
            "TCP/80",
            "TCP/80,TCP/443",
            "TCP/8000-8080,UDP/53",
            "other",
        ] {
            let set = parse_ports(s).expect(s);
            assert_eq!(set.to_strings().join(","), s);
        }
        for bad in ["", "TCP/0", "TCP/9-8", "HTTP/80", "TCP/x"] {
            assert!(parse_ports(bad).is_none(), "{bad}");
        }
    }
}
