//! The `ollama` provider: `/api/chat` shape, errors, and the digest check
//! against `/api/tags`.

use meridian_config::Secret;
use meridian_models::OllamaProvider;
use meridian_models::prompt::{CONTEXT_TOKENS, insight_schema};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{BATTERY_REPLY, Fake, Kind, battery_transcript, http012, request};

const DIGEST: &str = "845dbda0ea48ed749caafd9e6037047aa19acfcfd82e704d7ca97d631a0b697e";

/// `GET /api/tags`, as Ollama answers it.
fn tags(models: &[(&str, &str)]) -> Value {
    let models: Vec<Value> = models
        .iter()
        .map(|(name, digest)| {
            json!({
                "name": name,
                "model": name,
                "modified_at": "2025-04-29T11:35:22.102378528+08:00",
                "size": 4_683_087_332_u64,
                "digest": digest,
                "details": {
                    "parent_model": "", "format": "gguf", "family": "qwen2", "families": ["qwen2"],
                    "parameter_size": "7.6B", "quantization_level": "Q4_K_M"
                }
            })
        })
        .collect();
    json!({ "models": models })
}

async fn serve_tags(fake: &Fake, body: Value, times: u64) {
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(times)
        .named("/api/tags")
        .mount(&fake.server)
        .await;
}

fn pinned(fake: &Fake, digest: &str) -> OllamaProvider {
    let mut config = fake.config();
    config.digest = Some(digest.to_owned());
    OllamaProvider::new(&config, http012()).expect("provider")
}

#[tokio::test]
async fn chat_request_sends_the_schema_as_format_without_streaming() {
    let fake = Fake::start(Kind::Ollama).await;
    fake.replies(&[BATTERY_REPLY]).await;
    let t = battery_transcript();

    fake.extract(&request(&t))
        .await
        .expect("extraction succeeds");

    let body = &fake.chat_requests().await[0];
    assert_eq!(body["model"], "qwen2.5:7b-instruct");
    assert_eq!(body["stream"], false);
    assert_eq!(body["format"], insight_schema());
    assert_eq!(body["options"]["temperature"], 0.0);
    assert_eq!(body["options"]["num_ctx"], CONTEXT_TOKENS);
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, ["system", "user"]);
    let user = body["messages"][1]["content"].as_str().expect("user text");
    // One speaker's consecutive cues share a line and its first time.
    assert!(
        user.contains("\n[0:42] Guest: Sodium-ion cells cost"),
        "{user}"
    );
    assert!(
        user.contains("minus twenty degrees Celsius. The catch is energy density"),
        "{user}"
    );
}

#[tokio::test]
async fn hosted_ollama_gets_the_key_as_a_bearer_token() {
    let fake = Fake::start(Kind::Ollama).await;
    fake.replies(&[BATTERY_REPLY]).await;
    let mut config = fake.config();
    config.api_key = Some(Secret::new("ollama-key-9".to_owned()));
    let t = battery_transcript();

    OllamaProvider::new(&config, http012())
        .expect("provider")
        .extract(&request(&t))
        .await
        .expect("extraction");

    let received = fake
        .server
        .received_requests()
        .await
        .expect("recording is on");
    assert_eq!(
        received[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer ollama-key-9")
    );
}

#[tokio::test]
async fn missing_model_is_not_found() {
    let fake = Fake::start(Kind::Ollama).await;
    let missing = ResponseTemplate::new(404).set_body_json(
        json!({"error": "model \"qwen2.5:7b-instruct\" not found, try pulling it first"}),
    );
    fake.respond(missing, 1).await;
    let t = battery_transcript();

    let err = fake.extract(&request(&t)).await.expect_err("not pulled");

    assert_eq!(err.kind(), "not_found");
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        format!(
            "model `qwen-local`: `qwen2.5:7b-instruct` is not installed at `{}`",
            fake.host()
        )
    );
}

#[tokio::test]
async fn server_error_is_retryable() {
    let fake = Fake::start(Kind::Ollama).await;
    let failed = ResponseTemplate::new(500)
        .set_body_json(json!({"error": "llama runner process has terminated: signal: killed"}));
    fake.respond(failed, 1).await;
    let t = battery_transcript();

    let err = fake.extract(&request(&t)).await.expect_err("runner died");

    assert_eq!(err.kind(), "server_error");
    assert!(err.is_retryable());
    assert!(
        err.to_string()
            .contains("llama runner process has terminated"),
        "{err}"
    );
}

#[tokio::test]
async fn pinned_digest_matches_with_or_without_the_sha256_prefix() {
    let fake = Fake::start(Kind::Ollama).await;
    serve_tags(
        &fake,
        tags(&[
            ("llama3.2:latest", "a80c4f17acd5"),
            ("qwen2.5:7b-instruct", DIGEST),
        ]),
        2,
    )
    .await;

    pinned(&fake, &format!("sha256:{DIGEST}"))
        .check_digest()
        .await
        .expect("same digest, prefixed");
    pinned(&fake, &DIGEST.to_uppercase())
        .check_digest()
        .await
        .expect("same digest, other case");
}

#[tokio::test]
async fn digest_mismatch_names_both_digests() {
    let fake = Fake::start(Kind::Ollama).await;
    let other = "0000000000000000000000000000000000000000000000000000000000000bad";
    serve_tags(&fake, tags(&[("qwen2.5:7b-instruct", other)]), 1).await;
    let expected = format!("sha256:{DIGEST}");

    let err = pinned(&fake, &expected)
        .check_digest()
        .await
        .expect_err("a different build");

    assert_eq!(err.kind(), "digest_mismatch");
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        format!(
            "model `qwen-local` at `{}`: digest is `{other}`, but the region file pins `{expected}`",
            fake.host()
        )
    );
}

#[tokio::test]
async fn digest_check_of_a_model_the_server_lacks_is_not_found() {
    let fake = Fake::start(Kind::Ollama).await;
    serve_tags(&fake, tags(&[("llama3.2:latest", DIGEST)]), 1).await;

    let err = pinned(&fake, DIGEST)
        .check_digest()
        .await
        .expect_err("not pulled");

    assert_eq!(err.kind(), "not_found");
}

#[tokio::test]
async fn untagged_model_name_matches_latest() {
    let fake = Fake::start(Kind::Ollama).await;
    serve_tags(&fake, tags(&[("deepseek-r1:latest", DIGEST)]), 1).await;
    let mut config = fake.config();
    config.model = "deepseek-r1".to_owned();
    config.digest = Some(DIGEST.to_owned());

    OllamaProvider::new(&config, http012())
        .expect("provider")
        .check_digest()
        .await
        .expect("`:latest` is implied");
}

#[tokio::test]
async fn without_a_pinned_digest_nothing_is_asked() {
    let fake = Fake::start(Kind::Ollama).await;
    serve_tags(&fake, tags(&[]), 0).await;

    OllamaProvider::new(&fake.config(), http012())
        .expect("provider")
        .check_digest()
        .await
        .expect("nothing to check");
}
