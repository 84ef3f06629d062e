//! The admin API under `/api/v1`, behind region-scoped bearer tokens.
//!
//! Every route here passes [`authenticate`] first: a request without a
//! token of *this* region that is not revoked gets `401`; a `read` token may
//! only `GET`, anything else needs `admin` (`403`). Errors are JSON
//! `{"error": <code>, "detail": <what is wrong>}`; a `5xx` names no internals
//! (its cause is logged once, here).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use chrono::{Days, NaiveDate, Utc};
use meridian_core::FeedUrl;
use meridian_runtime::RunOptions;
use meridian_store::{FeedRow, TokenScope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::runs::{RunStatus, StartError};
use crate::tokens::{names_region, token_hash};

/// Largest admin request body (an OPML import), bytes.
pub const MAX_ADMIN_BODY_BYTES: usize = 1024 * 1024;

/// An error of the admin API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code: `invalid`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `timeout`, `conflict`, `too_large`,
    /// `uri_too_long`, `unsupported_media_type`, `rate_limited`, `internal`,
    /// `unavailable`.
    pub error: &'static str,
    /// What is wrong, naming the field or line; never internals.
    pub detail: String,
}

/// An admin API error and its status.
#[derive(Debug)]
pub struct AdminError {
    status: StatusCode,
    body: ErrorBody,
}

impl AdminError {
    fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error,
                detail: detail.into(),
            },
        }
    }

    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub(crate) fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// A 500 whose cause is logged here and not shown.
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "Admin API request failed.");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the cause is in the service's log",
        )
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::error::RETRY_AFTER_SECS),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"meridian\""),
            );
        }
        response
    }
}

/// A store failure: `503` with `Retry-After` when the store is busy
/// (locked, out of connections; nothing was written), else a `500`.
fn store_error(e: meridian_store::StoreError) -> AdminError {
    if e.is_retryable() {
        tracing::warn!(error = %e, "Admin API request refused: the region's store is busy.");
        AdminError::unavailable(
            "the region's store is busy; nothing was changed; try again shortly",
        )
    } else {
        AdminError::internal(&e)
    }
}

/// Who is calling: the token's id and scope (a request extension set by
/// the admin routes' authentication middleware).
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The token's row id.
    pub token_id: i64,
    /// What it may do.
    pub scope: TokenScope,
}

/// Middleware of every admin route: the bearer token must be one of this
/// region's, not revoked; `read` tokens may only read.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let region = &state.region.config().id;
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
        return AdminError::unauthorized("an `Authorization: Bearer <token>` header is required")
            .into_response();
    };
    if !names_region(token, region) {
        return AdminError::unauthorized(format!("not a token of region `{region}`"))
            .into_response();
    }
    let row = match state
        .region
        .store()
        .api_token_by_hash(&token_hash(token))
        .await
    {
        Ok(Some(row)) if row.revoked_at.is_none() => row,
        Ok(Some(_)) => return AdminError::unauthorized("the token was revoked").into_response(),
        Ok(None) => {
            return AdminError::unauthorized(format!("not a token of region `{region}`"))
                .into_response();
        }
        Err(e) => return store_error(e).into_response(),
    };
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if row.scope == TokenScope::Read && !reads {
        return AdminError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token has the `read` scope; the request needs `admin`",
        )
        .into_response();
    }
    let now = Utc::now().timestamp();
    // Noted at most once a minute per token, to spare the database a write per request.
    if row.last_used_at.is_none_or(|t| now - t >= 60)
        && let Err(e) = state.region.store().touch_api_token(row.id, now).await
    {
        tracing::warn!(error = %e, "Could not note the use of an API token.");
    }
    request.extensions_mut().insert(Caller {
        token_id: row.id,
        scope: row.scope,
    });
    next.run(request).await
}

/// The admin routes, guarded by [`authenticate`].
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/feeds", get(list_feeds).post(add_feed))
        .route("/api/v1/feeds/{id}", get(get_feed).delete(delete_feed))
        .route(
            "/api/v1/feeds/import",
            axum::routing::post(import_opml).layer(DefaultBodyLimit::max(MAX_ADMIN_BODY_BYTES)),
        )
        .route("/api/v1/runs", get(list_runs).post(start_run))
        .route("/api/v1/runs/{id}", get(get_run))
        .route("/api/v1/subscribers", get(list_subscribers))
        .route("/api/v1/audit/report", get(audit_report))
        .route("/api/v1/audit/export", get(audit_export))
        // Inside the authentication, so that noting a token's use is never cut.
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            crate::limits::respond_in_time,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
}

/// A feed as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedView {
    /// Row id.
    pub id: i64,
    /// Feed URL.
    pub url: String,
    /// Title, once fetched.
    pub title: Option<String>,
    /// How it was added: `api`, `cli`, `opml`.
    pub source: String,
    /// Successful fetches.
    pub fetches: i64,
    /// Failures in a row.
    pub failures: i64,
    /// Kind of the last failure (`timeout`, `not_found`…).
    pub last_failure_kind: Option<String>,
    /// When it is checked next (Unix seconds).
    pub next_check_at: i64,
    /// Disabled after too many failures.
    pub disabled: bool,
    /// Refused by the region's egress policy.
    pub blocked: bool,
}

impl From<FeedRow> for FeedView {
    fn from(f: FeedRow) -> Self {
        Self {
            id: f.id,
            url: f.url,
            title: f.title,
            source: f.source,
            fetches: f.fetch_count,
            failures: f.failure_count,
            last_failure_kind: f.last_failure_kind,
            next_check_at: f.next_check_at,
            disabled: f.disabled,
            blocked: f.blocked,
        }
    }
}

/// `GET /api/v1/feeds`: the region's feeds.
#[utoipa::path(get, path = "/api/v1/feeds", tag = "feeds", security(("bearer" = [])),
    responses((status = 200, body = [FeedView]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_feeds(
    State(state): State<AppState>,
) -> Result<Json<Vec<FeedView>>, AdminError> {
    let feeds = state
        .region
        .store()
        .list_feeds()
        .await
        .map_err(store_error)?;
    Ok(Json(feeds.into_iter().map(FeedView::from).collect()))
}

/// A feed to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeed {
    /// The feed URL (http or https, no credentials), as for `meridian feeds add`.
    pub url: String,
    /// A title to show until the feed is fetched.
    #[serde(default)]
    pub title: Option<String>,
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| AdminError::invalid(format!("body: {e}")))
}

/// `POST /api/v1/feeds`: adds a feed; `201` when new, `200` when present.
#[utoipa::path(post, path = "/api/v1/feeds", tag = "feeds", security(("bearer" = [])),
    request_body = NewFeed,
    responses((status = 201, body = FeedView, description = "Added"), (status = 200, body = FeedView, description = "Already present"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn add_feed(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let new: NewFeed = parse_json(&body)?;
    let url = remote_feed_url(&new.url).map_err(|e| AdminError::invalid(format!("url: {e}")))?;
    let (row, added) = state
        .region
        .store()
        .add_feed(
            url.as_str(),
            new.title.as_deref(),
            "api",
            Utc::now().timestamp(),
        )
        .await
        .map_err(store_error)?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(FeedView::from(row))).into_response())
}

/// A feed URL that the API accepts: `http`/`https` only. A `file:` feed reads
/// a local file on the server, so only an operator adds one, from the command
/// line (`meridian feeds add`, `meridian feeds import`).
fn remote_feed_url(s: &str) -> Result<FeedUrl, String> {
    let url = FeedUrl::parse(s).map_err(|e| e.to_string())?;
    if url.is_remote() {
        Ok(url)
    } else {
        Err(format!(
            "feed URL `{s}` is a local file; the API accepts only http and https feeds \
             (an operator adds a local feed with `meridian feeds add`)"
        ))
    }
}

async fn feed_by_id(state: &AppState, id: i64) -> Result<FeedRow, AdminError> {
    state
        .region
        .store()
        .list_feeds()
        .await
        .map_err(store_error)?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or_else(|| AdminError::not_found(format!("no feed with id {id}")))
}

/// `GET /api/v1/feeds/{id}`.
#[utoipa::path(get, path = "/api/v1/feeds/{id}", tag = "feeds", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Feed id")),
    responses((status = 200, body = FeedView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn get_feed(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<FeedView>, AdminError> {
    Ok(Json(feed_by_id(&state, id).await?.into()))
}

/// `DELETE /api/v1/feeds/{id}`: removes the feed and its episodes.
#[utoipa::path(delete, path = "/api/v1/feeds/{id}", tag = "feeds", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Feed id")),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn delete_feed(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, AdminError> {
    let feed = feed_by_id(&state, id).await?;
    state
        .region
        .store()
        .remove_feed(&feed.url)
        .await
        .map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an OPML import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    /// Feeds added.
    pub added: u64,
    /// Feeds already present.
    pub present: u64,
    /// Outlines refused, each with its URL and why.
    pub refused: Vec<RefusedOutline>,
}

/// An outline that was not imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedOutline {
    /// Its `xmlUrl`.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// `POST /api/v1/feeds/import`: the body is an OPML document; idempotent.
#[utoipa::path(post, path = "/api/v1/feeds/import", tag = "feeds", security(("bearer" = [])),
    request_body(content = String, content_type = "text/x-opml", description = "An OPML document (up to 1 MiB)"),
    responses((status = 200, body = ImportResult), (status = 400, body = ErrorBody, description = "Not OPML; the detail names the line"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, description = "Over 1 MiB")))]
pub(crate) async fn import_opml(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<ImportResult>, AdminError> {
    let outlines = meridian_ingest::parse_opml(&body, "the request body")
        .map_err(|e| AdminError::invalid(e.to_string()))?;
    let store = state.region.store();
    let now = Utc::now().timestamp();
    let mut result = ImportResult {
        added: 0,
        present: 0,
        refused: Vec::new(),
    };
    for o in outlines {
        match remote_feed_url(&o.xml_url) {
            Ok(url) => {
                let (_, added) = store
                    .add_feed(url.as_str(), o.title.as_deref(), "opml", now)
                    .await
                    .map_err(store_error)?;
                if added {
                    result.added += 1;
                } else {
                    result.present += 1;
                }
            }
            Err(reason) => result.refused.push(RefusedOutline {
                url: o.xml_url,
                reason,
            }),
        }
    }
    Ok(Json(result))
}

/// How to run (all optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    /// The digest's day (default: today in the region's timezone).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
    /// Check every feed now, whether due or not.
    #[serde(default)]
    pub force_refresh: bool,
}

/// `POST /api/v1/runs`: starts a daily run; `202` with its id.
#[utoipa::path(post, path = "/api/v1/runs", tag = "runs", security(("bearer" = [])),
    request_body(content = Option<NewRun>, description = "Optional; `{}` or no body runs today"),
    responses((status = 202, body = RunStatus, description = "Started; follow `Location`"),
        (status = 409, body = ErrorBody, description = "A run is in progress (its id in the detail)"),
        (status = 503, body = ErrorBody, description = "Shutting down"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn start_run(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let new: NewRun = if body.iter().all(u8::is_ascii_whitespace) {
        NewRun::default()
    } else {
        parse_json(&body)?
    };
    let mut options = RunOptions::today(&state.region);
    if let Some(date) = new.date {
        options.date = date;
    }
    options.force_refresh = new.force_refresh;
    match state.runs.start(
        Arc::clone(&state.region),
        options,
        Arc::clone(&state.metrics),
    ) {
        Ok(status) => {
            let location = format!("/api/v1/runs/{}", status.id);
            let mut response = (StatusCode::ACCEPTED, Json(status)).into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            Ok(response)
        }
        Err(StartError::Busy(id)) => Err(AdminError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("run {id} is in progress"),
        )),
        Err(StartError::ShuttingDown) => {
            Err(AdminError::unavailable("the service is shutting down"))
        }
        Err(StartError::Random(e)) => Err(AdminError::internal(&e)),
    }
}

/// `GET /api/v1/runs`: the runs this process started, newest first.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", security(("bearer" = [])),
    responses((status = 200, body = [RunStatus]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_runs(State(state): State<AppState>) -> Json<Vec<RunStatus>> {
    Json(state.runs.list())
}

/// `GET /api/v1/runs/{id}`: a run's state and progress lines.
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id, from `POST /api/v1/runs`")),
    responses((status = 200, body = RunStatus), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunStatus>, AdminError> {
    state
        .runs
        .status(&id)
        .map(Json)
        .ok_or_else(|| AdminError::not_found(format!("no run {id} in this process")))
}

/// A subscriber as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberView {
    /// Row id.
    pub id: i64,
    /// The address: only for `admin` tokens.
    pub email: Option<String>,
    /// The keyed hash standing for the address (`hmac-sha256:…`), for every scope.
    pub email_hash: String,
    /// `unconfirmed`, `confirmed`, `unsubscribed`, `suppressed`.
    pub status: String,
    /// Preferred locale.
    pub locale: Option<String>,
    /// How they were added.
    pub source: String,
    /// When they last confirmed (Unix seconds).
    pub confirmed_at: Option<i64>,
}

/// `GET /api/v1/subscribers`: addresses for `admin` tokens, keyed hashes only for `read`.
#[utoipa::path(get, path = "/api/v1/subscribers", tag = "subscribers", security(("bearer" = [])),
    responses((status = 200, body = [SubscriberView]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_subscribers(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<SubscriberView>>, AdminError> {
    let rows = state
        .region
        .store()
        .list_subscribers()
        .await
        .map_err(store_error)?;
    Ok(Json(
        rows.into_iter()
            .map(|s| SubscriberView {
                id: s.id,
                email_hash: state.region.recipient_hash(&s.email),
                email: (caller.scope == TokenScope::Admin).then(|| s.email.as_str().to_owned()),
                status: s.status.as_str().to_owned(),
                locale: s.locale,
                source: s.source,
                confirmed_at: s.confirmed_at,
            })
            .collect(),
    ))
}

/// The audit report's period and format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day (default: 29 days before `to`).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (default: today in the region's timezone).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    /// `html` (default), `json` or `md`.
    pub format: Option<String>,
}

/// `GET /api/v1/audit/report?from=&to=&format=`: the compliance audit report
/// (as `meridian audit report`), signed with the region's audit key.
#[utoipa::path(get, path = "/api/v1/audit/report", tag = "audit", security(("bearer" = [])),
    params(ReportQuery),
    responses((status = 200, description = "The report", content(("text/html"), ("application/json"), ("text/markdown"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn audit_report(
    State(state): State<AppState>,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(q) = query.map_err(|e| AdminError::invalid(e.body_text()))?;
    let config = state.region.config();
    let (content_type, ext) = match q.format.as_deref().unwrap_or("html") {
        "html" => ("text/html; charset=utf-8", "html"),
        "json" => ("application/json", "json"),
        "md" => ("text/markdown; charset=utf-8", "md"),
        other => {
            return Err(AdminError::invalid(format!(
                "format: `{other}` is not one of html, json, md"
            )));
        }
    };
    let today = Utc::now().with_timezone(&config.timezone).date_naive();
    let to = q.to.unwrap_or(today);
    let from = q.from.unwrap_or_else(|| to - Days::new(29));
    if from > to {
        return Err(AdminError::invalid(format!(
            "from: {from} is after to ({to})"
        )));
    }
    let log = state.region.audit();
    let policies_dir = meridian_runtime::sovereignty::policies_dir_of(config);
    let request = meridian_audit::report::ReportRequest {
        config,
        policies_dir: &policies_dir,
        from,
        to,
        trusted_key: None,
    };
    let report = meridian_audit::report::build_report(log, &request)
        .await
        .map_err(|e| AdminError::internal(&e))?;
    let text = match ext {
        "json" => report.to_json(),
        "md" => report.to_markdown().map_err(|e| AdminError::internal(&e))?,
        _ => report.to_html().map_err(|e| AdminError::internal(&e))?,
    };
    let disposition = format!(
        "attachment; filename=\"audit-{}-{from}-{to}.{ext}\"",
        config.id
    );
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        text,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// `GET /api/v1/audit/export`: the audit chain as JSON lines (as `meridian
/// audit export`), verifiable offline with `meridian audit verify --file`.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", security(("bearer" = [])),
    responses((status = 200, description = "One JSON record per line, then the checkpoints", content_type = "application/x-ndjson", body = String),
        (status = 401, body = ErrorBody)))]
pub(crate) async fn audit_export(State(state): State<AppState>) -> Result<Response, AdminError> {
    let log = state.region.audit().clone();
    // `AuditLog::export` writes to a `dyn Write` (stdout for the CLI), so its
    // future is not `Send`: drive it on a blocking thread of this runtime,
    // into memory, and join that thread here.
    let runtime = tokio::runtime::Handle::current();
    let out = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        runtime.block_on(log.export(&mut out)).map(|_| out)
    })
    .await
    .map_err(|e| AdminError::internal(&e))?
    .map_err(|e| AdminError::internal(&e))?;
    let disposition = format!(
        "attachment; filename=\"audit-{}.jsonl\"",
        state.region.config().id
    );
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        )],
        out,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
