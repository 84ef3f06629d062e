//! Checkpoint = decide, record, act: the region's policy gate and audit log
//! on every outbound action.
//!
//! This module owns two things:
//!
//! 1. **The bridge from config to policy facts** ([`region_facts`],
//!    [`configured_models`], [`load_gate`], [`policy_problems`],
//!    [`policies_dir_of`]): `meridian config check`, `policy check|explain`
//!    and [`Region::assemble`](crate::Region::assemble) all judge a region
//!    through these, so what the CLI reports is what the runtime enforces.
//! 2. **The one gate call path** (`Sovereignty::checkpoint`): the Cedar
//!    decision, then a `policy_decision` record in the region's audit log
//!    (determining policy ids, reasons, data classes, purpose, resource), then
//!    the act only if the decision allowed it *and* the record was written.
//!    A denial is counted, logged and returned to the caller, which gives up
//!    on that resource: nothing here knows another region's resources, so a
//!    denial can never be retried elsewhere.
//!
//! The gate is wired into every outbound path:
//!
//! - model calls: `Sovereignty` is the `CallGate` of the region's insight
//!   and transcribe chains (`meridian-models`): asked before every provider
//!   call (builtin included), told after it, which appends a `model_call`
//!   (`transcription` for speech-to-text) record with model, provider,
//!   `hosted_in` jurisdiction, pinned digest, tokens and latency;
//! - HTTP: it is the `RequestGate` of the region's egress client
//!   (`meridian-egress`): every request and redirect hop, admitted by the
//!   allow-list or not, is decided (`fetch` on the `Host`) and its outcome
//!   appended as an `http_request` record; a refused hop gets an
//!   `http_request` record with outcome `denied` as well;
//! - email: `Region::authorize_mail` before every digest and confirmation,
//!   and the `email_send` / `subscription_change` records of `records.rs`;
//! - runs: `run_start` and `run_end` records and a signed checkpoint.
//!
//! Remote model providers get the egress client's raw reqwest clients (which
//! skip the per-request gate) only from `model_provider`, after the gate
//! allowed that model; `clippy.toml` forbids them anywhere else.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use meridian_audit::{
    AuditEvent, AuditKind, AuditLog, Decision as AuditDecision, Effect, ModelRef,
};
use meridian_config::{ModelConfig, ModelRole, ProviderKind, RegionConfig};
use meridian_core::net::{MailRelay, classify_host};
use meridian_core::{DataClass, RegionId};
use meridian_egress::{
    EgressClient, EgressRules, GateFuture, GateRefusal, RequestGate, RequestHop, RequestOutcome,
};
use meridian_models::{Attempt, AttemptOutcome, CallGate, CallRefusal, ModelCall, ModelProvider};
use meridian_policy::{
    ConfiguredModel, Decision, Endpoint, ModelFacts, ModelUse, OUTBOX_RELAY, PolicyAction,
    PolicyError, PolicyGate, PolicyRequest, PolicyResource, RegionFacts, Violation, purpose,
};

use crate::pipeline::{RunOptions, RunReport};
use crate::{Region, RuntimeError};

// ---------------------------------------------------------------------------
// The bridge: a region's config as policy facts.

/// The policies directory of a region file: `regions/<id>.toml` →
/// `regions/../policies` (as `--config-dir DIR` documents: policies in
/// `DIR/../policies`), resolved for readable messages.
#[must_use]
pub fn policies_dir_of(config: &RegionConfig) -> PathBuf {
    let config_dir = config
        .source
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let config_dir = if config_dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        config_dir
    };
    policies_dir_for(&config_dir)
}

/// The policies directory beside a config directory: `DIR/../policies`.
#[must_use]
pub fn policies_dir_for(config_dir: &Path) -> PathBuf {
    let dir = config_dir.join("..").join("policies");
    dir.canonicalize().unwrap_or(dir)
}

/// What a region's config says that its policies need.
#[must_use]
pub fn region_facts(config: &RegionConfig) -> RegionFacts {
    let mut facts = RegionFacts::new(config.id.clone(), config.jurisdiction);
    facts
        .forbidden_origins
        .clone_from(&config.policy.forbidden_origins);
    facts.egress_allow.clone_from(&config.egress.allow);
    facts.allow_private = config.egress.allow_private;
    facts.mail_relay = mail_relay(&config.mail.relay);
    facts
}

/// The SMTP relay's host, or [`OUTBOX_RELAY`] when mail goes to the outbox.
#[must_use]
pub fn mail_relay(relay: &MailRelay) -> String {
    relay
        .smtp()
        .map_or_else(|| OUTBOX_RELAY.to_owned(), |smtp| smtp.host().to_owned())
}

/// A model's facts for the gate.
#[must_use]
pub fn model_facts(m: &ModelConfig) -> ModelFacts {
    ModelFacts {
        name: m.name.clone(),
        provider: m.provider.as_str().to_owned(),
        hosted_in: m.hosted_in,
        origin: m.origin,
        weights: m.weights.as_str().to_owned(),
        digest: m.digest.clone(),
        attributes: m.attributes.clone(),
    }
}

fn model_use(role: ModelRole) -> ModelUse {
    match role {
        ModelRole::Insight => ModelUse::Insight,
        ModelRole::Transcribe => ModelUse::Transcribe,
        ModelRole::Embed => ModelUse::Embed,
        ModelRole::Translate => ModelUse::Translate,
    }
}

/// Every model of every role, with its config key (`models.insight[0]`) and
/// endpoint (whether the region's egress allow-list admits it included).
#[must_use]
pub fn configured_models(config: &RegionConfig) -> Vec<ConfiguredModel> {
    let rules = EgressRules::from_entries(&config.egress.allow, config.egress.allow_private);
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    config
        .all_models()
        .map(|(role, m)| {
            let i = index.entry(role.as_str()).or_insert(0);
            let key = format!("models.{}[{i}]", role.as_str());
            *i += 1;
            ConfiguredModel {
                key,
                role: model_use(role),
                facts: model_facts(m),
                endpoint: m.endpoint.as_ref().and_then(|u| {
                    let host = u.host_str()?.to_owned();
                    Some(Endpoint {
                        private: is_private_literal(&host),
                        port: u.port_or_known_default()?,
                        admitted: rules.check_url(u).is_ok(),
                        host,
                    })
                }),
            }
        })
        .collect()
}

/// Whether a host is known to be private without a DNS lookup: an IP literal
/// outside public ranges, or `localhost` and names below it
/// ([`meridian_core::net::HostClass::needs_consent`], the egress guard's own classes).
/// Names are judged by the egress guard at connect time; here they count as public.
#[must_use]
pub fn is_private_literal(host: &str) -> bool {
    classify_host(host).needs_consent()
}

/// Loads a region's gate from `policies_dir`.
///
/// # Errors
/// [`PolicyError`] naming the file and line of every problem.
pub fn load_gate(policies_dir: &Path, config: &RegionConfig) -> Result<PolicyGate, PolicyError> {
    PolicyGate::load(policies_dir, &region_facts(config))
}

/// Loads the region's gate from `policies_dir` and checks its configured
/// models, endpoints and relay against it: the region's policy problems, one
/// line each naming the region file, model or host, policy id and reason
/// (empty when it passes).
#[must_use]
pub fn policy_problems(policies_dir: &Path, config: &RegionConfig) -> Vec<String> {
    match load_gate(policies_dir, config) {
        Ok(gate) => meridian_policy::check_region(&gate, &configured_models(config))
            .iter()
            .map(|v: &Violation| format!("{}: {v}", config.source.display()))
            .collect(),
        Err(e) => e
            .problems()
            .iter()
            .map(|p| format!("region `{}`: policies: {p}", config.id))
            .collect(),
    }
}

// ---------------------------------------------------------------------------
// The one gate call path.

/// Why [`Sovereignty::checkpoint`] did not let an action go ahead.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The policies denied it (recorded).
    Denied(Decision),
    /// The decision could not be recorded: nothing may happen that the log
    /// does not show.
    Unrecorded(meridian_audit::AuditError),
}

impl Refused {
    fn policies(&self) -> Vec<String> {
        match self {
            Self::Denied(d) => d.determining_policies.clone(),
            Self::Unrecorded(_) => Vec::new(),
        }
    }

    fn reason(&self) -> String {
        match self {
            Self::Denied(d) => d.reasons_text(),
            Self::Unrecorded(e) => format!("the decision could not be recorded: {e}"),
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Denied(d) => write!(f, "{d}"),
            Self::Unrecorded(e) => write!(f, "not recorded, so not done: {e}"),
        }
    }
}

/// Policy decisions of a region since it was assembled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecisionCounts {
    /// Decisions made.
    pub decisions: u64,
    /// Of which denials.
    pub denied: u64,
}

/// Outcome records buffered before they are appended anyway (see
/// [`Sovereignty::record_outcome`]).
const PENDING_LIMIT: usize = 256;

/// A region's gate and audit log, shared by its egress client, model chains
/// and mail path.
#[derive(Debug)]
pub(crate) struct Sovereignty {
    region: RegionId,
    gate: PolicyGate,
    audit: AuditLog,
    decisions: AtomicU64,
    denied: AtomicU64,
    /// Outcome records (`http_request`, `model_call`…) of acts already done,
    /// appended in the same transaction as the next decision (or at the end
    /// of a run, at shutdown, or when [`PENDING_LIMIT`] are waiting): one
    /// transaction per outbound action instead of two; on SQLite each takes
    /// the database's write lock (docs/benchmarks.md). A crash loses at most
    /// these records; decisions are always written before their act.
    pending: std::sync::Mutex<Vec<AuditEvent>>,
}

impl Sovereignty {
    pub(crate) fn new(gate: PolicyGate, audit: AuditLog) -> Self {
        Self {
            region: gate.facts().id.clone(),
            gate,
            audit,
            decisions: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            pending: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The buffered outcome records, taken.
    fn pending_len(&self) -> usize {
        self.pending.lock().map(|p| p.len()).unwrap_or_default()
    }

    fn take_pending(&self) -> Vec<AuditEvent> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    /// Appends the buffered outcome records and then `events`, in one
    /// transaction.
    pub(crate) async fn record_with_pending(
        &self,
        events: Vec<AuditEvent>,
    ) -> Result<(), meridian_audit::AuditError> {
        let mut batch = self.take_pending();
        let buffered = batch.len();
        batch.extend(events);
        self.audit.record_batch(batch).await.map(|_| ()).inspect_err(|e| {
            if buffered > 0 {
                tracing::error!(region = %self.region, records = buffered, error = %e, "Outcome records of finished actions could not be written");
            }
        })
    }

    pub(crate) fn gate(&self) -> &PolicyGate {
        &self.gate
    }

    pub(crate) fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub(crate) fn counts(&self) -> DecisionCounts {
        DecisionCounts {
            decisions: self.decisions.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
        }
    }

    /// Decide, record, then (the caller) act: asks the gate about `request`,
    /// appends a `policy_decision` record about `subject` (a model name,
    /// `host:port`, a relay) by `actor`, and returns the decision when it
    /// allows the action and the record is written. `event` adds fields to
    /// the record (host, model, jurisdiction).
    pub(crate) async fn checkpoint(
        &self,
        actor: &str,
        subject: &str,
        request: &PolicyRequest<'_>,
        event: impl FnOnce(AuditEvent) -> AuditEvent,
    ) -> Result<Decision, Refused> {
        let decision = self.gate.decide(request);
        self.decisions.fetch_add(1, Ordering::Relaxed);
        let record = AuditDecision {
            action: request.action.as_str().to_owned(),
            effect: if decision.allowed {
                Effect::Allow
            } else {
                Effect::Deny
            },
            policies: decision.determining_policies.clone(),
            reason: Some(decision.reasons_text()).filter(|r| !r.is_empty()),
        };
        let mut e = AuditEvent::policy_decision(actor, subject, record)
            .with_detail("purpose", request.purpose);
        for class in request.data_classes {
            e = e.with_data_class(*class);
        }
        let recorded = self.record_with_pending(vec![event(e)]).await;
        if !decision.allowed {
            self.denied.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                region = %self.region,
                action = %request.action,
                resource = %request.resource.label(),
                purpose = request.purpose,
                policies = %decision.policies_text(),
                reason = %decision.reasons_text(),
                "Denied by the region's policies; not retried elsewhere"
            );
            return Err(Refused::Denied(decision));
        }
        match recorded {
            Ok(_) => Ok(decision),
            Err(e) => {
                tracing::error!(region = %self.region, action = %request.action, resource = %request.resource.label(), error = %e, "A policy decision could not be recorded; the action is not taken");
                Err(Refused::Unrecorded(e))
            }
        }
    }

    /// Records the outcome of an act already done (which cannot be undone):
    /// buffered, and appended with the next decision, the end of the run,
    /// or once [`PENDING_LIMIT`] are waiting. A failure is logged.
    async fn record_outcome(&self, event: AuditEvent) {
        let full = match self.pending.lock() {
            Ok(mut p) => {
                p.push(event);
                p.len() >= PENDING_LIMIT
            }
            Err(_) => true,
        };
        if full {
            let _ = self.record_with_pending(Vec::new()).await;
        }
    }
}

fn model_ref(m: &ModelConfig) -> ModelRef {
    ModelRef {
        name: m.name.clone(),
        provider: Some(m.provider.as_str().to_owned()),
        digest: m.digest.clone(),
    }
}

fn endpoint_host(m: &ModelConfig) -> Option<String> {
    let u = m.endpoint.as_ref()?;
    Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?))
}

fn call_action(role: ModelRole) -> PolicyAction {
    model_use(role).action()
}

impl CallGate for Sovereignty {
    fn authorize<'a>(&'a self, call: &'a ModelCall<'a>) -> GateFuture<'a, Result<(), CallRefusal>> {
        Box::pin(async move {
            let facts = model_facts(call.model);
            let request = PolicyRequest {
                action: call_action(call.role),
                resource: PolicyResource::Model(&facts),
                data_classes: call.data_classes,
                purpose: call.purpose,
            };
            let actor = "pipeline";
            self.checkpoint(actor, &call.model.name, &request, |e| {
                let e = e
                    .with_model(model_ref(call.model))
                    .with_jurisdiction(call.model.hosted_in);
                match endpoint_host(call.model) {
                    Some(h) => e.with_host(h),
                    None => e,
                }
            })
            .await
            .map(|_| ())
            .map_err(|r| CallRefusal {
                policies: r.policies(),
                reason: r.reason(),
            })
        })
    }

    fn completed<'a>(
        &'a self,
        call: &'a ModelCall<'a>,
        attempt: &'a Attempt,
    ) -> GateFuture<'a, ()> {
        Box::pin(async move {
            let (outcome, failure) = match &attempt.outcome {
                AttemptOutcome::Ok => ("ok", None),
                AttemptOutcome::Failed { kind, .. } => ("error", Some(kind.clone())),
                AttemptOutcome::Skipped { kind, .. } => ("skipped", Some((*kind).to_owned())),
            };
            let kind = match call.role {
                ModelRole::Transcribe => AuditKind::Transcription,
                ModelRole::Insight | ModelRole::Embed | ModelRole::Translate => {
                    AuditKind::ModelCall
                }
            };
            let mut e = AuditEvent::new(kind, "pipeline")
                .with_model(model_ref(call.model))
                .with_jurisdiction(call.model.hosted_in)
                .with_outcome(outcome)
                .with_count("input_tokens", attempt.input_tokens)
                .with_count("output_tokens", attempt.output_tokens)
                .with_count("latency_ms", attempt.latency_ms)
                .with_detail("role", call.role.as_str())
                .with_detail("purpose", call.purpose);
            for class in call.data_classes {
                e = e.with_data_class(*class);
            }
            if let Some(h) = endpoint_host(call.model) {
                e = e.with_host(h);
            }
            if let Some(kind) = failure {
                e = e.with_detail("failure", kind);
            }
            self.record_outcome(e).await;
        })
    }
}

/// What an HTTP request carries: a URL (public data).
const FETCH_CLASSES: [DataClass; 1] = [DataClass::Public];

impl RequestGate for Sovereignty {
    fn authorize<'a>(&'a self, hop: &'a RequestHop<'a>) -> GateFuture<'a, Result<(), GateRefusal>> {
        Box::pin(async move {
            let request = PolicyRequest {
                action: PolicyAction::Fetch,
                resource: PolicyResource::Host {
                    name: hop.host,
                    port: hop.port,
                    private: hop.private,
                    admitted: hop.admitted,
                },
                data_classes: &FETCH_CLASSES,
                purpose: purpose::FETCH,
            };
            let host = format!("{}:{}", hop.host, hop.port);
            let result = self
                .checkpoint("egress", &host, &request, |e| {
                    e.with_host(host.clone())
                        .with_detail("redirect", u64::try_from(hop.redirect).unwrap_or(u64::MAX))
                })
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(refused) => {
                    // The refused request, as the report's egress section counts them.
                    self.record_outcome(
                        AuditEvent::http_request("egress", &host, "denied")
                            .with_data_class(DataClass::Public)
                            .with_detail("admitted", hop.admitted),
                    )
                    .await;
                    Err(GateRefusal {
                        policies: refused.policies(),
                        reason: refused.reason(),
                    })
                }
            }
        })
    }

    fn completed<'a>(&'a self, outcome: &'a RequestOutcome<'a>) -> GateFuture<'a, ()> {
        Box::pin(async move {
            let host = format!("{}:{}", outcome.hop.host, outcome.hop.port);
            let (label, failure) = match (outcome.status, outcome.failure) {
                (_, Some(kind)) => ("error", Some(kind.as_str())),
                (Some(status), None) if status >= 400 => ("error", Some("http_status")),
                _ => ("ok", None),
            };
            let mut e = AuditEvent::http_request("egress", &host, label)
                .with_data_class(DataClass::Public)
                .with_count("bytes", outcome.bytes)
                .with_count("latency_ms", outcome.elapsed_ms);
            if let Some(status) = outcome.status {
                e = e.with_count("status", u64::from(status));
            }
            if let Some(kind) = failure {
                e = e.with_detail("failure", kind);
            }
            if outcome.hop.redirect > 0 {
                e = e.with_detail(
                    "redirect",
                    u64::try_from(outcome.hop.redirect).unwrap_or(u64::MAX),
                );
            }
            self.record_outcome(e).await;
        })
    }
}

/// The provider of a remote model entry, sending through the region's own
/// egress clients (reqwest 0.13 for `openai`, its 0.12 twin for `ollama`),
/// built only after the gate allowed the model for its role: the raw clients
/// skip the per-request decision, so this is the one place they are handed
/// out (`clippy.toml`).
pub(crate) fn model_provider(
    gate: &PolicyGate,
    egress: &EgressClient,
    role: ModelRole,
    model: &ModelConfig,
) -> Result<ModelProvider, meridian_models::ProviderError> {
    let facts = model_facts(model);
    let usage = model_use(role);
    let decision = gate.decide(&PolicyRequest {
        action: usage.action(),
        resource: PolicyResource::Model(&facts),
        data_classes: usage.data_classes(),
        purpose: usage.purpose(),
    });
    if !decision.allowed {
        return Err(meridian_models::ProviderError::Config {
            model: model.name.clone(),
            reason: format!("refused by the region's policies: {decision}"),
        });
    }
    match model.provider {
        ProviderKind::OpenAi => {
            #[expect(
                clippy::disallowed_methods,
                reason = "the one hand-out of the raw client, after the gate allowed this model"
            )]
            let http = egress.reqwest_client().clone();
            meridian_models::openai::OpenAiProvider::new(model, http).map(ModelProvider::OpenAi)
        }
        ProviderKind::Ollama => {
            #[expect(
                clippy::disallowed_methods,
                reason = "the one hand-out of the raw client, after the gate allowed this model"
            )]
            let http = egress.legacy_reqwest_client().clone();
            meridian_models::ollama::OllamaProvider::new(model, http).map(ModelProvider::Ollama)
        }
        ProviderKind::Builtin => Ok(ModelProvider::Builtin(
            meridian_models::builtin::BuiltinOptions {
                model: model.name.clone(),
                ..Default::default()
            },
        )),
    }
}

// ---------------------------------------------------------------------------
// The region's side: mail, runs.

/// Where a run stood when it started, so that its end record counts only
/// its own decisions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunMark {
    at_start: DecisionCounts,
}

impl Region {
    /// The region's policy gate.
    #[must_use]
    pub fn gate(&self) -> &PolicyGate {
        self.sovereignty().gate()
    }

    /// The region's audit log.
    #[must_use]
    pub fn audit(&self) -> &AuditLog {
        self.sovereignty().audit()
    }

    /// Appends the outcome records still buffered (requests and model calls
    /// finished since the last decision). Runs and [`Region::shutdown`] do
    /// it; call it before reading the log in the middle of a run.
    ///
    /// # Errors
    /// [`RuntimeError::Audit`] when they cannot be written.
    pub async fn flush_audit(&self) -> Result<(), RuntimeError> {
        self.sovereignty()
            .record_with_pending(Vec::new())
            .await
            .map_err(|source| self.audit_error(source))
    }

    /// Policy decisions made (and denied) by this region since it was assembled.
    #[must_use]
    pub fn policy_decisions(&self) -> DecisionCounts {
        self.sovereignty().counts()
    }

    /// The `send_email` decision before an email to the region's relay:
    /// decide, record; `Err` with why when the email must not be sent.
    /// `confirmation` emails carry the address and public links; digests
    /// carry insights (derived) too.
    pub(crate) async fn authorize_mail(
        &self,
        actor: &str,
        kind: crate::MailKind,
    ) -> Result<(), String> {
        let relay = self.gate().facts().mail_relay.clone();
        let (classes, why): (&[DataClass], &str) = match kind {
            crate::MailKind::Digest => (&meridian_policy::DIGEST_CLASSES, purpose::DIGEST),
            crate::MailKind::Confirmation => (
                &[DataClass::Personal, DataClass::Public],
                purpose::CONFIRMATION,
            ),
        };
        let request = PolicyRequest {
            action: PolicyAction::SendEmail,
            resource: PolicyResource::Relay { host: &relay },
            data_classes: classes,
            purpose: why,
        };
        self.sovereignty()
            .checkpoint(actor, &relay, &request, |e| e.with_host(relay.clone()))
            .await
            .map(|_| ())
            .map_err(|r| r.to_string())
    }

    /// Writes the buffered outcome records and, when the chain has grown
    /// since its last signed checkpoint, signs it again: the periodic and
    /// shutdown checkpoint of long-running processes (`meridian serve` every
    /// [`CHECKPOINT_INTERVAL`](crate::CHECKPOINT_INTERVAL) and when it stops,
    /// `meridian worker` when it stops). Whether a checkpoint was signed.
    ///
    /// # Errors
    /// [`RuntimeError::Audit`] or [`RuntimeError::Store`].
    pub async fn audit_checkpoint_if_moved(&self) -> Result<bool, RuntimeError> {
        self.flush_audit().await?;
        let head = self.store().audit_head().await?;
        let signed = self.store().audit_last_checkpoint_seq().await?;
        if head.seq == 0 || signed == Some(head.seq) || self.audit().public_key().is_none() {
            return Ok(false);
        }
        Ok(self.sign_chain().await?.is_some())
    }

    /// Signs the chain head ([`meridian_audit::AuditLog::checkpoint`]) and,
    /// when the region sets `audit.witness_dir`, writes the signed checkpoint
    /// there too (the witness outside the database; see
    /// [`meridian_audit::witness`]). `None` when the region has no key.
    ///
    /// # Errors
    /// [`RuntimeError::Audit`] when the checkpoint cannot be made or the
    /// witness file cannot be written (the checkpoint is stored then).
    pub async fn sign_chain(
        &self,
    ) -> Result<Option<meridian_audit::SignedCheckpoint>, RuntimeError> {
        let checkpoint = self
            .audit()
            .checkpoint()
            .await
            .map_err(|source| self.audit_error(source))?;
        if let (Some(cp), Some(dir)) = (&checkpoint, &self.config().audit_witness_dir) {
            match meridian_audit::witness::write_witness(dir, cp) {
                Ok(path) => {
                    tracing::debug!(region = %self.config().id, number = cp.number, path = %path.display(), "Wrote the witness of an audit checkpoint");
                }
                Err(source) => {
                    tracing::error!(region = %self.config().id, number = cp.number, error = %source, "Cannot write the audit checkpoint to the witness directory (audit.witness_dir)");
                    return Err(self.audit_error(source));
                }
            }
        }
        Ok(checkpoint)
    }

    /// Where this process's policy decision counters stand, to report the
    /// decisions of one run at its end.
    pub(crate) fn run_mark(&self) -> RunMark {
        RunMark {
            at_start: self.policy_decisions(),
        }
    }

    /// The `run_start` record of a daily run, written by the process that
    /// opens the run in the queue (`meridian run`, with or without
    /// `--enqueue-only`).
    ///
    /// # Errors
    /// [`RuntimeError::Audit`] when it cannot be written (the run does not start).
    pub(crate) async fn audit_run_started(&self, options: &RunOptions) -> Result<(), RuntimeError> {
        let event = AuditEvent::new(AuditKind::RunStart, "pipeline")
            .with_subject(options.date.to_string())
            .with_outcome("started")
            .with_detail("force_refresh", options.force_refresh)
            .with_detail("import_opml", options.import_opml);
        self.audit()
            .record(event)
            .await
            .map_err(|source| self.audit_error(source))?;
        Ok(())
    }

    /// The `run_end` record of a daily run with its counts, then a signed
    /// checkpoint over the chain. Called by the one process whose stage
    /// advance closes the run (`jobs.rs`), whether that is `meridian run` or
    /// one of several `meridian worker`s, so every run has exactly one
    /// `run_end` and a checkpoint after it.
    ///
    /// # Errors
    /// [`RuntimeError::Audit`] when either cannot be written.
    pub(crate) async fn audit_run_closed(&self, report: &RunReport) -> Result<(), RuntimeError> {
        let mut event = AuditEvent::new(AuditKind::RunEnd, "pipeline")
            .with_subject(report.date.map(|d| d.to_string()).unwrap_or_default())
            .with_outcome("finished")
            .with_detail("digest_reused", report.digest_reused);
        for (stage, counts) in [
            ("feeds", &report.feeds),
            ("transcripts", &report.transcripts),
            ("insights", &report.insights),
            ("delivery", &report.delivery),
        ] {
            for (k, v) in &counts.0 {
                event = event.with_count(format!("{stage}.{k}"), *v);
            }
        }
        if let Some(d) = &report.digest {
            event = event.with_count("digest_items", d.items.len() as u64);
        }
        self.sovereignty()
            .record_with_pending(vec![event])
            .await
            .map_err(|source| self.audit_error(source))?;
        self.sign_chain().await?;
        Ok(())
    }

    /// The end of this process's part of a run: its outcome records still
    /// buffered are written and, when there were any (the run was closed by
    /// another process, or outcomes came after the close), covered by a new
    /// checkpoint; one progress line with this process's policy decisions.
    ///
    /// # Errors
    /// [`RuntimeError::Audit`] when the records or the checkpoint cannot be written.
    pub(crate) async fn audit_run_finished(
        &self,
        mark: RunMark,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(), RuntimeError> {
        let now = self.policy_decisions();
        let decisions = now.decisions.saturating_sub(mark.at_start.decisions);
        let denied = now.denied.saturating_sub(mark.at_start.denied);
        let flushed = self.sovereignty().pending_len();
        if flushed > 0 {
            self.flush_audit().await?;
            self.sign_chain().await?;
        }
        let signed = if self.audit().public_key().is_some() {
            "signed at the end of the run"
        } else {
            "not signed (no key)"
        };
        progress(&format!(
            "policy: {decisions} decisions, {denied} denied; audit chain {signed}"
        ));
        Ok(())
    }

    pub(crate) fn audit_error(&self, source: meridian_audit::AuditError) -> RuntimeError {
        RuntimeError::Audit {
            region: self.config().id.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_literals_are_known_without_dns() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.1.1",
            "[::1]",
            "fd00::1",
            "fe80::1",
            "localhost",
            "demo.localhost",
        ] {
            assert!(is_private_literal(private), "{private}");
        }
        for public in ["8.8.8.8", "api.openai.com", "2001:4860::8888"] {
            assert!(!is_private_literal(public), "{public}");
        }
    }

    #[test]
    fn the_relay_is_the_smtp_host_or_the_outbox() {
        let relay = |url: &str| mail_relay(&MailRelay::parse(url).unwrap());
        assert_eq!(relay(""), OUTBOX_RELAY);
        assert_eq!(relay("smtps://Relay.Example.com:465"), "relay.example.com");
    }

    #[test]
    fn the_policies_folder_is_beside_the_regions_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("regions")).unwrap();
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        let found = policies_dir_for(&dir.path().join("regions"));
        assert_eq!(
            found,
            dir.path().join("policies").canonicalize().unwrap(),
            "regions/../policies"
        );
    }
}
