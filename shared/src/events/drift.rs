//! CloudTrail records of a repository setting changed by someone (`AWS API Call via
//! CloudTrail`, reaching EventBridge when a trail is logging): the drift `harden-repository`
//! corrects within minutes instead of at the next sweep.
//!
//! Every well-formed record the function cannot act on (a failed call, a call outside the list,
//! no repository named) is acknowledged with the reason, never an error: an error would make
//! Lambda retry an event no retry can make usable, then count it on the failure alarm.

use serde::Serialize;

use super::aws::ECR_EVENT_SOURCE;
use super::error::bounded;
use super::payload::{dotted, Envelope};

/// The ECR calls that change a setting hardening manages (CloudTrail user guide, logging ECR API calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SettingCall {
    PutLifecyclePolicy,
    DeleteLifecyclePolicy,
    SetRepositoryPolicy,
    DeleteRepositoryPolicy,
    PutImageTagMutability,
    PutImageScanningConfiguration,
    TagResource,
    UntagResource,
}

impl SettingCall {
    /// Every call, in the order of the template's rule.
    pub const ALL: [SettingCall; 8] = [
        SettingCall::PutLifecyclePolicy,
        SettingCall::DeleteLifecyclePolicy,
        SettingCall::SetRepositoryPolicy,
        SettingCall::DeleteRepositoryPolicy,
        SettingCall::PutImageTagMutability,
        SettingCall::PutImageScanningConfiguration,
        SettingCall::TagResource,
        SettingCall::UntagResource,
    ];

    /// The CloudTrail `eventName`.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingCall::PutLifecyclePolicy => "PutLifecyclePolicy",
            SettingCall::DeleteLifecyclePolicy => "DeleteLifecyclePolicy",
            SettingCall::SetRepositoryPolicy => "SetRepositoryPolicy",
            SettingCall::DeleteRepositoryPolicy => "DeleteRepositoryPolicy",
            SettingCall::PutImageTagMutability => "PutImageTagMutability",
            SettingCall::PutImageScanningConfiguration => "PutImageScanningConfiguration",
            SettingCall::TagResource => "TagResource",
            SettingCall::UntagResource => "UntagResource",
        }
    }

    pub fn from_event_name(name: &str) -> Option<SettingCall> {
        SettingCall::ALL
            .into_iter()
            .find(|call| call.as_str() == name)
    }

    /// The tag calls name the repository by ARN (`resourceArn`); the others by name.
    fn names_by_arn(self) -> bool {
        matches!(self, SettingCall::TagResource | SettingCall::UntagResource)
    }

    /// The setting the call changes, as hardening names it.
    pub fn setting(self) -> &'static str {
        match self {
            SettingCall::PutLifecyclePolicy | SettingCall::DeleteLifecyclePolicy => {
                "lifecycle_policy"
            }
            SettingCall::SetRepositoryPolicy | SettingCall::DeleteRepositoryPolicy => {
                "repository_policy"
            }
            SettingCall::PutImageTagMutability => "tag_mutability",
            SettingCall::PutImageScanningConfiguration => "scan_on_push",
            SettingCall::TagResource | SettingCall::UntagResource => "tags",
        }
    }
}

/// Who made a call, from `detail.userIdentity`. Only ARNs and names: never `accessKeyId`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// `userIdentity.arn`: the user, or the role session (`assumed-role/<role>/<session>`),
    /// whose session name usually names the person.
    pub arn: Option<String>,
    /// `userIdentity.sessionContext.sessionIssuer.arn`: the role behind a session.
    pub role_arn: Option<String>,
    /// `userIdentity.type`: `IAMUser`, `AssumedRole`, `Root`, `AWSService`…
    pub identity_type: Option<String>,
    /// `userIdentity.invokedBy`: the AWS service that called on someone's behalf.
    pub invoked_by: Option<String>,
}

impl Caller {
    /// `detail.userIdentity` of a CloudTrail record; absent or empty fields stay `None`.
    pub(super) fn from_envelope(envelope: &Envelope<'_>) -> Caller {
        let text = |path: &[&str]| nonempty_text(envelope, path);
        Caller {
            arn: text(&["userIdentity", "arn"]),
            role_arn: text(&["userIdentity", "sessionContext", "sessionIssuer", "arn"]),
            identity_type: text(&["userIdentity", "type"]),
            invoked_by: text(&["userIdentity", "invokedBy"]),
        }
    }

    /// The most specific name of the caller there is.
    pub fn principal(&self) -> &str {
        self.arn
            .as_deref()
            .or(self.role_arn.as_deref())
            .or(self.invoked_by.as_deref())
            .unwrap_or("an unidentified caller")
    }
}

fn nonempty_text(envelope: &Envelope<'_>, path: &[&str]) -> Option<String> {
    envelope
        .text(path)
        .ok()
        .flatten()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// Someone changed a setting of a repository (a successful call from `ecr.amazonaws.com`).
/// Whether the repository is managed is for the caller to decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingChanged {
    pub call: SettingCall,
    pub repository_name: String,
    pub caller: Caller,
    /// `detail.eventTime`.
    pub event_time: Option<String>,
    /// `detail.eventID`: the CloudTrail record, to look it up.
    pub event_id: Option<String>,
}

/// What a record of one of the [`SettingCall`]s turned out to be.
pub(super) enum Drift {
    Changed(SettingChanged),
    /// Well-formed, but nothing to act on.
    Ignored {
        reason: String,
    },
}

impl SettingChanged {
    /// Reads an `AWS API Call via CloudTrail` record whose `eventName` is `call`.
    pub(super) fn from_envelope(envelope: &Envelope<'_>, call: SettingCall) -> Drift {
        let ignored = |reason: String| Drift::Ignored { reason };
        let name = call.as_str();
        match envelope.text(&["eventSource"]) {
            Ok(Some(ECR_EVENT_SOURCE)) => {}
            Ok(Some(other)) => {
                return ignored(format!(
                    "`{name}` from {:?} is not a change to a private repository: only \
                     `{ECR_EVENT_SOURCE}` calls change the repositories the cache owns",
                    bounded(other)
                ))
            }
            Ok(None) | Err(_) => {
                return ignored(format!(
                    "`{name}` without a string `detail.eventSource`: not a record of a call to \
                     `{ECR_EVENT_SOURCE}`"
                ))
            }
        }
        if let Some(error_code) = envelope.value(&["errorCode"]) {
            let error_code = error_code.as_str().map_or_else(
                || "an error".to_owned(),
                |code| format!("{:?}", bounded(code)),
            );
            return ignored(format!(
                "the `{name}` call failed with {error_code}: nothing was changed"
            ));
        }
        let repository_name = match repository_named(envelope, call) {
            Ok(repository_name) => repository_name,
            Err(problem) => {
                return ignored(format!(
                    "`{name}` names no repository: {problem}; the next sweep checks every \
                     managed repository"
                ))
            }
        };
        Drift::Changed(SettingChanged {
            call,
            repository_name,
            caller: Caller::from_envelope(envelope),
            event_time: nonempty_text(envelope, &["eventTime"]),
            event_id: nonempty_text(envelope, &["eventID"]),
        })
    }
}

/// `requestParameters.repositoryName`, or for the tag calls the repository of
/// `requestParameters.resourceArn`; a problem naming the field otherwise.
fn repository_named(envelope: &Envelope<'_>, call: SettingCall) -> Result<String, String> {
    let parameters = ["requestParameters"];
    match envelope.value(&parameters) {
        None => return Err(format!("`{}` is missing", dotted(&parameters))),
        Some(value) if !value.is_object() => {
            return Err(format!("`{}` is not an object", dotted(&parameters)))
        }
        Some(_) => {}
    }
    let (path, from_arn): (&[&str], bool) = if call.names_by_arn() {
        (&["requestParameters", "resourceArn"], true)
    } else {
        (&["requestParameters", "repositoryName"], false)
    };
    let text = envelope.required_text(path)?;
    if !from_arn {
        return Ok(text.to_owned());
    }
    repository_of_arn(text).map(str::to_owned).ok_or_else(|| {
        format!(
            "`{}` is not an ECR repository ARN (`arn:<partition>:ecr:<region>:<account>:repository/<name>`)",
            dotted(path)
        )
    })
}

/// The repository name of `arn:<partition>:ecr:<region>:<account>:repository/<name>`.
pub fn repository_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("ecr"), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if partition.is_empty() || region.is_empty() || account.is_empty() {
        return None;
    }
    resource
        .strip_prefix("repository/")
        .filter(|name| !name.is_empty())
}
