//! Subscription states, the confirmation-email queue and delivery retries.

use chrono::NaiveDate;
use meridian_core::{Digest, RegionId, SubscriberEmail};
use meridian_store::{
    ConfirmationOutcome, DELIVERY_LEASE_SECS, DeliveryClaim, DeliveryRetry, SubscriberStatus,
};

use crate::store_test;

fn email(s: &str) -> SubscriberEmail {
    SubscriberEmail::parse(s).unwrap()
}

store_test!(subscribers_move_between_states_with_their_times, |db| {
    let s = db.open("eu").await.unwrap();
    let (sub, _) = s
        .add_subscriber(
            &email("anna@eu.example.com"),
            SubscriberStatus::Unconfirmed,
            Some("de-DE"),
            "web",
            10,
        )
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriberStatus::Unconfirmed);
    assert_eq!(
        (sub.confirmed_at, sub.unsubscribed_at, sub.suppressed_at),
        (None, None, None)
    );

    assert!(
        s.update_subscriber_status(sub.id, SubscriberStatus::Confirmed, None, 20)
            .await
            .unwrap()
    );
    assert!(
        s.update_subscriber_status(sub.id, SubscriberStatus::Suppressed, Some("550"), 30)
            .await
            .unwrap()
    );
    let row = s.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(row.status, SubscriberStatus::Suppressed);
    assert_eq!((row.confirmed_at, row.suppressed_at), (Some(20), Some(30)));
    assert_eq!(row.locale.as_deref(), Some("de-DE"));
    assert!(
        s.subscribers_with_status(SubscriberStatus::Confirmed)
            .await
            .unwrap()
            .is_empty(),
        "a suppressed address gets no digest"
    );

    assert!(
        s.update_subscriber_status(sub.id, SubscriberStatus::Unsubscribed, None, 40)
            .await
            .unwrap()
    );
    let row = s
        .subscriber_by_email(&email("anna@eu.example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status, row.unsubscribed_at),
        (SubscriberStatus::Unsubscribed, Some(40))
    );
    assert!(
        !s.update_subscriber_status(9999, SubscriberStatus::Confirmed, None, 50)
            .await
            .unwrap(),
        "unknown id"
    );
    assert!(s.subscriber(9999).await.unwrap().is_none());
    s.close().await;
});

store_test!(
    confirmation_emails_are_queued_once_per_cool_down_and_claimed_once,
    |db| {
        let s = db.open("us").await.unwrap();
        let (sub, _) = s
            .add_subscriber(
                &email("ada@us.example.com"),
                SubscriberStatus::Unconfirmed,
                None,
                "web",
                100,
            )
            .await
            .unwrap();
        assert!(s.queue_confirmation(sub.id, 100, 100 - 300).await.unwrap());
        assert!(
            !s.queue_confirmation(sub.id, 150, 150 - 300).await.unwrap(),
            "within the cool-down"
        );

        let due = s.due_confirmations(100, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        let id = due[0].id;
        assert!(s.claim_confirmation(id, 100, 700).await.unwrap());
        assert!(
            !s.claim_confirmation(id, 101, 701).await.unwrap(),
            "held by the first claim"
        );
        assert!(s.due_confirmations(200, 10).await.unwrap().is_empty());

        s.record_confirmation(id, ConfirmationOutcome::RetryAt("451 greylisted", 800))
            .await
            .unwrap();
        s.record_confirmation(
            id,
            ConfirmationOutcome::RelayDown("connection refused", 900),
        )
        .await
        .unwrap();
        let row = s.confirmations_of(sub.id).await.unwrap().remove(0);
        assert_eq!(
            (row.status.as_str(), row.attempts, row.next_attempt_at),
            ("pending", 1, 900),
            "a relay outage is not a try"
        );
        assert_eq!(row.last_error.as_deref(), Some("connection refused"));
        assert!(s.claim_confirmation(id, 900, 1500).await.unwrap());
        s.record_confirmation(id, ConfirmationOutcome::Sent(901))
            .await
            .unwrap();
        let row = s.confirmations_of(sub.id).await.unwrap().remove(0);
        assert_eq!((row.status.as_str(), row.attempts), ("sent", 2));

        assert!(
            s.queue_confirmation(sub.id, 1000, 1000 - 300)
                .await
                .unwrap(),
            "after the cool-down"
        );
        s.close().await;
    }
);

store_test!(
    a_delivery_is_claimed_by_one_worker_retried_later_and_dead_lettered,
    |db| {
        let s = db.open("us").await.unwrap();
        let digest = Digest {
            region: RegionId::parse("us").unwrap(),
            date: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            items: vec![],
            short_of_strong_insights: false,
        };
        let stored = s.create_digest(&digest, &[], 1).await.unwrap();
        let (sub, _) = s
            .add_subscriber(
                &email("grace@us.example.com"),
                SubscriberStatus::Confirmed,
                None,
                "cli",
                1,
            )
            .await
            .unwrap();

        let first = s
            .claim_delivery(stored.id, sub.id, "<d@us>", 1000)
            .await
            .unwrap();
        assert_eq!(
            first,
            DeliveryClaim::Send {
                message_id: "<d@us>".into(),
                attempts: 0
            }
        );
        assert_eq!(
            s.claim_delivery(stored.id, sub.id, "<d@us>", 1001)
                .await
                .unwrap(),
            DeliveryClaim::NotYet {
                next_attempt_at: 1000 + DELIVERY_LEASE_SECS
            },
            "a second worker does not send it meanwhile"
        );
        s.record_delivery_failure(
            stored.id,
            sub.id,
            "451 4.7.1 try later",
            DeliveryRetry::At(5000),
        )
        .await
        .unwrap();
        assert_eq!(
            s.claim_delivery(stored.id, sub.id, "<d@us>", 4999)
                .await
                .unwrap(),
            DeliveryClaim::NotYet {
                next_attempt_at: 5000
            }
        );
        assert_eq!(
            s.claim_delivery(stored.id, sub.id, "<d@us>", 5000)
                .await
                .unwrap(),
            DeliveryClaim::Send {
                message_id: "<d@us>".into(),
                attempts: 1
            }
        );
        s.record_delivery_failure(stored.id, sub.id, "connection refused", DeliveryRetry::Now)
            .await
            .unwrap();
        assert_eq!(
            s.claim_delivery(stored.id, sub.id, "<d@us>", 5001)
                .await
                .unwrap(),
            DeliveryClaim::Send {
                message_id: "<d@us>".into(),
                attempts: 1
            },
            "an unreachable relay does not use up a try"
        );
        s.record_delivery_failure(
            stored.id,
            sub.id,
            "451 4.7.1 try later",
            DeliveryRetry::Never,
        )
        .await
        .unwrap();
        assert_eq!(
            s.claim_delivery(stored.id, sub.id, "<d@us>", 9999)
                .await
                .unwrap(),
            DeliveryClaim::GivenUp {
                status: "dead".into()
            }
        );
        let rows = s.deliveries_of(stored.id).await.unwrap();
        assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("dead", 2));
        assert_eq!(rows[0].last_error.as_deref(), Some("451 4.7.1 try later"));
        s.close().await;
    }
);
