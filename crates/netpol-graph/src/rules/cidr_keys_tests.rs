//! The checks of the research's Python transcription (docs/research/vpc-cni-agent.md,
//! Appendix A) as an oracle for [`lpm`].

use netpol_manifest::model::Protocol;

use super::*;

fn e(cidr: &str, except: &[&str], ports: &[(Protocol, u16)]) -> KeyEntry {
    let ports = if ports.is_empty() {
        PortSet::all()
    } else {
        let mut s = PortSet::empty();
        for &(p, n) in ports {
            s.union_with(&PortSet::port(p, n));
        }
        s
    };
    KeyEntry {
        cidr: cidr.parse().unwrap(),
        except: except.iter().map(|x| x.parse().unwrap()).collect(),
        ports,
        skipped: false,
    }
}

/// "ALLOW(key)" / "DROP(deny key k)" / "DROP(no slot at k)" / "DROP(no key)".
fn verdict(entries: &[KeyEntry], ip: &str, proto: Protocol, port: u16) -> String {
    let d = lpm(entries, ip.parse().unwrap());
    match (&d.key, &d.ports) {
        (None, _) => "DROP(no key)".into(),
        (Some(k), KeyPorts::DenyAll) => format!("DROP(deny key {k})"),
        (Some(k), KeyPorts::Allow(p)) if p.contains(proto, port) => format!("ALLOW({k})"),
        (Some(k), KeyPorts::Allow(_)) => format!("DROP(no slot at {k})"),
    }
}

use Protocol::{Tcp, Udp};

#[test]
fn dns_anywhere_plus_internet_except_rfc1918() {
    let r = [
        e("0.0.0.0/0", &[], &[(Udp, 53), (Tcp, 53)]),
        e(
            "0.0.0.0/0",
            &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
            &[],
        ),
    ];
    let cases = [
        ("172.20.0.10", Udp, 53, "DROP(deny key 172.16.0.0/12)"),
        ("10.0.5.5", Udp, 53, "DROP(deny key 10.0.0.0/8)"),
        ("8.8.8.8", Udp, 53, "ALLOW(0.0.0.0/0)"),
        ("8.8.8.8", Tcp, 443, "ALLOW(0.0.0.0/0)"),
        ("10.0.5.5", Tcp, 443, "DROP(deny key 10.0.0.0/8)"),
    ];
    for (ip, p, port, want) in cases {
        assert_eq!(verdict(&r, ip, p, port), want, "{ip} {p:?}/{port}");
    }
}

#[test]
fn a_key_inside_an_except_inherits_through_an_intermediate_key() {
    let r = [
        e("0.0.0.0/0", &["10.1.0.0/16"], &[]),
        e("10.0.0.0/8", &[], &[(Tcp, 443)]),
        e("10.1.3.4/32", &[], &[(Tcp, 5432)]),
    ];
    let cases = [
        ("10.1.3.4", Tcp, 80, "ALLOW(10.1.3.4/32)"),
        ("10.1.3.4", Tcp, 5432, "ALLOW(10.1.3.4/32)"),
        ("10.1.3.5", Tcp, 443, "DROP(deny key 10.1.0.0/16)"),
        ("10.2.0.1", Tcp, 80, "ALLOW(10.0.0.0/8)"),
    ];
    for (ip, p, port, want) in cases {
        assert_eq!(verdict(&r, ip, p, port), want, "{ip} {p:?}/{port}");
    }
}

#[test]
fn a_key_starting_inside_an_except_inherits_nothing() {
    let r = [
        e("0.0.0.0/0", &["10.0.0.0/16"], &[]),
        e("10.0.0.0/8", &[], &[(Tcp, 443)]),
    ];
    assert_eq!(
        verdict(&r, "10.5.0.1", Tcp, 80),
        "DROP(no slot at 10.0.0.0/8)"
    );
    assert_eq!(verdict(&r, "10.5.0.1", Tcp, 443), "ALLOW(10.0.0.0/8)");
    assert_eq!(verdict(&r, "11.0.0.1", Tcp, 80), "ALLOW(0.0.0.0/0)");
}

#[test]
fn the_fixture_egress_of_app() {
    // testdata/reach/vpc-except-bleed.yaml, egress of x/app toward each address.
    let r = [
        e("0.0.0.0/0", &[], &[(Udp, 53), (Tcp, 53)]),
        e(
            "0.0.0.0/0",
            &["10.1.0.0/16", "172.16.0.0/12", "192.168.0.0/16"],
            &[],
        ),
        e("10.0.0.0/8", &[], &[(Tcp, 443)]),
        e("10.1.3.4/32", &[], &[(Tcp, 5432)]),
    ];
    let cases = [
        ("10.1.0.53", Udp, 53, "DROP(deny key 10.1.0.0/16)"),
        ("172.20.0.10", Udp, 53, "DROP(deny key 172.16.0.0/12)"),
        ("10.1.3.4", Tcp, 80, "ALLOW(10.1.3.4/32)"),
        ("10.1.3.4", Tcp, 443, "ALLOW(10.1.3.4/32)"),
        ("10.1.200.1", Tcp, 443, "DROP(deny key 10.1.0.0/16)"),
        ("8.8.8.8", Tcp, 443, "ALLOW(0.0.0.0/0)"),
    ];
    for (ip, p, port, want) in cases {
        assert_eq!(verdict(&r, ip, p, port), want, "{ip} {p:?}/{port}");
    }
}

#[test]
fn without_excepts_the_table_is_the_union() {
    let r = [
        e("0.0.0.0/0", &[], &[(Udp, 53)]),
        e("10.0.0.0/8", &[], &[(Tcp, 443)]),
        e("10.1.3.4/32", &[], &[(Tcp, 5432)]),
    ];
    let d = lpm(&r, "10.1.3.4".parse().unwrap()).allowed();
    for (p, n) in [(Udp, 53), (Tcp, 443), (Tcp, 5432)] {
        assert!(d.contains(p, n));
    }
    assert!(!d.contains(Tcp, 80));
}
