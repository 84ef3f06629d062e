//! Bytes to UTF-8: byte-order marks, XML encoding declarations, and for
//! undeclared 8-bit text a guess from the bytes (chardetng, the detector
//! Firefox uses): KOI8-R, windows-1251, Shift_JIS, GBK… and windows-1252.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// How far into a document the XML declaration is looked for. A comment may
/// precede it in the wild (`malformed/incomplete-cdata.xml`).
const DECL_WINDOW: usize = 1024;

/// Decodes an XML document to UTF-8.
///
/// Order of trust: a byte-order mark, then BOM-less UTF-16 (`<\0?\0`), then the
/// declared `encoding`, then UTF-8 when the bytes are valid UTF-8, else the
/// legacy encoding the bytes look like ([`guess_legacy`]: an undeclared KOI8-R
/// feed reads as Cyrillic, not as windows-1252 mojibake).
/// A declared Latin-1/windows-1252 document whose bytes are valid UTF-8 with
/// non-ASCII in them is read as UTF-8: that mislabel is far more common than
/// Latin-1 text that happens to be valid UTF-8.
///
/// The result is meant for a parser that ignores the declaration's encoding
/// (quick-xml's `Reader::from_str` does).
pub(crate) fn decode_xml(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        return decode_with(enc, &bytes[bom_len..]);
    }
    if bytes.starts_with(b"<\0?\0") {
        return decode_with(UTF_16LE, bytes);
    }
    if bytes.starts_with(b"\0<\0?") {
        return decode_with(UTF_16BE, bytes);
    }
    let declared = declared_encoding(bytes);
    match declared {
        // A UTF-16 label on 8-bit bytes (no BOM, no NULs) is a lie; ignore it.
        Some(enc) if enc == UTF_16LE || enc == UTF_16BE => utf8_or_guess(bytes),
        // Valid UTF-8 under a Latin-1 label: ASCII reads the same either way.
        Some(enc) if enc == WINDOWS_1252 => utf8_or(bytes, WINDOWS_1252),
        Some(enc) if enc != UTF_8 => decode_with(enc, bytes),
        _ => utf8_or_guess(bytes),
    }
}

/// Decodes a text document (transcript) to UTF-8: BOM, else UTF-8, else the
/// legacy encoding the bytes look like ([`guess_legacy`]).
pub(crate) fn decode_plain(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        return decode_with(enc, &bytes[bom_len..]);
    }
    utf8_or_guess(bytes)
}

/// Whether the bytes look like binary data rather than text: NUL bytes in the
/// first kilobyte of a document that has no UTF-16 byte-order mark.
pub(crate) fn looks_binary(bytes: &[u8]) -> bool {
    if let Some((enc, _)) = Encoding::for_bom(bytes)
        && enc != UTF_8
    {
        return false;
    }
    bytes.iter().take(1024).any(|b| *b == 0)
}

fn utf8_or<'a>(bytes: &'a [u8], legacy: &'static Encoding) -> Cow<'a, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => decode_with(legacy, bytes),
    }
}

fn utf8_or_guess(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => decode_with(guess_legacy(bytes), bytes),
    }
}

/// The legacy 8-bit or CJK encoding that undeclared, non-UTF-8 bytes look
/// like, guessed as a browser does for an unlabelled page (chardetng, with
/// neither UTF-8 nor ISO-2022-JP as an answer); windows-1252 when nothing
/// fits better.
fn guess_legacy(bytes: &[u8]) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    detector.guess(None, chardetng::Utf8Detection::Deny)
}

/// Decodes without BOM sniffing (the BOM is already stripped); malformed
/// sequences become U+FFFD rather than failing.
fn decode_with<'a>(enc: &'static Encoding, bytes: &'a [u8]) -> Cow<'a, str> {
    if enc == UTF_8 {
        return String::from_utf8_lossy(bytes);
    }
    enc.decode_without_bom_handling(bytes).0
}

/// The encoding named in `<?xml … encoding="…"?>`, if any and known.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(DECL_WINDOW)];
    let start = find(head, b"<?xml")?;
    let rest = &head[start..];
    let end = find(rest, b"?>")?;
    let decl = &rest[..end];
    let at = find(decl, b"encoding")? + b"encoding".len();
    let mut i = at;
    while decl
        .get(i)
        .is_some_and(|b| b.is_ascii_whitespace() || *b == b'=')
    {
        i += 1;
    }
    let quote = *decl.get(i)?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value = &decl[i + 1..];
    let close = value.iter().position(|b| *b == quote)?;
    Encoding::for_label(value[..close].trim_ascii())
}

/// Position of `needle` in `haystack` (small haystacks only).
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The 1-based line number of byte offset `pos` in `text`.
pub(crate) fn line_at(text: &str, pos: usize) -> usize {
    let end = pos.min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

/// A short, single-line excerpt of the start of a document, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = flat.chars().take(40).collect();
    if flat.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_without_declaration_is_borrowed() {
        let doc = "<rss><channel><title>Grüße</title></channel></rss>";
        assert!(matches!(decode_xml(doc.as_bytes()), Cow::Borrowed(s) if s == doc));
    }

    #[test]
    fn declared_single_byte_encodings_are_honoured() {
        let mut bytes = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><t>".to_vec();
        bytes.extend([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]); // "Привет"
        bytes.extend(b"</t>");
        assert!(decode_xml(&bytes).contains("Привет"));
        let latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?><t>caf\xe9</t>";
        assert!(decode_xml(latin1).contains("café"));
    }

    #[test]
    fn latin1_label_on_utf8_bytes_reads_utf8() {
        let doc = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>café</t>";
        assert!(decode_xml(doc.as_bytes()).contains("café"));
    }

    #[test]
    fn undeclared_8bit_bytes_fall_back_to_windows_1252() {
        assert!(
            decode_xml(b"<t>caf\xe9 \x93quoted\x94</t>").contains("café \u{201c}quoted\u{201d}")
        );
        assert!(decode_plain(b"caf\xe9").contains("café"));
    }

    #[test]
    fn byte_order_marks_win() {
        let mut le = vec![0xff, 0xfe];
        for u in "<?xml version=\"1.0\" encoding=\"utf-16\"?><t>é</t>".encode_utf16() {
            le.extend(u.to_le_bytes());
        }
        assert!(decode_xml(&le).ends_with("<t>é</t>"));
        let mut be = Vec::new();
        for u in "<?xml version=\"1.0\"?><t>é</t>".encode_utf16() {
            be.extend(u.to_be_bytes());
        }
        assert!(
            decode_xml(&be).ends_with("<t>é</t>"),
            "BOM-less UTF-16BE is sniffed from `<?`"
        );
        let bom8 = b"\xef\xbb\xbf<t>ok \xff</t>";
        let s = decode_xml(bom8);
        assert!(
            s.starts_with("<t>ok "),
            "BOM stripped, invalid byte replaced: {s:?}"
        );
        assert!(s.contains('\u{fffd}'));
    }

    #[test]
    fn a_utf16_label_on_8bit_bytes_is_ignored() {
        assert!(
            decode_xml(b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><t>x</t>")
                .ends_with("<t>x</t>")
        );
    }

    #[test]
    fn lines_and_binary() {
        assert_eq!(line_at("a\nb\nc", 0), 1);
        assert_eq!(line_at("a\nb\nc", 4), 3);
        assert_eq!(line_at("a", 99), 1);
        assert!(looks_binary(b"ID3\x04\x00\x00"));
        assert!(!looks_binary(b"WEBVTT\n"));
        assert_eq!(excerpt("  i am\n not   xml "), "i am not xml");
    }
}
