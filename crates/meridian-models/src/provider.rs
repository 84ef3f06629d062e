//! The provider abstraction: what each role asks of a provider.
//!
//! - [`InsightProvider`]: insights for one transcript. Every provider has it:
//!   `builtin` runs the extractive engine, and the remote ones (`openai`,
//!   `ollama`) get it from [`ChatApi`], so the conversation itself (ask,
//!   validate and ground, one repair request, chunk merging:
//!   [`crate::prompt`]) is written once and a remote provider only says how
//!   to send one chat request over its vendor's API.
//! - [`TranscribeProvider`]: speech-to-text, which only `openai` has.
//!
//! A provider only speaks to its API. What is around every call — the
//! region's policy gate, the budget, the breaker, the retries (through the
//! [`ModelGuard`] it is handed), the span and the accounting — is applied
//! once, by the role-generic chain ([`crate::chain`]), whichever provider
//! answers. [`ModelProvider`] is the closed set the chain holds; it
//! dispatches to these traits with exhaustive `match`es.

use crate::builtin::{self, BuiltinOptions};
use crate::prompt::{ExtractRequest, ProviderOutput, Reply, Role, extract_with_repair};
use crate::resilience::{ModelGuard, Resilience, Usage};
use crate::{ModelProvider, ProviderError};

/// A provider of the `insight` role.
pub(crate) trait InsightProvider {
    /// The span's `gen_ai.operation.name` of one call.
    const OPERATION: &'static str;
    /// Whether a call spends tokens of the region's budget (a remote model).
    const SPENDS_TOKENS: bool;

    /// The insights of `req`. Each HTTP request goes through `guard`
    /// (concurrency limit, retries); the tokens servers report are added to
    /// `usage` as replies arrive, so a call that fails half-way still counts.
    async fn extract_insights(
        &self,
        req: &ExtractRequest<'_>,
        guard: &ModelGuard,
        usage: &Usage,
    ) -> Result<ProviderOutput, ProviderError>;
}

/// A remote chat API (`openai`, `ollama`): one request, one reply. The
/// insight conversation around it is [`extract_with_repair`], shared.
pub(crate) trait ChatApi {
    /// The entry's `name` in the region file.
    fn entry_name(&self) -> &str;
    /// `host[:port]` of the endpoint.
    fn host(&self) -> &str;
    /// Sends one conversation and reads the reply (no retry here).
    async fn complete(&self, conversation: Vec<(Role, String)>) -> Result<Reply, ProviderError>;
}

impl<P: ChatApi> InsightProvider for P {
    const OPERATION: &'static str = "chat";
    const SPENDS_TOKENS: bool = true;

    async fn extract_insights(
        &self,
        req: &ExtractRequest<'_>,
        guard: &ModelGuard,
        usage: &Usage,
    ) -> Result<ProviderOutput, ProviderError> {
        extract_with_repair(req, self.entry_name(), self.host(), guard, usage, |c| {
            self.complete(c)
        })
        .await
    }
}

/// A remote provider called directly, outside a chain: no retries, no
/// breaker, no budget.
pub(crate) async fn extract_unguarded(
    provider: &impl InsightProvider,
    req: &ExtractRequest<'_>,
) -> Result<ProviderOutput, ProviderError> {
    provider
        .extract_insights(req, &ModelGuard::new(Resilience::none()), &Usage::default())
        .await
}

impl InsightProvider for BuiltinOptions {
    const OPERATION: &'static str = "extract";
    const SPENDS_TOKENS: bool = false;

    async fn extract_insights(
        &self,
        req: &ExtractRequest<'_>,
        _guard: &ModelGuard,
        _usage: &Usage,
    ) -> Result<ProviderOutput, ProviderError> {
        let options = BuiltinOptions {
            max_insights: req.max_insights,
            ..self.clone()
        };
        // The extractive engine is CPU work (~15 ms per episode): run it on
        // the blocking pool so that concurrent episodes use every core and
        // the async workers keep serving I/O. The transcript is cloned once
        // to move it there.
        let transcript = req.transcript.clone();
        let model = options.model.clone();
        let insights = tokio::task::spawn_blocking(move || builtin::extract(&transcript, &options))
            .await
            .map_err(|e| ProviderError::BadOutput {
                model,
                host: String::new(),
                reason: format!("the builtin engine stopped: {e}"),
            })?;
        Ok(ProviderOutput {
            insights,
            input_tokens: 0,
            output_tokens: 0,
            dropped_ungrounded: 0,
            repaired: false,
        })
    }
}

/// What the `transcribe` role sends: one audio file.
#[derive(Debug, Clone)]
pub(crate) struct AudioRequest<'a> {
    /// The file's bytes.
    pub audio: bytes::Bytes,
    /// Its name, whose extension tells the server the format.
    pub filename: &'a str,
    /// ISO 639-1 code, when known.
    pub language: Option<&'a str>,
}

/// A provider of the `transcribe` role.
pub(crate) trait TranscribeProvider {
    /// The transcript of `req`'s audio; requests go through `guard`, reported
    /// tokens into `usage`.
    async fn transcribe(
        &self,
        req: &AudioRequest<'_>,
        guard: &ModelGuard,
        usage: &Usage,
    ) -> Result<meridian_core::Transcript, ProviderError>;
}

impl ModelProvider {
    /// The span's `gen_ai.operation.name` of an insight call.
    pub(crate) fn insight_operation(&self) -> &'static str {
        match self {
            Self::OpenAi(_) => crate::OpenAiProvider::OPERATION,
            Self::Ollama(_) => crate::OllamaProvider::OPERATION,
            Self::Builtin(_) => BuiltinOptions::OPERATION,
        }
    }

    /// Whether an insight call spends tokens of the region's budget.
    pub(crate) fn spends_tokens(&self) -> bool {
        match self {
            Self::OpenAi(_) => crate::OpenAiProvider::SPENDS_TOKENS,
            Self::Ollama(_) => crate::OllamaProvider::SPENDS_TOKENS,
            Self::Builtin(_) => BuiltinOptions::SPENDS_TOKENS,
        }
    }

    /// The insights of `req`, from whichever provider this is.
    pub(crate) async fn extract_insights(
        &self,
        req: &ExtractRequest<'_>,
        guard: &ModelGuard,
        usage: &Usage,
    ) -> Result<ProviderOutput, ProviderError> {
        match self {
            Self::OpenAi(p) => p.extract_insights(req, guard, usage).await,
            Self::Ollama(p) => p.extract_insights(req, guard, usage).await,
            Self::Builtin(p) => p.extract_insights(req, guard, usage).await,
        }
    }

    /// The provider as a transcriber, when it has a speech-to-text API.
    pub(crate) fn transcriber(&self) -> Option<&crate::OpenAiProvider> {
        match self {
            Self::OpenAi(p) => Some(p),
            Self::Ollama(_) | Self::Builtin(_) => None,
        }
    }
}
