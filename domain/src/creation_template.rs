//! Repository creation templates as observed in the registry.

use std::collections::BTreeMap;

use serde::Serialize;

/// The `appliedFor` value that makes ECR use a template when the pull-through cache creates a
/// repository.
pub const APPLIED_FOR_PULL_THROUGH_CACHE: &str = "PULL_THROUGH_CACHE";

/// What a template gives a new repository when ECR reports no encryption for it.
pub const DEFAULT_TEMPLATE_ENCRYPTION: &str = "AES256";

/// A repository creation template as `DescribeRepositoryCreationTemplates` reports it. Enum
/// values keep the API's raw text, so a value this build does not know is shown and kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CreationTemplate {
    /// The repository name prefix (a trailing `/` is implied), or `ROOT`.
    pub prefix: String,
    pub description: Option<String>,
    /// `PULL_THROUGH_CACHE`, `REPLICATION`, `CREATE_ON_PUSH`, or newer.
    pub applied_for: Vec<String>,
    pub lifecycle_policy: Option<String>,
    pub repository_policy: Option<String>,
    pub resource_tags: BTreeMap<String, String>,
    /// `MUTABLE`, `IMMUTABLE`, `*_WITH_EXCLUSION`; `None` when ECR reports none.
    pub tag_mutability: Option<String>,
    pub tag_mutability_exclusions: Vec<String>,
    /// `AES256`, `KMS`, `KMS_DSSE`; `None` when ECR reports none.
    pub encryption_type: Option<String>,
    pub kms_key: Option<String>,
    /// The role ECR assumes to create repositories from this template.
    pub custom_role_arn: Option<String>,
}

/// How a template's `description` says this product owns it.
pub const OWNER_MARK: &str = "ecr-ptc-ops:";

impl CreationTemplate {
    /// A template with nothing but its prefix.
    pub fn empty(prefix: impl Into<String>) -> Self {
        CreationTemplate {
            prefix: prefix.into(),
            ..CreationTemplate::default()
        }
    }

    /// Whether the pull-through cache uses it.
    pub fn applies_to_the_cache(&self) -> bool {
        self.applied_for
            .iter()
            .any(|applied_for| applied_for == APPLIED_FOR_PULL_THROUGH_CACHE)
    }

    /// The encryption new repositories get.
    pub fn effective_encryption(&self) -> &str {
        self.encryption_type
            .as_deref()
            .unwrap_or(DEFAULT_TEMPLATE_ENCRYPTION)
    }

    /// What ECR can only create with a custom role: resource tags and KMS encryption (without
    /// `customRoleArn`, the creation, and with it the first pull, fails).
    pub fn needs_custom_role(&self) -> Vec<&'static str> {
        let mut needs = Vec::new();
        if !self.resource_tags.is_empty() {
            needs.push("resource tags");
        }
        if self.effective_encryption().starts_with("KMS") {
            needs.push("KMS encryption");
        }
        needs
    }

    /// Whether this product created it (or was handed it): its description starts with
    /// [`OWNER_MARK`]. A template without the mark is someone else's and is never written.
    pub fn is_owned(&self) -> bool {
        self.description
            .as_deref()
            .is_some_and(|description| description.starts_with(OWNER_MARK))
    }

    /// The prefix without the implied trailing `/`.
    pub fn prefix_key(&self) -> &str {
        if self.prefix == super::ROOT_PREFIX {
            &self.prefix
        } else {
            self.prefix.trim_end_matches('/')
        }
    }
}
