//! JSON transcripts, in the shapes podcast tools write:
//!
//! - Podcasting 2.0: `{"version": "1.0.0", "segments": [{"speaker",
//!   "startTime", "endTime", "body"}]}`, times in seconds;
//! - Podlove (web player and publisher exports): a top-level array of
//!   `{"start", "end", "speaker", "voice", "text"}` with times as clocks
//!   (`"00:01:02.500"`) or seconds, and `start_ms`/`end_ms` in milliseconds;
//! - Whisper and faster-whisper: `{"text", "language", "segments": [{"start",
//!   "end", "text"}]}`, seconds;
//! - AssemblyAI: `{"utterances": [{"speaker", "start", "end", "text"}]}` (or
//!   `"words"`), milliseconds.
//!
//! Speakers are the item's `voice` (a display name) before its `speaker`
//! (often a slug or number); a number becomes `Speaker N`.

use meridian_core::Segment;
use meridian_core::text::word_count;
use serde_json::{Map, Value};

use super::{collapse, parse_clock};
use crate::error::{DocKind, IngestError};
use crate::html::decode_entities;

/// A pause longer than this ends a merged sentence in word-level files.
const PAUSE_SECS: f64 = 1.5;
/// A merged segment never grows past this many words.
const MAX_WORDS: usize = 80;

/// The unit of a JSON file's times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Milliseconds,
}

pub(super) fn parse(text: &str, source: &str) -> Result<Vec<Segment>, IngestError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        IngestError::unparseable(
            DocKind::Transcript,
            source,
            Some(e.line()),
            format!(
                "not valid JSON at line {} column {}: {}",
                e.line(),
                e.column(),
                json_reason(&e)
            ),
        )
    })?;
    let (items, unit) = match &value {
        Value::Object(map) => items_of(map).ok_or_else(|| {
            IngestError::wrong(
                DocKind::Transcript,
                source,
                "JSON without a `segments`, `utterances` or `words` array (not a transcript)"
                    .to_owned(),
            )
        })?,
        Value::Array(items) => (items.as_slice(), Unit::Seconds),
        _ => {
            return Err(IngestError::wrong(
                DocKind::Transcript,
                source,
                "a JSON value that is not an object".to_owned(),
            ));
        }
    };
    let mut segments: Vec<Segment> = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(obj) = item else { continue };
        let body = obj
            .get("body")
            .or_else(|| obj.get("text"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let text = collapse(&decode_entities(body));
        if text.is_empty() {
            continue;
        }
        let speaker = speaker_of(obj);
        let start = time_of(obj, "startTime", "start", "start_ms", unit);
        // An end before the start is a typo in the file (seen in real Podlove
        // exports): the start is kept, the end is not trusted.
        let end = time_of(obj, "endTime", "end", "end_ms", unit)
            .filter(|end| start.is_none_or(|start| *end >= start));
        // Lines of one caption share speaker, start and end (Buzzsprout writes
        // them so): one segment.
        if let Some(last) = segments.last_mut()
            && last.speaker == speaker
            && last.start == start
            && last.end == end
            && start.is_some()
        {
            last.text.push(' ');
            last.text.push_str(&text);
            continue;
        }
        segments.push(Segment {
            start,
            end,
            speaker,
            text,
        });
    }
    if is_word_level(&segments) {
        segments = merge_words(segments);
    }
    Ok(segments)
}

/// serde_json's message without its own " at line … column …" suffix.
fn json_reason(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

/// The array of timed items in a transcript object, and the unit of its
/// times: `segments` (Podcasting 2.0, Whisper) in seconds, AssemblyAI's
/// `utterances` (or, without them, `words`) in milliseconds.
fn items_of(map: &Map<String, Value>) -> Option<(&[Value], Unit)> {
    for (key, unit) in [
        ("segments", Unit::Seconds),
        ("utterances", Unit::Milliseconds),
        ("words", Unit::Milliseconds),
    ] {
        if let Some(Value::Array(items)) = map.get(key) {
            return Some((items.as_slice(), unit));
        }
    }
    None
}

/// The item's speaker: `voice` (Podlove's display name) before `speaker`; a
/// numeric speaker id becomes `Speaker N`.
fn speaker_of(obj: &Map<String, Value>) -> Option<String> {
    ["voice", "speaker"]
        .iter()
        .find_map(|key| match obj.get(*key)? {
            Value::String(s) => {
                let s = collapse(&decode_entities(s));
                (!s.is_empty()).then_some(s)
            }
            Value::Number(n) => Some(format!("Speaker {n}")),
            _ => None,
        })
}

/// The item's time under its first present key: `startTime` (seconds, or a
/// clock string), then `start` (in the file's unit when a number, a clock when
/// a string), then `start_ms` (milliseconds).
fn time_of(obj: &Map<String, Value>, pc20: &str, plain: &str, ms: &str, unit: Unit) -> Option<f64> {
    obj.get(pc20)
        .and_then(|v| time(v, Unit::Seconds))
        .or_else(|| obj.get(plain).and_then(|v| time(v, unit)))
        .or_else(|| obj.get(ms).and_then(|v| time(v, Unit::Milliseconds)))
}

/// A time as a number (in `unit`) or a string (`"12.5"` seconds,
/// `"00:01:02.5"`).
fn time(v: &Value, unit: Unit) -> Option<f64> {
    let seconds = match v {
        Value::Number(n) => {
            let n = n.as_f64()?;
            match unit {
                Unit::Seconds => n,
                Unit::Milliseconds => n / 1000.0,
            }
        }
        Value::String(s) => parse_clock(s)?,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds)
}

/// Word-level files hold one word per segment: at least three segments and
/// four in five of them a single word.
fn is_word_level(segments: &[Segment]) -> bool {
    if segments.len() < 3 {
        return false;
    }
    // One word: no space, and short (a CJK phrase of a dozen characters has
    // no space either, but is a phrase).
    let single = segments
        .iter()
        .filter(|s| !s.text.contains(' ') && word_count(&s.text) <= 2)
        .count();
    single * 5 >= segments.len() * 4
}

/// Joins consecutive words of one speaker into sentences: a segment ends at
/// sentence-ending punctuation, a pause over [`PAUSE_SECS`], a change of
/// speaker, or [`MAX_WORDS`] words.
fn merge_words(words: Vec<Segment>) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut current: Option<(Segment, usize)> = None;
    for word in words {
        if let Some((seg, count)) = &mut current {
            let pause = match (seg.end, word.start) {
                (Some(end), Some(start)) => start - end > PAUSE_SECS,
                _ => false,
            };
            if seg.speaker == word.speaker
                && !pause
                && *count < MAX_WORDS
                && !ends_sentence(&seg.text)
            {
                seg.text.push(' ');
                seg.text.push_str(&word.text);
                seg.end = word.end.or(seg.end);
                *count += 1;
                continue;
            }
        }
        if let Some((seg, _)) = current.take() {
            out.push(seg);
        }
        current = Some((word, 1));
    }
    if let Some((seg, _)) = current {
        out.push(seg);
    }
    out
}

fn ends_sentence(text: &str) -> bool {
    let t = text.trim_end_matches(['"', '\'', ')', '”', '’', ']']);
    t.ends_with(['.', '!', '?', '…'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<Segment> {
        parse(s, "t.json").unwrap()
    }

    #[test]
    fn spec_example_merges_words_into_sentences() {
        let s = p(r#"{"version":"1.0.0","segments":[
            {"speaker":"Darth Vader","startTime":0.5,"endTime":0.75,"body":"I"},
            {"speaker":"Darth Vader","startTime":1,"endTime":1.25,"body":"am"},
            {"speaker":"Darth Vader","startTime":1.5,"endTime":2.0,"body":"your"},
            {"speaker":"Darth Vader","startTime":2.25,"endTime":2.50,"body":"father."},
            {"speaker":"Luke","startTime":2.75,"endTime":3.0,"body":"Nooooo"}]}"#);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].speaker.as_deref(), s[0].text.as_str()),
            (Some("Darth Vader"), "I am your father.")
        );
        assert_eq!((s[0].start, s[0].end), (Some(0.5), Some(2.5)));
        assert_eq!(
            (s[1].speaker.as_deref(), s[1].text.as_str()),
            (Some("Luke"), "Nooooo")
        );
    }

    #[test]
    fn word_merging_stops_at_pauses_and_sentence_ends() {
        let s = p(r#"{"segments":[
            {"speaker":"A","startTime":0,"endTime":0.5,"body":"Hey,"},
            {"speaker":"A","startTime":0.6,"endTime":1,"body":"there"},
            {"speaker":"A","startTime":5,"endTime":5.5,"body":"after"},
            {"speaker":"A","startTime":5.6,"endTime":6,"body":"pause?"},
            {"speaker":"A","startTime":6.1,"endTime":6.5,"body":"New"}]}"#);
        let texts: Vec<_> = s.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(texts, vec!["Hey, there", "after pause?", "New"]);
    }

    #[test]
    fn caption_lines_sharing_times_are_joined_but_turns_are_not_merged() {
        let s = p(r#"{"version":"1.0.0","segments":[
            {"speaker":"Alban","startTime":0.0,"endTime":4.8,"body":"It is so stinking nice to"},
            {"speaker":"Alban","startTime":0.0,"endTime":4.8,"body":"like, show up and record this"},
            {"speaker":"Alban","startTime":4.8,"endTime":8.25,"body":"show. And Travis has already put"},
            {"speaker":"Kevin","startTime":"8.25","endTime":"00:00:10.5","body":"You guys &amp; me"}]}"#);
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0].text,
            "It is so stinking nice to like, show up and record this"
        );
        assert_eq!(s[1].start, Some(4.8));
        assert_eq!(
            (s[2].text.as_str(), s[2].start, s[2].end),
            ("You guys & me", Some(8.25), Some(10.5))
        );
    }

    #[test]
    fn odd_shapes_are_tolerated_or_named() {
        let s =
            p(r#"[{"body":"no times"}, 42, {"body":"  "}, {"text":"alt key","startTime":"x"}]"#);
        assert_eq!(s.len(), 2);
        assert_eq!((s[1].text.as_str(), s[1].start), ("alt key", None));
        let e = parse("{\n\"segments\": [,]}", "t.json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("transcript `t.json`: not valid JSON at line 2 column"),
            "{e}"
        );
        let e = parse(r#"{"chapters":[]}"#, "t.json").unwrap_err();
        assert_eq!(e.kind(), "not_a_transcript");
        assert!(p(r#"{"segments":[]}"#).is_empty());
    }
}
