//! One region's assembled stack, and the daily pipeline that runs on it.
//!
//! [`Region::assemble`] is the only place a region's parts are put together:
//! its store (its own database), its egress client (its own allow-list), its
//! model chain (its own models) and its mailer (its own relay or outbox). Every
//! later step takes a `&Region`, so no code path can mix one region's config
//! with another region's pool or client (DESIGN.md, invariants 1 and 4).
//!
//! [`Region::run_daily`] performs one daily run, stage by stage:
//!
//! 1. feeds: seed subscribers and the OPML list, fetch the feeds that are due
//!    (conditional GET), store the episodes not seen before;
//! 2. transcripts: for each new episode, its best `podcast:transcript`, else
//!    speech-to-text of its audio by the region's `transcribe` role, else its
//!    show notes;
//! 3. insights: the region's `insight` chain, unless the same transcript (by
//!    content hash) was already turned into insights;
//! 4. digest: the day's top picks, stored once per day;
//! 5. delivery: one email per confirmed subscriber, claimed before sending.
//!
//! Each stage records its effect before the next starts, so a run that dies
//! half-way is started again and finishes the work without redoing finished
//! steps and without sending any email twice.

mod deliver;
pub use deliver::{AI_MARKER_HEADER, DeliveryStep, DigestDelivery};
mod links;
pub use links::{LinkError, LinkPurpose, LinkSigner, ParsedLink};
mod models;
mod pipeline;
mod rate;
mod records;
pub use records::{MailEvent, MailKind, MailOutcome, SubscriptionChange};
mod region;
mod subscription;
pub use meridian_digest::render::SUPPORTED_LOCALES;
pub use subscription::{
    CONFIRM_COOL_DOWN_SECS, CONFIRM_VALID_HOURS, ConfirmOutcome, SignupOutcome,
    UNSUBSCRIBE_VALID_DAYS, UnsubscribeOutcome,
};

pub use pipeline::{RunOptions, RunReport, StageCounts};
pub use region::{AssembleOptions, Region};

use meridian_core::RegionId;

/// A region could not be assembled or its run failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] meridian_store::StoreError),
    /// The egress client could not be built.
    #[error("region `{region}`: egress: {source}")]
    Egress {
        /// The region.
        region: RegionId,
        /// The cause.
        #[source]
        source: meridian_egress::EgressError,
    },
    /// The region's link-signing secret is missing or unreadable.
    #[error("region `{region}`: link-signing secret: {reason}")]
    LinkSecret {
        /// The region.
        region: RegionId,
        /// What is wrong, naming the variable or file.
        reason: String,
    },
    /// A confirm or unsubscribe link was not accepted.
    #[error("region `{region}`: {error}")]
    Link {
        /// The region.
        region: RegionId,
        /// Why.
        error: LinkError,
    },
    /// The mailer could not be set up.
    #[error("region `{region}`: mail: {source}")]
    Mail {
        /// The region.
        region: RegionId,
        /// The cause.
        #[source]
        source: meridian_mail::MailError,
    },
    /// The digest could not be rendered.
    #[error("region `{region}`: rendering the digest: {source}")]
    Render {
        /// The region.
        region: RegionId,
        /// The cause.
        #[source]
        source: meridian_digest::render::RenderError,
    },
    /// Reading the region's OPML file failed.
    #[error("region `{region}`: feed list {path}: {reason}")]
    FeedList {
        /// The region.
        region: RegionId,
        /// The OPML file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl RuntimeError {
    /// Whether a later run may succeed without an operator changing anything.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Egress { .. }
            | Self::Render { .. }
            | Self::FeedList { .. }
            | Self::LinkSecret { .. }
            | Self::Link { .. } => false,
            Self::Mail { source, .. } => source.is_retryable(),
        }
    }
}
