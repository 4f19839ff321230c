//! Client-side pacing of ECR calls: one token bucket per API, shared by every call of the
//! process.
//!
//! ECR publishes no rate for the calls a sweep makes (`DescribeRepositories`,
//! `GetLifecyclePolicy`, `ListTagsForResource`, `GetRepositoryPolicy`, the writes). Leaning on
//! retries alone turns a large registry into a throttling storm in which repositories fail after
//! their last attempt. Pacing each API below the rates ECR is seen to sustain keeps the sweep
//! under them: a big registry takes longer instead of failing, and a throttle that happens anyway
//! is absorbed by the SDK's retry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::DEFAULT_CALLS_PER_SECOND;

/// A token bucket per API: `calls_per_second` refill, and as many tokens at most (one second of
/// burst). A caller that finds the bucket empty reserves the next token and sleeps until it is
/// due, so callers are served in the order they came.
#[derive(Debug)]
pub struct Pacer {
    calls_per_second: f64,
    buckets: Mutex<HashMap<&'static str, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    /// Below zero when tokens are reserved ahead.
    tokens: f64,
    updated: Instant,
}

impl Pacer {
    pub fn new(calls_per_second: u32) -> Self {
        Pacer {
            calls_per_second: f64::from(calls_per_second.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn calls_per_second(&self) -> f64 {
        self.calls_per_second
    }

    /// Waits until a call of `api` may go.
    pub async fn acquire(&self, api: &'static str) {
        let wait = self.reserve(api, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes a token of `api` at `now`; answers how long to wait before using it.
    fn reserve(&self, api: &'static str, now: Instant) -> Duration {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let burst = self.calls_per_second;
        let bucket = buckets.entry(api).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let refill =
            now.saturating_duration_since(bucket.updated).as_secs_f64() * self.calls_per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.updated = now;
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / self.calls_per_second)
        }
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new(DEFAULT_CALLS_PER_SECOND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes `calls` calls of `api` one after the other, as `acquire` does, on a clock that moves
    /// only by the waits (the calls themselves take no time); answers the clock after the last.
    /// The token bucket is tested on explicit instants rather than on tokio's paused clock, so
    /// the tests need no tokio feature the binaries do not build with.
    fn call_in_turn(pacer: &Pacer, api: &'static str, calls: usize, mut now: Instant) -> Instant {
        for _ in 0..calls {
            now += pacer.reserve(api, now);
        }
        now
    }

    #[test]
    fn a_burst_goes_at_once_then_calls_are_spaced_by_the_rate() {
        let pacer = Pacer::new(10);
        let start = Instant::now();
        let after_burst = call_in_turn(&pacer, "GetLifecyclePolicy", 10, start);
        assert_eq!(after_burst - start, Duration::ZERO, "one second of burst");
        let elapsed = call_in_turn(&pacer, "GetLifecyclePolicy", 20, after_burst) - start;
        assert!(
            elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(2100),
            "20 more calls at 10/s: {elapsed:?}"
        );
    }

    #[test]
    fn each_api_has_its_own_bucket_and_idle_time_refills_it() {
        let pacer = Pacer::new(5);
        let start = Instant::now();
        for api in [
            "GetLifecyclePolicy",
            "ListTagsForResource",
            "GetRepositoryPolicy",
        ] {
            assert_eq!(
                call_in_turn(&pacer, api, 5, start) - start,
                Duration::ZERO,
                "three APIs, five each: {api}"
            );
        }
        let later = start + Duration::from_secs(10);
        assert_eq!(
            call_in_turn(&pacer, "GetLifecyclePolicy", 5, later) - later,
            Duration::ZERO,
            "refilled, but never above the burst"
        );
        assert_eq!(
            pacer.reserve("GetLifecyclePolicy", later),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn concurrent_callers_are_served_in_order_at_the_rate() {
        let pacer = Pacer::new(4);
        let start = Instant::now();
        // Twelve callers arrive at once: each reserves before any has slept.
        let waits: Vec<Duration> = (0..12)
            .map(|_| pacer.reserve("DescribeRepositories", start))
            .collect();
        assert!(
            waits.windows(2).all(|pair| pair[0] <= pair[1]),
            "served in the order they came: {waits:?}"
        );
        assert_eq!(waits[3], Duration::ZERO);
        assert_eq!(waits[4], Duration::from_millis(250));
        assert_eq!(
            waits[11],
            Duration::from_secs(2),
            "8 beyond the burst at 4/s"
        );
    }

    #[tokio::test]
    async fn acquire_sleeps_until_the_reserved_token_is_due() {
        let pacer = Pacer::new(20);
        let start = Instant::now();
        for _ in 0..21 {
            pacer.acquire("GetLifecyclePolicy").await;
        }
        // 21 calls at 20/s with a burst of 20: the last one is due 1/20 s after the first,
        // however long the first twenty took.
        assert!(
            start.elapsed() >= Duration::from_millis(49),
            "21 calls at 20/s: {:?}",
            start.elapsed()
        );
    }
}
