//! What a fetch sends (validators) and returns (outcome, cache hints).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{CACHE_CONTROL, EXPIRES, HeaderMap, RETRY_AFTER};
use url::Url;

/// Conditional-GET validators saved from an earlier fetch of the same URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// Sent as `If-None-Match`.
    pub etag: Option<String>,
    /// Sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// The result of a successful `get`.
#[derive(Debug, Clone)]
pub enum FetchOutcome {
    /// HTTP 304: the validators still match; nothing to parse.
    NotModified {
        /// The URL that answered 304, after redirects.
        final_url: Url,
        /// Caching headers of the 304.
        cache: CacheHints,
    },
    /// A 2xx response with its body.
    Fetched(Fetched),
}

impl FetchOutcome {
    /// The URL that answered, after redirects.
    #[must_use]
    pub fn final_url(&self) -> &Url {
        match self {
            Self::NotModified { final_url, .. } => final_url,
            Self::Fetched(fetched) => &fetched.final_url,
        }
    }

    /// The caching headers of the final response.
    #[must_use]
    pub fn cache(&self) -> &CacheHints {
        match self {
            Self::NotModified { cache, .. } => cache,
            Self::Fetched(fetched) => &fetched.cache,
        }
    }
}

/// A fetched resource.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL that answered, after redirects.
    pub final_url: Url,
    /// The 2xx status.
    pub status: u16,
    /// The body, decompressed, at most the cap in force.
    pub body: Bytes,
    /// `Content-Type` as sent.
    pub content_type: Option<String>,
    /// `ETag`, to send back as [`Validators::etag`].
    pub etag: Option<String>,
    /// `Last-Modified`, to send back as [`Validators::last_modified`].
    pub last_modified: Option<String>,
    /// Caching headers.
    pub cache: CacheHints,
    /// Set when the request was moved permanently: the first redirects were all
    /// 301/308, and this is where that chain of permanent moves ended. Callers
    /// update the stored URL to it.
    pub permanent_redirect: Option<Url>,
}

/// Caching and back-off headers, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheHints {
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// `Expires`, when it is a valid HTTP date.
    pub expires: Option<DateTime<Utc>>,
    /// `Retry-After` (seconds or an HTTP date, counted from when the response arrived).
    pub retry_after: Option<Duration>,
}

impl CacheHints {
    /// Parses the headers of a response received at `now`.
    pub(crate) fn from_headers(headers: &HeaderMap, now: SystemTime) -> Self {
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
        Self {
            max_age: text(CACHE_CONTROL).and_then(parse_max_age),
            expires: text(EXPIRES)
                .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
                .map(DateTime::<Utc>::from),
            retry_after: text(RETRY_AFTER).and_then(|v| parse_retry_after(v, now)),
        }
    }
}

/// `max-age=N` from a `Cache-Control` value (directive names are case-insensitive).
fn parse_max_age(value: &str) -> Option<Duration> {
    value.split(',').find_map(|directive| {
        let (name, arg) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let arg = arg.trim().trim_matches('"');
        arg.parse::<u64>().ok().map(Duration::from_secs)
    })
}

/// `Retry-After`: delay-seconds or an HTTP date; a date in the past means "now".
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn cache_control_max_age_is_found_among_other_directives() {
        let cases = [
            ("plain", "max-age=300", Some(300)),
            ("with others", "public, no-transform, max-age=60", Some(60)),
            ("upper case", "Public, MAX-AGE=90", Some(90)),
            ("quoted", "max-age=\"45\"", Some(45)),
            ("s-maxage only", "s-maxage=10", None),
            ("garbage", "max-age=soon", None),
            ("no-cache", "no-cache", None),
        ];
        for (case, value, expected) in cases {
            assert_eq!(
                parse_max_age(value),
                expected.map(Duration::from_secs),
                "case `{case}`"
            );
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let cases = [
            ("seconds", "120", Some(120)),
            ("date ahead", "Wed, 21 Oct 2015 07:30:00 GMT", Some(120)),
            ("date passed", "Wed, 21 Oct 2015 07:00:00 GMT", Some(0)),
            (
                "rfc 850 date",
                "Wednesday, 21-Oct-15 07:29:00 GMT",
                Some(60),
            ),
            ("garbage", "later", None),
            ("negative", "-5", None),
        ];
        for (case, value, expected) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                expected.map(Duration::from_secs),
                "case `{case}`"
            );
        }
    }

    #[test]
    fn hints_are_read_from_headers() {
        let now = SystemTime::UNIX_EPOCH;
        let hints = CacheHints::from_headers(
            &headers(&[
                (CACHE_CONTROL, "max-age=600"),
                (EXPIRES, "Thu, 01 Jan 1970 00:10:00 GMT"),
                (RETRY_AFTER, "30"),
            ]),
            now,
        );
        assert_eq!(hints.max_age, Some(Duration::from_secs(600)));
        assert_eq!(hints.expires.map(|e| e.timestamp()), Some(600));
        assert_eq!(hints.retry_after, Some(Duration::from_secs(30)));

        let invalid = CacheHints::from_headers(&headers(&[(EXPIRES, "0")]), now);
        assert_eq!(invalid, CacheHints::default());
    }
}
