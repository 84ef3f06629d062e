//! What an attack run against the service found, each case as it was tried:
//! a CSRF key that a read token could derive, error replies in other shapes
//! than `{"error", "detail"}`, a subscription written after its request had
//! been answered with a timeout, and slow or idle connections that were never
//! dropped.

use std::net::SocketAddr;
use std::time::Duration;

use hmac::{Hmac, Mac as _};
use meridian_store::{SubscriberStatus, TokenScope};
use meridian_testkit::http;
use serde_json::Value;
use sha2::Sha256;
use sqlx::Connection as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{Served, TestRegion};

async fn token(t: &TestRegion, scope: TokenScope) -> String {
    meridian_server::tokens::create_token(
        t.region.store(),
        "test",
        scope,
        chrono::Utc::now().timestamp(),
    )
    .await
    .unwrap()
    .token
}

fn json(r: &http::Response) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {} {}", r.status, r.body))
}

/// A CSRF token `expires.nonce.mac` made with `key` the way the form's are.
fn forge_csrf(key: &[u8], expires: i64, nonce: &str) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).unwrap();
    mac.update(b"meridian-csrf-v1\0");
    mac.update(expires.to_string().as_bytes());
    mac.update(b"\0");
    mac.update(nonce.as_bytes());
    format!(
        "{expires}.{nonce}.{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The attack: the CSRF key used to be the keyed hash of a fixed address, so
/// subscribing that address and reading its `email_hash` with a read token
/// gave the key. Every value a read token can see is tried as the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_tokens_cannot_be_forged_from_what_a_read_token_sees() {
    let t = TestRegion::new("en-US", false).await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    // The old key's address is at a reserved domain, which subscribe now
    // refuses; a subscriber stored before that rule still lists its hash.
    let old_label =
        meridian_core::SubscriberEmail::parse_existing("csrf-key@meridian.example").unwrap();
    t.region
        .store()
        .add_subscriber(&old_label, SubscriberStatus::Unconfirmed, None, "test", 0)
        .await
        .unwrap();
    let r = http::post_json(
        addr,
        "/api/v1/subscribe",
        r#"{"email":"someone@fx.example.com"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    let read = token(&t, TokenScope::Read).await;
    let listed = http::request(
        addr,
        "GET",
        "/api/v1/subscribers",
        &[("Authorization", &format!("Bearer {read}"))],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(listed.status, 200, "{}", listed.body);
    let hashes: Vec<String> = json(&listed)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email_hash"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hashes.len(), 2, "{}", listed.body);
    let expires = chrono::Utc::now().timestamp() + 3600;
    for hash in &hashes {
        // As text (how the old key was used) and as the bytes its hex stands for.
        let raw = hex::decode(hash.trim_start_matches("hmac-sha256:")).unwrap();
        for key in [hash.as_bytes().to_vec(), raw] {
            let forged = forge_csrf(&key, expires, "00112233445566778899aabbccddeeff");
            let body = format!("email=victim%40fx.example.com&csrf={forged}");
            let r = http::request(
                addr,
                "POST",
                "/subscribe",
                &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Cookie", &format!("meridian_csrf={forged}")),
                ],
                body.as_bytes(),
            )
            .await
            .unwrap();
            assert_eq!(r.status, 403, "forged with {hash}: {}", r.body);
        }
    }
    let stored = t.region.store().list_subscribers().await.unwrap();
    assert!(
        stored
            .iter()
            .all(|s| s.email.as_str() != "victim@fx.example.com"),
        "the forged form subscribed nobody"
    );
    served.stop().await.unwrap();
}

/// `/metrics` value of the series whose line starts with `series` (0 when absent).
async fn metric(addr: SocketAddr, series: &str) -> u64 {
    let text = http::get(addr, "/metrics").await.unwrap().body;
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// A connection to `addr` from the loopback address `from` (127.0.0.x), so
/// that a flood and the health check come from different client addresses.
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the server closes the connection; what it sent before.
async fn read_until_closed(mut stream: TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// A region whose `[server]` section ends with `keys`.
async fn region_with(keys: &str) -> TestRegion {
    TestRegion::with(crate::helpers::REGION, "en-US", false, keys).await
}

/// How long a test waits for something the server must do before calling
/// it hung (a guard against hanging, not a timing assertion).
const HANG: Duration = Duration::from_secs(60);

/// The attack: thousands of sockets that send half a request line (or drip
/// a header byte by byte) and wait were never dropped. Here a few hundred
/// idle and dripping sockets come from one address (127.0.0.2): those over
/// the per-address limit are refused at once with `503`, the others lose
/// their socket at the header-read timeout, and `/healthz` keeps answering
/// another client (127.0.0.1) throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_sockets_are_dropped_and_healthz_keeps_answering() {
    let t = region_with(
        "header_read_timeout_secs = 1\nidle_timeout_secs = 1\nmax_connections = 2000\nmax_connections_per_ip = 50\n",
    )
    .await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    let flooder = [127, 0, 0, 2];
    let mut flood = Vec::new();
    for i in 0..300 {
        let mut stream = connect_from(flooder, addr).await;
        if i % 2 == 1 {
            // Half a request line now, then a header byte at a time.
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
                .await
                .unwrap();
        }
        flood.push(stream);
    }
    let drip = async {
        for _ in 0..10 {
            for stream in flood.iter_mut().skip(1).step_by(2) {
                let _ = stream.write_all(b"a").await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let health = async {
        for _ in 0..10 {
            let r = http::get(addr, "/healthz").await.unwrap();
            assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
        }
    };
    tokio::join!(drip, health);

    let closed = tokio::time::timeout(
        HANG,
        futures_util::future::join_all(flood.into_iter().map(read_until_closed)),
    )
    .await
    .expect("the server closes every flood socket");
    let refused = closed
        .iter()
        .filter(|got| got.starts_with(b"HTTP/1.1 503"))
        .count();
    assert!(refused > 0, "some were over the per-address limit");
    assert!(
        closed
            .iter()
            .filter(|got| got.starts_with(b"HTTP/1.1 503"))
            .all(|got| String::from_utf8_lossy(got).contains(r#""error":"unavailable""#)),
        "refusals say why, in the JSON shape"
    );
    assert!(refused < 300, "up to the limit were served, then timed out");
    assert_eq!(http::get(addr, "/healthz").await.unwrap().status, 200);
    let per_ip = metric(
        addr,
        r#"meridian_connections_refused_total{region="fx",limit="per_ip"}"#,
    )
    .await;
    assert_eq!(per_ip, refused as u64, "every refusal counted");
    let timed_out = metric(
        addr,
        r#"meridian_connection_timeouts_total{region="fx",timeout="header_read"}"#,
    )
    .await;
    assert_eq!(
        timed_out,
        300 - refused as u64,
        "every admitted flood socket was closed by the header-read timeout"
    );
    served.stop().await.unwrap();
}

/// A kept-alive connection is closed when it waits longer than the idle
/// timeout for its next request; the header-read timeout (long here) is not
/// what closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed() {
    let t = region_with("header_read_timeout_secs = 600\nidle_timeout_secs = 1\n").await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: fx\r\n\r\n")
        .await
        .unwrap();
    let got = tokio::time::timeout(HANG, read_until_closed(stream))
        .await
        .expect("the idle connection is closed");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200") && text.ends_with("ok\n"),
        "answered first: {text}"
    );
    assert_eq!(
        metric(
            addr,
            r#"meridian_connection_timeouts_total{region="fx",timeout="idle"}"#
        )
        .await,
        1
    );
    assert_eq!(
        metric(
            addr,
            r#"meridian_connection_timeouts_total{region="fx",timeout="header_read"}"#
        )
        .await,
        0
    );
    served.stop().await.unwrap();
}

/// Beyond `max_connections` a new connection is answered `503` and closed;
/// once connections close, new ones are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_refused_until_some_close() {
    let t = region_with("max_connections = 5\nmax_connections_per_ip = 0\n").await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    let mut held = Vec::new();
    for i in 0..5u8 {
        held.push(connect_from([127, 0, 0, 10 + i], addr).await);
    }
    let extra = connect_from([127, 0, 0, 20], addr).await;
    let got = tokio::time::timeout(HANG, read_until_closed(extra))
        .await
        .expect("refused at once");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("Retry-After:"), "{text}");
    assert!(text.contains(r#""error":"unavailable""#), "{text}");
    drop(held);
    let healthy = tokio::time::timeout(HANG, async {
        loop {
            match http::get(addr, "/healthz").await {
                Ok(r) if r.status == 200 => return,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    assert!(healthy.is_ok(), "served again once the held ones closed");
    assert!(
        metric(
            addr,
            r#"meridian_connections_refused_total{region="fx",limit="global"}"#
        )
        .await
            >= 1
    );
    served.stop().await.unwrap();
}

/// Every error of the API, and every rejection axum would answer in plain
/// text, is `{"error": code, "detail": text}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_error_has_the_one_json_shape() {
    let t = TestRegion::new("en-US", false).await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    let admin = format!("Bearer {}", token(&t, TokenScope::Admin).await);
    let big_json = format!(r#"{{"email":"{}@fx.example.com"}}"#, "a".repeat(20 * 1024));
    // (case, method, target, headers, body, status, code)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a [u8],
        u16,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "subscribe body over 16 KiB",
            "POST",
            "/api/v1/subscribe",
            vec![("Content-Type", "application/json")],
            big_json.as_bytes(),
            413,
            "too_large",
        ),
        (
            "subscribe not JSON typed",
            "POST",
            "/api/v1/subscribe",
            vec![("Content-Type", "text/plain")],
            br#"{"email":"a@fx.example.com"}"#,
            415,
            "unsupported_media_type",
        ),
        (
            "subscribe bad address",
            "POST",
            "/api/v1/subscribe",
            vec![("Content-Type", "application/json")],
            br#"{"email":"nope"}"#,
            400,
            "invalid",
        ),
        (
            "subscribe missing field",
            "POST",
            "/api/v1/subscribe",
            vec![("Content-Type", "application/json")],
            br#"{}"#,
            400,
            "invalid",
        ),
        (
            "subscribe with PUT",
            "PUT",
            "/api/v1/subscribe",
            vec![("Content-Type", "application/json")],
            br#"{}"#,
            405,
            "method_not_allowed",
        ),
        (
            "no such API route",
            "GET",
            "/api/v1/nothing-here",
            vec![],
            b"",
            404,
            "not_found",
        ),
        (
            "feed id not a number",
            "GET",
            "/api/v1/feeds/abc",
            vec![("Authorization", admin.as_str())],
            b"",
            400,
            "invalid",
        ),
        (
            "feed body over 16 KiB",
            "POST",
            "/api/v1/feeds",
            vec![
                ("Authorization", admin.as_str()),
                ("Content-Type", "application/json"),
            ],
            big_json.as_bytes(),
            413,
            "too_large",
        ),
        (
            "form posted as JSON",
            "POST",
            "/subscribe",
            vec![("Content-Type", "application/json")],
            br#"{"email":"a@fx.example.com"}"#,
            415,
            "unsupported_media_type",
        ),
        (
            "form with DELETE",
            "DELETE",
            "/subscribe",
            vec![],
            b"",
            405,
            "method_not_allowed",
        ),
    ];
    for (case, method, target, headers, body, status, code) in cases {
        let r = http::request(addr, method, target, &headers, body)
            .await
            .unwrap();
        assert_eq!(r.status, status, "{case}: {}", r.body);
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{case}: {:?}",
            r.headers
        );
        let v = json(&r);
        assert_eq!(v["error"], code, "{case}: {}", r.body);
        assert!(
            v["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{case}: {}",
            r.body
        );
        assert_eq!(
            v.as_object().map(|o| o.len()),
            Some(2),
            "{case}: {}",
            r.body
        );
        if status == 405 {
            assert!(r.header("allow").is_some(), "{case}: {:?}", r.headers);
        }
    }
    let v = json(
        &http::post_json(addr, "/api/v1/subscribe", r#"{"email":"nope"}"#)
            .await
            .unwrap(),
    );
    assert!(
        v["detail"].as_str().unwrap().starts_with("email: "),
        "the detail names the field: {v}"
    );
    served.stop().await.unwrap();
}

/// The attack: with the database locked, a subscribe request got an empty
/// `408` after 10 s, and the subscription was written afterwards anyway.
/// Now the answer waits for the outcome: `503` with `Retry-After` in the
/// JSON shape, and nothing is written, then or later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_answers_503_and_writes_nothing_late() {
    let t = TestRegion::new("en-US", false).await;
    let url = t.region.config().storage_url.expose().to_owned();
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let served = Served::start(&t).await;
    let addr = served.addr;
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let r = http::post_json(
        addr,
        "/api/v1/subscribe",
        r#"{"email":"late@fx.example.com"}"#,
    )
    .await
    .unwrap();
    // The lock goes at once, while a late write could still land.
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    assert_eq!(json(&r)["error"], "unavailable", "{}", r.body);
    // Stop the service and close the region's pool: whatever it still had in
    // hand is finished (or dropped) by then.
    served.stop().await.unwrap();
    t.region.store().close().await;
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM subscribers WHERE email = 'late@fx.example.com'")
            .fetch_one(&mut holder)
            .await
            .unwrap();
    assert_eq!(rows, 0, "no subscription written after the answer");
}
