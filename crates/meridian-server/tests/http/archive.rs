//! The digest archive over real HTTP: the index by day, one page per digest
//! with its insights and the region's label, the JSON versions, and 404s.

use chrono::NaiveDate;
use meridian_core::{Digest, DigestItem, Insight, RegionId, ScoreComponents};
use meridian_testkit::http;
use serde_json::Value;

use crate::helpers::{REGION, Served, TestRegion};

const LABEL: &str = "KI-generiert: automatisch ausgewählt und zusammengefasst.";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A five-insight digest for `date`; insight `n` starts at `754 + n` seconds
/// in `https://cdn.pod.example/ep{n}.mp3`, and the first names its speaker.
pub fn five_insights(date: NaiveDate) -> Digest {
    Digest {
        region: RegionId::parse(REGION).unwrap(),
        date,
        items: (1..=5)
            .map(|n| DigestItem {
                podcast: format!("Podcast {n}"),
                episode: format!("Episode {n} of {date}"),
                episode_url: Some(format!("https://pod.example/ep{n}")),
                audio_url: Some(format!("https://cdn.pod.example/ep{n}.mp3")),
                insight: Insight {
                    text: format!("Insight {n} of {date}: storage shifts solar into the evening."),
                    quote: format!("Quote {n}: by six pm the batteries carry a third of the load."),
                    start: Some(754.0 + f64::from(n)),
                    importance: 0.8,
                    why: String::new(),
                    model: "builtin".to_owned(),
                    speaker: (n == 1).then(|| "Ada Lovelace".to_owned()),
                },
                score: ScoreComponents {
                    importance: 0.8,
                    novelty: 0.9,
                    recency: 0.5,
                    total: 0.75,
                },
                language: Some("en".to_owned()),
            })
            .collect(),
        short_of_strong_insights: false,
    }
}

async fn store(t: &TestRegion, digest: &Digest) {
    t.region
        .store()
        .create_digest(digest, &[], 100)
        .await
        .unwrap();
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_page_shows_its_insights_with_audio_and_page_links_under_the_label() {
    let t = TestRegion::new("de-DE", false).await;
    let date = day(2026, 11, 27);
    store(&t, &five_insights(date)).await;
    let served = Served::start(&t).await;

    let page = http::get(served.addr, "/archive/2026-11-27").await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    assert!(body.contains("<html lang=\"de-DE\">"), "{body}");
    assert!(
        body.contains("Ihre Top 5 Podcast-Erkenntnisse — Freitag, 27. November 2026"),
        "the email's title and date: {body}"
    );
    // The label comes before the title, as in the email.
    let label_at = body.find(LABEL).expect("the region's AI label");
    assert!(label_at < body.find("<h1>").unwrap(), "label first: {body}");
    for n in 1..=5 {
        for shown in [
            format!("Insight {n} of 2026-11-27"),
            format!("Podcast {n}"),
            format!("Episode {n} of 2026-11-27"),
            format!("Quote {n}: by six pm"),
            format!(
                "href=\"https://cdn.pod.example/ep{n}.mp3#t={}\"><span aria-hidden=\"true\">▶ </span>Anhören ab 12:{}</a>",
                754 + n,
                34 + n
            ),
            format!("href=\"https://pod.example/ep{n}\">Seite der Folge</a>"),
            "Warum ausgewählt: </strong>Eine der gehaltvollsten Passagen der neuen Folgen, neu für Sie.".to_owned(),
        ] {
            assert!(body.contains(&shown), "insight {n}: {shown} in {body}");
        }
    }
    assert!(
        body.contains(
            "„Quote 1: by six pm the batteries carry a third of the load.“ \
             <span class=\"speaker\">— Ada Lovelace</span></blockquote>"
        ),
        "the speaker with the quote: {body}"
    );
    assert_eq!(body.matches("Ada Lovelace").count(), 1, "only where known");
    assert!(
        !body.contains("0.80") && !body.contains("0,80"),
        "no scores for readers"
    );
    assert_eq!(body.matches("<article").count(), 5);
    assert!(!body.contains("<script"), "no JavaScript");
    let marker = page
        .header("x-ai-generated")
        .expect("the email's machine-readable marker");
    assert!(
        marker.starts_with("generator=meridian/")
            && marker.contains("provider=builtin")
            && marker.contains(&format!("region={REGION}"))
            && marker.contains("content-id=sha256:"),
        "{marker}"
    );
    assert!(
        body.contains(&format!(
            "<meta name=\"ai-generated\" content=\"{marker}\">"
        )),
        "{body}"
    );
    assert!(
        page.header("content-security-policy")
            .is_some_and(|csp| csp.contains("default-src 'none'")),
        "the service's headers apply: {:?}",
        page.headers
    );

    // Served again (from memory): the same page.
    let again = http::get(served.addr, "/archive/2026-11-27").await.unwrap();
    assert_eq!((again.status, &again.body), (200, &page.body));

    let j = http::get(served.addr, "/archive/2026-11-27.json")
        .await
        .unwrap();
    assert_eq!(j.status, 200, "{}", j.body);
    assert!(
        j.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(j.header("x-ai-generated"), Some(marker));
    let v = json(&j.body);
    assert_eq!(v["region"], REGION);
    assert_eq!(v["date"], "2026-11-27");
    assert_eq!(v["ai_generated"]["label"], LABEL);
    assert_eq!(v["ai_generated"]["marker"], marker);
    assert!(marker.ends_with(v["content_id"].as_str().unwrap()), "{v}");
    let insights = v["insights"].as_array().unwrap();
    assert_eq!(insights.len(), 5);
    assert_eq!(insights[0]["rank"], 1);
    assert_eq!(insights[0]["podcast"], "Podcast 1");
    assert_eq!(insights[0]["start_seconds"], 755.0);
    assert_eq!(
        insights[0]["moment_url"],
        "https://cdn.pod.example/ep1.mp3#t=755"
    );
    assert_eq!(insights[0]["audio_url"], "https://cdn.pod.example/ep1.mp3");
    assert_eq!(insights[0]["episode_url"], "https://pod.example/ep1");
    assert_eq!(insights[0]["speaker"], "Ada Lovelace");
    assert_eq!(insights[1]["speaker"], Value::Null);
    assert_eq!(
        insights[0]["why_picked"],
        "Eine der gehaltvollsten Passagen der neuen Folgen, neu für Sie."
    );
    assert_eq!(
        insights[0]["score"]["importance"], 0.8,
        "the numbers stay for auditors"
    );
    assert_eq!(v["short_of_strong_insights"], false);
    assert_eq!(
        insights[4]["quote"],
        "Quote 5: by six pm the batteries carry a third of the load."
    );
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_lists_digests_newest_first_in_pages() {
    let t = TestRegion::new("en-US", false).await;
    // 25 days, stored oldest last: the order is by day.
    for d in (1..=25).rev() {
        store(&t, &five_insights(day(2026, 10, d))).await;
    }
    let served = Served::start(&t).await;
    let addr = served.addr;

    let first = http::get(addr, "/archive").await.unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    let body = &first.body;
    assert!(body.contains("<h1>Digest archive</h1>"), "{body}");
    assert!(body.contains("KI-generiert"), "the label: {body}");
    assert_eq!(body.matches("<li>").count(), 20, "{body}");
    let newest = body.find("Sunday, 25 October 2026").expect("newest day");
    let older = body.find("Tuesday, 6 October 2026").expect("20th day");
    assert!(newest < older, "newest first");
    assert!(
        !body.contains("Monday, 5 October 2026"),
        "on page 2: {body}"
    );
    assert!(body.contains("href=\"/archive/2026-10-25\""), "{body}");
    assert!(body.contains("5 insights"), "{body}");
    assert!(body.contains("Page 1 of 2"), "{body}");
    assert!(
        body.contains("href=\"/archive?page=2\" rel=\"next\""),
        "{body}"
    );
    assert!(!body.contains("rel=\"prev\""), "{body}");

    let second = http::get(addr, "/archive?page=2").await.unwrap();
    assert_eq!(second.status, 200);
    assert_eq!(second.body.matches("<li>").count(), 5, "{}", second.body);
    assert!(second.body.contains("Thursday, 1 October 2026"));
    assert!(second.body.contains("href=\"/archive\" rel=\"prev\""));

    for missing in ["/archive?page=3", "/archive?page=0", "/archive?page=x"] {
        let r = http::get(addr, missing).await.unwrap();
        assert_eq!(r.status, 404, "{missing}");
    }

    let j = http::get(addr, "/archive.json").await.unwrap();
    assert_eq!(j.status, 200, "{}", j.body);
    let v = json(&j.body);
    assert_eq!(
        (v["total"].as_i64(), v["pages"].as_i64()),
        (Some(25), Some(2))
    );
    let digests = v["digests"].as_array().unwrap();
    assert_eq!(digests.len(), 20);
    assert_eq!(digests[0]["date"], "2026-10-25");
    assert_eq!(digests[0]["insights"], 5);
    assert_eq!(digests[0]["url"], "/archive/2026-10-25");
    assert_eq!(digests[0]["json_url"], "/archive/2026-10-25.json");
    assert_eq!(v["next"], "/archive.json?page=2");
    assert_eq!(v["prev"], Value::Null);
    let v2 = json(&http::get(addr, "/archive.json?page=2").await.unwrap().body);
    assert_eq!(v2["digests"][4]["date"], "2026-10-01");
    assert_eq!(v2["next"], Value::Null);
    assert_eq!(v2["prev"], "/archive.json");
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_archive_says_so_and_unknown_days_are_404_in_the_regions_language() {
    let t = TestRegion::new("zh-CN", false).await;
    let served = Served::start(&t).await;
    let addr = served.addr;

    let empty = http::get(addr, "/archive").await.unwrap();
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("暂无摘要"), "{}", empty.body);
    let v = json(&http::get(addr, "/archive.json").await.unwrap().body);
    assert_eq!(
        (v["total"].as_i64(), v["pages"].as_i64()),
        (Some(0), Some(1))
    );

    for target in [
        "/archive/2026-11-28",
        "/archive/2026-1-2",
        "/archive/yesterday",
    ] {
        let r = http::get(addr, target).await.unwrap();
        assert_eq!(r.status, 404, "{target}");
        assert!(r.body.contains("<html lang=\"zh-CN\">"), "{}", r.body);
        assert!(r.body.contains("页面不存在"), "{}", r.body);
    }
    let r = http::get(addr, "/archive/2026-11-28.json").await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(json(&r.body)["error"], "not_found");
    assert_eq!(json(&r.body)["detail"], "no digest for 2026-11-28");

    // A digest made later is found at once: a 404 is not remembered.
    store(&t, &five_insights(day(2026, 11, 28))).await;
    let found = http::get(addr, "/archive/2026-11-28").await.unwrap();
    assert_eq!(found.status, 200);
    assert!(
        found.body.contains("2026年11月28日 星期六"),
        "{}",
        found.body
    );
    served.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_text_is_escaped_and_only_web_links_are_linked() {
    let t = TestRegion::new("en-US", false).await;
    let mut digest = five_insights(day(2026, 11, 28));
    digest.items[0].insight.text = "<script>alert(1)</script> & more".to_owned();
    digest.items[1].episode_url = Some("javascript:alert(1)".to_owned());
    digest.items[2].audio_url = Some("javascript:alert(2)".to_owned());
    store(&t, &digest).await;
    let served = Served::start(&t).await;
    let page = http::get(served.addr, "/archive/2026-11-28").await.unwrap();
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("javascript:"), "{}", page.body);
    let v = json(
        &http::get(served.addr, "/archive/2026-11-28.json")
            .await
            .unwrap()
            .body,
    );
    assert_eq!(
        v["insights"][1]["moment_url"], "https://cdn.pod.example/ep2.mp3#t=756",
        "the audio still links"
    );
    assert_eq!(v["insights"][2]["moment_url"], Value::Null);
    served.stop().await.unwrap();
}
