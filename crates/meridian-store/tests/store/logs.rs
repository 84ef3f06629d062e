//! The store is quiet at the default log level: a statement that waited
//! for a lock is logged at DEBUG, not at sqlx's default WARN (which reached
//! every operator's stderr).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sqlx::Connection as _;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::store_test;

/// Every event of sqlx's statement and pool targets (`sqlx::query`,
/// `sqlx::pool…`) seen by the process: level and message.
type Seen = Arc<Mutex<Vec<(Level, String)>>>;

struct Capture(Seen);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        if !(meta.target() == "sqlx::query" || meta.target().starts_with("sqlx::pool")) {
            return;
        }
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push((*meta.level(), message.0));
    }
}

/// The process-wide capture (sqlx logs SQLite statements from its worker
/// threads, so a thread-local subscriber would miss them).
fn seen() -> Seen {
    static SEEN: OnceLock<Seen> = OnceLock::new();
    SEEN.get_or_init(|| {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry().with(Capture(Arc::clone(&seen)));
        tracing::subscriber::set_global_default(subscriber).unwrap();
        seen
    })
    .clone()
}

store_test!(a_statement_slowed_by_a_lock_is_not_a_warning, |db| {
    let seen = seen();
    let store = db.open("us").await.unwrap();
    sqlx::any::install_default_drivers();
    let mut holder = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let lock = if db.url.starts_with("sqlite:") {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN; LOCK TABLE feeds IN EXCLUSIVE MODE"
    };
    sqlx::raw_sql(lock).execute(&mut holder).await.unwrap();
    let release = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    };
    let url = format!("https://{}.example/feed.xml", db.url.len());
    let (added, ()) = tokio::join!(store.add_feed(&url, None, "cli", 1), release);
    assert!(
        added.unwrap().1,
        "the insert waited for the lock, then went through"
    );
    store.close().await;
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|(level, m)| *level == Level::DEBUG && m.contains("slow statement")),
        "the slow statement is logged, at DEBUG: {seen:?}"
    );
    // Other tests of this binary run beside this one, on the same capture:
    // only the "slow" events (statements, pool acquires) are this test's subject.
    assert!(
        seen.iter()
            .filter(|(_, m)| m.contains("slow"))
            .all(|(level, _)| *level > Level::WARN),
        "no slow statement or acquire at WARN or above: {seen:?}"
    );
});
