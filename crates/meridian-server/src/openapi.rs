//! The OpenAPI document of the service, generated from the handlers'
//! `#[utoipa::path]` annotations and served at `GET /api/v1/openapi.json`.
//!
//! The `http` test `every_route_is_in_the_openapi_document` lists the routes
//! the router actually serves and fails when one is missing here, so a
//! route added without an annotation (and a line in [`ApiDoc`]) breaks the
//! build's tests, not the API's users. HTML pages are exempt (see the test).

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::admin;

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Meridian region service",
        description = "One region's HTTP service: subscriptions, the admin API (bearer tokens of this region: \
                       `read` may GET, `admin` may do everything), operations endpoints. Errors of the admin API \
                       are `{\"error\": code, \"detail\": text}`."
    ),
    paths(
        admin::list_feeds,
        admin::add_feed,
        admin::get_feed,
        admin::delete_feed,
        admin::import_opml,
        admin::start_run,
        admin::list_runs,
        admin::get_run,
        admin::list_subscribers,
        admin::audit_report,
        admin::audit_export,
        crate::routes::subscribe_json,
        crate::routes::healthz,
        crate::routes::readyz,
        crate::routes::audit_checkpoint,
        crate::metrics::scrape,
        crate::archive::index_json,
        crate::archive::digest_json_by_date,
        openapi_json,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "feeds", description = "The region's podcast feeds"),
        (name = "runs", description = "Daily runs started through the API"),
        (name = "subscribers", description = "Subscribers (addresses for `admin` tokens only)"),
        (name = "audit", description = "The compliance audit report and the audit chain"),
        (name = "subscriptions", description = "Public: subscribe"),
        (name = "archive", description = "Public: the digest archive as JSON"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// The document, with this build's version.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// `GET /api/v1/openapi.json`: this document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
