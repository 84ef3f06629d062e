//! `meridian subscribers add|list|remove --region R`.

use std::process::ExitCode;

use meridian_audit::AuditEvent;
use meridian_core::SubscriberEmail;
use meridian_store::SubscriberStatus;

use crate::{Cli, EXIT_INPUT};

/// `meridian subscribers …`
#[derive(Debug, clap::Subcommand)]
pub enum SubscribersAction {
    /// Add a confirmed subscriber (the operator vouches for consent).
    Add {
        /// The region.
        #[arg(long)]
        region: String,
        /// The address.
        email: String,
        /// Preferred locale (default: the region's).
        #[arg(long)]
        locale: Option<String>,
    },
    /// List subscribers and their state.
    List {
        /// The region.
        #[arg(long)]
        region: String,
    },
    /// Unsubscribe an address (it receives nothing more).
    Remove {
        /// The region.
        #[arg(long)]
        region: String,
        /// The address.
        #[arg(required_unless_present = "token")]
        email: Option<String>,
        /// Instead of an address: the token of an unsubscribe link, e.g. from
        /// a mail to `unsubscribe+TOKEN@…` (`mail.unsubscribe_mailbox`).
        #[arg(long, conflicts_with = "email")]
        token: Option<String>,
    },
    /// Erase a person: their subscriber record and every delivery record naming them.
    Erase {
        /// The region.
        #[arg(long)]
        region: String,
        /// The address.
        email: String,
    },
}

fn parse_email(s: &str) -> Result<SubscriberEmail, ExitCode> {
    SubscriberEmail::parse(s).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_INPUT)
    })
}

/// An address to look up (remove, erase): one stored before the domain rules
/// must stay removable.
fn parse_existing_email(s: &str) -> Result<SubscriberEmail, ExitCode> {
    SubscriberEmail::parse_existing(s).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_INPUT)
    })
}

/// Runs the command.
///
/// # Errors
/// Storage failures.
pub async fn run(cli: &Cli, action: &SubscribersAction) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now().timestamp();
    match action {
        SubscribersAction::Add {
            region,
            email,
            locale,
        } => {
            let email = match parse_email(email) {
                Ok(e) => e,
                Err(code) => return Ok(code),
            };
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let (row, added) = store
                .add_subscriber(
                    &email,
                    SubscriberStatus::Confirmed,
                    locale.as_deref(),
                    "cli",
                    now,
                )
                .await?;
            if added {
                let audit = super::open_audit(cli, &store).await?;
                audit
                    .record(AuditEvent::subscription_change(
                        "cli",
                        &audit.keyed_hash(email.as_str()),
                        "confirmed",
                    ))
                    .await?;
            }
            crate::say!(
                "{} {} ({})",
                if added { "added" } else { "already present:" },
                row.email.as_str(),
                row.status.as_str()
            );
        }
        SubscribersAction::List { region } => {
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let subs = store.list_subscribers().await?;
            for s in &subs {
                crate::say!(
                    "{:<13} {}  {}",
                    s.status.as_str(),
                    s.email.escaped(),
                    s.locale.as_deref().unwrap_or("")
                );
            }
            crate::say!("{} subscriber(s)", subs.len());
        }
        SubscribersAction::Remove {
            region,
            token: Some(token),
            ..
        } => {
            let config = match super::load_region(cli, region) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let region = super::assemble(config).await?;
            let result = region.unsubscribe(token, now).await;
            region.shutdown().await;
            match result {
                Ok(_) => crate::say!("unsubscribed the subscriber of the link"),
                Err(meridian_runtime::RuntimeError::Link { error, .. }) => {
                    eprintln!("error: {error}");
                    return Ok(ExitCode::from(EXIT_INPUT));
                }
                Err(e) => return Err(e.into()),
            }
        }
        SubscribersAction::Remove { region, email, .. } => {
            let email = match parse_existing_email(email.as_deref().unwrap_or_default()) {
                Ok(e) => e,
                Err(code) => return Ok(code),
            };
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            if store
                .set_subscriber_status(&email, SubscriberStatus::Unsubscribed, now)
                .await?
            {
                let audit = super::open_audit(cli, &store).await?;
                audit
                    .record(AuditEvent::subscription_change(
                        "cli",
                        &audit.keyed_hash(email.as_str()),
                        "unsubscribed",
                    ))
                    .await?;
                crate::say!("unsubscribed {}", email.as_str());
            } else {
                eprintln!(
                    "error: {} is not a subscriber of region `{region}`",
                    email.as_str()
                );
                return Ok(ExitCode::from(EXIT_INPUT));
            }
        }
        SubscribersAction::Erase { region, email } => {
            let email = match parse_existing_email(email) {
                Ok(e) => e,
                Err(code) => return Ok(code),
            };
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let out = store.erase_subscriber(&email).await?;
            if out.found {
                // The keyed hash only: the address is gone from the store,
                // and the audit log never held it.
                let audit = super::open_audit(cli, &store).await?;
                audit
                    .record(
                        AuditEvent::erasure(
                            "cli",
                            &audit.keyed_hash(email.as_str()),
                            1 + out.deliveries,
                        )
                        .with_count("subscribers", 1)
                        .with_count("deliveries", out.deliveries),
                    )
                    .await?;
                crate::say!(
                    "erased {} and {} delivery record(s)",
                    email.as_str(),
                    out.deliveries
                );
            } else {
                eprintln!(
                    "error: {} is not a subscriber of region `{region}`",
                    email.as_str()
                );
                return Ok(ExitCode::from(EXIT_INPUT));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
