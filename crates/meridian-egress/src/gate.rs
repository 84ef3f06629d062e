//! The policy hook of the egress client: [`RequestGate`].
//!
//! The allow-list and the address checks are this crate's own; the policy
//! decision and the audit record belong to the region (its Cedar gate and its
//! audit log, which this crate does not depend on). A region's client holds a
//! [`RequestGate`] ([`crate::EgressClient::with_gate`]) and, for every request
//! and every redirect hop:
//!
//! 1. checks the hop against the allow-list, as it always did;
//! 2. asks the gate, telling it whether the allow-list admitted the hop: the
//!    gate decides (a refused hop is denied by the policy that mirrors the
//!    allow-list) and records the decision; a hop the gate refuses is not sent;
//! 3. sends the hop and tells the gate how it ended ([`RequestOutcome`]: the
//!    status or the failure kind, and the body bytes).
//!
//! Without a gate (tools such as `meridian inspect`, tests of this crate) the
//! client enforces the allow-list alone. `Region::assemble` always sets one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use url::Url;

use crate::error::FailureKind;

/// The future a [`RequestGate`] method returns.
pub type GateFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One request hop the gate is asked about.
#[derive(Debug, Clone, Copy)]
pub struct RequestHop<'a> {
    /// The URL of this hop.
    pub url: &'a Url,
    /// Host name or IP literal (IPv6 without brackets), lower case.
    pub host: &'a str,
    /// TCP port.
    pub port: u16,
    /// Whether the host is known to be private before connecting: an IP
    /// literal or a fixed `resolve` answer in a private, loopback or
    /// link-local range, or a `localhost` name. (Names are screened again
    /// after resolution, at connect time.)
    pub private: bool,
    /// Whether the allow-list admitted the hop. A refused hop is still put to
    /// the gate, so that its refusal is decided and recorded like any other.
    pub admitted: bool,
    /// 0 for the request itself, then 1, 2… for each redirect followed.
    pub redirect: usize,
}

/// The gate refused a hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRefusal {
    /// Ids of the determining policies (empty: default deny).
    pub policies: Vec<String>,
    /// Why, in words.
    pub reason: String,
}

impl fmt::Display for GateRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.policies.is_empty() {
            write!(f, "denied by default: {}", self.reason)
        } else {
            write!(f, "denied by {}: {}", self.policies.join(", "), self.reason)
        }
    }
}

/// How one hop the gate allowed ended.
#[derive(Debug, Clone, Copy)]
pub struct RequestOutcome<'a> {
    /// The hop.
    pub hop: RequestHop<'a>,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The failure kind, when the hop failed (no response, a refused
    /// address, a body over its cap…).
    pub failure: Option<FailureKind>,
    /// Body bytes received (decoded).
    pub bytes: u64,
    /// Wall time of the hop, in milliseconds.
    pub elapsed_ms: u64,
}

/// The region's policy decision and audit record for outbound requests.
pub trait RequestGate: Send + Sync + fmt::Debug {
    /// Decides whether `hop` may be sent and records the decision; `Err`
    /// means it must not be sent (an error to record the decision is a
    /// refusal too: nothing happens that the log does not show).
    fn authorize<'a>(&'a self, hop: &'a RequestHop<'a>) -> GateFuture<'a, Result<(), GateRefusal>>;

    /// Records how an authorised hop ended.
    fn completed<'a>(&'a self, outcome: &'a RequestOutcome<'a>) -> GateFuture<'a, ()>;
}
