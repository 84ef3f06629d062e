use meridian_store::{AuditHead, AuditRow, AuditWriterState, CheckpointRow, SubscriberStatus};

use crate::store_test;

/// A row that extends `head`; the "hash" names the writer and the sequence
/// number, which is enough to see which predecessor each row was built on.
fn next(head: &AuditHead, writer: &str) -> AuditRow {
    let seq = head.seq + 1;
    AuditRow {
        seq,
        at: 1_000 + seq,
        kind: "test".to_owned(),
        record: format!("{{\"seq\":{seq}}}"),
        prev_hash: head.hash.clone().unwrap_or_else(|| "0".repeat(64)),
        hash: format!("{writer}-{seq}"),
    }
}

store_test!(appends_extend_the_head_and_read_back_in_order, |db| {
    let s = db.open("us").await.unwrap();
    assert_eq!(
        s.audit_head().await.unwrap(),
        AuditHead { seq: 0, hash: None }
    );
    for _ in 0..5 {
        s.append_audit(|head| next(head, "a")).await.unwrap();
    }
    assert_eq!(s.audit_count().await.unwrap(), 5);
    assert_eq!(
        s.audit_head().await.unwrap(),
        AuditHead {
            seq: 5,
            hash: Some("a-5".to_owned())
        }
    );
    let rows = s.audit_rows(0, 100).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(rows[0].prev_hash, "0".repeat(64));
    for pair in rows.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "row {} links to row {}",
            pair[1].seq, pair[0].seq
        );
    }
    // Paging by the last sequence number of the previous page.
    let page = s.audit_rows(2, 2).await.unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![3, 4]);
    // By time: rows 2 and 3 were recorded at 1002 and 1003.
    let between = s.audit_rows_between(1_002, 1_004, 0, 100).await.unwrap();
    assert_eq!(
        between.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![2, 3]
    );
    s.close().await;
});

store_test!(an_append_that_does_not_extend_the_head_is_refused, |db| {
    let s = db.open("us").await.unwrap();
    s.append_audit(|head| next(head, "a")).await.unwrap();
    let err = s
        .append_audit(|head| AuditRow {
            seq: head.seq + 5,
            ..next(head, "a")
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not follow"), "{err}");
    assert_eq!(s.audit_count().await.unwrap(), 1, "nothing written");
    s.close().await;
});

store_test!(checkpoints_are_numbered_and_see_the_last_one, |db| {
    let s = db.open("us").await.unwrap();
    s.append_audit(|head| next(head, "a")).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (row, cp) = s
            .append_audit_checkpoint(|head, last| {
                seen.push(last.map(|l| l.signature.clone()));
                let row = next(head, "cp");
                let number = last.map_or(1, |l| l.number + 1);
                let cp = CheckpointRow {
                    number,
                    seq: row.seq,
                    at: row.at,
                    body: format!("body {number}"),
                    signature: format!("sig {number}"),
                };
                (row, cp)
            })
            .await
            .unwrap();
        assert_eq!(cp.seq, row.seq);
    }
    assert_eq!(
        seen,
        vec![None, Some("sig 1".to_owned()), Some("sig 2".to_owned())]
    );
    let cps = s.audit_checkpoints().await.unwrap();
    assert_eq!(
        cps.iter().map(|c| (c.number, c.seq)).collect::<Vec<_>>(),
        vec![(1, 2), (2, 3), (3, 4)]
    );
    // A checkpoint that skips a number is refused, and its record with it.
    let err = s
        .append_audit_checkpoint(|head, _| {
            let row = next(head, "cp");
            let cp = CheckpointRow {
                number: 9,
                seq: row.seq,
                at: row.at,
                body: String::new(),
                signature: String::new(),
            };
            (row, cp)
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not follow"), "{err}");
    assert_eq!(
        s.audit_count().await.unwrap(),
        4,
        "the record of the refused checkpoint was rolled back"
    );
    s.close().await;
});

// Two stores on one database stand for two replicas of a region: their
// appends interleave but never build on the same predecessor.
store_test!(concurrent_appenders_never_fork_the_chain, |db| {
    let a = db.open("us").await.unwrap();
    let b = db.open("us").await.unwrap();
    let writer = |store: meridian_store::RegionStore, name: &'static str| async move {
        for _ in 0..25 {
            store.append_audit(|head| next(head, name)).await.unwrap();
        }
        store
    };
    let (a, b) = tokio::join!(writer(a, "a"), writer(b, "b"));
    let rows = a.audit_rows(0, 1_000).await.unwrap();
    assert_eq!(rows.len(), 50);
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=50).collect::<Vec<_>>()
    );
    for pair in rows.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "row {} was built on row {}",
            pair[1].seq, pair[0].seq
        );
    }
    a.close().await;
    b.close().await;
});

store_test!(the_audit_secret_is_made_once_per_region, |db| {
    let s = db.open("us").await.unwrap();
    let first = s.audit_secret_or_init("first").await.unwrap();
    let second = s.audit_secret_or_init("second").await.unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("first", "first"));
    assert_eq!(
        s.audit_head().await.unwrap(),
        AuditHead { seq: 0, hash: None },
        "the secret is not a record"
    );
    s.close().await;
});

store_test!(inventory_counts_rows_in_and_out_of_the_period, |db| {
    let s = db.open("us").await.unwrap();
    let empty = s.data_inventory(0, i64::MAX).await.unwrap();
    assert!(
        empty.iter().all(|i| i.total == 0 && i.oldest_at.is_none()),
        "{empty:?}"
    );
    s.add_feed("https://pod.example/a.xml", None, "cli", 100)
        .await
        .unwrap();
    s.add_feed("https://pod.example/b.xml", None, "cli", 500)
        .await
        .unwrap();
    let ada = meridian_core::SubscriberEmail::parse("ada@example.org").unwrap();
    let bob = meridian_core::SubscriberEmail::parse("bob@example.org").unwrap();
    s.add_subscriber(&ada, SubscriberStatus::Confirmed, None, "cli", 150)
        .await
        .unwrap();
    s.add_subscriber(&bob, SubscriberStatus::Confirmed, None, "cli", 160)
        .await
        .unwrap();
    s.set_subscriber_status(&bob, SubscriberStatus::Unsubscribed, 600)
        .await
        .unwrap();

    let inv = s.data_inventory(0, 200).await.unwrap();
    let feeds = inv.iter().find(|i| i.category == "feeds").unwrap();
    assert_eq!(
        (
            feeds.total,
            feeds.in_period,
            feeds.oldest_at,
            feeds.newest_at
        ),
        (2, 1, Some(100), Some(500))
    );
    let subs = inv.iter().find(|i| i.category == "subscribers").unwrap();
    assert_eq!((subs.total, subs.data_class), (2, "personal"));

    let consent = s.consent_counts(0, 200).await.unwrap();
    assert_eq!(
        (consent.signed_up, consent.confirmed, consent.unsubscribed),
        (2, 2, 0)
    );
    let later = s.consent_counts(200, 1_000).await.unwrap();
    assert_eq!(
        (later.signed_up, later.confirmed, later.unsubscribed),
        (0, 0, 1)
    );
    let by_status: Vec<(String, i64)> = later
        .by_status
        .iter()
        .map(|c| (c.status.clone(), c.total))
        .collect();
    assert_eq!(
        by_status,
        vec![("confirmed".to_owned(), 1), ("unsubscribed".to_owned(), 1)]
    );
    assert!(s.delivery_counts(0, 1_000).await.unwrap().is_empty());
    assert!(s.model_call_counts(0, 1_000).await.unwrap().is_empty());
    s.close().await;
});

store_test!(
    the_writer_remembers_the_highest_record_after_the_rows_are_gone,
    |db| {
        let s = db.open("us").await.unwrap();
        assert_eq!(
            s.audit_writer_state().await.unwrap(),
            AuditWriterState::default()
        );
        s.append_audit(|head| next(head, "a")).await.unwrap();
        s.append_audit_batch(|head| {
            let first = next(head, "a");
            let second = next(
                &AuditHead {
                    seq: first.seq,
                    hash: Some(first.hash.clone()),
                },
                "a",
            );
            vec![first, second]
        })
        .await
        .unwrap();
        let state = s.audit_writer_state().await.unwrap();
        assert_eq!((state.appends, state.head_seq), (2, 3));
        // Rows deleted behind the writer's back: the mark stays.
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        sqlx::query("DELETE FROM audit_log WHERE seq > 1")
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
        assert_eq!(s.audit_head().await.unwrap().seq, 1);
        assert_eq!(s.audit_writer_state().await.unwrap().head_seq, 3);
        s.close().await;
    }
);
