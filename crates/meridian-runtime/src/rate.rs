//! The region's send rate: at most `mail.max_per_second` emails per second,
//! digests and confirmations together, however many tasks send.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Spaces sends evenly: each caller of [`SendRate::acquire`] gets the next
/// free slot, one interval after the previous one, and waits for it.
///
/// Even spacing rather than a burst bucket: relays count connections and
/// messages per second, and a burst at the start of a delivery run is what
/// trips their limits.
#[derive(Debug)]
pub(crate) struct SendRate {
    interval: Duration,
    /// The earliest time the next send may start.
    next: Mutex<Option<Instant>>,
}

impl SendRate {
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(None),
        }
    }

    /// Waits for this caller's slot.
    pub(crate) async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sends_are_spaced_by_the_rate() {
        let rate = SendRate::new(4);
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            rate.acquire().await;
            at.push(start.elapsed());
        }
        // Paused time: the clock moves only by the waits themselves.
        let ms: Vec<u128> = at.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![0, 250, 500, 750, 1000]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_limiter_does_not_bank_slots() {
        let rate = SendRate::new(2);
        rate.acquire().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let start = Instant::now();
        rate.acquire().await;
        rate.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(500),
            "the first is at once, the second one interval later"
        );
    }
}
