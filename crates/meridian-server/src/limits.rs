//! Limits at the door: subscribe rate limits per client IP and per address,
//! the cap on query strings, the deadline for a request's body, and the
//! deadline for answers of reading routes (connections themselves are
//! limited in [`crate::connections`]).
//!
//! The rate limits are fixed windows kept in memory, per process, in a map
//! of at most [`MAX_TRACKED`] keys: when it is full, expired windows are
//! dropped first, then the oldest. A refused request gets `429 Too Many
//! Requests` with `Retry-After` (seconds until its window ends). Several
//! replicas each count on their own, which bounds a client at replicas × the
//! limit; that is enough to stop a script from mail-bombing an address
//! through the confirmation email, which is what these limits are for.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::metrics::Metrics;

/// Keys (IPs and addresses together) tracked at most.
pub const MAX_TRACKED: usize = 10_000;
/// Longest query string accepted, bytes (`414 URI Too Long` beyond). Link
/// tokens are about 150 bytes.
pub const MAX_QUERY_BYTES: usize = 2048;

/// How many subscribe requests a client IP and an address may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeLimits {
    /// Requests per client IP per window.
    pub per_ip: u32,
    /// Requests naming one address per window.
    pub per_address: u32,
    /// The window.
    pub window: Duration,
}

impl Default for SubscribeLimits {
    /// 20 requests per IP and 5 per address in 15 minutes.
    fn default() -> Self {
        Self {
            per_ip: 20,
            per_address: 5,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Which limit refused a request, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// `ip` or `address`.
    pub limit: &'static str,
    /// Seconds until the window ends (at least 1).
    pub retry_after: u64,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": "rate_limited",
            "detail": format!("too many subscribe requests from this {}; try again in {} s", if self.limit == "ip" { "client" } else { "address" }, self.retry_after),
        });
        let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after));
        response
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: i64,
    count: u32,
}

/// The subscribe rate limiter of one process.
#[derive(Debug, Default)]
pub struct RateLimiter {
    limits: SubscribeLimits,
    windows: Mutex<HashMap<String, Window>>,
}

impl RateLimiter {
    /// A limiter with `limits`.
    #[must_use]
    pub fn new(limits: SubscribeLimits) -> Self {
        Self {
            limits,
            windows: Mutex::default(),
        }
    }

    /// Counts a subscribe request from `ip` (when known) for `address` at
    /// `now` (Unix seconds), or says which limit refuses it. A refused
    /// request still counts against its keys.
    ///
    /// # Errors
    /// [`Refused`] when a limit is reached.
    pub fn check(&self, ip: Option<IpAddr>, address: &str, now: i64) -> Result<(), Refused> {
        let window = i64::try_from(self.limits.window.as_secs())
            .unwrap_or(i64::MAX)
            .max(1);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let mut keys = vec![(
            "address",
            format!("a:{}", address.to_ascii_lowercase()),
            self.limits.per_address,
        )];
        if let Some(ip) = ip {
            keys.insert(0, ("ip", format!("i:{ip}"), self.limits.per_ip));
        }
        let mut refused = None;
        for (limit, key, max) in keys {
            if !windows.contains_key(&key) && windows.len() >= MAX_TRACKED {
                windows.retain(|_, w| now - w.started < window);
                if windows.len() >= MAX_TRACKED
                    && let Some(oldest) = windows
                        .iter()
                        .min_by_key(|(_, w)| w.started)
                        .map(|(k, _)| k.clone())
                {
                    windows.remove(&oldest);
                }
            }
            let w = windows.entry(key).or_insert(Window {
                started: now,
                count: 0,
            });
            if now - w.started >= window {
                *w = Window {
                    started: now,
                    count: 0,
                };
            }
            w.count = w.count.saturating_add(1);
            if w.count > max && refused.is_none() {
                refused = Some(Refused {
                    limit,
                    retry_after: u64::try_from(w.started + window - now).unwrap_or(1).max(1),
                });
            }
        }
        refused.map_or(Ok(()), Err)
    }

    /// Keys tracked now.
    #[must_use]
    pub fn tracked(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The client's IP: the peer address; when the peer is a loopback or
/// private address (an ingress or proxy in front of the service), the last
/// `X-Forwarded-For` entry, which that proxy appended. `None` without a
/// socket (in-process tests).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

fn is_proxy(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded = || {
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse::<IpAddr>().ok())
                .next_back()
        };
        Ok(Self(match peer {
            Some(ip) if is_proxy(ip) => forwarded().or(Some(ip)),
            other => other,
        }))
    }
}

/// Middleware: `414 URI Too Long` for a query string over [`MAX_QUERY_BYTES`].
pub(crate) async fn cap_query(request: Request, next: Next) -> Response {
    if request
        .uri()
        .query()
        .is_some_and(|q| q.len() > MAX_QUERY_BYTES)
    {
        let body = serde_json::json!({
            "error": "uri_too_long",
            "detail": format!("the query string is longer than {MAX_QUERY_BYTES} bytes"),
        });
        return (StatusCode::URI_TOO_LONG, axum::Json(body)).into_response();
    }
    next.run(request).await
}

/// Middleware: the whole request body within [`crate::REQUEST_TIMEOUT`],
/// or `408` (a client that drips its body holds no handler); over the body
/// cap, `413`. The body is read here, before any handler, so that a
/// handler that writes never waits on the client.
pub(crate) async fn read_body_in_time(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    use axum::body::HttpBody as _;
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let too_large = || {
        crate::error::error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {} bytes",
                crate::MAX_ADMIN_BODY_BYTES
            ),
        )
    };
    // A `Content-Length` over the cap is refused before anything is read.
    if request.body().size_hint().lower() > crate::MAX_ADMIN_BODY_BYTES as u64 {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(
        crate::REQUEST_TIMEOUT,
        axum::body::to_bytes(body, crate::MAX_ADMIN_BODY_BYTES),
    )
    .await
    {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(e)) if is_length_limit(&e) => too_large(),
        Ok(Err(e)) => crate::error::error_response(
            StatusCode::BAD_REQUEST,
            format!("the request body could not be read: {e}"),
        ),
        Err(_) => {
            metrics.count_request_timeout("body_read");
            let mut response = crate::error::error_response(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    crate::REQUEST_TIMEOUT.as_secs()
                ),
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// Whether a body error is the body cap's.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Middleware of reading routes: a `GET` or `HEAD` answered within
/// [`crate::REQUEST_TIMEOUT`], else `503` with `Retry-After`. Reading
/// changes nothing, so cutting it short loses nothing. Any other method
/// (which may write) is never cut: its answer waits for the outcome, which
/// the store's own lock timeouts bound, so that no write lands after a
/// timeout was answered.
pub(crate) async fn respond_in_time(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    match tokio::time::timeout(crate::REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics.count_request_timeout("response");
            crate::error::error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "no answer within {} s; try again shortly",
                    crate::REQUEST_TIMEOUT.as_secs()
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_ip: u32, per_address: u32) -> RateLimiter {
        RateLimiter::new(SubscribeLimits {
            per_ip,
            per_address,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn an_address_is_limited_whatever_the_ip_and_the_window_resets() {
        let l = limiter(100, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let b: IpAddr = "192.0.2.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(l.check(Some(a), "x@example.org", 1000), Ok(()));
        assert_eq!(l.check(Some(b), "X@example.org", 1010), Ok(()));
        assert_eq!(
            l.check(Some(a), "x@example.org", 1030),
            Err(Refused {
                limit: "address",
                retry_after: 30
            })
        );
        assert_eq!(
            l.check(Some(a), "x@example.org", 1060),
            Ok(()),
            "a new window"
        );
    }

    #[test]
    fn an_ip_is_limited_across_addresses() {
        let l = limiter(2, 100);
        let ip: IpAddr = IpAddr::from([192, 0, 2, 7]);
        assert!(l.check(Some(ip), "a@example.org", 0).is_ok());
        assert!(l.check(Some(ip), "b@example.org", 0).is_ok());
        assert_eq!(
            l.check(Some(ip), "c@example.org", 5).map_err(|r| r.limit),
            Err("ip")
        );
        assert!(
            l.check(None, "d@example.org", 5).is_ok(),
            "no IP known: only the address counts"
        );
    }

    #[test]
    fn the_map_stays_bounded() {
        let l = limiter(1000, 1000);
        for i in 0..(MAX_TRACKED + 50) {
            let _ = l.check(
                None,
                &format!("u{i}@example.org"),
                i64::try_from(i).unwrap_or(0),
            );
        }
        assert!(l.tracked() <= MAX_TRACKED, "{}", l.tracked());
    }
}
