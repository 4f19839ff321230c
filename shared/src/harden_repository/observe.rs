//! Reading what the registry has: which prefixes are managed, and what a repository has (only
//! what its profile manages, the reads of one repository in parallel).

use std::collections::BTreeMap;

use crate::config::HardeningConfig;
use crate::domain::Repository;
use crate::error::Error;
use crate::ports::AwsError;
use crate::ports::{Registry, REPOSITORY_NOT_FOUND};

use super::desired::{ManagedPrefixes, Reads};
use super::plan::Observed;

/// The managed prefixes: `hardening.prefixes` when set, else the registry's cache rules (read
/// only then).
pub async fn managed_prefixes(
    registry: &(impl Registry + ?Sized),
    config: &HardeningConfig,
) -> Result<ManagedPrefixes, Error> {
    let rules = match &config.prefixes {
        Some(_) => Vec::new(),
        None => registry.cache_rules(None).await.map_err(|error| {
            Error::aws(
                "cannot list the pull-through cache rules that define the managed prefixes",
                error,
            )
        })?,
    };
    Ok(ManagedPrefixes::resolve(config.prefixes.as_deref(), &rules))
}

/// What observing one repository came to.
#[derive(Debug)]
pub enum Observation {
    Found(Box<Observed>),
    /// The repository does not exist (deleted since it was listed, or never created because the
    /// first pull failed): nothing to harden, and not an error.
    Gone,
}

/// Reads the settings `reads` asks for of a repository already described (a sweep's listing or
/// [`describe`]).
pub async fn observe(
    registry: &(impl Registry + ?Sized),
    repository: Repository,
    reads: Reads,
) -> Result<Observation, AwsError> {
    observe_knowing_tags(registry, repository, reads, None).await
}

/// [`observe`], with the tags already read (`Some`) when deciding whether it is ours needed them.
pub async fn observe_knowing_tags(
    registry: &(impl Registry + ?Sized),
    repository: Repository,
    reads: Reads,
    known_tags: Option<BTreeMap<String, String>>,
) -> Result<Observation, AwsError> {
    let name = repository.name.as_str();
    let lifecycle = async {
        if reads.lifecycle_policy {
            registry.lifecycle_policy(name).await
        } else {
            Ok(None)
        }
    };
    let policy = async {
        if reads.repository_policy {
            registry.repository_policy(name).await
        } else {
            Ok(None)
        }
    };
    let tags = async {
        match known_tags {
            Some(tags) => Ok(tags),
            None if reads.tags => registry.tags(&repository.arn).await,
            None => Ok(BTreeMap::new()),
        }
    };
    let (lifecycle, policy, tags) = futures::join!(lifecycle, policy, tags);
    match (lifecycle, policy, tags) {
        (Ok(lifecycle_policy), Ok(repository_policy), Ok(tags)) => {
            Ok(Observation::Found(Box::new(Observed {
                repository,
                lifecycle_policy,
                repository_policy,
                tags,
                scanning: None,
            })))
        }
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => {
            if is_gone(&error) {
                Ok(Observation::Gone)
            } else {
                Err(error)
            }
        }
    }
}

/// Describes one repository by name, then observes it.
pub async fn describe(
    registry: &(impl Registry + ?Sized),
    name: &str,
    reads: Reads,
) -> Result<Observation, AwsError> {
    match registry.repository(name).await? {
        Some(repository) => observe(registry, repository, reads).await,
        None => Ok(Observation::Gone),
    }
}

/// A call on a repository that no longer exists.
pub fn is_gone(error: &AwsError) -> bool {
    error.is_code(REPOSITORY_NOT_FOUND)
}
