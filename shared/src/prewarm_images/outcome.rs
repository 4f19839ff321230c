//! What became of each image, why a pull failed in words a person can act on, and the findings
//! of a run. Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::plan::{Action, PlannedImage, SkipReason};
use crate::domain::cache_mapping::Unmapped;
use crate::domain::{Check, Finding, Severity};
use crate::ports::AwsErrorKind;
use crate::remedies::validate_rule_command;

/// The resource every finding of a run names, so that a run publishes one alert at most.
pub const ALERT_RESOURCE: &str = "prewarm";

/// Status of one image in the report.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
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
    /// Cached, and the upstream tag now names another image (`prewarm.refresh = "report"`).
    Stale,
    /// Was stale: the tag was deleted from the cache and pulled through again.
    Refreshed,
}

impl ImageStatus {
    pub const ALL: [ImageStatus; 8] = [
        ImageStatus::Warmed,
        ImageStatus::AlreadyCached,
        ImageStatus::Failed,
        ImageStatus::NotAttempted,
        ImageStatus::Skipped,
        ImageStatus::Planned,
        ImageStatus::Stale,
        ImageStatus::Refreshed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageStatus::Warmed => "warmed",
            ImageStatus::AlreadyCached => "already-cached",
            ImageStatus::Failed => "failed",
            ImageStatus::NotAttempted => "not-attempted",
            ImageStatus::Skipped => "skipped",
            ImageStatus::Planned => "planned",
            ImageStatus::Stale => "stale",
            ImageStatus::Refreshed => "refreshed",
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
        /// What the upstream said of the tag, when it was asked.
        freshness: Option<Checked>,
    },
    /// The tag was stale: deleted from the cache and pulled through again.
    Refreshed {
        previous_digest: Option<String>,
        digest: Option<String>,
        /// What the upstream named, when it could tell (a forced refresh goes on without it).
        upstream_digest: Option<String>,
        note: Option<String>,
    },
    /// A read-only run found the tag not cached: a refresh would pull it.
    NotCached,
    Warmed {
        digest: Option<String>,
        /// Something worth knowing that did not stop the pull.
        note: Option<String>,
    },
    Failed(PullError),
    /// The deadline came while ECR was still answering.
    Interrupted,
}

/// What the upstream said of a cached tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The upstream tag names the cached image.
    Current { upstream_digest: String },
    /// The upstream tag names another image; `note` says why it was not refreshed, when it
    /// should have been.
    Stale {
        upstream_digest: String,
        note: Option<String>,
    },
    /// The upstream could not tell (unreachable, refused, no digest): why, naming it.
    Unknown(String),
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
    /// The reference pins a digest (`repo:tag@sha256:…`) and the tag in the cache has another
    /// one: the upstream tag moved, or the pin is stale. A node pulling the pinned digest
    /// through the cache would not find it.
    DigestMismatch,
    Other,
}

/// The schema of the serialized form: one of the [`FailureReason::describe`] texts.
impl schemars::JsonSchema for FailureReason {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FailureReason".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let texts: Vec<&str> = FailureReason::ALL
            .iter()
            .map(|reason| reason.describe())
            .collect();
        schemars::json_schema!({
            "description": "Why a pull failed, in short words.",
            "type": "string",
            "enum": texts,
        })
    }
}

impl Serialize for FailureReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.describe())
    }
}

impl FailureReason {
    pub const ALL: [FailureReason; 8] = [
        FailureReason::UpstreamAuthentication,
        FailureReason::NotFoundUpstream,
        FailureReason::ImageNotFound,
        FailureReason::Throttled,
        FailureReason::AccessDenied,
        FailureReason::NotPulledThrough,
        FailureReason::DigestMismatch,
        FailureReason::Other,
    ];

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
            FailureReason::DigestMismatch => "digest-mismatch",
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
            FailureReason::DigestMismatch => {
                "check which image the tag holds upstream now (`skopeo inspect --format '{{.Digest}}' docker://<image>:<tag>`); if it is the one you want, update the pin to the digest in the report, otherwise ask the upstream why the tag moved and keep the old image by another tag; pin a multi-architecture image by its index digest, not by one platform's manifest".to_owned()
            }
            FailureReason::Other => "read the error in the report and run again".to_owned(),
        }
    }
}

/// One image in the report (`images` detail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
    /// The digest of the tag in the cache (for a multi-architecture image, its index or
    /// manifest list).
    pub digest: Option<String>,
    /// The digest the reference pins (`repo:tag@sha256:…`); the tag is pulled and its digest
    /// compared with this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_digest: Option<String>,
    /// For a pinned reference that was pulled or found cached: whether the tag's digest in
    /// the cache is the pinned one. `false` comes with status `failed` and reason
    /// `digest-mismatch`, or with a note when ECR returned no digest to compare.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_verified: Option<bool>,
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The digest the upstream's tag names now (a manifest `HEAD`), when it was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_digest: Option<String>,
    /// For a refreshed tag: the digest it had in the cache before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_digest: Option<String>,
    /// Why the upstream could not tell whether the cached tag is current (it names the
    /// upstream); the cached image is left as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_check: Option<String>,
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
            pinned_digest: planned
                .reference
                .as_ref()
                .filter(|reference| reference.tag.is_some())
                .and_then(|reference| reference.digest.clone()),
            digest_verified: None,
            duration_ms: None,
            note: None,
            upstream_digest: None,
            previous_digest: None,
            upstream_check: None,
        }
    }

    pub fn record(&mut self, outcome: PullOutcome, elapsed: Duration) {
        self.duration_ms = Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        match outcome {
            PullOutcome::AlreadyCached { digest, freshness } => {
                self.status = ImageStatus::AlreadyCached;
                self.digest = digest;
                self.verify_pin();
                match freshness {
                    None => {}
                    Some(Checked::Current { upstream_digest }) => {
                        self.upstream_digest = Some(upstream_digest);
                    }
                    Some(Checked::Stale {
                        upstream_digest,
                        note,
                    }) => {
                        self.status = ImageStatus::Stale;
                        self.upstream_digest = Some(upstream_digest);
                        self.note = note;
                    }
                    Some(Checked::Unknown(why)) => self.upstream_check = Some(why),
                }
            }
            PullOutcome::Refreshed {
                previous_digest,
                digest,
                upstream_digest,
                note,
            } => {
                self.status = ImageStatus::Refreshed;
                self.previous_digest = previous_digest;
                self.digest = digest;
                self.upstream_digest = upstream_digest;
                self.note = note;
            }
            PullOutcome::NotCached => {
                self.status = ImageStatus::Planned;
                self.note = Some("not cached: a refresh pulls it".to_owned());
            }
            PullOutcome::Warmed { digest, note } => {
                self.status = ImageStatus::Warmed;
                self.digest = digest;
                self.note = note;
                self.verify_pin();
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

    /// Compares the tag's digest in the cache with the pinned one, after a pull or a lookup.
    ///
    /// Both sides are the digest of what the tag names: `imageId.imageDigest` is "the sha256
    /// digest of the image manifest" the tag resolves to
    /// (<https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageIdentifier.html>),
    /// and the pull accepts the manifest list and index media types besides the single-manifest
    /// ones (`acceptedMediaTypes`,
    /// <https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchGetImage.html>), so a
    /// multi-architecture tag is answered with its index, whose digest is the one charts pin
    /// (`docker buildx imagetools inspect` prints it as `Digest:`). `DescribeImages` by tag
    /// reports the digest of the same manifest.
    fn verify_pin(&mut self) {
        let Some(pinned) = self.pinned_digest.as_deref() else {
            return;
        };
        match self.digest.as_deref() {
            Some(cached) if cached == pinned => self.digest_verified = Some(true),
            Some(cached) => {
                let tag = self
                    .reference
                    .as_deref()
                    .and_then(|reference| reference.split('@').next())
                    .unwrap_or(&self.input);
                let how = if self.status == ImageStatus::AlreadyCached {
                    "was cached before this run; the cache looks for a newer image of a tag at most once every 24 hours"
                } else {
                    "was pulled from the upstream now"
                };
                self.error = Some(format!(
                    "`{tag}` is `{cached}` in the cache ({how}), the reference pins `{pinned}`: the upstream tag moved, or the pin is stale; a pull of the pinned digest through the cache would not find it"
                ));
                self.status = ImageStatus::Failed;
                self.reason = Some(FailureReason::DigestMismatch);
                self.digest_verified = Some(false);
            }
            None => {
                self.digest_verified = Some(false);
                let why = "ECR returned no digest for the tag, so the pin could not be checked";
                self.note = Some(match self.note.take() {
                    Some(note) => format!("{note}; {why}"),
                    None => why.to_owned(),
                });
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
    findings.extend(freshness_findings(results));
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

/// Cached tags behind their upstream (one finding listing them), and those whose upstream
/// could not tell (another one, naming each upstream's answer).
fn freshness_findings(results: &[ImageResult]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let stale: Vec<&ImageResult> = results
        .iter()
        .filter(|result| result.status == ImageStatus::Stale)
        .collect();
    if !stale.is_empty() {
        let lines: Vec<String> = stale
            .iter()
            .map(|result| {
                format!(
                    "• `{}`: cached `{}`, upstream `{}`{}",
                    result.input,
                    result.digest.as_deref().unwrap_or("?"),
                    result.upstream_digest.as_deref().unwrap_or("?"),
                    result
                        .note
                        .as_deref()
                        .map(|note| format!(" ({note})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        findings.push(
            Finding::new(
                Severity::Warning,
                Check::Prewarm,
                ALERT_RESOURCE,
                format!("{} cached tags are behind their upstream", stale.len()),
                format!(
                    "the cache looks for a newer image of a tag at most once a day, so nodes still pull the old one:\n{}",
                    lines.join("\n")
                ),
            )
            .with_next_step("refresh them now: `ptc prewarm --refresh stale <image>…`, or set `prewarm.refresh = \"stale\"`"),
        );
    }
    let unknown: Vec<&ImageResult> = results
        .iter()
        .filter(|result| result.upstream_check.is_some())
        .collect();
    if !unknown.is_empty() {
        let lines: Vec<String> = unknown
            .iter()
            .map(|result| {
                format!(
                    "• `{}`: {}",
                    result.input,
                    result.upstream_check.as_deref().unwrap_or_default()
                )
            })
            .collect();
        findings.push(
            Finding::new(
                Severity::Warning,
                Check::Prewarm,
                ALERT_RESOURCE,
                format!(
                    "{} cached tags could not be compared with their upstream",
                    unknown.len()
                ),
                format!(
                    "the cached images are left as they are:\n{}",
                    lines.join("\n")
                ),
            )
            .with_next_step("check `upstream_registries` in the configuration and the rule's credential (`ptc check-credentials`)"),
        );
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;

    /// A pull failure of this `kind`, `code` and `text` is classified as `expected`.
    fn check_classification(
        name: &str,
        kind: Option<AwsErrorKind>,
        code: Option<&str>,
        text: &str,
        expected: FailureReason,
    ) {
        let error = PullError {
            kind,
            code: code.map(str::to_owned),
            text: text.to_owned(),
        };
        assert_eq!(
            FailureReason::classify(&error),
            expected,
            "{name}: {code:?}: {text}"
        );
    }

    /// The code ECR answers a failed pull from the upstream registry with.
    const UPSTREAM: Option<&str> = Some("UnableToGetUpstreamImageException");

    named_cases! {
        /// Pull failures are classified by their kind, code and text.
        mod classifies_pull_failures => check_classification;
        upstream_authentication_failed(
            Some(AwsErrorKind::Service),
            UPSTREAM,
            "Unable to pull image 'x:1' from upstream registry 'ghcr.io' for repository 'ghcr/x': Authentication to the upstream registry failed. Verify the credentials of the rule.",
            FailureReason::UpstreamAuthentication,
        ),
        image_not_found_upstream(
            Some(AwsErrorKind::Service),
            UPSTREAM,
            "... : the image library/nope:1 was not found in the upstream registry",
            FailureReason::NotFoundUpstream,
        ),
        upstream_unreachable_is_other(
            Some(AwsErrorKind::Service),
            UPSTREAM,
            "... : the upstream registry could not be reached.",
            FailureReason::Other,
        ),
        throttled(
            Some(AwsErrorKind::Throttled),
            Some("ThrottlingException"),
            "Rate exceeded",
            FailureReason::Throttled,
        ),
        access_denied(
            Some(AwsErrorKind::AccessDenied),
            Some("AccessDeniedException"),
            "not authorized to perform: ecr:BatchGetImage",
            FailureReason::AccessDenied,
        ),
        image_not_found_without_a_kind(
            None,
            Some("ImageNotFound"),
            "Requested image not found",
            FailureReason::ImageNotFound,
        ),
        missing_repository_was_not_pulled_through(
            Some(AwsErrorKind::NotFound),
            Some("RepositoryNotFoundException"),
            "repository does not exist",
            FailureReason::NotPulledThrough,
        ),
        timeout_is_other(
            Some(AwsErrorKind::Timeout),
            None,
            "timed out",
            FailureReason::Other,
        ),
    }

    const PINNED: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const MOVED: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn planned(input: &str) -> Vec<PlannedImage> {
        let rule =
            crate::domain::CacheRule::new("k8s", "registry.k8s.io").in_registry("123456789012");
        super::super::plan::plan(&[input.to_owned()], &[rule], Some("eu-west-1"))
    }

    struct PinCase {
        input: String,
        outcome: PullOutcome,
        status: ImageStatus,
        reason: Option<FailureReason>,
        verified: Option<bool>,
        /// Texts the error (or, without error, the note) must contain.
        says: Vec<&'static str>,
    }

    /// An image pinned by digest, as the list names it.
    fn pinned_input() -> String {
        format!("registry.k8s.io/pause:3.10@{PINNED}")
    }

    /// Recording `case.outcome` for `case.input` gives the status, reason, verification and
    /// texts the case expects, in the result, its JSON and (for a mismatch) its finding.
    fn check_pin(name: &str, case: PinCase) {
        let planned = planned(&case.input);
        let mut result = ImageResult::from_plan(&planned[0]);
        result.record(case.outcome, Duration::from_millis(5));
        assert_eq!(result.status, case.status, "{name}");
        assert_eq!(result.reason, case.reason, "{name}");
        assert_eq!(result.digest_verified, case.verified, "{name}");
        let text = result
            .error
            .clone()
            .or(result.note.clone())
            .unwrap_or_default();
        for needle in &case.says {
            assert!(
                text.contains(needle),
                "{name}: `{needle}` missing in {text}"
            );
        }
        let json = serde_json::to_value(&result).expect("serialises");
        match case.verified {
            Some(verified) => {
                assert_eq!(json["digest_verified"], verified, "{name}");
                assert_eq!(json["pinned_digest"], PINNED, "{name}");
            }
            None if case.input.contains('@') => {
                assert!(json.get("digest_verified").is_none(), "{name}");
            }
            None => {
                assert!(json.get("pinned_digest").is_none(), "{name}");
                assert!(json.get("digest_verified").is_none(), "{name}");
            }
        }
        if case.reason == Some(FailureReason::DigestMismatch) {
            assert_eq!(json["reason"], "digest-mismatch", "{name}");
            let findings = findings(&planned, &[result], Some("eu-west-1"));
            let finding = findings
                .iter()
                .find(|finding| finding.title.contains("could not be pre-warmed"))
                .unwrap_or_else(|| panic!("{name}: no failure finding in {findings:?}"));
            assert!(
                finding.message.contains(MOVED),
                "{name}: {}",
                finding.message
            );
            assert!(
                finding
                    .next_steps
                    .iter()
                    .any(|step| step.contains("update the pin")),
                "{name}: {:?}",
                finding.next_steps
            );
        }
    }

    named_cases! {
        /// Pinned digests are checked against the cached tag.
        mod pinned_digests_are_checked_against_the_cached_tag => check_pin;
        pin_matches_a_fresh_pull(PinCase {
            input: pinned_input(),
            outcome: PullOutcome::Warmed {
                digest: Some(PINNED.into()),
                note: None,
            },
            status: ImageStatus::Warmed,
            reason: None,
            verified: Some(true),
            says: vec![],
        }),
        pin_matches_the_tag_cached_before(PinCase {
            input: pinned_input(),
            outcome: PullOutcome::AlreadyCached {
                digest: Some(PINNED.into()),
                freshness: None,
            },
            status: ImageStatus::AlreadyCached,
            reason: None,
            verified: Some(true),
            says: vec![],
        }),
        upstream_tag_moved_before_the_first_pull(PinCase {
            input: pinned_input(),
            outcome: PullOutcome::Warmed {
                digest: Some(MOVED.into()),
                note: None,
            },
            status: ImageStatus::Failed,
            reason: Some(FailureReason::DigestMismatch),
            verified: Some(false),
            says: vec![
                PINNED,
                MOVED,
                "pulled from the upstream now",
                "`registry.k8s.io/pause:3.10` is",
            ],
        }),
        cached_tag_older_than_the_pin(PinCase {
            input: pinned_input(),
            outcome: PullOutcome::AlreadyCached {
                digest: Some(MOVED.into()),
                freshness: None,
            },
            status: ImageStatus::Failed,
            reason: Some(FailureReason::DigestMismatch),
            verified: Some(false),
            says: vec![
                PINNED,
                MOVED,
                "cached before this run",
                "at most once every 24 hours",
            ],
        }),
        ecr_returned_no_digest(PinCase {
            input: pinned_input(),
            outcome: PullOutcome::Warmed {
                digest: None,
                note: Some("lookup failed".into()),
            },
            status: ImageStatus::Warmed,
            reason: None,
            verified: Some(false),
            says: vec!["lookup failed; ", "the pin could not be checked"],
        }),
        failed_pull_of_a_pinned_tag_is_not_a_mismatch(PinCase {
            input: pinned_input(),
            outcome: PullOutcome::Failed(PullError {
                kind: Some(AwsErrorKind::Service),
                code: Some("UnableToGetUpstreamImageException".into()),
                text: "the image pause:3.10 was not found in the upstream registry".into(),
            }),
            status: ImageStatus::Failed,
            reason: Some(FailureReason::NotFoundUpstream),
            verified: None,
            says: vec!["not found"],
        }),
        a_tag_without_pin_is_not_checked(PinCase {
            input: "registry.k8s.io/pause:3.10".into(),
            outcome: PullOutcome::Warmed {
                digest: Some(MOVED.into()),
                note: None,
            },
            status: ImageStatus::Warmed,
            reason: None,
            verified: None,
            says: vec![],
        }),
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
                "images_planned",
                "images_stale",
                "images_refreshed"
            ]
        );
    }
}
