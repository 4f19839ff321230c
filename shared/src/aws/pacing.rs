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

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_calls_are_spaced_by_the_rate() {
        let pacer = Pacer::new(10);
        let start = Instant::now();
        for _ in 0..10 {
            pacer.acquire("GetLifecyclePolicy").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "one second of burst");
        for _ in 0..20 {
            pacer.acquire("GetLifecyclePolicy").await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(2100),
            "20 more calls at 10/s: {elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_api_has_its_own_bucket_and_idle_time_refills_it() {
        let pacer = Pacer::new(5);
        let start = Instant::now();
        for api in [
            "GetLifecyclePolicy",
            "ListTagsForResource",
            "GetRepositoryPolicy",
        ] {
            for _ in 0..5 {
                pacer.acquire(api).await;
            }
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "three APIs, five each");
        tokio::time::sleep(Duration::from_secs(10)).await;
        let later = Instant::now();
        for _ in 0..5 {
            pacer.acquire("GetLifecyclePolicy").await;
        }
        assert_eq!(
            later.elapsed(),
            Duration::ZERO,
            "refilled, but never above the burst"
        );
        pacer.acquire("GetLifecyclePolicy").await;
        assert_eq!(later.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_are_served_in_order_at_the_rate() {
        let pacer = std::sync::Arc::new(Pacer::new(4));
        let start = Instant::now();
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let pacer = std::sync::Arc::clone(&pacer);
                tokio::spawn(async move {
                    pacer.acquire("DescribeRepositories").await;
                    start.elapsed()
                })
            })
            .collect();
        let mut finished = Vec::new();
        for task in tasks {
            finished.push(task.await.expect("task"));
        }
        finished.sort();
        assert_eq!(finished[3], Duration::ZERO);
        assert_eq!(
            finished[11],
            Duration::from_secs(2),
            "8 beyond the burst at 4/s"
        );
    }
}
