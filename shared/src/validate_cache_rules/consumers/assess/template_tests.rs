use super::*;
use crate::domain::{CreationTemplate, APPLIED_FOR_PULL_THROUGH_CACHE};
use crate::test_cases::named_cases;

fn template(prefix: &str, applied_for: &str) -> CreationTemplate {
    CreationTemplate {
        applied_for: vec![applied_for.to_owned()],
        ..CreationTemplate::empty(prefix)
    }
}

/// Templates for the cache at `ROOT`, `ghcr` and `ghcr/team`, and one for replication.
fn with_root() -> Vec<CreationTemplate> {
    vec![
        template("ROOT", APPLIED_FOR_PULL_THROUGH_CACHE),
        template("ghcr", APPLIED_FOR_PULL_THROUGH_CACHE),
        template("ghcr/team", APPLIED_FOR_PULL_THROUGH_CACHE),
        template("quay", "REPLICATION"),
    ]
}

/// One template for the cache, at `ghcr`.
fn without_root() -> Vec<CreationTemplate> {
    vec![template("ghcr", APPLIED_FOR_PULL_THROUGH_CACHE)]
}

/// The template governing `prefix` among `templates` is the one at `expected`.
fn check_governing(
    name: &str,
    templates: Vec<CreationTemplate>,
    prefix: &str,
    expected: Option<&str>,
) {
    assert_eq!(
        governing_template(&templates, prefix).map(|template| template.prefix.as_str()),
        expected,
        "{name}"
    );
}

named_cases! {
    /// The most specific template for the cache governs a prefix.
    mod the_most_specific_template_for_the_cache_governs_a_prefix => check_governing;
    its_own_template(with_root(), "ghcr", Some("ghcr")),
    a_deeper_template(
        with_root(),
        "ghcr/team",
        Some("ghcr/team"),
    ),
    a_prefix_below_a_template(
        with_root(),
        "ghcr/team/app",
        Some("ghcr/team"),
    ),
    not_at_a_boundary(
        with_root(),
        "ghcr/teamx",
        Some("ghcr"),
    ),
    a_template_not_for_the_cache(
        with_root(),
        "quay",
        Some("ROOT"),
    ),
    root_last(with_root(), "docker-hub", Some("ROOT")),
    none(without_root(), "docker-hub", None),
}
