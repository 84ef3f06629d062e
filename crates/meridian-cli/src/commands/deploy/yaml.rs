//! A small YAML writer for generated Helm values.
//!
//! Why not a YAML crate: `serde_yaml` is deprecated and unmaintained, and its
//! forks (`serde_norway`, `serde_yml`) would add a C-derived parser we do not
//! need, since we only *write*. Nor can a serialiser put comments in, and the
//! generated values files are read and reviewed by people. The subset written
//! here is small and safe by construction:
//!
//! - mapping keys are plain when they are simple identifiers or paths, and
//!   double-quoted otherwise;
//! - every string value is double-quoted, with escapes for `"`, `\` and
//!   every character YAML does not allow raw, except multi-line text, which is
//!   a literal block (`|` or `|-`) when that reads back exactly, and
//!   double-quoted when it would not;
//! - integers and booleans are plain;
//! - maps and lists keep the order they were built in, so output is stable.

use std::fmt::Write as _;

/// A YAML value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A sequence.
    List(Vec<Node>),
    /// A mapping, in insertion order.
    Map(Map),
}

/// A mapping whose entries may carry comment lines above them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Map {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    key: String,
    value: Node,
    comment: Vec<String>,
}

impl Map {
    /// An empty mapping.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `key: value`.
    pub(crate) fn with(mut self, key: &str, value: impl Into<Node>) -> Self {
        self.entries.push(Entry {
            key: key.to_owned(),
            value: value.into(),
            comment: Vec::new(),
        });
        self
    }

    /// Adds `key: value` with a comment above it (one line per `\n`).
    pub(crate) fn with_comment(mut self, comment: &str, key: &str, value: impl Into<Node>) -> Self {
        let comment = comment.lines().map(str::to_owned).collect();
        self.entries.push(Entry {
            key: key.to_owned(),
            value: value.into(),
            comment,
        });
        self
    }

    /// Adds `key: value` in place.
    pub(crate) fn insert(&mut self, key: &str, value: impl Into<Node>) {
        self.entries.push(Entry {
            key: key.to_owned(),
            value: value.into(),
            comment: Vec::new(),
        });
    }
}

impl From<Map> for Node {
    fn from(m: Map) -> Self {
        Self::Map(m)
    }
}

impl From<&str> for Node {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

impl From<String> for Node {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}

impl From<&String> for Node {
    fn from(s: &String) -> Self {
        Self::Str(s.clone())
    }
}

impl From<bool> for Node {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<u16> for Node {
    fn from(n: u16) -> Self {
        Self::Int(i64::from(n))
    }
}

impl From<u8> for Node {
    fn from(n: u8) -> Self {
        Self::Int(i64::from(n))
    }
}

impl From<u32> for Node {
    fn from(n: u32) -> Self {
        Self::Int(i64::from(n))
    }
}

impl<T: Into<Node>> From<Vec<T>> for Node {
    fn from(items: Vec<T>) -> Self {
        Self::List(items.into_iter().map(Into::into).collect())
    }
}

/// Writes a document: the header comment lines, then the top-level mapping.
pub(crate) fn document(header: &[String], root: &Map) -> String {
    let mut out = String::new();
    for line in header {
        push_comment(&mut out, 0, line);
    }
    write_map(&mut out, 0, root);
    out
}

fn push_comment(out: &mut String, indent: usize, line: &str) {
    pad(out, indent);
    if line.is_empty() {
        out.push_str("#\n");
    } else {
        let _ = writeln!(out, "# {line}");
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn write_map(out: &mut String, indent: usize, map: &Map) {
    for entry in &map.entries {
        for line in &entry.comment {
            push_comment(out, indent, line);
        }
        pad(out, indent);
        write_entry(out, indent, entry);
    }
}

/// Writes `key: value` whose first line's indentation is already written.
fn write_entry(out: &mut String, indent: usize, entry: &Entry) {
    out.push_str(&key(&entry.key));
    out.push(':');
    write_value(out, indent, &entry.value);
}

/// Writes a value after `key:` or `-`: inline scalars and empty collections
/// on the same line, everything else on the following lines.
fn write_value(out: &mut String, indent: usize, value: &Node) {
    match value {
        Node::Map(m) if m.entries.is_empty() => out.push_str(" {}\n"),
        Node::List(l) if l.is_empty() => out.push_str(" []\n"),
        Node::Map(m) => {
            out.push('\n');
            write_map(out, indent + 2, m);
        }
        Node::List(items) if items.iter().all(|i| matches!(i, Node::Int(_))) => {
            // Short lists of numbers (ports) read best in flow style: `[80, 443]`.
            let numbers: Vec<String> = items
                .iter()
                .filter_map(|i| {
                    if let Node::Int(n) = i {
                        Some(n.to_string())
                    } else {
                        None
                    }
                })
                .collect();
            let _ = writeln!(out, " [{}]", numbers.join(", "));
        }
        Node::List(items) => {
            out.push('\n');
            for item in items {
                write_item(out, indent + 2, item);
            }
        }
        Node::Str(s) => match block(s) {
            Some(chomp) => {
                let _ = writeln!(out, " |{chomp}");
                for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                    if !line.is_empty() {
                        pad(out, indent + 2);
                        out.push_str(line);
                    }
                    out.push('\n');
                }
            }
            None => {
                out.push(' ');
                out.push_str(&quoted(s));
                out.push('\n');
            }
        },
        Node::Int(n) => {
            let _ = writeln!(out, " {n}");
        }
        Node::Bool(b) => {
            let _ = writeln!(out, " {b}");
        }
    }
}

/// Writes one sequence item at `indent`.
fn write_item(out: &mut String, indent: usize, item: &Node) {
    match item {
        Node::Map(m) if !m.entries.is_empty() => {
            // `- first: …` then the other keys aligned under `first`; the first
            // key's comment goes above the dash.
            for (i, entry) in m.entries.iter().enumerate() {
                if i == 0 {
                    for line in &entry.comment {
                        push_comment(out, indent, line);
                    }
                    pad(out, indent);
                    out.push_str("- ");
                } else {
                    for line in &entry.comment {
                        push_comment(out, indent + 2, line);
                    }
                    pad(out, indent + 2);
                }
                write_entry(out, indent + 2, entry);
            }
        }
        other => {
            pad(out, indent);
            out.push('-');
            write_value(out, indent, other);
        }
    }
}

/// A key, plain when that cannot be misread (`us.toml`, `global/egress.cedar`,
/// `networkPolicy`), double-quoted otherwise.
fn key(k: &str) -> String {
    let plain = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !is_reserved_word(k);
    if plain { k.to_owned() } else { quoted(k) }
}

/// Words YAML 1.1 parsers (Helm uses one) read as booleans or null.
fn is_reserved_word(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    )
}

/// A double-quoted scalar: `"` and `\\` escaped, and every character YAML
/// does not allow raw (C0 and C1 controls, DEL, line and paragraph separators,
/// BOM, U+FFFE/U+FFFF) written as an escape.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters that may not appear raw in a YAML document.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// The chomping indicator when `s` can be written as a literal block that
/// reads back exactly (`""` keeps one final newline, `"-"` none), else `None`.
fn block(s: &str) -> Option<&'static str> {
    let body = s.strip_suffix('\n');
    let chomp = if body.is_some() { "" } else { "-" };
    let body = body.unwrap_or(s);
    if !body.contains('\n') || body.ends_with('\n') {
        // One line (quoted is clearer), or trailing blank lines (would need `|+`).
        return None;
    }
    let printable = body
        .chars()
        .all(|c| c == '\n' || c == '\t' || !needs_escape(c));
    // Auto-detected indentation must come from the first non-empty line, and a
    // line of only blanks would be ambiguous with an empty one.
    let first_ok = body
        .split('\n')
        .find(|l| !l.is_empty())
        .is_some_and(|l| !l.starts_with([' ', '\t']));
    let no_blank_only = body
        .split('\n')
        .all(|l| l.is_empty() || !l.chars().all(|c| c == ' ' || c == '\t'));
    (printable && first_ok && no_blank_only).then_some(chomp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_maps_lists_and_comments() {
        let root = Map::new()
            .with(
                "region",
                Map::new().with("id", "cn").with("digestHour", 7u8),
            )
            .with_comment(
                "Two rules.",
                "egress",
                vec![
                    Node::from(Map::new().with("host", "*").with("ports", vec![80u16, 443])),
                    Node::from(
                        Map::new()
                            .with_comment("in-cluster", "host", "svc")
                            .with("to", "ollama"),
                    ),
                ],
            )
            .with("empty", Map::new())
            .with("none", Vec::<Node>::new())
            .with("on", true);
        let text = document(&["Generated.".to_owned(), String::new()], &root);
        assert_eq!(
            text,
            "# Generated.\n#\nregion:\n  id: \"cn\"\n  digestHour: 7\n# Two rules.\negress:\n  - host: \"*\"\n    ports: [80, 443]\n  # in-cluster\n  - host: \"svc\"\n    to: \"ollama\"\nempty: {}\nnone: []\n\"on\": true\n"
        );
    }

    #[test]
    fn multi_line_text_is_a_literal_block_that_keeps_its_bytes() {
        let root = Map::new()
            .with("a", "x = 1\n\n# 注释\n\tindented\n")
            .with("b", "no newline\nat end")
            .with("c", " leading space\nsecond\n")
            .with("d", "two trailing\n\n")
            .with("e", "blank only\n   \nline\n")
            .with("f", "carriage\r\nreturn\n");
        let text = document(&[], &root);
        assert_eq!(
            text,
            concat!(
                "a: |\n  x = 1\n\n  # 注释\n  \tindented\n",
                "b: |-\n  no newline\n  at end\n",
                "c: \" leading space\\nsecond\\n\"\n",
                "d: \"two trailing\\n\\n\"\n",
                "e: \"blank only\\n   \\nline\\n\"\n",
                "f: \"carriage\\r\\nreturn\\n\"\n",
            )
        );
    }

    #[test]
    fn strings_that_yaml_would_misread_are_quoted() {
        for (s, want) in [
            ("yes", "\"yes\""),
            ("0 7 * * *", "\"0 7 * * *\""),
            ("a\"b\\c", "\"a\\\"b\\\\c\""),
            ("line\u{2028}sep", "\"line\\u2028sep\""),
            ("del\u{7f}", "\"del\\u007F\""),
            ("tab\there", "\"tab\\there\""),
        ] {
            assert_eq!(quoted(s), want, "{s:?}");
        }
        assert_eq!(key("us.toml"), "us.toml");
        assert_eq!(key("global/egress.cedar"), "global/egress.cedar");
        assert_eq!(key("1.5"), "\"1.5\"");
        assert_eq!(key("No"), "\"No\"");
        assert_eq!(key("a b"), "\"a b\"");
    }
}
