//! Meridian's domain types and their invariants.
//!
//! Everything here is pure: no I/O, no async. Values that arrive from outside
//! (config files, feeds, HTTP requests) are parsed into these types at the edge,
//! so that code further in never sees an invalid region id, feed URL or address.
//!
//! Main types:
//! - [`RegionId`], [`Jurisdiction`], [`Locale`]: who a region is.
//! - [`DataClass`]: what kind of data a payload carries (public, derived, personal).
//! - [`FeedUrl`], [`PodcastFeed`], [`EpisodeMeta`], [`EpisodeGuid`]: what ingest produces.
//! - [`Transcript`], [`Segment`], [`TranscriptFormat`]: timed text of an episode.
//! - [`Insight`], [`DigestItem`], [`Digest`]: what the models and the ranking produce.
//! - [`SubscriberEmail`]: a parsed e-mail address (personal data).
//! - [`PromptText`], [`PromptSafe`], [`PublicText`]: what may go into a model
//!   prompt: public and derived data only, by construction (no personal type
//!   is `PromptSafe`).
//! - [`ContentHash`]: SHA-256 content addressing.
//! - [`net`]: the region's network settings: [`net::AllowEntry`] (one
//!   `egress.allow` entry), [`net::AddressClass`] and [`net::HostClass`]
//!   (where an address or host name is).
//! - [`lang`]: the per-language word and phrase lists of `lang/`, as data.
//! - [`text`]: sentence segmentation, tokens and similarity shared by the
//!   builtin engine and the ranking.

mod email;
mod feed;
mod hash;
mod insight;
pub mod lang;
pub mod net;
mod prompt;
mod region;
pub mod telemetry;
pub mod text;
mod transcript;

pub use email::{EmailError, RESERVED_TLDS, SubscriberEmail};
pub use feed::{
    Enclosure, EpisodeGuid, EpisodeMeta, FeedUrl, FeedUrlError, GuidSource, PodcastFeed,
    TranscriptLink,
};
pub use hash::ContentHash;
pub use insight::{Digest, DigestItem, Insight, ScoreComponents};
pub use prompt::{PromptSafe, PromptText, PublicText};
pub use region::{DataClass, Jurisdiction, Locale, RegionId, RegionIdError};
pub use transcript::{Segment, Transcript, TranscriptFormat, TranscriptSource};

/// Formats a time offset in seconds as `H:MM:SS` (or `M:SS` under an hour).
///
/// Used wherever a person reads a position in an episode: the digest, `inspect`,
/// the demo's summary.
#[must_use]
pub fn format_offset(seconds: f64) -> String {
    let total = if seconds.is_finite() && seconds > 0.0 {
        // Truncation is intended: a quote starting at 12.9 s is shown as 0:12.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "clamped to a non-negative finite value first"
        )]
        let t = seconds.floor() as u64;
        t
    } else {
        0
    };
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::format_offset;

    #[test]
    fn offsets_read_like_a_player_clock() {
        assert_eq!(format_offset(0.0), "0:00");
        assert_eq!(format_offset(12.9), "0:12");
        assert_eq!(format_offset(754.0), "12:34");
        assert_eq!(format_offset(3725.5), "1:02:05");
        assert_eq!(format_offset(f64::NAN), "0:00");
        assert_eq!(format_offset(-3.0), "0:00");
    }
}
