//! `meridian worker --region R [--until-idle]`: works the region's job queue
//! (the stages of its daily runs) beside `meridian run` and other workers,
//! until SIGTERM or Ctrl-C, or, with `--until-idle`, until nothing is left.
//!
//! Several workers of one region share its runs through the database (one
//! job per claim, `FOR UPDATE SKIP LOCKED` on PostgreSQL); a worker that is
//! killed loses its jobs to the others when their leases run out. On SIGTERM
//! a worker takes no new job and exits once the jobs in hand are done.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use meridian_runtime::WorkerOptions;

use crate::Cli;

/// Arguments of `meridian worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The region whose queue to work (one region per process).
    #[arg(long)]
    pub region: String,
    /// Exit once no run is open and no job is queued or running.
    #[arg(long)]
    pub until_idle: bool,
    /// Jobs worked at once (default: the region's `egress.max_concurrent_fetches`).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Seconds a claimed job is held without renewal; a killed worker's jobs
    /// go to others this long after its last renewal.
    #[arg(long, default_value_t = 60)]
    pub lease_secs: u64,
}

/// Runs the command.
///
/// # Errors
/// Runtime failures (the store cannot be reached, a run cannot be planned),
/// with context.
pub async fn run(cli: &Cli, args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    let config = match super::load_region_to_start(cli, &args.region) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let id = config.id.clone();
    let region = super::assemble(config).await?;
    let mut options = WorkerOptions::new(&region);
    options.lease = Duration::from_secs(args.lease_secs.max(1));
    if let Some(n) = args.concurrency {
        options.concurrency = n.max(1);
    }
    // Listen before saying "started", so that a SIGTERM sent as soon as the
    // line is read is handled, not fatal.
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    let stop_signal = async move {
        #[cfg(unix)]
        let terminated = terminate.recv();
        #[cfg(not(unix))]
        let terminated = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = terminated => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    crate::say!(
        "[{id}] worker {} started ({} jobs at once)",
        options.worker_id,
        options.concurrency
    );
    let stop = AtomicBool::new(false);
    let result = {
        let work = region.work(&options, args.until_idle, &stop);
        tokio::pin!(work);
        tokio::select! {
            r = &mut work => r,
            () = stop_signal => {
                crate::say!("[{id}] worker stopping: finishing the jobs in hand");
                stop.store(true, Ordering::Relaxed);
                work.await
            }
        }
    };
    region.shutdown().await;
    let summary = result.with_context(|| format!("working the queue of region `{id}`"))?;
    crate::say!(
        "[{id}] worker {} stopped: {} jobs done, {} failed tries, {} runs finished",
        options.worker_id,
        summary.jobs_done,
        summary.jobs_failed,
        summary.runs_finished
    );
    Ok(ExitCode::SUCCESS)
}
