//! The logic behind `meridian config check` (does a region's own config pass
//! its own policies?), `meridian policy check` and `meridian policy explain`.
//!
//! Everything here takes plain facts, so that this crate needs nothing but
//! `meridian-core`; the CLI turns a `RegionConfig` into these facts.

use std::fmt;

use meridian_core::{DataClass, RegionId};

use crate::gate::{PolicyGate, class_list};
use crate::request::{Decision, ModelFacts, PolicyAction, PolicyRequest, PolicyResource, purpose};

/// What a model is configured for, and so what it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelUse {
    /// `[[models.insight]]`: receives transcripts and show notes.
    Insight,
    /// `[[models.transcribe]]`: receives episode audio.
    Transcribe,
    /// `[[models.embed]]`: receives transcript passages and insights.
    Embed,
    /// `[[models.translate]]`: receives insights.
    Translate,
}

impl ModelUse {
    /// The action a call of this role is.
    #[must_use]
    pub fn action(self) -> PolicyAction {
        match self {
            Self::Transcribe => PolicyAction::Transcribe,
            Self::Insight | Self::Embed | Self::Translate => PolicyAction::InvokeModel,
        }
    }

    /// The data classes a call of this role sends in normal operation: what
    /// `config check` asks the gate about.
    #[must_use]
    pub fn data_classes(self) -> &'static [DataClass] {
        match self {
            Self::Insight | Self::Transcribe => &[DataClass::Public],
            Self::Embed => &[DataClass::Public, DataClass::Derived],
            Self::Translate => &[DataClass::Derived],
        }
    }

    /// The purpose recorded with the call.
    #[must_use]
    pub fn purpose(self) -> &'static str {
        match self {
            Self::Insight => purpose::INSIGHT,
            Self::Transcribe => purpose::TRANSCRIBE,
            Self::Embed => purpose::EMBED,
            Self::Translate => purpose::TRANSLATE,
        }
    }
}

/// A model's endpoint, as `config check` sees it (no DNS lookup: `private` is
/// known only for IP literals and `localhost`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP literal.
    pub host: String,
    /// Port (the scheme's default when the URL names none).
    pub port: u16,
    /// Whether the host is a private, loopback or link-local address.
    pub private: bool,
    /// Whether the region's egress allow-list admits the endpoint's URL.
    pub admitted: bool,
}

/// One model a region's config names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredModel {
    /// Where it is configured, e.g. `models.insight[0]`.
    pub key: String,
    /// What it is used for.
    pub role: ModelUse,
    /// Its facts.
    pub facts: ModelFacts,
    /// Its API endpoint (`None` for the builtin engine).
    pub endpoint: Option<Endpoint>,
}

/// A region's config breaks its own policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The region.
    pub region: RegionId,
    /// The config key of the offending entry (`models.insight[0]`, `mail.smtp_url`).
    pub key: String,
    /// What was checked: "model `gpt-4o-mini`", "host `api.openai.com:443`", "relay `outbox`".
    pub subject: String,
    /// The action asked about.
    pub action: PolicyAction,
    /// The data classes asked about.
    pub data_classes: Vec<DataClass>,
    /// The gate's decision (a denial).
    pub decision: Decision,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "region `{}`: {} (`{}`): `{}` with [{}] data is denied by {}: {}",
            self.region,
            self.subject,
            self.key,
            self.action,
            class_list(&self.data_classes),
            self.decision.policies_text(),
            self.decision.reasons_text()
        )
    }
}

/// Checks everything a region is configured to reach against its own gate:
/// every model of every role (its role's action with the data classes that
/// role sends), every model endpoint host (`fetch`, purpose `model`, public
/// data), and the region's mail relay (`send_email` with the classes a
/// digest carries: personal, derived, public). Returns every denial.
#[must_use]
pub fn check_region(gate: &PolicyGate, models: &[ConfiguredModel]) -> Vec<Violation> {
    let region = gate.facts().id.clone();
    let mut out = Vec::new();
    let mut ask = |key: &str, request: PolicyRequest<'_>| {
        let decision = gate.decide(&request);
        if !decision.allowed {
            out.push(Violation {
                region: region.clone(),
                key: key.to_owned(),
                subject: request.resource.label(),
                action: request.action,
                data_classes: request.data_classes.to_vec(),
                decision,
            });
        }
    };
    for m in models {
        ask(
            &m.key,
            PolicyRequest {
                action: m.role.action(),
                resource: PolicyResource::Model(&m.facts),
                data_classes: m.role.data_classes(),
                purpose: m.role.purpose(),
            },
        );
        if let Some(ep) = &m.endpoint {
            ask(
                &format!("{}.endpoint", m.key),
                PolicyRequest {
                    action: PolicyAction::Fetch,
                    resource: PolicyResource::Host {
                        name: &ep.host,
                        port: ep.port,
                        private: ep.private,
                        admitted: ep.admitted,
                    },
                    data_classes: m.role.data_classes(),
                    purpose: purpose::MODEL,
                },
            );
        }
    }
    let relay = gate.facts().mail_relay.clone();
    ask(
        "mail.smtp_url",
        PolicyRequest {
            action: PolicyAction::SendEmail,
            resource: PolicyResource::Relay { host: &relay },
            data_classes: &DIGEST_CLASSES,
            purpose: purpose::DIGEST,
        },
    );
    out
}

/// What a digest email carries: the recipient's address, the insights, episode titles and links.
pub const DIGEST_CLASSES: [DataClass; 3] =
    [DataClass::Personal, DataClass::Derived, DataClass::Public];

/// The decision for invoking a configured model with one data class, as its
/// role would (`meridian policy check`).
#[must_use]
pub fn check_model(gate: &PolicyGate, model: &ConfiguredModel, class: DataClass) -> Decision {
    gate.decide(&PolicyRequest {
        action: model.role.action(),
        resource: PolicyResource::Model(&model.facts),
        data_classes: &[class],
        purpose: model.role.purpose(),
    })
}

/// One row of `policy explain`'s decision matrix: a model and its decision
/// for each data class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRow {
    /// The model as configured.
    pub model: ConfiguredModel,
    /// Public, derived and personal, in that order.
    pub decisions: Vec<(DataClass, Decision)>,
}

/// The decision matrix: every configured model × every data class.
#[must_use]
pub fn decision_matrix(gate: &PolicyGate, models: &[ConfiguredModel]) -> Vec<MatrixRow> {
    models
        .iter()
        .map(|m| MatrixRow {
            model: m.clone(),
            decisions: [DataClass::Public, DataClass::Derived, DataClass::Personal]
                .into_iter()
                .map(|c| (c, check_model(gate, m, c)))
                .collect(),
        })
        .collect()
}
