//! Sweeping every managed repository: pages of `DescribeRepositories` fed to a bounded pool of
//! workers, watching the invocation's deadline. When time runs low the sweep stops *starting*
//! repositories, lets the started ones finish, and reports where it stopped, so a new
//! invocation carries on from there ([`HandOff`]).

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::{ready, BoxFuture};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::ecr::{Registry, MAX_PAGE_SIZE};
use crate::aws::lambda::Functions;
use crate::aws::{AwsError, Clients};
use crate::domain::Repository;
use crate::events::HardenRequest;
use crate::lambda::Deadline;

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

/// Where a sweep stopped: the page (the `nextToken` that lists it; none for the first page) and
/// the position in that page of the first repository not started. Pages keep their order, so
/// the next invocation lists the same page again and starts there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    pub position: usize,
}

impl SweepCursor {
    /// Reads the `cursor` of a direct invoke.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        SweepCursor::deserialize(value).map_err(|error| {
            format!("`cursor` is not one a sweep wrote (`next_token`, `position`): {error}")
        })
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
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
/// recording every outcome in `tally`.
pub async fn sweep_repositories<Harden, HardenFuture>(
    registry: &Registry,
    start: SweepCursor,
    concurrency: usize,
    deadline: Deadline,
    tally: &mut Tally,
    harden: Harden,
) -> SweepProgress
where
    Harden: Fn(Repository) -> HardenFuture,
    HardenFuture: Future<Output = Outcome>,
{
    let listing_failure: Mutex<Option<(SweepCursor, AwsError)>> = Mutex::new(None);
    let stopped_at: Mutex<Option<SweepCursor>> = Mutex::new(None);

    let pages = stream::unfold(Some(start), |cursor| {
        let listing_failure = &listing_failure;
        async move {
            let cursor = cursor?;
            match registry
                .repositories_page(cursor.next_token.clone(), SWEEP_PAGE_SIZE)
                .await
            {
                Ok(page) => {
                    let token = cursor.next_token;
                    let listed: Vec<(SweepCursor, Repository)> = page
                        .repositories
                        .into_iter()
                        .enumerate()
                        .skip(cursor.position)
                        .map(|(position, repository)| {
                            let at = SweepCursor {
                                next_token: token.clone(),
                                position,
                            };
                            (at, repository)
                        })
                        .collect();
                    let next = page.next_token.map(|next_token| SweepCursor {
                        next_token: Some(next_token),
                        position: 0,
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

/// Starts a new invocation that continues a sweep. Injected, so the sweep does not depend on
/// running in Lambda (the CLI and tests continue with the reported cursor themselves).
pub trait HandOff: Send + Sync {
    /// Queues `request`; answers where it went (for the report).
    fn hand_off<'a>(
        &'a self,
        request: &'a HardenRequest,
    ) -> BoxFuture<'a, Result<String, AwsError>>;
}

/// The hand-off in Lambda: an asynchronous invocation (`InvocationType` `Event`) of the function
/// itself, with the same qualifier it was invoked with.
#[derive(Debug, Clone)]
pub struct SelfInvoke {
    functions: Functions,
    function: String,
}

impl SelfInvoke {
    /// `Some` only in Lambda (`AWS_LAMBDA_FUNCTION_NAME` set). `invoked_function_arn` comes from
    /// the invocation's context (it keeps an alias or version); the plain name when it is empty.
    pub fn from_env(clients: &Clients, invoked_function_arn: &str) -> Option<Self> {
        let name = std::env::var(crate::env::AWS_LAMBDA_FUNCTION_NAME)
            .ok()
            .filter(|name| !name.is_empty())?;
        let function = if invoked_function_arn.is_empty() {
            name
        } else {
            invoked_function_arn.to_owned()
        };
        Some(SelfInvoke {
            functions: clients.functions(),
            function,
        })
    }
}

impl HandOff for SelfInvoke {
    fn hand_off<'a>(
        &'a self,
        request: &'a HardenRequest,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(async move {
            let payload = serde_json::to_value(request).unwrap_or(Value::Null);
            self.functions
                .invoke_async(&self.function, &payload)
                .await
                .map(|()| self.function.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cursors_round_trip_and_refuse_foreign_shapes() {
        let cursor = SweepCursor {
            next_token: Some("abc".into()),
            position: 7,
        };
        assert_eq!(
            cursor.to_value(),
            json!({"next_token": "abc", "position": 7})
        );
        assert_eq!(SweepCursor::from_value(&cursor.to_value()), Ok(cursor));
        assert_eq!(
            SweepCursor::from_value(&json!({"position": 0})),
            Ok(SweepCursor::default())
        );
        for bad in [
            json!({}),
            json!({"position": -1}),
            json!({"position": 1, "page": 2}),
        ] {
            assert!(SweepCursor::from_value(&bad).is_err(), "{bad}");
        }
    }
}
