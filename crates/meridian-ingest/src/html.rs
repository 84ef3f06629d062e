//! HTML to plain text: a forgiving byte-level tokenizer, entity decoding and
//! whitespace collapsing. No DOM is built; show notes and transcripts only need
//! their text and where the blocks break.

/// One piece of an HTML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// Character data, entities not yet decoded.
    Text(&'a str),
    /// A start tag; `name` as written (compare with `eq_ignore_ascii_case`).
    Open(&'a str),
    /// An end tag.
    Close(&'a str),
}

/// Elements whose content is never text for a reader: skipped by the tokenizer
/// itself, up to their end tag (or the end of the document when unclosed, as a
/// browser would).
const RAW_TEXT: [&str; 3] = ["script", "style", "textarea"];

/// Iterator over the [`Token`]s of an HTML string. Never fails: anything that is
/// not a tag is text, a `<` that opens no tag is a literal `<`.
pub(crate) struct Tokens<'a> {
    s: &'a str,
    pos: usize,
    /// Set after a raw-text element's start tag: skip to its end tag.
    skip_to_close: Option<&'a str>,
}

impl<'a> Tokens<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Self {
            s,
            pos: 0,
            skip_to_close: None,
        }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let bytes = self.s.as_bytes();
        if let Some(name) = self.skip_to_close.take() {
            match find_close_tag(&bytes[self.pos..], name.as_bytes()) {
                Some(end) => {
                    self.pos += end;
                    return Some(Token::Close(name));
                }
                None => {
                    self.pos = bytes.len();
                    return None;
                }
            }
        }
        loop {
            if self.pos >= bytes.len() {
                return None;
            }
            let rest = &bytes[self.pos..];
            if rest[0] != b'<' {
                let len = memchr::memchr(b'<', rest).unwrap_or(rest.len());
                let text = &self.s[self.pos..self.pos + len];
                self.pos += len;
                return Some(Token::Text(text));
            }
            // `rest` starts with '<'.
            if rest.starts_with(b"<!--") {
                // A comment never closed with `-->` ends at the first `>`, as
                // SGML-era parsers (and feedparser) read it, rather than
                // hiding the rest of the text.
                let end = crate::text::find(&rest[4..], b"-->")
                    .map(|i| i + 7)
                    .or_else(|| memchr::memchr(b'>', &rest[4..]).map(|i| i + 5));
                self.pos += end.unwrap_or(rest.len());
                continue;
            }
            if rest.starts_with(b"<![CDATA[") {
                let inner = &rest[9..];
                let len = crate::text::find(inner, b"]]>").unwrap_or(inner.len());
                let start = self.pos + 9;
                self.pos = (start + len + 3).min(bytes.len());
                return Some(Token::Text(&self.s[start..start + len]));
            }
            if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
                // A declaration or processing instruction ends at `>`; without
                // one, the `<` is text (`&lt;!DOCTYPE ~` in a title).
                match memchr::memchr(b'>', rest) {
                    Some(i) => {
                        self.pos += i + 1;
                        continue;
                    }
                    None => {
                        let text = &self.s[self.pos..self.pos + 1];
                        self.pos += 1;
                        return Some(Token::Text(text));
                    }
                }
            }
            let closing = rest.get(1) == Some(&b'/');
            let name_start = if closing { 2 } else { 1 };
            if !rest.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
                // A lone `<` (as in `a < b`) is text.
                let text = &self.s[self.pos..self.pos + 1];
                self.pos += 1;
                return Some(Token::Text(text));
            }
            let name_len = rest[name_start..]
                .iter()
                .position(|b| {
                    !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b':' || *b == b'_')
                })
                .unwrap_or(rest.len() - name_start);
            let name = &self.s[self.pos + name_start..self.pos + name_start + name_len];
            let Some(tag_len) = tag_end(&rest[name_start + name_len..]) else {
                // No `>` follows. A cut-off HTML tag (`<a href="…`) is dropped;
                // anything else (`x<y matters` in a title) is text.
                if is_known_element(name) {
                    self.pos = bytes.len();
                    return None;
                }
                let text = &self.s[self.pos..self.pos + 1];
                self.pos += 1;
                return Some(Token::Text(text));
            };
            self.pos += name_start + name_len + tag_len;
            if closing {
                return Some(Token::Close(name));
            }
            if RAW_TEXT.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                self.skip_to_close = Some(name);
            }
            return Some(Token::Open(name));
        }
    }
}

/// Length up to and including the `>` that ends a tag, skipping quoted
/// attribute values. As in the HTML standard's tokenizer, a quote opens a
/// quoted value only right after `=` (spaces allowed between): in
/// `<a href=http://x/">` the `"` is part of an unquoted value, and the tag
/// ends at the `>` after it instead of swallowing the rest of the text.
fn tag_end(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        i += memchr::memchr2(b'>', b'=', &s[i..])?;
        if s[i] == b'>' {
            return Some(i + 1);
        }
        i += 1;
        while s.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if let Some(&quote) = s.get(i)
            && (quote == b'"' || quote == b'\'')
        {
            i += 1;
            i += memchr::memchr(quote, &s[i..])? + 1;
        }
    }
}

/// Finds `</name` (case-insensitive) and returns the offset just past its `>`.
fn find_close_tag(s: &[u8], name: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].windows(2).position(|w| w == b"</") {
        let at = from + i;
        let after = at + 2;
        if s.len() >= after + name.len() && s[after..after + name.len()].eq_ignore_ascii_case(name)
        {
            let end = s[after..]
                .iter()
                .position(|b| *b == b'>')
                .map_or(s.len(), |p| after + p + 1);
            return Some(end);
        }
        from = at + 2;
    }
    None
}

/// What an element means for the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    /// Starts a new line of text (`p`, `br`, `div`, `li`, headings…).
    Block,
    /// Its content is not part of the readable text (`head`, `svg`…).
    Hidden,
    /// A table cell: separated by a space.
    Cell,
    Other,
}

/// The kind of element `name` is (ASCII case-insensitive). One `match` on the
/// lower-cased name: show notes have a tag every few words, and comparing
/// each with the ~40 names below one by one was a good part of
/// `html_to_text` (docs/benchmarks.md).
fn tag_kind(name: &str) -> TagKind {
    const LONGEST: usize = 10;
    let bytes = name.as_bytes();
    if bytes.len() > LONGEST {
        return TagKind::Other;
    }
    let mut lower = [0u8; LONGEST];
    for (l, b) in lower.iter_mut().zip(bytes) {
        *l = b.to_ascii_lowercase();
    }
    match &lower[..bytes.len()] {
        b"p" | b"br" | b"div" | b"li" | b"ul" | b"ol" | b"dl" | b"dt" | b"dd" | b"h1" | b"h2"
        | b"h3" | b"h4" | b"h5" | b"h6" | b"tr" | b"table" | b"blockquote" | b"pre"
        | b"section" | b"article" | b"header" | b"footer" | b"hr" | b"figure" | b"figcaption"
        | b"main" | b"nav" | b"aside" | b"address" | b"details" | b"summary" | b"body"
        | b"html" => TagKind::Block,
        // Not `object`: its content is the fallback a browser shows when it
        // does not render the object, as a text never does.
        b"head" | b"title" | b"noscript" | b"template" | b"svg" | b"iframe" => TagKind::Hidden,
        b"td" | b"th" => TagKind::Cell,
        _ => TagKind::Other,
    }
}

/// Elements that start a new line of text.
fn is_block(name: &str) -> bool {
    tag_kind(name) == TagKind::Block
}

/// Element names common enough in show notes to recognise a cut-off tag.
fn is_known_element(name: &str) -> bool {
    const INLINE: [&str; 20] = [
        "a", "b", "i", "u", "s", "em", "strong", "span", "img", "small", "sub", "sup", "code",
        "font", "cite", "time", "mark", "abbr", "script", "style",
    ];
    is_block(name) || is_hidden(name) || INLINE.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// Elements whose content is not part of the readable text.
fn is_hidden(name: &str) -> bool {
    tag_kind(name) == TagKind::Hidden
}

/// Reduces HTML to plain text.
///
/// Tags are removed; entities (named, decimal, hex) are decoded; `<script>`,
/// `<style>`, `<head>` and the like are dropped with their content; block
/// elements (`p`, `br`, `div`, `li`, headings…) become line breaks; every other
/// run of whitespace becomes one space. Lines are trimmed and no empty lines
/// remain. Malformed markup never fails: a stray `<` is kept as text.
#[must_use]
pub fn html_to_text(html: &str) -> String {
    let mut out = TextSink::with_capacity(html.len());
    if memchr::memchr2(b'<', b'&', html.as_bytes()).is_none() {
        out.push_text(html);
        return out.finish();
    }
    let mut hidden_depth = 0usize;
    for token in Tokens::new(html) {
        match token {
            Token::Text(t) => {
                if hidden_depth == 0 {
                    out.push_encoded(t);
                }
            }
            Token::Open(name) => {
                let kind = tag_kind(name);
                if kind == TagKind::Hidden {
                    hidden_depth += 1;
                } else if name.eq_ignore_ascii_case("body") {
                    // An unclosed `<head>` must not swallow the body.
                    hidden_depth = 0;
                }
                match kind {
                    TagKind::Block => out.break_line(),
                    TagKind::Cell => out.space(),
                    TagKind::Hidden | TagKind::Other => {}
                }
            }
            Token::Close(name) => {
                let kind = tag_kind(name);
                if kind == TagKind::Hidden {
                    hidden_depth = hidden_depth.saturating_sub(1);
                }
                if kind == TagKind::Block {
                    out.break_line();
                }
            }
        }
    }
    out.finish()
}

/// Collects text, collapsing whitespace: spaces within a line, single line
/// breaks between blocks, nothing leading or trailing.
pub(crate) struct TextSink {
    out: String,
    pending_space: bool,
    pending_break: bool,
}

impl TextSink {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            out: String::with_capacity(n),
            pending_space: false,
            pending_break: false,
        }
    }

    /// Adds decoded text.
    pub(crate) fn push_text(&mut self, text: &str) {
        // Runs of visible characters, with single spaces between them, go in
        // one `push_str`: exactly what `push_char` would add one by one (the
        // run's first character owes the pending separator, each inner space
        // becomes one space before the next visible character). Show notes
        // are mostly such runs (parse benchmark in
        // docs/benchmarks.md); anything else (other whitespace, several
        // spaces, invisible characters) goes through `push_char`.
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            loop {
                while i < bytes.len() {
                    let b = bytes[i];
                    if b.is_ascii_graphic() {
                        i += 1;
                    } else if b >= 0x80 {
                        let Some(c) = text[i..].chars().next() else {
                            break;
                        };
                        if c.is_whitespace() || is_invisible(c) {
                            break;
                        }
                        i += c.len_utf8();
                    } else {
                        break;
                    }
                }
                if i > start
                    && bytes.get(i) == Some(&b' ')
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_graphic)
                {
                    i += 2;
                } else {
                    break;
                }
            }
            if i > start {
                self.push_run(&text[start..i]);
                continue;
            }
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            self.push_char(c);
            i += c.len_utf8();
        }
    }

    /// Adds a non-empty run of visible characters (single spaces between).
    fn push_run(&mut self, run: &str) {
        self.separate();
        self.out.push_str(run);
    }

    /// The space or line break owed before the next visible character.
    fn separate(&mut self) {
        if !self.out.is_empty() {
            if self.pending_break {
                self.out.push('\n');
            } else if self.pending_space {
                self.out.push(' ');
            }
        }
        self.pending_space = false;
        self.pending_break = false;
    }

    /// Adds text that may hold character references.
    pub(crate) fn push_encoded(&mut self, text: &str) {
        if memchr::memchr(b'&', text.as_bytes()).is_none() {
            self.push_text(text);
            return;
        }
        let mut rest = text;
        while let Some(amp) = memchr::memchr(b'&', rest.as_bytes()) {
            self.push_text(&rest[..amp]);
            rest = &rest[amp..];
            match decode_entity(rest) {
                Some((decoded, len)) => {
                    match decoded {
                        Decoded::Char(c) => self.push_char(c),
                        Decoded::Str(s) => self.push_text(s),
                    }
                    rest = &rest[len..];
                }
                None => {
                    self.push_char('&');
                    rest = &rest[1..];
                }
            }
        }
        self.push_text(rest);
    }

    fn push_char(&mut self, c: char) {
        if c == '\n' || c == '\r' || c.is_whitespace() {
            self.pending_space = true;
            return;
        }
        if is_invisible(c) {
            return;
        }
        self.separate();
        self.out.push(c);
    }

    /// The next text starts on a new line.
    pub(crate) fn break_line(&mut self) {
        self.pending_break = true;
    }

    /// The next text is separated by a space.
    pub(crate) fn space(&mut self) {
        self.pending_space = true;
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Soft hyphens, and the invisible and bidi characters stripped from all
/// feed text ([`meridian_core::text::is_invisible_or_bidi`]: zero-width
/// space and joiners, directional marks, stray BOM…), carry no text. They
/// are dropped here, before whitespace is collapsed, so that `a &lrm; b`
/// leaves no double space behind.
fn is_invisible(c: char) -> bool {
    c == '\u{ad}' || meridian_core::text::is_invisible_or_bidi(c)
}

enum Decoded {
    Char(char),
    Str(&'static str),
}

/// Whether `s` starts with a character reference that [`decode_entities`] decodes.
pub(crate) fn starts_entity(s: &str) -> bool {
    s.starts_with('&') && decode_entity(s).is_some()
}

/// Bytes from a reference's `&` to its `;` at most: `&` + 31 + `;`.
const LONGEST_REFERENCE: usize = 33;

/// Decodes one character reference at the start of `s` (which starts with
/// `&`). Returns what it stands for and how many bytes it used.
fn decode_entity(s: &str) -> Option<(Decoded, usize)> {
    let bytes = s.as_bytes();
    // The longest name is 31 characters (`&CounterClockwiseContourIntegral;`).
    let semi = memchr::memchr(b';', &bytes[..bytes.len().min(LONGEST_REFERENCE)])?;
    let body = &s[1..semi];
    let len = semi + 1;
    if let Some(num) = body.strip_prefix('#') {
        let code = if let Some(hex) = num.strip_prefix(['x', 'X']) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            num.parse::<u32>().ok()?
        };
        return Some((Decoded::Char(numeric_char(code)), len));
    }
    named_entity(body).map(|d| (d, len))
}

/// A numeric reference's character. References into 128–159 mean the
/// windows-1252 characters there (`&#146;` is `’`), as browsers read them.
fn numeric_char(code: u32) -> char {
    if (0x80..0xa0).contains(&code) {
        let byte = [u8::try_from(code).unwrap_or(b'?')];
        let (s, _, _) = encoding_rs::WINDOWS_1252.decode(&byte);
        return s.chars().next().unwrap_or('\u{fffd}');
    }
    match char::from_u32(code) {
        Some('\0') | None => '\u{fffd}',
        Some(c) => c,
    }
}

/// A named character reference of the HTML standard (all 2,125 names of
/// WHATWG's `entities.json`, from the `html-escape` crate's sorted table),
/// without its `&` and `;`. The 106 legacy spellings without `;` (`&copy`)
/// are not decoded: feeds are XML, where a reference always ends with `;`,
/// and a bare `&copy=2` in a query string is far more common in show notes
/// than a `&copy` meaning ©.
fn named_entity(name: &str) -> Option<Decoded> {
    let table = &html_escape::NAMED_ENTITIES;
    let i = table
        .binary_search_by(|(n, _)| (*n).cmp(name.as_bytes()))
        .ok()?;
    Some(Decoded::Str(table[i].1))
}

/// Decodes character references in `s` without touching anything else (no
/// tags are removed, whitespace is kept).
pub(crate) fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match decode_entity(rest) {
            Some((Decoded::Char(c), len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            Some((Decoded::Str(d), len)) => {
                out.push_str(d);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tag_kind` knows the same names as the lists it replaced, in any case.
    #[test]
    fn tag_kinds_match_the_element_lists() {
        const BLOCKS: [&str; 34] = [
            "p",
            "br",
            "div",
            "li",
            "ul",
            "ol",
            "dl",
            "dt",
            "dd",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "tr",
            "table",
            "blockquote",
            "pre",
            "section",
            "article",
            "header",
            "footer",
            "hr",
            "figure",
            "figcaption",
            "main",
            "nav",
            "aside",
            "address",
            "details",
            "summary",
            "body",
            "html",
        ];
        const HIDDEN: [&str; 6] = ["head", "title", "noscript", "template", "svg", "iframe"];
        for name in BLOCKS {
            for n in [name.to_owned(), name.to_ascii_uppercase()] {
                assert_eq!(tag_kind(&n), TagKind::Block, "{n}");
            }
        }
        for name in HIDDEN {
            assert_eq!(
                tag_kind(&name.to_ascii_uppercase()),
                TagKind::Hidden,
                "{name}"
            );
        }
        for (name, kind) in [("Td", TagKind::Cell), ("TH", TagKind::Cell)] {
            assert_eq!(tag_kind(name), kind, "{name}");
        }
        for name in [
            "",
            "a",
            "span",
            "pp",
            "blockquotes",
            "figcaptions",
            "b",
            "h7",
            "bodyx",
        ] {
            assert_eq!(tag_kind(name), TagKind::Other, "{name}");
        }
    }

    #[test]
    fn runs_of_words_and_odd_whitespace_collapse_alike() {
        assert_eq!(
            html_to_text("  one two\u{a0}three\t four  five\u{200b}six \u{ad}seven\n"),
            "one two three four fivesix seven"
        );
        assert_eq!(
            html_to_text("Grüße aus Köln, déjà vu"),
            "Grüße aus Köln, déjà vu"
        );
        assert_eq!(html_to_text("a <b>b</b> c<p>d  e</p>"), "a b c\nd e");
    }

    /// The feed parser does not scan `html_to_text`'s output for bidi
    /// controls and invisible characters again: none gets through, written
    /// as itself, as a numeric reference or as a named one, next to any
    /// other piece of text or markup.
    #[test]
    fn no_bidi_control_or_invisible_character_gets_through() {
        use meridian_core::text::is_invisible_or_bidi;
        let mut pieces: Vec<String> = [
            "", " ", "a", "é", "a b", "\n", "<p>", "</p>", "<b>", "&amp;", "&", "<", "&nbsp;",
        ]
        .map(str::to_owned)
        .to_vec();
        for c in ('\0'..=char::MAX).filter(|c| is_invisible_or_bidi(*c)) {
            let code = u32::from(c);
            pieces.extend([c.to_string(), format!("&#{code};"), format!("&#x{code:X};")]);
        }
        let named = html_escape::NAMED_ENTITIES
            .iter()
            .filter(|(_, value)| value.chars().any(is_invisible_or_bidi))
            .map(|(name, _)| format!("&{};", String::from_utf8_lossy(name)))
            .collect::<Vec<_>>();
        assert!(named.len() >= 5, "{named:?}");
        pieces.extend(named);
        for a in &pieces {
            for b in &pieces {
                let html = format!("{a}{b} x{a}y");
                let text = html_to_text(&html);
                assert!(
                    !text.chars().any(is_invisible_or_bidi),
                    "{html:?} → {text:?}"
                );
            }
        }
    }

    #[test]
    fn tags_go_blocks_break_lines_inline_runs_join() {
        assert_eq!(
            html_to_text(
                "<h1>Title</h1><p>One <b>bold</b> word.<br/>Next line</p><ul><li>a</li><li>b</li></ul>"
            ),
            "Title\nOne bold word.\nNext line\na\nb"
        );
        assert_eq!(html_to_text("a<span>b</span>c"), "abc");
    }

    #[test]
    fn entities_are_decoded_once() {
        assert_eq!(
            html_to_text("Q&amp;A &ndash; caf&eacute; &#233;&#xE9; &#146;s &nbsp;x"),
            "Q&A – café éé ’s x"
        );
        assert_eq!(
            html_to_text("&lt;p&gt; stays text"),
            "<p> stays text",
            "escaped markup is not parsed again"
        );
        assert_eq!(
            html_to_text("AT&T & co &unknown; &#0;"),
            "AT&T & co &unknown; \u{fffd}"
        );
    }

    #[test]
    fn scripts_styles_comments_and_head_are_dropped() {
        let page = "<html><head><title>T</title><style>p{color:red}</style></head>\
                    <body><!-- note --><script>var a = '<p>';</script><p>Visible</p></body></html>";
        assert_eq!(html_to_text(page), "Visible");
        assert_eq!(
            html_to_text("<head><meta charset=utf-8><body>Body text"),
            "Body text"
        );
        assert_eq!(html_to_text("x<script>never closed"), "x");
    }

    #[test]
    fn whitespace_collapses_and_malformed_markup_survives() {
        assert_eq!(html_to_text("  a \n\t b  "), "a b");
        assert_eq!(html_to_text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
        assert_eq!(html_to_text("<p>open <a href=\"x>y\">link</a"), "open link");
        assert_eq!(
            html_to_text("<![CDATA[raw <text>]]> after"),
            "raw <text> after"
        );
        assert_eq!(html_to_text(""), "");
        assert_eq!(html_to_text("<p></p><div>  </div>"), "");
    }

    #[test]
    fn tokens_report_tags_and_text() {
        let t: Vec<_> = Tokens::new("<cite>A:</cite><time>0:01</time>").collect();
        assert_eq!(
            t,
            vec![
                Token::Open("cite"),
                Token::Text("A:"),
                Token::Close("cite"),
                Token::Open("time"),
                Token::Text("0:01"),
                Token::Close("time")
            ]
        );
    }

    /// Every name of the HTML standard's table decodes to its characters
    /// (whitespace collapsed, invisible and bidi characters dropped, as for
    /// any text).
    #[test]
    fn every_named_reference_of_the_html_standard_decodes() {
        assert_eq!(html_escape::NAMED_ENTITIES.len(), 2125);
        for (name, chars) in html_escape::NAMED_ENTITIES {
            let name = std::str::from_utf8(name).unwrap();
            let want: String = format!("x{chars}y")
                .chars()
                .filter(|c| !is_invisible(*c))
                .collect();
            let want = want.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(html_to_text(&format!("x&{name};y")), want, "&{name};");
        }
        assert_eq!(
            html_to_text("&copy 2024 &notanentity;"),
            "&copy 2024 &notanentity;"
        );
    }

    #[test]
    fn broken_markup_keeps_the_text_around_it() {
        assert_eq!(
            html_to_text("<a href=http://x/\">example</a> after"),
            "example after",
            "a quote inside an unquoted value opens nothing"
        );
        assert_eq!(html_to_text("<a title = 'x>y'>in</a> out"), "in out");
        assert_eq!(html_to_text("<!DOCTYPE ~"), "<!DOCTYPE ~");
        assert_eq!(html_to_text("a <?php echo"), "a <?php echo");
        assert_eq!(
            html_to_text("sa<!-- -- nonwhitespace >fe<script>alert(1);</script>"),
            "safe"
        );
        assert_eq!(html_to_text("safe<!--"), "safe");
        assert_eq!(
            html_to_text("safe<object classid=\"x\"><param name=\"a\"> description"),
            "safe description",
            "an object's content is the fallback a reader sees"
        );
    }
}
