//! One region's tamper-evident audit log, and the compliance report built from it.
//!
//! An auditor must be able to check what a region did without trusting its
//! operator. Every model call, outbound request, policy decision, email,
//! subscription change, retention or erasure step and config load of a region
//! is appended to that region's own store as a [`record::AuditRecord`]:
//! canonical JSON ([`canonical`]) carrying its sequence number and the SHA-256
//! of the record before it, so that editing, inserting, deleting or
//! reordering any record breaks the chain. At the end of every run (and on
//! demand) [`AuditLog::checkpoint`] signs the chain head with the region's
//! Ed25519 key ([`keys`]); each checkpoint also covers the previous one's
//! signature, like CloudTrail digest files, so a checkpoint cannot be dropped
//! or replaced unnoticed, and a chain rewritten from some record on no longer
//! matches the checkpoints signed before.
//!
//! Main types:
//! - [`AuditLog`]: `open` over a [`meridian_store::RegionStore`], `record`,
//!   `checkpoint`, `verify`, `export`, `keyed_hash`.
//! - [`AuditEvent`]: what a caller records (one constructor per kind the
//!   report reads), [`Decision`] for policy decisions.
//! - [`verify::VerifyReport`]: the result of checking a chain, online (the
//!   store) or offline ([`verify::verify_export`] over an export file).
//! - [`report::AuditReport`]: the compliance report, rendered as HTML, JSON or
//!   Markdown.
//!
//! ```no_run
//! # async fn demo(store: meridian_store::RegionStore) -> Result<(), meridian_audit::AuditError> {
//! use meridian_audit::{AuditEvent, AuditLog, keys};
//! let key = keys::load_signing_key(store.region(), std::path::Path::new("data"), None)?;
//! let audit = AuditLog::open(store, key).await?;
//! let recipient = audit.keyed_hash("ada@example.org");
//! audit.record(AuditEvent::email_send("delivery", &recipient, "sent", true)).await?;
//! audit.checkpoint().await?;
//! assert!(audit.verify(None).await?.is_intact());
//! # Ok(()) }
//! ```

pub mod canonical;
mod checkpoint;
mod export;
pub mod keys;
mod log;
pub mod record;
pub mod report;
pub mod verify;
pub mod witness;

use std::path::{Path, PathBuf};

pub use checkpoint::SignedCheckpoint;
pub use export::ExportSummary;
pub use log::{AuditLog, AuditReceipt};
pub use record::{AuditEvent, AuditKind, Decision, Effect, GENESIS_HASH, ModelRef};

/// An audit operation failed. (A chain that fails verification is not an
/// error: it is a [`verify::VerifyReport`] with problems.)
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The region's store failed.
    #[error(transparent)]
    Store(#[from] meridian_store::StoreError),
    /// A key could not be read, parsed or made.
    #[error("audit key from {origin}: {reason}")]
    Key {
        /// The file, environment variable or generator.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// `keygen` would replace an existing key.
    #[error(
        "audit key file {path} already exists; pass --force to replace it (checkpoints signed with the old key then need the old public key to verify)"
    )]
    KeyExists {
        /// The key file.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An export file is not an audit export.
    #[error("{file}: line {line}: {reason}")]
    Export {
        /// The export file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A group-committed append failed (the writer's store error, as text,
    /// for every caller whose records were in the failed transaction).
    #[error("region `{region}`: appending to the audit log: {reason}")]
    Append {
        /// The region.
        region: String,
        /// The store's error.
        reason: String,
        /// Whether the store error was retryable.
        retryable: bool,
    },
    /// The report could not be built or rendered.
    #[error("region `{region}`: audit report: {reason}")]
    Report {
        /// The region.
        region: String,
        /// What went wrong.
        reason: String,
    },
}

impl AuditError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// Whether retrying later may succeed (the store was unreachable).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Append { retryable, .. } => *retryable,
            Self::Key { .. }
            | Self::KeyExists { .. }
            | Self::Io { .. }
            | Self::Export { .. }
            | Self::Report { .. } => false,
        }
    }
}
