//! Errors at the HTTP edge: a 4xx says what is wrong (a field, a link); a
//! 5xx says nothing about internals, and its cause is logged once, here.

use axum::Json;
use axum::http::StatusCode;
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
    /// Something failed on our side: 500, cause logged.
    Internal {
        /// Where.
        region_page: RegionPage,
        /// The cause, for the log only.
        cause: String,
    },
}

impl PageError {
    /// Maps a runtime error of `region` to a 500.
    pub(crate) fn internal(region: &Region) -> impl FnOnce(RuntimeError) -> Self + '_ {
        move |e| Self::Internal {
            region_page: RegionPage::of(region),
            cause: e.to_string(),
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
            Self::Internal { region_page, cause } => {
                tracing::error!(region = %region_page.region, error = %cause, "Request failed.");
                region_page.render(StatusCode::INTERNAL_SERVER_ERROR, Message::Internal)
            }
        }
    }
}

/// An error of the JSON API: `{"error": {"field": …, "message": …}}`.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400, naming the field when there is one.
    BadRequest {
        /// The offending field.
        field: Option<&'static str>,
        /// What is wrong with it.
        message: String,
    },
    /// 500; the body says nothing more, the cause is logged.
    Internal(Box<RuntimeError>),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::BadRequest { field, message } => {
                let body = serde_json::json!({ "error": { "field": field, "message": message } });
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
            Self::Internal(e) => {
                tracing::error!(error = %e, "API request failed.");
                let body = serde_json::json!({ "error": { "message": "internal error" } });
                (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
            }
        }
    }
}
