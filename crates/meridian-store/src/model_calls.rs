//! Accounting of model calls: one row per call, builtin included.

use sqlx::Row as _;

use crate::{RegionStore, StoreError};

/// One model call, as accounted.
#[derive(Debug, Clone)]
pub struct ModelCallRecord<'a> {
    /// When (Unix seconds).
    pub at: i64,
    /// `insight`, `transcribe`…
    pub role: &'a str,
    /// Model entry name.
    pub model: &'a str,
    /// Provider type.
    pub provider: &'a str,
    /// Where it runs.
    pub hosted_in: &'a str,
    /// Hash of the content sent.
    pub content_hash: Option<&'a str>,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Wall time of the call.
    pub latency_ms: i64,
    /// `ok`, `error`, `skipped`.
    pub outcome: &'a str,
    /// Error or skip reason.
    pub detail: Option<&'a str>,
}

impl RegionStore {
    /// Records a model call.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn record_model_call(&self, c: &ModelCallRecord<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO model_calls (at, role, model, provider, hosted_in, content_hash, input_tokens, output_tokens, \
             latency_ms, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(c.at)
        .bind(c.role)
        .bind(c.model)
        .bind(c.provider)
        .bind(c.hosted_in)
        .bind(c.content_hash)
        .bind(c.input_tokens)
        .bind(c.output_tokens)
        .bind(c.latency_ms)
        .bind(c.outcome)
        .bind(c.detail)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("recording a call of model {}", c.model), e))?;
        Ok(())
    }

    /// Tokens (prompt plus completion) of every model call recorded at or
    /// after `since` (Unix seconds): what the region has spent of its daily
    /// token budget since the start of its day.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn model_tokens_since(&self, since: i64) -> Result<i64, StoreError> {
        // PostgreSQL sums BIGINT into NUMERIC, which the Any driver cannot
        // decode: cast back to BIGINT.
        sqlx::query(
            "SELECT CAST(COALESCE(SUM(input_tokens + output_tokens), 0) AS BIGINT) AS tokens \
             FROM model_calls WHERE at >= $1",
        )
        .bind(since)
        .try_map(|r: sqlx::any::AnyRow| r.try_get::<i64, _>("tokens"))
        .fetch_one(self.pool())
        .await
        .map_err(|e| self.query_err("summing today's model tokens", e))
    }

    /// Calls per (model, outcome), and total tokens in and out.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn model_call_totals(
        &self,
    ) -> Result<Vec<(String, String, i64, i64, i64)>, StoreError> {
        sqlx::query(
            "SELECT model, outcome, COUNT(*) AS n, CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS tin, CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS tout \
             FROM model_calls GROUP BY model, outcome ORDER BY model, outcome",
        )
        .try_map(|r: sqlx::any::AnyRow| {
            Ok((r.try_get("model")?, r.try_get("outcome")?, r.try_get("n")?, r.try_get("tin")?, r.try_get("tout")?))
        })
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("summing model calls", e))
    }
}
