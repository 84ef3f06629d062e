//! One region's assembled stack, and the daily pipeline that runs on it.
//!
//! [`Region::assemble`] is the only place a region's parts are put together:
//! its policy gate (its own Cedar policies; a region whose config breaks them
//! does not start), its store (its own database) and audit log (its own key),
//! its egress client (its own allow-list), its model chain (its own models)
//! and its mailer (its own relay or outbox). Every later step takes a
//! `&Region`, so no code path can mix one region's config with another
//! region's pool or client (isolated storage, no cross-region fallback).
//!
//! Every outbound action passes [`sovereignty`]: decide (the gate), record
//! (a `policy_decision` in the audit log), then act, and record the outcome
//! (`model_call`, `http_request`, `email_send`). Runs start and end with
//! `run_start` / `run_end` records and a signed checkpoint.
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
//!
//! The stages are jobs in the region's queue (`jobs` table): one `feed` job
//! per feed due, one `episode` job per new episode (transcript and insights),
//! then one `digest` and one `deliver` job. `run_daily` opens the day's run
//! (or joins the one left unfinished) and works the queue in-process;
//! [`Region::work`] (`meridian worker`) works the same queue, so that several
//! processes of one region share a run. A claimed job is held by a lease
//! the worker renews; a worker that dies loses its jobs to the others when
//! the lease runs out. See `jobs.rs` for the stage machine.

mod deliver;
pub mod fault;
pub use deliver::{AI_MARKER_HEADER, DeliveryStep, DigestDelivery};
mod links;
pub use links::{LinkError, LinkPurpose, LinkSigner, ParsedLink};
mod jobs;
pub use jobs::{WorkSummary, WorkerOptions};
mod models;
mod pipeline;
mod rate;
mod records;
pub use records::{MailEvent, MailKind, MailOutcome, SubscriptionChange};
mod region;
pub mod sovereignty;
mod subscription;
/// What the digest ranking left out of a run's digest, by reason
/// ([`RunReport::digest_left_out`]).
pub use meridian_digest::rank::LeftOut;
pub use meridian_digest::render::SUPPORTED_LOCALES;
/// Rendering for the web archive: the same words and links as the emails.
pub use meridian_digest::render::{
    RenderContext, digest_view, format_date, href as href_filter, item_link, pick_reason,
};
pub use subscription::{
    CONFIRM_COOL_DOWN_SECS, CONFIRM_VALID_HOURS, ConfirmOutcome, SignupOutcome,
    UNSUBSCRIBE_VALID_DAYS, UnsubscribeOutcome,
};

pub use pipeline::{RunOptions, RunReport, StageCounts};
pub use region::{AssembleOptions, Region};

use meridian_core::RegionId;

/// How often `meridian serve` signs its region's audit chain when records
/// were added since the last checkpoint (confirmation emails, subscription
/// changes); runs sign it at their end.
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

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
    /// A queued job or run cannot be worked on as stored (unknown kind, bad
    /// payload): it is not retried.
    #[error("region `{region}`: job {job}: {reason}")]
    Job {
        /// The region.
        region: RegionId,
        /// The job, `kind:key`, or the run.
        job: String,
        /// What is wrong.
        reason: String,
    },
    /// The region's policies could not be loaded: the region does not start.
    #[error("region `{region}`: policies in {dir} do not load: {}", problems.join("; "))]
    Policies {
        /// The region.
        region: RegionId,
        /// The policies directory.
        dir: String,
        /// Every problem, each naming its file and line.
        problems: Vec<String>,
    },
    /// The region's own config breaks its policies: the region does not start.
    #[error("region `{region}` does not start: its config breaks its policies:\n  {}", violations.join("\n  "))]
    PolicyViolations {
        /// The region.
        region: RegionId,
        /// Each violation: model or host, config key, action and data
        /// classes, the denying policy ids and the reason.
        violations: Vec<String>,
    },
    /// The region's audit log could not be opened or written: nothing is
    /// done that the log would not show.
    #[error("region `{region}`: audit log: {source}")]
    Audit {
        /// The region.
        region: RegionId,
        /// The cause.
        #[source]
        source: meridian_audit::AuditError,
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
            | Self::Job { .. }
            | Self::LinkSecret { .. }
            | Self::Link { .. }
            | Self::Policies { .. }
            | Self::PolicyViolations { .. } => false,
            Self::Audit { source, .. } => source.is_retryable(),
            Self::Mail { source, .. } => source.is_retryable(),
        }
    }
}
