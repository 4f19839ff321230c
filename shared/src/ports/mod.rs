//! The ports: what the features ask of the outside world, as traits, so that no feature names
//! an SDK type or an HTTP library.
//!
//! | port | in a deployment (`aws/`, `upstream/`) | asked by |
//! |---|---|---|
//! | [`Registry`] | `Ecr` | every feature |
//! | [`CreationTemplates`] | `EcrTemplates` | templates, hardening |
//! | [`Scanning`] | `EcrScanning` | scanning, hardening |
//! | [`SecretStore`] | `SecretsManager` | credentials, rule validation |
//! | [`Iam`] | `IamApi` | the consumer doctor |
//! | [`Upstream`] | `UpstreamHttp` | credentials (token expiry, Docker Hub headroom), pre-warm (staleness) |
//! | [`StateStore`] | `DynamoState` (only with `PTC_STATE_TABLE`) | alert repeats, flap limit |
//! | [`AlertSink`] | `AlertTopic` (SNS) | every function |
//! | [`HandOff`] | `SelfInvoke` (Lambda) | the harden sweep |
//!
//! Ports name no adapter; adapters implement them and know no feature. A binary's composition
//! root wires the adapters once into a [`PortSet`], which every feature is generic over. The
//! emulator-backed integration tests hold the AWS adapters to the contract; the in-memory fakes
//! of `fakes` (test builds) let unit tests drive deadlines, failures and hand-offs without it,
//! as a [`DynPorts`]. Methods return boxed futures so that a port can be a trait object.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::config::TagMutabilitySetting;
use crate::domain::iam::{RoleFacts, SimulatedDecision};
use crate::domain::scanning::{EffectiveScanning, RegistryScanning};
use crate::domain::{
    CacheRule, CreationTemplate, PulledImage, Repository, SecretMetadata, SecretValue,
};
use crate::events::HardenRequest;

pub mod alerts;
pub mod error;
#[cfg(test)]
pub mod fakes;
pub mod images;
pub mod upstream;

pub use alerts::{Alert, AlertDelivery, AlertSink};
pub use error::{AwsError, AwsErrorKind};
pub use images::{ImagePage, ImageStorage, StoredImage, MAX_IMAGES_PER_PAGE};
pub use upstream::{HttpFailure, Upstream, UpstreamRequest, UpstreamResponse};

/// The error code of a call on a repository that does not exist (deleted since it was listed).
pub const REPOSITORY_NOT_FOUND: &str = "RepositoryNotFoundException";
/// Largest page `ListPullTimeUpdateExclusions` serves (`maxResults` 1 to 1000).
pub const MAX_PULL_TIME_EXCLUSIONS_PER_PAGE: i32 = 1000;
/// Pull-time update exclusions ECR allows per registry.
pub const MAX_PULL_TIME_EXCLUSIONS: usize = 100;
/// `RegisterPullTimeUpdateExclusion` of a principal already excluded.
pub const EXCLUSION_ALREADY_EXISTS: &str = "ExclusionAlreadyExistsException";
/// `RegisterPullTimeUpdateExclusion` past [`MAX_PULL_TIME_EXCLUSIONS`].
pub const LIMIT_EXCEEDED: &str = "LimitExceededException";
/// Largest page `DescribeRepositories` and `DescribePullThroughCacheRules` accept.
pub const MAX_PAGE_SIZE: i32 = 1000;
/// Repository names one `BatchGetRepositoryScanningConfiguration` takes at most (botocore ecr
/// model, `ScanningConfigurationRepositoryNameList`: 1 to 25).
pub const MAX_NAMES_PER_BATCH: usize = 25;

/// A boxed future of a port call.
pub type Call<'a, T> = BoxFuture<'a, Result<T, AwsError>>;

/// What `ValidatePullThroughCacheRule` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleValidation {
    pub is_valid: bool,
    /// ECR's free-text reason (undocumented strings), kept verbatim.
    pub failure: Option<String>,
}

/// What `GetRegistryPolicy` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPolicyText {
    pub registry_id: Option<String>,
    /// `None`: the registry has no permissions policy.
    pub policy_text: Option<String>,
}

/// One page of repositories and where the next starts.
#[derive(Debug, Clone)]
pub struct RepositoryPage {
    pub repositories: Vec<Repository>,
    pub next_token: Option<String>,
}

/// Why a pull by tag returned no image.
#[derive(Debug)]
pub enum PullFailure {
    /// The call failed (`UnableToGetUpstreamImageException`, throttling, access denied…).
    Call(AwsError),
    /// The call succeeded but ECR listed the image as a failure (`ImageNotFound`…).
    Image { code: String, reason: String },
}

/// An image found in a cache repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedImage {
    pub digest: Option<String>,
    pub media_type: Option<String>,
    pub pushed_at: Option<DateTime<Utc>>,
}

/// What one batch read of repositories' effective scanning answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanningBatch {
    pub found: BTreeMap<String, EffectiveScanning>,
    /// Names ECR listed as failures, with its failure code (`RepositoryNotFoundException`).
    pub failures: BTreeMap<String, String>,
}

/// The private registry: pull-through cache rules, repositories and their settings, pulls.
/// A repository that does not exist is an error with code `RepositoryNotFoundException` on the
/// settings calls; a setting that is absent is `None`, not an error.
pub trait Registry: Send + Sync + Debug {
    /// Every pull-through cache rule, all pages; `prefixes` narrows to those prefixes.
    fn cache_rules<'a>(&'a self, prefixes: Option<&'a [String]>) -> Call<'a, Vec<CacheRule>>;
    fn validate_cache_rule<'a>(&'a self, prefix: &'a str) -> Call<'a, RuleValidation>;
    /// One page of repositories: a sweep can hand off and resume at `next_token`.
    fn repositories_page(
        &self,
        next_token: Option<String>,
        page_size: i32,
    ) -> Call<'_, RepositoryPage>;
    /// One repository; `None` when it does not exist (deleted since it was listed).
    fn repository<'a>(&'a self, name: &'a str) -> Call<'a, Option<Repository>>;
    /// Pulls the manifest of `repository:tag`: under a cache rule, ECR fetches and caches it.
    fn pull_by_tag<'a>(
        &'a self,
        repository: &'a str,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<PulledImage, PullFailure>>;
    /// The image `repository:tag` if the cache holds it; never reaches the upstream.
    fn cached_image<'a>(
        &'a self,
        repository: &'a str,
        tag: &'a str,
    ) -> Call<'a, Option<CachedImage>>;
    fn lifecycle_policy<'a>(&'a self, repository: &'a str) -> Call<'a, Option<String>>;
    fn put_lifecycle_policy<'a>(
        &'a self,
        repository: &'a str,
        policy_text: &'a str,
    ) -> Call<'a, ()>;
    fn repository_policy<'a>(&'a self, repository: &'a str) -> Call<'a, Option<String>>;
    fn set_repository_policy<'a>(
        &'a self,
        repository: &'a str,
        policy_text: &'a str,
    ) -> Call<'a, ()>;
    fn registry_policy(&self) -> Call<'_, RegistryPolicyText>;
    fn tags<'a>(&'a self, repository_arn: &'a str) -> Call<'a, BTreeMap<String, String>>;
    fn tag<'a>(
        &'a self,
        repository_arn: &'a str,
        tags: &'a BTreeMap<String, String>,
    ) -> Call<'a, ()>;
    fn put_scan_on_push<'a>(&'a self, repository: &'a str, scan_on_push: bool) -> Call<'a, ()>;
    fn put_tag_mutability<'a>(
        &'a self,
        repository: &'a str,
        setting: &'a TagMutabilitySetting,
    ) -> Call<'a, ()>;
    /// One page of a repository's images in `storage` (`DescribeImages`, the largest page).
    /// A repository that does not exist is an error with code [`REPOSITORY_NOT_FOUND`].
    fn images_page<'a>(
        &'a self,
        repository: &'a str,
        storage: ImageStorage,
        next_token: Option<String>,
    ) -> Call<'a, ImagePage>;
    /// Deletes a repository and its images (`DeleteRepository` with `force`). A repository that
    /// does not exist is `Ok(false)`: gone is done.
    fn delete_repository<'a>(&'a self, repository: &'a str) -> Call<'a, bool>;
    /// Deletes one tag of a cache repository (`BatchDeleteImage` by tag), so that the next pull
    /// fetches the upstream's current image. A tag already gone is deleted.
    fn delete_tag<'a>(&'a self, repository: &'a str, tag: &'a str) -> Call<'a, ()>;
    /// Every principal ARN the registry excludes from pull-time updates, all pages.
    fn pull_time_exclusions(&self) -> Call<'_, Vec<String>>;
    /// Excludes `principal_arn` (an IAM role) from pull-time updates. One already excluded is an
    /// error with code [`EXCLUSION_ALREADY_EXISTS`]; past [`MAX_PULL_TIME_EXCLUSIONS`], one with
    /// [`LIMIT_EXCEEDED`].
    fn register_pull_time_exclusion<'a>(&'a self, principal_arn: &'a str) -> Call<'a, ()>;
}

/// The registry's repository creation templates.
pub trait CreationTemplates: Send + Sync + Debug {
    /// Every template, foreign ones and `ROOT` included.
    fn all(&self) -> Call<'_, Vec<CreationTemplate>>;
    fn create<'a>(&'a self, template: &'a CreationTemplate) -> Call<'a, ()>;
    fn update<'a>(&'a self, template: &'a CreationTemplate) -> Call<'a, ()>;
}

/// The registry scanning configuration and the effective scanning of repositories.
pub trait Scanning: Send + Sync + Debug {
    fn registry_configuration(&self) -> Call<'_, RegistryScanning>;
    /// Replaces the whole configuration.
    fn put_registry_configuration<'a>(
        &'a self,
        configuration: &'a RegistryScanning,
    ) -> Call<'a, ()>;
    /// The effective scanning of at most 25 repositories.
    fn repositories<'a>(&'a self, names: &'a [String]) -> Call<'a, ScanningBatch>;
}

/// The credential secrets of the cache rules. A value comes back as a [`SecretValue`], which
/// never prints.
pub trait SecretStore: Send + Sync + Debug {
    /// Every secret named `ecr-pullthroughcache/…`, those scheduled for deletion included.
    fn credential_secrets(&self) -> Call<'_, Vec<SecretMetadata>>;
    /// A secret's metadata by name or ARN; `None` when it does not exist.
    fn describe<'a>(&'a self, secret_id: &'a str) -> Call<'a, Option<SecretMetadata>>;
    fn value<'a>(&'a self, secret_id: &'a str) -> Call<'a, SecretValue>;
    /// Sets one tag (a discovered expiry date).
    fn tag<'a>(&'a self, secret_id: &'a str, key: &'a str, value: &'a str) -> Call<'a, ()>;
}

/// IAM of the account, read only: policy simulation and role lookups.
pub trait Iam: Send + Sync + Debug {
    fn simulate<'a>(
        &'a self,
        principal_arn: &'a str,
        actions: &'a [&'a str],
        resources: &'a [String],
    ) -> Call<'a, Vec<SimulatedDecision>>;
    /// `None` when the role does not exist.
    fn role<'a>(&'a self, role_arn: &'a str) -> Call<'a, Option<RoleFacts>>;
}

/// Starts a new invocation that continues a sweep. Injected, so the sweep does not depend on
/// running in Lambda (the CLI and tests continue with the reported cursor themselves).
pub trait HandOff: Send + Sync {
    /// Queues `request`; answers where it went (for the report).
    fn hand_off<'a>(
        &'a self,
        request: &'a HardenRequest,
    ) -> BoxFuture<'a, Result<String, AwsError>>;
}

/// An alert about to go out, as the state store sees it: its key, how severe it is, and how
/// long a sent one holds back the next ones of the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertClaim {
    /// `alert#<thread id>#<check>`: the thread names the resource.
    pub key: String,
    /// The alert's severity; a more severe alert than the one sent is not held back.
    pub severity: crate::domain::Severity,
    pub now: DateTime<Utc>,
    /// When an alert sent now stops holding back the next ones (and its record may go).
    pub window_ends_at: DateTime<Utc>,
}

/// What the state store decided about an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertDecision {
    /// This invocation sends it; `held_back` alerts of the key were held back since the last
    /// one sent.
    Send { held_back: u64 },
    /// One of the key was sent at `sent_at`, within the window: this one is held back (and
    /// counted, so the next one sent says so).
    Hold { sent_at: DateTime<Utc> },
}

/// A restoration about to be written: which setting of which repository, and the flap limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorationClaim {
    /// `restorations#<repository>#<setting>`.
    pub key: String,
    pub now: DateTime<Utc>,
    /// When a window that starts now ends (and its record may go).
    pub window_ends_at: DateTime<Utc>,
    /// Restorations allowed within one window.
    pub max_restorations: u32,
}

/// What the state store decided about a restoration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorationDecision {
    /// Restore: this is the `n`-th restoration of the window.
    Restore { n: u32 },
    /// The window's restorations are used up and this is the first change refused in it: not
    /// restored, and the one critical alert of the window.
    LimitReached { window_ends_at: DateTime<Utc> },
    /// Refused again within the same window (already alerted).
    Refused,
}

/// A setting's value another writer (in `hardening.drift.ignore_callers`) set, accepted instead
/// of restored until the setting changes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedValue {
    /// The value as the plan sees it, canonical JSON text.
    pub value: String,
    /// The `ignore_callers` entry that set it.
    pub caller: String,
    pub accepted_at: DateTime<Utc>,
}

/// What the product remembers across invocations: a DynamoDB table in a deployment. Every
/// write is conditional, so of two invocations racing on one key exactly one wins. Records
/// carry `expires_at`; an expired record counts as absent whether or not it is deleted yet
/// (DynamoDB's TTL deletes lazily).
pub trait StateStore: Send + Sync + Debug {
    /// Decides whether an alert goes out, and records the decision.
    fn claim_alert<'a>(&'a self, claim: &'a AlertClaim) -> Call<'a, AlertDecision>;
    /// Counts a restoration against the flap limit, and records the decision.
    fn count_restoration<'a>(
        &'a self,
        claim: &'a RestorationClaim,
    ) -> Call<'a, RestorationDecision>;
    /// Remembers that `setting` of `repository` is left as `accepted` says. It neither restores
    /// nor alerts, so the last writer wins; it has no `expires_at`, since an acceptance lasts
    /// until the setting changes again.
    fn accept_value<'a>(
        &'a self,
        repository: &'a str,
        setting: &'a str,
        accepted: &'a AcceptedValue,
    ) -> Call<'a, ()>;
    /// The accepted values of `repository`'s settings, by setting (one read).
    fn accepted_values<'a>(
        &'a self,
        repository: &'a str,
    ) -> Call<'a, BTreeMap<String, AcceptedValue>>;
    /// Of the restoration keys `keys` (at most [`MAX_KEYS_PER_READ`]), those whose window is live
    /// at `now` and already counts `max` restorations or more: what a sweep must leave alone. One
    /// read, no write: a sweep respects the limit without counting.
    fn restorations_at_limit<'a>(
        &'a self,
        keys: &'a [String],
        max: u32,
        now: DateTime<Utc>,
    ) -> Call<'a, Vec<String>>;
}

/// DynamoDB's `BatchGetItem` limit on the keys of one read.
pub const MAX_KEYS_PER_READ: usize = 100;

/// The ports of a run, wired once per process by its composition root: the AWS adapters in a
/// function binary and in the CLI (`AwsPorts`), trait objects over in-memory fakes
/// in unit tests ([`DynPorts`]).
///
/// Features are generic over the bundle, so a function binary calls its adapters directly and
/// links exactly the calls it makes: a trait object's vtable holds every method of its trait,
/// which would put every port's SDK operations (IAM and Secrets Manager in the pre-warmer, say)
/// and the HTTPS client into every zip.
pub trait PortSet: Send + Sync + Debug {
    type Registry: Registry + ?Sized;
    type Templates: CreationTemplates + ?Sized;
    type Scanning: Scanning + ?Sized;
    type Secrets: SecretStore + ?Sized;
    type Iam: Iam + ?Sized;
    type State: StateStore + ?Sized;
    type Upstream: Upstream + ?Sized;

    fn registry(&self) -> &Self::Registry;
    fn creation_templates(&self) -> &Self::Templates;
    fn scanning(&self) -> &Self::Scanning;
    fn secret_store(&self) -> &Self::Secrets;
    fn iam(&self) -> &Self::Iam;
    /// The state store; `None` when no table is configured.
    fn state(&self) -> Option<&Self::State>;
    fn upstream(&self) -> &Self::Upstream;
    /// The region the ports talk to, when one was resolved (for the commands findings print).
    fn region(&self) -> Option<&str>;
}

/// Ports given as trait objects: any implementation, the in-memory fakes of the unit tests for
/// one. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct DynPorts {
    pub registry: Arc<dyn Registry>,
    pub templates: Arc<dyn CreationTemplates>,
    pub scanning: Arc<dyn Scanning>,
    pub secrets: Arc<dyn SecretStore>,
    pub iam: Arc<dyn Iam>,
    pub state: Option<Arc<dyn StateStore>>,
    pub upstream: Arc<dyn Upstream>,
    pub region: Option<String>,
}

impl PortSet for DynPorts {
    type Registry = dyn Registry;
    type Templates = dyn CreationTemplates;
    type Scanning = dyn Scanning;
    type Secrets = dyn SecretStore;
    type Iam = dyn Iam;
    type State = dyn StateStore;
    type Upstream = dyn Upstream;

    fn registry(&self) -> &Self::Registry {
        self.registry.as_ref()
    }

    fn creation_templates(&self) -> &Self::Templates {
        self.templates.as_ref()
    }

    fn scanning(&self) -> &Self::Scanning {
        self.scanning.as_ref()
    }

    fn secret_store(&self) -> &Self::Secrets {
        self.secrets.as_ref()
    }

    fn iam(&self) -> &Self::Iam {
        self.iam.as_ref()
    }

    fn state(&self) -> Option<&Self::State> {
        self.state.as_deref()
    }

    fn upstream(&self) -> &Self::Upstream {
        self.upstream.as_ref()
    }

    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}
