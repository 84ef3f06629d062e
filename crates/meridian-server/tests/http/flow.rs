//! Subscribe → confirm (the link from the email the SMTP server received) →
//! digest → one-click unsubscribe, over HTTP against the running service.

use chrono::NaiveDate;
use meridian_core::SubscriberEmail;
use meridian_store::SubscriberStatus;
use meridian_testkit::http;

use crate::helpers::{BASE_URL, Served, TestRegion, local_target, post_subscribe_form};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_confirm_and_one_click_unsubscribe_over_http() {
    let t = TestRegion::new("de-DE", true).await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    let ada = SubscriberEmail::parse("ada@fx.example.com").unwrap();

    // The form, in the region's language, without JavaScript.
    let page = http::get(addr, "/subscribe").await.unwrap();
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html lang=\"de-DE\">"), "{}", page.body);
    assert!(
        page.body.contains("name=\"email\"") && !page.body.contains("<script"),
        "{}",
        page.body
    );

    // Subscribing answers at once; the confirmation email follows.
    let sent = post_subscribe_form(addr, "email=ada%40fx.example.com")
        .await
        .unwrap();
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(
        sent.body.contains("Bitte prüfen Sie Ihr Postfach"),
        "{}",
        sent.body
    );
    let row = t
        .region
        .store()
        .subscriber_by_email(&ada)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status, row.locale.as_deref()),
        (SubscriberStatus::Unconfirmed, None),
        "the region's locale by default"
    );

    let mail = t.wait_for_mail("ada@fx.example.com", 1).await.remove(0);
    assert!(
        mail.subject().starts_with("Bitte bestätigen"),
        "{}",
        mail.subject()
    );
    assert!(mail.text.is_some() && mail.html.is_some(), "both parts");
    let unsubscribe_targets = angle_list(
        mail.header("List-Unsubscribe")
            .expect("List-Unsubscribe on the confirmation email"),
    );
    assert!(
        unsubscribe_targets[0].starts_with(&format!("{BASE_URL}/unsubscribe?token=u.")),
        "{unsubscribe_targets:?}"
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(
        mail.header("X-AI-Generated"),
        None,
        "the confirmation email is not AI-generated"
    );
    let confirm = mail
        .link_containing("/confirm?token=")
        .expect("a confirm link in the text part");

    // A link scanner or a second click: confirming is idempotent.
    let confirmed = http::get(addr, &local_target(&confirm)).await.unwrap();
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert!(
        confirmed.body.contains("Abonnement bestätigt"),
        "{}",
        confirmed.body
    );
    let again = http::get(addr, &local_target(&confirm)).await.unwrap();
    assert_eq!(again.status, 200);
    assert!(again.body.contains("bereits bestätigt"), "{}", again.body);
    let row = t.region.store().subscriber(row.id).await.unwrap().unwrap();
    assert_eq!(row.status, SubscriberStatus::Confirmed);

    // The day's digest arrives with its own one-click link.
    let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    t.store_digest(day).await;
    assert_eq!(t.region.deliver_digest(day).await.unwrap().get("sent"), 1);
    let digest = t.wait_for_mail("ada@fx.example.com", 2).await.remove(1);
    let one_click = angle_list(digest.header("List-Unsubscribe").unwrap()).remove(0);
    assert_eq!(
        digest.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );

    // What a mail provider sends for one-click: a POST with that body and
    // nothing else: no cookie, no CSRF token, no earlier visit.
    let target = local_target(&one_click);
    let done = http::post_form(addr, &target, "List-Unsubscribe=One-Click")
        .await
        .unwrap();
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.header("location"), None, "RFC 8058: no redirect");
    assert!(done.body.contains("Sie sind abgemeldet"), "{}", done.body);
    assert_eq!(
        t.region
            .store()
            .subscriber(row.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        SubscriberStatus::Unsubscribed
    );
    let twice = http::post_form(addr, &target, "List-Unsubscribe=One-Click")
        .await
        .unwrap();
    assert_eq!(twice.status, 200, "idempotent");

    // After it the address gets nothing more.
    let next_day = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    t.store_digest(next_day).await;
    let counts = t.region.deliver_digest(next_day).await.unwrap();
    assert_eq!(counts.get("sent"), 0, "{counts:?}");
    assert_eq!(
        t.smtp
            .as_ref()
            .unwrap()
            .messages_to("ada@fx.example.com")
            .len(),
        2
    );

    // The confirm link from before the unsubscription no longer subscribes.
    let stale = http::get(addr, &local_target(&confirm)).await.unwrap();
    assert_eq!(stale.status, 400, "{}", stale.body);
    assert_eq!(
        t.region
            .store()
            .subscriber(row.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        SubscriberStatus::Unsubscribed
    );

    served.stop().await.unwrap();

    // Stopping wrote what the service still held and signed the chain: it
    // verifies with no unsigned tail, and holds the flow's consent changes
    // and emails by keyed hash, never the address.
    let verified = t.region.audit().verify(None).await.unwrap();
    assert!(verified.is_intact(), "{:?}", verified.problems);
    assert_eq!(
        verified.unsigned_tail, None,
        "signed at shutdown: {verified:?}"
    );
    let records = t.region.store().audit_rows(0, 10_000).await.unwrap();
    let texts: Vec<&str> = records.iter().map(|r| r.record.as_str()).collect();
    for change in ["signed_up", "confirmed", "unsubscribed"] {
        assert!(
            texts
                .iter()
                .any(|r| r.contains("subscription_change") && r.contains(change)),
            "a {change} record"
        );
    }
    assert!(texts.iter().any(|r| r.contains("\"email_send\"")));
    assert!(!texts.iter().any(|r| r.contains("ada@fx.example.com")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_answers_the_same_whether_or_not_the_address_is_known() {
    let t = TestRegion::new("en-US", true).await;
    let served = Served::start(&t).await;
    let addr = served.addr;
    t.region
        .store()
        .add_subscriber(
            &SubscriberEmail::parse("known@fx.example.com").unwrap(),
            SubscriberStatus::Confirmed,
            None,
            "cli",
            1,
        )
        .await
        .unwrap();

    let known = post_subscribe_form(addr, "email=known%40fx.example.com")
        .await
        .unwrap();
    let new = post_subscribe_form(addr, "email=new%40fx.example.com")
        .await
        .unwrap();
    assert_eq!(
        (known.status, &known.body),
        (new.status, &new.body),
        "the same page"
    );
    let known = http::post_json(
        addr,
        "/api/v1/subscribe",
        r#"{"email":"known@fx.example.com"}"#,
    )
    .await
    .unwrap();
    let new = http::post_json(
        addr,
        "/api/v1/subscribe",
        r#"{"email":"other@fx.example.com","locale":"zh-CN"}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        (known.status, &known.body),
        (new.status, &new.body),
        "the same JSON"
    );
    assert_eq!(new.status, 202);

    // Only the new addresses get a confirmation email; the chosen locale is kept.
    t.wait_for_mail("new@fx.example.com", 1).await;
    let zh = t.wait_for_mail("other@fx.example.com", 1).await.remove(0);
    assert!(zh.subject().contains("确认订阅"), "{}", zh.subject());
    let other = t
        .region
        .store()
        .subscriber_by_email(&SubscriberEmail::parse("other@fx.example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.locale.as_deref(), Some("zh-CN"));
    assert!(
        t.smtp
            .as_ref()
            .unwrap()
            .messages_to("known@fx.example.com")
            .is_empty()
    );

    // Sending the form again at once queues no second email.
    let again = post_subscribe_form(addr, "email=new%40fx.example.com")
        .await
        .unwrap();
    assert_eq!(again.status, 200);
    let new = t
        .region
        .store()
        .subscriber_by_email(&SubscriberEmail::parse("new@fx.example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        t.region
            .store()
            .confirmations_of(new.id)
            .await
            .unwrap()
            .len(),
        1,
        "cool-down"
    );
    served.stop().await.unwrap();
}
