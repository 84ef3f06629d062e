//! Errors at the HTTP edge: a 4xx says what is wrong (a field, a link); a
//! 5xx says nothing about internals, and its cause is logged once, here.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use meridian_runtime::{CONFIRM_VALID_HOURS, LinkError, Region, RuntimeError};

use crate::pages::{self, Lang, Message, PageContext};

/// Enough of a region to render an error page in its language.
#[derive(Debug, Clone)]
pub(crate) struct RegionPage {
    lang: Lang,
    region: String,
    region_name: String,
}

impl RegionPage {
    pub(crate) fn of(region: &Region) -> Self {
        let cfg = region.config();
        Self {
            lang: Lang::of(&cfg.locale),
            region: cfg.id.to_string(),
            region_name: cfg.name.clone(),
        }
    }

    fn render(&self, status: StatusCode, which: Message) -> Response {
        let page = PageContext {
            lang: self.lang,
            region_name: &self.region_name,
        };
        match pages::message(&page, which, CONFIRM_VALID_HOURS) {
            Ok(body) => crate::routes::html(status, body),
            Err(e) => {
                tracing::error!(region = %self.region, error = %e, "A page template failed.");
                (status, status.canonical_reason().unwrap_or("error")).into_response()
            }
        }
    }
}

/// An error answered with an HTML page.
#[derive(Debug)]
pub(crate) enum PageError {
    /// A confirm or unsubscribe link that does not work: 400, saying why.
    BadLink {
        /// Where.
        region_page: RegionPage,
        /// Why.
        error: LinkError,
    },
    /// The region's store is busy (locked, out of connections): 503 with
    /// `Retry-After`, nothing was changed.
    Busy {
        /// Where.
        region_page: RegionPage,
        /// The cause, for the log only.
        cause: String,
    },
    /// Something failed on our side: 500, cause logged.
    Internal {
        /// Where.
        region_page: RegionPage,
        /// The cause, for the log only.
        cause: String,
    },
}

impl PageError {
    /// Maps a runtime error of `region` to a 503 when trying again later
    /// may succeed, else to a 500.
    pub(crate) fn internal(region: &Region) -> impl FnOnce(RuntimeError) -> Self + '_ {
        move |e| {
            let region_page = RegionPage::of(region);
            let cause = e.to_string();
            if e.is_retryable() {
                Self::Busy { region_page, cause }
            } else {
                Self::Internal { region_page, cause }
            }
        }
    }

    /// Maps a template error of `region` to a 500.
    pub(crate) fn template(region: &Region) -> impl FnOnce(minijinja::Error) -> Self + '_ {
        move |e| Self::Internal {
            region_page: RegionPage::of(region),
            cause: format!("template: {e:#}"),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::BadLink { region_page, error } => {
                region_page.render(StatusCode::BAD_REQUEST, Message::BadLink(error))
            }
            Self::Busy { region_page, cause } => {
                tracing::warn!(region = %region_page.region, error = %cause, "Request refused: the region's store is busy.");
                let mut response =
                    region_page.render(StatusCode::SERVICE_UNAVAILABLE, Message::Internal);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
                response
            }
            Self::Internal { region_page, cause } => {
                tracing::error!(region = %region_page.region, error = %cause, "Request failed.");
                region_page.render(StatusCode::INTERNAL_SERVER_ERROR, Message::Internal)
            }
        }
    }
}

/// An error of the JSON API, answered as [`ErrorBody`]:
/// `{"error": code, "detail": text}`.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400, naming the field when there is one.
    BadRequest {
        /// The offending field.
        field: Option<&'static str>,
        /// What is wrong with it.
        message: String,
    },
    /// The body could not be read as the request needs (not JSON, not the
    /// `application/json` type, too large): axum's status and text.
    Rejected {
        /// `400`, `413`, `415`, `422`…
        status: StatusCode,
        /// What is wrong.
        detail: String,
    },
    /// 503 with `Retry-After`: the region's store is busy (locked, or out of
    /// connections); nothing was written.
    Busy(Box<RuntimeError>),
    /// 500; the body says nothing more, the cause is logged.
    Internal(Box<RuntimeError>),
}

impl ApiError {
    /// A runtime failure: `Busy` when trying again later may succeed, else
    /// `Internal`.
    pub(crate) fn runtime(e: RuntimeError) -> Self {
        if e.is_retryable() {
            Self::Busy(Box::new(e))
        } else {
            Self::Internal(Box::new(e))
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::BadRequest { field, message } => {
                let detail = match field {
                    Some(field) => format!("{field}: {message}"),
                    None => message,
                };
                error_response(StatusCode::BAD_REQUEST, detail)
            }
            Self::Rejected { status, detail } => error_response(status, detail),
            Self::Busy(e) => {
                tracing::warn!(error = %e, "API request refused: the region's store is busy.");
                error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the service is busy; nothing was changed; try again shortly".to_owned(),
                )
            }
            Self::Internal(e) => {
                tracing::error!(error = %e, "API request failed.");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the cause is in the service's log".to_owned(),
                )
            }
        }
    }
}

/// Seconds a `503` asks the client to wait before trying again.
pub(crate) const RETRY_AFTER_SECS: u32 = 5;

/// The stable `error` code of a status: `invalid`, `unauthorized`,
/// `forbidden`, `not_found`, `method_not_allowed`, `timeout`, `conflict`,
/// `too_large`, `uri_too_long`, `unsupported_media_type`, `rate_limited`,
/// `internal`, `unavailable`.
pub(crate) fn error_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        409 => "conflict",
        413 => "too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        503 => "unavailable",
        500..=599 => "internal",
        _ => "invalid",
    }
}

/// `{"error": code, "detail": detail}` with `status`; a `503` also says
/// when to try again (`Retry-After`).
pub(crate) fn error_response(status: StatusCode, detail: String) -> Response {
    let body = crate::admin::ErrorBody {
        error: error_code(status),
        detail,
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

/// Marks a response whose plain-text error body is meant as it is
/// (`/readyz`), so that [`json_errors`] leaves it alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlainTextError;

/// Middleware: every error answer that is neither one of our HTML pages nor
/// JSON already (axum's plain-text rejections, an empty `405`, a `413` of the
/// body cap, a deadline's answer) becomes `{"error", "detail"}` with the
/// same status and headers. A 4xx keeps its text as the detail (it says
/// what is wrong with the request); a 5xx gets a fixed one.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<PlainTextError>().is_some()
    {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") || content_type.starts_with("text/html") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = if status.is_server_error() || text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let fresh = error_response(status, detail);
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in fresh.headers() {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, fresh.into_body())
}
