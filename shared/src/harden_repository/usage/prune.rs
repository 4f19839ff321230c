//! Deleting the cache repositories none of whose images was pulled in a number of days
//! (`ptc usage --prune-unused DAYS`). The next pull through the cache creates each one again,
//! from the upstream's current image.
//!
//! A dry run unless told to delete. Only repositories under a managed prefix are ever deleted,
//! and each one's images are read again just before its deletion: an image pulled since the
//! count keeps its repository.

use serde::Serialize;

use crate::ports::{PortSet, Registry};
use crate::run::RunContext;

use super::{images_of, prefix_of, tally};
use tally::{repository_usage, Measure, UnusedRepository};

/// What became of one unused repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneStatus {
    /// Dry run: it would be deleted.
    WouldDelete,
    Deleted,
    /// Gone before its deletion: nothing to do.
    AlreadyGone,
    /// An image was pulled since the count, or its images could not be read again.
    Kept,
    /// The deletion failed.
    Failed,
}

/// One unused repository and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub repository: String,
    pub prefix: String,
    pub bytes: u64,
    pub status: PruneStatus,
    /// Why it was kept or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Deletes (with `delete`) or lists the `unused` repositories that lie under `prefixes`.
pub async fn prune<P: PortSet>(
    context: &RunContext<'_, P>,
    measure: &Measure,
    prefixes: &[String],
    unused: &[UnusedRepository],
    delete: bool,
) -> Vec<Pruned> {
    let registry = context.ports.registry();
    let mut pruned = Vec::with_capacity(unused.len());
    for candidate in unused {
        // The count only lists managed repositories; checked again here because this is the one
        // place that deletes.
        let Some(prefix) = prefix_of(&candidate.repository, prefixes) else {
            continue;
        };
        let outcome = |status, reason: Option<String>| Pruned {
            repository: candidate.repository.clone(),
            prefix: prefix.clone(),
            bytes: candidate.bytes,
            status,
            reason,
        };
        if !delete {
            pruned.push(outcome(PruneStatus::WouldDelete, None));
            continue;
        }
        let result = prune_one(registry, measure, &candidate.repository, prefix).await;
        tracing::info!(
            repository = %candidate.repository,
            status = ?result.0,
            reason = result.1.as_deref().unwrap_or(""),
            "unused repository pruned"
        );
        pruned.push(outcome(result.0, result.1));
    }
    pruned
}

async fn prune_one(
    registry: &(impl Registry + ?Sized),
    measure: &Measure,
    repository: &str,
    prefix: &str,
) -> (PruneStatus, Option<String>) {
    let images = match images_of(registry, repository, false).await {
        Ok(images) => images,
        Err(error) if error.is_code(crate::ports::REPOSITORY_NOT_FOUND) => {
            return (PruneStatus::AlreadyGone, None)
        }
        Err(error) => {
            return (
                PruneStatus::Kept,
                Some(format!("cannot read its images again: {error}")),
            )
        }
    };
    // An empty repository read again has no creation time here: it was unused at the count.
    let again = repository_usage(repository, prefix, None, &images, measure.cutoff());
    if !images.is_empty() && again.unused != Some(true) {
        return (
            PruneStatus::Kept,
            Some("an image was pulled since the count".to_owned()),
        );
    }
    match registry.delete_repository(repository).await {
        Ok(true) => (PruneStatus::Deleted, None),
        Ok(false) => (PruneStatus::AlreadyGone, None),
        Err(error) => (PruneStatus::Failed, Some(error.to_string())),
    }
}
