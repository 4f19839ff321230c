//! Hardening profiles: the desired state of a cached repository.
//!
//! A setting left unset in the file is *not managed*: the repository keeps whatever it has.
//! `[hardening.profiles."<prefix>"]` tables inherit every unset key from `[hardening.default]`;
//! inheritance is resolved at load time so code using a [`Profile`] never looks at two layers.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::Value;

use crate::domain::{LifecyclePolicy, PolicyProblem, RepositoryPolicy};

use super::reader::{backticked, describe, Field, KeyPath, Problems, Section};

/// ECR accepts 1 to 5 exclusion filters with the `*_WITH_EXCLUSION` modes.
pub const MAX_TAG_MUTABILITY_EXCLUSIONS: usize = 5;
/// ECR's limit on the length of one exclusion filter.
pub const MAX_TAG_MUTABILITY_FILTER_CHARS: usize = 128;
/// ECR's limit on tags per resource.
pub const MAX_REPOSITORY_TAGS: usize = 50;

/// Whether image tags can be overwritten (`PutImageTagMutability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagMutability {
    Mutable,
    /// Stops ECR from refreshing a cached tag from the upstream; prefer `ImmutableWithExclusion`.
    Immutable,
    MutableWithExclusion,
    ImmutableWithExclusion,
}

impl TagMutability {
    pub const ALL: [TagMutability; 4] = [
        TagMutability::Mutable,
        TagMutability::Immutable,
        TagMutability::MutableWithExclusion,
        TagMutability::ImmutableWithExclusion,
    ];

    /// The spelling of the ECR API (and of the configuration file).
    pub fn as_str(self) -> &'static str {
        match self {
            TagMutability::Mutable => "MUTABLE",
            TagMutability::Immutable => "IMMUTABLE",
            TagMutability::MutableWithExclusion => "MUTABLE_WITH_EXCLUSION",
            TagMutability::ImmutableWithExclusion => "IMMUTABLE_WITH_EXCLUSION",
        }
    }

    /// The `*_WITH_EXCLUSION` modes take 1 to 5 exclusion filters; the others take none.
    pub fn takes_exclusions(self) -> bool {
        matches!(
            self,
            TagMutability::MutableWithExclusion | TagMutability::ImmutableWithExclusion
        )
    }
}

impl fmt::Display for TagMutability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tag mutability mode with its exclusion filters (ECR sets both in one call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMutabilitySetting {
    pub mutability: TagMutability,
    /// Wildcard filters (`filterType: WILDCARD`); empty unless `mutability.takes_exclusions()`.
    pub exclusion_filters: Vec<String>,
}

/// Encryption a repository is expected to have. Encryption cannot change after creation, so a
/// difference is reported, never fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncryptionType {
    Aes256,
    Kms,
    KmsDsse,
}

impl EncryptionType {
    pub const ALL: [EncryptionType; 3] = [
        EncryptionType::Aes256,
        EncryptionType::Kms,
        EncryptionType::KmsDsse,
    ];

    /// The spelling of the ECR API (and of the configuration file).
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptionType::Aes256 => "AES256",
            EncryptionType::Kms => "KMS",
            EncryptionType::KmsDsse => "KMS_DSSE",
        }
    }
}

impl fmt::Display for EncryptionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a policy came from, for reports ("replaced by `lifecycle/default.json`").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOrigin {
    /// A file, as written in the configuration and as resolved against its folder.
    File { written: String, resolved: PathBuf },
    /// JSON text written in the configuration itself.
    Inline,
}

impl fmt::Display for PolicyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyOrigin::File { written, .. } => f.write_str(written),
            PolicyOrigin::Inline => f.write_str("inline JSON"),
        }
    }
}

/// A validated policy and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfiguredPolicy<P> {
    pub policy: P,
    pub origin: PolicyOrigin,
}

/// From which severity of an image scan's findings the cache's images are alerted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanAlertSeverity {
    Critical,
    High,
    Medium,
    Off,
}

impl ScanAlertSeverity {
    pub const ALL: [ScanAlertSeverity; 4] = [
        ScanAlertSeverity::Critical,
        ScanAlertSeverity::High,
        ScanAlertSeverity::Medium,
        ScanAlertSeverity::Off,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScanAlertSeverity::Critical => "CRITICAL",
            ScanAlertSeverity::High => "HIGH",
            ScanAlertSeverity::Medium => "MEDIUM",
            ScanAlertSeverity::Off => "off",
        }
    }

    /// The scan severities (as `finding-severity-counts` names them) at or above this one.
    pub fn alerting(self) -> &'static [&'static str] {
        match self {
            ScanAlertSeverity::Critical => &["CRITICAL"],
            ScanAlertSeverity::High => &["CRITICAL", "HIGH"],
            ScanAlertSeverity::Medium => &["CRITICAL", "HIGH", "MEDIUM"],
            ScanAlertSeverity::Off => &[],
        }
    }
}

/// The desired state of a repository. `None` means "not managed": left as the repository has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub scan_on_push: Option<bool>,
    pub tag_mutability: Option<TagMutabilitySetting>,
    pub lifecycle_policy: Option<ConfiguredPolicy<LifecyclePolicy>>,
    pub repository_policy: Option<ConfiguredPolicy<RepositoryPolicy>>,
    /// Tags to merge into the repository's (others are left alone).
    pub tags: Option<BTreeMap<String, String>>,
    pub encryption: Option<EncryptionType>,
    /// The customer managed key of a `KMS` or `KMS_DSSE` profile (a key ARN), which creation
    /// templates carry; `None`: ECR's AWS managed key.
    pub kms_key: Option<String>,
    /// Whether `repository_policy` may let `*` in without a `Condition`. Checked at load.
    pub allow_public: bool,
    /// An image scan with findings at or above this severity is alerted (default `CRITICAL`).
    pub scan_alert_severity: ScanAlertSeverity,
}

/// One profile table as written, nothing inherited yet. Each key is `None` when its value was
/// wrong (reported), `Some(None)` when unset, so checks across keys can skip what is already
/// known to be wrong and still run on the rest.
struct ProfileLayer {
    path: KeyPath,
    scan_on_push: Option<Option<bool>>,
    tag_mutability: Option<Option<TagMutability>>,
    tag_mutability_exclusions: Option<Option<Vec<String>>>,
    lifecycle_policy: Option<Option<ConfiguredPolicy<LifecyclePolicy>>>,
    repository_policy: Option<Option<ConfiguredPolicy<RepositoryPolicy>>>,
    tags: Option<Option<BTreeMap<String, String>>>,
    encryption: Option<Option<EncryptionType>>,
    kms_key: Option<Option<String>>,
    allow_public: Option<Option<bool>>,
    scan_alert_severity: Option<Option<ScanAlertSeverity>>,
}

/// Reads one profile table and resolves it against `parent` (the resolved default profile, or
/// `None` when reading the default itself). `None` when anything in it was wrong (reported).
pub(crate) fn read_profile(
    mut section: Section<'_>,
    parent: Option<&Profile>,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<Profile> {
    let layer = read_layer(&mut section, base_dir, problems);
    section.finish(problems);
    resolve(layer, parent, problems)
}

/// Reads a profile table only to report its problems (when the default it would inherit from is
/// itself invalid, there is nothing to resolve against).
pub(crate) fn check_profile(mut section: Section<'_>, base_dir: &Path, problems: &mut Problems) {
    read_layer(&mut section, base_dir, problems);
    section.finish(problems);
}

fn read_layer(section: &mut Section<'_>, base_dir: &Path, problems: &mut Problems) -> ProfileLayer {
    let tag_mutability_choices = TagMutability::ALL.map(|mode| (mode.as_str(), mode));
    let encryption_choices =
        EncryptionType::ALL.map(|encryption| (encryption.as_str(), encryption));
    ProfileLayer {
        path: section.path().clone(),
        scan_on_push: section.bool("scan_on_push", problems).optional(),
        tag_mutability: section
            .choice("tag_mutability", &tag_mutability_choices, problems)
            .optional(),
        tag_mutability_exclusions: section
            .list(
                "tag_mutability_exclusions",
                problems,
                parse_exclusion_filter,
            )
            .optional(),
        lifecycle_policy: read_policy(
            section,
            "lifecycle_policy",
            base_dir,
            problems,
            LifecyclePolicy::parse,
        )
        .optional(),
        repository_policy: read_policy(
            section,
            "repository_policy",
            base_dir,
            problems,
            RepositoryPolicy::parse,
        )
        .optional(),
        tags: read_tags(section, problems).optional(),
        encryption: section
            .choice("encryption", &encryption_choices, problems)
            .optional(),
        kms_key: section
            .string("kms_key", problems, parse_kms_key_arn)
            .optional(),
        allow_public: section.bool("allow_public", problems).optional(),
        scan_alert_severity: section
            .choice(
                "scan_alert_severity",
                &ScanAlertSeverity::ALL.map(|severity| (severity.as_str(), severity)),
                problems,
            )
            .optional(),
    }
}

/// A KMS key ARN, as ECR takes it in a creation template's `encryptionConfiguration.kmsKey`
/// (not an alias: an IAM grant names the key).
pub(crate) fn parse_kms_key_arn(text: &str) -> Result<String, String> {
    let valid = text
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":kms:"))
        .and_then(|(partition, rest)| {
            partition.starts_with("aws").then_some(())?;
            let (region, rest) = rest.split_once(':')?;
            let (account, key) = rest.split_once(":key/")?;
            (!region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit()))
            .then_some(key)
        })
        .is_some_and(|key| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid {
        Ok(text.to_owned())
    } else {
        Err("expected a KMS key ARN (`arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab`), not an alias".to_owned())
    }
}

/// Fills unset keys from `parent` and checks what spans several keys. Checks only run for keys
/// the layer sets: what it inherits was checked with the default already.
fn resolve(
    layer: ProfileLayer,
    parent: Option<&Profile>,
    problems: &mut Problems,
) -> Option<Profile> {
    let tag_mutability = match (layer.tag_mutability, &layer.tag_mutability_exclusions) {
        (Some(mode), Some(filters)) => {
            resolve_tag_mutability(&layer.path, mode, filters.clone(), parent, problems)
        }
        _ => None,
    };
    let public_policy_ok = match (&layer.repository_policy, layer.allow_public) {
        (Some(repository_policy), Some(allow_public)) => check_public_policy(
            &layer.path,
            repository_policy.as_ref(),
            allow_public,
            parent,
            problems,
        ),
        _ => false,
    };
    // `?` on a layer key: stop when it was wrong; otherwise its own value, else the parent's.
    let profile = Profile {
        scan_on_push: layer.scan_on_push?.or(parent.and_then(|p| p.scan_on_push)),
        tag_mutability: tag_mutability?,
        lifecycle_policy: layer
            .lifecycle_policy?
            .or_else(|| parent.and_then(|p| p.lifecycle_policy.clone())),
        repository_policy: layer
            .repository_policy?
            .or_else(|| parent.and_then(|p| p.repository_policy.clone())),
        tags: layer.tags?.or_else(|| parent.and_then(|p| p.tags.clone())),
        encryption: layer.encryption?.or(parent.and_then(|p| p.encryption)),
        kms_key: layer
            .kms_key
            .clone()?
            .or_else(|| parent.and_then(|p| p.kms_key.clone())),
        allow_public: layer
            .allow_public?
            .or(parent.map(|p| p.allow_public))
            .unwrap_or(false),
        scan_alert_severity: layer
            .scan_alert_severity?
            .or(parent.map(|p| p.scan_alert_severity))
            .unwrap_or(ScanAlertSeverity::Critical),
    };
    if let Some(Some(key)) = &layer.kms_key {
        if !profile
            .encryption
            .is_some_and(|encryption| encryption != EncryptionType::Aes256)
        {
            problems.report(
                &layer.path.key("kms_key"),
                format!("`{key}` is set, but `encryption` is not `KMS` or `KMS_DSSE`: set `encryption = \"KMS\"` too, or remove `kms_key`"),
            );
            return None;
        }
    }
    public_policy_ok.then_some(profile)
}

/// The mode and its filters go together: a layer that sets `tag_mutability` brings its own
/// filters (none when unset) rather than mixing in the default's, which were written for another
/// mode; a layer that sets only the filters keeps the inherited mode.
/// `None` when the combination is wrong (reported).
fn resolve_tag_mutability(
    layer_path: &KeyPath,
    own_mode: Option<TagMutability>,
    own_filters: Option<Vec<String>>,
    parent: Option<&Profile>,
    problems: &mut Problems,
) -> Option<Option<TagMutabilitySetting>> {
    let inherited = parent.and_then(|p| p.tag_mutability.as_ref());
    let (mode, filters, mode_is_inherited) = match (own_mode, own_filters) {
        (None, None) => return Some(inherited.cloned()),
        (Some(mode), filters) => (Some(mode), filters.unwrap_or_default(), false),
        (None, Some(filters)) => (inherited.map(|s| s.mutability), filters, true),
    };
    let filters_path = layer_path.key("tag_mutability_exclusions");
    let from = if mode_is_inherited {
        " (inherited from `hardening.default`)"
    } else {
        ""
    };
    match mode {
        None if filters.is_empty() => Some(None),
        None => {
            problems.report(
                &filters_path,
                "exclusion filters need `tag_mutability` set to `MUTABLE_WITH_EXCLUSION` or `IMMUTABLE_WITH_EXCLUSION`",
            );
            None
        }
        Some(mode)
            if mode.takes_exclusions()
                && !(1..=MAX_TAG_MUTABILITY_EXCLUSIONS).contains(&filters.len()) =>
        {
            problems.report(
                &filters_path,
                format!(
                    "expected 1 to {MAX_TAG_MUTABILITY_EXCLUSIONS} wildcard filters with `tag_mutability` `{mode}`{from}, found {}",
                    filters.len()
                ),
            );
            None
        }
        Some(mode) if !mode.takes_exclusions() && !filters.is_empty() => {
            problems.report(
                &filters_path,
                format!(
                    "expected no filters with `tag_mutability` `{mode}`{from}, found {} (filters apply only to the `*_WITH_EXCLUSION` modes)",
                    filters.len()
                ),
            );
            None
        }
        Some(mode) => Some(Some(TagMutabilitySetting {
            mutability: mode,
            exclusion_filters: filters,
        })),
    }
}

/// Refuses a public policy (see [`RepositoryPolicy::public_statements`]), unless the profile
/// says so with `allow_public = true`.
/// Runs when the layer sets either key; `false` when the policy is refused (reported).
fn check_public_policy(
    layer_path: &KeyPath,
    own_policy: Option<&ConfiguredPolicy<RepositoryPolicy>>,
    own_allow_public: Option<bool>,
    parent: Option<&Profile>,
    problems: &mut Problems,
) -> bool {
    if own_policy.is_none() && own_allow_public.is_none() {
        return true;
    }
    let Some(configured) = own_policy.or_else(|| parent.and_then(|p| p.repository_policy.as_ref()))
    else {
        return true;
    };
    let allow_public = own_allow_public
        .or(parent.map(|p| p.allow_public))
        .unwrap_or(false);
    let public_statements = configured.policy.public_statements();
    if allow_public || public_statements.is_empty() {
        return true;
    }
    let statements = public_statements
        .iter()
        .map(|statement| format!("{statement}: {}", statement.reason))
        .collect::<Vec<_>>()
        .join("; ");
    let message = format!(
        "makes the repository public: {statements}; expected every `Allow` statement that reaches `*` to be pinned to its callers by a condition with a concrete value on `aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:SourceVpc` or `aws:SourceVpce` (or `allow_public = true`)"
    );
    let key = if own_policy.is_some() {
        "repository_policy"
    } else {
        "allow_public"
    };
    problems.report_in(&layer_path.key(key), configured.origin.to_string(), message);
    false
}

/// A policy given as a path relative to the configuration file, or as inline JSON text (anything
/// starting with `{`), parsed and validated by `parse`.
fn read_policy<P>(
    section: &mut Section<'_>,
    key: &'static str,
    base_dir: &Path,
    problems: &mut Problems,
    parse: fn(&str) -> Result<P, Vec<PolicyProblem>>,
) -> Field<ConfiguredPolicy<P>> {
    let path = section.path_of(key);
    let written = section.string(key, problems, |text| {
        if text.trim().is_empty() {
            Err("expected a file path or inline JSON text".to_owned())
        } else {
            Ok(text)
        }
    });
    let Field::Present(written) = written else {
        return match written {
            Field::Absent => Field::Absent,
            _ => Field::Invalid,
        };
    };
    let (origin, text) = if written.trim_start().starts_with('{') {
        (PolicyOrigin::Inline, written.to_owned())
    } else {
        let resolved = base_dir.join(written);
        match std::fs::read_to_string(&resolved) {
            Ok(text) => (
                PolicyOrigin::File {
                    written: written.to_owned(),
                    resolved,
                },
                text,
            ),
            Err(error) => {
                problems.report_in(
                    &path,
                    written,
                    format!("cannot read `{}`: {error}", resolved.display()),
                );
                return Field::Invalid;
            }
        }
    };
    match parse(&text) {
        Ok(policy) => Field::Present(ConfiguredPolicy { policy, origin }),
        Err(policy_problems) => {
            for problem in policy_problems {
                problems.report_in(&path, origin.to_string(), problem.to_string());
            }
            Field::Invalid
        }
    }
}

/// `tags = { key = "value" }` with ECR's limits on keys, values and count.
fn read_tags(
    section: &mut Section<'_>,
    problems: &mut Problems,
) -> Field<BTreeMap<String, String>> {
    let tags_table = match section.table("tags", problems) {
        Field::Present(tags_table) => tags_table,
        Field::Absent => return Field::Absent,
        Field::Invalid => return Field::Invalid,
    };
    let tags_path = tags_table.path().clone();
    let mut tags = BTreeMap::new();
    let mut valid = true;
    let mut n_tags = 0;
    for (key, value) in tags_table.into_entries() {
        n_tags += 1;
        let tag_path = tags_path.quoted_key(key);
        if let Err(expected) = check_tag_key(key) {
            problems.report(&tag_path, format!("{expected}, found the key {key:?}"));
            valid = false;
        }
        match value {
            Value::String(text) if text.chars().count() <= 256 && text.chars().all(is_tag_char) => {
                tags.insert(key.clone(), text.clone());
            }
            other => {
                problems.report(
                    &tag_path,
                    format!(
                        "expected a string of at most 256 letters, digits, spaces and `_ . : / = + - @`, found {}",
                        describe(other)
                    ),
                );
                valid = false;
            }
        }
    }
    if n_tags > MAX_REPOSITORY_TAGS {
        problems.report(
            &tags_path,
            format!("expected at most {MAX_REPOSITORY_TAGS} tags, found {n_tags}"),
        );
        valid = false;
    }
    if valid {
        Field::Present(tags)
    } else {
        Field::Invalid
    }
}

/// Characters AWS accepts in ECR tag keys and values.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

fn check_tag_key(key: &str) -> Result<(), String> {
    let length = key.chars().count();
    if !(1..=128).contains(&length) || !key.chars().all(is_tag_char) {
        return Err(
            "expected a tag key of 1 to 128 letters, digits, spaces and `_ . : / = + - @`"
                .to_owned(),
        );
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err("expected a tag key not starting with `aws:` (reserved for AWS)".to_owned());
    }
    Ok(())
}

/// One `imageTagMutabilityExclusionFilters` wildcard filter.
fn parse_exclusion_filter(text: &str) -> Result<String, String> {
    let valid = (1..=MAX_TAG_MUTABILITY_FILTER_CHARS).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._*-".contains(c));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "expected a wildcard filter of 1 to {MAX_TAG_MUTABILITY_FILTER_CHARS} characters among {}",
            backticked(["a-z", "A-Z", "0-9", ".", "_", "*", "-"])
        ))
    }
}
