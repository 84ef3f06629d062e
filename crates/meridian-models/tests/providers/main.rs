//! The remote insight providers (`openai`, `ollama`) against HTTP fakes on
//! loopback that speak the real wire formats, with the real `async-openai` and
//! `ollama-rs` clients in the path.
//!
//! Run with `cargo test -p meridian-models --test providers`.
//!
//! [`contract`] runs one suite against every provider, builtin included,
//! through the chain: grounded answers, malformed output, server errors and
//! timeouts, and the policy gate.
//!
//! Beyond the providers themselves: retries, breaker, concurrency limit and
//! token budget of the chain ([`resilience`]), chunking of long transcripts
//! ([`chunking`]) and speech-to-text ([`transcribe`]).

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "fixtures fail loudly when broken"
)]

mod both;
mod chunking;
mod contract;
mod grounding;
mod injection;
mod ollama;
mod openai;
mod resilience;
mod support;
mod transcribe;
