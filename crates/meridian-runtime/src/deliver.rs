//! Delivery: one email per confirmed subscriber, claimed before it is sent.
//!
//! For each confirmed subscriber, in id order:
//!
//! 1. the subscriber's state is read again (an unsubscribe during the run
//!    stops their email), and the (digest, subscriber) key is claimed in the
//!    store with a deterministic `Message-ID`; a delivery already sent, given
//!    up, or waiting for a later retry is skipped;
//! 2. the digest is rendered in the subscriber's locale with their own
//!    unsubscribe link, and sent with `List-Unsubscribe` (one-click URL and,
//!    when configured, `mailto:`), `List-Unsubscribe-Post` and the
//!    machine-readable `X-AI-Generated` marker, at most `mail.max_per_second`;
//! 3. the relay's answer decides what follows:
//!    - accepted → `sent`;
//!    - 4xx → a try is counted; up to three tries in this run with a doubling
//!      wait from `mail.retry_delay_ms`, then the delivery waits for a later
//!      run (5 min, doubling, at most 6 h); after `mail.max_attempts` tries it
//!      is dead-lettered (`dead`);
//!    - 5xx about the address (550, 551, 553, 521, 556) → the delivery is
//!      `failed` and the subscriber `suppressed`: nothing more goes to the
//!      address until it is confirmed again;
//!    - other 5xx (message too large, refused as spam…) → `failed`, the
//!      address stays;
//!    - the relay unreachable (connection, timeout, TLS) or refusing our
//!      credentials (530, 534, 535, 538) → tried three times, then the run
//!      stops delivering and leaves this and every later subscriber pending
//!      for the next run, without counting a try against anyone.
//!
//! Before each send the region's policy gate decides `send_email` to the
//! region's relay (data classes personal, derived, public) and the decision
//! is recorded in the audit log; a denial stops the run's delivery like an
//! unreachable relay ([`DeliveryStep::PolicyDenied`]). Every try ends in an
//! `email_send` record carrying the keyed hash of the address, never the
//! address (`records.rs`).
//!
//! [`Region::start_delivery`] and [`Region::deliver_next`] expose the loop one
//! subscriber at a time, so tests can stop the relay between two emails.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use meridian_core::{ContentHash, Digest, Locale};
use meridian_digest::render::{RenderContext, render_digest};
use meridian_mail::{MailError, OutgoingEmail, SmtpFailure};
use meridian_store::{DeliveryClaim, DeliveryRetry, SubscriberRow, SubscriberStatus};

use crate::pipeline::{RunReport, StageCounts};
use crate::records::{MailEvent, MailKind, MailOutcome, SubscriptionChange};
use crate::{Region, RuntimeError};

/// The header carrying the machine-readable AI-generated-content marker.
pub const AI_MARKER_HEADER: &str = "X-AI-Generated";

/// Tries of one email within one run (the first and two retries).
const TRIES_PER_RUN: u32 = 3;
/// Wait before a later run retries a temporarily refused email; doubles per
/// try, capped.
const LATER_RETRY_BASE_SECS: i64 = 300;
const LATER_RETRY_MAX_SECS: i64 = 6 * 3600;

/// What happened to one subscriber's digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStep {
    /// Sent now.
    Sent,
    /// Sent by an earlier run.
    AlreadySent,
    /// No longer confirmed (unsubscribed or suppressed since the run began).
    NotConfirmed,
    /// Waiting for its retry time, or being sent by another worker.
    NotYet,
    /// Given up by an earlier run (`failed` or `dead`).
    GivenUp,
    /// Refused temporarily; a later run tries again.
    Deferred,
    /// Refused temporarily once too often: dead-lettered.
    DeadLettered,
    /// Refused permanently for the address: the subscriber is suppressed.
    Suppressed,
    /// Refused permanently for the message, or cannot be built: given up.
    Failed,
    /// The relay could not be reached: this and the rest wait for the next run.
    RelayDown,
    /// The region's policies refuse mail to its relay (recorded in the audit
    /// log): this and the rest wait for the next run, never another relay.
    PolicyDenied,
}

impl DeliveryStep {
    /// The counter this step adds to in [`RunReport::delivery`].
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::AlreadySent => "already_sent",
            Self::NotConfirmed => "not_confirmed",
            Self::NotYet => "not_yet",
            Self::GivenUp => "given_up",
            Self::Deferred => "deferred",
            Self::DeadLettered => "dead_lettered",
            Self::Suppressed => "suppressed",
            Self::Failed => "failed",
            Self::RelayDown => "relay_down",
            Self::PolicyDenied => "policy_denied",
        }
    }
}

/// One digest's delivery in progress: the confirmed subscribers still to go.
#[derive(Debug)]
pub struct DigestDelivery {
    stored_id: i64,
    digest: Digest,
    digest_hash: ContentHash,
    marker: String,
    domain: String,
    queue: VecDeque<SubscriberRow>,
    halted: bool,
    counts: StageCounts,
}

impl DigestDelivery {
    /// Subscribers not handled yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        if self.halted { 0 } else { self.queue.len() }
    }

    /// Whether the relay went down and the rest waits for the next run.
    #[must_use]
    pub fn is_halted(&self) -> bool {
        self.halted
    }

    /// Steps so far, by [`DeliveryStep::as_str`].
    #[must_use]
    pub fn counts(&self) -> &StageCounts {
        &self.counts
    }

    /// The digest being delivered.
    #[must_use]
    pub fn digest(&self) -> &Digest {
        &self.digest
    }
}

/// How a failed send is handled.
pub(crate) enum Failure {
    /// 4xx: counts as a try.
    Transient(String),
    /// 5xx about the address: suppress it.
    AddressRefused(String),
    /// Other 5xx, or a message that cannot be built: give this one up.
    MessageRefused(String),
    /// The relay is unreachable or refuses us: stop the run's delivery.
    RelayDown(String),
}

pub(crate) fn classify_failure(e: &MailError) -> Failure {
    match e {
        MailError::Smtp { kind, .. } => match kind {
            SmtpFailure::Transient(code) => Failure::Transient(code.clone()),
            SmtpFailure::Permanent(code) => match code.get(..3).unwrap_or(code) {
                "550" | "551" | "553" | "521" | "556" => Failure::AddressRefused(code.clone()),
                // Authentication required or refused: a configuration problem
                // of the relay account, the same for every recipient.
                "530" | "534" | "535" | "538" => Failure::RelayDown(code.clone()),
                _ => Failure::MessageRefused(code.clone()),
            },
            SmtpFailure::Connection
            | SmtpFailure::Timeout
            | SmtpFailure::Tls
            | SmtpFailure::Protocol => Failure::RelayDown(kind.to_string()),
            SmtpFailure::Client => Failure::MessageRefused(kind.to_string()),
        },
        MailError::OutboxWrite { .. } => Failure::RelayDown("outbox".to_owned()),
        MailError::InvalidSender { .. }
        | MailError::InvalidRecipient { .. }
        | MailError::InvalidHeader { .. }
        | MailError::Build { .. }
        | MailError::SmtpUrl { .. }
        | MailError::PlainSmtpRefused { .. }
        | MailError::PasswordInUrl { .. }
        | MailError::MissingPassword { .. }
        | MailError::OutboxDir { .. } => Failure::MessageRefused("invalid".to_owned()),
    }
}

/// When a later run may retry after `tries` temporary refusals.
fn later_retry(now: i64, tries: i64) -> i64 {
    let exp = u32::try_from((tries - 1).clamp(0, 16)).unwrap_or(16);
    now + LATER_RETRY_BASE_SECS
        .saturating_mul(2_i64.saturating_pow(exp))
        .min(LATER_RETRY_MAX_SECS)
}

/// The wait before retry number `retry` (1, 2…) within a run.
pub(crate) fn in_run_wait(base: Duration, retry: u32) -> Duration {
    base.saturating_mul(2_u32.saturating_pow(retry.saturating_sub(1)))
}

impl Region {
    /// The `X-AI-Generated` value of `digest`: who generated it (Meridian and
    /// its version), with which providers and models, in which region, and
    /// the content id (the digest's SHA-256), e.g.
    /// `generator=meridian/0.1.0; provider=builtin; model=builtin; region=us; content-id=sha256:…`.
    #[must_use]
    pub fn ai_marker(&self, digest: &Digest) -> String {
        let cfg = self.config();
        let mut models: Vec<&str> = digest
            .items
            .iter()
            .map(|i| i.insight.model.as_str())
            .collect();
        models.sort_unstable();
        models.dedup();
        let mut providers: Vec<&str> = models
            .iter()
            .map(|m| {
                cfg.all_models()
                    .find(|(_, c)| c.name == *m)
                    .map_or("unknown", |(_, c)| c.provider.as_str())
            })
            .collect();
        providers.sort_unstable();
        providers.dedup();
        let list = |v: &[&str]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(",")
            }
        };
        format!(
            "generator=meridian/{}; provider={}; model={}; region={}; content-id=sha256:{}",
            env!("CARGO_PKG_VERSION"),
            list(&providers),
            list(&models),
            cfg.id,
            digest.content_hash().to_hex()
        )
    }

    /// Prepares the delivery of the digest of `date`: every subscriber
    /// confirmed now, in id order. `None` when the day has no digest.
    ///
    /// # Errors
    /// [`RuntimeError::Store`].
    pub async fn start_delivery(
        &self,
        date: NaiveDate,
    ) -> Result<Option<DigestDelivery>, RuntimeError> {
        let store = self.store();
        let Some(stored) = store.digest_for_date(date).await? else {
            return Ok(None);
        };
        let digest = stored.digest;
        Ok(Some(DigestDelivery {
            stored_id: stored.id,
            digest_hash: digest.content_hash(),
            marker: self.ai_marker(&digest),
            domain: self.mail_domain(),
            digest,
            queue: store
                .subscribers_with_status(SubscriberStatus::Confirmed)
                .await?
                .into(),
            halted: false,
            counts: StageCounts::default(),
        }))
    }

    /// Delivers the digest to the next subscriber of `delivery`; `now` (Unix
    /// seconds) is the time claims and retries are judged by. `None` when
    /// every subscriber has been handled, or the relay went down.
    ///
    /// # Errors
    /// [`RuntimeError::Store`] or [`RuntimeError::Render`]; a refused email is
    /// a [`DeliveryStep`], not an error.
    pub async fn deliver_next(
        &self,
        delivery: &mut DigestDelivery,
        now: i64,
    ) -> Result<Option<DeliveryStep>, RuntimeError> {
        if delivery.halted {
            return Ok(None);
        }
        let Some(sub) = delivery.queue.pop_front() else {
            return Ok(None);
        };
        let step = self.deliver_to(delivery, &sub, now).await?;
        if matches!(step, DeliveryStep::RelayDown | DeliveryStep::PolicyDenied) {
            delivery.halted = true;
        }
        delivery.counts.add(step.as_str(), 1);
        Ok(Some(step))
    }

    /// Delivers the digest of `date` to every confirmed subscriber who has
    /// not had it; the counts by [`DeliveryStep`].
    ///
    /// # Errors
    /// As [`Region::deliver_next`].
    pub async fn deliver_digest(&self, date: NaiveDate) -> Result<StageCounts, RuntimeError> {
        let Some(mut delivery) = self.start_delivery(date).await? else {
            return Ok(StageCounts::default());
        };
        while self
            .deliver_next(&mut delivery, Utc::now().timestamp())
            .await?
            .is_some()
        {}
        Ok(delivery.counts)
    }

    /// The daily run's delivery stage.
    pub(crate) async fn deliver(&self, report: &mut RunReport) -> Result<(), RuntimeError> {
        let Some(digest) = &report.digest else {
            return Ok(());
        };
        let counts = self.deliver_digest(digest.date).await?;
        for (k, v) in counts.0 {
            report.delivery.add(&k, v);
        }
        Ok(())
    }

    async fn deliver_to(
        &self,
        delivery: &DigestDelivery,
        sub: &SubscriberRow,
        now: i64,
    ) -> Result<DeliveryStep, RuntimeError> {
        let store = self.store();
        // Read again: an unsubscribe during a long run must stop this email.
        match store.subscriber(sub.id).await? {
            Some(current) if current.status == SubscriberStatus::Confirmed => {}
            _ => return Ok(DeliveryStep::NotConfirmed),
        }
        let key = ContentHash::of_parts([
            delivery.digest_hash.as_bytes().as_slice(),
            sub.email.as_str().as_bytes(),
        ]);
        let message_id = meridian_mail::message_id("digest", &key, &delivery.domain);
        let (message_id, attempts) = match store
            .claim_delivery(delivery.stored_id, sub.id, &message_id, now)
            .await?
        {
            DeliveryClaim::AlreadySent => return Ok(DeliveryStep::AlreadySent),
            DeliveryClaim::GivenUp { .. } => return Ok(DeliveryStep::GivenUp),
            DeliveryClaim::NotYet { .. } => return Ok(DeliveryStep::NotYet),
            DeliveryClaim::Send {
                message_id,
                attempts,
            } => (message_id, attempts),
        };
        crate::fault::point("claimed");
        let cfg = self.config();
        let max_attempts = i64::from(cfg.mail.max_attempts);
        if attempts >= max_attempts {
            // The limit was lowered since the last try.
            store
                .record_delivery_failure(
                    delivery.stored_id,
                    sub.id,
                    "out of tries",
                    DeliveryRetry::Never,
                )
                .await?;
            return Ok(DeliveryStep::DeadLettered);
        }
        // Decide and record before sending; a denial leaves the delivery
        // pending (not counted as a try) and stops the run's delivery: the
        // relay is the same for every subscriber.
        if let Err(reason) = self.authorize_mail("delivery", MailKind::Digest).await {
            store
                .record_delivery_failure(delivery.stored_id, sub.id, &reason, DeliveryRetry::Now)
                .await?;
            return Ok(DeliveryStep::PolicyDenied);
        }
        crate::fault::point("decided");
        let email = self
            .digest_email(delivery, sub, message_id, now)
            .map_err(|source| RuntimeError::Render {
                region: cfg.id.clone(),
                source,
            })?;
        let event = MailEvent {
            actor: "delivery",
            kind: MailKind::Digest,
            recipient: &sub.email,
            message_id: &email.message_id,
            outcome: MailOutcome::Sent,
            code: None,
            ai_labelled: true,
        };
        let mut tries = attempts;
        let mut retry = 0;
        loop {
            self.send_rate().acquire().await;
            let error = match self.mailer().send(&email).await {
                Ok(receipt) => {
                    crate::fault::point("accepted");
                    store
                        .mark_delivery_sent(
                            delivery.stored_id,
                            sub.id,
                            receipt.transport.as_str(),
                            Utc::now().timestamp(),
                        )
                        .await?;
                    crate::fault::point("marked");
                    self.record_mail_event(&event.with_outcome(MailOutcome::Sent, None))
                        .await?;
                    crate::fault::point("recorded");
                    return Ok(DeliveryStep::Sent);
                }
                Err(e) => e,
            };
            let reason = error.to_string();
            match classify_failure(&error) {
                Failure::Transient(code) => {
                    tries += 1;
                    if tries >= max_attempts {
                        tracing::warn!(region = %cfg.id, recipient.hash = %self.recipient_hash(&sub.email), code, tries, "Digest email dead-lettered after too many temporary refusals.");
                        store
                            .record_delivery_failure(
                                delivery.stored_id,
                                sub.id,
                                &reason,
                                DeliveryRetry::Never,
                            )
                            .await?;
                        self.record_mail_event(
                            &event.with_outcome(MailOutcome::DeadLettered, Some(&code)),
                        )
                        .await?;
                        return Ok(DeliveryStep::DeadLettered);
                    }
                    store
                        .record_delivery_failure(
                            delivery.stored_id,
                            sub.id,
                            &reason,
                            DeliveryRetry::At(later_retry(now, tries)),
                        )
                        .await?;
                    self.record_mail_event(&event.with_outcome(MailOutcome::Deferred, Some(&code)))
                        .await?;
                    retry += 1;
                    if retry >= TRIES_PER_RUN {
                        tracing::warn!(region = %cfg.id, recipient.hash = %self.recipient_hash(&sub.email), code, "Digest email refused temporarily; a later run retries it.");
                        return Ok(DeliveryStep::Deferred);
                    }
                }
                Failure::AddressRefused(code) => {
                    tracing::warn!(region = %cfg.id, recipient.hash = %self.recipient_hash(&sub.email), code, "The relay refused the address permanently; suppressing it.");
                    store
                        .mark_delivery_failed(delivery.stored_id, sub.id, &reason, true)
                        .await?;
                    store
                        .update_subscriber_status(
                            sub.id,
                            SubscriberStatus::Suppressed,
                            Some(&code),
                            Utc::now().timestamp(),
                        )
                        .await?;
                    self.record_mail_event(
                        &event.with_outcome(MailOutcome::Suppressed, Some(&code)),
                    )
                    .await?;
                    self.record_subscription_change(
                        "delivery",
                        &sub.email,
                        SubscriptionChange::Suppressed,
                    )
                    .await?;
                    return Ok(DeliveryStep::Suppressed);
                }
                Failure::MessageRefused(code) => {
                    tracing::warn!(region = %cfg.id, recipient.hash = %self.recipient_hash(&sub.email), code, error = %reason, "Digest email refused permanently; given up.");
                    store
                        .mark_delivery_failed(delivery.stored_id, sub.id, &reason, true)
                        .await?;
                    self.record_mail_event(&event.with_outcome(MailOutcome::Failed, Some(&code)))
                        .await?;
                    return Ok(DeliveryStep::Failed);
                }
                Failure::RelayDown(code) => {
                    retry += 1;
                    if retry >= TRIES_PER_RUN {
                        tracing::error!(region = %cfg.id, code, error = %reason, "The mail relay is unreachable or refuses us; the remaining digests wait for the next run.");
                        store
                            .record_delivery_failure(
                                delivery.stored_id,
                                sub.id,
                                &reason,
                                DeliveryRetry::Now,
                            )
                            .await?;
                        self.record_mail_event(
                            &event.with_outcome(MailOutcome::RelayDown, Some(&code)),
                        )
                        .await?;
                        return Ok(DeliveryStep::RelayDown);
                    }
                }
            }
            tokio::time::sleep(in_run_wait(cfg.mail.retry_delay, retry)).await;
        }
    }

    /// The digest email for one subscriber: their locale, their unsubscribe
    /// link in the body and in `List-Unsubscribe`, the AI marker.
    fn digest_email(
        &self,
        delivery: &DigestDelivery,
        sub: &SubscriberRow,
        message_id: String,
        now: i64,
    ) -> Result<OutgoingEmail, meridian_digest::render::RenderError> {
        let cfg = self.config();
        let locale = sub
            .locale
            .as_deref()
            .and_then(|l| Locale::parse(l).ok())
            .unwrap_or_else(|| cfg.locale.clone());
        let unsubscribe = self.unsubscribe_link(sub.id, &sub.email, now);
        let ctx = RenderContext {
            locale,
            region_name: cfg.name.clone(),
            timezone: cfg.timezone,
            ai_label: cfg.mail.ai_label.clone(),
            unsubscribe_url: Some(unsubscribe.https.clone()),
            // The same digest on the region's web archive (`meridian serve`).
            archive_url: Some(format!(
                "{}/archive/{}",
                cfg.server.base_url.trim_end_matches('/'),
                delivery.digest.date
            )),
        };
        let body = render_digest(&delivery.digest, &ctx)?;
        Ok(OutgoingEmail {
            from: cfg.mail.from.clone(),
            reply_to: cfg.mail.reply_to.clone(),
            to: sub.email.clone(),
            subject: body.subject,
            html: body.html,
            text: body.text,
            message_id,
            headers: vec![(AI_MARKER_HEADER.to_owned(), delivery.marker.clone())],
            list_unsubscribe: Some(unsubscribe),
        })
    }

    /// The domain of the region's sender, for `Message-ID`s.
    pub(crate) fn mail_domain(&self) -> String {
        let cfg = self.config();
        sender_domain(&cfg.mail.from).unwrap_or_else(|| format!("{}.meridian.invalid", cfg.id))
    }
}

/// The domain of the sender mailbox (`Meridian <digest@us.example>` → `us.example`).
fn sender_domain(from: &str) -> Option<String> {
    let addr = from
        .rsplit_once('<')
        .map_or(from, |(_, a)| a.trim_end_matches('>'));
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim().to_owned())
        .filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_domain_reads_both_forms() {
        assert_eq!(
            sender_domain("Meridian <digest@us.example>").as_deref(),
            Some("us.example")
        );
        assert_eq!(
            sender_domain("digest@eu.example").as_deref(),
            Some("eu.example")
        );
        assert_eq!(sender_domain("nobody"), None);
    }

    #[test]
    fn retries_back_off_and_cap() {
        assert_eq!(later_retry(1000, 1) - 1000, 300);
        assert_eq!(later_retry(1000, 2) - 1000, 600);
        assert_eq!(later_retry(1000, 30) - 1000, 6 * 3600);
        let base = Duration::from_millis(100);
        assert_eq!(in_run_wait(base, 1), base);
        assert_eq!(in_run_wait(base, 2), base * 2);
    }

    fn smtp(kind: SmtpFailure) -> MailError {
        MailError::Smtp {
            relay: "r:25".into(),
            domain: "x.example".into(),
            kind,
            detail: String::new(),
        }
    }

    #[test]
    fn only_refusals_of_the_address_suppress_it() {
        let name = |e: &MailError| match classify_failure(e) {
            Failure::Transient(_) => "transient",
            Failure::AddressRefused(_) => "address",
            Failure::MessageRefused(_) => "message",
            Failure::RelayDown(_) => "relay",
        };
        for (kind, expected) in [
            (SmtpFailure::Permanent("550".into()), "address"),
            (SmtpFailure::Permanent("553".into()), "address"),
            (SmtpFailure::Permanent("554".into()), "message"),
            (SmtpFailure::Permanent("552".into()), "message"),
            (SmtpFailure::Permanent("535".into()), "relay"),
            (SmtpFailure::Transient("451".into()), "transient"),
            (SmtpFailure::Connection, "relay"),
            (SmtpFailure::Timeout, "relay"),
            (SmtpFailure::Client, "message"),
        ] {
            assert_eq!(name(&smtp(kind.clone())), expected, "{kind}");
        }
    }
}
