//! What happens to each email and each subscription, as the region records
//! it: the two hooks every send and every consent change pass through.
//!
//! Addresses are personal data: the hooks receive the address, and what they
//! write carries only a keyed hash of it: in the region's audit log
//! (`email_send` and `subscription_change` records) the audit log's own
//! [`meridian_audit::AuditLog::keyed_hash`], in the structured log event
//! (target `meridian::mail`) [`Region::recipient_hash`]. A record that cannot
//! be appended is an error of the call site (the audit log must show what
//! happened).

use meridian_audit::AuditEvent;
use meridian_core::SubscriberEmail;

use crate::{Region, RuntimeError};

/// Which email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A daily digest.
    Digest,
    /// A double opt-in confirmation request.
    Confirmation,
}

impl MailKind {
    /// `digest` or `confirmation`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Digest => "digest",
            Self::Confirmation => "confirmation",
        }
    }
}

/// What became of one try of an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutcome {
    /// Accepted by the relay or written to the outbox.
    Sent,
    /// A temporary (4xx) refusal: tried again later.
    Deferred,
    /// The relay could not be reached: tried again on the next run.
    RelayDown,
    /// Out of tries: dead-lettered.
    DeadLettered,
    /// A permanent (5xx) refusal: the address is suppressed.
    Suppressed,
    /// Cannot be sent as it is (message or configuration): given up.
    Failed,
}

impl MailOutcome {
    /// The outcome's name in logs and the audit log.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Deferred => "deferred",
            Self::RelayDown => "relay_down",
            Self::DeadLettered => "dead_lettered",
            Self::Suppressed => "suppressed",
            Self::Failed => "failed",
        }
    }
}

/// One try of one email.
#[derive(Debug, Clone, Copy)]
pub struct MailEvent<'a> {
    /// `delivery` (the daily run) or `server` (confirmation emails).
    pub actor: &'static str,
    /// Which email.
    pub kind: MailKind,
    /// The recipient. Never written out as is.
    pub recipient: &'a SubscriberEmail,
    /// The email's `Message-ID`.
    pub message_id: &'a str,
    /// What became of it.
    pub outcome: MailOutcome,
    /// The relay's reply code or failure kind (`451`, `connection`), never
    /// the reply text (which may quote the address).
    pub code: Option<&'a str>,
    /// Whether the email carried the region's AI-generated-content label.
    pub ai_labelled: bool,
}

impl<'a> MailEvent<'a> {
    /// The same email with another outcome and code.
    #[must_use]
    pub fn with_outcome<'b>(self, outcome: MailOutcome, code: Option<&'b str>) -> MailEvent<'b>
    where
        'a: 'b,
    {
        MailEvent {
            actor: self.actor,
            kind: self.kind,
            recipient: self.recipient,
            message_id: self.message_id,
            outcome,
            code,
            ai_labelled: self.ai_labelled,
        }
    }
}

/// A change of a subscriber's consent state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionChange {
    /// Asked to subscribe (a confirmation email is queued).
    SignedUp,
    /// Confirmed through the emailed link.
    Confirmed,
    /// Unsubscribed (one-click, page, mail or operator).
    Unsubscribed,
    /// Suppressed after a permanent refusal by a relay.
    Suppressed,
}

impl SubscriptionChange {
    /// `signed_up`, `confirmed`, `unsubscribed` or `suppressed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedUp => "signed_up",
            Self::Confirmed => "confirmed",
            Self::Unsubscribed => "unsubscribed",
            Self::Suppressed => "suppressed",
        }
    }
}

impl Region {
    /// The keyed hash that stands for `email` in everything the region
    /// writes about it (logs, records): `hmac-sha256:…` under the region's
    /// link secret.
    #[must_use]
    pub fn recipient_hash(&self, email: &SubscriberEmail) -> String {
        self.links().recipient_hash(email)
    }

    /// Records one try of one email. Every send of the region, digest or
    /// confirmation, calls this once with its outcome: an `email_send` audit
    /// record with the keyed hash of the address (never the address, nor the
    /// `Message-ID`, which names a domain after an `@`).
    ///
    /// # Errors
    /// [`RuntimeError::Audit`] when the record cannot be appended.
    pub async fn record_mail_event(&self, event: &MailEvent<'_>) -> Result<(), RuntimeError> {
        let audit = self.audit();
        let mut record = AuditEvent::email_send(
            event.actor,
            &audit.keyed_hash(event.recipient.as_str()),
            event.outcome.as_str(),
            event.ai_labelled,
        )
        .with_host(self.gate().facts().mail_relay.clone())
        .with_detail("kind", event.kind.as_str());
        if let Some(code) = event.code {
            record = record.with_detail("code", code);
        }
        audit
            .record(record)
            .await
            .map_err(|source| self.audit_error(source))?;
        let recipient = self.recipient_hash(event.recipient);
        tracing::info!(
            target: "meridian::mail",
            region = %self.config().id,
            actor = event.actor,
            kind = event.kind.as_str(),
            outcome = event.outcome.as_str(),
            recipient.hash = %recipient,
            recipient.domain = %event.recipient.domain(),
            message_id = %event.message_id,
            code = event.code.unwrap_or(""),
            ai_labelled = event.ai_labelled,
            "Email {}.",
            event.outcome.as_str()
        );
        Ok(())
    }

    /// Records a change of a subscriber's consent state by `actor`
    /// (`server`, `delivery`, `cli`): a `subscription_change` audit record
    /// with the keyed hash of the address.
    ///
    /// # Errors
    /// [`RuntimeError::Audit`] when the record cannot be appended.
    pub async fn record_subscription_change(
        &self,
        actor: &'static str,
        subscriber: &SubscriberEmail,
        change: SubscriptionChange,
    ) -> Result<(), RuntimeError> {
        let audit = self.audit();
        audit
            .record(AuditEvent::subscription_change(
                actor,
                &audit.keyed_hash(subscriber.as_str()),
                change.as_str(),
            ))
            .await
            .map_err(|source| self.audit_error(source))?;
        let subscriber = self.recipient_hash(subscriber);
        tracing::info!(
            target: "meridian::mail",
            region = %self.config().id,
            actor,
            change = change.as_str(),
            subscriber.hash = %subscriber,
            "Subscription {}.",
            change.as_str()
        );
        Ok(())
    }
}
