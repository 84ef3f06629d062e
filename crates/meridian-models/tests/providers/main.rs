//! The remote insight providers (`openai`, `ollama`) against HTTP fakes on
//! loopback that speak the real wire formats, with the real `async-openai` and
//! `ollama-rs` clients in the path.
//!
//! Run with `cargo test -p meridian-models --test providers`.

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "fixtures fail loudly when broken"
)]

mod both;
mod grounding;
mod injection;
mod ollama;
mod openai;
mod support;
