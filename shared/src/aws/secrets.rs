//! AWS Secrets Manager: credential secrets of pull-through cache rules. SDK types stop here.

use std::collections::BTreeMap;

use super::{to_chrono, AwsError};
use crate::domain::{SecretMetadata, SecretValue, CREDENTIAL_SECRET_PREFIX};
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};

/// `SecretListEntry` (ListSecrets) and `DescribeSecretOutput` carry the same accessors under the
/// same names but are distinct types with no shared trait: one conversion serves both.
macro_rules! secret_metadata {
    ($source:expr) => {{
        let source = &$source;
        SecretMetadata {
            name: source.name().unwrap_or_default().to_owned(),
            arn: source.arn().unwrap_or_default().to_owned(),
            created_at: to_chrono(source.created_date()),
            last_changed_at: to_chrono(source.last_changed_date()),
            last_rotated_at: to_chrono(source.last_rotated_date()),
            last_accessed_at: to_chrono(source.last_accessed_date()),
            deletion_date: to_chrono(source.deleted_date()),
            rotation_enabled: source.rotation_enabled().unwrap_or(false),
            next_rotation_at: to_chrono(source.next_rotation_date()),
            tags: tags_to_map(source.tags()),
        }
    }};
}

/// The [`crate::ports::SecretStore`] port on AWS Secrets Manager.
#[derive(Clone, Debug)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        SecretsManager { client }
    }

    /// Every secret named `ecr-pullthroughcache/…`, including those scheduled for deletion
    /// (a rule may still point at one). `ListSecrets` is eventually consistent: a secret created
    /// a moment ago may be missing.
    pub async fn credential_secrets(&self) -> Result<Vec<SecretMetadata>, AwsError> {
        let pages = self
            .client
            .list_secrets()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(CREDENTIAL_SECRET_PREFIX)
                    .build(),
            )
            .include_planned_deletion(true)
            .max_results(100)
            .into_paginator()
            .send();
        let outputs: Vec<_> = pages
            .try_collect()
            .await
            .map_err(|error| AwsError::from_sdk("secretsmanager:ListSecrets", None, error))?;
        Ok(outputs
            .into_iter()
            .flat_map(|output| output.secret_list.unwrap_or_default())
            .filter(|entry| entry.name().is_some())
            .map(|entry| secret_metadata!(entry))
            // The name filter matches prefixes of words too; keep the exact prefix only.
            .filter(|secret| secret.name.starts_with(CREDENTIAL_SECRET_PREFIX))
            .collect())
    }

    /// A secret's metadata by name or ARN; `None` when it does not exist.
    pub async fn describe(&self, secret_id: &str) -> Result<Option<SecretMetadata>, AwsError> {
        match self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
        {
            Ok(output) => Ok(Some(secret_metadata!(output))),
            Err(error) => {
                let error =
                    AwsError::from_sdk("secretsmanager:DescribeSecret", Some(secret_id), error);
                if error.is_not_found() {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// The current value of a secret. Never logged: it comes back as a [`SecretValue`].
    pub async fn value(&self, secret_id: &str) -> Result<SecretValue, AwsError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|error| {
                AwsError::from_sdk("secretsmanager:GetSecretValue", Some(secret_id), error)
            })?;
        Ok(SecretValue::new(output.secret_string.unwrap_or_default()))
    }

    /// Sets one tag on a secret (e.g. a discovered expiry date).
    pub async fn tag(&self, secret_id: &str, key: &str, value: &str) -> Result<(), AwsError> {
        self.client
            .tag_resource()
            .secret_id(secret_id)
            .tags(Tag::builder().key(key).value(value).build())
            .send()
            .await
            .map_err(|error| {
                AwsError::from_sdk("secretsmanager:TagResource", Some(secret_id), error)
            })?;
        Ok(())
    }
}

fn tags_to_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|tag| {
            Some((
                tag.key()?.to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}
