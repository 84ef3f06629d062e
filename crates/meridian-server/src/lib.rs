//! One region's HTTP service: the subscription surface of `meridian serve`.
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
//! | `GET /readyz` | the region's database answers (`503` otherwise) |
//!
//! Subscribing answers the same whether or not the address is known, and
//! sends nothing during the request: the confirmation email is queued in the
//! region's store and sent by a background worker that [`Application::run`]
//! owns (woken at once by the request, and every 30 s for retries). So a
//! response neither waits for the relay nor reveals, by its timing, anything
//! about the address.
//!
//! Every response carries a request id (`x-request-id`), a strict CSP (styles
//! from this origin only, no scripts, forms to this origin only),
//! `Referrer-Policy: no-referrer` (links carry tokens), `nosniff`,
//! `frame-ancestors 'none'`, `Cache-Control: no-store` on pages, and HSTS
//! when the region's `server.base_url` is `https`. Requests time out after
//! 10 s and bodies are capped at 16 KiB.
//!
//! ```no_run
//! # async fn f(region: meridian_runtime::Region) -> Result<(), meridian_server::ServerError> {
//! let app = meridian_server::Application::build(std::sync::Arc::new(region), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("listening on port {}", app.port());
//! app.run(meridian_server::shutdown_signal()).await
//! # }
//! ```

mod error;
mod pages;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::routing::{get, post};
use meridian_runtime::Region;
use tokio::sync::{Notify, watch};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Longest a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body accepted, bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// How often the confirmation worker looks for due emails (retries) when
/// nothing wakes it.
const WORKER_INTERVAL: Duration = Duration::from_secs(30);

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The service's shared state: the region, and the bell that wakes the
/// confirmation worker.
#[derive(Clone)]
pub struct AppState {
    /// The region this process serves.
    pub region: Arc<Region>,
    /// Rung when a confirmation email is queued.
    pub confirmations: Arc<Notify>,
}

impl AppState {
    /// State for `region`.
    #[must_use]
    pub fn new(region: Arc<Region>) -> Self {
        Self {
            region,
            confirmations: Arc::new(Notify::new()),
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
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, hsts))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT));
    Router::new()
        .route(
            "/subscribe",
            get(routes::subscribe_page).post(routes::subscribe_form),
        )
        .route("/api/v1/subscribe", post(routes::subscribe_json))
        .route("/confirm", get(routes::confirm))
        .route(
            "/unsubscribe",
            get(routes::unsubscribe_page).post(routes::unsubscribe),
        )
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route(pages::STYLESHEET_PATH, get(routes::stylesheet))
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
    /// Binds `listen` for `region`.
    ///
    /// # Errors
    /// [`ServerError::Bind`].
    pub async fn build(region: Arc<Region>, listen: SocketAddr) -> Result<Self, ServerError> {
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
            state: AppState::new(region),
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
    /// requests in flight finish (each is bounded by [`REQUEST_TIMEOUT`]) and
    /// lets the confirmation worker finish the email it is sending. The
    /// worker runs inside this future, not as a detached task.
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
        let mut server_stop = stop_rx.clone();
        let app = router(state.clone());
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        });
        tracing::info!(region = %state.region.config().id, %addr, "Serving.");
        let server = async move {
            let mut serve = std::pin::pin!(serve.into_future());
            let result = tokio::select! {
                result = &mut serve => result,
                () = shutdown => {
                    tracing::info!("Shutting down: finishing requests in flight.");
                    let _ = stop_tx.send(true);
                    serve.await
                }
            };
            // Whichever way the server ended, stop the worker too.
            let _ = stop_tx.send(true);
            result
        };
        let (result, ()) = tokio::join!(server, confirmation_worker(state, stop_rx));
        result.map_err(|source| ServerError::Serve { addr, source })
    }
}

/// Sends queued confirmation emails: when a subscribe request rings, and
/// every [`WORKER_INTERVAL`] for retries, until `stop` turns true.
async fn confirmation_worker(state: AppState, mut stop: watch::Receiver<bool>) {
    let region = &state.region;
    loop {
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
            _ = stop.wait_for(|stop| *stop) => return,
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
