//! `meridian demo`: every region end to end on the bundled sample podcasts,
//! with no network and no keys.
//!
//! The sample podcasts in `demo/` (beside the config directory) are served by
//! a small HTTP server on a loopback port. Feed URLs name the host
//! [`DEMO_HOST`] (a `.localhost` name, RFC 6761), which each region's egress
//! client resolves to that port, like curl's `--resolve`. The URLs therefore
//! stay the same from one demo to the next, so a second demo on the same data
//! directory finds the same feeds (answered with `304 Not Modified`), the same
//! transcripts (no model work, by content hash) and the same digest (no second
//! email).
//!
//! Each region runs with its shipped region file and the usual environment
//! overrides; the demo only adds [`DEMO_HOST`] to the region's egress
//! allow-list and the region's sample feeds (`demo/<id>.opml`) to its store.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use meridian_core::{FeedUrl, format_offset};
use meridian_runtime::{AssembleOptions, Region, RunOptions};
use sha2::Digest as _;
use tokio::sync::oneshot;

use crate::{Cli, EXIT_CONFIG};

/// The host name of the sample podcast server.
pub const DEMO_HOST: &str = "podcasts.meridian.localhost";

/// The sample podcast server: serves a folder, replacing `{{base_url}}` in
/// feeds and OPML files, with `ETag`s so that conditional GETs get 304.
pub struct SampleServer {
    /// Where it listens (a loopback port).
    pub addr: SocketAddr,
    /// The base URL feeds are written against.
    pub base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ServeState {
    root: PathBuf,
    base_url: String,
}

impl SampleServer {
    /// Starts serving `root` on `127.0.0.1:0`, with URLs in the files written
    /// against `base_url` (default: the server's own `http://127.0.0.1:PORT`).
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(root: &Path, base_url: Option<&str>) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the sample podcast server")?;
        let addr = listener.local_addr()?;
        let base_url = base_url.map_or_else(
            || format!("http://{addr}"),
            |b| b.trim_end_matches('/').to_owned(),
        );
        let state = ServeState {
            root: root.to_owned(),
            base_url: base_url.clone(),
        };
        let app = axum::Router::new().fallback(serve_file).with_state(state);
        let (tx, rx) = oneshot::channel::<()>();
        #[expect(
            clippy::disallowed_methods,
            reason = "the sample server's task is owned by SampleServer and joined in stop()"
        )]
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = server.await {
                tracing::error!(error = %e, "The sample podcast server stopped");
            }
        });
        Ok(Self {
            addr,
            base_url,
            shutdown: Some(tx),
            task,
        })
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

async fn serve_file(State(state): State<ServeState>, request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    // Only plain relative components: no `..`, no absolute paths.
    let rel = Path::new(path);
    if path.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = state.root.join(rel);
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (content_type, templated) = match ext {
        "xml" => ("application/rss+xml; charset=utf-8", true),
        "opml" => ("text/x-opml; charset=utf-8", true),
        "vtt" => ("text/vtt; charset=utf-8", false),
        "srt" => ("application/x-subrip; charset=utf-8", false),
        "json" => ("application/json", false),
        "html" => ("text/html; charset=utf-8", false),
        "txt" => ("text/plain; charset=utf-8", false),
        _ => ("application/octet-stream", false),
    };
    let body = if templated {
        String::from_utf8_lossy(&bytes)
            .replace("{{base_url}}", &state.base_url)
            .into_bytes()
    } else {
        bytes
    };
    let etag = format!("\"{}\"", &hex::encode(sha2::Sha256::digest(&body))[..16]);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (StatusCode::OK, headers, body).into_response()
}

/// Where the sample podcasts are: `demo/` beside the config directory.
fn demo_dir(cli: &Cli) -> PathBuf {
    cli.config_dir.join("..").join("demo")
}

/// Runs the demo.
///
/// # Errors
/// Runtime failures, with context.
pub async fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let samples = demo_dir(cli);
    if !samples.join("feeds").is_dir() {
        anyhow::bail!(
            "sample podcasts not found at {} (run from the repository root or pass --config-dir)",
            samples.display()
        );
    }
    let loaded = meridian_config::load_all(&cli.config_dir, &cli.data_dir);
    // Every rule of `config check`, policies included, before anything is created.
    let mut policy_problems: Vec<String> = Vec::new();
    for r in &loaded.regions {
        for p in crate::commands::policy::policy_problems(cli, r) {
            if !policy_problems.contains(&p) {
                policy_problems.push(p);
            }
        }
    }
    if !loaded.problems.is_empty() || !policy_problems.is_empty() {
        for p in &loaded.problems {
            eprintln!("FAIL {p}");
        }
        for p in &policy_problems {
            eprintln!("FAIL {p}");
        }
        eprintln!("the demo does not start regions whose configuration fails its checks");
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let base_url = format!("http://{DEMO_HOST}");
    let server = SampleServer::start(&samples, Some(&base_url)).await?;
    crate::say!(
        "Meridian demo: {} regions; sample podcasts at {base_url} (served on {}); data in {}",
        loaded.regions.len(),
        server.addr,
        cli.data_dir.display()
    );
    // Each region signs its audit checkpoints with its own key, made on first use.
    for r in &loaded.regions {
        let (key, made) = meridian_audit::keys::ensure_key_file(&cli.data_dir, &r.id)
            .with_context(|| format!("making the audit key of region `{}`", r.id))?;
        if made {
            let fingerprint = key.public_key().fingerprint();
            crate::say!(
                "[{}] audit signing key made: {} ({fingerprint})",
                r.id,
                key.source()
            );
        }
    }
    let result = run_regions(&samples, &server, loaded.regions).await;
    server.stop().await;
    let summaries = result?;
    crate::say!();
    for s in &summaries {
        crate::say!("{s}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_regions(
    samples: &Path,
    server: &SampleServer,
    regions: Vec<meridian_config::RegionConfig>,
) -> anyhow::Result<Vec<String>> {
    let mut summaries = Vec::new();
    for mut config in regions {
        let id = config.id.clone();
        crate::say!();
        crate::say!(
            "== {id}: {} ({}, {}) ==",
            config.name,
            config.jurisdiction,
            config.locale
        );
        config.egress.allow.push(
            meridian_core::net::AllowEntry::parse(DEMO_HOST).map_err(|e| anyhow::anyhow!(e))?,
        );
        let options = AssembleOptions {
            resolve: vec![(DEMO_HOST.to_owned(), server.addr)],
            ..AssembleOptions::default()
        };
        let region = Region::assemble(config, &options)
            .await
            .with_context(|| format!("assembling region `{id}`"))?;
        let added = add_sample_feeds(&region, samples, &server.base_url).await?;
        if added > 0 {
            crate::say!("[{id}] {added} sample feeds added");
        }
        let mut run = RunOptions::today(&region);
        // The demo uses the sample feeds, not the region's production OPML list.
        run.import_opml = false;
        run.force_refresh = true;
        let progress = |line: &str| crate::say!("[{id}] {line}");
        let report = region
            .run_daily(&run, &progress)
            .await
            .with_context(|| format!("daily run of region `{id}`"))?;
        summaries.push(summary(&region, &report));
        region.shutdown().await;
    }
    Ok(summaries)
}

async fn add_sample_feeds(
    region: &Region,
    samples: &Path,
    base_url: &str,
) -> anyhow::Result<usize> {
    let id = &region.config().id;
    let path = samples.join(format!("{id}.opml"));
    let text = tokio::fs::read_to_string(&path)
        .await
        .with_context(|| format!("reading {}", path.display()))?;
    let text = text.replace("{{base_url}}", base_url);
    let outlines = meridian_ingest::parse_opml(text.as_bytes(), &path.display().to_string())?;
    let now = chrono::Utc::now().timestamp();
    let mut added = 0;
    for o in outlines {
        let url = FeedUrl::parse(&o.xml_url)?;
        if region
            .store()
            .add_feed(url.as_str(), o.title.as_deref(), "demo", now)
            .await?
            .1
        {
            added += 1;
        }
    }
    Ok(added)
}

fn summary(region: &Region, report: &meridian_runtime::RunReport) -> String {
    let cfg = region.config();
    let mut out = String::new();
    let date = report.date.map(|d| d.to_string()).unwrap_or_default();
    match &report.digest {
        Some(d) if !d.items.is_empty() => {
            out.push_str(&format!(
                "Top {} for {} ({}) on {date}:\n",
                d.items.len(),
                cfg.id,
                cfg.name
            ));
            for (i, item) in d.items.iter().enumerate() {
                let at = item
                    .insight
                    .start
                    .map_or_else(|| "—".to_owned(), format_offset);
                out.push_str(&format!(
                    "  {}. {} — {} @ {at} [{}]\n",
                    i + 1,
                    item.podcast,
                    item.episode,
                    item.insight.model
                ));
                out.push_str(&format!("     {}\n", item.insight.text));
            }
        }
        _ => out.push_str(&format!(
            "No digest for {} on {date}: nothing new.\n",
            cfg.id
        )),
    }
    let outbox = &cfg.mail.outbox_dir;
    if cfg.mail.relay == meridian_core::net::MailRelay::Outbox {
        let count = std::fs::read_dir(outbox)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0);
        out.push_str(&format!(
            "  Outbox: {} ({count} .eml; this run: {} sent, {} already sent)\n",
            outbox.display(),
            report.delivery.get("sent"),
            report.delivery.get("already_sent")
        ));
    } else {
        out.push_str(&format!(
            "  Mail relay: {} (this run: {} sent)\n",
            report.transport,
            report.delivery.get("sent")
        ));
    }
    out
}
