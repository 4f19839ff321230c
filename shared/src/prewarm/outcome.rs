//! What became of each image, why a pull failed in words a person can act on, and the findings
//! of a run. Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::mapping::Unmapped;
use super::plan::{Action, PlannedImage, SkipReason};
use crate::aws::AwsErrorKind;
use crate::domain::upstream_guidance::validate_rule_command;
use crate::domain::{Check, Finding, Severity};

/// The resource every finding of a run names, so that a run publishes one alert at most.
pub const ALERT_RESOURCE: &str = "prewarm";

/// Status of one image in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageStatus {
    /// Pulled through the cache; it was not cached before.
    Warmed,
    /// The tag was in the cache already; nothing was pulled.
    AlreadyCached,
    Failed,
    /// Not pulled because the deadline came first; a later run picks it up.
    NotAttempted,
    /// Never pullable as listed (invalid, digest only, no rule, listed twice).
    Skipped,
    /// Dry run: would be pulled.
    Planned,
}

impl ImageStatus {
    pub const ALL: [ImageStatus; 6] = [
        ImageStatus::Warmed,
        ImageStatus::AlreadyCached,
        ImageStatus::Failed,
        ImageStatus::NotAttempted,
        ImageStatus::Skipped,
        ImageStatus::Planned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageStatus::Warmed => "warmed",
            ImageStatus::AlreadyCached => "already-cached",
            ImageStatus::Failed => "failed",
            ImageStatus::NotAttempted => "not-attempted",
            ImageStatus::Skipped => "skipped",
            ImageStatus::Planned => "planned",
        }
    }

    /// Summary count name (`images_warmed`).
    pub fn summary_key(self) -> String {
        format!("images_{}", self.as_str().replace('-', "_"))
    }
}

/// A failed call, as much as the pre-warmer needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullError {
    pub kind: Option<AwsErrorKind>,
    /// `UnableToGetUpstreamImageException`, `ImageNotFound`…
    pub code: Option<String>,
    /// The raw error, as reported.
    pub text: String,
}

/// What one pull attempt ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullOutcome {
    AlreadyCached {
        digest: Option<String>,
    },
    Warmed {
        digest: Option<String>,
        /// Something worth knowing that did not stop the pull.
        note: Option<String>,
    },
    Failed(PullError),
    /// The deadline came while ECR was still answering.
    Interrupted,
}

/// Why a pull failed, in the terms of what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureReason {
    UpstreamAuthentication,
    NotFoundUpstream,
    /// ECR listed the image as not found: no such tag, or the role lacks
    /// `ecr:BatchImportUpstreamImage` (ECR user guide, pull-through-cache-iam.html).
    ImageNotFound,
    Throttled,
    AccessDenied,
    /// `RepositoryNotFoundException`: ECR did not pull through (the rule is gone, or the
    /// repository is outside every rule).
    NotPulledThrough,
    Other,
}

impl Serialize for FailureReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.describe())
    }
}

impl FailureReason {
    pub fn classify(error: &PullError) -> Self {
        let text = error.text.to_ascii_lowercase();
        match (error.kind, error.code.as_deref()) {
            (Some(AwsErrorKind::Throttled), _) => FailureReason::Throttled,
            (Some(AwsErrorKind::AccessDenied), _) => FailureReason::AccessDenied,
            (_, Some("UnableToGetUpstreamImageException")) => {
                if text.contains("authenticat")
                    || text.contains("credential")
                    || text.contains("unauthorized")
                    || text.contains("denied access")
                {
                    FailureReason::UpstreamAuthentication
                } else if text.contains("not found") || text.contains("manifest unknown") {
                    FailureReason::NotFoundUpstream
                } else {
                    FailureReason::Other
                }
            }
            (_, Some("ImageNotFound" | "ImageNotFoundException")) => FailureReason::ImageNotFound,
            (_, Some("RepositoryNotFoundException")) => FailureReason::NotPulledThrough,
            _ => FailureReason::Other,
        }
    }

    /// Short words for the alert.
    pub fn describe(self) -> &'static str {
        match self {
            FailureReason::UpstreamAuthentication => "upstream authentication failed",
            FailureReason::NotFoundUpstream => "no such image upstream",
            FailureReason::ImageNotFound => "ECR found no such image",
            FailureReason::Throttled => "throttled after retries",
            FailureReason::AccessDenied => "access denied",
            FailureReason::NotPulledThrough => "ECR did not pull through the cache",
            FailureReason::Other => "the pull failed",
        }
    }

    fn next_step(self, rule_prefix: Option<&str>, region: Option<&str>) -> String {
        match self {
            FailureReason::UpstreamAuthentication => match rule_prefix {
                Some(prefix) => format!(
                    "check the rule's credentials: `{}` (a wrong path can also surface as an authentication failure)",
                    validate_rule_command(prefix, region)
                ),
                None => "check the rule's credential secret".to_owned(),
            },
            FailureReason::NotFoundUpstream => {
                "check that the tag exists upstream; Docker Hub official images need `library/`"
                    .to_owned()
            }
            FailureReason::ImageNotFound => {
                "check that the tag exists upstream and that the function's role may call `ecr:BatchImportUpstreamImage`".to_owned()
            }
            FailureReason::Throttled => {
                "lower `prewarm.concurrency`, set `AWS_RETRY_MODE=adaptive`, or run again later"
                    .to_owned()
            }
            FailureReason::AccessDenied => {
                "allow the function's role `ecr:BatchGetImage`, `ecr:BatchImportUpstreamImage`, `ecr:CreateRepository` and `ecr:DescribeImages`".to_owned()
            }
            FailureReason::NotPulledThrough => {
                "check that the pull-through cache rule still exists (`aws ecr describe-pull-through-cache-rules`)".to_owned()
            }
            FailureReason::Other => "read the error in the report and run again".to_owned(),
        }
    }
}

/// One image in the report (`images` detail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageResult {
    pub input: String,
    /// Normalised reference (`docker.io/library/nginx:1.27`).
    pub reference: Option<String>,
    pub rule_prefix: Option<String>,
    pub repository: Option<String>,
    pub cache_uri: Option<String>,
    pub status: ImageStatus,
    /// The raw error or the reason for skipping.
    pub error: Option<String>,
    /// Why a pull failed, in short words (`upstream authentication failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    pub digest: Option<String>,
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ImageResult {
    /// The entry before any pull: skipped, or planned.
    pub fn from_plan(planned: &PlannedImage) -> Self {
        let (status, error) = match &planned.action {
            Action::Warm => (ImageStatus::Planned, None),
            Action::Skip(reason) => (ImageStatus::Skipped, Some(reason.describe())),
        };
        ImageResult {
            input: planned.input.clone(),
            reference: planned.reference.as_ref().map(ToString::to_string),
            rule_prefix: planned
                .target
                .as_ref()
                .map(|target| target.rule_prefix.clone()),
            repository: planned
                .target
                .as_ref()
                .map(|target| target.repository.clone()),
            cache_uri: planned.cache_uri.clone(),
            status,
            error,
            reason: None,
            digest: None,
            duration_ms: None,
            note: None,
        }
    }

    pub fn record(&mut self, outcome: PullOutcome, elapsed: Duration) {
        self.duration_ms = Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        match outcome {
            PullOutcome::AlreadyCached { digest } => {
                self.status = ImageStatus::AlreadyCached;
                self.digest = digest;
            }
            PullOutcome::Warmed { digest, note } => {
                self.status = ImageStatus::Warmed;
                self.digest = digest;
                self.note = note;
            }
            PullOutcome::Failed(error) => {
                self.status = ImageStatus::Failed;
                self.reason = Some(FailureReason::classify(&error));
                self.error = Some(error.text);
            }
            PullOutcome::Interrupted => {
                self.status = ImageStatus::NotAttempted;
                self.error = Some(
                    "the deadline came while ECR was still answering; the image may be cached by now, the next run tells".to_owned(),
                );
            }
        }
    }

    pub fn not_attempted(&mut self, why: &str) {
        self.status = ImageStatus::NotAttempted;
        self.error = Some(why.to_owned());
    }
}

/// The findings of a run, all on [`ALERT_RESOURCE`]: reference problems, registries without a
/// rule, failed pulls (one finding listing them all) and images left for the next run.
pub fn findings(
    planned: &[PlannedImage],
    results: &[ImageResult],
    region: Option<&str>,
) -> Vec<Finding> {
    let failures: Vec<(&ImageResult, FailureReason)> = results
        .iter()
        .filter(|result| result.status == ImageStatus::Failed)
        .map(|result| (result, result.reason.unwrap_or(FailureReason::Other)))
        .collect();
    let mut findings = Vec::new();
    let mut unmapped: BTreeMap<String, (Vec<&str>, &Unmapped)> = BTreeMap::new();
    for image in planned {
        match &image.action {
            Action::Skip(SkipReason::Invalid(error)) => findings.push(
                Finding::new(
                    Severity::Warning,
                    Check::ImageReference,
                    ALERT_RESOURCE,
                    format!("image reference `{}` is not valid", image.input),
                    format!("{}; the image is not pre-warmed", error.reason),
                )
                .with_next_step("correct the entry in `prewarm.images` or in the event's `images`"),
            ),
            Action::Skip(SkipReason::DigestOnly) => findings.push(
                Finding::new(
                    Severity::Warning,
                    Check::ImageReference,
                    ALERT_RESOURCE,
                    format!("`{}` names a digest and no tag", image.input),
                    "a first pull by digest does not populate the cache; add a tag",
                )
                .with_next_step("list the image by tag (`repository:tag`); once the tag is cached, pulls by digest are hits too"),
            ),
            Action::Skip(SkipReason::Unmapped(reason)) => {
                let registry = match reason {
                    Unmapped::NoRule { registry, .. } | Unmapped::NoRuleForPath { registry, .. } => {
                        registry.clone()
                    }
                };
                let entry = unmapped.entry(registry).or_insert((Vec::new(), reason));
                entry.0.push(&image.input);
            }
            Action::Skip(SkipReason::Duplicate { .. }) | Action::Warm => {}
        }
        if let Some(reference) = image.reference.as_ref().filter(|r| r.tag_defaulted) {
            findings.push(
                Finding::new(
                    Severity::Warning,
                    Check::ImageReference,
                    ALERT_RESOURCE,
                    format!("`{}` has no tag; `latest` is used", image.input),
                    format!(
                        "`{reference}` is a mutable tag: the cache keeps what it pulled and checks the upstream at most once a day, so nodes may run an image other than the one expected"
                    ),
                )
                .with_next_step("list the image with a version tag"),
            );
        }
    }
    for (registry, (inputs, reason)) in unmapped {
        findings.push(
            Finding::new(
                Severity::Warning,
                Check::Prewarm,
                ALERT_RESOURCE,
                format!("no pull-through cache rule serves `{registry}`"),
                format!(
                    "{reason}; not pre-warmed: {}",
                    inputs
                        .iter()
                        .map(|input| format!("`{input}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_next_step(format!(
                "create a rule for it: `aws ecr create-pull-through-cache-rule --ecr-repository-prefix <prefix> --upstream-registry-url {registry}`, or remove the images from the list"
            )),
        );
    }
    if !failures.is_empty() {
        let n_pulled = results
            .iter()
            .filter(|result| {
                matches!(
                    result.status,
                    ImageStatus::Warmed | ImageStatus::AlreadyCached | ImageStatus::Failed
                )
            })
            .count();
        let lines: Vec<String> = failures
            .iter()
            .map(|(result, reason)| {
                format!(
                    "• `{}` → `{}`: {}: {}",
                    result.input,
                    result
                        .cache_uri
                        .as_deref()
                        .or(result.repository.as_deref())
                        .unwrap_or("?"),
                    reason.describe(),
                    result.error.as_deref().unwrap_or("no error text")
                )
            })
            .collect();
        let mut steps: Vec<String> = Vec::new();
        for (result, reason) in &failures {
            let step = reason.next_step(result.rule_prefix.as_deref(), region);
            if !steps.contains(&step) {
                steps.push(step);
            }
        }
        findings.push(
            Finding::new(
                Severity::Warning,
                Check::Prewarm,
                ALERT_RESOURCE,
                format!(
                    "{} of {n_pulled} images could not be pre-warmed",
                    failures.len()
                ),
                format!(
                    "their first real pull will be slow or fail the same way:\n{}",
                    lines.join("\n")
                ),
            )
            .with_next_steps(steps),
        );
    }
    let left: Vec<&ImageResult> = results
        .iter()
        .filter(|result| result.status == ImageStatus::NotAttempted)
        .collect();
    if !left.is_empty() {
        findings.push(
            Finding::new(
                Severity::Warning,
                Check::Prewarm,
                ALERT_RESOURCE,
                format!("{} images were not attempted before the deadline", left.len()),
                format!(
                    "not pre-warmed in this run: {}",
                    left.iter()
                        .map(|result| format!("`{}`", result.input))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_next_step("raise the function's timeout or `prewarm.concurrency`, or split the list across schedules"),
        );
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: Option<AwsErrorKind>, code: Option<&str>, text: &str, expected: FailureReason) {
        let error = PullError {
            kind,
            code: code.map(str::to_owned),
            text: text.to_owned(),
        };
        assert_eq!(
            FailureReason::classify(&error),
            expected,
            "{code:?}: {text}"
        );
    }

    #[test]
    fn classifies_pull_failures() {
        let upstream = Some("UnableToGetUpstreamImageException");
        for (kind, code, text, expected) in [
            (Some(AwsErrorKind::Service), upstream, "Unable to pull image 'x:1' from upstream registry 'ghcr.io' for repository 'ghcr/x': Authentication to the upstream registry failed. Verify the credentials of the rule.", FailureReason::UpstreamAuthentication),
            (Some(AwsErrorKind::Service), upstream, "... : the image library/nope:1 was not found in the upstream registry", FailureReason::NotFoundUpstream),
            (Some(AwsErrorKind::Service), upstream, "... : the upstream registry could not be reached.", FailureReason::Other),
            (Some(AwsErrorKind::Throttled), Some("ThrottlingException"), "Rate exceeded", FailureReason::Throttled),
            (Some(AwsErrorKind::AccessDenied), Some("AccessDeniedException"), "not authorized to perform: ecr:BatchGetImage", FailureReason::AccessDenied),
            (None, Some("ImageNotFound"), "Requested image not found", FailureReason::ImageNotFound),
            (Some(AwsErrorKind::NotFound), Some("RepositoryNotFoundException"), "repository does not exist", FailureReason::NotPulledThrough),
            (Some(AwsErrorKind::Timeout), None, "timed out", FailureReason::Other),
        ] {
            check(kind, code, text, expected);
        }
    }

    #[test]
    fn summary_keys_follow_statuses() {
        let keys: Vec<String> = ImageStatus::ALL
            .iter()
            .map(|status| status.summary_key())
            .collect();
        assert_eq!(
            keys,
            [
                "images_warmed",
                "images_already_cached",
                "images_failed",
                "images_not_attempted",
                "images_skipped",
                "images_planned"
            ]
        );
    }
}
