//! The pure domain: no I/O, no SDK types.

pub mod cache_mapping;
pub mod change_summary;
mod creation_template;
mod credential;
mod finding;
pub mod freshness;
pub mod iam;
pub mod image_reference;
mod lifecycle;
pub mod markdown;
pub mod permissions;
pub mod policy_eval;
pub mod registry_api;
mod report;
mod repository;
mod repository_policy;
mod rule;
pub mod scanning;
pub mod secret;
mod severity;
pub mod wildcard;

pub use creation_template::{
    CreationTemplate, APPLIED_FOR_PULL_THROUGH_CACHE, DEFAULT_TEMPLATE_ENCRYPTION, OWNER_MARK,
};
pub use credential::{SecretArn, SecretMetadata, CREDENTIAL_SECRET_PREFIX};
pub use finding::{Check, Finding};
pub use lifecycle::{
    canonical_json_text, CountType, LifecycleAction, LifecyclePolicy, LifecycleProblem,
    LifecycleRule, PolicyProblem, StorageClass, TagStatus, MAX_LIFECYCLE_POLICY_CHARS,
    MAX_LIFECYCLE_RULES, MAX_WILDCARDS_PER_TAG_PATTERN, MIN_DAYS_IN_ARCHIVE,
};
pub use report::Report;
pub use repository::{PulledImage, Repository, ACCEPTED_MANIFEST_MEDIA_TYPES};
pub use repository_policy::{PublicStatement, RepositoryPolicy};
pub use rule::{
    in_namespace, rule_for_repository, under_prefix, CacheRule, UpstreamKind, ROOT_PREFIX,
};
pub use secret::SecretValue;
pub use severity::Severity;
