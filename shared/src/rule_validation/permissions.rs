//! What `validate-cache-rules` may call: read the rules, validate each, read each rule's secret
//! metadata, and read the registry permissions policy for the consumer checks. It writes
//! nothing.

use crate::aws::permissions::{Permission, Scope, PUBLISH_ALERTS};

pub const PERMISSIONS: &[Permission] = &[
    Permission::new(
        "ecr:DescribePullThroughCacheRules",
        Scope::AnyResource,
        "list the rules; IAM has no resource type for rules",
    ),
    Permission::new(
        "ecr:ValidatePullThroughCacheRule",
        Scope::AnyResource,
        "validate each rule; IAM has no resource type for rules",
    ),
    Permission::new(
        "secretsmanager:DescribeSecret",
        Scope::CredentialSecrets,
        "cross-check each rule's secret: exists, not scheduled for deletion",
    ),
    crate::consumers::permissions::READ_REGISTRY_POLICY,
    PUBLISH_ALERTS,
];
