//! What managing creation templates needs, granted to `harden-repository` (its sweep reconciles
//! them first; the hardening function's `PERMISSIONS` lists these), and what the role
//! ECR assumes to create repositories from them may do.
//!
//! The template actions name no repository (the ECR user guide lists them as registry actions),
//! so IAM takes `*` for them. Creating or updating a template is also authorised as the
//! repository actions the template stands for: `ecr:CreateRepository`, and
//! `ecr:PutLifecyclePolicy` and `ecr:SetRepositoryPolicy` when it carries those policies
//! (hardening holds them already), and passing the custom role.

use crate::domain::permissions::{Condition, Permission, Scope, TagKeys};

pub const DESCRIBE_TEMPLATES: Permission = Permission::new(
    "ecr:DescribeRepositoryCreationTemplates",
    Scope::AnyResource,
    "observe the creation templates (a registry action)",
);

pub const CREATE_TEMPLATE: Permission = Permission::new(
    "ecr:CreateRepositoryCreationTemplate",
    Scope::AnyResource,
    "create the template of a managed prefix (a registry action)",
);

pub const UPDATE_TEMPLATE: Permission = Permission::new(
    "ecr:UpdateRepositoryCreationTemplate",
    Scope::AnyResource,
    "update the template of a managed prefix (a registry action)",
);

pub const CREATE_REPOSITORY_BY_TEMPLATE: Permission = Permission::new(
    "ecr:CreateRepository",
    Scope::ManagedRepositories,
    "ECR authorises a template as the repository creation it stands for",
);

pub const PASS_TEMPLATE_ROLE: Permission = Permission::new(
    "iam:PassRole",
    Scope::TemplateRole,
    "give templates the custom role that lets ECR create tagged repositories",
)
.on_condition(Condition::PassedToService("ecr.amazonaws.com"));

/// What ECR may do with the custom role of the templates (ECR user guide,
/// repository-creation-templates-custom.html), on the managed prefixes only: create the
/// repository, tag it with the profiles' tag keys and no other, and, for a profile with a
/// customer managed `kms_key`, use that key through ECR only. `ecr:ReplicateImage`, which the
/// guide lists for templates applied to replication, is left out: the product's templates serve
/// the pull-through cache.
pub const TEMPLATE_ROLE_PERMISSIONS: &[Permission] = &[
    Permission::new(
        "ecr:CreateRepository",
        Scope::ManagedRepositories,
        "create the repository a pull through the cache needs",
    ),
    Permission::new(
        "ecr:TagResource",
        Scope::ManagedRepositories,
        "tag the new repository with the template's tags (the profiles' keys only)",
    )
    .on_condition(Condition::TagKeys(TagKeys::Hardening)),
    Permission::new(
        "kms:CreateGrant",
        Scope::TemplateKeys,
        "encrypt the new repository with the profile's customer managed key",
    )
    .on_condition(Condition::ViaService("ecr")),
    Permission::new(
        "kms:RetireGrant",
        Scope::TemplateKeys,
        "retire the grant when the repository is deleted",
    )
    .on_condition(Condition::ViaService("ecr")),
    Permission::new(
        "kms:DescribeKey",
        Scope::TemplateKeys,
        "check the profile's customer managed key",
    )
    .on_condition(Condition::ViaService("ecr")),
];
