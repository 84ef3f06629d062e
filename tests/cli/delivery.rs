//! Delivery that survives crashes, with the real binary and a real SMTP
//! server (aiosmtpd): `meridian run` aborted at named points inside delivery
//! (`MERIDIAN_FAULT_ABORT`, see `meridian_runtime::fault`), more times than
//! a job has tries, then run again; a run that ends with subscribers waiting
//! exits 6 and says how many; a claim left by a dead process is released by
//! the next run of the day whatever its attempt count.

use std::collections::BTreeSet;
use std::process::Stdio;

use chrono::Utc;
use meridian_cli::demo::SampleServer;
use meridian_core::SubscriberEmail;
use meridian_store::{DeliveryClaim, RegionStore, SubscriberStatus};
use meridian_testkit::SmtpServer;

use crate::repo;
use crate::workers::{DATE, meridian_in, open_store, wait_output, write_region};

/// `meridian run` of the test day, with `fault` set when given; (exit code
/// or -1 when killed by a signal, stdout, stderr).
async fn run_day(
    config: &std::path::Path,
    data: &std::path::Path,
    fault: Option<&str>,
) -> (i32, String, String) {
    let (c, d, fault) = (config.to_owned(), data.to_owned(), fault.map(str::to_owned));
    tokio::task::spawn_blocking(move || {
        let mut cmd = meridian_in(&c, &d, None);
        cmd.args(["run", "--region", "us", "--date", DATE, "--lease-secs", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(f) = &fault {
            cmd.env(meridian_runtime::fault::FAULT_ENV, f);
        }
        let child = cmd.spawn().unwrap();
        wait_output(child, "`meridian run`")
    })
    .await
    .unwrap()
}

/// The distinct `Message-ID`s `address` received, and how many messages.
fn received(smtp: &SmtpServer, address: &str) -> (BTreeSet<String>, usize) {
    let messages = smtp.messages_to(address);
    let ids = messages
        .iter()
        .map(|m| m.header("Message-ID").unwrap_or_default().to_owned())
        .collect();
    (ids, messages.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_aborted_at_ten_points_ends_with_exactly_one_email_per_subscriber() {
    let server = SampleServer::start(&repo().join("demo"), None)
        .await
        .unwrap();
    let mut smtp = SmtpServer::start();
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let readers: Vec<String> = (1..=12)
        .map(|i| format!("r{i:02}@us.example.com"))
        .collect();
    let refs: Vec<&str> = readers.iter().map(String::as_str).collect();
    let regions = write_region(config.path(), &server, &smtp, &refs);
    let (c, d) = (regions.as_path(), data.path());

    // 1. The relay is down for the whole first run: it finishes, and says
    //    that every subscriber still waits, with its own exit code.
    smtp.stop();
    let (code, out, err) = run_day(c, d, None).await;
    assert_eq!(code, 6, "stdout: {out}\nstderr: {err}");
    assert!(
        err.contains("12 subscriber(s) still wait"),
        "names how many wait: {err}"
    );
    assert!(out.contains("12 subscriber(s) still wait"), "{out}");
    smtp.restart();

    // 2. The next runs of the day abort inside delivery, eleven times: more
    //    than a job's five tries. Each one must reach its point (the deliver
    //    job is never buried while subscribers wait), and the claims each
    //    leaves are taken over by the next.
    let points = [
        "deliver_job:1", // nothing sent yet
        "claimed:1",     // r01 claimed, not sent
        "decided:2",     // r01 sent; r02 decided, not sent
        "marked:1",      // r02 sent and marked, no outcome record
        "recorded:2",    // r03, r04 sent
        "claimed:2",     // r05 sent; r06 claimed
        "decided:1",     // r06 decided again, not sent
        "marked:2",      // r06, r07 sent
        "recorded:1",    // r08 sent
        "deliver_job:1", // nothing sent
        "accepted:1",    // r09 accepted by the relay, not marked sent
    ];
    for point in points {
        let (code, out, err) = run_day(c, d, Some(point)).await;
        assert_eq!(
            code, -1,
            "aborted at {point} (killed by SIGABRT)\nstdout: {out}\nstderr: {err}"
        );
        let name = point.split(':').next().unwrap();
        assert!(
            err.contains(&format!("aborting at `{name}`")),
            "reached {point}: {err}"
        );
    }
    // 3. A clean rerun finishes the day.
    let (code, out, err) = run_day(c, d, None).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("resuming the unfinished run"), "{out}");
    for reader in &readers {
        let (ids, count) = received(&smtp, reader);
        assert_eq!(ids.len(), 1, "{reader}: one email (one Message-ID)");
        if reader == "r09@us.example.com" {
            // Aborted after the relay accepted it and before the store knew:
            // the one window where the email goes out again, with the same
            // Message-ID (docs/security.md, "Delivery").
            assert_eq!(count, 2, "{reader}: resent once after `accepted`");
        } else {
            assert_eq!(count, 1, "{reader}: exactly one email");
        }
    }

    // 4. A claim a dead process left on a subscriber while the day's run
    //    finished (as when a run was closed without it): the next run of the
    //    day has a fresh deliver job (first try), releases the claim and
    //    sends the email now, not after the claim's ten-minute lease.
    let url = format!("sqlite://{}/us.db", d.display());
    let store: RegionStore = open_store(&url).await;
    let late = SubscriberEmail::parse("late@us.example.com").unwrap();
    let now = Utc::now().timestamp();
    let (sub, _) = store
        .add_subscriber(&late, SubscriberStatus::Confirmed, None, "test", now)
        .await
        .unwrap();
    let digest = store
        .digest_for_date(DATE.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let claim = store
        .claim_delivery(digest.id, sub.id, "<orphan@us.example.com>", now)
        .await
        .unwrap();
    assert!(matches!(claim, DeliveryClaim::Send { .. }));
    assert!(store.open_runs().await.unwrap().is_empty());
    store.close().await;
    let (code, out, err) = run_day(c, d, None).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert_eq!(received(&smtp, "late@us.example.com").1, 1);
    assert_eq!(smtp.messages().len(), readers.len() + 2);
    server.stop().await;
}
