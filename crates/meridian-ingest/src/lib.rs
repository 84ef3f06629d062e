//! Reading what podcasts publish: feeds, transcripts and subscription lists.
//!
//! Ingest turns bytes into `meridian-core` values and persists nothing; every
//! parser here is a pure function over bytes that never panics, whatever the
//! input (an HTML page, an entity bomb, truncated or mis-encoded XML): bad
//! input becomes an [`IngestError`] whose `Display` names the file or URL and
//! the problem, with a stable [`IngestError::kind`].
//!
//! - [`parse_feed`]: RSS/Atom/JSON Feed with the iTunes and Podcasting 2.0
//!   namespaces → [`PodcastFeed`](meridian_core::PodcastFeed).
//! - [`parse_transcript`], [`sniff_transcript_format`], [`pick_transcript`],
//!   [`show_notes_transcript`]: VTT, SRT, JSON, HTML and text transcripts →
//!   [`Segment`](meridian_core::Segment)s.
//! - [`parse_opml`], [`write_opml`]: subscription lists.
//! - [`html_to_text`]: show notes and other HTML reduced to plain text.
//! - [`fetch_feed`], [`fetch_transcript`]: the same, fetched through the
//!   region's egress client (or read from a `file:` URL an operator gave).
//!
//! ```
//! let url = meridian_core::FeedUrl::parse("https://example.com/feed.xml").unwrap();
//! let xml = br#"<rss version="2.0"><channel><title>Show</title>
//!   <item><title>Episode 1</title><guid>e1</guid></item></channel></rss>"#;
//! let feed = meridian_ingest::parse_feed(xml, &url).unwrap();
//! assert_eq!(feed.episodes[0].title, "Episode 1");
//! ```

mod date;
mod error;
mod feed;
mod fetch;
mod html;
mod jsonfeed;
mod links;
mod opml;
mod text;
mod transcript;
mod xmlns;

pub use error::{DocKind, IngestError};
pub use feed::MAX_FEED_BYTES;
pub use fetch::{FeedFetch, FetchedFeed, fetch_feed, fetch_transcript};
pub use html::html_to_text;
pub use opml::{MAX_OPML_BYTES, OpmlOutline, parse_opml, write_opml};
pub use transcript::{
    MAX_TRANSCRIPT_BYTES, normalize_segments, parse_transcript, pick_transcript,
    show_notes_transcript, sniff_transcript_format,
};

/// Parses an RSS, Atom or JSON Feed document into a podcast and its
/// episodes; see the feed module for the rules. Every text of the result
/// (titles, descriptions, author, people, the podcast's and episodes'
/// languages) comes without bidi controls and invisible characters
/// ([`strip_invisible`](meridian_core::text::strip_invisible)), so that what an
/// email, a page or a terminal shows reads in the order it is stored.
///
/// # Errors
/// [`IngestError`] naming `source`: `unparseable` for XML that is not
/// well-formed (with its line), `not_a_feed` for an HTML page, OPML or other
/// document, `empty`, `encoding` for binary data, `too_large` over
/// [`MAX_FEED_BYTES`].
pub fn parse_feed(
    bytes: &[u8],
    source: &meridian_core::FeedUrl,
) -> Result<meridian_core::PodcastFeed, IngestError> {
    feed::parse_feed(bytes, source)
}

#[cfg(test)]
mod tests {
    use meridian_core::{FeedUrl, TranscriptFormat};

    use super::*;

    const SAMPLES: [&str; 5] = [
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0"
 xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>T &amp; <![CDATA[<b>x</b>]]></title>
<item><title>E</title><guid>g</guid><pubDate>Sun, 12 Aug 2012 10:00:00 EST</pubDate><itunes:duration>1:02</itunes:duration>
<description>&lt;p&gt;Notes &amp;eacute;&lt;/p&gt;</description><enclosure url="a.mp3" length="1"/>
<podcast:transcript url="t.vtt" type="text/vtt"/><podcast:person role="host">P</podcast:person></item></channel></rss>"#,
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><id>1</id><title type="html">&lt;i&gt;E&lt;/i&gt;</title>
<link rel="enclosure" href="/e.mp3"/><content type="xhtml"><div><p>x</p></div></content></entry></feed>"#,
        "WEBVTT\n\nNOTE x\n\n1\n00:00:01.000 --> 00:00:02.000 align:start\n<v Ann>Hi &amp; <i>bye</i>\n\n02.000 --> 03.500\nBob: yes\n",
        "{\"version\":\"1.0.0\",\"segments\":[{\"speaker\":\"A\",\"startTime\":0.5,\"endTime\":1,\"body\":\"I\"},\
         {\"speaker\":\"A\",\"startTime\":\"1\",\"endTime\":2,\"body\":\"am.\"}]}",
        "<opml version=\"2.0\"><body><outline text=\"F\"><outline xmlUrl=\"https://x.example/f\" title=\"X\"/></outline>\
         </body></opml><cite>A:</cite><time>0:01</time><p>text</p>",
    ];

    /// Runs every parser on `bytes`; any error must name its subject on one line.
    fn run_all(bytes: &[u8]) {
        let url = FeedUrl::parse("https://x.example/feed.xml").unwrap();
        if let Err(e) = parse_feed(bytes, &url) {
            assert!(
                e.to_string().contains("https://x.example/feed.xml")
                    && !e.to_string().contains('\n'),
                "{e}"
            );
        }
        if let Err(e) = parse_opml(bytes, "in.opml") {
            assert!(e.to_string().contains("in.opml"), "{e}");
        }
        for format in TranscriptFormat::PREFERENCE {
            if let Err(e) = parse_transcript(bytes, format, "in.t") {
                assert!(
                    e.to_string().contains("in.t") && !e.to_string().contains('\n'),
                    "{e}"
                );
            }
        }
        let _ = sniff_transcript_format(bytes);
        let _ = html_to_text(&String::from_utf8_lossy(bytes));
    }

    #[test]
    fn feed_text_comes_without_bidi_controls_or_invisible_characters() {
        let url = FeedUrl::parse("https://x.example/feed.xml").unwrap();
        let xml = "<rss version=\"2.0\"><channel><title>Evil\u{202e}txt.exe</title>\
            <description>a\u{200b}b</description><item><title>&#x202E;Ep\u{2066}1\u{2069}</title>\
            <guid>g</guid><description>x\u{feff}y\u{200d}z</description></item></channel></rss>";
        let feed = parse_feed(xml.as_bytes(), &url).unwrap();
        assert_eq!(feed.title, "Eviltxt.exe");
        assert_eq!(feed.description, "ab");
        assert_eq!(feed.episodes[0].title, "Ep1");
        assert_eq!(feed.episodes[0].description, "xyz");
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J\u202eS",
            "items":[{"id":"1","title":"\u2067T\u2069","content_text":"c\u200bd"}]}"#;
        let feed = parse_feed(json.as_bytes(), &url).unwrap();
        assert_eq!(feed.title, "JS");
        assert_eq!(feed.episodes[0].title, "T");
    }

    /// Wherever a feed puts them and however it writes them, no text of the
    /// result keeps a bidi control or an invisible character.
    #[test]
    fn no_text_of_a_feed_keeps_bidi_controls_or_invisible_characters() {
        use meridian_core::text::is_invisible_or_bidi;
        let url = FeedUrl::parse("https://x.example/feed.xml").unwrap();
        let rss = r#"<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
            xmlns:podcast="https://podcastindex.org/namespace/1.0"
            xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
            <title>{i}T {i} 1</title><description>D{i}</description><language>{i}en</language>
            <itunes:author>A{i} B</itunes:author>
            <item><title>E{i} 1</title><description>N{i}</description><language>d{i}e</language>
            <podcast:person>P{i}</podcast:person></item>
            <item><guid>g2</guid><itunes:title>I{i}</itunes:title></item>
            <item><guid>g3</guid><content:encoded>&lt;p&gt;S{i}&lt;/p&gt;</content:encoded></item>
            <item><guid>g4</guid><enclosure url="https://x.example/{i}.mp3"/></item>
            </channel></rss>"#;
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="e{i}n">
            <title type="text">T{i}</title><author><name>N{i}</name></author>
            <entry><id>1</id><title>E{i}</title><summary type="html">S{i}</summary></entry></feed>"#;
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J{j}","language":"e{j}n",
            "authors":[{"name":"A{j}"}],"items":[{"id":"1","title":"T{j}","content_text":"c{j}"}]}"#;
        for (xml_form, json_form) in [
            ("\u{202e}", "\u{202e}"),
            ("\u{feff}", "\\ufeff"),
            ("&#x200B;", "\\u200b"),
            ("&#8206;", "\u{2066}"),
            ("&lrm;", "\u{061c}"),
            ("&amp;ZeroWidthSpace;", "&ZeroWidthSpace;"),
        ] {
            for doc in [
                rss.replace("{i}", xml_form),
                atom.replace("{i}", xml_form),
                json.replace("{j}", json_form),
            ] {
                let feed = parse_feed(doc.as_bytes(), &url).unwrap();
                let mut texts = vec![&feed.title, &feed.description];
                texts.extend(feed.author.iter().chain(&feed.language));
                for ep in &feed.episodes {
                    texts.extend([&ep.title, &ep.description]);
                    texts.extend(ep.language.iter().chain(&ep.persons));
                }
                assert!(texts.len() > 6, "{doc}: {texts:?}");
                for text in texts {
                    assert!(!text.chars().any(is_invisible_or_bidi), "{doc}: {text:?}");
                }
            }
        }
    }

    #[test]
    fn transcript_text_comes_without_bidi_controls_or_invisible_characters() {
        let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Ann\u{202e}e>We ship \u{202e}today\u{202c} at noon.\n";
        let segs = parse_transcript(vtt.as_bytes(), TranscriptFormat::Vtt, "t.vtt").unwrap();
        assert_eq!(segs[0].text, "We ship today at noon.");
        assert_eq!(segs[0].speaker.as_deref(), Some("Anne"));
        let json = r#"{"segments":[{"speaker":"A","startTime":0,"endTime":1,"body":"Hidden\u200b words\u2068 here."}]}"#;
        let segs = parse_transcript(json.as_bytes(), TranscriptFormat::Json, "t.json").unwrap();
        assert_eq!(segs[0].text, "Hidden words here.");
        let opml = "<opml version=\"2.0\"><body><outline title=\"S\u{202e}how\" xmlUrl=\"https://a.example/f\"/></body></opml>";
        assert_eq!(
            parse_opml(opml.as_bytes(), "in.opml").unwrap()[0]
                .title
                .as_deref(),
            Some("Show")
        );
    }

    #[test]
    fn every_prefix_of_sample_documents_parses_or_fails_cleanly() {
        for doc in SAMPLES {
            let bytes = doc.as_bytes();
            for end in 0..=bytes.len() {
                run_all(&bytes[..end]);
            }
        }
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        for doc in SAMPLES {
            for (i, junk) in (0..doc.len())
                .step_by(3)
                .flat_map(|i| [b'<', b'>', b'&', b'"', b'\n', 0xff].map(|j| (i, j)))
            {
                let mut bytes = doc.as_bytes().to_vec();
                bytes[i] = junk;
                run_all(&bytes);
            }
        }
    }
}
