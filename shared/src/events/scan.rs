//! `ECR Image Scan` (`source` `aws.ecr`): a basic scan of an image completed. The shape is the
//! sample of the Amazon ECR User Guide, "Amazon ECR events and EventBridge", "Event for a
//! completed image scan": `detail.scan-status`, `repository-name`, `image-digest`, `image-tags`
//! and `finding-severity-counts`, which has a key only for the severities that have findings.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::EventError;
use super::payload::{Envelope, IMAGE_SCAN};

/// A completed (or failed) scan of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageScanned {
    pub repository_name: String,
    pub image_digest: String,
    pub image_tags: Vec<String>,
    /// `COMPLETE` or `FAILED` (the values `DescribeImageScanFindings` reports).
    pub scan_status: String,
    /// Findings per severity (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `INFORMATIONAL`,
    /// `UNDEFINED`); a severity without findings has no entry.
    pub severity_counts: BTreeMap<String, u64>,
    /// `resources[0]`: the repository ARN.
    pub repository_arn: Option<String>,
}

impl ImageScanned {
    pub(super) fn from_envelope(envelope: &Envelope<'_>) -> Result<Self, EventError> {
        let malformed = |problem: String| envelope.malformed(IMAGE_SCAN, problem);
        let required = |key: &str| {
            envelope
                .required_text(&[key])
                .map(str::to_owned)
                .map_err(malformed)
        };
        let image_tags = match envelope.value(&["image-tags"]) {
            None => Vec::new(),
            Some(value) => value
                .as_array()
                .and_then(|items| {
                    items
                        .iter()
                        .map(|item| item.as_str().map(str::to_owned))
                        .collect::<Option<Vec<String>>>()
                })
                .ok_or_else(|| {
                    malformed("`detail.image-tags` must be a list of strings".to_owned())
                })?,
        };
        let severity_counts = match envelope.value(&["finding-severity-counts"]) {
            None => BTreeMap::new(),
            Some(Value::Object(counts)) => counts
                .iter()
                .map(|(severity, count)| {
                    count.as_u64().map(|count| (severity.clone(), count)).ok_or_else(|| {
                        malformed(format!(
                            "`detail.finding-severity-counts.{severity}` must be a non-negative integer"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(malformed(
                    "`detail.finding-severity-counts` must be an object of counts".to_owned(),
                ))
            }
        };
        Ok(ImageScanned {
            repository_name: required("repository-name")?,
            image_digest: required("image-digest")?,
            image_tags,
            scan_status: required("scan-status")?,
            severity_counts,
            repository_arn: envelope.first_resource().map(str::to_owned),
        })
    }
}
