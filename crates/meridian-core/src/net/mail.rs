//! Where a region's mail goes (`[mail] smtp_url`), parsed once.

use std::fmt;

use url::Url;

use super::{HostClass, classify_host};

/// How an SMTP connection is encrypted, as lettre reads the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmtpTls {
    /// `smtps://`: TLS from the first byte (default port 465).
    Implicit,
    /// `smtp://…?tls=required`: STARTTLS, refused without it (default port 587).
    StartTls,
    /// `smtp://…?tls=opportunistic`: STARTTLS when the server offers it
    /// (default port 587). Counts as plain: an attacker can strip the offer.
    Opportunistic,
    /// `smtp://`: no encryption (default port 25).
    Plain,
}

impl SmtpTls {
    /// Whether the connection is always encrypted.
    #[must_use]
    pub fn is_encrypted(self) -> bool {
        matches!(self, Self::Implicit | Self::StartTls)
    }

    /// The port lettre connects to when the URL names none.
    #[must_use]
    pub fn default_port(self) -> u16 {
        match self {
            Self::Implicit => 465,
            Self::StartTls | Self::Opportunistic => 587,
            Self::Plain => 25,
        }
    }
}

/// An SMTP relay: host, port, encryption and an optional user name. It never
/// holds a password (a URL with one is refused); its `Display`
/// (`smtps://relay.example:465`) shows no user either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpRelay {
    /// The URL as written (it carries no password), for the SMTP client.
    url: String,
    /// As in the URL, lower-case, IPv6 in brackets.
    host: String,
    port: u16,
    tls: SmtpTls,
    /// Percent-decoded.
    user: Option<String>,
}

impl SmtpRelay {
    /// The relay's host as in the URL, lower-case (`relay.example`,
    /// `127.0.0.1`, `[::1]`).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port connected to (the URL's, else the default of its encryption).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How the connection is encrypted.
    #[must_use]
    pub fn tls(&self) -> SmtpTls {
        self.tls
    }

    /// The user name to log in with, decoded (`digest@us.example`).
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The URL as written, without a password (none is accepted), for the
    /// SMTP client to read exactly as its documentation says.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where the relay's host is.
    #[must_use]
    pub fn host_class(&self) -> HostClass {
        classify_host(&self.host)
    }

    /// `host:port`.
    #[must_use]
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl fmt::Display for SmtpRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, suffix) = match self.tls {
            SmtpTls::Implicit => ("smtps", ""),
            SmtpTls::StartTls => ("smtp", "?tls=required"),
            SmtpTls::Opportunistic => ("smtp", "?tls=opportunistic"),
            SmtpTls::Plain => ("smtp", ""),
        };
        write!(f, "{scheme}://{}:{}{suffix}", self.host, self.port)
    }
}

/// Where a region's mail goes: `.eml` files in its outbox, or an SMTP relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailRelay {
    /// No relay (`smtp_url = ""`): emails are written as `.eml` files.
    Outbox,
    /// An SMTP relay.
    Smtp(SmtpRelay),
}

/// Why `[mail] smtp_url` was refused. `Display` is the reason alone (the
/// caller names the key); no variant shows a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailRelayError {
    /// Not a URL at all.
    #[error("not a URL: {reason}")]
    NotAUrl {
        /// What the URL parser said.
        reason: String,
    },
    /// A scheme other than `smtp` / `smtps`.
    #[error("scheme `{scheme}` must be smtp or smtps")]
    Scheme {
        /// The scheme found.
        scheme: String,
    },
    /// `?tls=` with a value lettre does not know.
    #[error(
        "`tls={value}` must be `required` (STARTTLS) or `opportunistic`; or use `smtps://` (implicit TLS)"
    )]
    Tls {
        /// The value found.
        value: String,
    },
    /// No host.
    #[error("names no relay host")]
    NoHost,
    /// A password in the URL.
    #[error("carries a password; name an environment variable in `mail.password_env` instead")]
    PasswordInUrl {
        /// `host:port` of the relay.
        relay: String,
    },
    /// Plain SMTP (or opportunistic STARTTLS) to a host that is not loopback.
    #[error(
        "plain SMTP is only allowed to loopback hosts; use `smtps://{host}` (implicit TLS) or `smtp://{host}?tls=required` (STARTTLS)"
    )]
    PlainToRemote {
        /// The relay's host.
        host: String,
        /// `host:port` of the relay.
        relay: String,
    },
    /// A user name that does not decode.
    #[error("the user name {reason}")]
    User {
        /// What is wrong with it.
        reason: String,
    },
}

impl MailRelay {
    /// Parses `[mail] smtp_url`: empty (surrounding whitespace ignored) is the
    /// outbox; otherwise `smtps://[user@]host[:port]` (implicit TLS),
    /// `smtp://[user@]host[:port]?tls=required` (STARTTLS), or plain
    /// `smtp://host[:port]` (also `?tls=opportunistic`), which only a loopback
    /// host may use (`127.0.0.0/8`, `::1`, `localhost`).
    ///
    /// # Errors
    /// [`MailRelayError`] saying what is wrong.
    pub fn parse(smtp_url: &str) -> Result<Self, MailRelayError> {
        let text = smtp_url.trim();
        if text.is_empty() {
            return Ok(Self::Outbox);
        }
        let url = Url::parse(text).map_err(|e| MailRelayError::NotAUrl {
            reason: e.to_string(),
        })?;
        let tls_param = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let tls = match (url.scheme(), tls_param.as_deref()) {
            ("smtps", _) => SmtpTls::Implicit,
            ("smtp", Some("required")) => SmtpTls::StartTls,
            ("smtp", Some("opportunistic")) => SmtpTls::Opportunistic,
            ("smtp", None) => SmtpTls::Plain,
            ("smtp", Some(other)) => {
                return Err(MailRelayError::Tls {
                    value: other.to_owned(),
                });
            }
            (scheme, _) => {
                return Err(MailRelayError::Scheme {
                    scheme: scheme.to_owned(),
                });
            }
        };
        // `smtp:` is not a special scheme: `url` keeps its host opaque (an
        // IPv4 address stays text, case is kept), so it is normalised here.
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(MailRelayError::NoHost)?
            .to_ascii_lowercase();
        let port = url.port().unwrap_or_else(|| tls.default_port());
        let relay = format!("{host}:{port}");
        if url.password().is_some() {
            return Err(MailRelayError::PasswordInUrl { relay });
        }
        if !tls.is_encrypted() && !classify_host(&host).is_loopback() {
            return Err(MailRelayError::PlainToRemote { host, relay });
        }
        let user =
            percent_decode(url.username()).map_err(|reason| MailRelayError::User { reason })?;
        Ok(Self::Smtp(SmtpRelay {
            url: text.to_owned(),
            host,
            port,
            tls,
            user: (!user.is_empty()).then_some(user),
        }))
    }

    /// The SMTP relay, `None` for the outbox.
    #[must_use]
    pub fn smtp(&self) -> Option<&SmtpRelay> {
        match self {
            Self::Outbox => None,
            Self::Smtp(relay) => Some(relay),
        }
    }
}

impl fmt::Display for MailRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Outbox => f.write_str("outbox"),
            Self::Smtp(relay) => relay.fmt(f),
        }
    }
}

/// `url` keeps the user name percent-encoded; decoded by hand rather than
/// with another crate.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "has a bad percent escape".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "is not UTF-8 once decoded".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relays_parse_into_host_port_and_encryption() {
        for (url, host, port, tls, user) in [
            (
                "smtps://relay.example",
                "relay.example",
                465,
                SmtpTls::Implicit,
                None,
            ),
            (
                "smtp://Relay.Example:2525?tls=required",
                "relay.example",
                2525,
                SmtpTls::StartTls,
                None,
            ),
            (
                "smtp://127.0.0.1:2525",
                "127.0.0.1",
                2525,
                SmtpTls::Plain,
                None,
            ),
            ("smtp://[::1]", "[::1]", 25, SmtpTls::Plain, None),
            (
                "smtp://localhost?tls=opportunistic",
                "localhost",
                587,
                SmtpTls::Opportunistic,
                None,
            ),
            (
                "smtps://digest%40us.example.com@smtp.us.example.com",
                "smtp.us.example.com",
                465,
                SmtpTls::Implicit,
                Some("digest@us.example.com"),
            ),
        ] {
            let relay = MailRelay::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            let smtp = relay.smtp().unwrap_or_else(|| panic!("{url}: outbox"));
            assert_eq!(
                (smtp.host(), smtp.port(), smtp.tls(), smtp.user()),
                (host, port, tls, user),
                "{url}"
            );
            assert!(!relay.to_string().contains('@'), "{url}: {relay}");
        }
        assert_eq!(MailRelay::parse("  "), Ok(MailRelay::Outbox));
    }

    #[test]
    fn bad_relays_are_refused_without_showing_a_password() {
        for (url, want) in [
            ("http://relay.example", "scheme `http`"),
            ("smtp://relay.example", "plain SMTP"),
            ("smtp://relay.example?tls=opportunistic", "plain SMTP"),
            ("smtp://relay.example?tls=maybe", "`tls=maybe`"),
            ("smtps://u:s3cret@relay.example", "carries a password"),
            ("not a url", "not a URL"),
            ("smtps://%zz@relay.example", "percent"),
        ] {
            let err = MailRelay::parse(url).expect_err(url).to_string();
            assert!(err.contains(want), "{url}: {err}");
            assert!(!err.contains("s3cret"), "{url}: {err}");
        }
    }
}
