//! `[hardening]`: which cached repositories are managed, and the profile each one gets.

use std::collections::BTreeMap;
use std::path::Path;

use toml::Value;

use crate::domain::scanning::ScanType;

use super::profile::{check_profile, read_profile, Profile};
use super::reader::{backticked, describe, Field, KeyPath, Problems, Section};

/// Calls per second and API when the configuration says nothing: below what ECR sustains for
/// its control-plane reads and writes, and far above what one repository needs (a compliant
/// repository costs one call of each of three APIs).
pub const DEFAULT_CALLS_PER_SECOND: u32 = 20;

/// The most parallel repository updates a sweep may run (ECR publishes no rate for them).
pub const MAX_HARDENING_CONCURRENCY: i64 = 64;
/// The fastest pacing of ECR calls the configuration accepts, per API.
pub const MAX_ECR_CALLS_PER_SECOND: i64 = 1000;

/// What the product does with the repository creation templates of the managed prefixes
/// (`hardening.creation_templates`), and with the registry scanning configuration
/// (`hardening.registry_scanning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateMode {
    /// Create and update them from the profiles (the default).
    Manage,
    /// Report how they differ from the profiles; write nothing.
    Check,
    /// Leave them alone: the sweep neither reads nor writes them.
    Off,
    /// Creation templates only: like `Manage`, and templates the product did not create are
    /// handed to it (marked as its own on the first write).
    Adopt,
}

impl TemplateMode {
    pub const ALL: [TemplateMode; 4] = [
        TemplateMode::Manage,
        TemplateMode::Check,
        TemplateMode::Off,
        TemplateMode::Adopt,
    ];
    /// What `registry_scanning` accepts: the registry scanning configuration has no owner to
    /// adopt from.
    pub const SCANNING: [TemplateMode; 3] =
        [TemplateMode::Manage, TemplateMode::Check, TemplateMode::Off];

    /// Whether the sweep writes (`manage`, `adopt`).
    pub fn writes(self) -> bool {
        matches!(self, TemplateMode::Manage | TemplateMode::Adopt)
    }

    /// The spelling of the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateMode::Manage => "manage",
            TemplateMode::Check => "check",
            TemplateMode::Off => "off",
            TemplateMode::Adopt => "adopt",
        }
    }
}

/// An IAM role of the registry's account that ECR assumes to create repositories from a
/// template (`customRoleArn`): needed for tags and KMS encryption.
pub(crate) fn parse_role_arn(text: &str) -> Result<String, String> {
    let valid = text
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":iam::"))
        .and_then(|(partition, rest)| {
            partition.starts_with("aws").then_some(())?;
            let (account, role) = rest.split_once(":role/")?;
            (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())).then_some(role)
        })
        .is_some_and(|role| {
            !role.is_empty()
                && text.len() <= 2048
                && role
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
        });
    if valid {
        Ok(text.to_owned())
    } else {
        Err("expected an IAM role ARN (`arn:aws:iam::111122223333:role/ptc-ops-creation-templates`)".to_owned())
    }
}

/// Settings of `[hardening]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HardeningConfig {
    /// PTC rule prefixes whose repositories are managed; `None` means every PTC rule prefix in
    /// the registry (so a new rule is covered without a configuration change).
    pub prefixes: Option<Vec<String>>,
    /// Repositories hardened in parallel during a sweep.
    pub concurrency: usize,
    /// ECR calls per second and API, for every ECR call of the process (a token bucket each).
    pub ecr_calls_per_second: u32,
    /// Plan and report, but write nothing.
    pub dry_run: bool,
    /// `[hardening.default]`: the profile of a repository no other profile matches.
    pub default_profile: Profile,
    /// `[hardening.profiles."<prefix>"]`, resolved against the default.
    pub profiles: BTreeMap<String, Profile>,
    /// `hardening.creation_templates`.
    pub creation_templates: TemplateMode,
    /// `hardening.creation_template_role_arn` (or `PTC_TEMPLATE_ROLE_ARN`): the `customRoleArn`
    /// of the templates; without it, templates carry neither tags nor KMS encryption.
    pub creation_template_role_arn: Option<String>,
    /// `hardening.registry_scanning`: whether the sweep writes the registry scanning
    /// configuration (`manage`), only reports how it differs (`check`), or leaves it alone.
    pub registry_scanning: TemplateMode,
    /// `hardening.registry_scan_type`: the scan type to set; `None` keeps the registry's.
    pub registry_scan_type: Option<ScanType>,
    /// `[hardening.drift]`: the flap limit.
    pub drift: super::drift::DriftConfig,
}

impl HardeningConfig {
    /// The profile for a repository: the longest profile prefix that equals the name or is
    /// followed by `/` in it (`docker-hub` matches `docker-hub/library/nginx` but not
    /// `docker-hubby/x`); the default profile when none does.
    pub fn profile_for(&self, repository_name: &str) -> (Option<&str>, &Profile) {
        self.profiles
            .iter()
            .filter(|(prefix, _)| is_under_prefix(repository_name, prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or((None, &self.default_profile), |(prefix, profile)| {
                (Some(prefix.as_str()), profile)
            })
    }
}

/// Whether `name` is `prefix` itself or a path below it.
pub(crate) fn is_under_prefix(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A repository name prefix as ECR spells repository names: `/`-separated components of
/// lowercase letters and digits joined by `.`, `_` or `-`.
pub(crate) fn parse_repository_prefix(text: &str) -> Result<String, String> {
    let component_ok = |component: &str| {
        let starts_and_ends_alphanumeric = component
            .chars()
            .next()
            .zip(component.chars().last())
            .is_some_and(|(first, last)| {
                first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()
            });
        starts_and_ends_alphanumeric
            && component
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    };
    if text.len() <= 256 && text.split('/').all(component_ok) {
        Ok(text.to_owned())
    } else {
        Err("expected a repository prefix of lowercase letters, digits, `.`, `_`, `-` and `/` (like `docker-hub` or `ghcr/fluxcd`)".to_owned())
    }
}

/// A PTC rule prefix: a repository prefix, or `ROOT` for a rule without one.
pub(crate) fn parse_rule_prefix(text: &str) -> Result<String, String> {
    if text == "ROOT" {
        return Ok(text.to_owned());
    }
    parse_repository_prefix(text).map_err(|expected| format!("{expected} or `ROOT`"))
}

/// Reports repeated entries of a list of prefixes (a copy-paste slip, usually).
pub(crate) fn report_duplicates(path: &KeyPath, prefixes: &[String], problems: &mut Problems) {
    for (index, prefix) in prefixes.iter().enumerate() {
        if let Some(first) = prefixes[..index]
            .iter()
            .position(|earlier| earlier == prefix)
        {
            problems.report(
                &path.index(index),
                format!("duplicate prefix `{prefix}`, already at index {first}"),
            );
        }
    }
}

pub(crate) fn read_hardening(
    mut section: Section<'_>,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<HardeningConfig> {
    let prefixes_path = section.path_of("prefixes");
    let prefixes = section.list("prefixes", problems, parse_rule_prefix);
    if let Field::Present(list) = &prefixes {
        if list.is_empty() {
            problems.report(
                &prefixes_path,
                "expected at least one prefix (leave `prefixes` out to manage every PTC rule prefix)",
            );
        }
        report_duplicates(&prefixes_path, list, problems);
    }
    let concurrency = section.integer_in("concurrency", 1..=MAX_HARDENING_CONCURRENCY, problems);
    let dry_run = section.bool("dry_run", problems);
    let ecr_calls_per_second: Field<u32> = section.integer_in(
        "ecr_calls_per_second",
        1..=MAX_ECR_CALLS_PER_SECOND,
        problems,
    );

    let template_modes = TemplateMode::ALL.map(|mode| (mode.as_str(), mode));
    let creation_templates = section.choice("creation_templates", &template_modes, problems);
    let creation_template_role_arn =
        section.string("creation_template_role_arn", problems, parse_role_arn);
    let scanning_modes = TemplateMode::SCANNING.map(|mode| (mode.as_str(), mode));
    let registry_scanning = section.choice("registry_scanning", &scanning_modes, problems);
    let scan_types = ScanType::ALL.map(|scan_type| (scan_type.as_str(), scan_type));
    let registry_scan_type = section.choice("registry_scan_type", &scan_types, problems);

    let drift = section
        .table_or_empty("drift", problems)
        .and_then(|drift_section| super::drift::read_drift(drift_section, problems));
    let default_profile = section
        .table_or_empty("default", problems)
        .and_then(|default_section| read_profile(default_section, None, base_dir, problems));
    let profiles = match section.table("profiles", problems) {
        Field::Present(profiles_section) => read_profiles(
            profiles_section,
            default_profile.as_ref(),
            prefixes_or_none(&prefixes),
            base_dir,
            problems,
        ),
        Field::Absent => Some(BTreeMap::new()),
        Field::Invalid => None,
    };
    section.finish(problems);
    Some(HardeningConfig {
        prefixes: prefixes.optional()?,
        concurrency: concurrency.or(8)?,
        dry_run: dry_run.or(false)?,
        ecr_calls_per_second: ecr_calls_per_second.or(DEFAULT_CALLS_PER_SECOND)?,
        default_profile: default_profile?,
        profiles: profiles?,
        creation_templates: creation_templates.or(TemplateMode::Manage)?,
        creation_template_role_arn: creation_template_role_arn.optional()?,
        registry_scanning: registry_scanning.or(TemplateMode::Manage)?,
        registry_scan_type: registry_scan_type.optional()?,
        drift: drift?,
    })
}

fn prefixes_or_none(prefixes: &Field<Vec<String>>) -> Option<&[String]> {
    match prefixes {
        Field::Present(list) => Some(list),
        _ => None,
    }
}

/// Reads every `[hardening.profiles."<prefix>"]`; `None` when any was wrong (all reported).
fn read_profiles(
    profiles_section: Section<'_>,
    default_profile: Option<&Profile>,
    managed_prefixes: Option<&[String]>,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<BTreeMap<String, Profile>> {
    let profiles_path = profiles_section.path().clone();
    let mut profiles = BTreeMap::new();
    let mut all_valid = true;
    for (prefix, value) in profiles_section.into_entries() {
        let profile_path = profiles_path.quoted_key(prefix);
        let Value::Table(table) = value else {
            problems.report(
                &profile_path,
                format!(
                    "expected a table of profile settings, found {}",
                    describe(value)
                ),
            );
            all_valid = false;
            continue;
        };
        if let Err(expected) = parse_repository_prefix(prefix) {
            problems.report(&profile_path, format!("profile name: {expected}"));
            all_valid = false;
        } else if let Some(managed) =
            managed_prefixes.filter(|list| !list.iter().any(|p| p == "ROOT"))
        {
            if !managed
                .iter()
                .any(|managed_prefix| is_under_prefix(prefix, managed_prefix))
            {
                problems.report(
                    &profile_path,
                    format!(
                        "profile never applies: `{prefix}` is not under any of `hardening.prefixes` ({})",
                        backticked(managed.iter().map(String::as_str))
                    ),
                );
                all_valid = false;
            }
        }
        let section = Section::new(Some(table), profile_path);
        match default_profile {
            Some(default_profile) => {
                match read_profile(section, Some(default_profile), base_dir, problems) {
                    Some(profile) => {
                        profiles.insert(prefix.clone(), profile);
                    }
                    None => all_valid = false,
                }
            }
            None => check_profile(section, base_dir, problems),
        }
    }
    all_valid.then_some(profiles)
}
