//! Repository tests. Every test body runs on SQLite (a temporary file) and on
//! PostgreSQL (a throwaway database on the server at `MERIDIAN_TEST_PG`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`).
#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod archive;
mod audit;
mod jobs;
mod logs;
mod repos;
mod subscriptions;
mod tokens;

use meridian_core::RegionId;
use meridian_store::RegionStore;
use meridian_testkit::db;

/// A database for one test (`meridian_testkit::db`), dropped at the end.
pub(crate) struct TestDb(db::TestDb);

impl std::ops::Deref for TestDb {
    type Target = db::TestDb;

    fn deref(&self) -> &db::TestDb {
        &self.0
    }
}

impl TestDb {
    pub(crate) async fn sqlite() -> Self {
        Self(db::TestDb::sqlite())
    }

    pub(crate) async fn postgres() -> Self {
        Self(db::TestDb::postgres("meridian_test").await)
    }

    pub(crate) async fn open(
        &self,
        region: &str,
    ) -> Result<RegionStore, meridian_store::StoreError> {
        RegionStore::open(&RegionId::parse(region).unwrap(), &self.url, 2).await
    }

    pub(crate) async fn drop_db(self) {
        self.0.drop_db().await;
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
