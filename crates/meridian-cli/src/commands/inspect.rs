//! `meridian inspect feed|transcript`: what Meridian reads from a file or URL.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use meridian_core::{FeedUrl, RegionId, TranscriptFormat, format_offset};
use meridian_egress::{EgressClient, EgressOptions, EgressRules, Validators};
use meridian_ingest::FeedFetch;

use crate::EXIT_INPUT;

/// `meridian inspect …`
#[derive(Debug, clap::Subcommand)]
pub enum InspectWhat {
    /// Parse feeds (paths or http(s) URLs) and print the podcast and its episodes.
    Feed {
        /// Feed files or URLs.
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Print JSON (one document: an array with one entry per input).
        #[arg(long)]
        json: bool,
        /// Allow URLs that resolve to private or loopback addresses.
        #[arg(long)]
        allow_private: bool,
    },
    /// Parse a transcript file and print its segments.
    Transcript {
        /// The transcript file.
        path: PathBuf,
        /// Its format; default: from the extension, else sniffed from the content.
        #[arg(long = "type")]
        format: Option<TranscriptFormat>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The JSON entry of one input of `inspect feed`.
#[derive(serde::Serialize)]
struct FeedReport<'a> {
    input: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    podcast: Option<meridian_core::PodcastFeed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The scheme of an input written as a URL (`gopher://host/x` → `gopher`), so
/// that a URL Meridian does not fetch is reported as such, not as a missing
/// local file.
fn url_scheme(input: &str) -> Option<&str> {
    let (scheme, _) = input.split_once("://")?;
    let mut chars = scheme.chars();
    (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

fn to_feed_url(input: &str) -> Result<FeedUrl, String> {
    if url_scheme(input).is_some() || input.starts_with("file:") {
        return FeedUrl::parse(input).map_err(|e| e.to_string());
    }
    let path = Path::new(input);
    let abs = std::path::absolute(path).map_err(|e| format!("{input}: {e}"))?;
    FeedUrl::from_path(&abs).map_err(|e| e.to_string())
}

/// Reads and parses a local feed file (at most [`meridian_ingest::MAX_FEED_BYTES`]).
fn read_local_feed(url: &FeedUrl) -> Result<FeedFetch, String> {
    use std::io::Read as _;
    let path = url
        .to_file_path()
        .ok_or_else(|| format!("feed `{url}`: not a local path"))?;
    let cap = u64::try_from(meridian_ingest::MAX_FEED_BYTES).unwrap_or(u64::MAX);
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(cap.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(|e| format!("feed `{url}`: {e}"))?;
    let feed = meridian_ingest::parse_feed(&bytes, url).map_err(|e| e.to_string())?;
    Ok(FeedFetch::Fetched(Box::new(meridian_ingest::FetchedFeed {
        feed,
        etag: None,
        last_modified: None,
        cache: meridian_egress::CacheHints::default(),
        moved_to: None,
        bytes: bytes.len(),
    })))
}

/// Runs the command.
///
/// # Errors
/// Only for failures that are not the input's fault (none today); unreadable
/// inputs are reported per input and turned into exit code 4.
pub async fn run(what: &InspectWhat) -> anyhow::Result<ExitCode> {
    match what {
        InspectWhat::Feed {
            inputs,
            json,
            allow_private,
        } => {
            let region = RegionId::parse("inspect")?;
            let rules = EgressRules::new(&["*".to_owned()], *allow_private)?;
            let client = EgressClient::new(region, rules, EgressOptions::default())?;
            let mut reports = Vec::new();
            let mut failed = 0;
            for input in inputs {
                let result = match to_feed_url(input) {
                    // The operator's own file: parse errors may quote it here
                    // (a run's errors never do).
                    Ok(url) if !url.is_remote() => read_local_feed(&url),
                    Ok(url) => meridian_ingest::fetch_feed(&client, &url, &Validators::default())
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                match result {
                    Ok(FeedFetch::Fetched(f)) => reports.push(FeedReport {
                        input,
                        podcast: Some(f.feed),
                        error: None,
                    }),
                    Ok(FeedFetch::NotModified { .. }) => {
                        reports.push(FeedReport {
                            input,
                            podcast: None,
                            error: Some("unexpected 304 Not Modified".into()),
                        });
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("error: {e}");
                        reports.push(FeedReport {
                            input,
                            podcast: None,
                            error: Some(e),
                        });
                    }
                }
            }
            if *json {
                crate::say!("{}", serde_json::to_string_pretty(&reports)?);
            } else {
                for r in &reports {
                    let Some(p) = &r.podcast else { continue };
                    crate::say!(
                        "{} — {} ({} episodes{})",
                        r.input,
                        p.title,
                        p.episodes.len(),
                        if p.blocked { ", podcast:block" } else { "" }
                    );
                    for e in &p.episodes {
                        let date = e.published.map_or_else(
                            || "undated".to_owned(),
                            |d| d.format("%Y-%m-%d").to_string(),
                        );
                        let kinds: Vec<String> =
                            e.transcripts.iter().map(|t| t.mime_type.clone()).collect();
                        crate::say!(
                            "  {date}  {}{}",
                            e.title,
                            if kinds.is_empty() {
                                String::new()
                            } else {
                                format!("  [transcripts: {}]", kinds.join(", "))
                            }
                        );
                    }
                }
            }
            Ok(if failed > 0 {
                ExitCode::from(EXIT_INPUT)
            } else {
                ExitCode::SUCCESS
            })
        }
        InspectWhat::Transcript { path, format, json } => {
            let source = path.display().to_string();
            if let Some(scheme) = url_scheme(&source) {
                eprintln!(
                    "error: transcript `{source}`: scheme `{scheme}` is not supported; give a local file"
                );
                return Ok(ExitCode::from(EXIT_INPUT));
            }
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: transcript `{source}`: {e}");
                    return Ok(ExitCode::from(EXIT_INPUT));
                }
            };
            let format = format
                .or_else(|| {
                    path.extension()
                        .and_then(|e| e.to_str())
                        .and_then(TranscriptFormat::from_extension)
                })
                .or_else(|| meridian_ingest::sniff_transcript_format(&bytes));
            let Some(format) = format else {
                eprintln!(
                    "error: transcript `{source}`: unknown format; pass --type vtt|srt|json|html|text"
                );
                return Ok(ExitCode::from(EXIT_INPUT));
            };
            match meridian_ingest::parse_transcript(&bytes, format, &source) {
                Ok(segments) => {
                    if *json {
                        crate::say!(
                            "{}",
                            serde_json::to_string_pretty(&serde_json::json!({
                                "input": source, "type": format, "segments": segments
                            }))?
                        );
                    } else {
                        for s in &segments {
                            let at = s.start.map_or_else(|| "     ".to_owned(), format_offset);
                            let who = s
                                .speaker
                                .as_deref()
                                .map_or(String::new(), |w| format!("{w}: "));
                            crate::say!("{at:>8}  {who}{}", s.text);
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(EXIT_INPUT))
                }
            }
        }
    }
}
