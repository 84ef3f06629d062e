//! Hostile input at the pipeline level: real HTTP servers on
//! loopback answer a region's daily run with entity bombs, endless bodies,
//! slow drips, redirect loops, redirects to private and metadata addresses,
//! gzip bombs, HTML and binary garbage. Each run must complete, record the
//! feed's failure with its stable kind (as `meridian feeds list` shows it),
//! and lose nothing already stored.
//!
//! Run with `cargo test -p meridian-runtime --test hostile`.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod feeds;
mod helpers;
mod transcripts;
