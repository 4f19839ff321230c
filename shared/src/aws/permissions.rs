//! IAM permissions as data. Each function declares, next to its code, the actions it calls and
//! on which resources (`PERMISSIONS` in its module); the deployment grants exactly those, and
//! tests check both ends: the template against the lists, the emulator's call log against them.
//!
//! A [`Scope`] names a kind of resource, not an ARN: the ARNs depend on the deployment
//! (partition, region, account, managed prefixes, the topic, the function's own name), which
//! [`Deployment`] supplies when they are rendered.

use std::fmt;

/// Name prefix of the secrets ECR accepts for pull-through cache credentials.
const CREDENTIAL_SECRET_NAME_PREFIX: &str = "ecr-pullthroughcache/";

/// The resources an action is granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Repositories under the managed pull-through cache prefixes: `repository/<prefix>/*` for
    /// each prefix.
    ManagedRepositories,
    /// Every repository of the registry: `repository/*`. Listing repositories without naming
    /// them is authorised against the whole registry, so no narrower ARN can work.
    Registry,
    /// The pull-through cache credential secrets: `secret:ecr-pullthroughcache/*`.
    CredentialSecrets,
    /// The alert topic the deployment creates.
    AlertTopic,
    /// The function itself, unqualified and with any version or alias.
    OwnFunction,
    /// The function's own log group and its streams.
    OwnLogGroup,
    /// The queue that receives the events of failed asynchronous invocations.
    FailureQueue,
    /// The action supports no resource-level permission: IAM accepts only `*` for it.
    AnyResource,
}

/// One action a function needs, on one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    /// `service:Operation`, as IAM spells it (`ecr:PutLifecyclePolicy`). Never a wildcard.
    pub action: &'static str,
    pub scope: Scope,
    /// What needs it, for the reader of a policy review.
    pub reason: &'static str,
}

impl Permission {
    pub const fn new(action: &'static str, scope: Scope, reason: &'static str) -> Self {
        Permission {
            action,
            scope,
            reason,
        }
    }

    /// The IAM service prefix (`ecr`).
    pub fn service(&self) -> &'static str {
        self.action
            .split_once(':')
            .map_or("", |(service, _)| service)
    }

    /// The operation (`PutLifecyclePolicy`).
    pub fn operation(&self) -> &'static str {
        self.action
            .split_once(':')
            .map_or(self.action, |(_, operation)| operation)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {:?}", self.action, self.scope)
    }
}

/// Publishing a finding to the alert topic, which every function does through
/// [`crate::lambda::FunctionContext::finish`].
pub const PUBLISH_ALERTS: Permission = Permission::new(
    "sns:Publish",
    Scope::AlertTopic,
    "alerts: one message per finding resource",
);

/// What every function needs from the platform rather than from its code: writing its logs
/// (EMF metrics included) and, for an asynchronous invocation that failed for good, sending the
/// event to the on-failure destination (Lambda sends it with the function's role).
pub const LAMBDA_PLATFORM: &[Permission] = &[
    Permission::new(
        "logs:CreateLogStream",
        Scope::OwnLogGroup,
        "the runtime opens a stream per execution environment",
    ),
    Permission::new(
        "logs:PutLogEvents",
        Scope::OwnLogGroup,
        "log lines and EMF metrics",
    ),
    Permission::new(
        "sqs:SendMessage",
        Scope::FailureQueue,
        "on-failure destination of asynchronous invocations",
    ),
];

/// What a deployment calls its resources; renders a [`Scope`] as ARN patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub partition: String,
    pub region: String,
    pub account_id: String,
    /// Pull-through cache rule prefixes whose repositories the functions may change.
    pub managed_prefixes: Vec<String>,
    pub alert_topic_arn: String,
    pub failure_queue_arn: String,
    pub function_name: String,
}

impl Deployment {
    /// The ARN patterns `scope` stands for in this deployment.
    pub fn resources(&self, scope: Scope) -> Vec<String> {
        let Deployment {
            partition,
            region,
            account_id,
            ..
        } = self;
        let arn = |service: &str, resource: &str| {
            format!("arn:{partition}:{service}:{region}:{account_id}:{resource}")
        };
        match scope {
            Scope::ManagedRepositories => self
                .managed_prefixes
                .iter()
                .map(|prefix| arn("ecr", &format!("repository/{}/*", prefix.trim_matches('/'))))
                .collect(),
            Scope::Registry => vec![arn("ecr", "repository/*")],
            Scope::CredentialSecrets => vec![arn(
                "secretsmanager",
                &format!("secret:{CREDENTIAL_SECRET_NAME_PREFIX}*"),
            )],
            Scope::AlertTopic => vec![self.alert_topic_arn.clone()],
            Scope::OwnFunction => {
                let function = arn("lambda", &format!("function:{}", self.function_name));
                vec![format!("{function}:*"), function]
            }
            Scope::OwnLogGroup => {
                let group = arn(
                    "logs",
                    &format!("log-group:/aws/lambda/{}", self.function_name),
                );
                vec![format!("{group}:*")]
            }
            Scope::FailureQueue => vec![self.failure_queue_arn.clone()],
            Scope::AnyResource => vec!["*".to_owned()],
        }
    }

    /// Every `(action, resource)` pair `permissions` grant in this deployment.
    pub fn grants(&self, permissions: &[Permission]) -> Vec<(String, String)> {
        let mut grants: Vec<(String, String)> = permissions
            .iter()
            .flat_map(|permission| {
                self.resources(permission.scope)
                    .into_iter()
                    .map(|resource| (permission.action.to_owned(), resource))
            })
            .collect();
        grants.sort();
        grants.dedup();
        grants
    }
}

/// Whether a secret, named or by ARN, is one of the credential secrets.
pub fn is_credential_secret(name_or_arn: &str) -> bool {
    let name = match name_or_arn.split_once(":secret:") {
        Some((_, name)) => name,
        None => name_or_arn,
    };
    name.starts_with(CREDENTIAL_SECRET_NAME_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Deployment {
        Deployment {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account_id: "111111111111".into(),
            managed_prefixes: vec!["docker-hub".into(), "ghcr/".into()],
            alert_topic_arn: "arn:aws:sns:eu-west-1:111111111111:alerts".into(),
            failure_queue_arn: "arn:aws:sqs:eu-west-1:111111111111:failed".into(),
            function_name: "ptc-ops-harden-repository".into(),
        }
    }

    fn check(scope: Scope, expected: &[&str]) {
        assert_eq!(deployment().resources(scope), expected, "{scope:?}");
    }

    #[test]
    fn scopes_render_as_arn_patterns() {
        check(
            Scope::ManagedRepositories,
            &[
                "arn:aws:ecr:eu-west-1:111111111111:repository/docker-hub/*",
                "arn:aws:ecr:eu-west-1:111111111111:repository/ghcr/*",
            ],
        );
        check(
            Scope::Registry,
            &["arn:aws:ecr:eu-west-1:111111111111:repository/*"],
        );
        check(
            Scope::CredentialSecrets,
            &["arn:aws:secretsmanager:eu-west-1:111111111111:secret:ecr-pullthroughcache/*"],
        );
        check(
            Scope::AlertTopic,
            &["arn:aws:sns:eu-west-1:111111111111:alerts"],
        );
        check(
            Scope::OwnFunction,
            &[
                "arn:aws:lambda:eu-west-1:111111111111:function:ptc-ops-harden-repository:*",
                "arn:aws:lambda:eu-west-1:111111111111:function:ptc-ops-harden-repository",
            ],
        );
        check(
            Scope::OwnLogGroup,
            &["arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/ptc-ops-harden-repository:*"],
        );
        check(
            Scope::FailureQueue,
            &["arn:aws:sqs:eu-west-1:111111111111:failed"],
        );
        check(Scope::AnyResource, &["*"]);
    }

    #[test]
    fn actions_split_into_service_and_operation() {
        assert_eq!(PUBLISH_ALERTS.service(), "sns");
        assert_eq!(PUBLISH_ALERTS.operation(), "Publish");
    }

    #[test]
    fn credential_secrets_are_recognised_by_name_and_arn() {
        for (secret, expected) in [
            ("ecr-pullthroughcache/docker-hub", true),
            (
                "arn:aws:secretsmanager:eu-west-1:111111111111:secret:ecr-pullthroughcache/ghcr-AbCdEf",
                true,
            ),
            ("docker-hub", false),
            (
                "arn:aws:secretsmanager:eu-west-1:111111111111:secret:other/ecr-pullthroughcache/x",
                false,
            ),
        ] {
            assert_eq!(is_credential_secret(secret), expected, "{secret}");
        }
    }
}
