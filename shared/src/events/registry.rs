//! CloudTrail records of registry-level changes (`AWS API Call via CloudTrail`, reaching
//! EventBridge when a trail is logging): a pull-through cache rule created, updated or deleted,
//! the registry permissions policy put or deleted, a credential secret given a new value, a
//! creation template or the registry scanning configuration changed. Each is handled by the
//! function that checks that part of the registry, within seconds instead of at its schedule.
//!
//! `requestParameters` carry the API's member names (botocore service models of `ecr` and
//! `secretsmanager`); Secrets Manager never logs a secret's value. A well-formed record the
//! function cannot act on (a failed call, a call it does not handle, a secret outside
//! `ecr-pullthroughcache/`) is acknowledged with the reason; a record of a handled call without
//! the field that names what changed is a [`EventError::MalformedEvent`] naming that field.

use serde::Serialize;

use super::aws::ECR_EVENT_SOURCE;
use super::drift::Caller;
use super::error::{bounded, EventError};
use super::payload::{Envelope, CLOUDTRAIL_API_CALL};
use crate::domain::{SecretArn, CREDENTIAL_SECRET_PREFIX};

/// The `eventSource` of Secrets Manager calls.
pub(super) const SECRETS_MANAGER_EVENT_SOURCE: &str = "secretsmanager.amazonaws.com";

/// The registry-level calls the functions act on, by CloudTrail `eventName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
pub enum RegistryCall {
    CreatePullThroughCacheRule,
    UpdatePullThroughCacheRule,
    DeletePullThroughCacheRule,
    PutRegistryPolicy,
    DeleteRegistryPolicy,
    PutSecretValue,
    UpdateSecret,
    RotateSecret,
    CreateRepositoryCreationTemplate,
    UpdateRepositoryCreationTemplate,
    DeleteRepositoryCreationTemplate,
    PutRegistryScanningConfiguration,
}

impl RegistryCall {
    /// The rule and registry-policy calls: `validate-cache-rules`.
    pub const RULES_AND_POLICY: [RegistryCall; 5] = [
        RegistryCall::CreatePullThroughCacheRule,
        RegistryCall::UpdatePullThroughCacheRule,
        RegistryCall::DeletePullThroughCacheRule,
        RegistryCall::PutRegistryPolicy,
        RegistryCall::DeleteRegistryPolicy,
    ];
    /// The calls that give a secret a new value: `check-credentials`.
    pub const SECRETS: [RegistryCall; 3] = [
        RegistryCall::PutSecretValue,
        RegistryCall::UpdateSecret,
        RegistryCall::RotateSecret,
    ];
    /// The template and registry scanning calls: `harden-repository`.
    pub const CONTROLS: [RegistryCall; 4] = [
        RegistryCall::CreateRepositoryCreationTemplate,
        RegistryCall::UpdateRepositoryCreationTemplate,
        RegistryCall::DeleteRepositoryCreationTemplate,
        RegistryCall::PutRegistryScanningConfiguration,
    ];

    /// The CloudTrail `eventName`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryCall::CreatePullThroughCacheRule => "CreatePullThroughCacheRule",
            RegistryCall::UpdatePullThroughCacheRule => "UpdatePullThroughCacheRule",
            RegistryCall::DeletePullThroughCacheRule => "DeletePullThroughCacheRule",
            RegistryCall::PutRegistryPolicy => "PutRegistryPolicy",
            RegistryCall::DeleteRegistryPolicy => "DeleteRegistryPolicy",
            RegistryCall::PutSecretValue => "PutSecretValue",
            RegistryCall::UpdateSecret => "UpdateSecret",
            RegistryCall::RotateSecret => "RotateSecret",
            RegistryCall::CreateRepositoryCreationTemplate => "CreateRepositoryCreationTemplate",
            RegistryCall::UpdateRepositoryCreationTemplate => "UpdateRepositoryCreationTemplate",
            RegistryCall::DeleteRepositoryCreationTemplate => "DeleteRepositoryCreationTemplate",
            RegistryCall::PutRegistryScanningConfiguration => "PutRegistryScanningConfiguration",
        }
    }

    /// The `eventSource` of the service the call is made to.
    pub fn event_source(self) -> &'static str {
        if RegistryCall::SECRETS.contains(&self) {
            SECRETS_MANAGER_EVENT_SOURCE
        } else {
            ECR_EVENT_SOURCE
        }
    }

    fn among(calls: &[RegistryCall], name: &str) -> Option<RegistryCall> {
        calls.iter().copied().find(|call| call.as_str() == name)
    }
}

/// Who made a call and which record tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    pub caller: Caller,
    /// `detail.eventTime`.
    pub event_time: Option<String>,
    /// `detail.eventID`: the CloudTrail record, to look it up.
    pub event_id: Option<String>,
}

/// A pull-through cache rule was created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleChanged {
    pub call: RegistryCall,
    /// `requestParameters.ecrRepositoryPrefix`.
    pub prefix: String,
    /// `responseElements.upstreamRegistryUrl` (`requestParameters` for a creation): what the
    /// rule pulled from; the only place a deleted rule's upstream is still written.
    pub upstream_registry_url: Option<String>,
    /// `responseElements.credentialArn` (else `requestParameters`).
    pub credential_arn: Option<String>,
    pub record: CallRecord,
}

impl RuleChanged {
    pub fn is_deletion(&self) -> bool {
        self.call == RegistryCall::DeletePullThroughCacheRule
    }
}

/// The registry permissions policy was put or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryPolicyChanged {
    pub call: RegistryCall,
    pub record: CallRecord,
}

/// A credential secret (`ecr-pullthroughcache/…`) was given a new value or rotated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretChanged {
    pub call: RegistryCall,
    /// `requestParameters.secretId`: a name or an ARN, as the caller wrote it.
    pub secret_id: String,
    pub record: CallRecord,
}

/// A creation template or the registry scanning configuration was changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlChanged {
    pub call: RegistryCall,
    /// `requestParameters.prefix` of a template call; `None` for the scanning configuration,
    /// which is one object for the whole registry.
    pub template_prefix: Option<String>,
    pub record: CallRecord,
}

/// What a record of a registry-level call turned out to be, for one function.
pub(super) enum Recorded<T> {
    Changed(T),
    Ignored { reason: String },
}

/// The checks every handled record passes first: an API call (not a service event), of the
/// service the call belongs to, that succeeded. `Ok(None)` is "not one of `calls`".
fn handled_call(
    envelope: &Envelope<'_>,
    calls: &[RegistryCall],
    function: &str,
) -> Result<Recorded<RegistryCall>, EventError> {
    let ignored = |reason: String| Ok(Recorded::Ignored { reason });
    let event_name = envelope.text(&["eventName"]).ok().flatten().unwrap_or("");
    let event_source = envelope.text(&["eventSource"]).ok().flatten().unwrap_or("");
    let Some(call) = RegistryCall::among(calls, event_name) else {
        let names: Vec<&str> = calls.iter().map(|call| call.as_str()).collect();
        return ignored(format!(
            "CloudTrail {:?} from {:?} is not a call {function} acts on: it takes {}",
            bounded(event_name),
            bounded(event_source),
            names.join(", ")
        ));
    };
    let name = call.as_str();
    if event_source != call.event_source() {
        return ignored(format!(
            "`{name}` from {:?} is not the call of `{}` {function} acts on",
            bounded(event_source),
            call.event_source()
        ));
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
    Ok(Recorded::Changed(call))
}

/// The caller and the record's identity.
fn record_of(envelope: &Envelope<'_>) -> CallRecord {
    CallRecord {
        caller: Caller::from_envelope(envelope),
        event_time: text(envelope, &["eventTime"]),
        event_id: text(envelope, &["eventID"]),
    }
}

fn text(envelope: &Envelope<'_>, path: &[&str]) -> Option<String> {
    envelope
        .text(path)
        .ok()
        .flatten()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// `detail.requestParameters.<key>` as non-empty text, or the malformed-event error naming it.
fn required_parameter<'a>(envelope: &Envelope<'a>, key: &str) -> Result<&'a str, EventError> {
    envelope
        .required_text(&["requestParameters", key])
        .map_err(|problem| envelope.malformed(CLOUDTRAIL_API_CALL, problem))
}

/// What `validate-cache-rules` takes from a CloudTrail record.
pub(super) enum RulesOrPolicy {
    Rule(RuleChanged),
    Policy(RegistryPolicyChanged),
}

pub(super) fn rules_or_policy(
    envelope: &Envelope<'_>,
) -> Result<Recorded<RulesOrPolicy>, EventError> {
    let call = match handled_call(
        envelope,
        &RegistryCall::RULES_AND_POLICY,
        "validate-cache-rules",
    )? {
        Recorded::Changed(call) => call,
        Recorded::Ignored { reason } => return Ok(Recorded::Ignored { reason }),
    };
    let record = record_of(envelope);
    if matches!(
        call,
        RegistryCall::PutRegistryPolicy | RegistryCall::DeleteRegistryPolicy
    ) {
        return Ok(Recorded::Changed(RulesOrPolicy::Policy(
            RegistryPolicyChanged { call, record },
        )));
    }
    let prefix = required_parameter(envelope, "ecrRepositoryPrefix")?.to_owned();
    // The answer says what the rule is (or was); the request only what the caller sent.
    let answered = |key: &str| {
        text(envelope, &["responseElements", key])
            .or_else(|| text(envelope, &["requestParameters", key]))
    };
    Ok(Recorded::Changed(RulesOrPolicy::Rule(RuleChanged {
        call,
        prefix,
        upstream_registry_url: answered("upstreamRegistryUrl"),
        credential_arn: answered("credentialArn"),
        record,
    })))
}

/// What `check-credentials` takes from a CloudTrail record: a secret under
/// `ecr-pullthroughcache/`, named by name or ARN.
pub(super) fn secret_changed(
    envelope: &Envelope<'_>,
) -> Result<Recorded<SecretChanged>, EventError> {
    let call = match handled_call(envelope, &RegistryCall::SECRETS, "check-credentials")? {
        Recorded::Changed(call) => call,
        Recorded::Ignored { reason } => return Ok(Recorded::Ignored { reason }),
    };
    let secret_id = required_parameter(envelope, "secretId")?;
    if !is_credential_secret_id(secret_id) {
        return Ok(Recorded::Ignored {
            reason: format!(
                "`{}` names {:?}, not a credential secret: pull-through cache credentials are \
                 named `{CREDENTIAL_SECRET_PREFIX}…`",
                call.as_str(),
                bounded(secret_id)
            ),
        });
    }
    // A secret of another account or region (a cross-account caller writing through a resource
    // policy) is not one this deployment's rules can use, nor one its role may read.
    if let Some(arn) = SecretArn::parse(secret_id) {
        let elsewhere = [
            ("recipientAccountId", arn.account_id.as_str()),
            ("awsRegion", arn.region.as_str()),
        ]
        .into_iter()
        .find(|(field, value)| {
            envelope
                .text(&[field])
                .ok()
                .flatten()
                .is_some_and(|here| here != *value)
        });
        if let Some((field, value)) = elsewhere {
            return Ok(Recorded::Ignored {
                reason: format!(
                    "`{}` names a secret of {:?}, not this record's `{field}`: not a credential of this registry",
                    call.as_str(),
                    bounded(value)
                ),
            });
        }
    }
    // `UpdateSecret` also changes only a description or a key: its answer carries `versionId`
    // only when a new version, a new value, was created (Secrets Manager API reference,
    // UpdateSecret). Without an answer to read, the value is checked anyway.
    if call == RegistryCall::UpdateSecret
        && envelope
            .value(&["responseElements"])
            .is_some_and(|answer| answer.is_object())
        && envelope.value(&["responseElements", "versionId"]).is_none()
    {
        return Ok(Recorded::Ignored {
            reason: format!(
                "`UpdateSecret` on {:?} created no new version: its value did not change",
                bounded(secret_id)
            ),
        });
    }
    Ok(Recorded::Changed(SecretChanged {
        call,
        secret_id: secret_id.to_owned(),
        record: record_of(envelope),
    }))
}

/// A secret id (name, full or partial ARN) of a credential secret. ECR only accepts secrets
/// named with this prefix for a rule's `credentialArn` (ECR user guide, pull-through-cache-creating-secret.html).
pub fn is_credential_secret_id(secret_id: &str) -> bool {
    if secret_id.starts_with("arn:") {
        return SecretArn::parse(secret_id).is_some_and(|arn| arn.has_credential_prefix());
    }
    secret_id.starts_with(CREDENTIAL_SECRET_PREFIX)
}

/// What `harden-repository` takes from a CloudTrail record of a template or scanning call.
pub(super) fn control_changed(
    envelope: &Envelope<'_>,
) -> Result<Recorded<ControlChanged>, EventError> {
    let call = match handled_call(envelope, &RegistryCall::CONTROLS, "harden-repository")? {
        Recorded::Changed(call) => call,
        Recorded::Ignored { reason } => return Ok(Recorded::Ignored { reason }),
    };
    let template_prefix = if call == RegistryCall::PutRegistryScanningConfiguration {
        None
    } else {
        Some(required_parameter(envelope, "prefix")?.to_owned())
    };
    Ok(Recorded::Changed(ControlChanged {
        call,
        template_prefix,
        record: record_of(envelope),
    }))
}
