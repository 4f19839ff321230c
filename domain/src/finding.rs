use std::fmt;

use serde::{Deserialize, Serialize};

use super::Severity;

/// What a finding is about. A stable, closed list: it is the `check` message attribute that SNS
/// subscription filter policies and alarms key on, so names never change once shipped.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// `ValidatePullThroughCacheRule` answered, or could not be asked.
    RuleValidation,
    /// The secret a rule points at: missing, being deleted, misnamed, elsewhere.
    RuleSecret,
    /// The secret's JSON: keys, empty values, stray whitespace.
    CredentialFormat,
    /// When the upstream token stops working.
    CredentialExpiry,
    /// Secret value older than the age policy allows.
    CredentialAge,
    /// Who uses the secret (orphans, deletion while in use).
    CredentialUse,
    /// The verdict on a credential given a new value (a CloudTrail `PutSecretValue`,
    /// `UpdateSecret` or `RotateSecret`): verified, or refused. Sent to chat whatever
    /// `alerts.min_severity` says: it answers a change someone just made.
    CredentialRotation,
    /// A repository setting brought to (or differing from) its profile.
    RepositoryHardening,
    /// A repository could not be observed or changed.
    HardeningFailure,
    /// A repository creation template of a managed prefix: drift, hazards, failed calls.
    CreationTemplate,
    /// The registry scanning configuration and scan-on-push coverage of managed repositories.
    RegistryScanning,
    /// ECR failed to pull an image from the upstream registry.
    UpstreamPull,
    /// An image could not be pulled through the cache ahead of need.
    Prewarm,
    /// An image reference that cannot be used as written.
    ImageReference,
    /// The alert topic could not be reached; the report still carries the findings.
    AlertDelivery,
    /// A consumer account or role whose first pull through a rule would fail (registry or
    /// repository policy), or a policy the check cannot read.
    ConsumerAccess,
    /// A scan of a cached image found vulnerabilities at or above the profile's
    /// `scan_alert_severity`.
    ImageVulnerabilities,
    /// The usage summary: what the cache holds. Sent to chat whatever `alerts.min_severity`
    /// says: it is asked for by its schedule.
    CacheUsage,
    /// The pulls an upstream still allows (Docker Hub's rate limit).
    UpstreamHeadroom,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::RuleValidation => "rule-validation",
            Check::RuleSecret => "rule-secret",
            Check::CredentialFormat => "credential-format",
            Check::CredentialExpiry => "credential-expiry",
            Check::CredentialAge => "credential-age",
            Check::CredentialUse => "credential-use",
            Check::CredentialRotation => "credential-rotation",
            Check::RepositoryHardening => "repository-hardening",
            Check::HardeningFailure => "hardening-failure",
            Check::CreationTemplate => "creation-template",
            Check::RegistryScanning => "registry-scanning",
            Check::UpstreamPull => "upstream-pull",
            Check::ImageVulnerabilities => "image-vulnerabilities",
            Check::CacheUsage => "cache-usage",
            Check::Prewarm => "prewarm",
            Check::ImageReference => "image-reference",
            Check::AlertDelivery => "alert-delivery",
            Check::ConsumerAccess => "consumer-access",
            Check::UpstreamHeadroom => "upstream-headroom",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a run noticed, with what to do about it.
///
/// `title` says what broke and where (the chat headline); `message` says why and what it
/// costs; `next_steps` are commands or actions, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    pub severity: Severity,
    pub check: Check,
    /// The resource the finding is about: a rule prefix, a secret name, a repository name or an
    /// image reference. Alerts are grouped by it.
    pub resource: String,
    pub title: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_steps: Vec<String>,
    /// ARN of the resource when known (chat `relatedResources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
}

impl Finding {
    pub fn new(
        severity: Severity,
        check: Check,
        resource: impl Into<String>,
        title: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            severity,
            check,
            resource: resource.into(),
            title: title.into(),
            message: message.into(),
            next_steps: Vec::new(),
            resource_arn: None,
        }
    }

    pub fn with_next_step(mut self, step: impl Into<String>) -> Self {
        self.next_steps.push(step.into());
        self
    }

    pub fn with_next_steps<I, S>(mut self, steps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.next_steps.extend(steps.into_iter().map(Into::into));
        self
    }

    pub fn with_resource_arn(mut self, arn: impl Into<String>) -> Self {
        self.resource_arn = Some(arn.into());
        self
    }
}
