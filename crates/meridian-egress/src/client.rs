//! The region's HTTP client and its guarded `get`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use meridian_core::RegionId;
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED, LOCATION,
};
use url::{Host, Url};

use crate::error::{EgressError, FailureKind};
use crate::gate::{RequestGate, RequestHop, RequestOutcome};
use crate::outcome::{CacheHints, FetchOutcome, Fetched, Validators};
use crate::resolver::{self, GuardedResolver, LegacyGuardedResolver};
use crate::rules::EgressRules;
use meridian_core::net::{AddressClass, classify};

/// Bounds applied to every request of a region's client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressOptions {
    /// Time allowed to establish a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Deadline for a whole `get`: every redirect hop and the full body.
    pub total_timeout: Duration,
    /// Default cap on a (decompressed) body; `get` may lower or raise it per call.
    pub max_body_bytes: u64,
    /// `User-Agent`, e.g. `Meridian/0.1 (+https://contact-url)`, so feed hosts know who polls them.
    pub user_agent: String,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// Fixed DNS answers, like curl's `--resolve`: each host name resolves to
    /// the given address (port included) instead of asking DNS. The answer is
    /// still screened by the rules, so the host must be allowed. The demo uses
    /// this to serve its sample podcasts under a stable `.localhost` name.
    pub resolve: Vec<(String, std::net::SocketAddr)>,
}

impl Default for EgressOptions {
    /// 10 s connect, 60 s total, 50 MiB, 5 redirects, `Meridian/<version> (+https://github.com/meridian-kit/meridian)`.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(60),
            max_body_bytes: 50 * 1024 * 1024,
            user_agent: format!(
                "Meridian/{} (+https://github.com/meridian-kit/meridian)",
                env!("CARGO_PKG_VERSION")
            ),
            max_redirects: 5,
            resolve: Vec::new(),
        }
    }
}

/// The only outbound HTTP client of a region. Cheap to clone (an `Arc` inside);
/// build one per region, once.
#[derive(Debug, Clone)]
pub struct EgressClient {
    inner: Arc<Inner>,
    /// The region's policy gate, asked about every hop (see [`crate::RequestGate`]).
    gate: Option<Arc<dyn RequestGate>>,
}

#[derive(Debug)]
struct Inner {
    region: RegionId,
    /// Shared with the resolver guard inside `client`.
    rules: Arc<EgressRules>,
    /// Fixed DNS answers, shared with the resolver guard.
    overrides: Arc<HashMap<String, SocketAddr>>,
    options: EgressOptions,
    /// The same guard on reqwest 0.12, for `ollama-rs` (see [`EgressClient::legacy_reqwest_client`]).
    legacy: reqwest012::Client,
    /// Holds the connection pool; built with the guarded resolver, no proxy,
    /// no automatic redirects, the timeouts and the user agent.
    client: reqwest::Client,
}

impl EgressClient {
    /// Builds the region's client.
    ///
    /// # Errors
    /// [`EgressError::ClientBuild`] when reqwest cannot build the client
    /// (in practice a TLS set-up failure, or a user agent that is not a valid header).
    pub fn new(
        region: RegionId,
        rules: EgressRules,
        options: EgressOptions,
    ) -> Result<Self, EgressError> {
        // reqwest is built with `rustls-no-provider`, and building a client
        // without a process-wide rustls provider panics. This is the one place
        // that installs ring; doing it here (not only in `main`) keeps tests and
        // tools that build a client directly working. A second call returns
        // `Err` because a provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let rules = Arc::new(rules);
        let overrides: Arc<HashMap<String, SocketAddr>> = Arc::new(
            options
                .resolve
                .iter()
                .map(|(host, addr)| (host.to_ascii_lowercase(), *addr))
                .collect(),
        );
        #[expect(
            clippy::disallowed_methods,
            reason = "the one place a region's HTTP client is built, with the guarded resolver"
        )]
        let builder = reqwest::Client::builder();
        let client = builder
            .dns_resolver(Arc::new(GuardedResolver {
                rules: Arc::clone(&rules),
                overrides: Arc::clone(&overrides),
            }))
            // A proxy would resolve names itself, behind our resolver's back.
            .no_proxy()
            // Redirects are followed in `get`, so that every hop is re-checked.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(options.connect_timeout)
            .timeout(options.total_timeout)
            .user_agent(options.user_agent.as_str())
            .gzip(true)
            .build()
            .map_err(|e| EgressError::ClientBuild {
                region: region.clone(),
                detail: error_text(&e),
            })?;
        let guard = GuardedResolver {
            rules: Arc::clone(&rules),
            overrides: Arc::clone(&overrides),
        };
        #[expect(
            clippy::disallowed_methods,
            reason = "the reqwest 0.12 twin of the region's client, for ollama-rs, with the same guard"
        )]
        let legacy_builder = reqwest012::Client::builder();
        let legacy = legacy_builder
            .dns_resolver(Arc::new(LegacyGuardedResolver(guard)))
            .no_proxy()
            .redirect(reqwest012::redirect::Policy::none())
            .referer(false)
            .connect_timeout(options.connect_timeout)
            .timeout(options.total_timeout)
            .user_agent(options.user_agent.as_str())
            .build()
            .map_err(|e| EgressError::ClientBuild {
                region: region.clone(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                region,
                rules,
                overrides,
                legacy,
                options,
                client,
            }),
            gate: None,
        })
    }

    /// The same client, asking `gate` about every request and redirect hop
    /// before it is sent, and telling it how each ended.
    #[must_use]
    pub fn with_gate(mut self, gate: Arc<dyn RequestGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Whether a policy gate is set.
    #[must_use]
    pub fn is_gated(&self) -> bool {
        self.gate.is_some()
    }

    /// The region this client belongs to.
    #[must_use]
    pub fn region(&self) -> &RegionId {
        &self.inner.region
    }

    /// The rules this client enforces.
    #[must_use]
    pub fn rules(&self) -> &EgressRules {
        &self.inner.rules
    }

    /// The options this client was built with.
    #[must_use]
    pub fn options(&self) -> &EgressOptions {
        &self.inner.options
    }

    /// The underlying `reqwest::Client` (guarded resolver, no proxy, no
    /// automatic redirects, timeouts, user agent) for API clients such as
    /// async-openai that need one.
    ///
    /// Host names it connects to still pass the resolver guard, but IP-literal
    /// URLs never reach a resolver: callers must call
    /// [`EgressRules::check_url`] on every URL they hand it.
    #[must_use]
    pub fn reqwest_client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    /// The same guarded client on reqwest 0.12, the HTTP stack `ollama-rs`
    /// is built on. Same resolver guard, timeouts and user agent; the same
    /// caveat as [`EgressClient::reqwest_client`] about IP-literal URLs.
    #[must_use]
    pub fn legacy_reqwest_client(&self) -> &reqwest012::Client {
        &self.inner.legacy
    }

    /// Fetches `url` with a conditional GET.
    ///
    /// Redirects are followed here, each hop parsed relative to the last,
    /// limited to http/https and checked against the rules again (and the
    /// resolver checks the addresses of each host). The body is read as a
    /// stream and refused as soon as it (after gzip decoding) passes
    /// `max_body_bytes`, or the default cap from [`EgressOptions`].
    /// The whole call, redirects included, is bounded by `total_timeout`.
    ///
    /// # Errors
    /// Policy refusals before any request ([`EgressError::RefusedScheme`],
    /// [`EgressError::HostNotAllowed`], [`EgressError::AddressRefused`]), transport
    /// failures, [`EgressError::TooLarge`], one variant per mapped status
    /// (404, 410, 429, other non-2xx) and redirect failures.
    /// [`EgressError::kind`] gives the stable failure kind.
    #[tracing::instrument(name = "egress.get", skip_all, fields(region = %self.inner.region, url = %url))]
    pub async fn get(
        &self,
        url: &Url,
        validators: &Validators,
        max_body_bytes: Option<u64>,
    ) -> Result<FetchOutcome, EgressError> {
        let cap = max_body_bytes.unwrap_or(self.inner.options.max_body_bytes);
        let deadline = self.inner.options.total_timeout;
        // The hop in flight when the deadline passes, so its end is recorded.
        let in_flight: std::sync::Mutex<Option<(Url, usize, Instant)>> =
            std::sync::Mutex::new(None);
        match tokio::time::timeout(deadline, self.follow(url, validators, cap, &in_flight)).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => {
                let pending = in_flight.lock().ok().and_then(|mut p| p.take());
                if let (Some(gate), Some((hop_url, redirect, started))) = (&self.gate, pending) {
                    let (host, port) = host_port(&hop_url);
                    let hop = self.hop(&hop_url, &host, port, true, redirect);
                    gate.completed(&RequestOutcome {
                        hop,
                        status: None,
                        failure: Some(FailureKind::Timeout),
                        bytes: 0,
                        elapsed_ms: millis(started),
                    })
                    .await;
                }
                Err(EgressError::Timeout {
                    url: Box::new(url.clone()),
                })
            }
        }
    }

    /// A hop as the gate sees it.
    fn hop<'a>(
        &self,
        url: &'a Url,
        host: &'a str,
        port: u16,
        admitted: bool,
        redirect: usize,
    ) -> RequestHop<'a> {
        RequestHop {
            url,
            host,
            port,
            private: self.known_private(host),
            admitted,
            redirect,
        }
    }

    /// Whether `host` is private without a DNS lookup: an IP literal or a
    /// fixed answer outside the public range, or a `localhost` name.
    fn known_private(&self, host: &str) -> bool {
        let public = |ip: std::net::IpAddr| classify(ip) == AddressClass::Public;
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return !public(ip);
        }
        if let Some(addr) = self.inner.overrides.get(host) {
            return !public(addr.ip());
        }
        host == "localhost" || host.ends_with(".localhost")
    }

    /// Asks the gate about one hop, after the allow-list gave `verdict`: the
    /// allow-list's refusal, else the gate's, else `Ok`.
    async fn authorize(
        &self,
        url: &Url,
        redirect: usize,
        verdict: Result<(), EgressError>,
    ) -> Result<(), EgressError> {
        let Some(gate) = &self.gate else {
            return verdict;
        };
        let (host, port) = host_port(url);
        // Only a refusal by the rules makes a hop "not admitted"; a DNS
        // failure while screening a wildcard host is a failed request.
        let admitted = !matches!(&verdict, Err(e) if e.kind() == FailureKind::RefusedByPolicy);
        let hop = self.hop(url, &host, port, admitted, redirect);
        match gate.authorize(&hop).await {
            Ok(()) => {
                if let Err(e) = &verdict {
                    gate.completed(&RequestOutcome {
                        hop,
                        status: None,
                        failure: Some(e.kind()),
                        bytes: 0,
                        elapsed_ms: 0,
                    })
                    .await;
                }
                verdict
            }
            Err(refusal) => Err(verdict.err().unwrap_or_else(|| EgressError::PolicyDenied {
                url: Box::new(url.clone()),
                refusal,
            })),
        }
    }

    /// Tells the gate how an authorised hop ended.
    async fn completed(
        &self,
        url: &Url,
        redirect: usize,
        started: Instant,
        result: Result<(u16, u64), FailureKind>,
    ) {
        let Some(gate) = &self.gate else {
            return;
        };
        let (host, port) = host_port(url);
        let hop = self.hop(url, &host, port, true, redirect);
        let (status, failure, bytes) = match result {
            Ok((status, bytes)) => (Some(status), None, bytes),
            Err(kind) => (None, Some(kind), 0),
        };
        gate.completed(&RequestOutcome {
            hop,
            status,
            failure,
            bytes,
            elapsed_ms: millis(started),
        })
        .await;
    }

    /// The redirect loop.
    async fn follow(
        &self,
        start: &Url,
        validators: &Validators,
        cap: u64,
        in_flight: &std::sync::Mutex<Option<(Url, usize, Instant)>>,
    ) -> Result<FetchOutcome, EgressError> {
        let conditional = conditional_headers(validators);
        let mut current = without_fragment(start);
        let mut visited = HashSet::from([current.clone()]);
        let mut permanent_redirect = None;
        let mut only_permanent_so_far = true;
        let mut hops = 0;
        loop {
            let verdict = self.admit(&current).await;
            self.authorize(&current, hops, verdict).await?;
            let started = Instant::now();
            if let Ok(mut slot) = in_flight.lock() {
                *slot = Some((current.clone(), hops, started));
            }
            let hop = self.send_hop(&current, &conditional, cap).await;
            if let Ok(mut slot) = in_flight.lock() {
                *slot = None;
            }
            let (response, body) = match hop {
                Ok(x) => {
                    let bytes = x.1.as_ref().map_or(0, |b| b.len() as u64);
                    self.completed(&current, hops, started, Ok((x.0.status.as_u16(), bytes)))
                        .await;
                    x
                }
                Err(e) => {
                    self.completed(&current, hops, started, Err(e.kind())).await;
                    return Err(e);
                }
            };
            let status = response.status;

            if is_followed_redirect(status) {
                let next = redirect_target(&current, status, &response.headers)?;
                hops += 1;
                if hops > self.inner.options.max_redirects {
                    return Err(EgressError::TooManyRedirects {
                        url: Box::new(start.clone()),
                        max: self.inner.options.max_redirects,
                    });
                }
                if !visited.insert(next.clone()) {
                    return Err(EgressError::RedirectLoop {
                        url: Box::new(current),
                        location: Box::new(next),
                    });
                }
                let permanent = matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                only_permanent_so_far &= permanent;
                if only_permanent_so_far {
                    permanent_redirect = Some(next.clone());
                }
                tracing::debug!(from = %current, to = %next, status = status.as_u16(), "Following redirect");
                current = next;
                continue;
            }

            let cache = CacheHints::from_headers(&response.headers, SystemTime::now());
            return match status.as_u16() {
                304 => Ok(FetchOutcome::NotModified {
                    final_url: current,
                    cache,
                }),
                404 => Err(EgressError::NotFound {
                    url: Box::new(current),
                }),
                410 => Err(EgressError::Gone {
                    url: Box::new(current),
                }),
                429 => Err(EgressError::RateLimited {
                    url: Box::new(current),
                    retry_after: cache.retry_after,
                }),
                200..=299 => {
                    let header = |name| {
                        response
                            .headers
                            .get(name)
                            .and_then(|v: &HeaderValue| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let content_type = header(CONTENT_TYPE);
                    let etag = header(ETAG);
                    let last_modified = header(LAST_MODIFIED);
                    let body = body.unwrap_or_default();
                    Ok(FetchOutcome::Fetched(Fetched {
                        final_url: current,
                        status: status.as_u16(),
                        body,
                        content_type,
                        etag,
                        last_modified,
                        cache,
                        permanent_redirect,
                    }))
                }
                other => Err(EgressError::HttpStatus {
                    url: Box::new(current),
                    status: other,
                    retry_after: cache.retry_after,
                }),
            };
        }
    }

    /// Sends one hop: the response head, and for a 2xx answer its body read
    /// up to `cap` (so that the hop's outcome, bytes included, is known
    /// before it is recorded).
    async fn send_hop(
        &self,
        url: &Url,
        conditional: &HeaderMap,
        cap: u64,
    ) -> Result<(Head, Option<Bytes>), EgressError> {
        let response = self
            .inner
            .client
            .get(url.clone())
            .headers(conditional.clone())
            .send()
            .await
            .map_err(|e| EgressError::from_reqwest(url, &e))?;
        let head = Head {
            status: response.status(),
            headers: response.headers().clone(),
        };
        let body = if head.status.is_success() {
            Some(read_capped(url, response, cap).await?)
        } else {
            None
        };
        Ok((head, body))
    }

    /// The checks before a request: the rules, and for a host reached through
    /// a wildcard on a port its explicit entry does not cover, a look at its
    /// addresses (the resolver only sees the name, and would treat it as named).
    async fn admit(&self, url: &Url) -> Result<(), EgressError> {
        let rules = &self.inner.rules;
        let grant = rules.grant(url)?;
        if let Some(Host::Domain(host)) = url.host()
            && !grant.named
            && rules.names_domain(host)
        {
            let addrs = resolver::lookup(&self.inner.overrides, host)
                .await
                .map_err(|e| EgressError::Dns {
                    url: Box::new(url.clone()),
                    detail: e.to_string(),
                })?;
            resolver::screen(rules, host, false, addrs).map_err(|e| match e {
                resolver::ResolveFailure::Refused { host, addr, class } => {
                    EgressError::AddressRefused {
                        url: Box::new(url.clone()),
                        host,
                        addr,
                        class,
                    }
                }
                other => EgressError::Dns {
                    url: Box::new(url.clone()),
                    detail: other.to_string(),
                },
            })?;
        }
        Ok(())
    }
}

/// The status and headers of a hop's response.
struct Head {
    status: StatusCode,
    headers: HeaderMap,
}

/// The host (lower case, IPv6 without brackets) and port of a URL; empty and
/// 0 when it has none (such a URL is refused by the rules).
fn host_port(url: &Url) -> (String, u16) {
    let host = match url.host() {
        Some(Host::Ipv6(ip)) => ip.to_string(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Domain(d)) => d.to_ascii_lowercase(),
        None => String::new(),
    };
    (host, url.port_or_known_default().unwrap_or(0))
}

fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn conditional_headers(validators: &Validators) -> HeaderMap {
    let mut headers = HeaderMap::new();
    // A stored validator that is not a valid header value (it came from a
    // server) is dropped: an unconditional GET is the safe fallback.
    let pairs = [
        (IF_NONE_MATCH, &validators.etag),
        (IF_MODIFIED_SINCE, &validators.last_modified),
    ];
    for (name, value) in pairs {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers
}

fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn redirect_target(
    current: &Url,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<Url, EgressError> {
    let bad = |reason: String| EgressError::BadRedirect {
        url: Box::new(current.clone()),
        status: status.as_u16(),
        reason,
    };
    let location = headers
        .get(LOCATION)
        .ok_or_else(|| bad("no `Location` header".to_owned()))?
        .to_str()
        .map_err(|_| bad("`Location` is not visible ASCII".to_owned()))?;
    let next = current
        .join(location)
        .map_err(|e| bad(format!("`Location: {location}` is not a URL: {e}")))?;
    Ok(without_fragment(&next))
}

fn without_fragment(url: &Url) -> Url {
    let mut url = url.clone();
    url.set_fragment(None);
    url
}

/// Reads the body, counting decoded bytes, and stops at the cap.
async fn read_capped(
    url: &Url,
    mut response: reqwest::Response,
    cap: u64,
) -> Result<Bytes, EgressError> {
    let too_large = || EgressError::TooLarge {
        url: Box::new(url.clone()),
        limit: cap,
    };
    // reqwest drops `Content-Length` when it decodes gzip, so a length here is
    // the length of the bytes we would keep.
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|len| len > cap) {
        return Err(too_large());
    }
    let initial = usize::try_from(announced.unwrap_or(0).min(cap)).unwrap_or(0);
    let mut body = BytesMut::with_capacity(initial);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| EgressError::from_reqwest(url, &e))?
    {
        let len = u64::try_from(body.len() + chunk.len()).unwrap_or(u64::MAX);
        if len > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
