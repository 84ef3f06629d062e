//! The HTTP service over real HTTP (the in-process `Application` on a
//! loopback port, mail to a real SMTP server the tests start) and through
//! `router(state)` with `oneshot`.
//!
//! Run with `cargo test -p meridian-server --test http` (needs python3;
//! aiosmtpd is installed with pip when missing; the browser test needs
//! Debian's Chromium: `apt-get install -y chromium fonts-noto-cjk`).
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod api;
mod archive;
mod browser;
mod flow;
mod hardening;
mod helpers;
mod input;
mod routes;
