use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use meridian_core::ContentHash;
use meridian_core::net::{MailRelay, MailRelayError};

use crate::{MailError, OutgoingEmail, SmtpFailure, build_message};

/// How long one SMTP connection attempt or command may take before the send
/// fails (retryably). Generous for a slow relay, short enough that a dead one
/// does not hold a delivery worker for minutes.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this many connections to the relay at once. A region sends a few
/// thousand mails a day at most; a handful of connections is plenty and stays
/// under relays' per-client limits.
const SMTP_POOL_MAX: u32 = 4;
/// Pooled connections idle longer than this are closed (relays drop idle
/// clients after a minute or so anyway).
const SMTP_POOL_IDLE: Duration = Duration::from_secs(50);

/// Where a [`Mailer`] delivers.
#[derive(Debug)]
pub enum Transport {
    /// `.eml` files in a folder (the demo, tests, or a relay-less setup).
    Outbox(PathBuf),
    /// An SMTP relay.
    Smtp(Box<SmtpRelay>),
}

/// A configured SMTP relay. The lettre transport (with its connection pool)
/// is built on the first send, inside the async runtime that will drive it:
/// lettre's pool spawns its clean-up task on creation, which needs a runtime.
pub struct SmtpRelay {
    /// `smtp://host:port`, `smtps://host:port` or `…?tls=required`; never
    /// credentials.
    description: String,
    /// `host:port`, for errors.
    relay: String,
    builder: AsyncSmtpTransportBuilder,
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
}

impl std::fmt::Debug for SmtpRelay {
    // lettre's builder `Debug` would print the credentials; show only where.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpRelay")
            .field("url", &self.description)
            .finish_non_exhaustive()
    }
}

impl SmtpRelay {
    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport.get_or_init(|| self.builder.clone().build())
    }
}

/// How a [`SendReceipt`]'s email left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// Written to the outbox folder.
    Outbox,
    /// Accepted by the SMTP relay.
    Smtp,
}

impl TransportKind {
    /// `outbox` or `smtp`, as recorded in the audit log.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbox => "outbox",
            Self::Smtp => "smtp",
        }
    }
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a successful send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The email's `Message-ID`.
    pub message_id: String,
    /// Outbox or SMTP.
    pub transport: TransportKind,
    /// The `.eml` file written, for the outbox.
    pub outbox_file: Option<PathBuf>,
}

/// Sends emails through one region's transport: its SMTP relay, or `.eml`
/// files in an outbox folder when no relay is configured.
///
/// Build one per region and keep it: the SMTP connection pool lives in it,
/// bound to the tokio runtime of the first send.
#[derive(Debug)]
pub struct Mailer {
    transport: Transport,
}

impl Mailer {
    /// Sets up the transport.
    ///
    /// `smtp_url` empty → write `.eml` files to `outbox_dir` (created if
    /// missing). Otherwise an SMTP URL as lettre's `AsyncSmtpTransport::from_url`
    /// takes it: `smtps://host[:465]` (implicit TLS),
    /// `smtp://host[:587]?tls=required` (STARTTLS), or plain `smtp://host[:25]`,
    /// which is allowed only to loopback hosts (`127.0.0.0/8`, `::1`,
    /// `localhost`); `?tls=opportunistic` counts as plain, since an attacker
    /// can strip the STARTTLS offer. A user name goes in the URL
    /// (`smtps://digest%40us.example@relay:465`); the password only in the
    /// environment variable named by `password_env`, never in the URL.
    /// Nothing here connects: a wrong host shows on the first send.
    ///
    /// # Errors
    /// [`MailError::SmtpUrl`], [`MailError::PlainSmtpRefused`],
    /// [`MailError::PasswordInUrl`], [`MailError::MissingPassword`] or
    /// [`MailError::OutboxDir`].
    pub fn new(
        smtp_url: &str,
        password_env: Option<&str>,
        outbox_dir: &Path,
    ) -> Result<Self, MailError> {
        let relay = MailRelay::parse(smtp_url).map_err(|e| match e {
            MailRelayError::PasswordInUrl { relay } => MailError::PasswordInUrl { relay },
            MailRelayError::PlainToRemote { host, relay } => {
                MailError::PlainSmtpRefused { relay, host }
            }
            other => MailError::SmtpUrl {
                url: redact_userinfo(smtp_url.trim()),
                reason: other.to_string(),
            },
        })?;
        Self::from_relay(&relay, password_env, outbox_dir)
    }

    /// Sets up the transport for a relay parsed already (a region's
    /// validated `[mail]`); see [`Mailer::new`] for what each form means.
    ///
    /// # Errors
    /// [`MailError::SmtpUrl`], [`MailError::MissingPassword`] or
    /// [`MailError::OutboxDir`].
    pub fn from_relay(
        relay: &MailRelay,
        password_env: Option<&str>,
        outbox_dir: &Path,
    ) -> Result<Self, MailError> {
        match relay {
            MailRelay::Outbox => {
                std::fs::create_dir_all(outbox_dir).map_err(|source| MailError::OutboxDir {
                    path: outbox_dir.to_owned(),
                    source,
                })?;
                Ok(Self {
                    transport: Transport::Outbox(outbox_dir.to_owned()),
                })
            }
            MailRelay::Smtp(relay) => Ok(Self {
                transport: Transport::Smtp(Box::new(smtp_relay(relay, password_env)?)),
            }),
        }
    }

    /// Builds `email` (see [`build_message`]) and hands it to the transport.
    ///
    /// # Errors
    /// The build errors of [`build_message`], [`MailError::OutboxWrite`], or
    /// [`MailError::Smtp`]; [`MailError::is_retryable`] says whether to try
    /// again later.
    #[tracing::instrument(
        name = "mail.send",
        skip_all,
        fields(transport = %self.transport_kind(), recipient.domain = %email.to.domain(), message_id = %email.message_id)
    )]
    pub async fn send(&self, email: &OutgoingEmail) -> Result<SendReceipt, MailError> {
        let message = build_message(email)?;
        let domain = email.to.domain();
        match &self.transport {
            Transport::Outbox(dir) => {
                // The file is named after the Message-ID and written whole
                // (temporary file, then rename), so sending the same email
                // again — a run resumed after a crash between writing and
                // recording the delivery — replaces it instead of adding a
                // second one: the outbox holds each email exactly once.
                // (lettre's file transport names files with random UUIDs.)
                let name = ContentHash::of(email.message_id.as_bytes()).to_hex();
                let file = dir.join(format!("{}.eml", &name[..32]));
                let tmp = dir.join(format!(".{}.eml.tmp", &name[..32]));
                let write_err = |e: std::io::Error| MailError::OutboxWrite {
                    path: dir.clone(),
                    domain: domain.to_owned(),
                    reason: e.to_string(),
                };
                tokio::fs::write(&tmp, message.formatted())
                    .await
                    .map_err(write_err)?;
                tokio::fs::rename(&tmp, &file).await.map_err(write_err)?;
                tracing::debug!(file = %file.display(), "Email written to the outbox.");
                Ok(SendReceipt {
                    message_id: email.message_id.clone(),
                    transport: TransportKind::Outbox,
                    outbox_file: Some(file),
                })
            }
            Transport::Smtp(relay) => {
                relay
                    .transport()
                    .send(message)
                    .await
                    .map_err(|e| smtp_error(relay, email, &e))?;
                tracing::debug!(relay = %relay.relay, "Email accepted by the SMTP relay.");
                Ok(SendReceipt {
                    message_id: email.message_id.clone(),
                    transport: TransportKind::Smtp,
                    outbox_file: None,
                })
            }
        }
    }

    /// Closes pooled SMTP connections politely (`QUIT`). Later sends open new
    /// ones. Nothing to do for the outbox.
    pub async fn shutdown(&self) {
        if let Transport::Smtp(relay) = &self.transport
            && let Some(transport) = relay.transport.get()
        {
            transport.shutdown().await;
        }
    }

    /// `outbox /path` or the SMTP URL without credentials, for logs and
    /// `meridian config check`.
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Outbox(dir) => format!("outbox {}", dir.display()),
            Transport::Smtp(relay) => relay.description.clone(),
        }
    }

    /// Outbox or SMTP.
    #[must_use]
    pub fn transport_kind(&self) -> TransportKind {
        match &self.transport {
            Transport::Outbox(_) => TransportKind::Outbox,
            Transport::Smtp(_) => TransportKind::Smtp,
        }
    }

    /// The transport, e.g. to find the outbox folder.
    #[must_use]
    pub fn transport(&self) -> &Transport {
        &self.transport
    }
}

/// Lets lettre build from the relay's URL (so the URL means exactly what
/// lettre documents) and adds credentials, timeouts and the pool. The URL was
/// checked by [`MailRelay::parse`]: a known scheme and encryption, a host, no
/// password, plain SMTP only to loopback.
fn smtp_relay(
    relay: &meridian_core::net::SmtpRelay,
    password_env: Option<&str>,
) -> Result<SmtpRelay, MailError> {
    let bad = |reason: &str| MailError::SmtpUrl {
        url: redact_userinfo(relay.url()),
        reason: reason.to_owned(),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(relay.url())
        .map_err(|e| bad(&e.to_string()))?;
    match (relay.user(), password_env) {
        (Some(user), Some(var)) => {
            let password = std::env::var(var).map_err(|_| MailError::MissingPassword {
                relay: relay.host_port(),
                var: var.to_owned(),
            })?;
            builder = builder.credentials(Credentials::new(user.to_owned(), password));
        }
        (None, Some(_)) => {
            return Err(bad(
                "`password_env` is set but the URL names no user (`smtps://user@host`)",
            ));
        }
        (Some(_), None) => {
            return Err(bad(
                "the URL names a user but no `password_env` says where the password is",
            ));
        }
        (None, None) => {}
    }
    let builder = builder.timeout(Some(SMTP_TIMEOUT)).pool_config(
        PoolConfig::new()
            .max_size(SMTP_POOL_MAX)
            .idle_timeout(SMTP_POOL_IDLE),
    );
    Ok(SmtpRelay {
        description: relay.to_string(),
        relay: relay.host_port(),
        builder,
        transport: OnceLock::new(),
    })
}

/// `scheme://user:pass@host…` → `scheme://***@host…`, so a URL in an error
/// message never shows credentials even when it cannot be parsed.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

fn smtp_error(
    relay: &SmtpRelay,
    email: &OutgoingEmail,
    e: &lettre::transport::smtp::Error,
) -> MailError {
    let kind = if let Some(code) = e.status() {
        if e.is_permanent() {
            SmtpFailure::Permanent(code.to_string())
        } else {
            SmtpFailure::Transient(code.to_string())
        }
    } else if e.is_timeout() {
        SmtpFailure::Timeout
    } else if e.is_tls() {
        SmtpFailure::Tls
    } else if e.is_response() {
        SmtpFailure::Protocol
    } else if e.is_client() {
        SmtpFailure::Client
    } else {
        SmtpFailure::Connection
    };
    let domain = email.to.domain().to_owned();
    let detail = redact_address(&e.to_string(), email.to.as_str(), &domain);
    tracing::debug!(relay = %relay.relay, %kind, "SMTP send failed.");
    MailError::Smtp {
        relay: relay.relay.clone(),
        domain,
        kind,
        detail,
    }
}

/// Relays echo the recipient in replies (`550 <ada@example.org>: unknown`);
/// keep only its domain.
fn redact_address(text: &str, address: &str, domain: &str) -> String {
    let needle = address.to_ascii_lowercase();
    let hay = text.to_ascii_lowercase();
    let replacement = format!("***@{domain}");
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    // ASCII lower-casing keeps byte offsets, so positions in `hay` are
    // positions in `text`.
    for (at, _) in hay.match_indices(&needle) {
        out.push_str(&text[last..at]);
        out.push_str(&replacement);
        last = at + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> MailError {
        Mailer::new(url, None, Path::new("/nonexistent")).expect_err(url)
    }

    #[test]
    fn plain_smtp_is_refused_off_loopback() {
        for url in [
            "smtp://mail.example.com",
            "smtp://mail.example.com:2525",
            "smtp://10.0.0.5",
            "smtp://mail.example.com?tls=opportunistic",
            "smtp://[2001:db8::1]:25",
        ] {
            let err = refused(url);
            assert!(
                matches!(err, MailError::PlainSmtpRefused { .. }),
                "{url}: {err}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains("smtps://") && msg.contains("tls=required"),
                "{url}: tells how to fix: {msg}"
            );
        }
    }

    #[tokio::test]
    async fn plain_smtp_to_loopback_and_tls_anywhere_are_accepted() {
        for (url, described) in [
            ("smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525"),
            ("smtp://127.8.9.10", "smtp://127.8.9.10:25"),
            ("smtp://localhost:1025", "smtp://localhost:1025"),
            ("smtp://[::1]:2525", "smtp://[::1]:2525"),
            ("smtps://mail.example.com", "smtps://mail.example.com:465"),
            (
                "smtp://mail.example.com?tls=required",
                "smtp://mail.example.com:587?tls=required",
            ),
        ] {
            let mailer = Mailer::new(url, None, Path::new("/nonexistent")).unwrap();
            assert_eq!(mailer.describe(), described, "{url}");
            assert_eq!(mailer.transport_kind(), TransportKind::Smtp);
        }
    }

    #[test]
    fn credentials_come_from_the_environment_only() {
        let err = refused("smtps://digest:hunter2@mail.example.com");
        assert!(matches!(err, MailError::PasswordInUrl { .. }), "{err}");
        assert!(!err.to_string().contains("hunter2"));

        let err = Mailer::new(
            "smtps://digest@mail.example.com",
            Some("MERIDIAN_TEST_UNSET_SMTP_PASSWORD_VAR"),
            Path::new("/x"),
        )
        .expect_err("unset variable");
        assert!(matches!(err, MailError::MissingPassword { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("MERIDIAN_TEST_UNSET_SMTP_PASSWORD_VAR")
        );

        // PATH is always set: it stands in for a password variable here (set_var
        // is unsafe in edition 2024 and the workspace forbids unsafe code).
        let mailer = Mailer::new(
            "smtps://digest%40us.example@mail.example.com",
            Some("PATH"),
            Path::new("/x"),
        )
        .unwrap();
        let described = mailer.describe();
        assert_eq!(described, "smtps://mail.example.com:465");
        assert!(
            !format!("{mailer:?}").contains(&std::env::var("PATH").unwrap()),
            "Debug hides the password"
        );

        assert!(
            matches!(
                refused("smtps://digest@mail.example.com"),
                MailError::SmtpUrl { .. }
            ),
            "user without password_env"
        );
    }

    #[test]
    fn bad_urls_are_named_without_credentials() {
        let err = refused("imap://user:secret@mail.example.com");
        assert!(matches!(err, MailError::SmtpUrl { .. }), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(
            err.to_string().contains("imap://***@mail.example.com"),
            "{err}"
        );
        assert!(matches!(refused("not a url"), MailError::SmtpUrl { .. }));
        assert_eq!(redact_userinfo("smtp://a:b@c/d@e"), "smtp://***@c/d@e");
        assert_eq!(redact_userinfo("smtp://c:25"), "smtp://c:25");
    }

    #[test]
    fn replies_lose_the_recipient_local_part() {
        assert_eq!(
            redact_address(
                "550 5.1.1 <Ada@Example.org>: user unknown, ada@example.org",
                "ada@example.org",
                "example.org"
            ),
            "550 5.1.1 <***@example.org>: user unknown, ***@example.org"
        );
    }

    #[test]
    fn outbox_folder_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("a/b/outbox");
        let mailer = Mailer::new("  ", None, &outbox).unwrap();
        assert!(outbox.is_dir());
        assert_eq!(mailer.describe(), format!("outbox {}", outbox.display()));
        assert_eq!(mailer.transport_kind(), TransportKind::Outbox);
    }
}
