//! Delivery: one email per confirmed subscriber, claimed before it is sent.

use std::collections::HashMap;

use chrono::Utc;
use meridian_core::{ContentHash, Locale};
use meridian_digest::render::{RenderContext, RenderedDigest, render_digest};
use meridian_mail::OutgoingEmail;
use meridian_store::{DeliveryClaim, SubscriberStatus};

use crate::pipeline::RunReport;
use crate::{Region, RuntimeError};

/// The header carrying the machine-readable AI-generated-content marker.
pub const AI_MARKER_HEADER: &str = "X-AI-Generated";

impl Region {
    /// Sends the day's digest to every confirmed subscriber who has not had it.
    ///
    /// The (digest, subscriber) key is claimed in the store before sending, with
    /// a deterministic `Message-ID`; a subscriber whose delivery is recorded as
    /// sent is skipped, so a rerun sends nothing twice. A failed send stays
    /// pending (retryable errors) for the next run, or is marked failed.
    pub(crate) async fn deliver(&self, report: &mut RunReport) -> Result<(), RuntimeError> {
        let Some(digest) = report.digest.clone() else { return Ok(()) };
        let store = self.store();
        let Some(stored) = store.digest_for_date(digest.date).await? else { return Ok(()) };
        let cfg = self.config();
        let digest_hash = digest.content_hash();
        let domain = sender_domain(&cfg.mail.from).unwrap_or_else(|| format!("{}.meridian.invalid", cfg.id));
        let models: Vec<String> = {
            let mut m: Vec<String> = digest.items.iter().map(|i| i.insight.model.clone()).collect();
            m.sort();
            m.dedup();
            m
        };
        let marker = format!(
            "generator=meridian/{}; region={}; models={}; content-id=sha256:{}",
            env!("CARGO_PKG_VERSION"),
            cfg.id,
            models.join(","),
            digest_hash.to_hex()
        );
        let mut rendered: HashMap<String, RenderedDigest> = HashMap::new();
        for sub in store.subscribers_with_status(SubscriberStatus::Confirmed).await? {
            let key = ContentHash::of_parts([digest_hash.as_bytes().as_slice(), sub.email.as_str().as_bytes()]);
            let message_id = meridian_mail::message_id("digest", &key, &domain);
            let now = Utc::now().timestamp();
            match store.claim_delivery(stored.id, sub.id, &message_id, now).await? {
                DeliveryClaim::AlreadySent => {
                    report.delivery.add("already_sent", 1);
                    continue;
                }
                DeliveryClaim::Send { message_id, .. } => {
                    let locale = sub
                        .locale
                        .as_deref()
                        .and_then(|l| Locale::parse(l).ok())
                        .unwrap_or_else(|| cfg.locale.clone());
                    let body = match rendered.get(locale.as_str()) {
                        Some(r) => r.clone(),
                        None => {
                            let ctx = RenderContext {
                                locale: locale.clone(),
                                region_name: cfg.name.clone(),
                                timezone: cfg.timezone,
                                ai_label: cfg.mail.ai_label.clone(),
                                unsubscribe_url: None,
                                archive_url: None,
                            };
                            let r = render_digest(&digest, &ctx)
                                .map_err(|source| RuntimeError::Render { region: cfg.id.clone(), source })?;
                            rendered.insert(locale.as_str().to_owned(), r.clone());
                            r
                        }
                    };
                    let email = OutgoingEmail {
                        from: cfg.mail.from.clone(),
                        reply_to: cfg.mail.reply_to.clone(),
                        to: sub.email.clone(),
                        subject: body.subject,
                        html: body.html,
                        text: body.text,
                        message_id,
                        headers: vec![(AI_MARKER_HEADER.to_owned(), marker.clone())],
                        list_unsubscribe: None,
                    };
                    match self.mailer().send(&email).await {
                        Ok(receipt) => {
                            store.mark_delivery_sent(stored.id, sub.id, receipt.transport.as_str(), Utc::now().timestamp()).await?;
                            report.delivery.add("sent", 1);
                        }
                        Err(e) => {
                            tracing::warn!(region = %cfg.id, recipient.domain = %sub.email.domain(), error = %e, "Digest email not sent");
                            store.mark_delivery_failed(stored.id, sub.id, &e.to_string(), !e.is_retryable()).await?;
                            report.delivery.add("failed", 1);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The domain of the sender mailbox (`Meridian <digest@us.example>` → `us.example`).
fn sender_domain(from: &str) -> Option<String> {
    let addr = from.rsplit_once('<').map_or(from, |(_, a)| a.trim_end_matches('>'));
    addr.rsplit_once('@').map(|(_, d)| d.trim().to_owned()).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sender_domain_reads_both_forms() {
        assert_eq!(super::sender_domain("Meridian <digest@us.example>").as_deref(), Some("us.example"));
        assert_eq!(super::sender_domain("digest@eu.example").as_deref(), Some("eu.example"));
        assert_eq!(super::sender_domain("nobody"), None);
    }
}
