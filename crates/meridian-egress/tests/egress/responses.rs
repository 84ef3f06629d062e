//! Status mapping, headers sent, caching hints.

use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get as route;
use meridian_egress::{EgressError, EgressOptions, FailureKind};

use crate::helpers::{client, client_with, fetched, get, spawn_axum};

fn status_router() -> Router {
    Router::new()
        .route("/missing", route(|| async { StatusCode::NOT_FOUND }))
        .route("/gone", route(|| async { StatusCode::GONE }))
        .route(
            "/limited",
            route(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "120")],
                )
                    .into_response()
            }),
        )
        .route(
            "/limited-until",
            route(|| async {
                // A date in the past: "retry now".
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT")],
                )
                    .into_response()
            }),
        )
        .route(
            "/unavailable",
            route(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "30")],
                )
                    .into_response()
            }),
        )
        .route("/forbidden", route(|| async { StatusCode::FORBIDDEN }))
}

#[tokio::test]
async fn statuses_map_to_failure_kinds() {
    let (addr, _seen) = spawn_axum(status_router()).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);
    // (case, path, kind, kind name, retryable)
    let cases = [
        ("404", "/missing", FailureKind::NotFound, "not_found", false),
        ("410", "/gone", FailureKind::Gone, "gone", false),
        (
            "429",
            "/limited",
            FailureKind::RateLimited,
            "rate_limited",
            true,
        ),
        (
            "503",
            "/unavailable",
            FailureKind::Http,
            "http_status",
            true,
        ),
        ("403", "/forbidden", FailureKind::Http, "http_status", false),
    ];
    for (case, path, kind, name, retryable) in cases {
        let target = format!("http://{addr}{path}");
        let err = get(&client, &target).await.unwrap_err();
        assert_eq!(err.kind(), kind, "case `{case}`: {err}");
        assert_eq!(err.kind().as_str(), name, "case `{case}`");
        assert_eq!(err.is_retryable(), retryable, "case `{case}`");
        assert!(
            err.to_string().contains(&target),
            "case `{case}`: the message names the URL: {err}"
        );
    }
}

#[tokio::test]
async fn retry_after_is_kept_in_the_error() {
    let (addr, _seen) = spawn_axum(status_router()).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);

    let err = get(&client, &format!("http://{addr}/limited"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EgressError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(120)),
        "{err}"
    );
    let err = get(&client, &format!("http://{addr}/limited-until"))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::ZERO), "{err}");
    let err = get(&client, &format!("http://{addr}/unavailable"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EgressError::HttpStatus { status: 503, .. }),
        "{err}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn the_user_agent_is_sent() {
    let router = Router::new().route("/", route(|| async { "ok" }));
    let (addr, seen) = spawn_axum(router).await;
    let allow = format!("127.0.0.1:{}", addr.port());

    get(&client(&[&allow]), &format!("http://{addr}/"))
        .await
        .unwrap();
    let sent = seen.header(0, "user-agent").unwrap();
    assert_eq!(
        sent,
        format!(
            "Meridian/{} (+https://github.com/meridian-kit/meridian)",
            env!("CARGO_PKG_VERSION")
        )
    );

    let options = EgressOptions {
        user_agent: "Meridian/0.1 (+https://ops.example.org/contact)".to_owned(),
        ..EgressOptions::default()
    };
    get(
        &client_with(&[&allow], false, options),
        &format!("http://{addr}/"),
    )
    .await
    .unwrap();
    assert_eq!(
        seen.header(1, "user-agent").as_deref(),
        Some("Meridian/0.1 (+https://ops.example.org/contact)")
    );
}

#[tokio::test]
async fn caching_headers_are_parsed() {
    let router = Router::new().route(
        "/feed.xml",
        route(|| async {
            (
                [
                    (header::CACHE_CONTROL, "public, max-age=3600"),
                    (header::EXPIRES, "Thu, 01 Jan 2037 00:00:00 GMT"),
                    (header::ETAG, "W/\"abc\""),
                ],
                "<rss/>",
            )
        }),
    );
    let (addr, _seen) = spawn_axum(router).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);
    let body = fetched(
        get(&client, &format!("http://{addr}/feed.xml"))
            .await
            .unwrap(),
    );
    assert_eq!(body.cache.max_age, Some(Duration::from_secs(3600)));
    assert_eq!(
        body.cache.expires.map(|e| e.to_rfc3339()).as_deref(),
        Some("2037-01-01T00:00:00+00:00")
    );
    assert_eq!(body.cache.retry_after, None);
    assert_eq!(body.etag.as_deref(), Some("W/\"abc\""));
}
