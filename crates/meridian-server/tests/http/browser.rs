//! A reader in a real browser: headless Chromium (Debian's `chromium`,
//! driven over the DevTools Protocol by `meridian_testkit::chromium`)
//! subscribes with the form, confirms with the link from the email that a
//! real SMTP server received, reads the archive and unsubscribes with the
//! link from the digest email, against the service on a loopback port.
//! Each step asserts what the page shows, and saves a full-page screenshot.
//!
//! Screenshots go to `$MERIDIAN_SCREENSHOT_DIR` when set (the committed ones
//! in `docs/screenshots/browser-*.png` are made with
//! `MERIDIAN_SCREENSHOT_DIR=$PWD/docs/screenshots cargo test -p meridian-server --test http browser`),
//! else to the target directory.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use meridian_core::SubscriberEmail;
use meridian_store::SubscriberStatus;
use meridian_testkit::chromium::{Browser, Chromium};
use meridian_testkit::free_port;

use crate::archive::five_insights;
use crate::helpers::{Served, TestRegion};

const LABEL: &str = "KI-generiert: automatisch ausgewählt und zusammengefasst.";

fn screenshot_dir() -> PathBuf {
    std::env::var_os("MERIDIAN_SCREENSHOT_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"),
        PathBuf::from,
    )
}

/// Waits (at most 10 s) until the page's heading is `expected`: a click
/// that submits a form returns before the next page may have loaded.
async fn heading_becomes(browser: &Browser, expected: &str) {
    let mut seen = String::new();
    for _ in 0..100 {
        if let Ok(h1) = browser.find("h1").await {
            seen = h1.text().await.unwrap_or_default();
            if seen == expected {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the page at {} shows the heading {seen:?}, not {expected:?}",
        browser.current_url().await.unwrap_or_default()
    );
}

/// Saves the page as `docs/screenshots/browser-<name>.png` (or where
/// `MERIDIAN_SCREENSHOT_DIR` says) and checks that a PNG was written.
async fn screenshot(browser: &Browser, name: &str) {
    let path = screenshot_dir().join(format!("browser-{name}.png"));
    browser.save_screenshot(&path).await.unwrap();
    let png = std::fs::read(&path).unwrap();
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_subscribes_confirms_reads_the_archive_and_unsubscribes_in_chromium() {
    let driver = Chromium::start();
    // The region's links point at the loopback port the service listens on,
    // so the browser opens the links from the emails exactly as they are.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let t = TestRegion::with_base_url("de-DE", true, &base).await;
    let yesterday = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    t.region
        .store()
        .create_digest(&five_insights(yesterday), &[], 100)
        .await
        .unwrap();
    let served = Served::start_on(&t, ([127, 0, 0, 1], port).into()).await;
    let browser = driver.browser(1000, 800).await.unwrap();
    let ada = SubscriberEmail::parse("ada@fx.example.com").unwrap();

    // 1. The subscribe form, with the AI label, in the region's language.
    browser.goto(&format!("{base}/subscribe")).await.unwrap();
    heading_becomes(&browser, "Den täglichen Podcast-Digest abonnieren").await;
    assert_eq!(
        browser.find(".notice").await.unwrap().text().await.unwrap(),
        LABEL
    );
    assert!(browser.title().await.unwrap().contains("Flow test"));
    screenshot(&browser, "1-subscribe").await;
    let email = browser.find("input#email").await.unwrap();
    email.send_keys("ada@fx.example.com").await.unwrap();
    browser
        .find("form[action='/subscribe'] button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // 2. The answer; the address is recorded, unconfirmed.
    heading_becomes(&browser, "Bitte prüfen Sie Ihr Postfach").await;
    screenshot(&browser, "2-check-inbox").await;
    let row = t
        .region
        .store()
        .subscriber_by_email(&ada)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, SubscriberStatus::Unconfirmed);

    // 3. The confirm link, from the email the SMTP server received.
    let mail = t.wait_for_mail("ada@fx.example.com", 1).await.remove(0);
    let confirm = mail
        .link_containing("/confirm?token=")
        .expect("a confirm link");
    assert!(
        confirm.starts_with(&format!("{base}/confirm?")),
        "{confirm}"
    );
    browser.goto(&confirm).await.unwrap();
    heading_becomes(&browser, "Abonnement bestätigt").await;
    screenshot(&browser, "3-confirmed").await;
    let row = t.region.store().subscriber(row.id).await.unwrap().unwrap();
    assert_eq!(row.status, SubscriberStatus::Confirmed);

    // Today's digest is made and mailed to the new subscriber.
    t.region
        .store()
        .create_digest(&five_insights(today), &[], 200)
        .await
        .unwrap();
    assert_eq!(t.region.deliver_digest(today).await.unwrap().get("sent"), 1);
    let digest_mail = t.wait_for_mail("ada@fx.example.com", 2).await.remove(1);

    // 4. The archive: both days, newest first.
    browser.goto(&format!("{base}/archive")).await.unwrap();
    heading_becomes(&browser, "Digest-Archiv").await;
    let entries = browser.find_all("ul.archive > li").await.unwrap();
    assert_eq!(entries.len(), 2);
    let first = entries[0].text().await.unwrap();
    assert!(first.contains("Samstag, 28. November 2026"), "{first}");
    assert!(first.contains("5 Erkenntnisse"), "{first}");
    assert!(
        entries[1]
            .text()
            .await
            .unwrap()
            .contains("Freitag, 27. November 2026")
    );
    screenshot(&browser, "4-archive").await;

    // 5. Today's digest, reached by its link: five insights under the label,
    // each with a link to its moment in the episode.
    browser
        .find("ul.archive > li a")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    heading_becomes(
        &browser,
        "Ihre Top 5 Podcast-Erkenntnisse — Samstag, 28. November 2026",
    )
    .await;
    assert_eq!(
        browser.current_url().await.unwrap(),
        format!("{base}/archive/2026-11-28")
    );
    assert_eq!(
        browser
            .find(".ai-label")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        LABEL
    );
    let insights = browser.find_all("ol.insights > li").await.unwrap();
    assert_eq!(insights.len(), 5);
    let one = insights[0].text().await.unwrap();
    for shown in [
        "Insight 1 of 2026-11-28",
        "Quote 1: by six pm",
        "Podcast 1",
        "Anhören ab 12:35",
    ] {
        assert!(one.contains(shown), "{shown} in {one}");
    }
    let listen = browser.find_all(".listen a.moment").await.unwrap();
    assert_eq!(listen.len(), 5);
    assert_eq!(
        listen[0].attribute("href").await.unwrap().as_deref(),
        Some("https://cdn.pod.example/ep1.mp3#t=755")
    );
    let pages = browser.find_all(".listen a.page").await.unwrap();
    assert_eq!(pages.len(), 5);
    assert_eq!(
        pages[0].attribute("href").await.unwrap().as_deref(),
        Some("https://pod.example/ep1")
    );
    screenshot(&browser, "5-archive-digest").await;

    // 6. Unsubscribe with the link in the digest email: a page with one
    // button, then the answer; after it the address gets nothing more.
    let unsubscribe = digest_mail
        .link_containing("/unsubscribe?token=")
        .expect("an unsubscribe link in the digest");
    assert!(unsubscribe.starts_with(&base), "{unsubscribe}");
    browser.goto(&unsubscribe).await.unwrap();
    heading_becomes(&browser, "Abbestellen").await;
    let row = t.region.store().subscriber(row.id).await.unwrap().unwrap();
    assert_eq!(
        row.status,
        SubscriberStatus::Confirmed,
        "opening the link changes nothing"
    );
    screenshot(&browser, "6-unsubscribe").await;
    browser
        .find("main form button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    heading_becomes(&browser, "Sie sind abgemeldet").await;
    screenshot(&browser, "7-unsubscribed").await;
    let row = t.region.store().subscriber(row.id).await.unwrap().unwrap();
    assert_eq!(row.status, SubscriberStatus::Unsubscribed);

    browser.quit().await.unwrap();
    served.stop().await.unwrap();
}
