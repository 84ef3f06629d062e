//! The loopback podcast server of `daily`: `/f/I.xml` is feed `I` and
//! `/t/I/J.EXT` transcript `J` of feed `I` (see [`crate::shape`]). Feeds carry
//! an `ETag` and answer `304 Not Modified` to it, as real hosts do.
//!
//! It runs as a child process of `daily`, so that its memory and allocations
//! are not counted as Meridian's. It prints `listening ADDR` once bound and
//! stops when its stdin closes (when `daily` ends, however it ends).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use meridian_core::{FeedUrl, TranscriptFormat};

use crate::shape::Shapes;

/// `serve` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shared corpus (feeds and transcripts are generated from it).
    #[arg(long, env = "MERIDIAN_CORPUS", default_value_os_t = crate::shape::default_corpus())]
    pub corpus: PathBuf,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Feed host names (transcripts get a quarter as many).
    #[arg(long, default_value_t = 64)]
    pub hosts: usize,
}

/// Checks that every template still parses once rewritten, so that a broken
/// template shows up here and not as a feed failure in the measurements.
fn check(shapes: &Shapes) -> anyhow::Result<()> {
    for (i, template) in shapes.feeds.iter().enumerate() {
        let url = FeedUrl::parse(&crate::shape::feed_url(i, shapes.hosts))?;
        meridian_ingest::parse_feed(&shapes.feed(i), &url).with_context(|| {
            format!("the rewritten corpus feed {} does not parse", template.name)
        })?;
    }
    for (k, template) in shapes.transcripts.iter().enumerate() {
        // Transcript `j` of feed 0 is template `j`.
        let (mime, bytes) = shapes.transcript(0, k);
        let format = TranscriptFormat::from_mime(mime).context("unknown transcript type")?;
        meridian_ingest::parse_transcript(&bytes, format, &template.name).with_context(|| {
            format!(
                "the rewritten corpus transcript {} does not parse",
                template.name
            )
        })?;
    }
    Ok(())
}

/// Serves until stdin closes.
///
/// # Errors
/// When the corpus is unusable or the address cannot be bound.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let shapes = Arc::new(Shapes::load(&args.corpus, args.hosts)?);
    check(&shapes)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening {}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // Blocking read of stdin on its own thread: EOF means the parent is done.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = tx.send(());
    });
    let app = axum::Router::new().fallback(serve).with_state(shapes);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await?;
    Ok(())
}

fn number(s: &str) -> Option<usize> {
    s.parse().ok()
}

async fn serve(State(shapes): State<Arc<Shapes>>, request: Request) -> Response {
    let path = request.uri().path();
    if let Some(i) = path
        .strip_prefix("/f/")
        .and_then(|p| p.strip_suffix(".xml"))
        .and_then(number)
    {
        let etag = format!("\"b{i}\"");
        if request
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            == Some(etag.as_str())
        {
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
        }
        let body = shapes.feed(i);
        let mut response = ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            response.headers_mut().insert(header::ETAG, v);
        }
        return response;
    }
    if let Some((i, j)) = path.strip_prefix("/t/").and_then(|p| {
        let (i, rest) = p.split_once('/')?;
        let (j, _ext) = rest.split_once('.')?;
        Some((number(i)?, number(j)?))
    }) {
        let (mime, body) = shapes.transcript(i, j);
        return ([(header::CONTENT_TYPE, mime)], body).into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}
