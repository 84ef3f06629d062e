//! The handlers: thin, each a few calls into the region's runtime.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use meridian_core::{Locale, SubscriberEmail};
use meridian_runtime::{
    CONFIRM_VALID_HOURS, ConfirmOutcome, Region, RuntimeError, SUPPORTED_LOCALES,
};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, PageError};
use crate::limits::ClientIp;
use crate::pages::{self, Lang, Message, PageContext};

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The page language and region name of `region`.
pub(crate) fn page_context(region: &Region) -> PageContext<'_> {
    let cfg = region.config();
    PageContext {
        lang: Lang::of(&cfg.locale),
        region_name: &cfg.name,
    }
}

/// A page with status 200.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

/// A supported locale tag, or `None` for anything else.
fn supported_locale(tag: Option<&str>) -> Result<Option<Locale>, ()> {
    match tag.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => SUPPORTED_LOCALES
            .iter()
            .find(|s| s.eq_ignore_ascii_case(t))
            .and_then(|s| Locale::parse(s).ok())
            .map(Some)
            .ok_or(()),
    }
}

/// `GET /subscribe`: the form, with a fresh CSRF token (field and cookie).
pub(crate) async fn subscribe_page(State(state): State<AppState>) -> Result<Response, PageError> {
    subscribe_form_page(&state, "", None, false)
}

fn subscribe_form_page(
    state: &AppState,
    email: &str,
    locale: Option<&str>,
    error: bool,
) -> Result<Response, PageError> {
    let region = &state.region;
    let cfg = region.config();
    let selected = locale.unwrap_or(cfg.locale.as_str());
    let csrf = state.csrf.issue(unix_now());
    let body = pages::subscribe(
        &page_context(region),
        &cfg.mail.ai_label,
        &SUPPORTED_LOCALES,
        selected,
        email,
        error,
        &csrf,
    )
    .map_err(PageError::template(region))?;
    let mut response = html(
        if error {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        body,
    );
    if let Ok(cookie) = HeaderValue::from_str(&state.csrf.cookie(&csrf)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The subscribe form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct SubscribeForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    locale: Option<String>,
    /// The CSRF token of the page the form came from.
    #[serde(default)]
    csrf: String,
}

/// `POST /subscribe`: queue a confirmation email; the same page whatever
/// the address. Refused with `403` without the page's CSRF token, and with
/// `429` beyond the rate limits.
pub(crate) async fn subscribe_form(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<SubscribeForm>, FormRejection>,
) -> Result<Response, PageError> {
    let region = &state.region;
    let form = match form {
        Ok(Form(form)) => form,
        Err(
            FormRejection::FailedToDeserializeForm(_)
            | FormRejection::FailedToDeserializeFormBody(_),
        ) => {
            return subscribe_form_page(&state, "", None, true);
        }
        // Not a form at all, or too large: axum's own status (415, 413…).
        Err(other) => return Ok(other.into_response()),
    };
    if !state.csrf.check(&headers, &form.csrf, unix_now()) {
        let body = pages::message(
            &page_context(region),
            Message::FormExpired,
            CONFIRM_VALID_HOURS,
        )
        .map_err(PageError::template(region))?;
        return Ok(html(StatusCode::FORBIDDEN, body));
    }
    let Ok(locale) = supported_locale(form.locale.as_deref()) else {
        return subscribe_form_page(&state, &form.email, None, false);
    };
    let Ok(email) = SubscriberEmail::parse(&form.email) else {
        return subscribe_form_page(
            &state,
            &form.email,
            locale.as_ref().map(Locale::as_str),
            true,
        );
    };
    if let Err(refused) = state.limits.check(ip, email.as_str(), unix_now()) {
        state.metrics.count_rate_limited(refused.limit);
        return Ok(refused.into_response());
    }
    region
        .request_subscription(&email, locale.as_ref(), "web", unix_now())
        .await
        .map_err(PageError::internal(region))?;
    state.confirmations.notify_one();
    let body = pages::message(
        &page_context(region),
        Message::CheckInbox,
        CONFIRM_VALID_HOURS,
    )
    .map_err(PageError::template(region))?;
    Ok(html(StatusCode::OK, body))
}

/// The JSON subscribe request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubscribeRequest {
    /// The address to confirm.
    email: String,
    /// The emails' locale (`en-US`, `zh-CN`, `de-DE`); default: the region's.
    #[serde(default)]
    locale: Option<String>,
}

/// `POST /api/v1/subscribe`: as the form, in JSON. `202 Accepted` whatever
/// the address. Needs no CSRF token: a JSON body cannot be sent by another
/// site's form, and a cross-origin `fetch` of it is refused by the browser.
#[utoipa::path(post, path = "/api/v1/subscribe", tag = "subscriptions",
    request_body = SubscribeRequest,
    responses(
        (status = 202, description = "A confirmation email is queued if the address can receive one (the same answer for every address)"),
        (status = 400, body = crate::admin::ErrorBody, description = "`{\"error\": \"invalid\", \"detail\": \"email: …\"}`: the detail names the field"),
        (status = 413, body = crate::admin::ErrorBody, description = "Body over 16 KiB"),
        (status = 415, body = crate::admin::ErrorBody, description = "Not `Content-Type: application/json`"),
        (status = 429, body = crate::admin::ErrorBody, description = "Rate limited; see `Retry-After`"),
        (status = 503, body = crate::admin::ErrorBody, description = "The region's store is busy; nothing was written; see `Retry-After`"),
    ))]
pub(crate) async fn subscribe_json(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<Json<SubscribeRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let region = &state.region;
    let Json(request) = match body {
        Ok(json) => json,
        // Not JSON, not `application/json` (415), too large (413), an unknown
        // or missing field (400): axum's status and text, in our shape.
        Err(e @ (JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_))) => {
            return Err(ApiError::BadRequest {
                field: None,
                message: e.body_text(),
            });
        }
        Err(e) => {
            return Err(ApiError::Rejected {
                status: e.status(),
                detail: e.body_text(),
            });
        }
    };
    let locale =
        supported_locale(request.locale.as_deref()).map_err(|()| ApiError::BadRequest {
            field: Some("locale"),
            message: format!("must be one of {}", SUPPORTED_LOCALES.join(", ")),
        })?;
    let email = SubscriberEmail::parse(&request.email).map_err(|e| ApiError::BadRequest {
        field: Some("email"),
        message: e.reason.to_owned(),
    })?;
    if let Err(refused) = state.limits.check(ip, email.as_str(), unix_now()) {
        state.metrics.count_rate_limited(refused.limit);
        return Ok(refused.into_response());
    }
    region
        .request_subscription(&email, locale.as_ref(), "api", unix_now())
        .await
        .map_err(ApiError::runtime)?;
    state.confirmations.notify_one();
    let reply = serde_json::json!({
        "status": "pending_confirmation",
        "message": "If the address can receive email, a confirmation email is on its way.",
        "confirm_within_hours": CONFIRM_VALID_HOURS,
    });
    Ok((StatusCode::ACCEPTED, Json(reply)).into_response())
}

/// `?token=…`
#[derive(Debug, Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// A link error as a page, anything else as a 500.
fn link_failure(region: &Region, e: RuntimeError) -> PageError {
    match e {
        RuntimeError::Link { error, .. } => PageError::BadLink {
            region_page: crate::error::RegionPage::of(region),
            error,
        },
        other => PageError::internal(region)(other),
    }
}

/// `GET /confirm?token=…`: confirms; idempotent.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let region = &state.region;
    let token = query.map(|Query(q)| q.token).unwrap_or_default();
    let outcome = region
        .confirm_subscription(&token, unix_now())
        .await
        .map_err(|e| link_failure(region, e))?;
    let which = match outcome {
        ConfirmOutcome::Confirmed => Message::Confirmed,
        ConfirmOutcome::AlreadyConfirmed => Message::AlreadyConfirmed,
    };
    let body = pages::message(&page_context(region), which, CONFIRM_VALID_HOURS)
        .map_err(PageError::template(region))?;
    Ok(html(StatusCode::OK, body))
}

/// `GET /unsubscribe?token=…`: one button; following the link changes nothing.
pub(crate) async fn unsubscribe_page(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let region = &state.region;
    let token = query.map(|Query(q)| q.token).unwrap_or_default();
    region
        .check_unsubscribe_link(&token, unix_now())
        .await
        .map_err(|e| link_failure(region, e))?;
    // The token is checked: it is `[a-z0-9.]` only, safe in the action URL.
    let action = format!("/unsubscribe?token={token}");
    let body =
        pages::unsubscribe(&page_context(region), &action).map_err(PageError::template(region))?;
    Ok(html(StatusCode::OK, body))
}

/// `POST /unsubscribe?token=…`: RFC 8058 one-click unsubscribe. No session,
/// no CSRF token, no redirect: the signed token is the credential. The body
/// (`List-Unsubscribe=One-Click`, form-encoded or multipart) is not needed
/// and not checked, so that no client's encoding can make it fail.
pub(crate) async fn unsubscribe(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let region = &state.region;
    let token = query.map(|Query(q)| q.token).unwrap_or_default();
    region
        .unsubscribe(&token, unix_now())
        .await
        .map_err(|e| link_failure(region, e))?;
    let body = pages::message(
        &page_context(region),
        Message::Unsubscribed,
        CONFIRM_VALID_HOURS,
    )
    .map_err(PageError::template(region))?;
    Ok(html(StatusCode::OK, body))
}

/// `GET /healthz`: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`ok`", content_type = "text/plain", body = String)))]
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /audit/checkpoint`: the region's latest signed audit checkpoint, as a
/// witness document (record count, head hash, time, number, key fingerprint,
/// the signed body and its Ed25519 signature; see `docs/audit.md`). Public,
/// like a transparency log's signed tree head: anyone may keep copies, and
/// `meridian audit verify --region R --against URL` fails when the region's
/// chain is shorter than, or disagrees with, what was published.
#[utoipa::path(get, path = "/audit/checkpoint", tag = "audit",
    responses(
        (status = 200, description = "The latest signed checkpoint (`type` = `meridian-audit-witness`)", content_type = "application/json", body = Object),
        (status = 404, description = "`{\"error\": \"no_checkpoint\", \"detail\": …}`: the chain has not been signed yet", content_type = "application/json", body = Object),
        (status = 500, description = "`{\"error\": \"internal\", \"detail\": …}`", content_type = "application/json", body = Object),
    ))]
pub(crate) async fn audit_checkpoint(State(state): State<AppState>) -> Response {
    let region = &state.region;
    match region.audit().latest_checkpoint().await {
        Ok(Some(cp)) => {
            let mut response = Json(cp.witness()).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({
                "error": "no_checkpoint",
                "detail": format!("region `{}` has no signed audit checkpoint yet", region.config().id),
            })),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(region = %region.config().id, error = %e, "Cannot read the latest audit checkpoint.");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({"error": "internal", "detail": "internal error"})),
            )
                .into_response()
        }
    }
}

/// `GET /readyz`: the region's database answers, its schema is current
/// (every migration of this build applied), and its policy gate holds the
/// region's policies.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "`ready`", content_type = "text/plain", body = String),
        (status = 503, description = "`not ready: database|migrations|policies`", content_type = "text/plain", body = String),
    ))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let region = &state.region;
    let id = &region.config().id;
    let not_ready = |what: &str| {
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {what}\n"),
        )
            .into_response();
        response
            .extensions_mut()
            .insert(crate::error::PlainTextError);
        response
    };
    if let Err(e) = region.store().ping().await {
        tracing::error!(region = %id, error = %e, "Not ready: the database does not answer.");
        return not_ready("database");
    }
    match region.store().migrations_current().await {
        Ok(true) => {}
        Ok(false) => {
            tracing::error!(region = %id, "Not ready: the database schema is behind this build's migrations.");
            return not_ready("migrations");
        }
        Err(e) => {
            tracing::error!(region = %id, error = %e, "Not ready: the applied migrations cannot be read.");
            return not_ready("migrations");
        }
    }
    // The gate is loaded when the region is assembled (a region whose
    // policies do not load does not start); an empty set would deny
    // everything, so it is "not ready" rather than "ready to refuse".
    if region.gate().policies().is_empty() {
        tracing::error!(region = %id, "Not ready: the region's policy set is empty.");
        return not_ready("policies");
    }
    (StatusCode::OK, "ready\n").into_response()
}

/// `GET /assets/meridian.css`.
pub(crate) async fn stylesheet() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        pages::STYLESHEET,
    )
        .into_response()
}

/// Anything else: a 404 page, or under `/api/` a JSON `not_found`.
pub(crate) async fn not_found(
    State(state): State<AppState>,
    uri: axum::http::Uri,
) -> Result<Response, PageError> {
    if uri.path().starts_with("/api/") {
        return Ok(crate::error::error_response(
            StatusCode::NOT_FOUND,
            format!("no API route `{}`", uri.path()),
        ));
    }
    let region: &Arc<Region> = &state.region;
    let body = pages::message(
        &page_context(region),
        Message::NotFound,
        CONFIRM_VALID_HOURS,
    )
    .map_err(PageError::template(region))?;
    Ok(html(StatusCode::NOT_FOUND, body))
}
