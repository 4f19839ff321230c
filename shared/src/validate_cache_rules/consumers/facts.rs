//! The vocabulary of the consumer checks that deciding (`assess`, `upstream_role`), the
//! typed problems and their words share: the actions a first pull needs, the registry's facts,
//! where a repository policy comes from, and the answer of one check. Pure.

use serde::Serialize;

use crate::domain::policy_eval::Answer;
use crate::domain::ROOT_PREFIX;

/// What a first pull needs from the registry permissions policy (only IAM can grant it
/// otherwise, and IAM in another account cannot).
pub const REGISTRY_ACTIONS: [&str; 2] = ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"];
/// What a pull needs from the repository policy of the cache repository.
pub const PULL_ACTIONS: [&str; 3] = [
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
];
/// The resource of alerts about the registry permissions policy.
pub const REGISTRY_POLICY_RESOURCE: &str = "registry-policy";
/// What a consumer's own IAM policies must allow on `*` to log in to the registry.
pub const TOKEN_ACTION: &str = "ecr:GetAuthorizationToken";
/// The resource of the alert about IAM simulations that could not run.
pub const IAM_SIMULATION_RESOURCE: &str = "iam-simulation";
/// The repository name below a prefix that the IAM simulation asks about: a repository a first
/// pull would create. `ResourceArns` takes resource ARNs, so one concrete repository stands for
/// every repository under the prefix; a policy that treats some repositories under the prefix
/// differently (a `Deny` on `docker-hub/library/*`) is not seen.
pub const SAMPLE_REPOSITORY: &str = "ptc-doctor-sample";

/// The registry the cache lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryFacts {
    /// `None` when neither the registry policy nor the rules named it.
    pub account_id: Option<String>,
    pub region: Option<String>,
}

impl RegistryFacts {
    pub(crate) fn partition(&self) -> &'static str {
        match self.region.as_deref() {
            Some(region) if region.starts_with("cn-") => "aws-cn",
            Some(region) if region.starts_with("us-gov-") => "aws-us-gov",
            _ => "aws",
        }
    }

    /// `arn:aws:ecr:<region>:<account>:repository/<prefix>/ptc-doctor-sample`: the repository
    /// the IAM simulation asks about for `prefix`.
    pub fn sample_repository_arn(&self, prefix: &str) -> Option<String> {
        let account_id = self.account_id.as_deref()?;
        let region = self.region.as_deref()?;
        let repository = if prefix == ROOT_PREFIX {
            SAMPLE_REPOSITORY.to_owned()
        } else {
            format!("{prefix}/{SAMPLE_REPOSITORY}")
        };
        Some(format!(
            "arn:{}:ecr:{region}:{account_id}:repository/{repository}",
            self.partition()
        ))
    }

    /// `arn:aws:ecr:<region>:<account>:repository/<prefix>/*`, `repository/*` for `ROOT`.
    pub(super) fn repositories_arn(&self, prefix: &str) -> Option<String> {
        let account_id = self.account_id.as_deref()?;
        let region = self.region.as_deref()?;
        let repositories = if prefix == ROOT_PREFIX {
            "*".to_owned()
        } else {
            format!("{prefix}/*")
        };
        Some(format!(
            "arn:{}:ecr:{region}:{account_id}:repository/{repositories}",
            self.partition()
        ))
    }
}

/// Where the repository policy of new cache repositories comes from (worded by
/// [`PolicySource::describe`], with the other words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// The profile (no creation template applies to the prefix, or they could not be read: why).
    Profile { templates_unread: Option<String> },
    /// The creation template with this prefix, which ECR applies to new repositories there.
    Template { prefix: String },
    /// That template's repository policy cannot be evaluated: where it is malformed.
    MalformedTemplate { prefix: String, problem: String },
}

/// One answer: `ok`, `missing` or `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Unknown,
    Missing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Unknown => "unknown",
            Status::Missing => "missing",
        }
    }
}

/// A grant a first pull lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MissingGrant {
    pub action: String,
    pub resource: String,
    /// The `Deny` statement that takes it away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<String>,
}

/// One check of one consumer and prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CheckResult {
    pub status: Status,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<MissingGrant>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
}

impl CheckResult {
    pub(crate) fn ok() -> CheckResult {
        CheckResult {
            status: Status::Ok,
            missing: Vec::new(),
            why: Vec::new(),
        }
    }

    /// `missing` for a reason that names no single action (a role that does not exist).
    pub(crate) fn missing_because(why: &impl std::fmt::Display) -> CheckResult {
        CheckResult {
            status: Status::Missing,
            missing: Vec::new(),
            why: vec![why.to_string()],
        }
    }

    pub(crate) fn unknown(why: &impl std::fmt::Display) -> CheckResult {
        CheckResult {
            status: Status::Unknown,
            missing: Vec::new(),
            why: vec![why.to_string()],
        }
    }

    /// Combines the answers for several actions: missing wins, then unknown.
    pub(crate) fn from_answers(answers: Vec<Answer>) -> CheckResult {
        let mut result = CheckResult::ok();
        for answer in answers {
            match answer {
                Answer::Ok => {}
                Answer::Missing {
                    action,
                    resource,
                    denied_by,
                } => result.missing.push(MissingGrant {
                    action,
                    resource,
                    denied_by,
                }),
                Answer::Unknown { why } => result.why.push(why),
            }
        }
        result.status = if !result.missing.is_empty() {
            Status::Missing
        } else if !result.why.is_empty() {
            Status::Unknown
        } else {
            Status::Ok
        };
        result
    }
}
