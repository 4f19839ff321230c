//! The time an invocation has left. Long runs (sweeps, pre-warm, rule validation) stop
//! starting new work when the time left falls under their reserve, and hand the rest on.
//! Pure: no Lambda type (the Lambda context becomes a deadline in [`crate::lambda`]), so every
//! feature and the CLI use it without the Lambda plumbing.

use std::time::{Duration, SystemTime};

/// When the invocation ends; `none` for the CLI and direct calls.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Option<SystemTime>,
}

impl Deadline {
    pub fn none() -> Self {
        Deadline { at: None }
    }

    /// Ends at `at`.
    pub fn at(at: SystemTime) -> Self {
        Deadline { at: Some(at) }
    }

    pub fn after(duration: Duration) -> Self {
        Deadline::at(SystemTime::now() + duration)
    }

    /// Time left, `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.at.map(|at| {
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        })
    }

    /// Whether less than `reserve` is left.
    pub fn is_within(&self, reserve: Duration) -> bool {
        self.remaining().is_some_and(|left| left < reserve)
    }
}
