use std::path::Path;

use meridian_cli::demo::SampleServer;
use meridian_core::RegionId;
use meridian_store::{EpisodeStatus, RegionStore};

use crate::{eml_count, meridian, repo, run};

/// A region `us` whose feeds are the sample podcasts, served on loopback at
/// `base`, in `<root>/regions` with the shipped policies beside it in
/// `<root>/policies` (a region does not start without its policies); returns
/// the config folder.
fn write_region(root: &Path, base: &str, addr: std::net::SocketAddr) -> std::path::PathBuf {
    let policies = root.join("policies");
    for folder in ["global", "us"] {
        std::fs::create_dir_all(policies.join(folder)).unwrap();
        for entry in std::fs::read_dir(repo().join("policies").join(folder)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, policies.join(folder).join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(
        repo().join("policies/schema.cedarschema"),
        policies.join("schema.cedarschema"),
    )
    .unwrap();
    let dir = root.join("regions");
    std::fs::create_dir_all(&dir).unwrap();
    let opml = std::fs::read_to_string(repo().join("demo/us.opml"))
        .unwrap()
        .replace("{{base_url}}", base);
    std::fs::write(dir.join("us.opml"), opml).unwrap();
    let toml = std::fs::read_to_string(repo().join("regions/us.toml"))
        .unwrap()
        .replace(
            "allow = [\"api.openai.com\", \"*\"]",
            &format!("allow = [\"api.openai.com\", \"{addr}\"]"),
        );
    std::fs::write(dir.join("us.toml"), toml).unwrap();
    dir
}

fn run_json(config: &Path, data: &Path, extra: &[&str]) -> serde_json::Value {
    let (code, out, err) = run(meridian()
        .arg("--config-dir")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(["run", "--region", "us", "--json", "--date", "2026-11-28"])
        .args(extra));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("run --json prints JSON ({e}): {out}"))
}

async fn model_calls(data: &Path) -> i64 {
    let url = format!("sqlite://{}/us.db", data.display());
    let store = RegionStore::open(&RegionId::parse("us").unwrap(), &url, 1)
        .await
        .unwrap();
    let n = store
        .model_call_totals()
        .await
        .unwrap()
        .iter()
        .map(|(_, _, n, _, _)| n)
        .sum();
    store.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerunning_the_same_day_sends_no_email_and_calls_no_model() {
    let server = SampleServer::start(&repo().join("demo"), None)
        .await
        .unwrap();
    let base = server.base_url.clone();
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let regions = write_region(config.path(), &base, server.addr);
    let outbox = data.path().join("outbox/us");

    let (c, d) = (regions.clone(), data.path().to_owned());
    let first = tokio::task::spawn_blocking(move || run_json(&c, &d, &[]))
        .await
        .unwrap();
    assert!(
        first["feeds"]["new_episodes"].as_u64().unwrap() >= 5,
        "{first}"
    );
    assert_eq!(
        first["digest"]["items"].as_array().unwrap().len(),
        5,
        "a top 5: {first}"
    );
    assert_eq!(
        first["delivery"]["sent"].as_u64(),
        Some(2),
        "two seed subscribers: {first}"
    );
    assert_eq!(eml_count(&outbox), 2);
    let calls = model_calls(data.path()).await;
    assert!(calls > 0, "the first run called the builtin model");

    // Simulate a run that died after storing transcripts: the episodes go back
    // to `transcribed`, as if their insights had never been recorded.
    let store = RegionStore::open(
        &RegionId::parse("us").unwrap(),
        &format!("sqlite://{}/us.db", data.path().display()),
        1,
    )
    .await
    .unwrap();
    for ep in store
        .episodes_with_status(&[EpisodeStatus::Extracted])
        .await
        .unwrap()
    {
        store
            .set_episode_status(ep.id, EpisodeStatus::Transcribed, None)
            .await
            .unwrap();
    }
    store.close().await;

    let (c, d) = (regions.clone(), data.path().to_owned());
    let second = tokio::task::spawn_blocking(move || run_json(&c, &d, &["--refresh-all"]))
        .await
        .unwrap();
    assert_eq!(
        second["feeds"]["new_episodes"].as_u64().unwrap_or(0),
        0,
        "{second}"
    );
    assert!(
        second["feeds"]["not_modified"].as_u64().unwrap() >= 3,
        "conditional GET answered 304: {second}"
    );
    assert_eq!(
        second["insights"]["cached"], first["insights"]["episodes"],
        "every transcript found in the cache: {second}"
    );
    assert_eq!(
        second["delivery"]["sent"].as_u64().unwrap_or(0),
        0,
        "{second}"
    );
    assert_eq!(
        second["delivery"]["already_sent"].as_u64(),
        Some(2),
        "{second}"
    );
    assert_eq!(second["digest"], first["digest"], "the same digest");
    assert_eq!(eml_count(&outbox), 2, "no second email");
    assert_eq!(
        model_calls(data.path()).await,
        calls,
        "no model called again"
    );
    server.stop().await;
}

#[test]
fn demo_runs_three_regions_offline_and_twice_sends_nothing_new() {
    let data = tempfile::tempdir().unwrap();
    let demo = || {
        run(meridian()
            .current_dir(repo())
            .arg("--data-dir")
            .arg(data.path())
            .arg("demo"))
    };
    let (code, out, err) = demo();
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    for (id, model_note) in [
        ("us", "OPENAI_API_KEY"),
        ("cn", "qwen"),
        ("eu", "MISTRAL_API_KEY"),
    ] {
        assert!(
            out.contains(&format!("Top 5 for {id} ")),
            "{id} top 5 printed:\n{out}"
        );
        assert!(
            out.contains(model_note),
            "{id}: says which model was skipped:\n{out}"
        );
        assert_eq!(
            eml_count(&data.path().join("outbox").join(id)),
            2,
            "{id}: one email per seed subscriber"
        );
    }
    let (code, out2, err) = demo();
    assert_eq!(code, 0, "{err}");
    for id in ["us", "cn", "eu"] {
        assert_eq!(
            eml_count(&data.path().join("outbox").join(id)),
            2,
            "{id}: no second email"
        );
    }
    assert!(out2.contains("0 sent, 2 already sent"), "{out2}");
}
