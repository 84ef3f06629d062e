//! The digest a real run makes from the sample podcasts with the builtin
//! engine: only episodes in the languages the region's readers read (the rest
//! counted in the run report), spread over shows, each pick linking to the
//! moment in the episode's audio and to the episode's page.

use std::collections::HashSet;
use std::sync::Mutex;

use meridian_core::format_offset;
use meridian_digest::render::{RenderContext, render_digest};
use meridian_runtime::{Region, RunOptions};
use meridian_store::EpisodeStatus;

use crate::support::{FeedServer, region, repo};

fn us_toml(feeds: &FeedServer) -> String {
    format!(
        r#"
id = "us"
jurisdiction = "US"
locale = "en-US"
timezone = "America/New_York"
digest_hour = 7

[storage]
url = "sqlite://{{data_dir}}/us.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[egress]
allow = ["{feed_host}"]

[mail]
from = "Meridian <digest@us.meridian.example.com>"
ai_label = "AI-generated."
"#,
        feed_host = feeds.host(),
    )
}

/// Adds the feeds of every region's sample list (`demo/*.opml`): English,
/// German and Chinese shows.
async fn add_every_sample_feed(region: &Region, feeds: &FeedServer) {
    for list in ["us", "eu", "cn"] {
        let opml = std::fs::read_to_string(repo().join("demo").join(format!("{list}.opml")))
            .unwrap()
            .replace("{{base_url}}", &feeds.base);
        for outline in meridian_ingest::parse_opml(opml.as_bytes(), "demo").unwrap() {
            region
                .store()
                .add_feed(&outline.xml_url, outline.title.as_deref(), "test", 0)
                .await
                .unwrap();
        }
    }
}

fn primary(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_the_regions_languages_spreads_over_shows_and_links_the_audio() {
    let feeds = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (config_dir, data_dir) = (dir.path().join("regions"), dir.path().join("data"));
    std::fs::create_dir_all(&config_dir).unwrap();
    let us = region(&config_dir, &data_dir, "us", &us_toml(&feeds)).await;
    assert_eq!(
        us.config().digest.languages,
        ["en"],
        "the default: the locale's language"
    );
    add_every_sample_feed(&us, &feeds).await;

    let mut options = RunOptions::today(&us);
    options.import_opml = false;
    options.force_refresh = true;
    let lines = Mutex::new(Vec::new());
    let report = us
        .run_daily(&options, &|line: &str| {
            lines.lock().unwrap().push(line.to_owned());
        })
        .await
        .unwrap();
    let digest = report.digest.clone().expect("a digest");

    // Only English episodes; the German and Chinese ones are counted.
    assert_eq!(digest.items.len(), 5, "{digest:#?}");
    for item in &digest.items {
        let language = item
            .language
            .as_deref()
            .expect("the sample feeds declare it");
        assert_eq!(primary(language), "en", "{item:#?}");
    }
    // The German and Chinese episodes were not summarised (no model saw
    // them): archived with the reason, and counted.
    let mut other_episodes = 0;
    for ep in us
        .store()
        .episodes_with_status(&[EpisodeStatus::Extracted, EpisodeStatus::Archived])
        .await
        .unwrap()
    {
        if ep
            .meta
            .language
            .as_deref()
            .is_some_and(|l| primary(l) != "en")
        {
            assert_eq!(ep.status, EpisodeStatus::Archived, "{:?}", ep.meta.title);
            let detail = ep.status_detail.as_deref().unwrap_or("");
            assert!(
                detail.starts_with("not summarised: in `") && detail.ends_with("(en)"),
                "{detail}"
            );
            assert!(
                us.store().insights_of(ep.id).await.unwrap().is_empty(),
                "{:?}",
                ep.meta.title
            );
            other_episodes += 1;
        }
    }
    assert!(other_episodes >= 4, "German and Chinese episodes were seen");
    let left = report.digest_left_out;
    assert_eq!(left.episodes_other_language, other_episodes, "{left:?}");
    assert_eq!(left.insights_other_language, 0, "{left:?}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["digest_left_out"]["episodes_other_language"], other_episodes,
        "`meridian run --json` carries the count"
    );
    let lines = lines.into_inner().unwrap();
    assert!(
        lines.iter().any(|l| {
            l.starts_with("left out of the digest: ")
                && l.contains(&format!(
                    "{other_episodes} episodes in languages the region does not read (not summarised)"
                ))
        }),
        "the printed report says what was left out: {lines:#?}"
    );

    // The sample region has five English shows: one pick from each.
    let shows: HashSet<&str> = digest.items.iter().map(|i| i.podcast.as_str()).collect();
    assert_eq!(shows.len(), 5, "{digest:#?}");

    // Each pick links the episode's audio (its enclosure) and its page.
    for item in &digest.items {
        let audio = item.audio_url.as_deref().expect("the enclosure");
        assert!(
            audio.starts_with(&feeds.base) && audio.contains("/media/") && audio.ends_with(".mp3"),
            "{audio}"
        );
        let page = item.episode_url.as_deref().expect("the episode's <link>");
        assert_ne!(page, audio, "the page is not the audio");
    }
    let timed = digest
        .items
        .iter()
        .find(|i| i.insight.start.is_some_and(|s| s >= 1.0))
        .expect("a pick with a start time");
    let start = timed.insight.start.unwrap();
    let out = render_digest(
        &digest,
        &RenderContext {
            locale: us.config().locale.clone(),
            region_name: "United States".to_owned(),
            timezone: us.config().timezone,
            ai_label: "AI-generated.".to_owned(),
            unsubscribe_url: None,
            archive_url: None,
        },
    )
    .unwrap();
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a start time of a few minutes"
    )]
    let secs = start.floor() as u64;
    let listen = format!(
        "Listen at {}: {}#t={secs}\n",
        format_offset(start),
        timed.audio_url.as_deref().unwrap()
    );
    assert!(out.text.contains(&listen), "`{listen}` in:\n{}", out.text);
    let page = format!("Episode page: {}\n", timed.episode_url.as_deref().unwrap());
    assert!(out.text.contains(&page), "`{page}` in:\n{}", out.text);
    us.shutdown().await;
}
