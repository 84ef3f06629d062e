//! Subscribers: personal data, kept in the region's own store only.

use meridian_core::SubscriberEmail;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{RegionStore, StoreError};

/// A subscriber's consent state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberStatus {
    /// Signed up, confirmation pending (double opt-in).
    Unconfirmed,
    /// Receives digests.
    Confirmed,
    /// Receives nothing any more.
    Unsubscribed,
    /// A relay refused an email to the address permanently (5xx): it receives
    /// nothing more until it is confirmed again by a fresh double opt-in.
    Suppressed,
}

impl SubscriberStatus {
    /// Stored value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unconfirmed => "unconfirmed",
            Self::Confirmed => "confirmed",
            Self::Unsubscribed => "unsubscribed",
            Self::Suppressed => "suppressed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unconfirmed" => Self::Unconfirmed,
            "confirmed" => Self::Confirmed,
            "unsubscribed" => Self::Unsubscribed,
            "suppressed" => Self::Suppressed,
            _ => return None,
        })
    }
}

/// A subscriber as stored.
#[derive(Debug, Clone)]
pub struct SubscriberRow {
    /// Row id.
    pub id: i64,
    /// The address.
    pub email: SubscriberEmail,
    /// Consent state.
    pub status: SubscriberStatus,
    /// Preferred locale, when not the region's.
    pub locale: Option<String>,
    /// How they were added: `config`, `cli`, `web`.
    pub source: String,
    /// When they last confirmed (double opt-in), Unix seconds.
    pub confirmed_at: Option<i64>,
    /// When they last unsubscribed.
    pub unsubscribed_at: Option<i64>,
    /// When a relay last refused their address permanently.
    pub suppressed_at: Option<i64>,
}

impl RegionStore {
    fn subscriber_from_row(&self, r: &AnyRow) -> Result<SubscriberRow, StoreError> {
        let get = |e: sqlx::Error| self.corrupt("subscriber row", e);
        let email: String = r.try_get("email").map_err(get)?;
        let status: String = r.try_get("status").map_err(get)?;
        Ok(SubscriberRow {
            id: r.try_get("id").map_err(get)?,
            // Stored before the domain rules perhaps: read, never refused.
            email: SubscriberEmail::parse_existing(&email)
                .map_err(|e| self.corrupt("subscriber address", e.reason))?,
            status: SubscriberStatus::parse(&status)
                .ok_or_else(|| self.corrupt("subscriber status", &status))?,
            locale: r.try_get("locale").map_err(get)?,
            source: r.try_get("source").map_err(get)?,
            confirmed_at: r.try_get("confirmed_at").map_err(get)?,
            unsubscribed_at: r.try_get("unsubscribed_at").map_err(get)?,
            suppressed_at: r.try_get("suppressed_at").map_err(get)?,
        })
    }

    /// Adds a subscriber unless the address is already there (whatever its
    /// state: an unsubscribed address is not re-subscribed by a seed list).
    /// Returns the stored row and whether it was new.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn add_subscriber(
        &self,
        email: &SubscriberEmail,
        status: SubscriberStatus,
        locale: Option<&str>,
        source: &str,
        now: i64,
    ) -> Result<(SubscriberRow, bool), StoreError> {
        let confirmed_at = (status == SubscriberStatus::Confirmed).then_some(now);
        let inserted = sqlx::query(
            "INSERT INTO subscribers (email, status, locale, source, created_at, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(email.as_str())
        .bind(status.as_str())
        .bind(locale)
        .bind(source)
        .bind(now)
        .bind(confirmed_at)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err("adding a subscriber", e))?
        .rows_affected()
            > 0;
        let row = sqlx::query("SELECT id, email, status, locale, source, confirmed_at, unsubscribed_at, suppressed_at FROM subscribers WHERE email = $1")
            .bind(email.as_str())
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.query_err("reading a subscriber", e))?;
        Ok((self.subscriber_from_row(&row)?, inserted))
    }

    /// Subscribers in a state, by id.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn subscribers_with_status(
        &self,
        status: SubscriberStatus,
    ) -> Result<Vec<SubscriberRow>, StoreError> {
        let rows = sqlx::query("SELECT id, email, status, locale, source, confirmed_at, unsubscribed_at, suppressed_at FROM subscribers WHERE status = $1 ORDER BY id")
            .bind(status.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.query_err("listing subscribers", e))?;
        rows.iter().map(|r| self.subscriber_from_row(r)).collect()
    }

    /// Every subscriber, by id.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn list_subscribers(&self) -> Result<Vec<SubscriberRow>, StoreError> {
        let rows = sqlx::query("SELECT id, email, status, locale, source, confirmed_at, unsubscribed_at, suppressed_at FROM subscribers ORDER BY id")
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.query_err("listing subscribers", e))?;
        rows.iter().map(|r| self.subscriber_from_row(r)).collect()
    }

    /// Changes a subscriber's state. Returns whether the address exists.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn set_subscriber_status(
        &self,
        email: &SubscriberEmail,
        status: SubscriberStatus,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE subscribers SET status = $1, \
             confirmed_at = CASE WHEN $1 = 'confirmed' THEN $2 ELSE confirmed_at END, \
             unsubscribed_at = CASE WHEN $1 = 'unsubscribed' THEN $2 ELSE unsubscribed_at END WHERE email = $3",
        )
        .bind(status.as_str())
        .bind(now)
        .bind(email.as_str())
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err("updating a subscriber", e))?
        .rows_affected();
        Ok(n > 0)
    }
}

impl RegionStore {
    /// The subscriber with row id `id`, if any.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn subscriber(&self, id: i64) -> Result<Option<SubscriberRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, status, locale, source, confirmed_at, unsubscribed_at, suppressed_at FROM subscribers WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_err(format!("reading subscriber {id}"), e))?;
        row.map(|r| self.subscriber_from_row(&r)).transpose()
    }

    /// The subscriber with address `email`, if any.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn subscriber_by_email(
        &self,
        email: &SubscriberEmail,
    ) -> Result<Option<SubscriberRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, status, locale, source, confirmed_at, unsubscribed_at, suppressed_at FROM subscribers WHERE email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_err("reading a subscriber", e))?;
        row.map(|r| self.subscriber_from_row(&r)).transpose()
    }

    /// Moves subscriber `id` to `status` at `now`, stamping the matching time
    /// column (`confirmed_at`, `unsubscribed_at` or `suppressed_at`); `reason`
    /// is kept for `suppressed` (the relay's reply code). Returns whether the
    /// subscriber exists.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn update_subscriber_status(
        &self,
        id: i64,
        status: SubscriberStatus,
        reason: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE subscribers SET status = $1, \
             confirmed_at = CASE WHEN $1 = 'confirmed' THEN $2 ELSE confirmed_at END, \
             unsubscribed_at = CASE WHEN $1 = 'unsubscribed' THEN $2 ELSE unsubscribed_at END, \
             suppressed_at = CASE WHEN $1 = 'suppressed' THEN $2 ELSE suppressed_at END, \
             suppression_reason = CASE WHEN $1 = 'suppressed' THEN $3 ELSE suppression_reason END \
             WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("updating subscriber {id}"), e))?
        .rows_affected();
        Ok(n > 0)
    }
}
