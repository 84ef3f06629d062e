//! Totals read at scrape time for `/metrics`: small `GROUP BY` counts over
//! indexed or small tables, never row lists.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{RegionStore, StoreError};

/// What a region has done so far, in total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceTotals {
    /// Insights stored.
    pub insights: i64,
    /// Digests made.
    pub digests: i64,
    /// Confirmation emails by status (`pending`, `sent`, `failed`).
    pub confirmation_emails: Vec<(String, i64)>,
    /// Policy decisions in the audit log that denied an action.
    pub policy_denials: i64,
}

impl RegionStore {
    /// Totals for the metrics endpoint (see [`ServiceTotals`]).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn service_totals(&self) -> Result<ServiceTotals, StoreError> {
        let count = |sql: &'static str, what: &'static str| async move {
            sqlx::query(sql)
                .try_map(|r: AnyRow| r.try_get::<i64, _>("n"))
                .fetch_one(self.pool())
                .await
                .map_err(|e| self.query_err(what, e))
        };
        let insights = count("SELECT COUNT(*) AS n FROM insights", "counting insights").await?;
        let digests = count("SELECT COUNT(*) AS n FROM digests", "counting digests").await?;
        // Records are canonical JSON (no spaces), so the effect reads exactly so.
        let policy_denials = count(
            "SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'policy_decision' AND record LIKE '%\"effect\":\"deny\"%'",
            "counting policy denials",
        )
        .await?;
        let confirmation_emails = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM confirmation_emails GROUP BY status ORDER BY status",
        )
        .try_map(|r: AnyRow| Ok((r.try_get("status")?, r.try_get("n")?)))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("counting confirmation emails", e))?;
        Ok(ServiceTotals {
            insights,
            digests,
            confirmation_emails,
            policy_denials,
        })
    }

    /// Whether every migration this build knows has been applied to the
    /// database (for `/readyz`): false while another replica with a newer
    /// schema, or none, has left it behind.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the migrations table cannot be read.
    pub async fn migrations_current(&self) -> Result<bool, StoreError> {
        let applied: Vec<i64> =
            sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = $1")
                .bind(true)
                .try_map(|r: AnyRow| r.try_get::<i64, _>("version"))
                .fetch_all(self.pool())
                .await
                .map_err(|e| self.query_err("reading the applied migrations", e))?;
        Ok(self
            .migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| applied.contains(&m.version)))
    }
}
