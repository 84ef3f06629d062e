//! One region's HTTP service (`meridian serve`): subscriptions, the digest
//! archive, the admin API, OpenAPI, metrics and health.
//!
//! | route | what |
//! |---|---|
//! | `GET /subscribe` | the subscribe form, in the region's locale, no JavaScript |
//! | `POST /subscribe` | the form: queues a double opt-in confirmation email |
//! | `POST /api/v1/subscribe` | the same in JSON (`{"email": …, "locale": …}` → `202`) |
//! | `GET /confirm?token=…` | confirms (idempotent); a bad link gets a `400` page saying why |
//! | `GET /unsubscribe?token=…` | a page with one button (following a link changes nothing) |
//! | `POST /unsubscribe?token=…` | RFC 8058 one-click unsubscribe: no session, the signed token is the credential |
//! | `GET /healthz` | the process answers |
//! | `GET /readyz` | the region's database answers, its migrations are current and its policy gate holds policies (`503 not ready: …` otherwise) |
//! | `GET /metrics` | Prometheus/OpenMetrics text ([`metrics`]) |
//! | `GET /api/v1/openapi.json` | the OpenAPI document ([`openapi`]) |
//! | `GET, POST /api/v1/feeds` | admin API: list, add (`{"url", "title"?}`, validated as `meridian feeds add`) |
//! | `GET, DELETE /api/v1/feeds/{id}` | one feed; remove it with its episodes |
//! | `POST /api/v1/feeds/import` | an OPML body (≤ 1 MiB); errors name the line |
//! | `POST /api/v1/runs` | start a daily run (`202`, `Location: /api/v1/runs/{id}`; `409` while one runs) |
//! | `GET /api/v1/runs`, `GET /api/v1/runs/{id}` | runs of this process: state, progress lines, counts |
//! | `GET /api/v1/subscribers` | addresses for `admin` tokens, keyed hashes only for `read` |
//! | `GET /api/v1/audit/report?from=&to=&format=html\|json\|md` | the compliance audit report |
//! | `GET /api/v1/audit/export` | the audit chain as JSON lines |
//! | `GET /archive`, `GET /archive/{date}` | the digest archive: days newest first (`?page=N`), one digest per page |
//! | `GET /archive.json`, `GET /archive/{date}.json` | the same as JSON (see the `archive` module) |
//!
//! Subscribing answers the same whether or not the address is known, and
//! sends nothing during the request: the confirmation email is queued in the
//! region's store and sent by a background worker that [`Application::run`]
//! owns (woken at once by the request, and every 30 s for retries). So a
//! response neither waits for the relay nor reveals, by its timing, anything
//! about the address.
//!
//! The admin API (`/api/v1/…` except `subscribe` and `openapi.json`) takes
//! `Authorization: Bearer mrd_<region>_<secret>` tokens made by `meridian
//! tokens create --region R --scope admin|read` ([`tokens`]): stored as
//! SHA-256 hashes in the region's own database, so a token of one region
//! gets `401` from every other region's service. A `read` token may only
//! `GET`; anything else needs `admin` (`403`). Errors are
//! `{"error": code, "detail": text}`, never internals.
//!
//! Limits at the door ([`limits`], [`csrf`]): the subscribe form carries a
//! signed double-submit CSRF token (hidden field + `HttpOnly`,
//! `SameSite=Strict` cookie; `403` without it), while the RFC 8058 one-click
//! unsubscribe needs only its signed link; subscribe requests are rate
//! limited per client IP and per address (`429` with `Retry-After`); query
//! strings over 2 KiB get `414`; bodies over 16 KiB (1 MiB for the OPML
//! import) get `413`; responses are gzipped when the client asks.
//!
//! On shutdown ([`Application::run`]) the service stops accepting, finishes
//! requests in flight, waits for a run started through the API and lets the
//! confirmation worker finish its email.
//!
//! Every response carries a request id (`x-request-id`), a strict CSP (styles
//! from this origin only, no scripts, forms to this origin only),
//! `Referrer-Policy: no-referrer` (links carry tokens), `nosniff`,
//! `frame-ancestors 'none'`, `Cache-Control: no-store` on pages, and HSTS
//! when the region's `server.base_url` is `https`.
//!
//! Slow clients ([`connections`], [`limits`]): a connection must send its
//! request header within `server.header_read_timeout_secs` (10 s) and its
//! body within 10 s (`408`); a kept-alive connection is closed after
//! `server.idle_timeout_secs` (30 s) without a request; at most
//! `server.max_connections` (512) are open at once, `server.max_connections_per_ip`
//! (64) from one client address (beyond: `503`, closed at once). A `GET`
//! answers within 10 s or gets `503` with `Retry-After`; a request that may
//! write is never cut short, so its answer is its outcome: when the
//! region's store is locked or out of connections, `503` with `Retry-After`
//! and nothing written. Every error that is not one of the HTML pages is
//! `{"error": code, "detail": text}`.
//!
//! ```no_run
//! # async fn f(region: meridian_runtime::Region) -> Result<(), meridian_server::ServerError> {
//! let app = meridian_server::Application::build(std::sync::Arc::new(region), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("listening on port {}", app.port());
//! app.run(meridian_server::shutdown_signal()).await
//! # }
//! ```

mod admin;
mod archive;
pub mod connections;
pub mod csrf;
mod error;
pub mod limits;
pub mod metrics;
pub mod openapi;
mod pages;
mod routes;
pub mod runs;
pub mod tokens;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::routing::{get, post};
use meridian_runtime::Region;
use tokio::sync::{Notify, watch};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Longest a client may take to send a request body, and a reading route
/// (`GET`, `HEAD`) to answer. A route that may write is not cut short: its
/// answer waits for the outcome (see the [`limits`] module).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body accepted, bytes (the admin API's OPML import takes
/// up to [`MAX_ADMIN_BODY_BYTES`]).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub use admin::{Caller, MAX_ADMIN_BODY_BYTES};
pub use connections::ConnectionLimits;
pub use limits::{MAX_QUERY_BYTES, SubscribeLimits};
/// How often the confirmation worker looks for due emails (retries) when
/// nothing wakes it.
const WORKER_INTERVAL: Duration = Duration::from_secs(30);

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// How the service is set up.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// The subscribe rate limits.
    pub subscribe_limits: SubscribeLimits,
    /// Timeouts and limits of connections (the region's `[server]` keys).
    pub connections: ConnectionLimits,
}

impl ServeOptions {
    /// The options of `region`: its `[server]` connection limits, the
    /// default subscribe rate limits.
    #[must_use]
    pub fn for_region(region: &Region) -> Self {
        Self {
            subscribe_limits: SubscribeLimits::default(),
            connections: ConnectionLimits::of(&region.config().server),
        }
    }
}

/// The service's shared state: the region, the bell that wakes the
/// confirmation worker, the admin-triggered runs, metrics, rate limits and
/// the CSRF signer.
#[derive(Clone)]
pub struct AppState {
    /// The region this process serves.
    pub region: Arc<Region>,
    /// Rung when a confirmation email is queued.
    pub confirmations: Arc<Notify>,
    /// Runs started through `POST /api/v1/runs` (one at a time).
    pub runs: Arc<runs::RunManager>,
    /// The figures this process keeps for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// The subscribe rate limiter.
    pub limits: Arc<limits::RateLimiter>,
    /// Signs the subscribe form's CSRF tokens.
    pub csrf: csrf::CsrfSigner,
    /// The setup (limits).
    pub options: Arc<ServeOptions>,
}

impl AppState {
    /// State for `region`, with [`ServeOptions::for_region`].
    #[must_use]
    pub fn new(region: Arc<Region>) -> Self {
        let options = ServeOptions::for_region(&region);
        Self::with_options(region, options)
    }

    /// State for `region` with `options`.
    #[must_use]
    pub fn with_options(region: Arc<Region>, options: ServeOptions) -> Self {
        Self {
            csrf: csrf::CsrfSigner::of(&region),
            limits: Arc::new(limits::RateLimiter::new(options.subscribe_limits)),
            region,
            confirmations: Arc::new(Notify::new()),
            runs: Arc::new(runs::RunManager::default()),
            metrics: Arc::new(metrics::Metrics::default()),
            options: Arc::new(options),
        }
    }
}

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving on {addr} failed: {source}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The routes and middleware for `state`'s region; testable with `oneshot`.
pub fn router(state: AppState) -> Router {
    let https = state
        .region
        .config()
        .server
        .base_url
        .starts_with("https://");
    let hsts = https.then(|| HeaderValue::from_static("max-age=31536000"));
    let x_request_id = HeaderName::from_static("x-request-id");
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(x_request_id.clone(), MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            // The path only: query strings carry link tokens, which are credentials.
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(x_request_id))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            metrics::track,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, hsts))
        // gzip only (the one encoding compiled in), when the client accepts it.
        .layer(CompressionLayer::new())
        // Every error that is not one of our pages is `{"error", "detail"}`.
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn(limits::cap_query))
        // The whole body within the deadline, up to the hard cap on every
        // body; extractors stop at the 16 KiB default below, which the OPML
        // import route raises.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            limits::read_body_in_time,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_ADMIN_BODY_BYTES))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let respond_in_time =
        axum::middleware::from_fn_with_state(Arc::clone(&state.metrics), limits::respond_in_time);
    Router::new()
        .route(
            "/subscribe",
            get(routes::subscribe_page).post(routes::subscribe_form),
        )
        .route("/api/v1/subscribe", post(routes::subscribe_json))
        .route(
            "/unsubscribe",
            get(routes::unsubscribe_page).post(routes::unsubscribe),
        )
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/audit/checkpoint", get(routes::audit_checkpoint))
        .route(pages::STYLESHEET_PATH, get(routes::stylesheet))
        .route("/metrics", get(metrics::scrape))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .merge(archive::routes())
        // `GET`s answer within the deadline; the admin routes put it inside
        // their authentication, and `GET /confirm` (which writes) has none.
        .route_layer(respond_in_time)
        .route("/confirm", get(routes::confirm))
        .merge(admin::routes(&state))
        .fallback(routes::not_found)
        .with_state(state)
        .layer(middleware)
}

/// The service, bound and ready to run.
pub struct Application {
    /// The bound socket (bound in [`Application::build`], so port 0 works).
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    state: AppState,
}

impl Application {
    /// Binds `listen` for `region`, with [`ServeOptions::for_region`].
    ///
    /// # Errors
    /// [`ServerError::Bind`].
    pub async fn build(region: Arc<Region>, listen: SocketAddr) -> Result<Self, ServerError> {
        let options = ServeOptions::for_region(&region);
        Self::build_with(region, listen, options).await
    }

    /// Binds `listen` for `region` with `options`.
    ///
    /// # Errors
    /// [`ServerError::Bind`].
    pub async fn build_with(
        region: Arc<Region>,
        listen: SocketAddr,
        options: ServeOptions,
    ) -> Result<Self, ServerError> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: listen,
            source,
        })?;
        Ok(Self {
            listener,
            addr,
            state: AppState::with_options(region, options),
        })
    }

    /// The port actually bound.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address actually bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (the region, the worker's bell).
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting, lets
    /// requests in flight finish (idle connections close at once),
    /// waits for a run started through the admin API to finish, and lets the
    /// confirmation worker finish the email it is sending. The worker runs
    /// inside this future, and the run's task is joined here: nothing is
    /// left detached.
    ///
    /// # Errors
    /// [`ServerError::Serve`].
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Self {
            listener,
            addr,
            state,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let app = router(state.clone());
        let serve = connections::serve(
            listener,
            app,
            state.options.connections,
            Arc::clone(&state.metrics),
            stop_rx.clone(),
        );
        tracing::info!(region = %state.region.config().id, %addr, "Serving.");
        let server = async move {
            let mut serve = std::pin::pin!(serve);
            tokio::select! {
                () = &mut serve => {}
                () = shutdown => {
                    tracing::info!("Shutting down: finishing requests in flight.");
                    let _ = stop_tx.send(true);
                    serve.await;
                }
            }
            // Whichever way the server ended, stop the worker too.
            let _ = stop_tx.send(true);
            Ok::<(), std::io::Error>(())
        };
        let runs = Arc::clone(&state.runs);
        let mut runs_stop = stop_rx.clone();
        let drain_runs = async move {
            let _ = runs_stop.wait_for(|stop| *stop).await;
            runs.drain().await;
        };
        let (result, (), ()) =
            tokio::join!(server, confirmation_worker(state, stop_rx), drain_runs);
        result.map_err(|source| ServerError::Serve { addr, source })
    }
}

/// Sends queued confirmation emails: when a subscribe request rings, and
/// every [`WORKER_INTERVAL`] for retries, until `stop` turns true. Signs the
/// region's audit chain every [`meridian_runtime::CHECKPOINT_INTERVAL`] when
/// it has grown, and once more when stopping.
async fn confirmation_worker(state: AppState, mut stop: watch::Receiver<bool>) {
    let region = &state.region;
    let mut last_checkpoint = tokio::time::Instant::now();
    loop {
        // The audit records of confirmation emails and subscription changes
        // are signed every `CHECKPOINT_INTERVAL`, not only by the next run.
        if last_checkpoint.elapsed() >= meridian_runtime::CHECKPOINT_INTERVAL {
            last_checkpoint = tokio::time::Instant::now();
            checkpoint(region).await;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        match region.send_due_confirmations(now).await {
            Ok(counts) if !counts.0.is_empty() => {
                tracing::debug!(region = %region.config().id, ?counts, "Confirmation emails handled.");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(region = %region.config().id, error = %e, "Sending confirmation emails failed.")
            }
        }
        tokio::select! {
            () = state.confirmations.notified() => {}
            () = tokio::time::sleep(WORKER_INTERVAL) => {}
            // The watch's read guard is dropped inside the block: held any
            // longer, it would block the sender's second `send`.
            () = async { let _ = stop.wait_for(|stop| *stop).await; } => break,
        }
    }
    // Buffered outcome records are written and signed before the process goes.
    checkpoint(region).await;
}

/// Signs the region's audit chain when it has grown since its last checkpoint.
async fn checkpoint(region: &Region) {
    match region.audit_checkpoint_if_moved().await {
        Ok(true) => tracing::info!(region = %region.config().id, "Audit chain checkpoint signed."),
        Ok(false) => {}
        Err(e) => {
            tracing::error!(region = %region.config().id, error = %e, "Signing the audit chain failed.")
        }
    }
}

/// Completes on Ctrl-C or SIGTERM (what Kubernetes sends before killing a pod).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
