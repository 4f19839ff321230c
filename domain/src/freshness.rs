//! Whether a cached tag is behind its upstream, and what may be done about it. Pure.

use serde::{Deserialize, Serialize};

use super::rule::{in_namespace, ROOT_PREFIX};

/// What the pre-warmer does with a cached mutable tag whose upstream moved
/// (`prewarm.refresh`, or an event's `"refresh"`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RefreshMode {
    /// The upstream is not asked.
    Never,
    /// The upstream's digest is read and compared: a tag behind it is reported `stale`.
    #[default]
    Report,
    /// A stale tag is deleted from the cache and pulled through again: `refreshed`.
    Stale,
}

impl RefreshMode {
    /// The spellings the configuration and events accept.
    pub const CHOICES: [(&'static str, RefreshMode); 3] = [
        ("never", RefreshMode::Never),
        ("report", RefreshMode::Report),
        ("stale", RefreshMode::Stale),
    ];
}

/// How a cached tag compares with its upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Same digest upstream.
    Current,
    /// The upstream tag now names `upstream`.
    Behind { upstream: String },
    /// The upstream answered without a digest to compare.
    Unknown,
}

/// Compares the cached digest with the one the upstream's `HEAD` gave. Only equal digests are
/// current; a missing side is never taken as stale (a deletion must rest on a real difference).
pub fn compare(cached: Option<&str>, upstream: Option<&str>) -> Freshness {
    match (cached, upstream) {
        (Some(cached), Some(upstream)) if cached == upstream => Freshness::Current,
        (Some(_), Some(upstream)) => Freshness::Behind {
            upstream: upstream.to_owned(),
        },
        _ => Freshness::Unknown,
    }
}

/// Why a cached tag may not be deleted to refresh it, if it may not: the pre-warmer deletes only
/// a tag (never a digest pin) in a cache repository under a managed prefix. `managed` is
/// `hardening.prefixes` (`None`: every rule prefix but `ROOT`).
pub fn refusal_to_refresh(
    rule_prefix: &str,
    repository: &str,
    pins_digest: bool,
    managed: Option<&[String]>,
) -> Option<String> {
    if pins_digest {
        return Some("the reference pins a digest: a pinned image is never refreshed".to_owned());
    }
    let is_managed = match managed {
        Some(prefixes) => prefixes.iter().any(|prefix| prefix == rule_prefix),
        None => rule_prefix != ROOT_PREFIX,
    };
    let in_rule = rule_prefix == ROOT_PREFIX || in_namespace(repository, rule_prefix);
    if !is_managed || !in_rule {
        return Some(format!(
            "`{repository}` is not under a managed prefix (`hardening.prefixes`): nothing outside them is deleted"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    const OLD: &str = "sha256:aaaa";
    const NEW: &str = "sha256:bbbb";

    fn check_compare(
        name: &str,
        cached: Option<&str>,
        upstream: Option<&str>,
        expected: Freshness,
    ) {
        assert_eq!(compare(cached, upstream), expected, "{name}");
    }

    named_cases! {
        /// Only two digests that differ make a tag stale.
        mod cached_tags_compare_with_upstream => check_compare;
        same(Some(OLD), Some(OLD), Freshness::Current),
        moved(Some(OLD), Some(NEW), Freshness::Behind { upstream: NEW.to_owned() }),
        upstream_without_digest(Some(OLD), None, Freshness::Unknown),
        cache_without_digest(None, Some(NEW), Freshness::Unknown),
    }

    fn check_refusal(
        name: &str,
        prefix: &str,
        repository: &str,
        pins: bool,
        managed: Option<Vec<String>>,
        refused: Option<&str>,
    ) {
        let outcome = refusal_to_refresh(prefix, repository, pins, managed.as_deref());
        match (outcome, refused) {
            (None, None) => {}
            (Some(message), Some(part)) => assert!(message.contains(part), "{name}: {message}"),
            (outcome, expected) => panic!("{name}: got {outcome:?}, expected {expected:?}"),
        }
    }

    named_cases! {
        /// Only a tag under a managed prefix is ever deleted.
        mod refreshes_stay_inside_the_managed_prefixes => check_refusal;
        managed_by_default("docker-hub", "docker-hub/library/nginx", false, None, None),
        listed_prefix(
            "docker-hub", "docker-hub/library/nginx", false, Some(vec!["docker-hub".to_owned()]), None,
        ),
        unlisted_prefix(
            "ghcr", "ghcr/org/app", false, Some(vec!["docker-hub".to_owned()]), Some("not under a managed prefix"),
        ),
        root_rule_by_default("ROOT", "library/nginx", false, None, Some("not under a managed prefix")),
        root_opted_in("ROOT", "library/nginx", false, Some(vec!["ROOT".to_owned()]), None),
        outside_the_namespace(
            "docker-hub", "docker-hubx/library/nginx", false, None, Some("not under a managed prefix"),
        ),
        repository_named_like_the_prefix("docker-hub", "docker-hub", false, None, Some("not under a managed prefix")),
        only_a_slash_after_the_prefix("docker-hub", "docker-hub/", false, None, Some("not under a managed prefix")),
        digest_pin("docker-hub", "docker-hub/library/nginx", true, None, Some("pins a digest")),
    }
}
