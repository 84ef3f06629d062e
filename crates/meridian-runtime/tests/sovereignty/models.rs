//! Model calls: gated, recorded with their jurisdiction, never borrowed
//! from another region; pinned digests checked at assembly.

use meridian_runtime::{Region, RunOptions};

use crate::helpers::{of_kind, records};
use crate::support::{Api, FakeModel, FeedServer, add_sample_feeds, region};

fn cn_toml(feeds: &FeedServer, ollama: &FakeModel, digest: Option<&str>) -> String {
    format!(
        r#"
id = "cn"
jurisdiction = "CN"
locale = "zh-CN"
timezone = "Asia/Shanghai"

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
max_retries = 0
{digest}

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
        digest = digest
            .map(|d| format!("digest = \"{d}\""))
            .unwrap_or_default(),
    )
}

fn us_toml(feeds: &FeedServer, openai: &FakeModel) -> String {
    format!(
        r#"
id = "us"
jurisdiction = "US"
locale = "en-US"
timezone = "UTC"

[storage]
url = "sqlite://{{data_dir}}/us.db"

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

async fn run(region: &Region) {
    let mut options = RunOptions::today(region);
    options.import_opml = false;
    options.force_refresh = true;
    region.run_daily(&options, &|_: &str| ()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_cn_model_outage_no_request_reaches_a_non_cn_host_and_every_call_is_recorded_in_cn()
 {
    let feeds = FeedServer::start().await;
    let ollama = FakeModel::start(Api::Ollama).await;
    // The US region's model server, up and answering, in the same process.
    let openai = FakeModel::start(Api::OpenAi).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let us = region(dir.path(), &data, "us", &us_toml(&feeds, &openai)).await;
    let cn = region(dir.path(), &data, "cn", &cn_toml(&feeds, &ollama, None)).await;
    add_sample_feeds(&cn, &feeds).await;
    // The cn model server dies after its first answer.
    ollama.stop_after(1);
    run(&cn).await;

    assert!(ollama.dropped() > 0, "the outage happened during the run");
    assert!(
        openai.requests().is_empty(),
        "no cn request reached the US model server: {:?}",
        openai.requests()
    );
    let records = records(&cn).await;
    let calls = of_kind(&records, "model_call");
    assert!(
        calls.iter().any(|c| c["model"]["name"] == "qwen"),
        "the call before the outage is recorded: {calls:#?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c["model"]["name"] == "builtin" && c["outcome"] == "ok"),
        "the run finished on builtin in the region: {calls:#?}"
    );
    for call in &calls {
        assert_eq!(call["jurisdiction"], "CN", "{call}");
        assert_eq!(call["region"], "cn", "{call}");
    }
    // Every request the region made went to its own model server or the feeds.
    let allowed_hosts = [ollama.host().to_owned(), feeds.host().to_owned()];
    for r in of_kind(&records, "http_request") {
        let host = r["host"].as_str().unwrap();
        assert!(allowed_hosts.iter().any(|h| h == host), "{r}");
    }
    for r in of_kind(&records, "model_call") {
        if let Some(host) = r["host"].as_str() {
            assert_eq!(host, ollama.host(), "{r}");
        }
    }
    // Each call was decided before it was made, and allowed by the cn rules.
    let model_decisions: Vec<_> = of_kind(&records, "policy_decision")
        .into_iter()
        .filter(|d| d["decision"]["action"] == "invoke_model")
        .collect();
    assert!(model_decisions.len() >= calls.len(), "{model_decisions:#?}");
    assert!(
        model_decisions
            .iter()
            .all(|d| d["decision"]["effect"] == "allow" && d["jurisdiction"] == "CN")
    );
    us.shutdown().await;
    cn.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_digest_that_differs_stops_the_model_naming_both_digests() {
    let feeds = FeedServer::start().await;
    let ollama = FakeModel::start(Api::Ollama).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let cn = region(
        dir.path(),
        &data,
        "cn",
        &cn_toml(&feeds, &ollama, Some(wrong)),
    )
    .await;
    let qwen = cn
        .insight_models()
        .into_iter()
        .find(|m| m.name == "qwen")
        .unwrap();
    let reason = qwen
        .unavailable
        .expect("a mismatching digest stops the model");
    assert!(
        reason.contains(wrong.trim_start_matches("sha256:")),
        "{reason}"
    );
    assert!(
        reason.contains("845dbda0ea48ed749caafd9e6037047aa19acfcfd82e704d7ca97d631a0b697e"),
        "{reason}"
    );
    assert!(
        ollama.requests().iter().any(|r| r.path == "/api/tags"),
        "the digest was read from the server"
    );
    add_sample_feeds(&cn, &feeds).await;
    run(&cn).await;
    let records = records(&cn).await;
    let calls = of_kind(&records, "model_call");
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c["model"]["name"] == "builtin"),
        "the stopped model is never called; the chain falls back within the region: {calls:#?}"
    );
    assert!(
        !ollama.requests().iter().any(|r| r.path == "/api/chat"),
        "no chat request reached the stopped model"
    );
    cn.shutdown().await;

    // The right digest: the model is used.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let right = "sha256:845dbda0ea48ed749caafd9e6037047aa19acfcfd82e704d7ca97d631a0b697e";
    let cn = region(
        dir.path(),
        &data,
        "cn",
        &cn_toml(&feeds, &ollama, Some(right)),
    )
    .await;
    let qwen = cn
        .insight_models()
        .into_iter()
        .find(|m| m.name == "qwen")
        .unwrap();
    assert_eq!(qwen.unavailable, None);
    cn.shutdown().await;
}
