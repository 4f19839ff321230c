//! Standard seeds: the registry state many integration tests start from, created the same way
//! everywhere so a test says which state it needs instead of pasting the calls.

use aws_sdk_ecr::types::{
    RegistryScanningRule, ScanFrequency, ScanningRepositoryFilter, ScanningRepositoryFilterType,
};

use crate::TestEnv;

/// A registry scanning rule of `frequency` over `filters` (each a `WILDCARD` filter), as a test
/// puts it in the registry with the SDK.
pub fn scanning_rule(frequency: ScanFrequency, filters: &[&str]) -> RegistryScanningRule {
    RegistryScanningRule::builder()
        .scan_frequency(frequency)
        .set_repository_filters(Some(
            filters
                .iter()
                .map(|filter| {
                    ScanningRepositoryFilter::builder()
                        .filter(*filter)
                        .filter_type(ScanningRepositoryFilterType::Wildcard)
                        .build()
                        .expect("filter")
                })
                .collect(),
        ))
        .build()
        .expect("rule")
}

/// The secret of the Docker Hub rule, named with the prefix ECR requires of PTC credentials.
pub const DOCKER_HUB_SECRET: &str = "ecr-pullthroughcache/docker-hub";

impl TestEnv {
    /// A `docker-hub` rule to Docker Hub with a working credential (secret
    /// [`DOCKER_HUB_SECRET`]); returns the secret's ARN.
    pub async fn seed_docker_hub_rule(&self) -> String {
        let secret = self
            .create_secret(DOCKER_HUB_SECRET, &self.valid_credential_json())
            .await;
        self.create_rule("docker-hub", "registry-1.docker.io", Some(&secret))
            .await;
        secret
    }

    /// The standard rules: [`TestEnv::seed_docker_hub_rule`] and a `k8s` rule to
    /// `registry.k8s.io`, which needs no credential; returns the Docker Hub secret's ARN.
    pub async fn seed_standard_rules(&self) -> String {
        let secret = self.seed_docker_hub_rule().await;
        self.create_rule("k8s", "registry.k8s.io", None).await;
        secret
    }
}
