//! What `harden-repository` may call: read the rules (managed prefixes), list and read
//! repositories, write the settings of managed repositories only, and hand a sweep that runs
//! short of time to a new invocation of itself. A sweep reconciles the creation templates
//! first ([`crate::harden_repository::templates::permissions`]), then the registry scanning configuration
//! ([`crate::harden_repository::scanning::permissions`]) and the pre-warm role's pull-time
//! update exclusion ([`crate::harden_repository::pull_time`]).

use crate::domain::permissions::{
    Condition, Permission, Scope, TagKeys, PUBLISH_ALERTS, PUBLISH_ALERTS_DECRYPT,
    PUBLISH_ALERTS_ENCRYPT, REMEMBER_ALERTS,
};
use crate::harden_repository::scanning::permissions::{
    GET_REGISTRY_SCANNING, PUT_REGISTRY_SCANNING, READ_REPOSITORY_SCANNING,
};
use crate::harden_repository::templates::permissions::{
    CREATE_REPOSITORY_BY_TEMPLATE, CREATE_TEMPLATE, DESCRIBE_TEMPLATES, PASS_TEMPLATE_ROLE,
    UPDATE_TEMPLATE,
};

pub const PERMISSIONS: &[Permission] = &[
    Permission::new(
        "ecr:DescribePullThroughCacheRules",
        Scope::AnyResource,
        "managed prefixes when `hardening.prefixes` is not set; rules have no resource type",
    ),
    Permission::new(
        "ecr:DescribeRepositories",
        Scope::Registry,
        "the sweep lists every repository, which IAM authorises on `repository/*`",
    ),
    Permission::new(
        "ecr:GetLifecyclePolicy",
        Scope::ManagedRepositories,
        "observe the lifecycle policy",
    ),
    Permission::new(
        "ecr:GetRepositoryPolicy",
        Scope::ManagedRepositories,
        "observe the repository policy",
    ),
    Permission::new(
        "ecr:ListTagsForResource",
        Scope::ManagedRepositories,
        "observe the tags",
    ),
    Permission::new(
        "ecr:PutLifecyclePolicy",
        Scope::ManagedRepositories,
        "apply the profile's lifecycle policy",
    ),
    Permission::new(
        "ecr:SetRepositoryPolicy",
        Scope::ManagedRepositories,
        "apply the profile's repository policy",
    ),
    Permission::new(
        "ecr:TagResource",
        Scope::ManagedRepositories,
        "apply the profile's tags, those keys only",
    )
    .on_condition(Condition::TagKeys(TagKeys::Hardening)),
    Permission::new(
        "ecr:PutImageScanningConfiguration",
        Scope::ManagedRepositories,
        "apply the profile's scan on push where the registry scanning configuration does not",
    ),
    Permission::new(
        "ecr:PutImageTagMutability",
        Scope::ManagedRepositories,
        "apply the profile's tag mutability",
    ),
    Permission::new(
        "lambda:InvokeFunction",
        Scope::OwnFunction,
        "a sweep short of time hands its cursor to a new invocation of itself",
    ),
    DESCRIBE_TEMPLATES,
    CREATE_TEMPLATE,
    UPDATE_TEMPLATE,
    CREATE_REPOSITORY_BY_TEMPLATE,
    PASS_TEMPLATE_ROLE,
    GET_REGISTRY_SCANNING,
    PUT_REGISTRY_SCANNING,
    READ_REPOSITORY_SCANNING,
    Permission::new(
        "ecr:ListPullTimeUpdateExclusions",
        Scope::AnyResource,
        "the sweep checks whether the pre-warm role is excluded from pull-time updates (a registry action)",
    ),
    Permission::new(
        "ecr:RegisterPullTimeUpdateExclusion",
        Scope::AnyResource,
        "the sweep excludes the pre-warm role from pull-time updates (a registry action); it never deregisters",
    ),
    crate::harden_repository::usage::permissions::DESCRIBE_IMAGES,
    PUBLISH_ALERTS,
    PUBLISH_ALERTS_ENCRYPT,
    PUBLISH_ALERTS_DECRYPT,
    REMEMBER_ALERTS,
    Permission::new(
        crate::domain::permissions::UPDATE_ITEM,
        Scope::StateTable,
        "flap limit: one conditional write counts each restoration of a setting",
    ),
    Permission::new(
        crate::domain::permissions::GET_ITEM,
        Scope::StateTable,
        "values callers of `hardening.drift.ignore_callers` set: one read per drifted repository",
    ),
    Permission::new(
        crate::domain::permissions::BATCH_GET_ITEM,
        Scope::StateTable,
        "flap limit in a sweep: one read of a drifted repository's restoration windows",
    ),
];
