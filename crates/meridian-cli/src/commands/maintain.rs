//! `meridian maintain --region R`: retention.

use std::process::ExitCode;

use crate::Cli;

/// Arguments of `meridian maintain`.
#[derive(Debug, clap::Args)]
pub struct MaintainArgs {
    /// The region.
    #[arg(long)]
    pub region: String,
}

/// Runs the command: deletes transcripts and insights older than the region's
/// `[retention]` settings say to keep, and appends one `retention` record per
/// category to the region's audit log.
///
/// # Errors
/// Storage failures.
pub async fn run(cli: &Cli, args: &MaintainArgs) -> anyhow::Result<ExitCode> {
    let config = match super::load_region(cli, &args.region) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let store = match super::open_store(cli, &args.region).await {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let now = chrono::Utc::now().timestamp();
    let cut = |days: Option<u32>| days.map(|d| now - i64::from(d) * 86_400);
    let r = config.retention;
    let out = store
        .apply_retention(cut(r.transcript_days), cut(r.insight_days))
        .await?;
    // One `retention` record per category, after the deletion committed.
    let audit = super::open_audit(cli, &store).await?;
    for (category, removed, days) in [
        ("transcripts", out.transcripts, r.transcript_days),
        ("insights", out.insights, r.insight_days),
        ("cached_extractions", out.cached_extractions, r.insight_days),
    ] {
        let mut event = meridian_audit::AuditEvent::retention("maintain", category, removed);
        if let Some(days) = days {
            event = event.with_detail("retention_days", days);
        }
        audit.record(event).await?;
    }
    let keep = |d: Option<u32>| d.map_or_else(|| "kept".to_owned(), |d| format!("{d} days"));
    crate::say!(
        "[{}] retention (transcripts: {}, insights: {}): deleted {} transcript(s), {} insight(s), {} cache entr(ies)",
        config.id,
        keep(r.transcript_days),
        keep(r.insight_days),
        out.transcripts,
        out.insights,
        out.cached_extractions
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
