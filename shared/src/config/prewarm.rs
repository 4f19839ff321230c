//! `[prewarm]`: images pulled through the cache ahead of their first real pull.

use super::reader::{Problems, Section};
use crate::domain::freshness::RefreshMode;

/// The most parallel pulls a pre-warm run may make.
pub const MAX_PREWARM_CONCURRENCY: i64 = 64;

/// Settings of `[prewarm]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrewarmConfig {
    /// Images pulled at once.
    pub concurrency: usize,
    /// Upstream image references (`nginx:1.27`, `ghcr.io/fluxcd/source-controller:v1.4.1`) used
    /// by a scheduled run whose event names none. Parsed into references by the pre-warmer.
    pub images: Vec<String>,
    /// What to do with a cached mutable tag whose upstream moved; an event's `"refresh"`
    /// overrides it.
    pub refresh: RefreshMode,
    /// Whether the sweep registers the pre-warm role (`PTC_PREWARM_ROLE_ARN`) as a pull-time
    /// update exclusion, so that pre-warm pulls do not count as use in `lastRecordedPullTime`.
    pub exclude_from_pull_time: bool,
}

/// An image reference as written; only obvious slips are caught here.
fn parse_image(text: &str) -> Result<String, String> {
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        Err("expected an image reference like `nginx:1.27`, without spaces".to_owned())
    } else {
        Ok(text.to_owned())
    }
}

pub(crate) fn read_prewarm(
    mut section: Section<'_>,
    problems: &mut Problems,
) -> Option<PrewarmConfig> {
    let concurrency = section.integer_in("concurrency", 1..=MAX_PREWARM_CONCURRENCY, problems);
    let images = section.list("images", problems, parse_image);
    let refresh = section.choice("refresh", &RefreshMode::CHOICES, problems);
    let exclude_from_pull_time = section.bool("exclude_from_pull_time", problems);
    section.finish(problems);
    Some(PrewarmConfig {
        concurrency: concurrency.or(4)?,
        images: images.or(Vec::new())?,
        refresh: refresh.or(RefreshMode::Report)?,
        exclude_from_pull_time: exclude_from_pull_time.or(true)?,
    })
}
