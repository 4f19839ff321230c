//! The AWS adapters as the ports ([`crate::ports`]): the bundle a deployment wires
//! ([`AwsPorts`]), and each port method handing over to the adapter's own `async fn` of the same
//! name (inherent methods win the lookup), boxed so that a port can also be a trait object.

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use super::creation_templates::EcrTemplates;
use super::ecr::Ecr;
use super::iam::IamApi;
use super::registry_scanning::EcrScanning;
use super::secrets::SecretsManager;
use super::state::DynamoState;
use super::Clients;
use crate::config::TagMutabilitySetting;
use crate::domain::iam::{RoleFacts, SimulatedDecision};
use crate::domain::scanning::RegistryScanning;
use crate::domain::{
    CacheRule, CreationTemplate, PulledImage, Repository, SecretMetadata, SecretValue,
};
use crate::ports::{
    AcceptedValue, AlertClaim, AlertDecision, CachedImage, Call, CreationTemplates, Iam, PortSet,
    PullFailure, Registry, RegistryPolicyText, RepositoryPage, RestorationClaim,
    RestorationDecision, RuleValidation, Scanning, ScanningBatch, SecretStore, StateStore,
};
use crate::ports::{ImagePage, ImageStorage};
use crate::upstream::{HttpTimeouts, UpstreamHttp};

/// The ports of a deployment: the AWS adapters over one set of clients, and the upstream HTTPS
/// client. Built once per process by the composition root (a function binary's
/// `FunctionContext`, a `ptc` command); cloning shares the clients.
#[derive(Clone, Debug)]
pub struct AwsPorts {
    ecr: Ecr,
    templates: EcrTemplates,
    scanning: EcrScanning,
    secrets: SecretsManager,
    iam: IamApi,
    /// `None` without `PTC_STATE_TABLE`: the features that need state are off.
    state: Option<DynamoState>,
    /// Cheap to hold: its TLS set-up happens on the first request only.
    upstream: UpstreamHttp,
    region: Option<String>,
}

impl AwsPorts {
    /// The ports on the clients' account and region.
    pub fn new(clients: &Clients) -> Self {
        AwsPorts {
            ecr: clients.registry(),
            templates: clients.creation_templates(),
            scanning: clients.scanning(),
            secrets: clients.secret_store(),
            iam: clients.iam(),
            state: clients.state_store(),
            upstream: UpstreamHttp::new(HttpTimeouts::default()),
            region: clients.region().map(str::to_owned),
        }
    }

    /// Upstream APIs through another client (other timeouts).
    pub fn with_upstream(self, upstream: UpstreamHttp) -> Self {
        AwsPorts { upstream, ..self }
    }
}

impl Clients {
    /// [`AwsPorts::new`].
    pub fn ports(&self) -> AwsPorts {
        AwsPorts::new(self)
    }
}

impl PortSet for AwsPorts {
    type Registry = Ecr;
    type Templates = EcrTemplates;
    type Scanning = EcrScanning;
    type Secrets = SecretsManager;
    type Iam = IamApi;
    type State = DynamoState;
    type Upstream = UpstreamHttp;

    fn registry(&self) -> &Ecr {
        &self.ecr
    }

    fn creation_templates(&self) -> &EcrTemplates {
        &self.templates
    }

    fn scanning(&self) -> &EcrScanning {
        &self.scanning
    }

    fn secret_store(&self) -> &SecretsManager {
        &self.secrets
    }

    fn iam(&self) -> &IamApi {
        &self.iam
    }

    fn state(&self) -> Option<&DynamoState> {
        self.state.as_ref()
    }

    fn upstream(&self) -> &UpstreamHttp {
        &self.upstream
    }

    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

impl Registry for Ecr {
    fn cache_rules<'a>(&'a self, prefixes: Option<&'a [String]>) -> Call<'a, Vec<CacheRule>> {
        Box::pin(self.cache_rules(prefixes))
    }

    fn validate_cache_rule<'a>(&'a self, prefix: &'a str) -> Call<'a, RuleValidation> {
        Box::pin(self.validate_cache_rule(prefix))
    }

    fn repositories_page(
        &self,
        next_token: Option<String>,
        page_size: i32,
    ) -> Call<'_, RepositoryPage> {
        Box::pin(self.repositories_page(next_token, page_size))
    }

    fn repository<'a>(&'a self, name: &'a str) -> Call<'a, Option<Repository>> {
        Box::pin(self.repository(name))
    }

    fn pull_by_tag<'a>(
        &'a self,
        repository: &'a str,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<PulledImage, PullFailure>> {
        Box::pin(self.pull_by_tag(repository, tag))
    }

    fn cached_image<'a>(
        &'a self,
        repository: &'a str,
        tag: &'a str,
    ) -> Call<'a, Option<CachedImage>> {
        Box::pin(self.cached_image(repository, tag))
    }

    fn lifecycle_policy<'a>(&'a self, repository: &'a str) -> Call<'a, Option<String>> {
        Box::pin(self.lifecycle_policy(repository))
    }

    fn put_lifecycle_policy<'a>(
        &'a self,
        repository: &'a str,
        policy_text: &'a str,
    ) -> Call<'a, ()> {
        Box::pin(self.put_lifecycle_policy(repository, policy_text))
    }

    fn repository_policy<'a>(&'a self, repository: &'a str) -> Call<'a, Option<String>> {
        Box::pin(self.repository_policy(repository))
    }

    fn set_repository_policy<'a>(
        &'a self,
        repository: &'a str,
        policy_text: &'a str,
    ) -> Call<'a, ()> {
        Box::pin(self.set_repository_policy(repository, policy_text))
    }

    fn registry_policy(&self) -> Call<'_, RegistryPolicyText> {
        Box::pin(self.registry_policy())
    }

    fn tags<'a>(&'a self, repository_arn: &'a str) -> Call<'a, BTreeMap<String, String>> {
        Box::pin(self.tags(repository_arn))
    }

    fn tag<'a>(
        &'a self,
        repository_arn: &'a str,
        tags: &'a BTreeMap<String, String>,
    ) -> Call<'a, ()> {
        Box::pin(self.tag(repository_arn, tags))
    }

    fn put_scan_on_push<'a>(&'a self, repository: &'a str, scan_on_push: bool) -> Call<'a, ()> {
        Box::pin(self.put_scan_on_push(repository, scan_on_push))
    }

    fn put_tag_mutability<'a>(
        &'a self,
        repository: &'a str,
        setting: &'a TagMutabilitySetting,
    ) -> Call<'a, ()> {
        Box::pin(self.put_tag_mutability(repository, setting))
    }

    fn images_page<'a>(
        &'a self,
        repository: &'a str,
        storage: ImageStorage,
        next_token: Option<String>,
    ) -> Call<'a, ImagePage> {
        Box::pin(self.images_page(repository, storage, next_token))
    }

    fn delete_repository<'a>(&'a self, repository: &'a str) -> Call<'a, bool> {
        Box::pin(self.delete_repository(repository))
    }

    fn delete_tag<'a>(&'a self, repository: &'a str, tag: &'a str) -> Call<'a, ()> {
        Box::pin(self.delete_tag(repository, tag))
    }

    fn pull_time_exclusions(&self) -> Call<'_, Vec<String>> {
        Box::pin(self.pull_time_exclusions())
    }

    fn register_pull_time_exclusion<'a>(&'a self, principal_arn: &'a str) -> Call<'a, ()> {
        Box::pin(self.register_pull_time_exclusion(principal_arn))
    }
}

impl CreationTemplates for EcrTemplates {
    fn all(&self) -> Call<'_, Vec<CreationTemplate>> {
        Box::pin(self.all())
    }

    fn create<'a>(&'a self, template: &'a CreationTemplate) -> Call<'a, ()> {
        Box::pin(self.create(template))
    }

    fn update<'a>(&'a self, template: &'a CreationTemplate) -> Call<'a, ()> {
        Box::pin(self.update(template))
    }
}

impl Scanning for EcrScanning {
    fn registry_configuration(&self) -> Call<'_, RegistryScanning> {
        Box::pin(self.registry_configuration())
    }

    fn put_registry_configuration<'a>(
        &'a self,
        configuration: &'a RegistryScanning,
    ) -> Call<'a, ()> {
        Box::pin(self.put_registry_configuration(configuration))
    }

    fn repositories<'a>(&'a self, names: &'a [String]) -> Call<'a, ScanningBatch> {
        Box::pin(self.repositories(names))
    }
}

impl SecretStore for SecretsManager {
    fn credential_secrets(&self) -> Call<'_, Vec<SecretMetadata>> {
        Box::pin(self.credential_secrets())
    }

    fn describe<'a>(&'a self, secret_id: &'a str) -> Call<'a, Option<SecretMetadata>> {
        Box::pin(self.describe(secret_id))
    }

    fn value<'a>(&'a self, secret_id: &'a str) -> Call<'a, SecretValue> {
        Box::pin(self.value(secret_id))
    }

    fn tag<'a>(&'a self, secret_id: &'a str, key: &'a str, value: &'a str) -> Call<'a, ()> {
        Box::pin(self.tag(secret_id, key, value))
    }
}

impl Iam for IamApi {
    fn simulate<'a>(
        &'a self,
        principal_arn: &'a str,
        actions: &'a [&'a str],
        resources: &'a [String],
    ) -> Call<'a, Vec<SimulatedDecision>> {
        Box::pin(self.simulate(principal_arn, actions, resources))
    }

    fn role<'a>(&'a self, role_arn: &'a str) -> Call<'a, Option<RoleFacts>> {
        Box::pin(self.role(role_arn))
    }
}

impl StateStore for DynamoState {
    fn claim_alert<'a>(&'a self, claim: &'a AlertClaim) -> Call<'a, AlertDecision> {
        Box::pin(self.claim_alert(claim))
    }

    fn count_restoration<'a>(
        &'a self,
        claim: &'a RestorationClaim,
    ) -> Call<'a, RestorationDecision> {
        Box::pin(self.count_restoration(claim))
    }

    fn accept_value<'a>(
        &'a self,
        repository: &'a str,
        setting: &'a str,
        accepted: &'a AcceptedValue,
    ) -> Call<'a, ()> {
        Box::pin(self.accept_value(repository, setting, accepted))
    }

    fn accepted_values<'a>(
        &'a self,
        repository: &'a str,
    ) -> Call<'a, BTreeMap<String, AcceptedValue>> {
        Box::pin(self.accepted_values(repository))
    }

    fn restorations_at_limit<'a>(
        &'a self,
        keys: &'a [String],
        max: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Call<'a, Vec<String>> {
        Box::pin(self.restorations_at_limit(keys, max, now))
    }
}
