//! Email for Meridian: building the MIME message and handing it to a
//! transport.
//!
//! - [`build_message`]: an [`OutgoingEmail`] → a lettre [`lettre::Message`]
//!   (`multipart/alternative` text + HTML, UTF-8, deterministic `Message-ID`,
//!   `List-Unsubscribe` with RFC 8058 one-click, extra headers such as the
//!   AI-generated-content marker).
//! - [`Mailer`]: one region's transport, an SMTP relay (TLS required except to
//!   loopback, pooled, with timeouts, password from the environment) or an
//!   outbox folder of `.eml` files when no relay is configured.
//! - [`MailError`]: what failed and where, with [`MailError::is_retryable`].
//!
//! ```no_run
//! # async fn f(email: meridian_mail::OutgoingEmail) -> Result<(), meridian_mail::MailError> {
//! let mailer = meridian_mail::Mailer::new("", None, std::path::Path::new("data/us/outbox"))?;
//! let receipt = mailer.send(&email).await?;
//! println!("{} via {}", receipt.message_id, receipt.transport);
//! # Ok(()) }
//! ```
//!
//! TLS is rustls with the ring provider and the webpki root certificates; no
//! OpenSSL. lettre's own `tracing` feature is left off on purpose: at debug
//! level it logs every byte sent to the relay, including `AUTH` credentials
//! and recipient addresses.
//!
//! This crate does not decide whether an email may be sent: the caller passes
//! each send through the region's policy checkpoint first.

mod error;
mod mailer;
mod message;

pub use error::{MailError, SmtpFailure};
pub use mailer::{Mailer, SendReceipt, SmtpRelay, Transport, TransportKind};
pub use message::{ListUnsubscribe, OutgoingEmail, build_message, message_id};
