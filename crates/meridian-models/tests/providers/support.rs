//! Fixtures: model entries, transcripts, HTTP clients and the fake servers.

use std::path::PathBuf;
use std::time::Duration;

use meridian_config::{ModelConfig, ProviderKind, Secret, Weights};
use meridian_core::RegionId;
use meridian_core::{Jurisdiction, Segment, Transcript, TranscriptFormat, TranscriptSource};
use meridian_models::{
    ExtractRequest, InsightChain, ModelProvider, OllamaProvider, OpenAiProvider, ProviderError,
    ProviderOutput,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Which provider a shared test body runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OpenAi,
    Ollama,
}

/// Runs each named `async fn name(kind: Kind)` once per provider, as
/// `name::openai` and `name::ollama`.
macro_rules! for_each_provider {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn openai() {
                    super::$name($crate::support::Kind::OpenAi).await;
                }
                #[tokio::test]
                async fn ollama() {
                    super::$name($crate::support::Kind::Ollama).await;
                }
            }
        )*
    };
}
pub(crate) use for_each_provider;

/// The ring provider must be installed before any rustls client is built.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The client the egress crate would hand to the `openai` provider.
pub fn http013() -> reqwest::Client {
    install_crypto();
    #[expect(
        clippy::disallowed_methods,
        reason = "tests stand in for meridian-egress, which builds the real client"
    )]
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest 0.13 client")
}

/// The client the egress crate would hand to the `ollama` provider.
pub fn http012() -> reqwest012::Client {
    install_crypto();
    #[expect(
        clippy::disallowed_methods,
        reason = "tests stand in for meridian-egress, which builds the real client"
    )]
    reqwest012::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest 0.12 client")
}

/// A model entry of `kind` at `endpoint`, as `RegionConfig::validate` makes it.
pub fn model_config(kind: Kind, endpoint: &str) -> ModelConfig {
    let (name, provider, model, key, weights) = match kind {
        Kind::OpenAi => (
            "gpt-mini",
            ProviderKind::OpenAi,
            "gpt-4o-mini",
            Some("sk-test-123"),
            Weights::Closed,
        ),
        Kind::Ollama => (
            "qwen-local",
            ProviderKind::Ollama,
            "qwen2.5:7b-instruct",
            None,
            Weights::Open,
        ),
    };
    ModelConfig {
        name: name.to_owned(),
        provider,
        endpoint: Some(url::Url::parse(endpoint).expect("endpoint URL")),
        model: model.to_owned(),
        api_key_env: key.map(|_| "TEST_MODEL_API_KEY".to_owned()),
        api_key: key.map(|k| Secret::new(k.to_owned())),
        hosted_in: Jurisdiction::parse("US").expect("jurisdiction"),
        origin: Jurisdiction::parse("US").expect("jurisdiction"),
        weights,
        digest: None,
        timeout: Duration::from_secs(20),
        max_retries: 2,
        max_concurrency: 4,
        attributes: Vec::new(),
        unavailable: None,
    }
}

/// A transcript from `(start, speaker, text)` lines.
pub fn transcript(lines: &[(f64, &str, &str)]) -> Transcript {
    Transcript {
        source: TranscriptSource::Feed(TranscriptFormat::Vtt),
        language: Some("en".to_owned()),
        segments: lines
            .iter()
            .map(|(start, speaker, text)| Segment {
                start: Some(*start),
                end: None,
                speaker: Some((*speaker).to_owned()),
                text: (*text).to_owned(),
            })
            .collect(),
    }
}

/// A short episode about batteries, split mid-sentence like VTT cues.
pub fn battery_transcript() -> Transcript {
    transcript(&[
        (
            0.0,
            "Host",
            "Welcome back to Deep Cycle, the show about energy storage.",
        ),
        (
            42.0,
            "Guest",
            "Sodium-ion cells cost about thirty percent less than lithium iron phosphate at scale,",
        ),
        (
            47.5,
            "Guest",
            "and they keep working at minus twenty degrees Celsius.",
        ),
        (
            90.0,
            "Guest",
            "The catch is energy density: you get roughly two thirds of the range from the same pack volume.",
        ),
        (
            130.0,
            "Host",
            "This episode is brought to you by Acme Mattress. Use code DEEP for ten percent off.",
        ),
    ])
}

/// A model's answer for [`battery_transcript`]: two quotes written with
/// other case, hyphens and dashes and wrong times, and one quote that was
/// never said; one speaker given wrongly (the transcript says `Guest`), one
/// left `null`, one left out.
pub const BATTERY_REPLY: &str = r#"{"insights":[
  {"text":"Sodium-ion packs give about two thirds of the range of LFP in the same volume.",
   "quote":"The catch is energy density — you get roughly two-thirds of the range from the same pack volume",
   "start_seconds":3,"importance":0.7,"why":"Range decides where the cheaper cells fit.","speaker":"Host"},
  {"text":"Solid-state batteries will be in every car next year.",
   "quote":"solid state batteries will be in every car by next year",
   "start_seconds":200,"importance":0.95,"why":"It would change the market."},
  {"text":"Sodium-ion cells are about 30% cheaper than lithium iron phosphate and work in deep cold.",
   "quote":"sodium ion cells cost about thirty percent less than lithium-iron-phosphate at scale and they keep working at minus twenty degrees celsius",
   "start_seconds":40,"importance":0.9,"why":"Cheap, cold-tolerant storage changes grid economics.","speaker":null}
]}"#;

pub fn request(transcript: &Transcript) -> ExtractRequest<'_> {
    ExtractRequest {
        transcript,
        podcast: "Deep Cycle",
        episode: "Sodium rising",
        max_insights: 5,
    }
}

/// `$MERIDIAN_CORPUS`, or the `shared/corpus` folder beside the checkout.
pub fn corpus_dir() -> PathBuf {
    meridian_testkit::shared_folder("MERIDIAN_CORPUS", "corpus")
}

/// A Podcasting 2.0 JSON transcript from the corpus, read with a minimal
/// parser (the real one lives in `meridian-ingest`, above this crate).
pub fn corpus_json_transcript(name: &str) -> Transcript {
    let path = corpus_dir().join("transcripts").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("corpus JSON transcript");
    let segments = doc["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .map(|s| Segment {
            start: s["startTime"].as_f64(),
            end: s["endTime"].as_f64(),
            speaker: s["speaker"].as_str().map(str::to_owned),
            text: s["body"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    Transcript {
        source: TranscriptSource::Feed(TranscriptFormat::Json),
        language: Some("en".into()),
        segments,
    }
}

/// A loopback fake of one provider's API.
pub struct Fake {
    pub kind: Kind,
    pub server: MockServer,
}

impl Fake {
    pub async fn start(kind: Kind) -> Self {
        Self {
            kind,
            server: MockServer::start().await,
        }
    }

    /// The endpoint as a region file would write it.
    pub fn endpoint(&self) -> String {
        match self.kind {
            Kind::OpenAi => format!("{}/v1", self.server.uri()),
            Kind::Ollama => self.server.uri(),
        }
    }

    pub fn chat_path(&self) -> &'static str {
        match self.kind {
            Kind::OpenAi => "/v1/chat/completions",
            Kind::Ollama => "/api/chat",
        }
    }

    pub fn config(&self) -> ModelConfig {
        model_config(self.kind, &self.endpoint())
    }

    /// `host:port` of the fake, as errors name it.
    pub fn host(&self) -> String {
        self.server.address().to_string()
    }

    /// A successful chat answer carrying `content`, in the server's own shape.
    pub fn wire_reply(&self, content: &str, input_tokens: u64, output_tokens: u64) -> Value {
        match self.kind {
            Kind::OpenAi => openai_completion(content, input_tokens, output_tokens),
            Kind::Ollama => ollama_chat(content, input_tokens, output_tokens),
        }
    }

    /// Answers the n-th chat request with `contents[n]` (812 prompt and 97
    /// completion tokens each) and expects exactly that many requests.
    pub async fn replies(&self, contents: &[&str]) {
        for (i, content) in contents.iter().enumerate() {
            Mock::given(method("POST"))
                .and(path(self.chat_path()))
                .respond_with(
                    ResponseTemplate::new(200).set_body_json(self.wire_reply(content, 812, 97)),
                )
                .up_to_n_times(1)
                .expect(1)
                .named(format!("chat reply {i}"))
                .mount(&self.server)
                .await;
        }
    }

    /// Answers every chat request with `response`, expecting exactly `times`.
    pub async fn respond(&self, response: ResponseTemplate, times: u64) {
        Mock::given(method("POST"))
            .and(path(self.chat_path()))
            .respond_with(response)
            .expect(times)
            .named("chat")
            .mount(&self.server)
            .await;
    }

    pub async fn extract(&self, req: &ExtractRequest<'_>) -> Result<ProviderOutput, ProviderError> {
        extract_with(self.kind, &self.config(), req).await
    }

    /// The JSON bodies of the chat requests received, in order.
    pub async fn chat_requests(&self) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == self.chat_path())
            .map(|r| r.body_json::<Value>().expect("chat request body is JSON"))
            .collect()
    }
}

/// Builds the provider of `kind` for `config` and runs one extraction.
pub async fn extract_with(
    kind: Kind,
    config: &ModelConfig,
    req: &ExtractRequest<'_>,
) -> Result<ProviderOutput, ProviderError> {
    match kind {
        Kind::OpenAi => OpenAiProvider::new(config, http013())?.extract(req).await,
        Kind::Ollama => OllamaProvider::new(config, http012())?.extract(req).await,
    }
}

/// `POST /v1/chat/completions` response, as OpenAI sends it.
pub fn openai_completion(content: &str, prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1_741_570_283,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0
            }
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    })
}

/// `POST /api/chat` response with `stream: false`, as Ollama sends it.
pub fn ollama_chat(content: &str, prompt_eval_count: u64, eval_count: u64) -> Value {
    json!({
        "model": "qwen2.5:7b-instruct",
        "created_at": "2025-05-14T09:21:07.511624Z",
        "message": {"role": "assistant", "content": content},
        "done_reason": "stop",
        "done": true,
        "total_duration": 5_191_566_416_u64,
        "load_duration": 2_154_458,
        "prompt_eval_count": prompt_eval_count,
        "prompt_eval_duration": 383_809_000,
        "eval_count": eval_count,
        "eval_duration": 4_799_921_000_u64
    })
}

/// A server task on loopback, stopped when dropped.
pub struct RawServer {
    /// `http://127.0.0.1:port`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A server on loopback that answers every request with `200 OK`, promises a
/// longer body than it sends, and hangs up: a response cut off in transit.
pub async fn cut_off_server(partial_body: &'static str) -> RawServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    #[expect(
        clippy::disallowed_methods,
        reason = "owned by the returned RawServer, which aborts it on drop"
    )]
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            // Read the whole request first, so that closing does not reset it.
            let mut seen = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&chunk[..n]);
                if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                partial_body.len() + 500
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(partial_body.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    RawServer {
        base: format!("http://{addr}"),
        task,
    }
}

/// A loopback address nothing listens on.
pub async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

/// The `builtin` entry that ends every `insight` list.
pub fn builtin_config() -> ModelConfig {
    ModelConfig {
        name: "builtin".to_owned(),
        provider: ProviderKind::Builtin,
        endpoint: None,
        model: "extractive".to_owned(),
        api_key_env: None,
        api_key: None,
        hosted_in: Jurisdiction::parse("US").expect("jurisdiction"),
        origin: Jurisdiction::parse("US").expect("jurisdiction"),
        weights: Weights::Open,
        digest: None,
        timeout: Duration::from_secs(20),
        max_retries: 0,
        max_concurrency: 1,
        attributes: Vec::new(),
        unavailable: None,
    }
}

/// Builds the provider of a remote entry as the runtime does, on test clients.
pub fn build_provider(config: &ModelConfig) -> Result<ModelProvider, ProviderError> {
    match config.provider {
        ProviderKind::OpenAi => OpenAiProvider::new(config, http013()).map(ModelProvider::OpenAi),
        ProviderKind::Ollama => OllamaProvider::new(config, http012()).map(ModelProvider::Ollama),
        ProviderKind::Builtin => Err(ProviderError::Config {
            model: config.name.clone(),
            reason: "builtin is built by the chain".to_owned(),
        }),
    }
}

/// The `insight` chain of region `us`: `models`, then builtin.
pub fn chain_of(models: &[ModelConfig]) -> InsightChain {
    let mut configs = models.to_vec();
    configs.push(builtin_config());
    InsightChain::new(
        RegionId::parse("us").expect("region"),
        &configs,
        build_provider,
    )
}

/// One scripted answer of a [`ScriptedServer`].
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Time the server takes before answering (on the tokio clock).
    pub delay: Duration,
}

impl Scripted {
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request as a [`ScriptedServer`] saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// When it arrived, on the tokio clock (paused in tests that wait).
    pub at: tokio::time::Instant,
}

#[derive(Default)]
struct ScriptState {
    seen: Vec<Seen>,
    in_flight: usize,
    max_in_flight: usize,
}

/// An HTTP/1.1 fake on loopback that runs as a task of the test's own
/// runtime, unlike wiremock's server thread: on a paused tokio clock the
/// runtime then sees the fake's work as its own and only jumps the clock
/// when everything, fake included, waits on a timer. Answers the n-th
/// request with the n-th script entry (the last one over and over), one
/// request per connection, and counts requests in flight.
pub struct ScriptedServer {
    pub base: String,
    state: std::sync::Arc<std::sync::Mutex<ScriptState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedServer {
    pub async fn start(script: Vec<Scripted>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let state = std::sync::Arc::new(std::sync::Mutex::new(ScriptState::default()));
        let shared = std::sync::Arc::clone(&state);
        #[expect(
            clippy::disallowed_methods,
            reason = "owned by the returned ScriptedServer, which aborts it on drop"
        )]
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = std::sync::Arc::clone(&shared);
                let script = script.clone();
                #[expect(
                    clippy::disallowed_methods,
                    reason = "one connection; ends with its single response"
                )]
                tokio::spawn(answer(socket, state, script));
            }
        });
        Self {
            base: format!("http://{addr}"),
            state,
            task,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("state").seen.clone()
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.lock().expect("state").max_in_flight
    }
}

async fn answer(
    mut socket: tokio::net::TcpStream,
    state: std::sync::Arc<std::sync::Mutex<ScriptState>>,
    script: Vec<Scripted>,
) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&chunk[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            while seen.len() < end + 4 + length {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                seen.extend_from_slice(&chunk[..n]);
            }
            break end;
        }
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).into_owned();
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let reply = {
        let mut s = state.lock().expect("state");
        let index = s.seen.len().min(script.len().saturating_sub(1));
        s.seen.push(Seen {
            path,
            at: tokio::time::Instant::now(),
        });
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        script[index].clone()
    };
    tokio::time::sleep(reply.delay).await;
    state.lock().expect("state").in_flight -= 1;
    let mut out = format!(
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let _ = socket.write_all(out.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// The endpoint of a model of `kind` served at `base`.
pub fn endpoint_at(kind: Kind, base: &str) -> String {
    match kind {
        Kind::OpenAi => format!("{base}/v1"),
        Kind::Ollama => base.to_owned(),
    }
}

/// A successful chat answer of `kind` carrying `content`.
pub fn wire_reply(kind: Kind, content: &str, input_tokens: u64, output_tokens: u64) -> Value {
    match kind {
        Kind::OpenAi => openai_completion(content, input_tokens, output_tokens),
        Kind::Ollama => ollama_chat(content, input_tokens, output_tokens),
    }
}

/// An error answer of `kind` with `status`, in the server's own shape.
pub fn wire_error(kind: Kind, message: &str) -> Value {
    match kind {
        Kind::OpenAi => {
            json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}})
        }
        Kind::Ollama => json!({"error": message}),
    }
}
