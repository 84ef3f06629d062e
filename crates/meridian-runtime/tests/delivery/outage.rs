//! The relay goes away in the middle of a batch and comes back.

use meridian_runtime::DeliveryStep;

use crate::helpers::Harness;

#[tokio::test]
async fn the_relay_stopped_mid_batch_and_restarted_leaves_everyone_exactly_one_email() {
    let mut h = Harness::start(5).await;
    let people: Vec<String> = (1..=5)
        .map(|i| format!("reader{i}@dx.example.com"))
        .collect();
    for p in &people {
        h.add_confirmed(p, None).await;
    }
    h.store_digest().await;
    let now = chrono::Utc::now().timestamp();

    // Two emails go out over the pooled connection…
    let mut first = h.region.start_delivery(h.date).await.unwrap().unwrap();
    assert_eq!(
        h.region.deliver_next(&mut first, now).await.unwrap(),
        Some(DeliveryStep::Sent)
    );
    assert_eq!(
        h.region.deliver_next(&mut first, now).await.unwrap(),
        Some(DeliveryStep::Sent)
    );
    // …then the relay dies (killed: the pooled connection is left dangling).
    h.smtp.stop();
    assert_eq!(
        h.region.deliver_next(&mut first, now).await.unwrap(),
        Some(DeliveryStep::RelayDown),
        "the third is tried three times, then the run stops"
    );
    assert!(first.is_halted());
    assert_eq!(
        h.region.deliver_next(&mut first, now).await.unwrap(),
        None,
        "nothing more this run"
    );
    assert_eq!(h.smtp.messages().len(), 2);

    // The relay is back; the next run sends the rest and nothing twice.
    h.smtp.restart();
    let counts = h.region.deliver_digest(h.date).await.unwrap();
    assert_eq!(
        (counts.get("already_sent"), counts.get("sent")),
        (2, 3),
        "{counts:?}"
    );
    for p in &people {
        assert_eq!(h.smtp.messages_to(p).len(), 1, "{p} has exactly one email");
    }
    assert_eq!(h.smtp.messages().len(), 5);
    let rows = h.deliveries().await;
    assert!(rows.iter().all(|d| d.status == "sent"), "{rows:?}");
    assert!(
        rows.iter().all(|d| d.attempts == 1),
        "an outage costs nobody a try: {rows:?}"
    );
    let ids: std::collections::HashSet<&str> = rows.iter().map(|d| d.message_id.as_str()).collect();
    assert_eq!(ids.len(), 5, "one Message-ID per subscriber");
}
