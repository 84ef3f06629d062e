//! RSS and Atom feeds (with the iTunes and Podcasting 2.0 namespaces) to
//! [`PodcastFeed`].
//!
//! XML feeds are read in one streaming pass with quick-xml over the decoded
//! text. feed-rs was the first choice, but against real feeds it rejects an
//! `<rss>` root without `version` (seven corpus files), fails the whole feed on
//! one `podcast:person` with a role or group outside its list, swaps the
//! `<enclosure>` for a `media:content` URL, and exposes neither `podcast:guid`,
//! `podcast:chapters`, `podcast:block` nor transcript languages; a second pass
//! for those would have had to re-find every item anyway. It still reads JSON
//! Feed documents (see [`crate::jsonfeed`]).
//!
//! Speed (measured in docs/benchmarks.md against a bare quick-xml
//! scan of the same bytes): text is borrowed from the document unless it has
//! to be assembled ([`Text`]); namespace declarations are classified once per
//! declaration, not per element ([`crate::xmlns`]); ordinary attribute lists
//! and already-normal `http(s)` links are read with plain byte loops
//! ([`PlainAttributes`], [`crate::links`]); and each item becomes an episode
//! as soon as it closes, while its text is still in the cache. Each shortcut
//! has a test that holds it to the general path it stands in for.
//!
//! Safety: a feed whose DOCTYPE declares entities (an entity bomb, an XXE
//! probe) is refused as `unparseable`; quick-xml never expands such entities
//! anyway, and external (`SYSTEM`) entities are never fetched. An undeclared
//! `&name;` is kept as written (HTML entities are decoded later where the text
//! is HTML).
//!
//! What it reads is measured against Python feedparser's own test suite
//! (docs/conformance.md, `cargo conformance`); the differences kept on purpose
//! are listed there.

use std::borrow::Cow;
use std::collections::HashMap;

use meridian_core::{
    ContentHash, Enclosure, EpisodeGuid, EpisodeMeta, FeedUrl, GuidSource, PodcastFeed,
    TranscriptFormat, TranscriptLink,
};
use quick_xml::Reader;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;

use crate::date::{parse_date, parse_duration};
use crate::error::{DocKind, IngestError};
use crate::html::html_to_text;
use crate::links::{resolve_link, resolve_resource};
use crate::text::{decode_xml, excerpt, line_at, looks_binary};
use crate::xmlns::{Namespaces, Ns};

/// The largest feed accepted (the biggest real feed in the corpus is 4 MB).
pub const MAX_FEED_BYTES: usize = 64 * 1024 * 1024;

/// Parses an RSS 0.9x/2.0, RSS 1.0 (RDF), Atom (1.0, 0.3 and earlier drafts),
/// Microsoft CDF or JSON Feed document.
///
/// `source` is where the bytes came from: relative links in the feed are
/// resolved against it, and it names the feed in errors. When it is a remote
/// URL, `file:` links inside the feed (transcripts, chapters, enclosures) are
/// dropped.
///
/// What comes out:
/// - titles and show notes as plain text (HTML reduced with [`html_to_text`],
///   every named character reference of the HTML standard decoded); the show
///   notes are the richest of `content:encoded`, `description`,
///   `itunes:summary` (Atom: `content`, `summary`). An Atom text is read by
///   its `type` (`html` is HTML; `text` and `xhtml` are text, so an escaped
///   `&lt;video&gt;` stays `<video>`); an RSS title is read as HTML only when
///   it looks like HTML (an end tag or a character reference). A missing
///   title is taken from `dc:title`, `itunes:title` or `media:title`.
///   Texts come without bidi controls and invisible characters: reducing
///   HTML drops them as it reads, and the other texts (titles and names not
///   read as HTML, languages) are stripped once built ([`visible`]), so no
///   text is scanned for them twice;
/// - element names are matched in any case (`<TiTlE>`); the language is the
///   declared one, else the root's `xml:lang`; an item's date is its
///   published date (`pubDate`, `published`, `dc:date`, `dcterms:issued`),
///   else its updated one, else its created one; an item without a link takes
///   its guid when that is a permalink web address;
/// - every item is kept, in feed order; a missing or unparseable date is
///   `published: None`;
/// - each episode has a key: its `guid` (Atom `id`), else the enclosure URL,
///   else the link, else a hash of title and date ([`GuidSource`]). When a key
///   is already taken by an earlier item (a duplicate guid), the later item is
///   re-keyed with the next of those fallbacks that is still free, and dropped
///   when it has the same enclosure (or title and date) as the earlier item —
///   then it is the same episode listed twice.
///
/// # Errors
/// [`IngestError`] naming `source`: `unparseable` for XML that is not
/// well-formed (with its line), `not_a_feed` for an HTML page, OPML or other
/// document, `empty`, `encoding` for binary data, `too_large` over
/// [`MAX_FEED_BYTES`].
pub fn parse_feed(bytes: &[u8], source: &FeedUrl) -> Result<PodcastFeed, IngestError> {
    let subject = source.as_str();
    IngestError::check_size(DocKind::Feed, subject, bytes.len(), MAX_FEED_BYTES)?;
    if looks_binary(bytes) {
        return Err(IngestError::binary(DocKind::Feed, subject));
    }
    let text = decode_xml(bytes);
    let body = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let skipped_lines = line_at(&text, text.len() - body.len()) - 1;
    match body.as_bytes().first() {
        None => return Err(IngestError::empty(DocKind::Feed, subject)),
        Some(b'{') => return crate::jsonfeed::parse(body, source),
        Some(b'<') => {}
        Some(_) => {
            return Err(IngestError::wrong(
                DocKind::Feed,
                subject,
                format!("plain text, not XML (it starts `{}`)", excerpt(body)),
            ));
        }
    }
    let raw = Scanner::new(body, source).run().map_err(|e| match e {
        ScanError::Xml { pos, message } => {
            let line = line_at(body, pos) + skipped_lines;
            IngestError::unparseable(
                DocKind::Feed,
                subject,
                Some(line),
                format!("not well-formed XML at line {line}: {message}"),
            )
        }
        ScanError::Wrong(found) => IngestError::wrong(DocKind::Feed, subject, found),
        ScanError::Refused { pos, message } => {
            let line = line_at(body, pos) + skipped_lines;
            IngestError::unparseable(
                DocKind::Feed,
                subject,
                Some(line),
                format!("refused at line {line}: {message}"),
            )
        }
    })?;
    if !raw.has_channel && raw.root_has_children {
        return Err(IngestError::wrong(
            DocKind::Feed,
            subject,
            "an RSS or RDF root element with no `<channel>` or items in it".to_owned(),
        ));
    }
    Ok(build(raw, source))
}

// ---------------------------------------------------------------------------
// Pass: XML events to raw strings.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Rss,
    Rdf,
    Atom,
    /// Microsoft's Channel Definition Format: a `<CHANNEL>` root with
    /// `<ITEM>`s, links and dates in attributes (`HREF`, `LASTMOD`).
    Cdf,
}

/// What the element being read is, so that its children are read right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Root,
    Channel,
    Item,
    ChannelImage,
    AtomAuthor,
    MediaGroup,
    Skip,
}

/// Where captured text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    ChanTitle,
    ChanLink,
    ChanDescription,
    ChanSummary,
    ChanLanguage,
    ChanTtl,
    ChanItunesAuthor,
    ChanAuthor,
    ChanPodcastGuid,
    ChanBlock,
    ChanNewFeedUrl,
    ChanImageUrl,
    ChanDcTitle,
    ItemTitle,
    ItemItunesTitle,
    ItemDcTitle,
    ItemMediaTitle,
    ItemLink,
    ItemGuid,
    ItemPubDate,
    ItemUpdated,
    ItemCreated,
    ItemDescription,
    ItemContent,
    ItemSummary,
    ItemDuration,
    ItemPerson,
    ItemLanguage,
}

#[derive(Debug, Default)]
struct RawTranscript<'a> {
    url: Text<'a>,
    mime: Text<'a>,
    language: Option<Text<'a>>,
    rel: Option<Text<'a>>,
}

#[derive(Debug, Default)]
struct RawEnclosure<'a> {
    url: Text<'a>,
    mime: Option<Text<'a>>,
    length: Option<Text<'a>>,
}

/// Captured text: borrowed from the document when it is one piece of
/// character data (most fields), owned when it had to be assembled (entities,
/// CDATA next to text, markup inside, `\r\n` line ends).
type Text<'a> = Cow<'a, str>;

#[derive(Debug, Default)]
struct RawItem<'a> {
    title: Option<Text<'a>>,
    itunes_title: Option<Text<'a>>,
    dc_title: Option<Text<'a>>,
    media_title: Option<Text<'a>>,
    link: Option<Text<'a>>,
    guid: Option<Text<'a>>,
    /// The RSS guid's attributes as written (for `isPermaLink`), read only
    /// when the item has no link.
    guid_attributes: Option<&'a str>,
    pub_date: Option<Text<'a>>,
    updated: Option<Text<'a>>,
    created: Option<Text<'a>>,
    description: Option<Text<'a>>,
    content: Option<Text<'a>>,
    summary: Option<Text<'a>>,
    enclosure: Option<RawEnclosure<'a>>,
    media_content: Option<RawEnclosure<'a>>,
    duration: Option<Text<'a>>,
    transcripts: Vec<RawTranscript<'a>>,
    chapters: Option<Text<'a>>,
    persons: Vec<String>,
    language: Option<Text<'a>>,
}

#[derive(Debug, Default)]
struct RawFeed<'a> {
    /// Whether the root holds a feed: an RSS `<channel>` (or RSS 1.0 items),
    /// or the Atom `<feed>` itself. An `<rss>` or RDF root that holds other
    /// elements but no channel is some other document, not an empty feed; an
    /// empty root (`<rss></rss>`) is an empty feed, as feed readers take it.
    has_channel: bool,
    /// Whether the root element holds any element at all.
    root_has_children: bool,
    /// The format, which says how titles are read (see [`title_text`]).
    format: Option<Format>,
    /// The root element's `xml:lang`.
    root_lang: Option<Text<'a>>,
    title: Option<Text<'a>>,
    dc_title: Option<Text<'a>>,
    link: Option<Text<'a>>,
    description: Option<Text<'a>>,
    summary: Option<Text<'a>>,
    language: Option<Text<'a>>,
    ttl: Option<Text<'a>>,
    itunes_author: Option<Text<'a>>,
    author: Option<Text<'a>>,
    image: Option<Text<'a>>,
    itunes_image: Option<Text<'a>>,
    podcast_guid: Option<Text<'a>>,
    blocked: bool,
    new_feed_url: Option<Text<'a>>,
    /// Items being read: the open one, after any empty `<item/>` before it.
    items: Vec<RawItem<'a>>,
    /// Items already read, built into episodes as each one closes (while its
    /// text is still in the cache), without the channel's language yet.
    episodes: Vec<EpisodeMeta>,
    /// Episode keys in use (see [`pick_key`]).
    taken: HashMap<String, String>,
}

/// The field being captured.
#[derive(Debug, Clone, Copy)]
struct Capture {
    target: Target,
    /// How deep inside the field's element we are (markup inside it is kept).
    depth: usize,
    /// The field is text whose `<` and `&` are characters (an Atom text or
    /// XHTML construct): they are escaped into the buffer, which is read as
    /// HTML, so that they stay characters while child elements stay markup.
    escape: bool,
    /// Base64 (Atom 0.3 `mode="base64"`, or a binary MIME type): decoded
    /// when the element closes.
    base64: bool,
}

impl Target {
    /// Whether the field is reduced from HTML to text (titles, descriptions,
    /// names), so that markup and escaping matter.
    fn is_markup(self) -> bool {
        matches!(
            self,
            Self::ChanTitle
                | Self::ChanDcTitle
                | Self::ChanDescription
                | Self::ChanSummary
                | Self::ChanItunesAuthor
                | Self::ChanAuthor
                | Self::ItemTitle
                | Self::ItemItunesTitle
                | Self::ItemDcTitle
                | Self::ItemMediaTitle
                | Self::ItemDescription
                | Self::ItemContent
                | Self::ItemSummary
                | Self::ItemPerson
        )
    }
}

enum ScanError {
    Xml {
        pos: usize,
        message: String,
    },
    Wrong(String),
    /// Well-formed, but read no further on purpose (hostile markup).
    Refused {
        pos: usize,
        message: String,
    },
}

struct Scanner<'a> {
    /// The document, which events and attribute values borrow from.
    src: &'a str,
    /// Where it came from: links are resolved against it.
    source: &'a FeedUrl,
    reader: Reader<&'a [u8]>,
    /// Namespace declarations in scope.
    ns: Namespaces,
    format: Option<Format>,
    stack: Vec<Ctx>,
    feed: RawFeed<'a>,
    /// The field whose text is being collected into `buf`.
    capture: Option<Capture>,
    buf: Text<'a>,
    /// Set once the content we need is complete (`</channel>` for RSS, the
    /// root's end otherwise): later syntax errors or trailing junk are ignored.
    complete: bool,
    /// Where a DOCTYPE declaring entities ended, if one did.
    entities_at: Option<usize>,
    /// The DOCTYPE names `html`: said in the error when the root is not a
    /// feed (an RSS feed with an XHTML DOCTYPE is still a feed).
    html_doctype: bool,
    /// The root element's name, to recognise its end tag cut off at the end
    /// of the document.
    root_name: String,
    /// The root is a `<feed>` in a namespace other than Atom's (an Atom
    /// draft's): elements in unknown namespaces are read as Atom's.
    draft_atom: bool,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str, source: &'a FeedUrl) -> Self {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = false;
        config.check_end_names = true;
        // `AT&T` in a title is common and harmless.
        config.allow_dangling_amp = true;
        Self {
            src: text,
            source,
            reader,
            ns: Namespaces::new(),
            format: None,
            stack: Vec::with_capacity(16),
            feed: RawFeed::default(),
            capture: None,
            buf: Cow::Borrowed(""),
            complete: false,
            entities_at: None,
            html_doctype: false,
            root_name: String::new(),
            draft_atom: false,
        }
    }

    /// A read error, unless the content we need is already complete.
    fn fail(self, e: quick_xml::Error) -> Result<RawFeed<'a>, ScanError> {
        if self.complete {
            return Ok(self.feed);
        }
        let pos = usize::try_from(self.reader.error_position()).unwrap_or(usize::MAX);
        // The root's end tag cut off before its `>` (`</feed` and nothing
        // after it): every element is closed, as after RSS's `</channel>`.
        if self.stack.len() == 1
            && self.capture.is_none()
            && self
                .src
                .get(pos..)
                .and_then(|rest| rest.strip_prefix("</"))
                .and_then(|rest| rest.strip_prefix(self.root_name.as_str()))
                .is_some_and(|rest| rest.trim().is_empty())
        {
            return Ok(self.feed);
        }
        if self.format.is_none() && self.html_doctype {
            return Err(ScanError::Wrong(HTML_PAGE.to_owned()));
        }
        Err(ScanError::Xml {
            pos,
            message: e.to_string(),
        })
    }

    /// Enters element `e` (start or empty): its namespace declarations, then
    /// [`Self::open`] with its namespace and local name. Inside a captured
    /// field the element is kept as markup whatever its namespace.
    fn enter(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), ScanError> {
        let qname = e.name().0;
        let (prefix, local) = split_qname(qname);
        let ns = if self.capture.is_some() {
            Ns::Other
        } else {
            self.ns.of_element(prefix)
        };
        self.open(ns, local, e, empty)
    }

    /// Adds character data to the field being captured.
    fn append(&mut self, text: Text<'a>) {
        if self.capture.is_some_and(|c| c.escape)
            && memchr::memchr2(b'<', b'&', text.as_bytes()).is_some()
        {
            escape_into(self.buf.to_mut(), &text);
            return;
        }
        if self.buf.is_empty() {
            self.buf = text;
        } else {
            self.buf.to_mut().push_str(&text);
        }
    }

    fn run(mut self) -> Result<RawFeed<'a>, ScanError> {
        loop {
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => return self.fail(e),
            };
            match event {
                Event::Start(e) => {
                    if let Err(err) = self.ns.push(&e) {
                        return self.fail(quick_xml::Error::Namespace(err));
                    }
                    self.enter(&e, false)?;
                }
                Event::Empty(e) => {
                    if let Err(err) = self.ns.push(&e) {
                        return self.fail(quick_xml::Error::Namespace(err));
                    }
                    self.enter(&e, true)?;
                    self.ns.pop();
                }
                Event::End(e) => {
                    self.ns.pop();
                    self.close(split_qname(e.name().0).1);
                }
                Event::Text(t) => {
                    if self.capture.is_some() {
                        self.append(t.xml10_content());
                    } else if self.format.is_none()
                        && !t.trim_ascii().is_empty()
                        && self.stack.is_empty()
                    {
                        // Text before any element: not XML at all.
                        return Err(ScanError::Wrong(format!(
                            "plain text, not XML (it starts `{}`)",
                            excerpt(&t)
                        )));
                    }
                }
                Event::CData(t) => {
                    if self.capture.is_some() {
                        self.append(t.xml10_content());
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(capture) = self.capture {
                        let buf = self.buf.to_mut();
                        match r.resolve_char_ref() {
                            Ok(Some(c)) if capture.escape => {
                                escape_into(buf, c.encode_utf8(&mut [0; 4]));
                            }
                            Ok(Some(c)) => buf.push(c),
                            _ => {
                                let name = r.xml10_content();
                                match quick_xml::escape::resolve_predefined_entity(&name) {
                                    // Text, not markup: `&lt;video&gt;` in an
                                    // Atom text title stays `<video>`.
                                    Some(s) if capture.escape => escape_into(buf, s),
                                    Some(s) => buf.push_str(s),
                                    None => {
                                        // Kept as written; HTML entities are decoded
                                        // later, custom (DOCTYPE) ones never expand.
                                        buf.push('&');
                                        buf.push_str(&name);
                                        buf.push(';');
                                    }
                                }
                            }
                        }
                    }
                }
                Event::DocType(d) => {
                    // `<!DOCTYPE html…>` is an HTML page's, but the root
                    // decides: an RSS feed may carry an XHTML DOCTYPE.
                    if self.format.is_none()
                        && d.trim_start()
                            .get(..4)
                            .is_some_and(|h| h.eq_ignore_ascii_case("html"))
                    {
                        self.html_doctype = true;
                    }
                    // Feeds never declare entities (HTML entities such as
                    // `&eacute;` are read without any DTD). A DOCTYPE that does
                    // is the shape of an entity-expansion bomb ("billion
                    // laughs") or an external-entity (XXE) probe. Leaving the
                    // entities unexpanded kept memory safe, but the feed was then
                    // accepted and `&lol9;` stored as the podcast's title over
                    // the real one; refusing it records a failure instead and
                    // leaves what is stored alone (hostile input).
                    // Refused once the root shows it is meant to be a feed, so
                    // that other documents still say what they are instead.
                    if d.as_ref()
                        .as_bytes()
                        .windows(8)
                        .any(|w| w.eq_ignore_ascii_case(b"<!ENTITY"))
                    {
                        self.entities_at = Some(
                            usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX),
                        );
                    }
                }
                Event::Eof => {
                    if self.complete {
                        return Ok(self.feed);
                    }
                    return match self.format {
                        None if self.html_doctype => Err(ScanError::Wrong(HTML_PAGE.to_owned())),
                        None => Err(ScanError::Wrong(
                            "an XML document without any element".to_owned(),
                        )),
                        Some(_) => {
                            let pos = self.reader.buffer_position();
                            let open = if self.stack.contains(&Ctx::Channel) {
                                "`<channel>`"
                            } else {
                                "the root element"
                            };
                            Err(ScanError::Xml {
                                pos: usize::try_from(pos).unwrap_or(usize::MAX),
                                message: format!("the document ends inside {open} (truncated?)"),
                            })
                        }
                    };
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            }
            if let Some(pos) = self.entities_at
                && self.format.is_some()
            {
                return Err(ScanError::Refused {
                    pos,
                    message: "the DOCTYPE declares entities (`<!ENTITY`), which feeds never need; \
                              refused as a possible entity-expansion bomb or external-entity attack"
                        .to_owned(),
                });
            }
            if self.complete {
                return Ok(self.feed);
            }
        }
    }

    fn open(
        &mut self,
        ns: Ns,
        local: &str,
        e: &BytesStart<'_>,
        empty: bool,
    ) -> Result<(), ScanError> {
        if let Some(capture) = &mut self.capture {
            // Markup inside a captured field (unescaped HTML, Atom xhtml): keep
            // the tag so that block structure survives `html_to_text`.
            let buf = self.buf.to_mut();
            buf.push('<');
            buf.push_str(local);
            buf.push('>');
            if !empty {
                capture.depth += 1;
            }
            return Ok(());
        }
        // Element names are matched ASCII case-insensitively (`<TiTlE>`), as
        // feed readers do: XML says they are case-sensitive, feeds disagree.
        let mut lower = [0u8; LONGEST_NAME];
        let name = lowercase(local, &mut lower);
        let Some(format) = self.format else {
            return self.open_root(ns, name, e, empty);
        };
        let parent = self.stack.last().copied().unwrap_or(Ctx::Skip);
        // Atom drafts before 0.3 (`purl.org/echo/`, `purl.org/pie/`…) used
        // namespaces of their own: in a `<feed>` rooted in one, it is Atom's.
        let core = ns == Ns::Plain
            || (format == Format::Atom && (ns == Ns::Atom || (self.draft_atom && ns == Ns::Other)));
        let mut ctx = Ctx::Skip;
        let mut target = None;
        if parent == Ctx::Root {
            self.feed.root_has_children = true;
        }
        match parent {
            Ctx::Root => {
                if core && name == b"channel" {
                    self.feed.has_channel = true;
                    ctx = Ctx::Channel;
                } else if core && name == b"item" {
                    // RSS 1.0 (and some 0.9x) put items beside the channel.
                    self.feed.has_channel = true;
                    self.feed.items.push(RawItem::default());
                    ctx = Ctx::Item;
                }
            }
            Ctx::Channel => match (ns, name) {
                (_, b"item") if core && format != Format::Atom => {
                    let mut item = RawItem::default();
                    if format == Format::Cdf {
                        [item.link, item.updated] = attrs(self.src, e, [b"href", b"lastmod"]);
                    }
                    self.feed.items.push(item);
                    ctx = Ctx::Item;
                }
                (_, b"entry") if core && format == Format::Atom => {
                    self.feed.items.push(RawItem::default());
                    ctx = Ctx::Item;
                }
                (_, b"title") if core => target = Some(Target::ChanTitle),
                (Ns::Dc, b"title") => target = Some(Target::ChanDcTitle),
                (_, b"link") if core => {
                    target = if format == Format::Atom {
                        self.atom_link(e, false, empty)
                    } else {
                        Some(Target::ChanLink)
                    };
                }
                (_, b"description" | b"subtitle") if core => target = Some(Target::ChanDescription),
                (_, b"language") if core => target = Some(Target::ChanLanguage),
                (Ns::Dc, b"language") => target = Some(Target::ChanLanguage),
                (_, b"ttl") if core => target = Some(Target::ChanTtl),
                (_, b"managingeditor") if core => target = Some(Target::ChanAuthor),
                (_, b"author") if core && format == Format::Atom => ctx = Ctx::AtomAuthor,
                (_, b"image") if core => ctx = Ctx::ChannelImage,
                (_, b"logo" | b"icon") if core && format == Format::Atom => {
                    target = Some(Target::ChanImageUrl)
                }
                (Ns::Itunes, b"author") => target = Some(Target::ChanItunesAuthor),
                (Ns::Itunes, b"summary") => target = Some(Target::ChanSummary),
                (Ns::Itunes, b"image") if self.feed.itunes_image.is_none() => {
                    self.feed.itunes_image = attr(self.src, e, b"href");
                }
                (Ns::Itunes, b"new-feed-url") => target = Some(Target::ChanNewFeedUrl),
                (Ns::Podcast, b"guid") => target = Some(Target::ChanPodcastGuid),
                // `<podcast:block id="spotify">` blocks one platform only; only the
                // general one stops us.
                (Ns::Podcast, b"block") if attr(self.src, e, b"id").is_none() => {
                    target = Some(Target::ChanBlock)
                }
                _ => {}
            },
            Ctx::ChannelImage => {
                if core && name == b"url" {
                    target = Some(Target::ChanImageUrl);
                }
            }
            Ctx::AtomAuthor => {
                if core && name == b"name" {
                    target = Some(Target::ChanAuthor);
                }
            }
            Ctx::Item => target = self.open_in_item(core, ns, name, e, empty, &mut ctx),
            Ctx::MediaGroup => {
                if ns == Ns::Media && name == b"content" {
                    self.media_content(e);
                } else if ns == Ns::Media && name == b"title" {
                    target = Some(Target::ItemMediaTitle);
                }
            }
            Ctx::Skip => {}
        }
        if empty {
            return Ok(());
        }
        match target {
            Some(target) => {
                // Atom says how its own text constructs are written:
                // `type="html"` is HTML, anything else (text, xhtml) is text
                // whose escaped `<` stays a character. Other namespaces'
                // elements in an Atom feed (`itunes:summary`,
                // `content:encoded`) are HTML as in RSS.
                let (escape, base64) = if format == Format::Atom && core && target.is_markup() {
                    atom_text_mode(self.src, e)
                } else {
                    (false, false)
                };
                self.buf = Cow::Borrowed("");
                self.capture = Some(Capture {
                    target,
                    depth: 0,
                    escape,
                    base64,
                });
            }
            None => self.stack.push(ctx),
        }
        Ok(())
    }

    fn open_in_item(
        &mut self,
        core: bool,
        ns: Ns,
        name: &[u8],
        e: &BytesStart<'_>,
        empty: bool,
        ctx: &mut Ctx,
    ) -> Option<Target> {
        let atom = self.format == Some(Format::Atom);
        let target = match (ns, name) {
            (_, b"title") if core => Target::ItemTitle,
            (Ns::Dc, b"title") => Target::ItemDcTitle,
            (Ns::Media, b"title") => Target::ItemMediaTitle,
            (_, b"link") if core => {
                if atom || attr(self.src, e, b"href").is_some() {
                    return self.atom_link(e, true, empty);
                }
                Target::ItemLink
            }
            (_, b"guid") if core => {
                let raw = e.attributes_raw();
                if !raw.trim_ascii().is_empty() {
                    self.feed.items.last_mut()?.guid_attributes = within(self.src, raw);
                }
                Target::ItemGuid
            }
            (_, b"id") if core && atom => Target::ItemGuid,
            (_, b"pubdate" | b"published" | b"issued") if core => Target::ItemPubDate,
            (_, b"updated" | b"modified") if core => Target::ItemUpdated,
            (_, b"created") if core && atom => Target::ItemCreated,
            (Ns::Dc, b"date" | b"issued") => Target::ItemPubDate,
            (Ns::Dc, b"modified") => Target::ItemUpdated,
            (Ns::Dc, b"created") => Target::ItemCreated,
            (_, b"description") if core => Target::ItemDescription,
            (_, b"summary") if core && atom => Target::ItemDescription,
            (_, b"content") if core && atom => Target::ItemContent,
            (Ns::Content, b"encoded") => Target::ItemContent,
            (_, b"language") if core => Target::ItemLanguage,
            (Ns::Dc, b"language") => Target::ItemLanguage,
            (_, b"enclosure") if core => {
                let item = self.feed.items.last_mut()?;
                if item.enclosure.is_none()
                    && let [Some(url), mime, length] =
                        attrs(self.src, e, [b"url", b"type", b"length"])
                {
                    item.enclosure = Some(RawEnclosure { url, mime, length });
                }
                return None;
            }
            (Ns::Itunes, b"summary") => Target::ItemSummary,
            (Ns::Itunes, b"title") => Target::ItemItunesTitle,
            (Ns::Itunes, b"duration") => Target::ItemDuration,
            (Ns::Podcast, b"transcript") => {
                if let [Some(url), mime, language, rel] =
                    attrs(self.src, e, [b"url", b"type", b"language", b"rel"])
                {
                    let t = RawTranscript {
                        url,
                        mime: mime.unwrap_or_default(),
                        language,
                        rel,
                    };
                    self.feed.items.last_mut()?.transcripts.push(t);
                }
                return None;
            }
            (Ns::Podcast, b"chapters") => {
                let item = self.feed.items.last_mut()?;
                if item.chapters.is_none() {
                    item.chapters = attr(self.src, e, b"url");
                }
                return None;
            }
            (Ns::Podcast, b"person") => Target::ItemPerson,
            (Ns::Media, b"content") => {
                self.media_content(e);
                return None;
            }
            (Ns::Media, b"group") => {
                *ctx = Ctx::MediaGroup;
                return None;
            }
            _ => return None,
        };
        Some(target)
    }

    fn open_root(
        &mut self,
        ns: Ns,
        name: &[u8],
        e: &BytesStart<'_>,
        empty: bool,
    ) -> Result<(), ScanError> {
        let format = match name {
            b"rss" => Format::Rss,
            b"rdf" if ns == Ns::Rdf || ns == Ns::Other || ns == Ns::Plain => Format::Rdf,
            b"feed" => {
                self.draft_atom = ns == Ns::Other;
                Format::Atom
            }
            b"channel" if ns == Ns::Plain => Format::Cdf,
            _ => {
                let other = split_qname(e.name().0).1.to_owned();
                let found = if other.eq_ignore_ascii_case("html") {
                    "an HTML page (root element `<html>`), not RSS or Atom".to_owned()
                } else if self.html_doctype {
                    HTML_PAGE.to_owned()
                } else if other.eq_ignore_ascii_case("opml") {
                    "an OPML subscription list; import it as a feed list instead".to_owned()
                } else {
                    format!("XML with root element `<{other}>`, not RSS or Atom")
                };
                return Err(ScanError::Wrong(found));
            }
        };
        self.format = Some(format);
        self.feed.format = Some(format);
        self.feed.has_channel = matches!(format, Format::Atom | Format::Cdf);
        self.feed.root_lang = attr(self.src, e, b"lang");
        if format == Format::Cdf {
            self.feed.link = attr(self.src, e, b"href");
        }
        e.name().0.clone_into(&mut self.root_name);
        if empty {
            self.complete = true;
            return Ok(());
        }
        // An Atom feed element, and a CDF root, is its own channel.
        self.stack
            .push(if matches!(format, Format::Atom | Format::Cdf) {
                Ctx::Channel
            } else {
                Ctx::Root
            });
        Ok(())
    }

    fn close(&mut self, name: &str) {
        if let Some(capture) = &mut self.capture {
            if capture.depth > 0 {
                capture.depth -= 1;
                let buf = self.buf.to_mut();
                buf.push_str("</");
                buf.push_str(name);
                buf.push('>');
                return;
            }
            let capture = *capture;
            self.capture = None;
            let mut text = std::mem::replace(&mut self.buf, Cow::Borrowed(""));
            if capture.base64 {
                text = Cow::Owned(decode_base64(&text, capture.escape));
            }
            self.store(capture.target, text);
            return;
        }
        let Some(ctx) = self.stack.pop() else { return };
        if ctx == Ctx::Item {
            self.finish_items();
        }
        // An RSS channel is all we read; the root's end finishes any format
        // (`<rss></rss>` is an empty feed, not a truncated one).
        let done =
            self.stack.is_empty() || (self.format == Some(Format::Rss) && ctx == Ctx::Channel);
        if done {
            self.complete = true;
        }
    }

    /// Builds the items read so far into episodes.
    fn finish_items(&mut self) {
        let feed = &mut self.feed;
        for item in feed.items.drain(..) {
            if let Some(ep) = build_episode(item, self.format, self.source, &mut feed.taken) {
                feed.episodes.push(ep);
            }
        }
    }

    fn store(&mut self, target: Target, text: Text<'a>) {
        fn set<'a>(slot: &mut Option<Text<'a>>, text: Text<'a>) {
            if slot.as_deref().is_none_or(|s| s.trim().is_empty()) {
                *slot = Some(text);
            }
        }
        let feed = &mut self.feed;
        match target {
            Target::ChanTitle => set(&mut feed.title, text),
            Target::ChanDcTitle => set(&mut feed.dc_title, text),
            Target::ChanLink => set(&mut feed.link, text),
            Target::ChanDescription => set(&mut feed.description, text),
            Target::ChanSummary => set(&mut feed.summary, text),
            Target::ChanLanguage => set(&mut feed.language, text),
            Target::ChanTtl => set(&mut feed.ttl, text),
            Target::ChanItunesAuthor => set(&mut feed.itunes_author, text),
            Target::ChanAuthor => set(&mut feed.author, text),
            Target::ChanPodcastGuid => set(&mut feed.podcast_guid, text),
            Target::ChanBlock => feed.blocked |= text.trim().eq_ignore_ascii_case("yes"),
            Target::ChanNewFeedUrl => set(&mut feed.new_feed_url, text),
            Target::ChanImageUrl => set(&mut feed.image, text),
            _ => {
                let Some(item) = feed.items.last_mut() else {
                    return;
                };
                match target {
                    Target::ItemTitle => set(&mut item.title, text),
                    Target::ItemItunesTitle => set(&mut item.itunes_title, text),
                    Target::ItemDcTitle => set(&mut item.dc_title, text),
                    Target::ItemMediaTitle => set(&mut item.media_title, text),
                    Target::ItemLink => set(&mut item.link, text),
                    Target::ItemGuid => set(&mut item.guid, text),
                    Target::ItemPubDate => set(&mut item.pub_date, text),
                    Target::ItemUpdated => set(&mut item.updated, text),
                    Target::ItemCreated => set(&mut item.created, text),
                    Target::ItemDescription => set(&mut item.description, text),
                    Target::ItemContent => set(&mut item.content, text),
                    Target::ItemSummary => set(&mut item.summary, text),
                    Target::ItemDuration => set(&mut item.duration, text),
                    Target::ItemLanguage => set(&mut item.language, text),
                    Target::ItemPerson => {
                        let name = html_to_text(&text);
                        if !name.is_empty() {
                            item.persons.push(name);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Atom `<link rel href type length>` (also used by RSS items that write
    /// their link that way). A pre-1.0 Atom link without `href` holds its URL
    /// as text: the field to capture it into is returned.
    fn atom_link(&mut self, e: &BytesStart<'_>, in_item: bool, empty: bool) -> Option<Target> {
        let [href, rel, mime, length] = attrs(self.src, e, [b"href", b"rel", b"type", b"length"]);
        let alternate = matches!(rel.as_deref().map(str::trim), None | Some("" | "alternate"));
        let Some(href) = href else {
            return (alternate && !empty).then_some(if in_item {
                Target::ItemLink
            } else {
                Target::ChanLink
            });
        };
        match rel.as_deref().map(str::trim) {
            None | Some("" | "alternate") => {
                let slot = if in_item {
                    match self.feed.items.last_mut() {
                        Some(item) => &mut item.link,
                        None => return None,
                    }
                } else {
                    &mut self.feed.link
                };
                if slot.is_none() {
                    *slot = Some(href);
                }
            }
            Some("enclosure") if in_item => {
                if let Some(item) = self.feed.items.last_mut()
                    && item.enclosure.is_none()
                {
                    item.enclosure = Some(RawEnclosure {
                        url: href,
                        mime,
                        length,
                    });
                }
            }
            _ => {}
        }
        None
    }

    /// `media:content`: the enclosure when the item has no `<enclosure>`.
    fn media_content(&mut self, e: &BytesStart<'_>) {
        if let Some(item) = self.feed.items.last_mut()
            && item.media_content.is_none()
            && let [Some(url), mime, length] = attrs(self.src, e, [b"url", b"type", b"fileSize"])
        {
            item.media_content = Some(RawEnclosure { url, mime, length });
        }
    }
}

/// `prefix:local` → (`Some(prefix)`, `local`), split at the first `:` as
/// quick-xml's `QName` does (its `str::find` costs more than the names are
/// long).
fn split_qname(qname: &str) -> (Option<&str>, &str) {
    match qname.bytes().position(|b| b == b':') {
        Some(i) => (Some(&qname[..i]), &qname[i + 1..]),
        None => (None, qname),
    }
}

/// Longer than any element name the parser looks for.
const LONGEST_NAME: usize = 16;

/// `name` folded to ASCII lower case for matching, in `buf`; empty (matching
/// no element) when it is longer than any name the parser looks for.
///
/// Setting bit 5 of every byte turns `A`–`Z` into `a`–`z` and leaves `a`–`z`,
/// digits, `-` and `.` as they are; any other byte becomes one that no
/// element name the parser looks for contains. So the folded name equals a
/// known (lower-case ASCII) name exactly when the name equals it ignoring
/// ASCII case, and all 16 bytes are folded in one `u128` operation.
fn lowercase<'b>(name: &str, buf: &'b mut [u8; LONGEST_NAME]) -> &'b [u8] {
    let bytes = name.as_bytes();
    let Some(out) = buf.get_mut(..bytes.len()) else {
        return &[];
    };
    out.copy_from_slice(bytes);
    *buf = (u128::from_le_bytes(*buf) | u128::from_le_bytes([0x20; LONGEST_NAME])).to_le_bytes();
    &buf[..bytes.len()]
}

/// How an Atom text construct is written, from its `type` and (Atom 0.3)
/// `mode`: whether it is text rather than HTML (`type="html"` or
/// `text/html` is HTML; text, xhtml and anything else is text, see
/// [`Capture::escape`]), and whether it is base64 (`mode="base64"`, or a
/// MIME type that is neither text nor XML, RFC 4287 §4.1.3.3).
fn atom_text_mode(src: &str, e: &BytesStart<'_>) -> (bool, bool) {
    let [kind, mode] = attrs(src, e, [b"type", b"mode"]);
    let kind = kind.as_deref().map_or("", str::trim);
    let html = kind.eq_ignore_ascii_case("html") || kind.eq_ignore_ascii_case("text/html");
    let lower = kind.to_ascii_lowercase();
    let binary = lower.contains('/')
        && !lower.starts_with("text/")
        && !lower.ends_with("+xml")
        && !lower.ends_with("/xml");
    let base64 = binary
        || mode
            .as_deref()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("base64"));
    (!html, base64)
}

/// Appends `text` with `<` and `&` escaped, so that HTML reads them back as
/// characters.
fn escape_into(buf: &mut String, text: &str) {
    let mut rest = text;
    while let Some(i) = memchr::memchr2(b'<', b'&', rest.as_bytes()) {
        buf.push_str(&rest[..i]);
        buf.push_str(if rest.as_bytes()[i] == b'<' {
            "&lt;"
        } else {
            "&amp;"
        });
        rest = &rest[i + 1..];
    }
    buf.push_str(rest);
}

/// An Atom 0.3 `mode="base64"` text: decoded (whitespace ignored), escaped
/// when it is text rather than HTML; as written when it is not base64.
fn decode_base64(text: &str, escape: bool) -> String {
    use base64::Engine as _;
    let compact: String = text.split_ascii_whitespace().collect();
    match base64::engine::general_purpose::STANDARD.decode(compact) {
        Ok(bytes) => {
            let decoded = String::from_utf8_lossy(&bytes);
            if escape {
                let mut out = String::with_capacity(decoded.len());
                escape_into(&mut out, &decoded);
                out
            } else {
                decoded.into_owned()
            }
        }
        Err(_) => text.to_owned(),
    }
}

const HTML_PAGE: &str = "an HTML page (`<!DOCTYPE html>`), not RSS or Atom";

/// An attribute's value by local name (ASCII case-insensitive), unescaped;
/// the raw value when its escaping is broken.
fn attr<'a>(src: &'a str, e: &BytesStart<'_>, name: &[u8]) -> Option<Text<'a>> {
    let [value] = attrs(src, e, [name]);
    value
}

/// Several attributes by local name in one pass over the element's attributes
/// (the first of each name wins, as with [`attr`]). Enclosures, transcripts
/// and links read three or four each, once per item: one pass instead of one
/// per name is a measurable part of parsing (docs/benchmarks.md).
///
/// Values are borrowed from the document (`src`, which `e` was read from)
/// unless they had to be normalised.
fn attrs<'a, const N: usize>(
    src: &'a str,
    e: &BytesStart<'_>,
    names: [&[u8]; N],
) -> [Option<Text<'a>>; N] {
    let mut values = [const { None }; N];
    let mut take = |a: Attribute<'_>| {
        let local = split_qname(a.key.0).1;
        if let Some(i) = names
            .iter()
            .position(|n| local.as_bytes().eq_ignore_ascii_case(n))
            && values[i].is_none()
        {
            let raw = a.value.as_bytes();
            // Nothing to normalise (no entity, tab or line end): the value as
            // written, without quick-xml's byte-by-byte look.
            let plain = memchr::memchr3(b'&', b'\n', b'\t', raw).is_none()
                && memchr::memchr(b'\r', raw).is_none();
            values[i] = Some(match within(src, &a.value) {
                Some(value) if plain => Cow::Borrowed(value),
                _ => Cow::Owned(
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_or_else(|_| a.value.to_string(), |v| v.into_owned()),
                ),
            });
        }
    };
    match PlainAttributes::parse(e.attributes_raw()) {
        Some(plain) => {
            for &(key, value) in plain.pairs() {
                take(Attribute {
                    key: QName(key),
                    value: Cow::Borrowed(value),
                });
            }
        }
        None => e.attributes().with_checks(false).flatten().for_each(take),
    }
    values
}

/// `part` as a slice of `src`, with `src`'s lifetime, when that is where it
/// lies (quick-xml's events borrow from the document they read).
fn within<'a>(src: &'a str, part: &str) -> Option<&'a str> {
    let start = part.as_ptr().addr().checked_sub(src.as_ptr().addr())?;
    let found = src.get(start..start.checked_add(part.len())?)?;
    std::ptr::eq(found.as_ptr(), part.as_ptr()).then_some(found)
}

/// The attributes of a start tag written the usual way: `key="value"` or
/// `key='value'` pairs, whitespace around `=` and between pairs optional.
///
/// quick-xml's attribute iterator steps through the tag one byte at a time
/// through a resumable state machine, which made enclosures (a long URL each)
/// cost thousands of instructions (docs/benchmarks.md). This reads such tags
/// with plain loops and yields exactly the pairs that iterator would (with
/// checks off, errors skipped); any other shape (a key without a value, an
/// unquoted or unterminated value, more than [`PlainAttributes::MAX`]
/// attributes) is left to quick-xml.
struct PlainAttributes<'e> {
    pairs: [(&'e str, &'e str); PlainAttributes::MAX],
    len: usize,
}

impl<'e> PlainAttributes<'e> {
    const MAX: usize = 12;

    fn parse(raw: &'e str) -> Option<Self> {
        let is_space = |b: u8| matches!(b, b' ' | b'\r' | b'\n' | b'\t');
        let bytes = raw.as_bytes();
        let mut out = Self {
            pairs: [("", ""); Self::MAX],
            len: 0,
        };
        let mut i = 0;
        loop {
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            if i == bytes.len() {
                return Some(out);
            }
            // The key's first byte is taken whatever it is (even `=`), as
            // quick-xml does.
            let key_start = i;
            i += 1;
            while i < bytes.len() && bytes[i] != b'=' && !is_space(bytes[i]) {
                i += 1;
            }
            let key_end = i;
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            if bytes.get(i) != Some(&b'=') {
                return None;
            }
            i += 1;
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            let quote = *bytes.get(i)?;
            if quote != b'"' && quote != b'\'' {
                return None;
            }
            let value_start = i + 1;
            let value_len = memchr::memchr(quote, &bytes[value_start..])?;
            i = value_start + value_len + 1;
            if out.len == Self::MAX {
                return None;
            }
            out.pairs[out.len] = (
                &raw[key_start..key_end],
                &raw[value_start..value_start + value_len],
            );
            out.len += 1;
        }
    }

    fn pairs(&self) -> &[(&'e str, &'e str)] {
        &self.pairs[..self.len]
    }
}

// ---------------------------------------------------------------------------
// Raw strings to the domain model.

fn build(mut raw: RawFeed<'_>, source: &FeedUrl) -> PodcastFeed {
    // The channel's `<language>` (or `dc:language`), else the root's `xml:lang`.
    let language = non_empty(raw.language.as_deref())
        .or_else(|| non_empty(raw.root_lang.as_deref()))
        .map(language_tag);
    let mut episodes = std::mem::take(&mut raw.episodes);
    // Items still open when the document ended (none in a well-formed feed).
    for item in raw.items {
        if let Some(ep) = build_episode(item, raw.format, source, &mut raw.taken) {
            episodes.push(ep);
        }
    }
    // An episode without its own language has the channel's, which may
    // come after the items.
    if let Some(language) = &language {
        for ep in episodes.iter_mut().filter(|ep| ep.language.is_none()) {
            ep.language = Some(language.clone());
        }
    }
    let description = richest([raw.description.as_deref(), raw.summary.as_deref()]);
    let title = [raw.title.as_deref(), raw.dc_title.as_deref()]
        .into_iter()
        .flatten()
        .map(|t| title_text(t, raw.format))
        .find(|t| !t.is_empty())
        .map(visible)
        .unwrap_or_default();
    PodcastFeed {
        title,
        link: resolve_link(source, raw.link.as_deref()),
        description: description.map(html_to_text).unwrap_or_default(),
        language,
        author: raw
            .itunes_author
            .as_deref()
            .or(raw.author.as_deref())
            .map(inline_text)
            .filter(|a| !a.is_empty())
            .map(visible),
        image: resolve_link(source, raw.itunes_image.as_deref())
            .or_else(|| resolve_link(source, raw.image.as_deref())),
        podcast_guid: non_empty(raw.podcast_guid.as_deref()).map(str::to_owned),
        blocked: raw.blocked,
        new_feed_url: non_empty(raw.new_feed_url.as_deref()).map(str::to_owned),
        ttl_minutes: raw.ttl.as_deref().and_then(|t| t.trim().parse().ok()),
        episodes,
    }
}

fn build_episode(
    item: RawItem<'_>,
    format: Option<Format>,
    source: &FeedUrl,
    taken: &mut HashMap<String, String>,
) -> Option<EpisodeMeta> {
    let description = richest([
        item.content.as_deref(),
        item.description.as_deref(),
        item.summary.as_deref(),
    ])
    .map(html_to_text)
    .unwrap_or_default();
    let enclosure = item
        .enclosure
        .or(item.media_content)
        .and_then(|e| build_enclosure(e, source));
    // `<title>`, else `dc:title`, `itunes:title`, `media:title`, else one
    // made from the show notes or the enclosure.
    let title = [
        item.title.as_deref(),
        item.dc_title.as_deref(),
        item.itunes_title.as_deref(),
        item.media_title.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(|t| title_text(t, format))
    .find(|t| !t.is_empty())
    .unwrap_or_else(|| fallback_title(&description, enclosure.as_ref()));
    // An RSS guid is the item's permalink unless it says otherwise: the
    // link when the item has none (and the guid is a web address).
    let link = resolve_link(source, item.link.as_deref()).or_else(|| {
        let guid = item.guid.as_deref().map(str::trim)?;
        let web = ["http://", "https://"].iter().any(|p| {
            guid.get(..p.len())
                .is_some_and(|g| g.eq_ignore_ascii_case(p))
        });
        let not_permalink = || {
            let e = BytesStart::from_content(item.guid_attributes.unwrap_or(""), 0);
            attr("", &e, b"isPermaLink").is_some_and(|p| p.trim().eq_ignore_ascii_case("false"))
        };
        (format != Some(Format::Atom) && web && !not_permalink())
            .then(|| resolve_link(source, Some(guid)))
            .flatten()
    });
    // The published date, else the updated one, else the created one.
    let dates = [
        item.pub_date.as_deref(),
        item.updated.as_deref(),
        item.created.as_deref(),
    ];
    let date_raw = dates.iter().flatten().next().copied().unwrap_or("").trim();
    let published = dates.iter().flatten().find_map(|d| parse_date(d));

    let (guid, guid_source) = pick_key(
        non_empty(item.guid.as_deref()),
        enclosure.as_ref().map(|e| e.url.as_str()),
        link.as_deref(),
        &title,
        date_raw,
        taken,
    )?;

    let transcripts = item
        .transcripts
        .into_iter()
        .filter_map(|t| {
            let url = resolve_resource(source, &t.url)?;
            let mime = t.mime.trim().to_owned();
            let format = TranscriptFormat::from_mime(&mime).or_else(|| format_from_url(&url));
            Some(TranscriptLink {
                url,
                mime_type: mime,
                format,
                language: non_empty(t.language.as_deref()).map(str::to_ascii_lowercase),
                rel: non_empty(t.rel.as_deref()).map(str::to_owned),
            })
        })
        .collect();

    Some(EpisodeMeta {
        guid: EpisodeGuid(guid),
        guid_source,
        title: visible(title),
        published,
        link,
        description,
        enclosure,
        duration_secs: item.duration.as_deref().and_then(parse_duration),
        transcripts,
        chapters_url: item
            .chapters
            .as_deref()
            .and_then(|u| resolve_resource(source, u)),
        persons: item.persons,
        language: non_empty(item.language.as_deref()).map(language_tag),
    })
}

/// The episode's key: its guid, else the first free one of enclosure URL,
/// link, and a hash of title and date. `taken` maps each key in use to the
/// fingerprint (enclosure URL, else title-date hash) of the item holding it.
///
/// A guid already in use is a duplicate: when the holder has the same
/// fingerprint the item is the same episode listed twice and is dropped
/// (`None`); otherwise it is another episode with a reused guid, re-keyed with
/// the first free fallback. An item whose every candidate is taken is dropped
/// too.
fn pick_key(
    guid: Option<&str>,
    enclosure: Option<&str>,
    link: Option<&str>,
    title: &str,
    date: &str,
    taken: &mut HashMap<String, String>,
) -> Option<(String, GuidSource)> {
    let hash = || ContentHash::of_parts([title.as_bytes(), date.as_bytes()]).to_hex();
    if let Some(guid) = guid
        && !taken.contains_key(guid)
    {
        // The common case: a fresh guid. The fingerprint is only hashed when needed.
        let fingerprint = enclosure.map_or_else(hash, str::to_owned);
        taken.insert(guid.to_owned(), fingerprint);
        return Some((guid.to_owned(), GuidSource::Guid));
    }
    let hash = hash();
    let fingerprint = enclosure.unwrap_or(&hash);
    if let Some(guid) = guid
        && taken.get(guid).is_some_and(|holder| holder == fingerprint)
    {
        tracing::debug!(guid, title, "Dropped an item listed twice in the same feed");
        return None;
    }
    let fallbacks = [
        (enclosure, GuidSource::Enclosure),
        (link, GuidSource::Link),
        (Some(hash.as_str()), GuidSource::TitleDate),
    ];
    for (key, source) in fallbacks {
        let Some(key) = key else { continue };
        if !taken.contains_key(key) {
            taken.insert(key.to_owned(), fingerprint.to_owned());
            return Some((key.to_owned(), source));
        }
    }
    tracing::debug!(
        guid = guid.unwrap_or(""),
        title,
        "Dropped an item listed twice in the same feed"
    );
    None
}

fn build_enclosure(e: RawEnclosure<'_>, source: &FeedUrl) -> Option<Enclosure> {
    Some(Enclosure {
        url: resolve_resource(source, &e.url)?,
        mime_type: non_empty(e.mime.as_deref()).map(str::to_owned),
        length: e
            .length
            .as_deref()
            .and_then(|l| l.trim().parse::<u64>().ok())
            .filter(|l| *l > 0),
    })
}

/// A title for an item that has none: the start of its show notes, else the
/// enclosure's file name, else nothing.
fn fallback_title(description: &str, enclosure: Option<&Enclosure>) -> String {
    let first_line = description.lines().next().unwrap_or("");
    if !first_line.is_empty() {
        if first_line.chars().count() <= 80 {
            return first_line.to_owned();
        }
        let cut: String = first_line.chars().take(80).collect();
        let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
        return format!("{cut}…");
    }
    enclosure
        .and_then(|e| e.url.rsplit('/').next())
        .map(|name| name.split(['?', '#']).next().unwrap_or(name).to_owned())
        .unwrap_or_default()
}

fn format_from_url(url: &str) -> Option<TranscriptFormat> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let file = path.rsplit('/').next().unwrap_or(path);
    let (_, ext) = file.rsplit_once('.')?;
    TranscriptFormat::from_extension(ext)
}

/// Of several candidate texts, the longest non-empty one; ties go to the
/// earlier (the order is the order of preference).
fn richest<const N: usize>(candidates: [Option<&str>; N]) -> Option<&str> {
    let mut best: Option<&str> = None;
    for c in candidates.into_iter().flatten() {
        let c = c.trim();
        if !c.is_empty() && best.is_none_or(|b| c.len() > b.len()) {
            best = Some(c);
        }
    }
    best
}

/// A language tag as Meridian keeps it: lower case, `-` between subtags
/// (`en_US`, as some feeds write it, is `en-us`), and [`visible`].
fn language_tag(s: &str) -> String {
    visible(s.trim().to_ascii_lowercase().replace('_', "-"))
}

/// `text` without bidi controls and invisible characters
/// ([`meridian_core::text::strip_invisible`]), for the texts of the result
/// that [`html_to_text`] did not make: it drops them as it reads (show notes,
/// people, titles and names read as HTML), so those are not scanned again.
/// Applied to a text once it is final: a title is chosen among its
/// candidates and keyed ([`pick_key`]) as read, then stripped, so that keys
/// made from titles stay the ones already stored.
///
/// ASCII holds none of these characters, and most titles are ASCII: that is
/// checked a word at a time before looking at characters.
pub(crate) fn visible(mut text: String) -> String {
    if !text.is_ascii() {
        meridian_core::text::strip_invisible_in_place(&mut text);
    }
    text
}

/// A title as plain text. Atom says how a title is written (its `type`), and
/// the scanner made it HTML either way (see [`Capture::escape`]). RSS cannot
/// say, so a title is read as HTML only when it looks like HTML, as feed
/// readers (feedparser among them) read it: when it has an end tag (`</b>`)
/// or a character reference the HTML standard defines. Otherwise it is
/// text, and `Using <video> tags` keeps its `<video>`.
fn title_text(s: &str, format: Option<Format>) -> String {
    if format == Some(Format::Atom) || looks_like_html(s) {
        inline_text(s)
    } else {
        collapse_whitespace(s.trim())
    }
}

/// Whether an RSS text holds an end tag or an HTML character reference.
fn looks_like_html(s: &str) -> bool {
    let bytes = s.as_bytes();
    memchr::memchr2_iter(b'<', b'&', bytes).any(|i| {
        if bytes[i] == b'<' {
            bytes.get(i + 1) == Some(&b'/') && bytes.get(i + 2).is_some_and(u8::is_ascii_alphabetic)
        } else {
            crate::html::starts_entity(&s[i..])
        }
    })
}

/// A one-line text field (title, author): HTML reduced only when there is
/// markup or an entity in it, whitespace collapsed.
fn inline_text(s: &str) -> String {
    let s = s.trim();
    if memchr::memchr2(b'<', b'&', s.as_bytes()).is_some() {
        html_to_text(s).replace('\n', " ")
    } else {
        collapse_whitespace(s)
    }
}

/// `s` (trimmed) with every run of whitespace made one space.
fn collapse_whitespace(s: &str) -> String {
    if is_single_spaced(s) {
        s.to_owned()
    } else {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Whether the only whitespace in `s` (trimmed) is single spaces, so that
/// collapsing whitespace would give `s` back.
fn is_single_spaced(s: &str) -> bool {
    let mut after_space = false;
    for c in s.chars() {
        if c == ' ' {
            if after_space {
                return false;
            }
            after_space = true;
        } else if c.is_whitespace() {
            return false;
        } else {
            after_space = false;
        }
    }
    true
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> FeedUrl {
        FeedUrl::parse("https://pod.example/shows/feed.xml").unwrap()
    }

    fn parse(xml: &str) -> Result<PodcastFeed, IngestError> {
        parse_feed(xml.as_bytes(), &url())
    }

    const PC20: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>Show &amp; Tell</title>
    <link>https://pod.example/</link>
    <description>About &lt;b&gt;things&lt;/b&gt;</description>
    <language>en-US</language>
    <ttl>60</ttl>
    <itunes:author>Ann Host</itunes:author>
    <itunes:new-feed-url>https://new.example/feed.xml</itunes:new-feed-url>
    <itunes:image href="cover.jpg"/>
    <podcast:guid>917393e3-1b1e-5cef-ace4-edaa54e1f810</podcast:guid>
    <podcast:block id="spotify">yes</podcast:block>
    <image><url>https://pod.example/small.png</url><title>Ignored title</title></image>
    <item>
      <title>Episode <![CDATA[<b>One</b>]]></title>
      <guid isPermaLink="false">ep-1</guid>
      <pubDate>Sun, 12 August 2012 10:00:00 EST</pubDate>
      <description>short</description>
      <content:encoded><![CDATA[<p>Long <em>notes</em></p><p>Second para</p>]]></content:encoded>
      <enclosure url="media/ep1.mp3" type="audio/mpeg" length="123"/>
      <itunes:duration>1:02:03</itunes:duration>
      <podcast:transcript url="ep1.vtt" type="text/vtt" language="EN" rel="captions"/>
      <podcast:transcript url="https://pod.example/ep1.json" type="application/json"/>
      <podcast:transcript url="file:///etc/passwd" type="text/plain"/>
      <podcast:chapters url="ep1.chapters.json" type="application/json+chapters"/>
      <podcast:person role="host" group="Not A Known Group">Ann Host</podcast:person>
      <podcast:person role="Cohost-ish">Bob</podcast:person>
    </item>
    <item>
      <title>Two</title>
      <pubDate>not a date</pubDate>
      <enclosure url="https://pod.example/ep2.mp3"/>
    </item>
  </channel>
</rss>"#;

    /// Where the plain reader takes a tag, it yields what quick-xml's
    /// iterator yields: every combination of a few pieces, tricky ones
    /// included.
    #[test]
    fn plain_attributes_match_quick_xml() {
        let pieces = [
            "",
            " ",
            "\n\t",
            "url=\"a b\"",
            "type='x\"y'",
            "a = \"1\"",
            "b=\"&amp;\"",
            "c=\"\"",
            "d",
            "e=",
            "f=x",
            "g=\"open",
            "=\"v\"",
            "h:i=\"2\"",
            "j=\"'\"k='\"'",
            "é=\"ü\"",
            "/",
            "==\"x\"",
            "= \"y\"",
        ];
        let mut checked = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let raw = format!("{a}{b} {c}");
                    let tag = format!("x {raw}");
                    let e = BytesStart::from_content(tag.as_str(), 1);
                    let theirs: Vec<(String, String)> = e
                        .attributes()
                        .with_checks(false)
                        .flatten()
                        .map(|a| (a.key.0.to_owned(), a.value.into_owned()))
                        .collect();
                    if let Some(plain) = PlainAttributes::parse(e.attributes_raw()) {
                        let ours: Vec<(String, String)> = plain
                            .pairs()
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                            .collect();
                        assert_eq!(ours, theirs, "{raw:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1_000, "{checked}");
    }

    #[test]
    fn podcasting_2_0_feed_reads_every_field() {
        let f = parse(PC20).unwrap();
        assert_eq!(f.title, "Show & Tell");
        assert_eq!(f.description, "About things");
        assert_eq!(f.language.as_deref(), Some("en-us"));
        assert_eq!(f.ttl_minutes, Some(60));
        assert_eq!(f.author.as_deref(), Some("Ann Host"));
        assert_eq!(
            f.new_feed_url.as_deref(),
            Some("https://new.example/feed.xml")
        );
        assert_eq!(
            f.image.as_deref(),
            Some("https://pod.example/shows/cover.jpg")
        );
        assert_eq!(
            f.podcast_guid.as_deref(),
            Some("917393e3-1b1e-5cef-ace4-edaa54e1f810")
        );
        assert!(!f.blocked, "a platform-specific block does not block us");
        assert_eq!(f.episodes.len(), 2);
        let e = &f.episodes[0];
        assert_eq!(e.title, "Episode One");
        assert_eq!(
            (e.guid.0.as_str(), e.guid_source),
            ("ep-1", GuidSource::Guid)
        );
        assert_eq!(
            e.published.map(|d| d.to_rfc3339()),
            Some("2012-08-12T15:00:00+00:00".to_owned())
        );
        assert_eq!(
            e.description, "Long notes\nSecond para",
            "content:encoded is the richest"
        );
        let enc = e.enclosure.as_ref().unwrap();
        assert_eq!(enc.url, "https://pod.example/shows/media/ep1.mp3");
        assert_eq!(
            (enc.mime_type.as_deref(), enc.length),
            (Some("audio/mpeg"), Some(123))
        );
        assert_eq!(e.duration_secs, Some(3723));
        assert_eq!(
            e.transcripts.len(),
            2,
            "the file: transcript in a remote feed is dropped"
        );
        assert_eq!(e.transcripts[0].url, "https://pod.example/shows/ep1.vtt");
        assert_eq!(e.transcripts[0].format, Some(TranscriptFormat::Vtt));
        assert_eq!(e.transcripts[0].language.as_deref(), Some("en"));
        assert_eq!(e.transcripts[0].rel.as_deref(), Some("captions"));
        assert_eq!(e.transcripts[1].format, Some(TranscriptFormat::Json));
        assert_eq!(
            e.chapters_url.as_deref(),
            Some("https://pod.example/shows/ep1.chapters.json")
        );
        assert_eq!(
            e.persons,
            vec!["Ann Host", "Bob"],
            "unknown roles and groups are fine"
        );
        assert_eq!(e.language.as_deref(), Some("en-us"));
        let two = &f.episodes[1];
        assert_eq!(two.published, None, "a bad date keeps the episode");
        assert_eq!(
            (two.guid.0.as_str(), two.guid_source),
            ("https://pod.example/ep2.mp3", GuidSource::Enclosure)
        );
    }

    #[test]
    fn blocked_and_legacy_namespace() {
        let xml = r#"<rss version="2.0" xmlns:podcast="https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md">
            <channel><title>T</title><podcast:block>yes</podcast:block><podcast:guid>g</podcast:guid>
            <item><title>A</title><podcast:transcript url="a.srt" type="application/x-subrip"/></item></channel></rss>"#;
        let f = parse(xml).unwrap();
        assert!(f.blocked);
        assert_eq!(f.podcast_guid.as_deref(), Some("g"));
        assert_eq!(
            f.episodes[0].transcripts[0].format,
            Some(TranscriptFormat::Srt)
        );
    }

    #[test]
    fn undeclared_prefixes_and_versionless_rss_are_read() {
        let xml = "<rss><channel><title>P</title><item><title>E</title><guid>a</guid>\
                   <itunes:duration>00:20:00</itunes:duration>\
                   <podcast:person role=\"host\">John Doe</podcast:person></item></channel></rss>";
        let f = parse(xml).unwrap();
        assert_eq!(f.episodes[0].duration_secs, Some(1200));
        assert_eq!(f.episodes[0].persons, vec!["John Doe"]);
    }

    #[test]
    fn duplicate_guids_are_rekeyed_then_dropped() {
        let xml = r#"<rss version="2.0"><channel><title>T</title>
            <item><title>First</title><guid>same</guid><enclosure url="https://x.example/1.mp3"/></item>
            <item><title>Other episode, same guid</title><guid>same</guid><enclosure url="https://x.example/2.mp3"/></item>
            <item><title>First</title><guid>same</guid><enclosure url="https://x.example/1.mp3"/></item>
            <item><title>No guid</title><link>https://x.example/page</link></item>
            <item><title>Nothing at all</title></item>
        </channel></rss>"#;
        let f = parse(xml).unwrap();
        let keys: Vec<_> = f
            .episodes
            .iter()
            .map(|e| (e.guid.0.as_str(), e.guid_source))
            .collect();
        assert_eq!(
            keys.len(),
            4,
            "the exact repeat of the first item is dropped: {keys:?}"
        );
        assert_eq!(keys[0], ("same", GuidSource::Guid));
        assert_eq!(keys[1], ("https://x.example/2.mp3", GuidSource::Enclosure));
        assert_eq!(keys[2], ("https://x.example/page", GuidSource::Link));
        assert_eq!(keys[3].1, GuidSource::TitleDate);
        assert_eq!(keys[3].0.len(), 64);
        let again = parse(xml).unwrap();
        assert_eq!(
            again.episodes[3].guid, f.episodes[3].guid,
            "fallback keys are stable"
        );
    }

    /// A key made from the title hashes the title as the feed writes it
    /// (whitespace collapsed), before invisible characters leave it: the
    /// keys of episodes already stored stay what they were.
    #[test]
    fn title_keys_hash_the_title_before_invisible_characters_are_stripped() {
        let xml = "<rss version=\"2.0\"><channel><title>T</title>\
            <item><title>Ep\u{200b} 1</title><pubDate>Sun, 12 Aug 2012 10:00:00 GMT</pubDate></item>\
            </channel></rss>";
        let ep = &parse(xml).unwrap().episodes[0];
        assert_eq!(ep.title, "Ep 1");
        assert_eq!(ep.guid_source, GuidSource::TitleDate);
        let as_read =
            ContentHash::of_parts(["Ep\u{200b} 1".as_bytes(), b"Sun, 12 Aug 2012 10:00:00 GMT"]);
        assert_eq!(ep.guid.0, as_read.to_hex());
    }

    #[test]
    fn atom_feeds() {
        let xml = r#"<?xml version="1.0"?>
        <feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
          <title type="html">Atom &amp;lt;Pod&amp;gt;</title>
          <subtitle>Sub</subtitle>
          <link rel="self" href="https://a.example/feed"/>
          <link href="https://a.example/"/>
          <author><name>Writer</name></author>
          <entry>
            <id>urn:uuid:1</id>
            <title>Entry</title>
            <link rel="alternate" href="/e1"/>
            <link rel="enclosure" href="/e1.mp3" type="audio/mpeg" length="9"/>
            <published>2021-04-15T10:00:00Z</published>
            <summary>Short</summary>
            <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Longer text</p><p>here</p></div></content>
          </entry>
        </feed>"#;
        let f = parse(xml).unwrap();
        assert_eq!(f.title, "Atom <Pod>");
        assert_eq!(f.description, "Sub");
        assert_eq!(f.link.as_deref(), Some("https://a.example/"));
        assert_eq!(f.author.as_deref(), Some("Writer"));
        let e = &f.episodes[0];
        assert_eq!(e.guid.0, "urn:uuid:1");
        assert_eq!(
            e.link.as_deref(),
            Some("https://pod.example/e1"),
            "relative to the feed URL"
        );
        assert_eq!(
            e.enclosure.as_ref().map(|x| x.url.as_str()),
            Some("https://pod.example/e1.mp3")
        );
        assert_eq!(e.description, "Longer text\nhere");
        assert!(e.published.is_some());
    }

    #[test]
    fn rss_1_0_items_beside_the_channel() {
        let xml = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
            xmlns:dc="http://purl.org/dc/elements/1.1/">
          <channel rdf:about="x"><title>R</title><items><rdf:Seq><rdf:li resource="https://r.example/1"/></rdf:Seq></items></channel>
          <item rdf:about="https://r.example/1"><title>One</title><link>https://r.example/1</link><dc:date>2020-01-02</dc:date></item>
        </rdf:RDF>"#;
        let f = parse(xml).unwrap();
        assert_eq!(f.title, "R");
        assert_eq!(f.episodes.len(), 1);
        assert_eq!(f.episodes[0].guid_source, GuidSource::Link);
        assert!(f.episodes[0].published.is_some());
    }

    #[test]
    fn only_channel_level_items_count() {
        let xml = r#"<rss version="2.0"><channel><title>T</title>
            <foo:wrapper xmlns:foo="urn:x"><item><title>Not an episode</title></item></foo:wrapper>
            <item><title>Real</title><guid>r</guid><description><![CDATA[<item>text</item>]]></description></item>
        </channel></rss>"#;
        let f = parse(xml).unwrap();
        assert_eq!(f.episodes.len(), 1);
        assert_eq!(f.episodes[0].title, "Real");
    }

    #[test]
    fn hostile_and_wrong_documents() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
            <rss version="2.0"><channel><title>&b;</title></channel></rss>"#;
        let e = parse(bomb).unwrap_err();
        assert_eq!(
            e.kind(),
            "unparseable",
            "entity declarations are refused: {e}"
        );
        assert!(
            e.to_string()
                .contains("refused at line 1: the DOCTYPE declares entities"),
            "{e}"
        );
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY leak SYSTEM "file:///etc/passwd">]>
            <rss version="2.0"><channel><title>&leak;</title></channel></rss>"#;
        let e = parse(xxe).unwrap_err();
        assert_eq!(e.kind(), "unparseable");
        assert!(!e.to_string().contains("root:"), "{e}");
        // A DOCTYPE without entity declarations (old RSS 0.91 feeds) is fine.
        let rss091 = r#"<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
            "http://my.netscape.com/publish/formats/rss-0.91.dtd">
            <rss version="0.91"><channel><title>Caf&eacute;</title></channel></rss>"#;
        assert_eq!(parse(rss091).unwrap().title, "Café");

        let html =
            parse("<!DOCTYPE html><html><head><meta charset=utf-8></head><body>hi</body></html>")
                .unwrap_err();
        assert_eq!(html.kind(), "not_a_feed");
        assert!(html.to_string().contains("HTML page"), "{html}");
        let html2 = parse("<html><body><p>x</p></body></html>").unwrap_err();
        assert_eq!(html2.kind(), "not_a_feed");
        let text = parse("i am not xml").unwrap_err();
        assert_eq!(text.kind(), "not_a_feed");
        assert!(
            text.to_string()
                .starts_with("feed `https://pod.example/shows/feed.xml`: not a feed: plain text"),
            "{text}"
        );
        assert_eq!(parse("  \n ").unwrap_err().kind(), "empty");
        assert_eq!(
            parse_feed(b"ID3\x03\x00\x00\x00", &url())
                .unwrap_err()
                .kind(),
            "encoding"
        );
        assert_eq!(
            parse("<opml version=\"2.0\"><body/></opml>")
                .unwrap_err()
                .kind(),
            "not_a_feed"
        );
    }

    #[test]
    fn an_undeclared_koi8_r_feed_reads_as_cyrillic() {
        let title = "Новости науки";
        let notes = "Сегодня мы говорим о том, как устроены большие языковые модели и почему они ошибаются.";
        let xml = format!(
            "<rss version=\"2.0\"><channel><title>{title}</title><item><title>Выпуск первый</title>\
             <guid>1</guid><description>{notes}</description></item></channel></rss>"
        );
        let (bytes, _, _) = encoding_rs::KOI8_R.encode(&xml);
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "KOI8-R bytes, not UTF-8"
        );
        let f = parse_feed(&bytes, &url()).unwrap();
        assert_eq!(f.title, title);
        assert_eq!(f.episodes[0].title, "Выпуск первый");
        assert_eq!(f.episodes[0].description, notes);
        // Declared encodings are still obeyed.
        let declared = format!("<?xml version=\"1.0\" encoding=\"koi8-r\"?>{xml}");
        let (bytes, _, _) = encoding_rs::KOI8_R.encode(&declared);
        assert_eq!(parse_feed(&bytes, &url()).unwrap().title, title);
    }

    #[test]
    fn a_root_without_a_channel_is_not_a_feed() {
        for doc in [
            r#"<rss version="2.0"><foo/></rss>"#,
            r#"<rss version="2.0"><html><body>Hello</body></html></rss>"#,
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description/></rdf:RDF>"#,
        ] {
            let e = parse(doc).unwrap_err();
            assert_eq!(e.kind(), "not_a_feed", "{doc}: {e}");
            assert!(e.to_string().contains("no `<channel>`"), "{e}");
        }
        // An empty root or an empty channel is an empty feed.
        for doc in [
            r#"<rss version="2.0"><channel/></rss>"#,
            r#"<rss version="2.0"/>"#,
            "<rss>\n</rss>",
        ] {
            assert!(parse(doc).unwrap().episodes.is_empty(), "{doc}");
        }
        assert!(parse(r#"<feed xmlns="http://www.w3.org/2005/Atom"/>"#).is_ok());
    }

    #[test]
    fn broken_xml_names_the_line() {
        let xml = "<?xml version=\"1.0\"?>\n<rss version=\"2.0\">\n<channel>\n<item>\n<title>x</title>\n</channel>\n</rss>";
        let e = parse(xml).unwrap_err();
        assert_eq!(e.kind(), "unparseable");
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "feed `https://pod.example/shows/feed.xml`: not well-formed XML at line 6: "
            ),
            "{msg}"
        );
        assert!(matches!(e, IngestError::Unparseable { line: Some(6), .. }));
        let truncated = parse("<rss version=\"2.0\">\n<channel>\n<title>T</title>\n<item><title>x")
            .unwrap_err();
        assert_eq!(truncated.kind(), "unparseable");
        let cdata = parse("<rss><channel><item><title><![CD").unwrap_err();
        assert_eq!(cdata.kind(), "unparseable");
    }

    #[test]
    fn leading_whitespace_and_junk_after_the_channel_are_tolerated() {
        let f = parse("\n\n  <?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title></channel></rss").unwrap();
        assert_eq!(f.title, "T");
        let e = parse("\n\n<rss version=\"2.0\"><channel>\n<title>T</title><item></chanel></rss>")
            .unwrap_err();
        assert!(
            matches!(e, IngestError::Unparseable { line: Some(4), .. }),
            "lines count the skipped ones: {e}"
        );
    }

    #[test]
    fn local_feeds_keep_file_links_and_latin1_decodes() {
        let source = FeedUrl::parse("file:///srv/feeds/show.xml").unwrap();
        let xml = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>Caf\xe9</title>\
                    <item><title>x</title><podcast:transcript url=\"t.txt\" type=\"text/plain\"/></item></channel></rss>";
        let f = parse_feed(xml, &source).unwrap();
        assert_eq!(f.title, "Café");
        assert_eq!(f.episodes[0].transcripts[0].url, "file:///srv/feeds/t.txt");
    }

    /// Episodes are built as their item closes; what the channel says after
    /// the items (its language) still applies, and an empty `<item/>` keeps
    /// its place.
    #[test]
    fn items_are_built_in_order_with_the_channel_language_that_follows() {
        let xml = r#"<rss version="2.0"><channel><title>T</title>
            <item><title>One</title><guid>1</guid></item>
            <item/>
            <item><title>Three</title><guid>3</guid><language>fr</language></item>
            <language>DE</language></channel></rss>"#;
        let f = parse(xml).unwrap();
        let got: Vec<_> = f
            .episodes
            .iter()
            .map(|e| (e.title.as_str(), e.language.as_deref()))
            .collect();
        assert_eq!(
            got,
            [("One", Some("de")), ("", Some("de")), ("Three", Some("fr"))]
        );
    }

    #[test]
    fn items_without_titles_get_a_readable_one() {
        let xml = r#"<rss><channel><item><link>http://example.com/episode/1</link>
            <enclosure url="http://example.com/test.ogg" type="audio/ogg" length="3000000"/></item></channel></rss>"#;
        let f = parse(xml).unwrap();
        assert_eq!(f.episodes[0].title, "test.ogg");
        assert_eq!(f.episodes[0].guid.0, "http://example.com/test.ogg");
    }

    const ATOM: &str = "http://www.w3.org/2005/Atom";

    fn rss_title(title: &str) -> String {
        parse(&format!(
            "<rss><channel><title>{title}</title></channel></rss>"
        ))
        .unwrap()
        .title
    }

    fn atom_title(attrs: &str, title: &str) -> String {
        parse(&format!(
            "<feed xmlns=\"{ATOM}\"><title{attrs}>{title}</title></feed>"
        ))
        .unwrap()
        .title
    }

    #[test]
    fn named_references_of_the_html_standard_decode_in_titles() {
        assert_eq!(
            rss_title("testing &alpha; &rArr; &there4; &CounterClockwiseContourIntegral; entity"),
            "testing α ⇒ ∴ ∳ entity"
        );
        // Two code points for one name; a name HTML does not define stays.
        assert_eq!(rss_title("&NotEqualTilde; &fjlig; &bogus;"), "≂̸ fj &bogus;");
        assert_eq!(
            atom_title(" type=\"html\"", "&amp;alpha; and &amp;amp;"),
            "α and &"
        );
    }

    /// What was escaped in the feed is text: Atom says so with `type`, and an
    /// RSS title is HTML only when it looks like HTML.
    #[test]
    fn escaped_markup_in_a_text_title_stays_text() {
        assert_eq!(rss_title("Using &lt;video&gt; tags"), "Using <video> tags");
        assert_eq!(rss_title("1 &lt; 2 &amp;&amp; 3 &gt; 2"), "1 < 2 && 3 > 2");
        assert_eq!(rss_title("Episode &lt;b&gt;One&lt;/b&gt;"), "Episode One");
        assert_eq!(rss_title("Q&amp;amp;A"), "Q&A");
        for attrs in ["", " type=\"text\"", " type=\"text/plain\""] {
            assert_eq!(
                atom_title(attrs, "History of the &lt;blink&gt; tag"),
                "History of the <blink> tag",
                "{attrs}"
            );
        }
        assert_eq!(
            atom_title(
                " type=\"xhtml\"",
                "<div xmlns=\"http://www.w3.org/1999/xhtml\">History of the &lt;blink&gt; <b>tag</b></div>"
            ),
            "History of the <blink> tag"
        );
        assert_eq!(
            atom_title(" type=\"html\"", "Example &lt;b&gt;Atom&lt;/b&gt;"),
            "Example Atom"
        );
        let f = parse(&format!(
            "<feed xmlns=\"{ATOM}\"><entry><id>1</id><title>T</title>\
             <summary type=\"text\">Use &lt;video&gt; &amp; &lt;audio&gt;</summary></entry></feed>"
        ))
        .unwrap();
        assert_eq!(f.episodes[0].description, "Use <video> & <audio>");
        let f = parse(&format!(
            "<feed xmlns=\"{ATOM}\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\">\
             <itunes:summary>&lt;p&gt;Show &lt;b&gt;notes&lt;/b&gt;&lt;/p&gt;</itunes:summary></feed>"
        ))
        .unwrap();
        assert_eq!(
            f.description, "Show notes",
            "other namespaces' text is HTML as in RSS"
        );
    }

    #[test]
    fn broken_markup_in_a_title_keeps_its_text() {
        assert_eq!(
            rss_title("<![CDATA[<a href=http://x/\">example</a> after]]>"),
            "example after"
        );
        for (html, text) in [
            ("&lt;!DOCTYPE ~", "<!DOCTYPE ~"),
            (
                "sa&lt;!-- -- x &gt;fe&lt;script&gt;alert(1);&lt;/script&gt;",
                "safe",
            ),
            ("safe&lt;!--", "safe"),
            (
                "safe&lt;object classid=\"x\"&gt; description",
                "safe description",
            ),
        ] {
            assert_eq!(atom_title(" type=\"html\"", html), text, "{html}");
        }
    }

    #[test]
    fn an_rss_feed_with_an_xhtml_doctype_is_a_feed() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "x">
            <rss><channel><title>found</title></channel></rss>"#;
        assert_eq!(parse(xml).unwrap().title, "found");
        for page in [
            "<!DOCTYPE html><html><head><title>x</title></head></html>",
            "<!DOCTYPE html><title>x</title><p>unclosed",
            "<!DOCTYPE html>\n<meta charset=utf-8><p>x",
        ] {
            let e = parse(page).unwrap_err();
            assert!(e.to_string().contains("an HTML page"), "{page}: {e}");
        }
    }

    #[test]
    fn element_names_match_in_any_case() {
        let xml = "<RSS><Channel><TiTlE>Example title</TiTlE><LANGUAGE>en</LANGUAGE>\
                   <ITEM><Title>One</Title><PubDate>Sun, 12 Aug 2012 10:00:00 GMT</PubDate></ITEM></Channel></RSS>";
        let f = parse(xml).unwrap();
        assert_eq!(f.title, "Example title");
        assert_eq!(f.language.as_deref(), Some("en"));
        assert_eq!(f.episodes[0].title, "One");
        assert!(f.episodes[0].published.is_some());
    }

    #[test]
    fn dc_and_media_titles_stand_in_for_a_missing_title() {
        let xml = r#"<rss xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/">
            <channel><dc:title>Example title</dc:title>
            <item><guid>1</guid><dc:title>Dublin Core</dc:title></item>
            <item><guid>2</guid><media:title>bar</media:title></item>
            <item><guid>3</guid><media:title>bar</media:title><title>foo</title></item>
            <item><guid>4</guid><media:group><media:title>grouped</media:title></media:group></item>
            </channel></rss>"#;
        let f = parse(xml).unwrap();
        assert_eq!(f.title, "Example title");
        let titles: Vec<_> = f.episodes.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["Dublin Core", "bar", "foo", "grouped"]);
    }

    #[test]
    fn dcterms_and_created_dates_are_dates() {
        let xml = r#"<rss xmlns:dcterms="http://purl.org/dc/terms/"><channel>
            <item><guid>1</guid><dcterms:issued>2003-12-31T10:14:55Z</dcterms:issued></item>
            <item><guid>2</guid><dcterms:modified>2003-12-31T10:14:55Z</dcterms:modified></item>
            <item><guid>3</guid><dcterms:created>2003-12-31T10:14:55Z</dcterms:created></item>
            <item><guid>4</guid><dcterms:modified>2010-01-01T00:00:00Z</dcterms:modified>
              <dcterms:issued>2003-12-31T10:14:55Z</dcterms:issued></item>
            </channel></rss>"#;
        let want = chrono::DateTime::parse_from_rfc3339("2003-12-31T10:14:55Z").unwrap();
        for ep in parse(xml).unwrap().episodes {
            assert_eq!(ep.published, Some(want.into()), "{}", ep.guid);
        }
        let atom03 = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><id>1</id>
            <created>2003-12-31T10:14:55Z</created></entry></feed>"#;
        assert_eq!(
            parse(atom03).unwrap().episodes[0].published,
            Some(want.into())
        );
    }

    #[test]
    fn the_root_xml_lang_is_the_language_when_none_is_declared() {
        let atom = |body: &str| {
            parse(&format!(
                "<feed xmlns=\"{ATOM}\" xml:lang=\"en_US\"><title xml:lang=\"fr\">t</title>{body}</feed>"
            ))
            .unwrap()
        };
        assert_eq!(atom("").language.as_deref(), Some("en-us"));
        let rss = r#"<rss xml:lang="de"><channel><language>fr</language></channel></rss>"#;
        assert_eq!(parse(rss).unwrap().language.as_deref(), Some("fr"));
    }

    #[test]
    fn a_permalink_guid_is_the_link_when_the_item_has_none() {
        let xml = r#"<rss version="2.0"><channel>
            <item><guid>http://guid.example.com/1</guid></item>
            <item><guid isPermaLink="true">HTTPS://guid.example.com/2</guid></item>
            <item><guid isPermaLink="false">http://guid.example.com/3</guid></item>
            <item><guid>abc</guid></item>
            <item><link>http://link.example.com/</link><guid>http://guid.example.com/5</guid></item>
            </channel></rss>"#;
        let links: Vec<_> = parse(xml)
            .unwrap()
            .episodes
            .into_iter()
            .map(|e| e.link)
            .collect();
        assert_eq!(
            links,
            [
                Some("http://guid.example.com/1".to_owned()),
                Some("https://guid.example.com/2".to_owned()),
                None,
                None,
                Some("http://link.example.com/".to_owned()),
            ]
        );
    }

    #[test]
    fn base64_draft_atom_links_without_href_and_cdf_are_read() {
        let atom03 = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#">
            <title type="text/html" mode="base64">RXhhbXBsZSA8Yj5BdG9tPC9iPg==</title>
            <entry><id>1</id><title mode="base64">
              PHA+SGlzdG9yeSBvZiB0aGUgJmx0O2JsaW5rJmd0OyB0YWc8L3A+
            </title><link rel="alternate" type="text/html">http://www.example.com/alternate</link></entry></feed>"#;
        let f = parse(atom03).unwrap();
        assert_eq!(f.title, "Example Atom");
        assert_eq!(
            f.episodes[0].title, "<p>History of the &lt;blink&gt; tag</p>",
            "a text title stays text once decoded"
        );
        assert_eq!(
            f.episodes[0].link.as_deref(),
            Some("http://www.example.com/alternate")
        );
        let draft = r#"<feed version="0.3" xmlns="http://purl.org/echo/"><title>Example Atom</title></feed>"#;
        assert_eq!(parse(draft).unwrap().title, "Example Atom");
        let cdf = r#"<CHANNEL HREF="http://www.example.org/"><TITLE>Example feed</TITLE>
            <ITEM HREF="http://www.example.org/1" LASTMOD="2004-04-06T23:05:43-05:00"><TITLE>Example item</TITLE></ITEM>
            </CHANNEL>"#;
        let f = parse(cdf).unwrap();
        assert_eq!(f.title, "Example feed");
        assert_eq!(f.link.as_deref(), Some("http://www.example.org/"));
        assert_eq!(f.episodes[0].title, "Example item");
        assert_eq!(
            f.episodes[0].link.as_deref(),
            Some("http://www.example.org/1")
        );
        assert!(f.episodes[0].published.is_some());
    }

    #[test]
    fn a_root_end_tag_cut_off_at_the_end_still_closes_the_feed() {
        let f = parse(&format!(
            "<feed xmlns=\"{ATOM}\"><title>T</title><entry><id>1</id><title>&#x41;</title></entry></feed\n"
        ))
        .unwrap();
        assert_eq!((f.title.as_str(), f.episodes[0].title.as_str()), ("T", "A"));
        for cut in [
            format!("<feed xmlns=\"{ATOM}\"><entry><title>x</title></entry></fe"),
            format!("<feed xmlns=\"{ATOM}\"><entry><title>x</title></entry"),
            format!("<feed xmlns=\"{ATOM}\"><entry><title>x</title></entry></feedx"),
        ] {
            assert!(parse(&cut).is_err(), "{cut}");
        }
    }
}
