//! The policy gate: Cedar policies decide every outbound action of a region.
//!
//! A region's rules are files, not code: `policies/schema.cedarschema`, the
//! rules every region obeys in `policies/global/*.cedar`, and the region's own
//! in `policies/<region>/*.cedar` (see `docs/compliance.md`). This crate loads
//! and validates them into a [`PolicyGate`] once per region and answers
//! [`PolicyGate::decide`] before every model call, transcription, HTTP request
//! and email. It is pure: no I/O after loading, no async, no clock. Recording
//! the decision in the audit log is the caller's job: `meridian-runtime`'s
//! `sovereignty` module (decide, record, then act), which also holds the
//! bridge from a region's config to [`RegionFacts`] and [`ConfiguredModel`]s.
//!
//! Main types:
//! - [`RegionFacts`]: what the region's config says that policies need
//!   (jurisdiction, forbidden model origins, egress allow-list, mail relay).
//! - [`PolicyRequest`]: action ([`PolicyAction`]), resource
//!   ([`PolicyResource`]: a [`ModelFacts`], a host or a mail relay), the
//!   [`DataClass`](meridian_core::DataClass)es of the payload and its purpose.
//! - [`Decision`]: allowed or not, the `@id`s of the determining policies and
//!   their `@reason`s.
//! - [`check_region`], [`check_model`], [`decision_matrix`]: the logic behind
//!   `meridian config check`, `policy check` and `policy explain`.
//!
//! ```no_run
//! # use std::path::Path;
//! use meridian_core::{DataClass, Jurisdiction, RegionId};
//! use meridian_policy::{ModelFacts, PolicyAction, PolicyGate, PolicyRequest, PolicyResource, RegionFacts, purpose};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let region = RegionFacts::new(RegionId::parse("cn")?, Jurisdiction::parse("CN")?);
//! let gate = PolicyGate::load(Path::new("policies"), &region)?;
//! let qwen = ModelFacts {
//!     name: "qwen".into(),
//!     provider: "ollama".into(),
//!     hosted_in: Jurisdiction::parse("CN")?,
//!     origin: Jurisdiction::parse("CN")?,
//!     weights: "open".into(),
//!     digest: None,
//!     attributes: vec![],
//! };
//! let decision = gate.decide(&PolicyRequest {
//!     action: PolicyAction::InvokeModel,
//!     resource: PolicyResource::Model(&qwen),
//!     data_classes: &[DataClass::Public],
//!     purpose: purpose::INSIGHT,
//! });
//! assert!(decision.allowed, "{decision}");
//! # Ok(())
//! # }
//! ```

mod check;
mod error;
mod gate;
mod request;

pub use check::{
    ConfiguredModel, DIGEST_CLASSES, Endpoint, MatrixRow, ModelUse, Violation, check_model,
    check_region, decision_matrix,
};
pub use error::PolicyError;
pub use gate::{GLOBAL_DIR, PolicyGate, PolicyText, SCHEMA_FILE};
pub use request::{
    Decision, ModelFacts, OUTBOX_RELAY, PolicyAction, PolicyRequest, PolicyResource, RegionFacts,
    purpose,
};
