//! One region in a temp dir whose one feed is served by a loopback server that
//! the test turns hostile between two daily runs.
//!
//! The server is a real HTTP server (axum on `127.0.0.1:0`); the region file
//! allows its `127.0.0.1:PORT` explicitly and `*` (public hosts) besides, so a
//! redirect to a private or metadata address is refused by the address guard,
//! not merely by the allow-list. The feed is the project's own sample podcast
//! `demo/feeds/circuit-breakers.xml` with its transcripts from `demo/transcripts/`.

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use futures_util::StreamExt as _;
use meridian_core::{Digest, Insight, RegionId, TranscriptSource};
use meridian_runtime::{AssembleOptions, Region, RunOptions, RunReport};
use meridian_store::{EpisodeStatus, FeedRow};
use tempfile::TempDir;

/// The test region's id: not a shipped region, so no `MERIDIAN_US__…`
/// variable of the environment can reach it.
pub const REGION: &str = "hx";

/// The region's body cap (`egress.max_body_bytes`): 1 MiB.
pub const CAP: u64 = 1024 * 1024;

/// One gibibyte, the size of the "endless" bodies.
pub const GIB: u64 = 1024 * 1024 * 1024;

const SAMPLE_FEED: &str = "circuit-breakers.xml";

/// What `/feed.xml` answers.
#[derive(Debug, Clone)]
pub enum Feed {
    /// The sample feed, with an `ETag`.
    Good,
    /// The sample feed with these `<item>`s added before `</channel>`.
    GoodWith(String),
    /// 200 with these bytes.
    Body {
        /// `Content-Type`.
        content_type: &'static str,
        /// The body.
        bytes: Bytes,
    },
    /// 200 with `Content-Encoding: gzip` and these (compressed) bytes.
    Gzip(Bytes),
    /// 200, then 1 GiB in 64 KiB chunks with no `Content-Length`.
    Gigabyte,
    /// 200, the start of a feed, then one byte every 200 ms, forever.
    Trickle,
    /// 302 to this `Location`.
    Redirect(String),
}

struct ServerState {
    feed: Mutex<Feed>,
    /// The sample feed with the server's base URL filled in.
    good: String,
    demo: PathBuf,
    /// Bytes produced by the gigabyte bodies so far.
    streamed: AtomicU64,
}

/// The loopback server. It lives as long as the test's runtime.
pub struct Server {
    pub addr: SocketAddr,
    state: Arc<ServerState>,
}

impl Server {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let demo = repo().join("demo");
        let good = std::fs::read_to_string(demo.join("feeds").join(SAMPLE_FEED))
            .unwrap()
            .replace("{{base_url}}", &format!("http://{addr}"));
        let state = Arc::new(ServerState {
            feed: Mutex::new(Feed::Good),
            good,
            demo,
            streamed: AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&state));
        #[expect(
            clippy::disallowed_methods,
            reason = "a test server that lives as long as the test's runtime"
        )]
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bytes of the gigabyte bodies produced so far (what the client pulled,
    /// plus what fits in the socket buffers).
    pub fn streamed(&self) -> u64 {
        self.state.streamed.load(Ordering::SeqCst)
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

/// 1 GiB of `a`, streamed: the chunk is static, so the server allocates
/// nothing per chunk, and it stops as soon as the client hangs up.
fn gigabyte(state: &Arc<ServerState>, content_type: &'static str) -> Response {
    static CHUNK: [u8; 64 * 1024] = [b'a'; 64 * 1024];
    let counter = Arc::clone(state);
    let chunks = futures_util::stream::iter(0..GIB / CHUNK.len() as u64).map(move |_| {
        counter
            .streamed
            .fetch_add(CHUNK.len() as u64, Ordering::SeqCst);
        Ok::<_, Infallible>(Bytes::from_static(&CHUNK))
    });
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// The start of a feed, then a space every 200 ms, for ever.
fn trickle() -> Response {
    let head = futures_util::stream::once(async {
        Ok::<_, Infallible>(Bytes::from_static(
            b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>",
        ))
    });
    let drip = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok::<_, Infallible>(Bytes::from_static(b" ")), ()))
    });
    (
        [(header::CONTENT_TYPE, "application/rss+xml")],
        Body::from_stream(head.chain(drip)),
    )
        .into_response()
}

fn xml_with_etag(request: &Request, xml: String) -> Response {
    let etag = format!("\"{:x}\"", xml.len());
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str());
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "application/rss+xml; charset=utf-8".to_owned(),
            ),
            (header::ETAG, etag),
        ],
        xml,
    )
        .into_response()
}

async fn serve(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    match path.as_str() {
        "/feed.xml" => {
            let feed = state.feed.lock().unwrap().clone();
            match feed {
                Feed::Good => xml_with_etag(&request, state.good.clone()),
                Feed::GoodWith(items) => xml_with_etag(
                    &request,
                    state
                        .good
                        .replace("</channel>", &format!("{items}</channel>")),
                ),
                Feed::Body {
                    content_type,
                    bytes,
                } => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
                Feed::Gzip(bytes) => {
                    let mut response = (
                        [
                            (header::CONTENT_TYPE, "application/rss+xml"),
                            (header::CONTENT_ENCODING, "gzip"),
                        ],
                        bytes,
                    )
                        .into_response();
                    response
                        .headers_mut()
                        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
                    response
                }
                Feed::Gigabyte => gigabyte(&state, "application/rss+xml"),
                Feed::Trickle => trickle(),
                Feed::Redirect(location) => redirect(&location),
            }
        }
        // The other half of a redirect loop.
        "/loop" => redirect("/feed.xml"),
        // Hostile transcript links.
        "/huge.vtt" => gigabyte(&state, "text/vtt"),
        "/to-metadata.vtt" => redirect("http://169.254.169.254/latest/meta-data/"),
        _ => match path.strip_prefix("/transcripts/") {
            Some(name) if !name.contains('/') && !name.contains("..") => {
                match tokio::fs::read(state.demo.join("transcripts").join(name)).await {
                    Ok(bytes) => bytes.into_response(),
                    Err(_) => StatusCode::NOT_FOUND.into_response(),
                }
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        },
    }
}

/// Everything a run must not lose: episode counts by status, each episode's
/// status and insights, and the day's digest.
#[derive(Debug, PartialEq)]
pub struct Stored {
    pub counts: Vec<(String, i64)>,
    pub episodes: Vec<StoredEpisode>,
    pub digest: Option<Digest>,
}

#[derive(Debug, PartialEq)]
pub struct StoredEpisode {
    pub guid: String,
    pub title: String,
    pub status: EpisodeStatus,
    pub transcript: Option<TranscriptSource>,
    pub insights: Vec<Insight>,
}

impl Stored {
    pub fn episode(&self, title: &str) -> &StoredEpisode {
        self.episodes
            .iter()
            .find(|e| e.title == title)
            .unwrap_or_else(|| {
                panic!(
                    "no episode `{title}` among {:?}",
                    self.episodes.iter().map(|e| &e.title).collect::<Vec<_>>()
                )
            })
    }

    pub fn insight_count(&self) -> usize {
        self.episodes.iter().map(|e| e.insights.len()).sum()
    }
}

/// What one run left behind.
pub struct Outcome {
    pub report: RunReport,
    pub stored: Stored,
    /// The region's only feed, as `meridian feeds list` shows it.
    pub feed: FeedRow,
}

/// A region `hx` with one feed, `http://127.0.0.1:PORT/feed.xml`.
pub struct Harness {
    pub server: Server,
    config: TempDir,
    data: TempDir,
    /// The digest's day of every run (all runs are "the same day").
    pub date: NaiveDate,
    /// `egress.timeout_secs` of the next run.
    timeout_secs: u64,
    /// `egress.timeout_secs` of the hostile run in [`Harness::refused`], when
    /// it differs from the good run's.
    pub hostile_timeout_secs: Option<u64>,
}

impl Harness {
    pub async fn start() -> Self {
        let server = Server::start().await;
        let config = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let opml = format!(
            "<?xml version=\"1.0\"?><opml version=\"2.0\"><head><title>hx</title></head><body>\
             <outline type=\"rss\" text=\"Circuit Breakers\" xmlUrl=\"{}/feed.xml\"/></body></opml>",
            server.base()
        );
        std::fs::write(config.path().join(format!("{REGION}.opml")), opml).unwrap();
        Self {
            server,
            config,
            data,
            date: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            timeout_secs: 10,
            hostile_timeout_secs: None,
        }
    }

    pub fn set_feed(&self, feed: Feed) {
        *self.server.state.feed.lock().unwrap() = feed;
    }

    fn write_region_file(&self) {
        let toml = format!(
            r#"id = "{REGION}"
name = "Hostile input"
jurisdiction = "US"
locale = "en-US"
timezone = "UTC"

[storage]
url = "sqlite://{{data_dir}}/{REGION}.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[egress]
# The test server by name; `*` opens public hosts only, so private and
# metadata addresses stay refused.
allow = ["127.0.0.1:{port}", "*"]
allow_private = false
connect_timeout_secs = 5
timeout_secs = {timeout}
max_body_bytes = {CAP}

[mail]
from = "Meridian <digest@hx.example.com>"
ai_label = "AI-generated."

[feeds]
opml = "{REGION}.opml"

[subscribers]
seed = ["ada@hx.example.com"]
"#,
            port = self.server.addr.port(),
            timeout = self.timeout_secs,
        );
        std::fs::write(self.config.path().join(format!("{REGION}.toml")), toml).unwrap();
    }

    /// One daily run, as `meridian run` does it: assemble, refresh every
    /// feed, shut down. Panics if the run itself fails.
    pub async fn run(&self) -> Outcome {
        self.write_region_file();
        let config = meridian_config::load_region(
            self.config.path(),
            self.data.path(),
            &RegionId::parse(REGION).unwrap(),
        )
        .unwrap();
        let policies = meridian_testkit::policies::bundle(REGION);
        let options = AssembleOptions {
            policies_dir: Some(policies.path().to_owned()),
            ..AssembleOptions::default()
        };
        let region = Region::assemble(config, &options).await.unwrap();
        let options = RunOptions {
            date: self.date,
            import_opml: true,
            force_refresh: true,
        };
        let report = region
            .run_daily(&options, &|_line: &str| {})
            .await
            .unwrap_or_else(|e| panic!("a hostile feed must not fail the run: {e}"));
        let stored = stored(&region, self.date).await;
        let feeds = region.store().list_feeds().await.unwrap();
        assert_eq!(feeds.len(), 1, "{feeds:?}");
        let feed = feeds.into_iter().next().unwrap();
        region.shutdown().await;
        Outcome {
            report,
            stored,
            feed,
        }
    }

    /// The first run, on the good feed: it must store episodes, insights and a digest.
    pub async fn good_run(&self) -> Outcome {
        let first = self.run().await;
        assert_eq!(
            first.report.feeds.get("fetched"),
            1,
            "{:?}",
            first.report.feed_errors
        );
        assert_eq!(
            first.report.feeds.get("new_episodes"),
            3,
            "{:?}",
            first.report.feeds
        );
        assert!(first.stored.insight_count() > 0, "{:?}", first.stored);
        assert!(
            first
                .stored
                .digest
                .as_ref()
                .is_some_and(|d| !d.items.is_empty()),
            "{:?}",
            first.stored.digest
        );
        assert_eq!(first.feed.failure_count, 0);
        first
    }

    /// A good run, then `hostile`, then a second run: the run completes, the
    /// feed's failure is recorded with `kind`, and nothing stored is lost.
    /// Returns the second run's outcome.
    pub async fn refused(&mut self, hostile: Feed, kind: &str) -> Outcome {
        let first = self.good_run().await;
        self.set_feed(hostile);
        if let Some(secs) = self.hostile_timeout_secs {
            self.timeout_secs = secs;
        }
        let second = self.run().await;
        assert_eq!(second.report.feeds.get("failed"), 1, "{:?}", second.report);
        assert_eq!(second.report.feeds.get("fetched"), 0, "{:?}", second.report);
        assert_eq!(
            second.feed.last_failure_kind.as_deref(),
            Some(kind),
            "error: {:?}",
            second.feed.last_error
        );
        assert_eq!(second.feed.failure_count, 1);
        assert!(
            !second.feed.disabled,
            "a hostile answer does not disable the feed"
        );
        assert_eq!(
            second
                .report
                .feed_errors
                .first()
                .map(|(url, k, _)| (url.as_str(), k.as_str())),
            Some((first.feed.url.as_str(), kind))
        );
        assert_eq!(
            second.stored, first.stored,
            "nothing stored may be lost or changed"
        );
        assert_eq!(
            second.feed.title, first.feed.title,
            "the podcast keeps its title"
        );
        assert_eq!(
            second.feed.etag, first.feed.etag,
            "the validators of the last good fetch stay"
        );
        second
    }
}

async fn stored(region: &Region, date: NaiveDate) -> Stored {
    use EpisodeStatus::{Archived, Extracted, New, Parked, Transcribed};
    let store = region.store();
    let mut episodes = Vec::new();
    for ep in store
        .episodes_with_status(&[New, Transcribed, Extracted, Archived, Parked])
        .await
        .unwrap()
    {
        episodes.push(StoredEpisode {
            guid: ep.meta.guid.0.clone(),
            title: ep.meta.title.clone(),
            status: ep.status,
            transcript: store.transcript(ep.id).await.unwrap().map(|t| t.source),
            insights: store.insights_of(ep.id).await.unwrap(),
        });
    }
    Stored {
        counts: store.episode_counts().await.unwrap(),
        episodes,
        digest: store.digest_for_date(date).await.unwrap().map(|d| d.digest),
    }
}

/// `data` gzip-compressed.
pub fn gzip(data: impl Iterator<Item = Vec<u8>>) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for chunk in data {
        encoder.write_all(&chunk).unwrap();
    }
    Bytes::from(encoder.finish().unwrap())
}
