//! What an audit record says: [`AuditEvent`] (what a caller records) and
//! [`AuditRecord`] (what is stored, with its place in the chain).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use meridian_core::{DataClass, Jurisdiction, RegionId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::canonical::to_canonical_string;

/// The `prev_hash` of the first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Version of the record format, stored in every record as `v`.
pub const RECORD_VERSION: u64 = 1;

/// What kind of thing a record reports. A closed set: the report reads some
/// kinds by name, so a new kind is added here, not invented by a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A call of a model (any provider, builtin included).
    ModelCall,
    /// A speech-to-text transcription.
    Transcription,
    /// An outbound HTTP request (feeds, transcripts, model APIs).
    HttpRequest,
    /// A policy decision (allow or deny) before an action.
    PolicyDecision,
    /// An email sent (or failed) to a subscriber.
    EmailSend,
    /// A subscriber signed up, confirmed or unsubscribed.
    SubscriptionChange,
    /// Data removed because it passed its retention period.
    Retention,
    /// A subscriber's personal data erased on request.
    Erasure,
    /// A region's configuration and policies were loaded.
    ConfigLoad,
    /// A daily run started.
    RunStart,
    /// A daily run ended.
    RunEnd,
    /// A signed checkpoint was made over the chain up to this record.
    Checkpoint,
}

impl AuditKind {
    /// Every kind, in documentation order.
    pub const ALL: [Self; 12] = [
        Self::ModelCall,
        Self::Transcription,
        Self::HttpRequest,
        Self::PolicyDecision,
        Self::EmailSend,
        Self::SubscriptionChange,
        Self::Retention,
        Self::Erasure,
        Self::ConfigLoad,
        Self::RunStart,
        Self::RunEnd,
        Self::Checkpoint,
    ];

    /// The name stored in records and the `kind` column.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ModelCall => "model_call",
            Self::Transcription => "transcription",
            Self::HttpRequest => "http_request",
            Self::PolicyDecision => "policy_decision",
            Self::EmailSend => "email_send",
            Self::SubscriptionChange => "subscription_change",
            Self::Retention => "retention",
            Self::Erasure => "erasure",
            Self::ConfigLoad => "config_load",
            Self::RunStart => "run_start",
            Self::RunEnd => "run_end",
            Self::Checkpoint => "checkpoint",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The effect of a policy decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// The action was permitted.
    Allow,
    /// The action was refused (and not retried elsewhere).
    Deny,
}

/// A policy decision as recorded: what was asked, the answer, and which
/// policies determined it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The action asked for: `call_model`, `http_request`, `send_email`…
    pub action: String,
    /// Allow or deny.
    pub effect: Effect,
    /// Ids of the policies that determined the answer (for a deny with no
    /// matching policy: empty, the default deny).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Why, in words (the denying policy's reason annotation, an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A model as recorded: its entry name, provider and pinned digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    /// The model entry's name in the region file.
    pub name: String,
    /// Provider type (`openai`, `ollama`, `builtin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The pinned digest (`sha256:…`), when the region file pins one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// One thing to record. Build it with [`AuditEvent::new`] or one of the
/// constructors per kind, then the `with_*`-style setters, and pass it to
/// [`crate::AuditLog::record`].
///
/// Personal data never goes into an event in clear: put
/// [`crate::AuditLog::keyed_hash`] of an address in `subject`, never the address.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// What kind of thing happened.
    pub kind: AuditKind,
    /// Who did it: `pipeline`, `delivery`, `server`, `cli`, `operator`…
    pub actor: String,
    /// What it was about: a model name, feed URL, episode, or the keyed hash of an address.
    pub subject: Option<String>,
    /// The policy decision, for `policy_decision` records.
    pub decision: Option<Decision>,
    /// Classes of the data sent or touched.
    pub data_classes: BTreeSet<DataClass>,
    /// The remote host (`host` or `host:port`), for requests and model calls.
    pub host: Option<String>,
    /// Where the data went: the jurisdiction of the model's servers or the
    /// host, when known. Used for the cross-border section of the report.
    pub jurisdiction: Option<Jurisdiction>,
    /// The model, for model calls and transcriptions.
    pub model: Option<ModelRef>,
    /// What happened: `ok`, `error`, `sent`, `failed`, `denied`, `confirmed`…
    pub outcome: Option<String>,
    /// Counters: tokens, rows, bytes.
    pub counts: BTreeMap<String, u64>,
    /// Anything else, as JSON. Integers, strings and booleans only, by convention.
    pub detail: Map<String, Value>,
}

impl AuditEvent {
    /// An event of `kind` by `actor`, with nothing else set.
    #[must_use]
    pub fn new(kind: AuditKind, actor: impl Into<String>) -> Self {
        Self {
            kind,
            actor: actor.into(),
            subject: None,
            decision: None,
            data_classes: BTreeSet::new(),
            host: None,
            jurisdiction: None,
            model: None,
            outcome: None,
            counts: BTreeMap::new(),
            detail: Map::new(),
        }
    }

    /// A model call: the model, where it runs, what was sent, the outcome and tokens.
    #[must_use]
    pub fn model_call(
        actor: impl Into<String>,
        model: ModelRef,
        hosted_in: Jurisdiction,
        outcome: &str,
    ) -> Self {
        Self::new(AuditKind::ModelCall, actor)
            .with_model(model)
            .with_jurisdiction(hosted_in)
            .with_outcome(outcome)
    }

    /// An outbound HTTP request to `host` (`host` or `host:port`).
    #[must_use]
    pub fn http_request(actor: impl Into<String>, host: &str, outcome: &str) -> Self {
        Self::new(AuditKind::HttpRequest, actor)
            .with_host(host)
            .with_outcome(outcome)
    }

    /// A policy decision about `action` on `resource` (a model name, host, recipient hash).
    #[must_use]
    pub fn policy_decision(actor: impl Into<String>, resource: &str, decision: Decision) -> Self {
        let mut e = Self::new(AuditKind::PolicyDecision, actor).with_subject(resource);
        e.outcome = Some(match decision.effect {
            Effect::Allow => "allow".to_owned(),
            Effect::Deny => "deny".to_owned(),
        });
        e.decision = Some(decision);
        e
    }

    /// An email to the subscriber whose keyed hash is `recipient_hash`:
    /// `outcome` is `sent` or `failed`; `ai_labelled` says whether it carried
    /// the region's AI-generated-content label.
    #[must_use]
    pub fn email_send(
        actor: impl Into<String>,
        recipient_hash: &str,
        outcome: &str,
        ai_labelled: bool,
    ) -> Self {
        Self::new(AuditKind::EmailSend, actor)
            .with_subject(recipient_hash)
            .with_data_class(DataClass::Personal)
            .with_data_class(DataClass::Derived)
            .with_outcome(outcome)
            .with_detail("ai_label", ai_labelled)
    }

    /// A subscription change of the subscriber whose keyed hash is
    /// `subscriber_hash`: `change` is `signed_up`, `confirmed` or `unsubscribed`.
    #[must_use]
    pub fn subscription_change(
        actor: impl Into<String>,
        subscriber_hash: &str,
        change: &str,
    ) -> Self {
        Self::new(AuditKind::SubscriptionChange, actor)
            .with_subject(subscriber_hash)
            .with_data_class(DataClass::Personal)
            .with_outcome(change)
    }

    /// The erasure of a subscriber's personal data; `rows` is how many rows went.
    #[must_use]
    pub fn erasure(actor: impl Into<String>, subscriber_hash: &str, rows: u64) -> Self {
        Self::new(AuditKind::Erasure, actor)
            .with_subject(subscriber_hash)
            .with_data_class(DataClass::Personal)
            .with_outcome("erased")
            .with_count("rows", rows)
    }

    /// A retention step: `removed` rows of `category` (`episodes`, `deliveries`…) past their period.
    #[must_use]
    pub fn retention(actor: impl Into<String>, category: &str, removed: u64) -> Self {
        Self::new(AuditKind::Retention, actor)
            .with_subject(category)
            .with_outcome("removed")
            .with_count("rows", removed)
    }

    /// The region's configuration was loaded: the hashes of its file and policy bundle.
    #[must_use]
    pub fn config_load(actor: impl Into<String>, config_hash: &str, policy_hash: &str) -> Self {
        Self::new(AuditKind::ConfigLoad, actor)
            .with_outcome("ok")
            .with_detail("config_hash", config_hash)
            .with_detail("policy_hash", policy_hash)
    }

    /// Sets what the event is about.
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the policy decision.
    #[must_use]
    pub fn with_decision(mut self, decision: Decision) -> Self {
        self.decision = Some(decision);
        self
    }

    /// Adds a data class.
    #[must_use]
    pub fn with_data_class(mut self, class: DataClass) -> Self {
        self.data_classes.insert(class);
        self
    }

    /// Sets the remote host.
    #[must_use]
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Sets the jurisdiction the data went to.
    #[must_use]
    pub fn with_jurisdiction(mut self, jurisdiction: Jurisdiction) -> Self {
        self.jurisdiction = Some(jurisdiction);
        self
    }

    /// Sets the model.
    #[must_use]
    pub fn with_model(mut self, model: ModelRef) -> Self {
        self.model = Some(model);
        self
    }

    /// Sets the outcome.
    #[must_use]
    pub fn with_outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = Some(outcome.into());
        self
    }

    /// Sets a counter.
    #[must_use]
    pub fn with_count(mut self, name: impl Into<String>, n: u64) -> Self {
        self.counts.insert(name.into(), n);
        self
    }

    /// Sets a detail field.
    #[must_use]
    pub fn with_detail(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.detail.insert(name.into(), value.into());
        self
    }

    /// The record's members except `seq` and `prev_hash`, which only the
    /// append knows (it adds them under the append lock).
    pub(crate) fn into_members(self, region: &RegionId, at: DateTime<Utc>) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("v".into(), RECORD_VERSION.into());
        m.insert("time".into(), rfc3339(at).into());
        m.insert("region".into(), region.as_str().into());
        m.insert("kind".into(), self.kind.as_str().into());
        m.insert("actor".into(), self.actor.into());
        if let Some(s) = self.subject {
            m.insert("subject".into(), s.into());
        }
        if let Some(d) = self.decision {
            let mut dm = Map::new();
            dm.insert("action".into(), d.action.into());
            dm.insert(
                "effect".into(),
                match d.effect {
                    Effect::Allow => "allow",
                    Effect::Deny => "deny",
                }
                .into(),
            );
            if !d.policies.is_empty() {
                dm.insert("policies".into(), d.policies.into());
            }
            if let Some(r) = d.reason {
                dm.insert("reason".into(), r.into());
            }
            m.insert("decision".into(), Value::Object(dm));
        }
        if !self.data_classes.is_empty() {
            let classes: Vec<Value> = self
                .data_classes
                .iter()
                .map(|c| c.as_str().into())
                .collect();
            m.insert("data_classes".into(), classes.into());
        }
        if let Some(h) = self.host {
            m.insert("host".into(), h.into());
        }
        if let Some(j) = self.jurisdiction {
            m.insert("jurisdiction".into(), j.as_str().into());
        }
        if let Some(model) = self.model {
            let mut mm = Map::new();
            mm.insert("name".into(), model.name.into());
            if let Some(p) = model.provider {
                mm.insert("provider".into(), p.into());
            }
            if let Some(d) = model.digest {
                mm.insert("digest".into(), d.into());
            }
            m.insert("model".into(), Value::Object(mm));
        }
        if let Some(o) = self.outcome {
            m.insert("outcome".into(), o.into());
        }
        if !self.counts.is_empty() {
            let counts: Map<String, Value> = self
                .counts
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect();
            m.insert("counts".into(), Value::Object(counts));
        }
        if !self.detail.is_empty() {
            m.insert("detail".into(), Value::Object(self.detail));
        }
        m
    }
}

/// Completes a record's members with its place in the chain and returns its
/// canonical text and hash.
pub(crate) fn seal(mut members: Map<String, Value>, seq: u64, prev_hash: &str) -> (String, String) {
    members.insert("seq".into(), seq.into());
    members.insert("prev_hash".into(), prev_hash.into());
    let text = to_canonical_string(&Value::Object(members));
    let hash = sha256_hex(text.as_bytes());
    (text, hash)
}

/// SHA-256 of `bytes`, 64 lowercase hex digits.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A time as stored in records: RFC 3339, UTC, whole seconds (`2026-11-28T07:00:00Z`).
#[must_use]
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A stored record, parsed. Unknown members are ignored, so that a newer
/// record format can be read for the report (verification hashes the text,
/// not this struct).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Record format version.
    pub v: u64,
    /// Sequence number in the region's chain (1 for the first record).
    pub seq: u64,
    /// When it was recorded, RFC 3339 UTC.
    pub time: String,
    /// The region whose chain it belongs to.
    pub region: String,
    /// The kind (see [`AuditKind`]); a string so that unknown kinds still parse.
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// What it was about.
    #[serde(default)]
    pub subject: Option<String>,
    /// The policy decision.
    #[serde(default)]
    pub decision: Option<Decision>,
    /// Data classes.
    #[serde(default)]
    pub data_classes: Vec<String>,
    /// Remote host.
    #[serde(default)]
    pub host: Option<String>,
    /// Where the data went.
    #[serde(default)]
    pub jurisdiction: Option<String>,
    /// The model.
    #[serde(default)]
    pub model: Option<ModelRef>,
    /// The outcome.
    #[serde(default)]
    pub outcome: Option<String>,
    /// Counters.
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// Free detail.
    #[serde(default)]
    pub detail: Map<String, Value>,
    /// Hash of the previous record.
    pub prev_hash: String,
}

impl AuditRecord {
    /// A counter (0 when absent).
    #[must_use]
    pub fn count(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }

    /// Whether the record carries the `personal` data class.
    #[must_use]
    pub fn has_personal_data(&self) -> bool {
        self.data_classes
            .iter()
            .any(|c| c == DataClass::Personal.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_record_is_canonical_and_hashed_over_its_text() {
        let region = RegionId::parse("us").unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-28T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let event = AuditEvent::model_call(
            "pipeline",
            ModelRef {
                name: "builtin".into(),
                provider: Some("builtin".into()),
                digest: None,
            },
            Jurisdiction::parse("US").unwrap(),
            "ok",
        )
        .with_data_class(DataClass::Public)
        .with_count("input_tokens", 12);
        let (text, hash) = seal(event.into_members(&region, at), 1, GENESIS_HASH);
        assert_eq!(
            text,
            format!(
                "{{\"actor\":\"pipeline\",\"counts\":{{\"input_tokens\":12}},\"data_classes\":[\"public\"],\"jurisdiction\":\"US\",\
                 \"kind\":\"model_call\",\"model\":{{\"name\":\"builtin\",\"provider\":\"builtin\"}},\"outcome\":\"ok\",\
                 \"prev_hash\":\"{GENESIS_HASH}\",\"region\":\"us\",\"seq\":1,\"time\":\"2026-11-28T07:00:00Z\",\"v\":1}}"
            )
        );
        assert_eq!(hash, sha256_hex(text.as_bytes()));
        let parsed: AuditRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (
                parsed.seq,
                parsed.kind.as_str(),
                parsed.count("input_tokens")
            ),
            (1, "model_call", 12)
        );
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in AuditKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
