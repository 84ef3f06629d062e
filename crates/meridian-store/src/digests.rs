//! Digests and the candidates they are picked from.

use chrono::NaiveDate;
use meridian_core::{Digest, EpisodeMeta, Insight};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{RegionStore, StoreError};

/// An extracted episode not yet featured in a digest, with what is needed to rank it.
#[derive(Debug, Clone)]
pub struct CandidateEpisode {
    /// Episode row id.
    pub episode_id: i64,
    /// Its podcast's title.
    pub podcast: String,
    /// The episode as read from its feed.
    pub meta: EpisodeMeta,
    /// The language its stored transcript declares, when it does (the
    /// episode's own or its feed's language is in `meta.language`).
    pub transcript_language: Option<String>,
    /// Its insights.
    pub insights: Vec<Insight>,
}

/// One page of the digest archive.
#[derive(Debug, Clone)]
pub struct DigestPage {
    /// The page's digests, newest day first.
    pub digests: Vec<StoredDigest>,
    /// How many digests the region has in all.
    pub total: i64,
}

/// A digest as stored.
#[derive(Debug, Clone)]
pub struct StoredDigest {
    /// Row id.
    pub id: i64,
    /// The digest.
    pub digest: Digest,
}

impl RegionStore {
    /// Extracted episodes first seen at or after `since` that no digest has featured.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn digest_candidates(&self, since: i64) -> Result<Vec<CandidateEpisode>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id, e.meta_json, COALESCE(f.title, f.url) AS podcast, t.language AS transcript_language \
             FROM episodes e JOIN feeds f ON f.id = e.feed_id LEFT JOIN transcripts t ON t.episode_id = e.id \
             WHERE e.status = 'extracted' AND e.first_seen_at >= $1 \
             AND NOT EXISTS (SELECT 1 FROM digest_episodes d WHERE d.episode_id = e.id) ORDER BY e.id",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("listing digest candidates", e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let get = |e: sqlx::Error| self.corrupt("candidate row", e);
            let id: i64 = r.try_get("id").map_err(get)?;
            let meta_json: String = r.try_get("meta_json").map_err(get)?;
            out.push(CandidateEpisode {
                episode_id: id,
                podcast: r.try_get("podcast").map_err(get)?,
                meta: serde_json::from_str(&meta_json)
                    .map_err(|e| self.corrupt("episode metadata", e))?,
                transcript_language: r.try_get("transcript_language").map_err(get)?,
                insights: self.insights_of(id).await?,
            });
        }
        Ok(out)
    }

    /// The digest of a day, if one was made.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn digest_for_date(
        &self,
        date: NaiveDate,
    ) -> Result<Option<StoredDigest>, StoreError> {
        let row = sqlx::query("SELECT id, digest_json FROM digests WHERE digest_date = $1")
            .bind(date.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.query_err(format!("reading the digest of {date}"), e))?;
        row.map(|r| self.stored_digest(&r)).transpose()
    }

    fn stored_digest(&self, r: &AnyRow) -> Result<StoredDigest, StoreError> {
        let get = |e: sqlx::Error| self.corrupt("digest row", e);
        let json: String = r.try_get("digest_json").map_err(get)?;
        Ok(StoredDigest {
            id: r.try_get("id").map_err(get)?,
            digest: serde_json::from_str(&json).map_err(|e| self.corrupt("digest", e))?,
        })
    }

    /// Stores a day's digest and the episodes it features, unless that day
    /// already has one; returns the day's stored digest either way (so a rerun
    /// of the same day delivers the digest made the first time).
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn create_digest(
        &self,
        digest: &Digest,
        episode_ids: &[i64],
        now: i64,
    ) -> Result<StoredDigest, StoreError> {
        let what = || format!("storing the digest of {}", digest.date);
        let json = serde_json::to_string(digest).map_err(|e| self.corrupt("digest", e))?;
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| self.query_err(what(), e))?;
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO digests (digest_date, content_hash, digest_json, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (digest_date) DO NOTHING RETURNING id",
        )
        .bind(digest.date.to_string())
        .bind(digest.content_hash().to_hex())
        .bind(json)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.query_err(what(), e))?;
        if let Some(id) = inserted {
            for ep in episode_ids {
                sqlx::query("INSERT INTO digest_episodes (digest_id, episode_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(id)
                    .bind(*ep)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.query_err(what(), e))?;
            }
        }
        tx.commit().await.map_err(|e| self.query_err(what(), e))?;
        self.digest_for_date(digest.date)
            .await?
            .ok_or_else(|| self.corrupt(what(), "digest vanished after insert"))
    }

    /// Texts of the insights featured in digests made at or after `since`
    /// (for novelty against what subscribers already read).
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn recent_digest_texts(&self, since: i64) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT id, digest_json FROM digests WHERE created_at >= $1 ORDER BY id")
                .bind(since)
                .fetch_all(self.pool())
                .await
                .map_err(|e| self.query_err("reading recent digests", e))?;
        let mut out = Vec::new();
        for r in &rows {
            out.extend(
                self.stored_digest(r)?
                    .digest
                    .items
                    .into_iter()
                    .map(|i| i.insight.text),
            );
        }
        Ok(out)
    }

    /// One page of the archive: at most `limit` digests, newest day first,
    /// after skipping the `offset` newest; and how many there are in all.
    /// A negative `offset` or `limit` counts as 0.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn digest_page(&self, offset: i64, limit: i64) -> Result<DigestPage, StoreError> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM digests")
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.query_err("counting digests", e))?;
        let rows = sqlx::query(
            "SELECT id, digest_json FROM digests ORDER BY digest_date DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err(format!("listing digests from number {offset}"), e))?;
        Ok(DigestPage {
            digests: rows
                .iter()
                .map(|r| self.stored_digest(r))
                .collect::<Result<_, _>>()?,
            total,
        })
    }

    /// The most recent digests, newest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn latest_digests(&self, limit: i64) -> Result<Vec<StoredDigest>, StoreError> {
        let rows =
            sqlx::query("SELECT id, digest_json FROM digests ORDER BY digest_date DESC LIMIT $1")
                .bind(limit)
                .fetch_all(self.pool())
                .await
                .map_err(|e| self.query_err("listing digests", e))?;
        rows.iter().map(|r| self.stored_digest(r)).collect()
    }
}
