//! The provider contract: one body per behaviour, run against every provider
//! of the `insight` role (`openai`, `ollama`, `builtin`) through the region's
//! chain, as `contract::<behaviour>::<provider>`.
//!
//! Each subject stands first in a chain whose second model is another
//! builtin entry (`backup`), so that a fallback is visible whatever the
//! subject. Remote subjects talk to the loopback fakes of [`crate::support`]
//! with the real clients in the path. Builtin sends no request, so the
//! behaviours about a broken wire hold for it trivially: it answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_config::{ModelConfig, ProviderKind};
use meridian_core::{RegionId, Transcript};
use meridian_models::gate::GateFuture;
use meridian_models::{
    Attempt, AttemptOutcome, CallGate, CallRefusal, Extraction, InsightChain, ModelCall,
    Resilience, SKIP_POLICY_DENIED,
};
use wiremock::ResponseTemplate;

use crate::support::{
    BATTERY_REPLY, Fake, Kind, battery_transcript, build_provider, builtin_config, wire_error,
};

/// Runs each named `async fn name(provider: Provider)` once per provider, as
/// `name::openai`, `name::ollama` and `name::builtin`.
macro_rules! provider_contract_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn openai() {
                    super::$name(super::Provider::OpenAi).await;
                }
                #[tokio::test]
                async fn ollama() {
                    super::$name(super::Provider::Ollama).await;
                }
                #[tokio::test]
                async fn builtin() {
                    super::$name(super::Provider::Builtin).await;
                }
            }
        )*
    };
}

provider_contract_tests!(
    valid_answer_gives_insights_quoted_and_timed_from_the_transcript,
    malformed_output_is_a_clear_error_and_the_chain_falls_back,
    server_error_is_retried_then_the_chain_falls_back,
    timeout_is_retried_then_the_chain_falls_back,
    policy_denial_sends_no_request_and_the_chain_falls_back,
);

/// The provider under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    OpenAi,
    Ollama,
    Builtin,
}

/// The name of the builtin entry after the subject.
const BACKUP: &str = "backup";

/// One provider under test: its entry, and its fake server when it has one.
struct Subject {
    config: ModelConfig,
    fake: Option<Fake>,
}

impl Subject {
    async fn start(provider: Provider) -> Self {
        let kind = match provider {
            Provider::OpenAi => Kind::OpenAi,
            Provider::Ollama => Kind::Ollama,
            Provider::Builtin => {
                return Self {
                    config: builtin_config(),
                    fake: None,
                };
            }
        };
        let fake = Fake::start(kind).await;
        Self {
            config: fake.config(),
            fake: Some(fake),
        }
    }

    /// Region `us`'s chain: the subject, then `backup`; one retry without
    /// back-off, so that a retry is visible and costs no time.
    fn chain(&self) -> InsightChain {
        let mut backup = builtin_config();
        backup.name = BACKUP.to_owned();
        let region = RegionId::parse("us").expect("region");
        let mut chain = InsightChain::new(region, &[self.config.clone(), backup], build_provider);
        let retry_once = Resilience {
            max_retries: 1,
            base_backoff: Duration::ZERO,
            ..Resilience::default()
        };
        assert!(chain.set_resilience(&self.config.name, retry_once));
        chain
    }

    fn is_builtin(&self) -> bool {
        self.config.provider == ProviderKind::Builtin
    }

    /// Chat requests the subject's server received.
    async fn requests(&self) -> usize {
        match &self.fake {
            Some(fake) => fake.chat_requests().await.len(),
            None => 0,
        }
    }
}

async fn extract(chain: &InsightChain, t: &Transcript) -> Extraction {
    chain
        .extract(t, "Deep Cycle", "Sodium rising", 5)
        .await
        .expect("the chain ends with builtin, which answers")
}

/// Lower-case words, for comparing a quote with the transcript.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether every insight quotes the transcript word for word and carries the
/// start time of one of its lines.
fn assert_grounded(x: &Extraction, t: &Transcript) {
    let said = words(
        &t.segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    );
    assert!(!x.insights.is_empty(), "{} found insights", x.model);
    for insight in &x.insights {
        let quote = words(&insight.quote);
        assert!(
            !quote.is_empty() && said.windows(quote.len()).any(|w| w == quote.as_slice()),
            "quote {:?} is in the transcript",
            insight.quote
        );
        let start = insight.start.expect("a quote has a time");
        assert!(
            t.segments.iter().any(|s| s.start == Some(start)),
            "{start} is the start of a transcript line"
        );
        assert_eq!(insight.model, x.model, "insights name their model");
    }
}

fn outcome(a: &Attempt) -> String {
    match &a.outcome {
        AttemptOutcome::Ok => "ok".to_owned(),
        AttemptOutcome::Skipped { kind, .. } => format!("skipped:{kind}"),
        AttemptOutcome::Failed { kind, .. } => format!("failed:{kind}"),
    }
}

/// The subject failed with `kind` and `backup` answered; or, for builtin,
/// which has no wire to break, the subject answered itself.
fn assert_failed_over(subject: &Subject, x: &Extraction, kind: &str) {
    let got: Vec<(&str, String)> = x
        .attempts
        .iter()
        .map(|a| (a.model.as_str(), outcome(a)))
        .collect();
    if subject.is_builtin() {
        assert_eq!(got, [(subject.config.name.as_str(), "ok".to_owned())]);
    } else {
        assert_eq!(
            got,
            [
                (subject.config.name.as_str(), format!("failed:{kind}")),
                (BACKUP, "ok".to_owned())
            ]
        );
    }
}

async fn valid_answer_gives_insights_quoted_and_timed_from_the_transcript(provider: Provider) {
    let subject = Subject::start(provider).await;
    if let Some(fake) = &subject.fake {
        fake.replies(&[BATTERY_REPLY]).await;
    }
    let t = battery_transcript();

    let x = extract(&subject.chain(), &t).await;

    assert_eq!(x.model, subject.config.name);
    assert_eq!(x.attempts.len(), 1);
    assert_grounded(&x, &t);
}

async fn malformed_output_is_a_clear_error_and_the_chain_falls_back(provider: Provider) {
    let subject = Subject::start(provider).await;
    if let Some(fake) = &subject.fake {
        // Not JSON, then a JSON object of the wrong shape after the repair request.
        fake.replies(&["Sure! Here are the insights:", r#"{"ideas": []}"#])
            .await;
    }
    let t = battery_transcript();

    let x = extract(&subject.chain(), &t).await;

    assert_failed_over(&subject, &x, "bad_output");
    if let AttemptOutcome::Failed { message, .. } = &x.attempts[0].outcome {
        assert!(
            message.contains(&format!("model `{}`", subject.config.name))
                && message.contains("returned unusable output"),
            "the error names the model and the problem: {message}"
        );
    }
    assert_grounded(&x, &t);
}

async fn server_error_is_retried_then_the_chain_falls_back(provider: Provider) {
    let subject = Subject::start(provider).await;
    if let Some(fake) = &subject.fake {
        let kind = fake.kind;
        let overloaded =
            ResponseTemplate::new(503).set_body_json(wire_error(kind, "The server is overloaded"));
        fake.respond(overloaded, 2).await;
    }
    let t = battery_transcript();

    let x = extract(&subject.chain(), &t).await;

    assert_failed_over(&subject, &x, "server_error");
    let expected = if subject.is_builtin() { 0 } else { 2 };
    assert_eq!(subject.requests().await, expected, "one request, one retry");
    assert_grounded(&x, &t);
}

async fn timeout_is_retried_then_the_chain_falls_back(provider: Provider) {
    let mut subject = Subject::start(provider).await;
    if let Some(fake) = &subject.fake {
        let slow = ResponseTemplate::new(200)
            .set_body_json(fake.wire_reply(BATTERY_REPLY, 1, 1))
            .set_delay(Duration::from_secs(30));
        fake.respond(slow, 2).await;
        subject.config.timeout = Duration::from_millis(200);
    }
    let t = battery_transcript();

    let x = extract(&subject.chain(), &t).await;

    assert_failed_over(&subject, &x, "timeout");
    let expected = if subject.is_builtin() { 0 } else { 2 };
    assert_eq!(subject.requests().await, expected, "one request, one retry");
}

/// A region gate that refuses one model and records what it was asked.
#[derive(Debug, Default)]
struct DenyGate {
    denied: String,
    asked: Mutex<Vec<String>>,
    completed: Mutex<Vec<String>>,
}

impl CallGate for DenyGate {
    fn authorize<'a>(&'a self, call: &'a ModelCall<'a>) -> GateFuture<'a, Result<(), CallRefusal>> {
        self.asked
            .lock()
            .expect("gate")
            .push(call.model.name.clone());
        let refusal = (call.model.name == self.denied).then(|| CallRefusal {
            policies: vec!["no-remote-models".to_owned()],
            reason: format!("`{}` may not be called", call.model.name),
        });
        Box::pin(async move { refusal.map_or(Ok(()), Err) })
    }

    fn completed<'a>(
        &'a self,
        call: &'a ModelCall<'a>,
        _attempt: &'a Attempt,
    ) -> GateFuture<'a, ()> {
        self.completed
            .lock()
            .expect("gate")
            .push(call.model.name.clone());
        Box::pin(async {})
    }
}

async fn policy_denial_sends_no_request_and_the_chain_falls_back(provider: Provider) {
    let subject = Subject::start(provider).await;
    if let Some(fake) = &subject.fake {
        fake.respond(ResponseTemplate::new(200), 0).await;
    }
    let gate = Arc::new(DenyGate {
        denied: subject.config.name.clone(),
        ..DenyGate::default()
    });
    let chain = subject
        .chain()
        .with_gate(Arc::clone(&gate) as Arc<dyn CallGate>);
    let t = battery_transcript();

    let x = extract(&chain, &t).await;

    assert_eq!(x.model, BACKUP);
    assert!(
        matches!(&x.attempts[0].outcome, AttemptOutcome::Skipped { kind, reason }
            if *kind == SKIP_POLICY_DENIED && reason == &format!("denied by no-remote-models: `{}` may not be called", subject.config.name)),
        "{:?}",
        x.attempts[0]
    );
    assert_eq!(subject.requests().await, 0, "a denied call is never sent");
    assert_eq!(
        *gate.asked.lock().expect("gate"),
        [subject.config.name.clone(), BACKUP.to_owned()]
    );
    assert_eq!(
        *gate.completed.lock().expect("gate"),
        [BACKUP.to_owned()],
        "only the call made is recorded as completed"
    );
    assert_grounded(&x, &t);
}
