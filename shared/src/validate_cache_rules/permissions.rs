//! What `validate-cache-rules` may call: read the rules, validate each, read each rule's secret
//! metadata, and what the consumer checks read (the registry permissions policy, the creation
//! templates, IAM simulations and the custom roles of ECR-to-ECR rules), and, when a rule is
//! deleted, the repositories it leaves behind. It writes nothing.

use crate::domain::permissions::{
    Permission, Scope, PUBLISH_ALERTS, PUBLISH_ALERTS_DECRYPT, PUBLISH_ALERTS_ENCRYPT,
    REMEMBER_ALERTS,
};

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
    Permission::new(
        "ecr:DescribeRepositories",
        Scope::Registry,
        "count the cached repositories a deleted rule leaves behind; listing is authorised on `repository/*`",
    ),
    crate::validate_cache_rules::consumers::permissions::READ_REGISTRY_POLICY,
    crate::validate_cache_rules::consumers::permissions::READ_CREATION_TEMPLATES,
    crate::validate_cache_rules::consumers::permissions::SIMULATE_CONSUMERS,
    crate::validate_cache_rules::consumers::permissions::SIMULATE_UPSTREAM_ROLES,
    crate::validate_cache_rules::consumers::permissions::READ_UPSTREAM_ROLES,
    PUBLISH_ALERTS,
    PUBLISH_ALERTS_ENCRYPT,
    PUBLISH_ALERTS_DECRYPT,
    REMEMBER_ALERTS,
];
