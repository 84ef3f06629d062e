//! What a subscriber's mail server receives.

use meridian_runtime::DeliveryStep;

use crate::helpers::{Harness, LABEL};

/// `<a>, <b>` → `[a, b]`.
fn angle_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|p| {
            p.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .collect()
}

/// Text as the HTML templates escape it.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

#[tokio::test]
async fn a_digest_arrives_with_both_unsubscribe_headers_the_label_and_the_marker() {
    let h = Harness::start(5).await;
    let ada = h.add_confirmed("ada@dx.example.com", None).await;
    h.add_confirmed("li.lei@dx.example.com", Some("zh-CN"))
        .await;
    let digest = h.store_digest().await;

    let counts = h.region.deliver_digest(h.date).await.unwrap();
    assert_eq!(counts.get(DeliveryStep::Sent.as_str()), 2, "{counts:?}");

    let got = h.smtp.messages_to("ada@dx.example.com");
    assert_eq!(got.len(), 1, "one email to ada");
    let mail = &got[0];

    // RFC 2369 / RFC 8058: the one-click URL first, then the mailto form;
    // the POST header says it is one-click.
    let targets = angle_list(mail.header("List-Unsubscribe").expect("List-Unsubscribe"));
    assert_eq!(targets.len(), 2, "{targets:?}");
    let token = targets[0]
        .strip_prefix("https://dx.example/unsubscribe?token=")
        .unwrap_or_else(|| panic!("{targets:?}"));
    assert!(
        token.starts_with(&format!("u.{ada}.")),
        "the subscriber's own link: {token}"
    );
    assert_eq!(
        targets[1],
        format!("mailto:unsubscribe+{token}@dx.example.com")
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    h.region
        .check_unsubscribe_link(token, chrono::Utc::now().timestamp())
        .await
        .unwrap();

    // The machine-readable marker: generator, provider, model, region, content id.
    let marker = mail.header("X-AI-Generated").expect("X-AI-Generated");
    for part in [
        format!("generator=meridian/{}", env!("CARGO_PKG_VERSION")),
        "provider=builtin".to_owned(),
        "model=builtin".to_owned(),
        "region=dx".to_owned(),
        format!("content-id=sha256:{}", digest.content_hash().to_hex()),
    ] {
        assert!(marker.contains(&part), "`{part}` in {marker}");
    }

    // Both parts, the label at the top of each, all five insights, the link.
    assert!(
        mail.content_types
            .contains(&"multipart/alternative".to_owned()),
        "{:?}",
        mail.content_types
    );
    let text = mail.text.as_deref().expect("a text/plain part");
    let html = mail.html.as_deref().expect("a text/html part");
    assert!(text.starts_with(LABEL), "the label first: {text}");
    let label_at = html.find(LABEL).expect("the label in the HTML");
    let title_at = html.find("<h1").expect("a heading");
    assert!(label_at < title_at, "the label above the heading");
    for item in &digest.items {
        assert!(text.contains(&item.insight.text), "{}", item.insight.text);
        assert!(
            html.contains(&escaped(&item.insight.text)),
            "{}",
            item.insight.text
        );
    }
    let line = |wanted: &str| text.lines().any(|l| l.trim() == wanted);
    assert!(
        line("Listen at 12:34: https://cdn.pod.example/1.mp3#t=754"),
        "a link to the moment in the episode's audio: {text}"
    );
    assert!(
        line("Episode page: https://pod.example/1"),
        "the episode's page beside it: {text}"
    );
    assert!(
        html.contains("href=\"https://cdn.pod.example/1.mp3#t=754\"")
            && html.contains("href=\"https://pod.example/1\""),
        "both links in the HTML"
    );
    assert!(
        text.contains("“By six pm the batteries carry a third of the load.” — Ada Lovelace"),
        "the speaker with the quote: {text}"
    );
    assert!(
        !text.contains("importance") && text.contains("Why this was picked: "),
        "the reason in words: {text}"
    );
    assert!(
        text.contains(&targets[0]),
        "the unsubscribe link in the text"
    );
    assert!(
        html.contains(&targets[0]),
        "the unsubscribe link in the HTML"
    );
    assert!(
        mail.header("Message-ID")
            .is_some_and(|id| id.ends_with("@dx.example.com>"))
    );
    // The same digest on the region's web archive (`meridian serve`).
    let archive = format!("https://dx.example/archive/{}", h.date);
    assert!(text.contains(&archive), "the archive link in the text");
    assert!(html.contains(&archive), "the archive link in the HTML");

    // The other subscriber reads it in their own locale, with their own link.
    let li = &h.smtp.messages_to("li.lei@dx.example.com")[0];
    assert!(li.subject().contains("今日播客"), "{}", li.subject());
    let li_link = &angle_list(li.header("List-Unsubscribe").unwrap())[0];
    assert_ne!(li_link, &targets[0]);

    // Sending the day again sends nothing.
    let again = h.region.deliver_digest(h.date).await.unwrap();
    assert_eq!(
        (again.get("sent"), again.get("already_sent")),
        (0, 2),
        "{again:?}"
    );
    assert_eq!(h.smtp.messages().len(), 2);
}

#[tokio::test]
async fn an_unsubscribed_address_gets_nothing_more() {
    let h = Harness::start(5).await;
    h.add_confirmed("ada@dx.example.com", None).await;
    h.add_confirmed("grace@dx.example.com", None).await;
    h.store_digest().await;
    let mut delivery = h.region.start_delivery(h.date).await.unwrap().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        h.region.deliver_next(&mut delivery, now).await.unwrap(),
        Some(DeliveryStep::Sent)
    );

    // Grace follows the link of an email (here: one signed for her now)
    // while the run is still going.
    let grace = h
        .region
        .store()
        .subscriber_by_email(
            &meridian_core::SubscriberEmail::parse("grace@dx.example.com").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let link = h.region.unsubscribe_link(grace.id, &grace.email, now);
    let token = link.https.rsplit_once("token=").unwrap().1;
    h.region.unsubscribe(token, now).await.unwrap();

    assert_eq!(
        h.region.deliver_next(&mut delivery, now).await.unwrap(),
        Some(DeliveryStep::NotConfirmed)
    );
    assert!(h.smtp.messages_to("grace@dx.example.com").is_empty());
    assert_eq!(h.smtp.messages().len(), 1);
}
