//! The connection layer of `meridian serve`: who gets a socket, and for how
//! long a client may keep one without using it.
//!
//! The service accepts connections itself (rather than through
//! `axum::serve`, which has neither timeouts nor limits) and serves each
//! with hyper's HTTP/1.1 connection builder. Four limits, all from the
//! region's `[server]` section ([`ConnectionLimits`]):
//!
//! - **header read** (`header_read_timeout_secs`, default 10 s): from the
//!   moment a connection opens, or the first byte of a further request
//!   arrives, the client has this long to send the whole request header;
//!   then the connection is closed. A client that sends half a request line
//!   and waits, or drips a header byte by byte, loses its socket.
//! - **keep-alive idle** (`idle_timeout_secs`, default 30 s): a connection
//!   that has been answered waits this long for its next request, then is
//!   closed (gracefully: a response still being written is finished).
//! - **connections at once** (`max_connections`, default 512) and **per
//!   client address** (`max_connections_per_ip`, default 64; an IPv6 /64
//!   counts as one address): beyond either, the new connection is answered
//!   `503` with `Retry-After` and closed at once, so refused clients hold no
//!   file descriptor and no memory.
//!
//! The request body is bounded separately, by the body-read deadline in the
//! request middleware ([`crate::limits`]); a handler's own time by the
//! response deadline of reading routes and the store's lock timeouts of
//! writing ones.
//!
//! Why not hyper's own `header_read_timeout`: hyper starts that timer as soon
//! as it waits for a request head, so on a kept-alive connection it would
//! also be the idle timeout. Here a small watchdog per connection follows
//! what the connection does (bytes read, requests in flight) and applies the
//! header-read deadline only while a header is due, the idle deadline only
//! between requests.
//!
//! When a limit bites it is counted in `/metrics`
//! (`meridian_connections_refused_total{limit}`,
//! `meridian_connection_timeouts_total{timeout}`, and the gauge
//! `meridian_connections_open`) and logged: refusals, and header-read
//! timeouts of connections that sent part of a header, at WARN at most once
//! per [`LOG_EVERY`] and kind, with the count since the last line, so that a
//! flood does not flood the log too; connections that sent nothing before
//! the header-read timeout (browsers' unused preconnections look the same)
//! and idle kept-alive connections at DEBUG.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use meridian_config::ServerSettings;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::metrics::Metrics;

/// The most a connection's read buffer grows to (hyper's default is about
/// 400 KiB); a request header must fit in it.
const MAX_READ_BUFFER_BYTES: usize = 64 * 1024;
/// A limit that bites is logged at most this often (per kind), with the
/// number of times it bit since the last line.
pub const LOG_EVERY: Duration = Duration::from_secs(10);
/// What a refused connection is told before it is closed.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: application/json\r\n\
Retry-After: 5\r\n\
Cache-Control: no-store\r\n\
Connection: close\r\n\
Content-Length: 72\r\n\
\r\n\
{\"error\":\"unavailable\",\"detail\":\"too many connections; try again later\"}";

/// The connection limits of the service (the region's `[server]` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a whole request header.
    pub header_read_timeout: Duration,
    /// Longest a kept-alive connection waits for its next request.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one client address (an IPv6 /64
    /// counts as one); `None`: no such limit.
    pub max_connections_per_ip: Option<usize>,
}

impl Default for ConnectionLimits {
    /// The defaults of the `[server]` keys: 10 s, 30 s, 512, 64.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(
                meridian_config::DEFAULT_HEADER_READ_TIMEOUT_SECS,
            ),
            idle_timeout: Duration::from_secs(meridian_config::DEFAULT_IDLE_TIMEOUT_SECS),
            max_connections: meridian_config::DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: Some(meridian_config::DEFAULT_MAX_CONNECTIONS_PER_IP),
        }
    }
}

impl ConnectionLimits {
    /// The limits a region's `[server]` section sets.
    #[must_use]
    pub fn of(server: &ServerSettings) -> Self {
        Self {
            header_read_timeout: server.header_read_timeout,
            idle_timeout: server.idle_timeout,
            max_connections: server.max_connections,
            max_connections_per_ip: server.max_connections_per_ip,
        }
    }
}

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `max_connections`.
    Global,
    /// `max_connections_per_ip`.
    PerIp,
}

impl Refusal {
    /// The metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::PerIp => "per_ip",
        }
    }
}

/// Which timeout closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// No complete request header in time.
    HeaderRead,
    /// No next request in time.
    Idle,
}

impl Timeout {
    /// The metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::HeaderRead => "header_read",
            Self::Idle => "idle",
        }
    }
}

/// The address a per-client limit counts under: an IPv4 address (also when
/// written as IPv4-mapped IPv6), or the /64 of an IPv6 address, which one
/// subscriber line usually gets whole.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// Counts open connections and admits new ones within the limits.
#[derive(Debug)]
pub(crate) struct Admission {
    limits: ConnectionLimits,
    open: Mutex<Open>,
    metrics: Arc<Metrics>,
}

/// An admitted connection's place; given back on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    admission: Arc<Admission>,
    key: IpAddr,
}

impl Admission {
    pub(crate) fn new(limits: ConnectionLimits, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: Mutex::new(Open::default()),
            metrics,
        })
    }

    /// A place for a connection from `ip`, or the limit that refuses it.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refusal> {
        let key = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.limits.max_connections {
            return Err(Refusal::Global);
        }
        let of_client = open.per_client.get(&key).copied().unwrap_or(0);
        if self
            .limits
            .max_connections_per_ip
            .is_some_and(|max| of_client >= max)
        {
            return Err(Refusal::PerIp);
        }
        open.total += 1;
        open.per_client.insert(key, of_client + 1);
        self.metrics.connection_opened();
        Ok(Permit {
            admission: Arc::clone(self),
            key,
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self
            .admission
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_client.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_client.remove(&self.key);
            }
        }
        self.admission.metrics.connection_closed();
    }
}

/// Logs one kind of event at most once per [`LOG_EVERY`], with the number
/// of events since the last line.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    /// Notes one event; `Some(n)` when a line is due now, for `n` events.
    pub(crate) fn hit(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1 += 1;
        let now = Instant::now();
        if state
            .0
            .is_none_or(|last| now.duration_since(last) >= LOG_EVERY)
        {
            let n = state.1;
            *state = (Some(now), 0);
            Some(n)
        } else {
            None
        }
    }
}

/// The log throttles of the connection layer, one per kind of event.
#[derive(Debug, Default)]
struct Logs {
    refused_global: Throttle,
    refused_per_ip: Throttle,
    header_read: Throttle,
    accept_failed: Throttle,
}

/// What a connection is doing, as far as its deadlines go.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// A request header is due: since the connection opened, or since the
    /// first byte after an idle wait; `true` once some of it has arrived.
    AwaitingHead(Instant, bool),
    /// A request is being handled (no deadline here: the request's own
    /// deadlines apply).
    InRequest,
    /// Answered; waiting for the next request since then.
    Idle(Instant),
}

/// The watchdog's view of one connection.
#[derive(Debug)]
struct Activity {
    state: Mutex<(Phase, usize)>,
    /// Rung when the connection turns idle, which may bring its deadline
    /// forward (every other change only puts it off).
    idle: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            state: Mutex::new((Phase::AwaitingHead(Instant::now(), false), 0)),
            idle: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Phase, usize)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived: after an idle wait, a header is now due; while one
    /// is due, part of it is here.
    fn on_read(&self) {
        let mut state = self.lock();
        match state.0 {
            Phase::Idle(_) => state.0 = Phase::AwaitingHead(Instant::now(), true),
            Phase::AwaitingHead(since, false) => state.0 = Phase::AwaitingHead(since, true),
            Phase::AwaitingHead(_, true) | Phase::InRequest => {}
        }
    }

    /// Whether part of a request header has arrived (a client that stalls
    /// after that is the slow-header attack; one that never sends a byte is
    /// as often a browser's unused preconnection).
    fn partial_head(&self) -> bool {
        matches!(self.lock().0, Phase::AwaitingHead(_, true))
    }

    /// A request reached the service.
    fn begin(self: &Arc<Self>) -> InFlight {
        let mut state = self.lock();
        state.1 += 1;
        state.0 = Phase::InRequest;
        InFlight(Arc::clone(self))
    }

    /// When the next deadline falls, and which; `None` for "look again then".
    fn due(&self, limits: &ConnectionLimits) -> (Instant, Option<Timeout>) {
        match self.lock().0 {
            Phase::AwaitingHead(since, _) => (
                since + limits.header_read_timeout,
                Some(Timeout::HeaderRead),
            ),
            Phase::Idle(since) => (since + limits.idle_timeout, Some(Timeout::Idle)),
            Phase::InRequest => (
                Instant::now() + limits.header_read_timeout.min(limits.idle_timeout),
                None,
            ),
        }
    }
}

/// A request in flight; when its response is ready (or it is dropped) and
/// no other is in flight, the connection is idle.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.1 = state.1.saturating_sub(1);
        if state.1 == 0 {
            state.0 = Phase::Idle(Instant::now());
            drop(state);
            self.0.idle.notify_one();
        }
    }
}

/// A socket that tells its [`Activity`] when bytes arrive.
struct WatchedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.on_read();
        }
        polled
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts connections on `listener` and serves `app` on each within
/// `limits`, until `stop` turns true; then stops accepting, lets every
/// connection finish the request it is on (idle ones close at once), and
/// returns when all are closed. Every connection task is owned by the
/// [`JoinSet`] here and joined before returning.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let admission = Admission::new(limits, Arc::clone(&metrics));
    let logs = Arc::new(Logs::default());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match admission.admit(peer.ip()) {
                    Ok(permit) => {
                        let connection = Connection {
                            app: app.clone(),
                            peer,
                            limits,
                            metrics: Arc::clone(&metrics),
                            logs: Arc::clone(&logs),
                            _permit: permit,
                        };
                        connections.spawn(connection.serve(stream, stop.clone()));
                    }
                    Err(refusal) => refuse(stream, peer, refusal, &limits, &metrics, &logs),
                },
                Err(e) => accept_failed(&e, &logs).await,
            },
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined {
                    tracing::error!(error = %e, "A connection task failed.");
                }
            }
            // The read guard is dropped inside the block (see the worker's loop).
            () = async { let _ = stop.wait_for(|stop| *stop).await; } => break,
        }
    }
    drop(listener);
    while let Some(joined) = connections.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "A connection task failed.");
        }
    }
}

/// Tells a refused client why (if its socket takes the bytes now) and
/// closes the connection.
fn refuse(
    stream: TcpStream,
    peer: SocketAddr,
    refusal: Refusal,
    limits: &ConnectionLimits,
    metrics: &Metrics,
    logs: &Logs,
) {
    let _ = stream.try_write(REFUSED);
    drop(stream);
    metrics.count_connection_refused(refusal);
    match refusal {
        Refusal::Global => {
            if let Some(n) = logs.refused_global.hit() {
                tracing::warn!(
                    refused = n,
                    max_connections = limits.max_connections,
                    "Refusing connections: `server.max_connections` are open."
                );
            }
        }
        Refusal::PerIp => {
            if let Some(n) = logs.refused_per_ip.hit() {
                tracing::warn!(
                    refused = n,
                    client = %client_key(peer.ip()),
                    max_connections_per_ip = limits.max_connections_per_ip.unwrap_or(0),
                    "Refusing connections: a client address has `server.max_connections_per_ip` open."
                );
            }
        }
    }
}

/// An accept that failed: a connection that went away before it was
/// accepted is nothing; out of file descriptors (or memory), wait a little
/// so that closing connections free some, rather than spin.
async fn accept_failed(e: &std::io::Error, logs: &Logs) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) {
        return;
    }
    if let Some(n) = logs.accept_failed.hit() {
        tracing::error!(error = %e, failures = n, "Accepting connections failed; retrying.");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One admitted connection.
struct Connection {
    app: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    logs: Arc<Logs>,
    /// Its place among the open connections, given back when it closes.
    _permit: Permit,
}

impl Connection {
    /// Serves HTTP/1.1 on `stream` until the client closes it, a deadline
    /// passes, or `stop` turns true and the request in hand is answered.
    async fn serve(self, stream: TcpStream, mut stop: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(WatchedIo {
            inner: stream,
            activity: Arc::clone(&activity),
        });
        let (app, peer) = (self.app.clone(), self.peer);
        let requests = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let in_flight = requests.begin();
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                drop(in_flight);
                Ok::<_, Infallible>(match response {
                    Ok(response) => response,
                    Err(never) => match never {},
                })
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            // The watchdog below keeps the header deadline (see the module docs).
            .header_read_timeout(None::<Duration>)
            .max_buf_size(MAX_READ_BUFFER_BYTES);
        let connection = builder.serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        // When the connection was told to close gracefully (idle, or the
        // service stopping); it then gets one more header-read period to
        // finish what it is writing.
        let mut closing_since: Option<Instant> = None;
        loop {
            let (at, _) = self.deadline(&activity, closing_since);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "A connection ended with an error.");
                    }
                    return;
                }
                // Idle now: the idle deadline may fall before the one slept on.
                () = activity.idle.notified() => {}
                () = tokio::time::sleep_until(at) => {
                    let (at, timeout) = self.deadline(&activity, closing_since);
                    let Some(timeout) = timeout.filter(|_| at <= Instant::now()) else {
                        continue;
                    };
                    if closing_since.is_some() {
                        return;
                    }
                    self.metrics.count_connection_timeout(timeout);
                    match timeout {
                        Timeout::HeaderRead if activity.partial_head() => {
                            if let Some(n) = self.logs.header_read.hit() {
                                tracing::warn!(
                                    closed = n,
                                    timeout_secs = self.limits.header_read_timeout.as_secs(),
                                    "Closed connections that sent part of a request header and no more in time (`server.header_read_timeout_secs`)."
                                );
                            }
                            return;
                        }
                        Timeout::HeaderRead => {
                            tracing::debug!("Closing a connection that sent nothing in time.");
                            return;
                        }
                        Timeout::Idle => {
                            tracing::debug!("Closing an idle kept-alive connection.");
                            connection.as_mut().graceful_shutdown();
                            closing_since = Some(Instant::now());
                        }
                    }
                }
                () = async { let _ = stop.wait_for(|stop| *stop).await; }, if closing_since.is_none() => {
                    connection.as_mut().graceful_shutdown();
                    closing_since = Some(Instant::now());
                }
            }
        }
    }

    /// The connection's next deadline and what passes then (`None`: look
    /// again then); once it is closing, no sooner than a header-read period
    /// after that began.
    fn deadline(
        &self,
        activity: &Activity,
        closing_since: Option<Instant>,
    ) -> (Instant, Option<Timeout>) {
        let (at, timeout) = activity.due(&self.limits);
        match (closing_since, timeout) {
            (Some(since), Some(_)) => (at.max(since + self.limits.header_read_timeout), timeout),
            _ => (at, timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_reply_says_its_length_right() {
        let text = std::str::from_utf8(REFUSED).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{head}"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(v["error"], "unavailable");
    }

    #[test]
    fn a_client_is_an_ipv4_address_or_an_ipv6_64() {
        let v6: IpAddr = "2001:db8:1:2:aa:bb:cc:dd"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(
            client_key(v6).to_string(),
            "2001:db8:1:2::",
            "one /64 is one client"
        );
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(client_key(mapped), IpAddr::from([192, 0, 2, 7]));
    }

    #[test]
    fn limits_refuse_beyond_the_total_and_per_client_and_free_places_on_drop() {
        let limits = ConnectionLimits {
            max_connections: 3,
            max_connections_per_ip: Some(2),
            ..ConnectionLimits::default()
        };
        let admission = Admission::new(limits, Arc::new(Metrics::default()));
        let a = IpAddr::from([192, 0, 2, 1]);
        let b = IpAddr::from([192, 0, 2, 2]);
        let first = admission.admit(a);
        let second = admission.admit(a);
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(admission.admit(a).err(), Some(Refusal::PerIp));
        let third = admission.admit(b);
        assert!(third.is_ok());
        assert_eq!(admission.admit(b).err(), Some(Refusal::Global));
        drop(first);
        assert!(admission.admit(a).is_ok(), "a place freed on drop");
    }

    #[test]
    fn a_throttled_log_reports_what_it_held_back() {
        let throttle = Throttle::default();
        assert_eq!(throttle.hit(), Some(1));
        assert_eq!(throttle.hit(), None);
        assert_eq!(throttle.hit(), None);
    }
}
