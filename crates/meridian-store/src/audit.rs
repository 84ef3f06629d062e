//! The audit tables: `audit_log` (the hash-chained records) and
//! `audit_checkpoints` (signed checkpoints over the chain head).
//!
//! This module stores values as they are given: canonical encoding, hashing
//! and signing belong to `meridian-audit`. What it owns is the one thing that
//! needs the database: **appends are serialised**. Every append runs in one
//! transaction that first updates the single row of `audit_writer`. On
//! PostgreSQL that takes a row lock held until commit, so a second replica's
//! append waits, then reads the head the first one wrote; on SQLite the update
//! takes the database's write lock, with the same effect. The new record is
//! built by the caller's closure *inside* that transaction, from the head read
//! under the lock, so two appenders can never both extend the same head and
//! fork the chain. The same statements run on both backends (no
//! `SELECT … FOR UPDATE`, which SQLite lacks, and no advisory locks, which it
//! lacks too).

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{RegionStore, StoreError};

/// The end of the chain as stored, read under the append lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    /// Sequence number of the last record (0 when the log is empty).
    pub seq: i64,
    /// Hash of the last record (`None` when the log is empty).
    pub hash: Option<String>,
}

/// What the audit writer remembers beside the chain: evidence that records
/// existed, which deleting records (and the checkpoints over them) does not
/// remove unless this row is rewritten too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditWriterState {
    /// Append transactions committed (each wrote at least one record).
    pub appends: i64,
    /// Sequence number of the last record ever appended (the high-water mark).
    pub head_seq: i64,
    /// Runs the region has recorded (each run appends records).
    pub runs: i64,
    /// Delivery rows (each delivery try appends records).
    pub deliveries: i64,
}

/// One row of `audit_log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Sequence number, 1 for the first record, no gaps.
    pub seq: i64,
    /// When it was recorded (Unix seconds).
    pub at: i64,
    /// Record kind (`model_call`, `email_send`…), repeated from the record for look-ups.
    pub kind: String,
    /// The record, as canonical JSON.
    pub record: String,
    /// Hash of the previous record (64 zeros for the first).
    pub prev_hash: String,
    /// Hash of this record.
    pub hash: String,
}

/// One row of `audit_checkpoints`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    /// Checkpoint number, 1 for the first, no gaps.
    pub number: i64,
    /// Sequence number of the record it covers.
    pub seq: i64,
    /// When it was made (Unix seconds).
    pub at: i64,
    /// The signed body, canonical JSON.
    pub body: String,
    /// The signature over `body`, hex.
    pub signature: String,
}

fn audit_row(r: &AnyRow) -> Result<AuditRow, sqlx::Error> {
    Ok(AuditRow {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        kind: r.try_get("kind")?,
        record: r.try_get("record")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

fn checkpoint_row(r: &AnyRow) -> Result<CheckpointRow, sqlx::Error> {
    Ok(CheckpointRow {
        number: r.try_get("number")?,
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        body: r.try_get("body")?,
        signature: r.try_get("signature")?,
    })
}

const HEAD: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";
const LAST_CHECKPOINT: &str =
    "SELECT number, seq, at, body, signature FROM audit_checkpoints ORDER BY number DESC LIMIT 1";
const LOCK: &str = "UPDATE audit_writer SET appends = appends + 1 WHERE id = 1";
const HIGH_WATER: &str = "UPDATE audit_writer SET head_seq = $1 WHERE id = 1 AND head_seq < $1";
const INSERT_RECORD: &str = "INSERT INTO audit_log (seq, at, kind, record, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)";
const INSERT_CHECKPOINT: &str =
    "INSERT INTO audit_checkpoints (number, seq, at, body, signature) VALUES ($1, $2, $3, $4, $5)";

impl RegionStore {
    /// Appends one record built by `build` from the head read under the
    /// append lock (see the module docs). `build` must return a row with
    /// `seq = head.seq + 1`; anything else is refused.
    ///
    /// # Errors
    /// [`StoreError::Query`], or [`StoreError::Corrupt`] when `build` does not
    /// extend the head or the lock row is missing.
    pub async fn append_audit<F>(&self, build: F) -> Result<AuditRow, StoreError>
    where
        F: FnOnce(&AuditHead) -> AuditRow,
    {
        let (row, _) = self
            .append_locked(false, |head, _| (build(head), None))
            .await?;
        Ok(row)
    }

    /// Appends several records in one transaction (one lock, one commit):
    /// `build` gets the head read under the append lock and returns the rows
    /// in chain order, the first with `seq = head.seq + 1` and each
    /// following its predecessor (`seq + 1`, `prev_hash` = its hash). An
    /// empty batch writes nothing.
    ///
    /// # Errors
    /// [`StoreError::Query`], or [`StoreError::Corrupt`] when the rows do not
    /// extend the head one after another; nothing is written then.
    pub async fn append_audit_batch<F>(&self, build: F) -> Result<Vec<AuditRow>, StoreError>
    where
        F: FnOnce(&AuditHead) -> Vec<AuditRow>,
    {
        let what = "appending to the audit log";
        let err = |e| self.query_err(what, e);
        let mut tx = self.pool().begin().await.map_err(err)?;
        let head = self.lock_and_read_head(&mut tx).await?;
        let rows = build(&head);
        let (mut seq, mut prev) = (head.seq, head.hash.clone());
        for row in &rows {
            if row.seq != seq + 1 || prev.as_ref().is_some_and(|p| *p != row.prev_hash) {
                return Err(self.corrupt(
                    "audit record",
                    format!("sequence {} does not follow {seq} in the batch", row.seq),
                ));
            }
            self.insert_record(&mut tx, row).await?;
            seq = row.seq;
            prev = Some(row.hash.clone());
        }
        self.raise_high_water(&mut tx, seq).await?;
        tx.commit().await.map_err(err)?;
        Ok(rows)
    }

    /// Appends one record and one checkpoint in the same transaction. `build`
    /// sees the head and the last checkpoint, both read under the append lock,
    /// and returns the record (`seq = head.seq + 1`) and the checkpoint
    /// (`number` = last number + 1).
    ///
    /// # Errors
    /// As [`RegionStore::append_audit`], and [`StoreError::Corrupt`] when the
    /// checkpoint does not follow the last one.
    pub async fn append_audit_checkpoint<F>(
        &self,
        build: F,
    ) -> Result<(AuditRow, CheckpointRow), StoreError>
    where
        F: FnOnce(&AuditHead, Option<&CheckpointRow>) -> (AuditRow, CheckpointRow),
    {
        let (row, checkpoint) = self
            .append_locked(true, |head, last| {
                let (row, cp) = build(head, last);
                (row, Some(cp))
            })
            .await?;
        let checkpoint = checkpoint
            .ok_or_else(|| self.corrupt("audit checkpoint", "no checkpoint was built"))?;
        Ok((row, checkpoint))
    }

    /// Takes the append lock (the `audit_writer` row) in `tx` and reads the
    /// chain head under it.
    async fn lock_and_read_head(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ) -> Result<AuditHead, StoreError> {
        let err = |e| self.query_err("appending to the audit log", e);
        let locked = sqlx::query(LOCK)
            .execute(&mut **tx)
            .await
            .map_err(err)?
            .rows_affected();
        if locked != 1 {
            return Err(self.corrupt("audit log", "the `audit_writer` lock row is missing"));
        }
        let row = sqlx::query(HEAD)
            .fetch_optional(&mut **tx)
            .await
            .map_err(err)?;
        self.head_of(row)
    }

    /// The head a `HEAD` query returned (seq 0, no hash for an empty log).
    fn head_of(&self, row: Option<AnyRow>) -> Result<AuditHead, StoreError> {
        match row {
            Some(r) => Ok(AuditHead {
                seq: r
                    .try_get("seq")
                    .map_err(|e| self.corrupt("audit head", e))?,
                hash: Some(
                    r.try_get("hash")
                        .map_err(|e| self.corrupt("audit head", e))?,
                ),
            }),
            None => Ok(AuditHead { seq: 0, hash: None }),
        }
    }

    /// Raises the writer's high-water mark to `seq` (see [`AuditWriterState`]).
    async fn raise_high_water(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        seq: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(HIGH_WATER)
            .bind(seq)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.query_err("appending to the audit log", e))?;
        Ok(())
    }

    async fn insert_record(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        row: &AuditRow,
    ) -> Result<(), StoreError> {
        sqlx::query(INSERT_RECORD)
            .bind(row.seq)
            .bind(row.at)
            .bind(row.kind.as_str())
            .bind(row.record.as_str())
            .bind(row.prev_hash.as_str())
            .bind(row.hash.as_str())
            .execute(&mut **tx)
            .await
            .map_err(|e| self.query_err("appending to the audit log", e))?;
        Ok(())
    }

    async fn append_locked<F>(
        &self,
        read_checkpoint: bool,
        build: F,
    ) -> Result<(AuditRow, Option<CheckpointRow>), StoreError>
    where
        F: FnOnce(&AuditHead, Option<&CheckpointRow>) -> (AuditRow, Option<CheckpointRow>),
    {
        let what = "appending to the audit log";
        let err = |e| self.query_err(what, e);
        let mut tx = self.pool().begin().await.map_err(err)?;
        // Lock first: everything read below is read under the lock.
        let head = self.lock_and_read_head(&mut tx).await?;
        let last = if read_checkpoint {
            sqlx::query(LAST_CHECKPOINT)
                .try_map(|r: AnyRow| checkpoint_row(&r))
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?
        } else {
            None
        };
        let (row, checkpoint) = build(&head, last.as_ref());
        if row.seq != head.seq + 1 {
            return Err(self.corrupt(
                "audit record",
                format!("sequence {} does not follow the head {}", row.seq, head.seq),
            ));
        }
        self.insert_record(&mut tx, &row).await?;
        self.raise_high_water(&mut tx, row.seq).await?;
        if let Some(cp) = &checkpoint {
            let expected = last.as_ref().map_or(1, |l| l.number + 1);
            if cp.number != expected {
                return Err(self.corrupt(
                    "audit checkpoint",
                    format!("number {} does not follow {}", cp.number, expected - 1),
                ));
            }
            sqlx::query(INSERT_CHECKPOINT)
                .bind(cp.number)
                .bind(cp.seq)
                .bind(cp.at)
                .bind(cp.body.as_str())
                .bind(cp.signature.as_str())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok((row, checkpoint))
    }

    /// The last record's sequence number and hash (seq 0, no hash when empty).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let row = sqlx::query(HEAD)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.query_err("reading the audit head", e))?;
        self.head_of(row)
    }

    /// The sequence number the last signed checkpoint covers (`None` before
    /// the first checkpoint).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn audit_last_checkpoint_seq(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar::<_, i64>(
            "SELECT seq FROM audit_checkpoints ORDER BY number DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_err("reading the last audit checkpoint", e))
    }

    /// The writer's counters and the other tables' evidence that records
    /// existed (see [`AuditWriterState`]). A missing writer row reads as
    /// zeros: verification then relies on runs and deliveries.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn audit_writer_state(&self) -> Result<AuditWriterState, StoreError> {
        let err = |e| self.query_err("reading the audit writer's counters", e);
        let writer = sqlx::query("SELECT appends, head_seq FROM audit_writer WHERE id = 1")
            .fetch_optional(self.pool())
            .await
            .map_err(err)?;
        let (appends, head_seq) = match writer {
            Some(r) => (
                r.try_get("appends")
                    .map_err(|e| self.corrupt("audit writer row", e))?,
                r.try_get("head_seq")
                    .map_err(|e| self.corrupt("audit writer row", e))?,
            ),
            None => (0, 0),
        };
        let runs = sqlx::query_scalar("SELECT COUNT(*) FROM runs")
            .fetch_one(self.pool())
            .await
            .map_err(err)?;
        let deliveries = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
            .fetch_one(self.pool())
            .await
            .map_err(err)?;
        Ok(AuditWriterState {
            appends,
            head_seq,
            runs,
            deliveries,
        })
    }

    /// Number of rows in the audit log.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn audit_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.query_err("counting audit records", e))
    }

    /// Up to `limit` rows with `seq > after_seq`, by sequence number: page
    /// through the whole log with the last `seq` of each page.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn audit_rows(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        sqlx::query("SELECT seq, at, kind, record, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(limit)
            .try_map(|r: AnyRow| audit_row(&r))
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.query_err(format!("reading audit records after {after_seq}"), e))
    }

    /// Up to `limit` rows recorded in `[from_at, to_at)` with `seq > after_seq`, by sequence number.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn audit_rows_between(
        &self,
        from_at: i64,
        to_at: i64,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        sqlx::query(
            "SELECT seq, at, kind, record, prev_hash, hash FROM audit_log WHERE at >= $1 AND at < $2 AND seq > $3 ORDER BY seq LIMIT $4",
        )
        .bind(from_at)
        .bind(to_at)
        .bind(after_seq)
        .bind(limit)
        .try_map(|r: AnyRow| audit_row(&r))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("reading audit records of a period", e))
    }

    /// The last checkpoint (`None` before the first).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn audit_checkpoints_latest(&self) -> Result<Option<CheckpointRow>, StoreError> {
        sqlx::query(LAST_CHECKPOINT)
            .try_map(|r: AnyRow| checkpoint_row(&r))
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.query_err("reading the last audit checkpoint", e))
    }

    /// Every checkpoint, by number.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn audit_checkpoints(&self) -> Result<Vec<CheckpointRow>, StoreError> {
        sqlx::query(
            "SELECT number, seq, at, body, signature FROM audit_checkpoints ORDER BY number",
        )
        .try_map(|r: AnyRow| checkpoint_row(&r))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("reading audit checkpoints", e))
    }

    /// The region's audit secret (the key of the keyed hashes that stand for
    /// personal data in audit records): the stored one, or `candidate`, stored
    /// now, when there is none yet. Every replica thus ends up with the same.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn audit_secret_or_init(&self, candidate: &str) -> Result<String, StoreError> {
        sqlx::query("INSERT INTO region_meta (key, value) VALUES ('audit_secret', $1) ON CONFLICT (key) DO NOTHING")
            .bind(candidate)
            .execute(self.pool())
            .await
            .map_err(|e| self.query_err("storing the audit secret", e))?;
        sqlx::query_scalar("SELECT value FROM region_meta WHERE key = 'audit_secret'")
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.query_err("reading the audit secret", e))
    }
}
