//! The pure domain of ecr-ptc-ops: cache rules, repository and lifecycle policies, creation
//! templates, findings, reports, the image model and the cache mapping, the permissions model,
//! the registry API's rules. No I/O, no SDK types, no async.
//!
//! A crate of its own so that the compiler holds the rule the architecture states: the domain
//! depends on nothing of the product (`ptc_ops` re-exports it as `ptc_ops::domain`). Its unit
//! tests build without the AWS SDKs, which also keeps mutation testing of it fast.

/// Named cases for table tests: a macro only, exported for the other crates' tests too.
mod test_cases;

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
