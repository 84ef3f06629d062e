//! Repository tests. Every test body runs on SQLite (a temporary file) and on
//! PostgreSQL (a throwaway database on the server at `MERIDIAN_TEST_PG`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`).
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod audit;
mod repos;
mod subscriptions;

use std::sync::atomic::{AtomicU32, Ordering};

use meridian_core::RegionId;
use meridian_store::RegionStore;
use sqlx::Connection as _;

/// A database for one test, dropped at the end.
pub(crate) struct TestDb {
    pub(crate) url: String,
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn pg_admin_url() -> String {
    std::env::var("MERIDIAN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestDb {
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/region.db", dir.path().display());
        Self {
            url,
            admin: None,
            _dir: Some(dir),
        }
    }

    pub(crate) async fn postgres() -> Self {
        sqlx::any::install_default_drivers();
        let admin = pg_admin_url();
        let name = format!(
            "meridian_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut conn = sqlx::AnyConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL must be running at {admin} for the store tests: {e}")
            });
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
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

    pub(crate) async fn open(
        &self,
        region: &str,
    ) -> Result<RegionStore, meridian_store::StoreError> {
        RegionStore::open(&RegionId::parse(region).unwrap(), &self.url, 2).await
    }

    pub(crate) async fn drop_db(self) {
        if let Some((admin, name)) = &self.admin {
            let mut conn = sqlx::AnyConnection::connect(admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
        }
    }
}

/// Runs one async test body against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! store_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let $db = $crate::TestDb::sqlite().await;
                $body
                $db.drop_db().await;
            }

            #[tokio::test]
            async fn postgres() {
                let $db = $crate::TestDb::postgres().await;
                $body
                $db.drop_db().await;
            }
        }
    };
}
