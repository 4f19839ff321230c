//! Rules from `aws ecr describe-pull-through-cache-rules` output, for offline use
//! (`--rules-file`): CI jobs can audit manifests without AWS credentials.

use ptc_ops::domain::{CacheRule, UpstreamKind, ROOT_PREFIX};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeOutput {
    pull_through_cache_rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    ecr_repository_prefix: String,
    upstream_registry_url: String,
    upstream_registry: Option<String>,
    credential_arn: Option<String>,
    custom_role_arn: Option<String>,
    upstream_repository_prefix: Option<String>,
    registry_id: Option<String>,
}

pub fn parse(text: &str) -> Result<Vec<CacheRule>, String> {
    let output: DescribeOutput = serde_json::from_str(text).map_err(|error| {
        format!("expected the JSON of `aws ecr describe-pull-through-cache-rules`: {error}")
    })?;
    Ok(output
        .pull_through_cache_rules
        .into_iter()
        .map(|raw| CacheRule {
            upstream: match &raw.upstream_registry {
                Some(kind) => UpstreamKind::from_raw(kind),
                None => UpstreamKind::from_upstream_url(&raw.upstream_registry_url),
            },
            prefix: raw.ecr_repository_prefix,
            upstream_registry_url: raw.upstream_registry_url,
            credential_arn: raw.credential_arn.filter(|arn| !arn.is_empty()),
            custom_role_arn: raw.custom_role_arn.filter(|arn| !arn.is_empty()),
            upstream_repository_prefix: raw
                .upstream_repository_prefix
                .filter(|prefix| !prefix.is_empty())
                .unwrap_or_else(|| ROOT_PREFIX.to_owned()),
            registry_id: raw.registry_id,
            created_at: None,
            updated_at: None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_aws_cli_output() {
        let text = r#"{"pullThroughCacheRules": [
            {"ecrRepositoryPrefix": "docker-hub", "upstreamRegistryUrl": "registry-1.docker.io",
             "createdAt": "2026-01-05T10:00:00+00:00", "registryId": "123456789012",
             "credentialArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/docker-hub-AbCdEf",
             "upstreamRegistry": "docker-hub", "upstreamRepositoryPrefix": "ROOT"},
            {"ecrRepositoryPrefix": "k8s", "upstreamRegistryUrl": "registry.k8s.io", "registryId": "123456789012"}
        ]}"#;
        let rules = parse(text).expect("parsed");
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].upstream, UpstreamKind::DockerHub);
        assert!(rules[0].authenticates());
        assert_eq!(rules[1].upstream, UpstreamKind::K8s);
        assert_eq!(rules[1].upstream_repository_prefix, ROOT_PREFIX);
        assert!(parse("[]").is_err());
    }
}
