//! The allow-list, the address guard and redirect re-checks.

use std::net::IpAddr;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get as route;
use meridian_egress::{AddressClass, EgressError, EgressOptions, FailureKind};

use crate::helpers::{
    client, client_with, fetched, get, hits, read_head, spawn_axum, spawn_raw, url, write,
};

fn feed_router() -> Router {
    Router::new().route(
        "/feed.xml",
        route(|| async { ([(header::CONTENT_TYPE, "application/rss+xml")], "<rss/>") }),
    )
}

fn redirect_to(location: &'static str, status: StatusCode) -> Router {
    Router::new()
        .route(
            "/start",
            route(move || async move { (status, [(header::LOCATION, location)]) }),
        )
        .merge(feed_router())
}

#[tokio::test]
async fn fetch_works_when_the_loopback_server_is_explicitly_allowed() {
    let (addr, seen) = spawn_axum(feed_router()).await;
    let allow = format!("127.0.0.1:{}", addr.port());
    let client = client(&[&allow]);
    let body = fetched(
        get(&client, &format!("http://{addr}/feed.xml"))
            .await
            .unwrap(),
    );
    assert_eq!(body.status, 200);
    assert_eq!(&body.body[..], b"<rss/>");
    assert_eq!(body.content_type.as_deref(), Some("application/rss+xml"));
    assert_eq!(body.permanent_redirect, None);
    assert_eq!(seen.count(), 1);
}

#[tokio::test]
async fn a_listed_host_name_may_resolve_to_loopback() {
    let (addr, seen) = spawn_axum(feed_router()).await;
    let client = client(&["localhost"]);
    let target = format!("http://localhost:{}/feed.xml", addr.port());
    let body = fetched(get(&client, &target).await.unwrap());
    assert_eq!(&body.body[..], b"<rss/>");
    assert_eq!(body.final_url.as_str(), target);
    assert_eq!(seen.count(), 1);
}

#[tokio::test]
async fn star_alone_refuses_a_loopback_literal_without_connecting() {
    let (addr, hit_count) = spawn_raw(|_socket| async {}).await;
    let client = client(&["*"]);
    let err = get(&client, &format!("http://{addr}/feed.xml"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), FailureKind::RefusedByPolicy, "{err}");
    assert!(
        matches!(
            err,
            EgressError::AddressRefused {
                class: AddressClass::Loopback,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("127.0.0.1"),
        "the message names the address: {err}"
    );
    assert_eq!(hits(&hit_count), 0, "no connection was made");
}

#[tokio::test]
async fn star_alone_refuses_a_name_that_resolves_to_loopback() {
    let (addr, hit_count) = spawn_raw(|_socket| async {}).await;
    let client = client(&["*"]);
    let err = get(
        &client,
        &format!("http://localhost:{}/feed.xml", addr.port()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), FailureKind::RefusedByPolicy, "{err}");
    let EgressError::AddressRefused {
        host,
        addr: refused,
        class,
        ..
    } = &err
    else {
        panic!("expected AddressRefused, got {err}");
    };
    assert_eq!(host, "localhost");
    assert!(refused.is_loopback(), "{err}");
    assert_eq!(*class, AddressClass::Loopback);
    assert!(
        err.to_string().contains(&refused.to_string()),
        "the message names the address: {err}"
    );
    assert_eq!(hits(&hit_count), 0, "no connection was made");
}

#[tokio::test]
async fn a_host_outside_the_allow_list_is_refused_without_any_request() {
    let (addr, hit_count) = spawn_raw(|_socket| async {}).await;
    // The server's own address, on a different port than the listed one.
    let client = client(&[&format!("127.0.0.1:{}", addr.port().wrapping_add(1).max(1))]);
    let err = get(&client, &format!("http://{addr}/feed.xml"))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::HostNotAllowed { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::RefusedByPolicy);
    assert_eq!(hits(&hit_count), 0);

    let err = get(&client, "https://feeds.example.org/rss")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EgressError::HostNotAllowed { host, .. } if host == "feeds.example.org"),
        "{err}"
    );
    assert!(err.to_string().contains("feeds.example.org"), "{err}");
}

#[tokio::test]
async fn a_port_entry_does_not_let_star_reach_the_same_host_on_other_ports() {
    let (addr, hit_count) = spawn_raw(|_socket| async {}).await;
    let client = client(&["localhost:1", "*"]);
    let err = get(&client, &format!("http://localhost:{}/", addr.port()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EgressError::AddressRefused {
                class: AddressClass::Loopback,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(hits(&hit_count), 0);
}

#[tokio::test]
async fn allow_private_lets_star_reach_loopback() {
    let (addr, seen) = spawn_axum(feed_router()).await;
    let client = client_with(&["*"], true, EgressOptions::default());
    let body = fetched(
        get(&client, &format!("http://{addr}/feed.xml"))
            .await
            .unwrap(),
    );
    assert_eq!(&body.body[..], b"<rss/>");
    assert_eq!(seen.count(), 1);
}

#[tokio::test]
async fn non_http_schemes_are_refused() {
    let client = client_with(&["*"], true, EgressOptions::default());
    for target in [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "data:text/plain,hi",
    ] {
        let err = get(&client, target).await.unwrap_err();
        assert!(
            matches!(err, EgressError::RefusedScheme { .. }),
            "{target}: {err}"
        );
        assert_eq!(err.kind(), FailureKind::RefusedByPolicy);
    }
}

#[tokio::test]
async fn redirect_to_cloud_metadata_is_refused_before_connecting() {
    let (addr, seen) = spawn_axum(redirect_to(
        "http://169.254.169.254/latest/meta-data/",
        StatusCode::FOUND,
    ))
    .await;
    // Even `allow_private` does not open metadata endpoints.
    let client = client_with(
        &[&format!("127.0.0.1:{}", addr.port()), "*"],
        true,
        EgressOptions::default(),
    );
    let err = get(&client, &format!("http://{addr}/start"))
        .await
        .unwrap_err();
    let EgressError::AddressRefused {
        url,
        addr: refused,
        class,
        ..
    } = &err
    else {
        panic!("expected AddressRefused, got {err}");
    };
    assert_eq!(url.as_str(), "http://169.254.169.254/latest/meta-data/");
    assert_eq!(*refused, "169.254.169.254".parse::<IpAddr>().unwrap());
    assert_eq!(*class, AddressClass::CloudMetadata);
    assert!(err.to_string().contains("169.254.169.254"), "{err}");
    assert_eq!(seen.paths(), ["/start"]);
}

#[tokio::test]
async fn redirect_to_a_private_address_is_refused_before_connecting() {
    let (addr, seen) = spawn_axum(redirect_to(
        "http://10.0.0.1/admin",
        StatusCode::MOVED_PERMANENTLY,
    ))
    .await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port()), "*"]);
    let err = get(&client, &format!("http://{addr}/start"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EgressError::AddressRefused { class: AddressClass::Private, addr, .. }
            if *addr == "10.0.0.1".parse::<IpAddr>().unwrap()),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::RefusedByPolicy);
    assert_eq!(seen.paths(), ["/start"]);
}

#[tokio::test]
async fn redirect_to_a_name_resolving_to_loopback_is_refused_by_the_resolver() {
    let (target, target_hits) = spawn_raw(|_socket| async {}).await;
    let location: &'static str = format!("http://localhost:{}/feed.xml", target.port()).leak();
    let (addr, _seen) = spawn_axum(redirect_to(location, StatusCode::FOUND)).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port()), "*"]);
    let err = get(&client, &format!("http://{addr}/start"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EgressError::AddressRefused { host, class: AddressClass::Loopback, .. } if host == "localhost"),
        "{err}"
    );
    assert_eq!(hits(&target_hits), 0);
}

#[tokio::test]
async fn redirect_to_a_file_url_is_refused() {
    let (addr, _seen) = spawn_axum(redirect_to("file:///etc/passwd", StatusCode::FOUND)).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);
    let err = get(&client, &format!("http://{addr}/start"))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::RefusedScheme { .. }), "{err}");
}

#[tokio::test]
async fn redirect_to_a_host_outside_the_list_is_refused() {
    let (addr, _seen) = spawn_axum(redirect_to(
        "https://elsewhere.example.net/feed",
        StatusCode::FOUND,
    ))
    .await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);
    let err = get(&client, &format!("http://{addr}/start"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EgressError::HostNotAllowed { host, .. } if host == "elsewhere.example.net"),
        "{err}"
    );
}

#[tokio::test]
async fn relative_redirects_are_followed_and_permanent_moves_reported() {
    let router = Router::new()
        .route(
            "/old",
            route(|| async {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, "/newer")],
                )
            }),
        )
        .route(
            "/newer",
            route(|| async {
                (
                    StatusCode::PERMANENT_REDIRECT,
                    [(header::LOCATION, "feed.xml")],
                )
            }),
        )
        .route(
            "/temp",
            route(|| async { (StatusCode::FOUND, [(header::LOCATION, "/feed.xml")]) }),
        )
        .route(
            "/moved-then-temp",
            route(|| async { (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/temp")]) }),
        )
        .merge(feed_router());
    let (addr, _seen) = spawn_axum(router).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);

    let body = fetched(get(&client, &format!("http://{addr}/old")).await.unwrap());
    assert_eq!(body.final_url, url(&format!("http://{addr}/feed.xml")));
    assert_eq!(
        body.permanent_redirect,
        Some(url(&format!("http://{addr}/feed.xml")))
    );

    let body = fetched(get(&client, &format!("http://{addr}/temp")).await.unwrap());
    assert_eq!(body.final_url, url(&format!("http://{addr}/feed.xml")));
    assert_eq!(
        body.permanent_redirect, None,
        "a 302 is not a permanent move"
    );

    let body = fetched(
        get(&client, &format!("http://{addr}/moved-then-temp"))
            .await
            .unwrap(),
    );
    assert_eq!(
        body.permanent_redirect,
        Some(url(&format!("http://{addr}/temp"))),
        "the permanent part of the chain ends at /temp"
    );
}

#[tokio::test]
async fn a_redirect_loop_is_detected() {
    let router = Router::new()
        .route(
            "/a",
            route(|| async { (StatusCode::FOUND, [(header::LOCATION, "/b")]) }),
        )
        .route(
            "/b",
            route(|| async { (StatusCode::FOUND, [(header::LOCATION, "/a")]) }),
        );
    let (addr, seen) = spawn_axum(router).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);
    let err = get(&client, &format!("http://{addr}/a")).await.unwrap_err();
    assert!(matches!(err, EgressError::RedirectLoop { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::RedirectLoop);
    assert_eq!(err.kind().as_str(), "redirect_loop");
    assert_eq!(seen.paths(), ["/a", "/b"]);
}

#[tokio::test]
async fn too_many_redirects_are_refused() {
    let router = Router::new().route(
        "/hop/{n}",
        route(
            |axum::extract::Path(n): axum::extract::Path<u32>| async move {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("/hop/{}", n + 1))],
                )
                    .into_response()
            },
        ),
    );
    let (addr, seen) = spawn_axum(router).await;
    let options = EgressOptions {
        max_redirects: 3,
        ..EgressOptions::default()
    };
    let client = client_with(&[&format!("127.0.0.1:{}", addr.port())], false, options);
    let err = get(&client, &format!("http://{addr}/hop/0"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EgressError::TooManyRedirects { max: 3, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::RedirectLoop);
    assert_eq!(seen.count(), 4, "the start and three followed hops");
}

#[tokio::test]
async fn a_redirect_without_location_is_unparseable() {
    let router = Router::new().route("/start", route(|| async { StatusCode::FOUND }));
    let (addr, _seen) = spawn_axum(router).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);
    let err = get(&client, &format!("http://{addr}/start"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EgressError::BadRedirect { status: 302, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::Unparseable);
}

#[tokio::test]
#[expect(
    clippy::disallowed_methods,
    reason = "tests the raw client model providers get: it must still pass the resolver guard"
)]
async fn the_shared_reqwest_client_still_passes_the_resolver_guard() {
    let (addr, hit_count) = spawn_raw(|mut socket| async move {
        let _ = read_head(&mut socket).await;
        write(
            &mut socket,
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
        )
        .await;
    })
    .await;
    let star = client(&["*"]);
    let target = format!("http://localhost:{}/v1/chat/completions", addr.port());
    assert!(
        star.rules().check_url(&url(&target)).is_ok(),
        "names pass the pre-DNS check"
    );
    let result = star.reqwest_client().get(&target).send().await;
    assert!(result.is_err(), "the resolver refused localhost");
    assert_eq!(hits(&hit_count), 0);

    // A name that no entry admits is refused by the resolver too.
    let unlisted = client_with(&["127.0.0.1:1"], true, EgressOptions::default());
    let result = unlisted.reqwest_client().get(&target).send().await;
    assert!(result.is_err());
    assert_eq!(hits(&hit_count), 0);

    // And a named host goes through.
    let named = client(&["localhost"]);
    let response = named.reqwest_client().get(&target).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "ok");
    assert_eq!(hits(&hit_count), 1);
}

#[tokio::test]
async fn validators_are_sent_and_304_is_not_modified() {
    let router = Router::new().route(
        "/feed.xml",
        route(|headers: HeaderMap| async move {
            let etag_matches = headers
                .get(header::IF_NONE_MATCH)
                .is_some_and(|v| v == "\"v1\"");
            if etag_matches {
                (
                    StatusCode::NOT_MODIFIED,
                    [(header::CACHE_CONTROL, "max-age=900")],
                )
                    .into_response()
            } else {
                (
                    [
                        (header::ETAG, "\"v1\""),
                        (header::LAST_MODIFIED, "Tue, 15 Nov 1994 12:45:26 GMT"),
                    ],
                    "<rss/>",
                )
                    .into_response()
            }
        }),
    );
    let (addr, seen) = spawn_axum(router).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);
    let target = url(&format!("http://{addr}/feed.xml"));

    let first = fetched(
        client
            .get(&target, &meridian_egress::Validators::default(), None)
            .await
            .unwrap(),
    );
    assert_eq!(
        seen.header(0, "if-none-match"),
        None,
        "no validators on a first fetch"
    );
    let validators = meridian_egress::Validators {
        etag: first.etag.clone(),
        last_modified: first.last_modified.clone(),
    };
    assert_eq!(validators.etag.as_deref(), Some("\"v1\""));

    let second = client.get(&target, &validators, None).await.unwrap();
    let meridian_egress::FetchOutcome::NotModified { final_url, cache } = second else {
        panic!("expected NotModified, got {second:?}");
    };
    assert_eq!(final_url, target);
    assert_eq!(cache.max_age, Some(std::time::Duration::from_secs(900)));
    assert_eq!(seen.header(1, "if-none-match").as_deref(), Some("\"v1\""));
    assert_eq!(
        seen.header(1, "if-modified-since").as_deref(),
        Some("Tue, 15 Nov 1994 12:45:26 GMT")
    );
}
