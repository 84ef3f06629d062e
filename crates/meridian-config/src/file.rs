//! Stage one: the shape of `regions/<id>.toml`, plain values only.

use serde::{Deserialize, Serialize};

/// The region file as written, before validation. Field docs are user docs:
/// `docs/configuration.md` is written from them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegionFile {
    /// The region id; must match the file name (`us` in `us.toml`).
    pub id: String,
    /// Display name, e.g. "United States". Defaults to the id.
    pub name: String,
    /// Jurisdiction: ISO 3166-1 alpha-2 code or `EU`.
    pub jurisdiction: String,
    /// Locale of emails and pages: `en-US`, `zh-CN`, `de-DE`…
    pub locale: String,
    /// IANA timezone, e.g. `Asia/Shanghai`; the digest's day is a day here.
    pub timezone: String,
    /// Local hour (0–23) at which the daily digest goes out.
    pub digest_hour: u8,
    /// Where the region's data lives.
    pub storage: StorageSection,
    /// The region's model stack, by role.
    pub models: ModelsSection,
    /// Hosts the region may reach.
    pub egress: EgressSection,
    /// Outgoing mail.
    pub mail: MailSection,
    /// The podcast list.
    pub feeds: FeedsSection,
    /// Subscribers seeded from config.
    pub subscribers: SubscribersSection,
    /// Digest selection.
    pub digest: DigestSection,
}

/// `[storage]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// `sqlite://{data_dir}/<id>.db` (embedded default) or `postgres://…`.
    /// `{data_dir}` is replaced by the `--data-dir` flag's value.
    pub url: String,
    /// Largest number of pooled connections.
    pub max_connections: Option<u32>,
}

/// `[models]`: each role is an ordered list; later entries are fallbacks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsSection {
    /// Extracts insights from transcripts. Must end with a `builtin` entry.
    pub insight: Vec<ModelEntry>,
    /// Speech-to-text for episodes without a transcript.
    pub transcribe: Vec<ModelEntry>,
    /// Embeddings (optional).
    pub embed: Vec<ModelEntry>,
    /// Translation (optional).
    pub translate: Vec<ModelEntry>,
}

/// One model of a role.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelEntry {
    /// A name unique within the role, used in logs, the audit log and digests.
    pub name: String,
    /// `openai` (any OpenAI-compatible API), `ollama` or `builtin`.
    pub provider: String,
    /// Base URL of the API (`https://api.openai.com/v1`, `http://127.0.0.1:11434`).
    pub endpoint: String,
    /// The model as the server names it (`gpt-4o-mini`, `qwen2.5:7b-instruct`).
    pub model: String,
    /// Environment variable holding the API key; the key itself is never in a file.
    pub api_key_env: String,
    /// Jurisdiction of the servers that run the model.
    pub hosted_in: String,
    /// Jurisdiction of whoever built the weights.
    pub origin: String,
    /// `open` or `closed` weights.
    pub weights: String,
    /// Pinned model digest (`sha256:…`), checked against the server at start.
    pub digest: String,
    /// Per-request timeout in seconds.
    pub timeout_secs: Option<u64>,
    /// Extra facts for policies, e.g. `["dpf"]` for an EU–US Data Privacy Framework
    /// certified provider.
    pub attributes: Vec<String>,
}

/// `[egress]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressSection {
    /// Hosts (`api.openai.com`, `127.0.0.1:11434`, `*.example.com`) or `*` for any public host.
    pub allow: Vec<String>,
    /// Whether `*` may also reach private, loopback and link-local addresses.
    pub allow_private: bool,
    /// Contact URL put in the User-Agent, so feed hosts can reach the operator.
    pub contact_url: String,
    /// Connect timeout, seconds.
    pub connect_timeout_secs: Option<u64>,
    /// Total timeout of one request, seconds.
    pub timeout_secs: Option<u64>,
    /// Largest response body accepted, bytes (checked while streaming and after decompression).
    pub max_body_bytes: Option<u64>,
    /// Feeds fetched at once, in all (default 16).
    pub max_concurrent_fetches: Option<usize>,
    /// Feeds fetched at once from one host (default 2), so that a region
    /// with many feeds on one hosting platform does not hammer it.
    pub max_fetches_per_host: Option<usize>,
}

/// `[mail]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSection {
    /// SMTP relay (`smtps://relay.example.com:465`); empty: write `.eml` files to the outbox.
    pub smtp_url: String,
    /// Environment variable holding the SMTP password.
    pub password_env: String,
    /// Sender, e.g. `Meridian <digest@us.example>`.
    pub from: String,
    /// Reply-To address (optional).
    pub reply_to: String,
    /// The AI-generated-content label the jurisdiction requires, shown at the top of every digest.
    pub ai_label: String,
    /// Outbox folder for `.eml` files; default `{data_dir}/outbox/<id>`.
    pub outbox_dir: String,
}

/// `[feeds]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedsSection {
    /// OPML file with the region's podcasts, relative to the config directory.
    pub opml: String,
}

/// `[subscribers]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubscribersSection {
    /// Addresses added as confirmed subscribers at every run (demo and bootstrap).
    pub seed: Vec<String>,
}

/// `[digest]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigestSection {
    /// Insights per digest (default 5).
    pub size: Option<usize>,
    /// Insights sent within this many days are not sent again (default 30).
    pub novelty_days: Option<u32>,
    /// Episodes published longer ago than this are not "new" (default 7).
    pub max_episode_age_days: Option<u32>,
}
