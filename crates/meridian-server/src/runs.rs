//! Runs triggered through the admin API: one at a time per process, in a
//! task this module owns, followed by id.
//!
//! [`RunManager::start`] spawns [`Region::run_daily`] and keeps its join
//! handle; [`RunManager::drain`] (called by [`crate::Application::run`] on
//! shutdown) refuses new runs and waits for the one in progress, so a
//! SIGTERM never cuts a run between "email sent" and "email recorded". The
//! pipeline is resumable anyway; waiting only spares the next run the work.
//! The status of the last [`KEPT_RUNS`] runs is kept in memory for
//! `GET /api/v1/runs/{id}`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use meridian_runtime::{Region, RunOptions};
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

/// Runs whose status is kept.
pub const KEPT_RUNS: usize = 32;
/// Progress lines kept per run (the first ones; a line says when more were cut).
const KEPT_LINES: usize = 500;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// In progress.
    Running,
    /// Finished; the report is in `summary`.
    Succeeded,
    /// Stopped with an error (named in `error`).
    Failed,
}

impl RunState {
    /// The metric label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// A run as `GET /api/v1/runs/{id}` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunStatus {
    /// The run's id.
    pub id: String,
    /// Where it is.
    pub state: RunState,
    /// The digest's day.
    pub date: String,
    /// When it started (Unix seconds).
    pub started_at: i64,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// One line per stage, as `meridian run` prints them.
    pub progress: Vec<String>,
    /// Counts per stage (feeds, transcripts, insights, delivery) once it succeeded.
    #[schema(value_type = Option<Object>)]
    pub summary: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Why a run was not started.
#[derive(Debug)]
pub enum StartError {
    /// Another run is in progress (its id).
    Busy(String),
    /// The service is shutting down.
    ShuttingDown,
    /// No random id could be made.
    Random(String),
}

#[derive(Default)]
struct Inner {
    current: Option<JoinHandle<()>>,
    closed: bool,
    runs: VecDeque<Arc<Mutex<RunStatus>>>,
}

/// The admin-triggered runs of this process.
#[derive(Default)]
pub struct RunManager {
    inner: Mutex<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl RunManager {
    /// Starts a run of `region` unless one is in progress.
    ///
    /// # Errors
    /// [`StartError`].
    pub fn start(
        &self,
        region: Arc<Region>,
        options: RunOptions,
        metrics: Arc<Metrics>,
    ) -> Result<RunStatus, StartError> {
        let mut inner = lock(&self.inner);
        if inner.closed {
            return Err(StartError::ShuttingDown);
        }
        if inner.current.as_ref().is_some_and(|h| !h.is_finished()) {
            let running = inner
                .runs
                .back()
                .map(|r| lock(r).id.clone())
                .unwrap_or_default();
            return Err(StartError::Busy(running));
        }
        let mut raw = [0u8; 8];
        getrandom::fill(&mut raw).map_err(|e| StartError::Random(e.to_string()))?;
        let status = RunStatus {
            id: hex::encode(raw),
            state: RunState::Running,
            date: options.date.to_string(),
            started_at: unix_now(),
            finished_at: None,
            progress: Vec::new(),
            summary: None,
            error: None,
        };
        let shared = Arc::new(Mutex::new(status.clone()));
        if inner.runs.len() == KEPT_RUNS {
            inner.runs.pop_front();
        }
        inner.runs.push_back(Arc::clone(&shared));
        let id = status.id.clone();
        let task = async move {
            let progress = |line: &str| {
                let mut s = lock(&shared);
                match s.progress.len() {
                    n if n < KEPT_LINES => s.progress.push(line.to_owned()),
                    n if n == KEPT_LINES => s.progress.push("… (more lines not kept)".to_owned()),
                    _ => {}
                }
            };
            let result = region.run_daily(&options, &progress).await;
            let mut s = lock(&shared);
            s.finished_at = Some(unix_now());
            match result {
                Ok(report) => {
                    s.state = RunState::Succeeded;
                    s.summary = Some(serde_json::json!({
                        "feeds": report.feeds,
                        "transcripts": report.transcripts,
                        "insights": report.insights,
                        "digest_items": report.digest.as_ref().map_or(0, |d| d.items.len()),
                        "digest_reused": report.digest_reused,
                        "digest_left_out": report.digest_left_out,
                        "delivery": report.delivery,
                    }));
                    tracing::info!(region = %region.config().id, run = %s.id, "Run finished.");
                }
                Err(e) => {
                    s.state = RunState::Failed;
                    s.error = Some(e.to_string());
                    tracing::error!(region = %region.config().id, run = %s.id, error = %e, "Run failed.");
                }
            }
            metrics.count_run(s.state);
        };
        #[expect(
            clippy::disallowed_methods,
            reason = "owned: the handle is kept here and awaited by `drain` on shutdown"
        )]
        let handle = tokio::spawn(task);
        inner.current = Some(handle);
        tracing::info!(run = %id, "Run started through the admin API.");
        Ok(status)
    }

    /// The status of run `id`, while it is kept.
    #[must_use]
    pub fn status(&self, id: &str) -> Option<RunStatus> {
        let inner = lock(&self.inner);
        inner
            .runs
            .iter()
            .map(|r| lock(r).clone())
            .find(|r| r.id == id)
    }

    /// The kept runs, newest first.
    #[must_use]
    pub fn list(&self) -> Vec<RunStatus> {
        let inner = lock(&self.inner);
        inner.runs.iter().rev().map(|r| lock(r).clone()).collect()
    }

    /// Refuses new runs and waits for the one in progress to finish.
    pub async fn drain(&self) {
        let current = {
            let mut inner = lock(&self.inner);
            inner.closed = true;
            inner.current.take()
        };
        if let Some(handle) = current {
            if !handle.is_finished() {
                tracing::info!("Shutting down: waiting for the run in progress to finish.");
            }
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "The run task ended abnormally.");
            }
        }
    }
}
