//! The region's work queue: a daily run as jobs that any process of the
//! region may take (`meridian run`, `meridian worker`).
//!
//! A run moves through stages, each a set of jobs enqueued when the run
//! enters it (see `meridian_store::RunStage`):
//!
//! | stage | jobs | key |
//! |---|---|---|
//! | `start` | none: whoever moves the run on seeds subscribers and the OPML list | |
//! | `feeds` | one `feed` job per feed to check | `<run>/<feed id>` |
//! | `episodes` | one `episode` job per episode waiting for a transcript or insights | `<run>/<episode id>` |
//! | `digest` | one `digest` job | `<run>/<date>` |
//! | `deliver` | one `deliver` job | `<run>/<date>` |
//! | `done` | none: the run's summary is stored | |
//!
//! Every worker loops: claim a job (one per transaction; `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL), do it while renewing its lease, record what it
//! did (its part of the [`RunReport`], as JSON) and mark it done. When
//! nothing can be claimed, the worker tries to move each open run on: when
//! none of the run's jobs is queued or running, it plans the next stage's
//! jobs and moves the run with a conditional `UPDATE … WHERE stage = <this
//! stage>` that enqueues them in the same transaction, so that of N workers
//! exactly one wins and the others plan in vain. The stage machine lives in
//! the database, not in any process: a run whose process died is finished
//! by whichever process comes next, and its report is the sum of its jobs.
//!
//! A job whose worker died is claimed again once its lease has run out; the
//! work it does is idempotent in the store (an episode already extracted is
//! left alone, a delivery already sent is not sent again), so redoing a
//! half-done job does no visible work twice. The `deliver` job releases the
//! delivery claims still held for its digest before it starts
//! (`RegionStore::release_delivery_leases`): only one worker holds the job
//! and a day has one open run, so those claims belong to a process that
//! died, on an earlier try or in an earlier run of the day. A `deliver` job
//! abandoned by a dead worker is taken over however often that happened; it
//! is never buried `dead` for it, so a crash loop in delivery does not end
//! the run with subscribers unserved. A run that ends with confirmed
//! subscribers still waiting for the day's digest says how many
//! ([`RunReport::waiting`]; `meridian run` exits 6), and the next run of
//! the day delivers to them.
//!
//! Within one process, `concurrency` jobs run at once (feed fetches overlap
//! as before the queue, within the per-host limit), and insight extraction
//! runs at most one per core when the region's first usable model is the
//! builtin engine (it works on the blocking pool, so episodes use every core
//! while the async workers keep fetching), one at a time for remote models.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use meridian_store::{ClaimedJob, JobFailure, NewJob, RunRow, RunStage};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::pipeline::{RunReport, stage_lines};
use crate::{Region, RuntimeError};

/// Tries of one job before it is `dead`.
const MAX_ATTEMPTS: i64 = 5;

/// How one process works the region's queue.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// This worker's name in the queue (`host:pid:random`); a job is held by it.
    pub worker_id: String,
    /// Jobs worked at once in this process.
    pub concurrency: usize,
    /// How long a claimed job is held without renewal; renewed every third
    /// of it while the job runs. A job whose worker dies is taken over by
    /// others this long after its last renewal.
    pub lease: Duration,
    /// Wait before looking again when nothing can be claimed.
    pub poll: Duration,
}

impl WorkerOptions {
    /// The defaults: `egress.max_concurrent_fetches` jobs at once, a 60 s
    /// lease, looking again every 250 ms when idle.
    #[must_use]
    pub fn new(region: &Region) -> Self {
        Self {
            worker_id: worker_id(),
            concurrency: region.config().egress.max_concurrent_fetches.max(1),
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(250),
        }
    }

    fn lease_secs(&self) -> i64 {
        i64::try_from(self.lease.as_secs().max(1)).unwrap_or(i64::MAX)
    }
}

/// `host:pid:random`, unique per process.
fn worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let mut nonce = [0u8; 4];
    // Without randomness the pid still tells processes on one host apart.
    let _ = getrandom::fill(&mut nonce);
    format!("{host}:{}:{}", std::process::id(), hex::encode(nonce))
}

/// What [`Region::work`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkSummary {
    /// Jobs done.
    pub jobs_done: u64,
    /// Tries that failed (retried later, or dead).
    pub jobs_failed: u64,
    /// Runs this process moved to `done`.
    pub runs_finished: u64,
}

/// Fetch slots per host, shared by feed and transcript downloads of one process.
#[derive(Debug)]
pub(crate) struct HostSlots {
    per_host: usize,
    slots: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostSlots {
    fn new(per_host: usize) -> Self {
        Self {
            per_host: per_host.max(1),
            slots: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a fetch slot on the host of `url`.
    pub(crate) async fn acquire(&self, url: &str) -> Option<OwnedSemaphorePermit> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let slot = {
            let mut slots = self.slots.lock().ok()?;
            Arc::clone(
                slots
                    .entry(host)
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
            )
        };
        // The semaphore is never closed, so acquiring cannot fail.
        slot.acquire_owned().await.ok()
    }
}

/// When a process stops working the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// When this run is done (`meridian run`).
    Run(i64),
    /// When no run is open and no job is queued or running (`--until-idle`).
    Idle,
    /// When asked to stop.
    Stopped,
}

/// Everything the loops of one process share.
struct Shared<'a> {
    options: &'a WorkerOptions,
    goal: Goal,
    stop: &'a AtomicBool,
    slots: HostSlots,
    /// Extractions at once: one per core when the first usable insight
    /// model is the builtin engine, else one.
    cpu: Semaphore,
    /// One loop plans stages at a time; the others keep working.
    planning: tokio::sync::Mutex<()>,
    /// Wakes idle loops when new jobs were enqueued.
    enqueued: Notify,
    done: AtomicU64,
    failed: AtomicU64,
    finished_runs: AtomicU64,
    observer: Option<Observer<'a>>,
}

/// Prints a run's progress lines as its stages finish (`meridian run`).
struct Observer<'a> {
    run_id: i64,
    date: NaiveDate,
    printed: tokio::sync::Mutex<Option<RunStage>>,
    noted: &'a [(String, String)],
    progress: &'a (dyn Fn(&str) + Sync),
    transport: String,
}

impl Region {
    /// Works the region's queue (`meridian worker`): claims and does jobs,
    /// `options.concurrency` at a time, moving open runs on between them,
    /// until `stop` is set (the jobs in hand are finished first) or, with
    /// `until_idle`, until no run is open and no job is queued or running.
    ///
    /// # Errors
    /// [`RuntimeError`] when the store cannot be reached for good or a run
    /// cannot be planned (e.g. an unreadable feed list). A failing job is
    /// retried later and, after five tries, left `dead`; it does not stop
    /// the worker.
    #[tracing::instrument(skip_all, fields(region = %self.config().id, worker = %options.worker_id))]
    pub async fn work(
        &self,
        options: &WorkerOptions,
        until_idle: bool,
        stop: &AtomicBool,
    ) -> Result<WorkSummary, RuntimeError> {
        self.seed_token_budget().await?;
        let goal = if until_idle {
            Goal::Idle
        } else {
            Goal::Stopped
        };
        let shared = self.shared(options, goal, stop, None);
        self.work_loops(&shared).await?;
        // Outcome records still buffered are written, and signed, before
        // the worker goes.
        self.audit_checkpoint_if_moved().await?;
        Ok(WorkSummary {
            jobs_done: shared.done.load(Ordering::Relaxed),
            jobs_failed: shared.failed.load(Ordering::Relaxed),
            runs_finished: shared.finished_runs.load(Ordering::Relaxed),
        })
    }

    /// Works the queue until run `run` is done, printing its stages'
    /// progress lines; its report, summed over all its jobs.
    pub(crate) async fn work_run(
        &self,
        run: &RunRow,
        options: &WorkerOptions,
        noted: &[(String, String)],
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<RunReport, RuntimeError> {
        self.seed_token_budget().await?;
        let date = parse_date(self, &run.date).map_err(|e| *e)?;
        let never = AtomicBool::new(false);
        let observer = Observer {
            run_id: run.id,
            date,
            printed: tokio::sync::Mutex::new(None),
            noted,
            progress,
            transport: self.mailer().describe(),
        };
        let shared = self.shared(options, Goal::Run(run.id), &never, Some(observer));
        self.work_loops(&shared).await?;
        if let Some(observer) = &shared.observer {
            self.observe(observer).await?;
        }
        self.run_report(run.id).await
    }

    fn shared<'a>(
        &self,
        options: &'a WorkerOptions,
        goal: Goal,
        stop: &'a AtomicBool,
        observer: Option<Observer<'a>>,
    ) -> Shared<'a> {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let builtin_first = self
            .insight_models()
            .iter()
            .find(|m| m.unavailable.is_none())
            .is_some_and(|m| m.provider == "builtin");
        // Remote models get one request at a time from this process, as
        // before the queue: their retries and circuit breaker then see the
        // requests in order, so an outage costs one request and its retry,
        // not one per episode in flight.
        let cpu = if builtin_first {
            cores.min(options.concurrency)
        } else {
            1
        };
        Shared {
            options,
            goal,
            stop,
            slots: HostSlots::new(self.config().egress.max_fetches_per_host),
            cpu: Semaphore::new(cpu.max(1)),
            planning: tokio::sync::Mutex::new(()),
            enqueued: Notify::new(),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            finished_runs: AtomicU64::new(0),
            observer,
        }
    }

    async fn work_loops(&self, shared: &Shared<'_>) -> Result<(), RuntimeError> {
        // The loops share this task (a `&self` region cannot move into
        // spawned tasks); they overlap on I/O, and the CPU-heavy extraction
        // leaves the task through the blocking pool.
        futures_util::future::try_join_all(
            (0..shared.options.concurrency.max(1)).map(|_| self.work_loop(shared)),
        )
        .await?;
        Ok(())
    }

    async fn work_loop(&self, shared: &Shared<'_>) -> Result<(), RuntimeError> {
        let store = self.store();
        let worker = shared.options.worker_id.as_str();
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let claimed = store
                .claim_job(
                    worker,
                    meridian_store::unix_now(),
                    shared.options.lease_secs(),
                )
                .await;
            let job = match claimed {
                Ok(job) => job,
                Err(e) if e.is_retryable() => {
                    tracing::warn!(region = %self.config().id, error = %e, "Cannot claim a job now; trying again");
                    tokio::time::sleep(shared.options.poll).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(job) = job {
                self.process_claimed(job, shared).await?;
                continue;
            }
            let moved = match shared.planning.try_lock() {
                Ok(_planning) => match self.advance_runs(shared).await {
                    Ok(moved) => moved,
                    // A busy database (another writer held SQLite's lock
                    // past its busy timeout) is no reason to fail the run:
                    // advancing runs is resumable, so it is tried again.
                    Err(RuntimeError::Store(e)) if e.is_retryable() => {
                        tracing::warn!(region = %self.config().id, error = %e, "Cannot advance the runs now; trying again");
                        tokio::time::sleep(shared.options.poll).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
                Err(_) => false,
            };
            if let Some(observer) = &shared.observer {
                self.observe(observer).await?;
            }
            if moved {
                shared.enqueued.notify_waiters();
                continue;
            }
            match self.goal_reached(shared.goal).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(RuntimeError::Store(e)) if e.is_retryable() => {
                    tracing::warn!(region = %self.config().id, error = %e, "Cannot check the runs now; trying again");
                }
                Err(e) => return Err(e),
            }
            tokio::select! {
                () = tokio::time::sleep(shared.options.poll) => {}
                () = shared.enqueued.notified() => {}
            }
        }
    }

    async fn goal_reached(&self, goal: Goal) -> Result<bool, RuntimeError> {
        let store = self.store();
        Ok(match goal {
            Goal::Run(id) => store.run(id).await?.is_none_or(|r| r.finished_at.is_some()),
            Goal::Idle => {
                store.open_runs().await?.is_empty() && store.unfinished_jobs().await? == 0
            }
            Goal::Stopped => false,
        })
    }

    /// Does one claimed job while renewing its lease, and records the outcome.
    async fn process_claimed(
        &self,
        job: ClaimedJob,
        shared: &Shared<'_>,
    ) -> Result<(), RuntimeError> {
        let store = self.store();
        let worker = shared.options.worker_id.as_str();
        let region = &self.config().id;
        let span = tracing::info_span!("job", region = %region, kind = %job.kind, key = %job.key, attempt = job.attempts);
        let work = tracing::Instrument::instrument(self.process_job(&job, shared), span);
        tokio::pin!(work);
        let renew_every = shared.options.lease / 3;
        let result = loop {
            tokio::select! {
                r = &mut work => break Some(r),
                () = tokio::time::sleep(renew_every) => {
                    let until = meridian_store::unix_now() + shared.options.lease_secs();
                    match store.renew_job_lease(job.id, worker, until).await {
                        Ok(true) => {}
                        Ok(false) => {
                            // Another worker took the job over (our lease ran
                            // out, e.g. the process was paused): stop here;
                            // everything done so far is stored and idempotent.
                            tracing::warn!(region = %region, job = %format!("{}:{}", job.kind, job.key), "Lost the lease on a job; leaving it to the worker that took it over");
                            break None;
                        }
                        Err(e) => tracing::warn!(region = %region, error = %e, "Cannot renew a job lease; trying again"),
                    }
                }
            }
        };
        let Some(result) = result else {
            return Ok(());
        };
        let now = meridian_store::unix_now();
        match result {
            Ok(part) => {
                let json = serde_json::to_string(&part).map_err(|e| RuntimeError::Job {
                    region: region.clone(),
                    job: format!("{}:{}", job.kind, job.key),
                    reason: format!("cannot record its result: {e}"),
                })?;
                if store.complete_job(job.id, worker, &json, now).await? {
                    shared.done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Err(e) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                let outcome = store.fail_job(job.id, worker, &e.to_string(), now).await?;
                match outcome {
                    JobFailure::Dead => {
                        tracing::error!(region = %region, job = %format!("{}:{}", job.kind, job.key), error = %e, "Job failed for the last time; it is dead and its run goes on without it");
                    }
                    JobFailure::RetryAt(at) => {
                        tracing::warn!(region = %region, job = %format!("{}:{}", job.kind, job.key), error = %e, retry_at = at, "Job failed; it will be tried again");
                    }
                    JobFailure::NotHeld => {}
                }
                // `meridian run` reports what an operator must fix at once,
                // as before the queue; a worker goes on with other jobs.
                if matches!(shared.goal, Goal::Run(_)) && !e.is_retryable() {
                    return Err(e);
                }
                Ok(())
            }
        }
    }

    /// One job's work; its part of the run's report.
    async fn process_job(
        &self,
        job: &ClaimedJob,
        shared: &Shared<'_>,
    ) -> Result<RunReport, RuntimeError> {
        let bad = |reason: String| RuntimeError::Job {
            region: self.config().id.clone(),
            job: format!("{}:{}", job.kind, job.key),
            reason,
        };
        let id = || {
            job.payload
                .parse::<i64>()
                .map_err(|e| format!("payload `{}`: {e}", job.payload))
        };
        let date = || {
            job.payload
                .parse::<NaiveDate>()
                .map_err(|e| format!("payload `{}`: {e}", job.payload))
        };
        let mut part = RunReport::default();
        match job.kind.as_str() {
            "feed" => {
                self.check_feed(id().map_err(bad)?, &shared.slots, &mut part)
                    .await?
            }
            "episode" => {
                self.process_episode(id().map_err(bad)?, &shared.slots, &shared.cpu, &mut part)
                    .await?;
            }
            "digest" => {
                self.make_digest(date().map_err(bad)?, &mut part).await?;
            }
            "deliver" => {
                let Some(stored) = self.store().digest_for_date(date().map_err(bad)?).await? else {
                    return Ok(part);
                };
                // Only the holder of a deliver job delivers a digest, and a
                // day has one open run (so one deliver job in hand) at a
                // time: claims still held belong to a process that died, on
                // an earlier try of this job or in an earlier run of the day,
                // whatever this job's attempt count. Released now, they are
                // sent now, not after the claim's lease.
                let released = self.store().release_delivery_leases(stored.id).await?;
                if released > 0 {
                    tracing::warn!(region = %self.config().id, released, "Took over the delivery claims of a process that stopped mid-delivery");
                }
                crate::fault::point("deliver_job");
                let mut delivery = RunReport {
                    digest: Some(stored.digest),
                    ..RunReport::default()
                };
                self.deliver(&mut delivery).await?;
                part.delivery = delivery.delivery;
            }
            other => return Err(bad(format!("unknown job kind `{other}`"))),
        }
        Ok(part)
    }

    /// Tries to move every open run to its next stage; whether one moved.
    async fn advance_runs(&self, shared: &Shared<'_>) -> Result<bool, RuntimeError> {
        let store = self.store();
        let buried = store
            .bury_abandoned_jobs(meridian_store::unix_now())
            .await?;
        if buried > 0 {
            tracing::error!(region = %self.config().id, buried, "Jobs abandoned by dead workers on their last try are dead");
        }
        let mut moved = false;
        for run in store.open_runs().await? {
            if self.advance(&run).await? {
                moved = true;
                if run.stage.next() == RunStage::Done {
                    shared.finished_runs.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(moved)
    }

    /// Moves `run` to its next stage when its current stage's jobs are all
    /// finished, enqueueing the next stage's jobs; whether this call moved it.
    async fn advance(&self, run: &RunRow) -> Result<bool, RuntimeError> {
        let store = self.store();
        if run.stage == RunStage::Done || store.unfinished_jobs_of_run(run.id).await? > 0 {
            return Ok(false);
        }
        let job = |kind: &str, payload: String| NewJob {
            kind: kind.to_owned(),
            key: format!("{}/{payload}", run.id),
            run_id: Some(run.id),
            payload,
            max_attempts: MAX_ATTEMPTS,
        };
        let to = run.stage.next();
        let mut summary = None;
        let jobs: Vec<NewJob> = match run.stage {
            RunStage::Start => {
                self.seed(run.import_opml).await?;
                self.feeds_to_check(run.force_refresh)
                    .await?
                    .iter()
                    .map(|f| job("feed", f.id.to_string()))
                    .collect()
            }
            RunStage::Feeds => store
                .episodes_with_status(&[
                    meridian_store::EpisodeStatus::New,
                    meridian_store::EpisodeStatus::Transcribed,
                    meridian_store::EpisodeStatus::Parked,
                ])
                .await?
                .iter()
                .map(|e| job("episode", e.id.to_string()))
                .collect(),
            RunStage::Episodes => vec![job("digest", run.date.clone())],
            RunStage::Digest => vec![job("deliver", run.date.clone())],
            RunStage::Deliver => {
                let mut report = self.run_report(run.id).await?;
                report.date = Some(parse_date(self, &run.date).map_err(|e| *e)?);
                report.transport = self.mailer().describe();
                summary = serde_json::to_string(&report).ok();
                Vec::new()
            }
            RunStage::Done => return Ok(false),
        };
        let moved = store
            .advance_run(
                run.id,
                run.stage,
                to,
                &jobs,
                summary.as_deref(),
                meridian_store::unix_now(),
            )
            .await?;
        if moved {
            tracing::info!(region = %self.config().id, run = run.id, stage = to.as_str(), jobs = jobs.len(), "Run moved to its next stage");
            if to == RunStage::Done {
                // Exactly one process closes a run: it writes the run's
                // `run_end` record and signs the chain.
                let report = self.run_report(run.id).await?;
                let report = RunReport {
                    date: parse_date(self, &run.date).ok(),
                    ..report
                };
                self.audit_run_closed(&report).await?;
            }
        }
        Ok(moved)
    }

    /// The report of run `run_id` so far: the sum of its finished jobs' parts.
    pub(crate) async fn run_report(&self, run_id: i64) -> Result<RunReport, RuntimeError> {
        let mut report = RunReport::default();
        for job in self.store().jobs_of_run(run_id).await? {
            let Some(result) = job.result else { continue };
            match serde_json::from_str::<RunReport>(&result) {
                Ok(part) => report.absorb(part),
                Err(e) => {
                    tracing::warn!(region = %self.config().id, job = %format!("{}:{}", job.kind, job.key), error = %e, "Unreadable job result left out of the run report");
                }
            }
        }
        Ok(report)
    }

    /// Prints the lines of the observed run's stages finished since last time.
    async fn observe(&self, observer: &Observer<'_>) -> Result<(), RuntimeError> {
        let mut printed = observer.printed.lock().await;
        let Some(run) = self.store().run(observer.run_id).await? else {
            return Ok(());
        };
        let mut next = match *printed {
            None => RunStage::Start,
            Some(RunStage::Deliver | RunStage::Done) => return Ok(()),
            Some(stage) => stage.next(),
        };
        let mut report: Option<RunReport> = None;
        // Every stage before the run's current one is finished.
        while next < run.stage {
            let report = match &mut report {
                Some(r) => r,
                None => {
                    let mut r = self.run_report(observer.run_id).await?;
                    r.date = Some(observer.date);
                    r.transport.clone_from(&observer.transport);
                    report.insert(r)
                }
            };
            for line in stage_lines(next, report, observer.noted) {
                (observer.progress)(&line);
            }
            *printed = Some(next);
            next = next.next();
        }
        Ok(())
    }
}

fn parse_date(region: &Region, date: &str) -> Result<NaiveDate, Box<RuntimeError>> {
    date.parse().map_err(|e| {
        Box::new(RuntimeError::Job {
            region: region.config().id.clone(),
            job: format!("run of {date}"),
            reason: format!("bad date: {e}"),
        })
    })
}
