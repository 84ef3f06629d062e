//! The only outbound HTTP client of a region (the egress guard: only allowed hosts, names resolved here, private addresses refused).
//!
//! A region builds one [`EgressClient`] from its `[egress]` config and hands
//! clones of it to whatever fetches feeds, transcripts or calls model APIs.
//! The client enforces, for every request:
//!
//! - the allow-list ([`EgressRules`]): `*` means any *public* host; explicit
//!   entries (`host`, `host:port`, IP literals) may be private, because the
//!   operator named them; `allow_private` opens private ranges to `*`;
//! - its own DNS resolution: names are resolved with tokio and only allowed
//!   addresses reach the connector, so a feed URL or redirect that points at a
//!   private, loopback, link-local, CGNAT, multicast, documentation, metadata…
//!   address is refused after resolution ([`AddressClass`], [`classify`]);
//!   IP-literal hosts are checked before sending, since reqwest does not
//!   resolve them;
//! - redirects followed by hand, each hop re-checked, counted and loop-checked;
//! - connect and total timeouts, a user agent, and a body cap enforced while
//!   streaming, on decompressed bytes;
//! - conditional GET ([`Validators`]) and parsed caching hints ([`CacheHints`]);
//! - the region's policy gate ([`RequestGate`], set with
//!   [`EgressClient::with_gate`]): every request and redirect hop, admitted by
//!   the allow-list or not, is decided and recorded before it is sent, and its
//!   outcome (status or failure kind, bytes) recorded after.
//!
//! The raw reqwest clients ([`EgressClient::reqwest_client`],
//! [`EgressClient::legacy_reqwest_client`]) bypass the gate's per-request
//! decision, so `clippy.toml` forbids them outside the one place that hands
//! them to a model provider after the gate allowed that model (the runtime's
//! `sovereignty` module).
//!
//! Failures are [`EgressError`]s; [`EgressError::kind`] gives a stable
//! [`FailureKind`] for logs, metrics and the audit report.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use meridian_egress::{EgressClient, EgressOptions, EgressRules, FetchOutcome, Validators};
//! let rules = EgressRules::new(&["*".to_owned()], false)?;
//! let region = meridian_core::RegionId::parse("eu")?;
//! let client = EgressClient::new(region, rules, EgressOptions::default())?;
//! let url = url::Url::parse("https://feeds.example.org/rss")?;
//! match client.get(&url, &Validators::default(), None).await? {
//!     FetchOutcome::NotModified { .. } => {}
//!     FetchOutcome::Fetched(fetched) => println!("{} bytes", fetched.body.len()),
//! }
//! # Ok(()) }
//! ```

mod client;
mod error;
mod gate;
mod outcome;
mod resolver;
mod rules;

pub use client::{EgressClient, EgressOptions};
pub use error::{EgressError, FailureKind};
pub use gate::{GateFuture, GateRefusal, RequestGate, RequestHop, RequestOutcome};
/// The address classifier lives in `meridian-core` beside the allow-list entry
/// type; re-exported here, where it is enforced.
pub use meridian_core::net::{AddressClass, AllowEntry, classify};
pub use outcome::{CacheHints, FetchOutcome, Fetched, Validators};
pub use rules::EgressRules;
