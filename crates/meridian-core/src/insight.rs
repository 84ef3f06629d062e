use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{ContentHash, RegionId};

/// One insight drawn from an episode's transcript by a model of the region's
/// `insight` role (an LLM or the builtin extractive engine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    /// The insight as the reader sees it.
    pub text: String,
    /// The verbatim words from the transcript it rests on.
    pub quote: String,
    /// Where the quote starts in the episode, seconds.
    pub start: Option<f64>,
    /// The model's own importance estimate, 0–1.
    pub importance: f64,
    /// Why it matters (LLM providers); empty for the builtin engine.
    pub why: String,
    /// The model entry (`name` in the region file) that produced it.
    pub model: String,
    /// Who says the quote, when the transcript names the speaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

/// How a digest pick was scored; every pick keeps its components so that a
/// reader (or an auditor) can see why it was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreComponents {
    /// The model's importance estimate, 0–1.
    pub importance: f64,
    /// 1 minus the highest similarity to insights sent in the last 30 days.
    pub novelty: f64,
    /// Publication recency, 0–1.
    pub recency: f64,
    /// The combined score used for ordering.
    pub total: f64,
}

/// One of a digest's (at most five) picks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestItem {
    /// The podcast's title.
    pub podcast: String,
    /// The episode's title.
    pub episode: String,
    /// The episode's web page (the feed item's `<link>`), shown as a link
    /// beside the listening link. Digests made before [`Self::audio_url`]
    /// existed may hold the media URL here when the feed had no page.
    pub episode_url: Option<String>,
    /// The episode's audio (the feed item's enclosure URL): the "listen at"
    /// link points here, at the quote's start (`audio.mp3#t=SECONDS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_url: Option<String>,
    /// The insight.
    pub insight: Insight,
    /// Why it was picked.
    pub score: ScoreComponents,
    /// The episode's language, so the reader knows what to expect.
    pub language: Option<String>,
}

/// A region's digest for one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// The region it belongs to.
    pub region: RegionId,
    /// The day, in the region's timezone.
    pub date: NaiveDate,
    /// The picks, best first.
    pub items: Vec<DigestItem>,
    /// Whether the digest has fewer picks than the region asks for because
    /// the other candidates fell below the ranking's quality floor; the email
    /// then says that only these were strong enough to send.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub short_of_strong_insights: bool,
}

impl Digest {
    /// The digest's content hash, a stable id for its emails (`Message-ID`) and
    /// for the AI-generated-content marker.
    #[must_use]
    pub fn content_hash(&self) -> ContentHash {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        ContentHash::of(bytes)
    }
}
