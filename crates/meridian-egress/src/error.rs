//! The crate's one error type and the stable failure kinds it maps to.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use meridian_core::RegionId;
use url::Url;

use crate::resolver::ResolveFailure;
use meridian_core::net::AddressClass;

/// Everything that can go wrong on the way out. Every variant names the URL,
/// host or entry concerned, so its `Display` alone says what and where.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// An `[egress] allow` entry could not be parsed.
    #[error("egress allow entry `{entry}` is invalid: {reason}")]
    InvalidRule {
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (in practice: the TLS set-up).
    #[error("could not build the egress HTTP client of region `{region}`: {detail}")]
    ClientBuild {
        /// The region whose client it was.
        region: RegionId,
        /// The underlying error chain.
        detail: String,
    },
    /// The URL's scheme is not `http` or `https`.
    #[error("refused `{url}`: only http and https URLs may be fetched")]
    RefusedScheme {
        /// The refused URL.
        url: Box<Url>,
    },
    /// The URL has no host (or no port could be inferred).
    #[error("refused `{url}`: the URL has no host")]
    MissingHost {
        /// The refused URL.
        url: Box<Url>,
    },
    /// The host (and port) is not on the region's allow-list.
    #[error("refused `{url}`: host `{host}` is not in the region's egress allow-list")]
    HostNotAllowed {
        /// The refused URL.
        url: Box<Url>,
        /// The host as compared against the list.
        host: String,
    },
    /// The host is (or resolved to) an address in a range the rules do not open.
    #[error(
        "refused `{url}`: host `{host}` is at {class} address {addr}, which the region's egress rules do not allow"
    )]
    AddressRefused {
        /// The URL being fetched.
        url: Box<Url>,
        /// The host name or IP literal of the URL.
        host: String,
        /// The refused address.
        addr: IpAddr,
        /// Its range.
        class: AddressClass,
    },
    /// The region's policy gate refused the request (see [`crate::RequestGate`]).
    #[error("refused `{url}`: {refusal}")]
    PolicyDenied {
        /// The refused URL.
        url: Box<Url>,
        /// The determining policies and why.
        refusal: crate::gate::GateRefusal,
    },
    /// Name resolution failed or returned nothing.
    #[error("DNS lookup for `{url}` failed: {detail}")]
    Dns {
        /// The URL being fetched.
        url: Box<Url>,
        /// What the resolver said.
        detail: String,
    },
    /// The TCP connection failed, or broke while the body was read.
    #[error("could not connect to `{url}`: {detail}")]
    Connect {
        /// The URL being fetched.
        url: Box<Url>,
        /// The underlying error chain.
        detail: String,
    },
    /// The TLS handshake or certificate check failed.
    #[error("TLS failure for `{url}`: {detail}")]
    Tls {
        /// The URL being fetched.
        url: Box<Url>,
        /// The underlying error chain.
        detail: String,
    },
    /// The connect or total timeout elapsed.
    #[error("timed out fetching `{url}`")]
    Timeout {
        /// The URL being fetched (the first one, when the total deadline ran out across redirects).
        url: Box<Url>,
    },
    /// The body (after decompression) exceeds the byte cap.
    #[error("response body of `{url}` exceeds the cap of {limit} bytes")]
    TooLarge {
        /// The URL whose body was too large.
        url: Box<Url>,
        /// The cap in force.
        limit: u64,
    },
    /// 404.
    #[error("`{url}` was not found (HTTP 404)")]
    NotFound {
        /// The URL that answered 404.
        url: Box<Url>,
    },
    /// 410: the resource is gone for good.
    #[error("`{url}` is gone (HTTP 410)")]
    Gone {
        /// The URL that answered 410.
        url: Box<Url>,
    },
    /// 429, with the server's `Retry-After` when it sent one.
    #[error("`{url}` is rate limiting us (HTTP 429){}", fmt_retry_after(*.retry_after))]
    RateLimited {
        /// The URL that answered 429.
        url: Box<Url>,
        /// How long the server asked us to wait.
        retry_after: Option<Duration>,
    },
    /// Any other unsuccessful status.
    #[error("`{url}` answered HTTP {status}{}", fmt_retry_after(*.retry_after))]
    HttpStatus {
        /// The URL that answered.
        url: Box<Url>,
        /// The status code.
        status: u16,
        /// `Retry-After`, which servers also send with 503.
        retry_after: Option<Duration>,
    },
    /// A redirect led back to a URL already visited.
    #[error("redirect loop: `{url}` redirects to `{location}`, which was already visited")]
    RedirectLoop {
        /// The URL that redirected.
        url: Box<Url>,
        /// Where it pointed.
        location: Box<Url>,
    },
    /// More redirects than allowed.
    #[error("`{url}` redirected more than {max} times")]
    TooManyRedirects {
        /// The URL first requested.
        url: Box<Url>,
        /// The limit in force.
        max: usize,
    },
    /// A redirect without a usable `Location`.
    #[error("`{url}` sent an unusable redirect (HTTP {status}): {reason}")]
    BadRedirect {
        /// The URL that redirected.
        url: Box<Url>,
        /// Its status.
        status: u16,
        /// What was wrong with the `Location`.
        reason: String,
    },
    /// The body could not be decoded (bad `Content-Encoding` data).
    #[error("could not decode the response body of `{url}`: {detail}")]
    Decode {
        /// The URL being fetched.
        url: Box<Url>,
        /// The underlying error chain.
        detail: String,
    },
}

fn fmt_retry_after(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!("; retry after {} s", d.as_secs()))
        .unwrap_or_default()
}

/// Stable, low-cardinality failure kinds for logs, metrics and the audit report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// A connect or total timeout.
    Timeout,
    /// TLS handshake or certificate failure (also: the client could not be built).
    Tls,
    /// The body exceeded its cap.
    TooLarge,
    /// HTTP 404.
    NotFound,
    /// HTTP 410.
    Gone,
    /// HTTP 429.
    RateLimited,
    /// The egress rules or the region's policy gate refused the URL, host or
    /// address (also: an invalid rule).
    RefusedByPolicy,
    /// TCP connect failure or a broken transfer.
    Connect,
    /// Name resolution failed.
    Dns,
    /// Any other unsuccessful HTTP status.
    Http,
    /// A redirect loop or too many redirects.
    RedirectLoop,
    /// A response that could not be understood (bad redirect, undecodable body).
    Unparseable,
}

impl FailureKind {
    /// The stable name: `timeout`, `tls`, `too_large`, `not_found`, `gone`,
    /// `rate_limited`, `refused_by_policy`, `connect`, `dns`, `http_status`,
    /// `redirect_loop`, `unparseable`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Tls => "tls",
            Self::TooLarge => "too_large",
            Self::NotFound => "not_found",
            Self::Gone => "gone",
            Self::RateLimited => "rate_limited",
            Self::RefusedByPolicy => "refused_by_policy",
            Self::Connect => "connect",
            Self::Dns => "dns",
            Self::Http => "http_status",
            Self::RedirectLoop => "redirect_loop",
            Self::Unparseable => "unparseable",
        }
    }

    /// Whether trying again later may succeed. Coarse: [`EgressError::is_retryable`]
    /// also looks at the status code.
    #[must_use]
    pub fn is_retryable(self) -> bool {
        match self {
            Self::Timeout | Self::RateLimited | Self::Connect | Self::Dns | Self::Http => true,
            Self::Tls
            | Self::TooLarge
            | Self::NotFound
            | Self::Gone
            | Self::RefusedByPolicy
            | Self::RedirectLoop
            | Self::Unparseable => false,
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EgressError {
    /// The stable failure kind.
    #[must_use]
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::InvalidRule { .. }
            | Self::RefusedScheme { .. }
            | Self::MissingHost { .. }
            | Self::HostNotAllowed { .. }
            | Self::AddressRefused { .. }
            | Self::PolicyDenied { .. } => FailureKind::RefusedByPolicy,
            Self::ClientBuild { .. } | Self::Tls { .. } => FailureKind::Tls,
            Self::Dns { .. } => FailureKind::Dns,
            Self::Connect { .. } => FailureKind::Connect,
            Self::Timeout { .. } => FailureKind::Timeout,
            Self::TooLarge { .. } => FailureKind::TooLarge,
            Self::NotFound { .. } => FailureKind::NotFound,
            Self::Gone { .. } => FailureKind::Gone,
            Self::RateLimited { .. } => FailureKind::RateLimited,
            Self::HttpStatus { .. } => FailureKind::Http,
            Self::RedirectLoop { .. } | Self::TooManyRedirects { .. } => FailureKind::RedirectLoop,
            Self::BadRedirect { .. } | Self::Decode { .. } => FailureKind::Unparseable,
        }
    }

    /// Whether trying again later may succeed: like [`FailureKind::is_retryable`],
    /// but an HTTP status is retryable only when it is 408 or 5xx.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::HttpStatus { status, .. } => *status == 408 || *status >= 500,
            other => other.kind().is_retryable(),
        }
    }

    /// How loud to log it: an operator must act on a broken rule or client
    /// (ERROR); everything else is a per-URL failure the pipeline recovers from (WARN).
    #[must_use]
    pub fn level(&self) -> tracing::Level {
        match self {
            Self::InvalidRule { .. } | Self::ClientBuild { .. } => tracing::Level::ERROR,
            _ => tracing::Level::WARN,
        }
    }

    /// The server's `Retry-After`, for 429 and other statuses that carried one.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::HttpStatus { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Maps a reqwest failure for `url` to a variant.
    pub(crate) fn from_reqwest(url: &Url, err: &reqwest::Error) -> Self {
        let url = Box::new(url.clone());
        // The resolver guard's verdict travels inside reqwest's connect error.
        if let Some(failure) = find_in_chain::<ResolveFailure>(err) {
            return match failure {
                ResolveFailure::Refused { host, addr, class } => Self::AddressRefused {
                    url,
                    host: host.clone(),
                    addr: *addr,
                    class: *class,
                },
                ResolveFailure::NotAllowed { host } => Self::HostNotAllowed {
                    url,
                    host: host.clone(),
                },
                ResolveFailure::Lookup { .. } | ResolveFailure::NoAddresses { .. } => Self::Dns {
                    url,
                    detail: failure.to_string(),
                },
            };
        }
        let detail = source_chain(err);
        if err.is_timeout() {
            Self::Timeout { url }
        } else if find_in_chain::<rustls::Error>(err).is_some() {
            Self::Tls { url, detail }
        } else if err.is_dns() {
            Self::Dns { url, detail }
        } else if err.is_decode() {
            Self::Decode { url, detail }
        } else {
            // Connect failures, resets mid-body, protocol errors: all "the
            // transfer did not happen", which a later retry may fix.
            Self::Connect { url, detail }
        }
    }
}

/// Finds an error of type `T` in the source chain, looking inside `io::Error`s
/// too (their `source()` skips the wrapped error, which is where rustls and
/// hyper put theirs).
fn find_in_chain<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current: Option<&'a (dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(io::Error::get_ref)
            && let Some(found) = find_in_chain::<T>(inner)
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The causes below reqwest's own message ("error sending request for url …",
/// which would repeat the URL), joined with `: `.
fn source_chain(err: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut current = err.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !out.ends_with(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            let _ = write!(out, "{text}");
        }
        current = e.source();
    }
    if out.is_empty() { err.to_string() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_have_stable_names() {
        let cases = [
            (FailureKind::Timeout, "timeout", true),
            (FailureKind::Tls, "tls", false),
            (FailureKind::TooLarge, "too_large", false),
            (FailureKind::NotFound, "not_found", false),
            (FailureKind::Gone, "gone", false),
            (FailureKind::RateLimited, "rate_limited", true),
            (FailureKind::RefusedByPolicy, "refused_by_policy", false),
            (FailureKind::Connect, "connect", true),
            (FailureKind::Dns, "dns", true),
            (FailureKind::Http, "http_status", true),
            (FailureKind::RedirectLoop, "redirect_loop", false),
            (FailureKind::Unparseable, "unparseable", false),
        ];
        for (kind, name, retryable) in cases {
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.is_retryable(), retryable, "kind `{name}`");
        }
    }

    #[test]
    fn http_status_is_retryable_only_for_server_errors() {
        let url = Url::parse("https://feeds.example.org/rss").unwrap();
        let err = |status| EgressError::HttpStatus {
            url: Box::new(url.clone()),
            status,
            retry_after: None,
        };
        assert!(err(503).is_retryable());
        assert!(err(408).is_retryable());
        assert!(!err(403).is_retryable());
        let limited = EgressError::RateLimited {
            url: Box::new(url),
            retry_after: Some(Duration::from_secs(120)),
        };
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(120)));
        assert!(
            limited.to_string().contains("retry after 120 s"),
            "{limited}"
        );
        assert!(
            limited
                .to_string()
                .contains("https://feeds.example.org/rss"),
            "{limited}"
        );
    }
}
