//! The region's model stacks end to end: each region's daily run
//! against fake model servers on loopback that answer in the vendors' wire
//! formats, with the real `async-openai` and `ollama-rs` clients, the
//! region's egress guard and its own database in the path.
//!
//! Run with `cargo test -p meridian-runtime --test models`.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "fixtures fail loudly when broken"
)]

mod digest;
mod e2e;
mod support;
