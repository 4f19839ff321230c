//! Scan on push at the registry level: profiles with `scan_on_push = true` become
//! `SCAN_ON_PUSH` filters (`<prefix>/*`) of the registry scanning configuration, which replaces
//! the deprecated per-repository setting.
//!
//! Reconciled once per sweep, after the creation templates and before the repositories:
//! observe (`GetRegistryScanningConfiguration`) → plan (pure, [`plan`]: merge, never remove) →
//! stop here in a dry run or in `"check"` mode → one `PutRegistryScanningConfiguration` when the
//! merge differs by meaning → report the old and new configuration. Repositories the resulting
//! configuration scans on push need no read and no write of their own; the others are read with
//! `BatchGetRepositoryScanningConfiguration` (25 per call) and, when still not scanned, get the
//! deprecated `PutImageScanningConfiguration`. [`ScanCoverage`] lists what is not scanned on push.

pub mod permissions;
pub mod plan;

use serde::Serialize;
use tracing::{info, warn};

use crate::config::{HardeningConfig, TemplateMode};
use crate::domain::scanning::RegistryScanning;
use crate::domain::{Check, Finding, Report, Severity};
use crate::harden_repository::desired::ManagedPrefixes;
use crate::ports::{AwsError, AwsErrorKind};
use crate::ports::{PortSet, Scanning};

use plan::{FilterStatus, Hazard, Overridden};

/// The resource findings about the registry scanning configuration name.
const RESOURCE: &str = "registry-scanning";

/// How the reconcile ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// `hardening.registry_scanning = "off"`: neither read nor written.
    Off,
    /// The registry already scans every wanted prefix on push (and has the configured type).
    InSync,
    /// Written.
    Updated,
    /// Differs; a dry run, so not written.
    WouldUpdate,
    /// Differs; `"check"` mode, so not written.
    Drifted,
    /// The configuration could not be read or written.
    Failed,
}

/// One wanted filter in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FilterEntry {
    pub prefix: String,
    pub profile: String,
    pub filter: String,
    #[serde(flatten)]
    pub status: FilterStatus,
}

/// The `registry_scanning` section of a sweep's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RegistryScanningSection {
    pub mode: &'static str,
    pub outcome: Outcome,
    /// The configuration the registry had (`None` when it was not read).
    pub old: Option<RegistryScanning>,
    /// The configuration it has after this run, or would have (`None` when not planned).
    pub new: Option<RegistryScanning>,
    /// Every prefix whose profile asks for scan on push, and what became of its filter.
    pub filters: Vec<FilterEntry>,
    pub hazards: Vec<Hazard>,
    /// Profiles with `scan_on_push = false` that a registry filter scans on push anyway.
    pub overridden: Vec<Overridden>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What reconciling the registry scanning configuration came to.
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub section: RegistryScanningSection,
    pub findings: Vec<Finding>,
    /// The configuration repositories are compared against: what the registry has after this
    /// run. `None` when unknown (`off`, or it could not be read): every repository is read.
    pub in_effect: Option<RegistryScanning>,
}

impl Reconciled {
    /// Adds the findings to `report`; the `registry_scanning` section comes back for the
    /// report's details.
    pub fn write_into<D>(self, report: &mut Report<D>) -> RegistryScanningSection {
        for finding in self.findings {
            report.push_finding(finding);
        }
        self.section
    }
}

/// Reads the registry scanning configuration without reconciling it (a sweep's later links,
/// which compare repositories against it). `None` when `off` or unreadable.
pub async fn in_effect(ports: &impl PortSet, config: &HardeningConfig) -> Option<RegistryScanning> {
    if config.registry_scanning == TemplateMode::Off {
        return None;
    }
    match ports.scanning().registry_configuration().await {
        Ok(configuration) => Some(configuration),
        Err(error) => {
            warn!(error = %error, "registry scanning configuration could not be read");
            None
        }
    }
}

/// Brings the registry scanning configuration to the profiles (`hardening.registry_scanning`
/// decides whether it is written). Never fails: a failed call is a finding, and the sweep goes
/// on with repositories, reading each one's scanning itself.
pub async fn reconcile(
    ports: &impl PortSet,
    config: &HardeningConfig,
    managed: &ManagedPrefixes,
    dry_run: bool,
) -> Reconciled {
    let mode = config.registry_scanning;
    let mut section = RegistryScanningSection {
        mode: mode.as_str(),
        outcome: Outcome::Off,
        old: None,
        new: None,
        filters: Vec::new(),
        hazards: Vec::new(),
        overridden: Vec::new(),
        error: None,
    };
    if mode == TemplateMode::Off {
        return Reconciled {
            section,
            findings: Vec::new(),
            in_effect: None,
        };
    }
    let api = ports.scanning();
    let observed = match api.registry_configuration().await {
        Ok(observed) => observed,
        Err(error) => {
            warn!(error = %error, "registry scanning configuration could not be read");
            section.outcome = Outcome::Failed;
            section.error = Some(error.to_string());
            return Reconciled {
                section,
                findings: vec![failure_finding("read", &error, None)],
                in_effect: None,
            };
        }
    };
    let wanted = plan::wanted_filters(config, managed);
    let planned = plan::plan(&observed, &wanted, config.registry_scan_type);
    let mut findings: Vec<Finding> = planned
        .hazards
        .iter()
        .map(|hazard| hazard_finding(hazard, &planned.target))
        .collect();
    section.old = Some(observed.clone());
    section.new = Some(planned.target.clone());
    section.hazards = planned.hazards.clone();
    section.filters = planned
        .filters
        .iter()
        .map(|(wanted, status)| FilterEntry {
            prefix: wanted.prefix.clone(),
            profile: wanted.profile.clone(),
            filter: wanted.filter.clone(),
            status: status.clone(),
        })
        .collect();
    let mut in_effect = observed.clone();
    section.outcome = if !planned.writes() {
        Outcome::InSync
    } else if mode == TemplateMode::Check {
        findings.push(drift_finding(&planned.added(), &planned.target));
        Outcome::Drifted
    } else if dry_run {
        Outcome::WouldUpdate
    } else {
        // ECR has no conditional write for this configuration: read again just before writing
        // (merging anew if someone changed it since), then read back what stuck.
        let planned = match api.registry_configuration().await {
            Ok(fresh) if !fresh.same_as(&observed) => {
                info!(
                    changed = ?difference(&observed, &fresh),
                    "registry scanning configuration changed since it was read; merged again"
                );
                section.old = Some(fresh.clone());
                in_effect = fresh.clone();
                plan::plan(&fresh, &wanted, config.registry_scan_type)
            }
            _ => planned,
        };
        if !planned.writes() {
            Outcome::InSync
        } else {
            match api.put_registry_configuration(&planned.target).await {
                Ok(()) => {
                    info!(
                        added = ?planned.added(),
                        scan_type = %planned.target.scan_type,
                        "registry scanning configuration written"
                    );
                    section.new = Some(planned.target.clone());
                    in_effect = planned.target.clone();
                    if let Ok(after) = api.registry_configuration().await {
                        if !after.same_as(&planned.target) {
                            let (lost, foreign) = difference(&planned.target, &after);
                            warn!(lost = ?lost, foreign = ?foreign, "registry scanning configuration changed by someone else right after it was written");
                            findings.push(concurrent_change_finding(&lost, &foreign, &after));
                            in_effect = after;
                        }
                    }
                    Outcome::Updated
                }
                Err(error) => {
                    warn!(error = %error, "registry scanning configuration could not be written");
                    section.error = Some(error.to_string());
                    findings.push(failure_finding("written", &error, Some(&planned.target)));
                    Outcome::Failed
                }
            }
        }
    };
    if section.outcome != Outcome::Updated {
        section.new = match section.outcome {
            // What the registry has: as read, or as read again just before the write.
            Outcome::InSync | Outcome::Failed => Some(in_effect.clone()),
            // The plan's target, set above.
            _ => section.new.take(),
        };
    }
    section.overridden = plan::overridden(config, managed, &in_effect);
    for overridden in &section.overridden {
        findings.push(overridden_finding(overridden));
    }
    Reconciled {
        section,
        findings,
        in_effect: Some(in_effect),
    }
}

/// The filter entries (`SCAN_ON_PUSH docker-hub/*`) of `written` that `now` lacks, and those
/// `now` has that `written` did not.
fn difference(written: &RegistryScanning, now: &RegistryScanning) -> (Vec<String>, Vec<String>) {
    let written = written.filter_entries();
    let now = now.filter_entries();
    let lost = written
        .iter()
        .filter(|entry| !now.contains(entry))
        .cloned()
        .collect();
    let foreign = now
        .iter()
        .filter(|entry| !written.contains(entry))
        .cloned()
        .collect();
    (lost, foreign)
}

/// Someone wrote the registry scanning configuration between this run's write and its read-back.
fn concurrent_change_finding(
    lost: &[String],
    foreign: &[String],
    now: &RegistryScanning,
) -> Finding {
    let list = |entries: &[String]| {
        if entries.is_empty() {
            "none".to_owned()
        } else {
            entries
                .iter()
                .map(|entry| format!("`{entry}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    Finding::new(
        Severity::Warning,
        Check::RegistryScanning,
        RESOURCE,
        "the registry scanning configuration was changed by someone else while it was written",
        format!(
            "read back right after the write, it no longer has {} and now has {} (scan type `{}`); ECR keeps whichever write came last, and this run does not write again",
            list(lost),
            list(foreign),
            now.scan_type
        ),
    )
    .with_next_steps([
        "find the other writer in CloudTrail (`PutRegistryScanningConfiguration`) and agree on who owns which filters".to_owned(),
        "the next sweep merges the profiles' filters into whatever the registry has then".to_owned(),
    ])
}

fn failure_finding(verb: &str, error: &AwsError, target: Option<&RegistryScanning>) -> Finding {
    let mut finding = Finding::new(
        Severity::Warning,
        Check::RegistryScanning,
        RESOURCE,
        format!("the registry scanning configuration could not be {verb}"),
        format!("{error}; repositories are checked one by one instead, and those the registry does not scan get the deprecated per-repository scan on push"),
    );
    if error.kind == AwsErrorKind::AccessDenied {
        finding = finding.with_next_step(format!("allow `{}` in the role", error.operation));
        if target.is_some_and(|target| target.scan_type == "ENHANCED") {
            // Enhanced scanning is Amazon Inspector's: turning it on or off also needs
            // `inspector2:Enable`/`Disable`/`ListAccountPermissions` and the service-linked role
            // (ECR user guide, image-scanning-enhanced-iam.html), which the stack does not grant.
            finding = finding.with_next_step(
                "an `ENHANCED` configuration also needs `inspector2:Enable`, `inspector2:Disable`, `inspector2:ListAccountPermissions` and `iam:CreateServiceLinkedRole` for `inspector2.amazonaws.com`, which the stack does not grant: set the scan type by hand once, or leave `hardening.registry_scan_type` unset",
            );
        }
    }
    if let Some(target) = target {
        finding = finding.with_next_step(format!(
            "or write it by hand: `{}`",
            plan::put_command(target)
        ));
    }
    finding.with_next_step("the next sweep tries again")
}

fn drift_finding(added: &[&str], target: &RegistryScanning) -> Finding {
    let title = if added.is_empty() {
        "the registry scanning configuration differs from `hardening.registry_scan_type`".to_owned()
    } else {
        format!(
            "the registry does not scan {} on push",
            added
                .iter()
                .map(|filter| format!("`{filter}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Finding::new(
        Severity::Warning,
        Check::RegistryScanning,
        RESOURCE,
        title,
        "`hardening.registry_scanning = \"check\"` reports and writes nothing; repositories there are scanned on push only through their deprecated per-repository setting, if at all",
    )
    .with_next_steps([
        format!("merge the filters into the registry configuration (every rule it has is kept): `{}`", plan::put_command(target)),
        "or set `hardening.registry_scanning = \"manage\"` and let the next sweep do it".to_owned(),
    ])
}

fn hazard_finding(hazard: &Hazard, target: &RegistryScanning) -> Finding {
    match hazard {
        Hazard::ScanTypeKept { configured, kept } => Finding::new(
            Severity::Warning,
            Check::RegistryScanning,
            RESOURCE,
            format!("registry scan type `{configured}` not set: the registry keeps `{kept}`"),
            format!("`hardening.registry_scan_type = \"{configured}\"`, but the registry has a `CONTINUOUS_SCAN` rule, which ECR refuses under `BASIC`; the product never changes a rule it did not write"),
        )
        .with_next_steps([
            "remove the `CONTINUOUS_SCAN` rule by hand if basic scanning is what you want, or leave `hardening.registry_scan_type` unset to keep the registry's scan type".to_owned(),
        ]),
        Hazard::NoRoom { filters, reason } => Finding::new(
            Severity::Warning,
            Check::RegistryScanning,
            RESOURCE,
            format!(
                "the registry scanning configuration has no room for {}",
                filters.iter().map(|filter| format!("`{filter}`")).collect::<Vec<_>>().join(", ")
            ),
            format!("{reason}; repositories under those prefixes get the deprecated per-repository scan on push instead, which AWS may retire"),
        )
        .with_next_steps([
            "make room: fold filters of the `SCAN_ON_PUSH` rule into broader wildcards (`team-*` for `team-1/*` and `team-2/*`), or turn one of the two rules into `SCAN_ON_PUSH`".to_owned(),
            format!("then write it, keeping the rest: the registry now has `{}`", plan::put_command(target)),
        ]),
        Hazard::InvalidFilter { filter } => Finding::new(
            Severity::Warning,
            Check::RegistryScanning,
            RESOURCE,
            format!("filter `{filter}` cannot be a registry scanning filter"),
            "ECR takes filters of 1 to 255 characters (`^[a-z0-9*](?:[._\\-/a-z0-9*]?[a-z0-9*]+)*$`); repositories under that prefix get the deprecated per-repository scan on push instead",
        )
        .with_next_step("use a shorter prefix for the profile or the pull-through cache rule"),
    }
}

fn overridden_finding(overridden: &Overridden) -> Finding {
    Finding::new(
        Severity::Info,
        Check::RegistryScanning,
        &overridden.prefix,
        format!("`{}` is scanned on push although its profile says no", overridden.prefix),
        format!(
            "profile `{}` sets `scan_on_push = false`, but the registry filter `{}` scans every repository under `{}/` on push; a registry filter cannot leave a sub-prefix out, and the per-repository setting does not override it",
            overridden.profile, overridden.by_filter, overridden.prefix
        ),
    )
    .with_next_step(format!(
        "if scanning there is unwanted, narrow the filter `{}` in the registry scanning configuration by hand (`aws ecr get-registry-scanning-configuration`, then `aws ecr put-registry-scanning-configuration` with the narrowed rules); otherwise drop `scan_on_push = false` from the profile",
        overridden.by_filter
    ))
}

/// Managed repositories seen by a run, by how they are scanned on push.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ScanCoverage {
    /// Scanned on push through a registry filter.
    pub by_registry: u64,
    /// Scanned on push through their own, deprecated, setting only.
    pub by_repository_setting: Vec<String>,
    /// Not scanned on push (after this run's writes).
    pub not_scanned_on_push: Vec<NotScanned>,
    /// Repositories whose profile leaves `scan_on_push` unset and no registry filter covers:
    /// not read, so not known.
    pub not_checked: u64,
}

/// A managed repository images are not scanned on push in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct NotScanned {
    pub repository: String,
    pub profile: String,
    /// The profile's `scan_on_push`.
    pub wanted: Option<bool>,
    pub scan_frequency: String,
}

/// How one repository is scanned on push, for [`ScanCoverage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Covered {
    ByRegistry,
    ByRepositorySetting,
    No { scan_frequency: String },
    NotChecked,
}

impl ScanCoverage {
    pub fn record(
        &mut self,
        repository: &str,
        profile: &str,
        wanted: Option<bool>,
        covered: Covered,
    ) {
        match covered {
            Covered::ByRegistry => self.by_registry += 1,
            Covered::ByRepositorySetting => self.by_repository_setting.push(repository.to_owned()),
            Covered::No { scan_frequency } => self.not_scanned_on_push.push(NotScanned {
                repository: repository.to_owned(),
                profile: profile.to_owned(),
                wanted,
                scan_frequency,
            }),
            Covered::NotChecked => self.not_checked += 1,
        }
    }

    /// Sorts the section for the report (which takes it back), and adds a finding when a repository whose
    /// profile wants scan on push is not scanned on push.
    pub fn write_into<D>(mut self, report: &mut Report<D>, dry_run: bool) -> ScanCoverage {
        self.by_repository_setting.sort();
        self.not_scanned_on_push
            .sort_by(|a, b| a.repository.cmp(&b.repository));
        let missed: Vec<&str> = self
            .not_scanned_on_push
            .iter()
            .filter(|row| row.wanted == Some(true))
            .map(|row| row.repository.as_str())
            .collect();
        if !missed.is_empty() {
            let shown: Vec<String> = missed
                .iter()
                .take(10)
                .map(|name| format!("`{name}`"))
                .collect();
            let more = missed.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            let why = if dry_run {
                "a dry run writes nothing"
            } else {
                "neither the registry scanning configuration nor the repository's own setting could be made to scan them (see the other findings)"
            };
            report.push_finding(
                Finding::new(
                    Severity::Warning,
                    Check::RegistryScanning,
                    RESOURCE,
                    format!("{} managed repositories are not scanned on push", missed.len()),
                    format!("their profiles set `scan_on_push = true`, but images arriving in {}{more} are not scanned: {why}", shown.join(", ")),
                )
                .with_next_step("see `scan_coverage` in the report; with `hardening.registry_scanning = \"manage\"` a sweep adds `<prefix>/*` to the registry's `SCAN_ON_PUSH` rule"),
            );
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::domain::scanning::{ScanningRule, ENHANCED, SCAN_ON_PUSH};
    use crate::domain::CacheRule;
    use crate::ports::fakes::{self, FakeEcr, FakeSecretStore};

    const GET: &str = "ecr:GetRegistryScanningConfiguration";
    const PUT: &str = "ecr:PutRegistryScanningConfiguration";

    fn configuration(scan_type: &str, filters: &[&str]) -> RegistryScanning {
        RegistryScanning {
            scan_type: scan_type.to_owned(),
            rules: vec![ScanningRule::new(SCAN_ON_PUSH, filters)],
        }
    }

    /// The shipped profiles (`scan_on_push = true`) for the prefix `docker-hub`.
    async fn reconcile_on(ecr: &Arc<FakeEcr>) -> Reconciled {
        let config = Config::from_toml_str(
            "[hardening]\nprefixes = [\"docker-hub\"]\n[hardening.default]\nscan_on_push = true\n",
            Path::new("."),
            "test",
        )
        .expect("a valid configuration");
        let ports = fakes::ports(ecr, &Arc::new(FakeSecretStore::default()));
        let managed = ManagedPrefixes::resolve(config.hardening.prefixes.as_deref(), &[]);
        reconcile(&ports, &config.hardening, &managed, false).await
    }

    fn registry() -> FakeEcr {
        FakeEcr::default().with_rule(CacheRule::new("docker-hub", "registry-1.docker.io"))
    }

    #[tokio::test]
    async fn a_change_made_between_the_read_and_the_write_is_merged_not_lost() {
        // Someone adds `team/*` right after the first read.
        let ecr = Arc::new(
            registry()
                .with_registry_scanning(configuration(ENHANCED, &["base/*"]))
                .with_scanning_writer(GET, 1, configuration(ENHANCED, &["base/*", "team/*"])),
        );
        let reconciled = reconcile_on(&ecr).await;
        assert_eq!(reconciled.section.outcome, Outcome::Updated);
        let written = reconciled.in_effect.expect("known");
        assert_eq!(
            written.filter_entries(),
            [
                "SCAN_ON_PUSH base/*",
                "SCAN_ON_PUSH docker-hub/*",
                "SCAN_ON_PUSH team/*"
            ]
        );
        assert_eq!(
            written.scan_type, ENHANCED,
            "ENHANCED is never turned into BASIC"
        );
        assert!(reconciled.findings.is_empty(), "{:?}", reconciled.findings);
    }

    #[tokio::test]
    async fn a_change_made_right_after_the_write_is_reported_naming_the_filters() {
        // Another automation writes its own configuration right after ours.
        let ecr = Arc::new(
            registry()
                .with_registry_scanning(configuration("BASIC", &["base/*"]))
                .with_scanning_writer(PUT, 1, configuration("BASIC", &["base/*", "other/*"])),
        );
        let reconciled = reconcile_on(&ecr).await;
        let calls = ecr.calls();
        assert_eq!(
            calls.iter().filter(|call| call.as_str() == PUT).count(),
            1,
            "written once, never fought over: {calls:?}"
        );
        let finding = reconciled
            .findings
            .iter()
            .find(|finding| finding.title.contains("changed by someone else"))
            .unwrap_or_else(|| panic!("a finding says so: {:?}", reconciled.findings));
        assert_eq!(finding.severity, Severity::Warning);
        assert!(
            finding.message.contains("`SCAN_ON_PUSH docker-hub/*`")
                && finding.message.contains("`SCAN_ON_PUSH other/*`"),
            "{}",
            finding.message
        );
        assert_eq!(
            reconciled.in_effect.expect("known").filter_entries(),
            ["SCAN_ON_PUSH base/*", "SCAN_ON_PUSH other/*"],
            "repositories are compared against what the registry has now"
        );
    }

    #[tokio::test]
    async fn a_registry_that_already_scans_the_prefix_is_read_once_and_not_written() {
        let ecr = Arc::new(registry().with_registry_scanning(configuration("BASIC", &["*"])));
        let reconciled = reconcile_on(&ecr).await;
        assert_eq!(reconciled.section.outcome, Outcome::InSync);
        assert_eq!(ecr.calls(), [GET]);
    }
}
