//! Verification of a region's chain in its store, after tampering with the
//! database directly (as an operator with database access could).

use meridian_audit::keys::AuditKey;
use meridian_audit::record::sha256_hex;
use meridian_audit::verify::{ProblemKind, VerifyReport};
use meridian_audit::{AuditLog, GENESIS_HASH};

use crate::{audit_test, sample_event, signed_log, standard_chain};

fn kinds(report: &VerifyReport) -> Vec<ProblemKind> {
    report.problems.iter().map(|p| p.kind).collect()
}

fn assert_broken_at(report: &VerifyReport, seq: u64, kind: ProblemKind, case: &str) {
    assert!(
        !report.is_intact(),
        "{case}: tampering goes unnoticed: {report:#?}"
    );
    assert_eq!(
        report.first_bad_seq(),
        Some(seq),
        "{case}: first bad sequence number; problems: {:#?}",
        report.problems
    );
    assert!(
        kinds(report).contains(&kind),
        "{case}: expected a {kind:?} problem, got {:#?}",
        report.problems
    );
}

audit_test!(an_untouched_chain_verifies, |db| {
    let (log, public) = signed_log(db.store().await).await;
    let empty = log.verify(Some(&public)).await.unwrap();
    assert!(empty.is_intact(), "an empty chain is intact: {empty:?}");
    standard_chain(&log).await;
    let report = log.verify(Some(&public)).await.unwrap();
    assert!(report.is_intact(), "{:#?}", report.problems);
    assert_eq!(
        (
            report.records,
            report.head_seq,
            report.checkpoints,
            report.checkpoints_verified
        ),
        (10, 10, 2, 2)
    );
    assert_eq!(
        report.last_checkpoint.as_ref().map(|c| (c.number, c.seq)),
        Some((2, 8))
    );
    assert_eq!(
        report.unsigned_tail,
        Some([9, 10]),
        "records after the last checkpoint are named, not failed"
    );
    let rows = log.store().audit_rows(0, 100).await.unwrap();
    assert_eq!(rows[0].prev_hash, GENESIS_HASH);
    assert_eq!(
        rows[0].hash,
        sha256_hex(rows[0].record.as_bytes()),
        "a record's hash is the SHA-256 of its canonical text"
    );
    log.store().close().await;
});

audit_test!(an_edited_record_is_found, |db| {
    let (log, public) = signed_log(db.store().await).await;
    standard_chain(&log).await;
    db.tamper("UPDATE audit_log SET record = REPLACE(record, '\"actor\":\"pipeline\"', '\"actor\":\"intruder\"') WHERE seq = 6").await;
    assert_broken_at(
        &log.verify(Some(&public)).await.unwrap(),
        6,
        ProblemKind::Edited,
        "edit",
    );
    log.store().close().await;
});

/// Replaces record `seq` by `edit(record)` with a correct hash; with
/// `relink`, also rewrites every later record so that each links to the new
/// hash before it, as an attacker rewriting history would.
async fn rewrite(db: &crate::TestDb, log: &AuditLog, seq: i64, relink: bool) {
    let rows = log.store().audit_rows(seq - 1, 100).await.unwrap();
    let mut prev: Option<String> = None;
    for row in rows {
        let record = match &prev {
            None => row
                .record
                .replace("\"actor\":\"pipeline\"", "\"actor\":\"intruder\""),
            Some(p) => row.record.replace(&row.prev_hash, p),
        };
        let hash = sha256_hex(record.as_bytes());
        let prev_col = prev.clone().unwrap_or_else(|| row.prev_hash.clone());
        db.tamper(&format!(
            "UPDATE audit_log SET record = '{}', prev_hash = '{prev_col}', hash = '{hash}' WHERE seq = {}",
            record.replace('\'', "''"),
            row.seq
        ))
        .await;
        if !relink {
            break;
        }
        prev = Some(hash);
    }
}

audit_test!(
    an_edited_and_rehashed_record_is_found_by_the_next_link,
    |db| {
        let (log, public) = signed_log(db.store().await).await;
        standard_chain(&log).await;
        rewrite(&db, &log, 6, false).await;
        assert_broken_at(
            &log.verify(Some(&public)).await.unwrap(),
            7,
            ProblemKind::BrokenLink,
            "edit with a new hash",
        );
        log.store().close().await;
    }
);

audit_test!(
    history_rewritten_with_new_hashes_is_found_by_the_checkpoint,
    |db| {
        let (log, public) = signed_log(db.store().await).await;
        standard_chain(&log).await;
        rewrite(&db, &log, 6, true).await;
        // Every record links and hashes correctly, but checkpoint 2 signed
        // another record 8: records 5..8, after checkpoint 1, were rewritten.
        let report = log.verify(Some(&public)).await.unwrap();
        assert_broken_at(
            &report,
            5,
            ProblemKind::CheckpointMismatch,
            "rewritten history",
        );
        assert!(
            !kinds(&report).contains(&ProblemKind::BrokenLink),
            "the links were rewritten too: {:#?}",
            report.problems
        );
        log.store().close().await;
    }
);

audit_test!(an_inserted_record_is_found, |db| {
    let (log, public) = signed_log(db.store().await).await;
    standard_chain(&log).await;
    // Make room at 6 and insert a well-formed record whose hash is right and
    // that links to record 5.
    let five = log.store().audit_rows(4, 1).await.unwrap().remove(0);
    let six = log.store().audit_rows(5, 1).await.unwrap().remove(0);
    db.tamper("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 6")
        .await;
    db.tamper("UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")
        .await;
    let record = six
        .record
        .replace(&six.prev_hash, &five.hash)
        .replace("\"actor\":\"pipeline\"", "\"actor\":\"intruder\"");
    let hash = sha256_hex(record.as_bytes());
    db.tamper(&format!(
        "INSERT INTO audit_log (seq, at, kind, record, prev_hash, hash) VALUES (6, {}, '{}', '{}', '{}', '{hash}')",
        six.at,
        six.kind,
        record.replace('\'', "''"),
        five.hash
    ))
    .await;
    assert_broken_at(
        &log.verify(Some(&public)).await.unwrap(),
        6,
        ProblemKind::OutOfOrder,
        "insert",
    );
    log.store().close().await;
});

audit_test!(a_deleted_record_is_found, |db| {
    let (log, public) = signed_log(db.store().await).await;
    standard_chain(&log).await;
    db.tamper("DELETE FROM audit_log WHERE seq = 6").await;
    assert_broken_at(
        &log.verify(Some(&public)).await.unwrap(),
        6,
        ProblemKind::Missing,
        "delete",
    );
    log.store().close().await;
});

audit_test!(
    records_deleted_from_the_end_are_found_by_the_last_checkpoint,
    |db| {
        let (log, public) = signed_log(db.store().await).await;
        standard_chain(&log).await;
        db.tamper("DELETE FROM audit_log WHERE seq >= 8").await;
        assert_broken_at(
            &log.verify(Some(&public)).await.unwrap(),
            8,
            ProblemKind::Truncated,
            "truncate",
        );
        log.store().close().await;
    }
);

audit_test!(reordered_records_are_found, |db| {
    let (log, public) = signed_log(db.store().await).await;
    standard_chain(&log).await;
    db.tamper("UPDATE audit_log SET seq = -6 WHERE seq = 6")
        .await;
    db.tamper("UPDATE audit_log SET seq = 6 WHERE seq = 7")
        .await;
    db.tamper("UPDATE audit_log SET seq = 7 WHERE seq = -6")
        .await;
    assert_broken_at(
        &log.verify(Some(&public)).await.unwrap(),
        6,
        ProblemKind::OutOfOrder,
        "reorder",
    );
    log.store().close().await;
});

audit_test!(a_forged_checkpoint_signature_is_found, |db| {
    let (log, public) = signed_log(db.store().await).await;
    standard_chain(&log).await;
    let cp = log.store().audit_checkpoints().await.unwrap().remove(1);
    // Flip the first hex digit of the signature.
    let first = if cp.signature.starts_with('0') {
        "1"
    } else {
        "0"
    };
    db.tamper(&format!(
        "UPDATE audit_checkpoints SET signature = '{first}{}' WHERE number = 2",
        &cp.signature[1..]
    ))
    .await;
    assert_broken_at(
        &log.verify(Some(&public)).await.unwrap(),
        8,
        ProblemKind::ForgedCheckpoint,
        "forged signature",
    );
    log.store().close().await;
});

audit_test!(
    a_checkpoint_body_changed_under_its_signature_is_found,
    |db| {
        let (log, public) = signed_log(db.store().await).await;
        standard_chain(&log).await;
        let cp = log.store().audit_checkpoints().await.unwrap().remove(0);
        let body = cp
            .body
            .replace("\"number\":1", "\"number\":1,\"note\":\"fine\"");
        db.tamper(&format!(
            "UPDATE audit_checkpoints SET body = '{body}' WHERE number = 1"
        ))
        .await;
        assert_broken_at(
            &log.verify(Some(&public)).await.unwrap(),
            4,
            ProblemKind::ForgedCheckpoint,
            "forged body",
        );
        log.store().close().await;
    }
);

audit_test!(checkpoints_signed_with_another_key_are_refused, |db| {
    let (log, _) = signed_log(db.store().await).await;
    standard_chain(&log).await;
    let other = AuditKey::generate().unwrap().public_key();
    let report = log.verify(Some(&other)).await.unwrap();
    assert_broken_at(&report, 4, ProblemKind::ForgedCheckpoint, "another key");
    assert_eq!(report.checkpoints_verified, 0);
    log.store().close().await;
});

audit_test!(a_missing_checkpoint_is_found, |db| {
    let (log, public) = signed_log(db.store().await).await;
    standard_chain(&log).await;
    db.tamper("DELETE FROM audit_checkpoints WHERE number = 1")
        .await;
    assert_broken_at(
        &log.verify(Some(&public)).await.unwrap(),
        4,
        ProblemKind::MissingCheckpoint,
        "missing first checkpoint",
    );
    log.store().close().await;
});

audit_test!(a_missing_last_checkpoint_is_found_by_its_record, |db| {
    let (log, public) = signed_log(db.store().await).await;
    standard_chain(&log).await;
    db.tamper("DELETE FROM audit_checkpoints WHERE number = 2")
        .await;
    assert_broken_at(
        &log.verify(Some(&public)).await.unwrap(),
        8,
        ProblemKind::MissingCheckpoint,
        "missing last checkpoint",
    );
    log.store().close().await;
});

audit_test!(
    a_chain_without_a_key_is_recorded_but_reported_unsigned,
    |db| {
        let log = AuditLog::open(db.store().await, None).await.unwrap();
        for i in 0..3 {
            log.record(sample_event(i)).await.unwrap();
        }
        assert_eq!(
            log.checkpoint().await.unwrap(),
            None,
            "no key, no checkpoint"
        );
        let report = log.verify(None).await.unwrap();
        assert_eq!(report.records, 3);
        assert_broken_at(&report, 1, ProblemKind::Unsigned, "unsigned");
        log.store().close().await;
    }
);

// Two logs on one database stand for two replicas of a region.
audit_test!(two_replicas_appending_at_once_keep_one_chain, |db| {
    let key = AuditKey::generate().unwrap();
    let public = key.public_key();
    let a = AuditLog::open(db.store().await, Some(key)).await.unwrap();
    let b = AuditLog::open(db.store().await, None).await.unwrap();
    assert_eq!(
        a.keyed_hash("ada@example.org"),
        b.keyed_hash("ada@example.org"),
        "replicas share the region's audit secret"
    );
    let run = |log: AuditLog, checkpoint: bool| async move {
        for i in 0..20 {
            log.record(sample_event(i)).await.unwrap();
            if checkpoint && i % 5 == 4 {
                log.checkpoint().await.unwrap();
            }
        }
        log
    };
    let (a, b) = tokio::join!(run(a, true), run(b, false));
    let report = a.verify(Some(&public)).await.unwrap();
    assert!(report.is_intact(), "{:#?}", report.problems);
    assert_eq!((report.records, report.checkpoints), (44, 4));
    a.store().close().await;
    b.store().close().await;
});

#[tokio::test]
async fn keyed_hashes_hide_addresses_but_stay_stable() {
    let db = crate::TestDb::sqlite();
    let log = AuditLog::open(db.store().await, None).await.unwrap();
    let h = log.keyed_hash("ada@example.org");
    assert!(
        h.starts_with("hmac-sha256:") && h.len() == "hmac-sha256:".len() + 64,
        "{h}"
    );
    assert!(!h.contains("ada"));
    assert_eq!(h, log.keyed_hash("ada@example.org"));
    assert_ne!(h, log.keyed_hash("bob@example.org"));
    assert_ne!(
        h,
        format!("hmac-sha256:{}", sha256_hex(b"ada@example.org")),
        "keyed, not a plain hash anyone can recompute"
    );
    log.store().close().await;
    // Another region (database) has another secret.
    let other = crate::TestDb::sqlite();
    let log2 = AuditLog::open(other.store().await, None).await.unwrap();
    assert_ne!(log2.keyed_hash("ada@example.org"), h);
    log2.store().close().await;
}

audit_test!(
    concurrent_appends_are_group_committed_into_one_valid_chain,
    |db| {
        let (log, public) = signed_log(db.store().await).await;
        // 40 tasks, each appending a batch of 3 and a single record at once: the
        // appends coalesce into fewer transactions, and every batch stays
        // contiguous and in its own order.
        let appends = (0..40u64).map(|i| {
            let log = log.clone();
            async move {
                let batch = log
                    .record_batch(vec![
                        sample_event(i),
                        sample_event(i + 1),
                        sample_event(i + 2),
                    ])
                    .await
                    .unwrap();
                let single = log.record(sample_event(i)).await.unwrap();
                (batch, single)
            }
        });
        let results = futures_util::future::join_all(appends).await;
        let mut seqs: Vec<u64> = Vec::new();
        for (batch, single) in &results {
            assert_eq!(batch.len(), 3);
            assert_eq!(batch[1].seq, batch[0].seq + 1, "a batch is contiguous");
            assert_eq!(batch[2].seq, batch[1].seq + 1, "a batch is contiguous");
            seqs.extend(batch.iter().map(|r| r.seq));
            seqs.push(single.seq);
        }
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (1..=160).collect::<Vec<u64>>(),
            "no gap, no duplicate"
        );
        log.checkpoint().await.unwrap();
        let report = log.verify(Some(&public)).await.unwrap();
        assert!(report.is_intact(), "{:#?}", report.problems);
        assert_eq!(report.records, 161);
    }
);
