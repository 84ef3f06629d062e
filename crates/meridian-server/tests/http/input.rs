//! Input the API refuses: `file:` feeds (an operator adds those from the
//! command line only), directly and through an OPML import.

use meridian_server::tokens;
use meridian_store::TokenScope;
use meridian_testkit::http;
use serde_json::Value;

use crate::helpers::{Served, TestRegion};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_local_file_feeds_with_a_json_error() {
    let t = TestRegion::new("en-US", false).await;
    let served = Served::start(&t).await;
    let admin = tokens::create_token(
        t.region.store(),
        "test",
        TokenScope::Admin,
        chrono::Utc::now().timestamp(),
    )
    .await
    .unwrap()
    .token;
    let auth = format!("Bearer {admin}");
    let post = |target: &'static str, content_type: &'static str, body: String| {
        let auth = auth.clone();
        async move {
            http::request(
                served.addr,
                "POST",
                target,
                &[("Content-Type", content_type), ("Authorization", &auth)],
                body.as_bytes(),
            )
            .await
            .unwrap()
        }
    };

    for url in [
        "file:///etc/shadow",
        "FILE:///etc/passwd",
        "file://localhost/etc/hosts",
    ] {
        let r = post(
            "/api/v1/feeds",
            "application/json",
            serde_json::json!({ "url": url }).to_string(),
        )
        .await;
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["error"], "invalid", "{}", r.body);
        let detail = v["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("url:") && detail.contains("local file"),
            "names the field and the reason: {detail}"
        );
    }

    let opml = r#"<?xml version="1.0"?>
<opml version="2.0"><body>
<outline text="Secrets" xmlUrl="file:///etc/shadow"/>
<outline text="Fine" xmlUrl="https://pod.example/fine.xml"/>
</body></opml>"#;
    let r = post("/api/v1/feeds/import", "text/x-opml", opml.to_owned()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["added"], 1, "{v}");
    assert_eq!(v["refused"][0]["url"], "file:///etc/shadow", "{v}");
    assert!(
        v["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("local file"),
        "{v}"
    );
    let stored: Vec<String> = t
        .region
        .store()
        .list_feeds()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.url)
        .collect();
    assert_eq!(
        stored,
        ["https://pod.example/fine.xml"],
        "no file feed stored"
    );
    served.stop().await.unwrap();
}
