//! Loopback servers for the model tests: the sample podcasts, and fake model
//! APIs (Ollama, OpenAI-compatible) that answer like the real ones.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use meridian_core::RegionId;
use meridian_runtime::{AssembleOptions, Region};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bytes served for every `/media/*.mp3`: not audio, but the fake
/// transcription API does not listen to it either.
pub const AUDIO: &[u8] = b"ID3\x04\x00\x00\x00\x00\x00\x0f\xff\xfbP\xc4 not really mpeg";

/// Serves the project's `demo/` folder, with `{{base_url}}` replaced by the
/// server's own origin, and a small stub for every enclosure. The declared
/// enclosure sizes are cut to the stub's size, so that speech-to-text (which
/// refuses audio the feed declares larger than its cap) gets to try.
pub struct FeedServer {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct FeedState {
    root: PathBuf,
    base: String,
}

impl FeedServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = FeedState {
            root: repo().join("demo"),
            base: base.clone(),
        };
        let app = axum::Router::new().fallback(serve_demo).with_state(state);
        #[expect(
            clippy::disallowed_methods,
            reason = "owned by FeedServer, which aborts it on drop"
        )]
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, task }
    }

    /// `127.0.0.1:PORT`, as an egress allow-list entry.
    pub fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

async fn serve_demo(State(state): State<FeedState>, request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/').to_owned();
    if path.starts_with("media/") && path.ends_with(".mp3") {
        return ([(header::CONTENT_TYPE, "audio/mpeg")], AUDIO).into_response();
    }
    if path.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Ok(bytes) = tokio::fs::read(state.root.join(&path)).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = match Path::new(&path).extension().and_then(|e| e.to_str()) {
        Some("xml") => "application/rss+xml; charset=utf-8",
        Some("vtt") => "text/vtt; charset=utf-8",
        Some("srt") => "application/x-subrip; charset=utf-8",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    let body = if path.ends_with(".xml") {
        let text = String::from_utf8_lossy(&bytes).replace("{{base_url}}", &state.base);
        let mut out = String::with_capacity(text.len());
        // `length="39216000"` → the stub's length.
        let mut rest = text.as_str();
        while let Some(at) = rest.find("length=\"") {
            let (head, tail) = rest.split_at(at + "length=\"".len());
            out.push_str(head);
            let end = tail.find('"').unwrap_or(0);
            out.push_str(&AUDIO.len().to_string());
            rest = &tail[end..];
        }
        out.push_str(rest);
        out.into_bytes()
    } else {
        bytes
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Which API a [`FakeModel`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `POST /api/chat`, `GET /api/tags`.
    Ollama,
    /// `POST /v1/chat/completions`, `POST /v1/audio/transcriptions`.
    OpenAi,
}

/// A request a [`FakeModel`] answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The `Podcast:` line of a chat request's prompt.
    pub podcast: Option<String>,
    /// The transcript lines the prompt carried.
    pub transcript_lines: usize,
}

#[derive(Default)]
struct FakeState {
    requests: Vec<Recorded>,
    chats: usize,
    /// After this many chat answers the server is gone: every connection is
    /// dropped unanswered.
    stop_after: Option<usize>,
    /// Connections dropped since the stop.
    dropped: usize,
}

/// A fake model server on loopback.
///
/// Not wiremock, because a test needs the server to vanish in the middle of
/// a run: after [`FakeModel::stop_after`] chat answers, every new connection
/// is closed at once, as when the process behind the port dies. It speaks
/// HTTP/1.1 one request per connection (`connection: close`) and answers
/// with the vendors' JSON shapes. Its chat answers quote three lines of the
/// transcript it was sent, so that the insights ground.
pub struct FakeModel {
    pub base: String,
    api: Api,
    state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeModel {
    pub async fn start(api: Api) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FakeState::default()));
        let shared = Arc::clone(&state);
        #[expect(
            clippy::disallowed_methods,
            reason = "owned by FakeModel, which aborts it on drop"
        )]
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                {
                    let mut s = shared.lock().unwrap();
                    if s.stop_after.is_some_and(|n| s.chats >= n) {
                        s.dropped += 1;
                        drop(socket);
                        continue;
                    }
                }
                let state = Arc::clone(&shared);
                #[expect(
                    clippy::disallowed_methods,
                    reason = "one connection, ending with its one answer"
                )]
                tokio::spawn(async move { answer(api, socket, state).await });
            }
        });
        Self {
            base,
            api,
            state,
            task,
        }
    }

    /// `127.0.0.1:PORT`, as an egress allow-list entry.
    pub fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The endpoint a region file names.
    pub fn endpoint(&self) -> String {
        match self.api {
            Api::Ollama => self.base.clone(),
            Api::OpenAi => format!("{}/v1", self.base),
        }
    }

    /// After `chats` chat answers, the server stops answering anything.
    pub fn stop_after(&self, chats: usize) {
        self.state.lock().unwrap().stop_after = Some(chats);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Connections refused since the stop.
    pub fn dropped(&self) -> usize {
        self.state.lock().unwrap().dropped
    }
}

/// Reads one HTTP/1.1 request: (method, path, body), the body by
/// `content-length` or `transfer-encoding: chunked`.
async fn read_request(socket: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut words = head.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    let lower = head.to_ascii_lowercase();
    let mut body = buf[head_end + 4..].to_vec();
    if lower.contains("transfer-encoding: chunked") {
        loop {
            if let Some(decoded) = dechunk(&body) {
                return Some((method, path, decoded));
            }
            let n = socket.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let length = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, path, body))
}

/// The body of a complete chunked transfer, `None` while incomplete.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if raw.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

async fn answer(api: Api, mut socket: TcpStream, state: Arc<Mutex<FakeState>>) {
    let Some((method, path, body)) = read_request(&mut socket).await else {
        return;
    };
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let user = request["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    let podcast = user
        .lines()
        .find_map(|l| l.strip_prefix("Podcast: "))
        .map(str::to_owned);
    let (status, reply, chat) = match (api, method.as_str(), path.as_str()) {
        (Api::Ollama, "POST", "/api/chat") => {
            (200, ollama_chat(&quoting_reply(user), 812, 97), true)
        }
        (Api::Ollama, "GET", "/api/tags") => (
            200,
            json!({"models": [{"name": "qwen2.5:7b-instruct", "model": "qwen2.5:7b-instruct",
                "modified_at": "2025-05-14T09:00:00Z", "size": 4_683_087_332_u64,
                "digest": "845dbda0ea48ed749caafd9e6037047aa19acfcfd82e704d7ca97d631a0b697e",
                "details": {"format": "gguf", "family": "qwen2", "parameter_size": "7.6B", "quantization_level": "Q4_K_M"}}]}),
            false,
        ),
        (Api::OpenAi, "POST", "/v1/chat/completions") => {
            (200, openai_completion(&quoting_reply(user), 812, 97), true)
        }
        (Api::OpenAi, "POST", "/v1/audio/transcriptions") => (200, verbose_json(), false),
        (Api::Ollama, ..) => (404, json!({"error": format!("{path} not found")}), false),
        (Api::OpenAi, ..) => (
            404,
            json!({"error": {"message": format!("Unknown request URL: {method} {path}"), "type": "invalid_request_error"}}),
            false,
        ),
    };
    {
        let mut s = state.lock().unwrap();
        s.requests.push(Recorded {
            method,
            path,
            podcast,
            transcript_lines: transcript_lines(user).len(),
        });
        if chat {
            s.chats += 1;
        }
    }
    let body = reply.to_string();
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Not Found" },
        body.len()
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(body.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// The transcript lines of a prompt: between the `Transcript…:` line and
/// the closing marker.
fn transcript_lines(user: &str) -> Vec<&str> {
    user.lines()
        .skip_while(|l| !l.starts_with("Transcript"))
        .skip(1)
        .take_while(|l| !l.ends_with(">>>"))
        .collect()
}

/// What is said on a prompt line `[m:ss] Speaker: text`.
fn said(line: &str) -> &str {
    let rest = match line.strip_prefix('[') {
        Some(timed) => timed.split_once("] ").map_or(timed, |(_, r)| r),
        None => line,
    };
    match rest.split_once(": ") {
        Some((speaker, text)) if speaker.chars().count() <= 40 => text,
        _ => rest,
    }
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// A model answer quoting three lines of the transcript in the prompt
/// (a quarter, half and three quarters of the way through), verbatim.
fn quoting_reply(user: &str) -> String {
    let lines: Vec<&str> = transcript_lines(user)
        .into_iter()
        .map(said)
        .filter(|s| {
            if s.chars().any(is_cjk) {
                s.chars().filter(|c| is_cjk(*c)).count() >= 16
            } else {
                s.split_whitespace().count() >= 12
            }
        })
        .collect();
    let mut picks: Vec<usize> = [1, 2, 3].iter().map(|q| lines.len() * q / 4).collect();
    picks.dedup();
    let insights: Vec<Value> = picks
        .iter()
        .filter_map(|&i| lines.get(i))
        .enumerate()
        .map(|(rank, text)| {
            let quote = if text.chars().any(is_cjk) {
                text.chars().take(20).collect::<String>()
            } else {
                text.split_whitespace()
                    .take(14)
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            json!({
                "text": format!("The episode makes this point: {quote}"),
                "quote": quote,
                "start_seconds": 0,
                "importance": 0.95 - 0.05 * rank as f64,
                "why": "It is the heart of the episode."
            })
        })
        .collect();
    json!({ "insights": insights }).to_string()
}

/// `POST /api/chat` with `stream: false`, as Ollama answers it.
fn ollama_chat(content: &str, prompt_eval_count: u64, eval_count: u64) -> Value {
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

/// `POST /v1/chat/completions`, as OpenAI answers it.
fn openai_completion(content: &str, prompt_tokens: u64, completion_tokens: u64) -> Value {
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
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    })
}

/// `POST /v1/audio/transcriptions` with `response_format=verbose_json`, as
/// whisper-1 answers it.
fn verbose_json() -> Value {
    let segments = [
        (
            0.0,
            7.5,
            " Welcome back to the show, where we follow the money through small businesses.",
        ),
        (
            7.5,
            19.0,
            " Our guest explains why a bakery that tracks its cash every single week survives a bad winter far better than one that only looks at the books at tax time.",
        ),
        (
            19.0,
            31.2,
            " She says the single most useful habit is a thirteen week cash forecast that is updated every Monday morning before the first customer walks in.",
        ),
        (31.2, 40.0, " That is all for today, thanks for listening."),
    ];
    json!({
        "task": "transcribe",
        "language": "english",
        "duration": 40.0,
        "text": segments.iter().map(|s| s.2).collect::<String>(),
        "segments": segments.iter().enumerate().map(|(i, (start, end, text))| json!({
            "id": i, "seek": 0, "start": start, "end": end, "text": text,
            "tokens": [50364, 2421, 646, 281, 264, 855, 13], "temperature": 0.0,
            "avg_logprob": -0.21, "compression_ratio": 1.4, "no_speech_prob": 0.01
        })).collect::<Vec<_>>(),
        "usage": {"type": "duration", "seconds": 40}
    })
}

/// Writes `<id>.toml` into `dir` and assembles the region, with its data in
/// `data`.
pub async fn region(dir: &Path, data: &Path, id: &str, toml: &str) -> Region {
    std::fs::write(dir.join(format!("{id}.toml")), toml).unwrap();
    let id = RegionId::parse(id).unwrap();
    let config = meridian_config::load_region(dir, data, &id)
        .unwrap_or_else(|e| panic!("region `{id}`: {e}: {:?}", e.problems()));
    let options = AssembleOptions {
        policies_dir: Some(meridian_testkit::policies::shipped()),
        ..AssembleOptions::default()
    };
    Region::assemble(config, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Adds the region's sample feeds (`demo/<id>.opml`), served by `feeds`.
pub async fn add_sample_feeds(region: &Region, feeds: &FeedServer) {
    let id = &region.config().id;
    let opml = std::fs::read_to_string(repo().join("demo").join(format!("{id}.opml")))
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
