//! Invocation payloads, parsed once for every function.
//!
//! A Lambda gets a `serde_json::Value`: an EventBridge event (CloudTrail `CreateRepository`,
//! `ECR Pull Through Cache Action`, `Scheduled Event`) or a direct invoke. Each function has one
//! entry point that turns it into what that function can do, or an [`EventError`] that names what
//! arrived and what would have been accepted:
//!
//! | function | entry point |
//! |---|---|
//! | `harden-repository` | [`HardenInvocation::from_payload`] |
//! | `validate-cache-rules` | [`ValidateRulesInvocation::from_payload`] |
//! | `check-credentials` | [`CheckCredentialsInvocation::from_payload`] |
//! | `prewarm-images` | [`PrewarmInvocation::from_payload`] |
//!
//! Pure: no I/O, no SDK types; the EventBridge envelope is the Lambda runtime's
//! `aws_lambda_events::event::eventbridge::EventBridgeEvent`, read in `payload.rs` and never
//! handed out. Samples of every shape live in `events/` at the workspace root.

mod aws;
mod direct;
mod drift;
mod error;
mod payload;
mod registry;
mod scan;

#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

pub use aws::{CreatedVia, PullThroughCacheAction, RepositoryCreated, Scheduled, SyncStatus};
pub use direct::{
    CheckCredentialsRequest, HardenRequest, HardenTarget, PrewarmRequest, ValidateRulesRequest,
};
pub use drift::{repository_of_arn, Caller, SettingCall, SettingChanged};
pub use error::{CloudTrailCall, EventError, Received};
pub use registry::{
    is_credential_secret_id, CallRecord, ControlChanged, RegistryCall, RegistryPolicyChanged,
    RuleChanged, SecretChanged,
};
pub use scan::ImageScanned;

use aws::Creation;
use drift::Drift;
use payload::{Envelope, EventKind, Payload};
use registry::{Recorded, RulesOrPolicy};

/// The four functions, as named in reports and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    HardenRepository,
    ValidateCacheRules,
    CheckCredentials,
    PrewarmImages,
}

impl FunctionKind {
    pub const ALL: [FunctionKind; 4] = [
        FunctionKind::HardenRepository,
        FunctionKind::ValidateCacheRules,
        FunctionKind::CheckCredentials,
        FunctionKind::PrewarmImages,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FunctionKind::HardenRepository => "harden-repository",
            FunctionKind::ValidateCacheRules => "validate-cache-rules",
            FunctionKind::CheckCredentials => "check-credentials",
            FunctionKind::PrewarmImages => "prewarm-images",
        }
    }

    /// The shapes the function accepts, as error messages list them.
    pub fn accepted(self) -> &'static str {
        match self {
            FunctionKind::HardenRepository => {
                r#"a CloudTrail CreateRepository event, a CloudTrail repository setting call (PutLifecyclePolicy, DeleteLifecyclePolicy, SetRepositoryPolicy, DeleteRepositoryPolicy, PutImageTagMutability, PutImageScanningConfiguration, TagResource, UntagResource), a CloudTrail creation template or registry scanning call (CreateRepositoryCreationTemplate, UpdateRepositoryCreationTemplate, DeleteRepositoryCreationTemplate, PutRegistryScanningConfiguration), an "ECR Pull Through Cache Action" event, an "ECR Image Scan" event, a "Scheduled Event", {"repositories": [...]}, {"sweep": true} or {"usage": true}"#
            }
            FunctionKind::ValidateCacheRules => {
                r#"a CloudTrail rule or registry policy call (CreatePullThroughCacheRule, UpdatePullThroughCacheRule, DeletePullThroughCacheRule, PutRegistryPolicy, DeleteRegistryPolicy), a "Scheduled Event", {} or {"prefixes": [...]}"#
            }
            FunctionKind::CheckCredentials => {
                r#"a CloudTrail secret value call (PutSecretValue, UpdateSecret, RotateSecret) on an `ecr-pullthroughcache/` secret, a "Scheduled Event", {} or {"secrets": [...]}"#
            }
            FunctionKind::PrewarmImages => {
                r#"a "Scheduled Event", {} or {"images": [...], "dry_run": false}"#
            }
        }
    }
}

impl fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `harden-repository` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HardenInvocation {
    /// CloudTrail `CreateRepository` (service event or API call) from `ecr.amazonaws.com`.
    RepositoryCreated(RepositoryCreated),
    /// Someone changed a setting of a repository (CloudTrail API call from `ecr.amazonaws.com`,
    /// one of [`SettingCall::ALL`], successful): drift to correct if the repository is managed.
    SettingChanged(SettingChanged),
    /// ECR attempted a pull-through sync; a failed one is a finding of its own.
    PullThroughCacheAction(PullThroughCacheAction),
    /// Someone changed a creation template or the registry scanning configuration (CloudTrail
    /// API call, successful): reconcile the managed prefixes it concerns.
    ControlChanged(ControlChanged),
    /// A `Scheduled Event`: sweep every managed repository.
    Scheduled(Scheduled),
    /// A scan of an image completed: alert on its vulnerabilities if the image is the cache's.
    ImageScanned(ImageScanned),
    Direct(HardenRequest),
    /// A CloudTrail record that asks for nothing: a `CreateRepository` that created nothing the
    /// cache owns (a failed call, `errorCode`, or another `eventSource` such as
    /// `replication.ecr.amazonaws.com` or `ecr-public.amazonaws.com`); a setting call that
    /// failed or names no repository; another call of `ecr.amazonaws.com`.
    ///
    /// Not an [`EventError`]: these are well-formed AWS events that a working subscription can
    /// deliver (a rule widened beyond `eventSource`, a replayed archive, a failed Terraform
    /// apply). An error would make Lambda retry the asynchronous event, then count it on the
    /// failure alarm and the dead-letter queue, for an event no retry can ever make valid. The
    /// handler reports the reason and makes no AWS call, which is also what an at-least-once
    /// duplicate needs. Shapes the function does not know stay errors: they mean a wrong
    /// subscription, which someone should fix.
    Ignored {
        reason: String,
    },
}

impl HardenInvocation {
    pub fn from_payload(payload: &Value) -> Result<Self, EventError> {
        let function = FunctionKind::HardenRepository;
        match Payload::classify(function, payload)? {
            Payload::Event(event) => {
                let envelope = Envelope::new(function, &event);
                match envelope.kind() {
                    EventKind::CloudTrail(via) => HardenInvocation::from_cloudtrail(&envelope, via),
                    EventKind::PullThroughCacheAction => {
                        PullThroughCacheAction::from_envelope(&envelope)
                            .map(HardenInvocation::PullThroughCacheAction)
                    }
                    EventKind::Scheduled => {
                        Scheduled::from_envelope(&envelope).map(HardenInvocation::Scheduled)
                    }
                    EventKind::ImageScan => {
                        ImageScanned::from_envelope(&envelope).map(HardenInvocation::ImageScanned)
                    }
                    EventKind::Other => Err(envelope.unsupported()),
                }
            }
            Payload::Direct(object) => {
                direct::parse(function, object).map(HardenInvocation::Direct)
            }
        }
    }

    /// A CloudTrail record: a setting call (API calls only), a `CreateRepository`, another call
    /// of ECR's (acknowledged), or a record of another service (refused).
    fn from_cloudtrail(envelope: &Envelope<'_>, via: CreatedVia) -> Result<Self, EventError> {
        let event_name = envelope.text(&["eventName"]).ok().flatten();
        let event_source = envelope.text(&["eventSource"]).ok().flatten();
        let setting_call = event_name.and_then(SettingCall::from_event_name);
        let control_call = event_name.is_some_and(|name| {
            RegistryCall::CONTROLS
                .iter()
                .any(|call| call.as_str() == name)
        });
        if let (CreatedVia::ApiCall, true) = (via, control_call) {
            return Ok(match registry::control_changed(envelope)? {
                Recorded::Changed(changed) => HardenInvocation::ControlChanged(changed),
                Recorded::Ignored { reason } => HardenInvocation::Ignored { reason },
            });
        }
        if let (CreatedVia::ApiCall, Some(call)) = (via, setting_call) {
            return Ok(match SettingChanged::from_envelope(envelope, call) {
                Drift::Changed(changed) => HardenInvocation::SettingChanged(changed),
                Drift::Ignored { reason } => HardenInvocation::Ignored { reason },
            });
        }
        match (event_source, event_name) {
            (Some(aws::ECR_EVENT_SOURCE), Some(name)) if name != aws::CREATE_REPOSITORY => {
                let calls: Vec<&str> = SettingCall::ALL.iter().map(|call| call.as_str()).collect();
                Ok(HardenInvocation::Ignored {
                    reason: format!(
                        "{:?} {:?} is not an event harden-repository acts on: it takes \
                         `{}` and the API calls {}",
                        via.detail_type(),
                        error::bounded(name),
                        aws::CREATE_REPOSITORY,
                        calls.join(", ")
                    ),
                })
            }
            _ => Ok(match RepositoryCreated::from_envelope(envelope, via)? {
                Creation::Created(created) => HardenInvocation::RepositoryCreated(created),
                Creation::Ignored { reason } => HardenInvocation::Ignored { reason },
            }),
        }
    }

    /// The run's `dry_run` override, when the payload sets one.
    pub fn dry_run(&self) -> Option<bool> {
        match self {
            HardenInvocation::Direct(request) => request.dry_run,
            _ => None,
        }
    }
}

/// What `validate-cache-rules` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidateRulesInvocation {
    Scheduled(Scheduled),
    Direct(ValidateRulesRequest),
    /// A rule was created, updated or deleted (CloudTrail API call, successful).
    RuleChanged(RuleChanged),
    /// The registry permissions policy was put or deleted: the consumer checks, at once.
    RegistryPolicyChanged(RegistryPolicyChanged),
    /// A well-formed CloudTrail record that asks for nothing (a failed call, a call the
    /// function does not handle): acknowledged with the reason, no AWS call (see
    /// [`HardenInvocation::Ignored`] for why this is not an error).
    Ignored {
        reason: String,
    },
}

impl ValidateRulesInvocation {
    pub fn from_payload(payload: &Value) -> Result<Self, EventError> {
        let function = FunctionKind::ValidateCacheRules;
        match Payload::classify(function, payload)? {
            Payload::Event(event) => {
                let envelope = Envelope::new(function, &event);
                match envelope.kind() {
                    EventKind::Scheduled => {
                        Scheduled::from_envelope(&envelope).map(ValidateRulesInvocation::Scheduled)
                    }
                    EventKind::CloudTrail(CreatedVia::ApiCall) => {
                        Ok(match registry::rules_or_policy(&envelope)? {
                            Recorded::Changed(RulesOrPolicy::Rule(changed)) => {
                                ValidateRulesInvocation::RuleChanged(changed)
                            }
                            Recorded::Changed(RulesOrPolicy::Policy(changed)) => {
                                ValidateRulesInvocation::RegistryPolicyChanged(changed)
                            }
                            Recorded::Ignored { reason } => {
                                ValidateRulesInvocation::Ignored { reason }
                            }
                        })
                    }
                    EventKind::CloudTrail(CreatedVia::ServiceEvent) => {
                        Ok(ValidateRulesInvocation::Ignored {
                            reason: service_event_reason(&envelope),
                        })
                    }
                    _ => Err(envelope.unsupported()),
                }
            }
            Payload::Direct(object) => {
                direct::parse(function, object).map(ValidateRulesInvocation::Direct)
            }
        }
    }

    /// The rule prefixes a scheduled or direct run validates; `None` means every rule.
    pub fn prefixes(&self) -> Option<&[String]> {
        match self {
            ValidateRulesInvocation::Direct(request) => request.prefixes.as_deref(),
            _ => None,
        }
    }
}

/// What `check-credentials` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckCredentialsInvocation {
    Scheduled(Scheduled),
    Direct(CheckCredentialsRequest),
    /// An `ecr-pullthroughcache/` secret was given a new value or rotated (CloudTrail API call,
    /// successful): that secret alone, and the rules that use it.
    SecretChanged(SecretChanged),
    /// A well-formed CloudTrail record that asks for nothing (a failed call, another secret, a
    /// call the function does not handle): acknowledged with the reason, no AWS call.
    Ignored {
        reason: String,
    },
}

impl CheckCredentialsInvocation {
    pub fn from_payload(payload: &Value) -> Result<Self, EventError> {
        let function = FunctionKind::CheckCredentials;
        match Payload::classify(function, payload)? {
            Payload::Event(event) => {
                let envelope = Envelope::new(function, &event);
                match envelope.kind() {
                    EventKind::Scheduled => Scheduled::from_envelope(&envelope)
                        .map(CheckCredentialsInvocation::Scheduled),
                    EventKind::CloudTrail(CreatedVia::ApiCall) => {
                        Ok(match registry::secret_changed(&envelope)? {
                            Recorded::Changed(changed) => {
                                CheckCredentialsInvocation::SecretChanged(changed)
                            }
                            Recorded::Ignored { reason } => {
                                CheckCredentialsInvocation::Ignored { reason }
                            }
                        })
                    }
                    EventKind::CloudTrail(CreatedVia::ServiceEvent) => {
                        Ok(CheckCredentialsInvocation::Ignored {
                            reason: service_event_reason(&envelope),
                        })
                    }
                    _ => Err(envelope.unsupported()),
                }
            }
            Payload::Direct(object) => {
                direct::parse(function, object).map(CheckCredentialsInvocation::Direct)
            }
        }
    }

    /// The secrets a scheduled or direct run checks; `None` means every
    /// `ecr-pullthroughcache/` secret.
    pub fn secrets(&self) -> Option<&[String]> {
        match self {
            CheckCredentialsInvocation::Direct(request) => request.secrets.as_deref(),
            _ => None,
        }
    }
}

/// What `prewarm-images` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrewarmInvocation {
    /// A `Scheduled Event`: its `detail.images`, else `prewarm.images`.
    Scheduled(Scheduled),
    /// `{}`: `prewarm.images`.
    Configured,
    Direct(PrewarmRequest),
}

impl PrewarmInvocation {
    pub fn from_payload(payload: &Value) -> Result<Self, EventError> {
        let function = FunctionKind::PrewarmImages;
        match Payload::classify(function, payload)? {
            Payload::Event(event) => {
                let envelope = Envelope::new(function, &event);
                match envelope.kind() {
                    EventKind::Scheduled => {
                        Scheduled::from_envelope(&envelope).map(PrewarmInvocation::Scheduled)
                    }
                    _ => Err(envelope.unsupported()),
                }
            }
            Payload::Direct(object) if object.is_empty() => Ok(PrewarmInvocation::Configured),
            Payload::Direct(object) => {
                direct::parse(function, object).map(PrewarmInvocation::Direct)
            }
        }
    }

    /// The images the payload names; `None` means `prewarm.images`.
    pub fn images(&self) -> Option<&[String]> {
        match self {
            PrewarmInvocation::Scheduled(scheduled) => scheduled.images.as_deref(),
            PrewarmInvocation::Configured => None,
            PrewarmInvocation::Direct(request) => Some(&request.images),
        }
    }

    /// The run's `refresh` override, when the payload sets one.
    pub fn refresh(&self) -> Option<crate::domain::freshness::RefreshMode> {
        match self {
            PrewarmInvocation::Direct(request) => request.refresh,
            _ => None,
        }
    }

    /// The run's `dry_run` override, when the payload sets one.
    pub fn dry_run(&self) -> Option<bool> {
        match self {
            PrewarmInvocation::Direct(request) => request.dry_run,
            _ => None,
        }
    }
}

/// Why a CloudTrail service event asks nothing of the functions that act on API calls.
fn service_event_reason(envelope: &Envelope<'_>) -> String {
    let event_name = envelope.text(&["eventName"]).ok().flatten().unwrap_or("");
    format!(
        "{:?} {:?} is not a call made by someone: {} acts on {:?} records",
        payload::CLOUDTRAIL_SERVICE_EVENT,
        error::bounded(event_name),
        envelope.function(),
        payload::CLOUDTRAIL_API_CALL
    )
}
