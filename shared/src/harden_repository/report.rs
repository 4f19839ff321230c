//! The `harden-repository` report (`schemas/harden-repository-report.schema.json`): what
//! started the run, what became of each repository and setting, and the sections of a sweep
//! (templates, registry scanning, scan coverage, progress, hand-off).

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::domain::Report;
use crate::events::{CreatedVia, HardenRequest, SyncStatus};
use crate::harden_repository::scanning::{RegistryScanningSection, ScanCoverage};
use crate::harden_repository::templates::{TemplatesSection, NOT_CARRIED_BY_TEMPLATES};

/// The `harden-repository` report.
pub type HardenReport = Report<HardenDetails>;

/// The sections of the `harden-repository` report beyond the common fields. A section a run
/// has nothing for is left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct HardenDetails {
    /// What started the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// The prefixes whose repositories the run may write (`hardening.prefixes`, or the rules').
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_prefixes: Option<Vec<String>>,
    /// Why a `ROOT` rule manages no repository, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_rule: Option<String>,
    /// One entry per repository looked at (a sweep lists only those that are not compliant),
    /// at most 200.
    pub repositories: Vec<RepositoryEntry>,
    /// One entry per setting that differed from its profile, at most 200.
    pub changes: Vec<SettingChange>,
    /// How many entries were left out of `repositories` and `changes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omitted: Option<Omitted>,
    /// The creation templates of the managed prefixes (the first part of a sweep).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templates: Option<TemplatesSection>,
    /// The registry scanning configuration (a sweep's first part).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_scanning: Option<RegistryScanningSection>,
    /// How the managed repositories seen are scanned on push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_coverage: Option<ScanCoverage>,
    /// This part of a sweep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepProgress>,
    /// Where the next part of the sweep starts, when this one stopped early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Value>,
    /// Where the rest of the sweep went, or the payload to continue it by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hand_off: Option<HandOffRecord>,
    /// The rest of a sweep that stopped early and may be handed on at once (see
    /// [`super::hand_on`]); not part of the report's JSON (`hand_off` says it).
    #[serde(skip)]
    pub continuation: Option<HardenRequest>,
}

/// What started a run.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Trigger {
    /// An event the function accepts but has nothing to do for.
    Ignored { reason: String },
    /// A repository was created (by the pull-through cache, or by a call).
    RepositoryCreated {
        via: CreatedVia,
        repository: String,
        /// Whether it was born compliant from its creation template.
        #[serde(skip_serializing_if = "Option::is_none")]
        birth: Option<Birth>,
    },
    /// Someone changed a setting of a repository (a CloudTrail API-call record).
    SettingChanged {
        call: String,
        setting: String,
        repository: String,
        changed_by: String,
        role: Option<String>,
        event_time: Option<String>,
        event_id: Option<String>,
        /// Why nothing was done (the function's own change).
        #[serde(skip_serializing_if = "Option::is_none")]
        acknowledged: Option<String>,
    },
    /// Someone changed a creation template or the registry scanning configuration (a
    /// CloudTrail API-call record).
    ControlChanged {
        call: String,
        /// The template's prefix; none for the registry scanning configuration.
        #[serde(skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
        changed_by: String,
        role: Option<String>,
        event_time: Option<String>,
        event_id: Option<String>,
        /// Why nothing was done (the function's own change, a prefix not managed, the mode).
        #[serde(skip_serializing_if = "Option::is_none")]
        acknowledged: Option<String>,
    },
    /// ECR reported a sync of a cached image.
    PullThroughCacheAction {
        repository: String,
        sync: SyncStatus,
        image_tag: Option<String>,
    },
    /// The schedule started a sweep.
    Scheduled { sweep: bool },
    /// A direct invocation: named repositories, or a sweep.
    Direct {
        #[serde(skip_serializing_if = "Option::is_none")]
        repositories: Option<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sweep: Option<bool>,
    },
}

/// Whether a repository its creation event hardened was born compliant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Birth {
    /// Every setting a creation template carries already matched the profile.
    pub born_compliant: bool,
    /// Settings a template carries that the event had to fix.
    pub fixed_after_birth: Vec<String>,
    /// Settings no template carries (scan on push), fixed by the event.
    pub not_carried_by_templates: Vec<String>,
}

/// Whether a repository the creation event hardened was born compliant: every setting a
/// template carries already matched its profile, so the event cost reads only (plus what no
/// template carries). `None` when the report hardened no repository.
pub fn birth(report: &HardenReport) -> Option<Birth> {
    let checked = report
        .summary
        .get("repositories_checked")
        .copied()
        .unwrap_or(0);
    if checked != 1 {
        return None;
    }
    let (not_carried, carried): (Vec<String>, Vec<String>) = report
        .details
        .changes
        .iter()
        .map(|change| change.setting.clone())
        .partition(|setting| NOT_CARRIED_BY_TEMPLATES.contains(&setting.as_str()));
    Some(Birth {
        born_compliant: carried.is_empty(),
        fixed_after_birth: carried,
        not_carried_by_templates: not_carried,
    })
}

/// What became of one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RepositoryOutcome {
    /// Not the product's to touch, and not touched.
    Skipped,
    NotFound,
    /// As its profile wants.
    Compliant,
    /// Settings differ; a dry run (or a mode that only checks) wrote nothing.
    WouldChange,
    Changed,
    /// Nothing to write, but something to tell (see `findings`).
    Findings,
    Failed,
    /// The invocation had to stop before it was finished.
    OutOfTime,
}

/// One repository's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RepositoryEntry {
    pub repository: String,
    /// The profile that applies to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub outcome: RepositoryOutcome,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The settings that differed (hardened repositories).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The kinds of findings raised about it (`encryption-drift`, `public-policy-found`…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

impl RepositoryEntry {
    pub fn new(repository: String, profile: Option<String>, outcome: RepositoryOutcome) -> Self {
        RepositoryEntry {
            repository,
            profile,
            outcome,
            reason: None,
            settings: None,
            errors: Vec::new(),
            findings: Vec::new(),
        }
    }
}

/// One setting that differed from its profile: its value before and the value written (or
/// that would be).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SettingChange {
    pub repository: String,
    /// `lifecycle_policy`, `repository_policy`, `tags`, `tag_mutability`, `scan_on_push`…
    pub setting: String,
    pub old: Value,
    pub new: Value,
    /// Whether it was written.
    pub applied: bool,
    /// Where the new value comes from when it is a policy (`lifecycle/default.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Lifecycle rules or policy statements the old value had that the new one drops.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why the write failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was not written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_attempted: Option<String>,
}

/// Entries left out of the report (the counts in `summary` still hold them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Omitted {
    pub repositories: u64,
    pub changes: u64,
}

/// One part (link) of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SweepProgress {
    /// The same for every part of one sweep.
    pub sweep_id: Option<String>,
    /// 0 for the first part.
    pub link: u32,
    /// The cursor this part started from.
    pub started_at: Value,
    /// Nothing is left to sweep.
    pub complete: bool,
    pub repositories_started: u64,
}

/// The rest of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct HandOffRecord {
    /// The function invoked with the rest, when it was handed on.
    pub handed_to: Option<String>,
    /// The payload that continues the sweep.
    pub continue_with: Value,
}
