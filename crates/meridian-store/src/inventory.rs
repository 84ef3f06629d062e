//! Read-only counts of what a region holds, for the compliance audit report.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{RegionStore, StoreError};

/// How many rows of one kind of data a region holds, and how far back it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryItem {
    /// What: `feeds`, `episodes`, `transcripts`, `insights`, `digests`,
    /// `subscribers`, `deliveries`, `model_calls`, `runs`, `audit_records`.
    pub category: &'static str,
    /// The data class of its contents: `public`, `derived`, `personal`, or
    /// `operational` (accounting about the service itself).
    pub data_class: &'static str,
    /// Rows in total.
    pub total: i64,
    /// Rows created in the period asked for.
    pub in_period: i64,
    /// The oldest row's creation time (Unix seconds).
    pub oldest_at: Option<i64>,
    /// The newest row's creation time (Unix seconds).
    pub newest_at: Option<i64>,
}

/// Counts by a status column, in total and for rows whose time column falls in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    /// The status value.
    pub status: String,
    /// Rows in total.
    pub total: i64,
    /// Rows in the period.
    pub in_period: i64,
}

/// Subscriber consent figures for a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentCounts {
    /// Subscribers by current status (`unconfirmed`, `confirmed`, `unsubscribed`).
    pub by_status: Vec<StatusCount>,
    /// Subscribers who signed up in the period.
    pub signed_up: i64,
    /// Subscribers who confirmed (gave consent) in the period.
    pub confirmed: i64,
    /// Subscribers who unsubscribed in the period.
    pub unsubscribed: i64,
}

/// Model calls of one model with one outcome in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCallCount {
    /// Model entry name.
    pub model: String,
    /// Provider type.
    pub provider: String,
    /// Where it ran.
    pub hosted_in: String,
    /// `ok`, `error`…
    pub outcome: String,
    /// Calls.
    pub calls: i64,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
}

/// `SELECT` of count, in-period count, oldest and newest of one table by one
/// time column; built at compile time so that no SQL is assembled at run time.
macro_rules! inventory_sql {
    ($table:literal, $col:literal) => {
        concat!(
            "SELECT COUNT(*) AS n, COUNT(CASE WHEN ",
            $col,
            " >= $1 AND ",
            $col,
            " < $2 THEN 1 END) AS p, ",
            "MIN(",
            $col,
            ") AS lo, MAX(",
            $col,
            ") AS hi FROM ",
            $table
        )
    };
}

/// (category, data class, query) of every inventory line, in report order.
const INVENTORY: [(&str, &str, &str); 10] = [
    ("feeds", "public", inventory_sql!("feeds", "added_at")),
    (
        "episodes",
        "public",
        inventory_sql!("episodes", "first_seen_at"),
    ),
    (
        "transcripts",
        "public",
        inventory_sql!("transcripts", "created_at"),
    ),
    (
        "insights",
        "derived",
        inventory_sql!("insights", "created_at"),
    ),
    (
        "digests",
        "derived",
        inventory_sql!("digests", "created_at"),
    ),
    (
        "subscribers",
        "personal",
        inventory_sql!("subscribers", "created_at"),
    ),
    (
        "deliveries",
        "personal",
        inventory_sql!("deliveries", "claimed_at"),
    ),
    (
        "model_calls",
        "operational",
        inventory_sql!("model_calls", "at"),
    ),
    ("runs", "operational", inventory_sql!("runs", "started_at")),
    (
        "audit_records",
        "operational",
        inventory_sql!("audit_log", "at"),
    ),
];

impl RegionStore {
    /// What the region holds: one line per kind of data, with the rows created
    /// in `[from_at, to_at)` and the oldest and newest row (retention evidence).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn data_inventory(
        &self,
        from_at: i64,
        to_at: i64,
    ) -> Result<Vec<InventoryItem>, StoreError> {
        let mut out = Vec::with_capacity(INVENTORY.len());
        for (category, data_class, sql) in INVENTORY {
            let r = sqlx::query(sql)
                .bind(from_at)
                .bind(to_at)
                .fetch_one(self.pool())
                .await
                .map_err(|e| self.query_err(format!("counting {category}"), e))?;
            let get = |e: sqlx::Error| self.corrupt(format!("{category} count"), e);
            out.push(InventoryItem {
                category,
                data_class,
                total: r.try_get("n").map_err(get)?,
                in_period: r.try_get("p").map_err(get)?,
                oldest_at: r.try_get("lo").map_err(get)?,
                newest_at: r.try_get("hi").map_err(get)?,
            });
        }
        Ok(out)
    }

    /// Deliveries by status: in total, and those claimed in `[from_at, to_at)`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn delivery_counts(
        &self,
        from_at: i64,
        to_at: i64,
    ) -> Result<Vec<StatusCount>, StoreError> {
        sqlx::query(
            "SELECT status, COUNT(*) AS n, COUNT(CASE WHEN claimed_at >= $1 AND claimed_at < $2 THEN 1 END) AS p \
             FROM deliveries GROUP BY status ORDER BY status",
        )
        .bind(from_at)
        .bind(to_at)
        .try_map(|r: AnyRow| Ok(StatusCount { status: r.try_get("status")?, total: r.try_get("n")?, in_period: r.try_get("p")? }))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("counting deliveries", e))
    }

    /// Subscriber consent: by status, and sign-ups, confirmations and
    /// unsubscriptions in `[from_at, to_at)`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn consent_counts(
        &self,
        from_at: i64,
        to_at: i64,
    ) -> Result<ConsentCounts, StoreError> {
        let by_status = sqlx::query(
            "SELECT status, COUNT(*) AS n, COUNT(CASE WHEN created_at >= $1 AND created_at < $2 THEN 1 END) AS p \
             FROM subscribers GROUP BY status ORDER BY status",
        )
        .bind(from_at)
        .bind(to_at)
        .try_map(|r: AnyRow| Ok(StatusCount { status: r.try_get("status")?, total: r.try_get("n")?, in_period: r.try_get("p")? }))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("counting subscribers", e))?;
        let r = sqlx::query(
            "SELECT COUNT(CASE WHEN created_at >= $1 AND created_at < $2 THEN 1 END) AS signed_up, \
             COUNT(CASE WHEN confirmed_at >= $1 AND confirmed_at < $2 THEN 1 END) AS confirmed, \
             COUNT(CASE WHEN unsubscribed_at >= $1 AND unsubscribed_at < $2 THEN 1 END) AS unsubscribed FROM subscribers",
        )
        .bind(from_at)
        .bind(to_at)
        .fetch_one(self.pool())
        .await
        .map_err(|e| self.query_err("counting consent changes", e))?;
        let get = |e: sqlx::Error| self.corrupt("consent counts", e);
        Ok(ConsentCounts {
            by_status,
            signed_up: r.try_get("signed_up").map_err(get)?,
            confirmed: r.try_get("confirmed").map_err(get)?,
            unsubscribed: r.try_get("unsubscribed").map_err(get)?,
        })
    }

    /// Model calls in `[from_at, to_at)` by model and outcome, with tokens.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn model_call_counts(
        &self,
        from_at: i64,
        to_at: i64,
    ) -> Result<Vec<ModelCallCount>, StoreError> {
        sqlx::query(
            "SELECT model, provider, hosted_in, outcome, COUNT(*) AS n, \
             CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS tin, CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS tout \
             FROM model_calls WHERE at >= $1 AND at < $2 \
             GROUP BY model, provider, hosted_in, outcome ORDER BY model, provider, hosted_in, outcome",
        )
        .bind(from_at)
        .bind(to_at)
        .try_map(|r: AnyRow| {
            Ok(ModelCallCount {
                model: r.try_get("model")?,
                provider: r.try_get("provider")?,
                hosted_in: r.try_get("hosted_in")?,
                outcome: r.try_get("outcome")?,
                calls: r.try_get("n")?,
                input_tokens: r.try_get("tin")?,
                output_tokens: r.try_get("tout")?,
            })
        })
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("counting model calls of a period", e))
    }
}
