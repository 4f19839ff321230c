//! The difference between the registry's creation templates and the profiles: what to create
//! or update, and the hazards a template poses to the cache. Pure: no I/O.
//!
//! A template is compared field by field, JSON documents by meaning (key order, whitespace,
//! the order of lifecycle rules). Settings the profile leaves unset keep whatever the template
//! has, and so do `appliedFor` values and tags someone else put there.

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{EncryptionType, TemplateMode};
use crate::domain::OWNER_MARK;
use crate::domain::{
    Check, CreationTemplate, Finding, LifecyclePolicy, Severity, APPLIED_FOR_PULL_THROUGH_CACHE,
    ROOT_PREFIX,
};
use crate::harden_repository::plan::{normalized_lifecycle_text, normalized_policy_text};

use super::desired::DesiredTemplate;

/// ECR's limit on a template's description.
const MAX_DESCRIPTION_CHARS: usize = 256;

/// What to do with the template of one prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// No template yet: create one.
    Create,
    /// The template differs from the profile: update it.
    Update,
    /// Nothing differs.
    InSync,
    /// The profile sets nothing a template can carry (with or without the custom role): no
    /// template is created, an existing one is left alone.
    NothingToCarry,
    /// Someone else's template (no [`OWNER_MARK`] in its description): never written; each
    /// difference is a finding (`hardening.creation_templates = "adopt"` hands it over).
    Foreign,
}

/// One field of a template that differs, with what it is and what it becomes.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: Value,
    pub new: Value,
}

/// Why a template finding was raised (decided here, worded in [`Hazard::finding`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hazard {
    /// The profile sets tags or KMS encryption, and no custom role is configured: the template
    /// leaves them out.
    NoRole { left_out: Vec<&'static str> },
    /// The template sets tags or KMS encryption without a custom role: ECR cannot create
    /// repositories from it, so first pulls under the prefix fail.
    CreationFails { needs: Vec<&'static str> },
    /// The template's lifecycle policy is one ECR refuses.
    InvalidLifecycle { problem: String },
    /// Plain `IMMUTABLE`: ECR cannot refresh a cached tag.
    ImmutableTags,
    /// `"check"` mode: the template differs from the profile and was left as it is.
    Drift { fields: Vec<&'static str> },
    /// A `ROOT` template applies to cache repositories of managed prefixes without a template.
    RootTemplate { prefixes: Vec<String> },
    /// Someone else's template differs from the profile: left as it is, with the command that
    /// would make it agree.
    Foreign {
        fields: Vec<&'static str>,
        command: String,
    },
    /// The template encrypts with KMS and the profile asks for something else: never weakened,
    /// never given another or no key.
    EncryptionKept { kept: String, wanted: String },
    /// The template has its own `customRoleArn`: kept, never replaced by the product's.
    RoleKept { role: String },
}

/// What to do with one prefix's template.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplatePlan {
    pub prefix: String,
    pub profile: String,
    pub action: Action,
    /// Empty unless `action` is `Create` or `Update`.
    pub changes: Vec<FieldChange>,
    /// The whole template as it should be (what `Create` or `Update` sends).
    pub target: CreationTemplate,
    pub hazards: Vec<Hazard>,
}

impl TemplatePlan {
    pub fn writes(&self) -> bool {
        matches!(self.action, Action::Create | Action::Update)
    }
}

/// Every template's plan, and what the run leaves alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Plans {
    pub plans: Vec<TemplatePlan>,
    /// Hazards of the registry as a whole (a `ROOT` template).
    pub hazards: Vec<Hazard>,
    /// Prefixes of templates that are not the product's: never written.
    pub left_alone: Vec<String>,
}

/// Plans every desired template against the registry's templates.
pub fn plan_all(
    desired: &[DesiredTemplate<'_>],
    observed: &[CreationTemplate],
    mode: TemplateMode,
    role_arn: Option<&str>,
) -> Plans {
    let plans: Vec<TemplatePlan> = desired
        .iter()
        .map(|wanted| {
            let existing = observed
                .iter()
                .find(|template| template.prefix_key() == wanted.prefix);
            plan(wanted, existing, mode, role_arn)
        })
        .collect();
    let left_alone: Vec<String> = observed
        .iter()
        .filter(|template| {
            !desired
                .iter()
                .any(|wanted| wanted.prefix == template.prefix_key())
        })
        .map(|template| template.prefix.clone())
        .collect();
    let mut hazards = Vec::new();
    let root_for_cache = observed
        .iter()
        .any(|template| template.prefix == ROOT_PREFIX && template.applies_to_the_cache());
    if root_for_cache {
        let uncovered: Vec<String> = plans
            .iter()
            .filter(|plan| {
                let has_template = observed
                    .iter()
                    .any(|template| template.prefix_key() == plan.prefix);
                let will_have = plan.action == Action::Create && mode.writes();
                !has_template && !will_have
            })
            .map(|plan| plan.prefix.clone())
            .collect();
        if !uncovered.is_empty() {
            hazards.push(Hazard::RootTemplate {
                prefixes: uncovered,
            });
        }
    }
    Plans {
        plans,
        hazards,
        left_alone,
    }
}

/// Plans the template of one prefix. `existing` is the registry's template of exactly that
/// prefix, if any.
pub fn plan(
    desired: &DesiredTemplate<'_>,
    existing: Option<&CreationTemplate>,
    mode: TemplateMode,
    role_arn: Option<&str>,
) -> TemplatePlan {
    let profile = desired.profile;
    let wants_tags = profile.tags.as_ref().is_some_and(|tags| !tags.is_empty());
    let wants_kms = profile
        .encryption
        .is_some_and(|encryption| encryption != EncryptionType::Aes256);
    let mut hazards = Vec::new();
    if role_arn.is_none() && (wants_tags || wants_kms) {
        let mut left_out = Vec::new();
        if wants_tags {
            left_out.push("tags");
        }
        if wants_kms {
            left_out.push("KMS encryption");
        }
        hazards.push(Hazard::NoRole { left_out });
    }
    let carries_anything = profile.lifecycle_policy.is_some()
        || profile.repository_policy.is_some()
        || profile.tag_mutability.is_some()
        || profile.encryption == Some(EncryptionType::Aes256)
        || (role_arn.is_some() && (wants_tags || wants_kms));
    let base = existing
        .cloned()
        .unwrap_or_else(|| CreationTemplate::empty(desired.prefix));
    if !carries_anything {
        return TemplatePlan {
            prefix: desired.prefix.to_owned(),
            profile: desired.profile_name().to_owned(),
            action: Action::NothingToCarry,
            changes: Vec::new(),
            target: base,
            hazards: effective_hazards(existing, hazards),
        };
    }

    let owned = existing.is_none_or(CreationTemplate::is_owned);
    let mut target = base.clone();
    if !target.applies_to_the_cache() {
        target
            .applied_for
            .push(APPLIED_FOR_PULL_THROUGH_CACHE.to_owned());
    }
    if existing.is_none() || (!owned && mode == TemplateMode::Adopt) {
        let mut description = format!(
            "{OWNER_MARK} profile `{}` for repositories the pull-through cache creates",
            desired.profile_name()
        );
        if let Some(was) = existing.and_then(|template| template.description.as_deref()) {
            description.push_str(&format!(" (adopted; was: {was})"));
        }
        target.description = Some(description.chars().take(MAX_DESCRIPTION_CHARS).collect());
    }
    if let Some(configured) = &profile.lifecycle_policy {
        let wanted = configured.policy.canonical_text();
        let current = base
            .lifecycle_policy
            .as_deref()
            .map(normalized_lifecycle_text);
        if current.as_deref() != Some(wanted) {
            target.lifecycle_policy = Some(wanted.to_owned());
        }
    }
    if let Some(configured) = &profile.repository_policy {
        let wanted = configured.policy.canonical_text();
        let current = base
            .repository_policy
            .as_deref()
            .map(normalized_policy_text);
        if current.as_deref() != Some(wanted) {
            target.repository_policy = Some(wanted.to_owned());
        }
    }
    if let (Some(tags), Some(_)) = (&profile.tags, role_arn) {
        // A merge, as on repositories: tags someone else put on the template stay.
        for (key, value) in tags {
            target.resource_tags.insert(key.clone(), value.clone());
        }
    }
    if let Some(wanted) = &profile.tag_mutability {
        let current_mode = base.tag_mutability.as_deref().unwrap_or("MUTABLE");
        let mut current_filters = base.tag_mutability_exclusions.clone();
        let mut wanted_filters = wanted.exclusion_filters.clone();
        current_filters.sort();
        wanted_filters.sort();
        if current_mode != wanted.mutability.as_str() || current_filters != wanted_filters {
            target.tag_mutability = Some(wanted.mutability.as_str().to_owned());
            target.tag_mutability_exclusions = wanted.exclusion_filters.clone();
        }
    }
    if let Some(encryption) = profile.encryption {
        let allowed = encryption == EncryptionType::Aes256 || role_arn.is_some();
        let current = base.effective_encryption();
        let wanted_key = profile.kms_key.as_deref();
        let current_key = base.kms_key.as_deref();
        let other_key = current.starts_with("KMS")
            && current == encryption.as_str()
            && current_key.is_some()
            && current_key != wanted_key;
        if (current.starts_with("KMS") && current != encryption.as_str()) || other_key {
            // Whoever set a KMS key meant it: never AES256 instead, never another or no key.
            let describe = |kind: &str, key: Option<&str>| match key {
                Some(key) => format!("{kind} with key {key}"),
                None => kind.to_owned(),
            };
            hazards.push(Hazard::EncryptionKept {
                kept: describe(current, current_key),
                wanted: describe(encryption.as_str(), wanted_key),
            });
        } else if allowed && (current != encryption.as_str() || current_key != wanted_key) {
            target.encryption_type = Some(encryption.as_str().to_owned());
            target.kms_key = wanted_key.map(str::to_owned);
        }
    }
    if let Some(role_arn) = role_arn {
        if !target.needs_custom_role().is_empty() {
            match target.custom_role_arn.as_deref() {
                None => target.custom_role_arn = Some(role_arn.to_owned()),
                Some(theirs) if theirs != role_arn => hazards.push(Hazard::RoleKept {
                    role: theirs.to_owned(),
                }),
                Some(_) => {}
            }
        }
    }

    let changes = diff(&base, &target);
    let foreign = !owned && mode == TemplateMode::Manage;
    let action = match (existing, changes.is_empty()) {
        (None, _) => Action::Create,
        (Some(_), _) if foreign => Action::Foreign,
        (Some(_), false) => Action::Update,
        (Some(_), true) => Action::InSync,
    };
    // What the registry holds once the run is over: the target, unless nothing is written.
    let effective = if mode.writes() && !foreign {
        Some(&target)
    } else {
        existing
    };
    let mut hazards = effective_hazards(effective, hazards);
    if foreign && !changes.is_empty() {
        hazards.push(Hazard::Foreign {
            fields: changes.iter().map(|change| change.field).collect(),
            command: update_command(&target, &changes),
        });
    } else if !mode.writes() && action != Action::InSync {
        hazards.push(Hazard::Drift {
            fields: changes.iter().map(|change| change.field).collect(),
        });
    }
    TemplatePlan {
        prefix: desired.prefix.to_owned(),
        profile: desired.profile_name().to_owned(),
        action,
        changes,
        target,
        hazards,
    }
}

/// The hazards of the template the cache will use.
fn effective_hazards(
    effective: Option<&CreationTemplate>,
    mut hazards: Vec<Hazard>,
) -> Vec<Hazard> {
    let Some(template) = effective.filter(|template| template.applies_to_the_cache()) else {
        return hazards;
    };
    let needs = template.needs_custom_role();
    if !needs.is_empty() && template.custom_role_arn.is_none() {
        hazards.push(Hazard::CreationFails { needs });
    }
    if let Some(text) = &template.lifecycle_policy {
        if let Err(problems) = LifecyclePolicy::parse(text) {
            let problem = problems
                .first()
                .map(ToString::to_string)
                .unwrap_or_else(|| "refused".to_owned());
            hazards.push(Hazard::InvalidLifecycle { problem });
        }
    }
    if template.tag_mutability.as_deref() == Some("IMMUTABLE") {
        hazards.push(Hazard::ImmutableTags);
    }
    hazards
}

/// A template's fields as reports show them.
fn fields(template: &CreationTemplate) -> [(&'static str, Value); 8] {
    let document = |text: &Option<String>| match text {
        Some(text) => serde_json::from_str(text).unwrap_or_else(|_| json!(text)),
        None => Value::Null,
    };
    let mut applied_for = template.applied_for.clone();
    applied_for.sort();
    let mut exclusions = template.tag_mutability_exclusions.clone();
    exclusions.sort();
    [
        ("description", json!(template.description)),
        ("applied_for", json!(applied_for)),
        ("lifecycle_policy", document(&template.lifecycle_policy)),
        ("repository_policy", document(&template.repository_policy)),
        (
            "resource_tags",
            if template.resource_tags.is_empty() {
                Value::Null
            } else {
                json!(template.resource_tags)
            },
        ),
        (
            "tag_mutability",
            match &template.tag_mutability {
                None => Value::Null,
                Some(mode) => json!({"mutability": mode, "exclusion_filters": exclusions}),
            },
        ),
        (
            "encryption",
            match &template.encryption_type {
                None => Value::Null,
                Some(kind) => json!({"encryption_type": kind, "kms_key": template.kms_key}),
            },
        ),
        ("custom_role_arn", json!(template.custom_role_arn)),
    ]
}

/// Quotes `text` for a POSIX shell.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The `aws ecr update-repository-creation-template` command that gives a template the
/// `changes` (as `target` has them), for a template this product may not write itself.
pub fn update_command(target: &CreationTemplate, changes: &[FieldChange]) -> String {
    let mut command = format!(
        "aws ecr update-repository-creation-template --prefix {}",
        shell_quoted(&target.prefix)
    );
    for change in changes {
        let flag = match change.field {
            "applied_for" => format!("--applied-for {}", target.applied_for.join(" ")),
            "lifecycle_policy" => format!(
                "--lifecycle-policy {}",
                shell_quoted(target.lifecycle_policy.as_deref().unwrap_or_default())
            ),
            "repository_policy" => format!(
                "--repository-policy {}",
                shell_quoted(target.repository_policy.as_deref().unwrap_or_default())
            ),
            "resource_tags" => format!(
                "--resource-tags {}",
                target
                    .resource_tags
                    .iter()
                    .map(|(key, value)| shell_quoted(&format!("Key={key},Value={value}")))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "tag_mutability" => {
                let mut flag = format!(
                    "--image-tag-mutability {}",
                    target.tag_mutability.as_deref().unwrap_or("MUTABLE")
                );
                for filter in &target.tag_mutability_exclusions {
                    if flag.contains("--image-tag-mutability-exclusion-filters") {
                        flag.push(' ');
                    } else {
                        flag.push_str(" --image-tag-mutability-exclusion-filters ");
                    }
                    flag.push_str(&shell_quoted(&format!(
                        "filterType=WILDCARD,filter={filter}"
                    )));
                }
                flag
            }
            "encryption" => format!(
                "--encryption-configuration encryptionType={}",
                target.effective_encryption()
            ),
            "custom_role_arn" => format!(
                "--custom-role-arn {}",
                shell_quoted(target.custom_role_arn.as_deref().unwrap_or_default())
            ),
            "description" => format!(
                "--description {}",
                shell_quoted(target.description.as_deref().unwrap_or_default())
            ),
            _ => continue,
        };
        command.push(' ');
        command.push_str(&flag);
    }
    command
}

fn diff(old: &CreationTemplate, new: &CreationTemplate) -> Vec<FieldChange> {
    fields(old)
        .into_iter()
        .zip(fields(new))
        .filter(|((_, old), (_, new))| old != new)
        .map(|((field, old), (_, new))| FieldChange { field, old, new })
        .collect()
}

impl Hazard {
    /// The hazard as a finding about the template of `prefix`.
    pub fn finding(&self, prefix: &str) -> Finding {
        match self {
            Hazard::NoRole { left_out } => no_role_finding(&[prefix], left_out),
            Hazard::CreationFails { needs } => {
                let what = needs.join(" and ");
                Finding::new(
                    Severity::Critical,
                    Check::CreationTemplate,
                    prefix,
                    format!("first pulls under `{prefix}/` fail: its creation template sets {what} without a custom role"),
                    format!("ECR creates a repository from a template with {what} only through `customRoleArn`; without it the creation fails, and with it every pull of an image not cached yet under `{prefix}/`"),
                )
                .with_next_steps([
                    format!("give the template a role: `aws ecr update-repository-creation-template --prefix {prefix} --custom-role-arn <role ARN>` (or set `hardening.creation_template_role_arn`, and the next sweep does it)"),
                    format!("or remove the tags and KMS encryption from it: `aws ecr describe-repository-creation-templates --prefixes {prefix}`"),
                ])
            }
            Hazard::InvalidLifecycle { problem } => Finding::new(
                Severity::Warning,
                Check::CreationTemplate,
                prefix,
                format!("creation template `{prefix}` has a lifecycle policy ECR refuses"),
                format!("{problem}; repositories created from it may get no lifecycle policy, or the creation fails"),
            )
            .with_next_step("set `lifecycle_policy` in the profile of the prefix, so the next sweep replaces it, or fix the template's policy"),
            Hazard::ImmutableTags => Finding::new(
                Severity::Warning,
                Check::CreationTemplate,
                prefix,
                format!("creation template `{prefix}` makes cache tags immutable"),
                "with plain `IMMUTABLE`, ECR can no longer refresh a cached tag when the upstream moves it; AWS recommends `MUTABLE` for cache templates",
            )
            .with_next_step("set `tag_mutability = \"IMMUTABLE_WITH_EXCLUSION\"` with `tag_mutability_exclusions` naming the tags that move (such as `latest`) in the profile"),
            Hazard::Drift { fields } => Finding::new(
                Severity::Warning,
                Check::CreationTemplate,
                prefix,
                format!("creation template `{prefix}` differs from its profile"),
                format!("`hardening.creation_templates` is `check`, so it was left as it is; differing: {}", fields.join(", ")),
            )
            .with_next_steps([
                "review the `templates` section of the report (old and new value per field)".to_owned(),
                "set `hardening.creation_templates = \"manage\"` and run `ptc templates apply`, or change the template or the profile until they agree".to_owned(),
            ]),
            Hazard::Foreign { fields, command } => Finding::new(
                Severity::Warning,
                Check::CreationTemplate,
                prefix,
                format!("creation template `{prefix}` is not this product's and differs from its profile"),
                format!(
                    "its description does not start with `{OWNER_MARK}`, so it was left as it is; differing: {}",
                    fields.join(", ")
                ),
            )
            .with_next_steps([
                format!("to make it agree by hand: `{command}`"),
                "or hand it to the product: `hardening.creation_templates = \"adopt\"`, then `ptc templates apply`".to_owned(),
                "or change the profile of the prefix until it agrees with the template".to_owned(),
            ]),
            Hazard::EncryptionKept { kept, wanted } => Finding::new(
                Severity::Warning,
                Check::CreationTemplate,
                prefix,
                format!("creation template `{prefix}` keeps its `{kept}` encryption"),
                format!("the profile asks for `{wanted}`, but a template's KMS encryption is never replaced: that would weaken it, or change or drop its key"),
            )
            .with_next_step(format!("set `encryption = \"{kept}\"` in the profile of the prefix, or change the template by hand if `{wanted}` is really meant")),
            Hazard::RoleKept { role } => Finding::new(
                Severity::Info,
                Check::CreationTemplate,
                prefix,
                format!("creation template `{prefix}` keeps its own custom role"),
                format!("its `customRoleArn` is `{role}`, not `hardening.creation_template_role_arn`; it is never replaced, so that role must allow what the template sets (tags, KMS)"),
            ),
            Hazard::RootTemplate { prefixes } => {
                let listed: Vec<String> = prefixes.iter().map(|p| format!("`{p}/`")).collect();
                Finding::new(
                    Severity::Warning,
                    Check::CreationTemplate,
                    ROOT_PREFIX,
                    "a `ROOT` creation template applies to cache repositories",
                    format!("no template of their own covers {}, so repositories the pull-through cache creates there get the `ROOT` template's settings instead of their profile's", listed.join(", ")),
                )
                .with_next_steps([
                    "set `hardening.creation_templates = \"manage\"` so each managed prefix gets its own template (the most specific template wins)".to_owned(),
                    "or leave `PULL_THROUGH_CACHE` out of the `ROOT` template's `appliedFor`".to_owned(),
                ])
            }
        }
    }
}

/// Templates that leave tags or KMS encryption out for want of a custom role, as one finding.
pub fn no_role_finding(prefixes: &[&str], left_out: &[&str]) -> Finding {
    let what = left_out.join(" and ");
    let listed: Vec<String> = prefixes
        .iter()
        .map(|prefix| format!("`{prefix}`"))
        .collect();
    Finding::new(
        Severity::Warning,
        Check::CreationTemplate,
        "creation-templates",
        format!("creation templates carry no {what}: no custom role is configured"),
        format!("ECR can only create repositories with {what} through a custom role (`customRoleArn`), or the first pull fails; without `hardening.creation_template_role_arn` the templates of {} leave {what} out, and the creation event adds them to each new repository", listed.join(", ")),
    )
    .with_next_steps([
        "deploy with SAM: it creates the role and passes it as `PTC_TEMPLATE_ROLE_ARN`".to_owned(),
        "or set `hardening.creation_template_role_arn` to a role trusted by `ecr.amazonaws.com` that may `ecr:CreateRepository` and `ecr:TagResource` (the profiles' tag keys) on the managed prefixes, and use a profile's `kms_key` through ECR".to_owned(),
    ])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::{
        ConfiguredPolicy, PolicyOrigin, Profile, TagMutability, TagMutabilitySetting,
    };
    use crate::domain::RepositoryPolicy;
    use crate::test_cases::named_cases;

    const LIFECYCLE: &str = r#"{"rules":[{"rulePriority":2,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":50},"action":{"type":"expire"}},{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}"#;
    /// The same policy: other rule order, key order and whitespace.
    const LIFECYCLE_REORDERED: &str = r#"{ "rules": [
        { "action": {"type": "expire"}, "rulePriority": 1, "selection": {"countNumber": 7, "countUnit": "days", "countType": "sinceImagePushed", "tagStatus": "untagged"} },
        { "selection": {"countNumber": 50, "countType": "imageCountMoreThan", "tagStatus": "any"}, "rulePriority": 2, "action": {"type": "expire"} } ] }"#;
    const OTHER_LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
    const REFUSED_LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":5},"action":{"type":"expire"}}]}"#;
    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Org","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage"],"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}}]}"#;
    const FOREIGN_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"One","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"ecr:BatchGetImage"}]}"#;
    const ROLE: &str = "arn:aws:iam::111122223333:role/ptc-ops-creation-templates";

    fn profile() -> Profile {
        Profile {
            scan_on_push: Some(true),
            tag_mutability: Some(TagMutabilitySetting {
                mutability: TagMutability::ImmutableWithExclusion,
                exclusion_filters: vec!["latest".into(), "v*".into()],
            }),
            lifecycle_policy: Some(ConfiguredPolicy {
                policy: LifecyclePolicy::parse(LIFECYCLE).expect("valid lifecycle policy"),
                origin: PolicyOrigin::Inline,
            }),
            repository_policy: Some(ConfiguredPolicy {
                policy: RepositoryPolicy::parse(POLICY).expect("valid policy"),
                origin: PolicyOrigin::Inline,
            }),
            tags: Some(BTreeMap::from([(
                "managed-by".into(),
                "ecr-ptc-ops".into(),
            )])),
            encryption: Some(EncryptionType::Aes256),
            kms_key: None,
            allow_public: false,
            scan_alert_severity: crate::config::ScanAlertSeverity::Critical,
        }
    }

    fn only_scanning() -> Profile {
        Profile {
            tag_mutability: None,
            lifecycle_policy: None,
            repository_policy: None,
            tags: None,
            encryption: None,
            ..profile()
        }
    }

    fn with_kms() -> Profile {
        Profile {
            encryption: Some(EncryptionType::Kms),
            ..profile()
        }
    }

    fn immutable() -> Profile {
        Profile {
            tag_mutability: Some(TagMutabilitySetting {
                mutability: TagMutability::Immutable,
                exclusion_filters: vec![],
            }),
            ..profile()
        }
    }

    /// The template `plan` creates for [`profile`] with the role, field by field as ECR keeps it.
    fn in_sync(prefix: &str) -> CreationTemplate {
        CreationTemplate {
            prefix: prefix.into(),
            description: Some("ecr-ptc-ops: profile `default`, with someone's words".into()),
            applied_for: vec![APPLIED_FOR_PULL_THROUGH_CACHE.into()],
            lifecycle_policy: Some(LIFECYCLE_REORDERED.into()),
            repository_policy: Some(POLICY.replace(',', ", ")),
            resource_tags: BTreeMap::from([("managed-by".into(), "ecr-ptc-ops".into())]),
            tag_mutability: Some("IMMUTABLE_WITH_EXCLUSION".into()),
            tag_mutability_exclusions: vec!["v*".into(), "latest".into()],
            encryption_type: Some("AES256".into()),
            kms_key: None,
            custom_role_arn: Some(ROLE.into()),
        }
    }

    struct Case {
        profile: Profile,
        existing: Option<CreationTemplate>,
        role: Option<&'static str>,
        mode: TemplateMode,
        action: Action,
        changed: &'static [&'static str],
        hazards: &'static [&'static str],
        /// Checks on the template the plan would write.
        target: fn(&CreationTemplate) -> bool,
    }

    fn hazard_name(hazard: &Hazard) -> &'static str {
        match hazard {
            Hazard::NoRole { .. } => "no-role",
            Hazard::CreationFails { .. } => "creation-fails",
            Hazard::InvalidLifecycle { .. } => "invalid-lifecycle",
            Hazard::ImmutableTags => "immutable-tags",
            Hazard::Drift { .. } => "drift",
            Hazard::RootTemplate { .. } => "root-template",
            Hazard::Foreign { .. } => "foreign",
            Hazard::EncryptionKept { .. } => "encryption-kept",
            Hazard::RoleKept { .. } => "role-kept",
        }
    }

    /// The plan for the `docker-hub` prefix under `case.profile` is what `case` says.
    fn check(name: &str, case: Case) {
        let desired = DesiredTemplate {
            prefix: "docker-hub",
            profile_prefix: None,
            profile: &case.profile,
        };
        let plan = plan(&desired, case.existing.as_ref(), case.mode, case.role);
        assert_eq!(plan.action, case.action, "{name}: action");
        let changed: Vec<&str> = plan.changes.iter().map(|change| change.field).collect();
        assert_eq!(changed, case.changed, "{name}: changed fields");
        let hazards: Vec<&str> = plan.hazards.iter().map(hazard_name).collect();
        assert_eq!(hazards, case.hazards, "{name}: hazards");
        assert!(
            (case.target)(&plan.target),
            "{name}: target {:#?}",
            plan.target
        );
    }

    /// A template that also serves replication and carries a team tag.
    fn with_foreign(mut template: CreationTemplate) -> CreationTemplate {
        template.applied_for = vec!["REPLICATION".into()];
        template
            .resource_tags
            .insert("team".into(), "platform".into());
        template
    }

    const TEAM_ROLE: &str = "arn:aws:iam::111122223333:role/payments-ecr-templates";
    const OUR_KEY: &str =
        "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab";
    const TEAM_KEY: &str =
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    /// A team's own template for the prefix: its KMS key, its role, its words.
    fn team_template() -> CreationTemplate {
        CreationTemplate {
            description: Some("payments team: images we pull through the cache".into()),
            lifecycle_policy: Some(OTHER_LIFECYCLE.into()),
            encryption_type: Some("KMS".into()),
            kms_key: Some(TEAM_KEY.into()),
            custom_role_arn: Some(TEAM_ROLE.into()),
            ..in_sync("docker-hub")
        }
    }

    fn keeps_the_teams_key_and_role(t: &CreationTemplate) -> bool {
        t.encryption_type.as_deref() == Some("KMS")
            && t.kms_key.as_deref() == Some(TEAM_KEY)
            && t.custom_role_arn.as_deref() == Some(TEAM_ROLE)
    }

    named_cases! {
        /// Someone else's template is never taken over, and no template is ever weakened.
        mod templates_have_owners => check;
        a_teams_kms_template_is_foreign_and_left_alone(Case {
            profile: profile(),
            existing: Some(team_template()),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::Foreign,
            changed: &["lifecycle_policy"],
            hazards: &["encryption-kept", "role-kept", "foreign"],
            target: keeps_the_teams_key_and_role,
        }),
        a_foreign_template_that_agrees_is_still_foreign(Case {
            profile: profile(),
            existing: Some(CreationTemplate {
                description: None,
                ..in_sync("docker-hub")
            }),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::Foreign,
            changed: &[],
            hazards: &[],
            target: |t| t.description.is_none(),
        }),
        adopting_takes_it_over_but_never_weakens_it(Case {
            profile: profile(),
            existing: Some(team_template()),
            role: Some(ROLE),
            mode: TemplateMode::Adopt,
            action: Action::Update,
            changed: &["description", "lifecycle_policy"],
            hazards: &["encryption-kept", "role-kept"],
            target: |t| {
                keeps_the_teams_key_and_role(t)
                    && t.is_owned()
                    && t.description.as_deref().is_some_and(|d| {
                        d.ends_with("(adopted; was: payments team: images we pull through the cache)")
                    })
            },
        }),
        an_owned_kms_template_keeps_its_key_under_an_aes256_profile(Case {
            profile: profile(),
            existing: Some(CreationTemplate {
                description: in_sync("docker-hub").description,
                ..team_template()
            }),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::Update,
            changed: &["lifecycle_policy"],
            hazards: &["encryption-kept", "role-kept"],
            target: keeps_the_teams_key_and_role,
        }),
        a_kms_profile_with_its_key_carries_the_key(Case {
            profile: Profile {
                kms_key: Some(OUR_KEY.into()),
                ..with_kms()
            },
            existing: Some(in_sync("docker-hub")),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::Update,
            changed: &["encryption"],
            hazards: &[],
            target: |t| {
                t.encryption_type.as_deref() == Some("KMS")
                    && t.kms_key.as_deref() == Some(OUR_KEY)
            },
        }),
        another_kms_key_is_never_swapped(Case {
            profile: Profile {
                kms_key: Some(OUR_KEY.into()),
                ..with_kms()
            },
            existing: Some(CreationTemplate {
                encryption_type: Some("KMS".into()),
                kms_key: Some(TEAM_KEY.into()),
                ..in_sync("docker-hub")
            }),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::InSync,
            changed: &[],
            hazards: &["encryption-kept"],
            target: |t| t.kms_key.as_deref() == Some(TEAM_KEY),
        }),
        kms_dsse_is_not_traded_for_kms(Case {
            profile: with_kms(),
            existing: Some(CreationTemplate {
                encryption_type: Some("KMS_DSSE".into()),
                kms_key: Some(TEAM_KEY.into()),
                ..in_sync("docker-hub")
            }),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::InSync,
            changed: &[],
            hazards: &["encryption-kept"],
            target: |t| t.kms_key.as_deref() == Some(TEAM_KEY),
        }),
    }

    #[test]
    fn a_foreign_template_finding_names_the_exact_update_command() {
        let profile = profile();
        let desired = DesiredTemplate {
            prefix: "docker-hub",
            profile_prefix: None,
            profile: &profile,
        };
        let planned = plan(
            &desired,
            Some(&team_template()),
            TemplateMode::Manage,
            Some(ROLE),
        );
        let foreign = planned
            .hazards
            .iter()
            .find(|hazard| matches!(hazard, Hazard::Foreign { .. }))
            .expect("a foreign hazard");
        let finding = foreign.finding("docker-hub");
        assert_eq!(finding.severity, Severity::Warning);
        let command = finding
            .next_steps
            .iter()
            .find_map(|step| step.strip_prefix("to make it agree by hand: `"))
            .and_then(|step| step.strip_suffix('`'))
            .expect("the command");
        assert!(
            command.starts_with("aws ecr update-repository-creation-template --prefix 'docker-hub' --lifecycle-policy '{"),
            "{command}"
        );
        assert!(
            !command.contains("--custom-role-arn")
                && !command.contains("--encryption-configuration"),
            "never weakens: {command}"
        );
    }

    #[test]
    fn commands_quote_what_the_shell_would_split() {
        let template = CreationTemplate {
            prefix: "docker-hub".into(),
            description: Some("it's ours".into()),
            resource_tags: BTreeMap::from([("cost center".into(), "a b".into())]),
            ..CreationTemplate::default()
        };
        let changes = [
            FieldChange {
                field: "description",
                old: Value::Null,
                new: Value::Null,
            },
            FieldChange {
                field: "resource_tags",
                old: Value::Null,
                new: Value::Null,
            },
        ];
        assert_eq!(
            update_command(&template, &changes),
            r#"aws ecr update-repository-creation-template --prefix 'docker-hub' --description 'it'\''s ours' --resource-tags 'Key=cost center,Value=a b'"#
        );
    }

    named_cases! {
        /// Templates are planned from the profiles.
        mod templates_are_planned_from_the_profiles => check;
        /// AES256 is the default.
        new_prefix_is_created_with_everything_the_profile_sets(Case {
            profile: profile(),
            existing: None,
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::Create,
            changed: &[
                "description",
                "applied_for",
                "lifecycle_policy",
                "repository_policy",
                "resource_tags",
                "tag_mutability",
                "custom_role_arn",
            ],
            hazards: &[],
            target: |t| {
                t.applied_for == [APPLIED_FOR_PULL_THROUGH_CACHE]
                    && t.custom_role_arn.as_deref() == Some(ROLE)
            },
        }),
        same_meaning_other_spelling_writes_nothing(Case {
            profile: profile(),
            existing: Some(in_sync("docker-hub")),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::InSync,
            changed: &[],
            hazards: &[],
            target: |t| t == &in_sync("docker-hub"),
        }),
        foreign_applied_for_and_tags_are_kept_and_the_cache_is_added(Case {
            profile: profile(),
            existing: Some(with_foreign(in_sync("docker-hub"))),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::Update,
            changed: &["applied_for"],
            hazards: &[],
            target: |t| {
                t.applied_for == ["REPLICATION", APPLIED_FOR_PULL_THROUGH_CACHE]
                    && t.resource_tags.len() == 2
            },
        }),
        settings_the_profile_leaves_unset_keep_the_templates(Case {
            profile: Profile {
                repository_policy: None,
                ..profile()
            },
            existing: Some(CreationTemplate {
                repository_policy: Some(FOREIGN_POLICY.into()),
                ..in_sync("docker-hub")
            }),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::InSync,
            changed: &[],
            hazards: &[],
            target: |t| t.repository_policy.as_deref() == Some(FOREIGN_POLICY),
        }),
        a_different_lifecycle_policy_is_replaced(Case {
            profile: profile(),
            existing: Some(CreationTemplate {
                lifecycle_policy: Some(OTHER_LIFECYCLE.into()),
                ..in_sync("docker-hub")
            }),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::Update,
            changed: &["lifecycle_policy"],
            hazards: &[],
            target: |t| {
                t.lifecycle_policy.as_deref().is_some_and(|text| {
                    normalized_lifecycle_text(text) == normalized_lifecycle_text(LIFECYCLE)
                })
            },
        }),
        no_role_leaves_tags_and_kms_out_with_a_warning(Case {
            profile: with_kms(),
            existing: None,
            role: None,
            mode: TemplateMode::Manage,
            action: Action::Create,
            changed: &[
                "description",
                "applied_for",
                "lifecycle_policy",
                "repository_policy",
                "tag_mutability",
            ],
            hazards: &["no-role"],
            target: |t| {
                t.resource_tags.is_empty()
                    && t.encryption_type.is_none()
                    && t.custom_role_arn.is_none()
            },
        }),
        with_a_role_kms_is_carried_with_the_role(Case {
            profile: with_kms(),
            existing: Some(in_sync("docker-hub")),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::Update,
            changed: &["encryption"],
            hazards: &[],
            target: |t| {
                t.encryption_type.as_deref() == Some("KMS")
                    && t.custom_role_arn.as_deref() == Some(ROLE)
            },
        }),
        check_mode_reports_drift_and_judges_the_existing_template(Case {
            profile: profile(),
            existing: Some(CreationTemplate {
                tag_mutability: Some("IMMUTABLE".into()),
                tag_mutability_exclusions: vec![],
                ..in_sync("docker-hub")
            }),
            role: Some(ROLE),
            mode: TemplateMode::Check,
            action: Action::Update,
            changed: &["tag_mutability"],
            hazards: &["immutable-tags", "drift"],
            target: |t| t.tag_mutability.as_deref() == Some("IMMUTABLE_WITH_EXCLUSION"),
        }),
        check_mode_without_a_template_is_drift(Case {
            profile: profile(),
            existing: None,
            role: Some(ROLE),
            mode: TemplateMode::Check,
            action: Action::Create,
            changed: &[
                "description",
                "applied_for",
                "lifecycle_policy",
                "repository_policy",
                "resource_tags",
                "tag_mutability",
                "custom_role_arn",
            ],
            hazards: &["drift"],
            target: |_| true,
        }),
        nothing_a_template_carries_means_no_template(Case {
            profile: only_scanning(),
            existing: None,
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::NothingToCarry,
            changed: &[],
            hazards: &[],
            target: |_| true,
        }),
        foreign_tags_without_a_role_make_first_pulls_fail(Case {
            profile: Profile {
                tags: None,
                ..profile()
            },
            existing: Some(CreationTemplate {
                custom_role_arn: None,
                ..in_sync("docker-hub")
            }),
            role: None,
            mode: TemplateMode::Manage,
            action: Action::InSync,
            changed: &[],
            hazards: &["creation-fails"],
            target: |t| t.custom_role_arn.is_none(),
        }),
        a_kept_lifecycle_policy_ecr_refuses_is_a_hazard(Case {
            profile: Profile {
                lifecycle_policy: None,
                ..profile()
            },
            existing: Some(CreationTemplate {
                lifecycle_policy: Some(REFUSED_LIFECYCLE.into()),
                ..in_sync("docker-hub")
            }),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::InSync,
            changed: &[],
            hazards: &["invalid-lifecycle"],
            target: |_| true,
        }),
        an_immutable_profile_is_carried_with_a_warning(Case {
            profile: immutable(),
            existing: Some(in_sync("docker-hub")),
            role: Some(ROLE),
            mode: TemplateMode::Manage,
            action: Action::Update,
            changed: &["tag_mutability"],
            hazards: &["immutable-tags"],
            target: |t| {
                t.tag_mutability.as_deref() == Some("IMMUTABLE")
                    && t.tag_mutability_exclusions.is_empty()
            },
        }),
    }

    #[test]
    fn foreign_templates_are_left_alone_and_root_is_a_hazard() {
        let profile = profile();
        let desired = [
            DesiredTemplate {
                prefix: "docker-hub",
                profile_prefix: None,
                profile: &profile,
            },
            DesiredTemplate {
                prefix: "ghcr",
                profile_prefix: None,
                profile: &profile,
            },
        ];
        let root = CreationTemplate {
            applied_for: vec![APPLIED_FOR_PULL_THROUGH_CACHE.into()],
            ..CreationTemplate::empty(ROOT_PREFIX)
        };
        let foreign = CreationTemplate {
            applied_for: vec![APPLIED_FOR_PULL_THROUGH_CACHE.into()],
            ..CreationTemplate::empty("team/")
        };
        let observed = [in_sync("docker-hub/"), foreign, root];
        let managed = plan_all(&desired, &observed, TemplateMode::Manage, Some(ROLE));
        assert_eq!(managed.left_alone, ["team/", "ROOT"]);
        let actions: Vec<Action> = managed.plans.iter().map(|plan| plan.action).collect();
        assert_eq!(
            actions,
            [Action::InSync, Action::Create],
            "a trailing `/` is implied"
        );
        assert!(managed.hazards.is_empty(), "ghcr gets its own template");

        let checked = plan_all(&desired, &observed, TemplateMode::Check, Some(ROLE));
        assert_eq!(
            checked.hazards,
            [Hazard::RootTemplate {
                prefixes: vec!["ghcr".into()]
            }],
            "in check mode ghcr stays under ROOT"
        );
    }
}
