//! Scale-out and crashes, with the real binary: four `meridian worker`
//! processes sharing one region's run over PostgreSQL, and `meridian run`
//! killed with SIGKILL at several points of a run, then run again.
//!
//! Feeds are the demo podcasts served on loopback; mail goes to a real SMTP
//! server (aiosmtpd). What is checked is what an operator would check: every
//! job was claimed once, every episode went through the model once, every
//! subscriber has exactly one email.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use meridian_cli::demo::SampleServer;
use meridian_core::RegionId;
use meridian_store::{EpisodeStatus, RegionStore};
use meridian_testkit::SmtpServer;
use meridian_testkit::db::TestDb;
use sqlx::Row as _;

use crate::{meridian, repo, run};

pub(crate) const DATE: &str = "2026-11-28";
/// Bounds every wait for an event (a stuck process fails the test instead of hanging it).
const DEADLINE: Duration = Duration::from_secs(180);

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A config folder `<root>/regions` (the shipped policies beside it in
/// `<root>/policies`) with a region `us`: every demo podcast, the builtin
/// engine, mail to `smtp`.
pub(crate) fn write_region(
    root: &Path,
    server: &SampleServer,
    smtp: &SmtpServer,
    subscribers: &[&str],
) -> std::path::PathBuf {
    copy_dir(&repo().join("policies"), &root.join("policies"));
    let dir = root.join("regions");
    std::fs::create_dir_all(&dir).unwrap();
    let mut opml = String::from(
        "<?xml version=\"1.0\"?>\n<opml version=\"2.0\"><head><title>t</title></head><body>\n",
    );
    let mut names: Vec<String> = std::fs::read_dir(repo().join("demo/feeds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        opml.push_str(&format!(
            "<outline type=\"rss\" text=\"{name}\" xmlUrl=\"{}/feeds/{name}\"/>\n",
            server.base_url
        ));
    }
    opml.push_str("</body></opml>\n");
    std::fs::write(dir.join("us.opml"), opml).unwrap();
    let seed: Vec<String> = subscribers.iter().map(|s| format!("\"{s}\"")).collect();
    let toml = format!(
        r#"id = "us"
name = "Workers test"
jurisdiction = "US"
locale = "en-US"
timezone = "UTC"

[storage]
url = "sqlite://{{data_dir}}/us.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[egress]
allow = ["{addr}"]

[mail]
smtp_url = "{smtp}"
from = "Meridian Digest <digest@us.example.com>"
ai_label = "AI-generated."
max_per_second = 50
retry_delay_ms = 10

[feeds]
opml = "us.opml"

[subscribers]
seed = [{seed}]
"#,
        addr = server.addr,
        smtp = smtp.url(),
        seed = seed.join(", ")
    );
    std::fs::write(dir.join("us.toml"), toml).unwrap();
    dir
}

pub(crate) fn meridian_in(config: &Path, data: &Path, storage: Option<&str>) -> Command {
    let mut cmd = meridian();
    cmd.arg("--config-dir")
        .arg(config)
        .arg("--data-dir")
        .arg(data);
    if let Some(url) = storage {
        // Replicas on one database share the link-signing secret.
        cmd.env("MERIDIAN_US__STORAGE__URL", url).env(
            "MERIDIAN_US__SERVER__TOKEN_SECRET",
            "workers-test-secret-0123456789abcdef",
        );
    }
    cmd
}

/// Waits for a child to exit within the deadline; its exit code and output.
pub(crate) fn wait_output(child: Child, what: &str) -> (i32, String, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => {
            let out = out.unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{what} did not finish within {DEADLINE:?}");
        }
    }
}

pub(crate) async fn open_store(url: &str) -> RegionStore {
    RegionStore::open(&RegionId::parse("us").unwrap(), url, 2)
        .await
        .unwrap()
}

async fn pg(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_on_postgres_share_a_run_without_doing_anything_twice() {
    let server = SampleServer::start(&repo().join("demo"), None)
        .await
        .unwrap();
    let smtp = SmtpServer::start();
    let db = TestDb::postgres("meridian_cli_workers").await;
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let readers = [
        "ada@us.example.com",
        "bea@us.example.com",
        "cy@us.example.com",
        "dan@us.example.com",
        "eve@us.example.com",
    ];
    let regions = write_region(config.path(), &server, &smtp, &readers);

    let (c, d, url) = (regions.clone(), data.path().to_owned(), db.url.clone());
    let workers = tokio::task::spawn_blocking(move || {
        let (code, out, err) = run(meridian_in(&c, &d, Some(&url)).args([
            "run",
            "--region",
            "us",
            "--enqueue-only",
            "--date",
            DATE,
        ]));
        assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
        assert!(out.contains("is queued"), "{out}");
        let children: Vec<Child> = (0..4)
            .map(|_| {
                meridian_in(&c, &d, Some(&url))
                    .args([
                        "worker",
                        "--region",
                        "us",
                        "--until-idle",
                        "--concurrency",
                        "2",
                    ])
                    .env("RUST_LOG", "warn")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .enumerate()
            .map(|(i, child)| wait_output(child, &format!("worker {i}")))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (i, (code, out, err)) in workers.iter().enumerate() {
        assert_eq!(*code, 0, "worker {i}\nstdout: {out}\nstderr: {err}");
        assert!(out.contains("stopped:"), "worker {i}: {out}");
    }

    let pool = pg(&db.url).await;
    let jobs = sqlx::query("SELECT kind, job_key, status, attempts, worker, last_error FROM jobs")
        .fetch_all(&pool)
        .await
        .unwrap();
    let episode_jobs = jobs
        .iter()
        .filter(|r| r.get::<String, _>("kind") == "episode")
        .count();
    assert!(
        episode_jobs >= 10,
        "the demo feeds give work to share: {episode_jobs} episodes"
    );
    for r in &jobs {
        let (kind, key): (String, String) = (r.get("kind"), r.get("job_key"));
        assert_eq!(r.get::<String, _>("status"), "done", "{kind}:{key}");
        assert_eq!(
            r.get::<i64, _>("attempts"),
            1,
            "{kind}:{key} was claimed more than once (last error: {:?}); workers: {workers:?}",
            r.get::<Option<String>, _>("last_error")
        );
    }
    let workers_used: std::collections::HashSet<String> =
        jobs.iter().map(|r| r.get::<String, _>("worker")).collect();
    assert!(
        workers_used.len() >= 2,
        "the run was shared by several workers: {workers_used:?}"
    );

    // Every extracted episode went through the model exactly once.
    let calls = sqlx::query(
        "SELECT content_hash, COUNT(*) AS n FROM model_calls WHERE role = 'insight' GROUP BY content_hash",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let twice: Vec<(String, i64)> = calls
        .iter()
        .map(|r| (r.get::<String, _>("content_hash"), r.get::<i64, _>("n")))
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(twice.is_empty(), "transcripts extracted twice: {twice:?}");
    let store = open_store(&db.url).await;
    let extracted = store
        .episodes_with_status(&[EpisodeStatus::Extracted])
        .await
        .unwrap()
        .len();
    assert_eq!(
        calls.len(),
        extracted,
        "one model call per extracted episode"
    );
    assert!(
        store.open_runs().await.unwrap().is_empty(),
        "the run finished"
    );
    store.close().await;

    // The run opened by `--enqueue-only` and closed by whichever worker
    // finished it has one `run_start`, one `run_end` and a checkpoint after
    // it, and the region's chain verifies.
    let kinds: Vec<String> = sqlx::query("SELECT kind FROM audit_log ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("kind"))
        .collect();
    pool.close().await;
    for kind in ["run_start", "run_end"] {
        assert_eq!(
            kinds.iter().filter(|k| *k == kind).count(),
            1,
            "one {kind} record: {kinds:?}"
        );
    }
    let end = kinds.iter().position(|k| k == "run_end").unwrap();
    assert!(
        kinds[end..].iter().any(|k| k == "checkpoint"),
        "the chain is signed after the run's end: {kinds:?}"
    );
    let (c, d, url) = (regions, data.path().to_owned(), db.url.clone());
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run(meridian_in(&c, &d, Some(&url)).args(["audit", "verify", "--region", "us"]))
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "audit verify\nstdout: {out}\nstderr: {err}");

    for reader in readers {
        assert_eq!(
            smtp.messages_to(reader).len(),
            1,
            "{reader} gets exactly one digest"
        );
    }
    assert_eq!(smtp.messages().len(), readers.len());
    server.stop().await;
    db.drop_db().await;
}

/// Starts `meridian run` and kills it (SIGKILL) as soon as `ready` says so;
/// `ready` is polled against the store and the SMTP server, never timed.
async fn run_and_kill(
    config: &Path,
    data: &Path,
    store: &RegionStore,
    what: &str,
    mut ready: impl AsyncFnMut(&RegionStore) -> bool,
) {
    let mut child = meridian_in(config, data, None)
        .args(["run", "--region", "us", "--date", DATE, "--lease-secs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if ready(store).await {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("`meridian run` ended ({status}) before the kill point: {what}");
        }
        assert!(started.elapsed() < DEADLINE, "never reached: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !store.open_runs().await.unwrap().is_empty(),
        "killed mid-run ({what})"
    );
}

async fn extracted(store: &RegionStore) -> usize {
    store
        .episodes_with_status(&[EpisodeStatus::Extracted])
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_any_point_ends_with_exactly_one_email_per_subscriber() {
    let server = SampleServer::start(&repo().join("demo"), None)
        .await
        .unwrap();
    let smtp = SmtpServer::start();
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    // Delivered in this order; the second one's first message hangs at the
    // relay, so the third kill lands mid-delivery, after the first was sent.
    let readers = [
        "ada@us.example.com",
        "stall-bea@us.example.com",
        "cy@us.example.com",
    ];
    let regions = write_region(config.path(), &server, &smtp, &readers);
    let url = format!("sqlite://{}/us.db", data.path().display());
    let store = open_store(&url).await;
    let (c, d) = (regions.as_path(), data.path());

    // 1. Feeds being checked: the first episode is stored.
    run_and_kill(c, d, &store, "first episode stored", async |s| {
        !s.episode_counts().await.unwrap().is_empty()
    })
    .await;
    let before = extracted(&store).await;
    let day = DATE.parse().unwrap();
    assert!(store.digest_for_date(day).await.unwrap().is_none());

    // 2. Insights being extracted: one more episode extracted than before.
    run_and_kill(c, d, &store, "an episode extracted", async |s| {
        extracted(s).await > before
    })
    .await;
    assert!(
        store.digest_for_date(day).await.unwrap().is_none(),
        "killed before the digest"
    );

    // 3. Delivery: the first email sent, the second one hanging at the relay.
    let smtp_ref = &smtp;
    run_and_kill(c, d, &store, "mid-delivery", async |_| {
        smtp_ref.stalled("stall-bea@us.example.com")
    })
    .await;
    assert_eq!(smtp.messages_to("ada@us.example.com").len(), 1);
    assert!(smtp.messages_to("stall-bea@us.example.com").is_empty());

    // 4. Run again to the end: it takes the killed runs' jobs over (their
    // leases run out) and finishes the same run.
    let (c2, d2) = (c.to_owned(), d.to_owned());
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let child = meridian_in(&c2, &d2, None)
            .args(["run", "--region", "us", "--date", DATE, "--lease-secs", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_output(child, "the last `meridian run`")
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("resuming the unfinished run"), "{out}");
    assert!(
        store.open_runs().await.unwrap().is_empty(),
        "the run finished"
    );
    for reader in readers {
        assert_eq!(
            smtp.messages_to(reader).len(),
            1,
            "{reader} ends with exactly one email"
        );
    }
    assert_eq!(smtp.messages().len(), readers.len());
    store.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stops_on_sigterm_after_the_jobs_in_hand() {
    use std::io::BufRead as _;
    let server = SampleServer::start(&repo().join("demo"), None)
        .await
        .unwrap();
    let smtp = SmtpServer::start();
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let regions = write_region(config.path(), &server, &smtp, &["ada@us.example.com"]);
    let (c, d) = (regions, data.path().to_owned());
    let (code, out) = tokio::task::spawn_blocking(move || {
        let mut child = meridian_in(&c, &d, None)
            .args(["worker", "--region", "us"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(first.contains("started"), "{first}");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        let (code, _, _) = wait_output(child, "the worker after SIGTERM");
        (code, first + &rest)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("worker stopping"), "{out}");
    assert!(out.contains("stopped: 0 jobs done"), "{out}");
    server.stop().await;
}
