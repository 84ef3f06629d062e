//! The work queue and runs: idempotent enqueue, exclusive claims, leases that
//! run out, retries with back-off, dead jobs, and stage advancement that
//! exactly one of several workers wins.

use std::collections::HashSet;

use chrono::NaiveDate;
use meridian_core::{Digest, RegionId, SubscriberEmail};
use meridian_store::{
    DeliveryClaim, JobCount, JobFailure, NewJob, RegionStore, RunStage, SubscriberStatus,
    job_backoff_secs,
};

use crate::store_test;

fn job(kind: &str, key: &str, max_attempts: i64) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        key: key.to_owned(),
        run_id: None,
        payload: format!("{{\"key\":\"{key}\"}}"),
        max_attempts,
    }
}

async fn open_wide(url: &str) -> RegionStore {
    RegionStore::open(&RegionId::parse("us").unwrap(), url, 8)
        .await
        .unwrap()
}

fn count(counts: &[JobCount], kind: &str, status: &str) -> i64 {
    counts
        .iter()
        .find(|c| c.kind == kind && c.status == status)
        .map_or(0, |c| c.count)
}

store_test!(a_job_is_enqueued_once_and_held_by_one_worker, |db| {
    let s = db.open("us").await.unwrap();
    assert!(s.enqueue_job(&job("feed", "r1/7", 3), 100).await.unwrap());
    assert!(
        !s.enqueue_job(&job("feed", "r1/7", 3), 101).await.unwrap(),
        "the same (kind, key) again is not a second job"
    );
    assert!(
        s.enqueue_job(&job("episode", "r1/7", 3), 101)
            .await
            .unwrap(),
        "another kind with the same key is another job"
    );

    let first = s.claim_job("w1", 200, 60).await.unwrap().unwrap();
    assert_eq!((first.kind.as_str(), first.key.as_str()), ("feed", "r1/7"));
    assert_eq!(first.payload, "{\"key\":\"r1/7\"}");
    assert_eq!((first.attempts, first.lease_until), (1, 260));
    let second = s.claim_job("w2", 200, 60).await.unwrap().unwrap();
    assert_eq!(second.kind, "episode", "the held job is skipped");
    assert!(s.claim_job("w3", 200, 60).await.unwrap().is_none());

    assert!(
        !s.complete_job(first.id, "w2", "{}", 210).await.unwrap(),
        "only the holder completes a job"
    );
    assert!(
        s.complete_job(first.id, "w1", "{\"n\":1}", 210)
            .await
            .unwrap()
    );
    let done = s.job("feed", "r1/7").await.unwrap().unwrap();
    assert_eq!(done.status, "done");
    assert_eq!(done.result.as_deref(), Some("{\"n\":1}"));
    assert!(
        s.claim_job("w3", 10_000, 60).await.unwrap().map(|j| j.kind) == Some("episode".into()),
        "a done job is never claimed again; the episode job's lease ran out"
    );
    let counts = s.job_counts().await.unwrap();
    assert_eq!(count(&counts, "feed", "done"), 1);
    assert_eq!(count(&counts, "episode", "running"), 1);
    assert_eq!(s.unfinished_jobs().await.unwrap(), 1);
    s.close().await;
});

store_test!(
    a_crashed_workers_job_is_claimed_again_when_its_lease_runs_out,
    |db| {
        let s = db.open("us").await.unwrap();
        s.enqueue_job(&job("episode", "r1/3", 3), 100)
            .await
            .unwrap();
        let held = s.claim_job("dead-worker", 100, 30).await.unwrap().unwrap();
        assert!(
            s.renew_job_lease(held.id, "dead-worker", 140)
                .await
                .unwrap()
        );
        assert!(
            s.claim_job("w2", 139, 30).await.unwrap().is_none(),
            "a renewed lease keeps the job"
        );
        // The holder stops renewing (it was killed): after its lease the job is taken over.
        let taken = s.claim_job("w2", 141, 30).await.unwrap().unwrap();
        assert_eq!(
            (taken.id, taken.attempts),
            (held.id, 2),
            "the lost try counts"
        );
        assert!(
            !s.renew_job_lease(held.id, "dead-worker", 200)
                .await
                .unwrap(),
            "the old holder learns it lost the job"
        );
        assert!(
            !s.complete_job(held.id, "dead-worker", "{}", 150)
                .await
                .unwrap()
        );
        assert_eq!(
            s.fail_job(held.id, "dead-worker", "late", 150)
                .await
                .unwrap(),
            JobFailure::NotHeld
        );
        assert!(s.complete_job(taken.id, "w2", "{}", 150).await.unwrap());
        let row = s.job("episode", "r1/3").await.unwrap().unwrap();
        assert_eq!(
            (row.status.as_str(), row.worker.as_deref()),
            ("done", Some("w2"))
        );
        s.close().await;
    }
);

store_test!(a_failing_job_is_retried_with_back_off_then_dead, |db| {
    let s = db.open("us").await.unwrap();
    s.enqueue_job(&job("digest", "2026-11-28", 2), 100)
        .await
        .unwrap();
    let j = s.claim_job("w1", 100, 60).await.unwrap().unwrap();
    assert_eq!(
        s.fail_job(j.id, "w1", "database is locked", 110)
            .await
            .unwrap(),
        JobFailure::RetryAt(110 + job_backoff_secs(1))
    );
    let row = s.job("digest", "2026-11-28").await.unwrap().unwrap();
    assert_eq!(row.status, "queued");
    assert_eq!(row.last_error.as_deref(), Some("database is locked"));
    assert!(
        s.claim_job("w1", 110 + job_backoff_secs(1) - 1, 60)
            .await
            .unwrap()
            .is_none(),
        "not before its back-off"
    );
    let again = s
        .claim_job("w2", 110 + job_backoff_secs(1), 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempts, 2);
    assert_eq!(
        s.fail_job(again.id, "w2", "still locked", 200)
            .await
            .unwrap(),
        JobFailure::Dead
    );
    assert!(s.claim_job("w3", 100_000, 60).await.unwrap().is_none());
    assert_eq!(count(&s.job_counts().await.unwrap(), "digest", "dead"), 1);

    // A job whose worker died on its last allowed try is buried, not retried.
    s.enqueue_job(&job("feed", "f1", 1), 300).await.unwrap();
    s.claim_job("w4", 300, 10).await.unwrap().unwrap();
    assert!(s.claim_job("w5", 400, 10).await.unwrap().is_none());
    assert_eq!(s.bury_abandoned_jobs(400).await.unwrap(), 1);
    assert_eq!(count(&s.job_counts().await.unwrap(), "feed", "dead"), 1);
    assert_eq!(s.unfinished_jobs().await.unwrap(), 0);

    // A deliver job is never buried for its workers' deaths: it is taken
    // over past its tries, so subscribers still waiting are not given up.
    s.enqueue_job(&job("deliver", "d1", 1), 500).await.unwrap();
    s.claim_job("w6", 500, 10).await.unwrap().unwrap();
    assert_eq!(s.bury_abandoned_jobs(600).await.unwrap(), 0);
    let taken = s.claim_job("w7", 600, 10).await.unwrap().unwrap();
    assert_eq!((taken.kind.as_str(), taken.attempts), ("deliver", 2));
    assert_eq!(s.bury_abandoned_jobs(700).await.unwrap(), 0);
    assert_eq!(count(&s.job_counts().await.unwrap(), "deliver", "dead"), 0);
    assert!(s.complete_job(taken.id, "w7", "{}", 605).await.unwrap());
    assert_eq!(s.unfinished_jobs().await.unwrap(), 0);
    assert!(job_backoff_secs(1) < job_backoff_secs(2));
    assert_eq!(job_backoff_secs(40), 600, "capped");
    s.close().await;
});

store_test!(concurrent_claimers_never_take_the_same_job, |db| {
    let s = open_wide(&db.url).await;
    for i in 0..40 {
        s.enqueue_job(&job("episode", &format!("r1/{i}"), 3), 100)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        #[expect(
            clippy::disallowed_methods,
            reason = "joined below, before the test ends"
        )]
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(j) = s.claim_job(&format!("w{w}"), 100, 60).await.unwrap() {
                mine.push(j.id);
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 40, "every job claimed: {all:?}");
    assert_eq!(distinct.len(), 40, "no job claimed twice: {all:?}");
    s.close().await;
});

store_test!(exactly_one_worker_moves_a_run_to_its_next_stage, |db| {
    let s = open_wide(&db.url).await;
    let (run, created) = s.open_run("2026-11-28", true, false, 100).await.unwrap();
    assert!(created);
    assert_eq!(run.stage, RunStage::Start);
    assert!(run.force_refresh && !run.import_opml);
    let (joined, created_again) = s.open_run("2026-11-28", false, true, 101).await.unwrap();
    assert!(!created_again, "a second process joins the open run");
    assert_eq!(joined, run);

    let mut tasks = Vec::new();
    for w in 0..6 {
        let s = s.clone();
        let jobs: Vec<NewJob> = (0..5)
            .map(|i| NewJob {
                run_id: Some(run.id),
                ..job("feed", &format!("{}/{i}/{w}", run.id), 3)
            })
            .collect();
        #[expect(
            clippy::disallowed_methods,
            reason = "joined below, before the test ends"
        )]
        tasks.push(tokio::spawn(async move {
            s.advance_run(run.id, RunStage::Start, RunStage::Feeds, &jobs, None, 110)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1, "exactly one worker moves the run on");
    assert_eq!(
        s.jobs_of_run(run.id).await.unwrap().len(),
        5,
        "only the winner's jobs are enqueued"
    );
    assert_eq!(s.unfinished_jobs_of_run(run.id).await.unwrap(), 5);
    assert!(
        !s.advance_run(run.id, RunStage::Start, RunStage::Feeds, &[], None, 120)
            .await
            .unwrap(),
        "a late caller still in the old stage loses"
    );
    assert!(
        s.advance_run(
            run.id,
            RunStage::Feeds,
            RunStage::Done,
            &[],
            Some("{\"ok\":1}"),
            130
        )
        .await
        .unwrap()
    );
    let finished = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(finished.stage, RunStage::Done);
    assert_eq!(finished.finished_at, Some(130));
    assert_eq!(finished.summary.as_deref(), Some("{\"ok\":1}"));
    assert!(s.open_runs().await.unwrap().is_empty());
    let (next, created) = s.open_run("2026-11-28", false, true, 200).await.unwrap();
    assert!(
        created && next.id != run.id,
        "a finished day can be run again"
    );
    s.close().await;
});

store_test!(a_dead_workers_delivery_claims_can_be_released, |db| {
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
            &SubscriberEmail::parse("ada@us.example.com").unwrap(),
            SubscriberStatus::Confirmed,
            None,
            "cli",
            1,
        )
        .await
        .unwrap();
    assert!(matches!(
        s.claim_delivery(stored.id, sub.id, "<d@us>", 1000)
            .await
            .unwrap(),
        DeliveryClaim::Send { .. }
    ));
    assert!(matches!(
        s.claim_delivery(stored.id, sub.id, "<d@us>", 1001)
            .await
            .unwrap(),
        DeliveryClaim::NotYet { .. }
    ));
    assert_eq!(s.release_delivery_leases(stored.id).await.unwrap(), 1);
    assert_eq!(
        s.claim_delivery(stored.id, sub.id, "<d@us>", 1002)
            .await
            .unwrap(),
        DeliveryClaim::Send {
            message_id: "<d@us>".into(),
            attempts: 0
        },
        "the new holder sends it, with the same Message-ID"
    );
    s.mark_delivery_sent(stored.id, sub.id, "smtp", 1003)
        .await
        .unwrap();
    assert_eq!(s.release_delivery_leases(stored.id).await.unwrap(), 0);
    assert_eq!(
        s.claim_delivery(stored.id, sub.id, "<d@us>", 1004)
            .await
            .unwrap(),
        DeliveryClaim::AlreadySent
    );
    s.close().await;
});
