//! Amazon ECR repository creation templates: list, create, update. SDK types stop here; a
//! template is never deleted by this product.

use std::sync::Arc;

use aws_sdk_ecr::types::{
    EncryptionConfigurationForRepositoryCreationTemplate, EncryptionType, ImageTagMutability,
    ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType, RctAppliedFor,
    RepositoryCreationTemplate, Tag,
};

use super::pacing::Pacer;
use super::AwsError;
use crate::domain::CreationTemplate;
use crate::ports::MAX_PAGE_SIZE;

/// The templates of the registry the clients point at, paced like every ECR call.
#[derive(Clone, Debug)]
pub struct EcrTemplates {
    client: aws_sdk_ecr::Client,
    /// Shared with [`super::ecr::Ecr`]: ECR's rates are per account and region.
    pacer: Arc<Pacer>,
}

impl EcrTemplates {
    pub fn paced_by(client: aws_sdk_ecr::Client, pacer: Arc<Pacer>) -> Self {
        EcrTemplates { client, pacer }
    }

    /// The client, once the pacing of `api` lets the call go.
    async fn paced(&self, api: &'static str) -> &aws_sdk_ecr::Client {
        self.pacer.acquire(api).await;
        &self.client
    }

    /// Every template of the registry, all pages (foreign ones and `ROOT` included: the plan
    /// needs to see what would apply to cache repositories).
    pub async fn all(&self) -> Result<Vec<CreationTemplate>, AwsError> {
        let operation = "ecr:DescribeRepositoryCreationTemplates";
        let mut templates = Vec::new();
        let mut next_token = None;
        loop {
            let output = self
                .paced("DescribeRepositoryCreationTemplates")
                .await
                .describe_repository_creation_templates()
                .max_results(MAX_PAGE_SIZE)
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|error| AwsError::from_sdk(operation, None, error))?;
            templates.extend(
                output
                    .repository_creation_templates
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(template_from_sdk),
            );
            match output.next_token.filter(|token| !token.is_empty()) {
                Some(token) => next_token = Some(token),
                None => return Ok(templates),
            }
        }
    }

    /// Creates `template` (every field it sets).
    pub async fn create(&self, template: &CreationTemplate) -> Result<(), AwsError> {
        let operation = "ecr:CreateRepositoryCreationTemplate";
        let fields = Fields::of(template, operation)?;
        self.paced("CreateRepositoryCreationTemplate")
            .await
            .create_repository_creation_template()
            .prefix(&template.prefix)
            .set_description(template.description.clone())
            .set_applied_for(Some(fields.applied_for))
            .set_lifecycle_policy(template.lifecycle_policy.clone())
            .set_repository_policy(template.repository_policy.clone())
            .set_resource_tags(fields.resource_tags)
            .set_image_tag_mutability(fields.tag_mutability)
            .set_image_tag_mutability_exclusion_filters(fields.exclusion_filters)
            .set_encryption_configuration(fields.encryption)
            .set_custom_role_arn(template.custom_role_arn.clone())
            .send()
            .await
            .map_err(|error| AwsError::from_sdk(operation, Some(&template.prefix), error))?;
        Ok(())
    }

    /// Updates the template of `template.prefix` with every field `template` holds, so the
    /// result does not depend on how ECR treats a field left out of the request.
    pub async fn update(&self, template: &CreationTemplate) -> Result<(), AwsError> {
        let operation = "ecr:UpdateRepositoryCreationTemplate";
        let fields = Fields::of(template, operation)?;
        self.paced("UpdateRepositoryCreationTemplate")
            .await
            .update_repository_creation_template()
            .prefix(&template.prefix)
            .set_description(template.description.clone())
            .set_applied_for(Some(fields.applied_for))
            .set_lifecycle_policy(template.lifecycle_policy.clone())
            .set_repository_policy(template.repository_policy.clone())
            .set_resource_tags(fields.resource_tags)
            .set_image_tag_mutability(fields.tag_mutability)
            .set_image_tag_mutability_exclusion_filters(fields.exclusion_filters)
            .set_encryption_configuration(fields.encryption)
            .set_custom_role_arn(template.custom_role_arn.clone())
            .send()
            .await
            .map_err(|error| AwsError::from_sdk(operation, Some(&template.prefix), error))?;
        Ok(())
    }
}

/// The SDK shapes of a template's structured fields.
struct Fields {
    applied_for: Vec<RctAppliedFor>,
    resource_tags: Option<Vec<Tag>>,
    tag_mutability: Option<ImageTagMutability>,
    exclusion_filters: Option<Vec<ImageTagMutabilityExclusionFilter>>,
    encryption: Option<EncryptionConfigurationForRepositoryCreationTemplate>,
}

impl Fields {
    fn of(template: &CreationTemplate, operation: &'static str) -> Result<Fields, AwsError> {
        let invalid = |error| AwsError::invalid_request(operation, Some(&template.prefix), error);
        let resource_tags = template
            .resource_tags
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let exclusion_filters = template
            .tag_mutability_exclusions
            .iter()
            .map(|filter| {
                ImageTagMutabilityExclusionFilter::builder()
                    .filter(filter)
                    .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let encryption = template
            .encryption_type
            .as_deref()
            .map(|kind| {
                EncryptionConfigurationForRepositoryCreationTemplate::builder()
                    .encryption_type(EncryptionType::from(kind))
                    .set_kms_key(template.kms_key.clone())
                    .build()
            })
            .transpose()
            .map_err(invalid)?;
        Ok(Fields {
            applied_for: template
                .applied_for
                .iter()
                .map(|applied_for| RctAppliedFor::from(applied_for.as_str()))
                .collect(),
            resource_tags: (!resource_tags.is_empty()).then_some(resource_tags),
            tag_mutability: template
                .tag_mutability
                .as_deref()
                .map(ImageTagMutability::from),
            exclusion_filters: (!exclusion_filters.is_empty()).then_some(exclusion_filters),
            encryption,
        })
    }
}

fn template_from_sdk(template: RepositoryCreationTemplate) -> Option<CreationTemplate> {
    Some(CreationTemplate {
        prefix: template.prefix()?.to_owned(),
        description: template
            .description()
            .filter(|text| !text.is_empty())
            .map(str::to_owned),
        applied_for: template
            .applied_for()
            .iter()
            .map(|applied_for| applied_for.as_str().to_owned())
            .collect(),
        lifecycle_policy: template
            .lifecycle_policy()
            .filter(|text| !text.is_empty())
            .map(str::to_owned),
        repository_policy: template
            .repository_policy()
            .filter(|text| !text.is_empty())
            .map(str::to_owned),
        resource_tags: template
            .resource_tags()
            .iter()
            .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
            .collect(),
        tag_mutability: template
            .image_tag_mutability()
            .map(|mutability| mutability.as_str().to_owned()),
        tag_mutability_exclusions: template
            .image_tag_mutability_exclusion_filters()
            .iter()
            .map(|filter| filter.filter().to_owned())
            .collect(),
        encryption_type: template
            .encryption_configuration()
            .map(|encryption| encryption.encryption_type().as_str().to_owned()),
        kms_key: template
            .encryption_configuration()
            .and_then(|encryption| encryption.kms_key())
            .filter(|key| !key.is_empty())
            .map(str::to_owned),
        custom_role_arn: template
            .custom_role_arn()
            .filter(|arn| !arn.is_empty())
            .map(str::to_owned),
    })
}
