//! Single routes through `router(state)`, without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use meridian_core::SubscriberEmail;
use meridian_runtime::LinkPurpose;
use meridian_store::SubscriberStatus;

use crate::helpers::{Served, TestRegion, csrf_of};

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, content_type: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn confirmed(t: &TestRegion, email: &str) -> (i64, SubscriberEmail) {
    let email = SubscriberEmail::parse(email).unwrap();
    let (row, _) = t
        .region
        .store()
        .add_subscriber(&email, SubscriberStatus::Confirmed, None, "cli", 1)
        .await
        .unwrap();
    (row.id, email)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn links_that_do_not_work_get_a_clear_400_page_and_change_nothing() {
    let t = TestRegion::new("en-US", false).await;
    let (id, email) = confirmed(&t, "ada@fx.example.com").await;
    let links = t.region.links();
    let expired = links.sign(LinkPurpose::Unsubscribe, id, &email, now() - 10);
    let other = SubscriberEmail::parse("eve@fx.example.com").unwrap();
    let forged = links.sign(LinkPurpose::Unsubscribe, id, &other, now() + 3600);
    let confirm_token = links.sign(LinkPurpose::Confirm, id, &email, now() + 3600);
    for (case, request, says) in [
        (
            "expired",
            post(
                &format!("/unsubscribe?token={expired}"),
                "application/x-www-form-urlencoded",
                "List-Unsubscribe=One-Click",
            ),
            "has expired",
        ),
        (
            "forged",
            post(
                &format!("/unsubscribe?token={forged}"),
                "application/x-www-form-urlencoded",
                "List-Unsubscribe=One-Click",
            ),
            "not valid",
        ),
        (
            "confirm token used to unsubscribe",
            get(&format!("/unsubscribe?token={confirm_token}")),
            "incomplete",
        ),
        ("no token", get("/confirm"), "incomplete"),
        ("garbage", get("/confirm?token=%3Cscript%3E"), "incomplete"),
        (
            "unknown subscriber",
            get(&format!(
                "/confirm?token={}",
                links.sign(LinkPurpose::Confirm, 999, &email, now() + 60)
            )),
            "not valid",
        ),
    ] {
        let (status, _, body) = t.oneshot(request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert!(
            body.contains("This link does not work") && body.contains(says),
            "{case}: {body}"
        );
        assert!(
            !body.contains("<script"),
            "{case}: nothing reflected: {body}"
        );
    }
    let row = t.region.store().subscriber(id).await.unwrap().unwrap();
    assert_eq!(row.status, SubscriberStatus::Confirmed, "still subscribed");
}

#[tokio::test]
async fn the_unsubscribe_page_asks_first_and_the_post_needs_only_the_token() {
    let t = TestRegion::new("zh-CN", false).await;
    let (id, email) = confirmed(&t, "li@fx.example.com").await;
    let token = t
        .region
        .links()
        .sign(LinkPurpose::Unsubscribe, id, &email, now() + 3600);

    let (status, _, body) = t.oneshot(get(&format!("/unsubscribe?token={token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("<html lang=\"zh-CN\">") && body.contains("退订"),
        "{body}"
    );
    assert!(
        body.contains(&format!("action=\"/unsubscribe?token={token}\"")),
        "{body}"
    );
    assert!(
        body.contains("name=\"List-Unsubscribe\" value=\"One-Click\""),
        "{body}"
    );
    assert_eq!(
        t.region
            .store()
            .subscriber(id)
            .await
            .unwrap()
            .unwrap()
            .status,
        SubscriberStatus::Confirmed,
        "a GET changes nothing"
    );

    // Multipart, as some providers send it, or no body at all: the token decides.
    let multipart = "--b\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b--\r\n";
    let (status, headers, body) = t
        .oneshot(post(
            &format!("/unsubscribe?token={token}"),
            "multipart/form-data; boundary=b",
            multipart,
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(headers.get("location").is_none());
    assert!(body.contains("您已退订"), "{body}");
    assert_eq!(
        t.region
            .store()
            .subscriber(id)
            .await
            .unwrap()
            .unwrap()
            .status,
        SubscriberStatus::Unsubscribed
    );
}

#[tokio::test]
async fn the_json_endpoint_names_the_bad_field() {
    let t = TestRegion::new("en-US", false).await;
    for (case, body, field) in [
        (
            "bad address",
            r#"{"email":"not-an-address"}"#,
            Some("email"),
        ),
        (
            "unknown locale",
            r#"{"email":"a@fx.example.com","locale":"xx-YY"}"#,
            Some("locale"),
        ),
        ("not JSON", "{", None),
        (
            "unknown key",
            r#"{"email":"a@fx.example.com","admin":true}"#,
            None,
        ),
    ] {
        let (status, _, reply) = t
            .oneshot(post("/api/v1/subscribe", "application/json", body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {reply}");
        let json: serde_json::Value =
            serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{case}: {e}: {reply}"));
        // One shape for every error: `{"error": code, "detail": text}`, the
        // detail naming the field first when there is one.
        assert_eq!(json["error"], "invalid", "{case}: {reply}");
        let detail = json["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{case}: {reply}");
        if let Some(field) = field {
            assert!(detail.starts_with(&format!("{field}: ")), "{case}: {reply}");
        }
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

    // The form shows the error beside the field, keeping what was typed.
    let (_, headers, form) = t.oneshot(get("/subscribe")).await;
    let (csrf, cookie) = csrf_of(
        &form,
        headers.get("set-cookie").and_then(|v| v.to_str().ok()),
    );
    let (status, _, page) = t
        .oneshot(
            Request::post("/subscribe")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", cookie)
                .body(Body::from(format!("email=nope&csrf={csrf}")))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("aria-invalid=\"true\"") && page.contains("value=\"nope\""),
        "{page}"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_request_id() {
    let t = TestRegion::new("en-US", false).await;
    let (status, headers, body) = t.oneshot(get("/subscribe")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<html lang=\"en-US\">") && body.contains("KI-generiert"),
        "the region's AI label: {body}"
    );
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let csp = header("content-security-policy");
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("form-action 'self'")
            && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(
        header("referrer-policy"),
        "no-referrer",
        "links carry tokens"
    );
    assert_eq!(header("cache-control"), "no-store");
    assert!(
        header("strict-transport-security").starts_with("max-age="),
        "base_url is https"
    );
    assert_eq!(header("x-request-id").len(), 36, "a UUID");

    let (status, headers, _) = t.oneshot(get("/assets/meridian.css")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    let (status, _, body) = t.oneshot(get("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("Page not found"), "{body}");

    let big = format!("email={}", "a".repeat(20 * 1024));
    let (status, _, _) = t
        .oneshot(post(
            "/subscribe",
            "application/x-www-form-urlencoded",
            &big,
        ))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn health_and_readiness() {
    let t = TestRegion::new("en-US", false).await;
    let (status, _, body) = t.oneshot(get("/healthz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    let (status, _, _) = t.oneshot(get("/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    t.region.store().close().await;
    let (status, _, body) = t.oneshot(get("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, _, _) = t.oneshot(get("/healthz")).await;
    assert_eq!(status, StatusCode::OK, "the process is still up");
}

#[tokio::test]
async fn the_service_binds_port_zero_and_shuts_down_when_asked() {
    let t = TestRegion::new("en-US", false).await;
    let served = Served::start(&t).await;
    let ok = meridian_testkit::http::get(served.addr, "/healthz")
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    let addr = served.addr;
    served.stop().await.unwrap();
    assert!(
        meridian_testkit::http::get(addr, "/healthz").await.is_err(),
        "no longer listening"
    );
}
