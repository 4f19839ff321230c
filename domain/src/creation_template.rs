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

    /// The prefix without the implied trailing `/` (`ROOT` has none to drop).
    pub fn prefix_key(&self) -> &str {
        self.prefix.trim_end_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    /// What a template is, as the hardening sweep reads it.
    struct Expected<'a> {
        prefix_key: &'a str,
        applies_to_the_cache: bool,
        encryption: &'a str,
        needs_custom_role: &'a [&'a str],
        owned: bool,
    }

    /// A template with `applied_for`, `encryption_type`, one resource tag or none, and a
    /// `description` reads as `expected`.
    fn check_template(
        case: &str,
        prefix: &str,
        applied_for: &[&str],
        encryption_type: Option<&str>,
        tagged: bool,
        description: Option<&str>,
        expected: Expected<'_>,
    ) {
        let template = CreationTemplate {
            applied_for: applied_for
                .iter()
                .map(|value| (*value).to_owned())
                .collect(),
            encryption_type: encryption_type.map(str::to_owned),
            resource_tags: if tagged {
                BTreeMap::from([("managed-by".to_owned(), "ecr-ptc-ops".to_owned())])
            } else {
                BTreeMap::new()
            },
            description: description.map(str::to_owned),
            ..CreationTemplate::empty(prefix)
        };
        assert_eq!(template.prefix, prefix, "{case}: prefix");
        assert_eq!(
            template.prefix_key(),
            expected.prefix_key,
            "{case}: prefix key"
        );
        assert_eq!(
            template.applies_to_the_cache(),
            expected.applies_to_the_cache,
            "{case}: applies to the cache"
        );
        assert_eq!(
            template.effective_encryption(),
            expected.encryption,
            "{case}: encryption"
        );
        assert_eq!(
            template.needs_custom_role(),
            expected.needs_custom_role,
            "{case}: needs a custom role for"
        );
        assert_eq!(template.is_owned(), expected.owned, "{case}: owned");
    }

    named_cases! {
        /// Templates as `DescribeRepositoryCreationTemplates` returns them: prefix, appliedFor,
        /// encryptionType, a resource tag, description; then what the sweep reads from them.
        mod templates_read_as_the_sweep_needs => check_template;
        plain_cache_template(
            "docker-hub",
            &[APPLIED_FOR_PULL_THROUGH_CACHE],
            None,
            false,
            Some("ecr-ptc-ops: docker-hub"),
            Expected {
                prefix_key: "docker-hub",
                applies_to_the_cache: true,
                encryption: DEFAULT_TEMPLATE_ENCRYPTION,
                needs_custom_role: &[],
                owned: true,
            },
        ),
        replication_only_with_a_slash(
            "ghcr/",
            &["REPLICATION"],
            Some("AES256"),
            false,
            None,
            Expected {
                prefix_key: "ghcr",
                applies_to_the_cache: false,
                encryption: "AES256",
                needs_custom_role: &[],
                owned: false,
            },
        ),
        root_for_every_use(
            "ROOT",
            &["REPLICATION", "CREATE_ON_PUSH", APPLIED_FOR_PULL_THROUGH_CACHE],
            Some("KMS"),
            false,
            Some("team template, ecr-ptc-ops: not the owner"),
            Expected {
                prefix_key: "ROOT",
                applies_to_the_cache: true,
                encryption: "KMS",
                needs_custom_role: &["KMS encryption"],
                owned: false,
            },
        ),
        tags_and_dual_layer_kms(
            "quay",
            &[APPLIED_FOR_PULL_THROUGH_CACHE],
            Some("KMS_DSSE"),
            true,
            Some("ecr-ptc-ops: quay"),
            Expected {
                prefix_key: "quay",
                applies_to_the_cache: true,
                encryption: "KMS_DSSE",
                needs_custom_role: &["resource tags", "KMS encryption"],
                owned: true,
            },
        ),
        tags_alone(
            "k8s",
            &[],
            None,
            true,
            Some(""),
            Expected {
                prefix_key: "k8s",
                applies_to_the_cache: false,
                encryption: "AES256",
                needs_custom_role: &["resource tags"],
                owned: false,
            },
        ),
    }
}
