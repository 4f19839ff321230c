//! Sweeping every managed repository: pages of `DescribeRepositories` fed to a bounded pool of
//! workers, watching the invocation's deadline. When time runs low the sweep stops *starting*
//! repositories, lets the started ones finish, and reports where it stopped, so a new
//! invocation carries on from there ([`HandOff`]).

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::ready;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deadline::Deadline;
use crate::domain::Repository;
use crate::ports::AwsError;
use crate::ports::{Registry, MAX_PAGE_SIZE};

use super::outcome::{Outcome, Tally};

/// Repositories per `DescribeRepositories` page: the largest ECR serves, so a sweep of 2,000
/// repositories lists them in two calls.
pub const SWEEP_PAGE_SIZE: i32 = MAX_PAGE_SIZE;
/// No repository is started once less than this is left: enough for the started ones to
/// finish their few calls (retries included), to hand the rest on and to publish alerts.
pub const START_RESERVE: Duration = Duration::from_secs(20);
/// Work on one repository is cut this long before the deadline, so the run still ends with a
/// report (and a hand-off) instead of being killed by Lambda half-way.
pub const FINISH_RESERVE: Duration = Duration::from_secs(5);

/// Where a sweep stopped, and which sweep it is.
///
/// `next_token` lists the page the sweep stopped in (none for the first page); `after` is the
/// last repository handled in that page, so the next invocation starts after that *name*:
/// repositories created or deleted between two invocations do not shift it (a position would
/// skip or repeat some). `sweep_id` and `link` name the chain of invocations of one sweep in
/// logs and reports, so a duplicate chain would show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Cursors of the first release counted positions; read for one release, never written.
    #[serde(default, skip_serializing)]
    pub position: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_id: Option<String>,
    /// 0 for the invocation that started the sweep, +1 per hand-off.
    #[serde(default)]
    pub link: u32,
}

impl SweepCursor {
    /// Reads the `cursor` of a direct invoke.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        SweepCursor::deserialize(value).map_err(|error| {
            format!(
                "`cursor` is not one a sweep wrote (`next_token`, `after`, `sweep_id`, `link`): {error}"
            )
        })
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Whether the sweep already handled `repository` of this cursor's page.
    fn handled(&self, index: usize, page: &[Repository]) -> bool {
        match (&self.after, self.position) {
            // The last one handled is gone (deleted since): ECR documents no order for its
            // pages, so the page is handled again rather than guessed at. Hardening is
            // idempotent: a repository seen twice costs reads only.
            (Some(after), _) => page
                .iter()
                .position(|listed| &listed.name == after)
                .is_some_and(|last| index <= last),
            (None, Some(position)) => index < position,
            (None, None) => false,
        }
    }
}

/// How far one invocation's sweep got.
#[derive(Debug)]
pub struct SweepProgress {
    /// Where to carry on; `None` when every repository was seen.
    pub rest: Option<SweepCursor>,
    /// Repositories taken from the listing (skipped ones included).
    pub n_started: u64,
    /// The listing failed at `rest`: carrying on right away would most likely fail again.
    pub listing_error: Option<AwsError>,
}

/// Lists repositories from `start` and runs `harden` on each, at most `concurrency` at a time,
/// recording every outcome in `tally`. `prepare` sees each page before its repositories are
/// started (to read what can be read for many repositories in one call).
pub async fn sweep_repositories<Prepare, PrepareFuture, Harden, HardenFuture>(
    registry: &(impl Registry + ?Sized),
    start: SweepCursor,
    concurrency: usize,
    deadline: Deadline,
    tally: &mut Tally,
    prepare: Prepare,
    harden: Harden,
) -> SweepProgress
where
    Prepare: Fn(Vec<Repository>) -> PrepareFuture,
    PrepareFuture: Future<Output = ()>,
    Harden: Fn(Repository) -> HardenFuture,
    HardenFuture: Future<Output = Outcome>,
{
    let listing_failure: Mutex<Option<(SweepCursor, AwsError)>> = Mutex::new(None);
    let stopped_at: Mutex<Option<SweepCursor>> = Mutex::new(None);

    let prepare = &prepare;
    let pages = stream::unfold(Some(start), |cursor| {
        let listing_failure = &listing_failure;
        async move {
            let cursor = cursor?;
            match registry
                .repositories_page(cursor.next_token.clone(), SWEEP_PAGE_SIZE)
                .await
            {
                Ok(page) => {
                    let token = cursor.next_token.clone();
                    let identity = (cursor.sweep_id.clone(), cursor.link);
                    let repositories = page.repositories;
                    let handled: Vec<bool> = repositories
                        .iter()
                        .enumerate()
                        .map(|(index, _)| cursor.handled(index, &repositories))
                        .collect();
                    // Each repository carries the cursor that resumes *at* it: after the one
                    // before it in the page (none for the first of a page).
                    let mut previous: Option<String> = cursor.after.clone();
                    let mut listed: Vec<(SweepCursor, Repository)> = Vec::new();
                    for (repository, handled) in repositories.into_iter().zip(handled) {
                        if handled {
                            previous = Some(repository.name.clone());
                            continue;
                        }
                        let at = SweepCursor {
                            next_token: token.clone(),
                            after: previous.replace(repository.name.clone()),
                            position: None,
                            sweep_id: identity.0.clone(),
                            link: identity.1,
                        };
                        listed.push((at, repository));
                    }
                    prepare(
                        listed
                            .iter()
                            .map(|(_, repository)| repository.clone())
                            .collect(),
                    )
                    .await;
                    let next = page.next_token.map(|next_token| SweepCursor {
                        next_token: Some(next_token),
                        after: None,
                        position: None,
                        sweep_id: identity.0.clone(),
                        link: identity.1,
                    });
                    Some((stream::iter(listed), next))
                }
                Err(error) => {
                    *lock(listing_failure) = Some((cursor, error));
                    None
                }
            }
        }
    })
    .flatten();

    // `take_while` sees the repositories in listing order, before they are started: the ones
    // started are always a prefix of the listing, so one cursor says where the rest begins.
    let mut outcomes = std::pin::pin!(pages
        .take_while(|(at, _)| {
            let out_of_time = deadline.is_within(START_RESERVE);
            if out_of_time {
                *lock(&stopped_at) = Some(at.clone());
            }
            ready(!out_of_time)
        })
        .map(|(_, repository)| harden(repository))
        .buffer_unordered(concurrency.max(1)));

    let mut n_started = 0;
    while let Some(outcome) = outcomes.next().await {
        n_started += 1;
        tally.record(outcome);
    }

    let stopped_at = lock(&stopped_at).take();
    let listing_failure = lock(&listing_failure).take();
    match listing_failure {
        Some((at, error)) => SweepProgress {
            rest: Some(at),
            n_started,
            listing_error: Some(error),
        },
        None => SweepProgress {
            rest: stopped_at,
            n_started,
            listing_error: None,
        },
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;
    use serde_json::{json, Value};

    #[test]
    fn cursors_round_trip_and_refuse_foreign_shapes() {
        let cursor = SweepCursor {
            next_token: Some("abc".into()),
            after: Some("ghcr/app-07".into()),
            position: None,
            sweep_id: Some("sweep-1".into()),
            link: 3,
        };
        assert_eq!(
            cursor.to_value(),
            json!({"next_token": "abc", "after": "ghcr/app-07", "sweep_id": "sweep-1", "link": 3})
        );
        assert_eq!(SweepCursor::from_value(&cursor.to_value()), Ok(cursor));
        assert_eq!(
            SweepCursor::from_value(&json!({})),
            Ok(SweepCursor::default())
        );
        let legacy = SweepCursor::from_value(&json!({"position": 2})).expect("first release");
        assert_eq!(legacy.position, Some(2));
        assert_eq!(
            legacy.to_value(),
            json!({"link": 0}),
            "positions are never written"
        );
    }

    /// `bad` is no cursor: reading it fails.
    fn check_foreign_cursor(name: &str, bad: Value) {
        assert!(SweepCursor::from_value(&bad).is_err(), "{name}: {bad}");
    }

    named_cases! {
        /// Cursors of foreign shapes are refused.
        mod foreign_cursors_are_refused => check_foreign_cursor;
        negative_position(json!({"position": -1})),
        position_with_a_page(json!({"position": 1, "page": 2})),
        after_that_is_not_a_name(json!({"after": 7})),
    }

    fn page(names: &[&str]) -> Vec<Repository> {
        names
            .iter()
            .map(|name| Repository {
                name: (*name).to_owned(),
                arn: String::new(),
                uri: String::new(),
                registry_id: String::new(),
                tag_mutability: String::new(),
                tag_mutability_exclusions: Vec::new(),
                scan_on_push: false,
                encryption_type: String::new(),
                kms_key: None,
                created_at: None,
            })
            .collect()
    }

    /// With the cursor `after` a name, of the `names` listed only `expected` are left to handle.
    fn check_resume(name: &str, after: Option<&str>, names: &[&str], expected: &[&str]) {
        let cursor = SweepCursor {
            after: after.map(str::to_owned),
            ..SweepCursor::default()
        };
        let listed = page(names);
        let left: Vec<String> = listed
            .iter()
            .enumerate()
            .filter(|(index, _)| !cursor.handled(*index, &listed))
            .map(|(_, repository)| repository.name.clone())
            .collect();
        assert_eq!(left, expected, "{name}");
    }

    named_cases! {
        /// A cursor resumes after a name, whatever was created or deleted since.
        mod a_cursor_resumes_after_a_name_whatever_was_created_or_deleted => check_resume;
        start_of_the_page(None, &["a", "b", "c"], &["a", "b", "c"]),
        after_b(Some("b"), &["a", "b", "c"], &["c"]),
        one_created_before_b(Some("b"), &["a", "aa", "b", "c"], &["c"]),
        /// The page again.
        b_deleted_since(Some("b"), &["a", "c"], &["a", "c"]),
        after_the_last(Some("c"), &["a", "b", "c"], &[]),
    }
}
