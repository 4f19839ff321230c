//! In-memory ports for unit tests: an ECR registry (rules, repositories and their settings,
//! templates, scanning, pulls through the cache), a secret store, IAM and an upstream API.
//! The registry and the secret store answer from plain state the test sets up, record the
//! calls they answered, and fail the operations a test names with the error code it names, so deadlines, failures and
//! partial results can be tested without the emulator. The emulator stays the judge of what AWS
//! accepts: these fakes accept everything they are given.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;

use super::{
    AlertClaim, AlertDecision, CachedImage, Call, CreationTemplates, DynPorts, Iam, PullFailure,
    Registry, RegistryPolicyText, RepositoryPage, RestorationClaim, RestorationDecision,
    RuleValidation, Scanning, ScanningBatch, SecretStore, StateStore, Upstream,
    REPOSITORY_NOT_FOUND,
};
use super::{ImagePage, ImageStorage, StoredImage, MAX_IMAGES_PER_PAGE};
use crate::config::TagMutabilitySetting;
use crate::deadline::Deadline;
use crate::domain::iam::{RoleFacts, SimulatedDecision};
use crate::domain::scanning::{EffectiveScanning, RegistryScanning};
use crate::domain::{
    rule_for_repository, CacheRule, CreationTemplate, PulledImage, Repository, SecretMetadata,
    SecretValue,
};
use crate::ports::AwsError;
use crate::ports::{HttpFailure, UpstreamRequest, UpstreamResponse};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Operations told to fail: `(operation, resource)` → error code; a `None` resource fails the
/// operation on every resource.
#[derive(Debug, Default)]
struct Failures(Vec<(&'static str, Option<String>, String)>);

impl Failures {
    fn check(&self, operation: &'static str, resource: Option<&str>) -> Result<(), AwsError> {
        let failing = self.0.iter().find(|(failing, on, _)| {
            *failing == operation && on.as_deref().is_none_or(|on| Some(on) == resource)
        });
        match failing {
            Some((_, _, code)) => Err(AwsError::from_code(operation, resource, code)),
            None => Ok(()),
        }
    }
}

/// A repository of the fake registry and what it holds.
#[derive(Debug, Clone)]
pub struct FakeRepository {
    pub repository: Repository,
    pub lifecycle_policy: Option<String>,
    pub policy: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Tag → digest.
    pub images: BTreeMap<String, String>,
}

impl FakeRepository {
    /// As a first pull creates it: ECR's defaults, no policy, no tag, no image.
    pub fn created(name: &str) -> Self {
        FakeRepository {
            repository: repository(name),
            lifecycle_policy: None,
            policy: None,
            tags: BTreeMap::new(),
            images: BTreeMap::new(),
        }
    }
}

/// A repository's description with ECR's defaults.
pub fn repository(name: &str) -> Repository {
    Repository {
        name: name.to_owned(),
        arn: format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"),
        uri: format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"),
        registry_id: ACCOUNT.to_owned(),
        tag_mutability: "MUTABLE".to_owned(),
        tag_mutability_exclusions: Vec::new(),
        scan_on_push: false,
        encryption_type: "AES256".to_owned(),
        kms_key: None,
        created_at: None,
    }
}

#[derive(Debug, Default)]
struct EcrState {
    rules: Vec<CacheRule>,
    repositories: BTreeMap<String, FakeRepository>,
    registry_policy: Option<String>,
    templates: Vec<CreationTemplate>,
    scanning: Option<RegistryScanning>,
    /// What the upstreams hold: (repository in the cache, tag) → digest.
    upstream_images: BTreeMap<(String, String), String>,
    failures: Failures,
    calls: Vec<String>,
    /// Another writer: once the `n`th call of the operation is answered, the registry scanning
    /// configuration becomes theirs.
    scanning_writers: Vec<(&'static str, usize, RegistryScanning)>,
    /// What `DescribeImages` lists per repository (apart from `images`, the tags pulls find).
    stored_images: BTreeMap<String, Vec<StoredImage>>,
    /// The registry's pull-time update exclusions (principal ARNs).
    pull_time_exclusions: Vec<String>,
}

/// The private registry, its creation templates and its scanning, in memory.
#[derive(Debug, Default)]
pub struct FakeEcr {
    state: Mutex<EcrState>,
}

impl FakeEcr {
    pub fn with_rule(self, rule: CacheRule) -> Self {
        lock(&self.state).rules.push(rule);
        self
    }

    /// A repository with ECR's defaults.
    pub fn with_repository(self, name: &str) -> Self {
        lock(&self.state)
            .repositories
            .insert(name.to_owned(), FakeRepository::created(name));
        self
    }

    /// A repository with ECR's defaults and the tags its owners gave it.
    pub fn with_tagged_repository(self, name: &str, tags: &[(&str, &str)]) -> Self {
        let mut repository = FakeRepository::created(name);
        repository.tags = tags
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        lock(&self.state)
            .repositories
            .insert(name.to_owned(), repository);
        self
    }

    /// The upstream tag now names `digest` (a push upstream after the cache pulled it).
    pub fn move_upstream_tag(&self, repository: &str, tag: &str, digest: &str) {
        lock(&self.state)
            .upstream_images
            .insert((repository.to_owned(), tag.to_owned()), digest.to_owned());
    }

    /// An image the upstream of `repository` holds: a pull by tag caches it.
    /// A repository holding `images`, as `DescribeImages` lists them.
    pub fn with_stored_images(self, name: &str, images: Vec<StoredImage>) -> Self {
        let mut state = lock(&self.state);
        state
            .repositories
            .entry(name.to_owned())
            .or_insert_with(|| FakeRepository::created(name));
        state.stored_images.insert(name.to_owned(), images);
        drop(state);
        self
    }

    pub fn with_upstream_image(self, repository: &str, tag: &str, digest: &str) -> Self {
        lock(&self.state)
            .upstream_images
            .insert((repository.to_owned(), tag.to_owned()), digest.to_owned());
        self
    }

    /// A principal the registry already excludes from pull-time updates.
    pub fn with_pull_time_exclusion(self, principal_arn: &str) -> Self {
        lock(&self.state)
            .pull_time_exclusions
            .push(principal_arn.to_owned());
        self
    }

    /// The registry's pull-time update exclusions.
    pub fn pull_time_exclusions(&self) -> Vec<String> {
        lock(&self.state).pull_time_exclusions.clone()
    }

    /// The registry scanning configuration the registry starts with.
    pub fn with_registry_scanning(self, configuration: RegistryScanning) -> Self {
        lock(&self.state).scanning = Some(configuration);
        self
    }

    /// Another writer puts `configuration` as the registry scanning configuration right after
    /// the `nth` call (1-based) of `operation` is answered.
    pub fn with_scanning_writer(
        self,
        operation: &'static str,
        nth: usize,
        configuration: RegistryScanning,
    ) -> Self {
        lock(&self.state)
            .scanning_writers
            .push((operation, nth, configuration));
        self
    }

    /// Runs the other writers due after this call of `operation`.
    fn other_writers(&self, operation: &'static str) {
        let mut state = lock(&self.state);
        let n_calls = state
            .calls
            .iter()
            .filter(|call| call.as_str() == operation)
            .count();
        let due: Vec<RegistryScanning> = state
            .scanning_writers
            .iter()
            .filter(|(when, nth, _)| *when == operation && *nth == n_calls)
            .map(|(_, _, configuration)| configuration.clone())
            .collect();
        for configuration in due {
            state.scanning = Some(configuration);
        }
    }

    /// `operation` (`ecr:PutLifecyclePolicy`) fails with `code` on `resource`, or everywhere.
    pub fn failing(self, operation: &'static str, resource: Option<&str>, code: &str) -> Self {
        lock(&self.state).failures.0.push((
            operation,
            resource.map(str::to_owned),
            code.to_owned(),
        ));
        self
    }

    /// Calls answered so far, `operation resource`.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    pub fn stored(&self, name: &str) -> Option<FakeRepository> {
        lock(&self.state).repositories.get(name).cloned()
    }

    /// Records the call, then fails it if told to.
    fn call(
        &self,
        operation: &'static str,
        resource: Option<&str>,
    ) -> Result<MutexGuard<'_, EcrState>, AwsError> {
        let mut state = lock(&self.state);
        state.calls.push(match resource {
            Some(resource) => format!("{operation} {resource}"),
            None => operation.to_owned(),
        });
        state.failures.check(operation, resource)?;
        Ok(state)
    }

    /// The repository, or `RepositoryNotFoundException` as ECR answers a settings call on it.
    fn with_stored<T>(
        &self,
        operation: &'static str,
        name: &str,
        read: impl FnOnce(&mut FakeRepository) -> T,
    ) -> Result<T, AwsError> {
        let mut state = self.call(operation, Some(name))?;
        match state.repositories.get_mut(name) {
            Some(repository) => Ok(read(repository)),
            None => Err(AwsError::from_code(
                operation,
                Some(name),
                REPOSITORY_NOT_FOUND,
            )),
        }
    }
}

/// The repository name an ECR repository ARN ends with.
fn name_of(arn: &str) -> &str {
    arn.split_once(":repository/").map_or(arn, |(_, name)| name)
}

impl Registry for FakeEcr {
    fn cache_rules<'a>(&'a self, prefixes: Option<&'a [String]>) -> Call<'a, Vec<CacheRule>> {
        let answer = self
            .call("ecr:DescribePullThroughCacheRules", None)
            .map(|state| {
                state
                    .rules
                    .iter()
                    .filter(|rule| prefixes.is_none_or(|wanted| wanted.contains(&rule.prefix)))
                    .cloned()
                    .collect()
            });
        Box::pin(async move { answer })
    }

    fn validate_cache_rule<'a>(&'a self, prefix: &'a str) -> Call<'a, RuleValidation> {
        let answer = self
            .call("ecr:ValidatePullThroughCacheRule", Some(prefix))
            .map(|_| RuleValidation {
                is_valid: true,
                failure: None,
            });
        Box::pin(async move { answer })
    }

    fn repositories_page(
        &self,
        next_token: Option<String>,
        page_size: i32,
    ) -> Call<'_, RepositoryPage> {
        let answer = self.call("ecr:DescribeRepositories", None).map(|state| {
            let after = next_token.unwrap_or_default();
            let mut names = state
                .repositories
                .keys()
                .filter(|name| name.as_str() > after.as_str());
            let page: Vec<Repository> = names
                .by_ref()
                .take(usize::try_from(page_size.max(1)).unwrap_or(1))
                .map(|name| state.repositories[name].repository.clone())
                .collect();
            let more = names.next().is_some();
            RepositoryPage {
                next_token: more
                    .then(|| page.last().map(|repository| repository.name.clone()))
                    .flatten(),
                repositories: page,
            }
        });
        Box::pin(async move { answer })
    }

    fn repository<'a>(&'a self, name: &'a str) -> Call<'a, Option<Repository>> {
        let answer = self
            .call("ecr:DescribeRepositories", Some(name))
            .map(|state| {
                state
                    .repositories
                    .get(name)
                    .map(|stored| stored.repository.clone())
            });
        Box::pin(async move { answer })
    }

    fn pull_by_tag<'a>(
        &'a self,
        repository: &'a str,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<PulledImage, PullFailure>> {
        let answer = self
            .call("ecr:BatchGetImage", Some(repository))
            .map_err(PullFailure::Call)
            .and_then(|mut state| {
                let pulled = |digest: &str| PulledImage {
                    repository_name: repository.to_owned(),
                    tag: tag.to_owned(),
                    digest: digest.to_owned(),
                    media_type: None,
                };
                if let Some(digest) = state
                    .repositories
                    .get(repository)
                    .and_then(|stored| stored.images.get(tag))
                {
                    return Ok(pulled(digest));
                }
                let upstream = state
                    .upstream_images
                    .get(&(repository.to_owned(), tag.to_owned()))
                    .cloned();
                match upstream {
                    Some(digest) if rule_for_repository(&state.rules, repository).is_some() => {
                        state
                            .repositories
                            .entry(repository.to_owned())
                            .or_insert_with(|| FakeRepository::created(repository))
                            .images
                            .insert(tag.to_owned(), digest.clone());
                        Ok(pulled(&digest))
                    }
                    _ => Err(PullFailure::Image {
                        code: "ImageNotFound".to_owned(),
                        reason: "Requested image not found".to_owned(),
                    }),
                }
            });
        Box::pin(async move { answer })
    }

    fn cached_image<'a>(
        &'a self,
        repository: &'a str,
        tag: &'a str,
    ) -> Call<'a, Option<CachedImage>> {
        let answer = self
            .call("ecr:DescribeImages", Some(repository))
            .map(|state| {
                state
                    .repositories
                    .get(repository)
                    .and_then(|stored| stored.images.get(tag))
                    .map(|digest| CachedImage {
                        digest: Some(digest.clone()),
                        media_type: None,
                        pushed_at: None,
                    })
            });
        Box::pin(async move { answer })
    }

    fn lifecycle_policy<'a>(&'a self, repository: &'a str) -> Call<'a, Option<String>> {
        let answer = self.with_stored("ecr:GetLifecyclePolicy", repository, |stored| {
            stored.lifecycle_policy.clone()
        });
        Box::pin(async move { answer })
    }

    fn put_lifecycle_policy<'a>(
        &'a self,
        repository: &'a str,
        policy_text: &'a str,
    ) -> Call<'a, ()> {
        let answer = self.with_stored("ecr:PutLifecyclePolicy", repository, |stored| {
            stored.lifecycle_policy = Some(policy_text.to_owned());
        });
        Box::pin(async move { answer })
    }

    fn repository_policy<'a>(&'a self, repository: &'a str) -> Call<'a, Option<String>> {
        let answer = self.with_stored("ecr:GetRepositoryPolicy", repository, |stored| {
            stored.policy.clone()
        });
        Box::pin(async move { answer })
    }

    fn set_repository_policy<'a>(
        &'a self,
        repository: &'a str,
        policy_text: &'a str,
    ) -> Call<'a, ()> {
        let answer = self.with_stored("ecr:SetRepositoryPolicy", repository, |stored| {
            stored.policy = Some(policy_text.to_owned());
        });
        Box::pin(async move { answer })
    }

    fn registry_policy(&self) -> Call<'_, RegistryPolicyText> {
        let answer = self
            .call("ecr:GetRegistryPolicy", None)
            .map(|state| RegistryPolicyText {
                registry_id: Some(ACCOUNT.to_owned()),
                policy_text: state.registry_policy.clone(),
            });
        Box::pin(async move { answer })
    }

    fn tags<'a>(&'a self, repository_arn: &'a str) -> Call<'a, BTreeMap<String, String>> {
        let answer = self.with_stored(
            "ecr:ListTagsForResource",
            name_of(repository_arn),
            |stored| stored.tags.clone(),
        );
        Box::pin(async move { answer })
    }

    fn tag<'a>(
        &'a self,
        repository_arn: &'a str,
        tags: &'a BTreeMap<String, String>,
    ) -> Call<'a, ()> {
        let answer = self.with_stored("ecr:TagResource", name_of(repository_arn), |stored| {
            stored.tags.extend(tags.clone());
        });
        Box::pin(async move { answer })
    }

    fn put_scan_on_push<'a>(&'a self, repository: &'a str, scan_on_push: bool) -> Call<'a, ()> {
        let answer = self.with_stored("ecr:PutImageScanningConfiguration", repository, |stored| {
            stored.repository.scan_on_push = scan_on_push;
        });
        Box::pin(async move { answer })
    }

    fn put_tag_mutability<'a>(
        &'a self,
        repository: &'a str,
        setting: &'a TagMutabilitySetting,
    ) -> Call<'a, ()> {
        let answer = self.with_stored("ecr:PutImageTagMutability", repository, |stored| {
            stored.repository.tag_mutability = setting.mutability.as_str().to_owned();
            stored.repository.tag_mutability_exclusions = setting.exclusion_filters.clone();
        });
        Box::pin(async move { answer })
    }

    /// Pages of [`MAX_IMAGES_PER_PAGE`]; the token is the index of the next image.
    fn images_page<'a>(
        &'a self,
        repository: &'a str,
        storage: ImageStorage,
        next_token: Option<String>,
    ) -> Call<'a, ImagePage> {
        let answer = self
            .call("ecr:DescribeImages", Some(repository))
            .and_then(|state| {
                if !state.repositories.contains_key(repository) {
                    return Err(AwsError::from_code(
                        "ecr:DescribeImages",
                        Some(repository),
                        REPOSITORY_NOT_FOUND,
                    ));
                }
                let start: usize = next_token
                    .as_deref()
                    .and_then(|token| token.parse().ok())
                    .unwrap_or(0);
                let wanted: Vec<StoredImage> = state
                    .stored_images
                    .get(repository)
                    .into_iter()
                    .flatten()
                    .filter(|image| image.archived == (storage == ImageStorage::Archived))
                    .cloned()
                    .collect();
                let end = (start + MAX_IMAGES_PER_PAGE as usize).min(wanted.len());
                Ok(ImagePage {
                    images: wanted.get(start..end).unwrap_or_default().to_vec(),
                    next_token: (end < wanted.len()).then(|| end.to_string()),
                })
            });
        Box::pin(async move { answer })
    }

    fn delete_repository<'a>(&'a self, repository: &'a str) -> Call<'a, bool> {
        let answer = self
            .call("ecr:DeleteRepository", Some(repository))
            .map(|mut state| {
                state.stored_images.remove(repository);
                state.repositories.remove(repository).is_some()
            });
        Box::pin(async move { answer })
    }

    fn delete_tag<'a>(&'a self, repository: &'a str, tag: &'a str) -> Call<'a, ()> {
        let answer = self.with_stored("ecr:BatchDeleteImage", repository, |stored| {
            stored.images.remove(tag);
        });
        Box::pin(async move { answer })
    }

    fn pull_time_exclusions(&self) -> Call<'_, Vec<String>> {
        let answer = self
            .call("ecr:ListPullTimeUpdateExclusions", None)
            .map(|state| state.pull_time_exclusions.clone());
        Box::pin(async move { answer })
    }

    /// As ECR: a principal already excluded, or one past the limit, is refused.
    fn register_pull_time_exclusion<'a>(&'a self, principal_arn: &'a str) -> Call<'a, ()> {
        const OPERATION: &str = "ecr:RegisterPullTimeUpdateExclusion";
        let answer = self
            .call(OPERATION, Some(principal_arn))
            .and_then(|mut state| {
                let refused = if state
                    .pull_time_exclusions
                    .iter()
                    .any(|arn| arn == principal_arn)
                {
                    Some(crate::ports::EXCLUSION_ALREADY_EXISTS)
                } else if state.pull_time_exclusions.len() >= crate::ports::MAX_PULL_TIME_EXCLUSIONS
                {
                    Some(crate::ports::LIMIT_EXCEEDED)
                } else {
                    None
                };
                match refused {
                    Some(code) => Err(AwsError::from_code(OPERATION, Some(principal_arn), code)),
                    None => {
                        state.pull_time_exclusions.push(principal_arn.to_owned());
                        Ok(())
                    }
                }
            });
        Box::pin(async move { answer })
    }
}

impl CreationTemplates for FakeEcr {
    fn all(&self) -> Call<'_, Vec<CreationTemplate>> {
        let answer = self
            .call("ecr:DescribeRepositoryCreationTemplates", None)
            .map(|state| state.templates.clone());
        Box::pin(async move { answer })
    }

    fn create<'a>(&'a self, template: &'a CreationTemplate) -> Call<'a, ()> {
        let answer = self
            .call(
                "ecr:CreateRepositoryCreationTemplate",
                Some(&template.prefix),
            )
            .map(|mut state| state.templates.push(template.clone()));
        Box::pin(async move { answer })
    }

    fn update<'a>(&'a self, template: &'a CreationTemplate) -> Call<'a, ()> {
        let answer = self
            .call(
                "ecr:UpdateRepositoryCreationTemplate",
                Some(&template.prefix),
            )
            .map(|mut state| {
                state
                    .templates
                    .retain(|stored| stored.prefix != template.prefix);
                state.templates.push(template.clone());
            });
        Box::pin(async move { answer })
    }
}

impl Scanning for FakeEcr {
    fn registry_configuration(&self) -> Call<'_, RegistryScanning> {
        let answer = self
            .call("ecr:GetRegistryScanningConfiguration", None)
            .map(|state| {
                state
                    .scanning
                    .clone()
                    .unwrap_or_else(RegistryScanning::unset)
            });
        self.other_writers("ecr:GetRegistryScanningConfiguration");
        Box::pin(async move { answer })
    }

    fn put_registry_configuration<'a>(
        &'a self,
        configuration: &'a RegistryScanning,
    ) -> Call<'a, ()> {
        let answer = self
            .call("ecr:PutRegistryScanningConfiguration", None)
            .map(|mut state| state.scanning = Some(configuration.clone()));
        self.other_writers("ecr:PutRegistryScanningConfiguration");
        Box::pin(async move { answer })
    }

    /// Recorded (and failed) with the names joined by `,` as the resource.
    fn repositories<'a>(&'a self, names: &'a [String]) -> Call<'a, ScanningBatch> {
        let answer = self
            .call(
                "ecr:BatchGetRepositoryScanningConfiguration",
                Some(&names.join(",")),
            )
            .map(|state| {
                let configuration = state
                    .scanning
                    .clone()
                    .unwrap_or_else(RegistryScanning::unset);
                let mut batch = ScanningBatch::default();
                for name in names {
                    match state.repositories.get(name) {
                        Some(stored) => {
                            let effective = EffectiveScanning::from_registry(&configuration, name)
                                // No registry filter: the repository's own flag, as the
                                // emulator answers (SCAN_ON_PUSH if set, MANUAL otherwise).
                                .unwrap_or_else(|| {
                                    let on_push = stored.repository.scan_on_push;
                                    EffectiveScanning {
                                        scan_on_push: on_push,
                                        scan_frequency: if on_push {
                                            "SCAN_ON_PUSH"
                                        } else {
                                            "MANUAL"
                                        }
                                        .to_owned(),
                                        applied_filters: Vec::new(),
                                    }
                                });
                            batch.found.insert(name.clone(), effective);
                        }
                        None => {
                            batch
                                .failures
                                .insert(name.clone(), REPOSITORY_NOT_FOUND.to_owned());
                        }
                    }
                }
                batch
            });
        Box::pin(async move { answer })
    }
}

#[derive(Debug, Default)]
struct SecretsState {
    secrets: BTreeMap<String, (SecretMetadata, String)>,
    failures: Failures,
    calls: Vec<String>,
}

/// Secrets Manager in memory: credential secrets with their values and tags.
#[derive(Debug, Default)]
pub struct FakeSecretStore {
    state: Mutex<SecretsState>,
}

/// The metadata of a secret created now and never used.
pub fn secret(name: &str) -> SecretMetadata {
    SecretMetadata {
        name: name.to_owned(),
        arn: format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"),
        created_at: None,
        last_changed_at: None,
        last_rotated_at: None,
        last_accessed_at: None,
        deletion_date: None,
        rotation_enabled: false,
        next_rotation_at: None,
        tags: BTreeMap::new(),
    }
}

impl FakeSecretStore {
    pub fn with_secret(self, metadata: SecretMetadata, value: &str) -> Self {
        lock(&self.state)
            .secrets
            .insert(metadata.name.clone(), (metadata, value.to_owned()));
        self
    }

    pub fn failing(self, operation: &'static str, resource: Option<&str>, code: &str) -> Self {
        lock(&self.state).failures.0.push((
            operation,
            resource.map(str::to_owned),
            code.to_owned(),
        ));
        self
    }

    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    pub fn tags_of(&self, name: &str) -> BTreeMap<String, String> {
        lock(&self.state)
            .secrets
            .get(name)
            .map(|(metadata, _)| metadata.tags.clone())
            .unwrap_or_default()
    }

    fn call(
        &self,
        operation: &'static str,
        resource: Option<&str>,
    ) -> Result<MutexGuard<'_, SecretsState>, AwsError> {
        let mut state = lock(&self.state);
        state.calls.push(match resource {
            Some(resource) => format!("{operation} {resource}"),
            None => operation.to_owned(),
        });
        state.failures.check(operation, resource)?;
        Ok(state)
    }
}

/// A secret by name or ARN, as Secrets Manager finds it.
fn find<'s>(state: &'s SecretsState, secret_id: &str) -> Option<&'s (SecretMetadata, String)> {
    state
        .secrets
        .values()
        .find(|(metadata, _)| metadata.name == secret_id || metadata.arn == secret_id)
}

impl SecretStore for FakeSecretStore {
    fn credential_secrets(&self) -> Call<'_, Vec<SecretMetadata>> {
        let answer = self.call("secretsmanager:ListSecrets", None).map(|state| {
            state
                .secrets
                .values()
                .map(|(metadata, _)| metadata.clone())
                .filter(|metadata| {
                    metadata
                        .name
                        .starts_with(crate::domain::CREDENTIAL_SECRET_PREFIX)
                })
                .collect()
        });
        Box::pin(async move { answer })
    }

    fn describe<'a>(&'a self, secret_id: &'a str) -> Call<'a, Option<SecretMetadata>> {
        let answer = self
            .call("secretsmanager:DescribeSecret", Some(secret_id))
            .map(|state| find(&state, secret_id).map(|(metadata, _)| metadata.clone()));
        Box::pin(async move { answer })
    }

    fn value<'a>(&'a self, secret_id: &'a str) -> Call<'a, SecretValue> {
        let operation = "secretsmanager:GetSecretValue";
        let answer = self.call(operation, Some(secret_id)).and_then(|state| {
            find(&state, secret_id)
                .map(|(_, value)| SecretValue::new(value.clone()))
                .ok_or_else(|| {
                    AwsError::from_code(operation, Some(secret_id), "ResourceNotFoundException")
                })
        });
        Box::pin(async move { answer })
    }

    fn tag<'a>(&'a self, secret_id: &'a str, key: &'a str, value: &'a str) -> Call<'a, ()> {
        let operation = "secretsmanager:TagResource";
        let answer = self.call(operation, Some(secret_id)).and_then(|mut state| {
            state
                .secrets
                .values_mut()
                .find(|(metadata, _)| metadata.name == secret_id || metadata.arn == secret_id)
                .map(|(metadata, _)| {
                    metadata.tags.insert(key.to_owned(), value.to_owned());
                })
                .ok_or_else(|| {
                    AwsError::from_code(operation, Some(secret_id), "ResourceNotFoundException")
                })
        });
        Box::pin(async move { answer })
    }
}

/// IAM of an account without consumers or custom roles: a simulation decides nothing, a role
/// lookup finds nothing. (The consumer doctor's IAM paths are tested on the emulator.)
#[derive(Debug, Default)]
pub struct FakeIam;

impl Iam for FakeIam {
    fn simulate<'a>(
        &'a self,
        _principal_arn: &'a str,
        _actions: &'a [&'a str],
        _resources: &'a [String],
    ) -> Call<'a, Vec<SimulatedDecision>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn role<'a>(&'a self, _role_arn: &'a str) -> Call<'a, Option<RoleFacts>> {
        Box::pin(async { Ok(None) })
    }
}

/// An upstream API that answers from a queue, one answer per request, and records the URLs
/// asked (never a header: they carry the token).
#[derive(Debug, Default)]
pub struct FakeUpstream {
    answers: Mutex<VecDeque<Result<UpstreamResponse, HttpFailure>>>,
    asked: Mutex<Vec<String>>,
}

impl FakeUpstream {
    pub fn answering(self, answer: Result<UpstreamResponse, HttpFailure>) -> Self {
        lock(&self.answers).push_back(answer);
        self
    }

    pub fn asked(&self) -> Vec<String> {
        lock(&self.asked).clone()
    }
}

impl Upstream for FakeUpstream {
    fn send(
        &self,
        request: UpstreamRequest,
        deadline: Deadline,
    ) -> BoxFuture<'_, Result<UpstreamResponse, HttpFailure>> {
        lock(&self.asked).push(request.url().to_string());
        let answer = if deadline.remaining().is_some_and(|left| left.is_zero()) {
            Err(HttpFailure::NoTimeLeft)
        } else {
            lock(&self.answers)
                .pop_front()
                .unwrap_or_else(|| Err(HttpFailure::Transport("no answer queued".to_owned())))
        };
        Box::pin(async move { answer })
    }
}

/// Ports over the fakes; the region is [`REGION`]; upstreams answer nothing.
pub fn ports(ecr: &Arc<FakeEcr>, secrets: &Arc<FakeSecretStore>) -> DynPorts {
    DynPorts {
        registry: Arc::clone(ecr) as Arc<dyn Registry>,
        templates: Arc::clone(ecr) as Arc<dyn CreationTemplates>,
        scanning: Arc::clone(ecr) as Arc<dyn Scanning>,
        secrets: Arc::clone(secrets) as Arc<dyn SecretStore>,
        iam: Arc::new(FakeIam),
        state: None,
        upstream: Arc::new(FakeUpstream::default()),
        region: Some(REGION.to_owned()),
    }
}

/// [`ports`] with a state store.
pub fn ports_with_state(
    ecr: &Arc<FakeEcr>,
    secrets: &Arc<FakeSecretStore>,
    state: &Arc<FakeState>,
) -> DynPorts {
    DynPorts {
        state: Some(Arc::clone(state) as Arc<dyn StateStore>),
        ..ports(ecr, secrets)
    }
}

/// One record of the fake state table, as the DynamoDB adapter keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAlertRecord {
    pub sent_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub severity: crate::domain::Severity,
    pub held: u64,
}

/// The state table in memory, with the adapter's conditions: an expired record counts as
/// absent, a more severe alert is not held back. Fails every call when told to.
#[derive(Debug, Default)]
pub struct FakeState {
    alerts: Mutex<BTreeMap<String, FakeAlertRecord>>,
    /// Accepted values: repository → setting → value.
    accepted: Mutex<BTreeMap<String, BTreeMap<String, super::AcceptedValue>>>,
    /// Restoration windows: key → (restorations counted, window end).
    restorations: Mutex<BTreeMap<String, (u64, chrono::DateTime<chrono::Utc>)>>,
    failing: Mutex<Option<String>>,
    calls: Mutex<usize>,
}

impl FakeState {
    /// Every call fails with `code` (`AccessDeniedException`, a missing table…).
    pub fn failing_with(self, code: &str) -> Self {
        *lock(&self.failing) = Some(code.to_owned());
        self
    }

    pub fn alert(&self, key: &str) -> Option<FakeAlertRecord> {
        lock(&self.alerts).get(key).cloned()
    }

    /// Calls answered (or failed) so far.
    pub fn n_calls(&self) -> usize {
        *lock(&self.calls)
    }
}

impl StateStore for FakeState {
    fn claim_alert<'a>(&'a self, claim: &'a AlertClaim) -> Call<'a, AlertDecision> {
        *lock(&self.calls) += 1;
        let answer = match lock(&self.failing).as_deref() {
            Some(code) => Err(AwsError::from_code(
                "dynamodb:UpdateItem",
                Some("ptc-ops-state"),
                code,
            )),
            None => {
                let mut alerts = lock(&self.alerts);
                match alerts.get_mut(&claim.key) {
                    Some(record)
                        if record.expires_at > claim.now && record.severity >= claim.severity =>
                    {
                        record.held += 1;
                        Ok(AlertDecision::Hold {
                            sent_at: record.sent_at,
                        })
                    }
                    previous => {
                        let held_back = previous.map_or(0, |record| record.held);
                        alerts.insert(
                            claim.key.clone(),
                            FakeAlertRecord {
                                sent_at: claim.now,
                                expires_at: claim.window_ends_at,
                                severity: claim.severity,
                                held: 0,
                            },
                        );
                        Ok(AlertDecision::Send { held_back })
                    }
                }
            }
        };
        Box::pin(async move { answer })
    }

    fn count_restoration<'a>(
        &'a self,
        claim: &'a RestorationClaim,
    ) -> Call<'a, RestorationDecision> {
        *lock(&self.calls) += 1;
        let answer = match lock(&self.failing).as_deref() {
            Some(code) => Err(AwsError::from_code(
                "dynamodb:UpdateItem",
                Some("ptc-ops-state"),
                code,
            )),
            None => {
                let mut windows = lock(&self.restorations);
                let window = windows
                    .entry(claim.key.clone())
                    .or_insert((0, claim.window_ends_at));
                if window.1 <= claim.now || window.0 == 0 {
                    *window = (0, claim.window_ends_at);
                }
                window.0 += 1;
                let max = u64::from(claim.max_restorations);
                Ok(match window.0 {
                    n if n <= max => RestorationDecision::Restore { n: n as u32 },
                    n if n == max + 1 => RestorationDecision::LimitReached {
                        window_ends_at: window.1,
                    },
                    _ => RestorationDecision::Refused,
                })
            }
        };
        Box::pin(async move { answer })
    }

    fn accept_value<'a>(
        &'a self,
        repository: &'a str,
        setting: &'a str,
        accepted: &'a super::AcceptedValue,
    ) -> Call<'a, ()> {
        *lock(&self.calls) += 1;
        let answer = match lock(&self.failing).as_deref() {
            Some(code) => Err(AwsError::from_code(
                "dynamodb:UpdateItem",
                Some("ptc-ops-state"),
                code,
            )),
            None => {
                lock(&self.accepted)
                    .entry(repository.to_owned())
                    .or_default()
                    .insert(setting.to_owned(), accepted.clone());
                Ok(())
            }
        };
        Box::pin(async move { answer })
    }

    fn accepted_values<'a>(
        &'a self,
        repository: &'a str,
    ) -> Call<'a, BTreeMap<String, super::AcceptedValue>> {
        *lock(&self.calls) += 1;
        let answer = match lock(&self.failing).as_deref() {
            Some(code) => Err(AwsError::from_code(
                "dynamodb:GetItem",
                Some("ptc-ops-state"),
                code,
            )),
            None => Ok(lock(&self.accepted)
                .get(repository)
                .cloned()
                .unwrap_or_default()),
        };
        Box::pin(async move { answer })
    }

    fn restorations_at_limit<'a>(
        &'a self,
        keys: &'a [String],
        max: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Call<'a, Vec<String>> {
        *lock(&self.calls) += 1;
        let answer = match lock(&self.failing).as_deref() {
            Some(code) => Err(AwsError::from_code(
                "dynamodb:BatchGetItem",
                Some("ptc-ops-state"),
                code,
            )),
            None => {
                let windows = lock(&self.restorations);
                Ok(keys
                    .iter()
                    .filter(|key| {
                        windows
                            .get(*key)
                            .is_some_and(|(n, ends)| *ends > now && *n >= u64::from(max))
                    })
                    .cloned()
                    .collect())
            }
        };
        Box::pin(async move { answer })
    }
}
