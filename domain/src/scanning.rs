//! Image scanning as ECR configures it: the registry scanning configuration (scan type and up to
//! two rules of wildcard repository filters) and the effective scanning of one repository. Pure.
//!
//! Sources: ECR API reference, `PutRegistryScanningConfiguration`
//! (<https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutRegistryScanningConfiguration.html>:
//! 0 to 2 rules), `RegistryScanningRule` (up to 100 filters per rule),
//! `ScanningRepositoryFilter`
//! (<https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ScanningRepositoryFilter.html>:
//! pattern, 1 to 255 characters, `WILDCARD` only); ECR user guide, image-scanning-enhanced-enabling.html
//! (<https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-enhanced-enabling.html>:
//! "Filters with no wildcard will match all repository names that contain the filter. Filters
//! with wildcards (*) match on a repository name where the wildcard replaces zero or more
//! characters in the repository name").

use serde::Serialize;

use super::wildcard::Wildcards;

/// `scanType` `BASIC`: ECR's own scanning, on push or by hand.
pub const BASIC: &str = "BASIC";
/// `scanType` `ENHANCED`: Amazon Inspector, on push or continuously.
pub const ENHANCED: &str = "ENHANCED";
pub const SCAN_ON_PUSH: &str = "SCAN_ON_PUSH";
pub const CONTINUOUS_SCAN: &str = "CONTINUOUS_SCAN";
pub const MANUAL: &str = "MANUAL";
/// Rules a registry scanning configuration holds at most.
pub const MAX_SCANNING_RULES: usize = 2;
/// Filters one rule holds at most.
pub const MAX_FILTERS_PER_RULE: usize = 100;
/// Longest filter ECR accepts.
pub const MAX_FILTER_LENGTH: usize = 255;

/// The scan type a configuration may set (`hardening.registry_scan_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ScanType {
    #[serde(rename = "BASIC")]
    Basic,
    #[serde(rename = "ENHANCED")]
    Enhanced,
}

impl ScanType {
    pub const ALL: [ScanType; 2] = [ScanType::Basic, ScanType::Enhanced];

    pub fn as_str(self) -> &'static str {
        match self {
            ScanType::Basic => BASIC,
            ScanType::Enhanced => ENHANCED,
        }
    }
}

/// One rule: a frequency and the filters it applies to. Values are kept as ECR spells them, so
/// a rule this product does not write is written back exactly as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ScanningRule {
    #[serde(rename = "scanFrequency")]
    pub frequency: String,
    /// The `filter` of each `WILDCARD` repository filter, in ECR's order.
    #[serde(rename = "repositoryFilters", serialize_with = "wildcard_filters")]
    #[schemars(with = "Vec<WildcardFilter>")]
    pub filters: Vec<String>,
}

/// A repository filter as ECR's API and the report write it (the schema of `filters`).
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct WildcardFilter {
    filter: String,
    /// Always `WILDCARD`.
    #[serde(rename = "filterType")]
    filter_type: String,
}

fn wildcard_filters<S: serde::Serializer>(
    filters: &[String],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(filters.len()))?;
    for filter in filters {
        seq.serialize_element(&serde_json::json!({"filter": filter, "filterType": "WILDCARD"}))?;
    }
    seq.end()
}

impl ScanningRule {
    pub fn new(frequency: &str, filters: &[&str]) -> Self {
        ScanningRule {
            frequency: frequency.to_owned(),
            filters: filters.iter().map(|filter| (*filter).to_owned()).collect(),
        }
    }

    /// Whether images pushed to a repository this rule applies to are scanned on push
    /// (continuous scanning scans on push too).
    pub fn scans_on_push(&self) -> bool {
        self.frequency == SCAN_ON_PUSH || self.frequency == CONTINUOUS_SCAN
    }
}

/// The registry scanning configuration (`GetRegistryScanningConfiguration`). A registry that
/// never set one answers `BASIC` without rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RegistryScanning {
    #[serde(rename = "scanType")]
    pub scan_type: String,
    pub rules: Vec<ScanningRule>,
}

impl RegistryScanning {
    /// What a registry without a configuration has.
    pub fn unset() -> Self {
        RegistryScanning {
            scan_type: BASIC.to_owned(),
            rules: Vec::new(),
        }
    }

    /// The filters of rules that scan on push which match `repository_name`; empty when the
    /// registry configuration does not scan it on push.
    pub fn scanning_on_push(&self, repository_name: &str) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|rule| rule.scans_on_push())
            .flat_map(|rule| rule.filters.iter())
            .filter(|filter| filter_matches(filter, repository_name))
            .map(String::as_str)
            .collect()
    }

    /// The first filter of a rule that scans on push covering every name `filter` matches.
    pub fn covering(&self, filter: &str) -> Option<&str> {
        self.rules
            .iter()
            .filter(|rule| rule.scans_on_push())
            .flat_map(|rule| rule.filters.iter())
            .find(|general| filter_covers(general, filter))
            .map(String::as_str)
    }

    /// Every filter with its rule's frequency (`SCAN_ON_PUSH docker-hub/*`), sorted, each once:
    /// what two configurations are compared by when saying how they differ.
    pub fn filter_entries(&self) -> Vec<String> {
        let mut entries: Vec<String> = self
            .rules
            .iter()
            .flat_map(|rule| {
                rule.filters
                    .iter()
                    .map(move |filter| format!("{} {filter}", rule.frequency))
            })
            .collect();
        entries.sort();
        entries.dedup();
        entries
    }

    /// Same scan type and, rule by rule, the same frequency and the same set of filters (order
    /// and repeats aside): ECR applies filters as a set.
    pub fn same_as(&self, other: &RegistryScanning) -> bool {
        fn normalized(configuration: &RegistryScanning) -> Vec<(String, Vec<String>)> {
            let mut rules: Vec<(String, Vec<String>)> = configuration
                .rules
                .iter()
                .map(|rule| {
                    let mut filters = rule.filters.clone();
                    filters.sort();
                    filters.dedup();
                    (rule.frequency.clone(), filters)
                })
                .collect();
            rules.sort();
            rules
        }
        self.scan_type == other.scan_type && normalized(self) == normalized(other)
    }
}

/// What `BatchGetRepositoryScanningConfiguration` says of one repository, or what the registry
/// configuration proves of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveScanning {
    pub scan_on_push: bool,
    pub scan_frequency: String,
    /// The registry filters that apply; empty when none does.
    pub applied_filters: Vec<String>,
}

impl EffectiveScanning {
    /// What a matching registry rule gives a repository: `None` when no rule that scans on
    /// push matches it. Continuous scanning wins when both match (it scans on push as well).
    pub fn from_registry(configuration: &RegistryScanning, repository_name: &str) -> Option<Self> {
        let matched = |frequency: &str| -> Vec<String> {
            configuration
                .rules
                .iter()
                .filter(|rule| rule.frequency == frequency)
                .flat_map(|rule| rule.filters.iter())
                .filter(|filter| filter_matches(filter, repository_name))
                .cloned()
                .collect()
        };
        [CONTINUOUS_SCAN, SCAN_ON_PUSH]
            .into_iter()
            .map(|frequency| (frequency, matched(frequency)))
            .find(|(_, filters)| !filters.is_empty())
            .map(|(frequency, applied_filters)| EffectiveScanning {
                scan_on_push: frequency == SCAN_ON_PUSH,
                scan_frequency: frequency.to_owned(),
                applied_filters,
            })
    }

    /// Images pushed (or pulled through the cache) are scanned as they arrive.
    pub fn scanned_on_push(&self) -> bool {
        self.scan_on_push
            || self.scan_frequency == SCAN_ON_PUSH
            || self.scan_frequency == CONTINUOUS_SCAN
    }

    /// A registry filter decides this repository's scanning (not its own deprecated flag).
    pub fn by_registry(&self) -> bool {
        !self.applied_filters.is_empty()
    }
}

/// Whether a registry filter matches a repository name: without `*`, any name containing the
/// filter; with it, the whole name, each `*` standing for zero or more characters (`/`
/// included) and every other character for itself.
pub fn filter_matches(filter: &str, repository_name: &str) -> bool {
    if !filter.contains('*') {
        return repository_name.contains(filter);
    }
    Wildcards::STAR.matches(filter, repository_name)
}

/// Whether every name `specific` matches is matched by `general` too. Sound, not complete: a
/// `true` is always right (so a prefix is never wrongly taken as covered); a rare `false` for
/// an exotic pair only costs a redundant filter.
pub fn filter_covers(general: &str, specific: &str) -> bool {
    // A filter without `*` means "contains": `*filter*`.
    let as_pattern = |filter: &str| -> String {
        if filter.contains('*') {
            filter.to_owned()
        } else {
            format!("*{filter}*")
        }
    };
    Wildcards::STAR.covers(&as_pattern(general), &as_pattern(specific))
}

/// Whether ECR would take `filter` (`ScanningRepositoryFilter.filter`): 1 to 255 characters of
/// `^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`.
pub fn valid_filter(filter: &str) -> bool {
    let bytes = filter.as_bytes();
    let word = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'*';
    let separator = |c: u8| matches!(c, b'.' | b'_' | b'-' | b'/');
    if bytes.is_empty() || bytes.len() > MAX_FILTER_LENGTH || !word(bytes[0]) {
        return false;
    }
    // After the first character: groups of an optional separator then one or more word
    // characters, so a separator never ends the filter nor follows another one.
    let mut previous_separator = false;
    for &c in &bytes[1..] {
        if separator(c) {
            if previous_separator {
                return false;
            }
            previous_separator = true;
        } else if word(c) {
            previous_separator = false;
        } else {
            return false;
        }
    }
    !previous_separator
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    /// Filters match as ECR documents: filter, repository name, whether it matches.
    fn check_match(case: &str, filter: &str, name: &str, expected: bool) {
        assert_eq!(filter_matches(filter, name), expected, "{case}");
    }

    named_cases! {
        /// Filters match as ECR documents: filter, repository name, whether it matches.
        mod filters_match_as_ecr_documents => check_match;
        prefix_wildcard(
            "docker-hub/*",
            "docker-hub/library/nginx",
            true,
        ),
        wildcard_crosses(
            "docker-hub*",
            "docker-hub/library/nginx",
            true,
        ),
        prefix_is_a_path_segment(
            "docker-hub/*",
            "docker-hubby/x",
            false,
        ),
        the_prefix_alone("docker-hub/*", "docker-hub", false),
        no_wildcard_contains(
            "hub",
            "docker-hub/library/nginx",
            true,
        ),
        no_wildcard_not_contained(
            "quay",
            "docker-hub/library/nginx",
            false,
        ),
        everything("*", "any/name", true),
        inner_wildcard("ghcr/*/app", "ghcr/team/x/app", true),
        inner_wildcard_wrong_end(
            "ghcr/*/app",
            "ghcr/team/apps",
            false,
        ),
        exact_with_wildcard("app*", "app", true),
    }

    /// A filter covers another only when every name of it matches: general, specific, covers.
    fn check_covers(case: &str, general: &str, specific: &str, expected: bool) {
        assert_eq!(filter_covers(general, specific), expected, "{case}");
    }

    named_cases! {
        /// A filter covers another only when every name of it matches: general, specific, covers.
        mod a_filter_covers_another_only_when_every_name_of_it_matches => check_covers;
        same("docker-hub/*", "docker-hub/*", true),
        everything("*", "docker-hub/*", true),
        shorter_prefix("docker*", "docker-hub/*", true),
        parent_prefix("ghcr/*", "ghcr/fluxcd/*", true),
        narrower_does_not_cover("ghcr/fluxcd/*", "ghcr/*", false),
        sibling("quay/*", "docker-hub/*", false),
        contains_covers_its_prefix("hub", "docker-hub/*", true),
        contains_elsewhere("lib", "docker-hub/*", false),
        exact_name_is_not_a_prefix(
            "docker-hub/nginx",
            "docker-hub/*",
            false,
        ),
        wildcard_in_the_middle("docker-*/*", "docker-hub/*", true),
        suffix_wildcard("*/nginx", "docker-hub/*", false),
    }

    /// `filter` follows ECR's pattern for scanning filters, or not.
    fn check_filter(name: &str, filter: &str, valid: bool) {
        assert_eq!(valid_filter(filter), valid, "{name}: {filter}");
    }

    named_cases! {
        /// Scanning filters follow ECR's pattern.
        mod filters_follow_ecr_pattern => check_filter;
        prefix_wildcard("docker-hub/*", true),
        lone_wildcard("*", true),
        one_character("a", true),
        nested_prefix_wildcard("ghcr/fluxcd/*", true),
        dots_underscores_and_dashes("a.b_c-d/e*", true),
        empty("", false),
        upper_case("Docker/*", false),
        empty_path_segment("a//b", false),
        trailing_slash("a/", false),
        leading_dash("-a", false),
        space("a b", false),
        longer_than_255_characters(&"a".repeat(256), false),
    }

    #[test]
    fn the_registry_configuration_proves_scan_on_push() {
        let configuration = RegistryScanning {
            scan_type: ENHANCED.to_owned(),
            rules: vec![
                ScanningRule::new(SCAN_ON_PUSH, &["docker-hub/*"]),
                ScanningRule::new(CONTINUOUS_SCAN, &["docker-hub/library/*"]),
            ],
        };
        let nginx = EffectiveScanning::from_registry(&configuration, "docker-hub/library/nginx")
            .expect("covered");
        assert_eq!(nginx.scan_frequency, CONTINUOUS_SCAN);
        assert!(nginx.scanned_on_push());
        let app = EffectiveScanning::from_registry(&configuration, "docker-hub/team/app")
            .expect("covered");
        assert_eq!(app.scan_frequency, SCAN_ON_PUSH);
        assert_eq!(app.applied_filters, ["docker-hub/*"]);
        assert_eq!(
            EffectiveScanning::from_registry(&configuration, "ghcr/app"),
            None
        );
        assert!(configuration.same_as(&RegistryScanning {
            scan_type: ENHANCED.to_owned(),
            rules: vec![
                ScanningRule::new(CONTINUOUS_SCAN, &["docker-hub/library/*"]),
                ScanningRule::new(SCAN_ON_PUSH, &["docker-hub/*", "docker-hub/*"]),
            ],
        }));
    }
}
