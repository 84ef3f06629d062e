//! Stage two: from [`RegionFile`] to [`RegionConfig`], collecting every problem.

use std::path::{Path, PathBuf};
use std::time::Duration;

use meridian_core::net::{AllowEntry, MailRelay, StorageUrl, classify_host};
use meridian_core::{Jurisdiction, Locale, RegionId, SubscriberEmail};

use crate::file::{ModelEntry, RegionFile};
use crate::{Problem, Secret};

pub use meridian_core::net::StorageBackend;

/// A model provider type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// Any OpenAI-compatible API.
    OpenAi,
    /// An Ollama server.
    Ollama,
    /// The builtin extractive engine.
    Builtin,
}

impl ProviderKind {
    /// The name used in config and telemetry.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Ollama => "ollama",
            Self::Builtin => "builtin",
        }
    }
}

/// Whether a model's weights are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    /// Downloadable weights (Qwen, DeepSeek, Llama…).
    Open,
    /// API-only.
    Closed,
}

impl Weights {
    /// `open` or `closed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// What a model is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelRole {
    /// Insight extraction.
    Insight,
    /// Speech-to-text.
    Transcribe,
    /// Embeddings.
    Embed,
    /// Translation.
    Translate,
}

impl ModelRole {
    /// The role's key in `[models]`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insight => "insight",
            Self::Transcribe => "transcribe",
            Self::Embed => "embed",
            Self::Translate => "translate",
        }
    }
}

/// One validated model of a role.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Unique name within the role.
    pub name: String,
    /// Provider type.
    pub provider: ProviderKind,
    /// API base URL (`None` for builtin).
    pub endpoint: Option<url::Url>,
    /// Model name on the server (for builtin: `extractive`).
    pub model: String,
    /// Name of the environment variable holding the key.
    pub api_key_env: Option<String>,
    /// The key, when the variable is set.
    pub api_key: Option<Secret>,
    /// Where the servers are (the region's own jurisdiction for builtin).
    pub hosted_in: Jurisdiction,
    /// Who built the weights.
    pub origin: Jurisdiction,
    /// Open or closed weights.
    pub weights: Weights,
    /// Pinned digest.
    pub digest: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries of one request after a retryable failure (`max_retries`, default 2).
    pub max_retries: u32,
    /// Requests in flight to this model at once (`max_concurrency`, default 4).
    pub max_concurrency: usize,
    /// Extra facts for policies.
    pub attributes: Vec<String>,
    /// Why the model cannot be used now (a key that is not set); `None` when usable.
    /// An unusable model is skipped within the region's own list.
    pub unavailable: Option<String>,
}

/// Validated `[egress]`.
#[derive(Debug, Clone)]
pub struct EgressSettings {
    /// Allow-list entries, parsed: every consumer (egress guard, policy gate,
    /// audit report, Helm values) reads these, none parses the strings again.
    pub allow: Vec<AllowEntry>,
    /// Whether `*` reaches private addresses too.
    pub allow_private: bool,
    /// Contact URL for the User-Agent.
    pub contact_url: String,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Total timeout per request.
    pub timeout: Duration,
    /// Body cap.
    pub max_body_bytes: u64,
    /// Feeds fetched at once.
    pub max_concurrent_fetches: usize,
    /// Feeds fetched at once from one host.
    pub max_fetches_per_host: usize,
}

/// Validated `[mail]`.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Where mail goes (`smtp_url`, parsed): the SMTP relay, or the outbox
    /// when `smtp_url` is empty.
    pub relay: MailRelay,
    /// Environment variable of the SMTP password.
    pub password_env: Option<String>,
    /// Sender mailbox.
    pub from: String,
    /// Reply-To.
    pub reply_to: Option<String>,
    /// The AI-generated-content label.
    pub ai_label: String,
    /// Where `.eml` files go.
    pub outbox_dir: PathBuf,
    /// Most emails per second (`max_per_second`, default 10).
    pub max_per_second: u32,
    /// Tries of one email before it is dead-lettered (`max_attempts`, default 5).
    pub max_attempts: u32,
    /// First retry delay within a run (`retry_delay_ms`, default 2 s); doubles per retry.
    pub retry_delay: Duration,
    /// The mailbox that takes unsubscribe requests by mail (`local@domain`),
    /// when there is one.
    pub unsubscribe_mailbox: Option<String>,
}

/// Validated `[server]`.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Where `meridian serve` listens by default.
    pub listen: std::net::SocketAddr,
    /// The public base URL, without a trailing `/`: `https://us.example`.
    pub base_url: String,
    /// The environment variable named for the link-signing secret.
    pub token_secret_env: String,
    /// The secret, when that variable is set (at least 32 characters).
    pub token_secret: Option<Secret>,
    /// Where a generated secret is kept when the variable is unset
    /// (`{data_dir}/keys/<id>.token-secret`).
    pub token_secret_file: PathBuf,
    /// Longest a client may take to send a request header
    /// (`header_read_timeout_secs`, default 10 s).
    pub header_read_timeout: Duration,
    /// Longest a kept-alive connection waits for its next request
    /// (`idle_timeout_secs`, default 30 s).
    pub idle_timeout: Duration,
    /// Most connections open at once (`max_connections`, default 512).
    pub max_connections: usize,
    /// Most connections open at once from one client address
    /// (`max_connections_per_ip`, default 64); `None`: no such limit.
    pub max_connections_per_ip: Option<usize>,
}

/// Default of `server.header_read_timeout_secs`.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default of `server.idle_timeout_secs`.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 30;
/// Default of `server.max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default of `server.max_connections_per_ip`.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 64;

/// Validated `[retention]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetentionSettings {
    /// Days transcripts are kept; `None` keeps them.
    pub transcript_days: Option<u32>,
    /// Days insights are kept; `None` keeps them.
    pub insight_days: Option<u32>,
}

/// Validated `[policy]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySettings {
    /// Jurisdictions whose models the region refuses (`forbidden_origins`).
    pub forbidden_origins: Vec<Jurisdiction>,
}

/// Validated `[digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSettings {
    /// Picks per digest.
    pub size: usize,
    /// Novelty window in days.
    pub novelty_days: u32,
    /// Episodes older than this are not new.
    pub max_episode_age_days: u32,
    /// The languages the region's readers read (`digest.languages`): primary
    /// language subtags, lower case, without duplicates, never empty.
    /// Insights of episodes in another language are not picked.
    pub languages: Vec<String>,
}

/// A region's validated configuration: every value parsed, secrets resolved.
#[derive(Debug, Clone)]
pub struct RegionConfig {
    /// The file it came from.
    pub source: PathBuf,
    /// The `--data-dir` it was loaded with (key files, outbox, SQLite files).
    pub data_dir: PathBuf,
    /// Region id.
    pub id: RegionId,
    /// Display name.
    pub name: String,
    /// Jurisdiction.
    pub jurisdiction: Jurisdiction,
    /// Locale.
    pub locale: Locale,
    /// Timezone.
    pub timezone: chrono_tz::Tz,
    /// Digest hour, local.
    pub digest_hour: u8,
    /// Database URL with `{data_dir}` substituted; prints without its password.
    pub storage_url: StorageUrl,
    /// Backend named by the URL.
    pub storage_backend: StorageBackend,
    /// Pool size.
    pub max_connections: u32,
    /// `insight` role, in order.
    pub insight_models: Vec<ModelConfig>,
    /// `transcribe` role, in order.
    pub transcribe_models: Vec<ModelConfig>,
    /// `embed` role, in order.
    pub embed_models: Vec<ModelConfig>,
    /// `translate` role, in order.
    pub translate_models: Vec<ModelConfig>,
    /// Tokens the region's models may use per day (`models.daily_token_budget`);
    /// 0 means unlimited.
    pub daily_token_budget: u64,
    /// Egress.
    pub egress: EgressSettings,
    /// Mail.
    pub mail: MailSettings,
    /// OPML file, resolved against the config directory.
    pub opml: Option<PathBuf>,
    /// Seed subscribers.
    pub seed_subscribers: Vec<SubscriberEmail>,
    /// Digest selection.
    pub digest: DigestSettings,
    /// Retention of derived data.
    pub retention: RetentionSettings,
    /// Facts for the region's policies.
    pub policy: PolicySettings,
    /// The region's HTTP service.
    pub server: ServerSettings,
    /// Directory signed audit checkpoints are witnessed in (`audit.witness_dir`),
    /// `None` when not set.
    pub audit_witness_dir: Option<PathBuf>,
}

struct Collector<'a> {
    file: &'a str,
    problems: Vec<Problem>,
}

impl Collector<'_> {
    fn push(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_owned(),
            key: key.into(),
            reason: reason.into(),
        });
    }

    fn parse<T, E: std::fmt::Display>(&mut self, key: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(key, e.to_string());
                None
            }
        }
    }
}

impl RegionConfig {
    /// Validates a region file.
    ///
    /// # Errors
    /// Every problem found, each with file, key and reason.
    pub fn validate(
        raw: RegionFile,
        expected: &RegionId,
        source: &Path,
        data_dir: &Path,
    ) -> Result<Self, Vec<Problem>> {
        let file = source.display().to_string();
        let mut c = Collector {
            file: &file,
            problems: Vec::new(),
        };
        let config_dir = source.parent().unwrap_or(Path::new("."));

        if raw.id.is_empty() {
            c.push(
                "id",
                format!("missing; expected `{expected}` (the file name)"),
            );
        } else if raw.id != expected.as_str() {
            c.push(
                "id",
                format!(
                    "`{}` does not match the file name `{expected}.toml`",
                    raw.id
                ),
            );
        }
        let jurisdiction = c.parse("jurisdiction", Jurisdiction::parse(&raw.jurisdiction));
        let locale = c.parse("locale", Locale::parse(&raw.locale));
        let timezone = c.parse(
            "timezone",
            raw.timezone.parse::<chrono_tz::Tz>().map_err(|_| {
                format!(
                    "`{}` is not an IANA timezone such as `Europe/Berlin`",
                    raw.timezone
                )
            }),
        );
        if raw.digest_hour > 23 {
            c.push(
                "digest_hour",
                format!("{} is not an hour of the day (0-23)", raw.digest_hour),
            );
        }

        // Storage.
        let storage_url = raw
            .storage
            .url
            .replace("{data_dir}", &data_dir.display().to_string());
        let storage_url = c.parse("storage.url", StorageUrl::parse(&storage_url));
        let storage_backend = storage_url.as_ref().map(StorageUrl::backend);
        let max_connections = raw
            .storage
            .max_connections
            .unwrap_or(match storage_backend {
                Some(StorageBackend::Postgres) => 10,
                _ => 4,
            });
        if max_connections == 0 {
            c.push("storage.max_connections", "must be at least 1");
        }

        // Egress first: model endpoints are checked against it.
        let egress = validate_egress(&mut c, &raw.egress);

        // When the jurisdiction itself is invalid a problem is already recorded; `ZZ`
        // only lets the model checks run so that their problems are reported too.
        let region_j = jurisdiction.unwrap_or(Jurisdiction::UNKNOWN);
        let models = |c: &mut Collector<'_>, role: ModelRole, entries: &[ModelEntry]| {
            validate_models(c, role, entries, region_j, &egress)
        };
        let insight_models = models(&mut c, ModelRole::Insight, &raw.models.insight);
        let transcribe_models = models(&mut c, ModelRole::Transcribe, &raw.models.transcribe);
        let embed_models = models(&mut c, ModelRole::Embed, &raw.models.embed);
        let translate_models = models(&mut c, ModelRole::Translate, &raw.models.translate);
        check_insight_chain(&mut c, &raw.models.insight);

        // Mail.
        let mail = &raw.mail;
        let relay = validate_relay(&mut c, &mail.smtp_url, &egress);
        let (max_per_second, max_attempts, unsubscribe_mailbox) = check_mail(&mut c, mail);
        let server = validate_server(&mut c, &raw.server, expected, data_dir);
        let outbox_dir = if mail.outbox_dir.is_empty() {
            data_dir.join("outbox").join(expected.as_str())
        } else {
            PathBuf::from(
                mail.outbox_dir
                    .replace("{data_dir}", &data_dir.display().to_string()),
            )
        };

        let audit_witness_dir = match raw.audit.witness_dir.trim() {
            "" => None,
            dir => Some(PathBuf::from(
                dir.replace("{data_dir}", &data_dir.display().to_string()),
            )),
        };

        // Feeds.
        let opml = if raw.feeds.opml.is_empty() {
            None
        } else {
            let p = config_dir.join(&raw.feeds.opml);
            if !p.is_file() {
                c.push("feeds.opml", format!("{} does not exist", p.display()));
            }
            Some(p)
        };

        let mut seed_subscribers = Vec::new();
        for (i, s) in raw.subscribers.seed.iter().enumerate() {
            if let Some(e) = c.parse(&format!("subscribers.seed[{i}]"), SubscriberEmail::parse(s)) {
                seed_subscribers.push(e);
            }
        }

        let digest = validate_digest(&mut c, &raw.digest, locale.as_ref());
        for (key, days) in [
            ("retention.transcript_days", raw.retention.transcript_days),
            ("retention.insight_days", raw.retention.insight_days),
        ] {
            if days == Some(0) {
                c.push(key, "must be at least 1 day; leave it out to keep the data");
            }
        }
        if !(1..=20).contains(&digest.size) {
            c.push(
                "digest.size",
                format!("{} must be between 1 and 20", digest.size),
            );
        }

        let mut policy = PolicySettings::default();
        for (i, code) in raw.policy.forbidden_origins.iter().enumerate() {
            if let Some(j) = c.parse(
                &format!("policy.forbidden_origins[{i}]"),
                Jurisdiction::parse(code),
            ) {
                policy.forbidden_origins.push(j);
            }
        }

        match (
            jurisdiction,
            locale,
            timezone,
            storage_url,
            c.problems.is_empty(),
        ) {
            (Some(jurisdiction), Some(locale), Some(timezone), Some(storage_url), true) => {
                Ok(Self {
                    source: source.to_owned(),
                    data_dir: data_dir.to_owned(),
                    id: expected.clone(),
                    name: if raw.name.is_empty() {
                        expected.to_string()
                    } else {
                        raw.name
                    },
                    jurisdiction,
                    locale,
                    timezone,
                    digest_hour: raw.digest_hour,
                    storage_backend: storage_url.backend(),
                    storage_url,
                    max_connections,
                    insight_models,
                    transcribe_models,
                    embed_models,
                    translate_models,
                    daily_token_budget: raw.models.daily_token_budget.unwrap_or(0),
                    egress,
                    mail: MailSettings {
                        relay,
                        password_env: non_empty(&mail.password_env),
                        from: mail.from.clone(),
                        reply_to: non_empty(&mail.reply_to),
                        ai_label: mail.ai_label.trim().to_owned(),
                        outbox_dir,
                        max_per_second,
                        max_attempts,
                        retry_delay: Duration::from_millis(mail.retry_delay_ms.unwrap_or(2000)),
                        unsubscribe_mailbox,
                    },
                    opml,
                    seed_subscribers,
                    digest,
                    policy,
                    server,
                    retention: RetentionSettings {
                        transcript_days: raw.retention.transcript_days,
                        insight_days: raw.retention.insight_days,
                    },
                    audit_witness_dir,
                })
            }
            _ => Err(c.problems),
        }
    }

    /// Every model of every role, with its role.
    pub fn all_models(&self) -> impl Iterator<Item = (ModelRole, &ModelConfig)> {
        [
            (ModelRole::Insight, &self.insight_models),
            (ModelRole::Transcribe, &self.transcribe_models),
            (ModelRole::Embed, &self.embed_models),
            (ModelRole::Translate, &self.translate_models),
        ]
        .into_iter()
        .flat_map(|(role, models)| models.iter().map(move |m| (role, m)))
    }
}

/// The `[egress]` section: its allow-list parsed into [`AllowEntry`] values
/// and its limits checked.
fn validate_egress(c: &mut Collector<'_>, raw: &crate::file::EgressSection) -> EgressSettings {
    let mut allow = Vec::with_capacity(raw.allow.len());
    for (i, entry) in raw.allow.iter().enumerate() {
        match AllowEntry::parse(entry) {
            Ok(parsed) => allow.push(parsed),
            Err(e) => c.push(
                format!("egress.allow[{i}]"),
                format!("`{}`: {}", e.entry, e.reason),
            ),
        }
    }
    let egress = EgressSettings {
        allow,
        allow_private: raw.allow_private,
        contact_url: if raw.contact_url.is_empty() {
            "https://github.com/meridian-kit/meridian".to_owned()
        } else {
            raw.contact_url.clone()
        },
        connect_timeout: Duration::from_secs(raw.connect_timeout_secs.unwrap_or(10)),
        timeout: Duration::from_secs(raw.timeout_secs.unwrap_or(60)),
        max_body_bytes: raw.max_body_bytes.unwrap_or(50 * 1024 * 1024),
        max_concurrent_fetches: raw.max_concurrent_fetches.unwrap_or(16),
        max_fetches_per_host: raw.max_fetches_per_host.unwrap_or(2),
    };
    if egress.max_concurrent_fetches == 0 {
        c.push("egress.max_concurrent_fetches", "must be at least 1");
    }
    if egress.max_fetches_per_host == 0 {
        c.push("egress.max_fetches_per_host", "must be at least 1");
    }
    if url::Url::parse(&egress.contact_url).is_err() {
        c.push(
            "egress.contact_url",
            format!("`{}` is not a URL", egress.contact_url),
        );
    }
    egress
}

/// The insight role needs at least one model and must end with `builtin`.
fn check_insight_chain(c: &mut Collector<'_>, insight: &[ModelEntry]) {
    if insight.is_empty() {
        c.push(
            "models.insight",
            "the insight role needs at least one model, ending with `builtin`",
        );
    } else if insight.last().is_some_and(|m| m.provider != "builtin") {
        c.push(
            format!("models.insight[{}]", insight.len() - 1),
            "the insight role must end with a `builtin` model, so that the region never runs out of models of its own",
        );
    }
}

/// `mail.smtp_url`, parsed once into a [`MailRelay`]: a relay that is not on
/// loopback must be named in `egress.allow`.
fn validate_relay(c: &mut Collector<'_>, smtp_url: &str, egress: &EgressSettings) -> MailRelay {
    match MailRelay::parse(smtp_url) {
        Ok(relay) => {
            if let Some(smtp) = relay.smtp()
                && !smtp.host_class().is_loopback()
                && !egress.allow.iter().any(|e| e.names(smtp.host(), None))
            {
                // Like model endpoints: `*` (and `*.domain`) stand for feed
                // hosts only; the relay gets its own entry (and its own
                // NetworkPolicy rule).
                c.push(
                    "mail.smtp_url",
                    format!(
                        "relay host `{}` is not listed in `egress.allow`; an SMTP relay must be named explicitly",
                        smtp.host()
                    ),
                );
            }
            relay
        }
        Err(e) => {
            c.push("mail.smtp_url", e.to_string());
            MailRelay::Outbox
        }
    }
}

/// The `[mail]` addresses, label and limits: `(max_per_second, max_attempts,
/// unsubscribe_mailbox)`.
fn check_mail(
    c: &mut Collector<'_>,
    mail: &crate::file::MailSection,
) -> (u32, u32, Option<String>) {
    if mail.from.is_empty() {
        c.push("mail.from", "missing; e.g. `Meridian <digest@example.com>`");
    } else if let Err(e) = mailbox_address(&mail.from) {
        c.push("mail.from", e);
    }
    if !mail.reply_to.is_empty()
        && let Err(e) = mailbox_address(&mail.reply_to)
    {
        c.push("mail.reply_to", e);
    }
    if mail.ai_label.trim().is_empty() {
        c.push(
            "mail.ai_label",
            "missing; every digest must carry the jurisdiction's AI-generated-content label",
        );
    }
    let max_per_second = mail.max_per_second.unwrap_or(10);
    if max_per_second == 0 {
        c.push("mail.max_per_second", "must be at least 1");
    }
    let max_attempts = mail.max_attempts.unwrap_or(5);
    if !(1..=50).contains(&max_attempts) {
        c.push(
            "mail.max_attempts",
            format!("{max_attempts} must be between 1 and 50"),
        );
    }
    let unsubscribe_mailbox = non_empty(&mail.unsubscribe_mailbox);
    if let Some(mailbox) = &unsubscribe_mailbox {
        match SubscriberEmail::parse(mailbox) {
            Ok(_) if mailbox.contains('+') => {
                c.push(
                    "mail.unsubscribe_mailbox",
                    "must not contain `+`: the token is added as `local+TOKEN@domain`",
                );
            }
            Ok(_) => {}
            Err(e) => c.push("mail.unsubscribe_mailbox", e.to_string()),
        }
    }
    (max_per_second, max_attempts, unsubscribe_mailbox)
}

/// The `[digest]` section; its languages default to that of `locale`.
fn validate_digest(
    c: &mut Collector<'_>,
    raw: &crate::file::DigestSection,
    locale: Option<&Locale>,
) -> DigestSettings {
    let languages = match &raw.languages {
        None => locale
            .map(|l| vec![l.language().to_owned()])
            .unwrap_or_default(),
        Some(list) => {
            if list.is_empty() {
                c.push(
                    "digest.languages",
                    "lists no language; name at least one (e.g. `[\"en\"]`), or leave the key out for the language of `locale`",
                );
            }
            let mut languages: Vec<String> = Vec::new();
            for (i, tag) in list.iter().enumerate() {
                match primary_language_subtag(tag) {
                    Ok(l) if languages.contains(&l) => {}
                    Ok(l) => languages.push(l),
                    Err(reason) => c.push(format!("digest.languages[{i}]"), reason),
                }
            }
            languages
        }
    };
    DigestSettings {
        size: raw.size.unwrap_or(5),
        novelty_days: raw.novelty_days.unwrap_or(30),
        max_episode_age_days: raw.max_episode_age_days.unwrap_or(7),
        languages,
    }
}

/// The default environment variable of the link-signing secret:
/// `MERIDIAN_US__SERVER__TOKEN_SECRET` for `us`.
#[must_use]
pub fn default_token_secret_env(region: &RegionId) -> String {
    format!("MERIDIAN_{}__SERVER__TOKEN_SECRET", region.as_env())
}

/// Shortest accepted link-signing secret, in bytes.
const MIN_TOKEN_SECRET_LEN: usize = 32;

fn validate_server(
    c: &mut Collector<'_>,
    raw: &crate::file::ServerSection,
    region: &RegionId,
    data_dir: &Path,
) -> ServerSettings {
    let fallback_listen = std::net::SocketAddr::from(([127, 0, 0, 1], 8080));
    let listen = match non_empty(&raw.listen) {
        None => fallback_listen,
        Some(l) => c
            .parse(
                "server.listen",
                l.parse::<std::net::SocketAddr>().map_err(|_| {
                    format!(
                        "`{l}` is not an address and port such as `127.0.0.1:8080` or `[::]:8080`"
                    )
                }),
            )
            .unwrap_or(fallback_listen),
    };
    let base_url = non_empty(&raw.base_url).unwrap_or_else(|| format!("http://{listen}"));
    match url::Url::parse(&base_url) {
        Ok(u) if u.scheme() == "https" || (u.scheme() == "http" && u.host_str().is_some_and(|h| classify_host(h).is_loopback())) => {
            if u.query().is_some() || u.fragment().is_some() || u.password().is_some() || !u.username().is_empty() {
                c.push("server.base_url", format!("`{base_url}` must be a plain base URL, without user, query or fragment"));
            }
        }
        Ok(u) if u.scheme() == "http" => c.push(
            "server.base_url",
            format!("`{base_url}` must use https (plain http only for a loopback host): links in emails carry unsubscribe credentials"),
        ),
        Ok(_) => c.push("server.base_url", format!("`{base_url}` must be an https:// URL")),
        Err(e) => c.push("server.base_url", format!("`{base_url}` is not a URL: {e}")),
    }
    let token_secret_env =
        non_empty(&raw.token_secret_env).unwrap_or_else(|| default_token_secret_env(region));
    let token_secret = std::env::var(&token_secret_env)
        .ok()
        .filter(|v| !v.is_empty());
    if let Some(secret) = &token_secret
        && secret.len() < MIN_TOKEN_SECRET_LEN
    {
        c.push(
            "server.token_secret_env",
            format!("environment variable {token_secret_env} holds fewer than {MIN_TOKEN_SECRET_LEN} characters"),
        );
    }
    let header_read_timeout_secs = raw
        .header_read_timeout_secs
        .unwrap_or(DEFAULT_HEADER_READ_TIMEOUT_SECS);
    if header_read_timeout_secs == 0 {
        c.push("server.header_read_timeout_secs", "must be at least 1");
    }
    let idle_timeout_secs = raw.idle_timeout_secs.unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS);
    if idle_timeout_secs == 0 {
        c.push("server.idle_timeout_secs", "must be at least 1");
    }
    let max_connections = raw.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if max_connections == 0 {
        c.push("server.max_connections", "must be at least 1");
    }
    ServerSettings {
        header_read_timeout: Duration::from_secs(header_read_timeout_secs.max(1)),
        idle_timeout: Duration::from_secs(idle_timeout_secs.max(1)),
        max_connections: max_connections.max(1),
        max_connections_per_ip: match raw
            .max_connections_per_ip
            .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_IP)
        {
            0 => None,
            n => Some(n),
        },
        listen,
        base_url: base_url.trim_end_matches('/').to_owned(),
        token_secret_env,
        token_secret: token_secret.map(Secret::new),
        token_secret_file: data_dir.join("keys").join(format!("{region}.token-secret")),
    }
}

impl RegionConfig {
    /// What the process environment lacks to start this region (checked by
    /// `config check` and before a region starts, not when writing deployment
    /// files elsewhere): a region on PostgreSQL needs its link-signing secret.
    #[must_use]
    pub fn start_problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.storage_backend == StorageBackend::Postgres && self.server.token_secret.is_none() {
            problems.push(Problem {
                file: self.source.display().to_string(),
                key: "server.token_secret_env".to_owned(),
                reason: format!(
                    "environment variable {} is not set; a region on PostgreSQL needs it (at least {MIN_TOKEN_SECRET_LEN} characters), \
                     so that every replica signs confirm and unsubscribe links with the same secret",
                    self.server.token_secret_env
                ),
            });
        }
        problems
    }
}

/// A BCP 47 primary language subtag (`en`, `zh`, `yue`), lower-cased; a
/// reason naming the value when it is something else (`en-US`, `english`).
fn primary_language_subtag(tag: &str) -> Result<String, String> {
    let t = tag.trim();
    if (2..=3).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphabetic()) {
        return Ok(t.to_ascii_lowercase());
    }
    let hint = match t.split(['-', '_']).next() {
        Some(p)
            if p != t
                && (2..=3).contains(&p.len())
                && p.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            format!("; write `{}`", p.to_ascii_lowercase())
        }
        _ => String::new(),
    };
    Err(format!(
        "`{tag}` is not a primary language subtag such as `en`, `de` or `zh` (two or three letters){hint}"
    ))
}

fn non_empty(s: &str) -> Option<String> {
    if s.trim().is_empty() {
        None
    } else {
        Some(s.trim().to_owned())
    }
}

/// The address inside `Name <addr>` or a bare address, checked.
fn mailbox_address(s: &str) -> Result<(), String> {
    let addr = match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        (None, None) => s,
        _ => {
            return Err(format!(
                "`{s}` is not a mailbox like `Name <user@example.com>`"
            ));
        }
    };
    SubscriberEmail::parse(addr)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Whether `url`'s host (and port) is named by an allow entry: a host or
/// address entry, not `*` or `*.domain` ([`AllowEntry::names_host`]).
fn explicitly_allowed(allow: &[AllowEntry], url: &url::Url) -> bool {
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    allow.iter().any(|e| e.names(host, Some(port)))
}

fn validate_models(
    c: &mut Collector<'_>,
    role: ModelRole,
    entries: &[ModelEntry],
    region_j: Jurisdiction,
    egress: &EgressSettings,
) -> Vec<ModelConfig> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, m) in entries.iter().enumerate() {
        let key = |field: &str| format!("models.{}[{i}].{field}", role.as_str());
        let before = c.problems.len();
        if m.name.is_empty() {
            c.push(key("name"), "missing");
        } else if !names.insert(m.name.clone()) {
            c.push(
                key("name"),
                format!("`{}` is used twice in this role", m.name),
            );
        }
        let provider = match m.provider.as_str() {
            "openai" => Some(ProviderKind::OpenAi),
            "ollama" => Some(ProviderKind::Ollama),
            "builtin" => Some(ProviderKind::Builtin),
            other => {
                c.push(
                    key("provider"),
                    format!("`{other}` must be one of openai, ollama, builtin"),
                );
                None
            }
        };
        let remote = matches!(provider, Some(ProviderKind::OpenAi | ProviderKind::Ollama));
        if provider == Some(ProviderKind::Builtin) && role != ModelRole::Insight {
            c.push(
                key("provider"),
                format!(
                    "the builtin engine extracts insights; it cannot serve the `{}` role",
                    role.as_str()
                ),
            );
        }
        let endpoint = if remote {
            match url::Url::parse(&m.endpoint) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {
                    if !explicitly_allowed(&egress.allow, &u) {
                        c.push(
                            key("endpoint"),
                            format!(
                                "host `{}` is not listed in `egress.allow`; a model endpoint must be named explicitly",
                                u.host_str().unwrap_or_default()
                            ),
                        );
                    }
                    Some(u)
                }
                Ok(u) => {
                    c.push(
                        key("endpoint"),
                        format!("scheme `{}` must be http or https", u.scheme()),
                    );
                    None
                }
                Err(e) => {
                    c.push(
                        key("endpoint"),
                        format!("`{}` is not a URL: {e}", m.endpoint),
                    );
                    None
                }
            }
        } else {
            None
        };
        if remote && m.model.is_empty() {
            c.push(key("model"), "missing: the model as the server names it");
        }
        let fact = |c: &mut Collector<'_>, field: &str, value: &str| -> Option<Jurisdiction> {
            if value.is_empty() {
                if remote {
                    c.push(key(field), "missing: policies need to know this");
                    None
                } else {
                    Some(region_j)
                }
            } else {
                c.parse(&key(field), Jurisdiction::parse(value))
            }
        };
        let hosted_in = fact(c, "hosted_in", &m.hosted_in);
        let origin = fact(c, "origin", &m.origin);
        let weights = match m.weights.as_str() {
            "open" => Some(Weights::Open),
            "closed" => Some(Weights::Closed),
            "" if !remote => Some(Weights::Open),
            other => {
                c.push(key("weights"), format!("`{other}` must be open or closed"));
                None
            }
        };
        if m.max_concurrency == Some(0) {
            c.push(key("max_concurrency"), "must be at least 1");
        }
        if let Some(retries) = m.max_retries
            && retries > 10
        {
            c.push(
                key("max_retries"),
                format!("{retries} is too many; at most 10"),
            );
        }
        if !m.digest.is_empty() && !m.digest.starts_with("sha256:") {
            c.push(
                key("digest"),
                format!("`{}` must look like `sha256:<hex>`", m.digest),
            );
        }
        let api_key_env = non_empty(&m.api_key_env);
        let api_key = api_key_env
            .as_ref()
            .and_then(|v| std::env::var(v).ok())
            .filter(|v| !v.is_empty())
            .map(Secret::new);
        let unavailable = match (&api_key_env, &api_key) {
            (Some(var), None) => Some(format!("no API key: environment variable {var} is not set")),
            _ => None,
        };
        if c.problems.len() == before
            && let (Some(provider), Some(hosted_in), Some(origin), Some(weights)) =
                (provider, hosted_in, origin, weights)
        {
            out.push(ModelConfig {
                name: m.name.clone(),
                provider,
                endpoint,
                model: if m.model.is_empty() {
                    "extractive".to_owned()
                } else {
                    m.model.clone()
                },
                api_key_env,
                api_key,
                hosted_in,
                origin,
                weights,
                digest: non_empty(&m.digest),
                timeout: Duration::from_secs(m.timeout_secs.unwrap_or(120)),
                max_retries: m.max_retries.unwrap_or(2),
                max_concurrency: m.max_concurrency.unwrap_or(4),
                attributes: m.attributes.clone(),
                unavailable,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_allowance_matches_host_and_port() {
        let allow: Vec<AllowEntry> = ["127.0.0.1:11434", "*.openai.com", "*", "eu.example"]
            .iter()
            .map(|e| AllowEntry::parse(e).unwrap())
            .collect();
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(explicitly_allowed(&allow, &u("http://127.0.0.1:11434/api")));
        assert!(!explicitly_allowed(&allow, &u("http://127.0.0.1:8080/")));
        assert!(
            !explicitly_allowed(&allow, &u("https://api.openai.com/v1")),
            "`*.domain` matches but names no host"
        );
        assert!(explicitly_allowed(&allow, &u("https://eu.example:8443/v1")));
        assert!(!explicitly_allowed(&allow, &u("https://evil.example/")));
    }

    /// A minimal valid region file for `zz` in `locale`.
    fn minimal_region(locale: &str) -> RegionFile {
        let mut raw = RegionFile {
            id: "zz".into(),
            jurisdiction: "US".into(),
            locale: locale.into(),
            timezone: "UTC".into(),
            ..RegionFile::default()
        };
        raw.storage.url = "sqlite://{data_dir}/zz.db".into();
        raw.models.insight = vec![ModelEntry {
            name: "builtin".into(),
            provider: "builtin".into(),
            ..ModelEntry::default()
        }];
        raw.mail.from = "Meridian <digest@zz.example.com>".into();
        raw.mail.ai_label = "AI-generated.".into();
        raw
    }

    fn validate_zz(raw: RegionFile) -> Result<RegionConfig, Vec<Problem>> {
        let id = RegionId::parse("zz").unwrap();
        RegionConfig::validate(raw, &id, Path::new("/regions/zz.toml"), Path::new("/data"))
    }

    /// The minimal region with `server` and `mail` keys set.
    fn region_with(
        base_url: &str,
        listen: &str,
        unsubscribe_mailbox: &str,
    ) -> Result<RegionConfig, Vec<Problem>> {
        let mut raw = minimal_region("en-US");
        raw.mail.unsubscribe_mailbox = unsubscribe_mailbox.into();
        raw.server.base_url = base_url.into();
        raw.server.listen = listen.into();
        validate_zz(raw)
    }

    #[test]
    fn connection_limits_have_public_service_defaults_and_refuse_zero() {
        let server = region_with("", "", "").unwrap().server;
        assert!(server.header_read_timeout <= Duration::from_secs(30));
        assert!(server.idle_timeout <= Duration::from_secs(60));
        assert_eq!(
            (server.max_connections, server.max_connections_per_ip),
            (
                DEFAULT_MAX_CONNECTIONS,
                Some(DEFAULT_MAX_CONNECTIONS_PER_IP)
            )
        );
        let mut raw = minimal_region("en-US");
        raw.server.max_connections_per_ip = Some(0);
        raw.server.header_read_timeout_secs = Some(3);
        let server = validate_zz(raw).unwrap().server;
        assert_eq!(server.max_connections_per_ip, None, "0 turns it off");
        assert_eq!(server.header_read_timeout, Duration::from_secs(3));
        for key in [
            "server.header_read_timeout_secs",
            "server.idle_timeout_secs",
            "server.max_connections",
        ] {
            let mut raw = minimal_region("en-US");
            match key {
                "server.header_read_timeout_secs" => raw.server.header_read_timeout_secs = Some(0),
                "server.idle_timeout_secs" => raw.server.idle_timeout_secs = Some(0),
                _ => raw.server.max_connections = Some(0),
            }
            let problems = validate_zz(raw).unwrap_err();
            assert!(problems.iter().any(|p| p.key == key), "{key}: {problems:?}");
        }
    }

    /// The minimal region in `locale`, with `digest.languages` set when given.
    fn region_reading(
        locale: &str,
        languages: Option<&[&str]>,
    ) -> Result<RegionConfig, Vec<Problem>> {
        let mut raw = minimal_region(locale);
        raw.digest.languages = languages.map(|l| l.iter().map(|s| (*s).to_owned()).collect());
        validate_zz(raw)
    }

    #[test]
    fn digest_languages_default_to_the_locales_language() {
        for (locale, expected) in [
            ("en-US", "en"),
            ("zh-CN", "zh"),
            ("de-DE", "de"),
            ("de_at", "de"),
        ] {
            let cfg = region_reading(locale, None).unwrap();
            assert_eq!(cfg.digest.languages, [expected], "{locale}");
        }
        let cfg = region_reading("de-DE", Some(&["de", "EN", " en "])).unwrap();
        assert_eq!(
            cfg.digest.languages,
            ["de", "en"],
            "lower-cased, duplicates dropped, in the file's order"
        );
    }

    #[test]
    fn bad_digest_languages_are_named_with_file_and_key() {
        for (languages, key, reason) in [
            (&["en", "en-US"][..], "digest.languages[1]", "write `en`"),
            (
                &["english"][..],
                "digest.languages[0]",
                "`english` is not a primary language subtag",
            ),
            (&["e1"][..], "digest.languages[0]", "`e1`"),
            (&[][..], "digest.languages", "lists no language"),
        ] {
            let problems = region_reading("en-US", Some(languages)).unwrap_err();
            let problem = problems
                .iter()
                .find(|p| p.key == key)
                .unwrap_or_else(|| panic!("{languages:?}: no problem at {key}: {problems:?}"));
            assert_eq!(problem.file, "/regions/zz.toml");
            assert!(
                problem.reason.contains(reason),
                "{languages:?}: {problem:?}"
            );
            assert!(
                problem.to_string().contains("/regions/zz.toml")
                    && problem.to_string().contains(key),
                "{problem}"
            );
        }
    }

    #[test]
    fn the_server_section_defaults_to_loopback_and_requires_https_elsewhere() {
        let cfg = region_with("", "", "").unwrap();
        assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.server.base_url, "http://127.0.0.1:8080");
        assert_eq!(
            cfg.server.token_secret_env,
            "MERIDIAN_ZZ__SERVER__TOKEN_SECRET"
        );
        assert_eq!(
            cfg.server.token_secret_file,
            Path::new("/data/keys/zz.token-secret")
        );
        assert_eq!((cfg.mail.max_per_second, cfg.mail.max_attempts), (10, 5));
        assert_eq!(
            region_with("https://zz.example/", "0.0.0.0:9000", "")
                .unwrap()
                .server
                .base_url,
            "https://zz.example"
        );
        for (base, listen, mailbox, key) in [
            ("http://zz.example", "", "", "server.base_url"),
            ("ftp://zz.example", "", "", "server.base_url"),
            ("https://zz.example/?a=b", "", "", "server.base_url"),
            ("", "localhost", "", "server.listen"),
            (
                "",
                "",
                "unsubscribe+x@zz.example.com",
                "mail.unsubscribe_mailbox",
            ),
            ("", "", "not an address", "mail.unsubscribe_mailbox"),
        ] {
            let problems = region_with(base, listen, mailbox).unwrap_err();
            assert!(
                problems.iter().any(|p| p.key == key),
                "{base} {listen} {mailbox}: {problems:?}"
            );
        }
    }
}
