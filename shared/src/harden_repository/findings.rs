//! The words of hardening: each [`Problem`] a plan raises becomes one finding (title, message,
//! next steps), and so does a per-repository scan setting ECR did not follow. Nothing here
//! decides anything. Pure.

use serde_json::Value;

use crate::domain::markdown::code;
use crate::domain::scanning::EffectiveScanning;
use crate::domain::{canonical_json_text, Check, Finding, PublicStatement, Repository, Severity};

use super::desired::Desired;
use super::problems::Problem;

/// The finding of one problem of `repository`.
pub fn finding(problem: &Problem, desired: &Desired<'_>, repository: &Repository) -> Finding {
    match problem {
        Problem::PolicyReplaced {
            what,
            entry,
            removed,
        } => replaced_finding(desired, repository, what, entry, removed),
        Problem::ScannedByRegistry { applied_filters } => {
            scanned_by_registry_finding(desired, repository, applied_filters)
        }
        Problem::ImmutableTags => immutable_tags_finding(repository),
        Problem::PublicPolicyRefused { origin, statements } => {
            public_policy_refused_finding(desired, repository, origin, statements)
        }
        Problem::PublicPolicyFound { statements } => {
            public_policy_found_finding(desired, repository, statements)
        }
        Problem::EncryptionDrift { expected } => encryption_finding(desired, repository, expected),
        Problem::OwnFlagNotEffective { scan_frequency } => {
            own_flag_not_effective_finding(desired, repository, scan_frequency)
        }
    }
}

/// The prefix whose registry filter would scan `repository`: the profile's, else its first
/// path segment.
fn filter_prefix<'r>(desired: &Desired<'r>, repository: &'r Repository) -> &'r str {
    let name = repository.name.as_str();
    desired
        .profile_prefix
        .or_else(|| name.split('/').next())
        .unwrap_or(name)
}

fn own_flag_not_effective_finding(
    desired: &Desired<'_>,
    repository: &Repository,
    scan_frequency: &str,
) -> Finding {
    let name = &repository.name;
    let prefix = filter_prefix(desired, repository);
    Finding::new(
        Severity::Warning,
        Check::RepositoryHardening,
        name,
        format!("`{name}` is not scanned on push although its own setting is on"),
        format!(
            "its deprecated per-repository `scanOnPush` is already `true`, but ECR reports its scanning as `{scan_frequency}`: the registry scanning configuration decides, and no filter of it covers this repository; the flag is not written again"
        ),
    )
    .with_next_steps([
        format!("add `{prefix}/*` to the registry's `SCAN_ON_PUSH` rule: `aws ecr get-registry-scanning-configuration`, then `aws ecr put-registry-scanning-configuration --scan-type <its scan type> --rules '<its rules, with {{\"filter\":\"{prefix}/*\",\"filterType\":\"WILDCARD\"}} in the SCAN_ON_PUSH rule>'`"),
        "or set `hardening.registry_scanning = \"manage\"`, and the next sweep adds it when the registry has room".to_owned(),
    ])
    .with_resource_arn(&repository.arn)
}

/// The first change of a setting after it was restored `max_restorations` times within the
/// window: the product stops fighting until the window ends, and says who it is fighting.
pub fn flap_limit_reached_finding(
    repository: &str,
    setting: &str,
    changed_by: Option<&str>,
    limit: &crate::config::DriftConfig,
    window_ends_at: chrono::DateTime<chrono::Utc>,
) -> Finding {
    let by = changed_by
        .map(|caller| format!(" by `{caller}`"))
        .unwrap_or_default();
    Finding::new(
        Severity::Critical,
        Check::RepositoryHardening,
        repository,
        format!("`{setting}` of `{repository}` keeps being changed{by}: no longer restored"),
        format!(
            "`{setting}` was restored {} times within {} minutes and changed again{by}; another writer (an automation, Terraform) is fighting the profile, so it is not restored until {} (`hardening.drift.max_restorations`, `window_minutes`)",
            limit.max_restorations,
            limit.window_minutes,
            window_ends_at.to_rfc3339()
        ),
    )
    .with_next_step(format!(
        "find out why{by} changes `{setting}`: make the profile say what it should be, or stop the other writer"
    ))
}

/// A change by a caller the configuration says owns it: acknowledged, not restored.
pub fn change_accepted_finding(
    repository: &str,
    setting: &str,
    changed_by: &str,
    ignored: &str,
    remembered: bool,
) -> Finding {
    let memory = if remembered {
        "the value is remembered, so the sweep leaves it too until the setting changes again"
    } else {
        "the value could not be remembered (state table), so the next sweep may restore it"
    };
    Finding::new(
        Severity::Info,
        Check::RepositoryHardening,
        repository,
        format!("`{setting}` of `{repository}` changed by `{changed_by}`: accepted, not restored"),
        format!("`{ignored}` is in `hardening.drift.ignore_callers`; {memory}"),
    )
}

/// A value an ignored caller set, found by a later run: left as it is.
pub fn value_accepted_finding(
    repository: &str,
    setting: &str,
    caller: &str,
    accepted_at: chrono::DateTime<chrono::Utc>,
) -> Finding {
    Finding::new(
        Severity::Info,
        Check::RepositoryHardening,
        repository,
        format!("`{setting}` of `{repository}` left as `{caller}` set it"),
        format!(
            "`{caller}` (in `hardening.drift.ignore_callers`) set it on {}; it differs from the profile and is not restored until the setting changes again",
            accepted_at.to_rfc3339()
        ),
    )
}

/// A change after the flap limit was reached and alerted: not restored, said quietly.
pub fn flap_limit_held_finding(
    repository: &str,
    setting: &str,
    changed_by: Option<&str>,
) -> Finding {
    let by = changed_by
        .map(|caller| format!(" by `{caller}`"))
        .unwrap_or_default();
    Finding::new(
        Severity::Info,
        Check::RepositoryHardening,
        repository,
        format!("`{setting}` of `{repository}` changed again{by}: not restored (flap limit)"),
        "the flap limit of its window was reached and alerted; it is restored after the window ends".to_owned(),
    )
}

fn public_policy_refused_finding(
    desired: &Desired<'_>,
    repository: &Repository,
    origin: &str,
    statements: &[PublicStatement],
) -> Finding {
    Finding::new(
        Severity::Critical,
        Check::RepositoryHardening,
        &repository.name,
        format!("repository policy for `{}` refused: it lets anyone in", repository.name),
        format!(
            "`{origin}` is public ({}), and profile `{}` does not set `allow_public = true`; the repository policy was left as it is",
            describe_public(statements),
            desired.profile_name()
        ),
    )
    .with_next_step(PIN_STEP)
    .with_next_step("if the cache is meant to be public, set `allow_public = true` in the profile")
    .with_resource_arn(&repository.arn)
}

/// A replaced policy loses what someone put there: say what, so the replacement is never silent.
fn replaced_finding(
    desired: &Desired<'_>,
    repository: &Repository,
    what: &str,
    entry: &str,
    removed: &[Value],
) -> Finding {
    let shown: Vec<String> = removed.iter().map(describe_entry).collect();
    let plural = if removed.len() == 1 { "" } else { "s" };
    Finding::new(
        Severity::Warning,
        Check::RepositoryHardening,
        &repository.name,
        format!(
            "{what} of `{}` replaced: {} {entry}{plural} removed",
            repository.name,
            removed.len()
        ),
        format!(
            "profile `{}` replaces the whole {what}; removed: {}",
            desired.profile_name(),
            shown.join("; ")
        ),
    )
    .with_next_step(format!(
        "if a removed {entry} is needed, add it to the profile's {what} (the report's `changes` keep the old one)"
    ))
    .with_resource_arn(&repository.arn)
}

/// One rule or statement in a few words: its priority or `Sid` and its description, else its
/// compact JSON (cut at 160 characters).
fn describe_entry(entry: &Value) -> String {
    let text = |key: &str| entry.get(key).and_then(Value::as_str);
    if let Some(priority) = entry.get("rulePriority").and_then(Value::as_u64) {
        return match text("description") {
            Some(description) => format!("rule {priority} ({description})"),
            None => format!("rule {priority} {}", short_json(entry.get("selection"))),
        };
    }
    match text("Sid") {
        Some(sid) => format!("statement {}", code(sid)),
        None => format!("statement {}", short_json(Some(entry))),
    }
}

fn short_json(value: Option<&Value>) -> String {
    let text = value.map(canonical_json_text).unwrap_or_default();
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}

/// The per-repository setting was written but the effective scanning did not follow.
pub fn scan_setting_ignored_finding(
    desired: &Desired<'_>,
    repository: &Repository,
    effective: &EffectiveScanning,
) -> Finding {
    let name = &repository.name;
    let prefix = filter_prefix(desired, repository);
    Finding::new(
        Severity::Warning,
        Check::RepositoryHardening,
        name,
        format!("`{name}` is still not scanned on push after its own setting was changed"),
        format!(
            "`PutImageScanningConfiguration` succeeded, but ECR reports the repository's scanning as `{}`: the registry scanning configuration decides, and no filter of it covers this repository",
            effective.scan_frequency
        ),
    )
    .with_next_step(format!("add `{prefix}/*` to the registry's `SCAN_ON_PUSH` rule (`hardening.registry_scanning = \"manage\"` does it when the registry has room; see the `registry_scanning` section of the sweep's report)"))
    .with_resource_arn(&repository.arn)
}

fn scanned_by_registry_finding(
    desired: &Desired<'_>,
    repository: &Repository,
    applied_filters: &[String],
) -> Finding {
    let filters = applied_filters
        .iter()
        .map(|filter| format!("`{filter}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Finding::new(
        Severity::Info,
        Check::RepositoryHardening,
        &repository.name,
        format!("`{}` is scanned on push by the registry", repository.name),
        format!(
            "profile `{}` sets `scan_on_push = false`, but the registry scanning filter {filters} scans it on push, and a repository's own setting does not override the registry's",
            desired.profile_name()
        ),
    )
    .with_next_step("narrow the registry filter by hand if scanning there is unwanted, or drop `scan_on_push = false` from the profile")
    .with_resource_arn(&repository.arn)
}

fn immutable_tags_finding(repository: &Repository) -> Finding {
    Finding::new(
        Severity::Warning,
        Check::RepositoryHardening,
        &repository.name,
        format!("cache repository `{}` gets immutable tags", repository.name),
        "with plain `IMMUTABLE`, ECR can no longer refresh a cached tag when the upstream moves it, so pulls keep getting the first image cached under that tag",
    )
    .with_next_step("set `tag_mutability = \"IMMUTABLE_WITH_EXCLUSION\"` with `tag_mutability_exclusions` naming the tags that move (such as `latest`) in the profile")
    .with_resource_arn(&repository.arn)
}

fn encryption_finding(desired: &Desired<'_>, repository: &Repository, expected: &str) -> Finding {
    let name = &repository.name;
    let template_prefix = desired
        .profile_prefix
        .or_else(|| name.split('/').next())
        .unwrap_or(name);
    let key = if expected.starts_with("KMS") {
        ",kmsKey=<key ARN>"
    } else {
        ""
    };
    let actual = match &repository.kms_key {
        Some(key) => format!("`{}` (key `{key}`)", repository.encryption_type),
        None => format!("`{}`", repository.encryption_type),
    };
    Finding::new(
        Severity::Warning,
        Check::RepositoryHardening,
        name,
        format!("repository `{name}` is encrypted with {actual}, profile `{}` expects `{expected}`", desired.profile_name()),
        "ECR sets encryption when it creates a repository and cannot change it afterwards; this repository keeps its encryption until it is recreated",
    )
    .with_next_steps([
        format!("make new cache repositories get `{expected}`: `aws ecr create-repository-creation-template --prefix {template_prefix} --applied-for PULL_THROUGH_CACHE --encryption-configuration encryptionType={expected}{key} --custom-role-arn <role ECR may assume>`"),
        format!("then recreate this one: `aws ecr delete-repository --repository-name {name} --force`; the next pull through the cache creates it again from the upstream"),
    ])
    .with_resource_arn(&repository.arn)
}

/// How to make a statement that reaches `*` private.
const PIN_STEP: &str = "pin every `Allow` statement that reaches `*` with a condition on the caller and a concrete value, e.g. `\"Condition\": {\"StringEquals\": {\"aws:PrincipalOrgID\": \"o-…\"}}` (or `aws:PrincipalAccount`, `aws:PrincipalOrgPaths`, `aws:SourceVpce`, `aws:PrincipalArn`), and replace `NotPrincipal` with `Principal`";

/// `Statement[0] (`Sid`): why; Statement[2]: why`.
pub(super) fn describe_public(statements: &[PublicStatement]) -> String {
    statements
        .iter()
        .map(|statement| format!("{statement}: {}", statement.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

fn public_policy_found_finding(
    desired: &Desired<'_>,
    repository: &Repository,
    statements: &[PublicStatement],
) -> Finding {
    let name = &repository.name;
    Finding::new(
        Severity::Critical,
        Check::RepositoryHardening,
        name,
        format!("repository `{name}` lets anyone in"),
        format!(
            "its repository policy is public ({}), so any AWS account can use it; profile `{}` does not allow public repositories but sets no `repository_policy` to replace it, so it was left as it is",
            describe_public(statements),
            desired.profile_name()
        ),
    )
    .with_next_steps([
        format!("review it: `aws ecr get-repository-policy --repository-name {name}`"),
        PIN_STEP.to_owned(),
        format!("remove it: `aws ecr delete-repository-policy --repository-name {name}`, or set `repository_policy` in the profile so the next run replaces it"),
        "if the repository is meant to be public, set `allow_public = true` in its profile".to_owned(),
    ])
    .with_resource_arn(&repository.arn)
}
