//! The difference between a repository and its profile: the writes that close it, and the
//! problems that cannot or must not be written away (worded in `findings`). Pure: no
//! I/O.
//!
//! JSON documents are compared by meaning: key order, whitespace, the order of lifecycle rules
//! (ECR applies them by `rulePriority`) and a lone `Statement` object do not count as drift.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{TagMutability, TagMutabilitySetting};
use crate::domain::scanning::EffectiveScanning;
use crate::domain::{canonical_json_text, Finding, Repository, RepositoryPolicy};

use super::desired::Desired;
use super::findings::{describe_public, finding};
pub use super::problems::{FindingKind, Problem};

/// A repository as observed: `DescribeRepositories` plus what [`super::desired::Reads`] asked
/// for. Fields that were not read are empty and never looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub repository: Repository,
    /// Lifecycle policy text, `None` when the repository has none.
    pub lifecycle_policy: Option<String>,
    /// Repository policy text, `None` when the repository has none.
    pub repository_policy: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The effective scanning (`BatchGetRepositoryScanningConfiguration`, or what a registry
    /// filter proves); `None` when not read, and then the repository's own flag is compared.
    pub scanning: Option<EffectiveScanning>,
}

/// A setting this product writes, named as in the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    LifecyclePolicy,
    Tags,
    ScanOnPush,
    TagMutability,
    RepositoryPolicy,
}

impl Setting {
    pub fn as_str(self) -> &'static str {
        match self {
            Setting::LifecyclePolicy => "lifecycle_policy",
            Setting::Tags => "tags",
            Setting::ScanOnPush => "scan_on_push",
            Setting::TagMutability => "tag_mutability",
            Setting::RepositoryPolicy => "repository_policy",
        }
    }
}

/// One write: exactly one API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// `PutLifecyclePolicy` with this text (replaces the whole policy).
    LifecyclePolicy(String),
    /// `TagResource` with only the tags that are missing or differ (a merge).
    Tags(BTreeMap<String, String>),
    /// `PutImageScanningConfiguration`.
    ScanOnPush(bool),
    /// `PutImageTagMutability`, mode and exclusion filters together.
    TagMutability(TagMutabilitySetting),
    /// `SetRepositoryPolicy` with this text (replaces the whole policy).
    RepositoryPolicy(String),
}

/// A setting that differs from the profile, with what it is and what it will be.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub setting: Setting,
    pub old: Value,
    pub new: Value,
    /// Where the new value comes from when it is a policy (`lifecycle/default.json`).
    pub source: Option<String>,
    /// Something worth knowing about this change (e.g. the policy replaced was public).
    pub note: Option<String>,
    /// Lifecycle rules or policy statements the repository had that the new value drops.
    pub removed: Vec<Value>,
    pub write: Write,
}

/// What to do with one repository.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// At most one per setting, in the order they are applied.
    pub changes: Vec<Change>,
    pub findings: Vec<(FindingKind, Finding)>,
}

impl Plan {
    pub fn is_compliant(&self) -> bool {
        self.changes.is_empty() && self.findings.is_empty()
    }

    /// Records a problem, worded once by `findings`.
    fn raise(&mut self, desired: &Desired<'_>, repository: &Repository, problem: Problem) {
        let finding = finding(&problem, desired, repository);
        self.findings.push((problem.kind(), finding));
    }
}

/// Compares `observed` with `desired`. Only settings the profile manages are looked at.
pub fn plan(desired: &Desired<'_>, observed: &Observed) -> Plan {
    let profile = desired.profile;
    let repository = &observed.repository;
    let mut plan = Plan::default();

    if let Some(configured) = &profile.lifecycle_policy {
        let wanted = configured.policy.canonical_text();
        let current = observed.lifecycle_policy.as_deref();
        if current.map(normalized_lifecycle_text).as_deref() != Some(wanted) {
            let old = current.map_or(Value::Null, json_or_text);
            let new = configured.policy.normalized().clone();
            let removed = removed_entries(&old, &new, "rules");
            if !removed.is_empty() {
                plan.raise(
                    desired,
                    repository,
                    Problem::PolicyReplaced {
                        what: "lifecycle policy",
                        entry: "rule",
                        removed: removed.clone(),
                    },
                );
            }
            plan.changes.push(Change {
                setting: Setting::LifecyclePolicy,
                old,
                new,
                source: Some(configured.origin.to_string()),
                note: current.is_some().then(|| {
                    "the whole policy is replaced; rules added by hand are lost".to_owned()
                }),
                removed,
                write: Write::LifecyclePolicy(wanted.to_owned()),
            });
        }
    }

    if let Some(wanted_tags) = &desired.tags() {
        let differing: BTreeMap<String, String> = wanted_tags
            .iter()
            .filter(|(key, value)| observed.tags.get(*key) != Some(*value))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if !differing.is_empty() {
            let old: serde_json::Map<String, Value> = differing
                .keys()
                .map(|key| (key.clone(), json!(observed.tags.get(key))))
                .collect();
            plan.changes.push(Change {
                setting: Setting::Tags,
                old: Value::Object(old),
                new: json!(differing),
                source: None,
                note: None,
                removed: Vec::new(),
                write: Write::Tags(differing),
            });
        }
    }

    if let Some(scan_on_push) = profile.scan_on_push {
        let (current, by_registry) = match &observed.scanning {
            Some(effective) => (effective.scanned_on_push(), effective.by_registry()),
            None => (repository.scan_on_push, false),
        };
        if current != scan_on_push {
            if by_registry {
                // A registry filter scans it on push; the repository's own setting cannot turn
                // that off (the sweep reports the profile once, see the `scanning` step).
                plan.raise(
                    desired,
                    repository,
                    Problem::ScannedByRegistry {
                        applied_filters: observed
                            .scanning
                            .as_ref()
                            .map(|scanning| scanning.applied_filters.clone())
                            .unwrap_or_default(),
                    },
                );
            } else if repository.scan_on_push == scan_on_push {
                // Its own (deprecated) flag already says so and ECR still reports otherwise: the
                // registry configuration decides. Writing the flag again changes nothing, so a
                // finding says what does, once, instead of a write per event.
                if scan_on_push {
                    plan.raise(
                        desired,
                        repository,
                        Problem::OwnFlagNotEffective {
                            scan_frequency: observed
                                .scanning
                                .as_ref()
                                .map(|scanning| scanning.scan_frequency.clone())
                                .unwrap_or_default(),
                        },
                    );
                }
            } else {
                plan.changes.push(Change {
                    setting: Setting::ScanOnPush,
                    old: json!(current),
                    new: json!(scan_on_push),
                    source: None,
                    note: Some("deprecated per-repository setting: no registry scanning filter covers this repository".to_owned()),
                    removed: Vec::new(),
                    write: Write::ScanOnPush(scan_on_push),
                });
            }
        }
    }

    if let Some(wanted) = &profile.tag_mutability {
        if !mutability_matches(repository, wanted) {
            plan.changes.push(Change {
                setting: Setting::TagMutability,
                old: mutability_json(
                    &repository.tag_mutability,
                    &repository.tag_mutability_exclusions,
                ),
                new: mutability_json(wanted.mutability.as_str(), &wanted.exclusion_filters),
                source: None,
                note: None,
                removed: Vec::new(),
                write: Write::TagMutability(wanted.clone()),
            });
            if wanted.mutability == TagMutability::Immutable {
                plan.raise(desired, repository, Problem::ImmutableTags);
            }
        }
    }

    plan_repository_policy(desired, observed, &mut plan);

    if let Some(expected) = profile.encryption {
        if repository.encryption_type != expected.as_str() {
            plan.raise(
                desired,
                repository,
                Problem::EncryptionDrift {
                    expected: expected.as_str().to_owned(),
                },
            );
        }
    }
    plan
}

fn plan_repository_policy(desired: &Desired<'_>, observed: &Observed, plan: &mut Plan) {
    let profile = desired.profile;
    let repository = &observed.repository;
    let current = observed.repository_policy.as_deref();
    // Read leniently: a key this product does not write must not hide a public statement.
    let current_public = current
        .and_then(RepositoryPolicy::public_statements_of)
        .unwrap_or_default();
    let Some(configured) = &profile.repository_policy else {
        if !profile.allow_public && !current_public.is_empty() {
            plan.raise(
                desired,
                repository,
                Problem::PublicPolicyFound {
                    statements: current_public,
                },
            );
        }
        return;
    };
    let wanted = configured.policy.canonical_text();
    if current.map(normalized_policy_text).as_deref() == Some(wanted) {
        return;
    }
    // The configuration refuses such a policy at load; checked again here because writing one
    // opens every cached image to the world, and nothing else stands in the way.
    let wanted_public = configured.policy.public_statements();
    if !profile.allow_public && !wanted_public.is_empty() {
        plan.raise(
            desired,
            repository,
            Problem::PublicPolicyRefused {
                origin: configured.origin.to_string(),
                statements: wanted_public,
            },
        );
        return;
    }
    let note = if current_public.is_empty() {
        current.map(|_| "the whole policy is replaced".to_owned())
    } else {
        Some(format!(
            "replaces a public policy ({})",
            describe_public(&current_public)
        ))
    };
    let old = current.map_or(Value::Null, json_or_text);
    let new = configured.policy.normalized().clone();
    let removed = removed_entries(&old, &new, "Statement");
    if !removed.is_empty() {
        plan.raise(
            desired,
            repository,
            Problem::PolicyReplaced {
                what: "repository policy",
                entry: "statement",
                removed: removed.clone(),
            },
        );
    }
    plan.changes.push(Change {
        setting: Setting::RepositoryPolicy,
        old,
        new,
        source: Some(configured.origin.to_string()),
        note,
        removed,
        write: Write::RepositoryPolicy(wanted.to_owned()),
    });
}

/// The entries of `old[key]` (lifecycle `rules`, policy `Statement`, a lone object counting as a
/// list of one) that `new[key]` does not have, compared by meaning (key order aside).
pub fn removed_entries(old: &Value, new: &Value, key: &str) -> Vec<Value> {
    let entries = |document: &Value| -> Vec<Value> {
        match document.get(key) {
            Some(Value::Array(items)) => items.clone(),
            Some(item @ Value::Object(_)) => vec![item.clone()],
            _ => Vec::new(),
        }
    };
    let kept: Vec<String> = entries(new).iter().map(canonical_json_text).collect();
    entries(old)
        .into_iter()
        .filter(|entry| !kept.contains(&canonical_json_text(entry)))
        .collect()
}

/// A lifecycle policy read from a repository, in the canonical form of
/// [`crate::domain::LifecyclePolicy::canonical_text`]: rules ordered by `rulePriority`, keys
/// sorted, no whitespace. Text that is not JSON is kept as it is (and so differs).
pub fn normalized_lifecycle_text(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut document) => {
            if let Some(Value::Array(rules)) = document.get_mut("rules") {
                rules.sort_by_key(|rule| rule.get("rulePriority").and_then(Value::as_u64));
            }
            canonical_json_text(&document)
        }
        Err(_) => text.to_owned(),
    }
}

/// A repository policy read from a repository, in the canonical form of
/// [`RepositoryPolicy::canonical_text`] when it parses, else as canonical JSON or as it is.
pub fn normalized_policy_text(text: &str) -> String {
    match RepositoryPolicy::parse(text) {
        Ok(policy) => policy.canonical_text().to_owned(),
        Err(_) => serde_json::from_str::<Value>(text)
            .map(|document| canonical_json_text(&document))
            .unwrap_or_else(|_| text.to_owned()),
    }
}

fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Same mode and the same exclusion filters, in any order.
fn mutability_matches(repository: &Repository, wanted: &TagMutabilitySetting) -> bool {
    let mut current = repository.tag_mutability_exclusions.clone();
    let mut desired = wanted.exclusion_filters.clone();
    current.sort();
    desired.sort();
    repository.tag_mutability == wanted.mutability.as_str() && current == desired
}

fn mutability_json(mode: &str, exclusion_filters: &[String]) -> Value {
    json!({"mutability": mode, "exclusion_filters": exclusion_filters})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        ConfiguredPolicy, EncryptionType, PolicyOrigin, Profile, TagMutabilitySetting,
    };
    use crate::domain::LifecyclePolicy;
    use crate::domain::Severity;
    use crate::test_cases::named_cases;

    const LIFECYCLE: &str = r#"{"rules":[
        {"rulePriority":2,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":50},"action":{"type":"expire"}},
        {"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}"#;
    /// The same policy: other rule order, key order and whitespace.
    const LIFECYCLE_REORDERED: &str = r#"{ "rules": [
        { "action": {"type": "expire"}, "rulePriority": 1, "selection": {"countNumber": 7, "countUnit": "days", "countType": "sinceImagePushed", "tagStatus": "untagged"} },
        { "selection": {"countNumber": 50, "countType": "imageCountMoreThan", "tagStatus": "any"}, "rulePriority": 2, "action": {"type": "expire"} } ] }"#;
    const OTHER_LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
    const ORG_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Org","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage"],"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}}]}"#;
    const ORG_POLICY_SINGLE: &str = r#"{"Statement":{"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}},"Action":["ecr:BatchGetImage"],"Principal":"*","Effect":"Allow","Sid":"Org"},"Version":"2012-10-17"}"#;
    const PUBLIC_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Anyone","Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}"#;

    fn lifecycle(text: &str) -> ConfiguredPolicy<LifecyclePolicy> {
        ConfiguredPolicy {
            policy: LifecyclePolicy::parse(text).expect("valid lifecycle policy"),
            origin: PolicyOrigin::Inline,
        }
    }

    fn policy(text: &str) -> ConfiguredPolicy<RepositoryPolicy> {
        ConfiguredPolicy {
            policy: RepositoryPolicy::parse(text).expect("valid repository policy"),
            origin: PolicyOrigin::Inline,
        }
    }

    fn unmanaged() -> Profile {
        Profile {
            scan_on_push: None,
            tag_mutability: None,
            lifecycle_policy: None,
            repository_policy: None,
            tags: None,
            encryption: None,
            kms_key: None,
            allow_public: false,
            scan_alert_severity: crate::config::ScanAlertSeverity::Critical,
        }
    }

    fn full_profile() -> Profile {
        Profile {
            scan_on_push: Some(true),
            tag_mutability: Some(TagMutabilitySetting {
                mutability: TagMutability::ImmutableWithExclusion,
                exclusion_filters: vec!["latest".into(), "v*".into()],
            }),
            lifecycle_policy: Some(lifecycle(LIFECYCLE)),
            repository_policy: Some(policy(ORG_POLICY)),
            tags: Some(BTreeMap::from([
                ("managed-by".into(), "ecr-ptc-ops".into()),
                ("cost-center".into(), "platform".into()),
            ])),
            encryption: Some(EncryptionType::Aes256),
            kms_key: None,
            allow_public: false,
            scan_alert_severity: crate::config::ScanAlertSeverity::Critical,
        }
    }

    /// A repository that already matches [`full_profile`].
    fn compliant() -> Observed {
        Observed {
            repository: Repository {
                name: "docker-hub/library/nginx".into(),
                arn: "arn:aws:ecr:eu-west-1:123456789012:repository/docker-hub/library/nginx"
                    .into(),
                uri: String::new(),
                registry_id: "123456789012".into(),
                tag_mutability: "IMMUTABLE_WITH_EXCLUSION".into(),
                tag_mutability_exclusions: vec!["v*".into(), "latest".into()],
                scan_on_push: true,
                encryption_type: "AES256".into(),
                kms_key: None,
                created_at: None,
            },
            lifecycle_policy: Some(LIFECYCLE_REORDERED.into()),
            repository_policy: Some(ORG_POLICY_SINGLE.into()),
            tags: BTreeMap::from([
                ("managed-by".into(), "ecr-ptc-ops".into()),
                ("cost-center".into(), "platform".into()),
                ("team".into(), "payments".into()),
            ]),
            scanning: None,
        }
    }

    /// (writes as `setting`, findings as kinds) expected from a plan.
    type Expected<'a> = (&'a [Setting], &'a [FindingKind]);

    fn check(name: &str, profile: &Profile, observed: &Observed, expected: Expected<'_>) -> Plan {
        let desired = Desired {
            profile_prefix: Some("docker-hub"),
            profile,
            mark_origin: false,
        };
        let plan = plan(&desired, observed);
        let settings: Vec<Setting> = plan.changes.iter().map(|change| change.setting).collect();
        let kinds: Vec<FindingKind> = plan.findings.iter().map(|(kind, _)| kind.clone()).collect();
        assert_eq!(settings, expected.0, "{name}: changes {:#?}", plan.changes);
        assert_eq!(kinds, expected.1, "{name}: findings {:#?}", plan.findings);
        plan
    }

    #[test]
    fn a_profile_without_scanning_cannot_undo_a_registry_filter() {
        let mut profile = full_profile();
        profile.scan_on_push = Some(false);
        let scanning = |applied: &[&str]| EffectiveScanning {
            scan_on_push: true,
            scan_frequency: "SCAN_ON_PUSH".to_owned(),
            applied_filters: applied.iter().map(|filter| (*filter).to_owned()).collect(),
        };
        let mut by_registry = compliant();
        by_registry.scanning = Some(scanning(&["docker-hub/*"]));
        let plan = check(
            "a registry filter scans it: reported, not written",
            &profile,
            &by_registry,
            (&[], &[FindingKind::ScannedByRegistry]),
        );
        assert!(
            plan.findings[0].1.message.contains("`docker-hub/*`"),
            "{:?}",
            plan.findings
        );
        let mut by_own_flag = compliant();
        by_own_flag.scanning = Some(scanning(&[]));
        check(
            "only its own flag scans it: turned off",
            &profile,
            &by_own_flag,
            (&[Setting::ScanOnPush], &[]),
        );
    }

    /// The scanning ECR reports as effective for a repository.
    fn effective(scan_on_push: bool, frequency: &str, filters: &[&str]) -> EffectiveScanning {
        EffectiveScanning {
            scan_on_push,
            scan_frequency: frequency.to_owned(),
            applied_filters: filters.iter().map(|filter| (*filter).to_owned()).collect(),
        }
    }

    /// The full profile against a compliant repository that `change` moved away from it.
    fn check_drift(name: &str, change: fn(&mut Observed), expected: Expected<'static>) {
        let profile = full_profile();
        let mut observed = compliant();
        change(&mut observed);
        check(name, &profile, &observed, expected);
    }

    named_cases! {
        /// The full profile plans only what differs from a compliant repository.
        mod plans_only_what_differs => check_drift;
        compliant_written_differently(|_| {}, (&[], &[])),
        no_lifecycle(
            |observed| observed.lifecycle_policy = None,
            (&[Setting::LifecyclePolicy], &[]),
        ),
        other_lifecycle(
            |observed| observed.lifecycle_policy = Some(OTHER_LIFECYCLE.into()),
            (&[Setting::LifecyclePolicy], &[FindingKind::PolicyReplaced]),
        ),
        missing_tag(
            |observed| {
                observed.tags.remove("cost-center");
            },
            (&[Setting::Tags], &[]),
        ),
        scan_off(
            |observed| observed.repository.scan_on_push = false,
            (&[Setting::ScanOnPush], &[]),
        ),
        scanned_by_a_registry_filter_own_flag_off_nothing_to_write(
            |observed| {
                observed.repository.scan_on_push = false;
                observed.scanning = Some(effective(true, "SCAN_ON_PUSH", &["docker-hub/*"]));
            },
            (&[], &[]),
        ),
        continuous_scanning_scans_on_push_too(
            |observed| {
                observed.repository.scan_on_push = false;
                observed.scanning = Some(effective(false, "CONTINUOUS_SCAN", &["*"]));
            },
            (&[], &[]),
        ),
        own_flag_on_but_ecr_reports_manual_a_finding_not_a_write(
            |observed| observed.scanning = Some(effective(false, "MANUAL", &[])),
            (&[], &[FindingKind::ScanSettingIgnored]),
        ),
        own_flag_off_and_ecr_reports_manual_the_flag_is_written(
            |observed| {
                observed.repository.scan_on_push = false;
                observed.scanning = Some(effective(false, "MANUAL", &[]));
            },
            (&[Setting::ScanOnPush], &[]),
        ),
        mutable(
            |observed| {
                observed.repository.tag_mutability = "MUTABLE".into();
                observed.repository.tag_mutability_exclusions.clear();
            },
            (&[Setting::TagMutability], &[]),
        ),
        other_filters(
            |observed| observed.repository.tag_mutability_exclusions = vec!["latest".into()],
            (&[Setting::TagMutability], &[]),
        ),
        no_policy(
            |observed| observed.repository_policy = None,
            (&[Setting::RepositoryPolicy], &[]),
        ),
        public_policy_replaced(
            |observed| observed.repository_policy = Some(PUBLIC_POLICY.into()),
            (&[Setting::RepositoryPolicy], &[FindingKind::PolicyReplaced]),
        ),
        kms(
            |observed| {
                observed.repository.encryption_type = "KMS".into();
                observed.repository.kms_key = Some("arn:aws:kms:eu-west-1:123456789012:key/k".into());
            },
            (&[], &[FindingKind::EncryptionDrift]),
        ),
        bare_cache_repository(
            |observed| {
                observed.repository.tag_mutability = "MUTABLE".into();
                observed.repository.tag_mutability_exclusions.clear();
                observed.repository.scan_on_push = false;
                observed.lifecycle_policy = None;
                observed.repository_policy = None;
                observed.tags.clear();
            },
            (
                &[
                    Setting::LifecyclePolicy,
                    Setting::Tags,
                    Setting::ScanOnPush,
                    Setting::TagMutability,
                    Setting::RepositoryPolicy,
                ],
                &[],
            ),
        ),
    }

    #[test]
    fn unmanaged_settings_are_left_alone() {
        let mut anything = compliant();
        anything.repository.scan_on_push = false;
        anything.repository.encryption_type = "KMS".into();
        anything.lifecycle_policy = Some(OTHER_LIFECYCLE.into());
        anything.tags.clear();
        check("nothing managed", &unmanaged(), &anything, (&[], &[]));
    }

    #[test]
    fn the_origin_tag_is_added_to_the_profile_tags() {
        let profile = full_profile();
        let mut observed = compliant();
        let desired = Desired {
            profile_prefix: None,
            profile: &profile,
            mark_origin: true,
        };
        let marked = plan(&desired, &observed);
        let writes: Vec<&Write> = marked.changes.iter().map(|change| &change.write).collect();
        assert_eq!(
            writes,
            [&Write::Tags(BTreeMap::from([(
                "ptc-ops:origin".to_owned(),
                "pull-through-cache".to_owned()
            )]))]
        );
        observed
            .tags
            .insert("ptc-ops:origin".into(), "pull-through-cache".into());
        assert!(plan(&desired, &observed).is_compliant());
    }

    #[test]
    fn a_replaced_policy_says_what_it_removes() {
        let mut observed = compliant();
        observed.lifecycle_policy = Some(
            r#"{"rules":[{"rulePriority":1,"description":"keep 500","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":500},"action":{"type":"expire"}}]}"#.into(),
        );
        observed.repository_policy = Some(
            r#"{"Version":"2012-10-17","Statement":{"Sid":"CiPush","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:role/ci"},"Action":"ecr:PutImage"}}"#.into(),
        );
        let plan = check(
            "replaced",
            &full_profile(),
            &observed,
            (
                &[Setting::LifecyclePolicy, Setting::RepositoryPolicy],
                &[FindingKind::PolicyReplaced, FindingKind::PolicyReplaced],
            ),
        );
        let removed: Vec<usize> = plan.changes.iter().map(|c| c.removed.len()).collect();
        assert_eq!(removed, [1, 1]);
        let titles: Vec<&str> = plan
            .findings
            .iter()
            .map(|(_, f)| f.title.as_str())
            .collect();
        assert_eq!(
            titles,
            [
                "lifecycle policy of `docker-hub/library/nginx` replaced: 1 rule removed",
                "repository policy of `docker-hub/library/nginx` replaced: 1 statement removed"
            ]
        );
        assert!(plan.findings[0].1.message.contains("rule 1 (keep 500)"));
        assert!(plan.findings[1].1.message.contains("statement `CiPush`"));
    }

    #[test]
    fn removed_entries_compare_by_meaning() {
        let old = json!({"rules": [{"rulePriority": 1, "action": {"type": "expire"}}, {"rulePriority": 2}]});
        let new = json!({"rules": [{"action": {"type": "expire"}, "rulePriority": 1}]});
        assert_eq!(
            removed_entries(&old, &new, "rules"),
            [json!({"rulePriority": 2})]
        );
        let lone = json!({"Statement": {"Sid": "A"}});
        assert_eq!(
            removed_entries(&lone, &json!({"Statement": [{"Sid": "A"}]}), "Statement"),
            Vec::<Value>::new()
        );
        assert_eq!(
            removed_entries(&Value::Null, &new, "rules"),
            Vec::<Value>::new()
        );
    }

    #[test]
    fn tags_are_merged() {
        let mut observed = compliant();
        observed
            .tags
            .insert("managed-by".into(), "terraform".into());
        observed.tags.remove("cost-center");
        let plan = check("tags", &full_profile(), &observed, (&[Setting::Tags], &[]));
        let change = &plan.changes[0];
        assert_eq!(
            change.write,
            Write::Tags(BTreeMap::from([
                ("cost-center".into(), "platform".into()),
                ("managed-by".into(), "ecr-ptc-ops".into()),
            ]))
        );
        assert_eq!(
            change.old,
            json!({"cost-center": null, "managed-by": "terraform"})
        );
    }

    #[test]
    fn public_policies_are_refused_or_reported() {
        // The configuration refuses this at load; a profile built by hand still must not write it.
        let mut public_profile = unmanaged();
        public_profile.repository_policy = Some(policy(PUBLIC_POLICY));
        let mut observed = compliant();
        observed.repository_policy = None;
        let plan = check(
            "public policy refused",
            &public_profile,
            &observed,
            (&[], &[FindingKind::PublicPolicyRefused]),
        );
        assert_eq!(plan.findings[0].1.severity, Severity::Critical);

        public_profile.allow_public = true;
        check(
            "public policy allowed",
            &public_profile,
            &observed,
            (&[Setting::RepositoryPolicy], &[]),
        );

        let mut open = compliant();
        open.repository_policy = Some(PUBLIC_POLICY.into());
        check(
            "existing public policy, policy unmanaged",
            &unmanaged(),
            &open,
            (&[], &[FindingKind::PublicPolicyFound]),
        );
        let mut allowing = unmanaged();
        allowing.allow_public = true;
        check(
            "existing public policy, allowed",
            &allowing,
            &open,
            (&[], &[]),
        );

        let plan = check(
            "existing public policy, replaced",
            &full_profile(),
            &open,
            (&[Setting::RepositoryPolicy], &[FindingKind::PolicyReplaced]),
        );
        let note = plan.changes[0].note.as_deref().unwrap_or_default();
        assert!(note.contains("Statement[0] (`Anyone`)"), "{note}");

        let mut pinned = compliant();
        pinned.repository_policy = Some(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123def4"}}}]}"#.into(),
        );
        check(
            "pinned to an organisation",
            &unmanaged(),
            &pinned,
            (&[], &[]),
        );
    }

    /// A public-in-disguise policy set by hand is found, critical, with the reason, whatever its
    /// conditions say.
    fn check_disguised(name: &str, current: &str, reason: &str) {
        let mut disguised = compliant();
        disguised.repository_policy = Some(current.into());
        let plan = check(
            name,
            &unmanaged(),
            &disguised,
            (&[], &[FindingKind::PublicPolicyFound]),
        );
        let finding = &plan.findings[0].1;
        assert_eq!(finding.severity, Severity::Critical, "{name}");
        assert!(
            finding.message.contains(reason),
            "{name}: {}",
            finding.message
        );
    }

    named_cases! {
        /// Public in disguise, set by hand: found with the reason, whatever the conditions say.
        mod public_in_disguise_set_by_hand_is_found => check_disguised;
        notprincipal(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllButOne","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"ecr:BatchGetImage"}]}"#,
            "`NotPrincipal`",
        ),
        secure_transport_only(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Tls","Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#,
            "`aws:SecureTransport` does not name the caller",
        ),
        org_id_like_o_key_this_product_does_not_write(
            r#"{"Statement":[{"Sid":"Org","Effect":"Allow","Principal":{"AWS":"*"},"Action":"ecr:*","Resources":"*","Condition":{"StringLike":{"aws:PrincipalOrgID":"o-*"}}}]}"#,
            "the value `o-*`",
        ),
    }

    #[test]
    fn plain_immutable_is_applied_with_a_warning() {
        let mut profile = unmanaged();
        profile.tag_mutability = Some(TagMutabilitySetting {
            mutability: TagMutability::Immutable,
            exclusion_filters: Vec::new(),
        });
        let mut observed = compliant();
        observed.repository.tag_mutability = "MUTABLE".into();
        observed.repository.tag_mutability_exclusions.clear();
        let plan = check(
            "immutable",
            &profile,
            &observed,
            (&[Setting::TagMutability], &[FindingKind::ImmutableTags]),
        );
        assert_eq!(
            plan.changes[0].old,
            json!({"mutability": "MUTABLE", "exclusion_filters": []})
        );
        observed.repository.tag_mutability = "IMMUTABLE".into();
        check("already immutable", &profile, &observed, (&[], &[]));
    }

    #[test]
    fn encryption_drift_says_how_to_recreate() {
        let mut profile = unmanaged();
        profile.encryption = Some(EncryptionType::Kms);
        let plan = check(
            "aes instead of kms",
            &profile,
            &compliant(),
            (&[], &[FindingKind::EncryptionDrift]),
        );
        let finding = &plan.findings[0].1;
        assert!(finding.title.contains("`AES256`"), "{}", finding.title);
        assert!(
            finding.next_steps[0].contains("--prefix docker-hub --applied-for PULL_THROUGH_CACHE"),
            "{:?}",
            finding.next_steps
        );
        assert!(finding.next_steps[1]
            .contains("delete-repository --repository-name docker-hub/library/nginx"));
    }

    #[test]
    fn normalizes_documents_read_back() {
        assert_eq!(
            normalized_lifecycle_text(LIFECYCLE_REORDERED),
            lifecycle(LIFECYCLE).policy.canonical_text()
        );
        assert_eq!(
            normalized_policy_text(ORG_POLICY_SINGLE),
            policy(ORG_POLICY).policy.canonical_text()
        );
        assert_eq!(normalized_lifecycle_text("not json"), "not json");
    }
}
