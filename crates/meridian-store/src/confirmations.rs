//! Confirmation emails (double opt-in): a durable queue of emails to send.
//!
//! A sign-up queues a row; a worker claims due rows, sends, and records the
//! outcome. Claiming holds a row for a lease, so replicas sharing the
//! database do not send the same confirmation twice at once.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{RegionStore, StoreError};

/// A queued confirmation email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationRow {
    /// Row id.
    pub id: i64,
    /// The subscriber it confirms.
    pub subscriber_id: i64,
    /// When it was asked for (Unix seconds).
    pub requested_at: i64,
    /// `pending`, `sent`, `failed` (given up) or `skipped` (nothing to confirm
    /// any more by the time it was due).
    pub status: String,
    /// Tries so far.
    pub attempts: i64,
    /// Not before this time.
    pub next_attempt_at: i64,
    /// The last error, without the recipient's address.
    pub last_error: Option<String>,
}

/// The outcome of one try of a confirmation email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationOutcome<'a> {
    /// Accepted by the relay (or written to the outbox) at this time.
    Sent(i64),
    /// Not sent, and nothing to send any more (the address was confirmed,
    /// unsubscribed or suppressed meanwhile).
    Skipped,
    /// A temporary failure counted as a try: again at this time.
    RetryAt(&'a str, i64),
    /// The relay could not be reached: again at this time, not counted.
    RelayDown(&'a str, i64),
    /// Given up: refused permanently or out of tries.
    Failed(&'a str),
}

impl RegionStore {
    fn confirmation_from_row(&self, r: &AnyRow) -> Result<ConfirmationRow, StoreError> {
        let get = |e: sqlx::Error| self.corrupt("confirmation email row", e);
        Ok(ConfirmationRow {
            id: r.try_get("id").map_err(get)?,
            subscriber_id: r.try_get("subscriber_id").map_err(get)?,
            requested_at: r.try_get("requested_at").map_err(get)?,
            status: r.try_get("status").map_err(get)?,
            attempts: r.try_get("attempts").map_err(get)?,
            next_attempt_at: r.try_get("next_attempt_at").map_err(get)?,
            last_error: r.try_get("last_error").map_err(get)?,
        })
    }

    /// Queues a confirmation email to subscriber `subscriber_id`, unless one
    /// was already asked for after `not_since` (a cool-down, so a form
    /// submitted again and again does not flood the address). Returns whether
    /// one was queued.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn queue_confirmation(
        &self,
        subscriber_id: i64,
        now: i64,
        not_since: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO confirmation_emails (subscriber_id, requested_at, status, attempts, next_attempt_at) \
             SELECT $1, $2, 'pending', 0, $2 WHERE NOT EXISTS \
             (SELECT 1 FROM confirmation_emails WHERE subscriber_id = $1 AND requested_at > $3)",
        )
        .bind(subscriber_id)
        .bind(now)
        .bind(not_since)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("queueing a confirmation email to subscriber {subscriber_id}"), e))?
        .rows_affected();
        Ok(n > 0)
    }

    /// Pending confirmation emails due at `now`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn due_confirmations(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<ConfirmationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, subscriber_id, requested_at, status, attempts, next_attempt_at, last_error FROM confirmation_emails \
             WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("listing due confirmation emails", e))?;
        rows.iter().map(|r| self.confirmation_from_row(r)).collect()
    }

    /// Every confirmation email of a subscriber, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn confirmations_of(
        &self,
        subscriber_id: i64,
    ) -> Result<Vec<ConfirmationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, subscriber_id, requested_at, status, attempts, next_attempt_at, last_error FROM confirmation_emails \
             WHERE subscriber_id = $1 ORDER BY id",
        )
        .bind(subscriber_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err(format!("listing confirmation emails of subscriber {subscriber_id}"), e))?;
        rows.iter().map(|r| self.confirmation_from_row(r)).collect()
    }

    /// Takes confirmation email `id` if it is still pending and due at `now`,
    /// holding it until `lease_until`. Returns whether this caller got it.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn claim_confirmation(
        &self,
        id: i64,
        now: i64,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE confirmation_emails SET next_attempt_at = $1 WHERE id = $2 AND status = 'pending' AND next_attempt_at <= $3",
        )
        .bind(lease_until)
        .bind(id)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("claiming confirmation email {id}"), e))?
        .rows_affected();
        Ok(n > 0)
    }

    /// Records the outcome of a try of confirmation email `id`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn record_confirmation(
        &self,
        id: i64,
        outcome: ConfirmationOutcome<'_>,
    ) -> Result<(), StoreError> {
        // (status, counts as a try, error, next attempt, sent at)
        let (status, counts, error, next, sent_at): (
            &str,
            i64,
            Option<&str>,
            Option<i64>,
            Option<i64>,
        ) = match outcome {
            ConfirmationOutcome::Sent(at) => ("sent", 1, None, None, Some(at)),
            ConfirmationOutcome::Skipped => ("skipped", 0, None, None, None),
            ConfirmationOutcome::RetryAt(e, at) => ("pending", 1, Some(e), Some(at), None),
            ConfirmationOutcome::RelayDown(e, at) => ("pending", 0, Some(e), Some(at), None),
            ConfirmationOutcome::Failed(e) => ("failed", 1, Some(e), None, None),
        };
        sqlx::query(
            "UPDATE confirmation_emails SET status = $1, attempts = attempts + $2, last_error = COALESCE($3, last_error), \
             next_attempt_at = COALESCE($4, next_attempt_at), sent_at = COALESCE($5, sent_at) WHERE id = $6",
        )
        .bind(status)
        .bind(counts)
        .bind(error)
        .bind(next)
        .bind(sent_at)
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("recording confirmation email {id}"), e))?;
        Ok(())
    }
}
