//! The `ollama` provider: a model served by Ollama, through the `ollama-rs`
//! client.
//!
//! One call is one `POST {endpoint}/api/chat` with `stream: false`,
//! `format` set to the insight JSON schema (Ollama's structured outputs),
//! temperature 0 and a fixed context window ([`crate::prompt::CONTEXT_TOKENS`]).
//! A reply that fails validation gets one repair request, as for `openai`.
//!
//! ollama-rs 0.3 is built on reqwest 0.12, so this provider takes a reqwest
//! 0.12 client (imported as `reqwest012`), built by the egress crate like the
//! 0.13 one.
//!
//! Two things ollama-rs does not expose are handled here:
//! - on a non-2xx answer it keeps only the body, not the status, so errors are
//!   classified from Ollama's `{"error": "…"}` message: "not found" means the
//!   model is not pulled, anything else is a server error;
//! - its `/api/tags` model list has no `digest` field, so [`OllamaProvider::check_digest`]
//!   reads `/api/tags` itself through the same HTTP client. (`/api/show` has
//!   no manifest digest at all, only blob paths in the Modelfile.)

use std::fmt;
use std::time::Duration;

use meridian_config::{ModelConfig, ProviderKind};
use ollama_rs::Ollama;
use ollama_rs::error::OllamaError;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::chat::{ChatMessage, ChatMessageResponse};
use ollama_rs::generation::parameters::FormatType;
use ollama_rs::models::ModelOptions;
use reqwest012::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;

use crate::error::{ProviderError, TransportFailure, chain, clip, parse_retry_after};
use crate::openai::host_of;
use crate::prompt::{
    CONTEXT_TOKENS, ExtractRequest, MAX_OUTPUT_TOKENS, ProviderOutput, Reply, Role, insight_schema,
};
use crate::provider::ChatApi;

/// A model served by Ollama.
pub struct OllamaProvider {
    /// The entry's `name` in the region file.
    name: String,
    /// The model as Ollama names it (`qwen2.5:7b-instruct`).
    model: String,
    /// `host[:port]` of the endpoint, for errors and logs.
    host: String,
    /// The endpoint, ending in `/`.
    base: url::Url,
    /// Per-request limit, on top of the HTTP client's own.
    timeout: Duration,
    /// The pinned digest, when the region file sets one.
    digest: Option<String>,
    /// The caller's client, for `/api/tags`.
    http: reqwest012::Client,
    /// Headers for requests we send ourselves (`Authorization`).
    headers: HeaderMap,
    /// The ollama-rs client, sending through `http`.
    client: Ollama,
}

impl fmt::Debug for OllamaProvider {
    // By hand: the headers may hold an API key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OllamaProvider")
            .field("name", &self.name)
            .field("model", &self.model)
            .field("base", &self.base.as_str())
            .field("timeout", &self.timeout)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

impl OllamaProvider {
    /// The provider name in config and telemetry.
    pub const PROVIDER_TYPE: &'static str = "ollama";

    /// Prepares the provider for one model entry. Sends nothing.
    ///
    /// `config.endpoint` is the server's base URL (`http://127.0.0.1:11434`).
    /// An API key, when set (a hosted Ollama), is sent as a bearer token.
    ///
    /// # Errors
    /// [`ProviderError::Config`] when the entry is not an `ollama` one, has no
    /// endpoint, or its key cannot be sent in an HTTP header.
    pub fn new(config: &ModelConfig, http: reqwest012::Client) -> Result<Self, ProviderError> {
        let config_error = |reason: String| ProviderError::Config {
            model: config.name.clone(),
            reason,
        };
        if config.provider != ProviderKind::Ollama {
            return Err(config_error(format!(
                "provider is `{}`, not `{}`",
                config.provider.as_str(),
                Self::PROVIDER_TYPE
            )));
        }
        let mut base = config
            .endpoint
            .clone()
            .ok_or_else(|| config_error("has no `endpoint`".to_owned()))?;
        // ollama-rs appends `api/chat` to the URL as a string.
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut headers = HeaderMap::new();
        if let Some(key) = &config.api_key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    config_error(format!(
                        "the API key in `{}` contains characters an HTTP header cannot carry",
                        config.api_key_env.as_deref().unwrap_or("its variable")
                    ))
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let client = Ollama::builder()
            .url(base.clone())
            .reqwest_client(http.clone())
            .request_headers(headers.clone())
            .build();
        Ok(Self {
            name: config.name.clone(),
            model: config.model.clone(),
            host: host_of(&base),
            base,
            timeout: config.timeout,
            digest: config.digest.clone(),
            http,
            headers,
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
    /// Transport and server failures as [`ProviderError`] variants;
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

    /// Checks that the server's copy of the model is the one the region file
    /// pins (`digest = "sha256:…"`); does nothing when none is pinned.
    ///
    /// Reads `GET /api/tags`. Digests compare without a `sha256:` prefix and
    /// without regard to case; the model matches by its full name, or with
    /// `:latest` added when the entry names no tag.
    ///
    /// # Errors
    /// [`ProviderError::DigestMismatch`] naming both digests;
    /// [`ProviderError::NotFound`] when the server lists no such model;
    /// transport and HTTP failures as for [`Self::extract`].
    pub async fn check_digest(&self) -> Result<(), ProviderError> {
        let Some(expected) = &self.digest else {
            return Ok(());
        };
        let tags = self.list_models().await?;
        let with_latest = format!("{}:latest", self.model);
        let found = tags.models.iter().find(|m| {
            [Some(&m.name), m.model.as_ref()]
                .into_iter()
                .flatten()
                .any(|n| *n == self.model || *n == with_latest)
        });
        let Some(found) = found else {
            return Err(ProviderError::NotFound {
                model: self.name.clone(),
                host: self.host.clone(),
                server_model: self.model.clone(),
            });
        };
        let bare = |d: &str| d.trim().trim_start_matches("sha256:").to_ascii_lowercase();
        if bare(expected) == bare(&found.digest) {
            Ok(())
        } else {
            Err(ProviderError::DigestMismatch {
                model: self.name.clone(),
                host: self.host.clone(),
                expected: expected.clone(),
                actual: found.digest.clone(),
            })
        }
    }

    async fn list_models(&self) -> Result<WireTags, ProviderError> {
        let url = self
            .base
            .join("api/tags")
            .map_err(|e| ProviderError::Config {
                model: self.name.clone(),
                reason: format!("endpoint `{}` cannot take `api/tags`: {e}", self.base),
            })?;
        let call = async {
            let response = self
                .http
                .get(url)
                .headers(self.headers.clone())
                .send()
                .await
                .map_err(|e| self.transport(&e))?;
            let status = response.status();
            if !status.is_success() {
                let retry_after = response
                    .headers()
                    .get(reqwest012::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let body = response.text().await.unwrap_or_default();
                return Err(ProviderError::from_status(
                    &self.name,
                    &self.host,
                    status.as_u16(),
                    ollama_message(&body),
                    retry_after,
                ));
            }
            let bytes = response.bytes().await.map_err(|e| self.transport(&e))?;
            serde_json::from_slice::<WireTags>(&bytes).map_err(|e| ProviderError::BadResponse {
                model: self.name.clone(),
                host: self.host.clone(),
                reason: format!("not an `/api/tags` model list: {e}"),
            })
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| self.timed_out())?
    }

    fn timed_out(&self) -> ProviderError {
        ProviderError::Timeout {
            model: self.name.clone(),
            host: self.host.clone(),
            after: Some(self.timeout),
        }
    }

    fn transport(&self, e: &reqwest012::Error) -> ProviderError {
        TransportFailure {
            timeout: e.is_timeout(),
            body: e.is_body() || e.is_decode(),
            detail: chain(e),
        }
        .into_error(&self.name, &self.host)
    }

    fn map_error(&self, error: OllamaError) -> ProviderError {
        let (model, host) = (self.name.clone(), self.host.clone());
        match error {
            OllamaError::ReqwestError(e) => self.transport(&e),
            OllamaError::JsonError(e) => ProviderError::BadResponse {
                model,
                host,
                reason: format!("not an `/api/chat` response: {e}"),
            },
            OllamaError::Other(body) => {
                let message = ollama_message(&body);
                // ollama-rs drops the status; Ollama's 404 says "model … not found".
                if message.contains("not found") {
                    ProviderError::NotFound {
                        model,
                        host,
                        server_model: self.model.clone(),
                    }
                } else {
                    ProviderError::ServerError {
                        model,
                        host,
                        status: None,
                        message,
                    }
                }
            }
            OllamaError::InternalError(e) => ProviderError::ServerError {
                model,
                host,
                status: None,
                message: clip(&e.message),
            },
            OllamaError::ToolCallError(e) => ProviderError::BadResponse {
                model,
                host,
                reason: chain(&e),
            },
        }
    }
}

impl ChatApi for OllamaProvider {
    fn entry_name(&self) -> &str {
        &self.name
    }

    fn host(&self) -> &str {
        &self.host
    }

    /// One `/api/chat` call.
    async fn complete(&self, conversation: Vec<(Role, String)>) -> Result<Reply, ProviderError> {
        let messages = conversation
            .into_iter()
            .map(|(role, text)| match role {
                Role::System => ChatMessage::system(text),
                Role::User => ChatMessage::user(text),
                Role::Assistant => ChatMessage::assistant(text),
            })
            .collect();
        // `FormatType` deserialises a schema object into `StructuredJson`,
        // which spares us a direct schemars dependency.
        let format = serde_json::from_value::<FormatType>(insight_schema()).map_err(|e| {
            ProviderError::Config {
                model: self.name.clone(),
                reason: format!("the insight schema is not a valid Ollama format: {e}"),
            }
        })?;
        #[expect(
            clippy::cast_possible_wrap,
            reason = "MAX_OUTPUT_TOKENS is a small constant"
        )]
        let options = ModelOptions::default()
            .temperature(0.0)
            .num_ctx(u64::from(CONTEXT_TOKENS))
            .num_predict(MAX_OUTPUT_TOKENS as i32);
        let request = ChatMessageRequest::new(self.model.clone(), messages)
            .format(format)
            .options(options);
        let response: ChatMessageResponse =
            tokio::time::timeout(self.timeout, self.client.send_chat_messages(request))
                .await
                .map_err(|_| self.timed_out())?
                .map_err(|e| self.map_error(e))?;
        let (input_tokens, output_tokens) = response
            .final_data
            .as_ref()
            .map_or((0, 0), |d| (d.prompt_eval_count, d.eval_count));
        Ok(Reply {
            content: response.message.content,
            input_tokens,
            output_tokens,
        })
    }
}

/// The message of an Ollama error body (`{"error": "…"}`), or the body.
fn ollama_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct WireError {
        error: String,
    }
    serde_json::from_str::<WireError>(body).map_or_else(|_| clip(body), |e| clip(&e.error))
}

/// `GET /api/tags`: the models the server has.
#[derive(Debug, Deserialize)]
struct WireTags {
    models: Vec<WireTagModel>,
}

#[derive(Debug, Deserialize)]
struct WireTagModel {
    name: String,
    #[serde(default)]
    model: Option<String>,
    digest: String,
}
