//! `GET /metrics`: the region's figures in the Prometheus (OpenMetrics) text
//! format.
//!
//! Two kinds of figures:
//! - kept by this process: HTTP request latency by method, route template
//!   and status class, runs started through the admin API by outcome,
//!   subscribe requests refused by the rate limits, connections open,
//!   refused by a limit and closed by a timeout, and requests cut by a
//!   deadline;
//! - read from the region's store at scrape time (so every replica reports
//!   the region's totals, and a restart loses nothing): episodes by status,
//!   insights, digests, model calls by model and outcome, model tokens by
//!   model and direction, policy denials, emails by kind and outcome.
//!
//! Labels are low-cardinality by construction: route *templates*
//! (`/api/v1/feeds/{id}`, never the id), status classes (`2xx`), the
//! region's own model names; never an address, URL or token. Every series
//! carries the `region` label. Names (prefix `meridian_`) are the `METRIC_*`
//! constants below and are listed in `docs/operations.md`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;
use crate::runs::RunState;

/// Prefix of every metric.
pub const PREFIX: &str = "meridian";
/// Histogram of request latency, seconds (`method`, `route`, `status_class`).
pub const METRIC_HTTP_DURATION: &str = "http_request_duration_seconds";
/// Counter of admin-triggered runs by `outcome` (`succeeded`, `failed`).
pub const METRIC_RUNS: &str = "runs";
/// Counter of subscribe requests refused by a rate limit, by `limit` (`ip`, `address`).
pub const METRIC_RATE_LIMITED: &str = "subscribe_rate_limited";
/// Gauge: connections open now.
pub const METRIC_CONNECTIONS_OPEN: &str = "connections_open";
/// Counter of connections refused by a limit, by `limit` (`global`, `per_ip`).
pub const METRIC_CONNECTIONS_REFUSED: &str = "connections_refused";
/// Counter of connections closed by a timeout, by `timeout` (`header_read`, `idle`).
pub const METRIC_CONNECTION_TIMEOUTS: &str = "connection_timeouts";
/// Counter of requests cut by a deadline, by `deadline` (`body_read`: the
/// client did not send its body in time, `408`; `response`: a reading route
/// took too long, `503`).
pub const METRIC_REQUEST_TIMEOUTS: &str = "request_timeouts";
/// Gauge: episodes by `status`.
pub const METRIC_EPISODES: &str = "episodes";
/// Gauge: insights stored.
pub const METRIC_INSIGHTS: &str = "insights";
/// Gauge: digests made.
pub const METRIC_DIGESTS: &str = "digests";
/// Gauge: model calls by `model` and `outcome`.
pub const METRIC_MODEL_CALLS: &str = "model_calls";
/// Gauge: model tokens by `model` and `direction` (`input`, `output`).
pub const METRIC_MODEL_TOKENS: &str = "model_tokens";
/// Gauge: policy decisions that denied an action.
pub const METRIC_POLICY_DENIALS: &str = "policy_denials";
/// Gauge: emails by `kind` (`digest`, `confirmation`) and `outcome` (their status).
pub const METRIC_EMAILS: &str = "emails";

/// The label set of one series.
type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s: sub-millisecond pages up to the request timeout.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The figures this process keeps.
#[derive(Debug)]
pub struct Metrics {
    http: Family<Labels, Histogram, fn() -> Histogram>,
    runs: Family<Labels, Counter>,
    rate_limited: Family<Labels, Counter>,
    connections_open: Gauge,
    connections_refused: Family<Labels, Counter>,
    connection_timeouts: Family<Labels, Counter>,
    request_timeouts: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            http: Family::new_with_constructor(latency_histogram),
            runs: Family::default(),
            rate_limited: Family::default(),
            connections_open: Gauge::default(),
            connections_refused: Family::default(),
            connection_timeouts: Family::default(),
            request_timeouts: Family::default(),
        }
    }
}

/// `2xx`, `4xx`…: the status label, five values at most.
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    /// Counts a finished admin-triggered run.
    pub fn count_run(&self, state: RunState) {
        self.runs
            .get_or_create(&vec![("outcome", state.as_str().to_owned())])
            .inc();
    }

    /// Counts a subscribe request refused by the `limit` (`ip`, `address`) rate limit.
    pub fn count_rate_limited(&self, limit: &'static str) {
        self.rate_limited
            .get_or_create(&vec![("limit", limit.to_owned())])
            .inc();
    }

    /// A connection was admitted.
    pub(crate) fn connection_opened(&self) {
        self.connections_open.inc();
    }

    /// An admitted connection closed.
    pub(crate) fn connection_closed(&self) {
        self.connections_open.dec();
    }

    /// Counts a connection refused by a limit.
    pub(crate) fn count_connection_refused(&self, refusal: crate::connections::Refusal) {
        self.connections_refused
            .get_or_create(&vec![("limit", refusal.label().to_owned())])
            .inc();
    }

    /// Counts a connection closed by a timeout.
    pub(crate) fn count_connection_timeout(&self, timeout: crate::connections::Timeout) {
        self.connection_timeouts
            .get_or_create(&vec![("timeout", timeout.label().to_owned())])
            .inc();
    }

    /// Counts a request cut by its `deadline` (`body_read`, `response`).
    pub(crate) fn count_request_timeout(&self, deadline: &'static str) {
        self.request_timeouts
            .get_or_create(&vec![("deadline", deadline.to_owned())])
            .inc();
    }

    fn observe(&self, method: &str, route: &str, status: StatusCode, seconds: f64) {
        self.http
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status_class", status_class(status).to_owned()),
            ])
            .observe(seconds);
    }
}

/// Middleware: times every request under its route template (`unmatched`
/// for the 404 fallback, so that probing random paths adds no series).
pub(crate) async fn track(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics.observe(
        &method,
        &route,
        response.status(),
        started.elapsed().as_secs_f64(),
    );
    response
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

fn gauges(registry: &mut Registry, name: &str, help: &str, series: Vec<(Labels, i64)>) {
    let family: Family<Labels, Gauge> = Family::default();
    for (labels, value) in series {
        family.get_or_create(&labels).set(value);
    }
    registry.register(name, help, family);
}

/// The text of `/metrics` for `state`'s region.
async fn render(state: &AppState) -> Result<String, meridian_store::StoreError> {
    let store = state.region.store();
    let region = state.region.config().id.to_string();
    let mut registry =
        Registry::with_prefix_and_labels(PREFIX, [("region".into(), region.into())].into_iter());
    let m = &state.metrics;
    registry.register(
        METRIC_HTTP_DURATION,
        "HTTP request latency by method, route template and status class",
        m.http.clone(),
    );
    registry.register(
        METRIC_RUNS,
        "Runs started through the admin API, by outcome",
        m.runs.clone(),
    );
    registry.register(
        METRIC_RATE_LIMITED,
        "Subscribe requests refused by a rate limit",
        m.rate_limited.clone(),
    );
    registry.register(
        METRIC_CONNECTIONS_OPEN,
        "Connections open now",
        m.connections_open.clone(),
    );
    registry.register(
        METRIC_CONNECTIONS_REFUSED,
        "Connections refused by a limit (global, per_ip)",
        m.connections_refused.clone(),
    );
    registry.register(
        METRIC_CONNECTION_TIMEOUTS,
        "Connections closed by a timeout (header_read, idle)",
        m.connection_timeouts.clone(),
    );
    registry.register(
        METRIC_REQUEST_TIMEOUTS,
        "Requests cut by a deadline (body_read, response)",
        m.request_timeouts.clone(),
    );

    let episodes = store.episode_counts().await?;
    gauges(
        &mut registry,
        METRIC_EPISODES,
        "Episodes in the region's store, by status",
        episodes
            .into_iter()
            .map(|(status, n)| (vec![("status", status)], n))
            .collect(),
    );
    let totals = store.service_totals().await?;
    gauge(
        &mut registry,
        METRIC_INSIGHTS,
        "Insights in the region's store",
        totals.insights,
    );
    gauge(
        &mut registry,
        METRIC_DIGESTS,
        "Digests made (one per day with news)",
        totals.digests,
    );
    gauge(
        &mut registry,
        METRIC_POLICY_DENIALS,
        "Policy decisions in the audit log that denied an action",
        totals.policy_denials,
    );
    let calls = store.model_call_totals().await?;
    let mut call_series = Vec::new();
    let mut token_series: Vec<(Labels, i64)> = Vec::new();
    for (model, outcome, n, tokens_in, tokens_out) in calls {
        call_series.push((vec![("model", model.clone()), ("outcome", outcome)], n));
        for (direction, t) in [("input", tokens_in), ("output", tokens_out)] {
            let labels = vec![
                ("model", model.clone()),
                ("direction", direction.to_owned()),
            ];
            match token_series.iter_mut().find(|(l, _)| *l == labels) {
                Some((_, sum)) => *sum += t,
                None => token_series.push((labels, t)),
            }
        }
    }
    gauges(
        &mut registry,
        METRIC_MODEL_CALLS,
        "Model calls by model and outcome",
        call_series,
    );
    gauges(
        &mut registry,
        METRIC_MODEL_TOKENS,
        "Model tokens by model and direction",
        token_series,
    );
    let mut emails: Vec<(Labels, i64)> = store
        .delivery_counts(0, i64::MAX)
        .await?
        .into_iter()
        .map(|c| {
            (
                vec![("kind", "digest".to_owned()), ("outcome", c.status)],
                c.total,
            )
        })
        .collect();
    emails.extend(totals.confirmation_emails.into_iter().map(|(status, n)| {
        (
            vec![("kind", "confirmation".to_owned()), ("outcome", status)],
            n,
        )
    }));
    gauges(
        &mut registry,
        METRIC_EMAILS,
        "Emails by kind and outcome",
        emails,
    );

    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut text, &registry);
    Ok(text)
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "The region's metrics (OpenMetrics text)", content_type = "application/openmetrics-text", body = String),
        (status = 503, description = "The region's store does not answer", body = crate::admin::ErrorBody),
    )
)]
pub(crate) async fn scrape(State(state): State<AppState>) -> Response {
    match render(&state).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(region = %state.region.config().id, error = %e, "Metrics could not be read from the store.");
            crate::admin::AdminError::unavailable("the region's store does not answer")
                .into_response()
        }
    }
}
