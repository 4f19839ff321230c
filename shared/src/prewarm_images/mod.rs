//! prewarm-images: pull a list of upstream images through the cache before anyone needs them,
//! so that the first real pull is a hit.
//!
//! - [`reference`]: Docker reference grammar and Docker Hub normalisation.
//! - [`mapping`]: image → pull-through cache rule → cache repository and URI (also for
//!   `ptc rewrite`).
//! - [`plan`]: what a run does with each listed image; [`schedule`]: which pull starts next;
//!   [`outcome`]: statuses, failure reasons, findings. All pure.
//! - [`run`]: observe (rules), plan, pull (unless dry run), report. Callable from the Lambda
//!   and from the `ptc` CLI.
//!
//! A pull is `BatchGetImage` by tag on the cache repository with every manifest media type
//! accepted (ECR API reference, BatchGetImage). Before it, `DescribeImages` tells whether the tag is cached
//! already, in which case nothing is pulled; one listing of the registry's repositories at the
//! start spares that read for repositories that do not exist yet (a first warm).
//!
//! Digest pins: `repo:tag@sha256:…` is pulled by its tag (a first pull by digest does not
//! populate the cache, containers-roadmap#2837), then the digest ECR gives for the tag is
//! compared with the pin. The pull accepts the manifest list and OCI index media types, so for a
//! multi-architecture image both sides are the index digest, the one charts pin. A mismatch is a
//! failure with reason `digest-mismatch`. A digest-only reference is skipped with a finding,
//! never pulled by digest.
//!
//! Freshness ([`freshness`]): a tag found cached is compared with its upstream's digest
//! (`prewarm.refresh`, or the event's `"refresh"`): `report` marks it `stale`, `stale` deletes
//! it from the cache and pulls it through again (`refreshed`), `never` asks no upstream.

mod freshness;
#[cfg(test)]
mod freshness_tests;
pub mod outcome;
pub mod permissions;
pub mod plan;
pub mod schedule;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use tracing::{error, info, warn};

pub use crate::domain::cache_mapping::{
    cache_uri_for, map_to_cache, registry_host, CacheTarget, Unmapped,
};
pub use crate::domain::image_reference::{parse_reference, ImageReference, ReferenceError};
pub use outcome::{FailureReason, ImageResult, ImageStatus, PullError, PullOutcome};
pub use plan::{plan, Action, PlannedImage, SkipReason};

use crate::deadline::Deadline;
use crate::domain::freshness::RefreshMode;
use crate::domain::{Check, Finding, Report, Severity};
use crate::error::Error;
use crate::events::{FunctionKind, PrewarmInvocation};
use crate::metrics::{Metrics, Unit};
use crate::ports::{PortSet, PullFailure, Registry, MAX_PAGE_SIZE};
use crate::run::{Ran, RunContext};

/// Pages of `DescribeRepositories` (1,000 repositories each) read to learn which cache
/// repositories exist. Beyond that the registry is large enough that asking per image is
/// cheaper than listing it.
const MAX_LISTING_PAGES: usize = 10;

/// Time kept after the last pull to publish the alert, write metrics and return. Pulls still
/// under way when only this much is left are cut and reported `not-attempted`.
pub const FINISH_RESERVE: Duration = Duration::from_secs(1);

/// The `prewarm-images` report (`schemas/prewarm-images-report.schema.json`).
pub type PrewarmReport = Report<PrewarmDetails>;

/// The sections of the `prewarm-images` report beyond the common fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct PrewarmDetails {
    /// Every image requested, in the order given, with what happened to it.
    pub images: Vec<ImageResult>,
}

/// What to pre-warm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// References as listed; `None` means `prewarm.images`.
    pub images: Option<Vec<String>>,
    /// Plan only: parse, map, report the cache URIs; pull nothing.
    pub dry_run: bool,
    /// Overrides `prewarm.refresh`.
    pub refresh: Option<RefreshMode>,
    /// `ptc refresh`: every cached tag listed is deleted and pulled again, stale or not (its
    /// staleness is still reported). With `dry_run`, the cache and the upstreams are read and
    /// nothing is written.
    pub force_refresh: bool,
}

impl Request {
    pub fn from_invocation(invocation: &PrewarmInvocation) -> Self {
        Request {
            images: invocation.images().map(<[String]>::to_vec),
            dry_run: invocation.dry_run().unwrap_or(false),
            refresh: invocation.refresh(),
            force_refresh: false,
        }
    }
}

/// Pre-warms the requested images and reports each one.
///
/// Reads the registry's pull-through cache rules, plans every image (invalid, digest-only and
/// unmapped references are findings, never errors), then pulls at most `prewarm.concurrency`
/// images at once, at most half of them from one upstream while others wait. It stops starting
/// pulls when the deadline is nearer than [`FINISH_RESERVE`] plus the longest pull so far;
/// the images left are reported `not-attempted`.
pub async fn run<P: PortSet>(
    context: &RunContext<'_, P>,
    request: Request,
) -> Result<Ran<PrewarmDetails>, Error> {
    let RunContext {
        ports,
        config,
        deadline,
        ..
    } = *context;
    let function = FunctionKind::PrewarmImages.as_str();
    let started = Instant::now();
    let mut report = PrewarmReport::new(function, request.dry_run);
    let mut metrics = Metrics::new(function);
    let images = request
        .images
        .unwrap_or_else(|| config.prewarm.images.clone());
    let region = ports.region();
    let registry = ports.registry();

    let rules = if images.is_empty() {
        info!("no images to pre-warm: the event names none and `prewarm.images` is empty");
        Vec::new()
    } else {
        match registry.cache_rules(None).await {
            Ok(rules) => rules,
            Err(rules_error) => {
                error!(error = %rules_error, "pull-through cache rules could not be read");
                let why = format!("the pull-through cache rules could not be read: {rules_error}");
                report.push_finding(
                    Finding::new(
                        Severity::Critical,
                        Check::Prewarm,
                        outcome::ALERT_RESOURCE,
                        "pull-through cache rules could not be read; nothing was pre-warmed",
                        rules_error.to_string(),
                    )
                    .with_next_step(
                        "allow the function's role `ecr:DescribePullThroughCacheRules`",
                    ),
                );
                let results: Vec<ImageResult> = plan(&images, &[], region)
                    .iter()
                    .map(|planned| {
                        let mut result = ImageResult::from_plan(planned);
                        if result.status == ImageStatus::Skipped && planned.reference.is_some() {
                            result.not_attempted(&why);
                        }
                        result
                    })
                    .collect();
                finish_report(&mut report, &mut metrics, results, started);
                return Ok(Ran { report, metrics });
            }
        }
    };

    let planned = plan(&images, &rules, region);
    for image in &planned {
        match &image.action {
            Action::Warm => info!(
                image = %image.input,
                cache_uri = image.cache_uri.as_deref().unwrap_or_default(),
                dry_run = request.dry_run,
                "image planned"
            ),
            Action::Skip(reason) => {
                info!(image = %image.input, reason = %reason.describe(), "image skipped");
            }
        }
    }
    let mut results: Vec<ImageResult> = planned.iter().map(ImageResult::from_plan).collect();
    // A forced refresh's dry run reads the cache and the upstreams; any other dry run plans only.
    let reads = !request.dry_run || request.force_refresh;
    if reads && planned.iter().any(|image| image.action == Action::Warm) {
        let existing = existing_repositories(registry).await;
        let refresh = match (request.force_refresh, request.dry_run) {
            (true, true) => RefreshMode::Report,
            (true, false) => RefreshMode::Stale,
            (false, _) => request.refresh.unwrap_or(config.prewarm.refresh),
        };
        let force = request.force_refresh && !request.dry_run;
        warm(
            &Pullers {
                registry,
                existing: existing.as_ref(),
                freshener: freshness::Freshener::new(ports, config, &rules, refresh, deadline)
                    .map(|freshener| freshener.forced(force)),
                dry_run: request.dry_run,
            },
            &planned,
            &mut results,
            config.prewarm.concurrency,
            deadline,
        )
        .await;
    }

    for finding in outcome::findings(&planned, &results, region) {
        report.push_finding(finding);
    }
    finish_report(&mut report, &mut metrics, results, started);
    Ok(Ran { report, metrics })
}

/// Every repository name of the registry, when it has at most [`MAX_LISTING_PAGES`] pages.
///
/// An image whose repository does not exist cannot be cached, so its `DescribeImages` can be
/// skipped: a first warm of N images then costs a page or two instead of N reads. `None` (too
/// many repositories, or the listing failed) means asking per image.
async fn existing_repositories(registry: &(impl Registry + ?Sized)) -> Option<HashSet<String>> {
    let mut names = HashSet::new();
    let mut next_token = None;
    for _ in 0..MAX_LISTING_PAGES {
        match registry.repositories_page(next_token, MAX_PAGE_SIZE).await {
            Ok(page) => {
                names.extend(
                    page.repositories
                        .into_iter()
                        .map(|repository| repository.name),
                );
                match page.next_token {
                    Some(token) => next_token = Some(token),
                    None => return Some(names),
                }
            }
            Err(listing_error) => {
                warn!(error = %listing_error, "repositories could not be listed; each image is looked up instead");
                return None;
            }
        }
    }
    info!(
        n_pages = MAX_LISTING_PAGES,
        "the registry has more repositories than are listed; each image is looked up instead"
    );
    None
}

/// What a pull needs from the registry.
struct Pullers<'run, P: PortSet> {
    registry: &'run P::Registry,
    /// Repositories that existed before the run, when known.
    existing: Option<&'run HashSet<String>>,
    /// Asks upstreams about cached tags; `None` with `prewarm.refresh = "never"`.
    freshener: Option<freshness::Freshener<'run, P>>,
    /// Read only: an image not cached is not pulled.
    dry_run: bool,
}

/// Pulls the planned images and records each outcome in `results`.
async fn warm<P: PortSet>(
    pullers: &Pullers<'_, P>,
    planned: &[PlannedImage],
    results: &mut [ImageResult],
    concurrency: usize,
    deadline: Deadline,
) {
    let jobs = planned
        .iter()
        .enumerate()
        .filter(|(_, image)| image.action == Action::Warm)
        .filter_map(|(index, image)| Some((index, image.target.as_ref()?.upstream.clone())));
    let mut scheduler = schedule::Scheduler::new(concurrency, jobs);
    // In-flight pulls are cut here so the run can still finish before the deadline.
    let hard_stop = deadline
        .remaining()
        .map(|left| tokio::time::Instant::now() + left.saturating_sub(FINISH_RESERVE));
    let mut in_flight = FuturesUnordered::new();
    let mut longest_pull = Duration::ZERO;
    let mut stopped = false;
    loop {
        while !stopped && scheduler.has_waiting() {
            if deadline.is_within(FINISH_RESERVE + longest_pull) {
                stopped = true;
                warn!(
                    remaining_ms = deadline.remaining().unwrap_or_default().as_millis() as u64,
                    longest_pull_ms = longest_pull.as_millis() as u64,
                    "deadline near: no more pulls are started"
                );
                break;
            }
            let Some((index, upstream)) = scheduler.next_job() else {
                break;
            };
            let Some(target) = planned[index].target.as_ref() else {
                scheduler.finished(&upstream);
                continue;
            };
            let tag = target
                .tag
                .as_deref()
                .unwrap_or(crate::domain::image_reference::DEFAULT_TAG)
                .to_owned();
            let repository = target.repository.clone();
            in_flight.push(async move {
                let pull_started = Instant::now();
                let pull = pull_one(pullers, &planned[index], &repository, &tag);
                let outcome = match hard_stop {
                    Some(at) => tokio::time::timeout_at(at, pull)
                        .await
                        .unwrap_or(PullOutcome::Interrupted),
                    None => pull.await,
                };
                (index, upstream, outcome, pull_started.elapsed())
            });
        }
        let Some((index, upstream, outcome, elapsed)) = in_flight.next().await else {
            break;
        };
        scheduler.finished(&upstream);
        longest_pull = longest_pull.max(elapsed);
        log_outcome(&results[index], &outcome, elapsed);
        results[index].record(outcome, elapsed);
        if results[index].reason == Some(FailureReason::DigestMismatch) {
            warn!(
                image = %results[index].input,
                cache_digest = results[index].digest.as_deref().unwrap_or_default(),
                pinned_digest = results[index].pinned_digest.as_deref().unwrap_or_default(),
                "the tag's digest in the cache is not the pinned one"
            );
        }
    }
    let left = scheduler.drain_waiting();
    if !left.is_empty() {
        warn!(
            n_images = left.len(),
            "images not attempted before the deadline"
        );
    }
    for index in left {
        results[index].not_attempted(
            "not started: the deadline was too near to pull it and still finish the run",
        );
    }
}

/// One image: when the tag is cached, its freshness only; else `BatchGetImage` by tag.
async fn pull_one<P: PortSet>(
    pullers: &Pullers<'_, P>,
    image: &PlannedImage,
    repository: &str,
    tag: &str,
) -> PullOutcome {
    let mut note = None;
    let known_absent = pullers
        .existing
        .is_some_and(|existing| !existing.contains(repository));
    let lookup = if known_absent {
        Ok(None)
    } else {
        pullers.registry.cached_image(repository, tag).await
    };
    match lookup {
        Ok(Some(cached)) => {
            return match &pullers.freshener {
                // A digest pin is checked against the pin, never refreshed.
                Some(freshener) if image.reference.as_ref().is_some_and(|r| r.digest.is_none()) => {
                    freshener.check(image, cached.digest).await
                }
                _ => PullOutcome::AlreadyCached {
                    digest: cached.digest,
                    freshness: None,
                },
            };
        }
        Ok(None) if pullers.dry_run => return PullOutcome::NotCached,
        Ok(None) => {}
        // The pull tells whether the image can be had; only "was it cached before" is lost.
        Err(lookup_error) => {
            note = Some(format!(
                "could not tell whether the image was cached before: {lookup_error}"
            ));
        }
    }
    match pullers.registry.pull_by_tag(repository, tag).await {
        Ok(image) => PullOutcome::Warmed {
            digest: Some(image.digest).filter(|digest| !digest.is_empty()),
            note,
        },
        Err(failure) => PullOutcome::Failed(pull_error(repository, failure)),
    }
}

/// A failed pull as the report words it.
fn pull_error(repository: &str, failure: PullFailure) -> PullError {
    match failure {
        PullFailure::Call(call_error) => PullError {
            kind: Some(call_error.kind),
            code: call_error.code.clone(),
            text: call_error.to_string(),
        },
        PullFailure::Image { code, reason } => PullError {
            kind: None,
            text: format!(
                "`ecr:BatchGetImage` on `{repository}` returned no image: {code}: {reason}"
            ),
            code: Some(code),
        },
    }
}

/// One log event per image decision; a failure is logged here, once.
fn log_outcome(result: &ImageResult, outcome: &PullOutcome, elapsed: Duration) {
    let duration_ms = elapsed.as_millis() as u64;
    let cache_uri = result.cache_uri.as_deref().unwrap_or_default();
    match outcome {
        PullOutcome::AlreadyCached { .. } => {
            info!(image = %result.input, cache_uri, duration_ms, "image already cached");
        }
        PullOutcome::Refreshed { .. } => {
            info!(image = %result.input, cache_uri, duration_ms, "image refreshed");
        }
        PullOutcome::NotCached => {
            info!(image = %result.input, cache_uri, "image not cached: a refresh would pull it");
        }
        PullOutcome::Warmed { note, .. } => info!(
            image = %result.input,
            cache_uri,
            duration_ms,
            note = note.as_deref().unwrap_or_default(),
            "image warmed"
        ),
        PullOutcome::Failed(pull_error) => warn!(
            image = %result.input,
            cache_uri,
            duration_ms,
            reason = FailureReason::classify(pull_error).describe(),
            error = %pull_error.text,
            "image could not be pre-warmed"
        ),
        PullOutcome::Interrupted => warn!(
            image = %result.input,
            cache_uri,
            duration_ms,
            "pull cut at the deadline"
        ),
    }
}

/// Counts, metrics and the `images` detail.
fn finish_report(
    report: &mut PrewarmReport,
    metrics: &mut Metrics,
    results: Vec<ImageResult>,
    started: Instant,
) {
    let count = |status: ImageStatus| -> u64 {
        results
            .iter()
            .filter(|result| result.status == status)
            .count() as u64
    };
    report.count("images_requested", results.len() as u64);
    for status in ImageStatus::ALL {
        report.count(&status.summary_key(), count(status));
    }
    metrics.count("ImagesRequested", results.len() as u64);
    metrics.count("ImagesWarmed", count(ImageStatus::Warmed));
    metrics.count("ImagesAlreadyCached", count(ImageStatus::AlreadyCached));
    metrics.count("ImagesFailed", count(ImageStatus::Failed));
    metrics.count("ImagesNotAttempted", count(ImageStatus::NotAttempted));
    metrics.count("ImagesSkipped", count(ImageStatus::Skipped));
    metrics.count("ImagesStale", count(ImageStatus::Stale));
    metrics.count("ImagesRefreshed", count(ImageStatus::Refreshed));
    metrics.put(
        "WarmSeconds",
        Unit::Seconds,
        started.elapsed().as_secs_f64(),
        &[],
    );
    report.details.images = results;
}
