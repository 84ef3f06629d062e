//! Retries, circuit breaker, concurrency limit and token budget, through the
//! region's `insight` chain with the real clients in the path.
//!
//! Tests that wait run on a paused tokio clock against a [`ScriptedServer`]
//! (a fake in the test's own runtime, see its docs), so a `Retry-After: 7`
//! costs no real time and the waits can be measured exactly.

use std::sync::Arc;
use std::time::Duration;

use meridian_models::prompt::estimate_request_tokens;
use meridian_models::{AttemptOutcome, SKIP_BUDGET_EXHAUSTED, SKIP_CIRCUIT_OPEN, TokenBudget};
use wiremock::ResponseTemplate;

use crate::support::{
    BATTERY_REPLY, Fake, Kind, Scripted, ScriptedServer, battery_transcript, chain_of, endpoint_at,
    for_each_provider, model_config, request, wire_error, wire_reply,
};

for_each_provider!(
    retries_stop_after_max_attempts_and_the_chain_falls_back_to_builtin,
    open_breaker_skips_the_model_and_the_chain_falls_back,
    concurrency_limit_holds_at_the_server,
    call_that_would_pass_the_daily_budget_is_skipped_for_builtin,
);

fn outcome_kinds(attempts: &[meridian_models::Attempt]) -> Vec<(String, String)> {
    attempts
        .iter()
        .map(|a| {
            let kind = match &a.outcome {
                AttemptOutcome::Ok => "ok".to_owned(),
                AttemptOutcome::Skipped { kind, .. } => format!("skipped:{kind}"),
                AttemptOutcome::Failed { kind, .. } => format!("failed:{kind}"),
            };
            (a.model.clone(), kind)
        })
        .collect()
}

fn pair(model: &str, kind: &str) -> (String, String) {
    (model.to_owned(), kind.to_owned())
}

#[tokio::test(start_paused = true)]
async fn rate_limit_is_retried_no_sooner_than_retry_after_then_succeeds() {
    let kind = Kind::OpenAi;
    let server = ScriptedServer::start(vec![
        Scripted::json(429, &wire_error(kind, "Rate limit reached for gpt-4o-mini"))
            .header("retry-after", "7"),
        Scripted::json(503, &wire_error(kind, "The server is overloaded")),
        Scripted::json(200, &wire_reply(kind, BATTERY_REPLY, 812, 97)),
    ])
    .await;
    let mut config = model_config(kind, &endpoint_at(kind, &server.base));
    config.max_retries = 2;
    let chain = chain_of(&[config]);
    let t = battery_transcript();

    let x = chain
        .extract(&t, "Deep Cycle", "Sodium rising", 5)
        .await
        .expect("the third request succeeds");

    assert_eq!(x.model, "gpt-mini");
    assert_eq!(outcome_kinds(&x.attempts), [pair("gpt-mini", "ok")]);
    assert_eq!(x.insights.len(), 2);
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "one request and two retries");
    assert!(
        seen[1].at - seen[0].at >= Duration::from_secs(7),
        "waited {:?} after `Retry-After: 7`",
        seen[1].at - seen[0].at
    );
    assert!(
        seen[2].at - seen[1].at <= Duration::from_secs(1),
        "second back-off is at most 2 × 0.5 s: {:?}",
        seen[2].at - seen[1].at
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_longer_than_meridian_waits_moves_on_at_once() {
    let kind = Kind::OpenAi;
    let server = ScriptedServer::start(vec![
        Scripted::json(429, &wire_error(kind, "Rate limit reached")).header("retry-after", "3600"),
    ])
    .await;
    let mut config = model_config(kind, &endpoint_at(kind, &server.base));
    config.max_retries = 2;
    let chain = chain_of(&[config]);
    let t = battery_transcript();
    let started = tokio::time::Instant::now();

    let x = chain
        .extract(&t, "Deep Cycle", "Sodium rising", 5)
        .await
        .expect("builtin answers");

    assert_eq!(
        outcome_kinds(&x.attempts),
        [
            pair("gpt-mini", "failed:rate_limited"),
            pair("builtin", "ok")
        ]
    );
    assert_eq!(server.seen().len(), 1, "no retry");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "did not wait an hour"
    );
}

async fn retries_stop_after_max_attempts_and_the_chain_falls_back_to_builtin(kind: Kind) {
    tokio::time::pause();
    let server =
        ScriptedServer::start(vec![Scripted::json(503, &wire_error(kind, "overloaded"))]).await;
    let mut config = model_config(kind, &endpoint_at(kind, &server.base));
    config.max_retries = 2;
    let chain = chain_of(&[config.clone()]);
    let t = battery_transcript();

    let x = chain
        .extract(&t, "Deep Cycle", "Sodium rising", 5)
        .await
        .expect("builtin answers");

    assert_eq!(
        outcome_kinds(&x.attempts),
        [
            pair(&config.name, "failed:server_error"),
            pair("builtin", "ok")
        ]
    );
    assert_eq!(x.model, "builtin");
    assert!(!x.insights.is_empty());
    assert!(x.insights.iter().all(|i| i.model == "builtin"));
    let seen = server.seen();
    assert_eq!(
        seen.len(),
        3,
        "the request and max_retries = 2 retries, no more"
    );
    let chat = if kind == Kind::OpenAi {
        "/v1/chat/completions"
    } else {
        "/api/chat"
    };
    assert!(seen.iter().all(|s| s.path == chat), "{seen:?}");
}

async fn open_breaker_skips_the_model_and_the_chain_falls_back(kind: Kind) {
    let fake = Fake::start(kind).await;
    // Three failed extractions open the breaker; the fourth is never sent.
    fake.respond(
        ResponseTemplate::new(500).set_body_json(wire_error(kind, "internal error")),
        3,
    )
    .await;
    let mut config = fake.config();
    config.max_retries = 0;
    let chain = chain_of(&[config.clone()]);
    let t = battery_transcript();

    let mut runs = Vec::new();
    for _ in 0..4 {
        let x = chain
            .extract(&t, "Deep Cycle", "Sodium rising", 5)
            .await
            .expect("builtin answers");
        assert_eq!(x.model, "builtin");
        runs.push(outcome_kinds(&x.attempts));
    }

    for run in &runs[..3] {
        assert_eq!(
            run,
            &[
                pair(&config.name, "failed:server_error"),
                pair("builtin", "ok")
            ]
        );
    }
    assert_eq!(
        runs[3],
        [
            pair(&config.name, &format!("skipped:{SKIP_CIRCUIT_OPEN}")),
            pair("builtin", "ok")
        ]
    );
    let status = chain.status();
    assert!(
        status[0]
            .unavailable
            .as_deref()
            .is_some_and(|r| r.contains("internal error")),
        "{status:?}"
    );
    assert_eq!(fake.chat_requests().await.len(), 3);
}

async fn concurrency_limit_holds_at_the_server(kind: Kind) {
    tokio::time::pause();
    let server = ScriptedServer::start(vec![
        Scripted::json(200, &wire_reply(kind, BATTERY_REPLY, 812, 97))
            .delayed(Duration::from_secs(1)),
    ])
    .await;
    let mut config = model_config(kind, &endpoint_at(kind, &server.base));
    config.max_concurrency = 2;
    let chain = chain_of(&[config.clone()]);
    let t = battery_transcript();

    let results = futures_util::future::join_all(
        (0..6).map(|_| chain.extract(&t, "Deep Cycle", "Sodium rising", 5)),
    )
    .await;

    for r in results {
        assert_eq!(r.expect("extraction succeeds").model, config.name);
    }
    assert_eq!(server.seen().len(), 6);
    assert_eq!(server.max_in_flight(), 2, "max_concurrency = 2");
}

async fn call_that_would_pass_the_daily_budget_is_skipped_for_builtin(kind: Kind) {
    let fake = Fake::start(kind).await;
    fake.replies(&[BATTERY_REPLY]).await;
    let t = battery_transcript();
    let estimate = estimate_request_tokens(&request(&t));
    // Room for the first call (estimate) but not, after its 909 tokens, for a second.
    let budget = Arc::new(TokenBudget::new(909 + estimate - 1));
    let chain = chain_of(&[fake.config()]).with_budget(Arc::clone(&budget));

    let first = chain
        .extract(&t, "Deep Cycle", "Sodium rising", 5)
        .await
        .expect("first");
    let second = chain
        .extract(&t, "Deep Cycle", "Sodium rising", 5)
        .await
        .expect("second");

    assert_eq!(first.model, fake.config().name);
    assert_eq!(
        (
            first.attempts[0].input_tokens,
            first.attempts[0].output_tokens
        ),
        (812, 97)
    );
    assert_eq!(
        budget.used(),
        909,
        "the reservation is settled with the reported tokens"
    );
    assert_eq!(
        outcome_kinds(&second.attempts),
        [
            pair(
                &fake.config().name,
                &format!("skipped:{SKIP_BUDGET_EXHAUSTED}")
            ),
            pair("builtin", "ok")
        ]
    );
    assert!(second.insights.iter().all(|i| i.model == "builtin"));
    assert_eq!(budget.used(), 909, "builtin costs nothing");
    assert_eq!(
        fake.chat_requests().await.len(),
        1,
        "the second call was never sent"
    );
}

#[tokio::test]
async fn budget_already_spent_today_skips_the_first_call() {
    let fake = Fake::start(Kind::Ollama).await;
    fake.respond(ResponseTemplate::new(200), 0).await;
    let budget = Arc::new(TokenBudget::new(50_000));
    budget.set_used(50_000);
    let chain = chain_of(&[fake.config()]).with_budget(budget);
    let t = battery_transcript();

    let x = chain
        .extract(&t, "Deep Cycle", "Sodium rising", 5)
        .await
        .expect("builtin answers");

    assert_eq!(x.model, "builtin");
    assert!(matches!(
        &x.attempts[0].outcome,
        AttemptOutcome::Skipped { kind, reason } if *kind == SKIP_BUDGET_EXHAUSTED && reason.contains("50000 of 50000")
    ));
}
