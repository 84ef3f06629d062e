//! Integration tests of the egress client against real HTTP servers on
//! loopback that each test starts itself. No test sends traffic anywhere else:
//! refused destinations (metadata, `10.0.0.1`, names outside the list) are
//! refused before any connection, which is what the tests check.
//!
//! Run with `cargo test -p meridian-egress`.

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod guard;
mod helpers;
mod limits;
mod responses;
