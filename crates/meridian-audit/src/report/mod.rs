//! The compliance audit report of one region for one period.
//!
//! [`build_report`] gathers every figure: identity from the region file and
//! policy folders, inventories and consent from the store's count queries,
//! decisions, egress, cross-border transfers and AI labelling from the audit
//! records of the period, and integrity from a full verification of the
//! chain. [`AuditReport`] serialises to the JSON documented by
//! `docs/audit-report.schema.json`, and renders as printable HTML (charts as
//! inline SVG, no scripts, no external assets) or Markdown.
//!
//! Sections whose records do not exist yet show zeros: the report is valid
//! for a region that has recorded nothing.

mod identity;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use meridian_config::{ModelConfig, RegionConfig};
use meridian_core::Jurisdiction;
use meridian_core::net;
use serde::Serialize;

pub use identity::{PolicyFile, config_hash, policy_bundle_hash};

use crate::canonical::to_canonical_string;
use crate::keys::PublicKey;
use crate::record::{AuditKind, AuditRecord, Effect, rfc3339, sha256_hex};
use crate::verify::{ChainProblem, CheckpointSummary, VerifyReport};
use crate::{AuditError, AuditLog};

/// Version of the report's JSON shape (`schema_version`).
pub const REPORT_SCHEMA_VERSION: u64 = 1;

/// The report's sections: JSON key and title, in order. Every rendering has
/// each of them, so a reader (or a test) can look for them by name.
pub const SECTIONS: [(&str, &str); 10] = [
    ("identity", "Identity"),
    ("data_inventory", "Data inventory and retention"),
    ("models", "Model inventory"),
    ("policy_decisions", "Policy decisions"),
    ("egress", "Egress hosts"),
    ("cross_border", "Cross-border transfers"),
    ("ai_label", "AI-label coverage"),
    (
        "subscribers",
        "Subscribers: consent, unsubscribes and erasure",
    ),
    ("delivery", "Delivery outcomes"),
    ("integrity", "Integrity evidence"),
];

/// Rows of the period read per page.
const PAGE: i64 = 1_000;
/// Most lines of a detail list (denials, transfers, problems) kept in the report.
const LIST_LIMIT: usize = 500;

/// What to report on.
#[derive(Debug, Clone, Copy)]
pub struct ReportRequest<'a> {
    /// The region's validated config (its file is hashed, its models listed).
    pub config: &'a RegionConfig,
    /// The `policies/` folder (its `global/` and `<region>/` files are hashed).
    pub policies_dir: &'a Path,
    /// First day, in the region's timezone.
    pub from: NaiveDate,
    /// Last day (inclusive), in the region's timezone.
    pub to: NaiveDate,
    /// The key checkpoint signatures are checked with (default: the log's own).
    pub trusted_key: Option<&'a PublicKey>,
}

/// A name and a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    /// What is counted.
    pub name: String,
    /// How many.
    pub count: u64,
}

/// A status with its total and in-period count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusLine {
    /// The status.
    pub status: String,
    /// In total.
    pub total: u64,
    /// In the period.
    pub in_period: u64,
}

/// The report period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First day (region timezone).
    pub from: String,
    /// Last day, inclusive (region timezone).
    pub to: String,
    /// Start, RFC 3339 UTC.
    pub from_utc: String,
    /// End (exclusive), RFC 3339 UTC.
    pub to_utc: String,
}

/// Who and what the report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// Region id.
    pub region: String,
    /// Display name.
    pub region_name: String,
    /// Jurisdiction.
    pub jurisdiction: String,
    /// Locale.
    pub locale: String,
    /// Timezone.
    pub timezone: String,
    /// The period.
    pub period: Period,
    /// Meridian's version.
    pub meridian_version: String,
    /// The region file.
    pub config_file: String,
    /// SHA-256 of the region file's bytes.
    pub config_hash: String,
    /// Names (never values) of the `MERIDIAN_<REGION>__…` variables that
    /// override the file where the report was made.
    pub env_overrides: Vec<String>,
    /// SHA-256 over the policy files (see `docs/audit.md`).
    pub policy_bundle_hash: String,
    /// The policy files, each with its SHA-256.
    pub policy_files: Vec<PolicyFile>,
    /// Fingerprint of the region's audit key.
    pub key_fingerprint: Option<String>,
}

/// One kind of data the region holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryLine {
    /// `feeds`, `episodes`, `transcripts`…
    pub category: String,
    /// `public`, `derived`, `personal`, `operational`.
    pub data_class: String,
    /// Rows in total.
    pub total: u64,
    /// Rows created in the period.
    pub in_period: u64,
    /// The oldest row's time, RFC 3339 UTC.
    pub oldest: Option<String>,
    /// The newest row's time.
    pub newest: Option<String>,
}

/// Data inventory and retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataInventory {
    /// One line per kind of data.
    pub items: Vec<InventoryLine>,
    /// Episodes by pipeline status.
    pub episodes_by_status: Vec<Count>,
    /// Retention steps recorded in the period.
    pub retention_steps: u64,
    /// Rows removed by retention in the period, by category.
    pub retention_removed: Vec<Count>,
}

/// One model of the region's stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelLine {
    /// `insight`, `transcribe`, `embed`, `translate`, or `unlisted` for a
    /// model that was called but is not in the region file any more.
    pub role: String,
    /// Entry name.
    pub name: String,
    /// Provider.
    pub provider: String,
    /// Model name on the server.
    pub model: String,
    /// Endpoint host.
    pub endpoint_host: Option<String>,
    /// Where it runs.
    pub hosted_in: String,
    /// Who built the weights.
    pub origin: String,
    /// `open` or `closed`.
    pub weights: String,
    /// Pinned digest.
    pub digest: Option<String>,
    /// Whether it runs inside the region's jurisdiction.
    pub in_jurisdiction: bool,
    /// Why it cannot be used now, if so.
    pub unavailable: Option<String>,
    /// Calls in the period, as accounted in the store's `model_calls` table.
    pub calls: u64,
    /// Calls in the period, as recorded in the audit chain (`model_call` and
    /// `transcription` records): the tamper-evident count.
    pub recorded_calls: u64,
    /// Calls that failed.
    pub failed_calls: u64,
    /// Prompt tokens in the period.
    pub input_tokens: u64,
    /// Completion tokens in the period.
    pub output_tokens: u64,
}

/// Model inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInventory {
    /// Every model, by role, in fallback order.
    pub models: Vec<ModelLine>,
    /// Model calls in the period (store accounting).
    pub calls: u64,
    /// Model calls in the period recorded in the audit chain.
    pub recorded_calls: u64,
    /// Models configured outside the region's jurisdiction (expected 0).
    pub outside_jurisdiction: u64,
    /// Models without a pinned digest.
    pub unpinned: u64,
}

/// Decisions per policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleLine {
    /// The policy id (`(default)` for decisions no policy determined).
    pub policy: String,
    /// Allows it determined.
    pub allowed: u64,
    /// Denials it determined.
    pub denied: u64,
}

/// One denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// Record sequence number.
    pub seq: u64,
    /// When.
    pub time: String,
    /// The action asked for.
    pub action: String,
    /// The resource (model, host, recipient hash).
    pub resource: Option<String>,
    /// The determining policies.
    pub policies: Vec<String>,
    /// The reason.
    pub reason: Option<String>,
}

/// Policy decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyDecisions {
    /// Decisions in the period.
    pub total: u64,
    /// Allowed.
    pub allowed: u64,
    /// Denied.
    pub denied: u64,
    /// By determining policy.
    pub by_rule: Vec<RuleLine>,
    /// Every denial (up to 500; `denials_listed` < `denied` when cut).
    pub denials: Vec<Denial>,
    /// How many denials are listed.
    pub denials_listed: u64,
}

/// One host contacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostLine {
    /// `host` or `host:port`.
    pub host: String,
    /// Requests recorded.
    pub requests: u64,
    /// Requests refused before they were made.
    pub denied: u64,
    /// Requests that failed.
    pub failed: u64,
    /// The allow-list entry that admits it (`None`: outside the list).
    pub allowed_by: Option<String>,
}

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowEntry {
    /// As written.
    pub entry: String,
    /// Whether a request of the period used it.
    pub used: bool,
}

/// Egress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Egress {
    /// The allow-list.
    pub allow_list: Vec<AllowEntry>,
    /// Whether `*` reaches private addresses.
    pub allow_private: bool,
    /// Hosts contacted in the period.
    pub hosts: Vec<HostLine>,
    /// Requests in the period.
    pub requests: u64,
    /// Requests made (not denied) to hosts outside the allow-list (expected 0).
    pub outside_allow_list: u64,
}

/// A legal threshold on the number of individuals whose data leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Threshold {
    /// `PIPL` or `GDPR`.
    pub law: String,
    /// What crossing it means.
    pub rule: String,
    /// Individuals (since 1 January for PIPL) at which the rule applies.
    pub individuals: u64,
    /// Whether the law governs this region.
    pub applies: bool,
    /// Whether the period's unique individuals reach it.
    pub reached: bool,
}

/// One cross-border transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// Record sequence number.
    pub seq: u64,
    /// When.
    pub time: String,
    /// Record kind.
    pub kind: String,
    /// Where the data went.
    pub destination: String,
    /// Host or model.
    pub target: String,
    /// Whether personal data went.
    pub personal: bool,
}

/// Cross-border transfers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrossBorder {
    /// The region's jurisdiction.
    pub region_jurisdiction: String,
    /// Transfers recorded in the period (expected 0).
    pub transfers: u64,
    /// Of which carried personal data.
    pub personal_transfers: u64,
    /// Unique individuals whose personal data left.
    pub unique_individuals: u64,
    /// Transfers by destination.
    pub destinations: Vec<Count>,
    /// Model calls of the period accounted to models hosted outside the jurisdiction.
    pub model_calls_hosted_outside: u64,
    /// The transfers (up to 500).
    pub list: Vec<Transfer>,
    /// PIPL and GDPR thresholds against `unique_individuals`.
    pub thresholds: Vec<Threshold>,
}

/// AI-label coverage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AiLabel {
    /// The label the region's emails carry.
    pub label: String,
    /// Emails recorded as sent in the period.
    pub emails_sent: u64,
    /// Of which carried the label.
    pub labelled: u64,
    /// `labelled / emails_sent`; `None` when nothing was sent.
    pub coverage: Option<f64>,
    /// Deliveries the store marks as sent, claimed in the period (for comparison).
    pub deliveries_sent: u64,
}

/// Subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscribers {
    /// By consent state.
    pub by_status: Vec<StatusLine>,
    /// Signed up in the period.
    pub signed_up: u64,
    /// Confirmed (consent given) in the period.
    pub confirmed: u64,
    /// Unsubscribed in the period.
    pub unsubscribed: u64,
    /// Erasures recorded in the period.
    pub erasures: u64,
    /// Subscription changes recorded in the period, by change.
    pub changes: Vec<Count>,
}

/// Delivery outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Deliveries by status (store).
    pub by_status: Vec<StatusLine>,
    /// Email sends recorded in the period, by outcome.
    pub recorded: Vec<Count>,
}

/// Verification result as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// `intact` or `broken`.
    pub status: String,
    /// The first bad sequence number.
    pub first_bad_seq: Option<u64>,
    /// Problems found (up to 500).
    pub problems: Vec<ChainProblem>,
    /// How many problems in all.
    pub problem_count: u64,
}

/// Integrity evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Integrity {
    /// Records in the chain.
    pub chain_length: u64,
    /// Last record's sequence number.
    pub head_seq: u64,
    /// Last record's hash.
    pub head_hash: Option<String>,
    /// Checkpoints.
    pub checkpoints: u64,
    /// Checkpoints whose signature verified.
    pub checkpoints_verified: u64,
    /// The last checkpoint.
    pub last_checkpoint: Option<CheckpointSummary>,
    /// Records after the last checkpoint, `[first, last]`.
    pub unsigned_tail: Option<[u64; 2]>,
    /// Records in the period.
    pub records_in_period: u64,
    /// Records of the period by kind.
    pub records_by_kind: Vec<Count>,
    /// The verification result.
    pub verification: Verification,
    /// Key the signatures were checked with.
    pub key_fingerprint: Option<String>,
}

/// The report's own signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attestation {
    /// `ed25519`.
    pub algorithm: String,
    /// Fingerprint of the signing key.
    pub key_fingerprint: String,
    /// SHA-256 of the canonical JSON of the report with `attestation` null.
    pub report_sha256: String,
    /// Ed25519 signature over `report_sha256` (its 64 hex digits as bytes), hex.
    pub signature: String,
}

/// The compliance audit report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    /// Shape version.
    pub schema_version: u64,
    /// When it was made.
    pub generated_at: String,
    /// Identity.
    pub identity: Identity,
    /// Data inventory and retention.
    pub data_inventory: DataInventory,
    /// Model inventory.
    pub models: ModelInventory,
    /// Policy decisions.
    pub policy_decisions: PolicyDecisions,
    /// Egress hosts.
    pub egress: Egress,
    /// Cross-border transfers.
    pub cross_border: CrossBorder,
    /// AI-label coverage.
    pub ai_label: AiLabel,
    /// Subscribers.
    pub subscribers: Subscribers,
    /// Delivery outcomes.
    pub delivery: Delivery,
    /// Integrity evidence.
    pub integrity: Integrity,
    /// The report's signature (when the region has a signing key).
    pub attestation: Option<Attestation>,
}

impl AuditReport {
    /// Pretty-printed JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serialising plain structs with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Printable HTML with inline SVG charts.
    ///
    /// # Errors
    /// [`AuditError::Report`] when a template fails.
    pub fn to_html(&self) -> Result<String, AuditError> {
        render::html(self)
    }

    /// Markdown.
    ///
    /// # Errors
    /// [`AuditError::Report`] when a template fails.
    pub fn to_markdown(&self) -> Result<String, AuditError> {
        render::markdown(self)
    }

    /// SHA-256 of the canonical JSON of the report with `attestation` null:
    /// what the attestation signs.
    #[must_use]
    pub fn content_sha256(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(obj) = value.as_object_mut() {
            obj.insert("attestation".into(), serde_json::Value::Null);
        }
        sha256_hex(to_canonical_string(&value).as_bytes())
    }

    /// Whether the attestation is `key`'s signature of this report.
    #[must_use]
    pub fn attestation_verifies(&self, key: &PublicKey) -> bool {
        self.attestation.as_ref().is_some_and(|a| {
            a.report_sha256 == self.content_sha256()
                && key.verifies(a.report_sha256.as_bytes(), &a.signature)
        })
    }
}

fn u(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn time_of(unix: Option<i64>) -> Option<String> {
    unix.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
        .map(rfc3339)
}

fn counts(map: BTreeMap<String, u64>) -> Vec<Count> {
    map.into_iter()
        .map(|(name, count)| Count { name, count })
        .collect()
}

/// Start (inclusive) and end (exclusive) of the period in Unix seconds:
/// midnight of `from` and of the day after `to`, in the region's timezone.
fn period_bounds(
    config: &RegionConfig,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(i64, i64), AuditError> {
    let bad = |reason: String| AuditError::Report {
        region: config.id.to_string(),
        reason,
    };
    if from > to {
        return Err(bad(format!(
            "the period starts ({from}) after it ends ({to})"
        )));
    }
    let midnight = |d: NaiveDate| {
        let local = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        config
            .timezone
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.timestamp())
    };
    let end_day = to
        .succ_opt()
        .ok_or_else(|| bad(format!("{to} is the last day there is")))?;
    match (midnight(from), midnight(end_day)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(bad(format!(
            "no midnight on {from} or {end_day} in {}",
            config.timezone
        ))),
    }
}

/// The host part of an `host[:port]` string, lower-case, without brackets.
fn host_and_port(hostport: &str) -> (String, Option<u16>) {
    let text = hostport.trim().to_ascii_lowercase();
    if let Some(rest) = text.strip_prefix('[')
        && let Some((host, tail)) = rest.split_once(']')
    {
        return (
            host.to_owned(),
            tail.strip_prefix(':').and_then(|p| p.parse().ok()),
        );
    }
    match text.matches(':').count() {
        1 => match text.split_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()),
            None => (text, None),
        },
        _ => (text, None),
    }
}

/// The allow-list entry that admits `hostport` ([`net::AllowEntry::admits`], the
/// egress guard's own rule), shown in its canonical form; an explicit entry
/// before `*`. A recorded host without a port fits port-less entries only.
fn admitted_by(allow: &[net::AllowEntry], hostport: &str) -> Option<String> {
    let (host, port) = host_and_port(hostport);
    let fits = |e: &net::AllowEntry| match port {
        Some(p) => e.admits(&host, p),
        None => e.port().is_none() && e.matches_host(&host),
    };
    allow
        .iter()
        .find(|e| !e.is_any() && fits(e))
        .or_else(|| allow.iter().find(|e| e.is_any()))
        .map(ToString::to_string)
}

fn model_lines(config: &RegionConfig) -> Vec<ModelLine> {
    let roles: [(&str, &[ModelConfig]); 4] = [
        ("insight", &config.insight_models),
        ("transcribe", &config.transcribe_models),
        ("embed", &config.embed_models),
        ("translate", &config.translate_models),
    ];
    let mut out = Vec::new();
    for (role, models) in roles {
        for m in models {
            out.push(ModelLine {
                role: role.to_owned(),
                name: m.name.clone(),
                provider: m.provider.as_str().to_owned(),
                model: m.model.clone(),
                endpoint_host: m
                    .endpoint
                    .as_ref()
                    .and_then(|u| u.host_str().map(str::to_owned)),
                hosted_in: m.hosted_in.to_string(),
                origin: m.origin.to_string(),
                weights: m.weights.as_str().to_owned(),
                digest: m.digest.clone(),
                in_jurisdiction: m.hosted_in.is_within(config.jurisdiction),
                unavailable: m.unavailable.clone(),
                calls: 0,
                recorded_calls: 0,
                failed_calls: 0,
                input_tokens: 0,
                output_tokens: 0,
            });
        }
    }
    out
}

/// The line of a model that was called but is not in the region file (any more).
fn unlisted(name: &str, provider: &str, hosted_in: &str, region: Jurisdiction) -> ModelLine {
    ModelLine {
        role: "unlisted".into(),
        name: name.to_owned(),
        provider: provider.to_owned(),
        model: String::new(),
        endpoint_host: None,
        hosted_in: hosted_in.to_owned(),
        origin: Jurisdiction::UNKNOWN.to_string(),
        weights: String::new(),
        digest: None,
        in_jurisdiction: Jurisdiction::parse(hosted_in).is_ok_and(|j| j.is_within(region)),
        unavailable: Some("not in the region file".into()),
        calls: 0,
        recorded_calls: 0,
        failed_calls: 0,
        input_tokens: 0,
        output_tokens: 0,
    }
}

/// The names of the environment variables that override this region's file.
fn env_overrides(config: &RegionConfig) -> Vec<String> {
    let prefix = meridian_config::env_prefix(&config.id);
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with(&prefix))
        .collect();
    names.sort();
    names
}

/// Figures gathered from the period's audit records.
#[derive(Default)]
struct RecordFigures {
    in_period: u64,
    by_kind: BTreeMap<String, u64>,
    retention_steps: u64,
    retention_removed: BTreeMap<String, u64>,
    decisions: u64,
    allowed: u64,
    denied: u64,
    by_rule: BTreeMap<String, (u64, u64)>,
    denials: Vec<Denial>,
    hosts: BTreeMap<String, (u64, u64, u64)>,
    requests: u64,
    transfers: Vec<Transfer>,
    transfer_count: u64,
    personal_transfers: u64,
    individuals: BTreeSet<String>,
    anonymous_individuals: u64,
    destinations: BTreeMap<String, u64>,
    model_calls: BTreeMap<String, (String, String, u64)>,
    emails_sent: u64,
    labelled: u64,
    sends: BTreeMap<String, u64>,
    erasures: u64,
    changes: BTreeMap<String, u64>,
}

impl RecordFigures {
    fn add(
        &mut self,
        r: &AuditRecord,
        region_j: Jurisdiction,
        model_homes: &BTreeMap<String, Jurisdiction>,
    ) {
        self.in_period += 1;
        *self.by_kind.entry(r.kind.clone()).or_default() += 1;
        let outcome = r.outcome.clone().unwrap_or_default();
        match r.kind.as_str() {
            k if k == AuditKind::Retention.as_str() => {
                self.retention_steps += 1;
                *self
                    .retention_removed
                    .entry(r.subject.clone().unwrap_or_default())
                    .or_default() += r.count("rows");
            }
            k if k == AuditKind::PolicyDecision.as_str() => {
                if let Some(d) = &r.decision {
                    self.decisions += 1;
                    let deny = d.effect == Effect::Deny;
                    if deny {
                        self.denied += 1
                    } else {
                        self.allowed += 1
                    }
                    let rules = if d.policies.is_empty() {
                        vec!["(default)".to_owned()]
                    } else {
                        d.policies.clone()
                    };
                    for rule in rules {
                        let e = self.by_rule.entry(rule).or_default();
                        if deny { e.1 += 1 } else { e.0 += 1 }
                    }
                    if deny && self.denials.len() < LIST_LIMIT {
                        self.denials.push(Denial {
                            seq: r.seq,
                            time: r.time.clone(),
                            action: d.action.clone(),
                            resource: r.subject.clone(),
                            policies: d.policies.clone(),
                            reason: d.reason.clone(),
                        });
                    }
                }
            }
            k if k == AuditKind::HttpRequest.as_str() => {
                self.requests += 1;
                let e = self
                    .hosts
                    .entry(r.host.clone().unwrap_or_else(|| "(unknown)".to_owned()))
                    .or_default();
                e.0 += 1;
                match outcome.as_str() {
                    "denied" | "deny" => e.1 += 1,
                    "error" | "failed" => e.2 += 1,
                    _ => {}
                }
            }
            k if k == AuditKind::EmailSend.as_str() => {
                *self.sends.entry(outcome.clone()).or_default() += 1;
                if outcome == "sent" {
                    self.emails_sent += 1;
                    if r.detail
                        .get("ai_label")
                        .and_then(serde_json::Value::as_bool)
                        == Some(true)
                    {
                        self.labelled += 1;
                    }
                }
            }
            k if k == AuditKind::ModelCall.as_str() || k == AuditKind::Transcription.as_str() => {
                let (name, provider) = r.model.as_ref().map_or_else(
                    || ("(unknown)".to_owned(), String::new()),
                    |m| (m.name.clone(), m.provider.clone().unwrap_or_default()),
                );
                let hosted_in = r.jurisdiction.clone().unwrap_or_default();
                self.model_calls
                    .entry(name)
                    .or_insert((provider, hosted_in, 0))
                    .2 += 1;
            }
            k if k == AuditKind::Erasure.as_str() => self.erasures += 1,
            k if k == AuditKind::SubscriptionChange.as_str() => {
                *self.changes.entry(outcome.clone()).or_default() += 1
            }
            _ => {}
        }
        self.add_transfer(r, region_j, model_homes, &outcome);
    }

    /// A record that sent data somewhere outside the region's jurisdiction.
    fn add_transfer(
        &mut self,
        r: &AuditRecord,
        region_j: Jurisdiction,
        model_homes: &BTreeMap<String, Jurisdiction>,
        outcome: &str,
    ) {
        let sends_data = [
            AuditKind::ModelCall,
            AuditKind::Transcription,
            AuditKind::HttpRequest,
            AuditKind::EmailSend,
        ]
        .iter()
        .any(|k| k.as_str() == r.kind);
        // A refused request sent nothing.
        if !sends_data || matches!(outcome, "denied" | "deny" | "skipped") {
            return;
        }
        let destination = r
            .jurisdiction
            .as_deref()
            .and_then(|j| Jurisdiction::parse(j).ok())
            .or_else(|| {
                r.model
                    .as_ref()
                    .and_then(|m| model_homes.get(&m.name).copied())
            });
        let Some(dest) = destination.filter(|d| !d.is_within(region_j)) else {
            return;
        };
        self.transfer_count += 1;
        *self.destinations.entry(dest.to_string()).or_default() += 1;
        let personal = r.has_personal_data();
        if personal {
            self.personal_transfers += 1;
            // A record without a subject counts as one more individual: unknown is not zero.
            match &r.subject {
                Some(s) => {
                    self.individuals.insert(s.clone());
                }
                None => self.anonymous_individuals += 1,
            }
        }
        if self.transfers.len() < LIST_LIMIT {
            let target = r
                .model
                .as_ref()
                .map(|m| m.name.clone())
                .or_else(|| r.host.clone())
                .or_else(|| r.subject.clone())
                .unwrap_or_default();
            self.transfers.push(Transfer {
                seq: r.seq,
                time: r.time.clone(),
                kind: r.kind.clone(),
                destination: dest.to_string(),
                target,
                personal,
            });
        }
    }
}

/// PIPL and GDPR thresholds for the number of individuals whose personal
/// data leaves the jurisdiction.
///
/// PIPL (China): the CAC's Provisions on Promoting and Regulating
/// Cross-Border Data Flows (2024), counted from 1 January of the year,
/// non-sensitive personal information: fewer than 100,000 individuals is
/// exempt, 100,000 to 1,000,000 needs the standard contract or certification,
/// more than 1,000,000 a CAC security assessment; sensitive personal
/// information of 10,000 or more needs the assessment. GDPR (EU): no
/// de-minimis; one individual's data sent to a country without an adequacy
/// decision needs a Chapter V safeguard (Art. 46 SCCs, BCRs).
fn thresholds(region_j: Jurisdiction, individuals: u64) -> Vec<Threshold> {
    let pipl = region_j.as_str() == "CN";
    let gdpr = region_j.is_in_eu();
    let line = |law: &str, rule: &str, n: u64, applies: bool| Threshold {
        law: law.to_owned(),
        rule: rule.to_owned(),
        individuals: n,
        applies,
        reached: individuals >= n,
    };
    vec![
        line(
            "PIPL",
            "standard contract or certification (personal information, since 1 January)",
            100_000,
            pipl,
        ),
        line(
            "PIPL",
            "CAC security assessment (personal information, since 1 January)",
            1_000_000,
            pipl,
        ),
        line(
            "PIPL",
            "CAC security assessment (sensitive personal information, since 1 January)",
            10_000,
            pipl,
        ),
        line(
            "GDPR",
            "Chapter V safeguard (adequacy decision, SCCs or BCRs) for any transfer",
            1,
            gdpr,
        ),
    ]
}

/// Builds the report of `request.config`'s region for the period.
///
/// # Errors
/// [`AuditError::Report`] for a bad period or unreadable region or policy
/// files, [`AuditError::Store`] when the store cannot be read.
#[tracing::instrument(skip_all, fields(region = %request.config.id))]
pub async fn build_report(
    log: &AuditLog,
    request: &ReportRequest<'_>,
) -> Result<AuditReport, AuditError> {
    let config = request.config;
    let region = config.id.to_string();
    let (from_at, to_at) = period_bounds(config, request.from, request.to)?;
    let store = log.store();
    let report_err = |reason: String| AuditError::Report {
        region: region.clone(),
        reason,
    };

    let (policy_hash, policy_files) = policy_bundle_hash(request.policies_dir, &config.id)
        .map_err(|e| report_err(e.to_string()))?;
    let own_key = log.public_key();
    let trusted = request.trusted_key.copied().or(own_key);
    let identity = Identity {
        region: region.clone(),
        region_name: config.name.clone(),
        jurisdiction: config.jurisdiction.to_string(),
        locale: config.locale.to_string(),
        timezone: config.timezone.to_string(),
        period: Period {
            from: request.from.to_string(),
            to: request.to.to_string(),
            from_utc: time_of(Some(from_at)).unwrap_or_default(),
            to_utc: time_of(Some(to_at)).unwrap_or_default(),
        },
        meridian_version: env!("CARGO_PKG_VERSION").to_owned(),
        config_file: config.source.display().to_string(),
        config_hash: config_hash(&config.source).map_err(|e| report_err(e.to_string()))?,
        env_overrides: env_overrides(config),
        policy_bundle_hash: policy_hash,
        policy_files,
        key_fingerprint: trusted.as_ref().map(PublicKey::fingerprint),
    };

    // Records of the period.
    let mut models = model_lines(config);
    let model_homes: BTreeMap<String, Jurisdiction> = {
        let all = [
            &config.insight_models,
            &config.transcribe_models,
            &config.embed_models,
            &config.translate_models,
        ];
        all.iter()
            .flat_map(|ms| ms.iter())
            .map(|m| (m.name.clone(), m.hosted_in))
            .collect()
    };
    let mut figures = RecordFigures::default();
    let mut unreadable = 0u64;
    let mut after = i64::MIN;
    loop {
        let page = store
            .audit_rows_between(from_at, to_at, after, PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in &page {
            match serde_json::from_str::<AuditRecord>(&row.record) {
                Ok(r) => figures.add(&r, config.jurisdiction, &model_homes),
                // Verification reports it; here it only cannot be counted.
                Err(_) => unreadable += 1,
            }
        }
    }
    if unreadable > 0 {
        figures.by_kind.insert("(unreadable)".into(), unreadable);
        figures.in_period += unreadable;
    }

    // Store counts.
    let inventory = store.data_inventory(from_at, to_at).await?;
    let episodes = store.episode_counts().await?;
    let consent = store.consent_counts(from_at, to_at).await?;
    let deliveries = store.delivery_counts(from_at, to_at).await?;
    let calls = store.model_call_counts(from_at, to_at).await?;

    let mut calls_total = 0u64;
    let mut hosted_outside = 0u64;
    for c in &calls {
        let n = u(c.calls);
        calls_total += n;
        if Jurisdiction::parse(&c.hosted_in).is_ok_and(|j| !j.is_within(config.jurisdiction)) {
            hosted_outside += n;
        }
        let line = match models
            .iter_mut()
            .find(|m| m.name == c.model && m.provider == c.provider)
        {
            Some(line) => line,
            None => {
                models.push(unlisted(
                    &c.model,
                    &c.provider,
                    &c.hosted_in,
                    config.jurisdiction,
                ));
                let last = models.len() - 1;
                &mut models[last]
            }
        };
        line.calls += n;
        if c.outcome != "ok" {
            line.failed_calls += n;
        }
        line.input_tokens += u(c.input_tokens);
        line.output_tokens += u(c.output_tokens);
    }
    let mut recorded_total = 0u64;
    for (name, (provider, hosted_in, n)) in std::mem::take(&mut figures.model_calls) {
        recorded_total += n;
        match models.iter_mut().find(|m| m.name == name) {
            Some(line) => line.recorded_calls += n,
            None => {
                let mut line = unlisted(&name, &provider, &hosted_in, config.jurisdiction);
                line.recorded_calls = n;
                models.push(line);
            }
        }
    }
    let configured = models.iter().filter(|m| m.role != "unlisted");
    let outside_jurisdiction = configured.clone().filter(|m| !m.in_jurisdiction).count() as u64;
    let unpinned = configured
        .filter(|m| m.digest.is_none() && m.provider != "builtin")
        .count() as u64;

    // Egress.
    let allow = &config.egress.allow;
    let mut used_entries = BTreeSet::new();
    let mut outside_allow_list = 0u64;
    let hosts: Vec<HostLine> = figures
        .hosts
        .iter()
        .map(|(host, (requests, denied, failed))| {
            let allowed_by = admitted_by(allow, host);
            match &allowed_by {
                Some(e) => {
                    used_entries.insert(e.clone());
                }
                None => outside_allow_list += requests - denied,
            }
            HostLine {
                host: host.clone(),
                requests: *requests,
                denied: *denied,
                failed: *failed,
                allowed_by,
            }
        })
        .collect();

    let verify: VerifyReport = log.verify(trusted.as_ref()).await?;
    let unique_individuals = figures.individuals.len() as u64 + figures.anonymous_individuals;
    let deliveries_sent = deliveries
        .iter()
        .filter(|d| d.status == "sent")
        .map(|d| u(d.in_period))
        .sum();
    let status_lines = |v: &[meridian_store::StatusCount]| {
        v.iter()
            .map(|s| StatusLine {
                status: s.status.clone(),
                total: u(s.total),
                in_period: u(s.in_period),
            })
            .collect::<Vec<_>>()
    };

    let mut report = AuditReport {
        schema_version: REPORT_SCHEMA_VERSION,
        generated_at: rfc3339(Utc::now()),
        identity,
        data_inventory: DataInventory {
            items: inventory
                .iter()
                .map(|i| InventoryLine {
                    category: i.category.to_owned(),
                    data_class: i.data_class.to_owned(),
                    total: u(i.total),
                    in_period: u(i.in_period),
                    oldest: time_of(i.oldest_at),
                    newest: time_of(i.newest_at),
                })
                .collect(),
            episodes_by_status: episodes
                .into_iter()
                .map(|(name, n)| Count { name, count: u(n) })
                .collect(),
            retention_steps: figures.retention_steps,
            retention_removed: counts(std::mem::take(&mut figures.retention_removed)),
        },
        models: ModelInventory {
            models,
            calls: calls_total,
            recorded_calls: recorded_total,
            outside_jurisdiction,
            unpinned,
        },
        policy_decisions: PolicyDecisions {
            total: figures.decisions,
            allowed: figures.allowed,
            denied: figures.denied,
            by_rule: figures
                .by_rule
                .iter()
                .map(|(p, (a, d))| RuleLine {
                    policy: p.clone(),
                    allowed: *a,
                    denied: *d,
                })
                .collect(),
            denials_listed: figures.denials.len() as u64,
            denials: std::mem::take(&mut figures.denials),
        },
        egress: Egress {
            allow_list: allow
                .iter()
                .map(|e| {
                    let entry = e.to_string();
                    AllowEntry {
                        used: used_entries.contains(&entry),
                        entry,
                    }
                })
                .collect(),
            allow_private: config.egress.allow_private,
            hosts,
            requests: figures.requests,
            outside_allow_list,
        },
        cross_border: CrossBorder {
            region_jurisdiction: config.jurisdiction.to_string(),
            transfers: figures.transfer_count,
            personal_transfers: figures.personal_transfers,
            unique_individuals,
            destinations: counts(std::mem::take(&mut figures.destinations)),
            model_calls_hosted_outside: hosted_outside,
            list: std::mem::take(&mut figures.transfers),
            thresholds: thresholds(config.jurisdiction, unique_individuals),
        },
        ai_label: AiLabel {
            label: config.mail.ai_label.clone(),
            emails_sent: figures.emails_sent,
            labelled: figures.labelled,
            #[expect(
                clippy::cast_precision_loss,
                reason = "a ratio for people; exact below 2^52 emails"
            )]
            coverage: (figures.emails_sent > 0)
                .then(|| figures.labelled as f64 / figures.emails_sent as f64),
            deliveries_sent,
        },
        subscribers: Subscribers {
            by_status: status_lines(&consent.by_status),
            signed_up: u(consent.signed_up),
            confirmed: u(consent.confirmed),
            unsubscribed: u(consent.unsubscribed),
            erasures: figures.erasures,
            changes: counts(std::mem::take(&mut figures.changes)),
        },
        delivery: Delivery {
            by_status: status_lines(&deliveries),
            recorded: counts(std::mem::take(&mut figures.sends)),
        },
        integrity: Integrity {
            chain_length: verify.records,
            head_seq: verify.head_seq,
            head_hash: verify.head_hash.clone(),
            checkpoints: verify.checkpoints,
            checkpoints_verified: verify.checkpoints_verified,
            last_checkpoint: verify.last_checkpoint.clone(),
            unsigned_tail: verify.unsigned_tail,
            records_in_period: figures.in_period,
            records_by_kind: counts(std::mem::take(&mut figures.by_kind)),
            verification: Verification {
                status: verify.status().to_owned(),
                first_bad_seq: verify.first_bad_seq(),
                problem_count: verify.problems.len() as u64,
                problems: verify.problems.iter().take(LIST_LIMIT).cloned().collect(),
            },
            key_fingerprint: verify.key.clone(),
        },
        attestation: None,
    };
    report.attestation = log.attest(&report.content_sha256());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_matching_follows_the_egress_rules() {
        let allow: Vec<net::AllowEntry> =
            ["api.openai.com", "127.0.0.1:11434", "*.example.com", "*"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect();
        assert_eq!(
            admitted_by(&allow, "api.openai.com").as_deref(),
            Some("api.openai.com")
        );
        assert_eq!(
            admitted_by(&allow, "API.openai.com:443").as_deref(),
            Some("api.openai.com")
        );
        assert_eq!(
            admitted_by(&allow, "127.0.0.1:11434").as_deref(),
            Some("127.0.0.1:11434")
        );
        assert_eq!(
            admitted_by(&allow, "127.0.0.1:8080").as_deref(),
            Some("*"),
            "another port falls to `*`"
        );
        assert_eq!(
            admitted_by(&allow, "feeds.example.com").as_deref(),
            Some("*.example.com")
        );
        let narrow: Vec<net::AllowEntry> = vec!["*.example.com".parse().unwrap()];
        assert_eq!(
            admitted_by(&narrow, "example.com"),
            None,
            "the apex is not a sub-domain"
        );
        assert_eq!(admitted_by(&narrow, "evil.com"), None);
    }

    #[test]
    fn thresholds_apply_by_jurisdiction() {
        let cn = thresholds(Jurisdiction::parse("CN").unwrap(), 150_000);
        assert!(cn.iter().filter(|t| t.law == "PIPL").all(|t| t.applies));
        assert!(
            cn.iter()
                .any(|t| t.law == "PIPL" && t.individuals == 100_000 && t.reached)
        );
        assert!(
            cn.iter()
                .any(|t| t.law == "PIPL" && t.individuals == 1_000_000 && !t.reached)
        );
        let de = thresholds(Jurisdiction::parse("DE").unwrap(), 0);
        assert!(
            de.iter()
                .any(|t| t.law == "GDPR" && t.applies && !t.reached)
        );
        let us = thresholds(Jurisdiction::parse("US").unwrap(), 3);
        assert!(us.iter().all(|t| !t.applies));
    }
}
