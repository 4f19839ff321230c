//! What a repository should look like, and which repositories are ours to touch. Pure.

use crate::config::{HardeningConfig, Profile};
use crate::domain::{under_prefix, CacheRule, ROOT_PREFIX};

/// The repositories this product may touch: those under a managed prefix. A `ROOT` prefix (a
/// pull-through cache rule without a prefix) covers every repository of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPrefixes {
    prefixes: Vec<String>,
}

impl ManagedPrefixes {
    /// `hardening.prefixes` when set, else the prefix of every pull-through cache rule, so a new
    /// rule is covered without a configuration change.
    pub fn resolve(configured: Option<&[String]>, rules: &[CacheRule]) -> Self {
        let mut prefixes: Vec<String> = match configured {
            Some(configured) => configured.to_vec(),
            None => rules.iter().map(|rule| rule.prefix.clone()).collect(),
        };
        prefixes.sort();
        prefixes.dedup();
        ManagedPrefixes { prefixes }
    }

    pub fn covers(&self, repository_name: &str) -> bool {
        self.prefixes
            .iter()
            .any(|prefix| prefix == ROOT_PREFIX || under_prefix(repository_name, prefix))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.prefixes
    }
}

/// The profile a repository gets (longest matching profile prefix, else `hardening.default`).
#[derive(Debug, Clone, Copy)]
pub struct Desired<'c> {
    /// The `[hardening.profiles."<prefix>"]` that matched; `None` for the default profile.
    pub profile_prefix: Option<&'c str>,
    pub profile: &'c Profile,
}

/// What must be read besides `DescribeRepositories` to compare a repository with its profile.
/// Settings the profile leaves unset are not managed, so they are not read either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    pub lifecycle_policy: bool,
    pub tags: bool,
    pub repository_policy: bool,
}

impl<'c> Desired<'c> {
    pub fn for_repository(config: &'c HardeningConfig, repository_name: &str) -> Self {
        let (profile_prefix, profile) = config.profile_for(repository_name);
        Desired {
            profile_prefix,
            profile,
        }
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
            tags: self
                .profile
                .tags
                .as_ref()
                .is_some_and(|tags| !tags.is_empty()),
            repository_policy: self.profile.repository_policy.is_some()
                || !self.profile.allow_public,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str) -> CacheRule {
        CacheRule::new(prefix, "registry-1.docker.io")
    }

    fn check(configured: Option<&[&str]>, rules: &[&str], name: &str, expected: bool) {
        let configured: Option<Vec<String>> =
            configured.map(|list| list.iter().map(|p| (*p).to_owned()).collect());
        let rules: Vec<CacheRule> = rules.iter().map(|prefix| rule(prefix)).collect();
        let managed = ManagedPrefixes::resolve(configured.as_deref(), &rules);
        assert_eq!(
            managed.covers(name),
            expected,
            "{name} with {configured:?} and rules {rules:?}"
        );
    }

    #[test]
    fn managed_prefixes_come_from_the_configuration_or_the_rules() {
        check(
            Some(&["docker-hub"]),
            &["ghcr"],
            "docker-hub/library/nginx",
            true,
        );
        check(Some(&["docker-hub"]), &["ghcr"], "ghcr/fluxcd/app", false);
        check(None, &["ghcr"], "ghcr/fluxcd/app", true);
        check(None, &["ghcr"], "ghcrx/app", false);
        check(None, &["ghcr"], "team/app", false);
        check(None, &[], "ghcr/fluxcd/app", false);
        check(None, &["ROOT"], "team/app", true);
        check(Some(&["ROOT"]), &[], "anything", true);
    }
}
