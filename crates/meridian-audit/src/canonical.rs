//! Canonical JSON: one byte sequence per value, so that a hash or signature
//! over a record can be recomputed by anyone who parses it.
//!
//! The encoding follows the JSON Canonicalization Scheme (RFC 8785) for
//! everything audit records contain: object members sorted by their keys'
//! UTF-16 code units, no insignificant whitespace, strings escaped only where
//! JSON requires it (`"`, `\` and control characters, with the short escapes
//! `\b \t \n \f \r` and lowercase `\u00xx` otherwise; everything else as
//! UTF-8), integers as plain digits. Non-integer numbers, which Meridian's own
//! records never carry, are written in their shortest round-trip form (a
//! whole number such as `2.0` as `2`); that matches RFC 8785 for magnitudes
//! between 1e-6 and 1e21 and is deterministic outside it.
//!
//! It is written here rather than taken from a crate because it is some sixty
//! lines over `serde_json::Value`, and it must not change under us: a
//! dependency's new major version that changed one byte would make every
//! stored chain fail verification. It also does not depend on whether
//! `serde_json`'s `preserve_order` feature is on somewhere in the build
//! (which would change the order of `Value` maps): keys are sorted here.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// The canonical encoding of `value`.
#[must_use]
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Whether `text` is exactly the canonical encoding of the JSON it holds.
#[must_use]
pub fn is_canonical(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| to_canonical_string(&v) == text)
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>) {
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    members.sort_by(|a, b| utf16_order(a.0, b.0));
    out.push('{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

/// RFC 8785 §3.2.3: keys compare as sequences of UTF-16 code units.
fn utf16_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        // 2^53: beyond it, a whole f64 no longer names one integer.
        if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "whole and below 2^53, so exact"
            )]
            let whole = f as i64;
            let _ = write!(out, "{whole}");
        } else {
            // serde_json prints the shortest representation that round-trips.
            let _ = write!(out, "{n}");
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{is_canonical, to_canonical_string};

    #[test]
    fn keys_are_sorted_and_whitespace_dropped() {
        let v = json!({"b": 1, "a": {"z": [1, 2, {"y": null, "x": true}], "c": "d"}});
        assert_eq!(
            to_canonical_string(&v),
            r#"{"a":{"c":"d","z":[1,2,{"x":true,"y":null}]},"b":1}"#
        );
    }

    #[test]
    fn strings_escape_only_what_json_requires() {
        let v = json!("tab\there \"q\" back\\slash \u{1} é 中 / \u{7f}");
        assert_eq!(
            to_canonical_string(&v),
            "\"tab\\there \\\"q\\\" back\\\\slash \\u0001 é 中 / \u{7f}\""
        );
    }

    #[test]
    fn numbers_follow_rfc_8785_for_ordinary_values() {
        let v: serde_json::Value =
            serde_json::from_str("[0, -7, 18446744073709551615, 2.0, 0.5, 1e2, -0.0]").unwrap();
        assert_eq!(
            to_canonical_string(&v),
            "[0,-7,18446744073709551615,2,0.5,100,0]"
        );
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+FB01 (one unit, 0xFB01) sorts after U+1F600 (surrogates 0xD83D…) in
        // UTF-16 order, although its UTF-8 bytes sort first.
        let v = json!({"\u{fb01}": 1, "\u{1f600}": 2});
        assert_eq!(to_canonical_string(&v), "{\"\u{1f600}\":2,\"\u{fb01}\":1}");
    }

    #[test]
    fn canonical_text_is_recognised() {
        assert!(is_canonical(r#"{"a":1,"b":[true]}"#));
        assert!(!is_canonical(r#"{"b":[true],"a":1}"#), "unsorted");
        assert!(!is_canonical(r#"{"a": 1}"#), "whitespace");
        assert!(!is_canonical("not json"));
    }
}
