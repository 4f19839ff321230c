//! The AWS events the functions act on, read from an EventBridge envelope.

use serde::Serialize;
use serde_json::Value;

use super::direct::check_list;
use super::error::{bounded, EventError};
use super::payload::{
    Envelope, CLOUDTRAIL_API_CALL, CLOUDTRAIL_SERVICE_EVENT, PULL_THROUGH_CACHE_ACTION,
    SCHEDULED_EVENT,
};

/// The only `eventSource` whose `CreateRepository` makes a repository this product manages.
pub(super) const ECR_EVENT_SOURCE: &str = "ecr.amazonaws.com";
pub(super) const CREATE_REPOSITORY: &str = "CreateRepository";
/// Where a CloudTrail `CreateRepository` record may carry the name, most specific first: service
/// events (pull through cache) use the first, API calls the other two (EventBridge user guide,
/// eb-service-event-cloudtrail.html).
const REPOSITORY_NAME_PATHS: [&[&str]; 3] = [
    &["serviceEventDetails", "repositoryName"],
    &["responseElements", "repository", "repositoryName"],
    &["requestParameters", "repositoryName"],
];

/// How a repository came to exist, from the CloudTrail detail-type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreatedVia {
    /// `AWS Service Event via CloudTrail`: ECR created it on a first pull through a cache rule.
    ServiceEvent,
    /// `AWS API Call via CloudTrail`: a person or IaC called `CreateRepository`.
    ApiCall,
}

impl CreatedVia {
    pub fn detail_type(self) -> &'static str {
        match self {
            CreatedVia::ServiceEvent => CLOUDTRAIL_SERVICE_EVENT,
            CreatedVia::ApiCall => CLOUDTRAIL_API_CALL,
        }
    }
}

/// A private repository was created (CloudTrail `CreateRepository` from `ecr.amazonaws.com`).
/// Whether it is under a managed prefix is for the caller to decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryCreated {
    pub repository_name: String,
    pub via: CreatedVia,
    /// `userIdentity.invokedBy`: `ecr.amazonaws.com` for a pull-through creation.
    pub invoked_by: Option<String>,
    pub event_source: String,
}

/// What a CloudTrail `CreateRepository` record turned out to be.
pub(super) enum Creation {
    Created(RepositoryCreated),
    /// Well-formed, but no repository of ours came of it.
    Ignored {
        reason: String,
    },
}

impl RepositoryCreated {
    pub(super) fn from_envelope(
        envelope: &Envelope<'_>,
        via: CreatedVia,
    ) -> Result<Creation, EventError> {
        let malformed = |problem: String| envelope.malformed(via.detail_type(), problem);
        let event_source = envelope.text(&["eventSource"]).map_err(malformed)?;
        let event_name = envelope.text(&["eventName"]).map_err(malformed)?;
        let (Some(event_source), Some(CREATE_REPOSITORY)) = (event_source, event_name) else {
            return Err(envelope.unsupported());
        };
        if event_source != ECR_EVENT_SOURCE {
            return Ok(Creation::Ignored {
                reason: format!(
                    "`CreateRepository` from {:?} is not a private registry creation: \
                     only `{ECR_EVENT_SOURCE}` creates repositories the cache owns",
                    bounded(event_source)
                ),
            });
        }
        if let Some(error_code) = envelope.value(&["errorCode"]) {
            let error_code = error_code.as_str().map_or_else(
                || "an error".to_owned(),
                |code| format!("{:?}", bounded(code)),
            );
            return Ok(Creation::Ignored {
                reason: format!("the `CreateRepository` call failed with {error_code}: no repository was created"),
            });
        }
        let repository_name = REPOSITORY_NAME_PATHS
            .iter()
            .find_map(|path| {
                envelope
                    .value(path)?
                    .as_str()
                    .filter(|name| !name.is_empty())
            })
            .ok_or_else(|| {
                let paths: Vec<String> = REPOSITORY_NAME_PATHS
                    .iter()
                    .map(|path| format!("`{}`", super::payload::dotted(path)))
                    .collect();
                malformed(format!("no repository name in {}", paths.join(", ")))
            })?;
        Ok(Creation::Created(RepositoryCreated {
            repository_name: repository_name.to_owned(),
            via,
            invoked_by: optional_text(envelope, &["userIdentity", "invokedBy"]),
            event_source: event_source.to_owned(),
        }))
    }
}

/// ECR's own `ECR Pull Through Cache Action` event: one attempted sync of one image. Best effort
/// and repeated: act idempotently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullThroughCacheAction {
    pub repository_name: String,
    pub ecr_repository_prefix: String,
    pub upstream_registry_url: String,
    pub image_tag: Option<String>,
    pub image_digest: Option<String>,
    pub rule_version: Option<String>,
    pub sync: SyncStatus,
    /// `resources[0]`.
    pub repository_arn: Option<String>,
}

/// `detail.sync-status`: `SUCCESS`, or a failure carrying the raw status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SyncStatus {
    Success,
    /// Any status other than `SUCCESS` (AWS documents no other value, so none is assumed).
    Failed {
        status: String,
        failure_code: Option<String>,
        failure_reason: Option<String>,
    },
}

impl SyncStatus {
    pub fn is_success(&self) -> bool {
        matches!(self, SyncStatus::Success)
    }
}

impl PullThroughCacheAction {
    pub(super) fn from_envelope(envelope: &Envelope<'_>) -> Result<Self, EventError> {
        let required = |key: &str| {
            envelope
                .required_text(&[key])
                .map(str::to_owned)
                .map_err(|problem| envelope.malformed(PULL_THROUGH_CACHE_ACTION, problem))
        };
        let optional = |key: &str| optional_text(envelope, &[key]);
        let status = required("sync-status")?;
        let sync = if status == "SUCCESS" {
            SyncStatus::Success
        } else {
            SyncStatus::Failed {
                status,
                failure_code: optional("failure-code"),
                failure_reason: optional("failure-reason"),
            }
        };
        Ok(PullThroughCacheAction {
            repository_name: required("repository-name")?,
            ecr_repository_prefix: required("ecr-repository-prefix")?,
            upstream_registry_url: required("upstream-registry-url")?,
            image_tag: optional("image-tag"),
            image_digest: optional("image-digest"),
            rule_version: optional("rule-version"),
            sync,
            repository_arn: envelope.first_resource().map(str::to_owned),
        })
    }
}

/// An EventBridge `Scheduled Event` (`source` `aws.events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scheduled {
    /// `resources[0]`: which schedule fired.
    pub rule_arn: Option<String>,
    /// `detail.images`, when the schedule carries its own pre-warm list.
    pub images: Option<Vec<String>>,
}

impl Scheduled {
    pub(super) fn from_envelope(envelope: &Envelope<'_>) -> Result<Self, EventError> {
        let malformed = |problem: String| envelope.malformed(SCHEDULED_EVENT, problem);
        if !envelope.detail_is_object() {
            return Err(malformed("`detail` must be an object".to_owned()));
        }
        let images = match envelope.value(&["images"]) {
            None => None,
            Some(value) => {
                let images = string_list(value).ok_or_else(|| {
                    malformed("`detail.images` must be a list of strings".to_owned())
                })?;
                check_list("detail.images", &images).map_err(malformed)?;
                Some(images)
            }
        };
        Ok(Scheduled {
            rule_arn: envelope.first_resource().map(str::to_owned),
            images,
        })
    }
}

/// A tolerant read of an optional field: text as is, a number as its text (AWS does not
/// document the type of `rule-version`), anything else or empty as absent.
fn optional_text(envelope: &Envelope<'_>, path: &[&str]) -> Option<String> {
    match envelope.value(path)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|item| item.as_str().map(str::to_owned))
        .collect()
}
