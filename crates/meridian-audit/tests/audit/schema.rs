//! A validator for the subset of JSON Schema (draft 2020-12) that
//! `docs/audit-report.schema.json` uses: `type` (one or several), `const`,
//! `enum`, `required`, `properties`, `additionalProperties: false`, `items`,
//! `minimum`, `maximum` and local `$ref`s to `#/$defs/…`. A full validator
//! crate would pull in a regex engine, a URI resolver and an HTTP client for
//! remote references; this is the part our schema needs, and it fails loudly
//! on any keyword it does not know, so the schema cannot outgrow it unnoticed.

use serde_json::Value;

const KNOWN: [&str; 15] = [
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "type",
    "const",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minimum",
    "maximum",
];

/// Every violation of `schema` by `value`, as `path: message`.
pub(crate) fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, value, "$", &mut errors);
    errors
}

fn type_matches(name: &str, v: &Value) -> bool {
    match name {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unknown type `{other}` in the schema"),
    }
}

fn check(root: &Value, schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        panic!("schema at {path} is not an object")
    };
    for key in s.keys() {
        assert!(
            KNOWN.contains(&key.as_str()),
            "the schema uses `{key}` (at {path}), which this validator does not implement"
        );
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("only local $refs are supported: {r}"));
        let target = root["$defs"]
            .get(name)
            .unwrap_or_else(|| panic!("$ref {r} points nowhere"));
        check(root, target, v, path, errors);
    }
    if let Some(t) = s.get("type") {
        let names: Vec<&str> = match t {
            Value::String(n) => vec![n.as_str()],
            Value::Array(ns) => ns.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad `type` at {path}"),
        };
        if !names.iter().any(|n| type_matches(n, v)) {
            errors.push(format!("{path}: {v} is not of type {names:?}"));
            return;
        }
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{path}: {v} is not {c}"));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errors.push(format!("{path}: {v} is not one of {e:?}"));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{path}: {n} < {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{path}: {n} > {max}"));
        }
    }
    if let Some(obj) = v.as_object() {
        for key in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(key) {
                errors.push(format!("{path}: missing required `{key}`"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (key, child) in obj {
            match props.and_then(|p| p.get(key)) {
                Some(sub) => check(root, sub, child, &format!("{path}.{key}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{path}: `{key}` is not in the schema"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(root, items, item, &format!("{path}[{i}]"), errors);
        }
    }
}

#[test]
fn the_validator_catches_what_the_schema_forbids() {
    let schema: Value = serde_json::json!({
        "type": "object", "additionalProperties": false, "required": ["a"],
        "properties": { "a": { "$ref": "#/$defs/n" }, "b": { "type": ["string", "null"] } },
        "$defs": { "n": { "type": "integer", "minimum": 0 } }
    });
    assert!(validate(&schema, &serde_json::json!({"a": 1, "b": null})).is_empty());
    assert_eq!(
        validate(&schema, &serde_json::json!({"b": 2, "c": 1})).len(),
        3,
        "missing a, b mistyped, c unknown"
    );
    assert_eq!(validate(&schema, &serde_json::json!({"a": -1})).len(), 1);
}
