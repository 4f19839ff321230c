//! Writing a plan: one call per change, in plan order.

use crate::ports::AwsError;
use crate::ports::Registry;

use super::observe::is_gone;
use super::plan::{Change, Write};

/// What became of one change.
#[derive(Debug)]
pub enum Applied {
    Written,
    Failed(AwsError),
    /// Not attempted: the repository disappeared while an earlier change was written.
    NotAttempted,
}

/// Applies `changes` to the repository, one write each. A failed write does not stop the others
/// (each setting stands on its own); a repository that disappeared does.
/// Returns one result per change, and whether the repository is gone.
pub async fn apply(
    registry: &(impl Registry + ?Sized),
    repository_name: &str,
    repository_arn: &str,
    changes: &[Change],
) -> (Vec<Applied>, bool) {
    let mut results = Vec::with_capacity(changes.len());
    let mut gone = false;
    for change in changes {
        if gone {
            results.push(Applied::NotAttempted);
            continue;
        }
        let outcome = match &change.write {
            Write::LifecyclePolicy(text) => {
                registry.put_lifecycle_policy(repository_name, text).await
            }
            Write::Tags(tags) => registry.tag(repository_arn, tags).await,
            Write::ScanOnPush(scan_on_push) => {
                registry
                    .put_scan_on_push(repository_name, *scan_on_push)
                    .await
            }
            Write::TagMutability(setting) => {
                registry.put_tag_mutability(repository_name, setting).await
            }
            Write::RepositoryPolicy(text) => {
                registry.set_repository_policy(repository_name, text).await
            }
        };
        results.push(match outcome {
            Ok(()) => Applied::Written,
            Err(error) if is_gone(&error) => {
                gone = true;
                Applied::NotAttempted
            }
            Err(error) => Applied::Failed(error),
        });
    }
    (results, gone)
}
