//! Fetching feeds and transcripts: through the region's egress client for
//! `http(s)` URLs, from disk for `file:` URLs that an operator configured.
//!
//! Parsing stays in the pure functions of this crate; this module only moves
//! bytes and keeps the caching facts (validators, cache hints, permanent moves)
//! that the runtime stores for polite polling.

use meridian_core::{
    FeedUrl, PodcastFeed, Transcript, TranscriptFormat, TranscriptLink, TranscriptSource,
};
use meridian_egress::{CacheHints, EgressClient, FetchOutcome, Validators};
use tokio::io::AsyncReadExt as _;

use crate::{DocKind, IngestError};

/// The result of checking a feed.
#[derive(Debug, Clone)]
pub enum FeedFetch {
    /// The server said 304: nothing changed since the validators were saved.
    NotModified {
        /// Caching headers, for the next check.
        cache: CacheHints,
    },
    /// New content, parsed.
    Fetched(Box<FetchedFeed>),
}

/// A feed fetched and parsed.
#[derive(Debug, Clone)]
pub struct FetchedFeed {
    /// The podcast and its episodes.
    pub feed: PodcastFeed,
    /// `ETag` to save (after the episodes are stored).
    pub etag: Option<String>,
    /// `Last-Modified` to save (after the episodes are stored).
    pub last_modified: Option<String>,
    /// Caching headers, for the next check.
    pub cache: CacheHints,
    /// Where the feed moved permanently (301/308), to update the stored URL.
    pub moved_to: Option<FeedUrl>,
    /// Size of the body, bytes.
    pub bytes: usize,
}

/// Reads a local file of at most `cap` bytes.
async fn read_capped(
    path: &std::path::Path,
    source: &str,
    cap: u64,
) -> Result<Vec<u8>, IngestError> {
    let io = |e: std::io::Error| IngestError::Io {
        doc: DocKind::Feed,
        subject: source.to_owned(),
        problem: e.to_string(),
    };
    let file = tokio::fs::File::open(path).await.map_err(io)?;
    let mut buf = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut buf)
        .await
        .map_err(io)?;
    if buf.len() as u64 > cap {
        return Err(IngestError::TooLarge {
            doc: DocKind::Feed,
            subject: source.to_owned(),
            size: buf.len(),
            limit: usize::try_from(cap).unwrap_or(usize::MAX),
        });
    }
    Ok(buf)
}

/// Fetches and parses a feed, sending the saved validators.
///
/// # Errors
/// [`IngestError::Fetch`] for network and policy failures (with a stable kind),
/// or a parse error naming the feed.
#[tracing::instrument(skip_all, fields(region = %client.region(), feed.url = %url))]
pub async fn fetch_feed(
    client: &EgressClient,
    url: &FeedUrl,
    validators: &Validators,
) -> Result<FeedFetch, IngestError> {
    if let Some(path) = url.to_file_path() {
        let bytes = read_capped(&path, url.as_str(), client.options().max_body_bytes).await?;
        // The error of a local file never quotes it: it reaches the run's
        // progress, which a read token can see, and the audit log.
        let feed = crate::parse_feed(&bytes, url).map_err(IngestError::without_content)?;
        return Ok(FeedFetch::Fetched(Box::new(FetchedFeed {
            feed,
            etag: None,
            last_modified: None,
            cache: CacheHints::default(),
            moved_to: None,
            bytes: bytes.len(),
        })));
    }
    let outcome = client
        .get(url.as_url(), validators, None)
        .await
        .map_err(|e| IngestError::fetch(DocKind::Feed, url.as_str(), &e))?;
    match outcome {
        FetchOutcome::NotModified { cache, .. } => Ok(FeedFetch::NotModified { cache }),
        FetchOutcome::Fetched(f) => {
            // Parse against the URL that answered, so relative links resolve right.
            let base = FeedUrl::parse(f.final_url.as_str()).unwrap_or_else(|_| url.clone());
            let body = f.body.clone();
            let feed = off_task(DocKind::Feed, url.as_str(), move || {
                crate::parse_feed(&body, &base)
            })
            .await??;
            let moved_to = f
                .permanent_redirect
                .as_ref()
                .and_then(|u| FeedUrl::parse(u.as_str()).ok());
            Ok(FeedFetch::Fetched(Box::new(FetchedFeed {
                feed,
                etag: f.etag,
                last_modified: f.last_modified,
                cache: f.cache,
                moved_to,
                bytes: f.body.len(),
            })))
        }
    }
}

/// Fetches and parses a `podcast:transcript` link. The format is the declared
/// type's, else the file extension's, else sniffed from the content.
///
/// # Errors
/// [`IngestError::Fetch`], [`IngestError::BadUrl`], [`IngestError::WrongDocument`]
/// for an unknown type, or a parse error naming the transcript URL.
#[tracing::instrument(skip_all, fields(region = %client.region(), transcript.url = %link.url))]
pub async fn fetch_transcript(
    client: &EgressClient,
    link: &TranscriptLink,
    episode_language: Option<&str>,
) -> Result<Transcript, IngestError> {
    let url = FeedUrl::parse(&link.url)
        .map_err(|e| IngestError::bad_url(DocKind::Transcript, &link.url, e))?;
    if !url.is_remote() {
        // A feed must not make Meridian read local files.
        return Err(IngestError::bad_url(
            DocKind::Transcript,
            &link.url,
            "a feed may not link to local files",
        ));
    }
    let outcome = client
        .get(url.as_url(), &Validators::default(), None)
        .await
        .map_err(|e| IngestError::fetch(DocKind::Transcript, &link.url, &e))?;
    let bytes = match outcome {
        FetchOutcome::Fetched(f) => f.body,
        FetchOutcome::NotModified { .. } => {
            return Err(IngestError::unparseable(
                DocKind::Transcript,
                &link.url,
                None,
                "304 Not Modified to a request without validators".to_owned(),
            ));
        }
    };
    let format = link
        .format
        .or_else(|| {
            std::path::Path::new(url.as_url().path())
                .extension()
                .and_then(|e| e.to_str())
                .and_then(TranscriptFormat::from_extension)
        })
        .or_else(|| crate::sniff_transcript_format(&bytes))
        .ok_or_else(|| {
            IngestError::wrong(
                DocKind::Transcript,
                &link.url,
                format!(
                    "type `{}` is not a transcript format Meridian reads",
                    link.mime_type
                ),
            )
        })?;
    let source = link.url.clone();
    let segments = off_task(DocKind::Transcript, &link.url, move || {
        crate::parse_transcript(&bytes, format, &source)
    })
    .await??;
    Ok(Transcript {
        source: TranscriptSource::Feed(format),
        language: link
            .language
            .clone()
            .or_else(|| episode_language.map(str::to_owned)),
        segments,
    })
}

/// Parses running at once in this process: one a core. More would only hold
/// more documents in memory at the same time.
static PARSING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(
        std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
    )
});

/// Runs CPU-bound parsing on the blocking pool, at most one parse a core at
/// once (`PARSING`), so that the async task that fetches for many feeds at
/// once keeps fetching while a large document is parsed, and parsing uses
/// every core. A panic in `work` is resumed here; a runtime shutting down
/// before the work could start is an error naming the document.
async fn off_task<T: Send + 'static>(
    doc: DocKind,
    subject: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, IngestError> {
    // The semaphore is never closed, so acquiring cannot fail; were it to,
    // parsing would merely run unbounded.
    let _permit = PARSING.acquire().await.ok();
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Ok(value),
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => Err(IngestError::Io {
                doc,
                subject: subject.to_owned(),
                problem: format!("not parsed: {e} (the process is shutting down)"),
            }),
        },
    }
}
