//! Credential secrets of pull-through cache rules, as metadata (never values).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// ECR only accepts credential secrets whose name starts with this.
pub const CREDENTIAL_SECRET_PREFIX: &str = "ecr-pullthroughcache/";

/// What Secrets Manager tells about a secret without reading its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretMetadata {
    pub name: String,
    pub arn: String,
    pub created_at: Option<DateTime<Utc>>,
    /// When the value (or metadata) last changed: the age of the token when nothing better is known.
    pub last_changed_at: Option<DateTime<Utc>>,
    pub last_rotated_at: Option<DateTime<Utc>>,
    /// Day granularity.
    pub last_accessed_at: Option<DateTime<Utc>>,
    /// Set when the secret is scheduled for deletion: the date it will be deleted.
    pub deletion_date: Option<DateTime<Utc>>,
    pub rotation_enabled: bool,
    pub next_rotation_at: Option<DateTime<Utc>>,
    pub tags: BTreeMap<String, String>,
}

impl SecretMetadata {
    pub fn is_scheduled_for_deletion(&self) -> bool {
        self.deletion_date.is_some()
    }
}

/// The parts of a Secrets Manager ARN
/// (`arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretArn {
    pub partition: String,
    pub region: String,
    pub account_id: String,
    /// The secret's name, without the six random characters Secrets Manager appends.
    pub name: String,
}

impl SecretArn {
    pub fn parse(arn: &str) -> Option<SecretArn> {
        let mut parts = arn.splitn(7, ':');
        let (
            Some("arn"),
            Some(partition),
            Some("secretsmanager"),
            Some(region),
            Some(account_id),
            Some("secret"),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return None;
        };
        if resource.is_empty()
            || account_id.len() != 12
            || !account_id.bytes().all(|byte| byte.is_ascii_digit())
        {
            return None;
        }
        Some(SecretArn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            name: strip_random_suffix(resource).to_owned(),
        })
    }

    pub fn has_credential_prefix(&self) -> bool {
        self.name.starts_with(CREDENTIAL_SECRET_PREFIX)
    }
}

/// Full ARNs end with `-` and six random characters; partial ARNs do not. A name that itself
/// ends that way cannot be told apart, and is shortened: only the prefix is checked on it.
fn strip_random_suffix(resource: &str) -> &str {
    match resource.rsplit_once('-') {
        Some((name, suffix))
            if suffix.len() == 6 && suffix.bytes().all(|byte| byte.is_ascii_alphanumeric()) =>
        {
            name
        }
        _ => resource,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    /// `arn` parses to (partition, region, account, name), or is refused.
    fn check_secret_arn(name: &str, arn: &str, expected: Option<(&str, &str, &str, &str)>) {
        let parsed = SecretArn::parse(arn);
        let got = parsed.as_ref().map(|arn| {
            (
                arn.partition.as_str(),
                arn.region.as_str(),
                arn.account_id.as_str(),
                arn.name.as_str(),
            )
        });
        assert_eq!(got, expected, "{name}: arn {arn}");
    }

    named_cases! {
        /// Secret ARNs parse into their parts, the random suffix dropped from the name.
        mod parses_secret_arns => check_secret_arn;
        with_random_suffix(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/docker-hub-AbCdEf",
            Some(("aws", "eu-west-1", "123456789012", "ecr-pullthroughcache/docker-hub")),
        ),
        other_partition_without_suffix(
            "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:ecr-pullthroughcache/ghcr",
            Some(("aws-cn", "cn-north-1", "123456789012", "ecr-pullthroughcache/ghcr")),
        ),
        name_without_the_credential_prefix(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dockerhub-token-x1Y2z3",
            Some(("aws", "eu-west-1", "123456789012", "dockerhub-token")),
        ),
        another_service("arn:aws:ssm:eu-west-1:123456789012:parameter/x", None),
        short_account("arn:aws:secretsmanager:eu-west-1:12345:secret:x", None),
        not_an_arn("not an arn", None),
    }

    #[test]
    fn credential_prefixes_are_recognised_in_arns() {
        let arn = SecretArn::parse(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/x-AbCdEf",
        );
        assert!(arn.is_some_and(|arn| arn.has_credential_prefix()));
    }
}
