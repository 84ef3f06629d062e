//! Deliveries: one row per (digest, subscriber), the idempotency key of a digest email.

use sqlx::Row as _;

use crate::{RegionStore, StoreError};

/// The outcome of claiming a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// Not sent yet: go ahead and send it with this Message-ID.
    Send {
        /// The deterministic Message-ID recorded with the claim.
        message_id: String,
        /// Attempts made before this one.
        attempts: i64,
    },
    /// Already sent: do nothing.
    AlreadySent,
}

/// A delivery as stored.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// Digest row id.
    pub digest_id: i64,
    /// Subscriber row id.
    pub subscriber_id: i64,
    /// Message-ID.
    pub message_id: String,
    /// `pending`, `sent`, `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Transport description once sent.
    pub transport: Option<String>,
}

impl RegionStore {
    /// Claims the (digest, subscriber) key before sending: the first claim
    /// inserts it; later claims see whether it was sent.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn claim_delivery(&self, digest_id: i64, subscriber_id: i64, message_id: &str, now: i64) -> Result<DeliveryClaim, StoreError> {
        let what = || format!("claiming delivery of digest {digest_id} to subscriber {subscriber_id}");
        sqlx::query(
            "INSERT INTO deliveries (digest_id, subscriber_id, message_id, status, claimed_at) VALUES ($1, $2, $3, 'pending', $4) \
             ON CONFLICT (digest_id, subscriber_id) DO NOTHING",
        )
        .bind(digest_id)
        .bind(subscriber_id)
        .bind(message_id)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(what(), e))?;
        let r = sqlx::query("SELECT message_id, status, attempts FROM deliveries WHERE digest_id = $1 AND subscriber_id = $2")
            .bind(digest_id)
            .bind(subscriber_id)
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.query_err(what(), e))?;
        let get = |e: sqlx::Error| self.corrupt("delivery row", e);
        let status: String = r.try_get("status").map_err(get)?;
        if status == "sent" {
            return Ok(DeliveryClaim::AlreadySent);
        }
        Ok(DeliveryClaim::Send { message_id: r.try_get("message_id").map_err(get)?, attempts: r.try_get("attempts").map_err(get)? })
    }

    /// Marks a delivery sent.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn mark_delivery_sent(&self, digest_id: i64, subscriber_id: i64, transport: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = $1, transport = $2, last_error = NULL \
             WHERE digest_id = $3 AND subscriber_id = $4",
        )
        .bind(now)
        .bind(transport)
        .bind(digest_id)
        .bind(subscriber_id)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err("marking a delivery sent", e))?;
        Ok(())
    }

    /// Records a failed attempt; `permanent` marks it `failed` (no more tries).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn mark_delivery_failed(&self, digest_id: i64, subscriber_id: i64, error: &str, permanent: bool) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $1, status = CASE WHEN $2 = 1 THEN 'failed' ELSE status END \
             WHERE digest_id = $3 AND subscriber_id = $4",
        )
        .bind(error)
        .bind(i64::from(permanent))
        .bind(digest_id)
        .bind(subscriber_id)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err("recording a failed delivery", e))?;
        Ok(())
    }

    /// Every delivery of a digest.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn deliveries_of(&self, digest_id: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        sqlx::query(
            "SELECT digest_id, subscriber_id, message_id, status, attempts, transport FROM deliveries WHERE digest_id = $1 ORDER BY subscriber_id",
        )
        .bind(digest_id)
        .try_map(|r: sqlx::any::AnyRow| {
            Ok(DeliveryRow {
                digest_id: r.try_get("digest_id")?,
                subscriber_id: r.try_get("subscriber_id")?,
                message_id: r.try_get("message_id")?,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                transport: r.try_get("transport")?,
            })
        })
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("listing deliveries", e))
    }
}
