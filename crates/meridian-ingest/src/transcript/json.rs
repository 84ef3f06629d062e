//! Podcasting 2.0 JSON transcripts:
//! `{"version": "1.0.0", "segments": [{"speaker", "startTime", "endTime", "body"}]}`.

use meridian_core::Segment;
use serde_json::Value;

use super::{collapse, parse_clock};
use crate::error::{DocKind, IngestError};
use crate::html::decode_entities;

/// A pause longer than this ends a merged sentence in word-level files.
const PAUSE_SECS: f64 = 1.5;
/// A merged segment never grows past this many words.
const MAX_WORDS: usize = 80;

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
    let items = match &value {
        Value::Object(map) => match map.get("segments") {
            Some(Value::Array(items)) => items.as_slice(),
            _ => {
                return Err(IngestError::wrong(
                    DocKind::Transcript,
                    source,
                    "JSON without a `segments` array (not a Podcasting 2.0 transcript)".to_owned(),
                ));
            }
        },
        Value::Array(items) => items.as_slice(),
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
        let speaker = obj
            .get("speaker")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let start = obj.get("startTime").and_then(time);
        let end = obj.get("endTime").and_then(time);
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

/// A time as a number of seconds or a string (`"12.5"`, `"00:01:02.5"`).
fn time(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0),
        Value::String(s) => parse_clock(s),
        _ => None,
    }
}

/// Word-level files hold one word per segment: at least three segments and
/// four in five of them a single word.
fn is_word_level(segments: &[Segment]) -> bool {
    if segments.len() < 3 {
        return false;
    }
    let single = segments.iter().filter(|s| !s.text.contains(' ')).count();
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
