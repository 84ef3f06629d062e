//! `meridian run` exports its trace over OTLP/HTTP to a real receiver on
//! loopback: the run span, its job spans and every model
//! call with the OpenTelemetry GenAI attributes, one trace per run, with the
//! resource attributes `service.name=meridian` and `meridian.region`.
//!
//! The insight model is a fake OpenAI-compatible server on loopback that
//! answers like the real API (quotes of the transcript, token usage), so
//! that the model-call spans carry real token counts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::post;
use meridian_cli::demo::SampleServer;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{Value, json};

use crate::{meridian, repo, run};

const DATE: &str = "2026-11-28";
/// Token usage the fake model reports for every chat completion.
const PROMPT_TOKENS: i64 = 812;
const COMPLETION_TOKENS: i64 = 97;

/// An axum server on an ephemeral loopback port, stopped when dropped.
struct Loopback {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Loopback {
    async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        #[expect(
            clippy::disallowed_methods,
            reason = "the server task is owned by Loopback and aborted when it is dropped"
        )]
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, task }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One OTLP/HTTP export request as the receiver got it.
struct Export {
    path: String,
    content_type: String,
    request: ExportTraceServiceRequest,
}

/// An OTLP/HTTP (protobuf) trace receiver: accepts `POST` on any path, as a
/// collector does on `/v1/traces`, and keeps every decoded request.
struct Receiver {
    server: Loopback,
    exports: Arc<Mutex<Vec<Export>>>,
}

async fn receive(
    State(exports): State<Arc<Mutex<Vec<Export>>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(&body[..]) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    exports.lock().unwrap().push(Export {
        path: uri.path().to_owned(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        request,
    });
    (
        StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

impl Receiver {
    async fn start() -> Self {
        let exports = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .fallback(post(receive))
            .with_state(exports.clone());
        Self {
            server: Loopback::start(app).await,
            exports,
        }
    }

    fn requests(&self) -> usize {
        self.exports.lock().unwrap().len()
    }

    /// The paths requests came to.
    fn paths(&self) -> Vec<String> {
        let exports = self.exports.lock().unwrap();
        exports.iter().map(|e| e.path.clone()).collect()
    }

    /// Every span received, with its resource's attributes.
    fn spans(&self) -> Vec<(Vec<KeyValue>, Span)> {
        let exports = self.exports.lock().unwrap();
        let mut spans = Vec::new();
        for export in exports.iter() {
            assert_eq!(export.content_type, "application/x-protobuf");
            for resource_spans in &export.request.resource_spans {
                let resource = resource_spans
                    .resource
                    .clone()
                    .unwrap_or_default()
                    .attributes;
                for scope in &resource_spans.scope_spans {
                    spans.extend(scope.spans.iter().map(|s| (resource.clone(), s.clone())));
                }
            }
        }
        spans
    }
}

/// A fake OpenAI chat-completions API: answers every insight prompt with
/// three verbatim quotes of its transcript and the usage block of the real
/// API; counts the calls.
struct FakeOpenAi {
    server: Loopback,
    chats: Arc<Mutex<usize>>,
}

async fn chat(State(chats): State<Arc<Mutex<usize>>>, body: Bytes) -> impl IntoResponse {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let user = request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    *chats.lock().unwrap() += 1;
    axum::Json(json!({
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1_741_570_283,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": quoting_reply(user), "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    }))
}

/// Three insights quoting lines of the prompt's transcript (between the
/// `Transcript…` line and the closing `>>>` marker) verbatim.
fn quoting_reply(user: &str) -> String {
    let said = |line: &str| -> String {
        let rest = match line.strip_prefix('[') {
            Some(timed) => timed.split_once("] ").map_or(timed, |(_, r)| r),
            None => line,
        };
        match rest.split_once(": ") {
            Some((speaker, text)) if speaker.chars().count() <= 40 => text.to_owned(),
            _ => rest.to_owned(),
        }
    };
    let lines: Vec<String> = user
        .lines()
        .skip_while(|l| !l.starts_with("Transcript"))
        .skip(1)
        .take_while(|l| !l.ends_with(">>>"))
        .map(said)
        .filter(|s| s.split_whitespace().count() >= 12)
        .collect();
    let mut picks: Vec<usize> = [1, 2, 3].iter().map(|q| lines.len() * q / 4).collect();
    picks.dedup();
    let insights: Vec<Value> = picks
        .iter()
        .filter_map(|&i| lines.get(i))
        .zip([0.95, 0.9, 0.85])
        .map(|(line, importance)| {
            let quote = line
                .split_whitespace()
                .take(14)
                .collect::<Vec<_>>()
                .join(" ");
            json!({
                "text": format!("The episode makes this point: {quote}"),
                "quote": quote,
                "start_seconds": 0,
                "importance": importance,
                "why": "It is the heart of the episode."
            })
        })
        .collect();
    json!({ "insights": insights }).to_string()
}

impl FakeOpenAi {
    async fn start() -> Self {
        let chats = Arc::new(Mutex::new(0));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(chats.clone());
        Self {
            server: Loopback::start(app).await,
            chats,
        }
    }

    fn chats(&self) -> usize {
        *self.chats.lock().unwrap()
    }
}

/// Region `us` as shipped, its feeds the sample podcasts served on loopback
/// and its first insight model, `gpt-4o-mini`, the fake OpenAI API (no key
/// needed); the shipped policies beside it. Returns the config folder.
fn write_region(root: &Path, feeds: &SampleServer, openai: &FakeOpenAi) -> PathBuf {
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
        .replace("{{base_url}}", &feeds.base_url);
    std::fs::write(dir.join("us.opml"), opml).unwrap();
    let shipped = std::fs::read_to_string(repo().join("regions/us.toml")).unwrap();
    let insight_model = "endpoint = \"https://api.openai.com/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"OPENAI_API_KEY\"\n";
    let allow = "allow = [\"api.openai.com\", \"*\"]";
    assert!(
        shipped.contains(insight_model) && shipped.contains(allow),
        "regions/us.toml changed shape"
    );
    let toml = shipped
        .replace(
            insight_model,
            &format!(
                "endpoint = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\n",
                openai.server.base()
            ),
        )
        .replace(
            allow,
            &format!(
                "allow = [\"api.openai.com\", \"{}\", \"{}\"]",
                feeds.addr, openai.server.addr
            ),
        );
    std::fs::write(dir.join("us.toml"), toml).unwrap();
    dir
}

/// `meridian run --region us --json` with `env` set (and no OTEL_* variable
/// inherited); the run's report.
async fn run_region(config: &Path, data: &Path, env: &[(&str, String)]) -> Value {
    let mut cmd = meridian();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("--config-dir")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(["run", "--region", "us", "--json", "--date", DATE]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (code, out, err) = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("run --json prints JSON ({e}): {out}"))
}

fn value(attributes: &[KeyValue], key: &str) -> Option<any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone())
        .and_then(|AnyValue { value }| value)
}

fn text(s: &str) -> Option<any_value::Value> {
    Some(any_value::Value::StringValue(s.to_owned()))
}

fn int(n: i64) -> Option<any_value::Value> {
    Some(any_value::Value::IntValue(n))
}

/// Checks what an operator looks for in the trace of one run of `us` on
/// [`DATE`]; returns the number of model-call spans.
fn check_run_trace(spans: &[(Vec<KeyValue>, Span)]) -> usize {
    assert!(!spans.is_empty(), "no span exported");
    for (resource, span) in spans {
        assert_eq!(
            value(resource, "service.name"),
            text("meridian"),
            "{}",
            span.name
        );
        assert_eq!(
            value(resource, "meridian.region"),
            text("us"),
            "{}",
            span.name
        );
    }
    let by_id: HashMap<&[u8], &Span> = spans
        .iter()
        .map(|(_, s)| (s.span_id.as_slice(), s))
        .collect();
    let runs: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name == "run")
        .collect();
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    assert_eq!(runs.len(), 1, "one run span among {names:?}");
    let run = runs[0];
    assert!(run.parent_span_id.is_empty(), "the run span is a root");
    assert_eq!(value(&run.attributes, "region"), text("us"));
    assert_eq!(value(&run.attributes, "date"), text(DATE));
    // Whether `span` lies below the run span.
    let under_run = |span: &Span| {
        let mut parent = span.parent_span_id.as_slice();
        while let Some(p) = by_id.get(parent) {
            if p.span_id == run.span_id {
                return true;
            }
            parent = p.parent_span_id.as_slice();
        }
        false
    };

    // One job span per unit of work, every stage of the run represented.
    let jobs: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name == "job")
        .collect();
    for kind in ["feed", "episode", "digest", "deliver"] {
        assert!(
            jobs.iter()
                .any(|j| value(&j.attributes, "kind") == text(kind)),
            "a `{kind}` job span among {} job spans",
            jobs.len()
        );
    }
    for job in &jobs {
        assert_eq!(job.trace_id, run.trace_id, "a job span in the run's trace");
        assert_eq!(
            job.parent_span_id, run.span_id,
            "job spans are the run's children"
        );
        assert_eq!(value(&job.attributes, "region"), text("us"));
    }

    // Every model call, with the GenAI attributes and the tokens the API reported.
    let calls: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| value(&s.attributes, "gen_ai.operation.name").is_some())
        .collect();
    assert!(!calls.is_empty(), "model-call spans among {names:?}");
    for call in &calls {
        let a = &call.attributes;
        assert_eq!(call.name, "chat gpt-4o-mini");
        assert_eq!(value(a, "gen_ai.operation.name"), text("chat"));
        assert_eq!(value(a, "gen_ai.provider.name"), text("openai"));
        assert_eq!(value(a, "gen_ai.request.model"), text("gpt-4o-mini"));
        assert_eq!(value(a, "gen_ai.usage.input_tokens"), int(PROMPT_TOKENS));
        assert_eq!(
            value(a, "gen_ai.usage.output_tokens"),
            int(COMPLETION_TOKENS)
        );
        assert_eq!(value(a, "region"), text("us"));
        assert_eq!(value(a, "error.type"), None, "the call succeeded");
        assert_eq!(
            call.trace_id, run.trace_id,
            "a model call in the run's trace"
        );
        let parent = by_id
            .get(call.parent_span_id.as_slice())
            .expect("a model call's parent span is exported");
        assert_eq!(parent.name, "job");
        assert_eq!(value(&parent.attributes, "kind"), text("episode"));
        assert!(under_run(call));
    }
    calls.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_exports_its_spans_over_otlp_http_to_the_collector_it_is_given() {
    let feeds = SampleServer::start(&repo().join("demo"), None)
        .await
        .unwrap();
    let openai = FakeOpenAi::start().await;
    let collector = Receiver::start().await;
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let regions = write_region(config.path(), &feeds, &openai);

    let report = run_region(
        &regions,
        data.path(),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", collector.server.base())],
    )
    .await;

    assert_eq!(
        report["digest"]["items"].as_array().map(Vec::len),
        Some(5),
        "a top 5: {report}"
    );
    let chats = openai.chats();
    assert!(chats > 0, "the run called the fake OpenAI API");
    assert!(
        collector.paths().iter().all(|p| p == "/v1/traces"),
        "the base endpoint gets `/v1/traces`: {:?}",
        collector.paths()
    );
    let calls = check_run_trace(&collector.spans());
    assert_eq!(calls, chats, "one model-call span per request the API got");
    feeds.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_traces_endpoint_variable_is_used_as_the_full_url_and_wins_over_the_base_one() {
    let feeds = SampleServer::start(&repo().join("demo"), None)
        .await
        .unwrap();
    let openai = FakeOpenAi::start().await;
    let collector = Receiver::start().await;
    let other = Receiver::start().await;
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let regions = write_region(config.path(), &feeds, &openai);

    run_region(
        &regions,
        data.path(),
        &[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("{}/otlp/traces", collector.server.base()),
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", other.server.base()),
        ],
    )
    .await;

    assert!(
        collector.requests() > 0,
        "spans sent to the traces endpoint"
    );
    assert!(
        collector.paths().iter().all(|p| p == "/otlp/traces"),
        "the URL as given, nothing appended: {:?}",
        collector.paths()
    );
    assert_eq!(other.requests(), 0, "nothing sent to the base endpoint");
    let calls = check_run_trace(&collector.spans());
    assert_eq!(calls, openai.chats());
    feeds.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_sdk_disabled_sends_nothing() {
    let feeds = SampleServer::start(&repo().join("demo"), None)
        .await
        .unwrap();
    let openai = FakeOpenAi::start().await;
    let collector = Receiver::start().await;
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let regions = write_region(config.path(), &feeds, &openai);

    let report = run_region(
        &regions,
        data.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.server.base()),
            ("OTEL_SDK_DISABLED", "true".to_owned()),
        ],
    )
    .await;

    assert_eq!(
        report["digest"]["items"].as_array().map(Vec::len),
        Some(5),
        "the run itself is unchanged: {report}"
    );
    assert!(openai.chats() > 0);
    // The process has exited: whatever it would have exported is sent by now.
    assert_eq!(collector.requests(), 0, "no export request");
    feeds.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_does_not_fail_the_run() {
    let feeds = SampleServer::start(&repo().join("demo"), None)
        .await
        .unwrap();
    let openai = FakeOpenAi::start().await;
    // A loopback port nobody listens on any more: connections are refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let regions = write_region(config.path(), &feeds, &openai);

    let report = run_region(
        &regions,
        data.path(),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{closed}"))],
    )
    .await;

    assert_eq!(
        report["digest"]["items"].as_array().map(Vec::len),
        Some(5),
        "the run succeeds without its collector: {report}"
    );
    feeds.stop().await;
}
