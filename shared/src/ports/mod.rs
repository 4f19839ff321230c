//! The ports: what the features ask of the outside world, as traits, so that no feature names
//! an SDK type or an HTTP library.
//!
//! | port | in a deployment | asked by |
//! |---|---|---|
//! | [`Registry`] | [`crate::aws::ecr::Ecr`] | every feature |
//! | [`CreationTemplates`] | [`EcrTemplates`] | templates, hardening |
//! | [`Scanning`] | [`EcrScanning`] | scanning, hardening |
//! | [`SecretStore`] | [`SecretsManager`] | credentials, rule validation |
//! | [`Iam`] | [`IamApi`] | the consumer doctor |
//! | [`Upstream`] | [`crate::upstream::UpstreamHttp`] | credentials (token expiry) |
//! | [`StateStore`] | [`DynamoState`] (only with `PTC_STATE_TABLE`) | alert repeats, flap limit |
//! | [`AlertSink`] | [`crate::aws::sns::AlertTopic`] | every function |
//! | [`HandOff`] | [`crate::aws::lambda::SelfInvoke`] | the harden sweep |
//!
//! The emulator-backed integration tests hold the AWS adapters to the contract; the in-memory
//! fakes of `fakes` (test builds) let unit tests drive deadlines, failures and hand-offs without
//! it. Methods return boxed futures so that a port can be a trait object (the fakes are);
//! features hold a port as [`RegistryPort`] and its siblings, which call an AWS adapter
//! directly (see [`Ports`]).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::aws::creation_templates::EcrTemplates;
use crate::aws::ecr::Ecr;
use crate::aws::iam::IamApi;
use crate::aws::registry_scanning::EcrScanning;
use crate::aws::secrets::SecretsManager;
use crate::aws::state::DynamoState;
use crate::config::TagMutabilitySetting;
use crate::deadline::Deadline;
use crate::domain::iam::{RoleFacts, SimulatedDecision};
use crate::domain::scanning::{EffectiveScanning, RegistryScanning};
use crate::domain::{
    CacheRule, CreationTemplate, PulledImage, Repository, SecretMetadata, SecretValue,
};
use crate::events::HardenRequest;
use crate::upstream::UpstreamHttp;

pub mod alerts;
pub mod error;
#[cfg(test)]
pub mod fakes;
pub mod upstream;

pub use alerts::{Alert, AlertDelivery, AlertSink};
pub use error::{AwsError, AwsErrorKind};
pub use upstream::{HttpFailure, Upstream, UpstreamRequest, UpstreamResponse};

/// The error code of a call on a repository that does not exist (deleted since it was listed).
pub const REPOSITORY_NOT_FOUND: &str = "RepositoryNotFoundException";
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

/// The ports of a run, shared by every invocation of a process. Cloning is cheap.
///
/// Each accessor hands out a port as a small `Copy` value that calls the AWS adapter directly
/// or, for ports given as trait objects (the fakes), through the trait. Over AWS no trait
/// object is built, so a function binary links exactly the calls it makes: a trait object's
/// vtable holds every method of its trait, which put every port's SDK operations (IAM and
/// Secrets Manager in the pre-warmer, say) into every zip.
#[derive(Clone, Debug)]
pub struct Ports {
    adapters: Adapters,
    /// The region the ports talk to, when one was resolved (for the commands findings print).
    region: Option<String>,
}

#[derive(Clone, Debug)]
enum Adapters {
    Aws(AwsAdapters),
    /// Any implementation, the in-memory fakes of the unit tests for one.
    Given(Given),
}

/// The AWS adapters over one set of clients ([`crate::aws::Clients::ports`]).
#[derive(Clone, Debug)]
pub struct AwsAdapters {
    pub ecr: Ecr,
    pub templates: EcrTemplates,
    pub scanning: EcrScanning,
    pub secrets: SecretsManager,
    pub iam: IamApi,
    /// `None` without `PTC_STATE_TABLE`: the features that need state are off.
    pub state: Option<DynamoState>,
}

/// Ports given as trait objects.
#[derive(Clone, Debug)]
pub struct Given {
    pub registry: Arc<dyn Registry>,
    pub templates: Arc<dyn CreationTemplates>,
    pub scanning: Arc<dyn Scanning>,
    pub secrets: Arc<dyn SecretStore>,
    pub iam: Arc<dyn Iam>,
    pub state: Option<Arc<dyn StateStore>>,
}

impl Ports {
    pub fn aws(adapters: AwsAdapters, region: Option<String>) -> Self {
        Ports {
            adapters: Adapters::Aws(adapters),
            region,
        }
    }

    pub fn given(ports: Given, region: Option<String>) -> Self {
        Ports {
            adapters: Adapters::Given(ports),
            region,
        }
    }

    pub fn registry(&self) -> RegistryPort<'_> {
        match &self.adapters {
            Adapters::Aws(aws) => RegistryPort::Adapter(&aws.ecr),
            Adapters::Given(given) => RegistryPort::Given(given.registry.as_ref()),
        }
    }

    pub fn creation_templates(&self) -> TemplatesPort<'_> {
        match &self.adapters {
            Adapters::Aws(aws) => TemplatesPort::Adapter(&aws.templates),
            Adapters::Given(given) => TemplatesPort::Given(given.templates.as_ref()),
        }
    }

    pub fn scanning(&self) -> ScanningPort<'_> {
        match &self.adapters {
            Adapters::Aws(aws) => ScanningPort::Adapter(&aws.scanning),
            Adapters::Given(given) => ScanningPort::Given(given.scanning.as_ref()),
        }
    }

    pub fn secret_store(&self) -> SecretStorePort<'_> {
        match &self.adapters {
            Adapters::Aws(aws) => SecretStorePort::Adapter(&aws.secrets),
            Adapters::Given(given) => SecretStorePort::Given(given.secrets.as_ref()),
        }
    }

    pub fn iam(&self) -> IamPort<'_> {
        match &self.adapters {
            Adapters::Aws(aws) => IamPort::Adapter(&aws.iam),
            Adapters::Given(given) => IamPort::Given(given.iam.as_ref()),
        }
    }

    /// The state store; `None` when no table is configured.
    pub fn state(&self) -> Option<StatePort<'_>> {
        match &self.adapters {
            Adapters::Aws(aws) => aws.state.as_ref().map(StatePort::Adapter),
            Adapters::Given(given) => given.state.as_deref().map(StatePort::Given),
        }
    }

    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

/// A port as a feature holds it: the adapter of a deployment, called directly, or a port given
/// as a trait object. One method per method of the trait, with the same signature.
macro_rules! port_dispatch {
    (
        $(#[$doc:meta])*
        $port:ident<$p:lifetime>: $trait:ident over $aws:ty {
            $(
                $(#[$method_doc:meta])*
                fn $method:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;
            )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub enum $port<$p> {
            Adapter(&$p $aws),
            Given(&$p dyn $trait),
        }

        impl<$p> From<&$p $aws> for $port<$p> {
            fn from(adapter: &$p $aws) -> Self {
                $port::Adapter(adapter)
            }
        }

        impl<$p> From<&$p dyn $trait> for $port<$p> {
            fn from(given: &$p dyn $trait) -> Self {
                $port::Given(given)
            }
        }

        impl<$p> $port<$p> {
            $(
                $(#[$method_doc])*
                pub fn $method(self, $($arg: $ty),*) -> $ret {
                    match self {
                        $port::Adapter(adapter) => <$aws as $trait>::$method(adapter, $($arg),*),
                        $port::Given(given) => given.$method($($arg),*),
                    }
                }
            )*
        }
    };
}

port_dispatch! {
    /// The [`Registry`] port.
    RegistryPort<'p>: Registry over Ecr {
        fn cache_rules(prefixes: Option<&'p [String]>) -> Call<'p, Vec<CacheRule>>;
        fn validate_cache_rule(prefix: &'p str) -> Call<'p, RuleValidation>;
        fn repositories_page(
            next_token: Option<String>,
            page_size: i32,
        ) -> Call<'p, RepositoryPage>;
        fn repository(name: &'p str) -> Call<'p, Option<Repository>>;
        fn pull_by_tag(
            repository: &'p str,
            tag: &'p str,
        ) -> BoxFuture<'p, Result<PulledImage, PullFailure>>;
        fn cached_image(repository: &'p str, tag: &'p str) -> Call<'p, Option<CachedImage>>;
        fn lifecycle_policy(repository: &'p str) -> Call<'p, Option<String>>;
        fn put_lifecycle_policy(repository: &'p str, policy_text: &'p str) -> Call<'p, ()>;
        fn repository_policy(repository: &'p str) -> Call<'p, Option<String>>;
        fn set_repository_policy(repository: &'p str, policy_text: &'p str) -> Call<'p, ()>;
        fn registry_policy() -> Call<'p, RegistryPolicyText>;
        fn tags(repository_arn: &'p str) -> Call<'p, BTreeMap<String, String>>;
        fn tag(repository_arn: &'p str, tags: &'p BTreeMap<String, String>) -> Call<'p, ()>;
        fn put_scan_on_push(repository: &'p str, scan_on_push: bool) -> Call<'p, ()>;
        fn put_tag_mutability(
            repository: &'p str,
            setting: &'p TagMutabilitySetting,
        ) -> Call<'p, ()>;
    }
}

port_dispatch! {
    /// The [`CreationTemplates`] port.
    TemplatesPort<'p>: CreationTemplates over EcrTemplates {
        fn all() -> Call<'p, Vec<CreationTemplate>>;
        fn create(template: &'p CreationTemplate) -> Call<'p, ()>;
        fn update(template: &'p CreationTemplate) -> Call<'p, ()>;
    }
}

port_dispatch! {
    /// The [`Scanning`] port.
    ScanningPort<'p>: Scanning over EcrScanning {
        fn registry_configuration() -> Call<'p, RegistryScanning>;
        fn put_registry_configuration(configuration: &'p RegistryScanning) -> Call<'p, ()>;
        fn repositories(names: &'p [String]) -> Call<'p, ScanningBatch>;
    }
}

port_dispatch! {
    /// The [`SecretStore`] port.
    SecretStorePort<'p>: SecretStore over SecretsManager {
        fn credential_secrets() -> Call<'p, Vec<SecretMetadata>>;
        fn describe(secret_id: &'p str) -> Call<'p, Option<SecretMetadata>>;
        fn value(secret_id: &'p str) -> Call<'p, SecretValue>;
        fn tag(secret_id: &'p str, key: &'p str, value: &'p str) -> Call<'p, ()>;
    }
}

port_dispatch! {
    /// The [`Iam`] port.
    IamPort<'p>: Iam over IamApi {
        fn simulate(
            principal_arn: &'p str,
            actions: &'p [&'p str],
            resources: &'p [String],
        ) -> Call<'p, Vec<SimulatedDecision>>;
        fn role(role_arn: &'p str) -> Call<'p, Option<RoleFacts>>;
    }
}

port_dispatch! {
    /// The [`Upstream`] port. Only the runs that ask an upstream link the HTTPS client.
    UpstreamPort<'p>: Upstream over UpstreamHttp {
        fn send(
            request: UpstreamRequest,
            deadline: Deadline,
        ) -> BoxFuture<'p, Result<UpstreamResponse, HttpFailure>>;
    }
}

port_dispatch! {
    /// The [`StateStore`] port. Only the runs that remember link the DynamoDB operations.
    StatePort<'p>: StateStore over DynamoState {
        fn claim_alert(claim: &'p AlertClaim) -> Call<'p, AlertDecision>;
        fn count_restoration(claim: &'p RestorationClaim) -> Call<'p, RestorationDecision>;
        fn accept_value(
            repository: &'p str,
            setting: &'p str,
            accepted: &'p AcceptedValue,
        ) -> Call<'p, ()>;
        fn accepted_values(repository: &'p str) -> Call<'p, BTreeMap<String, AcceptedValue>>;
        fn restorations_at_limit(
            keys: &'p [String],
            max: u32,
            now: DateTime<Utc>,
        ) -> Call<'p, Vec<String>>;
    }
}
