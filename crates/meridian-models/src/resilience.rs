//! How a region treats its models when they struggle: retries, a circuit
//! breaker and a concurrency limit per model ([`ModelGuard`]), and a daily
//! token budget per region ([`TokenBudget`]).
//!
//! - **Retries** happen per HTTP request, so a chunked extraction repeats only
//!   the request that failed. Only failures that may heal are retried (HTTP 429
//!   and 5xx, timeouts, failed connections, cut-off bodies; see
//!   [`ProviderError::is_retryable`]). The wait before retry `n` (from 0) is
//!   drawn uniformly from `0..=min(max_backoff, base_backoff × 2^n)` ("full
//!   jitter", so that many clients hit by the same outage do not come back in
//!   step), and is never shorter than the server's `Retry-After`. A server that
//!   asks for more than [`Resilience::max_retry_after`] is not waited for: the
//!   chain moves on to the region's next model instead. Waits go through
//!   `tokio::time::sleep`, so tests run them on a paused clock.
//! - **The circuit breaker** counts failed extractions, not requests: after
//!   [`Resilience::breaker_threshold`] in a row that say the model is unwell
//!   (retryable failures), it opens for [`Resilience::breaker_cooldown`], and
//!   the chain skips the model meanwhile. A failure that says the model cannot
//!   be reached opens it at once; one that will not heal within a run (wrong
//!   key, model not installed, wrong digest) opens it for the rest of the run.
//!   After the cool-down one extraction is let through as a probe (half-open):
//!   its success closes the breaker, its failure opens it again. A reply that
//!   does not validate says the server is up, so it counts as a success here.
//! - **The concurrency limit** is a semaphore per model held for the duration
//!   of each HTTP request (not during back-off waits).
//! - **The token budget** is shared by every chain of a region. The runtime
//!   seeds it with what the region's accounting says was spent today; a call
//!   reserves its estimated prompt tokens first and is skipped when that would
//!   pass the budget, then settles with what the server reported.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use meridian_config::ModelConfig;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::ProviderError;

/// Default first back-off step.
pub const DEFAULT_BASE_BACKOFF: Duration = Duration::from_millis(500);
/// Default longest back-off step (before `Retry-After`).
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(20);
/// Default longest `Retry-After` that is waited for.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Default failed extractions in a row that open the breaker.
pub const DEFAULT_BREAKER_THRESHOLD: u32 = 3;
/// Default time the breaker stays open.
pub const DEFAULT_BREAKER_COOLDOWN: Duration = Duration::from_secs(60);

/// How one model's requests are retried, limited and cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resilience {
    /// Retries of one request after a retryable failure (0: none).
    pub max_retries: u32,
    /// First back-off step; each retry doubles it.
    pub base_backoff: Duration,
    /// Longest back-off step.
    pub max_backoff: Duration,
    /// Longest `Retry-After` waited for; a server asking for more is given up on.
    pub max_retry_after: Duration,
    /// Failed extractions in a row that open the breaker (at least 1).
    pub breaker_threshold: u32,
    /// How long an open breaker stays open before a probe.
    pub breaker_cooldown: Duration,
    /// Requests in flight at once (at least 1).
    pub max_concurrency: usize,
}

impl Resilience {
    /// The settings of a model entry (`max_retries`, `max_concurrency`), with
    /// the default back-off and breaker.
    #[must_use]
    pub fn for_model(config: &ModelConfig) -> Self {
        Self {
            max_retries: config.max_retries,
            max_concurrency: config.max_concurrency,
            ..Self::default()
        }
    }

    /// No retries, a breaker that never opens, no concurrency limit to speak
    /// of: what a provider called directly (outside a chain) gets.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            breaker_threshold: u32::MAX,
            max_concurrency: Semaphore::MAX_PERMITS,
            ..Self::default()
        }
    }

    /// The upper bound of the wait before retry `retry` (from 0):
    /// `min(max_backoff, base_backoff × 2^retry)`.
    #[must_use]
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        self.base_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(30)))
            .min(self.max_backoff)
    }

    /// The wait before retry `retry` after `error`: a uniform draw up to
    /// [`Self::backoff_ceiling`], but at least the server's `Retry-After`.
    /// `None` when the server asks for longer than [`Self::max_retry_after`].
    #[must_use]
    pub fn wait_before_retry(&self, retry: u32, error: &ProviderError) -> Option<Duration> {
        let jittered = jitter(self.backoff_ceiling(retry));
        match error.retry_after() {
            Some(asked) if asked > self.max_retry_after => None,
            Some(asked) => Some(jittered.max(asked)),
            None => Some(jittered),
        }
    }
}

impl Default for Resilience {
    /// Two retries, 0.5 s doubling to 20 s, `Retry-After` up to 60 s, breaker
    /// at 3 failures for 60 s, 4 requests at once.
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_backoff: DEFAULT_BASE_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            breaker_cooldown: DEFAULT_BREAKER_COOLDOWN,
            max_concurrency: 4,
        }
    }
}

/// A uniform draw from `0..=ceiling`. The randomness comes from std's
/// per-instance hash keys, which is plenty to spread retries and spares a
/// dependency.
fn jitter(ceiling: Duration) -> Duration {
    use std::hash::{BuildHasher as _, Hasher as _};
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_nanos(random % nanos.saturating_add(1))
}

/// The state of one model's circuit breaker.
#[derive(Debug, Clone)]
enum Breaker {
    /// Requests flow; `failures` failed extractions in a row so far.
    Closed { failures: u32 },
    /// The model is skipped until `until` (`None`: for the rest of the run).
    Open {
        until: Option<Instant>,
        reason: String,
    },
    /// One probe extraction is under way since `since`.
    HalfOpen { since: Instant },
}

/// Whether a model may be called now, and in which role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The breaker is closed.
    Normal,
    /// The breaker was open and this call is the probe.
    Probe,
}

/// One model's retry policy, circuit breaker and concurrency limit, shared by
/// every request to it within a region.
#[derive(Debug)]
pub struct ModelGuard {
    options: Resilience,
    breaker: Mutex<Breaker>,
    /// Held for the duration of each request.
    permits: Semaphore,
}

impl ModelGuard {
    /// A guard with these settings, breaker closed.
    #[must_use]
    pub fn new(options: Resilience) -> Self {
        let permits = Semaphore::new(options.max_concurrency.clamp(1, Semaphore::MAX_PERMITS));
        Self {
            options,
            breaker: Mutex::new(Breaker::Closed { failures: 0 }),
            permits,
        }
    }

    /// The settings.
    #[must_use]
    pub fn options(&self) -> &Resilience {
        &self.options
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // A poisoned lock only means a panic elsewhere mid-update; the state is
        // a plain value and still usable.
        self.breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Why the model would be skipped now, without taking a probe slot.
    #[must_use]
    pub fn open_reason(&self) -> Option<String> {
        match &*self.state() {
            Breaker::Open {
                until: None,
                reason,
            } => Some(reason.clone()),
            Breaker::Open {
                until: Some(until),
                reason,
            } if Instant::now() < *until => Some(reason.clone()),
            _ => None,
        }
    }

    /// Asks the breaker whether the model may be called now.
    ///
    /// # Errors
    /// The reason it may not: open (with the failure that opened it), or a
    /// probe already under way.
    pub(crate) fn admit(&self) -> Result<Admission, String> {
        let now = Instant::now();
        let mut state = self.state();
        match &*state {
            Breaker::Closed { .. } => Ok(Admission::Normal),
            Breaker::Open {
                until: None,
                reason,
            } => Err(format!("circuit open for the rest of the run: {reason}")),
            Breaker::Open {
                until: Some(until),
                reason,
            } => {
                if now < *until {
                    Err(format!(
                        "circuit open for another {}s: {reason}",
                        until.duration_since(now).as_secs().max(1)
                    ))
                } else {
                    *state = Breaker::HalfOpen { since: now };
                    Ok(Admission::Probe)
                }
            }
            Breaker::HalfOpen { since } => {
                // A probe that never reported (its caller was dropped) must
                // not keep the model out forever.
                if now.duration_since(*since) >= self.options.breaker_cooldown {
                    *state = Breaker::HalfOpen { since: now };
                    Ok(Admission::Probe)
                } else {
                    Err("circuit half-open: a probe request is under way".to_owned())
                }
            }
        }
    }

    /// Records a successful extraction: the breaker closes.
    pub(crate) fn record_success(&self) {
        *self.state() = Breaker::Closed { failures: 0 };
    }

    /// Records a failed extraction and returns whether the breaker is now open.
    pub(crate) fn record_failure(&self, error: &ProviderError) -> bool {
        let unwell = error.is_retryable() || error.marks_down();
        let mut state = self.state();
        if !unwell {
            // The server answered; what it said is another matter.
            *state = Breaker::Closed { failures: 0 };
            return false;
        }
        let permanent = matches!(
            error,
            ProviderError::Auth { .. }
                | ProviderError::NotFound { .. }
                | ProviderError::DigestMismatch { .. }
                | ProviderError::Config { .. }
        );
        let failures = match &*state {
            Breaker::Closed { failures } => failures.saturating_add(1),
            // A failed probe, or a late failure while already open.
            Breaker::HalfOpen { .. } | Breaker::Open { .. } => self.options.breaker_threshold,
        };
        if permanent {
            *state = Breaker::Open {
                until: None,
                reason: error.to_string(),
            };
        } else if error.marks_down() || failures >= self.options.breaker_threshold {
            *state = Breaker::Open {
                until: Some(Instant::now() + self.options.breaker_cooldown),
                reason: error.to_string(),
            };
        } else {
            *state = Breaker::Closed { failures };
            return false;
        }
        true
    }

    /// Runs one request through the concurrency limit, retrying it as the
    /// module docs describe. `send` makes a fresh attempt each time.
    ///
    /// # Errors
    /// The last attempt's error.
    pub(crate) async fn call<T, F, Fut>(&self, mut send: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut retry = 0;
        loop {
            let result = {
                // The semaphore is never closed, so this cannot fail; the
                // permit is released before any back-off wait.
                let _permit = self.permits.acquire().await.ok();
                send().await
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(e) if e.is_retryable() && retry < self.options.max_retries => e,
                Err(e) => return Err(e),
            };
            let Some(wait) = self.options.wait_before_retry(retry, &error) else {
                tracing::warn!(error = %error, "Model asks to wait longer than Meridian waits; not retrying");
                return Err(error);
            };
            tracing::warn!(
                error = %error,
                retry = retry + 1,
                of = self.options.max_retries,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "Model request failed; retrying"
            );
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }
}

/// Tokens reported by the servers during one extraction, summed as replies
/// arrive, so that a call that fails half-way is still accounted for.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    input: AtomicU64,
    output: AtomicU64,
}

impl Usage {
    pub(crate) fn add(&self, input: u64, output: u64) {
        self.input.fetch_add(input, Ordering::Relaxed);
        self.output.fetch_add(output, Ordering::Relaxed);
    }

    /// (input, output) so far.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (
            self.input.load(Ordering::Relaxed),
            self.output.load(Ordering::Relaxed),
        )
    }
}

/// A region's daily token budget: prompt plus completion tokens of every
/// model call of the day. Shared by the region's chains.
#[derive(Debug)]
pub struct TokenBudget {
    /// 0: unlimited.
    limit: u64,
    /// Spent today, plus what calls under way have reserved.
    used: AtomicU64,
}

impl TokenBudget {
    /// A budget of `limit` tokens a day; 0 means unlimited.
    #[must_use]
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// No limit.
    #[must_use]
    pub fn unlimited() -> Self {
        Self::new(0)
    }

    /// The limit, `None` when unlimited.
    #[must_use]
    pub fn limit(&self) -> Option<u64> {
        (self.limit > 0).then_some(self.limit)
    }

    /// Tokens counted so far today.
    #[must_use]
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Sets what has been spent today (the runtime reads it from the region's
    /// accounting at the start of a run).
    pub fn set_used(&self, tokens: u64) {
        self.used.store(tokens, Ordering::SeqCst);
    }

    /// Reserves `estimate` tokens for a call.
    ///
    /// # Errors
    /// Why the call would pass the budget.
    pub(crate) fn reserve(&self, estimate: u64) -> Result<(), String> {
        if self.limit == 0 {
            self.used.fetch_add(estimate, Ordering::SeqCst);
            return Ok(());
        }
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                let after = used.saturating_add(estimate);
                // A call with no estimate (speech-to-text) still needs some
                // budget left.
                (after <= self.limit && used < self.limit).then_some(after)
            })
            .map(|_| ())
            .map_err(|used| {
                format!(
                    "daily token budget exhausted: {used} of {} tokens used today, this call needs about {estimate}",
                    self.limit
                )
            })
    }

    /// Replaces a reservation of `estimate` by the `actual` tokens spent.
    pub(crate) fn settle(&self, estimate: u64, actual: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                Some(used.saturating_sub(estimate).saturating_add(actual))
            });
    }
}

impl Default for TokenBudget {
    fn default() -> Self {
        Self::unlimited()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> ProviderError {
        ProviderError::Unreachable {
            model: "m".into(),
            host: "h".into(),
            reason: "refused".into(),
        }
    }

    fn server_error() -> ProviderError {
        ProviderError::ServerError {
            model: "m".into(),
            host: "h".into(),
            status: Some(503),
            message: "busy".into(),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_below_it() {
        let r = Resilience::default();
        let ceilings: Vec<u64> = (0..8)
            .map(|n| r.backoff_ceiling(n).as_millis() as u64)
            .collect();
        assert_eq!(
            ceilings,
            [500, 1000, 2000, 4000, 8000, 16_000, 20_000, 20_000]
        );
        for n in 0..8 {
            let wait = r.wait_before_retry(n, &server_error());
            assert!(
                wait.is_some_and(|w| w <= r.backoff_ceiling(n)),
                "retry {n}: {wait:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_a_floor_and_too_long_a_wait_is_not_waited_for() {
        let r = Resilience::default();
        let limited = |secs| ProviderError::RateLimited {
            model: "m".into(),
            host: "h".into(),
            retry_after: Some(Duration::from_secs(secs)),
            message: String::new(),
        };
        assert!(
            r.wait_before_retry(0, &limited(7))
                .is_some_and(|w| w >= Duration::from_secs(7))
        );
        assert_eq!(r.wait_before_retry(0, &limited(61)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_after_the_threshold_and_lets_one_probe_through_after_the_cooldown() {
        let guard = ModelGuard::new(Resilience::default());
        assert_eq!(guard.admit(), Ok(Admission::Normal));
        assert!(!guard.record_failure(&server_error()));
        assert!(!guard.record_failure(&server_error()));
        assert!(
            guard.record_failure(&server_error()),
            "third failure in a row opens it"
        );
        assert!(
            guard
                .admit()
                .is_err_and(|r| r.contains("circuit open") && r.contains("busy"))
        );
        tokio::time::advance(DEFAULT_BREAKER_COOLDOWN).await;
        assert_eq!(guard.admit(), Ok(Admission::Probe));
        assert!(
            guard.admit().is_err_and(|r| r.contains("half-open")),
            "one probe at a time"
        );
        assert!(
            guard.record_failure(&server_error()),
            "a failed probe opens it again"
        );
        tokio::time::advance(DEFAULT_BREAKER_COOLDOWN).await;
        assert_eq!(guard.admit(), Ok(Admission::Probe));
        guard.record_success();
        assert_eq!(guard.admit(), Ok(Admission::Normal));
    }

    #[test]
    fn unreachable_opens_at_once_and_a_wrong_key_for_the_run() {
        let guard = ModelGuard::new(Resilience::default());
        assert!(guard.record_failure(&unreachable()));
        assert!(guard.open_reason().is_some());
        let guard = ModelGuard::new(Resilience::default());
        let auth = ProviderError::Auth {
            model: "m".into(),
            host: "h".into(),
            status: 401,
            message: "bad key".into(),
        };
        assert!(guard.record_failure(&auth));
        assert!(guard.admit().is_err_and(|r| r.contains("rest of the run")));
    }

    #[test]
    fn bad_output_does_not_count_against_the_server() {
        let guard = ModelGuard::new(Resilience::default());
        guard.record_failure(&server_error());
        guard.record_failure(&server_error());
        let bad = ProviderError::BadOutput {
            model: "m".into(),
            host: "h".into(),
            reason: "not JSON".into(),
        };
        assert!(!guard.record_failure(&bad));
        assert!(
            !guard.record_failure(&server_error()),
            "the count started again"
        );
    }

    #[test]
    fn budget_reserves_refuses_and_settles() {
        let budget = TokenBudget::new(1_000);
        budget.set_used(600);
        assert!(budget.reserve(300).is_ok());
        assert_eq!(budget.used(), 900);
        let refused = budget.reserve(200);
        assert!(refused.is_err_and(|r| r.contains("900 of 1000")));
        budget.settle(300, 350);
        assert_eq!(budget.used(), 950);
        assert!(budget.reserve(0).is_ok(), "some budget left");
        budget.settle(0, 50);
        assert!(budget.reserve(0).is_err(), "none left");
        let unlimited = TokenBudget::unlimited();
        assert!(unlimited.reserve(u64::MAX / 2).is_ok());
        assert_eq!(unlimited.limit(), None);
    }
}
