//! The daily run of one region (see the crate docs for the stages).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use meridian_core::{ContentHash, Digest, EpisodeMeta, FeedUrl, Transcript, TranscriptSource};
use meridian_digest::rank::{Candidate, LeftOut, RankOptions};
use meridian_egress::{CacheHints, Validators};
use meridian_ingest::FeedFetch;
use meridian_models::AttemptOutcome;
use meridian_store::{
    EpisodeRow, EpisodeStatus, FeedFailure, FeedRow, FeedSuccess, ModelCallRecord, SubscriberStatus,
};

use crate::jobs::HostSlots;
use crate::{Region, RuntimeError, WorkerOptions};

/// On a feed's first fetch, this many of its newest episodes count as news;
/// the back catalogue is archived, not summarised.
const INITIAL_EPISODES: usize = 3;
/// Next check at the earliest / latest after a success.
const MIN_RECHECK: Duration = Duration::from_secs(15 * 60);
const MAX_RECHECK: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_RECHECK: Duration = Duration::from_secs(3600);

/// How a run is performed.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The digest's day, in the region's timezone.
    pub date: NaiveDate,
    /// Import the region's OPML file first.
    pub import_opml: bool,
    /// Check every feed now, whether due or not.
    pub force_refresh: bool,
}

impl RunOptions {
    /// Today in the region's timezone, importing the OPML list, polite refresh.
    #[must_use]
    pub fn today(region: &Region) -> Self {
        Self {
            date: Utc::now()
                .with_timezone(&region.config().timezone)
                .date_naive(),
            import_opml: true,
            force_refresh: false,
        }
    }
}

/// Counters of one stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StageCounts(pub BTreeMap<String, u64>);

impl StageCounts {
    pub(crate) fn add(&mut self, key: &str, n: u64) {
        *self.0.entry(key.to_owned()).or_default() += n;
    }

    /// The counter `key` (0 when never counted).
    #[must_use]
    pub fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    fn absorb(&mut self, other: Self) {
        for (k, v) in other.0 {
            *self.0.entry(k).or_default() += v;
        }
    }
}

/// What a run did, stage by stage. Each job of a run records its own part
/// (the same shape, only its fields filled); the run's report is their sum,
/// whichever process did them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RunReport {
    /// The digest's day.
    pub date: Option<NaiveDate>,
    /// Feed checks: `fetched`, `not_modified`, `failed`, `new_episodes`, `archived_episodes`.
    pub feeds: StageCounts,
    /// Transcripts by source: `vtt`, `srt`, `json`, `html`, `text`, `show_notes`, `failed`.
    pub transcripts: StageCounts,
    /// Insights: `episodes`, `cached`, `parked`, and per model `model:<name>`.
    pub insights: StageCounts,
    /// Models skipped or failed, with the reason, once per model.
    pub model_notes: Vec<(String, String)>,
    /// Feed failures: (url, kind, message).
    pub feed_errors: Vec<(String, String, String)>,
    /// What the digest left out, by reason: episodes in a language the
    /// region's readers do not read (`digest.languages`; the run does not
    /// summarise them, so they have no insights, except episodes summarised
    /// before), insights too close to one sent recently, and insights below
    /// the quality floor. The ranking's counts are zero when the day's
    /// digest was made by an earlier run.
    #[serde(default)]
    pub digest_left_out: LeftOut,
    /// The digest (made now or earlier the same day).
    pub digest: Option<Digest>,
    /// Whether the digest was made by an earlier run of the same day.
    pub digest_reused: bool,
    /// Delivery, by [`crate::DeliveryStep`]: `sent`, `already_sent`, `deferred`,
    /// `not_yet`, `relay_down`, `failed`, `dead_lettered`, `suppressed`,
    /// `not_confirmed`, `given_up`.
    pub delivery: StageCounts,
    /// Where emails went.
    pub transport: String,
    /// Confirmed subscribers still waiting for the day's digest when the run
    /// ended (claimed by a process that died, refused temporarily, or held
    /// back by a relay outage): the next run of the day delivers to them.
    /// Counted from the store at the end of `meridian run`.
    #[serde(default)]
    pub waiting: u64,
}

impl RunReport {
    /// Adds what one job did.
    pub(crate) fn absorb(&mut self, part: Self) {
        self.feeds.absorb(part.feeds);
        self.transcripts.absorb(part.transcripts);
        self.insights.absorb(part.insights);
        self.delivery.absorb(part.delivery);
        self.digest_left_out.absorb(part.digest_left_out);
        for (model, reason) in part.model_notes {
            if !self.model_notes.iter().any(|(m, _)| *m == model) {
                self.model_notes.push((model, reason));
            }
        }
        self.feed_errors.extend(part.feed_errors);
        if part.digest.is_some() {
            self.digest = part.digest;
            self.digest_reused = part.digest_reused;
        }
    }
}

fn unix(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// When to check a feed again after a successful fetch: the longest of the
/// feed's `<ttl>`, `Cache-Control: max-age`, `Expires` and `Retry-After`,
/// clamped to [15 min, 24 h].
fn next_check(now: DateTime<Utc>, cache: &CacheHints, ttl_minutes: Option<u32>) -> i64 {
    let mut wait = DEFAULT_RECHECK;
    if let Some(ttl) = ttl_minutes {
        wait = wait.max(Duration::from_secs(u64::from(ttl) * 60));
    }
    if let Some(max_age) = cache.max_age {
        wait = wait.max(max_age);
    }
    if let Some(expires) = cache.expires
        && let Ok(d) = (expires - now).to_std()
    {
        wait = wait.max(d);
    }
    if let Some(retry) = cache.retry_after {
        wait = wait.max(retry);
    }
    unix(now) + secs(wait.clamp(MIN_RECHECK, MAX_RECHECK))
}

/// Exponential back-off after `failures` consecutive failures: 15 min, 30 min,
/// 1 h … capped at 24 h, and never sooner than the server's `Retry-After`.
fn backoff(now: DateTime<Utc>, failures: i64, retry_after: Option<Duration>) -> i64 {
    let exp = u32::try_from(failures.clamp(0, 16)).unwrap_or(16);
    let wait = MIN_RECHECK
        .saturating_mul(2u32.saturating_pow(exp))
        .min(MAX_RECHECK);
    unix(now) + secs(wait.max(retry_after.unwrap_or_default()))
}

/// Indices of the `n` newest episodes (unknown dates count as oldest; feed
/// order breaks ties, since feeds list newest first).
fn newest(episodes: &[EpisodeMeta], n: usize) -> HashSet<usize> {
    let mut idx: Vec<usize> = (0..episodes.len()).collect();
    idx.sort_by(|&a, &b| {
        episodes[b]
            .published
            .cmp(&episodes[a].published)
            .then(a.cmp(&b))
    });
    idx.into_iter().take(n).collect()
}

/// Characters of transcript text read to identify its language.
const LANGUAGE_SAMPLE_BYTES: usize = 16_000;

/// The language a transcript is in: what its text says when the text is
/// clear ([`meridian_core::lang::identify`], read from a third of the way in,
/// past intros and ad reads), else `declared`. A declared language whose
/// text is in none of the languages Meridian has resources for, while the
/// declared one has them, is wrong: the result is `und` (undetermined), so a
/// region that lists its readers' languages leaves the episode out instead
/// of mailing, say, a Spanish episode whose feed says `en`.
fn text_language(transcript: &Transcript, declared: Option<&str>) -> Option<String> {
    use meridian_core::lang::{self, Identified};
    let from = transcript.segments.len() / 3;
    let mut sample = String::new();
    for segment in transcript.segments[from..]
        .iter()
        .chain(&transcript.segments[..from])
    {
        if sample.len() >= LANGUAGE_SAMPLE_BYTES {
            break;
        }
        sample.push_str(&segment.text);
        sample.push(' ');
    }
    let declared_primary = declared.map(lang::primary);
    match lang::identify(&sample) {
        Identified::Language(code) if declared_primary.as_deref() == Some(code) => {
            declared.map(str::to_owned)
        }
        Identified::Language(code) => Some(code.to_owned()),
        Identified::Unknown
            if declared_primary
                .as_deref()
                .is_some_and(|d| lang::languages().contains(&d)) =>
        {
            Some("und".to_owned())
        }
        Identified::Unknown | Identified::Undecided => declared.map(str::to_owned),
    }
}

impl Region {
    /// Performs one daily run. Safe to run again for the same day: finished
    /// work is not redone, and no subscriber gets a second email.
    ///
    /// The run is opened in the region's queue (or, when the day's run was
    /// left unfinished by a process that died, joined) and its jobs are worked
    /// in this process, [`WorkerOptions::new`] at a time; `meridian worker`
    /// processes of the same region take jobs of it too. The report counts
    /// every job of the run, whichever process did it.
    ///
    /// `progress` receives one line per stage, for people watching.
    ///
    /// # Errors
    /// [`RuntimeError`] when storage fails, the feed list cannot be read or
    /// the digest cannot be rendered; a failing feed, transcript or model is
    /// recorded and the run goes on.
    pub async fn run_daily(
        &self,
        options: &RunOptions,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<RunReport, RuntimeError> {
        self.run_daily_with(options, &WorkerOptions::new(self), progress)
            .await
    }

    /// [`Region::run_daily`] with the queue settings given (lease, jobs at
    /// once): `meridian run --lease-secs`.
    ///
    /// Everything the run does in this process happens inside its `run`
    /// span (fields `region`, `date`): the `job` spans, and within them the
    /// model calls, so that an exported trace holds the whole run.
    ///
    /// # Errors
    /// As [`Region::run_daily`].
    #[tracing::instrument(name = "run", skip_all, fields(region = %self.config().id, date = %options.date))]
    pub async fn run_daily_with(
        &self,
        options: &RunOptions,
        worker: &WorkerOptions,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<RunReport, RuntimeError> {
        let audit_mark = self.run_mark();
        let mut notes = Vec::new();
        for m in self.insight_models() {
            if let Some(reason) = &m.unavailable {
                progress(&format!(
                    "model `{}` ({}) skipped: {reason}",
                    m.name, m.provider
                ));
                notes.push((m.name.clone(), reason.clone()));
            }
        }
        let run = self.open_run(options).await?;
        if run.stage != meridian_store::RunStage::Start {
            progress(&format!(
                "resuming the unfinished run of {} (at stage `{}`)",
                run.date,
                run.stage.as_str()
            ));
        }
        let mut report = self.work_run(&run, worker, &notes, progress).await?;
        report.date = Some(options.date);
        report.transport = self.mailer().describe();
        let mut all_notes = notes;
        for note in report.model_notes.drain(..) {
            if !all_notes.iter().any(|(m, _)| *m == note.0) {
                all_notes.push(note);
            }
        }
        report.model_notes = all_notes;
        self.audit_run_finished(audit_mark, progress).await?;
        report.waiting = self.subscribers_waiting(options.date).await?;
        if report.waiting > 0 {
            progress(&format!(
                "{} subscriber(s) still wait for the digest of {}; run again to deliver to them",
                report.waiting, options.date
            ));
        }
        Ok(report)
    }

    /// Confirmed subscribers still waiting for the digest of `date` (0 when
    /// the day has no digest); see [`RunReport::waiting`].
    ///
    /// # Errors
    /// [`RuntimeError::Store`].
    pub async fn subscribers_waiting(&self, date: NaiveDate) -> Result<u64, RuntimeError> {
        let store = self.store();
        let Some(stored) = store.digest_for_date(date).await? else {
            return Ok(0);
        };
        let n = store.subscribers_waiting_for(stored.id).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Opens the run of `options.date` in the queue without working on it
    /// (`meridian run --enqueue-only`): `meridian worker` processes do the
    /// work. A run already open for the day is returned as it is.
    ///
    /// # Errors
    /// [`RuntimeError::Store`].
    pub async fn open_run(
        &self,
        options: &RunOptions,
    ) -> Result<meridian_store::RunRow, RuntimeError> {
        let (run, opened) = self
            .store()
            .open_run(
                &options.date.to_string(),
                options.force_refresh,
                options.import_opml,
                unix(Utc::now()),
            )
            .await?;
        if opened {
            self.audit_run_started(options).await?;
        }
        Ok(run)
    }

    /// Seed subscribers from config and feeds from the OPML list (idempotent).
    pub(crate) async fn seed(&self, import_opml: bool) -> Result<(), RuntimeError> {
        let now = unix(Utc::now());
        let store = self.store();
        for email in &self.config().seed_subscribers {
            store
                .add_subscriber(email, SubscriberStatus::Confirmed, None, "config", now)
                .await?;
        }
        if import_opml && let Some(path) = &self.config().opml {
            let region = self.config().id.clone();
            let list_err = |reason: String| RuntimeError::FeedList {
                region: region.clone(),
                path: path.display().to_string(),
                reason,
            };
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|e| list_err(e.to_string()))?;
            let outlines = meridian_ingest::parse_opml(&bytes, &path.display().to_string())
                .map_err(|e| list_err(e.to_string()))?;
            for o in outlines {
                match FeedUrl::parse(&o.xml_url) {
                    Ok(url) => {
                        store
                            .add_feed(url.as_str(), o.title.as_deref(), "opml", now)
                            .await?;
                    }
                    Err(e) => {
                        tracing::warn!(region = %region, error = %e, "Skipping an OPML entry")
                    }
                }
            }
        }
        Ok(())
    }

    /// The feeds a run checks: every enabled feed (`force_refresh`), or those due.
    pub(crate) async fn feeds_to_check(
        &self,
        force_refresh: bool,
    ) -> Result<Vec<FeedRow>, RuntimeError> {
        Ok(if force_refresh {
            self.store()
                .list_feeds()
                .await?
                .into_iter()
                .filter(|f| !f.disabled && !f.blocked)
                .collect()
        } else {
            self.store().feeds_due(unix(Utc::now())).await?
        })
    }

    /// A `feed` job: one conditional GET of one feed, its new episodes stored.
    ///
    /// Two limits hold as before the queue: jobs at once in this process
    /// (the worker's concurrency) and fetches per host (`slots`), so that
    /// hundreds of feeds on one hosting platform are fetched a couple at a
    /// time while other hosts proceed.
    pub(crate) async fn check_feed(
        &self,
        feed_id: i64,
        slots: &HostSlots,
        report: &mut RunReport,
    ) -> Result<(), RuntimeError> {
        let Some(feed) = self.store().feed(feed_id).await? else {
            // Removed since the run was planned.
            return Ok(());
        };
        if feed.disabled {
            return Ok(());
        }
        let result = match FeedUrl::parse(&feed.url) {
            Ok(url) => {
                let _permit = slots.acquire(url.as_str()).await;
                let validators = Validators {
                    etag: feed.etag.clone(),
                    last_modified: feed.last_modified.clone(),
                };
                meridian_ingest::fetch_feed(self.egress(), &url, &validators).await
            }
            Err(e) => Err(meridian_ingest::IngestError::bad_url(
                meridian_ingest::DocKind::Feed,
                &feed.url,
                e,
            )),
        };
        self.store_fetch(&feed, result, report).await
    }

    async fn store_fetch(
        &self,
        feed: &FeedRow,
        result: Result<FeedFetch, meridian_ingest::IngestError>,
        report: &mut RunReport,
    ) -> Result<(), RuntimeError> {
        let now = Utc::now();
        let store = self.store();
        match result {
            Ok(FeedFetch::NotModified { cache, .. }) => {
                report.feeds.add("not_modified", 1);
                store
                    .record_feed_not_modified(feed.id, next_check(now, &cache, None), unix(now))
                    .await?;
            }
            Ok(FeedFetch::Fetched(fetched)) => {
                report.feeds.add("fetched", 1);
                let podcast = &fetched.feed;
                if !podcast.blocked {
                    let initial = feed.fetch_count == 0;
                    let fresh = newest(&podcast.episodes, INITIAL_EPISODES);
                    let max_age = chrono::Duration::days(i64::from(
                        self.config().digest.max_episode_age_days,
                    ));
                    let counts = store
                        .insert_episodes(feed.id, &podcast.episodes, unix(now), |i, ep| {
                            if initial {
                                fresh.contains(&i)
                            } else {
                                ep.published.is_none_or(|p| now - p <= max_age)
                            }
                        })
                        .await?;
                    report.feeds.add("new_episodes", counts.queued as u64);
                    report
                        .feeds
                        .add("archived_episodes", counts.archived as u64);
                }
                // Validators are saved only now that the episodes are stored: a
                // crash before this line fetches the same content again.
                let moved = fetched.moved_to.as_ref().map(FeedUrl::as_str);
                store
                    .record_feed_success(
                        feed.id,
                        &FeedSuccess {
                            title: Some(podcast.title.as_str()).filter(|t| !t.is_empty()),
                            etag: fetched.etag.as_deref(),
                            last_modified: fetched.last_modified.as_deref(),
                            new_url: moved,
                            blocked: podcast.blocked,
                            next_check_at: next_check(now, &fetched.cache, podcast.ttl_minutes),
                        },
                        unix(now),
                    )
                    .await?;
            }
            Err(e) => {
                report.feeds.add("failed", 1);
                let kind = e.kind();
                tracing::warn!(region = %self.config().id, feed = %feed.url, kind, error = %e, "Feed check failed");
                report
                    .feed_errors
                    .push((feed.url.clone(), kind.to_owned(), e.to_string()));
                store
                    .record_feed_failure(
                        feed.id,
                        &FeedFailure {
                            kind,
                            error: &e.to_string(),
                            next_check_at: backoff(now, feed.failure_count, e.retry_after()),
                            disable: kind == "gone",
                        },
                        unix(now),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// An `episode` job: the episode's transcript (unless stored), then its
    /// insights. An episode already extracted or archived is left alone, so
    /// a job that runs again after a crash does no work twice.
    pub(crate) async fn process_episode(
        &self,
        episode_id: i64,
        slots: &HostSlots,
        cpu: &tokio::sync::Semaphore,
        report: &mut RunReport,
    ) -> Result<(), RuntimeError> {
        let store = self.store();
        let Some(ep) = store.episode(episode_id).await? else {
            return Ok(());
        };
        let (transcript, hash) = match ep.status {
            EpisodeStatus::Extracted | EpisodeStatus::Archived => return Ok(()),
            EpisodeStatus::New => match self.transcribe_episode(&ep, slots, report).await? {
                Some(done) => done,
                None => return Ok(()),
            },
            EpisodeStatus::Transcribed | EpisodeStatus::Parked => {
                match store.transcript_with_hash(ep.id).await? {
                    Some(stored) => stored,
                    None => {
                        // Marked transcribed without a transcript (a lost
                        // write): fetch it again.
                        match self.transcribe_episode(&ep, slots, report).await? {
                            Some(done) => done,
                            None => return Ok(()),
                        }
                    }
                }
            }
        };
        // An episode in a language the region's readers do not read would be
        // left out of the digest anyway: it is not summarised, so no model
        // (and no model provider) sees it.
        let language = transcript
            .language
            .as_deref()
            .or(ep.meta.language.as_deref())
            .filter(|l| !l.trim().is_empty());
        if let Some(language) = language
            && !self.reads_language(language)
        {
            store
                .set_episode_status(
                    ep.id,
                    EpisodeStatus::Archived,
                    Some(&format!(
                        "not summarised: in `{language}`, not one of the region's digest languages ({})",
                        self.config().digest.languages.join(", ")
                    )),
                )
                .await?;
            report.digest_left_out.episodes_other_language += 1;
            return Ok(());
        }
        self.extract_episode(&ep, &transcript, &hash, cpu, report)
            .await
    }

    /// Whether the region's readers read `language` (`[digest] languages`,
    /// by primary subtag; an empty list reads every language).
    fn reads_language(&self, language: &str) -> bool {
        let languages = &self.config().digest.languages;
        let primary = meridian_core::lang::primary(language);
        languages.is_empty()
            || languages
                .iter()
                .any(|l| meridian_core::lang::primary(l) == primary)
    }

    /// The episode's best `podcast:transcript`, else speech-to-text of its
    /// audio, else its show notes, stored with its content hash. `None` when
    /// there is nothing to summarise (the episode is archived).
    async fn transcribe_episode(
        &self,
        ep: &EpisodeRow,
        slots: &HostSlots,
        report: &mut RunReport,
    ) -> Result<Option<(Transcript, ContentHash)>, RuntimeError> {
        let store = self.store();
        let language = self.config().locale.language().to_owned();
        let link = meridian_ingest::pick_transcript(&ep.meta.transcripts, Some(&language)).cloned();
        let mut transcript: Option<Transcript> = None;
        if let Some(link) = &link {
            let fetched = {
                let _permit = slots.acquire(&link.url).await;
                meridian_ingest::fetch_transcript(self.egress(), link, ep.meta.language.as_deref())
                    .await
            };
            match fetched {
                Ok(t) if !t.segments.is_empty() => transcript = Some(t),
                Ok(_) => report.transcripts.add("failed", 1),
                Err(e) => {
                    tracing::warn!(region = %self.config().id, episode = %ep.meta.guid, url = %link.url, error = %e, "Transcript unavailable; using the show notes");
                    report.transcripts.add("failed", 1);
                }
            }
        }
        // No usable transcript: speech-to-text of the enclosure when the
        // region has a `transcribe` model (see `models.rs`), else the show notes.
        if transcript.is_none() {
            // Speech recognition output is read like a transcript file: cues
            // re-joined into sentences, hallucinations and loops dropped.
            transcript = self.speech_to_text(ep, report).await?.map(|mut t| {
                t.segments = meridian_ingest::normalize_segments(std::mem::take(&mut t.segments));
                t
            });
        }
        let mut transcript = match transcript {
            Some(t) => t,
            None => meridian_ingest::show_notes_transcript(&ep.meta),
        };
        let declared = transcript
            .language
            .clone()
            .or_else(|| ep.meta.language.clone());
        transcript.language = text_language(&transcript, declared.as_deref());
        if transcript.language != declared {
            tracing::info!(
                region = %self.config().id,
                episode = %ep.meta.guid,
                declared = declared.as_deref().unwrap_or("nothing"),
                text = transcript.language.as_deref().unwrap_or("und"),
                "The transcript's text is not in the language its source declares; going by the text"
            );
        }
        if transcript.segments.is_empty() {
            store
                .set_episode_status(
                    ep.id,
                    EpisodeStatus::Archived,
                    Some("no transcript and no show notes"),
                )
                .await?;
            report.transcripts.add("empty", 1);
            return Ok(None);
        }
        let key = match transcript.source {
            TranscriptSource::Feed(f) => f.as_str(),
            TranscriptSource::SpeechToText => "speech_to_text",
            TranscriptSource::ShowNotes => "show_notes",
        };
        report.transcripts.add(key, 1);
        let hash = store
            .save_transcript(ep.id, &transcript, unix(Utc::now()))
            .await?;
        Ok(Some((transcript, hash)))
    }

    /// The episode's insights: from the content-addressed cache when the same
    /// transcript was summarised before, else from the region's `insight`
    /// chain, at most `cpu` extractions at once (the builtin engine runs on
    /// the blocking pool; see `WorkerOptions`).
    async fn extract_episode(
        &self,
        ep: &EpisodeRow,
        transcript: &Transcript,
        hash: &ContentHash,
        cpu: &tokio::sync::Semaphore,
        report: &mut RunReport,
    ) -> Result<(), RuntimeError> {
        let store = self.store();
        let size = self.config().digest.size;
        let now = unix(Utc::now());
        report.insights.add("episodes", 1);
        if let Some((model, insights)) = store.cached_extraction(hash).await? {
            report.insights.add("cached", 1);
            store
                .save_insights(ep.id, hash, &model, &insights, now)
                .await?;
            return Ok(());
        }
        let podcast = store
            .feed(ep.feed_id)
            .await?
            .map(|f| f.title.unwrap_or(f.url))
            .unwrap_or_default();
        let result = {
            // The semaphore is never closed, so acquiring cannot fail.
            let _slot = cpu.acquire().await.ok();
            self.insight_chain()
                .extract(transcript, &podcast, &ep.meta.title, size)
                .await
        };
        let attempts = match &result {
            Ok(x) => x.attempts.clone(),
            Err(e) => e.attempts().to_vec(),
        };
        for a in &attempts {
            let (outcome, detail) = match &a.outcome {
                AttemptOutcome::Ok => ("ok", None),
                AttemptOutcome::Skipped { kind, reason } => {
                    report
                        .model_notes
                        .push((a.model.clone(), format!("skipped ({kind}): {reason}")));
                    continue;
                }
                AttemptOutcome::Failed { kind, message } => {
                    report
                        .model_notes
                        .push((a.model.clone(), format!("failed ({kind}): {message}")));
                    ("error", Some(message.clone()))
                }
            };
            store
                .record_model_call(&ModelCallRecord {
                    at: now,
                    role: "insight",
                    model: &a.model,
                    provider: a.provider,
                    hosted_in: a.hosted_in.as_str(),
                    content_hash: Some(&hash.to_hex()),
                    input_tokens: i64::try_from(a.input_tokens).unwrap_or(i64::MAX),
                    output_tokens: i64::try_from(a.output_tokens).unwrap_or(i64::MAX),
                    latency_ms: i64::try_from(a.latency_ms).unwrap_or(i64::MAX),
                    outcome,
                    detail: detail.as_deref(),
                })
                .await?;
        }
        match result {
            Ok(x) => {
                report.insights.add(&format!("model:{}", x.model), 1);
                store
                    .save_insights(ep.id, hash, &x.model, &x.insights, now)
                    .await?;
            }
            Err(e) => {
                // No model of the region's own list could do it: park the
                // episode for the next run; never borrow another region's model.
                report.insights.add("parked", 1);
                store
                    .set_episode_status(ep.id, EpisodeStatus::Parked, Some(&e.to_string()))
                    .await?;
            }
        }
        Ok(())
    }

    /// The `digest` job: the day's top picks, made once per day.
    pub(crate) async fn make_digest(
        &self,
        date: NaiveDate,
        report: &mut RunReport,
    ) -> Result<(), RuntimeError> {
        let store = self.store();
        if let Some(stored) = store.digest_for_date(date).await? {
            report.digest = Some(stored.digest);
            report.digest_reused = true;
            return Ok(());
        }
        let now = Utc::now();
        let cfg = &self.config().digest;
        let since = unix(now) - i64::from(cfg.max_episode_age_days) * 86_400;
        let mut candidates = Vec::new();
        let mut owner: HashMap<String, i64> = HashMap::new();
        for ep in store.digest_candidates(since).await? {
            let key = ep.episode_id.to_string();
            owner.insert(key.clone(), ep.episode_id);
            // The language the transcript's text is in (`text_language`: what
            // the text says when it is clear, else what the transcript or the
            // episode declares), else the episode's own, else its feed's.
            let language = ep
                .transcript_language
                .clone()
                .or_else(|| ep.meta.language.clone())
                .filter(|l| !l.trim().is_empty());
            for insight in ep.insights {
                candidates.push(Candidate {
                    episode_key: key.clone(),
                    podcast: ep.podcast.clone(),
                    episode: ep.meta.title.clone(),
                    episode_url: ep.meta.link.clone(),
                    audio_url: ep.meta.enclosure.as_ref().map(|e| e.url.clone()),
                    language: language.clone(),
                    published: ep.meta.published,
                    insight,
                });
            }
        }
        let recent = store
            .recent_digest_texts(unix(now) - i64::from(cfg.novelty_days) * 86_400)
            .await?;
        let ranking = meridian_digest::rank::select(
            &candidates,
            &recent,
            &RankOptions {
                limit: cfg.size,
                languages: cfg.languages.clone(),
                ..RankOptions::new(now)
            },
        );
        // Added to the episodes left out before they were summarised.
        report.digest_left_out.absorb(ranking.left_out);
        let short_of_strong_insights = ranking.short_of_strong_insights;
        let picks = ranking.items;
        if picks.is_empty() {
            return Ok(());
        }
        let featured: Vec<i64> = picks
            .iter()
            .filter_map(|p| {
                candidates
                    .iter()
                    .find(|c| c.insight.text == p.insight.text && c.episode == p.episode)
                    .and_then(|c| owner.get(&c.episode_key).copied())
            })
            .collect();
        let digest = Digest {
            region: self.config().id.clone(),
            date,
            items: picks,
            short_of_strong_insights,
        };
        let stored = store.create_digest(&digest, &featured, unix(now)).await?;
        // Another process may have stored the day's digest first. Compared
        // by the picks, not by equality: the stored digest went through JSON,
        // whose float parsing may move a score by one ULP.
        let picks = |d: &Digest| {
            d.items
                .iter()
                .map(|i| (i.insight.text.clone(), i.episode.clone()))
                .collect::<Vec<_>>()
        };
        report.digest_reused = picks(&stored.digest) != picks(&digest);
        report.digest = Some(stored.digest);
        Ok(())
    }
}

/// The progress lines printed once `stage` is finished, from the run's
/// report so far; `noted` are the models already reported as skipped.
pub(crate) fn stage_lines(
    stage: meridian_store::RunStage,
    report: &RunReport,
    noted: &[(String, String)],
) -> Vec<String> {
    use meridian_store::RunStage;
    let mut lines = Vec::new();
    match stage {
        RunStage::Start | RunStage::Done => {}
        RunStage::Feeds => {
            lines.push(format!(
                "feeds: {} fetched, {} not modified, {} failed; {} new episodes",
                report.feeds.get("fetched"),
                report.feeds.get("not_modified"),
                report.feeds.get("failed"),
                report.feeds.get("new_episodes")
            ));
            for (url, kind, msg) in &report.feed_errors {
                lines.push(format!("feed {url} failed ({kind}): {msg}"));
            }
        }
        RunStage::Episodes => {
            if !report.transcripts.0.is_empty() {
                let parts: Vec<String> = report
                    .transcripts
                    .0
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                lines.push(format!("transcripts: {}", parts.join(", ")));
            }
            let seen: HashSet<&str> = noted.iter().map(|(m, _)| m.as_str()).collect();
            for (model, note) in &report.model_notes {
                if !seen.contains(model.as_str()) {
                    lines.push(format!(
                        "model `{model}` {note}; falling back within the region"
                    ));
                }
            }
            let by_model: Vec<String> = report
                .insights
                .0
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("model:").map(|m| format!("{v} by {m}")))
                .collect();
            lines.push(format!(
                "insights: {} episodes ({}), {} from cache, {} parked",
                report.insights.get("episodes"),
                if by_model.is_empty() {
                    "none extracted now".to_owned()
                } else {
                    by_model.join(", ")
                },
                report.insights.get("cached"),
                report.insights.get("parked"),
            ));
        }
        RunStage::Digest => {
            match &report.digest {
                Some(d) => lines.push(format!(
                    "digest {}: {} insights{}{}",
                    d.date,
                    d.items.len(),
                    if d.short_of_strong_insights {
                        " (fewer than asked: the others were below the quality floor)"
                    } else {
                        ""
                    },
                    if report.digest_reused {
                        " (made by an earlier run today)"
                    } else {
                        ""
                    }
                )),
                None => lines.push(format!(
                    "digest {}: nothing new to send",
                    report.date.map_or_else(String::new, |d| d.to_string())
                )),
            }
            let left = &report.digest_left_out;
            let mut parts = Vec::new();
            if left.insights_other_language > 0 {
                parts.push(format!(
                    "{} insights of {} episodes in languages the region does not read",
                    left.insights_other_language, left.episodes_other_language
                ));
            } else if left.episodes_other_language > 0 {
                parts.push(format!(
                    "{} episodes in languages the region does not read (not summarised)",
                    left.episodes_other_language
                ));
            }
            if left.insights_already_sent > 0 {
                parts.push(format!("{} already sent", left.insights_already_sent));
            }
            if left.insights_below_floor > 0 {
                parts.push(format!(
                    "{} below the quality floor",
                    left.insights_below_floor
                ));
            }
            if !parts.is_empty() {
                lines.push(format!("left out of the digest: {}", parts.join(", ")));
            }
        }
        RunStage::Deliver => {
            let waiting = ["deferred", "not_yet", "relay_down"]
                .iter()
                .map(|k| report.delivery.get(k))
                .sum::<u64>();
            let given_up = ["failed", "dead_lettered", "suppressed"]
                .iter()
                .map(|k| report.delivery.get(k))
                .sum::<u64>();
            lines.push(format!(
                "emails: {} sent, {} already sent, {waiting} waiting for a retry, {given_up} given up ({})",
                report.delivery.get("sent"),
                report.delivery.get("already_sent"),
                report.transport
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn spoken(lines: &[&str]) -> Transcript {
        Transcript {
            source: TranscriptSource::ShowNotes,
            language: None,
            segments: lines
                .iter()
                .map(|text| meridian_core::Segment {
                    start: None,
                    end: None,
                    speaker: None,
                    text: (*text).to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_transcripts_language_is_what_its_text_says_when_the_text_is_clear() {
        let spanish = spoken(
            &["Bueno, hoy vamos a hablar de cómo funciona el mercado de la vivienda en España.";
                30],
        );
        let english = spoken(
            &["The reason we moved the whole build to one machine is that the cache was \
             never warm on the others."; 30],
        );
        let german = spoken(
            &["Ich glaube, dass das eigentlich gar nicht so schwer ist, wenn man sich das \
             vorher überlegt."; 30],
        );
        // Declared wrong, in a language with resources: undetermined, so a
        // region reading English leaves the episode out.
        assert_eq!(
            text_language(&spanish, Some("en-US")).as_deref(),
            Some("und")
        );
        // Declared in a language without resources: nothing to say against it.
        assert_eq!(text_language(&spanish, Some("es")).as_deref(), Some("es"));
        assert_eq!(text_language(&spanish, None), None);
        // The text's own language wins; a matching declaration keeps its region.
        assert_eq!(text_language(&german, Some("en")).as_deref(), Some("de"));
        assert_eq!(
            text_language(&english, Some("en-GB")).as_deref(),
            Some("en-GB")
        );
        assert_eq!(text_language(&english, None).as_deref(), Some("en"));
        // Too little text: the declaration stands.
        let short = spoken(&["Hola a todos."]);
        assert_eq!(text_language(&short, Some("en")).as_deref(), Some("en"));
    }

    #[test]
    fn next_check_honours_the_longest_hint_within_bounds() {
        let now = t("2026-11-28T00:00:00Z");
        let none = CacheHints::default();
        assert_eq!(next_check(now, &none, None) - unix(now), 3600);
        assert_eq!(next_check(now, &none, Some(180)) - unix(now), 3 * 3600);
        let long = CacheHints {
            max_age: Some(Duration::from_secs(7 * 86_400)),
            ..CacheHints::default()
        };
        assert_eq!(
            next_check(now, &long, None) - unix(now),
            86_400,
            "clamped to a day"
        );
        let retry = CacheHints {
            retry_after: Some(Duration::from_secs(7200)),
            ..CacheHints::default()
        };
        assert_eq!(next_check(now, &retry, None) - unix(now), 7200);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let now = t("2026-11-28T00:00:00Z");
        let waits: Vec<i64> = (0..8).map(|f| backoff(now, f, None) - unix(now)).collect();
        assert_eq!(&waits[..4], &[900, 1800, 3600, 7200]);
        assert_eq!(waits[7], 86_400);
        assert_eq!(
            backoff(now, 0, Some(Duration::from_secs(5000))) - unix(now),
            5000
        );
    }

    #[test]
    fn the_digest_line_says_what_was_left_out_and_why() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap_or_default();
        let mut report = RunReport {
            date: Some(date),
            digest: Some(Digest {
                region: meridian_core::RegionId::parse("us").unwrap(),
                date,
                items: Vec::new(),
                short_of_strong_insights: true,
            }),
            ..RunReport::default()
        };
        let lines = stage_lines(meridian_store::RunStage::Digest, &report, &[]);
        assert_eq!(
            lines,
            [
                "digest 2026-11-28: 0 insights (fewer than asked: the others were below the quality floor)"
            ],
            "nothing left out, no second line"
        );
        report.digest_left_out = LeftOut {
            insights_other_language: 7,
            episodes_other_language: 2,
            insights_already_sent: 0,
            insights_below_floor: 3,
        };
        let lines = stage_lines(meridian_store::RunStage::Digest, &report, &[]);
        assert_eq!(
            lines.get(1).map(String::as_str),
            Some(
                "left out of the digest: 7 insights of 2 episodes in languages the region does not read, \
                 3 below the quality floor"
            )
        );
        report.digest_left_out = LeftOut {
            insights_other_language: 0,
            episodes_other_language: 4,
            insights_already_sent: 0,
            insights_below_floor: 0,
        };
        let lines = stage_lines(meridian_store::RunStage::Digest, &report, &[]);
        assert_eq!(
            lines.get(1).map(String::as_str),
            Some(
                "left out of the digest: 4 episodes in languages the region does not read (not summarised)"
            )
        );
        // Parts written before the field existed still read.
        let old: RunReport = serde_json::from_str(r#"{"date":null,"feeds":{},"transcripts":{},"insights":{},"model_notes":[],"feed_errors":[],"digest":null,"digest_reused":false,"delivery":{},"transport":""}"#)
            .unwrap();
        assert_eq!(old.digest_left_out, LeftOut::default());
        let mut sum = RunReport::default();
        sum.absorb(report.clone());
        sum.absorb(report);
        assert_eq!(sum.digest_left_out.episodes_other_language, 8);
    }

    #[test]
    fn newest_prefers_dates_then_feed_order() {
        let ep = |title: &str, date: Option<&str>| EpisodeMeta {
            guid: meridian_core::EpisodeGuid(title.into()),
            guid_source: meridian_core::GuidSource::Guid,
            title: title.into(),
            published: date.map(t),
            link: None,
            description: String::new(),
            enclosure: None,
            duration_secs: None,
            transcripts: vec![],
            chapters_url: None,
            persons: vec![],
            language: None,
        };
        let eps = vec![
            ep("old", Some("2020-01-01T00:00:00Z")),
            ep("undated", None),
            ep("new", Some("2026-11-01T00:00:00Z")),
            ep("mid", Some("2024-01-01T00:00:00Z")),
        ];
        let picked = newest(&eps, 2);
        assert_eq!(picked, HashSet::from([2, 3]));
    }
}
