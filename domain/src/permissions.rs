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
    /// The KMS keys that encrypt credential secrets, as the deployment lists them (none by
    /// default: secrets under the AWS managed key need no KMS permission).
    SecretKeys,
    /// The action supports no resource-level permission: IAM accepts only `*` for it.
    AnyResource,
    /// The role ECR assumes to create repositories from the creation templates.
    TemplateRole,
    /// The roles and users of `consumers.principals` in the deployment's account, as the
    /// deployment lists them (none by default): the only principals whose IAM policies the
    /// consumer checks may simulate.
    ConsumerPrincipals,
    /// The custom roles (`customRoleArn`) of the ECR-to-ECR pull-through cache rules, as the
    /// deployment lists them (none by default).
    UpstreamRoles,
    /// The state table the deployment creates (`PTC_STATE_TABLE`).
    StateTable,
    /// The customer managed KMS keys the hardening profiles' `kms_key` name, as the deployment
    /// lists them (none by default): what ECR's creation-template role may grant itself on.
    TemplateKeys,
    /// The customer managed KMS key of the alert topic when the deployment names one (none by
    /// default): an organisation's central topic in another account is encrypted with a key
    /// there, and using another account's key needs the caller's IAM policy too, not only the
    /// key policy.
    AlertTopicKeys,
}

/// A condition a grant carries; [`Deployment`] fills in its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    /// `ForAllValues:StringEquals` on `aws:TagKeys`: a request may set only the tag keys the
    /// product writes with this permission.
    TagKeys(TagKeys),
    /// `StringEquals` on `kms:ViaService`: the key serves only calls this service makes in the
    /// deployment's region (`secretsmanager` → `secretsmanager.<region>.amazonaws.com`).
    ViaService(&'static str),
    /// `StringEquals` on `iam:PassedToService`: the role may be passed to this service only.
    PassedToService(&'static str),
}

/// Which tag keys a [`Condition::TagKeys`] allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagKeys {
    /// `credentials.expiry_tag`: the expiry written back to a secret.
    CredentialExpiry,
    /// The keys of the hardening profiles' `tags`.
    Hardening,
}

/// A deployment choice that decides whether a permission is granted at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Switch {
    /// `credentials.write_back`: check-credentials tags secrets with a discovered expiry.
    CredentialWriteBack,
}

/// One action a function needs, on one scope, with the condition that narrows it and the
/// deployment choice it depends on, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    /// `service:Operation`, as IAM spells it (`ecr:PutLifecyclePolicy`). Never a wildcard.
    pub action: &'static str,
    pub scope: Scope,
    /// What needs it, for the reader of a policy review.
    pub reason: &'static str,
    pub condition: Option<Condition>,
    /// Granted only when this is on in the deployment.
    pub only_with: Option<Switch>,
}

impl Permission {
    pub const fn new(action: &'static str, scope: Scope, reason: &'static str) -> Self {
        Permission {
            action,
            scope,
            reason,
            condition: None,
            only_with: None,
        }
    }

    /// The same permission, narrowed by `condition`.
    pub const fn on_condition(mut self, condition: Condition) -> Self {
        self.condition = Some(condition);
        self
    }

    /// The same permission, granted only when `switch` is on.
    pub const fn only_with(mut self, switch: Switch) -> Self {
        self.only_with = Some(switch);
        self
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

/// The state table's actions (DynamoDB).
/// The IAM action of every state write: one operation keeps the
/// zips small and the grant narrow.
pub const UPDATE_ITEM: &str = "dynamodb:UpdateItem";
/// The one read: the accepted values of a repository (harden-repository only).
pub const GET_ITEM: &str = "dynamodb:GetItem";
/// The sweep's one read of a repository's restoration windows (harden-repository only).
pub const BATCH_GET_ITEM: &str = "dynamodb:BatchGetItem";

/// Publishing a finding to the alert topic, which every function does through
/// `FunctionContext::finish` (the plumbing every function shares).
pub const PUBLISH_ALERTS: Permission = Permission::new(
    "sns:Publish",
    Scope::AlertTopic,
    "alerts: one message per finding resource",
);

/// Publishing to an alert topic encrypted with a customer managed key that the deployment names
/// (a central topic of another account): SNS encrypts with a data key the publisher asks for.
pub const PUBLISH_ALERTS_ENCRYPT: Permission = Permission::new(
    "kms:GenerateDataKey",
    Scope::AlertTopicKeys,
    "alerts to an encrypted topic: SNS asks KMS for a data key on the publisher's behalf",
)
.on_condition(Condition::ViaService("sns"));

/// The other half of publishing to an encrypted topic, as SNS requires of publishers.
pub const PUBLISH_ALERTS_DECRYPT: Permission = Permission::new(
    "kms:Decrypt",
    Scope::AlertTopicKeys,
    "alerts to an encrypted topic: SNS checks the data key on the publisher's behalf",
)
.on_condition(Condition::ViaService("sns"));

/// Remembering which alerts went out, which every function does through
/// `FunctionContext::finish` (the plumbing every function shares) when the deployment has a state table.
pub const REMEMBER_ALERTS: Permission = Permission::new(
    UPDATE_ITEM,
    Scope::StateTable,
    "alert repeats: one conditional write decides which invocation sends",
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
    /// KMS keys of credential secrets (customer managed keys); empty for none.
    pub secret_kms_key_arns: Vec<String>,
    /// `credentials.write_back`.
    pub credential_write_back: bool,
    /// `credentials.expiry_tag`.
    pub credential_expiry_tag: String,
    /// Every tag key the hardening profiles set.
    pub hardening_tag_keys: Vec<String>,
    /// The role of the repository creation templates.
    pub template_role_arn: String,
    /// Roles and users of `consumers.principals` in this account; empty for none.
    pub consumer_principal_arns: Vec<String>,
    /// Custom roles of the ECR-to-ECR rules; empty for none.
    pub upstream_role_arns: Vec<String>,
    /// The state table.
    pub state_table_arn: String,
    /// KMS keys of the profiles' `kms_key`; empty for none.
    pub template_kms_key_arns: Vec<String>,
    /// The KMS key of the alert topic, when the deployment names one; empty for none.
    pub alert_topic_key_arns: Vec<String>,
}

/// One statement's worth of a grant: an action on one resource, with its IAM condition block
/// (`Value::Null` for none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub action: String,
    pub resource: String,
    /// The condition block as compact JSON (`""` for none), so grants compare and sort.
    pub condition: String,
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
            Scope::SecretKeys => self.secret_kms_key_arns.clone(),
            Scope::AnyResource => vec!["*".to_owned()],
            Scope::TemplateRole => vec![self.template_role_arn.clone()],
            Scope::ConsumerPrincipals => self.consumer_principal_arns.clone(),
            Scope::UpstreamRoles => self.upstream_role_arns.clone(),
            Scope::StateTable => vec![self.state_table_arn.clone()],
            Scope::TemplateKeys => self.template_kms_key_arns.clone(),
            Scope::AlertTopicKeys => self.alert_topic_key_arns.clone(),
        }
    }

    /// The IAM condition block `condition` stands for in this deployment.
    pub fn condition(&self, condition: Condition) -> serde_json::Value {
        match condition {
            Condition::TagKeys(keys) => {
                let keys = match keys {
                    TagKeys::CredentialExpiry => vec![self.credential_expiry_tag.clone()],
                    TagKeys::Hardening => self.hardening_tag_keys.clone(),
                };
                serde_json::json!({"ForAllValues:StringEquals": {"aws:TagKeys": keys}})
            }
            Condition::ViaService(service) => serde_json::json!({
                "StringEquals": {"kms:ViaService": format!("{service}.{}.amazonaws.com", self.region)}
            }),
            Condition::PassedToService(service) => serde_json::json!({
                "StringEquals": {"iam:PassedToService": service}
            }),
        }
    }

    /// Whether `switch` is on in this deployment.
    pub fn is_on(&self, switch: Switch) -> bool {
        match switch {
            Switch::CredentialWriteBack => self.credential_write_back,
        }
    }

    /// Every grant `permissions` make in this deployment: one per action and resource, with its
    /// condition; permissions whose switch is off, and scopes with no resource, grant nothing.
    pub fn grants(&self, permissions: &[Permission]) -> Vec<Grant> {
        let mut grants: Vec<Grant> = permissions
            .iter()
            .filter(|permission| permission.only_with.is_none_or(|switch| self.is_on(switch)))
            .flat_map(|permission| {
                let condition = permission
                    .condition
                    .map(|condition| self.condition(condition).to_string())
                    .unwrap_or_default();
                self.resources(permission.scope)
                    .into_iter()
                    .map(move |resource| Grant {
                        action: permission.action.to_owned(),
                        resource,
                        condition: condition.clone(),
                    })
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
    use crate::named_cases;

    fn deployment() -> Deployment {
        Deployment {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account_id: "111111111111".into(),
            managed_prefixes: vec!["docker-hub".into(), "ghcr/".into()],
            alert_topic_arn: "arn:aws:sns:eu-west-1:111111111111:alerts".into(),
            failure_queue_arn: "arn:aws:sqs:eu-west-1:111111111111:failed".into(),
            function_name: "ptc-ops-harden-repository".into(),
            secret_kms_key_arns: vec![
                "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .into(),
            ],
            credential_write_back: false,
            credential_expiry_tag: "ptc-ops:expires-at".into(),
            hardening_tag_keys: vec!["managed-by".into(), "cost-center".into()],
            template_role_arn: "arn:aws:iam::111111111111:role/templates".into(),
            consumer_principal_arns: vec!["arn:aws:iam::111111111111:role/eks-node".into()],
            upstream_role_arns: vec![],
            state_table_arn: "arn:aws:dynamodb:eu-west-1:111111111111:table/ptc-ops-state".into(),
            template_kms_key_arns: Vec::new(),
            alert_topic_key_arns: Vec::new(),
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
        check(
            Scope::SecretKeys,
            &["arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
        );
        check(Scope::AnyResource, &["*"]);
        check(
            Scope::ConsumerPrincipals,
            &["arn:aws:iam::111111111111:role/eks-node"],
        );
        check(Scope::UpstreamRoles, &[]);
        check(
            Scope::StateTable,
            &["arn:aws:dynamodb:eu-west-1:111111111111:table/ptc-ops-state"],
        );
        check(Scope::TemplateKeys, &[]);
        check(Scope::AlertTopicKeys, &[]);
    }

    const TAG_SECRET: Permission = Permission::new(
        "secretsmanager:TagResource",
        Scope::CredentialSecrets,
        "expiry",
    )
    .on_condition(Condition::TagKeys(TagKeys::CredentialExpiry))
    .only_with(Switch::CredentialWriteBack);
    const DECRYPT: Permission = Permission::new("kms:Decrypt", Scope::SecretKeys, "read")
        .on_condition(Condition::ViaService("secretsmanager"));
    const TAG_REPOSITORY: Permission =
        Permission::new("ecr:TagResource", Scope::ManagedRepositories, "tags")
            .on_condition(Condition::TagKeys(TagKeys::Hardening));
    const SECRETS: &str =
        "arn:aws:secretsmanager:eu-west-1:111111111111:secret:ecr-pullthroughcache/*";
    const KEY: &str = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn grant(action: &str, resource: &str, condition: &str) -> Grant {
        Grant {
            action: action.into(),
            resource: resource.into(),
            condition: condition.into(),
        }
    }

    /// The deployment with the credential expiry written back.
    fn write_back() -> Deployment {
        Deployment {
            credential_write_back: true,
            ..deployment()
        }
    }

    /// The deployment without secret keys listed.
    fn no_keys() -> Deployment {
        Deployment {
            secret_kms_key_arns: vec![],
            ..deployment()
        }
    }

    /// `deployment` grants `permissions` as `expected`.
    fn check_grants(
        name: &str,
        deployment: Deployment,
        permissions: &[Permission],
        expected: Vec<Grant>,
    ) {
        assert_eq!(deployment.grants(permissions), expected, "{name}");
    }

    named_cases! {
        /// Conditions and switches shape the grants.
        mod conditions_and_switches_shape_the_grants => check_grants;
        write_back_off_grants_no_tagging(deployment(), &[TAG_SECRET], vec![]),
        write_back_on_grants_the_expiry_tag_only(
            write_back(),
            &[TAG_SECRET],
            vec![grant(
                "secretsmanager:TagResource",
                SECRETS,
                r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["ptc-ops:expires-at"]}}"#,
            )],
        ),
        listed_keys_decrypt_through_secrets_manager_only(
            deployment(),
            &[DECRYPT],
            vec![grant(
                "kms:Decrypt",
                KEY,
                r#"{"StringEquals":{"kms:ViaService":"secretsmanager.eu-west-1.amazonaws.com"}}"#,
            )],
        ),
        no_keys_listed_grants_no_decrypt(no_keys(), &[DECRYPT], vec![]),
        repository_tags_are_limited_to_the_profiles_keys(
            deployment(),
            &[TAG_REPOSITORY],
            vec![
                grant(
                    "ecr:TagResource",
                    "arn:aws:ecr:eu-west-1:111111111111:repository/docker-hub/*",
                    r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["managed-by","cost-center"]}}"#,
                ),
                grant(
                    "ecr:TagResource",
                    "arn:aws:ecr:eu-west-1:111111111111:repository/ghcr/*",
                    r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["managed-by","cost-center"]}}"#,
                ),
            ],
        ),
        no_condition(
            deployment(),
            &[PUBLISH_ALERTS],
            vec![grant(
                "sns:Publish",
                "arn:aws:sns:eu-west-1:111111111111:alerts",
                "",
            )],
        ),
    }

    #[test]
    fn actions_split_into_service_and_operation() {
        assert_eq!(PUBLISH_ALERTS.service(), "sns");
        assert_eq!(PUBLISH_ALERTS.operation(), "Publish");
    }

    /// `secret`, a name or an ARN, is a pull-through cache credential, or not.
    fn check_credential_secret(name: &str, secret: &str, expected: bool) {
        assert_eq!(is_credential_secret(secret), expected, "{name}: {secret}");
    }

    named_cases! {
        /// Credential secrets are recognised by name and ARN.
        mod credential_secrets_are_recognised_by_name_and_arn => check_credential_secret;
        name_with_the_prefix("ecr-pullthroughcache/docker-hub", true),
        arn_with_the_prefix(
            "arn:aws:secretsmanager:eu-west-1:111111111111:secret:ecr-pullthroughcache/ghcr-AbCdEf",
            true,
        ),
        name_without_the_prefix("docker-hub", false),
        arn_with_the_prefix_further_down(
            "arn:aws:secretsmanager:eu-west-1:111111111111:secret:other/ecr-pullthroughcache/x",
            false,
        ),
    }
}
