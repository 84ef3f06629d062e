//! `meridian run --region R`: one daily run, worked in this process through
//! the region's job queue (`meridian worker` processes may help), or only
//! queued with `--enqueue-only`.
//!
//! Exit code 6 ([`EXIT_WAITING`]): the run finished, but confirmed
//! subscribers still wait for the day's digest; the next run delivers to them.

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::NaiveDate;
use meridian_runtime::{RunOptions, WorkerOptions};

use crate::{Cli, EXIT_WAITING};

/// Arguments of `meridian run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The region to run.
    #[arg(long)]
    pub region: String,
    /// The digest's day (default: today in the region's timezone).
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Check every feed now, even those not due yet.
    #[arg(long)]
    pub refresh_all: bool,
    /// Print the run report as JSON on stdout instead of progress lines.
    #[arg(long)]
    pub json: bool,
    /// Open the day's run in the queue and return: `meridian worker`
    /// processes of the region do the work.
    #[arg(long)]
    pub enqueue_only: bool,
    /// Seconds a claimed job is held without renewal; after a crash, the
    /// next `meridian run` or worker takes the dead process's jobs over this
    /// long after its last renewal.
    #[arg(long, default_value_t = 60)]
    pub lease_secs: u64,
}

/// Runs the command.
///
/// # Errors
/// Runtime failures, with context.
pub async fn run(cli: &Cli, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let config = match super::load_region_to_start(cli, &args.region) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let id = config.id.clone();
    let region = super::assemble(config).await?;
    let mut options = RunOptions::today(&region);
    if let Some(date) = args.date {
        options.date = date;
    }
    options.force_refresh = args.refresh_all;
    if args.enqueue_only {
        let run = region.open_run(&options).await.context("opening the run")?;
        region.shutdown().await;
        crate::say!(
            "[{id}] run {} of {} is queued (stage `{}`); `meridian worker --region {id}` processes it",
            run.id,
            run.date,
            run.stage.as_str()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut worker = WorkerOptions::new(&region);
    worker.lease = std::time::Duration::from_secs(args.lease_secs.max(1));
    let quiet = args.json;
    let progress = move |line: &str| {
        if !quiet {
            crate::say!("[{id}] {line}");
        }
    };
    let report = region
        .run_daily_with(&options, &worker, &progress)
        .await
        .context("daily run")?;
    region.shutdown().await;
    if args.json {
        crate::say!("{}", serde_json::to_string_pretty(&report)?);
    }
    if report.waiting > 0 {
        eprintln!(
            "error: the run finished, but {} subscriber(s) still wait for the digest of {}; run `meridian run --region {}` again to deliver to them",
            report.waiting, options.date, args.region
        );
        return Ok(ExitCode::from(EXIT_WAITING));
    }
    Ok(ExitCode::SUCCESS)
}
