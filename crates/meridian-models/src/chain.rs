//! The fallback chain of one role within one region, written once:
//! [`Chain<R>`](Chain) is generic over the role (`R`: [`ChainRole`] and
//! [`RoleCall`], implemented by [`InsightRole`] here and by the `transcribe`
//! role in [`crate::transcribe`]); [`InsightChain`] and
//! [`crate::TranscribeChain`] are its public faces.
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

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use meridian_config::{ModelConfig, ModelRole, ProviderKind};
use meridian_core::{DataClass, Insight, Jurisdiction, RegionId, Transcript};
use tracing::Instrument as _;

use crate::builtin::BuiltinOptions;
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

/// One role of a region's model stack as the generic [`Chain`] sees it: what
/// a call sends, which providers serve it and how one is called. Everything
/// else about a call is the chain's, the same for every role.
pub(crate) trait ChainRole {
    /// The role's name in errors and logs, and the purpose the gate records
    /// (`insight`, `transcribe`).
    const NAME: &'static str;
    /// The role the gate decides about.
    const MODEL_ROLE: ModelRole;
    /// The classes of the data a call sends.
    const DATA_CLASSES: &'static [DataClass];
    /// Why an entry cannot serve this role (its provider has no such API).
    fn unsupported(config: &ModelConfig) -> Option<String>;
    /// The span's `gen_ai.operation.name`.
    fn operation(provider: &ModelProvider) -> &'static str;
}

/// How role `Self` calls a provider with a request `Q`. (A parameter rather
/// than a generic associated type: async code over a GAT that borrows trips
/// a known limit of the compiler's `Send` checks.)
pub(crate) trait RoleCall<Q>: ChainRole {
    /// What a provider answers.
    type Output;

    /// Tokens a call reserves from the budget first; `None`: it costs none.
    fn estimate(provider: &ModelProvider, req: &Q) -> Option<u64>;
    /// Calls `provider`: the provider trait of this role, through `guard`.
    /// (`Send` spelt out: the runtime spawns the futures of a chain.)
    fn call(
        provider: &ModelProvider,
        req: &Q,
        guard: &ModelGuard,
        usage: &Usage,
    ) -> impl Future<Output = Result<Self::Output, ProviderError>> + Send;
}

/// What the chain's successful model answered, and every model tried.
pub(crate) struct Answer<T> {
    /// The model entry that answered.
    pub(crate) model: String,
    /// Its answer.
    pub(crate) output: T,
    /// Every model tried, in order, the successful one last.
    pub(crate) attempts: Vec<Attempt>,
}

/// The fallback chain of role `R` within one region: its models in order.
pub(crate) struct Chain<R> {
    pub(crate) region: RegionId,
    models: Vec<ChainModel>,
    /// The region's daily token budget, shared with its other chains.
    budget: Arc<TokenBudget>,
    /// The region's policy gate, asked before every call ([`CallGate`]).
    gate: Option<Arc<dyn CallGate>>,
    role: PhantomData<fn() -> R>,
}

impl<R: ChainRole> std::fmt::Debug for Chain<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("role", &R::NAME)
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

impl<R: ChainRole> Chain<R> {
    /// The chain of the region's own list for this role; entries the role's
    /// providers cannot serve are kept, marked unusable. The token budget is
    /// unlimited until [`Self::with_budget`].
    pub(crate) fn new(
        region: RegionId,
        configs: &[ModelConfig],
        build: impl FnMut(&ModelConfig) -> Result<ModelProvider, ProviderError>,
    ) -> Self {
        Self {
            region,
            models: build_models(configs, build, R::unsupported),
            budget: Arc::new(TokenBudget::unlimited()),
            gate: None,
            role: PhantomData,
        }
    }

    pub(crate) fn with_budget(mut self, budget: Arc<TokenBudget>) -> Self {
        self.budget = budget;
        self
    }

    pub(crate) fn with_gate(mut self, gate: Arc<dyn CallGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    pub(crate) fn budget(&self) -> &Arc<TokenBudget> {
        &self.budget
    }

    pub(crate) fn status(&self) -> Vec<ModelStatus> {
        status_of(&self.models)
    }

    pub(crate) fn has_usable_model(&self) -> bool {
        self.models.iter().any(ChainModel::usable)
    }

    pub(crate) async fn check_pinned_digests(&mut self) -> Vec<(String, String)> {
        check_pinned_digests(&self.region, &mut self.models).await
    }

    pub(crate) fn set_resilience(&mut self, name: &str, options: Resilience) -> bool {
        match self.models.iter_mut().find(|m| m.config.name == name) {
            Some(m) => {
                m.guard = ModelGuard::new(options);
                true
            }
            None => false,
        }
    }

    /// Asks the models in order until one answers.
    ///
    /// # Errors
    /// [`ModelError::StackExhausted`] listing every model's attempt in order.
    pub(crate) async fn run<Q: Sync>(&self, req: &Q) -> Result<Answer<R::Output>, ModelError>
    where
        R: RoleCall<Q>,
    {
        let mut attempts = Vec::new();
        for m in &self.models {
            let mut attempt = Attempt::new(&m.config);
            let answer = self.try_model(m, req, &mut attempt).await;
            attempts.push(attempt);
            if let Some(output) = answer {
                return Ok(Answer {
                    model: m.config.name.clone(),
                    output,
                    attempts,
                });
            }
        }
        Err(exhausted(&self.region, R::NAME, attempts))
    }

    /// One model's turn: its answer, or `None` with why in `attempt`.
    ///
    /// The order is the contract of every call, whatever the provider: skip
    /// what cannot be used; reserve the budget and ask the breaker; ask the
    /// region's gate (a model the breaker or the budget skips is not asked
    /// about, as it is not called); call within the model's span; settle the
    /// budget; tell the breaker, then the gate, how it ended.
    async fn try_model<Q: Sync>(
        &self,
        m: &ChainModel,
        req: &Q,
        attempt: &mut Attempt,
    ) -> Option<R::Output>
    where
        R: RoleCall<Q>,
    {
        let unusable = match &m.provider {
            Err(reason) => Err(reason.clone()),
            Ok(provider) => R::unsupported(&m.config).map_or(Ok(provider), Err),
        };
        let provider = match unusable {
            Ok(provider) => provider,
            Err(reason) => {
                attempt.outcome = AttemptOutcome::Skipped {
                    kind: SKIP_UNAVAILABLE,
                    reason,
                };
                return None;
            }
        };
        let call = ModelCall {
            model: &m.config,
            role: R::MODEL_ROLE,
            data_classes: R::DATA_CLASSES,
            purpose: R::NAME,
        };
        let estimate = R::estimate(provider, req);
        if let Err(skipped) = m.admit(&self.budget, estimate) {
            if let AttemptOutcome::Skipped { reason, .. } = &skipped {
                tracing::info!(region = %self.region, role = R::NAME, model = %m.config.name, %reason, "Model skipped; trying the next model of the region");
            }
            attempt.outcome = skipped;
            return None;
        }
        if let Err(denied) = authorize(self.gate.as_ref(), &self.region, &call).await {
            if let Some(estimate) = estimate {
                self.budget.settle(estimate, 0);
            }
            attempt.outcome = denied;
            return None;
        }
        let span = m.span(&self.region, R::operation(provider));
        let usage = Usage::default();
        let started = Instant::now();
        let result = R::call(provider, req, &m.guard, &usage)
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
        let answer = match result {
            Ok(answer) => {
                m.guard.record_success();
                Some(answer)
            }
            Err(e) => {
                let opened = m.guard.record_failure(&e);
                tracing::warn!(region = %self.region, role = R::NAME, model = %m.config.name, error = %e, circuit_open = opened, "Model failed; trying the next model of the region");
                attempt.outcome = AttemptOutcome::Failed {
                    kind: e.kind().to_owned(),
                    message: e.to_string(),
                };
                None
            }
        };
        completed(self.gate.as_ref(), &call, attempt).await;
        answer
    }
}

/// The `insight` role: a transcript in, insights out; every provider has it.
pub(crate) struct InsightRole;

/// What an insight call sends: the transcript (public data).
const INSIGHT_CLASSES: [DataClass; 1] = [DataClass::Public];

impl ChainRole for InsightRole {
    const NAME: &'static str = "insight";
    const MODEL_ROLE: ModelRole = ModelRole::Insight;
    const DATA_CLASSES: &'static [DataClass] = &INSIGHT_CLASSES;

    fn unsupported(_config: &ModelConfig) -> Option<String> {
        None
    }

    fn operation(provider: &ModelProvider) -> &'static str {
        provider.insight_operation()
    }
}

impl RoleCall<ExtractRequest<'_>> for InsightRole {
    type Output = ProviderOutput;

    fn estimate(provider: &ModelProvider, req: &ExtractRequest<'_>) -> Option<u64> {
        // Builtin costs no tokens; a remote call reserves its prompt's estimate.
        provider
            .spends_tokens()
            .then(|| estimate_request_tokens(req))
    }

    async fn call(
        provider: &ModelProvider,
        req: &ExtractRequest<'_>,
        guard: &ModelGuard,
        usage: &Usage,
    ) -> Result<ProviderOutput, ProviderError> {
        provider.extract_insights(req, guard, usage).await
    }
}

/// The `insight` role of one region: its models in order.
#[derive(Debug)]
pub struct InsightChain {
    chain: Chain<InsightRole>,
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
            chain: Chain::new(region, configs, build),
        }
    }

    /// Uses the region's shared daily token budget.
    #[must_use]
    pub fn with_budget(self, budget: Arc<TokenBudget>) -> Self {
        Self {
            chain: self.chain.with_budget(budget),
        }
    }

    /// Asks `gate` before every model call and tells it how each ended.
    #[must_use]
    pub fn with_gate(self, gate: Arc<dyn CallGate>) -> Self {
        Self {
            chain: self.chain.with_gate(gate),
        }
    }

    /// Checks every pinned `ollama` digest against its server; a model whose
    /// digest differs (or cannot be checked) is unusable from now on, with
    /// the reason in [`Self::status`]. Returns those models and why.
    pub async fn check_pinned_digests(&mut self) -> Vec<(String, String)> {
        self.chain.check_pinned_digests().await
    }

    /// The region's token budget this chain spends from.
    #[must_use]
    pub fn budget(&self) -> &Arc<TokenBudget> {
        self.chain.budget()
    }

    /// Replaces the retry, breaker and concurrency settings of the model
    /// named `name` (tests and tuning); returns whether there was one.
    pub fn set_resilience(&mut self, name: &str, options: Resilience) -> bool {
        self.chain.set_resilience(name, options)
    }

    /// The models in order, with why each would be skipped.
    #[must_use]
    pub fn status(&self) -> Vec<ModelStatus> {
        self.chain.status()
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
        let answer = self.chain.run(&req).await?;
        Ok(Extraction {
            model: answer.model,
            insights: answer.output.insights,
            attempts: answer.attempts,
        })
    }
}
