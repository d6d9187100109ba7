//! Syntax checks the API server applies to names, labels, ports and CIDRs
//! (`k8s.io/apimachinery/pkg/util/validation`). Each returns the reason a value is invalid.

use std::net::IpAddr;

use ipnet::IpNet;

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// RFC 1123 label: at most 63 of `[a-z0-9-]`, starting and ending alphanumeric.
pub(crate) fn dns1123_label(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 63 {
        return Err(format!(
            "must be at most 63 characters (it has {})",
            s.len()
        ));
    }
    let b = s.as_bytes();
    if !b.iter().all(|&c| is_alnum_lower(c) || c == b'-') {
        return Err("must consist of lower case letters, digits and '-'".into());
    }
    if !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return Err("must start and end with a lower case letter or digit".into());
    }
    Ok(())
}

/// RFC 1035 label: an RFC 1123 label that starts with a letter (Service names).
pub(crate) fn dns1035_label(s: &str) -> Result<(), String> {
    dns1123_label(s)?;
    if !s.as_bytes()[0].is_ascii_lowercase() {
        return Err("must start with a lower case letter".into());
    }
    Ok(())
}

/// RFC 1123 subdomain: at most 253 characters of dot-separated labels.
pub(crate) fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 253 {
        return Err(format!(
            "must be at most 253 characters (it has {})",
            s.len()
        ));
    }
    for part in s.split('.') {
        let b = part.as_bytes();
        let ok = !b.is_empty()
            && b.iter().all(|&c| is_alnum_lower(c) || c == b'-')
            && is_alnum_lower(b[0])
            && is_alnum_lower(b[b.len() - 1]);
        if !ok {
            return Err(
                "must consist of lower case letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit"
                    .into(),
            );
        }
    }
    Ok(())
}

fn name_chars_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63
/// characters `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
pub(crate) fn qualified_name(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            return Err("the prefix before '/' must not be empty".into());
        }
        dns1123_subdomain(p).map_err(|e| format!("the prefix `{p}` {e}"))?;
    }
    if name.is_empty() {
        return Err("the name part must not be empty".into());
    }
    if name.len() > 63 {
        return Err(format!(
            "the name part must be at most 63 characters (it has {})",
            name.len()
        ));
    }
    if !name_chars_ok(name) {
        return Err(
            "the name part must consist of letters, digits, '-', '_' and '.', starting and ending with a letter or digit (a key may contain at most one '/')"
                .into(),
        );
    }
    Ok(())
}

/// A label value: empty, or at most 63 characters like a label name.
pub(crate) fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    if s.len() > 63 {
        return Err(format!(
            "must be at most 63 characters (it has {})",
            s.len()
        ));
    }
    if !name_chars_ok(s) {
        return Err(
            "must consist of letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

/// IANA_SVC_NAME: at most 15 of `[a-z0-9-]`, at least one letter, no leading, trailing
/// or double `-`.
pub(crate) fn port_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 15 {
        return Err(format!(
            "must be at most 15 characters (it has {})",
            s.len()
        ));
    }
    let b = s.as_bytes();
    if !b.iter().all(|&c| is_alnum_lower(c) || c == b'-') {
        return Err("must consist of lower case letters, digits and '-'".into());
    }
    if !b.iter().any(u8::is_ascii_lowercase) {
        return Err("must contain at least one letter".into());
    }
    if b[0] == b'-' || b[b.len() - 1] == b'-' {
        return Err("must not start or end with '-'".into());
    }
    if s.contains("--") {
        return Err("must not contain '--'".into());
    }
    Ok(())
}

/// A port number in 1..=65535.
pub(crate) fn port_number(n: i64) -> Option<u16> {
    u16::try_from(n).ok().filter(|&p| p != 0)
}

/// A parsed CIDR and whether host bits had to be cleared.
pub(crate) struct ParsedCidr {
    pub(crate) net: IpNet,
    pub(crate) canonical: bool,
}

/// Parses `addr/len` as Go's `net.ParseCIDR` does (prefix required, no leading zeros).
pub(crate) fn cidr(s: &str) -> Result<ParsedCidr, String> {
    let Some((addr, len)) = s.split_once('/') else {
        if s.is_empty() {
            return Err("is empty".into());
        }
        return Err(
            "has no prefix length (write e.g. 10.0.0.0/8, or 10.0.0.1/32 for one address)".into(),
        );
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an IP address"))?;
    if len.is_empty()
        || !len.bytes().all(|b| b.is_ascii_digit())
        || (len.len() > 1 && len.starts_with('0'))
    {
        return Err(format!("`{len}` is not a prefix length"));
    }
    let bits: u8 = len
        .parse()
        .map_err(|_| format!("`{len}` is not a prefix length"))?;
    let net = IpNet::new(ip, bits).map_err(|_| {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        format!("prefix length {bits} is larger than {max}")
    })?;
    let trunc = net.trunc();
    Ok(ParsedCidr {
        canonical: trunc == net,
        net: trunc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels() {
        assert!(dns1123_label("a-b0").is_ok());
        assert!(dns1123_label("A").is_err());
        assert!(dns1123_label("-a").is_err());
        assert!(dns1123_label(&"a".repeat(64)).is_err());
        assert!(dns1123_subdomain("a.b-c.d").is_ok());
        assert!(dns1123_subdomain("a..b").is_err());
        assert!(dns1035_label("1a").is_err());
        assert!(qualified_name("app.kubernetes.io/name").is_ok());
        assert!(qualified_name("App_1.x").is_ok());
        assert!(qualified_name("a/b/c").is_err());
        assert!(qualified_name("/a").is_err());
        assert!(qualified_name("Bad.Prefix/a").is_err());
        assert!(qualified_name(&"a".repeat(64)).is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("v1.2_x-Y").is_ok());
        assert!(label_value("a b").is_err());
        assert!(label_value("-a").is_err());
    }

    #[test]
    fn port_names() {
        assert!(port_name("http").is_ok());
        assert!(port_name("h-2").is_ok());
        assert!(port_name("80").is_err());
        assert!(port_name("-a").is_err());
        assert!(port_name("a--b").is_err());
        assert!(port_name("HTTP").is_err());
        assert!(port_name("abcdefghijklmnop").is_err());
        assert_eq!(port_number(0), None);
        assert_eq!(port_number(65535), Some(65535));
        assert_eq!(port_number(65536), None);
    }

    #[test]
    fn cidrs() {
        let c = cidr("10.0.0.10/4").unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.canonical);
        assert_eq!(c.net.to_string(), "0.0.0.0/4");
        assert!(cidr("10.0.0.0/8").is_ok_and(|c| c.canonical));
        assert!(cidr("fd00::/8").is_ok());
        assert!(cidr("10.0.0.1").is_err());
        assert!(cidr("10.0.0.0/33").is_err());
        assert!(cidr("10.0.0.0/+8").is_err());
        assert!(cidr("010.0.0.0/8").is_err());
    }
}
