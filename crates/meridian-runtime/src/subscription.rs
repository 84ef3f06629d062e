//! Subscriptions with double opt-in: sign-up, the confirmation email, confirm
//! and unsubscribe links.
//!
//! - [`Region::request_subscription`] records an unconfirmed subscriber (or
//!   finds the existing one) and queues a confirmation email. It answers the
//!   same way whether the address was known or not, and sends nothing
//!   itself, so the caller's response neither waits for the relay nor
//!   reveals, by its timing, whether an email went out.
//! - [`Region::send_due_confirmations`] sends the queued confirmation emails
//!   (the server's background worker calls it; tests call it directly).
//! - [`Region::confirm_subscription`] and [`Region::unsubscribe`] take the
//!   signed tokens of the emailed links. Both are idempotent.
//!
//! A confirm link works for [`CONFIRM_VALID_HOURS`], an unsubscribe link for
//! [`UNSUBSCRIBE_VALID_DAYS`] (a year and a month: an old digest's unsubscribe
//! link must keep working). A confirm link sent before the address later
//! unsubscribed (or was suppressed) no longer confirms: it was not the
//! person's latest wish.

use meridian_core::{ContentHash, Locale, SubscriberEmail};
use meridian_digest::confirmation::{ConfirmationContext, render_confirmation};
use meridian_mail::{ListUnsubscribe, OutgoingEmail};
use meridian_store::{ConfirmationOutcome, ConfirmationRow, SubscriberRow, SubscriberStatus};

use crate::deliver::in_run_wait;
use crate::links::{LinkError, LinkPurpose, ParsedLink};
use crate::pipeline::StageCounts;
use crate::records::{MailEvent, MailKind, MailOutcome, SubscriptionChange};
use crate::{Region, RuntimeError};

/// How long a confirm link works.
pub const CONFIRM_VALID_HOURS: u32 = 72;
/// How long an unsubscribe link works.
pub const UNSUBSCRIBE_VALID_DAYS: u32 = 400;
/// At most one confirmation email per address per this many seconds, however
/// often the form is sent.
pub const CONFIRM_COOL_DOWN_SECS: i64 = 300;
/// How long a worker holds a confirmation email it is sending.
const CONFIRM_LEASE_SECS: i64 = 300;
/// When a relay outage stops the confirmation worker, retry after this.
const CONFIRM_RELAY_RETRY_SECS: i64 = 60;
/// Confirmation emails sent per pass of the worker.
const CONFIRM_BATCH: i64 = 50;

/// What [`Region::request_subscription`] did. A caller facing the public
/// must answer all of them the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupOutcome {
    /// A confirmation email is queued.
    Queued,
    /// One was queued a moment ago; not another yet.
    CoolingDown,
    /// Already confirmed: nothing to do.
    AlreadyConfirmed,
}

/// What a valid confirm link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// The subscription is confirmed now.
    Confirmed,
    /// It was confirmed before (the link was opened again).
    AlreadyConfirmed,
}

/// What a valid unsubscribe link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsubscribeOutcome {
    /// Unsubscribed now.
    Unsubscribed,
    /// It was unsubscribed before.
    AlreadyUnsubscribed,
}

impl Region {
    /// Records a wish to subscribe `email` (in `locale`, default the
    /// region's) from `source` (`web`, `api`), and queues a confirmation email
    /// unless the address is confirmed already or one was queued less than
    /// [`CONFIRM_COOL_DOWN_SECS`] ago. A new subscriber is `unconfirmed`; an
    /// unsubscribed or suppressed one keeps that state until they confirm.
    ///
    /// # Errors
    /// [`RuntimeError::Store`].
    pub async fn request_subscription(
        &self,
        email: &SubscriberEmail,
        locale: Option<&Locale>,
        source: &str,
        now: i64,
    ) -> Result<SignupOutcome, RuntimeError> {
        let store = self.store();
        // The region's own locale is not stored, so that a change of the
        // region's locale reaches everyone who did not choose another.
        let locale = locale
            .filter(|l| **l != self.config().locale)
            .map(Locale::as_str);
        let (sub, added) = store
            .add_subscriber(email, SubscriberStatus::Unconfirmed, locale, source, now)
            .await?;
        if added {
            self.record_subscription_change("server", email, SubscriptionChange::SignedUp)
                .await?;
        }
        if sub.status == SubscriberStatus::Confirmed {
            return Ok(SignupOutcome::AlreadyConfirmed);
        }
        if store
            .queue_confirmation(sub.id, now, now - CONFIRM_COOL_DOWN_SECS)
            .await?
        {
            Ok(SignupOutcome::Queued)
        } else {
            Ok(SignupOutcome::CoolingDown)
        }
    }

    /// The subscriber a link names, after checking its signature and expiry.
    async fn linked_subscriber(
        &self,
        purpose: LinkPurpose,
        token: &str,
        now: i64,
    ) -> Result<(ParsedLink, SubscriberRow), RuntimeError> {
        let link_err = |error| RuntimeError::Link {
            region: self.config().id.clone(),
            error,
        };
        let link = ParsedLink::parse(token, purpose).map_err(link_err)?;
        let sub = self
            .store()
            .subscriber(link.subscriber_id)
            .await?
            .ok_or_else(|| link_err(LinkError::Invalid))?;
        self.links()
            .verify(purpose, &link, &sub.email, now)
            .map_err(link_err)?;
        Ok((link, sub))
    }

    /// Checks an unsubscribe link without using it (for the page that shows
    /// the unsubscribe button).
    ///
    /// # Errors
    /// [`RuntimeError::Link`] when the link is not valid; [`RuntimeError::Store`].
    pub async fn check_unsubscribe_link(&self, token: &str, now: i64) -> Result<(), RuntimeError> {
        self.linked_subscriber(LinkPurpose::Unsubscribe, token, now)
            .await
            .map(|_| ())
    }

    /// Confirms the subscription a confirm link names. Idempotent.
    ///
    /// # Errors
    /// [`RuntimeError::Link`] when the link is malformed, forged, expired or
    /// superseded by a later unsubscription; [`RuntimeError::Store`].
    pub async fn confirm_subscription(
        &self,
        token: &str,
        now: i64,
    ) -> Result<ConfirmOutcome, RuntimeError> {
        let (link, sub) = self
            .linked_subscriber(LinkPurpose::Confirm, token, now)
            .await?;
        let issued_at = link.expires_at - i64::from(CONFIRM_VALID_HOURS) * 3600;
        let superseded = match sub.status {
            SubscriberStatus::Confirmed => return Ok(ConfirmOutcome::AlreadyConfirmed),
            SubscriberStatus::Unconfirmed => false,
            SubscriberStatus::Unsubscribed => sub.unsubscribed_at.is_some_and(|t| t >= issued_at),
            SubscriberStatus::Suppressed => sub.suppressed_at.is_some_and(|t| t >= issued_at),
        };
        if superseded {
            return Err(RuntimeError::Link {
                region: self.config().id.clone(),
                error: LinkError::Superseded,
            });
        }
        self.store()
            .update_subscriber_status(sub.id, SubscriberStatus::Confirmed, None, now)
            .await?;
        self.record_subscription_change("server", &sub.email, SubscriptionChange::Confirmed)
            .await?;
        Ok(ConfirmOutcome::Confirmed)
    }

    /// Unsubscribes the subscriber an unsubscribe link names: from then on
    /// the address gets nothing (no digest, no confirmation email unless
    /// they ask again). Idempotent.
    ///
    /// # Errors
    /// [`RuntimeError::Link`] when the link is malformed, forged or expired;
    /// [`RuntimeError::Store`].
    pub async fn unsubscribe(
        &self,
        token: &str,
        now: i64,
    ) -> Result<UnsubscribeOutcome, RuntimeError> {
        let (_, sub) = self
            .linked_subscriber(LinkPurpose::Unsubscribe, token, now)
            .await?;
        if sub.status == SubscriberStatus::Unsubscribed {
            return Ok(UnsubscribeOutcome::AlreadyUnsubscribed);
        }
        self.store()
            .update_subscriber_status(sub.id, SubscriberStatus::Unsubscribed, None, now)
            .await?;
        self.record_subscription_change("server", &sub.email, SubscriptionChange::Unsubscribed)
            .await?;
        Ok(UnsubscribeOutcome::Unsubscribed)
    }

    /// The `List-Unsubscribe` targets of an email to subscriber `id` sent at
    /// `now`: `{base_url}/unsubscribe?token=…` and, when `mail.unsubscribe_mailbox`
    /// is set, `mailto:local+TOKEN@domain` (left out if the local part would
    /// pass SMTP's 64 characters).
    #[must_use]
    pub fn unsubscribe_link(&self, id: i64, email: &SubscriberEmail, now: i64) -> ListUnsubscribe {
        let cfg = self.config();
        let expires_at = now + i64::from(UNSUBSCRIBE_VALID_DAYS) * 86_400;
        let token = self
            .links()
            .sign(LinkPurpose::Unsubscribe, id, email, expires_at);
        let mailto = cfg.mail.unsubscribe_mailbox.as_deref().and_then(|mailbox| {
            let (local, domain) = mailbox.rsplit_once('@')?;
            let local = format!("{local}+{token}");
            (local.len() <= 64).then(|| format!("mailto:{local}@{domain}"))
        });
        ListUnsubscribe {
            https: format!("{}/unsubscribe?token={token}", cfg.server.base_url),
            mailto,
        }
    }

    /// The confirm link of subscriber `id`, valid [`CONFIRM_VALID_HOURS`] from `now`.
    #[must_use]
    pub fn confirm_link(&self, id: i64, email: &SubscriberEmail, now: i64) -> String {
        let expires_at = now + i64::from(CONFIRM_VALID_HOURS) * 3600;
        let token = self
            .links()
            .sign(LinkPurpose::Confirm, id, email, expires_at);
        format!("{}/confirm?token={token}", self.config().server.base_url)
    }

    /// Sends the confirmation emails due at `now` (at most 50 per call):
    /// `sent`, `skipped` (confirmed or unsubscribed meanwhile), `deferred`,
    /// `failed`, `suppressed`, `relay_down` or `policy_denied` (the region's
    /// policies refuse mail to its relay; recorded): the pass stops and the
    /// rest waits a minute.
    ///
    /// # Errors
    /// [`RuntimeError::Store`] or [`RuntimeError::Render`].
    pub async fn send_due_confirmations(&self, now: i64) -> Result<StageCounts, RuntimeError> {
        let mut counts = StageCounts::default();
        let store = self.store();
        for row in store.due_confirmations(now, CONFIRM_BATCH).await? {
            if !store
                .claim_confirmation(row.id, now, now + CONFIRM_LEASE_SECS)
                .await?
            {
                continue;
            }
            let outcome = self.send_confirmation(&row, now).await?;
            counts.add(outcome, 1);
            if outcome == "relay_down" || outcome == "policy_denied" {
                break;
            }
        }
        Ok(counts)
    }

    async fn send_confirmation(
        &self,
        row: &ConfirmationRow,
        now: i64,
    ) -> Result<&'static str, RuntimeError> {
        let store = self.store();
        let cfg = self.config();
        let Some(sub) = store.subscriber(row.subscriber_id).await? else {
            store
                .record_confirmation(row.id, ConfirmationOutcome::Skipped)
                .await?;
            return Ok("skipped");
        };
        // Only for someone who has not confirmed, or who asked again after
        // unsubscribing or being suppressed.
        let wanted = match sub.status {
            SubscriberStatus::Unconfirmed => true,
            SubscriberStatus::Confirmed => false,
            SubscriberStatus::Unsubscribed => {
                sub.unsubscribed_at.is_none_or(|t| t < row.requested_at)
            }
            SubscriberStatus::Suppressed => sub.suppressed_at.is_none_or(|t| t < row.requested_at),
        };
        if !wanted {
            store
                .record_confirmation(row.id, ConfirmationOutcome::Skipped)
                .await?;
            return Ok("skipped");
        }
        let locale = sub
            .locale
            .as_deref()
            .and_then(|l| Locale::parse(l).ok())
            .unwrap_or_else(|| cfg.locale.clone());
        let unsubscribe = self.unsubscribe_link(sub.id, &sub.email, now);
        let body = render_confirmation(&ConfirmationContext {
            locale,
            region_name: cfg.name.clone(),
            confirm_url: self.confirm_link(sub.id, &sub.email, now),
            unsubscribe_url: unsubscribe.https.clone(),
            valid_hours: CONFIRM_VALID_HOURS,
        })
        .map_err(|source| RuntimeError::Render {
            region: cfg.id.clone(),
            source,
        })?;
        let key = ContentHash::of_parts([
            b"confirmation".as_slice(),
            row.id.to_string().as_bytes(),
            sub.email.as_str().as_bytes(),
        ]);
        let email = OutgoingEmail {
            from: cfg.mail.from.clone(),
            reply_to: cfg.mail.reply_to.clone(),
            to: sub.email.clone(),
            subject: body.subject,
            html: body.html,
            text: body.text,
            message_id: meridian_mail::message_id("confirm", &key, &self.mail_domain()),
            headers: Vec::new(),
            list_unsubscribe: Some(unsubscribe),
        };
        let event = MailEvent {
            actor: "server",
            kind: MailKind::Confirmation,
            recipient: &sub.email,
            message_id: &email.message_id,
            outcome: MailOutcome::Sent,
            code: None,
            ai_labelled: false,
        };
        // Decide and record before sending; a denial waits like a relay that
        // is down (not counted as a try), and is never sent another way.
        if let Err(reason) = self.authorize_mail("server", MailKind::Confirmation).await {
            store
                .record_confirmation(
                    row.id,
                    ConfirmationOutcome::RelayDown(&reason, now + CONFIRM_RELAY_RETRY_SECS),
                )
                .await?;
            return Ok("policy_denied");
        }
        self.send_rate().acquire().await;
        let error = match self.mailer().send(&email).await {
            Ok(_) => {
                store
                    .record_confirmation(row.id, ConfirmationOutcome::Sent(now))
                    .await?;
                self.record_mail_event(&event.with_outcome(MailOutcome::Sent, None))
                    .await?;
                return Ok("sent");
            }
            Err(e) => e,
        };
        let reason = error.to_string();
        let (outcome, label) = match crate::deliver::classify_failure(&error) {
            crate::deliver::Failure::Transient(code) => {
                let tries = row.attempts + 1;
                if tries >= i64::from(cfg.mail.max_attempts) {
                    store
                        .record_confirmation(row.id, ConfirmationOutcome::Failed(&reason))
                        .await?;
                    (MailOutcome::DeadLettered, ("failed", code))
                } else {
                    let wait = in_run_wait(
                        cfg.mail.retry_delay,
                        u32::try_from(tries).unwrap_or(u32::MAX),
                    );
                    let at = now + i64::try_from(wait.as_secs()).unwrap_or(i64::MAX).max(60);
                    store
                        .record_confirmation(row.id, ConfirmationOutcome::RetryAt(&reason, at))
                        .await?;
                    (MailOutcome::Deferred, ("deferred", code))
                }
            }
            crate::deliver::Failure::AddressRefused(code) => {
                store
                    .record_confirmation(row.id, ConfirmationOutcome::Failed(&reason))
                    .await?;
                store
                    .update_subscriber_status(
                        sub.id,
                        SubscriberStatus::Suppressed,
                        Some(&code),
                        now,
                    )
                    .await?;
                self.record_subscription_change(
                    "server",
                    &sub.email,
                    SubscriptionChange::Suppressed,
                )
                .await?;
                (MailOutcome::Suppressed, ("suppressed", code))
            }
            crate::deliver::Failure::MessageRefused(code) => {
                tracing::warn!(region = %cfg.id, code, error = %reason, "Confirmation email refused permanently; given up.");
                store
                    .record_confirmation(row.id, ConfirmationOutcome::Failed(&reason))
                    .await?;
                (MailOutcome::Failed, ("failed", code))
            }
            crate::deliver::Failure::RelayDown(code) => {
                tracing::error!(region = %cfg.id, code, error = %reason, "The mail relay is unreachable or refuses us; confirmation emails wait.");
                store
                    .record_confirmation(
                        row.id,
                        ConfirmationOutcome::RelayDown(&reason, now + CONFIRM_RELAY_RETRY_SECS),
                    )
                    .await?;
                (MailOutcome::RelayDown, ("relay_down", code))
            }
        };
        self.record_mail_event(&event.with_outcome(outcome, Some(&label.1)))
            .await?;
        Ok(label.0)
    }
}
