//! Episodes, their transcripts, the content-addressed extraction cache and insights.

use meridian_core::{ContentHash, EpisodeMeta, Insight, Transcript};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{RegionStore, StoreError};

/// Where an episode is in the daily pipeline. Each step is recorded only once
/// its effect is durable, so a run that dies half-way resumes where it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpisodeStatus {
    /// Stored, waiting for its transcript.
    New,
    /// Transcript stored, waiting for insights.
    Transcribed,
    /// Insights stored.
    Extracted,
    /// Too old to be news when first seen; kept so it is never "new" again.
    Archived,
    /// No usable model right now; the next run tries again.
    Parked,
}

impl EpisodeStatus {
    /// The value stored in `episodes.status`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Transcribed => "transcribed",
            Self::Extracted => "extracted",
            Self::Archived => "archived",
            Self::Parked => "parked",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "new" => Self::New,
            "transcribed" => Self::Transcribed,
            "extracted" => Self::Extracted,
            "archived" => Self::Archived,
            "parked" => Self::Parked,
            _ => return None,
        })
    }
}

/// An episode as stored.
#[derive(Debug, Clone)]
pub struct EpisodeRow {
    /// Row id.
    pub id: i64,
    /// Its feed.
    pub feed_id: i64,
    /// Everything read from the feed.
    pub meta: EpisodeMeta,
    /// When Meridian first saw it.
    pub first_seen_at: i64,
    /// Pipeline state.
    pub status: EpisodeStatus,
    /// Why it is parked, when it is.
    pub status_detail: Option<String>,
}

/// How many episodes of a fetch were new.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewEpisodes {
    /// New and queued for the pipeline.
    pub queued: usize,
    /// New but archived (too old to be news).
    pub archived: usize,
}

impl RegionStore {
    /// Stores the episodes of one fetch that are not stored yet (by feed and
    /// guid), in one transaction. `is_news(index, meta)` decides whether a new
    /// episode is queued or archived.
    ///
    /// # Errors
    /// [`StoreError::Query`]; nothing is stored then.
    pub async fn insert_episodes(
        &self,
        feed_id: i64,
        episodes: &[EpisodeMeta],
        now: i64,
        is_news: impl Fn(usize, &EpisodeMeta) -> bool,
    ) -> Result<NewEpisodes, StoreError> {
        let what = || format!("storing episodes of feed {feed_id}");
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| self.query_err(what(), e))?;
        let mut out = NewEpisodes::default();
        for (i, ep) in episodes.iter().enumerate() {
            let status = if is_news(i, ep) {
                EpisodeStatus::New
            } else {
                EpisodeStatus::Archived
            };
            let meta_json =
                serde_json::to_string(ep).map_err(|e| self.corrupt("episode metadata", e))?;
            let inserted = sqlx::query(
                "INSERT INTO episodes (feed_id, guid, guid_source, title, published_at, link, enclosure_url, language, \
                 meta_json, first_seen_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (feed_id, guid) DO NOTHING",
            )
            .bind(feed_id)
            .bind(ep.guid.0.as_str())
            .bind(serde_json::to_value(ep.guid_source).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
            .bind(ep.title.as_str())
            .bind(ep.published.map(|d| d.timestamp()))
            .bind(ep.link.as_deref())
            .bind(ep.enclosure.as_ref().map(|e| e.url.as_str()))
            .bind(ep.language.as_deref())
            .bind(meta_json)
            .bind(now)
            .bind(status.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.query_err(what(), e))?
            .rows_affected()
                > 0;
            if inserted {
                match status {
                    EpisodeStatus::New => out.queued += 1,
                    _ => out.archived += 1,
                }
            }
        }
        tx.commit().await.map_err(|e| self.query_err(what(), e))?;
        Ok(out)
    }

    fn episode_from_row(&self, r: &AnyRow) -> Result<EpisodeRow, StoreError> {
        let get = |e: sqlx::Error| self.corrupt("episode row", e);
        let meta_json: String = r.try_get("meta_json").map_err(get)?;
        let status: String = r.try_get("status").map_err(get)?;
        Ok(EpisodeRow {
            id: r.try_get("id").map_err(get)?,
            feed_id: r.try_get("feed_id").map_err(get)?,
            meta: serde_json::from_str(&meta_json)
                .map_err(|e| self.corrupt("episode metadata", e))?,
            first_seen_at: r.try_get("first_seen_at").map_err(get)?,
            status: EpisodeStatus::parse(&status)
                .ok_or_else(|| self.corrupt("episode status", &status))?,
            status_detail: r.try_get("status_detail").map_err(get)?,
        })
    }

    /// Episodes in one of `statuses`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn episodes_with_status(
        &self,
        statuses: &[EpisodeStatus],
    ) -> Result<Vec<EpisodeRow>, StoreError> {
        // One query per status: the `Any` driver's query builder cannot write
        // placeholders that both SQLite and PostgreSQL accept for `IN (…)`.
        let mut rows = Vec::new();
        for s in statuses {
            rows.extend(
                sqlx::query(
                    "SELECT id, feed_id, meta_json, first_seen_at, status, status_detail FROM episodes WHERE status = $1",
                )
                .bind(s.as_str())
                .fetch_all(self.pool())
                .await
                .map_err(|e| self.query_err("listing episodes", e))?,
            );
        }
        let mut out: Vec<EpisodeRow> = rows
            .iter()
            .map(|r| self.episode_from_row(r))
            .collect::<Result<_, _>>()?;
        out.sort_by_key(|e| e.id);
        Ok(out)
    }

    /// The episode with this id.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn episode(&self, episode_id: i64) -> Result<Option<EpisodeRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, feed_id, meta_json, first_seen_at, status, status_detail FROM episodes WHERE id = $1",
        )
        .bind(episode_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_err(format!("reading episode {episode_id}"), e))?;
        row.map(|r| self.episode_from_row(&r)).transpose()
    }

    /// Number of episodes per status, for summaries.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn episode_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        sqlx::query("SELECT status, COUNT(*) AS n FROM episodes GROUP BY status ORDER BY status")
            .try_map(|r: AnyRow| Ok((r.try_get::<String, _>("status")?, r.try_get::<i64, _>("n")?)))
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.query_err("counting episodes", e))
    }

    /// Sets an episode's status (and the reason, for `parked`).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn set_episode_status(
        &self,
        episode_id: i64,
        status: EpisodeStatus,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE episodes SET status = $1, status_detail = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(detail)
            .bind(episode_id)
            .execute(self.pool())
            .await
            .map_err(|e| self.query_err(format!("updating episode {episode_id}"), e))?;
        Ok(())
    }

    /// Stores an episode's transcript and moves it to `transcribed`, atomically.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn save_transcript(
        &self,
        episode_id: i64,
        transcript: &Transcript,
        now: i64,
    ) -> Result<ContentHash, StoreError> {
        let what = || format!("saving the transcript of episode {episode_id}");
        // The stored JSON of the segments is exactly what
        // `Transcript::content_hash` hashes: serialise once, hash those bytes.
        let segments = serde_json::to_string(&transcript.segments)
            .map_err(|e| self.corrupt("transcript", e))?;
        let hash = ContentHash::of(segments.as_bytes());
        let source = serde_json::to_string(&transcript.source)
            .map_err(|e| self.corrupt("transcript source", e))?;
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| self.query_err(what(), e))?;
        sqlx::query(
            "INSERT INTO transcripts (episode_id, content_hash, source, language, segments_json, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (episode_id) DO NOTHING",
        )
        .bind(episode_id)
        .bind(hash.to_hex())
        .bind(source)
        .bind(transcript.language.as_deref())
        .bind(segments)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.query_err(what(), e))?;
        sqlx::query(
            "UPDATE episodes SET status = 'transcribed', status_detail = NULL WHERE id = $1",
        )
        .bind(episode_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.query_err(what(), e))?;
        tx.commit().await.map_err(|e| self.query_err(what(), e))?;
        Ok(hash)
    }

    /// An episode's stored transcript.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn transcript(&self, episode_id: i64) -> Result<Option<Transcript>, StoreError> {
        let row = sqlx::query(
            "SELECT source, language, segments_json FROM transcripts WHERE episode_id = $1",
        )
        .bind(episode_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| {
            self.query_err(format!("reading the transcript of episode {episode_id}"), e)
        })?;
        let Some(r) = row else { return Ok(None) };
        let get = |e: sqlx::Error| self.corrupt("transcript row", e);
        let source: String = r.try_get("source").map_err(get)?;
        let segments: String = r.try_get("segments_json").map_err(get)?;
        Ok(Some(Transcript {
            source: serde_json::from_str(&source)
                .map_err(|e| self.corrupt("transcript source", e))?,
            language: r.try_get("language").map_err(get)?,
            segments: serde_json::from_str(&segments)
                .map_err(|e| self.corrupt("transcript segments", e))?,
        }))
    }

    /// An episode's stored transcript with the content hash stored beside it
    /// at [`RegionStore::save_transcript`], so that it is not computed again.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn transcript_with_hash(
        &self,
        episode_id: i64,
    ) -> Result<Option<(Transcript, ContentHash)>, StoreError> {
        let row = sqlx::query(
            "SELECT content_hash, source, language, segments_json FROM transcripts WHERE episode_id = $1",
        )
        .bind(episode_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| {
            self.query_err(format!("reading the transcript of episode {episode_id}"), e)
        })?;
        let Some(r) = row else { return Ok(None) };
        let get = |e: sqlx::Error| self.corrupt("transcript row", e);
        let hash: String = r.try_get("content_hash").map_err(get)?;
        let source: String = r.try_get("source").map_err(get)?;
        let segments: String = r.try_get("segments_json").map_err(get)?;
        let transcript = Transcript {
            source: serde_json::from_str(&source)
                .map_err(|e| self.corrupt("transcript source", e))?,
            language: r.try_get("language").map_err(get)?,
            segments: serde_json::from_str(&segments)
                .map_err(|e| self.corrupt("transcript segments", e))?,
        };
        let hash = ContentHash::parse(&hash).map_err(|e| self.corrupt("transcript hash", e))?;
        Ok(Some((transcript, hash)))
    }

    /// Insights already extracted from content with this hash (by any episode),
    /// with the model that made them.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn cached_extraction(
        &self,
        hash: &ContentHash,
    ) -> Result<Option<(String, Vec<Insight>)>, StoreError> {
        let row =
            sqlx::query("SELECT model, insights_json FROM extractions WHERE content_hash = $1")
                .bind(hash.to_hex())
                .fetch_optional(self.pool())
                .await
                .map_err(|e| self.query_err("reading the extraction cache", e))?;
        let Some(r) = row else { return Ok(None) };
        let model: String = r
            .try_get("model")
            .map_err(|e| self.corrupt("extraction", e))?;
        let json: String = r
            .try_get("insights_json")
            .map_err(|e| self.corrupt("extraction", e))?;
        let insights =
            serde_json::from_str(&json).map_err(|e| self.corrupt("cached insights", e))?;
        Ok(Some((model, insights)))
    }

    /// Stores an episode's insights, the cache entry for their content hash,
    /// and moves the episode to `extracted`, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn save_insights(
        &self,
        episode_id: i64,
        hash: &ContentHash,
        model: &str,
        insights: &[Insight],
        now: i64,
    ) -> Result<(), StoreError> {
        let what = || format!("saving the insights of episode {episode_id}");
        let json = serde_json::to_string(insights).map_err(|e| self.corrupt("insights", e))?;
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| self.query_err(what(), e))?;
        sqlx::query(
            "INSERT INTO extractions (content_hash, model, insights_json, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (content_hash) DO NOTHING",
        )
        .bind(hash.to_hex())
        .bind(model)
        .bind(json)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.query_err(what(), e))?;
        sqlx::query("DELETE FROM insights WHERE episode_id = $1")
            .bind(episode_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.query_err(what(), e))?;
        for (i, ins) in insights.iter().enumerate() {
            // `start_secs` is bound as a number always, with a flag for NULL:
            // sqlx 0.9's `Any` driver sends a NULL `f64` to PostgreSQL as
            // `float4`, and the statement prepared that way then refuses the
            // next insight's `float8` ("incorrect binary data format").
            sqlx::query(
                "INSERT INTO insights (episode_id, position, model, text, quote, start_secs, importance, why, created_at, speaker) \
                 VALUES ($1, $2, $3, $4, $5, CASE WHEN $10 = 1 THEN $6 ELSE NULL END, $7, $8, $9, $11)",
            )
            .bind(episode_id)
            .bind(i64::try_from(i).unwrap_or(i64::MAX))
            .bind(ins.model.as_str())
            .bind(ins.text.as_str())
            .bind(ins.quote.as_str())
            .bind(ins.start.unwrap_or(0.0))
            .bind(ins.importance)
            .bind(ins.why.as_str())
            .bind(now)
            .bind(i64::from(ins.start.is_some()))
            .bind(ins.speaker.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.query_err(what(), e))?;
        }
        sqlx::query("UPDATE episodes SET status = 'extracted', status_detail = NULL WHERE id = $1")
            .bind(episode_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.query_err(what(), e))?;
        tx.commit().await.map_err(|e| self.query_err(what(), e))?;
        Ok(())
    }

    /// An episode's stored insights, in extraction order.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn insights_of(&self, episode_id: i64) -> Result<Vec<Insight>, StoreError> {
        sqlx::query("SELECT model, text, quote, start_secs, importance, why, speaker FROM insights WHERE episode_id = $1 ORDER BY position")
            .bind(episode_id)
            .try_map(|r: AnyRow| {
                Ok(Insight {
                    model: r.try_get("model")?,
                    speaker: r.try_get("speaker")?,
                    text: r.try_get("text")?,
                    quote: r.try_get("quote")?,
                    start: r.try_get("start_secs")?,
                    importance: r.try_get("importance")?,
                    why: r.try_get("why")?,
                })
            })
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.query_err(format!("reading the insights of episode {episode_id}"), e))
    }
}
