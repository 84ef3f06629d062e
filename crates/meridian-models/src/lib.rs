//! The region's model stack: the [`ModelProvider`] set (`openai`, `ollama`,
//! `builtin`) and the [`InsightChain`] that walks only the region's own list.
//!
//! - [`builtin`]: the deterministic extractive insight engine, the last fallback
//!   of every region.
//! - [`openai`], [`ollama`]: remote providers through the real `async-openai`
//!   and `ollama-rs` clients, with JSON-schema output, one repair attempt and a
//!   grounding gate ([`prompt`]).
//! - `provider`: the provider abstraction, one trait per role
//!   (`InsightProvider`, which `openai` and `ollama` get from the shared
//!   `ChatApi` conversation and `builtin` implements itself;
//!   `TranscribeProvider`, `openai` only). [`ModelProvider`] dispatches to
//!   them; the gate, budget, breaker and retries are applied around any of
//!   them by the chain, never inside one.
//! - [`InsightChain`]: ordered fallback within one region (the same generic
//!   chain as [`TranscribeChain`]), with per-attempt
//!   accounting ([`Attempt`]); transcripts longer than one prompt are chunked
//!   ([`prompt::build_chunk_messages`]) and the chunks' insights merged.
//! - [`resilience`]: retries with back-off and jitter, a circuit breaker and a
//!   concurrency limit per model, and the region's daily [`TokenBudget`].
//! - [`transcribe`](mod@transcribe): speech-to-text of an episode's audio through the region's
//!   `transcribe` role ([`TranscribeChain`]).
//! - [`gate`]: the [`CallGate`] hook both chains ask before every provider
//!   call (builtin included) and tell after it; the runtime implements it
//!   with the region's Cedar gate and audit log. A refusal is a skip
//!   ([`SKIP_POLICY_DENIED`]) and the chain goes on within the region.
//!   Remote providers get their HTTP client only from the runtime, after the
//!   gate allowed the model (`clippy.toml` forbids the raw egress clients
//!   elsewhere).

pub mod builtin;
mod chain;
mod error;
pub mod gate;
pub mod ollama;
pub mod openai;
pub mod prompt;
mod provider;
pub mod resilience;
pub mod transcribe;

pub use chain::{
    Attempt, AttemptOutcome, Extraction, InsightChain, ModelStatus, SKIP_BUDGET_EXHAUSTED,
    SKIP_CIRCUIT_OPEN, SKIP_UNAVAILABLE,
};
pub use error::ProviderError;
pub use gate::{CallGate, CallRefusal, ModelCall, SKIP_POLICY_DENIED};
pub use ollama::OllamaProvider;
pub use openai::OpenAiProvider;
pub use prompt::{ExtractRequest, ProviderOutput};
pub use resilience::{ModelGuard, Resilience, TokenBudget};
pub use transcribe::{TranscribeChain, Transcription, transcribe};

use meridian_core::RegionId;

/// A model provider, one variant per provider type. A closed set: a new
/// provider breaks every `match` that must handle it.
pub enum ModelProvider {
    /// Any OpenAI-compatible API.
    OpenAi(OpenAiProvider),
    /// An Ollama server.
    Ollama(OllamaProvider),
    /// The builtin extractive engine.
    Builtin(builtin::BuiltinOptions),
}

/// A role of the region's model stack could not do the work.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// No model of the region's list produced a result.
    #[error("region `{region}`: every `{role}` model failed: {}", failures.iter().map(|(m, e)| format!("{m}: {e}")).collect::<Vec<_>>().join("; "))]
    StackExhausted {
        /// The region.
        region: RegionId,
        /// The role.
        role: &'static str,
        /// Each model's error, in list order.
        failures: Vec<(String, String)>,
        /// Each model's attempt, for accounting (tokens of failed calls count too).
        attempts: Vec<Attempt>,
    },
    /// The role has no model that can be used at all (none configured, or
    /// none this role's API can serve, or every key missing).
    #[error("region `{region}`: no usable `{role}` model")]
    NoUsableModel {
        /// The region.
        region: RegionId,
        /// The role.
        role: &'static str,
    },
    /// The episode's audio could not be fetched for speech-to-text.
    #[error("region `{region}`: audio `{url}` unavailable for speech-to-text: {reason}")]
    AudioUnavailable {
        /// The region.
        region: RegionId,
        /// The enclosure URL.
        url: String,
        /// Why (too large, refused by egress, HTTP error…).
        reason: String,
    },
}

impl ModelError {
    /// The models tried before the error, in order (empty when none was).
    #[must_use]
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            Self::StackExhausted { attempts, .. } => attempts,
            Self::NoUsableModel { .. } | Self::AudioUnavailable { .. } => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use meridian_core::{Transcript, TranscriptSource};

    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn chain_futures_are_send_because_the_runtime_spawns_them() {
        let region = RegionId::parse("us").expect("region");
        let never = |_: &meridian_config::ModelConfig| -> Result<ModelProvider, ProviderError> {
            unreachable!("no models")
        };
        let insight = InsightChain::new(region.clone(), &[], never);
        let transcribe = TranscribeChain::new(region, &[], never);
        let transcript = Transcript {
            source: TranscriptSource::SpeechToText,
            language: None,
            segments: Vec::new(),
        };

        assert_send(&insight.extract(&transcript, "", "", 5));
        assert_send(&transcribe.transcribe_audio(bytes::Bytes::new(), "", None));
    }
}
