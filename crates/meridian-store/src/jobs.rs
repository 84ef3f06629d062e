//! The work queue (`jobs`) and the runs it belongs to (`runs`).
//!
//! A daily run is split into jobs that any worker of the region may take:
//! [`RegionStore::claim_job`] takes one queued job (or one whose lease ran
//! out) per transaction and holds it for a lease, which the worker renews
//! while it works ([`RegionStore::renew_job_lease`]). A worker that dies
//! simply stops renewing: once the lease has run out the job is claimed again
//! by whoever asks next, with its try counted. [`RegionStore::complete_job`]
//! and [`RegionStore::fail_job`] finish a try; a job that failed or was
//! abandoned `max_attempts` times is `dead`.
//!
//! How a claim stays exclusive:
//!
//! - PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED LIMIT 1`, then an `UPDATE`
//!   of that row, in one transaction. Concurrent claimers skip the row the
//!   first one locked instead of waiting for it, so N workers take N
//!   different jobs at once.
//! - SQLite: one `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING …`
//!   statement; SQLite runs one writer at a time, so the statement is atomic.
//!
//! Both re-check the claimable condition in the `UPDATE` itself, so a row
//! that changed between the look-up and the update is not taken.
//!
//! Runs move through stages ([`RunStage`]); [`RegionStore::advance_run`]
//! moves one on with a conditional `UPDATE … WHERE stage = <from>` and, in
//! the same transaction, enqueues the next stage's jobs: of several workers
//! trying at once exactly one wins, and a stage's jobs exist as soon as the
//! run is in that stage.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{Backend, RegionStore, StoreError};

/// Where a run is. Each stage's jobs are enqueued when the run enters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunStage {
    /// Created; nobody has seeded it and enqueued its feed checks yet.
    Start,
    /// Feed checks (`feed` jobs).
    Feeds,
    /// Transcripts and insights (`episode` jobs).
    Episodes,
    /// The day's digest (one `digest` job).
    Digest,
    /// Emails (one `deliver` job).
    Deliver,
    /// Finished.
    Done,
}

impl RunStage {
    /// The value stored in `runs.stage`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Feeds => "feeds",
            Self::Episodes => "episodes",
            Self::Digest => "digest",
            Self::Deliver => "deliver",
            Self::Done => "done",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "start" => Self::Start,
            "feeds" => Self::Feeds,
            "episodes" => Self::Episodes,
            "digest" => Self::Digest,
            "deliver" => Self::Deliver,
            "done" => Self::Done,
            _ => return None,
        })
    }

    /// The stage after this one (`Done` stays `Done`).
    #[must_use]
    pub fn next(self) -> Self {
        match self {
            Self::Start => Self::Feeds,
            Self::Feeds => Self::Episodes,
            Self::Episodes => Self::Digest,
            Self::Digest => Self::Deliver,
            Self::Deliver | Self::Done => Self::Done,
        }
    }
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    /// Row id.
    pub id: i64,
    /// The digest's day (`YYYY-MM-DD`).
    pub date: String,
    /// Where it is.
    pub stage: RunStage,
    /// Check every feed, due or not.
    pub force_refresh: bool,
    /// Import the region's OPML list first.
    pub import_opml: bool,
    /// When it was created (Unix seconds).
    pub started_at: i64,
    /// When it finished.
    pub finished_at: Option<i64>,
    /// What it did (JSON written by the runtime), once finished.
    pub summary: Option<String>,
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// What kind of work (`feed`, `episode`, `digest`, `deliver`).
    pub kind: String,
    /// Unique within `kind`: enqueueing the same (kind, key) again does nothing.
    pub key: String,
    /// The run it belongs to.
    pub run_id: Option<i64>,
    /// What the worker needs (e.g. a feed id), as the runtime writes it.
    pub payload: String,
    /// Tries before it is `dead`.
    pub max_attempts: i64,
}

/// A claimed job: the worker holds it until `lease_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// Row id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Key.
    pub key: String,
    /// The run it belongs to.
    pub run_id: Option<i64>,
    /// Payload.
    pub payload: String,
    /// Tries so far, this one included.
    pub attempts: i64,
    /// Tries allowed.
    pub max_attempts: i64,
    /// Held until (Unix seconds).
    pub lease_until: i64,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Row id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Key.
    pub key: String,
    /// The run it belongs to.
    pub run_id: Option<i64>,
    /// `queued`, `running`, `done` or `dead`.
    pub status: String,
    /// Tries so far.
    pub attempts: i64,
    /// Not claimed before this time (Unix seconds).
    pub run_after: i64,
    /// Held until, while `running`.
    pub lease_until: Option<i64>,
    /// Who holds or last held it.
    pub worker: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// What it did (JSON written by the runtime), once `done`.
    pub result: Option<String>,
}

/// Number of jobs of one kind in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    /// Kind.
    pub kind: String,
    /// Status.
    pub status: String,
    /// How many.
    pub count: i64,
}

/// What became of a failed try; see [`RegionStore::fail_job`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFailure {
    /// Queued again, not to be claimed before this time (Unix seconds).
    RetryAt(i64),
    /// Out of tries: `dead`.
    Dead,
    /// The job was no longer held by this worker (its lease ran out and
    /// another worker took it); nothing was changed.
    NotHeld,
}

/// Wait before the next try after `attempts` failed tries: 5 s, doubling,
/// at most 10 minutes.
#[must_use]
pub fn job_backoff_secs(attempts: i64) -> i64 {
    let exp = u32::try_from((attempts - 1).clamp(0, 16)).unwrap_or(16);
    5_i64.saturating_mul(2_i64.saturating_pow(exp)).min(600)
}

const JOB_COLUMNS: &str = "id, kind, job_key, run_id, payload, attempts, max_attempts, lease_until";
const RUN_COLUMNS: &str =
    "id, run_date, stage, force_refresh, import_opml, started_at, finished_at, summary";

impl RegionStore {
    fn run_from_row(&self, r: &AnyRow) -> Result<RunRow, StoreError> {
        let get = |e: sqlx::Error| self.corrupt("run row", e);
        let stage: String = r.try_get("stage").map_err(get)?;
        Ok(RunRow {
            id: r.try_get("id").map_err(get)?,
            date: r.try_get("run_date").map_err(get)?,
            stage: RunStage::parse(&stage).ok_or_else(|| self.corrupt("run stage", &stage))?,
            force_refresh: r.try_get::<i64, _>("force_refresh").map_err(get)? != 0,
            import_opml: r.try_get::<i64, _>("import_opml").map_err(get)? != 0,
            started_at: r.try_get("started_at").map_err(get)?,
            finished_at: r.try_get("finished_at").map_err(get)?,
            summary: r.try_get("summary").map_err(get)?,
        })
    }

    /// The unfinished run of `date`, created with these options when there is
    /// none; the bool says whether it was created now. A run already open for
    /// the day (another process's, or one that died) is joined as it is.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn open_run(
        &self,
        date: &str,
        force_refresh: bool,
        import_opml: bool,
        now: i64,
    ) -> Result<(RunRow, bool), StoreError> {
        let what = || format!("opening the run of {date}");
        // The partial unique index allows one unfinished run per day: of two
        // processes inserting at once, one inserts and both read the same row.
        let created = sqlx::query(
            "INSERT INTO runs (run_date, started_at, status, stage, force_refresh, import_opml) \
             VALUES ($1, $2, 'running', 'start', $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(date)
        .bind(now)
        .bind(i64::from(force_refresh))
        .bind(i64::from(import_opml))
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(what(), e))?
        .rows_affected()
            > 0;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE run_date = $1 AND finished_at IS NULL"
        )))
        .bind(date)
        .fetch_one(self.pool())
        .await
        .map_err(|e| self.query_err(what(), e))?;
        Ok((self.run_from_row(&row)?, created))
    }

    /// One run.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn run(&self, run_id: i64) -> Result<Option<RunRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"
        )))
        .bind(run_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_err(format!("reading run {run_id}"), e))?;
        row.map(|r| self.run_from_row(&r)).transpose()
    }

    /// Every unfinished run, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn open_runs(&self) -> Result<Vec<RunRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE finished_at IS NULL ORDER BY id"
        )))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("listing unfinished runs", e))?;
        rows.iter().map(|r| self.run_from_row(r)).collect()
    }

    /// Moves run `run_id` from stage `from` to `to` and enqueues `jobs`, in
    /// one transaction, when it is still in `from`. Returns whether this call
    /// moved it: of several callers exactly one gets `true`; the others
    /// enqueue nothing. Moving to [`RunStage::Done`] also finishes the run
    /// with `summary`.
    ///
    /// # Errors
    /// [`StoreError::Query`]; nothing changes then.
    pub async fn advance_run(
        &self,
        run_id: i64,
        from: RunStage,
        to: RunStage,
        jobs: &[NewJob],
        summary: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let what = || {
            format!(
                "moving run {run_id} from {} to {}",
                from.as_str(),
                to.as_str()
            )
        };
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| self.query_err(what(), e))?;
        let done = to == RunStage::Done;
        let moved = sqlx::query(
            "UPDATE runs SET stage = $1, \
             status = CASE WHEN $2 = 1 THEN 'finished' ELSE status END, \
             finished_at = CASE WHEN $2 = 1 THEN $3 ELSE finished_at END, \
             summary = CASE WHEN $2 = 1 THEN $4 ELSE summary END \
             WHERE id = $5 AND stage = $6 AND finished_at IS NULL",
        )
        .bind(to.as_str())
        .bind(i64::from(done))
        .bind(now)
        .bind(summary)
        .bind(run_id)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.query_err(what(), e))?
        .rows_affected()
            > 0;
        if !moved {
            tx.rollback().await.map_err(|e| self.query_err(what(), e))?;
            return Ok(false);
        }
        for job in jobs {
            insert_job(&mut tx, job, now)
                .await
                .map_err(|e| self.query_err(what(), e))?;
        }
        tx.commit().await.map_err(|e| self.query_err(what(), e))?;
        Ok(true)
    }

    /// Enqueues a job unless one with the same (kind, key) exists, whatever
    /// its status; returns whether it was added.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn enqueue_job(&self, job: &NewJob, now: i64) -> Result<bool, StoreError> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(|e| self.query_err(format!("enqueueing {}:{}", job.kind, job.key), e))?;
        insert_job(&mut conn, job, now)
            .await
            .map_err(|e| self.query_err(format!("enqueueing {}:{}", job.kind, job.key), e))
    }

    /// Claims one job for `worker` until `now + lease_secs`: the oldest queued
    /// job that is due, or a `running` job whose lease ran out (its worker is
    /// presumed dead; the try it was on counts). Jobs out of tries are not
    /// claimed (see [`RegionStore::bury_abandoned_jobs`]), except an
    /// abandoned `deliver` job: a worker that died delivering does not use
    /// up the delivery of subscribers still waiting.
    ///
    /// # Errors
    /// [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn claim_job(
        &self,
        worker: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let what = || format!("claiming a job for worker {worker}");
        let lease = now.saturating_add(lease_secs);
        // Two looks, each a walk of one status in id order on the
        // `(status, id)` index: the oldest due queued job, else the oldest
        // job whose worker's lease ran out. One `OR` would make both engines
        // scan every finished job of earlier runs on each claim.
        let mut row = None;
        for claimable in [
            "status = 'queued' AND run_after <= $1 AND attempts < max_attempts",
            "status = 'running' AND lease_until < $1 AND (attempts < max_attempts OR kind = 'deliver')",
        ] {
            row = self
                .claim_where(claimable, worker, now, lease)
                .await
                .map_err(|e| self.query_err(what(), e))?;
            if row.is_some() {
                break;
            }
        }
        let Some(r) = row else { return Ok(None) };
        let get = |e: sqlx::Error| self.corrupt("job row", e);
        Ok(Some(ClaimedJob {
            id: r.try_get("id").map_err(get)?,
            kind: r.try_get("kind").map_err(get)?,
            key: r.try_get("job_key").map_err(get)?,
            run_id: r.try_get("run_id").map_err(get)?,
            payload: r.try_get("payload").map_err(get)?,
            attempts: r.try_get("attempts").map_err(get)?,
            max_attempts: r.try_get("max_attempts").map_err(get)?,
            lease_until: r
                .try_get::<Option<i64>, _>("lease_until")
                .map_err(get)?
                .unwrap_or(lease),
        }))
    }

    /// Claims the first job matching `claimable` (SQL over the `jobs` row,
    /// `$1` = now), one transaction.
    async fn claim_where(
        &self,
        claimable: &str,
        worker: &str,
        now: i64,
        lease: i64,
    ) -> Result<Option<AnyRow>, sqlx::Error> {
        match self.backend() {
            Backend::Postgres => {
                let mut tx = self.pool().begin().await?;
                let id: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT id FROM jobs WHERE {claimable} ORDER BY status, id LIMIT 1 FOR UPDATE SKIP LOCKED"
                )))
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(id) = id else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = $2, worker = $3 \
                     WHERE id = $4 AND {claimable} RETURNING {JOB_COLUMNS}"
                )))
                .bind(now)
                .bind(lease)
                .bind(worker)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(row)
            }
            Backend::Sqlite => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = $2, worker = $3 \
                     WHERE id = (SELECT id FROM jobs WHERE {claimable} ORDER BY status, id LIMIT 1) AND {claimable} \
                     RETURNING {JOB_COLUMNS}"
                )))
                .bind(now)
                .bind(lease)
                .bind(worker)
                .fetch_optional(self.pool())
                .await
            }
        }
    }

    /// Extends `worker`'s lease on job `job_id` to `until`; `false` when the
    /// worker no longer holds it (the lease ran out and another worker took
    /// the job, or it was finished).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn renew_job_lease(
        &self,
        job_id: i64,
        worker: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND worker = $3 AND status = 'running'",
        )
        .bind(until)
        .bind(job_id)
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("renewing the lease on job {job_id}"), e))?
        .rows_affected()
            > 0)
    }

    /// Marks job `job_id` done with what it did (`result`, JSON); `false`
    /// when `worker` no longer held it (then nothing changes).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn complete_job(
        &self,
        job_id: i64,
        worker: &str,
        result: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE jobs SET status = 'done', result = $1, finished_at = $2, lease_until = NULL, last_error = NULL \
             WHERE id = $3 AND worker = $4 AND status = 'running'",
        )
        .bind(result)
        .bind(now)
        .bind(job_id)
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(format!("completing job {job_id}"), e))?
        .rows_affected()
            > 0)
    }

    /// Records a failed try of job `job_id` by `worker`: queued again after
    /// [`job_backoff_secs`], or `dead` when it has had `max_attempts` tries.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn fail_job(
        &self,
        job_id: i64,
        worker: &str,
        error: &str,
        now: i64,
    ) -> Result<JobFailure, StoreError> {
        let what = || format!("recording a failure of job {job_id}");
        let row = sqlx::query(
            "SELECT attempts, max_attempts FROM jobs WHERE id = $1 AND worker = $2 AND status = 'running'",
        )
        .bind(job_id)
        .bind(worker)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_err(what(), e))?;
        let Some(r) = row else {
            return Ok(JobFailure::NotHeld);
        };
        let get = |e: sqlx::Error| self.corrupt("job row", e);
        let attempts: i64 = r.try_get("attempts").map_err(get)?;
        let max_attempts: i64 = r.try_get("max_attempts").map_err(get)?;
        let outcome = if attempts >= max_attempts {
            JobFailure::Dead
        } else {
            JobFailure::RetryAt(now + job_backoff_secs(attempts))
        };
        let (status, run_after, finished) = match outcome {
            JobFailure::RetryAt(at) => ("queued", at, None),
            JobFailure::Dead | JobFailure::NotHeld => ("dead", now, Some(now)),
        };
        let changed = sqlx::query(
            "UPDATE jobs SET status = $1, run_after = $2, finished_at = $3, last_error = $4, lease_until = NULL \
             WHERE id = $5 AND worker = $6 AND status = 'running'",
        )
        .bind(status)
        .bind(run_after)
        .bind(finished)
        .bind(error)
        .bind(job_id)
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err(what(), e))?
        .rows_affected()
            > 0;
        Ok(if changed {
            outcome
        } else {
            JobFailure::NotHeld
        })
    }

    /// Marks `dead` every job whose worker died (lease run out) on its last
    /// allowed try; returns how many. A `deliver` job is never buried for
    /// being abandoned: a crash in the middle of delivery says nothing about
    /// the emails still to send, so the job is taken over (see
    /// [`RegionStore::claim_job`]) however often its workers died, until it
    /// ends on its own (done, or failed `max_attempts` times).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn bury_abandoned_jobs(&self, now: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE jobs SET status = 'dead', finished_at = $1, lease_until = NULL, \
             last_error = COALESCE(last_error, 'abandoned: the worker stopped renewing its lease') \
             WHERE status = 'running' AND lease_until < $1 AND attempts >= max_attempts AND kind <> 'deliver'",
        )
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(|e| self.query_err("burying abandoned jobs", e))?
        .rows_affected())
    }

    /// Jobs of run `run_id` not finished yet (`queued` or `running`).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn unfinished_jobs_of_run(&self, run_id: i64) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE run_id = $1 AND status IN ('queued', 'running')",
        )
        .bind(run_id)
        .fetch_one(self.pool())
        .await
        .map_err(|e| self.query_err(format!("counting the jobs of run {run_id}"), e))
    }

    /// Jobs not finished yet (`queued` or `running`), of any run.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn unfinished_jobs(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.query_err("counting unfinished jobs", e))
    }

    /// Every job of run `run_id`, in id order.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn jobs_of_run(&self, run_id: i64) -> Result<Vec<JobRow>, StoreError> {
        sqlx::query(
            "SELECT id, kind, job_key, run_id, status, attempts, run_after, lease_until, worker, last_error, result \
             FROM jobs WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .try_map(|r: AnyRow| job_row(&r))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err(format!("listing the jobs of run {run_id}"), e))
    }

    /// One job by (kind, key).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn job(&self, kind: &str, key: &str) -> Result<Option<JobRow>, StoreError> {
        sqlx::query(
            "SELECT id, kind, job_key, run_id, status, attempts, run_after, lease_until, worker, last_error, result \
             FROM jobs WHERE kind = $1 AND job_key = $2",
        )
        .bind(kind)
        .bind(key)
        .try_map(|r: AnyRow| job_row(&r))
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.query_err(format!("reading job {kind}:{key}"), e))
    }

    /// Number of jobs by kind and status, for `meridian worker` and metrics.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn job_counts(&self) -> Result<Vec<JobCount>, StoreError> {
        sqlx::query(
            "SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status ORDER BY kind, status",
        )
        .try_map(|r: AnyRow| {
            Ok(JobCount {
                kind: r.try_get("kind")?,
                status: r.try_get("status")?,
                count: r.try_get("n")?,
            })
        })
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.query_err("counting jobs", e))
    }
}

fn job_row(r: &AnyRow) -> Result<JobRow, sqlx::Error> {
    Ok(JobRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        key: r.try_get("job_key")?,
        run_id: r.try_get("run_id")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        run_after: r.try_get("run_after")?,
        lease_until: r.try_get("lease_until")?,
        worker: r.try_get("worker")?,
        last_error: r.try_get("last_error")?,
        result: r.try_get("result")?,
    })
}

async fn insert_job(
    conn: &mut sqlx::AnyConnection,
    job: &NewJob,
    now: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO jobs (kind, job_key, run_id, payload, status, max_attempts, run_after, created_at) \
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6) ON CONFLICT (kind, job_key) DO NOTHING",
    )
    .bind(job.kind.as_str())
    .bind(job.key.as_str())
    .bind(job.run_id)
    .bind(job.payload.as_str())
    .bind(job.max_attempts.max(1))
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected()
        > 0)
}
