use chrono::{NaiveDate, TimeZone as _, Utc};
use meridian_core::{
    Digest, DigestItem, EpisodeGuid, EpisodeMeta, GuidSource, Insight, RegionId, ScoreComponents,
    Segment, SubscriberEmail, Transcript, TranscriptFormat, TranscriptSource,
};
use meridian_store::{
    DeliveryClaim, EpisodeStatus, FeedFailure, FeedSuccess, ModelCallRecord, StoreError,
    SubscriberStatus,
};

use crate::store_test;

fn episode(guid: &str) -> EpisodeMeta {
    EpisodeMeta {
        guid: EpisodeGuid(guid.to_owned()),
        guid_source: GuidSource::Guid,
        title: format!("Episode {guid}"),
        published: Some(Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap()),
        link: Some(format!("https://pod.example/{guid}")),
        description: "Notes".to_owned(),
        enclosure: None,
        duration_secs: Some(600),
        transcripts: vec![],
        chapters_url: None,
        persons: vec![],
        language: Some("en".to_owned()),
    }
}

fn transcript(text: &str) -> Transcript {
    Transcript {
        source: TranscriptSource::Feed(TranscriptFormat::Vtt),
        language: Some("en".to_owned()),
        segments: vec![Segment {
            start: Some(1.5),
            end: Some(4.0),
            speaker: Some("Ada".to_owned()),
            text: text.to_owned(),
        }],
    }
}

fn insight(text: &str) -> Insight {
    Insight {
        text: text.to_owned(),
        quote: text.to_owned(),
        start: Some(1.5),
        importance: 0.8,
        why: String::new(),
        model: "builtin".to_owned(),
        speaker: None,
    }
}

store_test!(
    a_store_refuses_a_database_stamped_for_another_region,
    |db| {
        let us = db.open("us").await.unwrap();
        us.close().await;
        let err = db.open("cn").await.unwrap_err();
        assert!(
            matches!(err, StoreError::WrongRegion { ref stamped, .. } if stamped == "us"),
            "{err}"
        );
        assert!(err.to_string().contains("another region"), "{err}");
        // The rightful region still opens it, and migrations are idempotent.
        db.open("us").await.unwrap().close().await;
    }
);

store_test!(feeds_are_added_once_and_keep_their_polling_state, |db| {
    let s = db.open("us").await.unwrap();
    let (feed, added) = s
        .add_feed("https://pod.example/feed.xml", Some("Pod"), "cli", 100)
        .await
        .unwrap();
    assert!(added);
    let (again, added_again) = s
        .add_feed("https://pod.example/feed.xml", None, "opml", 200)
        .await
        .unwrap();
    assert!(!added_again);
    assert_eq!(again.id, feed.id);
    assert_eq!(s.feeds_due(100).await.unwrap().len(), 1);
    s.record_feed_success(
        feed.id,
        &FeedSuccess {
            title: Some("Pod!"),
            etag: Some("\"v1\""),
            last_modified: None,
            new_url: None,
            blocked: false,
            next_check_at: 5000,
        },
        150,
    )
    .await
    .unwrap();
    assert!(
        s.feeds_due(1000).await.unwrap().is_empty(),
        "not due before next_check_at"
    );
    s.record_feed_failure(
        feed.id,
        &FeedFailure {
            kind: "gone",
            error: "410",
            next_check_at: 0,
            disable: true,
        },
        200,
    )
    .await
    .unwrap();
    let row = s
        .feed_by_url("https://pod.example/feed.xml")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            row.title.as_deref(),
            row.etag.as_deref(),
            row.failure_count,
            row.disabled
        ),
        (Some("Pod!"), Some("\"v1\""), 1, true)
    );
    assert_eq!(row.last_failure_kind.as_deref(), Some("gone"));
    assert!(
        s.feeds_due(10_000).await.unwrap().is_empty(),
        "a disabled feed is never due"
    );
    assert!(s.remove_feed("https://pod.example/feed.xml").await.unwrap());
    s.close().await;
});

store_test!(episodes_are_new_once_by_feed_and_guid, |db| {
    let s = db.open("us").await.unwrap();
    let (feed, _) = s
        .add_feed("https://pod.example/feed.xml", None, "cli", 1)
        .await
        .unwrap();
    let eps = vec![episode("a"), episode("b"), episode("c")];
    let first = s
        .insert_episodes(feed.id, &eps, 10, |i, _| i < 2)
        .await
        .unwrap();
    assert_eq!((first.queued, first.archived), (2, 1));
    let second = s
        .insert_episodes(feed.id, &eps, 20, |_, _| true)
        .await
        .unwrap();
    assert_eq!(
        (second.queued, second.archived),
        (0, 0),
        "nothing is new twice"
    );
    let new = s.episodes_with_status(&[EpisodeStatus::New]).await.unwrap();
    assert_eq!(
        new.iter()
            .map(|e| e.meta.guid.0.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(new[0].meta, eps[0], "metadata round-trips");
    s.close().await;
});

store_test!(insights_are_cached_by_transcript_content, |db| {
    let s = db.open("eu").await.unwrap();
    let (feed, _) = s
        .add_feed("https://pod.example/feed.xml", None, "cli", 1)
        .await
        .unwrap();
    s.insert_episodes(feed.id, &[episode("a"), episode("b")], 10, |_, _| true)
        .await
        .unwrap();
    let eps = s.episodes_with_status(&[EpisodeStatus::New]).await.unwrap();
    let t = transcript("Batteries got cheaper because factories scaled.");
    let hash = s.save_transcript(eps[0].id, &t, 11).await.unwrap();
    assert_eq!(s.transcript(eps[0].id).await.unwrap(), Some(t.clone()));
    assert_eq!(
        s.episodes_with_status(&[EpisodeStatus::Transcribed])
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s.cached_extraction(&hash).await.unwrap().is_none());
    // Speakers known and unknown, in both orders, so that a NULL bound
    // before and after a name is stored as NULL.
    let spoken = |text: &str, speaker: Option<&str>| Insight {
        speaker: speaker.map(str::to_owned),
        ..insight(text)
    };
    let ins = vec![
        spoken("Batteries got cheaper because factories scaled.", None),
        spoken(
            "Sodium cells cost thirty percent less than lithium ones.",
            Some("Ada"),
        ),
        spoken("Grid storage doubles every two years in China.", None),
        spoken(
            "Cold weather halves the range of older packs.",
            Some("Ada Lovelace"),
        ),
    ];
    s.save_insights(eps[0].id, &hash, "builtin", &ins, 12)
        .await
        .unwrap();
    assert_eq!(
        s.insights_of(eps[0].id).await.unwrap(),
        ins,
        "every insight keeps its speaker, or none"
    );
    // Another episode with the same content finds the cache.
    let hash_b = s.save_transcript(eps[1].id, &t, 13).await.unwrap();
    assert_eq!(hash_b, hash);
    assert_eq!(
        s.cached_extraction(&hash).await.unwrap(),
        Some(("builtin".to_owned(), ins))
    );
    s.close().await;
});

store_test!(
    a_day_has_one_digest_and_each_subscriber_one_delivery,
    |db| {
        let s = db.open("cn").await.unwrap();
        let (feed, _) = s
            .add_feed("https://pod.example/feed.xml", Some("播客"), "cli", 1)
            .await
            .unwrap();
        s.insert_episodes(feed.id, &[episode("a")], 10, |_, _| true)
            .await
            .unwrap();
        let ep = s
            .episodes_with_status(&[EpisodeStatus::New])
            .await
            .unwrap()
            .remove(0);
        let t = transcript("因为规模效应，电池成本下降了。");
        let hash = s.save_transcript(ep.id, &t, 11).await.unwrap();
        s.save_insights(
            ep.id,
            &hash,
            "builtin",
            &[insight("因为规模效应，电池成本下降了。")],
            12,
        )
        .await
        .unwrap();
        let cands = s.digest_candidates(0).await.unwrap();
        assert_eq!(cands.len(), 1);
        assert_eq!(cands[0].podcast, "播客");
        assert_eq!(
            cands[0].transcript_language.as_deref(),
            Some("en"),
            "the transcript's declared language comes with the candidate"
        );

        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let item = DigestItem {
            podcast: "播客".into(),
            episode: ep.meta.title.clone(),
            episode_url: None,
            audio_url: Some("https://cdn.pod.example/a.mp3".into()),
            insight: cands[0].insights[0].clone(),
            score: ScoreComponents {
                importance: 0.8,
                novelty: 1.0,
                recency: 1.0,
                total: 0.9,
            },
            language: Some("zh-cn".into()),
        };
        let digest = Digest {
            region: RegionId::parse("cn").unwrap(),
            date,
            items: vec![item],
            short_of_strong_insights: false,
        };
        let stored = s.create_digest(&digest, &[ep.id], 100).await.unwrap();
        assert_eq!(stored.digest, digest);
        let mut other = digest.clone();
        other.items.clear();
        let again = s.create_digest(&other, &[], 200).await.unwrap();
        assert_eq!(again.id, stored.id);
        assert_eq!(again.digest, digest, "the first digest of the day stands");
        assert!(
            s.digest_candidates(0).await.unwrap().is_empty(),
            "a featured episode is no longer a candidate"
        );
        assert_eq!(
            s.recent_digest_texts(0).await.unwrap(),
            vec!["因为规模效应，电池成本下降了。".to_owned()]
        );

        let email = SubscriberEmail::parse("li@cn.example.com").unwrap();
        let (sub, added) = s
            .add_subscriber(&email, SubscriberStatus::Confirmed, None, "config", 1)
            .await
            .unwrap();
        assert!(added);
        assert!(
            !s.add_subscriber(&email, SubscriberStatus::Confirmed, None, "config", 2)
                .await
                .unwrap()
                .1
        );
        let claim = s
            .claim_delivery(stored.id, sub.id, "<m1@cn>", 300)
            .await
            .unwrap();
        assert_eq!(
            claim,
            DeliveryClaim::Send {
                message_id: "<m1@cn>".into(),
                attempts: 0
            }
        );
        s.mark_delivery_failed(stored.id, sub.id, "451 try later", false)
            .await
            .unwrap();
        let retry = s
            .claim_delivery(stored.id, sub.id, "<other@cn>", 301)
            .await
            .unwrap();
        assert_eq!(
            retry,
            DeliveryClaim::Send {
                message_id: "<m1@cn>".into(),
                attempts: 1
            },
            "same Message-ID on retry"
        );
        s.mark_delivery_sent(stored.id, sub.id, "outbox", 302)
            .await
            .unwrap();
        assert_eq!(
            s.claim_delivery(stored.id, sub.id, "<m1@cn>", 303)
                .await
                .unwrap(),
            DeliveryClaim::AlreadySent
        );
        assert!(
            s.set_subscriber_status(&email, SubscriberStatus::Unsubscribed, 400)
                .await
                .unwrap()
        );
        assert!(
            s.subscribers_with_status(SubscriberStatus::Confirmed)
                .await
                .unwrap()
                .is_empty()
        );
        s.close().await;
    }
);

store_test!(
    tokens_spent_since_a_time_add_up_every_call_from_then_on,
    |db| {
        let s = db.open("us").await.unwrap();
        assert_eq!(
            s.model_tokens_since(0).await.unwrap(),
            0,
            "nothing spent yet"
        );
        let call = |at: i64, input: i64, output: i64| ModelCallRecord {
            at,
            role: "insight",
            model: "gpt",
            provider: "openai",
            hosted_in: "US",
            content_hash: None,
            input_tokens: input,
            output_tokens: output,
            latency_ms: 5,
            outcome: "ok",
            detail: None,
        };
        // Large enough that a 32-bit sum would overflow.
        s.record_model_call(&call(100, 3_000_000_000, 1))
            .await
            .unwrap();
        s.record_model_call(&call(200, 812, 97)).await.unwrap();
        s.record_model_call(&call(300, 0, 0)).await.unwrap();
        assert_eq!(
            s.model_tokens_since(0).await.unwrap(),
            3_000_000_000 + 1 + 812 + 97
        );
        assert_eq!(
            s.model_tokens_since(200).await.unwrap(),
            812 + 97,
            "calls before the day started do not count"
        );
        assert_eq!(s.model_tokens_since(301).await.unwrap(), 0);
        s.close().await;
    }
);

store_test!(
    retention_deletes_only_what_is_older_than_the_cut_off,
    |db| {
        let s = db.open("eu").await.unwrap();
        let (feed, _) = s
            .add_feed("https://pod.example/feed.xml", None, "cli", 1)
            .await
            .unwrap();
        s.insert_episodes(feed.id, &[episode("old"), episode("new")], 10, |_, _| true)
            .await
            .unwrap();
        let eps = s.episodes_with_status(&[EpisodeStatus::New]).await.unwrap();
        let old_hash = s
            .save_transcript(eps[0].id, &transcript("Old words because reasons."), 100)
            .await
            .unwrap();
        s.save_insights(
            eps[0].id,
            &old_hash,
            "builtin",
            &[insight("Old words because reasons.")],
            100,
        )
        .await
        .unwrap();
        let new_hash = s
            .save_transcript(eps[1].id, &transcript("New words because reasons."), 1000)
            .await
            .unwrap();
        s.save_insights(
            eps[1].id,
            &new_hash,
            "builtin",
            &[insight("New words because reasons.")],
            1000,
        )
        .await
        .unwrap();

        let out = s.apply_retention(Some(500), Some(500)).await.unwrap();
        assert_eq!(
            (out.transcripts, out.insights, out.cached_extractions),
            (1, 1, 1)
        );
        assert!(s.transcript(eps[0].id).await.unwrap().is_none());
        assert!(s.insights_of(eps[0].id).await.unwrap().is_empty());
        assert!(
            s.transcript(eps[1].id).await.unwrap().is_some(),
            "newer data is kept"
        );
        assert_eq!(s.insights_of(eps[1].id).await.unwrap().len(), 1);
        assert!(s.cached_extraction(&new_hash).await.unwrap().is_some());
        assert_eq!(
            s.apply_retention(None, None).await.unwrap(),
            meridian_store::RetentionOutcome::default()
        );
        s.close().await;
    }
);

store_test!(
    erasing_a_subscriber_removes_the_person_and_their_deliveries,
    |db| {
        let s = db.open("eu").await.unwrap();
        let ada = SubscriberEmail::parse("ada@eu.example.com").unwrap();
        let bob = SubscriberEmail::parse("bob@eu.example.com").unwrap();
        let (a, _) = s
            .add_subscriber(&ada, SubscriberStatus::Confirmed, None, "cli", 1)
            .await
            .unwrap();
        s.add_subscriber(&bob, SubscriberStatus::Confirmed, None, "cli", 1)
            .await
            .unwrap();
        let digest = Digest {
            region: RegionId::parse("eu").unwrap(),
            date: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            items: vec![],
            short_of_strong_insights: false,
        };
        let d = s.create_digest(&digest, &[], 5).await.unwrap();
        s.claim_delivery(d.id, a.id, "<m@eu>", 6).await.unwrap();
        s.mark_delivery_sent(d.id, a.id, "outbox", 7).await.unwrap();

        let out = s.erase_subscriber(&ada).await.unwrap();
        assert_eq!((out.found, out.deliveries), (true, 1));
        let left: Vec<String> = s
            .list_subscribers()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.email.as_str().to_owned())
            .collect();
        assert_eq!(left, ["bob@eu.example.com"]);
        assert!(s.deliveries_of(d.id).await.unwrap().is_empty());
        assert!(
            !s.erase_subscriber(&ada).await.unwrap().found,
            "erasing twice finds nothing"
        );
        s.close().await;
    }
);

store_test!(
    insights_with_and_without_a_time_are_stored_side_by_side,
    |db| {
        // Regression: on PostgreSQL a NULL `start_secs` followed by a timed
        // insight on the same connection failed with "incorrect binary data
        // format" (sqlx's `Any` driver typed the NULL as `float4`).
        let s = db.open("us").await.unwrap();
        let (feed, _) = s
            .add_feed("https://pod.example/feed.xml", None, "cli", 1)
            .await
            .unwrap();
        s.insert_episodes(feed.id, &[episode("a"), episode("b")], 2, |_, _| true)
            .await
            .unwrap();
        let eps = s.episodes_with_status(&[EpisodeStatus::New]).await.unwrap();
        let untimed = Insight {
            start: None,
            ..insight("From the show notes, without a time.")
        };
        let timed = insight("A timed insight.");
        for (ep, list) in eps.iter().zip([
            vec![untimed.clone(), timed.clone()],
            vec![timed.clone(), untimed.clone()],
        ]) {
            let hash = transcript(&ep.meta.title).content_hash();
            s.save_insights(ep.id, &hash, "builtin", &list, 3)
                .await
                .unwrap();
            assert_eq!(s.insights_of(ep.id).await.unwrap(), list);
        }
        s.close().await;
    }
);
