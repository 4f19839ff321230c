//! Unit tests of the lifecycle policy model: their own file, for size.

use super::*;
use crate::named_cases;

/// Wraps one rule's `selection`/`action` into a full policy, to keep the table short.
fn one_rule(selection: &str, action: &str) -> String {
    format!(r#"{{"rules":[{{"rulePriority":1,"selection":{selection},"action":{action}}}]}}"#)
}

const EXPIRE: &str = r#"{"type":"expire"}"#;

/// `expected` is the list of JSON paths reported, or empty for a valid policy.
fn check(name: &str, text: &str, expected_paths: &[&str]) {
    match LifecyclePolicy::parse(text) {
        Ok(policy) => {
            assert!(
                expected_paths.is_empty(),
                "{name}: accepted, expected {expected_paths:?}"
            );
            // The canonical text parses back to the same policy.
            let again = LifecyclePolicy::parse(policy.canonical_text())
                .unwrap_or_else(|problems| panic!("{name}: canonical text invalid: {problems:?}"));
            assert_eq!(again, policy, "{name}");
        }
        Err(problems) => {
            let mut paths: Vec<&str> = problems.iter().map(|p| p.json_path.as_str()).collect();
            paths.sort_unstable();
            let mut expected = expected_paths.to_vec();
            expected.sort_unstable();
            assert_eq!(paths, expected, "{name}: {problems:#?}");
            for problem in &problems {
                let first = problem.message.chars().next().unwrap_or('a');
                assert!(
                    !first.is_uppercase(),
                    "{name}: message not lowercase: {problem}"
                );
            }
        }
    }
}

/// A policy of `count` rules (ECR allows 50).
fn many_rules(count: u32) -> String {
    let rules: Vec<String> = (1..=count)
        .map(|priority| {
            format!(
                r#"{{"rulePriority":{priority},"selection":{{"tagStatus":"tagged","tagPrefixList":["v{priority}"],"countType":"imageCountMoreThan","countNumber":1}},"action":{{"type":"expire"}}}}"#
            )
        })
        .collect();
    format!(r#"{{"rules":[{}]}}"#, rules.join(","))
}

/// A compact one-rule policy of exactly `chars` characters (ECR allows 30,720), the rule's
/// description making up the length.
fn policy_of_chars(chars: usize) -> String {
    let with = |description: &str| {
        format!(
            r#"{{"rules":[{{"rulePriority":1,"description":"{description}","selection":{{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}},"action":{{"type":"expire"}}}}]}}"#
        )
    };
    with(&"x".repeat(chars - with("").len()))
}

/// [`check`] for a row of the table below.
fn check_rule(name: &str, text: String, expected_paths: Vec<&str>) {
    check(name, &text, &expected_paths);
}

named_cases! {
    /// Every rule shape of the ECR user guide, valid or refused with these JSON paths.
    mod validates_every_rule_of_the_ecr_user_guide => check_rule;
    untagged_after_days(
        one_rule(
            r#"{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":3}"#,
            EXPIRE,
        ),
        vec![],
    ),
    tagged_by_pattern_keep_10(
        one_rule(
            r#"{"tagStatus":"tagged","tagPatternList":["v*.*.*"],"countType":"imageCountMoreThan","countNumber":10}"#,
            EXPIRE,
        ),
        vec![],
    ),
    transition_to_archive(
        one_rule(
            r#"{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90}"#,
            r#"{"type":"transition","targetStorageClass":"archive"}"#,
        ),
        vec![],
    ),
    any_last_among_several(
        r#"{"rules":[
            {"rulePriority":10,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}},
            {"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}
        ]}"#
        .into(),
        vec![],
    ),
    not_json("{rules: []".into(), vec![""]),
    not_an_object("[]".into(), vec![""]),
    no_rules("{}".into(), vec!["rules"]),
    empty_rules(r#"{"rules":[]}"#.into(), vec!["rules"]),
    unknown_top_level_key(r#"{"rules":[],"version":1}"#.into(), vec!["rules", "version"]),
    duplicate_priority(
        r#"{"rules":[
            {"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
            {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}
        ]}"#
        .into(),
        vec!["rules[1].rulePriority"],
    ),
    any_not_last(
        r#"{"rules":[
            {"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
            {"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}
        ]}"#
        .into(),
        vec!["rules[0].rulePriority"],
    ),
    priority_zero(
        r#"{"rules":[{"rulePriority":0,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#.into(),
        vec!["rules[0].rulePriority"],
    ),
    tagged_without_a_list(
        one_rule(r#"{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1}"#, EXPIRE),
        vec!["rules[0].selection.tagStatus"],
    ),
    untagged_with_both_lists(
        one_rule(
            r#"{"tagStatus":"untagged","tagPrefixList":["v"],"tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":1}"#,
            EXPIRE,
        ),
        vec!["rules[0].selection.tagPrefixList", "rules[0].selection.tagPatternList"],
    ),
    four_wildcards(
        one_rule(
            r#"{"tagStatus":"tagged","tagPatternList":["*a*b*c*"],"countType":"imageCountMoreThan","countNumber":1}"#,
            EXPIRE,
        ),
        vec![],
    ),
    empty_tag_prefix(
        one_rule(
            r#"{"tagStatus":"tagged","tagPrefixList":["v",""],"countType":"imageCountMoreThan","countNumber":1}"#,
            EXPIRE,
        ),
        vec!["rules[0].selection.tagPrefixList[1]"],
    ),
    five_wildcards(
        one_rule(
            r#"{"tagStatus":"tagged","tagPatternList":["ok*","*a*b*c*d*"],"countType":"imageCountMoreThan","countNumber":1}"#,
            EXPIRE,
        ),
        vec!["rules[0].selection.tagPatternList[1]"],
    ),
    unknown_count_type(
        one_rule(r#"{"tagStatus":"any","countType":"sinceImageBuilt","countUnit":"days","countNumber":1}"#, EXPIRE),
        vec!["rules[0].selection.countType"],
    ),
    count_unit_hours(
        one_rule(
            r#"{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"hours","countNumber":1}"#,
            EXPIRE,
        ),
        vec!["rules[0].selection.countUnit"],
    ),
    count_unit_missing_with_since(
        one_rule(r#"{"tagStatus":"any","countType":"sinceImagePushed","countNumber":1}"#, EXPIRE),
        vec!["rules[0].selection.countUnit"],
    ),
    count_unit_with_image_count(
        one_rule(
            r#"{"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":1}"#,
            EXPIRE,
        ),
        vec!["rules[0].selection.countUnit"],
    ),
    count_number_zero(
        one_rule(r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0}"#, EXPIRE),
        vec!["rules[0].selection.countNumber"],
    ),
    count_number_fractional(
        one_rule(r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1.5}"#, EXPIRE),
        vec!["rules[0].selection.countNumber"],
    ),
    action_delete(
        one_rule(r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}"#, r#"{"type":"delete"}"#),
        vec!["rules[0].action.type"],
    ),
    transition_without_target(
        one_rule(r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}"#, r#"{"type":"transition"}"#),
        vec!["rules[0].action.targetStorageClass"],
    ),
    transition_to_glacier(
        one_rule(
            r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}"#,
            r#"{"type":"transition","targetStorageClass":"glacier"}"#,
        ),
        vec!["rules[0].action.targetStorageClass"],
    ),
    case_50_rules(many_rules(50), vec![]),
    case_51_rules(many_rules(51), vec!["rules"]),
    exactly_30720_characters(policy_of_chars(MAX_LIFECYCLE_POLICY_CHARS), vec![]),
    over_30720_characters(policy_of_chars(MAX_LIFECYCLE_POLICY_CHARS + 1), vec![""]),
    missing_selection_and_action_unknown_key(
        r#"{"rules":[{"rulePriority":1,"priority":2}]}"#.into(),
        vec!["rules[0].priority", "rules[0].selection", "rules[0].action"],
    ),
}

/// The table of `tests/fixtures/lifecycle-policies.json` is also run against the emulator
/// and, on demand, a real account (`make conformance`): the validator answers as ECR does.
#[test]
fn agrees_with_ecr_on_the_fixture_table() {
    let table: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/lifecycle-policies.json"
    ))
    .expect("the fixture table is JSON");
    let cases = table["cases"].as_array().expect("`cases` is a list");
    assert!(cases.len() >= 40, "the table lost cases: {}", cases.len());
    let mut disagreements = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("every case has a name");
        let text = match case.get("policy_text").and_then(Value::as_str) {
            Some(text) => text.to_owned(),
            None => case["policy"].to_string(),
        };
        let accepted = case["accepted"].as_bool().expect("`accepted` is a boolean");
        match (LifecyclePolicy::parse(&text), accepted) {
            (Ok(_), true) => {}
            (Ok(_), false) => disagreements.push(format!("{name}: accepted, ECR refuses it")),
            (Err(problems), true) => {
                disagreements.push(format!("{name}: refused ({problems:?}), ECR accepts it"))
            }
            (Err(problems), false) => {
                let path = case["path"]
                    .as_str()
                    .expect("a refused case names its path");
                if !problems.iter().any(|problem| problem.json_path == path) {
                    disagreements.push(format!(
                        "{name}: expected a problem at `{path}`, found {problems:?}"
                    ));
                }
            }
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// `text` is refused with exactly these problems, as `path: message`.
fn check_messages(name: &str, text: &str, expected: &[&str]) {
    let problems = LifecyclePolicy::parse(text).err().unwrap_or_default();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(rendered, expected, "{name}");
}

named_cases! {
    /// Problems name the field, what ECR accepts there and what was found.
    mod problems_say_what_is_accepted_and_found => check_messages;
    unknown_top_level_key(
        r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}],"version":1}"#,
        &["version: unknown key, expected one of `rules`"],
    ),
    unknown_tag_status(
        &one_rule(r#"{"tagStatus":"all","countType":"imageCountMoreThan","countNumber":1}"#, EXPIRE),
        &[r#"rules[0].selection.tagStatus: expected one of `tagged`, `untagged`, `any`, found "all""#],
    ),
    a_long_value_is_cut(
        &one_rule(
            &format!(r#"{{"tagStatus":"{}","countType":"imageCountMoreThan","countNumber":1}}"#, "x".repeat(70)),
            EXPIRE,
        ),
        &[&format!(
            r#"rules[0].selection.tagStatus: expected one of `tagged`, `untagged`, `any`, found "{}"…"#,
            "x".repeat(60)
        )],
    ),
    two_untagged_rules_in_standard(
        r#"{"rules":[
            {"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}},
            {"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}
        ]}"#,
        &["rules[1].selection.tagStatus: only one rule in storage class `standard` may select `untagged` images, rules[0] already does"],
    ),
    two_untagged_rules_in_archive(
        r#"{"rules":[
            {"rulePriority":1,"selection":{"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90},"action":{"type":"expire"}},
            {"rulePriority":2,"selection":{"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":180},"action":{"type":"expire"}}
        ]}"#,
        &["rules[1].selection.tagStatus: only one rule in storage class `archive` may select `untagged` images, rules[0] already does"],
    ),
    any_with_a_prefix_list(
        &one_rule(
            r#"{"tagStatus":"any","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1}"#,
            EXPIRE,
        ),
        &["rules[0].selection.tagPrefixList: not allowed with `tagStatus` `any`, remove `tagPrefixList`"],
    ),
    untagged_with_a_pattern_list(
        &one_rule(
            r#"{"tagStatus":"untagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":1}"#,
            EXPIRE,
        ),
        &["rules[0].selection.tagPatternList: not allowed with `tagStatus` `untagged`, remove `tagPatternList`"],
    ),
    days_in_archive_without_the_archive_class(
        &one_rule(
            r#"{"tagStatus":"any","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90}"#,
            EXPIRE,
        ),
        &["rules[0].selection.storageClass: `countType` `sinceImageTransitioned` counts days in archive and needs `storageClass` `archive`, found `standard`"],
    ),
}

#[test]
fn a_broken_pairing_names_rule_field_and_pairing() {
    let problems = LifecyclePolicy::parse(&one_rule(
        r#"{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90}"#,
        EXPIRE,
    ))
    .err()
    .unwrap_or_default();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        ["rules[0].action.type: `countType` `sinceImagePulled` only pairs with `type` `transition` (to `archive`), found `expire`"]
    );
}

#[test]
fn typed_rules_carry_their_storage_class() {
    let policy = LifecyclePolicy::parse(
        r#"{"rules":[
            {"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}},
            {"rulePriority":2,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90},"action":{"type":"expire"}}
        ]}"#,
    )
    .unwrap_or_else(|problems| panic!("{problems:?}"));
    let summary: Vec<_> = policy
        .rules()
        .iter()
        .map(|rule| (rule.storage_class, rule.count_type, rule.action))
        .collect();
    assert_eq!(
        summary,
        [
            (
                StorageClass::Standard,
                CountType::SinceImagePulled,
                LifecycleAction::TransitionToArchive
            ),
            (
                StorageClass::Archive,
                CountType::SinceImageTransitioned,
                LifecycleAction::Expire
            ),
        ]
    );
}

#[test]
fn normalizes_for_comparison() {
    let written = r#"{ "rules": [
        {"action": {"type": "expire"}, "rulePriority": 5,
         "selection": {"countNumber": 10, "countType": "imageCountMoreThan", "tagStatus": "any"}},
        {"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
         "countUnit": "days", "countNumber": 2}, "action": {"type": "expire"}}
    ] }"#;
    let policy = LifecyclePolicy::parse(written).unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(
        policy.canonical_text(),
        r#"{"rules":[{"action":{"type":"expire"},"rulePriority":1,"selection":{"countNumber":2,"countType":"sinceImagePushed","countUnit":"days","tagStatus":"untagged"}},{"action":{"type":"expire"},"rulePriority":5,"selection":{"countNumber":10,"countType":"imageCountMoreThan","tagStatus":"any"}}]}"#
    );
    // The normalized document is the canonical text's: rules in priority order.
    let canonical: Value =
        serde_json::from_str(policy.canonical_text()).expect("canonical text is JSON");
    assert_eq!(policy.normalized(), &canonical);
    assert_eq!(policy.normalized()["rules"][0]["rulePriority"], 1);
    let priorities: Vec<u32> = policy.rules().iter().map(|rule| rule.priority).collect();
    assert_eq!(priorities, [1, 5]);
    assert_eq!(policy.rules()[0].count_type, CountType::SinceImagePushed);
    assert_eq!(policy.rules()[1].tag_status, TagStatus::Any);
}

#[test]
fn problem_display_names_the_path() {
    let problems = LifecyclePolicy::parse(&one_rule(
        r#"{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"weeks","countNumber":1}"#,
        EXPIRE,
    ))
    .err()
    .unwrap_or_default();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [r#"rules[0].selection.countUnit: expected `days`, found "weeks""#]
    );
}
