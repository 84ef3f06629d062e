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
    /// The region's HTTP service (`meridian serve`) and the links emails carry to it.
    pub server: ServerSection,
    /// How long derived data is kept (`meridian maintain`).
    pub retention: RetentionSection,
    /// Facts the region's Cedar policies use (`policies/<id>/`).
    pub policy: PolicySection,
    /// The audit log's witness outside the database.
    pub audit: AuditSection,
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
    /// Most model tokens (prompt plus completion, every role) the region may
    /// spend per day, counted from the region's own accounting of model calls.
    /// A call that would pass it is skipped and the role falls back within the
    /// region (for `insight`, to `builtin`, which costs none). 0 or absent:
    /// unlimited.
    pub daily_token_budget: Option<u64>,
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
    /// Retries of one request after a retryable failure (HTTP 429 or 5xx, a
    /// timeout, a failed connection), with exponential back-off and jitter and
    /// never sooner than the server's `Retry-After` (default 2; 0: no retry).
    pub max_retries: Option<u32>,
    /// Requests sent to this model at once, across the whole region
    /// (default 4).
    pub max_concurrency: Option<usize>,
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
    /// Sender, e.g. `Meridian <digest@us.example.com>`.
    pub from: String,
    /// Reply-To address (optional).
    pub reply_to: String,
    /// The AI-generated-content label the jurisdiction requires, shown at the top of every digest.
    pub ai_label: String,
    /// Outbox folder for `.eml` files; default `{data_dir}/outbox/<id>`.
    pub outbox_dir: String,
    /// Most emails sent per second, digests and confirmations together, so a
    /// relay's per-client limit is not hit (default 10).
    pub max_per_second: Option<u32>,
    /// Tries of one email that the relay answers with a temporary (4xx) error,
    /// across runs, before it is given up and dead-lettered (default 5).
    pub max_attempts: Option<u32>,
    /// Wait before the first retry of a temporary failure within a run, in
    /// milliseconds; it doubles on each further retry (default 2000).
    pub retry_delay_ms: Option<u64>,
    /// A mailbox that processes unsubscribe requests by mail, e.g.
    /// `unsubscribe@us.example.com`: emails then name `mailto:unsubscribe+TOKEN@us.example.com`
    /// in `List-Unsubscribe` beside the one-click URL. Empty: URL only. Whatever
    /// receives that mail must hand the token to `meridian subscribers remove --token`.
    pub unsubscribe_mailbox: String,
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

/// `[retention]`: applied by `meridian maintain --region R`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSection {
    /// Transcripts older than this many days are deleted (absent: kept).
    pub transcript_days: Option<u32>,
    /// Insights (and their content-hash cache entries) older than this many days are deleted (absent: kept).
    pub insight_days: Option<u32>,
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
    /// The languages the region's readers read, as BCP 47 primary language
    /// subtags (`["en"]`, `["de", "en"]`). Insights of episodes in any other
    /// language are left out of the digest (and counted in the run report);
    /// an episode whose language is unknown is kept. Default: the language of
    /// `locale` (`en-US` → `["en"]`, `zh-CN` → `["zh"]`).
    pub languages: Option<Vec<String>>,
}

/// `[server]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Address `meridian serve` listens on when `--listen` is not given
    /// (default `127.0.0.1:8080`).
    pub listen: String,
    /// The service's public base URL, as subscribers reach it, e.g.
    /// `https://us.meridian.example`: confirmation and unsubscribe links are
    /// made from it. `https://` is required except for a loopback host
    /// (default `http://` + `listen`). Mail clients offer one-click
    /// unsubscribe (RFC 8058) only for `https://`.
    pub base_url: String,
    /// Environment variable holding the secret that signs confirmation and
    /// unsubscribe links (at least 32 characters; default
    /// `MERIDIAN_<ID>__SERVER__TOKEN_SECRET`). When it is unset, a region on
    /// SQLite generates one into `{data_dir}/keys/<id>.token-secret`; a region
    /// on PostgreSQL (production, several replicas) requires the variable.
    pub token_secret_env: String,
    /// Longest a client may take to send a whole request header, in seconds,
    /// counted from the moment the connection opens or the first byte of a
    /// request arrives (default 10). A connection that has not sent one by
    /// then is closed.
    pub header_read_timeout_secs: Option<u64>,
    /// Longest a kept-alive connection may wait for its next request, in
    /// seconds (default 30); it is closed then.
    pub idle_timeout_secs: Option<u64>,
    /// Most connections open at once (default 512); beyond it a new
    /// connection gets `503` and is closed.
    pub max_connections: Option<usize>,
    /// Most connections open at once from one client address (an IPv6 /64
    /// counts as one address), default 64; beyond it a new connection gets
    /// `503` and is closed. 0: no per-address limit. Behind a reverse proxy
    /// or an ingress every connection comes from the proxy: raise it, or set 0.
    pub max_connections_per_ip: Option<usize>,
}

/// `[policy]`: facts the region's policies decide on (see `docs/compliance.md`).
/// The rules themselves are Cedar files in `policies/global/` and `policies/<id>/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySection {
    /// Jurisdictions (ISO 3166-1 alpha-2 codes) whose models the region refuses,
    /// whoever hosts them: a procurement-style rule enforced by the policy
    /// `global.models.forbidden-origin`. Empty: no model is refused for its origin.
    pub forbidden_origins: Vec<String>,
}

/// `[audit]`: where signed checkpoints are witnessed outside the database.
/// (The signing key itself is a secret: `MERIDIAN_<ID>__AUDIT__SIGNING_KEY`
/// or `{data_dir}/keys/<id>.ed25519`, never a key of this file.)
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSection {
    /// Directory every signed checkpoint is also written to, one file per
    /// checkpoint (`<id>-checkpoint-<number>.json`, the history is kept) plus
    /// `<id>-checkpoint-latest.json`. Put it where the database's operator
    /// cannot rewrite it (another volume, a bucket mount, a host an auditor
    /// controls); `meridian audit verify --against` reads it back. `{data_dir}`
    /// is substituted; relative paths are relative to the working directory.
    /// Empty: no witness files.
    pub witness_dir: String,
}
