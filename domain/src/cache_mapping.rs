//! From an upstream image to its place in the cache: the pull-through cache rule that serves
//! its registry, the cache repository (`<prefix>/<path>`) and the URI a cluster pulls.
//!
//! Pure. The same mapping serves the pre-warmer and `ptc rewrite`.

use std::fmt;

use serde::Serialize;

use super::image_reference::{normalise_registry_host, ImageReference};
use crate::{rule_for_repository, CacheRule, ROOT_PREFIX};

/// ECR's longest repository name.
pub const MAX_REPOSITORY_NAME_CHARS: usize = 256;

/// Where an image lives in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheTarget {
    /// `ecrRepositoryPrefix` of the rule (`ROOT` included).
    pub rule_prefix: String,
    /// The rule's upstream registry, normalised (`docker.io`, `ghcr.io`): what the
    /// per-upstream concurrency cap counts.
    pub upstream: String,
    /// The registry that holds the cache (the rule's `registryId`), when ECR said.
    pub registry_id: Option<String>,
    /// Cache repository: `<prefix>/<path>`, or `<path>` under a `ROOT` rule.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl CacheTarget {
    /// `<registry host>/<repository>[:tag][@digest]`, mirroring the reference it came from.
    pub fn uri(&self, registry_host: &str) -> String {
        let mut uri = format!("{registry_host}/{}", self.repository);
        if let Some(tag) = &self.tag {
            uri.push(':');
            uri.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            uri.push('@');
            uri.push_str(digest);
        }
        uri
    }

    /// The URI when the registry id is known and a region is given.
    pub fn uri_in(&self, region: Option<&str>) -> Option<String> {
        let registry_host = registry_host(self.registry_id.as_deref()?, region?);
        Some(self.uri(&registry_host))
    }
}

/// The private registry's host name: `<registry id>.dkr.ecr.<region>.amazonaws.com` (`.com.cn`
/// in the China regions).
pub fn registry_host(registry_id: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("{registry_id}.dkr.ecr.{region}.{suffix}")
}

/// A rule as an unmapped image's message lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSummary {
    pub prefix: String,
    pub upstream_registry_url: String,
    pub upstream_repository_prefix: String,
}

impl From<&CacheRule> for RuleSummary {
    fn from(rule: &CacheRule) -> Self {
        RuleSummary {
            prefix: rule.prefix.clone(),
            upstream_registry_url: rule.upstream_registry_url.clone(),
            upstream_repository_prefix: rule.upstream_repository_prefix.clone(),
        }
    }
}

impl fmt::Display for RuleSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` → `{}`", self.prefix, self.upstream_registry_url)?;
        if self.upstream_repository_prefix != ROOT_PREFIX {
            write!(f, "/`{}`", self.upstream_repository_prefix)?;
        }
        Ok(())
    }
}

/// Why an image has no place in the cache.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unmapped {
    /// No rule has this upstream registry.
    #[error("no pull-through cache rule has `{registry}` as its upstream registry; rules: {}", list(.rules))]
    NoRule {
        registry: String,
        rules: Vec<RuleSummary>,
    },
    /// Rules for the registry exist, but none can serve this path: the path is outside each
    /// rule's `upstreamRepositoryPrefix`, or ECR would route the cache repository to another
    /// rule with a longer prefix.
    #[error("no pull-through cache rule for `{registry}` serves `{path}`: {}", .reasons.join("; "))]
    NoRuleForPath {
        registry: String,
        path: String,
        reasons: Vec<String>,
    },
}

fn list(rules: &[RuleSummary]) -> String {
    if rules.is_empty() {
        "none".to_owned()
    } else {
        rules
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The rule that serves `reference` and the cache repository it pulls through.
///
/// A rule serves the reference when its `upstreamRegistryUrl` is the reference's registry
/// (Docker Hub's aliases are one registry) and the path lies under its
/// `upstreamRepositoryPrefix` (`ROOT` takes every path); the cache repository is
/// `<prefix>/<rest of the path>`. ECR routes a repository to the rule with the longest prefix
/// covering it, so a candidate whose repository would land in another rule is not used.
/// Among several candidates the most specific upstream prefix wins, then a rule that
/// authenticates (Docker Hub limits anonymous pulls harder), then the prefix in name order.
pub fn map_to_cache(
    reference: &ImageReference,
    rules: &[CacheRule],
) -> Result<CacheTarget, Unmapped> {
    let candidates: Vec<&CacheRule> = rules
        .iter()
        .filter(|rule| normalise_registry_host(&rule.upstream_registry_url) == reference.registry)
        .collect();
    if candidates.is_empty() {
        return Err(Unmapped::NoRule {
            registry: reference.registry.clone(),
            rules: rules.iter().map(RuleSummary::from).collect(),
        });
    }
    let mut reasons = Vec::new();
    let mut usable: Vec<(&CacheRule, String)> = Vec::new();
    for rule in candidates {
        let Some(rest) = path_below(&reference.path, &rule.upstream_repository_prefix) else {
            reasons.push(format!(
                "rule `{}` caches only `{}/…`",
                rule.prefix, rule.upstream_repository_prefix
            ));
            continue;
        };
        let repository = if rule.is_root() {
            rest.to_owned()
        } else {
            format!("{}/{rest}", rule.prefix)
        };
        if repository.len() > MAX_REPOSITORY_NAME_CHARS {
            reasons.push(format!(
                "rule `{}` would need the repository `{repository}`, longer than ECR's {MAX_REPOSITORY_NAME_CHARS} characters",
                rule.prefix
            ));
            continue;
        }
        match rule_for_repository(rules, &repository) {
            Some(routed) if routed.prefix == rule.prefix => usable.push((rule, repository)),
            Some(routed) => reasons.push(format!(
                "rule `{}` would use `{repository}`, which ECR routes to rule `{}`",
                rule.prefix, routed.prefix
            )),
            None => reasons.push(format!(
                "rule `{}` does not cover `{repository}`",
                rule.prefix
            )),
        }
    }
    usable.sort_by(|(left, _), (right, _)| {
        specificity(right)
            .cmp(&specificity(left))
            .then(right.authenticates().cmp(&left.authenticates()))
            .then(left.prefix.cmp(&right.prefix))
    });
    match usable.into_iter().next() {
        Some((rule, repository)) => Ok(CacheTarget {
            rule_prefix: rule.prefix.clone(),
            upstream: reference.registry.clone(),
            registry_id: rule.registry_id.clone(),
            repository,
            tag: reference.tag.clone(),
            digest: reference.digest.clone(),
        }),
        None => Err(Unmapped::NoRuleForPath {
            registry: reference.registry.clone(),
            path: reference.path.clone(),
            reasons,
        }),
    }
}

/// The cache URI of `reference` in the registry `registry_host`
/// (`<account>.dkr.ecr.<region>.amazonaws.com`), for rewriting manifests.
pub fn cache_uri_for(
    reference: &ImageReference,
    rules: &[CacheRule],
    registry_host: &str,
) -> Result<String, Unmapped> {
    map_to_cache(reference, rules).map(|target| target.uri(registry_host))
}

/// The path below an upstream repository prefix (`ROOT`: the whole path).
fn path_below<'path>(path: &'path str, upstream_prefix: &str) -> Option<&'path str> {
    let upstream_prefix = upstream_prefix.trim_end_matches('/');
    if upstream_prefix == ROOT_PREFIX || upstream_prefix.is_empty() {
        return Some(path);
    }
    path.strip_prefix(upstream_prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|rest| !rest.is_empty())
}

/// How specific a rule's `upstreamRepositoryPrefix` is, to order rules for one upstream: `ROOT`
/// (or none) takes every path and is the least specific; a trailing `/` does not count, as
/// [`path_below`] ignores it. The Kyverno policy orders its routes with the same function.
pub fn specificity(rule: &CacheRule) -> usize {
    let prefix = rule.upstream_repository_prefix.trim_end_matches('/');
    if prefix == ROOT_PREFIX || prefix.is_empty() {
        0
    } else {
        prefix.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_reference::parse_reference;
    use crate::named_cases;

    fn rule(prefix: &str, url: &str, upstream_prefix: &str, credential: bool) -> CacheRule {
        let rule = CacheRule::new(prefix, url)
            .with_upstream_prefix(upstream_prefix)
            .in_registry("123456789012");
        if credential {
            rule.with_credential(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/x",
            )
        } else {
            rule
        }
    }

    fn rules() -> Vec<CacheRule> {
        vec![
            rule("docker-hub", "registry-1.docker.io", ROOT_PREFIX, true),
            rule("ghcr", "ghcr.io", ROOT_PREFIX, true),
            rule("flux", "ghcr.io", "fluxcd", true),
            rule("k8s", "registry.k8s.io", ROOT_PREFIX, false),
            rule("quay-prom", "quay.io", "prometheus", false),
            rule(
                "ecr-shared",
                "210987654321.dkr.ecr.us-east-1.amazonaws.com",
                ROOT_PREFIX,
                false,
            ),
        ]
    }

    /// `expected`: the rule prefix and cache URI, or the start of the error text.
    fn check(rules: &[CacheRule], input: &str, expected: Result<(&str, &str), &str>) {
        let reference = parse_reference(input).expect("test references parse");
        let host = registry_host("123456789012", "eu-west-1");
        match (map_to_cache(&reference, rules), expected) {
            (Ok(target), Ok((prefix, uri))) => {
                assert_eq!(target.rule_prefix, prefix, "input {input}");
                assert_eq!(target.uri(&host), uri, "input {input}");
                assert_eq!(cache_uri_for(&reference, rules, &host).as_deref(), Ok(uri));
            }
            (Err(unmapped), Err(text)) => {
                let message = unmapped.to_string();
                assert!(
                    message.starts_with(text),
                    "input {input}: `{message}` does not start with `{text}`"
                );
            }
            (got, expected) => panic!("input {input}: got {got:?}, expected {expected:?}"),
        }
    }

    /// The registry host of the account and region the tests map into.
    const HOST: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    /// `input` maps to the rule `prefix` of the test rules, at the cache `uri`.
    fn check_mapping(_name: &str, input: &str, prefix: &str, uri: String) {
        check(&rules(), input, Ok((prefix, &uri)));
    }

    named_cases! {
        /// Images map to the rule serving them and to its cache URI.
        mod maps_images_to_rules_and_cache_uris => check_mapping;
        docker_hub_short_name(
            "nginx:1.27",
            "docker-hub",
            format!("{HOST}/docker-hub/library/nginx:1.27"),
        ),
        docker_io_with_library(
            "docker.io/library/nginx:1.27",
            "docker-hub",
            format!("{HOST}/docker-hub/library/nginx:1.27"),
        ),
        index_docker_io_without_tag(
            "index.docker.io/nginx",
            "docker-hub",
            format!("{HOST}/docker-hub/library/nginx:latest"),
        ),
        registry_1_docker_io_other_namespace(
            "registry-1.docker.io/grafana/grafana:11.3.0",
            "docker-hub",
            format!("{HOST}/docker-hub/grafana/grafana:11.3.0"),
        ),
        /// The more specific upstream prefix wins over the ROOT one of the same registry.
        more_specific_upstream_prefix_wins(
            "ghcr.io/fluxcd/source-controller:v1.4.1",
            "flux",
            format!("{HOST}/flux/source-controller:v1.4.1"),
        ),
        ghcr_root_rule(
            "ghcr.io/org/app:v1",
            "ghcr",
            format!("{HOST}/ghcr/org/app:v1"),
        ),
        registry_k8s_io(
            "registry.k8s.io/pause:3.10",
            "k8s",
            format!("{HOST}/k8s/pause:3.10"),
        ),
        quay_upstream_prefix(
            "quay.io/prometheus/node-exporter:v1.8.2",
            "quay-prom",
            format!("{HOST}/quay-prom/node-exporter:v1.8.2"),
        ),
        ecr_upstream(
            "210987654321.dkr.ecr.us-east-1.amazonaws.com/team/app:7",
            "ecr-shared",
            format!("{HOST}/ecr-shared/team/app:7"),
        ),
    }

    #[test]
    fn maps_digests_to_cache_uris() {
        let rules = rules();
        let host = HOST;
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        check(
            &rules,
            &format!("registry.k8s.io/pause@{digest}"),
            Ok(("k8s", &format!("{host}/k8s/pause@{digest}"))),
        );
    }

    #[test]
    fn root_rules_and_routing_follow_ecr() {
        let host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
        let root_hub = vec![rule(ROOT_PREFIX, "registry-1.docker.io", ROOT_PREFIX, true)];
        check(
            &root_hub,
            "nginx:1.27",
            Ok((ROOT_PREFIX, &format!("{host}/library/nginx:1.27"))),
        );
        // `team/app` on Docker Hub would land in `docker-hub/team/app`, which ECR serves from
        // the longer prefix `docker-hub/team` (another upstream).
        let shadowed = vec![
            rule("docker-hub", "registry-1.docker.io", ROOT_PREFIX, true),
            rule("docker-hub/team", "quay.io", ROOT_PREFIX, false),
        ];
        check(
            &shadowed,
            "team/app:1",
            Err("no pull-through cache rule for `docker.io` serves `team/app`: rule `docker-hub` would use `docker-hub/team/app`, which ECR routes to rule `docker-hub/team`"),
        );
        // Two rules for one upstream: the one that authenticates wins, then name order.
        let two = vec![
            rule("hub-anonymous", "registry-1.docker.io", ROOT_PREFIX, false),
            rule("hub", "registry-1.docker.io", ROOT_PREFIX, true),
            rule("hub-z", "registry-1.docker.io", ROOT_PREFIX, true),
        ];
        check(
            &two,
            "nginx:1",
            Ok(("hub", &format!("{host}/hub/library/nginx:1"))),
        );
    }

    #[test]
    fn unmapped_images_name_the_registry_and_the_rules() {
        let rules = rules();
        check(
            &rules,
            "gcr.io/distroless/static:nonroot",
            Err("no pull-through cache rule has `gcr.io` as its upstream registry; rules: `docker-hub` → `registry-1.docker.io`, `ghcr` → `ghcr.io`, `flux` → `ghcr.io`/`fluxcd`, `k8s` → `registry.k8s.io`"),
        );
        check(
            &rules,
            "quay.io/coreos/etcd:v3.5",
            Err("no pull-through cache rule for `quay.io` serves `coreos/etcd`: rule `quay-prom` caches only `prometheus/…`"),
        );
        check(
            &[],
            "nginx",
            Err("no pull-through cache rule has `docker.io` as its upstream registry; rules: none"),
        );
    }

    #[test]
    fn builds_registry_hosts() {
        assert_eq!(
            registry_host("123456789012", "eu-west-1"),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            registry_host("123456789012", "cn-north-1"),
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"
        );
        let target = CacheTarget {
            rule_prefix: "k8s".into(),
            upstream: "registry.k8s.io".into(),
            registry_id: None,
            repository: "k8s/pause".into(),
            tag: Some("3.10".into()),
            digest: None,
        };
        assert_eq!(target.uri_in(Some("eu-west-1")), None);
        let known = CacheTarget {
            registry_id: Some("123456789012".into()),
            ..target
        };
        assert_eq!(
            known.uri_in(Some("eu-west-1")).as_deref(),
            Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com/k8s/pause:3.10")
        );
        assert_eq!(known.uri_in(None), None);
    }
}
