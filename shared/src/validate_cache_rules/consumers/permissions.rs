//! What the consumer checks may call: read the registry permissions policy and the creation
//! templates, simulate the IAM policies of the configured principals of this account, and read
//! and simulate the custom roles of ECR-to-ECR rules. The rules they need are listed by the
//! caller (`validate-cache-rules`), the profiles come from the configuration. The functions that
//! run the checks include these in their own lists.
//!
//! `iam:SimulatePrincipalPolicy` is authorised against the principal simulated
//! (<https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html>),
//! so it is granted on the principals the deployment lists, not on every role of the account:
//! a simulation reveals what a principal may do. `iam:GetRole` likewise, on the custom roles.

use crate::domain::permissions::{Permission, Scope};

pub const READ_REGISTRY_POLICY: Permission = Permission::new(
    "ecr:GetRegistryPolicy",
    Scope::AnyResource,
    "read the registry permissions policy for the consumer checks; IAM has no resource type for the registry",
);

pub const READ_CREATION_TEMPLATES: Permission = Permission::new(
    "ecr:DescribeRepositoryCreationTemplates",
    Scope::AnyResource,
    "read the repository policy the creation templates give new cache repositories (a registry action)",
);

pub const SIMULATE_CONSUMERS: Permission = Permission::new(
    "iam:SimulatePrincipalPolicy",
    Scope::ConsumerPrincipals,
    "simulate the IAM policies of the consumers in this account for a first pull",
);

pub const SIMULATE_UPSTREAM_ROLES: Permission = Permission::new(
    "iam:SimulatePrincipalPolicy",
    Scope::UpstreamRoles,
    "simulate that the custom role of an ECR-to-ECR rule may pull from the upstream registry",
);

pub const READ_UPSTREAM_ROLES: Permission = Permission::new(
    "iam:GetRole",
    Scope::UpstreamRoles,
    "check that the custom role of an ECR-to-ECR rule exists and trusts pull through cache",
);

pub const PERMISSIONS: &[Permission] = &[
    READ_REGISTRY_POLICY,
    READ_CREATION_TEMPLATES,
    SIMULATE_CONSUMERS,
    SIMULATE_UPSTREAM_ROLES,
    READ_UPSTREAM_ROLES,
];
