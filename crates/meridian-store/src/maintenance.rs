//! Retention and erasure: deleting what the region's config says not to keep.

use meridian_core::SubscriberEmail;

use crate::{RegionStore, StoreError};

/// What a retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionOutcome {
    /// Transcripts deleted.
    pub transcripts: u64,
    /// Insights deleted.
    pub insights: u64,
    /// Extraction cache entries deleted.
    pub cached_extractions: u64,
}

/// What erasing a subscriber deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureOutcome {
    /// Whether the address was known.
    pub found: bool,
    /// Delivery records deleted with it.
    pub deliveries: u64,
}

impl RegionStore {
    /// Deletes transcripts created before `transcripts_before` and insights and
    /// cache entries created before `insights_before` (Unix seconds; `None`
    /// keeps them), in one transaction. Digests keep their own copy of the
    /// insights they featured, as sent.
    ///
    /// # Errors
    /// [`StoreError::Query`]; nothing is deleted then.
    pub async fn apply_retention(
        &self,
        transcripts_before: Option<i64>,
        insights_before: Option<i64>,
    ) -> Result<RetentionOutcome, StoreError> {
        let what = "applying retention";
        let mut out = RetentionOutcome::default();
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| self.query_err(what, e))?;
        if let Some(t) = transcripts_before {
            out.transcripts = sqlx::query("DELETE FROM transcripts WHERE created_at < $1")
                .bind(t)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_err(what, e))?
                .rows_affected();
        }
        if let Some(t) = insights_before {
            out.insights = sqlx::query("DELETE FROM insights WHERE created_at < $1")
                .bind(t)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_err(what, e))?
                .rows_affected();
            out.cached_extractions = sqlx::query("DELETE FROM extractions WHERE created_at < $1")
                .bind(t)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_err(what, e))?
                .rows_affected();
        }
        tx.commit().await.map_err(|e| self.query_err(what, e))?;
        Ok(out)
    }

    /// Erases a subscriber: the row and every delivery record that names it.
    ///
    /// # Errors
    /// [`StoreError::Query`]; nothing is deleted then.
    pub async fn erase_subscriber(
        &self,
        email: &SubscriberEmail,
    ) -> Result<ErasureOutcome, StoreError> {
        let what = "erasing a subscriber";
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| self.query_err(what, e))?;
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM subscribers WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.query_err(what, e))?;
        let Some(id) = id else {
            return Ok(ErasureOutcome::default());
        };
        let deliveries = sqlx::query("DELETE FROM deliveries WHERE subscriber_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.query_err(what, e))?
            .rows_affected();
        sqlx::query("DELETE FROM subscribers WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.query_err(what, e))?;
        tx.commit().await.map_err(|e| self.query_err(what, e))?;
        Ok(ErasureOutcome {
            found: true,
            deliveries,
        })
    }
}
