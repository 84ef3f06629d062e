//! `meridian run --region R`: one daily run.

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::NaiveDate;
use meridian_runtime::RunOptions;

use crate::Cli;

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
}

/// Runs the command.
///
/// # Errors
/// Runtime failures, with context.
pub async fn run(cli: &Cli, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let config = match super::load_region(cli, &args.region) {
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
    let quiet = args.json;
    let progress = move |line: &str| {
        if !quiet {
            crate::say!("[{id}] {line}");
        }
    };
    let report = region
        .run_daily(&options, &progress)
        .await
        .context("daily run")?;
    region.shutdown().await;
    if args.json {
        crate::say!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}
