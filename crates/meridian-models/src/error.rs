//! [`ProviderError`]: everything that can go wrong when a remote model is asked
//! for insights, each variant naming the model entry and the endpoint host.

use std::time::Duration;

/// A failed call to a remote insight provider (`openai`, `ollama`).
///
/// Every variant carries `model` (the entry's `name` in the region file) and,
/// once the call has an endpoint, `host` (`host[:port]` of the endpoint), so
/// that `Display` alone says which model failed where. [`Self::kind`] is the
/// stable label for logs, metrics and the audit report; [`Self::is_retryable`]
/// tells the fallback chain whether the same model may be tried again later.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The model entry cannot be used by this provider (no endpoint, wrong
    /// provider type).
    #[error("model `{model}`: {reason}")]
    Config {
        /// The model entry.
        model: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection could be made (DNS, refused, reset, TLS).
    #[error("model `{model}` at `{host}` is unreachable: {reason}")]
    Unreachable {
        /// The model entry.
        model: String,
        /// The endpoint host.
        host: String,
        /// What the transport said.
        reason: String,
    },
    /// The request did not complete in time.
    #[error("model `{model}` at `{host}` did not answer in time{}", after_text(*.after))]
    Timeout {
        /// The model entry.
        model: String,
        /// The endpoint host.
        host: String,
        /// The limit that was hit: the model's `timeout`, or `None` when the
        /// HTTP client's own limit struck first.
        after: Option<Duration>,
    },
    /// HTTP 429: the server asks us to slow down.
    #[error("model `{model}` at `{host}` is rate limited{}: {message}", retry_after_text(*.retry_after))]
    RateLimited {
        /// The model entry.
        model: String,
        /// The endpoint host.
        host: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// The server's message.
        message: String,
    },
    /// HTTP 5xx (or, for Ollama, an error whose status the client does not
    /// expose).
    #[error("model `{model}` at `{host}` failed with a server error{}: {message}", status_text(*.status))]
    ServerError {
        /// The model entry.
        model: String,
        /// The endpoint host.
        host: String,
        /// The HTTP status, when known.
        status: Option<u16>,
        /// The server's message.
        message: String,
    },
    /// HTTP 401/403: the key is missing, wrong or not allowed this model.
    #[error("model `{model}` at `{host}` refused the credentials (HTTP {status}): {message}")]
    Auth {
        /// The model entry.
        model: String,
        /// The endpoint host.
        host: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Another 4xx: the server will not accept this request as it is (unknown
    /// model, context too long, quota exhausted).
    #[error("model `{model}` at `{host}` rejected the request{}: {message}", status_text(*.status))]
    Rejected {
        /// The model entry.
        model: String,
        /// The endpoint host.
        host: String,
        /// The HTTP status, when known.
        status: Option<u16>,
        /// The server's message.
        message: String,
    },
    /// The model declined to answer (an OpenAI `refusal`, a content filter).
    #[error("model `{model}` at `{host}` refused to answer: {message}")]
    Refused {
        /// The model entry.
        model: String,
        /// The endpoint host.
        host: String,
        /// The refusal as the API gave it.
        message: String,
    },
    /// The API's own response could not be read (cut-off body, not the API's
    /// JSON shape). Distinct from [`Self::BadOutput`], where the envelope was
    /// fine but the model's text was not.
    #[error("model `{model}` at `{host}` sent an unreadable response: {reason}")]
    BadResponse {
        /// The model entry.
        model: String,
        /// The endpoint host.
        host: String,
        /// What could not be read.
        reason: String,
    },
    /// The model's reply is not the insight JSON we asked for, even after the
    /// one repair request.
    #[error("model `{model}`{} returned unusable output: {reason}", host_text(.host))]
    BadOutput {
        /// The model entry.
        model: String,
        /// The endpoint host; empty when raised by
        /// [`crate::prompt::parse_and_ground`] alone, which has no endpoint.
        host: String,
        /// The first validation problem.
        reason: String,
    },
    /// The server does not have the model (`ollama pull` not done).
    #[error("model `{model}`: `{server_model}` is not installed at `{host}`")]
    NotFound {
        /// The model entry.
        model: String,
        /// The endpoint host.
        host: String,
        /// The model as the server names it.
        server_model: String,
    },
    /// The server's copy of the model is not the pinned one.
    #[error(
        "model `{model}` at `{host}`: digest is `{actual}`, but the region file pins `{expected}`"
    )]
    DigestMismatch {
        /// The model entry.
        model: String,
        /// The endpoint host.
        host: String,
        /// The digest pinned in the region file.
        expected: String,
        /// The digest the server reports.
        actual: String,
    },
}

fn retry_after_text(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!(" (retry after {}s)", d.as_secs()))
        .unwrap_or_default()
}

fn after_text(after: Option<Duration>) -> String {
    after
        .map(|d| format!(" ({}s)", d.as_secs_f64()))
        .unwrap_or_default()
}

fn status_text(status: Option<u16>) -> String {
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

fn host_text(host: &str) -> String {
    if host.is_empty() {
        String::new()
    } else {
        format!(" at `{host}`")
    }
}

impl ProviderError {
    /// A stable, low-cardinality label: `config`, `unreachable`, `timeout`,
    /// `rate_limited`, `server_error`, `auth`, `rejected`, `refused`,
    /// `bad_response`, `bad_output`, `not_found`, `digest_mismatch`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Config { .. } => "config",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::RateLimited { .. } => "rate_limited",
            Self::ServerError { .. } => "server_error",
            Self::Auth { .. } => "auth",
            Self::Rejected { .. } => "rejected",
            Self::Refused { .. } => "refused",
            Self::BadResponse { .. } => "bad_response",
            Self::BadOutput { .. } => "bad_output",
            Self::NotFound { .. } => "not_found",
            Self::DigestMismatch { .. } => "digest_mismatch",
        }
    }

    /// Whether the same request may succeed later: connection problems,
    /// timeouts, rate limits, server errors and cut-off responses. A bad
    /// output is not retryable: at temperature 0 the same prompt gives the same
    /// answer, so the chain should move on to the next model.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. }
            | Self::Timeout { .. }
            | Self::RateLimited { .. }
            | Self::ServerError { .. }
            | Self::BadResponse { .. } => true,
            Self::Config { .. }
            | Self::Auth { .. }
            | Self::Rejected { .. }
            | Self::Refused { .. }
            | Self::BadOutput { .. }
            | Self::NotFound { .. }
            | Self::DigestMismatch { .. } => false,
        }
    }

    /// Whether the model should not be tried again for the rest of a run: it
    /// cannot be reached, refuses our credentials, lacks the model, or serves
    /// other weights than pinned. A timeout or a bad answer says nothing about
    /// the next episode, so those do not mark a model down.
    #[must_use]
    pub fn marks_down(&self) -> bool {
        match self {
            Self::Unreachable { .. }
            | Self::Auth { .. }
            | Self::NotFound { .. }
            | Self::DigestMismatch { .. }
            | Self::Config { .. } => true,
            Self::Timeout { .. }
            | Self::RateLimited { .. }
            | Self::ServerError { .. }
            | Self::Rejected { .. }
            | Self::Refused { .. }
            | Self::BadResponse { .. }
            | Self::BadOutput { .. } => false,
        }
    }

    /// The server's `Retry-After`, for a [`Self::RateLimited`] that carried one.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The model entry the error is about.
    #[must_use]
    pub fn model(&self) -> &str {
        match self {
            Self::Config { model, .. }
            | Self::Unreachable { model, .. }
            | Self::Timeout { model, .. }
            | Self::RateLimited { model, .. }
            | Self::ServerError { model, .. }
            | Self::Auth { model, .. }
            | Self::Rejected { model, .. }
            | Self::Refused { model, .. }
            | Self::BadResponse { model, .. }
            | Self::BadOutput { model, .. }
            | Self::NotFound { model, .. }
            | Self::DigestMismatch { model, .. } => model,
        }
    }

    /// Maps an HTTP error status (with the server's message and `Retry-After`)
    /// to its variant. Shared by both providers so that a 429 means the same
    /// everywhere.
    pub(crate) fn from_status(
        model: &str,
        host: &str,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    ) -> Self {
        let (model, host) = (model.to_owned(), host.to_owned());
        match status {
            401 | 403 => Self::Auth {
                model,
                host,
                status,
                message,
            },
            // OpenAI sends "insufficient_quota" as a 429 too, but waiting does
            // not help: it is a billing problem.
            429 if message.contains("insufficient_quota") => Self::Rejected {
                model,
                host,
                status: Some(status),
                message,
            },
            429 => Self::RateLimited {
                model,
                host,
                retry_after,
                message,
            },
            408 => Self::ServerError {
                model,
                host,
                status: Some(status),
                message,
            },
            500..=599 => Self::ServerError {
                model,
                host,
                status: Some(status),
                message,
            },
            _ => Self::Rejected {
                model,
                host,
                status: Some(status),
                message,
            },
        }
    }
}

/// What a transport error (from either reqwest major) was, so that both
/// providers classify it the same way.
pub(crate) struct TransportFailure {
    /// The request or the client's own timeout struck.
    pub timeout: bool,
    /// The response body could not be read (cut off) or decoded.
    pub body: bool,
    /// The error and its sources, joined.
    pub detail: String,
}

impl TransportFailure {
    /// The variant for this failure of `model` at `host`.
    pub(crate) fn into_error(self, model: &str, host: &str) -> ProviderError {
        let (model, host) = (model.to_owned(), host.to_owned());
        if self.timeout {
            ProviderError::Timeout {
                model,
                host,
                after: None,
            }
        } else if self.body {
            ProviderError::BadResponse {
                model,
                host,
                reason: self.detail,
            }
        } else {
            // Connect errors and anything else on the way (reset, TLS, a
            // redirect refused by the egress guard) mean the model was not
            // reached.
            ProviderError::Unreachable {
                model,
                host,
                reason: self.detail,
            }
        }
    }
}

/// An error and its chain of sources as one line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Parses an HTTP `Retry-After` value: delta-seconds, or an HTTP date (then the
/// time until it, zero when already past).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Cuts a server message to a length fit for one log line.
pub(crate) fn clip(message: &str) -> String {
    const MAX: usize = 300;
    let trimmed = message.trim();
    match trimmed.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &trimmed[..i]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds_with_retryability() {
        let cases = [
            ("unauthorized", 401, "auth", false),
            ("forbidden", 403, "auth", false),
            ("not found", 404, "rejected", false),
            ("rate limited", 429, "rate_limited", true),
            ("server error", 500, "server_error", true),
            ("bad gateway", 502, "server_error", true),
            ("request timeout", 408, "server_error", true),
        ];
        for (name, status, kind, retryable) in cases {
            let e = ProviderError::from_status("gpt", "api.example:443", status, "m".into(), None);
            assert_eq!(e.kind(), kind, "case `{name}`");
            assert_eq!(e.is_retryable(), retryable, "case `{name}`");
            assert!(e.to_string().contains("`gpt`"), "case `{name}`: {e}");
            assert!(
                e.to_string().contains("api.example:443"),
                "case `{name}`: {e}"
            );
        }
    }

    #[test]
    fn insufficient_quota_is_not_a_rate_limit() {
        let e = ProviderError::from_status(
            "gpt",
            "h",
            429,
            "insufficient_quota: You exceeded your current quota".into(),
            Some(Duration::from_secs(3)),
        );
        assert_eq!(e.kind(), "rejected");
        assert!(!e.is_retryable());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 17 "), Some(Duration::from_secs(17)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn bad_output_without_host_reads_cleanly() {
        let e = ProviderError::BadOutput {
            model: "qwen".into(),
            host: String::new(),
            reason: "not JSON".into(),
        };
        assert_eq!(
            e.to_string(),
            "model `qwen` returned unusable output: not JSON"
        );
    }
}
