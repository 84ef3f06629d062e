//! The region's model stack: the [`ModelProvider`] set (`openai`, `ollama`,
//! `builtin`) and the [`InsightChain`] that walks only the region's own list.
//!
//! - [`builtin`]: the deterministic extractive insight engine, the last fallback
//!   of every region.
//! - [`openai`], [`ollama`]: remote providers through the real `async-openai`
//!   and `ollama-rs` clients, with JSON-schema output, one repair attempt and a
//!   grounding gate ([`prompt`]).
//! - [`InsightChain`]: ordered fallback within one region, with per-attempt
//!   accounting ([`Attempt`]).

pub mod builtin;
mod chain;
mod error;
pub mod ollama;
pub mod openai;
pub mod prompt;

pub use chain::{Attempt, AttemptOutcome, Extraction, InsightChain, ModelStatus};
pub use error::ProviderError;
pub use ollama::OllamaProvider;
pub use openai::OpenAiProvider;
pub use prompt::{ExtractRequest, ProviderOutput};

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

/// Every model of a role failed or was skipped.
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
    },
}
