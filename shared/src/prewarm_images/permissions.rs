//! What `prewarm-images` may call: read the rules (to map images to cache repositories), look up
//! a tag in the cache and pull it through. ECR also checks the puller for the import and the
//! repository creation that a first pull through the cache performs (ECR user guide, pull-through-cache-iam.html): those
//! two are never called by the code, so the emulator's call log never shows them.
//!
//! Freshness: the rule's credential is read to ask the upstream for a cached tag's digest, and a
//! stale tag is deleted from its cache repository (`prewarm.refresh = "stale"`) before it is
//! pulled again.

use crate::domain::permissions::{
    Condition, Permission, Scope, PUBLISH_ALERTS, PUBLISH_ALERTS_DECRYPT, PUBLISH_ALERTS_ENCRYPT,
    REMEMBER_ALERTS,
};

pub const PERMISSIONS: &[Permission] = &[
    Permission::new(
        "ecr:DescribePullThroughCacheRules",
        Scope::AnyResource,
        "map each image to its rule; IAM has no resource type for rules",
    ),
    Permission::new(
        "ecr:DescribeRepositories",
        Scope::Registry,
        "one listing per run tells which cache repositories exist; IAM authorises it on `repository/*`",
    ),
    Permission::new(
        "ecr:DescribeImages",
        Scope::ManagedRepositories,
        "skip a tag that is cached already",
    ),
    Permission::new(
        "ecr:BatchGetImage",
        Scope::ManagedRepositories,
        "pull the manifest by tag, which makes ECR fetch it from the upstream",
    ),
    Permission::new(
        "ecr:BatchImportUpstreamImage",
        Scope::ManagedRepositories,
        "checked by ECR when a pull imports the image from the upstream",
    ),
    Permission::new(
        "ecr:CreateRepository",
        Scope::ManagedRepositories,
        "checked by ECR when the first pull creates the cache repository",
    ),
    Permission::new(
        "ecr:BatchDeleteImage",
        Scope::ManagedRepositories,
        "delete a stale tag from the cache so that the next pull fetches the upstream's image (`prewarm.refresh = \"stale\"`)",
    ),
    Permission::new(
        "secretsmanager:GetSecretValue",
        Scope::CredentialSecrets,
        "the rule's upstream credential, to read a cached tag's digest upstream",
    ),
    Permission::new(
        "kms:Decrypt",
        Scope::SecretKeys,
        "`GetSecretValue` on a secret encrypted with a customer managed key",
    )
    .on_condition(Condition::ViaService("secretsmanager")),
    PUBLISH_ALERTS,
    PUBLISH_ALERTS_ENCRYPT,
    PUBLISH_ALERTS_DECRYPT,
    REMEMBER_ALERTS,
];
