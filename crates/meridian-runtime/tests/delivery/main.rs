//! Digest delivery against a real SMTP server (aiosmtpd, started by the
//! tests; see `meridian-testkit`): what subscribers receive, what a relay
//! outage mid-batch, a temporary refusal and a permanent refusal do, and
//! that no log line names an address.
//!
//! Run with `cargo test -p meridian-runtime --test delivery` (needs python3;
//! aiosmtpd is installed with pip when missing).
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod helpers;
mod outage;
mod received;
mod refusals;
