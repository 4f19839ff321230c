//! The registry scanning configuration the profiles ask for, merged into the one the registry
//! has. Pure: no I/O.
//!
//! A profile with `scan_on_push = true` wants its prefix scanned on push: the filter
//! `<prefix>/*` in a `SCAN_ON_PUSH` rule. The merge only ever adds: a prefix already covered by
//! any filter of a rule that scans on push (`*`, `docker*`, `docker-hub/*`, a continuous rule)
//! adds nothing; a missing filter joins the registry's `SCAN_ON_PUSH` rule, or a new rule when
//! the registry has room for one. Foreign rules and filters are kept exactly, and the scan type
//! changes only when `hardening.registry_scan_type` asks for another one that the kept rules
//! allow.

use serde::Serialize;

use crate::config::HardeningConfig;
use crate::domain::scanning::{
    valid_filter, RegistryScanning, ScanType, ScanningRule, BASIC, CONTINUOUS_SCAN,
    MAX_FILTERS_PER_RULE, MAX_SCANNING_RULES, SCAN_ON_PUSH,
};
use crate::domain::{under_prefix as is_under_prefix, ROOT_PREFIX};
use crate::harden_repository::desired::ManagedPrefixes;

/// A prefix whose repositories must be scanned on push, and the filter that says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wanted {
    pub prefix: String,
    /// The profile that asks for it: its prefix, or `default`.
    pub profile: String,
    pub filter: String,
}

/// A profile that turns scanning off under a prefix another filter scans on push anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Overridden {
    pub prefix: String,
    pub profile: String,
    /// The filter that scans it on push.
    pub by_filter: String,
}

/// The filters the profiles want: one per managed prefix (or profile prefix below one) whose
/// profile sets `scan_on_push = true`, unless a wanted parent prefix already covers it. An
/// opted-in `ROOT` wants none: no filter can say "created by the cache".
pub fn wanted_filters(config: &HardeningConfig, managed: &ManagedPrefixes) -> Vec<Wanted> {
    let candidates = candidate_prefixes(config, managed);
    let mut wanted: Vec<Wanted> = Vec::new();
    for candidate in candidates {
        let (profile_prefix, profile) = config.profile_for(candidate);
        let covered = wanted
            .iter()
            .any(|parent| is_under_prefix(candidate, &parent.prefix));
        if profile.scan_on_push == Some(true) && !covered {
            wanted.push(Wanted {
                prefix: candidate.to_owned(),
                profile: profile_prefix.unwrap_or("default").to_owned(),
                filter: format!("{candidate}/*"),
            });
        }
    }
    wanted.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    wanted
}

/// The prefixes a filter may be wanted for: each managed prefix but `ROOT`, and each profile
/// prefix below one; shortest first, each once.
fn candidate_prefixes<'a>(
    config: &'a HardeningConfig,
    managed: &'a ManagedPrefixes,
) -> Vec<&'a str> {
    let managed: Vec<&str> = managed
        .as_slice()
        .iter()
        .map(String::as_str)
        .filter(|prefix| *prefix != ROOT_PREFIX)
        .collect();
    let mut candidates: Vec<&str> = managed.clone();
    candidates.extend(
        config
            .profiles
            .keys()
            .map(String::as_str)
            .filter(|profile| {
                managed
                    .iter()
                    .any(|prefix| is_under_prefix(profile, prefix))
            }),
    );
    candidates.sort_by_key(|prefix| (prefix.len(), *prefix));
    candidates.dedup();
    candidates
}

/// Prefixes whose profile sets `scan_on_push = false` that a filter of `configuration` scans on
/// push all the same (a wildcard cannot leave a sub-prefix out).
pub fn overridden(
    config: &HardeningConfig,
    managed: &ManagedPrefixes,
    configuration: &RegistryScanning,
) -> Vec<Overridden> {
    let mut candidates = candidate_prefixes(config, managed);
    candidates.sort();
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let (profile_prefix, profile) = config.profile_for(candidate);
            if profile.scan_on_push != Some(false) {
                return None;
            }
            let by_filter = configuration.covering(&format!("{candidate}/*"))?;
            Some(Overridden {
                prefix: candidate.to_owned(),
                profile: profile_prefix.unwrap_or("default").to_owned(),
                by_filter: by_filter.to_owned(),
            })
        })
        .collect()
}

/// What became of one wanted filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum FilterStatus {
    /// A filter of a rule that scans on push already covers the prefix.
    Covered {
        by_filter: String,
        frequency: String,
    },
    /// Joins the registry's `SCAN_ON_PUSH` rule, or the new one.
    Added,
    /// No room: the registry's rules are full, or its `SCAN_ON_PUSH` rule has 100 filters.
    NoRoom { reason: String },
}

/// Why the plan cannot do all it was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "hazard", rename_all = "kebab-case")]
pub enum Hazard {
    /// `hardening.registry_scan_type` asks for a type the registry's own rules forbid
    /// (`BASIC` with a `CONTINUOUS_SCAN` rule): the type stays.
    ScanTypeKept { configured: String, kept: String },
    /// Prefixes that could not be added (see [`FilterStatus::NoRoom`]).
    NoRoom {
        filters: Vec<String>,
        reason: String,
    },
    /// A filter ECR would refuse (a prefix longer than 253 characters).
    InvalidFilter { filter: String },
}

/// The registry scanning configuration to write, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanningPlan {
    pub observed: RegistryScanning,
    pub target: RegistryScanning,
    /// One per wanted filter, in the order of [`wanted_filters`].
    pub filters: Vec<(Wanted, FilterStatus)>,
    pub hazards: Vec<Hazard>,
}

impl ScanningPlan {
    /// Whether writing is needed: the target differs from what the registry has by meaning.
    pub fn writes(&self) -> bool {
        !self.target.same_as(&self.observed)
    }

    /// The filters the plan adds.
    pub fn added(&self) -> Vec<&str> {
        self.filters
            .iter()
            .filter(|(_, status)| *status == FilterStatus::Added)
            .map(|(wanted, _)| wanted.filter.as_str())
            .collect()
    }
}

/// Merges `wanted` into `observed`, setting `scan_type` when it is given and allowed.
pub fn plan(
    observed: &RegistryScanning,
    wanted: &[Wanted],
    scan_type: Option<ScanType>,
) -> ScanningPlan {
    let mut target = observed.clone();
    let mut hazards = Vec::new();
    if let Some(configured) = scan_type {
        let configured = configured.as_str();
        let continuous = target
            .rules
            .iter()
            .any(|rule| rule.frequency == CONTINUOUS_SCAN);
        if configured == BASIC && continuous {
            hazards.push(Hazard::ScanTypeKept {
                configured: configured.to_owned(),
                kept: target.scan_type.clone(),
            });
        } else {
            target.scan_type = configured.to_owned();
        }
    }
    let mut filters = Vec::new();
    let mut no_room: Vec<String> = Vec::new();
    let mut no_room_reason = String::new();
    for wanted in wanted {
        if !valid_filter(&wanted.filter) {
            hazards.push(Hazard::InvalidFilter {
                filter: wanted.filter.clone(),
            });
            filters.push((
                wanted.clone(),
                FilterStatus::NoRoom {
                    reason: "ECR refuses the filter".to_owned(),
                },
            ));
            continue;
        }
        if let Some((by_filter, frequency)) = covering_rule(&target, &wanted.filter) {
            filters.push((
                wanted.clone(),
                FilterStatus::Covered {
                    by_filter,
                    frequency,
                },
            ));
            continue;
        }
        let status = match target
            .rules
            .iter()
            .position(|rule| rule.frequency == SCAN_ON_PUSH)
        {
            Some(index) if target.rules[index].filters.len() < MAX_FILTERS_PER_RULE => {
                target.rules[index].filters.push(wanted.filter.clone());
                FilterStatus::Added
            }
            Some(_) => FilterStatus::NoRoom {
                reason: format!(
                    "the registry's `SCAN_ON_PUSH` rule already has {MAX_FILTERS_PER_RULE} filters, ECR's limit"
                ),
            },
            None if target.rules.len() < MAX_SCANNING_RULES => {
                target
                    .rules
                    .push(ScanningRule::new(SCAN_ON_PUSH, &[&wanted.filter]));
                FilterStatus::Added
            }
            None => FilterStatus::NoRoom {
                reason: format!(
                    "the registry already has {MAX_SCANNING_RULES} scanning rules, ECR's limit, and none of them is `SCAN_ON_PUSH`"
                ),
            },
        };
        if let FilterStatus::NoRoom { reason } = &status {
            no_room.push(wanted.filter.clone());
            no_room_reason = reason.clone();
        }
        filters.push((wanted.clone(), status));
    }
    if !no_room.is_empty() {
        hazards.push(Hazard::NoRoom {
            filters: no_room,
            reason: no_room_reason,
        });
    }
    ScanningPlan {
        observed: observed.clone(),
        target,
        filters,
        hazards,
    }
}

/// The filter (and its rule's frequency) that covers `filter` in a rule scanning on push.
/// Under `BASIC`, only `SCAN_ON_PUSH` rules count (ECR refuses continuous ones there).
fn covering_rule(configuration: &RegistryScanning, filter: &str) -> Option<(String, String)> {
    configuration
        .rules
        .iter()
        .filter(|rule| {
            rule.frequency == SCAN_ON_PUSH
                || (rule.frequency == CONTINUOUS_SCAN && configuration.scan_type != BASIC)
        })
        .find_map(|rule| {
            rule.filters
                .iter()
                .find(|general| crate::domain::scanning::filter_covers(general, filter))
                .map(|general| (general.clone(), rule.frequency.clone()))
        })
}

/// The `aws` command that writes `configuration`, for a finding's next step.
pub fn put_command(configuration: &RegistryScanning) -> String {
    let rules = serde_json::to_string(&configuration.rules).unwrap_or_default();
    format!(
        "aws ecr put-registry-scanning-configuration --scan-type {} --rules '{rules}'",
        configuration.scan_type
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::scanning::ENHANCED;
    use crate::test_cases::named_cases;

    fn wanted(prefixes: &[&str]) -> Vec<Wanted> {
        prefixes
            .iter()
            .map(|prefix| Wanted {
                prefix: (*prefix).to_owned(),
                profile: "default".to_owned(),
                filter: format!("{prefix}/*"),
            })
            .collect()
    }

    fn registry(scan_type: &str, rules: &[(&str, &[&str])]) -> RegistryScanning {
        RegistryScanning {
            scan_type: scan_type.to_owned(),
            rules: rules
                .iter()
                .map(|(frequency, filters)| ScanningRule::new(frequency, filters))
                .collect(),
        }
    }

    struct Case {
        name: &'static str,
        observed: RegistryScanning,
        wanted: Vec<Wanted>,
        scan_type: Option<ScanType>,
        target: RegistryScanning,
        writes: bool,
        added: &'static [&'static str],
        hazards: usize,
    }

    /// A hundred filters, one per team.
    fn hundred_filters() -> Vec<String> {
        (0..100).map(|index| format!("team-{index}/*")).collect()
    }

    /// The plan for `case` reaches its target with the writes, additions and hazards expected, and
    /// keeps every foreign filter in its rule.
    fn check_merge(_name: &str, case: Case) {
        let planned = plan(&case.observed, &case.wanted, case.scan_type);
        assert_eq!(planned.target, case.target, "{}: target", case.name);
        assert_eq!(planned.writes(), case.writes, "{}: writes", case.name);
        assert_eq!(planned.added(), case.added, "{}: added", case.name);
        assert_eq!(
            planned.hazards.len(),
            case.hazards,
            "{}: hazards {:?}",
            case.name,
            planned.hazards
        );
        // Every foreign filter stays, in its rule.
        for rule in &case.observed.rules {
            assert!(
                planned
                    .target
                    .rules
                    .iter()
                    .any(|kept| kept.frequency == rule.frequency
                        && rule.filters.iter().all(|f| kept.filters.contains(f))),
                "{}: foreign rule {rule:?} kept",
                case.name
            );
        }
    }

    named_cases! {
        /// Plans merge into the registry configuration.
        mod plans_merge_into_the_registry_configuration => check_merge;
        no_configuration_a_new_rule(Case {
            name: "no configuration: a new rule",
            observed: RegistryScanning::unset(),
            wanted: wanted(&["docker-hub", "ghcr"]),
            scan_type: None,
            target: registry(BASIC, &[(SCAN_ON_PUSH, &["docker-hub/*", "ghcr/*"])]),
            writes: true,
            added: &["docker-hub/*", "ghcr/*"],
            hazards: 0,
        }),
        merge_with_a_foreign_scan_on_push_rule(Case {
            name: "merge with a foreign scan-on-push rule",
            observed: registry(BASIC, &[(SCAN_ON_PUSH, &["team/*"])]),
            wanted: wanted(&["docker-hub"]),
            scan_type: None,
            target: registry(BASIC, &[(SCAN_ON_PUSH, &["team/*", "docker-hub/*"])]),
            writes: true,
            added: &["docker-hub/*"],
            hazards: 0,
        }),
        foreign_continuous_rule_kept_new_scan_on_push_rule_beside_it(Case {
            name: "foreign continuous rule kept, new scan-on-push rule beside it",
            observed: registry(ENHANCED, &[(CONTINUOUS_SCAN, &["prod/*"])]),
            wanted: wanted(&["docker-hub"]),
            scan_type: None,
            target: registry(
                ENHANCED,
                &[
                    (CONTINUOUS_SCAN, &["prod/*"]),
                    (SCAN_ON_PUSH, &["docker-hub/*"]),
                ],
            ),
            writes: true,
            added: &["docker-hub/*"],
            hazards: 0,
        }),
        already_covered_zero_writes(Case {
            name: "already covered: zero writes",
            observed: registry(BASIC, &[(SCAN_ON_PUSH, &["ghcr/*", "docker-hub/*"])]),
            wanted: wanted(&["docker-hub", "ghcr"]),
            scan_type: None,
            target: registry(BASIC, &[(SCAN_ON_PUSH, &["ghcr/*", "docker-hub/*"])]),
            writes: false,
            added: &[],
            hazards: 0,
        }),
        wildcard_covers_every_prefix(Case {
            name: "wildcard `*` covers every prefix",
            observed: registry(BASIC, &[(SCAN_ON_PUSH, &["*"])]),
            wanted: wanted(&["docker-hub", "ghcr/fluxcd"]),
            scan_type: None,
            target: registry(BASIC, &[(SCAN_ON_PUSH, &["*"])]),
            writes: false,
            added: &[],
            hazards: 0,
        }),
        a_filter_without_covers_names_containing_it(Case {
            name: "a filter without `*` covers names containing it",
            observed: registry(BASIC, &[(SCAN_ON_PUSH, &["docker"])]),
            wanted: wanted(&["docker-hub", "ghcr"]),
            scan_type: None,
            target: registry(BASIC, &[(SCAN_ON_PUSH, &["docker", "ghcr/*"])]),
            writes: true,
            added: &["ghcr/*"],
            hazards: 0,
        }),
        a_narrower_filter_does_not_cover_the_prefix(Case {
            name: "a narrower filter does not cover the prefix",
            observed: registry(BASIC, &[(SCAN_ON_PUSH, &["docker-hub/library/*"])]),
            wanted: wanted(&["docker-hub"]),
            scan_type: None,
            target: registry(
                BASIC,
                &[(SCAN_ON_PUSH, &["docker-hub/library/*", "docker-hub/*"])],
            ),
            writes: true,
            added: &["docker-hub/*"],
            hazards: 0,
        }),
        continuous_scanning_covers_under_enhanced(Case {
            name: "continuous scanning covers under ENHANCED",
            observed: registry(ENHANCED, &[(CONTINUOUS_SCAN, &["*"])]),
            wanted: wanted(&["docker-hub"]),
            scan_type: None,
            target: registry(ENHANCED, &[(CONTINUOUS_SCAN, &["*"])]),
            writes: false,
            added: &[],
            hazards: 0,
        }),
        scan_type_kept_when_not_configured(Case {
            name: "scan type kept when not configured",
            observed: registry(ENHANCED, &[(SCAN_ON_PUSH, &["docker-hub/*"])]),
            wanted: wanted(&["docker-hub"]),
            scan_type: None,
            target: registry(ENHANCED, &[(SCAN_ON_PUSH, &["docker-hub/*"])]),
            writes: false,
            added: &[],
            hazards: 0,
        }),
        scan_type_changed_when_configured(Case {
            name: "scan type changed when configured",
            observed: registry(BASIC, &[(SCAN_ON_PUSH, &["docker-hub/*"])]),
            wanted: wanted(&["docker-hub"]),
            scan_type: Some(ScanType::Enhanced),
            target: registry(ENHANCED, &[(SCAN_ON_PUSH, &["docker-hub/*"])]),
            writes: true,
            added: &[],
            hazards: 0,
        }),
        basic_refused_beside_a_continuous_rule_type_kept(Case {
            name: "BASIC refused beside a continuous rule: type kept",
            observed: registry(ENHANCED, &[(CONTINUOUS_SCAN, &["prod/*"])]),
            wanted: wanted(&[]),
            scan_type: Some(ScanType::Basic),
            target: registry(ENHANCED, &[(CONTINUOUS_SCAN, &["prod/*"])]),
            writes: false,
            added: &[],
            hazards: 1,
        }),
        limit_two_rules_and_none_scans_on_push(Case {
            name: "limit: two rules and none scans on push",
            observed: registry(
                ENHANCED,
                &[
                    (CONTINUOUS_SCAN, &["prod/*"]),
                    (CONTINUOUS_SCAN, &["stage/*"]),
                ],
            ),
            wanted: wanted(&["docker-hub"]),
            scan_type: None,
            target: registry(
                ENHANCED,
                &[
                    (CONTINUOUS_SCAN, &["prod/*"]),
                    (CONTINUOUS_SCAN, &["stage/*"]),
                ],
            ),
            writes: false,
            added: &[],
            hazards: 1,
        }),
        limit_100_filters_in_the_scan_on_push_rule(Case {
            name: "limit: 100 filters in the scan-on-push rule",
            observed: registry(BASIC, &[(SCAN_ON_PUSH, &hundred_filters().iter().map(String::as_str).collect::<Vec<_>>())]),
            wanted: wanted(&["docker-hub"]),
            scan_type: None,
            target: registry(BASIC, &[(SCAN_ON_PUSH, &hundred_filters().iter().map(String::as_str).collect::<Vec<_>>())]),
            writes: false,
            added: &[],
            hazards: 1,
        }),
        order_of_filters_is_no_drift(Case {
            name: "order of filters is no drift",
            observed: registry(BASIC, &[(SCAN_ON_PUSH, &["ghcr/*", "docker-hub/*"])]),
            wanted: wanted(&["docker-hub"]),
            scan_type: Some(ScanType::Basic),
            target: registry(BASIC, &[(SCAN_ON_PUSH, &["ghcr/*", "docker-hub/*"])]),
            writes: false,
            added: &[],
            hazards: 0,
        }),
    }

    fn config(text: &str) -> Config {
        Config::from_toml_str(text, std::path::Path::new("."), "test")
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Profiles decide the wanted filters: configuration, managed prefixes, wanted (prefix, profile).
    fn check_wanted(case: &str, text: &str, managed: &[&str], expected: &[(&str, &str)]) {
        let config = config(text);
        let managed: Vec<String> = managed.iter().map(|p| (*p).to_owned()).collect();
        let managed = ManagedPrefixes::resolve(Some(&managed), &[]);
        let got: Vec<(String, String)> = wanted_filters(&config.hardening, &managed)
            .into_iter()
            .map(|wanted| (wanted.prefix, wanted.profile))
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(prefix, profile)| ((*prefix).to_owned(), (*profile).to_owned()))
            .collect();
        assert_eq!(got, expected, "{case}");
    }

    named_cases! {
        /// Profiles decide the wanted filters: configuration, managed prefixes, wanted (prefix, profile).
        mod profiles_decide_the_wanted_filters => check_wanted;
        default_profile_scans_every_managed_prefix(
            "[hardening.default]\nscan_on_push = true\n",
            &["docker-hub", "ghcr"],
            &[("docker-hub", "default"), ("ghcr", "default")],
        ),
        scanning_unset_no_filter(
            "",
            &["docker-hub"],
            &[],
        ),
        a_nested_profile_below_an_unscanned_prefix(
            "[hardening.default]\nscan_on_push = false\n[hardening.profiles.\"ghcr/fluxcd\"]\nscan_on_push = true\n",
            &["docker-hub", "ghcr"],
            &[("ghcr/fluxcd", "ghcr/fluxcd")],
        ),
        a_nested_profile_below_a_scanned_prefix_adds_nothing(
            "[hardening.default]\nscan_on_push = true\n[hardening.profiles.\"ghcr/fluxcd\"]\ntags = { team = \"flux\" }\n",
            &["ghcr"],
            &[("ghcr", "default")],
        ),
        root_wants_no_filter(
            "[hardening.default]\nscan_on_push = true\n",
            &["ROOT"],
            &[],
        ),
    }

    #[test]
    fn a_profile_without_scanning_under_a_scanned_prefix_is_reported() {
        let config = config(
            "[hardening.default]\nscan_on_push = true\n[hardening.profiles.\"ghcr/cold\"]\nscan_on_push = false\n",
        );
        let managed = ManagedPrefixes::resolve(Some(&["ghcr".to_owned()]), &[]);
        let configuration = registry(BASIC, &[(SCAN_ON_PUSH, &["ghcr/*"])]);
        let found = overridden(&config.hardening, &managed, &configuration);
        assert_eq!(
            found,
            [Overridden {
                prefix: "ghcr/cold".into(),
                profile: "ghcr/cold".into(),
                by_filter: "ghcr/*".into()
            }]
        );
        assert!(overridden(&config.hardening, &managed, &RegistryScanning::unset()).is_empty());
    }

    #[test]
    fn the_put_command_carries_every_rule() {
        let configuration = registry(BASIC, &[(SCAN_ON_PUSH, &["team/*", "docker-hub/*"])]);
        assert_eq!(
            put_command(&configuration),
            r#"aws ecr put-registry-scanning-configuration --scan-type BASIC --rules '[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"team/*","filterType":"WILDCARD"},{"filter":"docker-hub/*","filterType":"WILDCARD"}]}]'"#
        );
    }
}
