//! What the consumer checks may call: read the registry permissions policy. The rules they
//! need are listed by the caller (`validate-cache-rules`), the profiles come from the
//! configuration. The functions that run the checks include these in their own lists.

use crate::aws::permissions::{Permission, Scope};

pub const READ_REGISTRY_POLICY: Permission = Permission::new(
    "ecr:GetRegistryPolicy",
    Scope::AnyResource,
    "read the registry permissions policy for the consumer checks; IAM has no resource type for the registry",
);

pub const PERMISSIONS: &[Permission] = &[READ_REGISTRY_POLICY];
