//! The `feeds` table: the region's podcast list and each feed's polling state.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{RegionStore, StoreError};

/// A feed as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRow {
    /// Row id.
    pub id: i64,
    /// Current URL (updated on permanent redirects).
    pub url: String,
    /// Title from the last successful fetch (or the OPML).
    pub title: Option<String>,
    /// How it was added: `opml`, `cli`, `api`, `demo`.
    pub source: String,
    /// `ETag` of the last stored fetch.
    pub etag: Option<String>,
    /// `Last-Modified` of the last stored fetch.
    pub last_modified: Option<String>,
    /// When it was last fetched (Unix seconds).
    pub last_fetched_at: Option<i64>,
    /// When it is due again (Unix seconds).
    pub next_check_at: i64,
    /// Consecutive failures.
    pub failure_count: i64,
    /// Stable kind of the last failure (`timeout`, `not_found`…).
    pub last_failure_kind: Option<String>,
    /// The last error message.
    pub last_error: Option<String>,
    /// Disabled (410 Gone, or by an operator).
    pub disabled: bool,
    /// The publisher asked not to be ingested (`podcast:block`).
    pub blocked: bool,
    /// Successful fetches so far (0: never fetched).
    pub fetch_count: i64,
}

/// What a successful fetch changes.
#[derive(Debug, Clone, Default)]
pub struct FeedSuccess<'a> {
    /// New title.
    pub title: Option<&'a str>,
    /// New `ETag`.
    pub etag: Option<&'a str>,
    /// New `Last-Modified`.
    pub last_modified: Option<&'a str>,
    /// Moved permanently to this URL.
    pub new_url: Option<&'a str>,
    /// The feed says `podcast:block`.
    pub blocked: bool,
    /// When to check again.
    pub next_check_at: i64,
}

/// What a failed fetch records.
#[derive(Debug, Clone)]
pub struct FeedFailure<'a> {
    /// Stable failure kind.
    pub kind: &'a str,
    /// Message.
    pub error: &'a str,
    /// When to try again.
    pub next_check_at: i64,
    /// Disable the feed (410 Gone).
    pub disable: bool,
}

/// The column list of [`FeedRow`], as a literal so queries stay `concat!`-built constants.
macro_rules! feed_columns {
    () => {
        "id, url, title, source, etag, last_modified, last_fetched_at, next_check_at, \
         failure_count, last_failure_kind, last_error, disabled, blocked, fetch_count"
    };
}

fn feed_from_row(r: &AnyRow) -> Result<FeedRow, sqlx::Error> {
    Ok(FeedRow {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        title: r.try_get("title")?,
        source: r.try_get("source")?,
        etag: r.try_get("etag")?,
        last_modified: r.try_get("last_modified")?,
        last_fetched_at: r.try_get("last_fetched_at")?,
        next_check_at: r.try_get("next_check_at")?,
        failure_count: r.try_get("failure_count")?,
        last_failure_kind: r.try_get("last_failure_kind")?,
        last_error: r.try_get("last_error")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        blocked: r.try_get::<i64, _>("blocked")? != 0,
        fetch_count: r.try_get("fetch_count")?,
    })
}

impl RegionStore {
    /// Adds a feed unless its URL is already there; returns the stored row and
    /// whether it was new. Idempotent.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn add_feed(
        &self,
        url: &str,
        title: Option<&str>,
        source: &str,
        now: i64,
    ) -> Result<(FeedRow, bool), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO feeds (url, title, source, added_at) VALUES ($1, $2, $3, $4) ON CONFLICT (url) DO NOTHING",
        )
        .bind(url)
        .bind(title)
        .bind(source)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("adding feed {url}"), e))?
        .rows_affected()
            > 0;
        let row = self
            .feed_by_url(url)
            .await?
            .ok_or_else(|| self.corrupt(format!("feed {url}"), "vanished after insert"))?;
        Ok((row, inserted))
    }

    /// The feed with this URL.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn feed_by_url(&self, url: &str) -> Result<Option<FeedRow>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            feed_columns!(),
            " FROM feeds WHERE url = $1"
        ))
        .bind(url)
        .try_map(|r: AnyRow| feed_from_row(&r))
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_err(format!("reading feed {url}"), e))
    }

    /// The feed with this id.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn feed(&self, feed_id: i64) -> Result<Option<FeedRow>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            feed_columns!(),
            " FROM feeds WHERE id = $1"
        ))
        .bind(feed_id)
        .try_map(|r: AnyRow| feed_from_row(&r))
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_err(format!("reading feed {feed_id}"), e))
    }

    /// Every feed, by id.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn list_feeds(&self) -> Result<Vec<FeedRow>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            feed_columns!(),
            " FROM feeds ORDER BY id"
        ))
        .try_map(|r: AnyRow| feed_from_row(&r))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("listing feeds", e))
    }

    /// Feeds due for a check at `now`: enabled, not blocked, `next_check_at <= now`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn feeds_due(&self, now: i64) -> Result<Vec<FeedRow>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            feed_columns!(),
            " FROM feeds WHERE disabled = 0 AND blocked = 0 AND next_check_at <= $1 ORDER BY next_check_at, id"
        ))
            .bind(now)
            .try_map(|r: AnyRow| feed_from_row(&r))
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.query_err("listing feeds due", e))
    }

    /// Removes a feed and everything stored under it. Returns whether it existed.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn remove_feed(&self, url: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM feeds WHERE url = $1")
            .bind(url)
            .execute(self.pool())
            .await
            .map_err(|e| self.query_err(format!("removing feed {url}"), e))?
            .rows_affected();
        Ok(n > 0)
    }

    /// Records a successful fetch (call only after its episodes are stored, so
    /// that a crash before this point fetches the same content again).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn record_feed_success(
        &self,
        feed_id: i64,
        s: &FeedSuccess<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE feeds SET title = COALESCE($1, title), etag = $2, last_modified = $3, url = COALESCE($4, url), \
             blocked = $5, next_check_at = $6, last_fetched_at = $7, failure_count = 0, last_failure_kind = NULL, \
             last_error = NULL, fetch_count = fetch_count + 1 WHERE id = $8",
        )
        .bind(s.title)
        .bind(s.etag)
        .bind(s.last_modified)
        .bind(s.new_url)
        .bind(i64::from(s.blocked))
        .bind(s.next_check_at)
        .bind(now)
        .bind(feed_id)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("recording the fetch of feed {feed_id}"), e))?;
        Ok(())
    }

    /// Records a `304 Not Modified`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn record_feed_not_modified(
        &self,
        feed_id: i64,
        next_check_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE feeds SET next_check_at = $1, last_fetched_at = $2, failure_count = 0, last_failure_kind = NULL, \
             last_error = NULL WHERE id = $3",
        )
        .bind(next_check_at)
        .bind(now)
        .bind(feed_id)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("recording the check of feed {feed_id}"), e))?;
        Ok(())
    }

    /// Records a failed fetch: one more failure, its kind and message, the next try.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn record_feed_failure(
        &self,
        feed_id: i64,
        f: &FeedFailure<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE feeds SET failure_count = failure_count + 1, last_failure_kind = $1, last_error = $2, \
             next_check_at = $3, last_fetched_at = $4, disabled = CASE WHEN $5 = 1 THEN 1 ELSE disabled END WHERE id = $6",
        )
        .bind(f.kind)
        .bind(f.error)
        .bind(f.next_check_at)
        .bind(now)
        .bind(i64::from(f.disable))
        .bind(feed_id)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("recording the failure of feed {feed_id}"), e))?;
        Ok(())
    }
}
