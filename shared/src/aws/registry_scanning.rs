//! Amazon ECR scanning: the registry scanning configuration (read, write) and the effective
//! scanning of repositories, 25 at a time. SDK types stop here.

use std::sync::Arc;

use aws_sdk_ecr::types::{
    RegistryScanningRule, ScanFrequency, ScanType, ScanningRepositoryFilter,
    ScanningRepositoryFilterType,
};

use super::pacing::Pacer;
use super::AwsError;
use crate::domain::scanning::{EffectiveScanning, RegistryScanning, ScanningRule};
use crate::ports::ScanningBatch;

/// The scanning calls of the registry the clients point at, paced like every ECR call.
#[derive(Clone, Debug)]
pub struct EcrScanning {
    client: aws_sdk_ecr::Client,
    /// Shared with [`super::ecr::Ecr`]: ECR's rates are per account and region.
    pacer: Arc<Pacer>,
}

impl EcrScanning {
    pub fn paced_by(client: aws_sdk_ecr::Client, pacer: Arc<Pacer>) -> Self {
        EcrScanning { client, pacer }
    }

    async fn paced(&self, api: &'static str) -> &aws_sdk_ecr::Client {
        self.pacer.acquire(api).await;
        &self.client
    }

    /// `GetRegistryScanningConfiguration`; a registry that never set one is `BASIC` without
    /// rules.
    pub async fn registry_configuration(&self) -> Result<RegistryScanning, AwsError> {
        let output = self
            .paced("GetRegistryScanningConfiguration")
            .await
            .get_registry_scanning_configuration()
            .send()
            .await
            .map_err(|error| {
                AwsError::from_sdk("ecr:GetRegistryScanningConfiguration", None, error)
            })?;
        let Some(configuration) = output.scanning_configuration else {
            return Ok(RegistryScanning::unset());
        };
        Ok(RegistryScanning {
            scan_type: configuration
                .scan_type()
                .map_or(crate::domain::scanning::BASIC, ScanType::as_str)
                .to_owned(),
            rules: configuration
                .rules()
                .iter()
                .map(|rule| ScanningRule {
                    frequency: rule.scan_frequency().as_str().to_owned(),
                    filters: rule
                        .repository_filters()
                        .iter()
                        .map(|filter| filter.filter().to_owned())
                        .collect(),
                })
                .collect(),
        })
    }

    /// `PutRegistryScanningConfiguration` with the whole configuration (ECR replaces it).
    pub async fn put_registry_configuration(
        &self,
        configuration: &RegistryScanning,
    ) -> Result<(), AwsError> {
        let operation = "ecr:PutRegistryScanningConfiguration";
        let rules = configuration
            .rules
            .iter()
            .map(|rule| {
                let filters = rule
                    .filters
                    .iter()
                    .map(|filter| {
                        ScanningRepositoryFilter::builder()
                            .filter(filter)
                            .filter_type(ScanningRepositoryFilterType::Wildcard)
                            .build()
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                RegistryScanningRule::builder()
                    .scan_frequency(ScanFrequency::from(rule.frequency.as_str()))
                    .set_repository_filters(Some(filters))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| AwsError::invalid_request(operation, None, error))?;
        self.paced("PutRegistryScanningConfiguration")
            .await
            .put_registry_scanning_configuration()
            .scan_type(ScanType::from(configuration.scan_type.as_str()))
            .set_rules(Some(rules))
            .send()
            .await
            .map_err(|error| AwsError::from_sdk(operation, None, error))?;
        Ok(())
    }

    /// `BatchGetRepositoryScanningConfiguration` for at most [`crate::ports::MAX_NAMES_PER_BATCH`] names.
    pub async fn repositories(&self, names: &[String]) -> Result<ScanningBatch, AwsError> {
        let operation = "ecr:BatchGetRepositoryScanningConfiguration";
        let mut batch = ScanningBatch::default();
        if names.is_empty() {
            return Ok(batch);
        }
        let output = self
            .paced("BatchGetRepositoryScanningConfiguration")
            .await
            .batch_get_repository_scanning_configuration()
            .set_repository_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|error| {
                AwsError::from_sdk(operation, names.first().map(String::as_str), error)
            })?;
        for configuration in output.scanning_configurations.unwrap_or_default() {
            let Some(name) = configuration.repository_name().map(str::to_owned) else {
                continue;
            };
            batch.found.insert(
                name,
                EffectiveScanning {
                    scan_on_push: configuration.scan_on_push(),
                    scan_frequency: configuration
                        .scan_frequency()
                        .map_or(crate::domain::scanning::MANUAL, ScanFrequency::as_str)
                        .to_owned(),
                    applied_filters: configuration
                        .applied_scan_filters()
                        .iter()
                        .map(|filter| filter.filter().to_owned())
                        .collect(),
                },
            );
        }
        for failure in output.failures.unwrap_or_default() {
            if let Some(name) = failure.repository_name {
                let code = failure
                    .failure_code
                    .map_or_else(String::new, |code| code.as_str().to_owned());
                batch.failures.insert(name, code);
            }
        }
        Ok(batch)
    }
}
