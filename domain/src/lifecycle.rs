//! ECR lifecycle policies: validated before they are ever sent.
//!
//! `PutLifecyclePolicy` rejects an invalid policy with one terse message at apply time, on the
//! first repository that needs it. Checking the rules of the ECR user guide when the
//! configuration loads turns that into a precise error, with the JSON path of every mistake,
//! before any repository is touched.
//!
//! The rules (ECR user guide: LifecyclePolicies.html, lifecycle_policy_parameters.html,
//! lifecycle_policy_examples.html, archive-image.html):
//! - since the archive storage class, the count type decides the action: `sinceImagePulled`
//!   only `transition`s to `archive`, `sinceImageTransitioned` only `expire`s and only selects
//!   `storageClass: archive`, `imageCountMoreThan` and `sinceImagePushed` do either;
//! - an image must stay 90 days in archive before a rule may delete it;
//! - `countUnit: days` with the `since*` types and never with `imageCountMoreThan`;
//! - `tagged` takes `tagPrefixList` or `tagPatternList` (one, not both), `untagged` neither;
//! - per storage class: one rule for untagged images, unique tag lists, and the `any` rule has
//!   the highest priority (a standard `any` rule and an archive `any` rule may coexist);
//! - priorities unique and at least 1, 1 to 50 rules, at most 30,720 characters.
//!
//! The same cases, with ECR's answer, are a fixture table (`tests/fixtures/lifecycle-policies.json`)
//! run against this validator and against the local emulator, so the two cannot drift apart.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// ECR accepts at most this many rules in one policy.
pub const MAX_LIFECYCLE_RULES: usize = 50;
/// ECR accepts a policy text of at most this many characters.
pub const MAX_LIFECYCLE_POLICY_CHARS: usize = 30_720;
/// ECR accepts at most this many `*` in one `tagPatternList` entry.
pub const MAX_WILDCARDS_PER_TAG_PATTERN: usize = 4;
/// Images must stay this many days in the archive storage class before a rule may delete them
/// (ECR user guide, archive-image.html: archived images have a 90-day minimum storage duration).
pub const MIN_DAYS_IN_ARCHIVE: u64 = 90;

/// One mistake in a JSON policy document, located by its JSON path (`rules[1].selection.countUnit`).
///
/// Shared by lifecycle and repository policies so the configuration reports both the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// Where the mistake is; empty for the document as a whole.
    pub json_path: String,
    /// What was expected and what was found.
    pub message: String,
}

/// The name the lifecycle validator's contract uses for a [`PolicyProblem`].
pub type LifecycleProblem = PolicyProblem;

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.json_path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.json_path, self.message)
        }
    }
}

/// Which images a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagStatus {
    Tagged,
    Untagged,
    Any,
}

impl TagStatus {
    const CHOICES: [(&'static str, TagStatus); 3] = [
        ("tagged", TagStatus::Tagged),
        ("untagged", TagStatus::Untagged),
        ("any", TagStatus::Any),
    ];
}

/// What a rule counts: images beyond a number, or days since an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountType {
    ImageCountMoreThan,
    SinceImagePushed,
    SinceImagePulled,
    SinceImageTransitioned,
}

impl CountType {
    const CHOICES: [(&'static str, CountType); 4] = [
        ("imageCountMoreThan", CountType::ImageCountMoreThan),
        ("sinceImagePushed", CountType::SinceImagePushed),
        ("sinceImagePulled", CountType::SinceImagePulled),
        ("sinceImageTransitioned", CountType::SinceImageTransitioned),
    ];

    /// The `since*` types count days and so need `countUnit: days`.
    pub fn counts_days(self) -> bool {
        !matches!(self, CountType::ImageCountMoreThan)
    }

    /// The name ECR uses, for messages.
    pub fn as_str(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|(_, count_type)| *count_type == self)
            .map_or("", |(name, _)| name)
    }

    /// The actions ECR pairs with this count type since the archive storage class:
    /// `sinceImagePulled` only archives (AWS closed containers-roadmap#921 saying so on purpose),
    /// `sinceImageTransitioned` only deletes what is archived.
    pub fn allows(self, action: LifecycleAction) -> bool {
        match self {
            CountType::ImageCountMoreThan | CountType::SinceImagePushed => true,
            CountType::SinceImagePulled => action == LifecycleAction::TransitionToArchive,
            CountType::SinceImageTransitioned => action == LifecycleAction::Expire,
        }
    }

    /// The storage class a rule of this count type selects from: only `sinceImageTransitioned`
    /// looks at archived images, and it must say so.
    pub fn storage_class(self) -> StorageClass {
        match self {
            CountType::SinceImageTransitioned => StorageClass::Archive,
            _ => StorageClass::Standard,
        }
    }
}

/// Where the images a rule selects are stored (`selection.storageClass`, `standard` by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StorageClass {
    Standard,
    Archive,
}

impl StorageClass {
    const CHOICES: [(&'static str, StorageClass); 2] = [
        ("standard", StorageClass::Standard),
        ("archive", StorageClass::Archive),
    ];

    /// The name ECR uses, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "standard",
            StorageClass::Archive => "archive",
        }
    }
}

/// What happens to the selected images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleAction {
    Expire,
    /// Move to the `archive` storage class (the only target ECR offers).
    TransitionToArchive,
}

impl LifecycleAction {
    /// The `action.type` ECR uses, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Expire => "expire",
            LifecycleAction::TransitionToArchive => "transition",
        }
    }
}

/// The typed summary of one rule, for checks that reason about a policy (e.g. a pre-warmer
/// defeating `sinceImagePulled`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRule {
    pub priority: u32,
    pub tag_status: TagStatus,
    pub storage_class: StorageClass,
    pub count_type: CountType,
    pub count_number: u64,
    pub action: LifecycleAction,
}

/// A lifecycle policy ECR will accept, kept in a normalized form so that a policy read back from
/// a repository can be compared by meaning rather than by whitespace or key order.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecyclePolicy {
    rules: Vec<LifecycleRule>,
    normalized: Value,
    canonical_text: String,
}

impl LifecyclePolicy {
    /// Parses and validates a policy text, reporting every problem found, not just the first.
    pub fn parse(text: &str) -> Result<LifecyclePolicy, Vec<LifecycleProblem>> {
        let mut problems = Vec::new();
        let document: Value = match serde_json::from_str(text) {
            Ok(document) => document,
            Err(error) => {
                return Err(vec![PolicyProblem {
                    json_path: String::new(),
                    message: format!("invalid JSON: {error}"),
                }])
            }
        };
        let Some(root) = document.as_object() else {
            return Err(vec![PolicyProblem {
                json_path: String::new(),
                message: format!(
                    "expected a JSON object with `rules`, found {}",
                    describe_json(&document)
                ),
            }]);
        };
        let mut checker = Checker {
            problems: &mut problems,
        };
        let rules = checker.rules(root);

        let normalized = normalize(&document);
        let canonical_text = canonical_json_text(&normalized);
        let n_chars = canonical_text.chars().count();
        if n_chars > MAX_LIFECYCLE_POLICY_CHARS {
            problems.push(PolicyProblem {
                json_path: String::new(),
                message: format!(
                    "the policy is {n_chars} characters long, ECR accepts at most {MAX_LIFECYCLE_POLICY_CHARS}"
                ),
            });
        }
        match rules {
            Some(mut rules) if problems.is_empty() => {
                rules.sort_by_key(|rule| rule.priority);
                Ok(LifecyclePolicy {
                    rules,
                    normalized,
                    canonical_text,
                })
            }
            _ => Err(problems),
        }
    }

    /// The rules, lowest priority number (applied first) first.
    pub fn rules(&self) -> &[LifecycleRule] {
        &self.rules
    }

    /// The policy with `rules` ordered by `rulePriority`: equal for policies that mean the same.
    pub fn normalized(&self) -> &Value {
        &self.normalized
    }

    /// Compact JSON with sorted keys: the text to send to ECR and to compare with.
    pub fn canonical_text(&self) -> &str {
        &self.canonical_text
    }
}

/// Serializes JSON compactly with object keys sorted at every level, whatever map type
/// `serde_json` was built with, so two texts of the same document compare equal.
pub fn canonical_json_text(value: &Value) -> String {
    let mut text = String::new();
    write_canonical(value, &mut text);
    text
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let sorted: BTreeMap<&String, &Value> = object.iter().collect();
            out.push('{');
            for (position, (key, item)) in sorted.into_iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Orders `rules` by `rulePriority` (ECR applies them in that order, not in array order).
fn normalize(document: &Value) -> Value {
    let mut normalized = document.clone();
    if let Some(Value::Array(rules)) = normalized.get_mut("rules") {
        rules.sort_by_key(|rule| rule.get("rulePriority").and_then(Value::as_u64));
    }
    normalized
}

/// A short, quoted rendering of a JSON value for "found …" in messages.
pub(crate) fn describe_json(value: &Value) -> String {
    match value {
        Value::Null => "`null`".to_owned(),
        Value::Bool(flag) => format!("`{flag}`"),
        Value::Number(number) => format!("`{number}`"),
        Value::String(text) => {
            let shown: String = text.chars().take(60).collect();
            if shown.len() < text.len() {
                format!("{:?}…", shown)
            } else {
                format!("{text:?}")
            }
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Joins a JSON path: `rules[1]` + `selection` → `rules[1].selection`.
pub(crate) fn json_child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Reports keys of `object` that are not in `known` (ECR rejects unknown fields).
pub(crate) fn report_unknown_keys(
    object: &Map<String, Value>,
    path: &str,
    known: &[&str],
    problems: &mut Vec<PolicyProblem>,
) {
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            problems.push(PolicyProblem {
                json_path: json_child(path, key),
                message: format!("unknown key, expected one of {}", backticked(known)),
            });
        }
    }
}

/// `a`, `b`, `c`: how messages list the accepted literals.
pub(crate) fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Checker<'p> {
    problems: &'p mut Vec<PolicyProblem>,
}

/// What one rule's fields said; `None` fields were missing or wrong (and reported).
struct RuleFields {
    path: String,
    priority: Option<u32>,
    tag_status: Option<TagStatus>,
    /// `Some` once `storageClass` was absent (standard) or valid.
    storage_class: Option<StorageClass>,
    /// The tag list the rule selects by (`tagPrefixList` or `tagPatternList`), sorted, for the
    /// uniqueness check; `None` without one.
    tag_list: Option<(&'static str, Vec<String>)>,
    count_type: Option<CountType>,
    count_number: Option<u64>,
    action: Option<LifecycleAction>,
}

impl Checker<'_> {
    fn report(&mut self, json_path: String, message: String) {
        self.problems.push(PolicyProblem { json_path, message });
    }

    fn rules(&mut self, root: &Map<String, Value>) -> Option<Vec<LifecycleRule>> {
        report_unknown_keys(root, "", &["rules"], self.problems);
        let Some(rules_value) = root.get("rules") else {
            self.report("rules".into(), "missing, expected a list of rules".into());
            return None;
        };
        let Some(rule_values) = rules_value.as_array() else {
            self.report(
                "rules".into(),
                format!(
                    "expected a list of rules, found {}",
                    describe_json(rules_value)
                ),
            );
            return None;
        };
        if rule_values.is_empty() {
            self.report("rules".into(), "expected at least one rule".into());
        }
        if rule_values.len() > MAX_LIFECYCLE_RULES {
            self.report(
                "rules".into(),
                format!(
                    "{} rules, ECR accepts at most {MAX_LIFECYCLE_RULES}",
                    rule_values.len()
                ),
            );
        }
        let fields: Vec<RuleFields> = rule_values
            .iter()
            .enumerate()
            .map(|(index, rule)| self.rule(format!("rules[{index}]"), rule))
            .collect();
        self.check_priorities(&fields);
        self.check_storage_class_groups(&fields);

        let mut rules = Vec::with_capacity(fields.len());
        for rule in fields {
            rules.push(LifecycleRule {
                priority: rule.priority?,
                tag_status: rule.tag_status?,
                storage_class: rule.storage_class?,
                count_type: rule.count_type?,
                count_number: rule.count_number?,
                action: rule.action?,
            });
        }
        Some(rules)
    }

    /// Priorities are unique across the policy.
    fn check_priorities(&mut self, fields: &[RuleFields]) {
        let mut first_use: BTreeMap<u32, &str> = BTreeMap::new();
        for rule in fields {
            let Some(priority) = rule.priority else {
                continue;
            };
            if let Some(first_path) = first_use.get(&priority) {
                self.report(
                    json_child(&rule.path, "rulePriority"),
                    format!("duplicate `rulePriority` {priority}, already used by {first_path}"),
                );
            } else {
                first_use.insert(priority, &rule.path);
            }
        }
    }

    /// Within one storage class: one rule for untagged images, no two rules with the same tag
    /// list, and the `any` rule last (it would otherwise shadow the rest). Rules of the two
    /// storage classes see different images, so a standard `any` rule that archives and an
    /// archive `any` rule that deletes may both exist (the archive example of the ECR user guide,
    /// archive-image.html, does exactly that).
    fn check_storage_class_groups(&mut self, fields: &[RuleFields]) {
        for class in [StorageClass::Standard, StorageClass::Archive] {
            let group: Vec<&RuleFields> = fields
                .iter()
                .filter(|rule| rule.storage_class == Some(class))
                .collect();
            let in_class = format!("in storage class `{}`", class.as_str());
            let mut first_untagged: Option<&str> = None;
            let mut first_list: BTreeMap<(&str, &[String]), &str> = BTreeMap::new();
            for rule in &group {
                if rule.tag_status == Some(TagStatus::Untagged) {
                    match first_untagged {
                        Some(first) => self.report(
                            json_child(&rule.path, "selection.tagStatus"),
                            format!(
                                "only one rule {in_class} may select `untagged` images, {first} already does"
                            ),
                        ),
                        None => first_untagged = Some(&rule.path),
                    }
                }
                if let Some((key, list)) = &rule.tag_list {
                    match first_list.get(&(*key, list.as_slice())) {
                        Some(first) => self.report(
                            json_child(&rule.path, &format!("selection.{key}")),
                            format!(
                                "the same `{key}` as {first} {in_class}; tag lists must be unique"
                            ),
                        ),
                        None => {
                            first_list.insert((*key, list.as_slice()), &rule.path);
                        }
                    }
                }
            }
            for rule in &group {
                let (Some(TagStatus::Any), Some(priority)) = (rule.tag_status, rule.priority)
                else {
                    continue;
                };
                let higher = group.iter().find(|other| {
                    !std::ptr::eq(**other, *rule) && other.priority.is_some_and(|p| p >= priority)
                });
                if let Some(other) = higher {
                    self.report(
                        json_child(&rule.path, "rulePriority"),
                        format!(
                            "a rule with `tagStatus` `any` must have the highest `rulePriority` {in_class}, but {} has {}",
                            other.path,
                            other.priority.unwrap_or_default()
                        ),
                    );
                }
            }
        }
    }

    fn rule(&mut self, path: String, rule: &Value) -> RuleFields {
        let mut fields = RuleFields {
            priority: None,
            tag_status: None,
            storage_class: None,
            tag_list: None,
            count_type: None,
            count_number: None,
            action: None,
            path,
        };
        let Some(object) = rule.as_object() else {
            self.report(
                fields.path.clone(),
                format!("expected a rule object, found {}", describe_json(rule)),
            );
            return fields;
        };
        let path = fields.path.clone();
        report_unknown_keys(
            object,
            &path,
            &["rulePriority", "description", "selection", "action"],
            self.problems,
        );
        fields.priority = self
            .positive_integer(object, &path, "rulePriority")
            .and_then(|n| {
                u32::try_from(n).ok().or_else(|| {
                    self.report(
                        json_child(&path, "rulePriority"),
                        format!("expected an integer up to {}, found `{n}`", u32::MAX),
                    );
                    None
                })
            });
        if let Some(description) = object.get("description") {
            if !description.is_string() {
                self.report(
                    json_child(&path, "description"),
                    format!("expected a string, found {}", describe_json(description)),
                );
            }
        }
        if let Some(selection) = self.required_object(object, &path, "selection") {
            self.selection(selection, &json_child(&path, "selection"), &mut fields);
        }
        if let Some(action) = self.required_object(object, &path, "action") {
            fields.action = self.action(action, &json_child(&path, "action"));
        }
        self.check_pairings(&mut fields);
        fields
    }

    /// The count type decides the action and the storage class (archive storage class, Nov
    /// 2025); a rule that breaks a pairing is reported once, at the field that breaks it, and
    /// kept out of the typed policy.
    fn check_pairings(&mut self, fields: &mut RuleFields) {
        let Some(count_type) = fields.count_type else {
            return;
        };
        let name = count_type.as_str();
        if let Some(action) = fields.action {
            if !count_type.allows(action) {
                let expected = match count_type {
                    CountType::SinceImagePulled => "`transition` (to `archive`)",
                    _ => "`expire`",
                };
                self.report(
                    json_child(&fields.path, "action.type"),
                    format!(
                        "`countType` `{name}` only pairs with `type` {expected}, found `{}`",
                        action.as_str()
                    ),
                );
                fields.action = None;
            }
        }
        if let Some(class) = fields.storage_class {
            let expected = count_type.storage_class();
            if class != expected {
                let message = match expected {
                    StorageClass::Archive => format!(
                        "`countType` `{name}` counts days in archive and needs `storageClass` `archive`, found `{}`",
                        class.as_str()
                    ),
                    StorageClass::Standard => format!(
                        "`storageClass` `archive` only pairs with `countType` `sinceImageTransitioned`, found `{name}`"
                    ),
                };
                self.report(json_child(&fields.path, "selection.storageClass"), message);
                fields.storage_class = None;
            }
        }
        if let (CountType::SinceImageTransitioned, Some(days)) = (count_type, fields.count_number) {
            if days < MIN_DAYS_IN_ARCHIVE {
                self.report(
                    json_child(&fields.path, "selection.countNumber"),
                    format!(
                        "archived images must stay at least {MIN_DAYS_IN_ARCHIVE} days before a rule deletes them, found `{days}`"
                    ),
                );
                fields.count_number = None;
            }
        }
    }

    fn selection(&mut self, selection: &Map<String, Value>, path: &str, fields: &mut RuleFields) {
        report_unknown_keys(
            selection,
            path,
            &[
                "tagStatus",
                "tagPrefixList",
                "tagPatternList",
                "countType",
                "countUnit",
                "countNumber",
                "storageClass",
            ],
            self.problems,
        );
        fields.tag_status = self.choice(selection, path, "tagStatus", &TagStatus::CHOICES);
        let prefixes = self.string_list(selection, path, "tagPrefixList");
        let patterns = self.string_list(selection, path, "tagPatternList");
        if let Some(patterns) = &patterns {
            for (index, pattern) in patterns.iter().enumerate() {
                let n_wildcards = pattern.matches('*').count();
                if n_wildcards > MAX_WILDCARDS_PER_TAG_PATTERN {
                    self.report(
                        format!("{}[{index}]", json_child(path, "tagPatternList")),
                        format!(
                            "{n_wildcards} wildcards (`*`), ECR accepts at most {MAX_WILDCARDS_PER_TAG_PATTERN} per pattern"
                        ),
                    );
                }
            }
        }
        let has_prefixes = selection.contains_key("tagPrefixList");
        let has_patterns = selection.contains_key("tagPatternList");
        match fields.tag_status {
            Some(TagStatus::Tagged) if !has_prefixes && !has_patterns => {
                self.report(
                    json_child(path, "tagStatus"),
                    "`tagged` needs `tagPrefixList` or `tagPatternList`".into(),
                );
            }
            Some(TagStatus::Tagged) if has_prefixes && has_patterns => {
                self.report(
                    json_child(path, "tagPatternList"),
                    "`tagged` takes `tagPrefixList` or `tagPatternList`, not both".into(),
                );
            }
            Some(TagStatus::Tagged) => {
                let (key, list) = if has_patterns {
                    ("tagPatternList", &patterns)
                } else {
                    ("tagPrefixList", &prefixes)
                };
                if let Some(list) = list {
                    let mut sorted: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
                    sorted.sort_unstable();
                    sorted.dedup();
                    fields.tag_list = Some((key, sorted));
                }
            }
            Some(status @ (TagStatus::Untagged | TagStatus::Any)) => {
                let name = if status == TagStatus::Any {
                    "any"
                } else {
                    "untagged"
                };
                for key in ["tagPrefixList", "tagPatternList"] {
                    if selection.contains_key(key) {
                        self.report(
                            json_child(path, key),
                            format!("not allowed with `tagStatus` `{name}`, remove `{key}`"),
                        );
                    }
                }
            }
            None => {}
        }
        // Lists given but empty select nothing for `tagged`; ECR refuses them.
        for (key, list) in [("tagPrefixList", &prefixes), ("tagPatternList", &patterns)] {
            if list.as_ref().is_some_and(Vec::is_empty) {
                self.report(json_child(path, key), "expected at least one entry".into());
            }
        }

        fields.count_type = self.choice(selection, path, "countType", &CountType::CHOICES);
        let count_unit = selection.get("countUnit");
        match (fields.count_type, count_unit) {
            (Some(count_type), None) if count_type.counts_days() => self.report(
                json_child(path, "countUnit"),
                "missing, expected `days` with a `since*` `countType`".into(),
            ),
            (Some(count_type), Some(unit))
                if count_type.counts_days() && unit.as_str() != Some("days") =>
            {
                self.report(
                    json_child(path, "countUnit"),
                    format!("expected `days`, found {}", describe_json(unit)),
                );
            }
            (Some(CountType::ImageCountMoreThan), Some(_)) => self.report(
                json_child(path, "countUnit"),
                "not allowed with `countType` `imageCountMoreThan`, remove `countUnit`".into(),
            ),
            _ => {}
        }
        fields.count_number = self.positive_integer(selection, path, "countNumber");

        fields.storage_class = match selection.get("storageClass") {
            None => Some(StorageClass::Standard),
            Some(_) => self.choice(selection, path, "storageClass", &StorageClass::CHOICES),
        };
    }

    fn action(&mut self, action: &Map<String, Value>, path: &str) -> Option<LifecycleAction> {
        report_unknown_keys(action, path, &["type", "targetStorageClass"], self.problems);
        let choices = [
            ("expire", LifecycleAction::Expire),
            ("transition", LifecycleAction::TransitionToArchive),
        ];
        let action_type = self.choice(action, path, "type", &choices);
        let target = action.get("targetStorageClass");
        match (action_type, target) {
            (Some(LifecycleAction::TransitionToArchive), None) => {
                self.report(
                    json_child(path, "targetStorageClass"),
                    "missing, expected `archive` with `type` `transition`".into(),
                );
                None
            }
            (Some(LifecycleAction::TransitionToArchive), Some(target))
                if target.as_str() != Some("archive") =>
            {
                self.report(
                    json_child(path, "targetStorageClass"),
                    format!("expected `archive`, found {}", describe_json(target)),
                );
                None
            }
            (Some(LifecycleAction::Expire), Some(_)) => {
                self.report(
                    json_child(path, "targetStorageClass"),
                    "not allowed with `type` `expire`, remove `targetStorageClass`".into(),
                );
                None
            }
            (action_type, _) => action_type,
        }
    }

    fn required_object<'v>(
        &mut self,
        object: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<&'v Map<String, Value>> {
        match object.get(key) {
            None => {
                self.report(json_child(path, key), "missing, expected an object".into());
                None
            }
            Some(Value::Object(inner)) => Some(inner),
            Some(other) => {
                self.report(
                    json_child(path, key),
                    format!("expected an object, found {}", describe_json(other)),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(
        &mut self,
        object: &Map<String, Value>,
        path: &str,
        key: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let Some(value) = object.get(key) else {
            self.report(
                json_child(path, key),
                format!("missing, expected one of {}", backticked(&names)),
            );
            return None;
        };
        let found = choices
            .iter()
            .find(|(name, _)| value.as_str() == Some(*name))
            .map(|(_, choice)| *choice);
        if found.is_none() {
            self.report(
                json_child(path, key),
                format!(
                    "expected one of {}, found {}",
                    backticked(&names),
                    describe_json(value)
                ),
            );
        }
        found
    }

    fn positive_integer(
        &mut self,
        object: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<u64> {
        let Some(value) = object.get(key) else {
            self.report(
                json_child(path, key),
                "missing, expected an integer greater than 0".into(),
            );
            return None;
        };
        match value.as_u64() {
            Some(number) if number > 0 => Some(number),
            _ => {
                self.report(
                    json_child(path, key),
                    format!(
                        "expected an integer greater than 0, found {}",
                        describe_json(value)
                    ),
                );
                None
            }
        }
    }

    /// An optional list of non-empty strings; `None` when absent or wrong (reported).
    fn string_list<'v>(
        &mut self,
        object: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<Vec<&'v str>> {
        let value = object.get(key)?;
        let list_path = json_child(path, key);
        let Some(items) = value.as_array() else {
            self.report(
                list_path,
                format!("expected a list of strings, found {}", describe_json(value)),
            );
            return None;
        };
        let mut strings = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(text) if !text.is_empty() => strings.push(text),
                _ => self.report(
                    format!("{list_path}[{index}]"),
                    format!("expected a non-empty string, found {}", describe_json(item)),
                ),
            }
        }
        (strings.len() == items.len()).then_some(strings)
    }
}

#[cfg(test)]
mod tests;
