//! The fallback chain of one role within one region.
//!
//! A chain is built from the region's own model list and nothing else, so a
//! fallback can never reach another region's model (DESIGN.md, invariant 4).
//! Models are tried in order; one that cannot be used (no key) is skipped, one
//! that fails is recorded and the next is tried. A model that failed in a way
//! that will not heal within the run (unreachable, auth) is marked down for
//! the rest of the run, so that a dead endpoint costs one connection attempt,
//! not one per episode.

use std::sync::Mutex;
use std::time::Instant;

use meridian_config::{ModelConfig, ProviderKind};
use meridian_core::{Insight, Jurisdiction, RegionId, Transcript};

use crate::builtin::{self, BuiltinOptions};
use crate::prompt::{ExtractRequest, ProviderOutput};
use crate::{ModelError, ModelProvider, ProviderError};

/// What happened to one model of the chain for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// It produced the insights.
    Ok,
    /// It was not called: the reason (no key, marked down earlier in the run).
    Skipped(String),
    /// It was called and failed: the stable kind and the message.
    Failed {
        /// Stable failure kind (`unreachable`, `timeout`, `bad_output`…).
        kind: String,
        /// The error's message.
        message: String,
    },
}

/// One model's part in one extraction, for accounting and the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// Model entry name.
    pub model: String,
    /// Provider type.
    pub provider: &'static str,
    /// Where it runs.
    pub hosted_in: Jurisdiction,
    /// What happened.
    pub outcome: AttemptOutcome,
    /// Prompt tokens (0 for builtin and skipped).
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Wall time.
    pub latency_ms: u64,
}

/// The insights of one transcript and how they were obtained.
#[derive(Debug, Clone)]
pub struct Extraction {
    /// The model that produced them.
    pub model: String,
    /// The insights, best first.
    pub insights: Vec<Insight>,
    /// Every model tried, in order, the successful one last.
    pub attempts: Vec<Attempt>,
}

struct ChainModel {
    config: ModelConfig,
    provider: Result<ModelProvider, String>,
    /// Set when the model failed in a way that will not heal within the run.
    down: Mutex<Option<String>>,
}

/// The `insight` role of one region: its models in order.
pub struct InsightChain {
    region: RegionId,
    models: Vec<ChainModel>,
}

impl std::fmt::Debug for InsightChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsightChain")
            .field("region", &self.region)
            .field("models", &self.models.iter().map(|m| m.config.name.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

/// A model of the chain and whether it can be used, for `config check` and the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelStatus {
    /// Entry name.
    pub name: String,
    /// Provider type.
    pub provider: &'static str,
    /// `None` when usable; otherwise why it will be skipped.
    pub unavailable: Option<String>,
}

impl InsightChain {
    /// Builds the chain from the region's own `insight` list. `build` makes the
    /// provider of a remote model (the runtime passes the region's egress clients).
    pub fn new(
        region: RegionId,
        configs: &[ModelConfig],
        mut build: impl FnMut(&ModelConfig) -> Result<ModelProvider, ProviderError>,
    ) -> Self {
        let models = configs
            .iter()
            .map(|config| {
                let provider = match &config.unavailable {
                    Some(reason) => Err(reason.clone()),
                    None => match config.provider {
                        ProviderKind::Builtin => Ok(ModelProvider::Builtin(BuiltinOptions {
                            model: config.name.clone(),
                            ..BuiltinOptions::default()
                        })),
                        ProviderKind::OpenAi | ProviderKind::Ollama => build(config).map_err(|e| e.to_string()),
                    },
                };
                ChainModel { config: config.clone(), provider, down: Mutex::new(None) }
            })
            .collect();
        Self { region, models }
    }

    /// The models in order, with why each would be skipped.
    #[must_use]
    pub fn status(&self) -> Vec<ModelStatus> {
        self.models
            .iter()
            .map(|m| ModelStatus {
                name: m.config.name.clone(),
                provider: m.config.provider.as_str(),
                unavailable: match &m.provider {
                    Err(reason) => Some(reason.clone()),
                    Ok(_) => m.down.lock().ok().and_then(|d| d.clone()),
                },
            })
            .collect()
    }

    /// Extracts insights with the first model of the list that succeeds.
    ///
    /// # Errors
    /// [`ModelError::StackExhausted`] listing every model's error in order, when
    /// none succeeded (only possible for a list without `builtin`).
    pub async fn extract(&self, transcript: &Transcript, podcast: &str, episode: &str, max_insights: usize) -> Result<Extraction, ModelError> {
        let mut attempts = Vec::new();
        for m in &self.models {
            let mut attempt = Attempt {
                model: m.config.name.clone(),
                provider: m.config.provider.as_str(),
                hosted_in: m.config.hosted_in,
                outcome: AttemptOutcome::Ok,
                input_tokens: 0,
                output_tokens: 0,
                latency_ms: 0,
            };
            let provider = match &m.provider {
                Err(reason) => {
                    attempt.outcome = AttemptOutcome::Skipped(reason.clone());
                    attempts.push(attempt);
                    continue;
                }
                Ok(p) => p,
            };
            if let Some(reason) = m.down.lock().ok().and_then(|d| d.clone()) {
                attempt.outcome = AttemptOutcome::Skipped(reason);
                attempts.push(attempt);
                continue;
            }
            let started = Instant::now();
            let req = ExtractRequest { transcript, podcast, episode, max_insights };
            let result = provider.extract(&req).await;
            attempt.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match result {
                Ok(ProviderOutput { insights, input_tokens, output_tokens, .. }) => {
                    attempt.input_tokens = input_tokens;
                    attempt.output_tokens = output_tokens;
                    attempts.push(attempt);
                    return Ok(Extraction { model: m.config.name.clone(), insights, attempts });
                }
                Err(e) => {
                    tracing::warn!(region = %self.region, model = %m.config.name, error = %e, "Model failed; trying the next model of the region");
                    if e.marks_down() && let Ok(mut down) = m.down.lock() {
                        *down = Some(format!("down since an earlier failure in this run: {e}"));
                    }
                    attempt.outcome = AttemptOutcome::Failed { kind: e.kind().to_owned(), message: e.to_string() };
                    attempts.push(attempt);
                }
            }
        }
        Err(ModelError::StackExhausted {
            region: self.region.clone(),
            role: "insight",
            failures: attempts
                .iter()
                .map(|a| {
                    let why = match &a.outcome {
                        AttemptOutcome::Ok => "ok".to_owned(),
                        AttemptOutcome::Skipped(r) => format!("skipped: {r}"),
                        AttemptOutcome::Failed { message, .. } => message.clone(),
                    };
                    (a.model.clone(), why)
                })
                .collect(),
        })
    }
}

impl ModelProvider {
    async fn extract(&self, req: &ExtractRequest<'_>) -> Result<ProviderOutput, ProviderError> {
        match self {
            Self::Builtin(options) => {
                let options = BuiltinOptions { max_insights: req.max_insights, ..options.clone() };
                let insights = builtin::extract(req.transcript, &options);
                Ok(ProviderOutput { insights, input_tokens: 0, output_tokens: 0, dropped_ungrounded: 0, repaired: false })
            }
            Self::OpenAi(p) => p.extract(req).await,
            Self::Ollama(p) => p.extract(req).await,
        }
    }
}
