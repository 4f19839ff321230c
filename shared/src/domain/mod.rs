//! The pure domain: no I/O, no SDK types.

mod lifecycle;
mod repository_policy;
mod severity;

pub use lifecycle::{
    canonical_json_text, CountType, LifecycleAction, LifecyclePolicy, LifecycleProblem,
    LifecycleRule, PolicyProblem, TagStatus, MAX_LIFECYCLE_POLICY_CHARS, MAX_LIFECYCLE_RULES,
    MAX_WILDCARDS_PER_TAG_PATTERN,
};
pub use repository_policy::{PublicStatement, RepositoryPolicy};
pub use severity::Severity;
