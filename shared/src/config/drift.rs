//! `[hardening.drift]`: how far the product goes restoring a setting another writer keeps
//! changing.

use crate::domain::policy_eval::Caller;

use super::reader::{Problems, Section};

/// Default of `hardening.drift.max_restorations`.
pub const DEFAULT_MAX_RESTORATIONS: u32 = 3;
/// Default of `hardening.drift.window_minutes`.
pub const DEFAULT_WINDOW_MINUTES: u32 = 60;
/// Upper bound of `max_restorations`: more restorations than this in one window is a fight, not
/// a correction.
pub(crate) const MAX_MAX_RESTORATIONS: i64 = 100;
/// Upper bound of `window_minutes`: a week.
pub(crate) const MAX_WINDOW_MINUTES: i64 = 7 * 24 * 60;

/// Settings of `[hardening.drift]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftConfig {
    /// Restorations of one setting of one repository within a window; the next change in the
    /// window is one critical alert, and is not restored until the window ends.
    pub max_restorations: u32,
    /// The window, from the first restoration it counts.
    pub window_minutes: u32,
    /// IAM role or user ARNs (as CloudTrail's `sessionIssuer.arn` writes them) whose changes are
    /// accepted, not restored: Terraform, another automation that owns a setting.
    pub ignore_callers: Vec<String>,
}

impl DriftConfig {
    /// The entry of `ignore_callers` that names this caller: its role (a session's issuer) or,
    /// for an IAM user, its own ARN.
    pub fn ignored<'a>(&'a self, role_arn: Option<&str>, arn: Option<&str>) -> Option<&'a str> {
        self.ignore_callers
            .iter()
            .find(|ignored| role_arn == Some(ignored.as_str()) || arn == Some(ignored.as_str()))
            .map(String::as_str)
    }
}

/// A role or user ARN; a session ARN or an account is refused, since CloudTrail names the
/// role behind a session, and an account would accept everyone's changes.
fn parse_ignored_caller(text: &str) -> Result<String, String> {
    match Caller::parse_principal(text) {
        Ok(Caller::Principal { arn, .. }) => Ok(arn),
        Ok(Caller::Account { .. }) => Err(
            "expected an IAM role or user ARN, not a whole account (every change would be accepted)"
                .to_owned(),
        ),
        Err(expected) => Err(expected),
    }
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            max_restorations: DEFAULT_MAX_RESTORATIONS,
            window_minutes: DEFAULT_WINDOW_MINUTES,
            ignore_callers: Vec::new(),
        }
    }
}

pub(crate) fn read_drift(mut section: Section<'_>, problems: &mut Problems) -> Option<DriftConfig> {
    let max_restorations =
        section.integer_in("max_restorations", 1..=MAX_MAX_RESTORATIONS, problems);
    let window_minutes = section.integer_in("window_minutes", 1..=MAX_WINDOW_MINUTES, problems);
    let ignore_callers = section.list("ignore_callers", problems, parse_ignored_caller);
    section.finish(problems);
    Some(DriftConfig {
        max_restorations: max_restorations.or(DEFAULT_MAX_RESTORATIONS)?,
        window_minutes: window_minutes.or(DEFAULT_WINDOW_MINUTES)?,
        ignore_callers: ignore_callers.or(Vec::new())?,
    })
}
