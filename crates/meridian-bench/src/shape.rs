//! Generated podcasts in the shapes of the corpus: feed `i` is corpus feed
//! `i % T` with its guids, titles and show notes made unique to `i`, its own
//! transcript links removed, and one `podcast:transcript` per item pointing at
//! a transcript of the corpus (also made unique) on the bench server.
//!
//! Uniqueness matters: Meridian keys episodes by feed and guid, and caches
//! insights by transcript content hash, so copies of one feed must not share
//! transcripts or show notes, or the run would measure the cache.
//!
//! Feeds live on `hosts` host names (`feeds-K.bench.localhost`) and
//! transcripts on `hosts / 4` more (`media-K.bench.localhost`), all resolved
//! to the one loopback server, so that Meridian's per-host fetch limit acts as
//! it does across real hosting platforms.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use regex::bytes::Regex;

/// `MERIDIAN_CORPUS`, else the `shared/corpus` folder beside the checkout.
pub fn default_corpus() -> PathBuf {
    meridian_testkit::shared_folder("MERIDIAN_CORPUS", "corpus")
}

/// The host name of feed `i`.
pub fn feed_host(i: usize, hosts: usize) -> String {
    format!("feeds-{}.bench.localhost", i % hosts.max(1))
}

/// Transcript hosts: a quarter as many as feed hosts, at least one.
pub fn media_hosts(hosts: usize) -> usize {
    (hosts / 4).max(1)
}

fn media_host(i: usize, j: usize, hosts: usize) -> String {
    format!("media-{}.bench.localhost", (i + j) % media_hosts(hosts))
}

/// Every host name the bench uses.
pub fn all_hosts(hosts: usize) -> Vec<String> {
    let mut all: Vec<String> = (0..hosts.max(1)).map(|k| feed_host(k, hosts)).collect();
    all.extend((0..media_hosts(hosts)).map(|k| format!("media-{k}.bench.localhost")));
    all
}

/// The URL of feed `i`.
pub fn feed_url(i: usize, hosts: usize) -> String {
    format!("http://{}/f/{i}.xml", feed_host(i, hosts))
}

/// A piece of a feed template.
enum Part {
    Bytes(Vec<u8>),
    /// The feed's number.
    FeedId,
    /// The transcript link of the template's `j`th item.
    Transcript(usize),
}

/// A corpus feed cut at the places that differ from one copy to the next.
pub struct FeedTemplate {
    pub name: String,
    parts: Vec<Part>,
}

/// How a transcript is made unique: a first cue or line naming the copy.
#[derive(Clone, Copy)]
enum TranscriptKind {
    Vtt,
    Srt,
    Json,
    Html,
    Text,
}

/// A corpus transcript cut where the unique first cue goes.
pub struct TranscriptTemplate {
    pub name: String,
    kind: TranscriptKind,
    ext: &'static str,
    pub mime: &'static str,
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// Feed and transcript templates.
pub struct Shapes {
    pub feeds: Vec<FeedTemplate>,
    pub transcripts: Vec<TranscriptTemplate>,
    pub hosts: usize,
}

fn sorted_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {} (set MERIDIAN_CORPUS)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Shapes {
    /// Reads the corpus' `feeds/` and `transcripts/` folders.
    ///
    /// # Errors
    /// When a folder cannot be read or holds nothing usable.
    pub fn load(corpus: &Path, hosts: usize) -> anyhow::Result<Self> {
        let cuts = Cuts::new()?;
        let mut feeds = Vec::new();
        for path in sorted_files(&corpus.join("feeds"))? {
            let bytes = std::fs::read(&path)?;
            feeds.push(FeedTemplate {
                name: file_name(&path),
                parts: cuts.feed(&bytes),
            });
        }
        let mut transcripts = Vec::new();
        for path in sorted_files(&corpus.join("transcripts"))? {
            let bytes = std::fs::read(&path)?;
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if let Some(t) = cuts.transcript(file_name(&path), ext, bytes) {
                transcripts.push(t);
            }
        }
        anyhow::ensure!(
            !feeds.is_empty() && !transcripts.is_empty(),
            "no feeds or transcripts in {}",
            corpus.display()
        );
        Ok(Self {
            feeds,
            transcripts,
            hosts,
        })
    }

    fn transcript_of(&self, i: usize, j: usize) -> &TranscriptTemplate {
        &self.transcripts[(i.wrapping_mul(7) + j) % self.transcripts.len()]
    }

    /// Feed `i`, as served.
    pub fn feed(&self, i: usize) -> Vec<u8> {
        let template = &self.feeds[i % self.feeds.len()];
        let id = i.to_string();
        let size: usize = template
            .parts
            .iter()
            .map(|p| if let Part::Bytes(b) = p { b.len() } else { 128 })
            .sum();
        let mut out = Vec::with_capacity(size);
        let mut link = String::with_capacity(160);
        for part in &template.parts {
            match part {
                Part::Bytes(b) => out.extend_from_slice(b),
                Part::FeedId => out.extend_from_slice(id.as_bytes()),
                Part::Transcript(j) => {
                    let t = self.transcript_of(i, *j);
                    link.clear();
                    let _ = write!(
                        link,
                        "<podcast:transcript url=\"http://{}/t/{i}/{j}.{}\" type=\"{}\"/>",
                        media_host(i, *j, self.hosts),
                        t.ext,
                        t.mime
                    );
                    out.extend_from_slice(link.as_bytes());
                }
            }
        }
        out
    }

    /// Transcript `j` of feed `i`, as served, with its MIME type.
    pub fn transcript(&self, i: usize, j: usize) -> (&'static str, Vec<u8>) {
        let t = self.transcript_of(i, j);
        let unique = match t.kind {
            TranscriptKind::Vtt => {
                format!("00:00:00.000 --> 00:00:00.500\nFeed {i}, episode {j}.\n\n")
            }
            TranscriptKind::Srt => {
                format!("1\n00:00:00,000 --> 00:00:00,500\nFeed {i}, episode {j}.\n\n")
            }
            TranscriptKind::Json => {
                format!(
                    "{{\"speaker\":\"Bench\",\"startTime\":0,\"endTime\":0.5,\"body\":\"Feed {i}, episode {j}.\"}},"
                )
            }
            TranscriptKind::Html => format!("<p>Feed {i}, episode {j}.</p>\n"),
            TranscriptKind::Text => format!("Feed {i}, episode {j}.\n\n"),
        };
        let mut out = Vec::with_capacity(t.head.len() + unique.len() + t.tail.len());
        out.extend_from_slice(&t.head);
        out.extend_from_slice(unique.as_bytes());
        out.extend_from_slice(&t.tail);
        (t.mime, out)
    }
}

/// The regular expressions that cut templates.
struct Cuts {
    /// A `podcast:transcript` element of the original feed (dropped).
    transcript_tag: Regex,
    /// Where copies differ: guids, titles, show notes, item ends, the root.
    marks: Regex,
    podcast_ns: Regex,
    json_segments: Regex,
    html_body: Regex,
}

impl Cuts {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            transcript_tag: Regex::new(
                r"(?s)<podcast:transcript\b[^>]*?/>|<podcast:transcript\b[^>]*>.*?</podcast:transcript>",
            )?,
            marks: Regex::new(
                r"<guid\b[^>]*>|<title>|<description>|<content:encoded>|<itunes:summary>|</item>|<rss\b",
            )?,
            podcast_ns: Regex::new(r#"xmlns:podcast\s*="#)?,
            json_segments: Regex::new(r#""segments"\s*:\s*\["#)?,
            html_body: Regex::new(r"(?i)<body\b[^>]*>")?,
        })
    }

    fn feed(&self, original: &[u8]) -> Vec<Part> {
        let text = self.transcript_tag.replace_all(original, &b""[..]);
        let declares_podcast = self.podcast_ns.is_match(&text);
        let mut parts = Vec::new();
        let mut pending = Vec::with_capacity(text.len());
        let mut last = 0;
        let mut item = 0;
        for m in self.marks.find_iter(&text) {
            pending.extend_from_slice(&text[last..m.start()]);
            last = m.end();
            let tag = m.as_bytes();
            if tag == b"</item>" {
                parts.push(Part::Bytes(std::mem::take(&mut pending)));
                parts.push(Part::Transcript(item));
                item += 1;
                pending.extend_from_slice(tag);
                continue;
            }
            pending.extend_from_slice(tag);
            if tag.starts_with(b"<rss") {
                if !declares_podcast {
                    pending.extend_from_slice(
                        b" xmlns:podcast=\"https://podcastindex.org/namespace/1.0\"",
                    );
                }
                continue;
            }
            // `<guid>` text becomes `ID-guid`, titles `F-ID title`, show notes
            // `Feed ID. notes` (text before a CDATA section joins it).
            let (before, after): (&[u8], &[u8]) = if tag.starts_with(b"<guid") {
                (b"", b"-")
            } else if tag == b"<title>" {
                (b"F-", b" ")
            } else {
                (b"Feed ", b". ")
            };
            pending.extend_from_slice(before);
            parts.push(Part::Bytes(std::mem::take(&mut pending)));
            parts.push(Part::FeedId);
            pending.extend_from_slice(after);
        }
        pending.extend_from_slice(&text[last..]);
        parts.push(Part::Bytes(pending));
        parts
    }

    fn transcript(&self, name: String, ext: &str, bytes: Vec<u8>) -> Option<TranscriptTemplate> {
        let (kind, ext, mime): (TranscriptKind, &'static str, &'static str) = match ext {
            "vtt" => (TranscriptKind::Vtt, "vtt", "text/vtt"),
            "srt" => (TranscriptKind::Srt, "srt", "application/x-subrip"),
            "json" => (TranscriptKind::Json, "json", "application/json"),
            "html" => (TranscriptKind::Html, "html", "text/html"),
            "txt" => (TranscriptKind::Text, "txt", "text/plain"),
            "md" => (TranscriptKind::Text, "md", "text/plain"),
            _ => return None,
        };
        let at = match kind {
            // After the `WEBVTT` header block.
            TranscriptKind::Vtt => bytes.windows(2).position(|w| w == b"\n\n").map(|p| p + 2)?,
            TranscriptKind::Json => self.json_segments.find(&bytes)?.end(),
            TranscriptKind::Html => self.html_body.find(&bytes).map_or(0, |m| m.end()),
            TranscriptKind::Srt | TranscriptKind::Text => {
                // After a UTF-8 byte-order mark, if any.
                if bytes.starts_with(b"\xef\xbb\xbf") {
                    3
                } else {
                    0
                }
            }
        };
        let (head, tail) = bytes.split_at(at);
        Some(TranscriptTemplate {
            name,
            kind,
            ext,
            mime,
            head: head.to_vec(),
            tail: tail.to_vec(),
        })
    }
}
