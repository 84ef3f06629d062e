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
    /// Given up: refused permanently (`failed`) or out of tries (`dead`).
    GivenUp {
        /// `failed` or `dead`.
        status: String,
    },
    /// Waiting: a temporary failure asked for a later try, or another worker
    /// holds the claim, until this time.
    NotYet {
        /// Unix seconds.
        next_attempt_at: i64,
    },
}

/// How long a claim is held while its email is being sent: a worker that
/// dies mid-send leaves the delivery to others only after this, so that two
/// workers (replicas) never send the same email at the same time. The daily
/// run's delivery job releases the claims of a worker known to be dead
/// sooner ([`RegionStore::release_delivery_leases`]).
pub const DELIVERY_LEASE_SECS: i64 = 600;

/// What follows a failed delivery attempt; see [`RegionStore::record_delivery_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryRetry {
    /// Counted as a try; not before this time (Unix seconds).
    At(i64),
    /// Not counted (the relay was unreachable); whenever the next run comes.
    Now,
    /// Out of tries: dead-lettered.
    Never,
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
    /// `pending`, `sent`, `failed` (refused permanently) or `dead` (out of tries).
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Transport description once sent.
    pub transport: Option<String>,
    /// The last error, without the recipient's address.
    pub last_error: Option<String>,
    /// No try before this time (Unix seconds), when set.
    pub next_attempt_at: Option<i64>,
}

impl RegionStore {
    /// Claims the (digest, subscriber) key before sending: the first claim
    /// inserts it; a later claim takes it when it is still pending and due.
    /// Taking it holds it for [`DELIVERY_LEASE_SECS`], so that another
    /// worker claiming meanwhile gets [`DeliveryClaim::NotYet`].
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn claim_delivery(
        &self,
        digest_id: i64,
        subscriber_id: i64,
        message_id: &str,
        now: i64,
    ) -> Result<DeliveryClaim, StoreError> {
        let what =
            || format!("claiming delivery of digest {digest_id} to subscriber {subscriber_id}");
        let lease = now + DELIVERY_LEASE_SECS;
        let inserted = sqlx::query(
            "INSERT INTO deliveries (digest_id, subscriber_id, message_id, status, claimed_at, lease_until) \
             VALUES ($1, $2, $3, 'pending', $4, $5) ON CONFLICT (digest_id, subscriber_id) DO NOTHING",
        )
        .bind(digest_id)
        .bind(subscriber_id)
        .bind(message_id)
        .bind(now)
        .bind(lease)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(what(), e))?
        .rows_affected()
            > 0;
        let taken = inserted
            || sqlx::query(
                "UPDATE deliveries SET lease_until = $1 WHERE digest_id = $2 AND subscriber_id = $3 \
                 AND status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= $4) \
                 AND (lease_until IS NULL OR lease_until <= $4)",
            )
            .bind(lease)
            .bind(digest_id)
            .bind(subscriber_id)
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(|e| self.query_err(what(), e))?
            .rows_affected()
                > 0;
        let r = sqlx::query(
            "SELECT message_id, status, attempts, next_attempt_at, lease_until FROM deliveries WHERE digest_id = $1 AND subscriber_id = $2",
        )
        .bind(digest_id)
        .bind(subscriber_id)
        .fetch_one(self.pool())
        .await
        .map_err(|e| self.query_err(what(), e))?;
        let get = |e: sqlx::Error| self.corrupt("delivery row", e);
        let status: String = r.try_get("status").map_err(get)?;
        match status.as_str() {
            "sent" => Ok(DeliveryClaim::AlreadySent),
            "pending" if taken => Ok(DeliveryClaim::Send {
                message_id: r.try_get("message_id").map_err(get)?,
                attempts: r.try_get("attempts").map_err(get)?,
            }),
            "pending" => {
                let retry: Option<i64> = r.try_get("next_attempt_at").map_err(get)?;
                let lease: Option<i64> = r.try_get("lease_until").map_err(get)?;
                Ok(DeliveryClaim::NotYet {
                    next_attempt_at: retry.max(lease).unwrap_or(now),
                })
            }
            _ => Ok(DeliveryClaim::GivenUp { status }),
        }
    }

    /// Marks a delivery sent.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn mark_delivery_sent(
        &self,
        digest_id: i64,
        subscriber_id: i64,
        transport: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = $1, transport = $2, last_error = NULL, lease_until = NULL \
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

    /// Records a failed attempt; `permanent` marks it `failed` (no more tries),
    /// otherwise it may be claimed again at once.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn mark_delivery_failed(
        &self,
        digest_id: i64,
        subscriber_id: i64,
        error: &str,
        permanent: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $1, next_attempt_at = NULL, lease_until = NULL, \
             status = CASE WHEN $2 = 1 THEN 'failed' ELSE status END \
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

    /// Records a failed attempt and what follows from it.
    ///
    /// - [`DeliveryRetry::At`]: a temporary failure that counts as a try; the
    ///   delivery stays `pending`, not to be claimed before that time.
    /// - [`DeliveryRetry::Now`]: the relay could not be reached; the try does
    ///   not count against the address and the next run may claim it at once.
    /// - [`DeliveryRetry::Never`]: out of tries, the delivery is `dead`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn record_delivery_failure(
        &self,
        digest_id: i64,
        subscriber_id: i64,
        error: &str,
        retry: DeliveryRetry,
    ) -> Result<(), StoreError> {
        let (counts, status, next) = match retry {
            DeliveryRetry::At(at) => (1_i64, "pending", Some(at)),
            DeliveryRetry::Now => (0, "pending", None),
            DeliveryRetry::Never => (1, "dead", None),
        };
        sqlx::query(
            "UPDATE deliveries SET attempts = attempts + $1, last_error = $2, status = $3, next_attempt_at = $4, lease_until = NULL \
             WHERE digest_id = $5 AND subscriber_id = $6",
        )
        .bind(counts)
        .bind(error)
        .bind(status)
        .bind(next)
        .bind(digest_id)
        .bind(subscriber_id)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err("recording a failed delivery", e))?;
        Ok(())
    }

    /// Releases the claims held on digest `digest_id`'s pending deliveries
    /// (not their retry times): for the one worker that holds the digest's
    /// delivery job after the previous holder died mid-send. Returns how many
    /// were released. A claim whose email the relay had accepted just before
    /// the crash, but which was not yet marked sent, is sent again, with the
    /// same `Message-ID`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn release_delivery_leases(&self, digest_id: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE deliveries SET lease_until = NULL WHERE digest_id = $1 AND status = 'pending' \
             AND lease_until IS NOT NULL",
        )
        .bind(digest_id)
        .execute(self.pool())
        .await
        .map_err(|e| {
            self.query_err(
                format!("releasing the delivery claims of digest {digest_id}"),
                e,
            )
        })?
        .rows_affected())
    }

    /// Confirmed subscribers still waiting for digest `digest_id`: no
    /// delivery row yet, or one still `pending` (claimed by a process that
    /// died, refused temporarily, or held back by a relay outage). A rerun
    /// of the day delivers to them.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn subscribers_waiting_for(&self, digest_id: i64) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM subscribers s WHERE s.status = 'confirmed' AND NOT EXISTS \
             (SELECT 1 FROM deliveries d WHERE d.digest_id = $1 AND d.subscriber_id = s.id AND d.status <> 'pending')",
        )
        .bind(digest_id)
        .fetch_one(self.pool())
        .await
        .map_err(|e| {
            self.query_err(
                format!("counting subscribers waiting for digest {digest_id}"),
                e,
            )
        })
    }

    /// Every delivery of a digest.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn deliveries_of(&self, digest_id: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        sqlx::query(
            "SELECT digest_id, subscriber_id, message_id, status, attempts, transport, last_error, next_attempt_at \
             FROM deliveries WHERE digest_id = $1 ORDER BY subscriber_id",
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
                last_error: r.try_get("last_error")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
            })
        })
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("listing deliveries", e))
    }
}
