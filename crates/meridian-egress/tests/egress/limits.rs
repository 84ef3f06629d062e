//! Body caps (streamed, announced, decompressed) and timeouts.

use std::io::Write as _;

use axum::Router;
use axum::http::header;
use axum::routing::get as route;
use flate2::Compression;
use flate2::write::GzEncoder;
use meridian_egress::{EgressError, EgressOptions, FailureKind, Validators};

use crate::helpers::{
    client, client_with, fetched, get, read_head, short_timeouts, spawn_axum, spawn_raw, url, write,
};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn an_endless_chunked_body_is_cut_off_at_the_cap() {
    // No Content-Length, and the body never ends: only a cap enforced while
    // reading can return at all.
    let (addr, _hits) = spawn_raw(|mut socket| async move {
        let _ = read_head(&mut socket).await;
        if !write(
            &mut socket,
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n",
        )
        .await
        {
            return;
        }
        let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "x".repeat(16 * 1024));
        while write(&mut socket, chunk.as_bytes()).await {}
    })
    .await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);
    let err = client
        .get(
            &url(&format!("http://{addr}/big")),
            &Validators::default(),
            Some(256 * 1024),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EgressError::TooLarge { limit: 262_144, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::TooLarge);
    assert_eq!(err.kind().as_str(), "too_large");
}

#[tokio::test]
async fn an_announced_length_over_the_cap_is_refused_before_reading() {
    // The server announces 10 GiB and then sends nothing: reading would time
    // out, so TooLarge proves the refusal came from the header alone.
    let (addr, _hits) = spawn_raw(|mut socket| async move {
        let _ = read_head(&mut socket).await;
        write(
            &mut socket,
            b"HTTP/1.1 200 OK\r\ncontent-length: 10737418240\r\n\r\n",
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    })
    .await;
    let client = client_with(
        &[&format!("127.0.0.1:{}", addr.port())],
        false,
        short_timeouts(),
    );
    let err = get(&client, &format!("http://{addr}/huge"))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn a_body_at_the_cap_is_accepted_and_one_byte_more_is_not() {
    let router = Router::new().route("/exact", route(|| async { vec![b'a'; 1000] }));
    let (addr, _seen) = spawn_axum(router).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);
    let target = url(&format!("http://{addr}/exact"));
    let ok = fetched(
        client
            .get(&target, &Validators::default(), Some(1000))
            .await
            .unwrap(),
    );
    assert_eq!(ok.body.len(), 1000);
    let err = client
        .get(&target, &Validators::default(), Some(999))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EgressError::TooLarge { limit: 999, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn gzip_is_decoded_and_a_gzip_bomb_is_refused_on_decoded_bytes() {
    let small = gzip(b"<rss>compressed</rss>");
    // 16 MiB of zeros compress to about 16 KiB: under any cap on the wire, far over it decoded.
    let bomb = gzip(&vec![0u8; 16 * 1024 * 1024]);
    assert!(
        bomb.len() < 1024 * 1024,
        "the bomb is small on the wire ({} bytes)",
        bomb.len()
    );
    let router = Router::new()
        .route(
            "/small.xml",
            route(move || async move { ([(header::CONTENT_ENCODING, "gzip")], small) }),
        )
        .route(
            "/bomb.xml",
            route(move || async move { ([(header::CONTENT_ENCODING, "gzip")], bomb) }),
        );
    let (addr, seen) = spawn_axum(router).await;
    let client = client(&[&format!("127.0.0.1:{}", addr.port())]);

    let small = fetched(
        get(&client, &format!("http://{addr}/small.xml"))
            .await
            .unwrap(),
    );
    assert_eq!(&small.body[..], b"<rss>compressed</rss>");
    assert!(
        seen.header(0, "accept-encoding")
            .is_some_and(|v| v.contains("gzip"))
    );

    let err = client
        .get(
            &url(&format!("http://{addr}/bomb.xml")),
            &Validators::default(),
            Some(1024 * 1024),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EgressError::TooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (addr, _hits) = spawn_raw(|mut socket| async move {
        let _ = read_head(&mut socket).await;
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    })
    .await;
    let client = client_with(
        &[&format!("127.0.0.1:{}", addr.port())],
        false,
        short_timeouts(),
    );
    let err = get(&client, &format!("http://{addr}/slow"))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Timeout { .. }), "{err}");
    assert_eq!(err.kind().as_str(), "timeout");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_body_that_trickles_forever_times_out() {
    let (addr, _hits) = spawn_raw(|mut socket| async move {
        let _ = read_head(&mut socket).await;
        if !write(
            &mut socket,
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        )
        .await
        {
            return;
        }
        while write(&mut socket, b"1\r\nx\r\n").await {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    let client = client_with(
        &[&format!("127.0.0.1:{}", addr.port())],
        false,
        short_timeouts(),
    );
    let err = get(&client, &format!("http://{addr}/trickle"))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn the_per_call_cap_overrides_the_default() {
    let router = Router::new().route("/kb", route(|| async { vec![b'k'; 4096] }));
    let (addr, _seen) = spawn_axum(router).await;
    let options = EgressOptions {
        max_body_bytes: 1024,
        ..EgressOptions::default()
    };
    let client = client_with(&[&format!("127.0.0.1:{}", addr.port())], false, options);
    let target = url(&format!("http://{addr}/kb"));
    let err = client
        .get(&target, &Validators::default(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EgressError::TooLarge { limit: 1024, .. }),
        "{err}"
    );
    let ok = fetched(
        client
            .get(&target, &Validators::default(), Some(8192))
            .await
            .unwrap(),
    );
    assert_eq!(ok.body.len(), 4096);
}
