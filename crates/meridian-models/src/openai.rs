//! The `openai` provider: any OpenAI-compatible chat-completions API (OpenAI,
//! vLLM, DeepSeek, Qwen/DashScope, llama.cpp…), through the `async-openai`
//! client.
//!
//! One call is one `POST {endpoint}/chat/completions` with the prompt from
//! [`crate::prompt`] and `response_format` set to the insight JSON schema in
//! strict mode. A reply that fails validation gets one repair request (see
//! [`crate::prompt`]). Nothing here retries: the HTTP service handed to
//! `async-openai` replaces its default one, which would retry 429 and 5xx
//! answers on its own and hide `Retry-After` from the fallback chain.
//!
//! The request uses `async-openai`'s typed request; the reply is read into the
//! small wire structs below rather than the crate's full response type, so
//! that a compatible server's extra or unusual fields (a `service_tier` OpenAI
//! does not know) do not turn a good answer into an error.

use std::fmt;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::InputSource;
use async_openai::types::audio::{
    AudioInput, AudioResponseFormat, CreateTranscriptionRequest, TimestampGranularity,
};
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, ResponseFormat, ResponseFormatJsonSchema,
};
use meridian_config::{ModelConfig, ProviderKind};
use serde::Deserialize;

use crate::error::{ProviderError, TransportFailure, chain, clip, parse_retry_after};
use crate::prompt::{
    ExtractRequest, MAX_OUTPUT_TOKENS, ProviderOutput, Reply, Role, SCHEMA_NAME, insight_schema,
};
use crate::provider::ChatApi;

/// A model behind an OpenAI-compatible API.
pub struct OpenAiProvider {
    /// The entry's `name` in the region file.
    name: String,
    /// The model as the server names it.
    model: String,
    /// `host[:port]` of the endpoint, for errors and logs.
    host: String,
    /// Per-request limit, on top of the HTTP client's own.
    timeout: Duration,
    /// The async-openai client, sending through the caller's HTTP client.
    client: Client<OpenAIConfig>,
}

impl fmt::Debug for OpenAiProvider {
    // By hand: the client's config holds the API key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("name", &self.name)
            .field("model", &self.model)
            .field("host", &self.host)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// `host[:port]` of a URL, as errors name it.
pub(crate) fn host_of(url: &url::Url) -> String {
    url[url::Position::BeforeHost..url::Position::AfterPort].to_owned()
}

impl OpenAiProvider {
    /// The provider name in config and telemetry.
    pub const PROVIDER_TYPE: &'static str = "openai";

    /// Prepares the provider for one model entry. Sends nothing.
    ///
    /// `config.endpoint` is the API base including its version path
    /// (`https://api.openai.com/v1`). `http` is the region's egress-guarded
    /// client; its timeouts and body cap apply. Without an API key no
    /// `Authorization` header is sent (local servers need none).
    ///
    /// # Errors
    /// [`ProviderError::Config`] when the entry is not an `openai` one, has no
    /// endpoint, or its key cannot be sent in an HTTP header.
    pub fn new(config: &ModelConfig, http: reqwest::Client) -> Result<Self, ProviderError> {
        let config_error = |reason: String| ProviderError::Config {
            model: config.name.clone(),
            reason,
        };
        if config.provider != ProviderKind::OpenAi {
            return Err(config_error(format!(
                "provider is `{}`, not `{}`",
                config.provider.as_str(),
                Self::PROVIDER_TYPE
            )));
        }
        let endpoint = config
            .endpoint
            .as_ref()
            .ok_or_else(|| config_error("has no `endpoint`".to_owned()))?;
        let key = config.api_key.as_ref().map_or("", |k| k.expose());
        // async-openai builds the header with `parse().unwrap()`: check first.
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(config_error(format!(
                "the API key in `{}` contains characters an HTTP header cannot carry",
                config.api_key_env.as_deref().unwrap_or("its variable")
            )));
        }
        // Every field is set, so that nothing falls back to the OPENAI_*
        // environment variables async-openai reads by default: a region's
        // model must never be sent another region's key or organisation.
        let openai_config = OpenAIConfig::new()
            .with_api_base(endpoint.as_str().trim_end_matches('/'))
            .with_api_key(key)
            .with_org_id("")
            .with_project_id("");
        let service_http = http.clone();
        let service = tower::service_fn(move |factory: HttpRequestFactory| {
            send(service_http.clone(), factory)
        });
        let client = Client::build(http, openai_config).with_http_service(service);
        Ok(Self {
            name: config.name.clone(),
            model: config.model.clone(),
            host: host_of(endpoint),
            timeout: config.timeout,
            client,
        })
    }

    /// Asks the model for insights about one episode.
    ///
    /// Called directly, nothing is retried; within an [`crate::InsightChain`]
    /// the model's retries, breaker and concurrency limit apply, and the
    /// chain opens the call's tracing span.
    ///
    /// # Errors
    /// Transport, HTTP and output failures as [`ProviderError`] variants;
    /// [`ProviderError::BadOutput`] when neither the reply nor the one repair
    /// reply validates.
    pub async fn extract(&self, req: &ExtractRequest<'_>) -> Result<ProviderOutput, ProviderError> {
        crate::provider::extract_unguarded(self, req).await
    }

    /// The model as the server names it.
    #[must_use]
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Sends audio to `POST {endpoint}/audio/transcriptions` with
    /// `response_format=verbose_json` and segment timestamps, and reads the
    /// timed segments. One request, no retry (the chain retries).
    ///
    /// # Errors
    /// Transport and HTTP failures as for [`Self::extract`];
    /// [`ProviderError::BadResponse`] when the reply is not a transcription.
    pub(crate) async fn transcribe_audio(
        &self,
        audio: bytes::Bytes,
        filename: &str,
        language: Option<&str>,
    ) -> Result<WireTranscription, ProviderError> {
        let request = CreateTranscriptionRequest {
            file: AudioInput {
                source: InputSource::Bytes {
                    filename: filename.to_owned(),
                    bytes: audio,
                },
            },
            model: self.model.clone(),
            language: language.map(str::to_owned),
            response_format: Some(AudioResponseFormat::VerboseJson),
            temperature: Some(0.0),
            timestamp_granularities: Some(vec![TimestampGranularity::Segment]),
            ..Default::default()
        };
        let audio_api = self.client.audio();
        let transcriptions = audio_api.transcription();
        let call = transcriptions.create_verbose_json_byot::<_, WireTranscription>(request);
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| ProviderError::Timeout {
                model: self.name.clone(),
                host: self.host.clone(),
                after: Some(self.timeout),
            })?
            .map_err(|e| self.map_error(e))
    }

    fn read_reply(&self, completion: WireCompletion) -> Result<Reply, ProviderError> {
        let usage = completion.usage.unwrap_or_default();
        let Some(choice) = completion.choices.into_iter().next() else {
            return Err(ProviderError::BadResponse {
                model: self.name.clone(),
                host: self.host.clone(),
                reason: "the completion has no choices".to_owned(),
            });
        };
        if let Some(refusal) = choice.message.refusal.filter(|r| !r.trim().is_empty()) {
            return Err(ProviderError::Refused {
                model: self.name.clone(),
                host: self.host.clone(),
                message: clip(&refusal),
            });
        }
        if choice.finish_reason.as_deref() == Some("content_filter") {
            return Err(ProviderError::Refused {
                model: self.name.clone(),
                host: self.host.clone(),
                message: "the server's content filter stopped the reply".to_owned(),
            });
        }
        Ok(Reply {
            content: choice.message.content.unwrap_or_default(),
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
        })
    }

    fn map_error(&self, error: OpenAIError) -> ProviderError {
        let (model, host) = (self.name.as_str(), self.host.as_str());
        match error {
            OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpStatusError>() {
                Ok(status) => ProviderError::from_status(
                    model,
                    host,
                    status.status,
                    api_message(&status.body),
                    status.retry_after,
                ),
                // Only our own service (`send`) boxes errors.
                Err(other) => ProviderError::Unreachable {
                    model: model.to_owned(),
                    host: host.to_owned(),
                    reason: chain(other.as_ref()),
                },
            },
            OpenAIError::Reqwest(e) => TransportFailure {
                timeout: e.is_timeout(),
                body: e.is_body() || e.is_decode(),
                detail: chain(&e),
            }
            .into_error(model, host),
            OpenAIError::ApiError(e) => ProviderError::from_status(
                model,
                host,
                e.status_code.as_u16(),
                clip(&e.api_error.to_string()),
                None,
            ),
            OpenAIError::JSONDeserialize(e, _) => ProviderError::BadResponse {
                model: model.to_owned(),
                host: host.to_owned(),
                reason: format!("not a chat completion: {e}"),
            },
            OpenAIError::InvalidArgument(reason) => ProviderError::Config {
                model: model.to_owned(),
                reason,
            },
            // Streaming and file errors: not reachable from a unary chat call.
            other => ProviderError::BadResponse {
                model: model.to_owned(),
                host: host.to_owned(),
                reason: chain(&other),
            },
        }
    }
}

impl ChatApi for OpenAiProvider {
    fn entry_name(&self) -> &str {
        &self.name
    }

    fn host(&self) -> &str {
        &self.host
    }

    /// One chat completion.
    async fn complete(&self, conversation: Vec<(Role, String)>) -> Result<Reply, ProviderError> {
        let messages = conversation
            .into_iter()
            .map(|(role, text)| -> ChatCompletionRequestMessage {
                match role {
                    Role::System => ChatCompletionRequestSystemMessage::from(text).into(),
                    Role::User => ChatCompletionRequestUserMessage::from(text).into(),
                    Role::Assistant => ChatCompletionRequestAssistantMessage::from(text).into(),
                }
            })
            .collect();
        let request = CreateChatCompletionRequest {
            model: self.model.clone(),
            messages,
            response_format: Some(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    name: SCHEMA_NAME.to_owned(),
                    description: Some(
                        "Insights from a podcast episode, each grounded in a quote.".to_owned(),
                    ),
                    schema: insight_schema(),
                    strict: Some(true),
                },
            }),
            max_completion_tokens: Some(MAX_OUTPUT_TOKENS),
            // No `temperature`: OpenAI's reasoning models reject any value but
            // the default, and results are cached by transcript hash anyway.
            ..Default::default()
        };
        let chat = self.client.chat();
        let call = chat.create_byot::<_, WireCompletion>(request);
        let completion = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| ProviderError::Timeout {
                model: self.name.clone(),
                host: self.host.clone(),
                after: Some(self.timeout),
            })?
            .map_err(|e| self.map_error(e))?;
        self.read_reply(completion)
    }
}

/// A non-2xx answer, with what async-openai's own error would drop: the
/// status as a number and `Retry-After`.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}")]
struct HttpStatusError {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

/// The HTTP service async-openai sends through: the caller's client, no
/// retries, and non-2xx answers turned into [`HttpStatusError`].
async fn send(
    http: reqwest::Client,
    factory: HttpRequestFactory,
) -> Result<reqwest::Response, OpenAIError> {
    use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
    let mut request = factory.build().await?;
    if let Some(value) = request.headers_mut().get_mut(AUTHORIZATION) {
        if value.as_bytes() == b"Bearer " {
            // No key configured: send no credentials rather than an empty one.
            request.headers_mut().remove(AUTHORIZATION);
        } else {
            value.set_sensitive(true);
        }
    }
    let response = http.execute(request).await.map_err(OpenAIError::Reqwest)?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = response.text().await.unwrap_or_default();
    Err(OpenAIError::Boxed(Box::new(HttpStatusError {
        status: status.as_u16(),
        retry_after,
        body,
    })))
}

/// The message of an OpenAI error body (`{"error":{"message","type","code"}}`),
/// or the body itself when it is not one.
fn api_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Wrapped {
        error: WireApiError,
    }
    #[derive(Deserialize)]
    struct WireApiError {
        #[serde(default)]
        message: String,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        code: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Wrapped>(body) {
        Ok(w) => {
            let mut text = String::new();
            if let Some(kind) = w.error.kind.filter(|k| !k.is_empty()) {
                text.push_str(&kind);
                text.push_str(": ");
            }
            text.push_str(&w.error.message);
            if let Some(code) = w.error.code.filter(|c| !c.is_null()) {
                text.push_str(&format!(
                    " (code: {})",
                    code.as_str()
                        .map_or_else(|| code.to_string(), str::to_owned)
                ));
            }
            clip(&text)
        }
        Err(_) => clip(body),
    }
}

/// The parts of a chat completion we read (`POST /chat/completions`).
#[derive(Debug, Deserialize)]
struct WireCompletion {
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct WireChoice {
    message: WireMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// `POST /audio/transcriptions` with `response_format=verbose_json`: the
/// parts we read. Lenient on purpose: compatible servers (faster-whisper,
/// whisper.cpp, vLLM) leave out fields OpenAI sends.
#[derive(Debug, Deserialize)]
pub(crate) struct WireTranscription {
    /// The whole text.
    #[serde(default)]
    pub text: String,
    /// The spoken language, as the server names it (`english` or `en`).
    #[serde(default)]
    pub language: Option<String>,
    /// Length of the audio, seconds.
    #[serde(default)]
    pub duration: Option<f64>,
    /// Timed segments.
    #[serde(default)]
    pub segments: Option<Vec<WireSegment>>,
    /// Tokens (`gpt-4o-transcribe`) or seconds (`whisper-1`) billed.
    #[serde(default)]
    pub usage: Option<WireAudioUsage>,
}

/// One timed segment of a transcription.
#[derive(Debug, Deserialize)]
pub(crate) struct WireSegment {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// What was said.
    pub text: String,
}

/// `usage` of a transcription: `{"type":"tokens",…}` or `{"type":"duration","seconds":…}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireAudioUsage {
    /// Prompt (audio) tokens, for token-billed models.
    #[serde(default)]
    pub input_tokens: u64,
    /// Text tokens, for token-billed models.
    #[serde(default)]
    pub output_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_bodies_read_as_messages() {
        let body = r#"{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        assert_eq!(
            api_message(body),
            "requests: Rate limit reached for gpt-4o-mini (code: rate_limit_exceeded)"
        );
        assert_eq!(
            api_message("<html>Bad Gateway</html>"),
            "<html>Bad Gateway</html>"
        );
    }

    #[test]
    fn hosts_keep_an_explicit_port() {
        let u = |s: &str| url::Url::parse(s).ok();
        assert_eq!(
            u("https://api.openai.com/v1")
                .map(|u| host_of(&u))
                .as_deref(),
            Some("api.openai.com")
        );
        assert_eq!(
            u("http://127.0.0.1:8080/v1")
                .map(|u| host_of(&u))
                .as_deref(),
            Some("127.0.0.1:8080")
        );
    }
}
