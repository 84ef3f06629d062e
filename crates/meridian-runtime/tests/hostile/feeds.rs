//! A feed that turns hostile between two runs: each is refused with its
//! stable failure kind, the run completes, and nothing stored is lost.

use axum::body::Bytes;

use crate::helpers::{CAP, Feed, GIB, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_expansion_bomb_is_refused_as_unparseable() {
    // "Billion laughs": ten levels of ten references, 10^9 `lol`s if expanded.
    let mut doctype = String::from("<!DOCTYPE rss [\n  <!ENTITY lol \"lol\">\n");
    for level in 1..=9 {
        let refs = format!(
            "&lol{};",
            if level == 1 {
                String::new()
            } else {
                (level - 1).to_string()
            }
        )
        .repeat(10);
        doctype.push_str(&format!("  <!ENTITY lol{level} \"{refs}\">\n"));
    }
    doctype.push_str("]>\n");
    let bomb = format!(
        "<?xml version=\"1.0\"?>\n{doctype}<rss version=\"2.0\"><channel><title>&lol9;</title>\
         <item><title>&lol9;</title><guid>lol</guid><description>&lol9;</description></item></channel></rss>"
    );
    let mut h = Harness::start().await;
    let second = h
        .refused(
            Feed::Body {
                content_type: "application/rss+xml",
                bytes: Bytes::from(bomb),
            },
            "unparseable",
        )
        .await;
    let error = second.feed.last_error.unwrap_or_default();
    assert!(error.contains("declares entities"), "{error}");
    assert!(
        error.contains(&format!("{}/feed.xml", h.server.base())),
        "the error names the feed: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_body_is_cut_off_at_the_cap() {
    let mut h = Harness::start().await;
    let second = h.refused(Feed::Gigabyte, "too_large").await;
    let error = second.feed.last_error.unwrap_or_default();
    assert!(
        error.contains(&format!("exceeds the cap of {CAP} bytes")),
        "{error}"
    );
    // The client stopped reading at the cap: the server produced a small part
    // of the gigabyte (the cap plus what the socket buffers held).
    assert!(
        h.server.streamed() < GIB / 8,
        "{} bytes were produced",
        h.server.streamed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_slow_response_times_out() {
    let mut h = Harness::start().await;
    // The hostile run gets a one-second total timeout (`egress.timeout_secs`);
    // the trickle never ends, and every byte resets no read timeout.
    h.hostile_timeout_secs = Some(1);
    let second = h.refused(Feed::Trickle, "timeout").await;
    let error = second.feed.last_error.unwrap_or_default();
    assert!(error.contains("timed out fetching"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_is_detected() {
    let mut h = Harness::start().await;
    let second = h
        .refused(Feed::Redirect("/loop".to_owned()), "redirect_loop")
        .await;
    let error = second.feed.last_error.unwrap_or_default();
    assert!(error.contains("redirect loop"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_the_cloud_metadata_address_is_refused() {
    // `*` is in the allow-list, so only the address guard stands between the
    // redirect and the metadata service; it refuses before any connection.
    let mut h = Harness::start().await;
    let second = h
        .refused(
            Feed::Redirect("http://169.254.169.254/latest/meta-data/".to_owned()),
            "refused_by_policy",
        )
        .await;
    let error = second.feed.last_error.unwrap_or_default();
    assert!(error.contains("169.254.169.254"), "{error}");
    assert!(
        error.contains("egress rules do not allow"),
        "refused by the address guard: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_private_address_is_refused() {
    let mut h = Harness::start().await;
    let second = h
        .refused(
            Feed::Redirect("http://10.0.0.1/".to_owned()),
            "refused_by_policy",
        )
        .await;
    let error = second.feed.last_error.unwrap_or_default();
    assert!(error.contains("10.0.0.1"), "{error}");
    assert!(
        error.contains("egress rules do not allow"),
        "refused by the address guard: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_is_cut_off_at_the_cap_on_decompressed_bytes() {
    // 16 MiB of spaces in about 16 KiB of gzip: small on the wire, sixteen
    // times the cap once inflated.
    let bomb = crate::helpers::gzip((0..16).map(|_| vec![b' '; 1024 * 1024]));
    assert!(
        (bomb.len() as u64) < CAP / 16,
        "the compressed bomb is small: {} bytes",
        bomb.len()
    );
    let mut h = Harness::start().await;
    let second = h.refused(Feed::Gzip(bomb), "too_large").await;
    let error = second.feed.last_error.unwrap_or_default();
    assert!(
        error.contains(&format!("exceeds the cap of {CAP} bytes")),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_page_instead_of_the_feed_is_not_a_feed() {
    let page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Circuit Breakers</title></head>\
                <body><h1>Log in to listen</h1><p>This podcast moved behind a paywall.</p></body></html>";
    let mut h = Harness::start().await;
    let second = h
        .refused(
            Feed::Body {
                content_type: "text/html; charset=utf-8",
                bytes: Bytes::from_static(page.as_bytes()),
            },
            "not_a_feed",
        )
        .await;
    let error = second.feed.last_error.unwrap_or_default();
    assert!(error.contains("HTML page"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_garbage_instead_of_the_feed_is_refused() {
    // A PNG signature and header, then pseudo-random bytes (xorshift).
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..64 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x.to_le_bytes()[0]);
    }
    let mut h = Harness::start().await;
    let second = h
        .refused(
            Feed::Body {
                content_type: "application/rss+xml",
                bytes: Bytes::from(bytes),
            },
            "encoding",
        )
        .await;
    let error = second.feed.last_error.unwrap_or_default();
    assert!(error.contains("binary data"), "{error}");
}
