use std::path::PathBuf;

/// Why an email could not be built or sent, or a mailer not set up.
///
/// Variants name what failed and where: the relay host, the outbox folder, the
/// sender, the header. A recipient is named by its domain only: the full
/// address is personal data and errors end up in logs and the audit report.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The `from` or `reply_to` value is not a mailbox (`Name <user@host>`).
    #[error("the {field} address `{value}` is invalid: {reason}")]
    InvalidSender {
        /// `from` or `reply_to`.
        field: &'static str,
        /// The value as configured (region config, not personal data).
        value: String,
        /// lettre's reason.
        reason: String,
    },
    /// The recipient address was refused by the MIME builder.
    #[error("the recipient address at `{domain}` is invalid: {reason}")]
    InvalidRecipient {
        /// The recipient's domain.
        domain: String,
        /// Why.
        reason: String,
    },
    /// A header name or value cannot be put into a message safely.
    #[error("header `{name}` cannot be used: {reason}")]
    InvalidHeader {
        /// The header's name as given.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// lettre refused to assemble the message.
    #[error("building the message for a recipient at `{domain}` failed: {reason}")]
    Build {
        /// The recipient's domain.
        domain: String,
        /// lettre's reason.
        reason: String,
    },
    /// The SMTP URL cannot be used as given.
    #[error("SMTP URL `{url}` is invalid: {reason}")]
    SmtpUrl {
        /// The URL with any user and password replaced by `***`.
        url: String,
        /// Why.
        reason: String,
    },
    /// Plain (or opportunistic, hence downgradable) SMTP to a host that is
    /// not this machine: mail and credentials would cross the network in clear.
    #[error(
        "refusing unencrypted SMTP to `{relay}`: plain SMTP is only allowed to loopback hosts; \
         use `smtps://{host}` (implicit TLS) or `smtp://{host}?tls=required` (STARTTLS)"
    )]
    PlainSmtpRefused {
        /// `host:port` of the relay.
        relay: String,
        /// The relay's host, for the suggested URLs.
        host: String,
    },
    /// The SMTP URL carries a password; secrets belong in the environment.
    #[error(
        "SMTP URL for `{relay}` contains a password: remove it and name an environment variable \
         holding it in `password_env` instead"
    )]
    PasswordInUrl {
        /// `host:port` of the relay.
        relay: String,
    },
    /// The environment variable that should hold the SMTP password is unset
    /// or not UTF-8.
    #[error("SMTP password for `{relay}`: environment variable `{var}` is not set (or not UTF-8)")]
    MissingPassword {
        /// `host:port` of the relay.
        relay: String,
        /// The variable's name.
        var: String,
    },
    /// The outbox folder could not be created.
    #[error("cannot create the mail outbox folder `{path}`: {source}")]
    OutboxDir {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the `.eml` file failed.
    #[error(
        "writing an email for a recipient at `{domain}` to the outbox `{path}` failed: {reason}"
    )]
    OutboxWrite {
        /// The outbox folder.
        path: PathBuf,
        /// The recipient's domain.
        domain: String,
        /// lettre's reason (an I/O error).
        reason: String,
    },
    /// The SMTP relay did not accept the message.
    #[error(
        "sending to a recipient at `{domain}` through SMTP relay `{relay}` failed ({kind}): {detail}"
    )]
    Smtp {
        /// `host:port` of the relay.
        relay: String,
        /// The recipient's domain.
        domain: String,
        /// What kind of failure, which decides whether to retry.
        kind: SmtpFailure,
        /// lettre's description with the server's reply, the recipient's
        /// address in it replaced by `***@domain`.
        detail: String,
    },
}

/// How an SMTP send failed, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpFailure {
    /// A 4xx reply: try again later.
    Transient(String),
    /// A 5xx reply: this message will not be accepted as it is.
    Permanent(String),
    /// The connection could not be made or broke.
    Connection,
    /// The connection or a reply timed out.
    Timeout,
    /// The TLS handshake failed (relay certificate, protocol).
    Tls,
    /// The server's reply could not be parsed.
    Protocol,
    /// lettre refused before talking to the server (e.g. the envelope).
    Client,
}

impl std::fmt::Display for SmtpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transient(code) => write!(f, "transient, {code}"),
            Self::Permanent(code) => write!(f, "permanent, {code}"),
            Self::Connection => f.write_str("connection"),
            Self::Timeout => f.write_str("timeout"),
            Self::Tls => f.write_str("tls"),
            Self::Protocol => f.write_str("protocol"),
            Self::Client => f.write_str("client"),
        }
    }
}

impl MailError {
    /// Whether sending the same email again later may succeed.
    ///
    /// True for 4xx replies, connection and TLS trouble, timeouts and outbox
    /// I/O errors (the relay or disk may recover); false for 5xx replies and
    /// for anything wrong with the message or the configuration, which
    /// another try would only repeat. TLS counts as retryable because it is a
    /// fault of the relay's side (an expired certificate), not of the
    /// message: the email should wait for the relay, not be dropped.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Smtp { kind, .. } => match kind {
                SmtpFailure::Transient(_)
                | SmtpFailure::Connection
                | SmtpFailure::Timeout
                | SmtpFailure::Tls
                | SmtpFailure::Protocol => true,
                SmtpFailure::Permanent(_) | SmtpFailure::Client => false,
            },
            Self::OutboxWrite { .. } => true,
            Self::InvalidSender { .. }
            | Self::InvalidRecipient { .. }
            | Self::InvalidHeader { .. }
            | Self::Build { .. }
            | Self::SmtpUrl { .. }
            | Self::PlainSmtpRefused { .. }
            | Self::PasswordInUrl { .. }
            | Self::MissingPassword { .. }
            | Self::OutboxDir { .. } => false,
        }
    }
}
