//! What the gate is asked: the region's facts, the action, the resource and
//! the payload; and what it answers, [`Decision`].

use std::fmt;
use std::str::FromStr;

use meridian_core::net::AllowEntry;
use meridian_core::{DataClass, Jurisdiction, RegionId};
use serde::Serialize;

/// The relay name of a region that writes its mail as `.eml` files instead of
/// handing it to an SMTP server (`[mail] smtp_url = ""`).
pub const OUTBOX_RELAY: &str = "outbox";

/// Well-known `purpose` values. The purpose is free text recorded with every
/// decision; policies may match on it (`context.purpose == "feed"`), so
/// callers use these constants rather than spelling them anew.
pub mod purpose {
    /// Insight extraction from a transcript (`invoke_model`).
    pub const INSIGHT: &str = "insight";
    /// Speech-to-text of episode audio (`transcribe`).
    pub const TRANSCRIBE: &str = "transcribe";
    /// Embeddings for novelty (`invoke_model`).
    pub const EMBED: &str = "embed";
    /// Translation of insights (`invoke_model`).
    pub const TRANSLATE: &str = "translate";
    /// Fetching a podcast feed (`fetch`).
    pub const FEED: &str = "feed";
    /// Fetching a published transcript (`fetch`).
    pub const TRANSCRIPT: &str = "transcript";
    /// Downloading episode audio for speech-to-text (`fetch`).
    pub const AUDIO: &str = "audio";
    /// The HTTP request that carries a model call (`fetch`).
    pub const MODEL: &str = "model";
    /// An HTTP request of the region's egress client, which serves feeds,
    /// transcripts and audio alike (`fetch`).
    pub const FETCH: &str = "fetch";
    /// Sending a digest (`send_email`).
    pub const DIGEST: &str = "digest";
    /// Sending a subscription confirmation (`send_email`).
    pub const CONFIRMATION: &str = "confirmation";
}

/// What a region's config says that its policies need. Built once per region
/// (from `RegionConfig` by the caller; this crate does not read config files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionFacts {
    /// The region (`Region::"<id>"` in Cedar; also names its policy folder).
    pub id: RegionId,
    /// The region's jurisdiction.
    pub jurisdiction: Jurisdiction,
    /// `[policy] forbidden_origins`: models built in these jurisdictions are refused.
    pub forbidden_origins: Vec<Jurisdiction>,
    /// `[egress] allow`: a host an entry names ([`AllowEntry::names_host`]:
    /// not only matched by `*` or `*.domain`) is `listed`, which admits it
    /// even when private.
    pub egress_allow: Vec<AllowEntry>,
    /// `[egress] allow_private`.
    pub allow_private: bool,
    /// The region's own mail relay: the host of `[mail] smtp_url`, or
    /// [`OUTBOX_RELAY`] when mail goes to the outbox.
    pub mail_relay: String,
}

impl RegionFacts {
    /// Facts with nothing configured beyond identity: no forbidden origins, an
    /// empty egress allow-list, private hosts refused, mail to the outbox.
    #[must_use]
    pub fn new(id: RegionId, jurisdiction: Jurisdiction) -> Self {
        Self {
            id,
            jurisdiction,
            forbidden_origins: Vec::new(),
            egress_allow: Vec::new(),
            allow_private: false,
            mail_relay: OUTBOX_RELAY.to_owned(),
        }
    }
}

/// A model's facts, as its region file states them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelFacts {
    /// Name in the region file.
    pub name: String,
    /// `openai`, `ollama` or `builtin`.
    pub provider: String,
    /// Jurisdiction of the servers.
    pub hosted_in: Jurisdiction,
    /// Jurisdiction of whoever built the weights.
    pub origin: Jurisdiction,
    /// `open` or `closed`.
    pub weights: String,
    /// Pinned digest, `sha256:…`.
    pub digest: Option<String>,
    /// Extra facts, e.g. `dpf`, `adequacy`.
    pub attributes: Vec<String>,
}

/// An outbound action: the Cedar action id is [`PolicyAction::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyAction {
    /// Send a prompt to a model.
    InvokeModel,
    /// Send audio to a speech-to-text model.
    Transcribe,
    /// Make an outbound HTTP request.
    Fetch,
    /// Hand an email to a relay.
    SendEmail,
}

impl PolicyAction {
    /// Every action, in schema order.
    pub const ALL: [Self; 4] = [
        Self::InvokeModel,
        Self::Transcribe,
        Self::Fetch,
        Self::SendEmail,
    ];

    /// The Cedar action id (`Action::"invoke_model"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvokeModel => "invoke_model",
            Self::Transcribe => "transcribe",
            Self::Fetch => "fetch",
            Self::SendEmail => "send_email",
        }
    }

    /// Position in [`PolicyAction::ALL`].
    pub(crate) fn index(self) -> usize {
        match self {
            Self::InvokeModel => 0,
            Self::Transcribe => 1,
            Self::Fetch => 2,
            Self::SendEmail => 3,
        }
    }
}

impl fmt::Display for PolicyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PolicyAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!("action `{s}` must be one of invoke_model, transcribe, fetch, send_email")
            })
    }
}

/// What an action reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyResource<'a> {
    /// A model (`invoke_model`, `transcribe`).
    Model(&'a ModelFacts),
    /// A host an HTTP request connects to (`fetch`), as the egress guard saw it.
    Host {
        /// Host name or IP literal (IPv6 with or without brackets).
        name: &'a str,
        /// TCP port.
        port: u16,
        /// Whether it resolved to a private, loopback or link-local address.
        private: bool,
        /// Whether the egress guard admitted the URL (its allow-list matched);
        /// a refused request is still asked about, so that the refusal is
        /// recorded with the id of `global.fetch.egress-allow-list`.
        admitted: bool,
    },
    /// A mail relay (`send_email`): an SMTP host or [`OUTBOX_RELAY`].
    Relay {
        /// The relay's host.
        host: &'a str,
    },
}

impl PolicyResource<'_> {
    /// A short label for messages: "model `qwen`", "host `example.com:443`".
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Self::Model(m) => format!("model `{}`", m.name),
            Self::Host { name, port, .. } => format!("host `{name}:{port}`"),
            Self::Relay { host } => format!("relay `{host}`"),
        }
    }
}

/// One question to the gate: may this region do `action` to `resource`,
/// sending data of these classes, for this purpose?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyRequest<'a> {
    /// The action.
    pub action: PolicyAction,
    /// What it reaches.
    pub resource: PolicyResource<'a>,
    /// The classes of the data the action sends (a prompt built from a public
    /// transcript: `[Public]`; a digest email: `[Personal, Derived, Public]`).
    pub data_classes: &'a [DataClass],
    /// Why (see [`purpose`]).
    pub purpose: &'a str,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the action may go ahead.
    pub allowed: bool,
    /// The `@id`s of the policies that decided: the matching permits when
    /// allowed, the matching forbids when denied; empty when nothing permitted
    /// the action (default deny). Sorted.
    pub determining_policies: Vec<String>,
    /// Human-readable reasons: the `@reason` annotations of the determining
    /// policies, or why the default applied.
    pub reasons: Vec<String>,
    /// Policies that failed to evaluate. Any error denies the action: a forbid
    /// that could not be evaluated must not be read as "does not apply".
    pub errors: Vec<String>,
}

impl Decision {
    /// `allow` or `deny`.
    #[must_use]
    pub fn verdict(&self) -> &'static str {
        if self.allowed { "allow" } else { "deny" }
    }

    /// The determining policies as a list of `` `id` ``s, or "no policy (default deny)".
    #[must_use]
    pub fn policies_text(&self) -> String {
        if self.determining_policies.is_empty() {
            "no policy (default deny)".to_owned()
        } else {
            self.determining_policies
                .iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// The reasons and evaluation errors, joined with `; `.
    #[must_use]
    pub fn reasons_text(&self) -> String {
        let mut reasons = self.reasons.clone();
        reasons.extend(self.errors.iter().map(|e| format!("evaluation error: {e}")));
        reasons.join("; ")
    }

    /// One line: verdict, determining policies and reasons.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "{} by {}: {}",
            self.verdict(),
            self.policies_text(),
            self.reasons_text()
        )
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}
