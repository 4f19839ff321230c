//! Amazon ECR: pull-through cache rules, repositories, pulls. SDK types stop here.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::pacing::Pacer;
use super::{to_chrono, AwsError};
use crate::config::TagMutabilitySetting;
use crate::domain::{
    CacheRule, PulledImage, Repository, UpstreamKind, ACCEPTED_MANIFEST_MEDIA_TYPES, ROOT_PREFIX,
};
use crate::ports::{
    PullFailure, RegistryPolicyText, RepositoryPage, RuleValidation, MAX_PAGE_SIZE,
    REPOSITORY_NOT_FOUND,
};
use aws_sdk_ecr::types::{
    ImageIdentifier, ImageScanningConfiguration, ImageTagMutability,
    ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType, PullThroughCacheRule,
    Tag,
};

/// The private registry of the account and region the clients point at: the [`Registry`] port
/// on Amazon ECR.
#[derive(Clone, Debug)]
pub struct Ecr {
    client: aws_sdk_ecr::Client,
    /// Shared by every ECR adapter of the process: ECR's rates are per account and region.
    pacer: Arc<Pacer>,
}

impl Ecr {
    pub fn new(client: aws_sdk_ecr::Client) -> Self {
        Ecr::paced_by(client, Arc::new(Pacer::default()))
    }

    pub fn paced_by(client: aws_sdk_ecr::Client, pacer: Arc<Pacer>) -> Self {
        Ecr { client, pacer }
    }

    /// The client without pacing (`DescribeImages` of the pre-warmer).
    pub(super) fn unpaced(&self) -> &aws_sdk_ecr::Client {
        &self.client
    }

    /// The client, once the pacing of `api` lets the call go.
    pub(super) async fn paced(&self, api: &'static str) -> &aws_sdk_ecr::Client {
        self.pacer.acquire(api).await;
        &self.client
    }

    /// Every pull-through cache rule, all pages; `prefixes` narrows to those prefixes.
    pub async fn cache_rules(
        &self,
        prefixes: Option<&[String]>,
    ) -> Result<Vec<CacheRule>, AwsError> {
        let pages = self
            .paced("DescribePullThroughCacheRules")
            .await
            .describe_pull_through_cache_rules()
            .set_ecr_repository_prefixes(prefixes.map(<[String]>::to_vec))
            .max_results(MAX_PAGE_SIZE)
            .into_paginator()
            .send();
        let outputs: Vec<_> = pages.try_collect().await.map_err(|error| {
            AwsError::from_sdk("ecr:DescribePullThroughCacheRules", None, error)
        })?;
        Ok(outputs
            .into_iter()
            .flat_map(|output| output.pull_through_cache_rules.unwrap_or_default())
            .filter_map(cache_rule_from_sdk)
            .collect())
    }

    pub async fn validate_cache_rule(&self, prefix: &str) -> Result<RuleValidation, AwsError> {
        let output = self
            .paced("ValidatePullThroughCacheRule")
            .await
            .validate_pull_through_cache_rule()
            .ecr_repository_prefix(prefix)
            .send()
            .await
            .map_err(|error| {
                AwsError::from_sdk("ecr:ValidatePullThroughCacheRule", Some(prefix), error)
            })?;
        Ok(RuleValidation {
            is_valid: output.is_valid(),
            failure: output
                .failure()
                .filter(|text| !text.is_empty())
                .map(str::to_owned),
        })
    }

    /// One page of repositories. Sweeps page by page so a hand-off can resume at `next_token`.
    pub async fn repositories_page(
        &self,
        next_token: Option<String>,
        page_size: i32,
    ) -> Result<RepositoryPage, AwsError> {
        let output = self
            .paced("DescribeRepositories")
            .await
            .describe_repositories()
            .set_next_token(next_token)
            .max_results(page_size.clamp(1, MAX_PAGE_SIZE))
            .send()
            .await
            .map_err(|error| AwsError::from_sdk("ecr:DescribeRepositories", None, error))?;
        Ok(RepositoryPage {
            repositories: output
                .repositories
                .unwrap_or_default()
                .into_iter()
                .filter_map(repository_from_sdk)
                .collect(),
            next_token: output.next_token,
        })
    }

    /// Named repositories; `None` when it does not exist (deleted since it was listed).
    pub async fn repository(&self, name: &str) -> Result<Option<Repository>, AwsError> {
        match self
            .paced("DescribeRepositories")
            .await
            .describe_repositories()
            .repository_names(name)
            .send()
            .await
        {
            Ok(output) => Ok(output
                .repositories
                .unwrap_or_default()
                .into_iter()
                .filter_map(repository_from_sdk)
                .next()),
            Err(error) => {
                let error = AwsError::from_sdk("ecr:DescribeRepositories", Some(name), error);
                if error.is_code(REPOSITORY_NOT_FOUND) {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Pulls the manifest of `repository:tag`. On a repository under a pull-through cache rule
    /// this is what makes ECR fetch the image from the upstream and cache it.
    pub async fn pull_by_tag(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<PulledImage, PullFailure> {
        let output = self
            .paced("BatchGetImage")
            .await
            .batch_get_image()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .set_accepted_media_types(Some(
                ACCEPTED_MANIFEST_MEDIA_TYPES
                    .iter()
                    .map(|media| (*media).to_owned())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|error| {
                PullFailure::Call(AwsError::from_sdk(
                    "ecr:BatchGetImage",
                    Some(repository),
                    error,
                ))
            })?;
        if let Some(image) = output.images.unwrap_or_default().into_iter().next() {
            let digest = image
                .image_id
                .as_ref()
                .and_then(|id| id.image_digest.clone())
                .unwrap_or_default();
            return Ok(PulledImage {
                repository_name: repository.to_owned(),
                tag: tag.to_owned(),
                digest,
                media_type: image.image_manifest_media_type,
            });
        }
        let failure = output.failures.unwrap_or_default().into_iter().next();
        Err(PullFailure::Image {
            code: failure
                .as_ref()
                .and_then(|failure| failure.failure_code.as_ref())
                .map(|code| code.as_str().to_owned())
                .unwrap_or_else(|| "ImageNotFound".to_owned()),
            reason: failure
                .and_then(|failure| failure.failure_reason)
                .unwrap_or_else(|| "ECR returned neither an image nor a failure".to_owned()),
        })
    }
}

/// Repository settings: read, and written one setting per call. A repository that does not exist
/// is an error with code [`REPOSITORY_NOT_FOUND`]; a setting that is absent is `None`, not an
/// error.
impl Ecr {
    /// The repository's lifecycle policy text, `None` when it has none.
    pub async fn lifecycle_policy(&self, repository: &str) -> Result<Option<String>, AwsError> {
        match self
            .paced("GetLifecyclePolicy")
            .await
            .get_lifecycle_policy()
            .repository_name(repository)
            .send()
            .await
        {
            Ok(output) => Ok(output.lifecycle_policy_text),
            Err(error) => {
                let error = AwsError::from_sdk("ecr:GetLifecyclePolicy", Some(repository), error);
                if error.is_code("LifecyclePolicyNotFoundException") {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Replaces the repository's lifecycle policy with `policy_text`.
    pub async fn put_lifecycle_policy(
        &self,
        repository: &str,
        policy_text: &str,
    ) -> Result<(), AwsError> {
        self.paced("PutLifecyclePolicy")
            .await
            .put_lifecycle_policy()
            .repository_name(repository)
            .lifecycle_policy_text(policy_text)
            .send()
            .await
            .map_err(|error| {
                AwsError::from_sdk("ecr:PutLifecyclePolicy", Some(repository), error)
            })?;
        Ok(())
    }

    /// The repository policy text, `None` when the repository has none.
    pub async fn repository_policy(&self, repository: &str) -> Result<Option<String>, AwsError> {
        match self
            .paced("GetRepositoryPolicy")
            .await
            .get_repository_policy()
            .repository_name(repository)
            .send()
            .await
        {
            Ok(output) => Ok(output.policy_text),
            Err(error) => {
                let error = AwsError::from_sdk("ecr:GetRepositoryPolicy", Some(repository), error);
                if error.is_code("RepositoryPolicyNotFoundException") {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// The registry permissions policy and the registry's account id; the text is `None` when
    /// the registry has no policy.
    pub async fn registry_policy(&self) -> Result<RegistryPolicyText, AwsError> {
        match self
            .paced("GetRegistryPolicy")
            .await
            .get_registry_policy()
            .send()
            .await
        {
            Ok(output) => Ok(RegistryPolicyText {
                registry_id: output.registry_id,
                policy_text: output.policy_text,
            }),
            Err(error) => {
                let error = AwsError::from_sdk("ecr:GetRegistryPolicy", None, error);
                if error.is_code("RegistryPolicyNotFoundException") {
                    Ok(RegistryPolicyText {
                        registry_id: None,
                        policy_text: None,
                    })
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Replaces the repository policy with `policy_text`.
    pub async fn set_repository_policy(
        &self,
        repository: &str,
        policy_text: &str,
    ) -> Result<(), AwsError> {
        self.paced("SetRepositoryPolicy")
            .await
            .set_repository_policy()
            .repository_name(repository)
            .policy_text(policy_text)
            .send()
            .await
            .map_err(|error| {
                AwsError::from_sdk("ecr:SetRepositoryPolicy", Some(repository), error)
            })?;
        Ok(())
    }

    /// The tags of a repository, by its ARN.
    pub async fn tags(&self, repository_arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let output = self
            .paced("ListTagsForResource")
            .await
            .list_tags_for_resource()
            .resource_arn(repository_arn)
            .send()
            .await
            .map_err(|error| {
                AwsError::from_sdk("ecr:ListTagsForResource", Some(repository_arn), error)
            })?;
        Ok(output
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|tag| (tag.key, tag.value))
            .collect())
    }

    /// Adds or updates `tags` on a repository; tags not named are left alone (a merge).
    pub async fn tag(
        &self,
        repository_arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let operation = "ecr:TagResource";
        let tags = tags
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| AwsError::invalid_request(operation, Some(repository_arn), error))?;
        self.paced("TagResource")
            .await
            .tag_resource()
            .resource_arn(repository_arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|error| AwsError::from_sdk(operation, Some(repository_arn), error))?;
        Ok(())
    }

    /// Turns scan on push on or off.
    pub async fn put_scan_on_push(
        &self,
        repository: &str,
        scan_on_push: bool,
    ) -> Result<(), AwsError> {
        self.paced("PutImageScanningConfiguration")
            .await
            .put_image_scanning_configuration()
            .repository_name(repository)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(scan_on_push)
                    .build(),
            )
            .send()
            .await
            .map_err(|error| {
                AwsError::from_sdk("ecr:PutImageScanningConfiguration", Some(repository), error)
            })?;
        Ok(())
    }

    /// Sets the tag mutability mode together with its wildcard exclusion filters.
    pub async fn put_tag_mutability(
        &self,
        repository: &str,
        setting: &TagMutabilitySetting,
    ) -> Result<(), AwsError> {
        let operation = "ecr:PutImageTagMutability";
        let filters = setting
            .exclusion_filters
            .iter()
            .map(|filter| {
                ImageTagMutabilityExclusionFilter::builder()
                    .filter(filter)
                    .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| AwsError::invalid_request(operation, Some(repository), error))?;
        self.paced("PutImageTagMutability")
            .await
            .put_image_tag_mutability()
            .repository_name(repository)
            .image_tag_mutability(ImageTagMutability::from(setting.mutability.as_str()))
            .set_image_tag_mutability_exclusion_filters((!filters.is_empty()).then_some(filters))
            .send()
            .await
            .map_err(|error| AwsError::from_sdk(operation, Some(repository), error))?;
        Ok(())
    }
}

fn cache_rule_from_sdk(rule: PullThroughCacheRule) -> Option<CacheRule> {
    let prefix = rule.ecr_repository_prefix()?.to_owned();
    let upstream_registry_url = rule.upstream_registry_url().unwrap_or_default().to_owned();
    let upstream = match rule.upstream_registry() {
        Some(kind) => UpstreamKind::from_raw(kind.as_str()),
        None => UpstreamKind::from_upstream_url(&upstream_registry_url),
    };
    Some(CacheRule {
        prefix,
        upstream,
        credential_arn: rule
            .credential_arn()
            .filter(|arn| !arn.is_empty())
            .map(str::to_owned),
        custom_role_arn: rule
            .custom_role_arn()
            .filter(|arn| !arn.is_empty())
            .map(str::to_owned),
        upstream_repository_prefix: rule
            .upstream_repository_prefix()
            .filter(|prefix| !prefix.is_empty())
            .unwrap_or(ROOT_PREFIX)
            .to_owned(),
        registry_id: rule.registry_id().map(str::to_owned),
        created_at: to_chrono(rule.created_at()),
        updated_at: to_chrono(rule.updated_at()),
        upstream_registry_url,
    })
}

fn repository_from_sdk(repository: aws_sdk_ecr::types::Repository) -> Option<Repository> {
    Some(Repository {
        name: repository.repository_name()?.to_owned(),
        arn: repository.repository_arn().unwrap_or_default().to_owned(),
        uri: repository.repository_uri().unwrap_or_default().to_owned(),
        registry_id: repository.registry_id().unwrap_or_default().to_owned(),
        tag_mutability: repository
            .image_tag_mutability()
            .map(|mutability| mutability.as_str().to_owned())
            .unwrap_or_else(|| "MUTABLE".to_owned()),
        tag_mutability_exclusions: repository
            .image_tag_mutability_exclusion_filters()
            .iter()
            .map(|filter| filter.filter().to_owned())
            .collect(),
        scan_on_push: repository
            .image_scanning_configuration()
            .is_some_and(|scanning| scanning.scan_on_push()),
        encryption_type: repository
            .encryption_configuration()
            .map(|encryption| encryption.encryption_type().as_str().to_owned())
            .unwrap_or_else(|| "AES256".to_owned()),
        kms_key: repository
            .encryption_configuration()
            .and_then(|encryption| encryption.kms_key())
            .map(str::to_owned),
        created_at: to_chrono(repository.created_at()),
    })
}
