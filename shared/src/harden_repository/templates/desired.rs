//! Which templates the product keeps, and the profile each one carries. Pure.

use crate::config::{HardeningConfig, Profile};
use crate::domain::{under_prefix, ROOT_PREFIX};
use crate::harden_repository::desired::ManagedPrefixes;

/// One template the product keeps: its prefix and the profile repositories created under it get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DesiredTemplate<'c> {
    pub prefix: &'c str,
    /// The `[hardening.profiles."<prefix>"]` that applies; `None` for the default profile.
    pub profile_prefix: Option<&'c str>,
    pub profile: &'c Profile,
}

impl DesiredTemplate<'_> {
    /// The profile's name in reports: its prefix, or `default`.
    pub fn profile_name(&self) -> &str {
        self.profile_prefix.unwrap_or("default")
    }
}

/// One template per managed prefix, and one per profile prefix below a managed prefix (ECR
/// picks the most specific template, as hardening picks the most specific profile). Never
/// `ROOT`: a `ROOT` template applies to every repository the cache creates outside the other
/// templates, application namespaces included.
pub fn desired_templates<'c>(
    config: &'c HardeningConfig,
    managed: &'c ManagedPrefixes,
) -> Vec<DesiredTemplate<'c>> {
    let managed_prefixes: Vec<&str> = managed
        .as_slice()
        .iter()
        .map(String::as_str)
        .filter(|prefix| *prefix != ROOT_PREFIX)
        .collect();
    let mut prefixes: Vec<&'c str> = managed_prefixes.clone();
    for profile_prefix in config.profiles.keys() {
        if managed_prefixes
            .iter()
            .any(|managed| under_prefix(profile_prefix, managed))
        {
            prefixes.push(profile_prefix);
        }
    }
    prefixes.sort_unstable();
    prefixes.dedup();
    prefixes
        .into_iter()
        .map(|prefix| {
            let (profile_prefix, profile) = config.profile_for(prefix);
            DesiredTemplate {
                prefix,
                profile_prefix,
                profile,
            }
        })
        .collect()
}
