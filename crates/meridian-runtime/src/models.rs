//! The run's side of the region's model stack: speech-to-text in the
//! transcript stage, the daily token budget, and the accounting of calls.

use chrono::{TimeZone as _, Utc};
use meridian_core::Transcript;
use meridian_models::{Attempt, AttemptOutcome};
use meridian_store::{EpisodeRow, ModelCallRecord};

use crate::pipeline::RunReport;
use crate::{Region, RuntimeError};

impl Region {
    /// Seeds the region's daily token budget with what its accounting says
    /// was spent since the start of today, in the region's timezone. A no-op
    /// for an unlimited budget.
    ///
    /// # Errors
    /// [`RuntimeError::Store`] when the accounting cannot be read.
    pub(crate) async fn seed_token_budget(&self) -> Result<(), RuntimeError> {
        let budget = self.token_budget();
        let Some(limit) = budget.limit() else {
            return Ok(());
        };
        let tz = self.config().timezone;
        let today = Utc::now().with_timezone(&tz).date_naive();
        let start = today
            .and_hms_opt(0, 0, 0)
            .and_then(|midnight| tz.from_local_datetime(&midnight).earliest())
            .map_or_else(|| Utc::now().timestamp() - 86_400, |t| t.timestamp());
        let spent = self.store().model_tokens_since(start).await?;
        let spent = u64::try_from(spent).unwrap_or(0);
        budget.set_used(spent);
        tracing::info!(region = %self.config().id, spent, limit, "Daily token budget seeded from today's model calls");
        Ok(())
    }

    /// Speech-to-text of an episode that has no usable transcript: its
    /// enclosure, when it has one and the region has a usable `transcribe`
    /// model, goes through the region's `transcribe` role. Every call is
    /// accounted. `None` means "use the show notes" (no audio, no model, or
    /// every model failed, which is logged and counted as
    /// `speech_to_text_failed`).
    ///
    /// # Errors
    /// [`RuntimeError::Store`] when the accounting cannot be written.
    pub(crate) async fn speech_to_text(
        &self,
        ep: &EpisodeRow,
        report: &mut RunReport,
    ) -> Result<Option<Transcript>, RuntimeError> {
        let chain = self.transcribe_chain();
        let Some(enclosure) = &ep.meta.enclosure else {
            return Ok(None);
        };
        if !chain.has_usable_model() {
            return Ok(None);
        }
        let language = ep
            .meta
            .language
            .clone()
            .unwrap_or_else(|| self.config().locale.language().to_owned());
        let result =
            meridian_models::transcribe(chain, self.egress(), enclosure, Some(&language)).await;
        let attempts = match &result {
            Ok(done) => done.attempts.clone(),
            Err(e) => e.attempts().to_vec(),
        };
        self.record_model_calls("transcribe", &attempts, None)
            .await?;
        match result {
            Ok(done) => Ok(Some(done.transcript)),
            Err(e) => {
                tracing::warn!(region = %self.config().id, episode = %ep.meta.guid, url = %enclosure.url, error = %e, "Speech-to-text unavailable; using the show notes");
                report.transcripts.add("speech_to_text_failed", 1);
                Ok(None)
            }
        }
    }

    /// Records the calls of one request in the region's accounting: one row
    /// per model that was called (skipped models cost nothing and are not
    /// rows).
    ///
    /// # Errors
    /// [`RuntimeError::Store`].
    pub(crate) async fn record_model_calls(
        &self,
        role: &str,
        attempts: &[Attempt],
        content_hash: Option<&str>,
    ) -> Result<(), RuntimeError> {
        let now = Utc::now().timestamp();
        for a in attempts {
            let (outcome, detail) = match &a.outcome {
                AttemptOutcome::Ok => ("ok", None),
                AttemptOutcome::Skipped { .. } => continue,
                AttemptOutcome::Failed { message, .. } => ("error", Some(message.as_str())),
            };
            self.store()
                .record_model_call(&ModelCallRecord {
                    at: now,
                    role,
                    model: &a.model,
                    provider: a.provider,
                    hosted_in: a.hosted_in.as_str(),
                    content_hash,
                    input_tokens: i64::try_from(a.input_tokens).unwrap_or(i64::MAX),
                    output_tokens: i64::try_from(a.output_tokens).unwrap_or(i64::MAX),
                    latency_ms: i64::try_from(a.latency_ms).unwrap_or(i64::MAX),
                    outcome,
                    detail,
                })
                .await?;
        }
        Ok(())
    }
}
