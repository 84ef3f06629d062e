//! Hostile `podcast:transcript` links: the episode falls back to its show
//! notes and the run completes.

use chrono::{Duration, Utc};
use meridian_core::TranscriptSource;
use meridian_store::EpisodeStatus;

use crate::helpers::{Feed, GIB, Harness};

/// A new episode, published an hour ago, whose transcript is at `transcript`.
fn item(guid: &str, title: &str, transcript: &str) -> String {
    let published = (Utc::now() - Duration::hours(1)).to_rfc2822();
    format!(
        r#"<item>
      <title>{title}</title>
      <guid isPermaLink="false">{guid}</guid>
      <pubDate>{published}</pubDate>
      <description><![CDATA[<p>Maya and Daniel walk through the incident review of a payment outage that lasted forty minutes.
The root cause was a retry storm: every client retried three times with no jitter, so the recovering database saw four times its normal load.
They explain why exponential backoff with full jitter fixed it, and why the team now caps retries at the load balancer.
The second half covers how they rewrote the runbook so that the on-call engineer can shed load in under five minutes.</p>]]></description>
      <enclosure url="https://media.example.org/{guid}.mp3" length="1000" type="audio/mpeg"/>
      <podcast:transcript url="{transcript}" type="text/vtt" language="en"/>
    </item>
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_transcript_links_fall_back_to_show_notes() {
    let h = Harness::start().await;
    let first = h.good_run().await;
    let base = h.server.base();
    let items = [
        item(
            "hostile-huge",
            "A Gigabyte of Captions",
            &format!("{base}/huge.vtt"),
        ),
        item(
            "hostile-metadata",
            "Captions from the Metadata Service",
            &format!("{base}/to-metadata.vtt"),
        ),
    ]
    .concat();
    h.set_feed(Feed::GoodWith(items));
    let second = h.run().await;

    assert_eq!(
        second.report.feeds.get("fetched"),
        1,
        "{:?}",
        second.report.feed_errors
    );
    assert_eq!(
        second.report.feeds.get("new_episodes"),
        2,
        "{:?}",
        second.report.feeds
    );
    assert_eq!(
        second.report.transcripts.get("failed"),
        2,
        "{:?}",
        second.report.transcripts
    );
    assert_eq!(
        second.report.transcripts.get("show_notes"),
        2,
        "{:?}",
        second.report.transcripts
    );
    assert_eq!(
        second.feed.failure_count, 0,
        "the feed itself is fine: {:?}",
        second.feed.last_error
    );
    for title in [
        "A Gigabyte of Captions",
        "Captions from the Metadata Service",
    ] {
        let ep = second.stored.episode(title);
        assert_eq!(ep.status, EpisodeStatus::Extracted, "{title}");
        assert_eq!(ep.transcript, Some(TranscriptSource::ShowNotes), "{title}");
        assert!(
            !ep.insights.is_empty(),
            "{title}: insights from the show notes"
        );
    }
    // The episodes of the first run are untouched, and so is the day's digest.
    for before in &first.stored.episodes {
        assert_eq!(second.stored.episode(&before.title), before);
    }
    assert_eq!(second.stored.digest, first.stored.digest);
    // The gigabyte was cut off at the cap.
    assert!(
        h.server.streamed() < GIB / 8,
        "{} bytes were produced",
        h.server.streamed()
    );
}
