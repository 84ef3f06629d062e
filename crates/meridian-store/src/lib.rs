//! One region's storage. All SQL of Meridian lives in this crate.
//!
//! A [`RegionStore`] owns the connection pool of exactly one region's database
//! (SQLite file by default, PostgreSQL in production) and is stamped with that
//! region's id at first migration: opening a database stamped for another region
//! fails ([`StoreError::WrongRegion`]). The runtime obtains the store only from a
//! region's assembled stack, so no code path can pair a region with another
//! region's pool (isolated storage: no code path takes a region id and a pool separately).
//!
//! The queries are written once for both backends through sqlx's `Any` driver:
//! `$n` placeholders, `ON CONFLICT … DO NOTHING`, `RETURNING`, integer Unix
//! seconds for times. Schema files live in `migrations/sqlite` and
//! `migrations/postgres` and describe the same tables.
//!
//! Repositories store values as they are given; ids and timestamps are minted by
//! the caller (the runtime), which keeps this layer free of business rules.
//!
//! The work queue of a region's runs (`jobs` and `runs`, see
//! [`RegionStore::claim_job`] and [`RegionStore::advance_run`]) is the one
//! place where the two backends need different SQL: PostgreSQL claims with
//! `FOR UPDATE SKIP LOCKED`, SQLite with one atomic `UPDATE … RETURNING`.

mod audit;
mod confirmations;
mod deliveries;
mod digests;
mod episodes;
mod feeds;
mod inventory;
mod jobs;
mod maintenance;
mod model_calls;
mod stats;
mod subscribers;
mod tokens;

use std::path::Path;
use std::str::FromStr;

use meridian_core::RegionId;
use sqlx::AnyPool;
use sqlx::ConnectOptions as _;
use sqlx::any::AnyPoolOptions;

pub use audit::{AuditHead, AuditRow, AuditWriterState, CheckpointRow};
pub use confirmations::{ConfirmationOutcome, ConfirmationRow};
pub use deliveries::{DELIVERY_LEASE_SECS, DeliveryClaim, DeliveryRetry, DeliveryRow};
pub use digests::{CandidateEpisode, DigestPage, StoredDigest};
pub use episodes::{EpisodeRow, EpisodeStatus, NewEpisodes};
pub use feeds::{FeedFailure, FeedRow, FeedSuccess};
pub use inventory::{ConsentCounts, InventoryItem, ModelCallCount, StatusCount};
pub use jobs::{
    ClaimedJob, JobCount, JobFailure, JobRow, NewJob, RunRow, RunStage, job_backoff_secs,
};
pub use maintenance::{ErasureOutcome, RetentionOutcome};
pub use model_calls::ModelCallRecord;
pub use stats::ServiceTotals;
pub use subscribers::{SubscriberRow, SubscriberStatus};
pub use tokens::{ApiTokenRow, TokenScope};

/// A storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error("region `{region}`: cannot open database {url}: {source}")]
    Open {
        /// The region.
        region: RegionId,
        /// The URL, without password.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("region `{region}`: migrating {url} failed: {source}")]
    Migrate {
        /// The region.
        region: RegionId,
        /// The URL, without password.
        url: String,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// The database belongs to another region.
    #[error(
        "region `{region}`: database {url} is stamped for region `{stamped}`; refusing to use another region's data"
    )]
    WrongRegion {
        /// The region that tried to open it.
        region: RegionId,
        /// The URL, without password.
        url: String,
        /// The region it belongs to.
        stamped: String,
    },
    /// A query failed.
    #[error("region `{region}`: {what}: {source}")]
    Query {
        /// The region.
        region: RegionId,
        /// What was being done, e.g. "saving episodes of feed 3".
        what: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored value could not be decoded (written by a newer or broken version).
    #[error("region `{region}`: stored {what} is corrupt: {reason}")]
    Corrupt {
        /// The region.
        region: RegionId,
        /// Which value.
        what: String,
        /// Why it cannot be read.
        reason: String,
    },
}

impl StoreError {
    /// Whether retrying the same operation later may succeed (connection
    /// trouble, a pool out of connections, a locked database or a lock wait
    /// that timed out: the statement was not carried out).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Open { .. } => true,
            Self::Query { source, .. } => {
                matches!(
                    source,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                ) || is_busy(source)
            }
            Self::Migrate { .. } | Self::WrongRegion { .. } | Self::Corrupt { .. } => false,
        }
    }
}

/// Whether the database refused a statement for a lock it could not get in
/// time: SQLite's `SQLITE_BUSY`/`SQLITE_LOCKED` (after `busy_timeout`, with
/// their extended codes), PostgreSQL's `lock_not_available`,
/// `query_canceled` (a statement or lock timeout), `serialization_failure`,
/// `deadlock_detected` and `too_many_connections`. The statement had no
/// effect.
fn is_busy(e: &sqlx::Error) -> bool {
    const SQLITE: [&str; 7] = ["5", "261", "517", "773", "6", "262", "518"];
    const POSTGRES: [&str; 5] = ["55P03", "57014", "40001", "40P01", "53300"];
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| SQLITE.contains(&&*code) || POSTGRES.contains(&&*code)),
        _ => false,
    }
}

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (embedded default).
    Sqlite,
    /// PostgreSQL (production).
    Postgres,
}

/// Statements that take longer are logged (at DEBUG, target `sqlx::query`).
const SLOW_STATEMENT: std::time::Duration = std::time::Duration::from_secs(1);

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// One region's database handle. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct RegionStore {
    /// The pool of this region's database, and of no other.
    pool: AnyPool,
    region: RegionId,
    backend: Backend,
}

/// Current time as Unix seconds.
#[must_use]
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A database URL with any password replaced by `***`, for messages.
#[must_use]
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl RegionStore {
    /// Opens (creating a SQLite file and its folder if needed), migrates and
    /// stamps the database of `region`.
    ///
    /// # Errors
    /// [`StoreError::Open`], [`StoreError::Migrate`], or
    /// [`StoreError::WrongRegion`] when the database belongs to another region.
    #[tracing::instrument(skip_all, fields(region = %region))]
    pub async fn open(
        region: &RegionId,
        url: &str,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let shown = redact_url(url);
        let open_err = |source| StoreError::Open {
            region: region.clone(),
            url: shown.clone(),
            source,
        };
        let (backend, connect_url) = if url.starts_with("sqlite:") {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if path != ":memory:"
                && let Some(parent) = Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| open_err(sqlx::Error::Io(e)))?;
            }
            let sep = if url.contains('?') { '&' } else { '?' };
            let u = if url.contains("mode=") {
                url.to_owned()
            } else {
                format!("{url}{sep}mode=rwc")
            };
            (Backend::Sqlite, u)
        } else {
            (Backend::Postgres, url.to_owned())
        };
        // SQLite allows one writer; WAL lets readers go on while it writes.
        // Statements slower than a second are logged at DEBUG, not at sqlx's
        // default WARN: a statement that waited for a lock is no news to an
        // operator, and the default log level must stay quiet.
        let options = sqlx::any::AnyConnectOptions::from_str(&connect_url)
            .map_err(open_err)?
            .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
        let pool = AnyPoolOptions::new()
            // A wait for a free connection is no warning either (sqlx's default is WARN after 2 s).
            .acquire_slow_level(log::LevelFilter::Debug)
            .max_connections(if backend == Backend::Sqlite {
                max_connections.min(4)
            } else {
                max_connections
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(open_err)?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                region: region.clone(),
                url: shown.clone(),
                source,
            })?;
        let store = Self {
            pool,
            region: region.clone(),
            backend,
        };
        store.stamp(&shown).await?;
        Ok(store)
    }

    async fn stamp(&self, shown_url: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO region_meta (key, value) VALUES ('region', $1) ON CONFLICT (key) DO NOTHING")
            .bind(self.region.as_str())
            .execute(&self.pool)
            .await
            .map_err(|e| self.query_err("stamping the database with its region", e))?;
        let stamped: String =
            sqlx::query_scalar("SELECT value FROM region_meta WHERE key = 'region'")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.query_err("reading the region stamp", e))?;
        if stamped != self.region.as_str() {
            return Err(StoreError::WrongRegion {
                region: self.region.clone(),
                url: shown_url.to_owned(),
                stamped,
            });
        }
        Ok(())
    }

    /// The region this store belongs to.
    #[must_use]
    pub fn region(&self) -> &RegionId {
        &self.region
    }

    /// The engine behind it.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers (for `/readyz`).
    ///
    /// # Errors
    /// [`StoreError::Query`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| self.query_err("pinging the database", e))?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The migrations this build applies to its backend.
    pub(crate) fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn query_err(&self, what: impl Into<String>, source: sqlx::Error) -> StoreError {
        StoreError::Query {
            region: self.region.clone(),
            what: what.into(),
            source,
        }
    }

    pub(crate) fn corrupt(&self, what: impl Into<String>, reason: impl ToString) -> StoreError {
        StoreError::Corrupt {
            region: self.region.clone(),
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://data/us.db"), "sqlite://data/us.db");
    }
}
