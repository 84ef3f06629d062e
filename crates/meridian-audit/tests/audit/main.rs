//! Audit log tests. Bodies written with `audit_test!` run on SQLite (a
//! temporary file) and on PostgreSQL (a throwaway database on the server at
//! `MERIDIAN_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/postgres`).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod offline;
mod online;
mod report;
mod schema;

use meridian_audit::keys::AuditKey;
use meridian_audit::{AuditEvent, AuditLog, Decision, Effect, ModelRef};
use meridian_core::{DataClass, Jurisdiction, RegionId};
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
    pub(crate) fn sqlite() -> Self {
        Self(db::TestDb::sqlite())
    }

    pub(crate) async fn postgres() -> Self {
        Self(db::TestDb::postgres("meridian_audit_test").await)
    }

    pub(crate) async fn store(&self) -> RegionStore {
        RegionStore::open(&RegionId::parse("us").unwrap(), &self.url, 2)
            .await
            .unwrap()
    }

    /// Runs raw SQL on the database, as an attacker with database access would.
    pub(crate) async fn tamper(&self, sql: &str) {
        self.0.execute(sql).await;
    }

    pub(crate) async fn drop_db(self) {
        self.0.drop_db().await;
    }
}

/// Runs one async test body against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! audit_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let $db = $crate::TestDb::sqlite();
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

/// A log with a fresh key; returns the key's public half too.
pub(crate) async fn signed_log(store: RegionStore) -> (AuditLog, meridian_audit::keys::PublicKey) {
    let key = AuditKey::generate().unwrap();
    let public = key.public_key();
    (AuditLog::open(store, Some(key)).await.unwrap(), public)
}

/// A few events of the kinds a run records.
pub(crate) fn sample_event(i: u64) -> AuditEvent {
    match i % 3 {
        0 => AuditEvent::model_call(
            "pipeline",
            ModelRef {
                name: "builtin".into(),
                provider: Some("builtin".into()),
                digest: None,
            },
            Jurisdiction::parse("US").unwrap(),
            "ok",
        )
        .with_data_class(DataClass::Public)
        .with_count("input_tokens", 100 + i),
        1 => AuditEvent::policy_decision(
            "pipeline",
            "gpt-4o-mini",
            Decision {
                action: "call_model".into(),
                effect: Effect::Allow,
                policies: vec!["us-models".into()],
                reason: None,
            },
        ),
        _ => AuditEvent::http_request("pipeline", "podcasts.example.com", "ok")
            .with_data_class(DataClass::Public),
    }
}

/// The chain every tamper test starts from, built through the real API:
///
/// | seq | what |
/// |---|---|
/// | 1–3 | events |
/// | 4 | checkpoint 1 |
/// | 5–7 | events |
/// | 8 | checkpoint 2 |
/// | 9–10 | events (unsigned tail) |
pub(crate) async fn standard_chain(log: &AuditLog) {
    for i in 0..3 {
        log.record(sample_event(i)).await.unwrap();
    }
    let cp1 = log.checkpoint().await.unwrap().expect("signed");
    assert_eq!((cp1.number, cp1.seq), (1, 4));
    for i in 3..6 {
        log.record(sample_event(i)).await.unwrap();
    }
    let cp2 = log.checkpoint().await.unwrap().expect("signed");
    assert_eq!(
        (cp2.number, cp2.seq, cp2.prev_signature.as_str()),
        (2, 8, cp1.signature.as_str())
    );
    for i in 6..8 {
        log.record(sample_event(i)).await.unwrap();
    }
}
