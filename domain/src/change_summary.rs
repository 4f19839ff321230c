//! One short line per planned change, for a person reading a plan before the product touches a
//! shared registry (`ptc harden --dry-run`, `ptc templates plan`): what is added, removed or
//! changed, never the whole policy. The report's `changes` keep both values whole, and `--diff`
//! shows them. Pure.
//!
//! A change is a setting (`lifecycle_policy`, `tags`, …, as reports name it) with its old and new
//! value in the shape reports give them: policies as JSON documents (a policy that is not JSON
//! as a string), tags as an object, tag mutability as `{mutability, exclusion_filters}`.

use serde_json::{Map, Value};

/// Longest rule, statement or tag label; a description longer than this is cut.
const MAX_LABEL_CHARS: usize = 32;
/// Labels named per group (`+3 rules (a; b; …)`).
const MAX_LABELS: usize = 2;
/// Tags named one by one before the rest are counted.
const MAX_TAGS: usize = 4;
/// Longest value shown on either side of `→`.
const MAX_VALUE_CHARS: usize = 40;

/// The change of `setting` from `old` to `new` in one line, such as
/// `lifecycle: +1 rule (keep 10 images), -1 rule (old)` or `tags: +cost-center, +managed-by`.
pub fn summarize(setting: &str, old: &Value, new: &Value) -> String {
    match setting {
        "lifecycle_policy" => format!(
            "lifecycle: {}",
            entries(old, new, &ENTRIES_OF_LIFECYCLE_POLICIES)
        ),
        "repository_policy" => format!(
            "repository policy: {}",
            entries(old, new, &ENTRIES_OF_REPOSITORY_POLICIES)
        ),
        "tags" | "resource_tags" => format!("tags: {}", tags(old, new)),
        "tag_mutability" => format!("tag mutability: {} → {}", mutability(old), mutability(new)),
        "encryption" => format!("encryption: {} → {}", encryption(old), encryption(new)),
        "custom_role_arn" => format!("custom role: {} → {}", role(old), role(new)),
        other => format!(
            "{}: {} → {}",
            other.replace('_', " "),
            short(old),
            short(new)
        ),
    }
}

/// How the entries of one kind of policy are found, matched and named.
struct Entries {
    list: &'static str,
    noun: &'static str,
    /// What identifies an entry between the old and the new policy.
    key: fn(usize, &Value) -> String,
    label: fn(usize, &Value) -> String,
}

const ENTRIES_OF_LIFECYCLE_POLICIES: Entries = Entries {
    list: "rules",
    noun: "rule",
    key: |_, rule| match rule.get("rulePriority") {
        Some(priority) => format!("priority {priority}"),
        None => rule.to_string(),
    },
    label: |_, rule| rule_label(rule),
};

const ENTRIES_OF_REPOSITORY_POLICIES: Entries = Entries {
    list: "Statement",
    noun: "statement",
    // Unnamed statements match when they are equal (a changed one is removed and added).
    key: |_, statement| match statement.get("Sid").and_then(Value::as_str) {
        Some(sid) if !sid.is_empty() => format!("Sid {sid}"),
        _ => statement.to_string(),
    },
    label: |index, statement| match statement.get("Sid").and_then(Value::as_str) {
        Some(sid) if !sid.is_empty() => sid.to_owned(),
        _ => format!("#{}", index + 1),
    },
};

/// `+1 rule (keep 10 images), -1 rule (old), ~1 rule (expire untagged…)`.
fn entries(old: &Value, new: &Value, kind: &Entries) -> String {
    if new.is_null() {
        let count = list(old, kind.list).map_or(0, <[Value]>::len);
        return format!("removed ({})", counted(count, kind.noun));
    }
    let Some(new_entries) = list(new, kind.list) else {
        return format!("{} → {}", short(old), short(new));
    };
    let unreadable = matches!(old, Value::String(_));
    let old_entries = list(old, kind.list).unwrap_or_default();
    let keyed = |entries: &[Value]| -> Vec<(String, usize)> {
        entries
            .iter()
            .enumerate()
            .map(|(index, entry)| ((kind.key)(index, entry), index))
            .collect()
    };
    let (old_keys, new_keys) = (keyed(old_entries), keyed(new_entries));
    let find = |keys: &[(String, usize)], key: &str| {
        keys.iter()
            .find(|(candidate, _)| candidate == key)
            .map(|(_, index)| *index)
    };
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for (key, index) in &new_keys {
        let label = (kind.label)(*index, &new_entries[*index]);
        match find(&old_keys, key) {
            None => added.push(label),
            Some(old_index) if old_entries[old_index] != new_entries[*index] => changed.push(label),
            Some(_) => {}
        }
    }
    let removed: Vec<String> = old_keys
        .iter()
        .filter(|(key, _)| find(&new_keys, key).is_none())
        .map(|(_, index)| (kind.label)(*index, &old_entries[*index]))
        .collect();
    let mut parts: Vec<String> = [("+", &added), ("-", &removed), ("~", &changed)]
        .into_iter()
        .filter(|(_, labels)| !labels.is_empty())
        .map(|(sign, labels)| {
            format!(
                "{sign}{} ({})",
                counted(labels.len(), kind.noun),
                named(labels)
            )
        })
        .collect();
    if unreadable {
        parts.push("replaces a policy that is not JSON".to_owned());
    }
    if parts.is_empty() {
        // Same entries: only the order, the Version or the layout differ.
        return "same entries, rewritten".to_owned();
    }
    parts.join(", ")
}

fn list<'a>(document: &'a Value, key: &str) -> Option<&'a [Value]> {
    document
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
}

fn counted(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The first labels, each cut, then `…` for the rest.
fn named(labels: &[String]) -> String {
    let mut shown: Vec<String> = labels
        .iter()
        .take(MAX_LABELS)
        .map(|label| cut(label, MAX_LABEL_CHARS))
        .collect();
    if labels.len() > MAX_LABELS {
        shown.push("…".to_owned());
    }
    shown.join("; ")
}

/// A lifecycle rule in a few words: its description, else what it does
/// (`keep 10 images`, `expire untagged after 7 days`, `archive images unpulled 90 days`).
fn rule_label(rule: &Value) -> String {
    if let Some(description) = rule.get("description").and_then(Value::as_str) {
        if !description.trim().is_empty() {
            return description.trim().to_owned();
        }
    }
    let selection = rule.get("selection").unwrap_or(&Value::Null);
    let text = |key: &str| selection.get(key).and_then(Value::as_str);
    let count = selection
        .get("countNumber")
        .map_or_else(|| "?".to_owned(), ToString::to_string);
    let subject = match text("tagStatus") {
        Some("untagged") => "untagged".to_owned(),
        Some("tagged") => {
            let patterns = ["tagPatternList", "tagPrefixList"]
                .iter()
                .find_map(|key| selection.get(*key).and_then(Value::as_array))
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|joined| !joined.is_empty());
            match patterns {
                Some(patterns) => format!("tagged {patterns}"),
                None => "tagged".to_owned(),
            }
        }
        _ => "images".to_owned(),
    };
    let archive = rule.pointer("/action/type").and_then(Value::as_str) == Some("transition");
    let verb = if archive { "archive" } else { "expire" };
    // The `since…` counts are days (`countUnit` has no other value).
    match text("countType") {
        Some("imageCountMoreThan") if archive => format!("{verb} {subject} beyond {count}"),
        Some("imageCountMoreThan") => format!("keep {count} {subject}"),
        Some("sinceImagePushed") => format!("{verb} {subject} after {count} days"),
        Some("sinceImagePulled") => format!("{verb} {subject} unpulled {count} days"),
        Some("sinceImageTransitioned") => format!("{verb} {subject} archived {count} days"),
        _ => format!("{verb} {subject}"),
    }
}

/// `+cost-center, managed-by: old → new, -team`, at most a few tags by name.
fn tags(old: &Value, new: &Value) -> String {
    let empty = Map::new();
    let old_tags = old.as_object().unwrap_or(&empty);
    let new_tags = new.as_object().unwrap_or(&empty);
    let mut parts: Vec<String> = Vec::new();
    for (key, value) in new_tags {
        match old_tags.get(key) {
            None | Some(Value::Null) => parts.push(format!("+{}", cut(key, MAX_LABEL_CHARS))),
            Some(previous) if previous != value => parts.push(format!(
                "{}: {} → {}",
                cut(key, MAX_LABEL_CHARS),
                cut(&short(previous), 20),
                cut(&short(value), 20)
            )),
            Some(_) => {}
        }
    }
    for key in old_tags.keys().filter(|key| !new_tags.contains_key(*key)) {
        parts.push(format!("-{}", cut(key, MAX_LABEL_CHARS)));
    }
    if parts.is_empty() {
        return "unchanged".to_owned();
    }
    if parts.len() > MAX_TAGS {
        let more = parts.len() - MAX_TAGS + 1;
        parts.truncate(MAX_TAGS - 1);
        parts.push(format!("{more} more"));
    }
    parts.join(", ")
}

/// `IMMUTABLE_WITH_EXCLUSION (except latest, v*)`, or `none`.
fn mutability(value: &Value) -> String {
    let Some(mode) = value.get("mutability").and_then(Value::as_str) else {
        return short(value);
    };
    let exclusions: Vec<&str> = value
        .get("exclusion_filters")
        .and_then(Value::as_array)
        .map(|filters| filters.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if exclusions.is_empty() {
        mode.to_owned()
    } else {
        format!(
            "{mode} (except {})",
            cut(&exclusions.join(", "), MAX_LABEL_CHARS)
        )
    }
}

/// `KMS (key 1234abcd-…)`, or `AES256`, or `none`.
fn encryption(value: &Value) -> String {
    let Some(kind) = value.get("encryption_type").and_then(Value::as_str) else {
        return short(value);
    };
    match value.get("kms_key").and_then(Value::as_str) {
        Some(key) => format!("{kind} (key {})", cut(last_segment(key), 20)),
        None => kind.to_owned(),
    }
}

/// A role ARN by its name (`arn:aws:iam::…:role/ecr-template` is `ecr-template`).
fn role(value: &Value) -> String {
    match value.as_str() {
        Some(arn) => cut(last_segment(arn), MAX_VALUE_CHARS),
        None => short(value),
    }
}

fn last_segment(arn: &str) -> &str {
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

/// A value on one side of `→`: strings bare, `none`, `on`/`off`, lists joined, else compact JSON.
fn short(value: &Value) -> String {
    let text = match value {
        Value::Null => "none".to_owned(),
        Value::Bool(true) => "on".to_owned(),
        Value::Bool(false) => "off".to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    cut(&text, MAX_VALUE_CHARS)
}

/// At most `max` characters on one line, `…` when cut.
fn cut(text: &str, max: usize) -> String {
    let line: String = text
        .chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect();
    if line.chars().count() <= max {
        return line;
    }
    let kept: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    /// The change of `setting` from `old` to `new` (JSON texts) reads `expected`.
    fn check(name: &str, setting: &str, old: &str, new: &str, expected: &str) {
        let parse = |text: &str| serde_json::from_str::<Value>(text).expect("test JSON");
        let line = summarize(setting, &parse(old), &parse(new));
        assert_eq!(line, expected, "{name}");
        assert!(line.chars().count() <= 100, "{name}: {line} is too wide");
    }

    const KEEP_TEN: &str = r#"{"rulePriority": 1, "description": "keep 10 images", "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10}, "action": {"type": "expire"}}"#;

    named_cases! {
        /// One line per change, naming what is added, removed or changed.
        mod changes_read_in_one_line => check;
        lifecycle_first_policy(
            "lifecycle_policy",
            "null",
            &format!(r#"{{"rules": [{KEEP_TEN}]}}"#),
            "lifecycle: +1 rule (keep 10 images)"
        ),
        lifecycle_replaces_a_hand_made_rule(
            "lifecycle_policy",
            r#"{"rules": [{"rulePriority": 5, "description": "old", "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}}]}"#,
            &format!(r#"{{"rules": [{KEEP_TEN}]}}"#),
            "lifecycle: +1 rule (keep 10 images), -1 rule (old)"
        ),
        lifecycle_rule_changed_in_place(
            "lifecycle_policy",
            r#"{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14}, "action": {"type": "expire"}}]}"#,
            r#"{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}}]}"#,
            "lifecycle: ~1 rule (expire untagged after 7 days)"
        ),
        lifecycle_rules_without_descriptions(
            "lifecycle_policy",
            "null",
            r#"{"rules": [
                {"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPatternList": ["v*"], "countType": "imageCountMoreThan", "countNumber": 3}, "action": {"type": "expire"}},
                {"rulePriority": 2, "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 90}, "action": {"type": "transition", "targetStorageClass": "archive"}},
                {"rulePriority": 3, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1}, "action": {"type": "expire"}}
            ]}"#,
            "lifecycle: +3 rules (keep 3 tagged v*; archive images unpulled 90 days; …)"
        ),
        lifecycle_long_description_cut(
            "lifecycle_policy",
            "null",
            r#"{"rules": [{"rulePriority": 1, "description": "a description far longer than any plan line should be", "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]}"#,
            "lifecycle: +1 rule (a description far longer than a…)"
        ),
        lifecycle_only_rewritten(
            "lifecycle_policy",
            &format!(r#"{{"rules": [{KEEP_TEN}], "extra": 1}}"#),
            &format!(r#"{{"rules": [{KEEP_TEN}]}}"#),
            "lifecycle: same entries, rewritten"
        ),
        lifecycle_over_a_policy_that_is_not_json(
            "lifecycle_policy",
            r#""{not json""#,
            &format!(r#"{{"rules": [{KEEP_TEN}]}}"#),
            "lifecycle: +1 rule (keep 10 images), replaces a policy that is not JSON"
        ),
        lifecycle_removed(
            "lifecycle_policy",
            &format!(r#"{{"rules": [{KEEP_TEN}]}}"#),
            "null",
            "lifecycle: removed (1 rule)"
        ),
        repository_policy_statements(
            "repository_policy",
            r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"}, {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "ecr:BatchGetImage"}]}"#,
            r#"{"Version": "2012-10-17", "Statement": [{"Sid": "OrgPull", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}, {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "ecr:BatchGetImage"}]}"#,
            "repository policy: +1 statement (OrgPull), -1 statement (Public)"
        ),
        tags_added(
            "tags",
            r#"{"cost-center": null, "managed-by": null}"#,
            r#"{"cost-center": "platform", "managed-by": "ecr-ptc-ops"}"#,
            "tags: +cost-center, +managed-by"
        ),
        tag_value_changed(
            "tags",
            r#"{"cost-center": "dev"}"#,
            r#"{"cost-center": "platform"}"#,
            "tags: cost-center: dev → platform"
        ),
        template_tags_replaced(
            "resource_tags",
            r#"{"team": "a", "keep": "x"}"#,
            r#"{"keep": "x", "managed-by": "ecr-ptc-ops"}"#,
            "tags: +managed-by, -team"
        ),
        many_tags_counted(
            "tags",
            "{}",
            r#"{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}"#,
            "tags: +a, +b, +c, 3 more"
        ),
        tag_mutability(
            "tag_mutability",
            r#"{"mutability": "MUTABLE", "exclusion_filters": []}"#,
            r#"{"mutability": "IMMUTABLE_WITH_EXCLUSION", "exclusion_filters": ["latest", "v*"]}"#,
            "tag mutability: MUTABLE → IMMUTABLE_WITH_EXCLUSION (except latest, v*)"
        ),
        template_tag_mutability_from_none(
            "tag_mutability",
            "null",
            r#"{"mutability": "MUTABLE", "exclusion_filters": []}"#,
            "tag mutability: none → MUTABLE"
        ),
        scan_on_push("scan_on_push", "false", "true", "scan on push: off → on"),
        encryption(
            "encryption",
            r#"{"encryption_type": "AES256", "kms_key": null}"#,
            r#"{"encryption_type": "KMS", "kms_key": "arn:aws:kms:eu-west-1:1:key/1234abcd-12ab-34cd-56ef-1234567890ab"}"#,
            "encryption: AES256 → KMS (key 1234abcd-12ab-34cd-…)"
        ),
        custom_role(
            "custom_role_arn",
            "null",
            r#""arn:aws:iam::123456789012:role/ptc-ops-template-role""#,
            "custom role: none → ptc-ops-template-role"
        ),
        applied_for(
            "applied_for",
            r#"["PULL_THROUGH_CACHE"]"#,
            r#"["PULL_THROUGH_CACHE", "REPLICATION"]"#,
            "applied for: PULL_THROUGH_CACHE → PULL_THROUGH_CACHE, REPLICATION"
        ),
        description_with_a_line_break(
            "description",
            r#""team\ntemplate""#,
            r#""managed by ecr-ptc-ops""#,
            "description: team template → managed by ecr-ptc-ops"
        ),
    }
}
