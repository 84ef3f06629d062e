//! Transcripts: WebVTT, SRT, Podcasting 2.0 JSON, HTML and plain text (or
//! Markdown) to [`Segment`]s, keeping speakers and times where the file has them.

mod cues;
mod html;
mod json;
mod normalize;
mod text;

pub use normalize::normalize as normalize_segments;

use meridian_core::{
    EpisodeMeta, Segment, Transcript, TranscriptFormat, TranscriptLink, TranscriptSource,
};

use crate::error::{DocKind, IngestError};
use crate::text::{decode_plain, looks_binary};

/// The largest transcript accepted (a 3-hour word-level JSON is about 2 MB).
pub const MAX_TRANSCRIPT_BYTES: usize = 32 * 1024 * 1024;

/// Parses a transcript file in the given format into sentences.
///
/// `source` (a file name or URL) names the transcript in errors. Text is
/// decoded from UTF-8 (with or without BOM, UTF-16 with BOM), else
/// windows-1252. The file's segments are read with plain text (markup and
/// entities removed), and with speaker and start/end times where the format
/// carries them, then normalised into one segment per sentence (see
/// [`normalize_segments`]: caption cues re-joined, unpunctuated speech cut at
/// pauses, annotations, hallucinations and loops dropped), each timed by the
/// segment where its first word is:
/// - VTT: `<v Speaker>` voice tags, cue settings ignored, `NOTE`/`STYLE`/`REGION`
///   blocks skipped;
/// - SRT and VTT without voice tags: `Speaker: text` at the start of cues, when
///   the same name starts at least two cues (so that "Note: …" once is text);
///   a cue without a prefix continues the previous speaker;
/// - JSON (Podcasting 2.0, Podlove, Whisper, AssemblyAI): lines of one cue
///   (same speaker, start and end) are joined, and word-level files are merged
///   into sentences;
/// - HTML: the `<cite>/<time>/<p>` shape, else paragraphs of text;
/// - text and Markdown: `[hh:mm:ss]`/`hh:mm:ss` and `**Speaker:**` at line
///   starts, inline `[hh:mm:ss.ff]` markers inside a paragraph (the words after
///   one start at its time), paragraphs otherwise;
/// - every format: inline speaker tags (`【说话人1】`) at a segment's start.
///
/// # Errors
/// [`IngestError`] naming `source` when the file is empty, binary, over
/// [`MAX_TRANSCRIPT_BYTES`], not valid for its format, or yields no text.
pub fn parse_transcript(
    bytes: &[u8],
    format: TranscriptFormat,
    source: &str,
) -> Result<Vec<Segment>, IngestError> {
    IngestError::check_size(
        DocKind::Transcript,
        source,
        bytes.len(),
        MAX_TRANSCRIPT_BYTES,
    )?;
    if looks_binary(bytes) {
        return Err(IngestError::binary(DocKind::Transcript, source));
    }
    let decoded = decode_plain(bytes);
    let text = decoded.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(IngestError::empty(DocKind::Transcript, source));
    }
    let (segments, what) = match format {
        TranscriptFormat::Vtt => (cues::parse(text, cues::Flavor::Vtt), "no cues found"),
        TranscriptFormat::Srt => (cues::parse(text, cues::Flavor::Srt), "no cues found"),
        TranscriptFormat::Json => (json::parse(text, source)?, "no segments with text found"),
        TranscriptFormat::Html => (html::parse(text), "no text found"),
        TranscriptFormat::Text => (text::parse(text), "no text found"),
    };
    let segments = normalize::normalize(segments);
    if segments.is_empty() {
        return Err(IngestError::unparseable(
            DocKind::Transcript,
            source,
            None,
            what.to_owned(),
        ));
    }
    Ok(segments)
}

/// Guesses a transcript's format from its first bytes: `WEBVTT` → VTT, `{`/`[`
/// → JSON, `<` → HTML, a cue number then a `-->` timing line → SRT, other
/// text → text. `None` for empty or binary content.
#[must_use]
pub fn sniff_transcript_format(bytes: &[u8]) -> Option<TranscriptFormat> {
    if looks_binary(bytes) {
        return None;
    }
    let head = &bytes[..bytes.len().min(4096)];
    let decoded = decode_plain(head);
    let text = decoded.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let first = text.chars().next()?;
    if text.starts_with("WEBVTT") {
        return Some(TranscriptFormat::Vtt);
    }
    match first {
        '{' => return Some(TranscriptFormat::Json),
        // `[{…}]` is JSON; `[00:00:01] Hello` is text.
        '[' if text[1..].trim_start().starts_with(['{', '"', ']']) => {
            return Some(TranscriptFormat::Json);
        }
        '<' => return Some(TranscriptFormat::Html),
        _ => {}
    }
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let l1 = lines.next().unwrap_or("");
    let l2 = lines.next().unwrap_or("");
    let timing = if l1.contains("-->") {
        Some(l1)
    } else if l1.bytes().all(|b| b.is_ascii_digit()) && l2.contains("-->") {
        Some(l2)
    } else {
        None
    };
    Some(match timing {
        Some(t) if t.contains(',') || !l1.contains("-->") => TranscriptFormat::Srt,
        Some(_) => TranscriptFormat::Vtt,
        None => TranscriptFormat::Text,
    })
}

/// The episode's show notes as a transcript, for episodes without one: the
/// description split into sentence-sized segments (without times), or the
/// title when there are no notes.
#[must_use]
pub fn show_notes_transcript(episode: &EpisodeMeta) -> Transcript {
    // Show notes carry more than prose: chapter lists (`22:30 Topic`), headings
    // and boilerplate. Those lines are dropped, so that they neither become
    // insights nor run into the sentences around them.
    let description = meridian_core::text::strip_invisible(&episode.description);
    let prose: String = description
        .lines()
        .filter(|l| is_prose_line(l))
        .collect::<Vec<_>>()
        .join("\n");
    let mut segments: Vec<Segment> = split_sentences(&prose)
        .into_iter()
        .map(|text| Segment {
            start: None,
            end: None,
            speaker: None,
            text,
        })
        .collect();
    if segments.is_empty() && !episode.title.trim().is_empty() {
        segments.push(Segment {
            start: None,
            end: None,
            speaker: None,
            text: meridian_core::text::strip_invisible(episode.title.trim()).into_owned(),
        });
    }
    Transcript {
        source: TranscriptSource::ShowNotes,
        language: episode.language.clone(),
        segments,
    }
}

/// The word for a transcript (`transcript_word` lists) and the phrases saying
/// that something is not there yet (`not_available` lists): a show-notes line
/// holding both is a note about the missing transcript, not content.
static TRANSCRIPT_WORD: std::sync::LazyLock<meridian_core::lang::ListsMatcher> =
    std::sync::LazyLock::new(|| meridian_core::lang::ListsMatcher::new(&["transcript_word"]));
static NOT_AVAILABLE: std::sync::LazyLock<meridian_core::lang::ListsMatcher> =
    std::sync::LazyLock::new(|| meridian_core::lang::ListsMatcher::new(&["not_available"]));

/// Whether a show-notes line is prose: not a chapter line (it starts with a
/// clock), not a short heading without sentence punctuation, not a note that
/// the transcript is missing.
fn is_prose_line(line: &str) -> bool {
    let l = line.trim();
    if l.is_empty() {
        return false;
    }
    let clock = l.split_whitespace().next().is_some_and(|w| {
        let w = w.trim_matches(|c: char| matches!(c, '(' | ')' | '[' | ']' | '-' | '–'));
        w.contains(':')
            && w.split(':')
                .all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
    });
    if clock {
        return false;
    }
    let lower = l.to_lowercase();
    if TRANSCRIPT_WORD.is_match(&lower) && NOT_AVAILABLE.is_match(&lower) {
        return false;
    }
    let punctuated = l.ends_with(['.', '!', '?', '…', '。', '！', '？', '"', '”', ')']);
    punctuated || l.chars().count() >= 80
}

/// Splits text at sentence ends (`.`, `!`, `?`, `…` before whitespace) and line
/// breaks. A sentence under 12 characters joins the one before it on the same
/// line (or the next one, at a line's start), so "Ok." is not a segment.
fn split_sentences(text: &str) -> Vec<String> {
    const SHORT: usize = 12;
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line_start = out.len();
        let mut pending = String::new();
        let mut rest = line.trim();
        while !rest.is_empty() {
            let (sentence, tail) = rest.split_at(sentence_end(rest));
            let sentence = sentence.trim();
            rest = tail.trim_start();
            if sentence.chars().count() < SHORT {
                if out.len() > line_start
                    && let Some(last) = out.last_mut()
                {
                    last.push(' ');
                    last.push_str(sentence);
                } else {
                    if !pending.is_empty() {
                        pending.push(' ');
                    }
                    pending.push_str(sentence);
                }
                continue;
            }
            if pending.is_empty() {
                out.push(sentence.to_owned());
            } else {
                pending.push(' ');
                pending.push_str(sentence);
                out.push(std::mem::take(&mut pending));
            }
        }
        if !pending.is_empty() {
            out.push(pending);
        }
    }
    out
}

/// Byte index just past the first sentence in `s` (or its length).
fn sentence_end(s: &str) -> usize {
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?' | '…') {
            match chars.peek() {
                Some((_, next)) if next.is_whitespace() => return i + c.len_utf8(),
                None => return s.len(),
                _ => {}
            }
        }
    }
    s.len()
}

/// Picks the transcript link to fetch: only formats Meridian reads; a
/// language match first (the same primary language, `en` = `en-US`, then
/// links that declare none, then others), then
/// [`TranscriptFormat::PREFERENCE`], then feed order.
#[must_use]
pub fn pick_transcript<'a>(
    links: &'a [TranscriptLink],
    preferred_language: Option<&str>,
) -> Option<&'a TranscriptLink> {
    let primary = |l: &str| {
        l.split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let lang_rank = |link: &TranscriptLink| -> u8 {
        let Some(want) = preferred_language.map(str::trim).filter(|w| !w.is_empty()) else {
            return 0;
        };
        match link.language.as_deref() {
            Some(have) if primary(have) == primary(want) => 0,
            None => 1,
            Some(_) => 2,
        }
    };
    links
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.format.map(|f| ((lang_rank(l), f.preference(), i), l)))
        .min_by_key(|(key, _)| *key)
        .map(|(_, l)| l)
}

// ---------------------------------------------------------------------------
// Helpers shared by the format parsers.

/// Reads a clock time in seconds: `HH:MM:SS.mmm`, `MM:SS.mmm`, `SS.mmm`, with
/// `.` or `,` before the fraction.
pub(crate) fn parse_clock(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || !s.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut total = 0.0;
    for (i, p) in parts.iter().enumerate() {
        let v: f64 = if i + 1 == parts.len() {
            if !p
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
            {
                return None;
            }
            p.replace(',', ".").parse().ok()?
        } else {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()?
        };
        total = total * 60.0 + v;
    }
    total.is_finite().then_some(total)
}

/// Splits `Name: text` when the part before the colon looks like a speaker's
/// name: 1–4 words, the first starting with a capital or an uncased letter
/// (Chinese and Japanese names have no case), letters/digits/`.-'_` only, at
/// most 40 bytes, and the colon followed by a space or the end. A full-width
/// colon (`周航：你好`) needs no space after it.
pub(crate) fn speaker_prefix(line: &str) -> Option<(&str, &str)> {
    let (colon, width) = match (line.find(':'), line.find('：')) {
        (Some(a), Some(b)) if b < a => (b, '：'.len_utf8()),
        (Some(a), _) => (a, 1),
        (None, Some(b)) => (b, '：'.len_utf8()),
        (None, None) => return None,
    };
    let (name, rest) = (line[..colon].trim(), &line[colon + width..]);
    if name.is_empty()
        || name.len() > 40
        || !(width > 1 || rest.is_empty() || rest.starts_with([' ', '\t']))
    {
        return None;
    }
    if !name
        .chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || (c.is_alphabetic() && !c.is_lowercase()))
    {
        return None;
    }
    let words = name.split_whitespace().count();
    let ok_chars = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '\'' | '_' | '’' | '·'));
    (words <= 4 && ok_chars).then(|| (name, rest.trim_start()))
}

/// Speaker names used as `Name:` prefixes that are consistent enough to
/// trust: a name that starts at least two pieces of text turns prefix reading
/// on for the whole file.
pub(crate) fn prefixes_are_speakers<'a>(starts: impl Iterator<Item = &'a str>) -> bool {
    let mut seen: Vec<&str> = Vec::new();
    for s in starts {
        if let Some((name, _)) = speaker_prefix(s) {
            if seen.contains(&name) {
                return true;
            }
            seen.push(name);
        }
    }
    false
}

/// Collapses whitespace runs to single spaces and trims. Text that already
/// is so (most of what the parsers see) is only copied.
pub(crate) fn collapse(s: &str) -> String {
    let clean = !s.starts_with(char::is_whitespace)
        && !s.ends_with(char::is_whitespace)
        && !s
            .as_bytes()
            .windows(2)
            .any(|w| w[0].is_ascii_whitespace() && w[1].is_ascii_whitespace())
        && !s.contains(['\n', '\t', '\r', '\u{a0}', '\u{3000}']);
    if clean {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_core::{EpisodeGuid, GuidSource};

    #[test]
    fn sniffing_recognises_each_format() {
        assert_eq!(
            sniff_transcript_format(b"\xef\xbb\xbfWEBVTT\n\n00:00.000 --> 00:01.000\nhi"),
            Some(TranscriptFormat::Vtt)
        );
        assert_eq!(
            sniff_transcript_format(b"1\r\n00:00:00,000 --> 00:00:01,000\r\nhi"),
            Some(TranscriptFormat::Srt)
        );
        assert_eq!(
            sniff_transcript_format(b"  {\"version\":\"1.0.0\"}"),
            Some(TranscriptFormat::Json)
        );
        assert_eq!(
            sniff_transcript_format(b"<cite>A:</cite>"),
            Some(TranscriptFormat::Html)
        );
        assert_eq!(
            sniff_transcript_format(b"[00:00:01] Hello"),
            Some(TranscriptFormat::Text)
        );
        assert_eq!(
            sniff_transcript_format(b"**Ann:** hi"),
            Some(TranscriptFormat::Text)
        );
        assert_eq!(sniff_transcript_format(b"   "), None);
        assert_eq!(sniff_transcript_format(b"\x00\x01binary"), None);
    }

    #[test]
    fn show_notes_drop_chapters_headings_and_boilerplate() {
        let ep = EpisodeMeta {
            guid: EpisodeGuid("g".into()),
            guid_source: GuidSource::Guid,
            title: "T".into(),
            published: None,
            link: None,
            description: "Prices fell because cables linked the markets.\nChapters\n00:00 Intro\n22:30 Congestion income\n(1:02:03) Goodbye\nA transcript for this episode is not available yet.".into(),
            enclosure: None,
            duration_secs: None,
            transcripts: vec![],
            chapters_url: None,
            persons: vec![],
            language: None,
        };
        let t = show_notes_transcript(&ep);
        let texts: Vec<&str> = t.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["Prices fell because cables linked the markets."]);
        for (note, content) in [
            (
                "Das Transkript folgt in Kürze.",
                "Die Preise fielen, weil Kabel die Märkte verbanden.",
            ),
            (
                "本期文字稿稍后发布。",
                "因为电缆连通了市场，所以价格下降了。",
            ),
        ] {
            let t = show_notes_transcript(&EpisodeMeta {
                description: format!("{content}\n{note}"),
                ..ep.clone()
            });
            let texts: Vec<&str> = t.segments.iter().map(|s| s.text.as_str()).collect();
            assert_eq!(texts, [content], "{note}");
        }
    }

    #[test]
    fn chinese_speaker_prefixes_with_either_colon() {
        assert_eq!(
            speaker_prefix("周航: 我是周航。"),
            Some(("周航", "我是周航。"))
        );
        assert_eq!(speaker_prefix("林晓：大家好"), Some(("林晓", "大家好")));
        assert_eq!(
            speaker_prefix("这个问题我们之前已经讨论过很多次了：答案"),
            None,
            "a clause is not a name"
        );
        assert_eq!(speaker_prefix("so: lowercase words are not names"), None);
    }

    #[test]
    fn clocks_and_speaker_prefixes() {
        assert_eq!(parse_clock("01:02:03.500"), Some(3723.5));
        assert_eq!(parse_clock("02:03,25"), Some(123.25));
        assert_eq!(parse_clock("14.5"), Some(14.5));
        assert_eq!(parse_clock("1:2:3:4"), None);
        assert_eq!(parse_clock("x"), None);
        assert_eq!(
            speaker_prefix("Travis: When you"),
            Some(("Travis", "When you"))
        );
        assert_eq!(
            speaker_prefix("Norma-Jean Belenky: hi"),
            Some(("Norma-Jean Belenky", "hi"))
        );
        assert_eq!(speaker_prefix("SPEAKER_1: hi"), Some(("SPEAKER_1", "hi")));
        assert_eq!(speaker_prefix("the thing is: this"), None);
        assert_eq!(speaker_prefix("Visit https://x"), None);
        assert_eq!(
            speaker_prefix("This is a long sentence that goes on: yes"),
            None
        );
        assert!(prefixes_are_speakers(["A: x", "B: y", "A: z"].into_iter()));
        assert!(!prefixes_are_speakers(["Note: x", "plain"].into_iter()));
    }

    fn link(url: &str, format: Option<TranscriptFormat>, language: Option<&str>) -> TranscriptLink {
        TranscriptLink {
            url: url.into(),
            mime_type: String::new(),
            format,
            language: language.map(Into::into),
            rel: None,
        }
    }

    #[test]
    fn picking_prefers_language_then_format_then_order() {
        use TranscriptFormat::*;
        let links = vec![
            link("a.html", Some(Html), Some("en")),
            link("b.srt", Some(Srt), Some("de")),
            link("c.vtt", Some(Vtt), Some("en-US")),
            link("d.pdf", None, Some("en")),
            link("e.json", Some(Json), None),
        ];
        assert_eq!(
            pick_transcript(&links, Some("en")).unwrap().url,
            "c.vtt",
            "en-US is English; VTT beats HTML"
        );
        assert_eq!(pick_transcript(&links, Some("en-us")).unwrap().url, "c.vtt");
        assert_eq!(pick_transcript(&links, Some("de")).unwrap().url, "b.srt");
        assert_eq!(
            pick_transcript(&links, None).unwrap().url,
            "e.json",
            "without a language, format decides"
        );
        assert_eq!(
            pick_transcript(&links, Some("fr")).unwrap().url,
            "e.json",
            "undeclared language beats a wrong one"
        );
        assert!(
            pick_transcript(&links[3..4], None).is_none(),
            "unknown formats are never picked"
        );
        assert!(pick_transcript(&[], None).is_none());
    }

    #[test]
    fn show_notes_become_sentence_segments() {
        let ep = EpisodeMeta {
            guid: EpisodeGuid("g".into()),
            guid_source: GuidSource::Guid,
            title: "Title".into(),
            published: None,
            link: None,
            description: "We talk about Rust. Why is it fast? Ok.\nLinks: https://x.example/a.b"
                .into(),
            enclosure: None,
            duration_secs: None,
            transcripts: vec![],
            chapters_url: None,
            persons: vec![],
            language: Some("en".into()),
        };
        let t = show_notes_transcript(&ep);
        assert_eq!(t.source, TranscriptSource::ShowNotes);
        assert_eq!(t.language.as_deref(), Some("en"));
        let texts: Vec<_> = t.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, vec!["We talk about Rust.", "Why is it fast? Ok."]);
        assert!(
            t.segments
                .iter()
                .all(|s| s.start.is_none() && s.speaker.is_none())
        );
        let empty = EpisodeMeta {
            description: String::new(),
            ..ep
        };
        assert_eq!(show_notes_transcript(&empty).segments[0].text, "Title");
    }

    #[test]
    fn empty_binary_and_oversized_input_are_errors() {
        let e = parse_transcript(b"", TranscriptFormat::Vtt, "x.vtt").unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string().as_str()),
            ("empty", "transcript `x.vtt`: the document is empty")
        );
        let e = parse_transcript(b"WEBVTT\n\nnothing here\n", TranscriptFormat::Vtt, "x.vtt")
            .unwrap_err();
        assert_eq!(e.to_string(), "transcript `x.vtt`: no cues found");
        assert_eq!(
            parse_transcript(b"\x00\x00\x00", TranscriptFormat::Text, "a.txt")
                .unwrap_err()
                .kind(),
            "encoding"
        );
    }
}
