//! `meridian feeds list|add|remove|import|export --region R`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use meridian_core::FeedUrl;

use crate::{Cli, EXIT_INPUT};

/// `meridian feeds …`
#[derive(Debug, clap::Subcommand)]
pub enum FeedsAction {
    /// List the region's feeds with their polling state.
    List {
        /// The region.
        #[arg(long)]
        region: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a feed by URL.
    Add {
        /// The region.
        #[arg(long)]
        region: String,
        /// The feed URL.
        url: String,
    },
    /// Remove a feed and its episodes.
    Remove {
        /// The region.
        #[arg(long)]
        region: String,
        /// The feed URL.
        url: String,
    },
    /// Import feeds from an OPML file (idempotent).
    Import {
        /// The region.
        #[arg(long)]
        region: String,
        /// The OPML file.
        file: PathBuf,
    },
    /// Print the region's feeds as OPML.
    Export {
        /// The region.
        #[arg(long)]
        region: String,
    },
}

/// Runs the command.
///
/// # Errors
/// Storage failures.
pub async fn run(cli: &Cli, action: &FeedsAction) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now().timestamp();
    match action {
        FeedsAction::List { region, json } => {
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let feeds = store.list_feeds().await?;
            if *json {
                let rows: Vec<_> = feeds
                    .iter()
                    .map(|f| {
                        serde_json::json!({
                            "url": f.url, "title": f.title, "source": f.source, "fetches": f.fetch_count,
                            "failures": f.failure_count, "last_failure_kind": f.last_failure_kind,
                            "last_error": f.last_error, "disabled": f.disabled, "blocked": f.blocked,
                            "next_check_at": f.next_check_at,
                        })
                    })
                    .collect();
                crate::say!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for f in &feeds {
                    let state = match (&f.last_failure_kind, f.disabled, f.blocked) {
                        (_, true, _) => "disabled".to_owned(),
                        (_, _, true) => "blocked".to_owned(),
                        (Some(kind), _, _) => format!("failing: {kind} ×{}", f.failure_count),
                        (None, _, _) if f.fetch_count == 0 => "never fetched".to_owned(),
                        (None, _, _) => "ok".to_owned(),
                    };
                    crate::say!(
                        "{:<16} {}  {}",
                        state,
                        f.url,
                        f.title.as_deref().unwrap_or("")
                    );
                }
                crate::say!("{} feed(s)", feeds.len());
            }
        }
        FeedsAction::Add { region, url } => {
            let url = match FeedUrl::parse(url) {
                Ok(u) => u,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(EXIT_INPUT));
                }
            };
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let (_, added) = store.add_feed(url.as_str(), None, "cli", now).await?;
            crate::say!("{} {url}", if added { "added" } else { "already present:" });
        }
        FeedsAction::Remove { region, url } => {
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            if store.remove_feed(url).await? {
                crate::say!("removed {url}");
            } else {
                eprintln!("error: no feed {url} in region `{region}`");
                return Ok(ExitCode::from(EXIT_INPUT));
            }
        }
        FeedsAction::Import { region, file } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let outlines = match meridian_ingest::parse_opml(&bytes, &file.display().to_string()) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(EXIT_INPUT));
                }
            };
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let (mut added, mut present, mut refused) = (0, 0, 0);
            for o in outlines {
                match FeedUrl::parse(&o.xml_url) {
                    Ok(url) => {
                        if store
                            .add_feed(url.as_str(), o.title.as_deref(), "opml", now)
                            .await?
                            .1
                        {
                            added += 1;
                        } else {
                            present += 1;
                        }
                    }
                    Err(e) => {
                        refused += 1;
                        eprintln!("skipped: {e}");
                    }
                }
            }
            crate::say!("{added} added, {present} already present, {refused} refused");
        }
        FeedsAction::Export { region } => {
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let outlines: Vec<meridian_ingest::OpmlOutline> = store
                .list_feeds()
                .await?
                .into_iter()
                .map(|f| meridian_ingest::OpmlOutline {
                    title: f.title,
                    xml_url: f.url,
                    html_url: None,
                })
                .collect();
            crate::write_stdout(format_args!(
                "{}",
                meridian_ingest::write_opml(&format!("Meridian region {region}"), &outlines)
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
