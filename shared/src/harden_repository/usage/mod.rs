//! What the cache holds: per managed prefix, its repositories and images, their bytes and
//! estimated monthly cost, and which were not pulled in a number of days (`ptc usage`).
//!
//! Reads only: the repository listing (`DescribeRepositories`, pages of 1,000) and one
//! `DescribeImages` page per repository (1,000 images), paced like the sweep's. Only
//! repositories under a managed prefix are counted; one that is deleted during the count, or
//! whose listing fails (throttling after the SDK's retries), is reported as uncounted with its
//! reason, and the count goes on.

pub mod permissions;
pub mod prune;
pub mod summary;
pub mod tally;
#[cfg(test)]
mod tests;

use futures::stream::{self, StreamExt};

use crate::domain::{in_namespace, Repository, ROOT_PREFIX};
use crate::error::Error;
use crate::ports::{
    AwsError, ImageStorage, PortSet, Registry, StoredImage, MAX_PAGE_SIZE, REPOSITORY_NOT_FOUND,
};
use crate::run::RunContext;

use super::observe::managed_prefixes;
use super::START_RESERVE;
pub use tally::{
    Measure, PrefixUsage, RepositoryUsage, UncountedRepository, UnusedRepository, UsageDetails,
};

/// Why a repository was not counted when the invocation ran short of time.
pub const OUT_OF_TIME: &str = "not counted: the invocation ran out of time";

/// What to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Only these managed prefixes (and what lies under them); empty: every managed prefix.
    pub prefixes: Vec<String>,
    /// Not pulled in this many days is unused.
    pub unused_days: u32,
    /// List the archived images too: one more `DescribeImages` per repository.
    pub archived: bool,
}

/// How far the count got, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The listing is done: this many repositories will be counted.
    Listed(u64),
    /// One more repository counted (or found uncounted).
    Counted,
}

/// Why the count did not run.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// `--prefix` names no managed prefix.
    #[error("`{wanted}` is not a managed prefix; the managed prefixes are: {managed}")]
    UnknownPrefix { wanted: String, managed: String },
    /// Boxed: the run's error is large, and the usual answer is the small one.
    #[error(transparent)]
    Run(Box<Error>),
}

impl From<Error> for UsageError {
    fn from(error: Error) -> Self {
        UsageError::Run(Box::new(error))
    }
}

/// The prefixes to count: the managed ones (without `ROOT`, whose repositories lie anywhere),
/// narrowed to `wanted`.
pub fn selected_prefixes(managed: &[String], wanted: &[String]) -> Result<Vec<String>, UsageError> {
    let managed = counted_prefixes(managed);
    if wanted.is_empty() {
        return Ok(managed);
    }
    let mut selected = Vec::new();
    for prefix in wanted {
        let prefix = prefix.trim_end_matches('/');
        if !managed.iter().any(|managed| managed == prefix) {
            return Err(UsageError::UnknownPrefix {
                wanted: prefix.to_owned(),
                managed: if managed.is_empty() {
                    "none".to_owned()
                } else {
                    managed.join(", ")
                },
            });
        }
        selected.push(prefix.to_owned());
    }
    selected.sort();
    selected.dedup();
    Ok(selected)
}

/// The managed prefixes but `ROOT`, whose repositories lie anywhere.
pub fn counted_prefixes(managed: &[String]) -> Vec<String> {
    managed
        .iter()
        .filter(|prefix| prefix.as_str() != ROOT_PREFIX)
        .cloned()
        .collect()
}

/// The prefix a repository is counted under: the longest selected one it lies under.
pub fn prefix_of<'p>(repository: &str, prefixes: &'p [String]) -> Option<&'p String> {
    prefixes
        .iter()
        .filter(|prefix| in_namespace(repository, prefix))
        .max_by_key(|prefix| prefix.len())
}

/// Counts what the cache holds under the managed prefixes.
pub async fn count<P: PortSet>(
    context: &RunContext<'_, P>,
    request: &Request,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<UsageDetails, UsageError> {
    let managed = managed_prefixes(context.ports.registry(), &context.config.hardening).await?;
    let prefixes = selected_prefixes(managed.as_slice(), &request.prefixes)?;
    Ok(count_under(context, &prefixes, request, progress).await?)
}

/// Counts what the cache holds under `prefixes` (managed ones).
pub async fn count_under<P: PortSet>(
    context: &RunContext<'_, P>,
    prefixes: &[String],
    request: &Request,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<UsageDetails, Error> {
    let registry = context.ports.registry();
    let repositories = list_under(registry, prefixes).await?;
    progress(Progress::Listed(repositories.len() as u64));
    let measure = Measure {
        now: context.now,
        unused_days: request.unused_days,
        price_per_gb_month: context.config.usage.price_per_gb_month,
        archive_price_per_gb_month: context.config.usage.archive_price_per_gb_month,
    };
    let cutoff = measure.cutoff();
    let concurrency = context.config.hardening.concurrency.max(1);
    let deadline = context.deadline;
    let outcomes: Vec<Result<RepositoryUsage, UncountedRepository>> = stream::iter(repositories)
        .map(|(prefix, repository)| async move {
            // In Lambda: no repository is started this close to the deadline, so the run
            // still ends with a report that says what was left out.
            if deadline.is_within(START_RESERVE) {
                progress(Progress::Counted);
                return Err(UncountedRepository {
                    repository: repository.name,
                    prefix,
                    reason: OUT_OF_TIME.to_owned(),
                });
            }
            let images = images_of(registry, &repository.name, request.archived).await;
            progress(Progress::Counted);
            match images {
                Ok(images) => Ok(tally::repository_usage(
                    &repository.name,
                    &prefix,
                    repository.created_at,
                    &images,
                    cutoff,
                )),
                Err(error) => {
                    let reason = if error.is_code(REPOSITORY_NOT_FOUND) {
                        "deleted during the count".to_owned()
                    } else {
                        error.to_string()
                    };
                    tracing::warn!(
                        repository = %repository.name,
                        reason = %reason,
                        "repository not counted"
                    );
                    Err(UncountedRepository {
                        repository: repository.name,
                        prefix,
                        reason,
                    })
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let (counted, uncounted): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_ok);
    let details = tally::summarize(
        &measure,
        prefixes,
        request.archived,
        counted.into_iter().filter_map(Result::ok).collect(),
        uncounted.into_iter().filter_map(Result::err).collect(),
    );
    tracing::info!(
        n_repositories = details.total.n_repositories,
        n_images = details.total.n_images,
        bytes = details.total.bytes,
        n_unused_repositories = details.total.n_unused_repositories,
        n_uncounted = details.total.n_uncounted_repositories,
        "usage counted"
    );
    Ok(details)
}

/// Every repository under `prefixes`, with the prefix it is counted under, in listing order.
async fn list_under(
    registry: &(impl Registry + ?Sized),
    prefixes: &[String],
) -> Result<Vec<(String, Repository)>, Error> {
    let mut under = Vec::new();
    let mut next_token = None;
    loop {
        let page = registry
            .repositories_page(next_token, MAX_PAGE_SIZE)
            .await
            .map_err(|error| Error::aws("cannot list the repositories to count", error))?;
        under.extend(page.repositories.into_iter().filter_map(|repository| {
            prefix_of(&repository.name, prefixes).map(|prefix| (prefix.clone(), repository))
        }));
        match page.next_token {
            Some(token) => next_token = Some(token),
            None => return Ok(under),
        }
    }
}

/// Every image of a repository: its active ones, and with `archived` its archived ones.
async fn images_of(
    registry: &(impl Registry + ?Sized),
    repository: &str,
    archived: bool,
) -> Result<Vec<StoredImage>, AwsError> {
    let mut images = Vec::new();
    let storages: &[ImageStorage] = if archived {
        &[ImageStorage::Active, ImageStorage::Archived]
    } else {
        &[ImageStorage::Active]
    };
    for storage in storages {
        let mut next_token = None;
        loop {
            let page = registry
                .images_page(repository, *storage, next_token)
                .await?;
            images.extend(page.images);
            match page.next_token {
                Some(token) => next_token = Some(token),
                None => break,
            }
        }
    }
    Ok(images)
}
