//! Repositories as observed in the registry.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A repository as `DescribeRepositories` reports it. Enum-valued settings keep the API's raw
/// text: a value this build does not know must still be shown and compared, not dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repository {
    pub name: String,
    pub arn: String,
    pub uri: String,
    pub registry_id: String,
    /// `MUTABLE`, `IMMUTABLE`, `MUTABLE_WITH_EXCLUSION`, `IMMUTABLE_WITH_EXCLUSION`, or newer.
    pub tag_mutability: String,
    pub tag_mutability_exclusions: Vec<String>,
    pub scan_on_push: bool,
    /// `AES256`, `KMS`, `KMS_DSSE`, or newer.
    pub encryption_type: String,
    pub kms_key: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// An image pulled (or found) through `BatchGetImage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PulledImage {
    pub repository_name: String,
    pub tag: String,
    pub digest: String,
    pub media_type: Option<String>,
}

/// Manifest media types a puller accepts: without the list and index types, ECR answers a
/// multi-architecture image with an error instead of the image (ECR API reference, BatchGetImage).
pub const ACCEPTED_MANIFEST_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];
