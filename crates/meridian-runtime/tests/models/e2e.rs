//! The model stacks end to end: `cn` on a fake Ollama and `us` on a fake OpenAI,
//! run side by side on the sample podcasts.

use std::collections::HashSet;

use meridian_core::Digest;
use meridian_runtime::{Region, RunOptions, RunReport};
use meridian_store::EpisodeStatus;

use crate::support::{Api, FakeModel, FeedServer, add_sample_feeds, region};

fn cn_toml(feeds: &FeedServer, ollama: &FakeModel) -> String {
    format!(
        r#"
id = "cn"
jurisdiction = "CN"
locale = "zh-CN"
timezone = "Asia/Shanghai"
digest_hour = 7

[storage]
url = "sqlite://{{data_dir}}/cn.db"

[[models.insight]]
name = "qwen"
provider = "ollama"
endpoint = "{endpoint}"
model = "qwen2.5:7b-instruct"
hosted_in = "CN"
origin = "CN"
weights = "open"
max_retries = 1
max_concurrency = 2

[[models.insight]]
name = "builtin"
provider = "builtin"

[egress]
allow = ["{model_host}", "{feed_host}"]

[mail]
from = "Meridian <digest@cn.meridian.example.com>"
ai_label = "本邮件内容由人工智能生成。"
"#,
        endpoint = ollama.endpoint(),
        model_host = ollama.host(),
        feed_host = feeds.host(),
    )
}

fn us_toml(feeds: &FeedServer, openai: &FakeModel) -> String {
    format!(
        r#"
id = "us"
jurisdiction = "US"
locale = "en-US"
timezone = "America/New_York"
digest_hour = 7

[storage]
url = "sqlite://{{data_dir}}/us.db"

[models]
daily_token_budget = 1000000

[[models.insight]]
name = "gpt-4o-mini"
provider = "openai"
endpoint = "{endpoint}"
model = "gpt-4o-mini"
hosted_in = "US"
origin = "US"
weights = "closed"

[[models.insight]]
name = "builtin"
provider = "builtin"

[[models.transcribe]]
name = "whisper"
provider = "openai"
endpoint = "{endpoint}"
model = "whisper-1"
hosted_in = "US"
origin = "US"
weights = "closed"

[egress]
allow = ["{model_host}", "{feed_host}"]

[mail]
from = "Meridian <digest@us.meridian.example.com>"
ai_label = "AI-generated."
"#,
        endpoint = openai.endpoint(),
        model_host = openai.host(),
        feed_host = feeds.host(),
    )
}

async fn run(region: &Region) -> RunReport {
    let mut options = RunOptions::today(region);
    options.import_opml = false;
    options.force_refresh = true;
    region.run_daily(&options, &|_: &str| ()).await.unwrap()
}

/// Lower-case letters, digits and CJK characters, everything else one space.
fn normalize(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The region's stored transcripts, normalised.
async fn transcripts(region: &Region) -> Vec<String> {
    let store = region.store();
    let mut out = Vec::new();
    for ep in store
        .episodes_with_status(&[EpisodeStatus::Extracted])
        .await
        .unwrap()
    {
        if let Some(t) = store.transcript(ep.id).await.unwrap() {
            let text: Vec<&str> = t.segments.iter().map(|s| s.text.as_str()).collect();
            out.push(normalize(&text.join(" ")));
        }
    }
    out
}

/// Every digest quote is words of one of the region's transcripts.
async fn assert_grounded(region: &Region, digest: &Digest) {
    let texts = transcripts(region).await;
    for item in &digest.items {
        let quote = normalize(&item.insight.quote);
        assert!(
            !quote.is_empty() && texts.iter().any(|t| t.contains(&quote)),
            "region `{}`: quote of `{}` not in any transcript: {}",
            region.config().id,
            item.insight.model,
            item.insight.quote
        );
    }
}

async fn feed_titles(region: &Region) -> HashSet<String> {
    region
        .store()
        .list_feeds()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|f| f.title)
        .collect()
}

async fn tokens_spent(region: &Region) -> i64 {
    region.store().model_tokens_since(0).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_run_on_their_own_models_fall_back_in_region_and_cost_nothing_the_second_time() {
    let feeds = FeedServer::start().await;
    let ollama = FakeModel::start(Api::Ollama).await;
    let openai = FakeModel::start(Api::OpenAi).await;
    let dir = tempfile::tempdir().unwrap();
    let (config_dir, data_dir) = (dir.path().join("regions"), dir.path().join("data"));
    std::fs::create_dir_all(&config_dir).unwrap();
    let cn = region(&config_dir, &data_dir, "cn", &cn_toml(&feeds, &ollama)).await;
    let us = region(&config_dir, &data_dir, "us", &us_toml(&feeds, &openai)).await;
    add_sample_feeds(&cn, &feeds).await;
    add_sample_feeds(&us, &feeds).await;
    // The Ollama server dies after three answers, in the middle of cn's run.
    ollama.stop_after(3);

    let (cn_report, us_report) = tokio::join!(run(&cn), run(&us));

    // cn: three episodes from qwen, then builtin for the rest, in cn.
    let cn_episodes = cn_report.insights.get("episodes");
    assert!(cn_episodes >= 6, "{cn_report:?}");
    assert_eq!(cn_report.insights.get("model:qwen"), 3, "{cn_report:?}");
    assert_eq!(
        cn_report.insights.get("model:builtin"),
        cn_episodes - 3,
        "{cn_report:?}"
    );
    assert_eq!(cn_report.insights.get("parked"), 0);
    assert_eq!(
        ollama.dropped(),
        2,
        "after the stop: the request and its one retry (`max_retries = 1`), then the breaker is open"
    );
    let cn_digest = cn_report.digest.clone().expect("cn digest");
    assert!(!cn_digest.items.is_empty());
    assert!(
        cn_digest
            .items
            .iter()
            .all(|i| ["qwen", "builtin"].contains(&i.insight.model.as_str()))
    );
    assert!(
        cn_digest.items.iter().any(|i| i.insight.model == "qwen"),
        "{cn_digest:?}"
    );
    assert_grounded(&cn, &cn_digest).await;

    // us: every episode from the fake OpenAI, including the one without a
    // transcript, which speech-to-text transcribed.
    let us_episodes = us_report.insights.get("episodes");
    assert!(us_episodes >= 6, "{us_report:?}");
    assert_eq!(
        us_report.insights.get("model:gpt-4o-mini"),
        us_episodes,
        "{us_report:?}"
    );
    assert_eq!(
        us_report.transcripts.get("speech_to_text"),
        1,
        "{us_report:?}"
    );
    assert_eq!(us_report.transcripts.get("show_notes"), 0, "{us_report:?}");
    let us_digest = us_report.digest.clone().expect("us digest");
    assert!(!us_digest.items.is_empty());
    assert!(
        us_digest
            .items
            .iter()
            .all(|i| i.insight.model == "gpt-4o-mini"),
        "{us_digest:?}"
    );
    assert_grounded(&us, &us_digest).await;

    // No region's model saw another region's podcasts.
    let (cn_titles, us_titles) = (feed_titles(&cn).await, feed_titles(&us).await);
    assert!(cn_titles.is_disjoint(&us_titles));
    let ollama_seen = ollama.requests();
    let openai_seen = openai.requests();
    assert_eq!(
        ollama_seen.iter().filter(|r| r.path == "/api/chat").count(),
        3
    );
    for r in &ollama_seen {
        let podcast = r.podcast.as_ref().expect("a chat request");
        assert!(cn_titles.contains(podcast), "cn's Ollama saw `{podcast}`");
        assert!(r.transcript_lines > 0);
    }
    assert_eq!(
        openai_seen
            .iter()
            .filter(|r| r.path == "/v1/audio/transcriptions")
            .count(),
        1
    );
    for r in openai_seen
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
    {
        let podcast = r.podcast.as_ref().expect("a chat request");
        assert!(us_titles.contains(podcast), "us's OpenAI saw `{podcast}`");
    }
    assert!(openai_seen.iter().all(|r| r.method == "POST"));

    // Accounting: every remote call at 812 + 97 tokens, builtin at none.
    let (cn_spent, us_spent) = (tokens_spent(&cn).await, tokens_spent(&us).await);
    assert_eq!(cn_spent, 3 * 909);
    assert_eq!(us_spent, i64::try_from(us_episodes).unwrap() * 909);

    // A second run: nothing new, nothing sent, no token spent.
    let (cn_again, us_again) = tokio::join!(run(&cn), run(&us));
    assert_eq!(tokens_spent(&cn).await, cn_spent);
    assert_eq!(tokens_spent(&us).await, us_spent);
    assert_eq!(openai.requests().len(), openai_seen.len());
    assert_eq!(ollama.requests().len(), ollama_seen.len());
    assert!(cn_again.digest_reused && us_again.digest_reused);
    assert_eq!(
        us.token_budget().used(),
        u64::try_from(us_spent).unwrap(),
        "the budget was seeded from today's accounting"
    );
    cn.shutdown().await;
    us.shutdown().await;
}
