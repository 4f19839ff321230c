//! Which image to start next: at most `concurrency` pulls at once, and while images of another
//! upstream wait, at most [`per_upstream_cap`] of them against one upstream registry. Pure.
//!
//! A pull that an upstream answers slowly (rate limited, far away, hanging until the SDK's
//! attempt timeout) holds its slot for the whole time. Without a cap, a list that starts with
//! many images of that upstream would fill every slot and stall the images of all other
//! upstreams behind it. With the cap, the other upstreams keep at least the remaining slots.
//! The cap is lifted once no other upstream has images waiting: nothing is left to protect,
//! and idling slots would only make the run slower.

use std::collections::{BTreeMap, VecDeque};

/// Slots one upstream may hold while others wait: half the run's concurrency, rounded up,
/// so that two upstreams can share the slots evenly and a stalled upstream leaves at least
/// half of them to the rest. With a concurrency of 1 nothing can be reserved; the one slot is
/// shared in turn.
pub fn per_upstream_cap(concurrency: usize) -> usize {
    concurrency.max(1).div_ceil(2)
}

/// A queue of jobs (indices into the plan) per upstream, and the pulls under way.
#[derive(Debug, Clone)]
pub struct Scheduler {
    concurrency: usize,
    cap: usize,
    waiting: BTreeMap<String, VecDeque<usize>>,
    running: BTreeMap<String, usize>,
    n_running: usize,
}

impl Scheduler {
    /// `jobs`: the plan index and upstream of each image to pull, in list order.
    pub fn new(concurrency: usize, jobs: impl IntoIterator<Item = (usize, String)>) -> Self {
        let mut waiting: BTreeMap<String, VecDeque<usize>> = BTreeMap::new();
        for (index, upstream) in jobs {
            waiting.entry(upstream).or_default().push_back(index);
        }
        Scheduler {
            concurrency: concurrency.max(1),
            cap: per_upstream_cap(concurrency),
            waiting,
            running: BTreeMap::new(),
            n_running: 0,
        }
    }

    /// The next job to start, if a slot is free and some upstream may take it: the upstream
    /// with the fewest pulls under way, ties broken by list order.
    pub fn next_job(&mut self) -> Option<(usize, String)> {
        if self.n_running >= self.concurrency {
            return None;
        }
        let n_waiting_upstreams = self.waiting.len();
        let upstream = self
            .waiting
            .iter()
            .filter_map(|(upstream, queue)| {
                let running = self.running.get(upstream).copied().unwrap_or(0);
                let capped = n_waiting_upstreams > 1 && running >= self.cap;
                let first = *queue.front()?;
                (!capped).then_some((running, first, upstream))
            })
            .min_by_key(|(running, first, _)| (*running, *first))
            .map(|(_, _, upstream)| upstream.clone())?;
        let queue = self.waiting.get_mut(&upstream)?;
        let index = queue.pop_front()?;
        if queue.is_empty() {
            self.waiting.remove(&upstream);
        }
        *self.running.entry(upstream.clone()).or_insert(0) += 1;
        self.n_running += 1;
        Some((index, upstream))
    }

    /// A job of `upstream` ended.
    pub fn finished(&mut self, upstream: &str) {
        if let Some(running) = self.running.get_mut(upstream) {
            *running = running.saturating_sub(1);
            self.n_running = self.n_running.saturating_sub(1);
        }
    }

    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Takes every job not started (the deadline came), in list order.
    pub fn drain_waiting(&mut self) -> Vec<usize> {
        let mut left: Vec<usize> = std::mem::take(&mut self.waiting)
            .into_values()
            .flatten()
            .collect();
        left.sort_unstable();
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;

    fn jobs(upstreams: &[&str]) -> Vec<(usize, String)> {
        upstreams
            .iter()
            .enumerate()
            .map(|(index, upstream)| (index, (*upstream).to_owned()))
            .collect()
    }

    /// Starts jobs until the scheduler refuses; returns their indices.
    fn start_all(scheduler: &mut Scheduler) -> Vec<usize> {
        std::iter::from_fn(|| scheduler.next_job())
            .map(|(index, _)| index)
            .collect()
    }

    /// `concurrency` slots allow `cap` pulls per upstream.
    fn check_cap(name: &str, concurrency: usize, cap: usize) {
        assert_eq!(
            per_upstream_cap(concurrency),
            cap,
            "{name}: concurrency {concurrency}"
        );
    }

    named_cases! {
        /// Per-upstream caps are half the concurrency, rounded up, and at least one.
        mod caps_are_half_the_concurrency_rounded_up => check_cap;
        no_slots_still_allow_one(0, 1),
        one_slot(1, 1),
        two_slots(2, 1),
        three_slots_round_up(3, 2),
        four_slots(4, 2),
        eight_slots(8, 4),
        sixty_four_slots(64, 32),
    }

    #[test]
    fn one_upstream_cannot_take_every_slot_while_others_wait() {
        // Six Docker Hub images listed before two ghcr.io images, four slots.
        let mut scheduler = Scheduler::new(
            4,
            jobs(&["hub", "hub", "hub", "hub", "hub", "hub", "ghcr", "ghcr"]),
        );
        assert_eq!(start_all(&mut scheduler), vec![0, 6, 1, 7]);
        // A Docker Hub pull ends: ghcr.io has nothing waiting, so Docker Hub may use the slot.
        scheduler.finished("hub");
        assert_eq!(start_all(&mut scheduler), vec![2]);
        scheduler.finished("ghcr");
        scheduler.finished("ghcr");
        assert_eq!(start_all(&mut scheduler), vec![3, 4]);
        assert!(scheduler.has_waiting());
        assert_eq!(scheduler.drain_waiting(), vec![5]);
        assert!(!scheduler.has_waiting());
    }

    #[test]
    fn a_lone_upstream_uses_every_slot_and_order_is_kept() {
        let mut scheduler = Scheduler::new(3, jobs(&["k8s", "k8s", "k8s", "k8s"]));
        assert_eq!(start_all(&mut scheduler), vec![0, 1, 2]);
        scheduler.finished("k8s");
        assert_eq!(start_all(&mut scheduler), vec![3]);
    }

    #[test]
    fn concurrency_one_keeps_list_order() {
        let mut scheduler = Scheduler::new(1, jobs(&["hub", "hub", "quay", "k8s"]));
        let mut order = Vec::new();
        while let Some((index, upstream)) = scheduler.next_job() {
            assert_eq!(scheduler.next_job(), None, "only one slot");
            order.push(index);
            scheduler.finished(&upstream);
        }
        assert_eq!(order, vec![0, 1, 2, 3]);
    }
}
