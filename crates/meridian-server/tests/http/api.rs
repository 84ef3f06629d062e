//! The admin API over real HTTP on loopback: region-scoped tokens and their
//! scopes, feeds, runs, subscribers, the audit report and export; the
//! OpenAPI document against the routes the router serves; metrics; the
//! limits at the door (CSRF, rate limits, caps); graceful shutdown with a
//! run in progress.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use meridian_core::SubscriberEmail;
use meridian_server::{AppState, ServeOptions, SubscribeLimits, router, tokens};
use meridian_store::{SubscriberStatus, TokenScope};
use meridian_testkit::http;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;

use crate::helpers::{Served, TestRegion, csrf_of};

async fn token(t: &TestRegion, scope: TokenScope) -> String {
    tokens::create_token(
        t.region.store(),
        "test",
        scope,
        chrono::Utc::now().timestamp(),
    )
    .await
    .unwrap()
    .token
}

/// One request with a bearer token (or none).
async fn call(
    addr: SocketAddr,
    method: &str,
    target: &str,
    bearer: Option<&str>,
    content_type: &str,
    body: &str,
) -> http::Response {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http::request(addr, method, target, &headers, body.as_bytes())
        .await
        .unwrap()
}

async fn get(addr: SocketAddr, target: &str, bearer: &str) -> http::Response {
    call(addr, "GET", target, Some(bearer), "text/plain", "").await
}

fn json(r: &http::Response) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {} {}", r.status, r.body))
}

/// The `{error, detail}` of an error reply, checked to say nothing internal.
fn error_of(r: &http::Response) -> (String, String) {
    let v = json(r);
    let (error, detail) = (
        v["error"].as_str().unwrap_or_default().to_owned(),
        v["detail"].as_str().unwrap_or_default().to_owned(),
    );
    assert!(!error.is_empty() && !detail.is_empty(), "{}", r.body);
    for internal in ["sqlx", "StoreError", "panicked", "/src/"] {
        assert!(!r.body.contains(internal), "no internals: {}", r.body);
    }
    (error, detail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_works_only_in_its_region_and_within_its_scope() {
    let fx = TestRegion::new("en-US", false).await;
    let fy = TestRegion::with("fy", "en-US", false, "").await;
    let served = Served::start(&fx).await;
    let served_fy = Served::start(&fy).await;
    let addr = served.addr;
    let admin = token(&fx, TokenScope::Admin).await;
    let read = token(&fx, TokenScope::Read).await;
    let other_region = token(&fy, TokenScope::Admin).await;
    assert!(admin.starts_with("mrd_fx_") && other_region.starts_with("mrd_fy_"));
    // The other region's token, with this region's name written into it.
    let relabelled = other_region.replacen("mrd_fy_", "mrd_fx_", 1);

    for (case, bearer) in [
        ("no token", None),
        ("another region's token", Some(other_region.as_str())),
        (
            "another region's token relabelled",
            Some(relabelled.as_str()),
        ),
        ("garbage", Some("hunter2")),
    ] {
        let r = call(addr, "GET", "/api/v1/feeds", bearer, "text/plain", "").await;
        assert_eq!(r.status, 401, "{case}: {}", r.body);
        assert_eq!(error_of(&r).0, "unauthorized", "{case}");
        assert!(r.header("www-authenticate").is_some(), "{case}");
    }
    // The other region's token works at its own region's service.
    assert_eq!(
        get(served_fy.addr, "/api/v1/feeds", &other_region)
            .await
            .status,
        200
    );

    // read: GETs only.
    assert_eq!(get(addr, "/api/v1/feeds", &read).await.status, 200);
    let r = call(
        addr,
        "POST",
        "/api/v1/feeds",
        Some(&read),
        "application/json",
        r#"{"url":"https://pod.example/feed.xml"}"#,
    )
    .await;
    assert_eq!(
        (r.status, error_of(&r).0.as_str()),
        (403, "forbidden"),
        "{}",
        r.body
    );
    let r = call(
        addr,
        "POST",
        "/api/v1/runs",
        Some(&read),
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // admin: everything.
    let r = call(
        addr,
        "POST",
        "/api/v1/feeds",
        Some(&admin),
        "application/json",
        r#"{"url":"https://pod.example/feed.xml"}"#,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);

    // Revoked: refused at once; its use was noted before.
    let rows = fx.region.store().list_api_tokens().await.unwrap();
    let read_row = rows.iter().find(|r| r.scope == TokenScope::Read).unwrap();
    assert!(read_row.last_used_at.is_some(), "last use noted");
    assert!(
        fx.region
            .store()
            .revoke_api_token(read_row.id, 1)
            .await
            .unwrap()
    );
    let r = get(addr, "/api/v1/feeds", &read).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(error_of(&r).1.contains("revoked"));
    served.stop().await.unwrap();
    served_fy.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_are_added_listed_read_deleted_and_imported_from_opml() {
    let t = TestRegion::new("en-US", false).await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    let admin = token(&t, TokenScope::Admin).await;
    let post = |body: &'static str| {
        let admin = admin.clone();
        async move {
            call(
                addr,
                "POST",
                "/api/v1/feeds",
                Some(&admin),
                "application/json",
                body,
            )
            .await
        }
    };

    let added = post(r#"{"url":"https://pod.example/a.xml","title":"A"}"#).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let id = json(&added)["id"].as_i64().unwrap();
    assert_eq!(json(&added)["source"], "api");
    assert_eq!(
        post(r#"{"url":"https://pod.example/a.xml"}"#).await.status,
        200,
        "already present"
    );
    for (case, body, says) in [
        (
            "credentials in the URL",
            r#"{"url":"https://u:p@pod.example.com/a.xml"}"#,
            "url:",
        ),
        ("not http", r#"{"url":"ftp://pod.example/a.xml"}"#, "url:"),
        (
            "unknown key",
            r#"{"url":"https://pod.example/b.xml","admin":true}"#,
            "body:",
        ),
        ("not JSON", "{", "body:"),
    ] {
        let r = post(body).await;
        assert_eq!(r.status, 400, "{case}: {}", r.body);
        let (error, detail) = error_of(&r);
        assert_eq!(error, "invalid", "{case}");
        assert!(detail.starts_with(says), "{case}: {detail}");
    }

    let one = get(addr, &format!("/api/v1/feeds/{id}"), &admin).await;
    assert_eq!(
        (one.status, json(&one)["url"].as_str()),
        (200, Some("https://pod.example/a.xml"))
    );
    let list = get(addr, "/api/v1/feeds", &admin).await;
    assert_eq!(json(&list).as_array().unwrap().len(), 1);

    let opml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>x</title></head><body>
<outline text="A" xmlUrl="https://pod.example/a.xml"/>
<outline text="B" xmlUrl="https://pod.example/b.xml"/>
<outline text="Bad" xmlUrl="javascript:alert(1)"/>
</body></opml>"#;
    let r = call(
        addr,
        "POST",
        "/api/v1/feeds/import",
        Some(&admin),
        "text/x-opml",
        opml,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(
        (v["added"].as_u64(), v["present"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["refused"][0]["url"], "javascript:alert(1)");
    let broken = "<?xml version=\"1.0\"?>\n<opml version=\"2.0\">\n<body>\n<outline text=\"A\" xmlUrl=\"https://pod.example/c.xml\">\n</opml>\n";
    let r = call(
        addr,
        "POST",
        "/api/v1/feeds/import",
        Some(&admin),
        "text/x-opml",
        broken,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let (_, detail) = error_of(&r);
    assert!(
        detail.contains("line"),
        "the error names the line: {detail}"
    );

    let r = call(
        addr,
        "DELETE",
        &format!("/api/v1/feeds/{id}"),
        Some(&admin),
        "text/plain",
        "",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = get(addr, &format!("/api/v1/feeds/{id}"), &admin).await;
    assert_eq!((r.status, error_of(&r).0.as_str()), (404, "not_found"));
    assert_eq!(
        json(&get(addr, "/api/v1/feeds", &admin).await)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    served.stop().await.unwrap();
}

/// Polls `GET /api/v1/runs/{id}` (at most 60 s) until the run is no longer running.
async fn wait_for_run(addr: SocketAddr, id: &str, bearer: &str) -> Value {
    for _ in 0..600 {
        let r = get(addr, &format!("/api/v1/runs/{id}"), bearer).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = json(&r);
        if v["state"] != "running" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {id} did not finish within 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_started_followed_to_completion_and_shows_in_the_metrics() {
    let t = TestRegion::new("en-US", false).await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    let admin = token(&t, TokenScope::Admin).await;
    let read = token(&t, TokenScope::Read).await;

    let started = call(
        addr,
        "POST",
        "/api/v1/runs",
        Some(&admin),
        "application/json",
        "",
    )
    .await;
    assert_eq!(started.status, 202, "{}", started.body);
    let id = json(&started)["id"].as_str().unwrap().to_owned();
    assert_eq!(
        started.header("location"),
        Some(format!("/api/v1/runs/{id}").as_str())
    );
    let done = wait_for_run(addr, &id, &read).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(
        done["progress"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("feeds:")),
        "{done}"
    );
    assert!(done["summary"]["feeds"].is_object(), "{done}");
    let list = json(&get(addr, "/api/v1/runs", &read).await);
    assert_eq!(list[0]["id"], id.as_str());
    let r = get(addr, "/api/v1/runs/nope", &read).await;
    assert_eq!(r.status, 404);

    // A model call and a confirmation email, as a run and the form leave them.
    t.region
        .store()
        .record_model_call(&meridian_store::ModelCallRecord {
            at: 1,
            role: "insight",
            model: "builtin",
            provider: "builtin",
            hosted_in: "DE",
            content_hash: None,
            input_tokens: 10,
            output_tokens: 5,
            latency_ms: 1,
            outcome: "ok",
            detail: None,
        })
        .await
        .unwrap();
    assert_eq!(
        http::post_json(addr, "/api/v1/subscribe", r#"{"email":"m@fx.example.com"}"#)
            .await
            .unwrap()
            .status,
        202
    );

    let metrics = http::get(addr, "/metrics").await.unwrap();
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let m = &metrics.body;
    for needle in [
        "meridian_runs_total{region=\"fx\",outcome=\"succeeded\"} 1",
        "meridian_insights{region=\"fx\"} 0",
        "meridian_digests{region=\"fx\"} 0",
        "meridian_policy_denials{region=\"fx\"} 0",
        "meridian_model_calls{region=\"fx\",model=\"builtin\",outcome=\"ok\"} 1",
        "meridian_model_tokens{region=\"fx\",model=\"builtin\",direction=\"input\"} 10",
        "meridian_model_tokens{region=\"fx\",model=\"builtin\",direction=\"output\"} 5",
        "meridian_emails{region=\"fx\",kind=\"confirmation\",outcome=",
        "# TYPE meridian_http_request_duration_seconds histogram",
        "route=\"/api/v1/runs/{id}\",status_class=\"2xx\"",
        "route=\"/api/v1/runs/{id}\",status_class=\"4xx\"",
    ] {
        assert!(m.contains(needle), "{needle} in\n{m}");
    }
    assert!(!m.contains("/api/v1/runs/nope"), "templates, not paths");
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_show_addresses_to_admin_tokens_and_keyed_hashes_to_read_tokens() {
    let t = TestRegion::new("en-US", false).await;
    let email = SubscriberEmail::parse("ada@fx.example.com").unwrap();
    t.region
        .store()
        .add_subscriber(&email, SubscriberStatus::Confirmed, Some("de-DE"), "cli", 5)
        .await
        .unwrap();
    let served = Served::start(&t).await;
    let admin = token(&t, TokenScope::Admin).await;
    let read = token(&t, TokenScope::Read).await;

    let as_admin = get(served.addr, "/api/v1/subscribers", &admin).await;
    let row = &json(&as_admin)[0];
    assert_eq!(row["email"], "ada@fx.example.com");
    assert_eq!(row["status"], "confirmed");
    let hash = t.region.recipient_hash(&email);
    assert_eq!(row["email_hash"], hash.as_str());

    let as_read = get(served.addr, "/api/v1/subscribers", &read).await;
    assert_eq!(as_read.status, 200);
    assert!(
        !as_read.body.contains("ada@"),
        "no address for read: {}",
        as_read.body
    );
    assert_eq!(json(&as_read)[0]["email_hash"], hash.as_str());
    assert!(json(&as_read)[0]["email"].is_null());
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_report_and_export_download_in_every_format() {
    let t = TestRegion::new("en-US", false).await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    let read = token(&t, TokenScope::Read).await;

    let r = get(
        addr,
        "/api/v1/audit/report?from=2026-01-01&to=2026-01-31&format=json",
        &read,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("audit-fx-2026-01-01-2026-01-31.json")
    );
    let v = json(&r);
    assert!(
        r.body.contains("\"fx\""),
        "the region's report: {}",
        &r.body[..r.body.len().min(400)]
    );
    assert!(v.is_object());

    let r = get(addr, "/api/v1/audit/report?format=html", &read).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").unwrap().starts_with("text/html") && r.body.contains("<html"));
    let r = get(addr, "/api/v1/audit/report?format=md", &read).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/markdown")
            && r.body.starts_with('#'),
        "{}",
        r.body
    );

    for (case, query, says) in [
        ("unknown format", "format=pdf", "format"),
        ("reversed period", "from=2026-02-01&to=2026-01-01", "from"),
        ("not a date", "from=yesterday", "from"),
    ] {
        let r = get(addr, &format!("/api/v1/audit/report?{query}"), &read).await;
        assert_eq!(r.status, 400, "{case}: {}", r.body);
        assert!(error_of(&r).1.contains(says), "{case}: {}", r.body);
    }

    let r = get(addr, "/api/v1/audit/export", &read).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let header: Value = serde_json::from_str(r.body.lines().next().unwrap()).unwrap();
    assert_eq!(
        (header["type"].as_str(), header["region"].as_str()),
        (Some("meridian-audit-export"), Some("fx"))
    );
    served.stop().await.unwrap();
}

/// Routes that serve HTML pages for people (and the stylesheet): not part of
/// the API document. Everything else the router serves must be in it.
const PAGES: &[(&str, &str)] = &[
    ("GET", "/subscribe"),
    ("POST", "/subscribe"),
    ("GET", "/confirm"),
    ("GET", "/unsubscribe"),
    ("POST", "/unsubscribe"),
    ("GET", "/assets/meridian.css"),
    ("GET", "/archive"),
    ("GET", "/archive/{date}"),
];

/// A concrete path for a template (`{id}` → `1`, `{date}` → a day).
fn concrete(template: &str) -> String {
    template
        .replace("{id}", "1")
        .replace("{date}", "2026-01-01")
}

#[tokio::test]
async fn every_route_is_in_the_openapi_document() {
    let t = TestRegion::new("en-US", false).await;
    let state = AppState::new(std::sync::Arc::clone(&t.region));
    // Probes carry an admin token: the admin routes authenticate before
    // their method routing answers `405`.
    let admin = format!("Bearer {}", token(&t, TokenScope::Admin).await);
    // The router's own list of paths (its `Debug` shows its route table);
    // each method is then probed: `405` means the path does not serve it.
    let table = format!("{:?}", router(state.clone()));
    // The route table proper, before the fallback router's catch-all.
    let table = table.split("fallback_router").next().unwrap();
    let paths: Vec<String> = table
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|p| p.starts_with('/') && !p.contains("__private__"))
        .map(str::to_owned)
        .collect();
    assert!(paths.len() >= 15, "the route table was read: {paths:?}");
    let (status, _, doc) = t
        .oneshot(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let documented =
        |method: &str, path: &str| doc["paths"][path][method.to_ascii_lowercase()].is_object();
    let mut missing = Vec::new();
    let mut served = Vec::new();
    for path in &paths {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let response = router(state.clone())
                .oneshot(
                    Request::builder()
                        .method(method.clone())
                        .uri(concrete(path))
                        .header("authorization", &admin)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            served.push((method.to_string(), path.clone()));
            let page = PAGES
                .iter()
                .any(|(m, p)| *m == method.as_str() && p == path);
            if !page && !documented(method.as_str(), path) {
                missing.push(format!("{method} {path}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "served but not in the OpenAPI document (annotate the handler and list it in `openapi::ApiDoc`): {missing:?}"
    );
    for (m, p) in PAGES {
        assert!(
            served.iter().any(|(sm, sp)| sm == m && sp == p),
            "the page {m} {p} is served"
        );
    }
    // And the other way: every documented operation answers (no 405, no fallback page).
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let response = router(state.clone())
                .oneshot(
                    Request::builder()
                        .method(method.to_ascii_uppercase().as_str())
                        .uri(concrete(path))
                        .header("authorization", &admin)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                !String::from_utf8_lossy(&body).contains("Page not found"),
                "{method} {path} is routed"
            );
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscribe_form_needs_its_csrf_token_and_cookie() {
    let t = TestRegion::new("en-US", false).await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    let page = http::get(addr, "/subscribe").await.unwrap();
    let set_cookie = page.header("set-cookie").unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Strict")
            && set_cookie.contains("Secure"),
        "{set_cookie}"
    );
    let (token, cookie) = csrf_of(&page.body, Some(&set_cookie));
    let other_page = http::get(addr, "/subscribe").await.unwrap();
    let (other_token, _) = csrf_of(&other_page.body, other_page.header("set-cookie"));
    let form = "Content-Type";
    for (case, body, cookie) in [
        (
            "no token, no cookie",
            "email=a%40fx.example.com".to_owned(),
            None,
        ),
        (
            "token without its cookie",
            format!("email=a%40fx.example.com&csrf={token}"),
            None,
        ),
        (
            "cookie without the token",
            "email=a%40fx.example.com".to_owned(),
            Some(cookie.clone()),
        ),
        (
            "another page's token",
            format!("email=a%40fx.example.com&csrf={other_token}"),
            Some(cookie.clone()),
        ),
        (
            "forged",
            "email=a%40fx.example.com&csrf=9999999999.00.00".to_owned(),
            Some("meridian_csrf=9999999999.00.00".to_owned()),
        ),
    ] {
        let mut headers = vec![(form, "application/x-www-form-urlencoded")];
        if let Some(c) = &cookie {
            headers.push(("Cookie", c.as_str()));
        }
        let r = http::request(addr, "POST", "/subscribe", &headers, body.as_bytes())
            .await
            .unwrap();
        assert_eq!(r.status, 403, "{case}: {}", r.body);
        assert!(
            r.body.contains("Please send the form again"),
            "{case}: {}",
            r.body
        );
    }
    assert!(
        t.region
            .store()
            .list_subscribers()
            .await
            .unwrap()
            .is_empty(),
        "nothing stored"
    );

    let body = format!("email=a%40fx.example.com&csrf={token}");
    let ok = http::request(
        addr,
        "POST",
        "/subscribe",
        &[
            (form, "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(t.region.store().list_subscribers().await.unwrap().len(), 1);
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_is_rate_limited_per_address_and_per_client() {
    let t = TestRegion::new("en-US", false).await;
    let options = ServeOptions {
        subscribe_limits: SubscribeLimits {
            per_ip: 3,
            per_address: 2,
            window: Duration::from_secs(3600),
        },
        ..ServeOptions::default()
    };
    let served = Served::start_with(&t, "127.0.0.1:0".parse().unwrap(), options).await;
    let addr = served.addr;
    let subscribe = |email: &'static str| async move {
        http::post_json(
            addr,
            "/api/v1/subscribe",
            &format!(r#"{{"email":"{email}"}}"#),
        )
        .await
        .unwrap()
    };
    assert_eq!(subscribe("a@fx.example.com").await.status, 202);
    assert_eq!(subscribe("A@fx.example.com").await.status, 202);
    let limited = subscribe("a@fx.example.com").await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_eq!(error_of(&limited).0, "rate_limited");
    // A new address passes its own limit; the client's fourth request is over the client's.
    let limited = subscribe("b@fx.example.com").await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(error_of(&limited).1.contains("client"), "{}", limited.body);

    let metrics = http::get(addr, "/metrics").await.unwrap().body;
    assert!(
        metrics
            .contains("meridian_subscribe_rate_limited_total{region=\"fx\",limit=\"address\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("meridian_subscribe_rate_limited_total{region=\"fx\",limit=\"ip\"} 1"),
        "{metrics}"
    );
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_query_strings_get_414_and_replies_are_gzipped_when_asked() {
    let t = TestRegion::new("en-US", false).await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    let long = format!(
        "/confirm?token={}",
        "a".repeat(meridian_server::MAX_QUERY_BYTES + 1)
    );
    let r = http::get(addr, &long).await.unwrap();
    assert_eq!(r.status, 414, "{}", r.body);
    let r = http::request(
        addr,
        "GET",
        "/api/v1/openapi.json",
        &[("Accept-Encoding", "gzip")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(
        (r.status, r.header("content-encoding")),
        (200, Some("gzip"))
    );
    let r = http::get(addr, "/api/v1/openapi.json").await.unwrap();
    assert_eq!(r.header("content-encoding"), None, "only when asked");
    served.stop().await.unwrap();
}

/// A feed server on loopback that answers its first request only when told:
/// it reports the request, then holds the answer.
async fn held_feed_server() -> (
    SocketAddr,
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (arrived_tx, arrived_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    #[expect(clippy::disallowed_methods, reason = "joined at the end of the test")]
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = socket.read(&mut buf).await.unwrap();
        let _ = arrived_tx.send(());
        let _ = release_rx.await;
        let rss = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Held</title>\
                   <item><title>One</title><guid>held-1</guid><description>Grid batteries now carry a third of the evening load in the region, operators said.</description></item>\
                   </channel></rss>";
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{rss}",
            rss.len()
        );
        socket.write_all(reply.as_bytes()).await.unwrap();
        let _ = socket.shutdown().await;
    });
    (addr, arrived_rx, release_tx, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_the_run_in_progress_and_refuses_a_second_one() {
    let (feed, arrived, release, feed_task) = held_feed_server().await;
    let extra = format!(
        "\n[egress]\nallow = [\"127.0.0.1:{}\"]\nallow_private = true\n",
        feed.port()
    );
    let t = TestRegion::with("fx", "en-US", false, &extra).await;
    let mut served = Served::start(&t).await;
    let addr = served.addr;
    let admin = token(&t, TokenScope::Admin).await;
    let r = call(
        addr,
        "POST",
        "/api/v1/feeds",
        Some(&admin),
        "application/json",
        &format!(r#"{{"url":"http://127.0.0.1:{}/feed.xml"}}"#, feed.port()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let started = call(
        addr,
        "POST",
        "/api/v1/runs",
        Some(&admin),
        "application/json",
        r#"{"force_refresh":true}"#,
    )
    .await;
    assert_eq!(started.status, 202, "{}", started.body);
    let id = json(&started)["id"].as_str().unwrap().to_owned();
    tokio::time::timeout(Duration::from_secs(30), arrived)
        .await
        .unwrap()
        .unwrap();

    // The run is fetching its feed: a second one is refused.
    let second = call(
        addr,
        "POST",
        "/api/v1/runs",
        Some(&admin),
        "application/json",
        "",
    )
    .await;
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(error_of(&second).1.contains(&id));

    // SIGTERM's path: the listener closes, but the service waits for the run.
    served.signal_stop();
    for _ in 0..300 {
        if http::get(addr, "/healthz").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        http::get(addr, "/healthz").await.is_err(),
        "no longer accepting"
    );
    assert!(
        !served.is_stopped(),
        "still waiting for the run, which waits for its feed"
    );
    assert_eq!(
        served.state.runs.status(&id).unwrap().state,
        meridian_server::runs::RunState::Running
    );

    release.send(()).unwrap();
    let state = served.state.clone();
    served.stop().await.unwrap();
    let run = state.runs.status(&id).unwrap();
    assert_eq!(
        run.state,
        meridian_server::runs::RunState::Succeeded,
        "{run:?}"
    );
    assert!(
        run.progress
            .iter()
            .any(|l| l.starts_with("feeds: 1 fetched")),
        "{:?}",
        run.progress
    );
    feed_task.await.unwrap();
}
