//! What scanning at the registry level needs, granted to `harden-repository` (its sweep
//! reconciles the registry scanning configuration; the hardening function's `PERMISSIONS`
//! lists these).
//!
//! The Service Authorization Reference for Amazon ECR
//! (<https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html>)
//! lists no resource type for the registry scanning configuration actions, so IAM takes `*`;
//! `BatchGetRepositoryScanningConfiguration` is authorised on each repository named.

use crate::domain::permissions::{Permission, Scope};

pub const GET_REGISTRY_SCANNING: Permission = Permission::new(
    "ecr:GetRegistryScanningConfiguration",
    Scope::AnyResource,
    "observe the registry scanning configuration (a registry action)",
);

pub const PUT_REGISTRY_SCANNING: Permission = Permission::new(
    "ecr:PutRegistryScanningConfiguration",
    Scope::AnyResource,
    "add the managed prefixes' scan-on-push filters (a registry action)",
);

pub const READ_REPOSITORY_SCANNING: Permission = Permission::new(
    "ecr:BatchGetRepositoryScanningConfiguration",
    Scope::ManagedRepositories,
    "read the effective scanning of repositories the registry configuration does not cover",
);
