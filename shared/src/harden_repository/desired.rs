//! What a repository should look like, and which repositories are ours to touch. Pure.

use crate::config::{HardeningConfig, Profile};
use crate::domain::{in_namespace, CacheRule, ROOT_PREFIX};

/// The tag that marks a repository as created by the pull-through cache. Hardening writes it
/// when an event proves the origin (ECR's own `CreateRepository` service event, or a sync of the
/// cache); a repository creation template can carry it too. Under an opted-in `ROOT` it is the
/// only thing that lets a repository outside every other managed prefix be written.
pub const ORIGIN_TAG_KEY: &str = "ptc-ops:origin";
pub const ORIGIN_TAG_VALUE: &str = "pull-through-cache";
/// A repository tagged `ptc-ops:managed=false` is never written, whatever its prefix: its
/// owners keep it as it is.
pub const MANAGED_TAG_KEY: &str = "ptc-ops:managed";
pub const OPTED_OUT_VALUE: &str = "false";

/// Whether this product may write to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Under a managed prefix: the cache's namespace.
    Managed,
    /// Only under the opted-in `ROOT`: managed if, and only if, the cache created it.
    IfCacheCreated,
    /// Never touched.
    NotManaged,
}

/// What is known of where a repository came from, from the event that named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// ECR's service event for a pull-through creation, or a sync of the cache.
    CacheCreated,
    /// A listing, a direct request, a creation by a person or IaC.
    Unknown,
}

/// How a `ROOT` prefix (a pull-through cache rule without a prefix, allowed for ECR-to-ECR
/// upstreams) counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RootScope {
    /// No `ROOT` anywhere.
    None,
    /// A `ROOT` rule exists, but `hardening.prefixes` does not name `ROOT`: it manages nothing,
    /// or every application repository of the registry would count as the cache's.
    RuleNotManaged,
    /// `hardening.prefixes` names `ROOT`: repositories the cache created, wherever they are.
    OptedIn,
}

/// The repositories this product may touch: those under a managed prefix, and, with `ROOT`
/// named in `hardening.prefixes`, those the pull-through cache created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPrefixes {
    /// Without `ROOT`.
    prefixes: Vec<String>,
    root: RootScope,
    /// What reports list: `prefixes`, and `ROOT` when opted in.
    shown: Vec<String>,
}

impl ManagedPrefixes {
    /// `hardening.prefixes` when set, else the prefix of every pull-through cache rule but
    /// `ROOT`, so a new rule is covered without a configuration change.
    pub fn resolve(configured: Option<&[String]>, rules: &[CacheRule]) -> Self {
        let (mut prefixes, root): (Vec<String>, RootScope) = match configured {
            Some(configured) => (
                configured.to_vec(),
                if configured.iter().any(|p| p == ROOT_PREFIX) {
                    RootScope::OptedIn
                } else {
                    RootScope::None
                },
            ),
            None => (
                rules.iter().map(|rule| rule.prefix.clone()).collect(),
                if rules.iter().any(CacheRule::is_root) {
                    RootScope::RuleNotManaged
                } else {
                    RootScope::None
                },
            ),
        };
        prefixes.retain(|prefix| prefix != ROOT_PREFIX);
        prefixes.sort();
        prefixes.dedup();
        let mut shown = prefixes.clone();
        if root == RootScope::OptedIn {
            shown.push(ROOT_PREFIX.to_owned());
        }
        ManagedPrefixes {
            prefixes,
            root,
            shown,
        }
    }

    pub fn coverage(&self, repository_name: &str) -> Coverage {
        if self
            .prefixes
            .iter()
            .any(|prefix| in_namespace(repository_name, prefix))
        {
            Coverage::Managed
        } else if self.root == RootScope::OptedIn {
            Coverage::IfCacheCreated
        } else {
            Coverage::NotManaged
        }
    }

    /// A `ROOT` rule that manages nothing because `hardening.prefixes` does not opt in.
    pub fn root_rule_not_managed(&self) -> bool {
        self.root == RootScope::RuleNotManaged
    }

    /// The managed prefixes as reports show them (`ROOT` last when opted in).
    pub fn as_slice(&self) -> &[String] {
        &self.shown
    }
}

/// Whether the repository's owners opted it out (`ptc-ops:managed=false`, the value compared
/// without regard to case, as people write it).
pub fn opted_out(tags: &std::collections::BTreeMap<String, String>) -> bool {
    tags.get(MANAGED_TAG_KEY)
        .is_some_and(|value| value.trim().eq_ignore_ascii_case(OPTED_OUT_VALUE))
}

/// Whether tags prove that the cache created a repository.
pub fn tagged_as_cache_created(tags: &std::collections::BTreeMap<String, String>) -> bool {
    tags.get(ORIGIN_TAG_KEY).map(String::as_str) == Some(ORIGIN_TAG_VALUE)
}

/// The profile a repository gets (longest matching profile prefix, else `hardening.default`).
#[derive(Debug, Clone, Copy)]
pub struct Desired<'c> {
    /// The `[hardening.profiles."<prefix>"]` that matched; `None` for the default profile.
    pub profile_prefix: Option<&'c str>,
    pub profile: &'c Profile,
    /// Keep the [`ORIGIN_TAG_KEY`] tag on the repository (it is ours only because the cache
    /// created it).
    pub mark_origin: bool,
}

/// What must be read besides `DescribeRepositories` to compare a repository with its profile.
/// Settings the profile leaves unset are not managed, so they are not read either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    pub lifecycle_policy: bool,
    pub tags: bool,
    pub repository_policy: bool,
    /// The effective scanning, when the profile manages `scan_on_push` (read in batches by a
    /// sweep, or proved by a registry filter without a read).
    pub scanning: bool,
}

impl<'c> Desired<'c> {
    pub fn for_repository(config: &'c HardeningConfig, repository_name: &str) -> Self {
        let (profile_prefix, profile) = config.profile_for(repository_name);
        Desired {
            profile_prefix,
            profile,
            mark_origin: false,
        }
    }

    /// The same, keeping the origin tag on the repository.
    pub fn marking_origin(self) -> Self {
        Desired {
            mark_origin: true,
            ..self
        }
    }

    /// The tags the repository must carry: the profile's, and the origin tag when marked.
    pub fn tags(&self) -> Option<std::collections::BTreeMap<String, String>> {
        let mut tags = self.profile.tags.clone().unwrap_or_default();
        if self.mark_origin {
            tags.insert(ORIGIN_TAG_KEY.to_owned(), ORIGIN_TAG_VALUE.to_owned());
        }
        (!tags.is_empty()).then_some(tags)
    }

    /// The profile's name in reports: its prefix, or `default`.
    pub fn profile_name(&self) -> &'c str {
        self.profile_prefix.unwrap_or("default")
    }

    /// The repository policy is read when the profile manages it, and also when the profile
    /// forbids public access (`allow_public = false`, the default): a policy someone opened to
    /// the world by hand is then reported even though the profile sets no policy to replace it.
    pub fn reads(&self) -> Reads {
        Reads {
            lifecycle_policy: self.profile.lifecycle_policy.is_some(),
            tags: self.tags().is_some(),
            repository_policy: self.profile.repository_policy.is_some()
                || !self.profile.allow_public,
            scanning: self.profile.scan_on_push.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;

    fn rule(prefix: &str) -> CacheRule {
        CacheRule::new(prefix, "registry-1.docker.io")
    }

    fn check(
        case: &str,
        configured: Option<&[&str]>,
        rules: &[&str],
        name: &str,
        expected: Coverage,
    ) {
        let configured: Option<Vec<String>> =
            configured.map(|list| list.iter().map(|p| (*p).to_owned()).collect());
        let rules: Vec<CacheRule> = rules.iter().map(|prefix| rule(prefix)).collect();
        let managed = ManagedPrefixes::resolve(configured.as_deref(), &rules);
        assert_eq!(
            managed.coverage(name),
            expected,
            "{case}: {name} with {configured:?} and rules {rules:?}"
        );
    }

    named_cases! {
        /// Managed prefixes come from the configuration or the rules: `hardening.prefixes`, rule
        /// prefixes, repository, its coverage.
        mod managed_prefixes_come_from_the_configuration_or_the_rules => check;
        configured_prefix(
            Some(&["docker-hub"]),
            &["ghcr"],
            "docker-hub/library/nginx",
            Coverage::Managed,
        ),
        configured_prefix_excludes_a_rule(
            Some(&["docker-hub"]),
            &["ghcr"],
            "ghcr/fluxcd/app",
            Coverage::NotManaged,
        ),
        rule_prefix(None, &["ghcr"], "ghcr/fluxcd/app", Coverage::Managed),
        prefix_is_a_path_segment(
            None,
            &["ghcr"],
            "ghcrx/app",
            Coverage::NotManaged,
        ),
        application_repository(
            None,
            &["ghcr"],
            "team/app",
            Coverage::NotManaged,
        ),
        // ECR names what a rule creates `<prefix>/<path>`: a repository named like the prefix is
        // an application's.
        named_exactly_like_the_prefix(
            None,
            &["docker-hub"],
            "docker-hub",
            Coverage::NotManaged,
        ),
        named_like_a_configured_prefix(
            Some(&["docker-hub"]),
            &[],
            "docker-hub",
            Coverage::NotManaged,
        ),
        prefix_with_a_trailing_slash_only(
            None,
            &["docker-hub"],
            "docker-hub/",
            Coverage::NotManaged,
        ),
        no_rules(None, &[], "ghcr/fluxcd/app", Coverage::NotManaged),
        a_root_rule_alone_manages_nothing(
            None,
            &["ROOT"],
            "team/payments-api",
            Coverage::NotManaged,
        ),
        a_root_rule_beside_others(
            None,
            &["ROOT", "ghcr"],
            "ghcr/fluxcd/app",
            Coverage::Managed,
        ),
        a_root_rule_does_not_widen(
            None,
            &["ROOT", "ghcr"],
            "team/app",
            Coverage::NotManaged,
        ),
        root_opted_in(
            Some(&["ROOT"]),
            &[],
            "team/payments-api",
            Coverage::IfCacheCreated,
        ),
        root_opted_in_explicit_prefix_wins(
            Some(&["ROOT", "ghcr"]),
            &["ROOT"],
            "ghcr/app",
            Coverage::Managed,
        ),
        root_opted_in_elsewhere(
            Some(&["ROOT", "ghcr"]),
            &["ROOT"],
            "base/app",
            Coverage::IfCacheCreated,
        ),
    }

    #[test]
    fn reports_show_root_only_when_opted_in() {
        let rules = [rule("ROOT"), rule("ghcr")];
        let by_rules = ManagedPrefixes::resolve(None, &rules);
        assert_eq!(by_rules.as_slice(), ["ghcr"]);
        assert!(by_rules.root_rule_not_managed());
        let opted_in = ManagedPrefixes::resolve(Some(&["ROOT".to_owned()]), &rules);
        assert_eq!(opted_in.as_slice(), ["ROOT"]);
        assert!(!opted_in.root_rule_not_managed());
    }

    #[test]
    fn only_the_origin_tag_proves_the_cache_created_it() {
        let tag = |key: &str, value: &str| {
            std::collections::BTreeMap::from([(key.to_owned(), value.to_owned())])
        };
        assert!(tagged_as_cache_created(&tag(
            ORIGIN_TAG_KEY,
            ORIGIN_TAG_VALUE
        )));
        assert!(!tagged_as_cache_created(&tag(ORIGIN_TAG_KEY, "team")));
        assert!(!tagged_as_cache_created(&tag("managed-by", "ecr-ptc-ops")));
        assert!(!tagged_as_cache_created(&std::collections::BTreeMap::new()));
    }
}
