//! The fallback chain of one role within one region.
//!
//! A chain is built from the region's own model list and nothing else, so a
//! fallback can never reach another region's model (no cross-region fallback).
//! Models are tried in order. One is skipped when it cannot be used (no key),
//! when its circuit breaker is open, or when the call would pass the region's
//! daily token budget; one that fails is recorded and the next is tried. Each
//! model's retries, breaker and concurrency limit live in its
//! [`ModelGuard`](crate::ModelGuard) (see [`crate::resilience`]): a dead
//! endpoint opens its breaker, so it costs one connection attempt per
//! cool-down, not one per episode.
//!
//! Every model call is a tracing span carrying the OpenTelemetry GenAI
//! attributes (`gen_ai.operation.name`, `gen_ai.provider.name`,
//! `gen_ai.request.model`, `gen_ai.usage.input_tokens`,
//! `gen_ai.usage.output_tokens`) and the region.

use std::sync::Arc;
use std::time::Instant;

use meridian_config::{ModelConfig, ModelRole, ProviderKind};
use meridian_core::{DataClass, Insight, Jurisdiction, RegionId, Transcript};
use tracing::Instrument as _;

use crate::builtin::{self, BuiltinOptions};
use crate::gate::{CallGate, ModelCall, SKIP_POLICY_DENIED};
use crate::prompt::{ExtractRequest, ProviderOutput, estimate_request_tokens};
use crate::resilience::{ModelGuard, Resilience, TokenBudget, Usage};
use crate::{ModelError, ModelProvider, ProviderError};

/// [`AttemptOutcome::Skipped`] kind: the model cannot be used (no key, not a
/// provider this role can use).
pub const SKIP_UNAVAILABLE: &str = "unavailable";
/// [`AttemptOutcome::Skipped`] kind: the model's circuit breaker is open.
pub const SKIP_CIRCUIT_OPEN: &str = "circuit_open";
/// [`AttemptOutcome::Skipped`] kind: the call would pass the region's daily
/// token budget.
pub const SKIP_BUDGET_EXHAUSTED: &str = "budget_exhausted";

/// What happened to one model of the chain for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// It produced the result.
    Ok,
    /// It was not called.
    Skipped {
        /// Stable kind: [`SKIP_UNAVAILABLE`], [`SKIP_CIRCUIT_OPEN`],
        /// [`SKIP_BUDGET_EXHAUSTED`] or [`SKIP_POLICY_DENIED`].
        kind: &'static str,
        /// Why, in words.
        reason: String,
    },
    /// It was called and failed: the stable kind and the message.
    Failed {
        /// Stable failure kind (`unreachable`, `timeout`, `bad_output`…).
        kind: String,
        /// The error's message.
        message: String,
    },
}

/// One model's part in one request, for accounting and the audit log.
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
    /// Prompt tokens the server reported, failed calls included (0 for
    /// builtin and skipped).
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Wall time.
    pub latency_ms: u64,
}

impl Attempt {
    pub(crate) fn new(config: &ModelConfig) -> Self {
        Self {
            model: config.name.clone(),
            provider: config.provider.as_str(),
            hosted_in: config.hosted_in,
            outcome: AttemptOutcome::Ok,
            input_tokens: 0,
            output_tokens: 0,
            latency_ms: 0,
        }
    }
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

/// One model of a chain.
pub(crate) struct ChainModel {
    pub(crate) config: ModelConfig,
    /// The provider, or why the model cannot be used at all.
    pub(crate) provider: Result<ModelProvider, String>,
    /// Retries, breaker and concurrency limit of this model.
    pub(crate) guard: ModelGuard,
}

impl ChainModel {
    /// Why the model would be skipped now, if it would.
    pub(crate) fn unavailable(&self) -> Option<String> {
        match &self.provider {
            Err(reason) => Some(reason.clone()),
            Ok(_) => self.guard.open_reason(),
        }
    }

    /// Whether it can be used at all (it may still be skipped for a while).
    pub(crate) fn usable(&self) -> bool {
        self.provider.is_ok()
    }

    /// Reserves `estimate` tokens of the budget (`None`: a call that costs
    /// none, such as builtin) and asks the breaker; on refusal, why (as an
    /// attempt outcome). A reservation is released when the breaker refuses.
    pub(crate) fn admit(
        &self,
        budget: &TokenBudget,
        estimate: Option<u64>,
    ) -> Result<(), AttemptOutcome> {
        if let Some(estimate) = estimate {
            budget
                .reserve(estimate)
                .map_err(|reason| AttemptOutcome::Skipped {
                    kind: SKIP_BUDGET_EXHAUSTED,
                    reason,
                })?;
        }
        self.guard.admit().map(|_| ()).map_err(|reason| {
            if let Some(estimate) = estimate {
                budget.settle(estimate, 0);
            }
            AttemptOutcome::Skipped {
                kind: SKIP_CIRCUIT_OPEN,
                reason,
            }
        })
    }

    /// The span of one call of this model for `region`, GenAI attributes set
    /// and token counts to be recorded.
    pub(crate) fn span(&self, region: &RegionId, operation: &'static str) -> tracing::Span {
        tracing::info_span!(
            "gen_ai.call",
            otel.name = %format!("{operation} {}", self.config.model),
            otel.kind = "client",
            gen_ai.operation.name = operation,
            gen_ai.provider.name = self.config.provider.as_str(),
            gen_ai.request.model = %self.config.model,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            error.type = tracing::field::Empty,
            region = %region,
            meridian.model = %self.config.name,
            meridian.hosted_in = %self.config.hosted_in,
        )
    }
}

/// Builds the models of a chain: each with its guard, and its provider or
/// why it cannot be used.
pub(crate) fn build_models(
    configs: &[ModelConfig],
    mut build: impl FnMut(&ModelConfig) -> Result<ModelProvider, ProviderError>,
    unsupported: impl Fn(&ModelConfig) -> Option<String>,
) -> Vec<ChainModel> {
    configs
        .iter()
        .map(|config| {
            let provider = match config.unavailable.clone().or_else(|| unsupported(config)) {
                Some(reason) => Err(reason),
                None => match config.provider {
                    ProviderKind::Builtin => Ok(ModelProvider::Builtin(BuiltinOptions {
                        model: config.name.clone(),
                        ..BuiltinOptions::default()
                    })),
                    ProviderKind::OpenAi | ProviderKind::Ollama => {
                        build(config).map_err(|e| e.to_string())
                    }
                },
            };
            ChainModel {
                config: config.clone(),
                provider,
                guard: ModelGuard::new(Resilience::for_model(config)),
            }
        })
        .collect()
}

/// The error of a chain whose every model failed or was skipped.
pub(crate) fn exhausted(
    region: &RegionId,
    role: &'static str,
    attempts: Vec<Attempt>,
) -> ModelError {
    ModelError::StackExhausted {
        region: region.clone(),
        role,
        failures: attempts
            .iter()
            .map(|a| {
                let why = match &a.outcome {
                    AttemptOutcome::Ok => "ok".to_owned(),
                    AttemptOutcome::Skipped { reason, .. } => format!("skipped: {reason}"),
                    AttemptOutcome::Failed { message, .. } => message.clone(),
                };
                (a.model.clone(), why)
            })
            .collect(),
        attempts,
    }
}

/// Asks the region's gate about `call`: `Err` with the attempt outcome of a
/// refusal. Without a gate (a chain built outside a region: tests, tools)
/// every call is allowed.
pub(crate) async fn authorize(
    gate: Option<&Arc<dyn CallGate>>,
    region: &RegionId,
    call: &ModelCall<'_>,
) -> Result<(), AttemptOutcome> {
    let Some(gate) = gate else {
        return Ok(());
    };
    gate.authorize(call).await.map_err(|refusal| {
        tracing::warn!(region = %region, model = %call.model.name, %refusal, "Model call denied by the region's policies; trying the next model of the region");
        AttemptOutcome::Skipped {
            kind: SKIP_POLICY_DENIED,
            reason: refusal.to_string(),
        }
    })
}

/// Tells the region's gate how an authorised call ended.
pub(crate) async fn completed(
    gate: Option<&Arc<dyn CallGate>>,
    call: &ModelCall<'_>,
    attempt: &Attempt,
) {
    if let Some(gate) = gate {
        gate.completed(call, attempt).await;
    }
}

/// Checks the pinned digest of every `ollama` model that pins one against
/// its server (`GET /api/tags`): a model whose digest differs, or cannot be
/// checked, becomes unusable with the reason (naming both digests on a
/// mismatch), so the chain falls back within the region. Returns the models
/// made unusable, with why.
pub(crate) async fn check_pinned_digests(
    region: &RegionId,
    models: &mut [ChainModel],
) -> Vec<(String, String)> {
    let mut refused = Vec::new();
    for m in models.iter_mut() {
        let Ok(ModelProvider::Ollama(provider)) = &m.provider else {
            continue;
        };
        if m.config.digest.is_none() {
            continue;
        }
        match provider.check_digest().await {
            Ok(()) => {
                tracing::info!(region = %region, model = %m.config.name, "Pinned model digest verified");
            }
            Err(e) => {
                let reason = format!("pinned digest check failed: {e}");
                tracing::error!(region = %region, model = %m.config.name, error = %e, "Model stopped: its pinned digest does not check out");
                refused.push((m.config.name.clone(), reason.clone()));
                m.provider = Err(reason);
            }
        }
    }
    refused
}

/// Elapsed milliseconds since `started`.
pub(crate) fn millis_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Records a finished call on its span: tokens, and the error kind when it failed.
pub(crate) fn record_on_span(
    span: &tracing::Span,
    input: u64,
    output: u64,
    error: Option<&ProviderError>,
) {
    // As i64: tracing-opentelemetry exports u64 fields as strings.
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    span.record("gen_ai.usage.input_tokens", int(input));
    span.record("gen_ai.usage.output_tokens", int(output));
    if let Some(e) = error {
        span.record("error.type", e.kind());
    }
}

/// What an insight call sends: the transcript (public data).
const INSIGHT_CLASSES: [DataClass; 1] = [DataClass::Public];

/// The `insight` role of one region: its models in order.
pub struct InsightChain {
    region: RegionId,
    models: Vec<ChainModel>,
    /// The region's daily token budget, shared with its other chains.
    budget: Arc<TokenBudget>,
    /// The region's policy gate, asked before every call ([`CallGate`]).
    gate: Option<Arc<dyn CallGate>>,
}

impl std::fmt::Debug for InsightChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsightChain")
            .field("region", &self.region)
            .field(
                "models",
                &self
                    .models
                    .iter()
                    .map(|m| m.config.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("budget", &self.budget)
            .field("gated", &self.gate.is_some())
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

pub(crate) fn status_of(models: &[ChainModel]) -> Vec<ModelStatus> {
    models
        .iter()
        .map(|m| ModelStatus {
            name: m.config.name.clone(),
            provider: m.config.provider.as_str(),
            unavailable: m.unavailable(),
        })
        .collect()
}

impl InsightChain {
    /// Builds the chain from the region's own `insight` list. `build` makes the
    /// provider of a remote model (the runtime passes the region's egress
    /// clients). Each model gets its own retries, breaker and concurrency
    /// limit from its entry; the token budget is unlimited until
    /// [`Self::with_budget`].
    pub fn new(
        region: RegionId,
        configs: &[ModelConfig],
        build: impl FnMut(&ModelConfig) -> Result<ModelProvider, ProviderError>,
    ) -> Self {
        Self {
            region,
            models: build_models(configs, build, |_| None),
            budget: Arc::new(TokenBudget::unlimited()),
            gate: None,
        }
    }

    /// Uses the region's shared daily token budget.
    #[must_use]
    pub fn with_budget(mut self, budget: Arc<TokenBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// Asks `gate` before every model call and tells it how each ended.
    #[must_use]
    pub fn with_gate(mut self, gate: Arc<dyn CallGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Checks every pinned `ollama` digest against its server; a model whose
    /// digest differs (or cannot be checked) is unusable from now on, with
    /// the reason in [`Self::status`]. Returns those models and why.
    pub async fn check_pinned_digests(&mut self) -> Vec<(String, String)> {
        check_pinned_digests(&self.region, &mut self.models).await
    }

    /// The region's token budget this chain spends from.
    #[must_use]
    pub fn budget(&self) -> &Arc<TokenBudget> {
        &self.budget
    }

    /// Replaces the retry, breaker and concurrency settings of the model
    /// named `name` (tests and tuning); returns whether there was one.
    pub fn set_resilience(&mut self, name: &str, options: Resilience) -> bool {
        match self.models.iter_mut().find(|m| m.config.name == name) {
            Some(m) => {
                m.guard = ModelGuard::new(options);
                true
            }
            None => false,
        }
    }

    /// The models in order, with why each would be skipped.
    #[must_use]
    pub fn status(&self) -> Vec<ModelStatus> {
        status_of(&self.models)
    }

    /// Extracts insights with the first model of the list that succeeds.
    ///
    /// # Errors
    /// [`ModelError::StackExhausted`] listing every model's error in order, when
    /// none succeeded (only possible for a list without `builtin`).
    pub async fn extract(
        &self,
        transcript: &Transcript,
        podcast: &str,
        episode: &str,
        max_insights: usize,
    ) -> Result<Extraction, ModelError> {
        let req = ExtractRequest {
            transcript,
            podcast,
            episode,
            max_insights,
        };
        let mut attempts = Vec::new();
        for m in &self.models {
            let mut attempt = Attempt::new(&m.config);
            let provider = match &m.provider {
                Err(reason) => {
                    attempt.outcome = AttemptOutcome::Skipped {
                        kind: SKIP_UNAVAILABLE,
                        reason: reason.clone(),
                    };
                    attempts.push(attempt);
                    continue;
                }
                Ok(p) => p,
            };
            let call = ModelCall {
                model: &m.config,
                role: ModelRole::Insight,
                data_classes: &INSIGHT_CLASSES,
                purpose: "insight",
            };
            // Builtin costs no tokens; a remote call reserves its prompt's estimate.
            let estimate = match provider {
                ModelProvider::Builtin(_) => None,
                ModelProvider::OpenAi(_) | ModelProvider::Ollama(_) => {
                    Some(estimate_request_tokens(&req))
                }
            };
            if let Err(skipped) = m.admit(&self.budget, estimate) {
                if let AttemptOutcome::Skipped { reason, .. } = &skipped {
                    tracing::info!(region = %self.region, model = %m.config.name, %reason, "Model skipped; trying the next model of the region");
                }
                attempt.outcome = skipped;
                attempts.push(attempt);
                continue;
            }
            // Decide and record, then call: a model the breaker or the
            // budget skips is not asked about (it is not called).
            if let Err(denied) = authorize(self.gate.as_ref(), &self.region, &call).await {
                if let Some(estimate) = estimate {
                    self.budget.settle(estimate, 0);
                }
                attempt.outcome = denied;
                attempts.push(attempt);
                continue;
            }
            let operation = match provider {
                ModelProvider::Builtin(_) => "extract",
                ModelProvider::OpenAi(_) | ModelProvider::Ollama(_) => "chat",
            };
            let span = m.span(&self.region, operation);
            let usage = Usage::default();
            let started = Instant::now();
            let result = provider
                .extract(&req, &m.guard, &usage)
                .instrument(span.clone())
                .await;
            attempt.latency_ms = millis_since(started);
            let (input, output) = usage.totals();
            if let Some(estimate) = estimate {
                self.budget.settle(estimate, input + output);
            }
            attempt.input_tokens = input;
            attempt.output_tokens = output;
            record_on_span(&span, input, output, result.as_ref().err());
            // The breaker learns of the outcome before the (awaited) audit
            // record, so that concurrent calls see an opened breaker at once.
            match result {
                Ok(ProviderOutput { insights, .. }) => {
                    m.guard.record_success();
                    completed(self.gate.as_ref(), &call, &attempt).await;
                    attempts.push(attempt);
                    return Ok(Extraction {
                        model: m.config.name.clone(),
                        insights,
                        attempts,
                    });
                }
                Err(e) => {
                    let opened = m.guard.record_failure(&e);
                    tracing::warn!(region = %self.region, model = %m.config.name, error = %e, circuit_open = opened, "Model failed; trying the next model of the region");
                    attempt.outcome = AttemptOutcome::Failed {
                        kind: e.kind().to_owned(),
                        message: e.to_string(),
                    };
                    completed(self.gate.as_ref(), &call, &attempt).await;
                    attempts.push(attempt);
                }
            }
        }
        Err(exhausted(&self.region, "insight", attempts))
    }
}

impl ModelProvider {
    async fn extract(
        &self,
        req: &ExtractRequest<'_>,
        guard: &ModelGuard,
        usage: &Usage,
    ) -> Result<ProviderOutput, ProviderError> {
        match self {
            Self::Builtin(options) => {
                let options = BuiltinOptions {
                    max_insights: req.max_insights,
                    ..options.clone()
                };
                // The extractive engine is CPU work (~15 ms per episode):
                // run it on the blocking pool so that concurrent episodes use
                // every core and the async workers keep serving I/O. The
                // transcript is cloned once to move it there.
                let transcript = req.transcript.clone();
                let model = options.model.clone();
                let insights =
                    tokio::task::spawn_blocking(move || builtin::extract(&transcript, &options))
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
            Self::OpenAi(p) => p.extract_guarded(req, guard, usage).await,
            Self::Ollama(p) => p.extract_guarded(req, guard, usage).await,
        }
    }
}
