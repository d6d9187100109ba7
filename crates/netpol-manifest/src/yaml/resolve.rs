//! Plain scalars read the way go-yaml v2 reads them (YAML 1.1), and numbers and keys
//! written the way Go writes them.

use std::borrow::Cow;

use saphyr_parser::ScalarStyle;
use serde_json::{Number, Value};

use super::AmbiguityKind;
use super::node::{Node, NodeKind};

pub(super) fn is_merge_key(node: &Node<'_>) -> bool {
    matches!(&node.kind, NodeKind::Scalar { text, style: ScalarStyle::Plain, tag: None } if *text.borrow() == "<<")
}

pub(super) struct Resolved {
    pub(super) value: Value,
    /// Set when YAML 1.2 reads the text differently: which way and how.
    pub(super) ambiguous: Option<(AmbiguityKind, String)>,
    /// The number, when the text is a float (not an integer) for go-yaml.
    pub(super) float: Option<f64>,
}

/// go-yaml's spellings of infinity and not-a-number.
pub(super) fn special_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        _ => None,
    }
}

const TRUE_11: &[&str] = &["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"];
const FALSE_11: &[&str] = &["n", "N", "no", "No", "NO", "off", "Off", "OFF"];

/// Reads a plain scalar the way go-yaml v2 does. `None` means a string.
pub(super) fn resolve_plain(text: &str) -> Option<Resolved> {
    let plain = |value| {
        Some(Resolved {
            value,
            ambiguous: None,
            float: None,
        })
    };
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return plain(Value::Null),
        "true" | "True" | "TRUE" => return plain(Value::Bool(true)),
        "false" | "False" | "FALSE" => return plain(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            // JSON has no infinities; Kubernetes would fail to encode them. Keep the text
            // so that a typed field reports a schema error.
            return None;
        }
        _ => {}
    }
    let quoted = || (AmbiguityKind::Boolean, format!("the string \"{text}\""));
    if TRUE_11.contains(&text) {
        return Some(Resolved {
            value: Value::Bool(true),
            ambiguous: Some(quoted()),
            float: None,
        });
    }
    if FALSE_11.contains(&text) {
        return Some(Resolved {
            value: Value::Bool(false),
            ambiguous: Some(quoted()),
            float: None,
        });
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return None;
    }
    let cleaned: Cow<'_, str> = if text.contains('_') {
        Cow::Owned(text.replace('_', ""))
    } else {
        Cow::Borrowed(text)
    };
    if let Some(v) = parse_go_int(&cleaned) {
        let ambiguous = octal_ambiguity(&cleaned, &v).map(|(k, yaml12)| {
            // YAML 1.2 has no digit separators: `01_0` is a string there.
            if text.contains('_') {
                (k, format!("the string \"{text}\""))
            } else {
                (k, yaml12)
            }
        });
        return Some(Resolved {
            value: v,
            ambiguous,
            float: None,
        });
    }
    // Go's ParseFloat fails on overflow (`1e400`), and go-yaml then keeps the string.
    if is_yaml_float(&cleaned)
        && let Ok(f) = cleaned.parse::<f64>()
        && f.is_finite()
    {
        return Some(Resolved {
            value: float_value(f),
            ambiguous: None,
            float: Some(f),
        });
    }
    None
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint`: sign, 0x/0o/0b prefixes, and a
/// leading `0` meaning octal.
pub(super) fn parse_go_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        let v = i64::try_from(magnitude)
            .ok()
            .map(|m| -m)
            .or_else(|| (magnitude == 1u64 << 63).then_some(i64::MIN))?;
        Some(Value::from(v))
    } else if let Ok(v) = i64::try_from(magnitude) {
        Some(Value::from(v))
    } else {
        Some(Value::from(magnitude))
    }
}

/// `0755`: octal 493 in YAML 1.1, decimal 755 in YAML 1.2. Only reported when the two
/// numbers differ (`007` is 7 either way).
fn octal_ambiguity(s: &str, v: &Value) -> Option<(AmbiguityKind, String)> {
    let body = s.trim_start_matches(['+', '-']);
    if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        let decimal: i64 = s.parse().ok()?;
        if Some(decimal) != v.as_i64() {
            return Some((AmbiguityKind::Octal, decimal.to_string()));
        }
    }
    None
}

/// go-yaml v2's float pattern: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's encoding/json writes integral floats without a fraction (`80.0` becomes `80`), so
/// an integer field accepts them; do the same.
pub(super) fn float_value(f: f64) -> Value {
    // kubectl's unstructured reading then takes every integral number that fits an i64
    // as an integer.
    if f.fract() == 0.0 && f.abs() < 9.223_372_036_854_775e18 {
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// A float mapping key as `sigs.k8s.io/yaml` writes it: Go's
/// `strconv.FormatFloat(f, 'g', -1, 32)`, with `.inf`, `-.inf` and `.nan`.
pub(super) fn go_float_key(f: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let f = f as f32;
    if f.is_nan() {
        return ".nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest digits that read back as the same f32, as Go does.
    let e = format!("{:e}", f.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{body}")
}

/// go-yaml's `!!binary`: standard base64 (padding required, line breaks ignored), the
/// bytes as a string, each invalid UTF-8 byte written as U+FFFD as Go's JSON encoder does.
pub(super) fn decode_binary(text: &str) -> Option<String> {
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b'\n' | b'\r'))
        .collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let n = clean.len() / 4;
    for (i, q) in clean.chunks(4).enumerate() {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != n) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &q[..4 - pad] {
            acc = (acc << 6) | val(c)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    let mut s = String::with_capacity(out.len());
    let mut rest = &out[..];
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(v) => {
                s.push_str(v);
                break;
            }
            Err(e) => {
                let ok = e.valid_up_to();
                s.push_str(std::str::from_utf8(&rest[..ok]).unwrap_or_default());
                s.push(char::REPLACEMENT_CHARACTER);
                rest = &rest[ok + 1..];
            }
        }
    }
    Some(s)
}

/// Whether go-yaml v2 reads `s` as a `!!timestamp`: one of Go's layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (or with `t`), `2006-1-2 15:4:5.999999999`, `2006-1-2`.
pub(super) fn is_go_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    // 1 to `max` digits whose value lies in `range`.
    let num = |i: &mut usize, min: usize, max: usize, range: std::ops::RangeInclusive<u32>| {
        let start = *i;
        while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start >= min
            && s[start..*i]
                .parse::<u32>()
                .is_ok_and(|v| range.contains(&v))
    };
    let lit = |i: &mut usize, c: u8| {
        let ok = b.get(*i) == Some(&c);
        *i += usize::from(ok);
        ok
    };
    if !(num(&mut i, 4, 4, 0..=9999)
        && lit(&mut i, b'-')
        && num(&mut i, 1, 2, 1..=12)
        && lit(&mut i, b'-')
        && num(&mut i, 1, 2, 1..=31))
    {
        return false;
    }
    let Some(&sep) = b.get(i) else { return true };
    if !matches!(sep, b'T' | b't' | b' ') {
        return false;
    }
    i += 1;
    if !(num(&mut i, 1, 2, 0..=23)
        && lit(&mut i, b':')
        && num(&mut i, 1, 2, 0..=59)
        && lit(&mut i, b':')
        && num(&mut i, 1, 2, 0..=59))
    {
        return false;
    }
    if lit(&mut i, b'.') && !num(&mut i, 1, 9, 0..=u32::MAX) {
        return false;
    }
    if sep == b' ' {
        return i == b.len();
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i += 1;
            num(&mut i, 2, 2, 0..=23)
                && lit(&mut i, b':')
                && num(&mut i, 2, 2, 0..=59)
                && i == b.len()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_keys_are_written_like_go_float32() {
        let cases = [
            (1.5, "1.5"),
            (std::f64::consts::PI, "3.1415927"),
            (1e3, "1000"),
            (1.0, "1"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (1e40, ".inf"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float_key(f), want, "{f}");
        }
    }

    #[test]
    fn binary_is_base64_with_line_breaks() {
        assert_eq!(decode_binary("aGVs\nbG8=\n").as_deref(), Some("hello"));
        assert_eq!(decode_binary("aGVsbG8").as_deref(), None);
        assert_eq!(decode_binary("/w==").as_deref(), Some("\u{fffd}"));
    }
}
