//! Throwaway databases for tests: a SQLite file in a temporary directory, or
//! a database of its own on the PostgreSQL server at `MERIDIAN_TEST_PG`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`, trust auth).
//!
//! A [`TestDb`] only makes the database and hands out its URL: the caller
//! opens it with the crate under test, so this crate needs none of ours.
//! PostgreSQL databases are dropped by [`TestDb::drop_db`] (with `FORCE`, so
//! pools left open do not keep them alive) and, should a test panic first,
//! by the next test run that reuses the name.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection as _;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The server tests make their PostgreSQL databases on.
#[must_use]
pub fn pg_admin_url() -> String {
    std::env::var("MERIDIAN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Which backend a [`TestDb`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// A database for one test.
#[derive(Debug)]
pub struct TestDb {
    /// The URL to open it with (`sqlite://…` or `postgres://…`).
    pub url: String,
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new database on `backend`; `prefix` names PostgreSQL databases
    /// (`<prefix>_<pid>_<n>`), so that leftovers tell which tests made them.
    ///
    /// # Panics
    /// When the temporary directory cannot be made or PostgreSQL does not answer.
    pub async fn new(backend: Backend, prefix: &str) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres(prefix).await,
        }
    }

    /// A SQLite file in a fresh temporary directory (removed on drop).
    ///
    /// # Panics
    /// When the temporary directory cannot be made.
    #[must_use]
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir()
            .unwrap_or_else(|e| panic!("cannot make a temporary directory: {e}"));
        let url = format!("sqlite://{}/region.db", dir.path().display());
        Self {
            url,
            admin: None,
            _dir: Some(dir),
        }
    }

    /// A new, empty PostgreSQL database.
    ///
    /// # Panics
    /// When PostgreSQL does not answer at [`pg_admin_url`].
    pub async fn postgres(prefix: &str) -> Self {
        let admin = pg_admin_url();
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut conn = admin_connection(&admin).await;
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let _ = conn.close().await;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(b, _)| b)
            .to_owned();
        Self {
            url: format!("{base}/{name}"),
            admin: Some((admin, name)),
            _dir: None,
        }
    }

    /// Which backend this database is on.
    #[must_use]
    pub fn backend(&self) -> Backend {
        if self.admin.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Runs raw SQL on the database, as someone with direct database access
    /// would (tamper tests, simulated crashes).
    ///
    /// # Panics
    /// When the statement fails.
    pub async fn execute(&self, sql: &str) {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.url));
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
    }

    /// Drops the PostgreSQL database (the SQLite directory goes with `self`).
    ///
    /// # Panics
    /// When PostgreSQL does not answer.
    pub async fn drop_db(self) {
        if let Some((admin, name)) = &self.admin {
            let mut conn = admin_connection(admin).await;
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let _ = conn.close().await;
        }
    }
}

async fn admin_connection(admin: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(admin).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL must be running at {admin} (set MERIDIAN_TEST_PG to use another server): {e}"
        )
    })
}
