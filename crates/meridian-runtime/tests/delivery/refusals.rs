//! Real 4xx and 5xx replies: aiosmtpd answers `RCPT TO` for `greylist…` with
//! `451 4.7.1` and for `bounce…` with `550 5.1.1`, quoting the address.

use std::io::Write;
use std::sync::{Arc, Mutex};

use meridian_core::SubscriberEmail;
use meridian_runtime::DeliveryStep;
use meridian_store::SubscriberStatus;

use crate::helpers::Harness;

/// Everything logged at debug level and above while it lives, on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_permanent_refusal_suppresses_the_address_and_a_temporary_one_is_retried_then_dead_lettered()
 {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    // The test's runtime is single-threaded: every task logs on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::start(4).await;
    let bounce = h.add_confirmed("bounce.ada@dx.example.com", None).await;
    let grey = h.add_confirmed("greylist.grace@dx.example.com", None).await;
    h.add_confirmed("linus@dx.example.com", None).await;
    h.store_digest().await;
    let now = chrono::Utc::now().timestamp();

    let mut run = h.region.start_delivery(h.date).await.unwrap().unwrap();
    assert_eq!(
        h.region.deliver_next(&mut run, now).await.unwrap(),
        Some(DeliveryStep::Suppressed),
        "550 for bounce.ada"
    );
    assert_eq!(
        h.region.deliver_next(&mut run, now).await.unwrap(),
        Some(DeliveryStep::Deferred),
        "451 three times for greylist.grace: left for a later run"
    );
    assert_eq!(
        h.region.deliver_next(&mut run, now).await.unwrap(),
        Some(DeliveryStep::Sent),
        "the others go on"
    );

    let store = h.region.store();
    let ada = store.subscriber(bounce).await.unwrap().unwrap();
    assert_eq!(ada.status, SubscriberStatus::Suppressed);
    let rows = h.deliveries().await;
    let row = |id: i64| rows.iter().find(|d| d.subscriber_id == id).unwrap().clone();
    assert_eq!(row(bounce).status, "failed");
    let waiting = row(grey);
    assert_eq!((waiting.status.as_str(), waiting.attempts), ("pending", 3));
    let retry_at = waiting.next_attempt_at.unwrap();
    assert!(retry_at > now, "backed off across runs");

    // A run before the retry time leaves it alone; one after it tries once
    // more, reaches `max_attempts` (4) and dead-letters it.
    let early = h.region.start_delivery(h.date).await.unwrap();
    let mut early = early.unwrap();
    let mut steps = Vec::new();
    while let Some(step) = h
        .region
        .deliver_next(&mut early, retry_at - 1)
        .await
        .unwrap()
    {
        steps.push(step);
    }
    assert_eq!(
        steps,
        vec![DeliveryStep::NotYet, DeliveryStep::AlreadySent],
        "the suppressed address is not even visited"
    );
    let mut later = h.region.start_delivery(h.date).await.unwrap().unwrap();
    assert_eq!(
        h.region.deliver_next(&mut later, retry_at).await.unwrap(),
        Some(DeliveryStep::DeadLettered)
    );
    let dead = h
        .deliveries()
        .await
        .into_iter()
        .find(|d| d.subscriber_id == grey)
        .unwrap();
    assert_eq!((dead.status.as_str(), dead.attempts), ("dead", 4));
    let last_error = dead.last_error.unwrap();
    assert!(last_error.contains("451"), "{last_error}");

    // Nothing was delivered to the refused addresses, and no error or log
    // line names them: the relay's replies quoted them, the stored error and
    // the logs carry the domain and a keyed hash only.
    assert_eq!(h.smtp.messages().len(), 1);
    assert!(!last_error.contains("greylist.grace"), "{last_error}");
    let failed = h
        .deliveries()
        .await
        .into_iter()
        .find(|d| d.subscriber_id == bounce)
        .unwrap();
    assert!(!failed.last_error.unwrap().contains("bounce.ada"));
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let grace = SubscriberEmail::parse("greylist.grace@dx.example.com").unwrap();
    assert!(
        logs.contains(&h.region.recipient_hash(&grace)),
        "the log names the keyed hash: {logs}"
    );
    for address in ["bounce.ada@", "greylist.grace@", "linus@"] {
        assert!(!logs.contains(address), "`{address}` in the logs:\n{logs}");
    }
}
