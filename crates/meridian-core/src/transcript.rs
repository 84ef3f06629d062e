use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A transcript file format Meridian reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TranscriptFormat {
    /// WebVTT (`text/vtt`).
    Vtt,
    /// SubRip (`application/x-subrip`, `application/srt`, `text/srt`).
    Srt,
    /// Podcasting 2.0 JSON (`application/json`).
    Json,
    /// HTML (`text/html`), in the Podcasting 2.0 `<cite>/<time>/<p>` shape or any other.
    Html,
    /// Plain text (`text/plain`).
    Text,
}

impl TranscriptFormat {
    /// Every format, in order of preference when a feed offers several:
    /// timed formats first, then HTML, then text.
    pub const PREFERENCE: [Self; 5] = [Self::Json, Self::Vtt, Self::Srt, Self::Html, Self::Text];

    /// The format for a MIME type as declared in `podcast:transcript`.
    #[must_use]
    pub fn from_mime(mime: &str) -> Option<Self> {
        let essence = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "text/vtt" | "text/webvtt" => Some(Self::Vtt),
            "application/x-subrip"
            | "application/srt"
            | "text/srt"
            | "application/x-srt"
            | "text/x-srt" => Some(Self::Srt),
            "application/json" | "text/json" => Some(Self::Json),
            "text/html" | "application/xhtml+xml" => Some(Self::Html),
            "text/plain" => Some(Self::Text),
            _ => None,
        }
    }

    /// The format for a file extension (`vtt`, `srt`, `json`, `html`, `htm`, `txt`).
    #[must_use]
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "vtt" => Some(Self::Vtt),
            "srt" => Some(Self::Srt),
            "json" => Some(Self::Json),
            "html" | "htm" => Some(Self::Html),
            "txt" | "text" | "md" => Some(Self::Text),
            _ => None,
        }
    }

    /// The name used on the command line and in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vtt => "vtt",
            Self::Srt => "srt",
            Self::Json => "json",
            Self::Html => "html",
            Self::Text => "text",
        }
    }

    /// Rank in [`Self::PREFERENCE`]; lower is better.
    #[must_use]
    pub fn preference(self) -> usize {
        Self::PREFERENCE
            .iter()
            .position(|f| *f == self)
            .unwrap_or(Self::PREFERENCE.len())
    }
}

impl fmt::Display for TranscriptFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TranscriptFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vtt" => Ok(Self::Vtt),
            "srt" => Ok(Self::Srt),
            "json" => Ok(Self::Json),
            "html" => Ok(Self::Html),
            "text" | "txt" => Ok(Self::Text),
            other => Err(format!(
                "transcript type `{other}` must be one of vtt, srt, json, html, text"
            )),
        }
    }
}

/// One timed piece of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Start, seconds from the beginning of the episode.
    pub start: Option<f64>,
    /// End, seconds from the beginning of the episode.
    pub end: Option<f64>,
    /// Who speaks, when the transcript says.
    pub speaker: Option<String>,
    /// What is said, as plain text.
    pub text: String,
}

/// Where an episode's transcript came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "format")]
pub enum TranscriptSource {
    /// A `podcast:transcript` file in this format.
    Feed(TranscriptFormat),
    /// The region's `transcribe` model.
    SpeechToText,
    /// No transcript: the episode's show notes.
    ShowNotes,
}

/// An episode's text, in segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// Where it came from.
    pub source: TranscriptSource,
    /// Language, when known (`en`, `zh-cn`).
    pub language: Option<String>,
    /// The segments, in time order.
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// All the text, segments joined by single spaces (newlines between speakers).
    #[must_use]
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        let mut last_speaker: Option<&str> = None;
        for s in &self.segments {
            if !out.is_empty() {
                let changed = s.speaker.is_some() && s.speaker.as_deref() != last_speaker;
                out.push(if changed { '\n' } else { ' ' });
            }
            out.push_str(s.text.trim());
            if s.speaker.is_some() {
                last_speaker = s.speaker.as_deref();
            }
        }
        out
    }

    /// The content hash of the text and timing, the key under which insights
    /// extracted from it are cached.
    #[must_use]
    pub fn content_hash(&self) -> crate::ContentHash {
        // serde_json of our own struct cannot fail (no maps with non-string keys).
        let bytes = serde_json::to_vec(&self.segments).unwrap_or_default();
        crate::ContentHash::of(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_map_to_formats() {
        assert_eq!(
            TranscriptFormat::from_mime("text/vtt"),
            Some(TranscriptFormat::Vtt)
        );
        assert_eq!(
            TranscriptFormat::from_mime("application/x-subrip"),
            Some(TranscriptFormat::Srt)
        );
        assert_eq!(
            TranscriptFormat::from_mime("application/srt"),
            Some(TranscriptFormat::Srt)
        );
        assert_eq!(
            TranscriptFormat::from_mime("application/json; charset=utf-8"),
            Some(TranscriptFormat::Json)
        );
        assert_eq!(
            TranscriptFormat::from_mime("TEXT/HTML"),
            Some(TranscriptFormat::Html)
        );
        assert_eq!(TranscriptFormat::from_mime("audio/mpeg"), None);
    }

    #[test]
    fn plain_text_breaks_lines_between_speakers() {
        let seg = |sp: &str, t: &str| Segment {
            start: None,
            end: None,
            speaker: Some(sp.into()),
            text: t.into(),
        };
        let t = Transcript {
            source: TranscriptSource::ShowNotes,
            language: None,
            segments: vec![seg("A", "one"), seg("A", "two"), seg("B", "three")],
        };
        assert_eq!(t.plain_text(), "one two\nthree");
    }
}
