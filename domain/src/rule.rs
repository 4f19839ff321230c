//! Pull-through cache rules as the product reasons about them.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

/// The `ROOT` prefix: a rule (or upstream prefix) that covers the whole namespace.
pub const ROOT_PREFIX: &str = "ROOT";

/// The upstream registry kind of a rule (`upstreamRegistry`). New kinds appear over time; an
/// unknown one keeps its raw value and is reported as such, never a crash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UpstreamKind {
    Ecr,
    EcrPublic,
    DockerHub,
    GithubContainerRegistry,
    GitlabContainerRegistry,
    K8s,
    Quay,
    AzureContainerRegistry,
    Chainguard,
    Other(String),
}

impl UpstreamKind {
    pub fn from_raw(raw: &str) -> Self {
        match raw {
            "ecr" => UpstreamKind::Ecr,
            "ecr-public" => UpstreamKind::EcrPublic,
            "docker-hub" => UpstreamKind::DockerHub,
            "github-container-registry" => UpstreamKind::GithubContainerRegistry,
            "gitlab-container-registry" => UpstreamKind::GitlabContainerRegistry,
            "k8s" => UpstreamKind::K8s,
            "quay" => UpstreamKind::Quay,
            "azure-container-registry" => UpstreamKind::AzureContainerRegistry,
            "chainguard" => UpstreamKind::Chainguard,
            other => UpstreamKind::Other(other.to_owned()),
        }
    }

    /// The API's value.
    pub fn as_str(&self) -> &str {
        match self {
            UpstreamKind::Ecr => "ecr",
            UpstreamKind::EcrPublic => "ecr-public",
            UpstreamKind::DockerHub => "docker-hub",
            UpstreamKind::GithubContainerRegistry => "github-container-registry",
            UpstreamKind::GitlabContainerRegistry => "gitlab-container-registry",
            UpstreamKind::K8s => "k8s",
            UpstreamKind::Quay => "quay",
            UpstreamKind::AzureContainerRegistry => "azure-container-registry",
            UpstreamKind::Chainguard => "chainguard",
            UpstreamKind::Other(raw) => raw,
        }
    }

    /// Infers the kind from an upstream URL when the API did not say (older rules).
    pub fn from_upstream_url(url: &str) -> Self {
        let host = url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default();
        match host {
            "registry-1.docker.io" | "docker.io" | "index.docker.io" => UpstreamKind::DockerHub,
            "public.ecr.aws" => UpstreamKind::EcrPublic,
            "ghcr.io" => UpstreamKind::GithubContainerRegistry,
            "registry.gitlab.com" => UpstreamKind::GitlabContainerRegistry,
            "registry.k8s.io" => UpstreamKind::K8s,
            "quay.io" => UpstreamKind::Quay,
            "cgr.dev" => UpstreamKind::Chainguard,
            host if host.ends_with(".azurecr.io") => UpstreamKind::AzureContainerRegistry,
            host if host.contains(".dkr.ecr.") && host.ends_with(".amazonaws.com") => {
                UpstreamKind::Ecr
            }
            _ => UpstreamKind::Other(String::new()),
        }
    }
}

impl fmt::Display for UpstreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as its `upstreamRegistry` text; kinds ECR adds later come through as they are.
impl schemars::JsonSchema for UpstreamKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "UpstreamKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The rule's `upstreamRegistry`: `ecr`, `ecr-public`, `docker-hub`, `github-container-registry`, `gitlab-container-registry`, `k8s`, `quay`, `azure-container-registry`, `chainguard`, or a kind ECR added later, as ECR names it.",
            "type": "string",
        })
    }
}

impl Serialize for UpstreamKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A pull-through cache rule (`DescribePullThroughCacheRules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheRule {
    /// `ecrRepositoryPrefix`; may be `ROOT`.
    pub prefix: String,
    pub upstream_registry_url: String,
    pub upstream: UpstreamKind,
    pub credential_arn: Option<String>,
    pub custom_role_arn: Option<String>,
    /// `upstreamRepositoryPrefix`; `ROOT` (the default) when absent.
    pub upstream_repository_prefix: String,
    pub registry_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl CacheRule {
    /// A rule as created with only a prefix and an upstream URL: kind inferred from the URL, no
    /// credential, no role, the whole upstream namespace (`ROOT`).
    pub fn new(prefix: impl Into<String>, upstream_registry_url: impl Into<String>) -> Self {
        let upstream_registry_url = upstream_registry_url.into();
        CacheRule {
            prefix: prefix.into(),
            upstream: UpstreamKind::from_upstream_url(&upstream_registry_url),
            upstream_registry_url,
            credential_arn: None,
            custom_role_arn: None,
            upstream_repository_prefix: ROOT_PREFIX.to_owned(),
            registry_id: None,
            created_at: None,
            updated_at: None,
        }
    }

    /// The rule authenticates with this Secrets Manager secret (`credentialArn`).
    pub fn with_credential(mut self, credential_arn: impl Into<String>) -> Self {
        self.credential_arn = Some(credential_arn.into());
        self
    }

    /// The rule reaches its (ECR) upstream with this role (`customRoleArn`).
    pub fn with_custom_role(mut self, role_arn: impl Into<String>) -> Self {
        self.custom_role_arn = Some(role_arn.into());
        self
    }

    /// The upstream namespace the rule maps to (`upstreamRepositoryPrefix`).
    pub fn with_upstream_prefix(mut self, upstream_prefix: impl Into<String>) -> Self {
        self.upstream_repository_prefix = upstream_prefix.into();
        self
    }

    /// The upstream kind, when the URL does not tell (an ECR registry by its own name).
    pub fn with_upstream(mut self, upstream: UpstreamKind) -> Self {
        self.upstream = upstream;
        self
    }

    /// The registry (account) the rule belongs to.
    pub fn in_registry(mut self, registry_id: impl Into<String>) -> Self {
        self.registry_id = Some(registry_id.into());
        self
    }

    pub fn is_root(&self) -> bool {
        self.prefix == ROOT_PREFIX
    }

    /// Whether ECR authenticates to the upstream for this rule (a credential secret or a
    /// cross-account role): only such rules have something to validate.
    pub fn authenticates(&self) -> bool {
        self.credential_arn.is_some() || self.custom_role_arn.is_some()
    }

    /// Whether a repository named `repository_name` belongs to this rule's namespace.
    pub fn covers(&self, repository_name: &str) -> bool {
        self.is_root() || in_namespace(repository_name, &self.prefix)
    }
}

/// Whether a repository named `repository_name` lies in the namespace of `prefix`: only
/// `<prefix>/…`. ECR names every repository a rule creates `<prefix>/<upstream path>`, so a
/// repository named exactly like the prefix (`docker-hub`) is an application's, never the cache's.
pub fn in_namespace(repository_name: &str, prefix: &str) -> bool {
    repository_name
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'))
}

/// Whether the prefix (or profile key) `name` equals `prefix` or lies under it at a `/`
/// boundary (`docker-hub/x` is under `docker-hub`, `docker-hubx/y` is not). For repository
/// names, use [`in_namespace`].
pub fn under_prefix(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The rule a repository belongs to: the longest prefix that covers it, `ROOT` last.
pub fn rule_for_repository<'rules>(
    rules: &'rules [CacheRule],
    repository_name: &str,
) -> Option<&'rules CacheRule> {
    rules
        .iter()
        .filter(|rule| !rule.is_root() && rule.covers(repository_name))
        .max_by_key(|rule| rule.prefix.len())
        .or_else(|| rules.iter().find(|rule| rule.is_root()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    fn rule(prefix: &str) -> CacheRule {
        CacheRule::new(prefix, "registry-1.docker.io")
    }

    #[test]
    fn the_builder_sets_what_it_names() {
        let rule = CacheRule::new("base", "999999999999.dkr.ecr.eu-west-1.amazonaws.com")
            .with_credential("arn:aws:secretsmanager:eu-west-1:1:secret:ecr-pullthroughcache/x")
            .with_custom_role("arn:aws:iam::1:role/pull")
            .with_upstream_prefix("team")
            .in_registry("111122223333");
        assert_eq!(rule.upstream, UpstreamKind::Ecr, "inferred from the URL");
        assert_eq!(
            rule.credential_arn.as_deref(),
            Some("arn:aws:secretsmanager:eu-west-1:1:secret:ecr-pullthroughcache/x")
        );
        assert_eq!(
            rule.custom_role_arn.as_deref(),
            Some("arn:aws:iam::1:role/pull")
        );
        assert_eq!(rule.upstream_repository_prefix, "team");
        assert_eq!(rule.registry_id.as_deref(), Some("111122223333"));
        let quay = CacheRule::new("q", "quay.io").with_upstream(UpstreamKind::Other("x".into()));
        assert_eq!(quay.upstream, UpstreamKind::Other("x".into()));
        assert_eq!(quay.upstream_repository_prefix, ROOT_PREFIX);
    }

    /// Of the rules `docker-hub`, `docker-hub/team`, `ghcr` and ROOT, `repository` is served by
    /// the rule `expected`.
    fn check_rule_of_repository(name: &str, repository: &str, expected: Option<&str>) {
        let rules = vec![
            rule("docker-hub"),
            rule("docker-hub/team"),
            rule("ghcr"),
            rule(ROOT_PREFIX),
        ];
        assert_eq!(
            rule_for_repository(&rules, repository).map(|rule| rule.prefix.as_str()),
            expected,
            "{name}: repository {repository}"
        );
    }

    named_cases! {
        /// A repository is served by the rule with the longest prefix of its path.
        mod finds_the_rule_of_a_repository => check_rule_of_repository;
        docker_hub("docker-hub/library/nginx", Some("docker-hub")),
        longer_prefix_wins("docker-hub/team/app", Some("docker-hub/team")),
        prefix_of_a_longer_name_is_not_a_path_prefix("docker-hubx/nginx", Some(ROOT_PREFIX)),
        ghcr("ghcr/fluxcd/source-controller", Some("ghcr")),
        anything_else_goes_to_root("anything/else", Some(ROOT_PREFIX)),
        named_like_a_prefix_is_not_in_it("docker-hub", Some(ROOT_PREFIX)),
        named_like_a_longer_prefix_is_in_the_shorter("docker-hub/team", Some("docker-hub")),
    }

    fn check_in_namespace(name: &str, repository: &str, prefix: &str, expected: bool) {
        assert_eq!(
            in_namespace(repository, prefix),
            expected,
            "{name}: {repository} in {prefix}"
        );
    }

    named_cases! {
        /// A repository is in a prefix's namespace only as `<prefix>/<something>`.
        mod a_namespace_is_prefix_slash_something => check_in_namespace;
        under_it("docker-hub/library/nginx", "docker-hub", true),
        one_segment_under_it("docker-hub/x", "docker-hub", true),
        named_exactly_like_it("docker-hub", "docker-hub", false),
        only_a_slash_after_it("docker-hub/", "docker-hub", false),
        a_longer_first_segment("docker-hubx/nginx", "docker-hub", false),
        a_nested_prefix("team/app/api", "team/app", true),
        shorter_than_the_prefix("team", "team/app", false),
    }

    #[test]
    fn without_root_a_repository_may_have_no_rule() {
        let without_root = vec![rule("docker-hub")];
        assert_eq!(
            rule_for_repository(&without_root, "quay/prometheus/node-exporter"),
            None
        );
    }

    /// The upstream kind `raw` reads back as the same text.
    fn check_upstream_kind_round_trip(name: &str, raw: &str) {
        assert_eq!(UpstreamKind::from_raw(raw).as_str(), raw, "{name}");
    }

    named_cases! {
        /// Upstream kinds round-trip, unknown values included.
        mod upstream_kinds_round_trip => check_upstream_kind_round_trip;
        ecr("ecr"),
        ecr_public("ecr-public"),
        docker_hub("docker-hub"),
        github_container_registry("github-container-registry"),
        gitlab_container_registry("gitlab-container-registry"),
        k8s("k8s"),
        quay("quay"),
        azure_container_registry("azure-container-registry"),
        chainguard("chainguard"),
        unknown_value("future-registry"),
    }

    #[test]
    fn unknown_upstream_kinds_keep_their_value() {
        assert_eq!(
            UpstreamKind::from_raw("future-registry"),
            UpstreamKind::Other("future-registry".into())
        );
    }

    /// The upstream registry `url` is of the kind `expected`.
    fn check_upstream_kind_of_url(name: &str, url: &str, expected: UpstreamKind) {
        assert_eq!(
            UpstreamKind::from_upstream_url(url),
            expected,
            "{name}: url {url}"
        );
    }

    named_cases! {
        /// Upstream registry URLs tell their kind.
        mod upstream_kinds_of_urls => check_upstream_kind_of_url;
        docker_hub("registry-1.docker.io", UpstreamKind::DockerHub),
        ghcr_with_a_scheme("https://ghcr.io", UpstreamKind::GithubContainerRegistry),
        azure("myregistry.azurecr.io", UpstreamKind::AzureContainerRegistry),
        ecr(
            "210987654321.dkr.ecr.us-east-1.amazonaws.com",
            UpstreamKind::Ecr,
        ),
        docker_io("docker.io", UpstreamKind::DockerHub),
        index_docker_io("index.docker.io", UpstreamKind::DockerHub),
        ecr_public("public.ecr.aws", UpstreamKind::EcrPublic),
        gitlab("registry.gitlab.com", UpstreamKind::GitlabContainerRegistry),
        k8s("registry.k8s.io", UpstreamKind::K8s),
        quay_with_a_path("https://quay.io/prometheus", UpstreamKind::Quay),
        chainguard("cgr.dev", UpstreamKind::Chainguard),
        plain_http_scheme("http://ghcr.io", UpstreamKind::GithubContainerRegistry),
        ecr_lookalike_outside_aws("1.dkr.ecr.example.com", UpstreamKind::Other(String::new())),
        unknown_host("registry.example.com", UpstreamKind::Other(String::new())),
    }

    /// The API value `raw` is the kind `expected`: a known value never falls through to
    /// `Other` (a round trip alone cannot tell).
    fn check_upstream_kind_of_raw(name: &str, raw: &str, expected: UpstreamKind) {
        assert_eq!(UpstreamKind::from_raw(raw), expected, "{name}: {raw}");
        assert_eq!(
            expected.to_string(),
            raw,
            "{name}: displayed as the API value"
        );
    }

    named_cases! {
        /// Every `upstreamRegistry` value of the ECR API is a kind of its own.
        mod upstream_kinds_of_api_values => check_upstream_kind_of_raw;
        ecr("ecr", UpstreamKind::Ecr),
        ecr_public("ecr-public", UpstreamKind::EcrPublic),
        docker_hub("docker-hub", UpstreamKind::DockerHub),
        ghcr("github-container-registry", UpstreamKind::GithubContainerRegistry),
        gitlab("gitlab-container-registry", UpstreamKind::GitlabContainerRegistry),
        k8s("k8s", UpstreamKind::K8s),
        quay("quay", UpstreamKind::Quay),
        azure("azure-container-registry", UpstreamKind::AzureContainerRegistry),
        chainguard("chainguard", UpstreamKind::Chainguard),
    }

    /// A rule with `credential` and `role` authenticates to its upstream: `expected`.
    fn check_authenticates(name: &str, credential: bool, role: bool, expected: bool) {
        let mut rule = CacheRule::new("p", "ghcr.io");
        if credential {
            rule = rule.with_credential(
                "arn:aws:secretsmanager:eu-west-1:1:secret:ecr-pullthroughcache/p",
            );
        }
        if role {
            rule = rule.with_custom_role("arn:aws:iam::1:role/pull");
        }
        assert_eq!(rule.authenticates(), expected, "{name}");
    }

    named_cases! {
        /// Only a credential secret or a custom role makes ECR authenticate to the upstream.
        mod a_rule_authenticates_with_a_secret_or_a_role => check_authenticates;
        anonymous(false, false, false),
        with_a_secret(true, false, true),
        with_a_role(false, true, true),
        with_both(true, true, true),
    }
}
