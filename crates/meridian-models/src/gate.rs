//! The policy hook of the model chains: [`CallGate`].
//!
//! A chain never calls a provider (builtin included) without asking its
//! region's gate first, and tells the gate how every call ended. The region
//! implements the hook (`meridian-runtime`: the Cedar decision, a
//! `policy_decision` record, then a `model_call` record with the model, its
//! provider, where it is hosted, its pinned digest, tokens and latency); this
//! crate only knows the hook, so that it needs neither the policy engine nor
//! the audit log.
//!
//! A refusal is an attempt outcome like any other skip
//! ([`AttemptOutcome::Skipped`] with kind [`SKIP_POLICY_DENIED`]): the chain
//! goes on to the region's next model, never to another region's.
//!
//! [`AttemptOutcome::Skipped`]: crate::AttemptOutcome::Skipped

use std::fmt;

use meridian_config::{ModelConfig, ModelRole};
use meridian_core::DataClass;
pub use meridian_egress::GateFuture;

use crate::chain::Attempt;

/// [`crate::AttemptOutcome::Skipped`] kind: the region's policies refused the call.
pub const SKIP_POLICY_DENIED: &str = "policy_denied";

/// What a chain is about to send to one model.
#[derive(Debug, Clone, Copy)]
pub struct ModelCall<'a> {
    /// The model entry.
    pub model: &'a ModelConfig,
    /// The role calling it (`insight` → `invoke_model`, `transcribe` → `transcribe`).
    pub role: ModelRole,
    /// The classes of the data sent: a transcript or episode audio is
    /// public; insights are derived.
    pub data_classes: &'a [DataClass],
    /// Why (`insight`, `transcribe`), recorded with the decision.
    pub purpose: &'static str,
}

/// The gate refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRefusal {
    /// Ids of the determining policies (empty: default deny).
    pub policies: Vec<String>,
    /// Why, in words.
    pub reason: String,
}

impl fmt::Display for CallRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.policies.is_empty() {
            write!(f, "denied by default: {}", self.reason)
        } else {
            write!(f, "denied by {}: {}", self.policies.join(", "), self.reason)
        }
    }
}

/// The region's policy decision and audit record for model calls.
pub trait CallGate: Send + Sync + fmt::Debug {
    /// Decides whether `call` may be made and records the decision; `Err`
    /// means the provider must not be called (failing to record the decision
    /// is a refusal too).
    fn authorize<'a>(&'a self, call: &'a ModelCall<'a>) -> GateFuture<'a, Result<(), CallRefusal>>;

    /// Records how an authorised call ended: `attempt` carries the outcome,
    /// tokens and latency.
    fn completed<'a>(&'a self, call: &'a ModelCall<'a>, attempt: &'a Attempt)
    -> GateFuture<'a, ()>;
}
