//! The `openai` provider: request shape and HTTP error mapping.

use std::time::Duration;

use meridian_models::OpenAiProvider;
use meridian_models::prompt::{SCHEMA_NAME, insight_schema};
use serde_json::json;
use wiremock::ResponseTemplate;

use crate::support::{
    BATTERY_REPLY, Fake, Kind, battery_transcript, http013, openai_completion, request,
};

#[tokio::test]
async fn request_asks_for_strict_structured_output_with_the_transcript_in_the_user_message() {
    let fake = Fake::start(Kind::OpenAi).await;
    fake.replies(&[BATTERY_REPLY]).await;
    let t = battery_transcript();

    fake.extract(&request(&t))
        .await
        .expect("extraction succeeds");

    let received = fake
        .server
        .received_requests()
        .await
        .expect("recording is on");
    assert_eq!(received.len(), 1);
    let http = &received[0];
    assert_eq!(http.url.path(), "/v1/chat/completions");
    assert_eq!(
        http.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer sk-test-123")
    );
    let body = http.body_json::<serde_json::Value>().expect("JSON body");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["response_format"],
        json!({
            "type": "json_schema",
            "json_schema": {
                "name": SCHEMA_NAME,
                "description": "Insights from a podcast episode, each grounded in a quote.",
                "schema": insight_schema(),
                "strict": true
            }
        })
    );
    assert!(
        body.get("stream").is_none_or(|s| s == false),
        "not streamed"
    );
    let messages = body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages[1]["role"], "user");
    let user = messages[1]["content"].as_str().expect("user text");
    assert!(
        user.contains("[0:42] Guest: Sodium-ion cells cost about thirty percent"),
        "{user}"
    );
    assert!(
        user.contains("Podcast: Deep Cycle\nEpisode: Sodium rising\n"),
        "{user}"
    );
}

#[tokio::test]
async fn model_without_a_key_sends_no_authorization_header() {
    let fake = Fake::start(Kind::OpenAi).await;
    fake.replies(&[BATTERY_REPLY]).await;
    let mut config = fake.config();
    config.api_key = None;
    config.api_key_env = None;
    let t = battery_transcript();

    OpenAiProvider::new(&config, http013())
        .expect("provider")
        .extract(&request(&t))
        .await
        .expect("extraction");

    let received = fake
        .server
        .received_requests()
        .await
        .expect("recording is on");
    assert!(
        received[0].headers.get("authorization").is_none(),
        "no key, no credentials (and no OPENAI_API_KEY)"
    );
}

#[tokio::test]
async fn rate_limit_carries_retry_after_and_is_not_retried_inside_the_client() {
    let fake = Fake::start(Kind::OpenAi).await;
    let limited = ResponseTemplate::new(429).insert_header("retry-after", "7").set_body_json(json!({
        "error": {
            "message": "Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.",
            "type": "requests", "param": null, "code": "rate_limit_exceeded"
        }
    }));
    fake.respond(limited, 1).await;
    let t = battery_transcript();

    let err = fake.extract(&request(&t)).await.expect_err("rate limited");

    assert_eq!(err.kind(), "rate_limited");
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    let text = err.to_string();
    assert!(
        text.contains("`gpt-mini`")
            && text.contains(&fake.host())
            && text.contains("retry after 7s"),
        "{text}"
    );
    assert!(text.contains("Rate limit reached"), "{text}");
}

#[tokio::test]
async fn server_error_is_retryable_and_sent_once() {
    let fake = Fake::start(Kind::OpenAi).await;
    fake.respond(
        ResponseTemplate::new(500).set_body_string("upstream overloaded"),
        1,
    )
    .await;
    let t = battery_transcript();

    let err = fake.extract(&request(&t)).await.expect_err("server error");

    assert_eq!(err.kind(), "server_error");
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains("HTTP 500") && err.to_string().contains("upstream overloaded"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_key_is_an_auth_error() {
    let fake = Fake::start(Kind::OpenAi).await;
    let denied = ResponseTemplate::new(401).set_body_json(json!({
        "error": {"message": "Incorrect API key provided: sk-test-***123.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}
    }));
    fake.respond(denied, 1).await;
    let t = battery_transcript();

    let err = fake.extract(&request(&t)).await.expect_err("denied");

    assert_eq!(err.kind(), "auth");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("invalid_api_key"), "{err}");
}

#[tokio::test]
async fn refusal_is_reported_as_refused() {
    let fake = Fake::start(Kind::OpenAi).await;
    let mut reply = openai_completion("", 300, 12);
    reply["choices"][0]["message"]["content"] = serde_json::Value::Null;
    reply["choices"][0]["message"]["refusal"] = json!("I'm sorry, I can't help with that.");
    fake.respond(ResponseTemplate::new(200).set_body_json(reply), 1)
        .await;
    let t = battery_transcript();

    let err = fake.extract(&request(&t)).await.expect_err("refused");

    assert_eq!(err.kind(), "refused");
    assert!(err.to_string().contains("can't help"), "{err}");
}

#[tokio::test]
async fn truncated_completion_body_is_a_bad_response() {
    let fake = Fake::start(Kind::OpenAi).await;
    let cut = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1741570283,"choices":[{"index":0,"message":{"role":"assistant","content":"{\"insi"#;
    fake.respond(
        ResponseTemplate::new(200).set_body_raw(cut, "application/json"),
        1,
    )
    .await;
    let t = battery_transcript();

    let err = fake
        .extract(&request(&t))
        .await
        .expect_err("not a whole completion");

    assert_eq!(err.kind(), "bad_response");
    assert!(err.to_string().contains("not a chat completion"), "{err}");
}

#[tokio::test]
async fn compatible_server_with_unknown_extra_fields_is_understood() {
    let fake = Fake::start(Kind::OpenAi).await;
    let mut reply = openai_completion(BATTERY_REPLY, 500, 80);
    // Values and fields OpenAI does not send, as compatible servers do.
    reply["service_tier"] = json!("on_demand");
    reply["x_groq"] = json!({"id": "req_01"});
    reply["choices"][0]["message"]["reasoning_content"] = json!("thinking…");
    fake.respond(ResponseTemplate::new(200).set_body_json(reply), 1)
        .await;
    let t = battery_transcript();

    let out = fake
        .extract(&request(&t))
        .await
        .expect("extra fields are ignored");

    assert_eq!(out.insights.len(), 2);
    assert_eq!((out.input_tokens, out.output_tokens), (500, 80));
}

#[tokio::test]
async fn entry_of_another_provider_is_a_config_error() {
    let fake = Fake::start(Kind::Ollama).await;
    let err = OpenAiProvider::new(&fake.config(), http013()).expect_err("an ollama entry");
    assert_eq!(err.kind(), "config");
    assert_eq!(
        err.to_string(),
        "model `qwen-local`: provider is `ollama`, not `openai`"
    );
}
