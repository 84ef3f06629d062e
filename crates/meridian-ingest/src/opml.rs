//! OPML subscription lists: import (flattened, de-duplicated) and export.

use std::collections::HashSet;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::{DocKind, IngestError};
use crate::html::{decode_entities, starts_entity};
use crate::text::{decode_xml, excerpt, line_at, looks_binary};

/// The largest OPML file accepted.
pub const MAX_OPML_BYTES: usize = 16 * 1024 * 1024;

/// One feed in an OPML list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpmlOutline {
    /// The podcast's name (`title`, else `text`), when given.
    pub title: Option<String>,
    /// The feed URL (`xmlUrl`), as written (trimmed).
    pub xml_url: String,
    /// The podcast's web site (`htmlUrl`).
    pub html_url: Option<String>,
}

/// Reads the feeds of an OPML file.
///
/// Every `<outline>` with an `xmlUrl` attribute (any letter case) is a feed,
/// however deeply folders nest it; outlines without one (folders, `type="link"`
/// entries) are skipped. A feed listed twice is kept once, where it first
/// appears. A file that lists no feeds gives an empty list.
///
/// # Errors
/// [`IngestError`] naming `source`: `unparseable` for XML that is not
/// well-formed (with its line), `not_opml` when the root is not `<opml>`,
/// `empty`, `encoding`, `too_large`.
pub fn parse_opml(bytes: &[u8], source: &str) -> Result<Vec<OpmlOutline>, IngestError> {
    IngestError::check_size(DocKind::Opml, source, bytes.len(), MAX_OPML_BYTES)?;
    if looks_binary(bytes) {
        return Err(IngestError::binary(DocKind::Opml, source));
    }
    let text = decode_xml(bytes);
    let body = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let skipped_lines = line_at(&text, text.len() - body.len()) - 1;
    if body.is_empty() {
        return Err(IngestError::empty(DocKind::Opml, source));
    }
    if !body.starts_with('<') {
        return Err(IngestError::wrong(
            DocKind::Opml,
            source,
            format!("plain text, not XML (it starts `{}`)", excerpt(body)),
        ));
    }
    let mut reader = Reader::from_str(body);
    reader.config_mut().allow_dangling_amp = true;
    let mut outlines = Vec::new();
    let mut seen = HashSet::new();
    let mut root_seen = false;
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                let pos = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                let line = line_at(body, pos) + skipped_lines;
                return Err(IngestError::unparseable(
                    DocKind::Opml,
                    source,
                    Some(line),
                    format!("not well-formed XML at line {line}: {e}"),
                ));
            }
        };
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let local = e.local_name();
                let name = local.as_ref().as_bytes();
                if !root_seen {
                    root_seen = true;
                    if !name.eq_ignore_ascii_case(b"opml") {
                        return Err(IngestError::wrong(
                            DocKind::Opml,
                            source,
                            format!(
                                "XML with root element `<{}>`",
                                String::from_utf8_lossy(name)
                            ),
                        ));
                    }
                } else if name.eq_ignore_ascii_case(b"outline")
                    && let Some(outline) = outline(&e)
                    && seen.insert(outline.xml_url.clone())
                {
                    outlines.push(outline);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(IngestError::wrong(
            DocKind::Opml,
            source,
            "an XML document without any element".to_owned(),
        ));
    }
    Ok(outlines)
}

fn outline(e: &BytesStart<'_>) -> Option<OpmlOutline> {
    let (mut xml_url, mut html_url, mut title, mut text) = (None, None, None, None);
    for a in e.attributes().with_checks(false).flatten() {
        let key = a.key.local_name();
        let key = key.as_ref().as_bytes();
        let value = || {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_or_else(|_| a.value.to_string(), |v| v.into_owned());
            non_empty(&without_controls(&v))
        };
        if key.eq_ignore_ascii_case(b"xmlUrl") {
            xml_url = value();
        } else if key.eq_ignore_ascii_case(b"htmlUrl") {
            html_url = value();
        } else if key.eq_ignore_ascii_case(b"title") {
            title = value();
        } else if key.eq_ignore_ascii_case(b"text") {
            text = value();
        }
    }
    // Titles are plain text; some exporters escape entities twice (`&amp;amp;`).
    let title = title
        .or(text)
        .and_then(|t| non_empty(&without_controls(&decode_entities(&t))));
    Some(OpmlOutline {
        title,
        xml_url: xml_url?,
        html_url,
    })
}

/// Writes an OPML 2.0 document listing `outlines` as `type="rss"` outlines
/// under a `<head><title>`. [`parse_opml`] reads it back to the same list.
#[must_use]
pub fn write_opml(title: &str, outlines: &[OpmlOutline]) -> String {
    let mut out = String::with_capacity(200 + outlines.len() * 160);
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head>\n    <title>",
    );
    out.push_str(&escape(title));
    out.push_str("</title>\n  </head>\n  <body>\n");
    for o in outlines {
        out.push_str("    <outline type=\"rss\"");
        if let Some(t) = &o.title {
            let t = escape(&escape_entity_text(t));
            out.push_str(" text=\"");
            out.push_str(&t);
            out.push_str("\" title=\"");
            out.push_str(&t);
            out.push('"');
        }
        out.push_str(" xmlUrl=\"");
        out.push_str(&escape(&o.xml_url));
        out.push('"');
        if let Some(h) = &o.html_url {
            out.push_str(" htmlUrl=\"");
            out.push_str(&escape(h));
            out.push('"');
        }
        out.push_str("/>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// What `write_opml` can write and `parse_opml` read back unchanged: tabs and
/// carriage returns become spaces, line feeds stay, other control characters
/// (which XML 1.0 cannot carry, and `escape` drops) are removed.
///
/// Found by the `opml` fuzz target (docs/fuzzing.md): NUL bytes after the
/// first kilobyte (which `looks_binary` checks) reached an `htmlUrl`, which
/// `write_opml` then wrote without them, so an export did not read back as
/// the list it came from.
fn without_controls(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\t' | '\r' => Some(' '),
            '\n' => Some('\n'),
            c if c.is_control() || meridian_core::text::is_invisible_or_bidi(c) => None,
            c => Some(c),
        })
        .collect()
}

fn non_empty(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Titles are read with HTML entities decoded once more (for exporters that
/// escape twice), so text that still looks like an entity after decoding
/// (`&lt;` as words) is written with its `&` escaped once more: an export
/// then reads back to the same title. Ordinary `&`s (`Q&A`) are untouched.
fn escape_entity_text(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.char_indices() {
        if c == '&' && starts_entity(&s[i..]) {
            out.push_str("&amp;");
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Escapes text for an XML attribute or element.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_folders_are_flattened_and_duplicates_dropped() {
        let doc = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="Folder">
    <outline text="Inner" type="rss" xmlUrl=" https://a.example/feed.xml " htmlUrl="https://a.example/"/>
    <outline text="Deeper"><outline title="T &amp; U" text="ignored" XMLURL="https://b.example/rss"></outline></outline>
  </outline>
  <outline type="rss" text="Again" xmlUrl="https://a.example/feed.xml"/>
  <outline type="link" text="A directory" url="https://x.example/list.opml"/>
  <outline type="rss" xmlurl="https://c.example/c"/>
</body></opml>"#;
        let o = parse_opml(doc.as_bytes(), "subs.opml").unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!(
            o[0].title.as_deref(),
            Some("Inner"),
            "first occurrence wins"
        );
        assert_eq!(o[0].xml_url, "https://a.example/feed.xml");
        assert_eq!(o[0].html_url.as_deref(), Some("https://a.example/"));
        assert_eq!(
            (o[1].title.as_deref(), o[1].xml_url.as_str()),
            (Some("T & U"), "https://b.example/rss")
        );
        assert_eq!(
            (o[2].title.as_deref(), o[2].xml_url.as_str()),
            (None, "https://c.example/c")
        );
    }

    #[test]
    fn bad_opml_names_file_and_line() {
        let e = parse_opml(
            b"<?xml version=\"1.0\"?>\n<opml>\n<body>\n<outline xmlUrl=\"x\">\n</body>\n</opml>",
            "bad.opml",
        )
        .unwrap_err();
        assert_eq!(e.kind(), "unparseable");
        assert!(
            e.to_string()
                .starts_with("OPML `bad.opml`: not well-formed XML at line 5: "),
            "{e}"
        );
        let e = parse_opml(b"<rss version=\"2.0\"/>", "feed.xml").unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string().as_str()),
            (
                "not_opml",
                "OPML `feed.xml`: not an OPML: XML with root element `<rss>`"
            )
        );
        assert_eq!(parse_opml(b"", "e.opml").unwrap_err().kind(), "empty");
        assert_eq!(
            parse_opml(b"hello", "t.opml").unwrap_err().kind(),
            "not_opml"
        );
    }

    #[test]
    fn doctype_entities_are_not_expanded() {
        let doc = br#"<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "x">]>
<opml version="2.0"><body><outline type="rss" text="&a;" xmlUrl="https://example.com/feed.xml"/></body></opml>"#;
        let o = parse_opml(doc, "d.opml").unwrap();
        assert_eq!(o[0].title.as_deref(), Some("&a;"));
    }

    #[test]
    fn write_then_parse_round_trips() {
        let list = vec![
            OpmlOutline {
                title: Some("Q&A <live> \"quoted\"".into()),
                xml_url: "https://a.example/feed?x=1&y=2".into(),
                html_url: Some("https://a.example/".into()),
            },
            OpmlOutline {
                title: None,
                xml_url: "https://b.example/rss".into(),
                html_url: None,
            },
        ];
        let doc = write_opml("My <subs>", &list);
        assert!(doc.contains("<title>My &lt;subs&gt;</title>"));
        assert_eq!(parse_opml(doc.as_bytes(), "out.opml").unwrap(), list);
    }

    /// Found by the `opml` fuzz target: what `parse_opml` reads, written back
    /// with `write_opml`, must read back the same.
    #[test]
    fn regression_fuzz_opml_parsed_lists_round_trip() {
        let padding = format!("<!-- {} -->", "x".repeat(1100));
        let doc = format!(
            "<?xml version=\"1.0\"?>{padding}<opml version=\"2.0\"><body>\
             <outline type=\"rss\" text=\"Nul\0s\" xmlUrl=\"https://a.example/f\0eed\" htmlUrl=\"https://a.example/\0\0x\"/>\
             <outline type=\"rss\" title=\"Words &amp;amp;lt;b&amp;amp;gt; &amp;#1;&#9;tab\" xmlUrl=\"https://b.example/rss\"/>\
             <outline type=\"rss\" title=\"Q&amp;A &amp; more\" xmlUrl=\"https://c.example/rss&#10;\"/>\
             </body></opml>"
        );
        let list = parse_opml(doc.as_bytes(), "fuzz.opml").unwrap();
        assert_eq!(list[0].title.as_deref(), Some("Nuls"));
        assert_eq!(list[0].xml_url, "https://a.example/feed");
        assert_eq!(list[0].html_url.as_deref(), Some("https://a.example/x"));
        assert_eq!(list[1].title.as_deref(), Some("Words &lt;b&gt;  tab"));
        assert_eq!(list[2].title.as_deref(), Some("Q&A & more"));
        let written = write_opml("subs", &list);
        assert!(
            written.contains("text=\"Q&amp;A &amp; more\""),
            "plain `&`s are escaped once: {written}"
        );
        assert_eq!(
            parse_opml(written.as_bytes(), "out.opml").unwrap(),
            list,
            "{written}"
        );
    }
}
