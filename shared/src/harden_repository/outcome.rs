//! What became of each repository, added up into the run's report and metrics as the run goes,
//! so a sweep of any size holds counts rather than every result.

use std::collections::BTreeMap;

use crate::domain::markdown::code;
use crate::domain::{Check, Finding, Report, Severity};
use crate::metrics::Metrics;
use crate::ports::{AwsError, AwsErrorKind};

use super::apply::Applied;
use super::plan::{Change, FindingKind, Plan};
use super::report::{HardenDetails, Omitted, RepositoryEntry, RepositoryOutcome, SettingChange};

/// Entries of the `repositories` and `changes` sections kept in a report; past this, only the
/// counts grow (a Lambda response is at most 6 MB, and nobody reads 2,000 entries).
const MAX_REPORTED_ENTRIES: usize = 200;
/// Findings of one kind reported one by one; more than this become one finding listing the
/// repositories, so a role missing a permission raises one alert, not one per repository.
const MAX_FINDINGS_PER_KIND: usize = 10;
/// Repository names listed in a grouped finding.
const MAX_NAMES_IN_GROUP: usize = 20;

/// What became of one repository.
#[derive(Debug)]
pub enum Outcome {
    /// Not ours to touch, and never touched.
    Skipped { name: String, reason: SkipReason },
    /// Does not exist (any more): nothing to do.
    Gone { name: String },
    /// Observed and planned; `applied` is `None` in a dry run.
    Hardened {
        name: String,
        arn: String,
        profile: String,
        plan: Plan,
        applied: Option<Vec<Applied>>,
    },
    /// Could not be observed.
    Failed {
        name: String,
        profile: String,
        error: AwsError,
    },
    /// Still running when the invocation had to stop.
    OutOfTime { name: String },
}

/// Why a repository was left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    OutsideManagedPrefixes,
    /// Only under an opted-in `ROOT`, and nothing shows that the pull-through cache created it.
    NotCreatedByTheCache,
    /// Tagged `ptc-ops:managed=false` by its owners.
    OptedOut,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::OutsideManagedPrefixes => "outside the managed prefixes",
            SkipReason::NotCreatedByTheCache => {
                "under `ROOT` only, and not created by the pull-through cache (no `ptc-ops:origin` tag)"
            }
            SkipReason::OptedOut => "opted out by its tag `ptc-ops:managed=false`",
        }
    }
}

/// Why a repository's finding was raised: a plan's own kind, or a failed call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum GroupKey {
    Plan(FindingKind),
    Failure {
        operation: &'static str,
        kind: &'static str,
    },
    OutOfTime,
    OptedOut,
}

impl GroupKey {
    fn name(&self) -> String {
        match self {
            GroupKey::Plan(kind) => kind.as_str().to_owned(),
            GroupKey::Failure { operation, kind } => format!("failure/{operation}/{kind}"),
            GroupKey::OutOfTime => "out-of-time".to_owned(),
            GroupKey::OptedOut => "opted-out".to_owned(),
        }
    }

    fn group_title(&self, n_repositories: usize) -> String {
        match self {
            GroupKey::Plan(FindingKind::EncryptionDrift) => {
                format!("{n_repositories} repositories are not encrypted as their profile expects")
            }
            GroupKey::Plan(FindingKind::ImmutableTags) => {
                format!("{n_repositories} cache repositories get immutable tags")
            }
            GroupKey::Plan(FindingKind::PublicPolicyRefused) => format!(
                "repository policy refused for {n_repositories} repositories: it lets anyone in"
            ),
            GroupKey::Plan(FindingKind::PublicPolicyFound) => {
                format!("{n_repositories} repositories let anyone in")
            }
            GroupKey::Plan(FindingKind::PolicyReplaced) => format!(
                "policies of {n_repositories} repositories replaced: rules or statements removed"
            ),
            GroupKey::Plan(FindingKind::ScanSettingIgnored) => format!(
                "{n_repositories} repositories are still not scanned on push after their own setting was changed"
            ),
            GroupKey::Plan(FindingKind::FlapLimitReached) => format!(
                "{n_repositories} settings keep being changed by another writer: not restored until their window ends"
            ),
            GroupKey::Plan(FindingKind::FlapLimitHeld) => format!(
                "{n_repositories} settings changed again past the flap limit: not restored"
            ),
            GroupKey::Plan(FindingKind::ChangeAccepted) => format!(
                "{n_repositories} changes by callers in `hardening.drift.ignore_callers` accepted"
            ),
            GroupKey::Plan(FindingKind::ValueAccepted) => format!(
                "{n_repositories} settings left as callers in `hardening.drift.ignore_callers` set them"
            ),
            GroupKey::Plan(FindingKind::ScannedByRegistry) => format!(
                "{n_repositories} repositories are scanned on push by the registry although their profile says no"
            ),
            GroupKey::Failure { operation, kind } => format!(
                "{n_repositories} repositories could not be hardened: `{operation}` failed ({kind})"
            ),
            GroupKey::OutOfTime => {
                format!("{n_repositories} repositories were not finished before the deadline")
            }
            GroupKey::OptedOut => {
                format!("{n_repositories} repositories are opted out and were left as they are")
            }
        }
    }
}

/// The run so far.
#[derive(Debug)]
pub struct Tally {
    dry_run: bool,
    /// Whether compliant repositories get an entry too (named repositories: yes; sweeps: no).
    list_compliant: bool,
    counts: BTreeMap<&'static str, u64>,
    entries: Vec<RepositoryEntry>,
    changes: Vec<SettingChange>,
    n_entries_omitted: u64,
    n_changes_omitted: u64,
    findings: Vec<(GroupKey, Finding)>,
    /// Findings that are never grouped (an upstream pull failure, a run-level problem).
    own_findings: Vec<Finding>,
    /// The change that woke the run, when someone changed a setting: each setting the run then
    /// restores is an alert naming them.
    changed_by: Option<ChangedBy>,
}

/// Someone's call that changed a repository setting (from its CloudTrail record).
#[derive(Debug, Clone)]
pub struct ChangedBy {
    /// The CloudTrail `eventName` (`DeleteLifecyclePolicy`).
    pub call: &'static str,
    /// The caller's ARN (user or role session), or the role's, or the invoking service.
    pub principal: String,
    pub event_time: Option<String>,
}

pub const REPOSITORIES_CHECKED: &str = "repositories_checked";
pub const REPOSITORIES_COMPLIANT: &str = "repositories_compliant";
pub const REPOSITORIES_CHANGED: &str = "repositories_changed";
pub const REPOSITORIES_DRIFTED: &str = "repositories_drifted";
pub const SETTINGS_CHANGED: &str = "settings_changed";
pub const SETTINGS_PLANNED: &str = "settings_planned";
pub const REPOSITORIES_SKIPPED: &str = "repositories_skipped";
pub const REPOSITORIES_OPTED_OUT: &str = "repositories_opted_out";
pub const REPOSITORIES_NOT_FOUND: &str = "repositories_not_found";
pub const HARDENING_FAILURES: &str = "hardening_failures";
pub const PULL_FAILURES: &str = "pull_failures";

const COUNTS: [&str; 11] = [
    REPOSITORIES_CHECKED,
    REPOSITORIES_COMPLIANT,
    REPOSITORIES_CHANGED,
    REPOSITORIES_DRIFTED,
    SETTINGS_CHANGED,
    SETTINGS_PLANNED,
    REPOSITORIES_SKIPPED,
    REPOSITORIES_OPTED_OUT,
    REPOSITORIES_NOT_FOUND,
    HARDENING_FAILURES,
    PULL_FAILURES,
];

impl Tally {
    pub fn new(dry_run: bool, list_compliant: bool) -> Self {
        Tally {
            dry_run,
            list_compliant,
            counts: COUNTS.iter().map(|name| (*name, 0)).collect(),
            entries: Vec::new(),
            changes: Vec::new(),
            n_entries_omitted: 0,
            n_changes_omitted: 0,
            findings: Vec::new(),
            own_findings: Vec::new(),
            changed_by: None,
        }
    }

    /// Turns every setting the run restores into a warning that names who changed it.
    pub fn alerting_reverts(self, changed_by: ChangedBy) -> Self {
        Tally {
            changed_by: Some(changed_by),
            ..self
        }
    }

    fn add(&mut self, name: &'static str, value: u64) {
        *self.counts.entry(name).or_insert(0) += value;
    }

    pub fn count(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }

    /// Findings that stand alone (never grouped).
    pub fn push_finding(&mut self, finding: Finding) {
        self.own_findings.push(finding);
    }

    pub fn add_pull_failure(&mut self, finding: Finding) {
        self.add(PULL_FAILURES, 1);
        self.own_findings.push(finding);
    }

    fn entry(&mut self, entry: RepositoryEntry) {
        if self.entries.len() < MAX_REPORTED_ENTRIES {
            self.entries.push(entry);
        } else {
            self.n_entries_omitted += 1;
        }
    }

    pub fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Skipped {
                name,
                reason: SkipReason::OptedOut,
            } => {
                self.add(REPOSITORIES_SKIPPED, 1);
                self.add(REPOSITORIES_OPTED_OUT, 1);
                self.entry(RepositoryEntry {
                    reason: Some(SkipReason::OptedOut.describe().to_owned()),
                    ..RepositoryEntry::new(name.clone(), None, RepositoryOutcome::Skipped)
                });
                self.findings
                    .push((GroupKey::OptedOut, opted_out_finding(&name)));
            }
            Outcome::Skipped { name, reason } => {
                self.add(REPOSITORIES_SKIPPED, 1);
                if self.list_compliant {
                    self.entry(RepositoryEntry {
                        reason: Some(reason.describe().to_owned()),
                        ..RepositoryEntry::new(name, None, RepositoryOutcome::Skipped)
                    });
                }
            }
            Outcome::Gone { name } => {
                self.add(REPOSITORIES_NOT_FOUND, 1);
                self.entry(RepositoryEntry::new(
                    name,
                    None,
                    RepositoryOutcome::NotFound,
                ));
            }
            Outcome::Failed {
                name,
                profile,
                error,
            } => {
                self.add(HARDENING_FAILURES, 1);
                let finding = failure_finding(&name, None, &error);
                self.entry(RepositoryEntry {
                    errors: vec![error.to_string()],
                    ..RepositoryEntry::new(name, Some(profile), RepositoryOutcome::Failed)
                });
                self.findings.push((failure_key(&error), finding));
            }
            Outcome::OutOfTime { name } => {
                self.add(HARDENING_FAILURES, 1);
                self.entry(RepositoryEntry::new(
                    name.clone(),
                    None,
                    RepositoryOutcome::OutOfTime,
                ));
                self.findings.push((
                    GroupKey::OutOfTime,
                    Finding::new(
                        Severity::Warning,
                        Check::HardeningFailure,
                        &name,
                        format!("repository `{name}` was not finished before the deadline"),
                        "its reads and writes took longer than the time left in the invocation; it may be partly hardened",
                    )
                    .with_next_step("the next sweep finishes it; if this repeats, raise the function's timeout or lower `hardening.concurrency`"),
                ));
            }
            Outcome::Hardened {
                name,
                arn,
                profile,
                plan,
                applied,
            } => self.record_hardened(name, arn, profile, plan, applied),
        }
    }

    fn record_hardened(
        &mut self,
        name: String,
        arn: String,
        profile: String,
        plan: Plan,
        applied: Option<Vec<Applied>>,
    ) {
        self.add(REPOSITORIES_CHECKED, 1);
        let Plan { changes, findings } = plan;
        if changes.is_empty() && findings.is_empty() {
            self.add(REPOSITORIES_COMPLIANT, 1);
            if self.list_compliant {
                self.entry(RepositoryEntry::new(
                    name,
                    Some(profile),
                    RepositoryOutcome::Compliant,
                ));
            }
            return;
        }
        if !changes.is_empty() {
            self.add(REPOSITORIES_DRIFTED, 1);
            self.add(SETTINGS_PLANNED, changes.len() as u64);
        }
        let mut n_written = 0;
        let mut errors = Vec::new();
        let mut settings = Vec::new();
        for (index, change) in changes.iter().enumerate() {
            settings.push(change.setting.as_str().to_owned());
            let result = applied.as_ref().and_then(|results| results.get(index));
            let mut entry = SettingChange {
                repository: name.clone(),
                setting: change.setting.as_str().to_owned(),
                old: change.old.clone(),
                new: change.new.clone(),
                applied: matches!(result, Some(Applied::Written)),
                source: change.source.clone(),
                removed: change.removed.clone(),
                note: change.note.clone(),
                error: None,
                not_attempted: None,
            };
            match result {
                Some(Applied::Written) => {
                    n_written += 1;
                    if let Some(changed_by) = &self.changed_by {
                        self.own_findings
                            .push(revert_finding(&name, &arn, &profile, change, changed_by));
                    }
                }
                Some(Applied::Failed(error)) => {
                    entry.error = Some(error.to_string());
                    errors.push(error.to_string());
                    self.findings.push((
                        failure_key(error),
                        failure_finding(&name, Some(&arn), error),
                    ));
                }
                Some(Applied::NotAttempted) => {
                    entry.not_attempted =
                        Some("the repository disappeared while it was being hardened".to_owned());
                }
                None => {}
            }
            if self.changes.len() < MAX_REPORTED_ENTRIES {
                self.changes.push(entry);
            } else {
                self.n_changes_omitted += 1;
            }
        }
        if n_written > 0 {
            self.add(REPOSITORIES_CHANGED, 1);
            self.add(SETTINGS_CHANGED, n_written);
        }
        if !errors.is_empty() {
            self.add(HARDENING_FAILURES, 1);
        }
        let outcome = match (&applied, n_written, errors.is_empty()) {
            (_, _, false) => RepositoryOutcome::Failed,
            (None, _, _) if !changes.is_empty() => RepositoryOutcome::WouldChange,
            (Some(_), written, true) if written > 0 => RepositoryOutcome::Changed,
            _ => RepositoryOutcome::Findings,
        };
        self.entry(RepositoryEntry {
            settings: Some(settings),
            errors,
            findings: findings
                .iter()
                .map(|(kind, _)| kind.as_str().to_owned())
                .collect(),
            ..RepositoryEntry::new(name, Some(profile), outcome)
        });
        for (kind, finding) in findings {
            self.findings.push((GroupKey::Plan(kind), finding));
        }
    }

    /// Writes the counts, sections and findings into `report`, and the metrics.
    pub fn finish(self, report: &mut Report<HardenDetails>, metrics: &mut Metrics) {
        for (name, value) in &self.counts {
            report.count(name, *value);
        }
        let changed = if self.dry_run {
            0
        } else {
            self.count(REPOSITORIES_CHANGED)
        };
        metrics.count("RepositoriesChecked", self.count(REPOSITORIES_CHECKED));
        metrics.count("RepositoriesChanged", changed);
        metrics.count("RepositoriesDrifted", self.count(REPOSITORIES_DRIFTED));
        metrics.count("SettingsChanged", self.count(SETTINGS_CHANGED));
        metrics.count("HardeningFailures", self.count(HARDENING_FAILURES));
        metrics.count("PullFailures", self.count(PULL_FAILURES));

        report.details.repositories = self.entries;
        report.details.changes = self.changes;
        if self.n_entries_omitted > 0 || self.n_changes_omitted > 0 {
            report.details.omitted = Some(Omitted {
                repositories: self.n_entries_omitted,
                changes: self.n_changes_omitted,
            });
        }
        for finding in self.own_findings {
            report.push_finding(finding);
        }
        for finding in group_findings(self.findings) {
            report.push_finding(finding);
        }
    }
}

/// Keeps findings one by one while a kind has few; folds a kind with many into one finding.
fn group_findings(findings: Vec<(GroupKey, Finding)>) -> Vec<Finding> {
    let mut by_key: BTreeMap<GroupKey, Vec<Finding>> = BTreeMap::new();
    let mut order: Vec<GroupKey> = Vec::new();
    for (key, finding) in findings {
        if !by_key.contains_key(&key) {
            order.push(key.clone());
        }
        by_key.entry(key).or_default().push(finding);
    }
    let mut result = Vec::new();
    for key in order {
        let Some(group) = by_key.remove(&key) else {
            continue;
        };
        if group.len() <= MAX_FINDINGS_PER_KIND {
            result.extend(group);
            continue;
        }
        let mut names: Vec<&str> = group.iter().map(|f| f.resource.as_str()).collect();
        names.dedup();
        let shown: Vec<String> = names
            .iter()
            .take(MAX_NAMES_IN_GROUP)
            .map(|name| format!("`{name}`"))
            .collect();
        let more = names.len().saturating_sub(MAX_NAMES_IN_GROUP);
        let listed = if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        };
        let lead = &group[0];
        let severity = group
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(lead.severity);
        result.push(
            Finding::new(
                severity,
                lead.check,
                format!("harden-repository/{}", key.name()),
                key.group_title(names.len()),
                format!(
                    "{}; repositories: {listed}; for example: {}",
                    lead.title, lead.message
                ),
            )
            .with_next_steps(lead.next_steps.iter().cloned()),
        );
    }
    result
}

/// A repository its owners keep out of hardening: said once, never acted on.
fn opted_out_finding(name: &str) -> Finding {
    Finding::new(
        Severity::Info,
        Check::RepositoryHardening,
        name,
        format!("repository `{name}` is opted out of hardening"),
        "it is tagged `ptc-ops:managed=false`, so no event, sweep or `ptc harden` writes to it",
    )
    .with_next_step(format!(
        "to have it hardened again: `aws ecr untag-resource --resource-arn <repository ARN> --tag-keys ptc-ops:managed` (repository `{name}`)"
    ))
}

fn failure_key(error: &AwsError) -> GroupKey {
    GroupKey::Failure {
        operation: error.operation,
        kind: error.kind.as_str(),
    }
}

/// Longest rendering of a restored value in an alert; the report's `changes` has it whole.
const MAX_VALUE_CHARS: usize = 160;

/// A person changed a managed setting and the run put the profile's value back.
fn revert_finding(
    name: &str,
    arn: &str,
    profile: &str,
    change: &Change,
    changed_by: &ChangedBy,
) -> Finding {
    let setting = change.setting.as_str();
    let principal = &changed_by.principal;
    let call = changed_by.call;
    let when = changed_by
        .event_time
        .as_deref()
        .map(|time| format!(" at {time}"))
        .unwrap_or_default();
    // Values and callers come from outside: `code` keeps a backtick in them from ending the
    // code span (a lifecycle rule description can hold anything).
    let restored = match &change.source {
        Some(source) => format!("{} (from {source})", code(&shortened(&change.new))),
        None => code(&shortened(&change.new)),
    };
    let caller = code(principal);
    Finding::new(
        Severity::Warning,
        Check::RepositoryHardening,
        name,
        format!("`{setting}` of `{name}` changed by {caller} was restored"),
        format!(
            "{caller} called `{call}` on managed repository `{name}`{when}; `{setting}` was {} afterwards and is back to profile `{profile}`: {restored}",
            code(&shortened(&change.old))
        ),
    )
    .with_next_step(format!(
        "settings of repositories under the managed prefixes belong to profile `{profile}`: change the profile in the configuration, not the repository, or the change is undone again"
    ))
    .with_resource_arn(arn)
}

fn shortened(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => "none".to_owned(),
        other => other.to_string(),
    };
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// A repository that could not be observed or changed; the run goes on with the others.
pub fn failure_finding(name: &str, arn: Option<&str>, error: &AwsError) -> Finding {
    let operation = error.operation;
    let (severity, next_step) = match error.kind {
        AwsErrorKind::AccessDenied => (
            Severity::Critical,
            format!(
                "allow `{operation}` on `{}` in the function's role",
                arn.unwrap_or("arn:aws:ecr:<region>:<account>:repository/*")
            ),
        ),
        AwsErrorKind::Throttled => (
            Severity::Warning,
            "ECR kept throttling after retries: lower `hardening.concurrency`; the next sweep retries this repository".to_owned(),
        ),
        _ => (
            Severity::Warning,
            "the next sweep retries this repository; if it keeps failing, check the error with the same call in the AWS CLI".to_owned(),
        ),
    };
    let finding = Finding::new(
        severity,
        Check::HardeningFailure,
        name,
        format!("repository `{name}` could not be hardened: `{operation}` failed"),
        error.to_string(),
    )
    .with_next_step(next_step);
    match arn {
        Some(arn) => finding.with_resource_arn(arn),
        None => finding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(name: &str) -> Outcome {
        let error = AwsError::invalid_request(
            "ecr:PutLifecyclePolicy",
            Some(name),
            std::io::Error::other("refused"),
        );
        Outcome::Failed {
            name: name.to_owned(),
            profile: "default".to_owned(),
            error,
        }
    }

    /// `n_failures` alike failures → (finding resources, `hardening_failures`).
    fn check(n_failures: usize, expected_resources: &[&str]) {
        let mut tally = Tally::new(false, false);
        for index in 0..n_failures {
            tally.record(failed(&format!("ghcr/app-{index:02}")));
        }
        tally.record(Outcome::Skipped {
            name: "team/app".into(),
            reason: SkipReason::OutsideManagedPrefixes,
        });
        let mut report = Report::new("harden-repository", false);
        let mut metrics = Metrics::new("harden-repository");
        tally.finish(&mut report, &mut metrics);
        let resources: Vec<&str> = report
            .findings
            .iter()
            .map(|finding| finding.resource.as_str())
            .collect();
        assert_eq!(resources, expected_resources, "{n_failures} failures");
        assert_eq!(report.summary[HARDENING_FAILURES], n_failures as u64);
        assert_eq!(report.summary[REPOSITORIES_SKIPPED], 1);
    }

    /// Another writer's value and role are outside text: each is one code span in the finding,
    /// whatever backticks they hold, so chat shows them whole and nothing between them is code.
    #[test]
    fn a_restored_value_holding_backticks_stays_one_code_span() {
        use super::super::plan::{Setting, Write};
        let old = serde_json::json!({"rules": [{"rulePriority": 1, "description": "a `b` ``c"}]});
        let new = serde_json::json!({"rules": [{"rulePriority": 1, "description": "keep"}]});
        let change = Change {
            setting: Setting::LifecyclePolicy,
            old: old.clone(),
            new: new.clone(),
            source: None,
            note: None,
            removed: Vec::new(),
            write: Write::LifecyclePolicy(new.to_string()),
        };
        let changed_by = ChangedBy {
            call: "PutLifecyclePolicy",
            principal: "arn:aws:iam::123456789012:role/`odd`".to_owned(),
            event_time: None,
        };
        let finding = revert_finding("docker-hub/x", "arn", "default", &change, &changed_by);
        let code_spans: Vec<String> = pulldown_cmark::Parser::new(&finding.message)
            .filter_map(|event| match event {
                pulldown_cmark::Event::Code(code) => Some(code.into_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            code_spans,
            [
                changed_by.principal.clone(),
                "PutLifecyclePolicy".to_owned(),
                "docker-hub/x".to_owned(),
                "lifecycle_policy".to_owned(),
                old.to_string(),
                "default".to_owned(),
                new.to_string(),
            ],
            "{}",
            finding.message
        );
    }

    #[test]
    fn many_alike_findings_become_one() {
        check(0, &[]);
        check(2, &["ghcr/app-00", "ghcr/app-01"]);
        check(
            MAX_FINDINGS_PER_KIND + 2,
            &["harden-repository/failure/ecr:PutLifecyclePolicy/invalid-request"],
        );
    }
}
