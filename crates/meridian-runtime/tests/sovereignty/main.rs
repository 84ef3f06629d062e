//! Checkpoint = decide, record, act (issues 5 and 8): every outbound action
//! of a region passes its Cedar gate and lands in its audit log, with real
//! parts in the path: the region's SQLite store, its egress client, the real
//! `ollama-rs` and `async-openai` clients against fake model servers on
//! loopback that record every request.
//!
//! Run with `cargo test -p meridian-runtime --test sovereignty`.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "fixtures fail loudly when broken"
)]

mod egress;
mod helpers;
mod models;
mod refusal;
mod run;
#[path = "../models/support.rs"]
#[expect(
    dead_code,
    reason = "shared with the `models` target, which uses all of it"
)]
mod support;
