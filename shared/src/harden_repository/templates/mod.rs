//! Repository creation templates from the hardening profiles: repositories the pull-through
//! cache creates are born with their profile's settings, atomically, instead of being fixed
//! minutes later by their creation event.
//!
//! Reconciled like repositories: observe (every template of the registry, one paginated read)
//! → plan (pure, [`plan`]) → stop here in a dry run or in `"check"` mode → create or update
//! only what differs → report each field's old and new value. Templates of prefixes the
//! product does not manage are never written, and no template is ever deleted.
//!
//! Entry points: [`reconcile`] (the first part of a sweep), [`run`] (`ptc templates`).

pub mod desired;
pub mod permissions;
pub mod plan;

use std::collections::BTreeMap;

use tracing::{info, warn};

use crate::config::{HardeningConfig, TemplateMode};
use crate::domain::{Check, Finding, Report, Severity, ROOT_PREFIX};
use crate::error::Error;
use crate::harden_repository::desired::ManagedPrefixes;
use crate::harden_repository::observe::managed_prefixes;
use crate::metrics::Metrics;
use crate::ports::{AwsError, AwsErrorKind};
use crate::ports::{CreationTemplates, PortSet};
use crate::run::{Ran, RunContext};

use plan::{Action, TemplatePlan};

/// The report name of `ptc templates`.
const FUNCTION: &str = "creation-templates";

pub const TEMPLATES_CHECKED: &str = "templates_checked";
pub const TEMPLATES_IN_SYNC: &str = "templates_in_sync";
pub const TEMPLATES_CREATED: &str = "templates_created";
pub const TEMPLATES_UPDATED: &str = "templates_updated";
/// Templates that differ and were not written (dry run, `"check"` mode).
pub const TEMPLATES_DRIFTED: &str = "templates_drifted";
/// Templates the product did not create: never written, each difference a finding.
pub const TEMPLATES_FOREIGN: &str = "templates_foreign";
pub const TEMPLATE_FAILURES: &str = "template_failures";

/// The `templates` section of a report: the mode, and what became of each managed prefix's
/// template.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct TemplatesSection {
    /// `hardening.creation_templates`: `manage`, `check` or `off`.
    pub mode: String,
    /// The role new repositories' templates name (`hardening.creation_template_role_arn`).
    pub role_arn: Option<String>,
    pub templates: Vec<TemplateEntry>,
    /// Templates of prefixes the product does not manage: never written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_alone: Vec<String>,
    /// Why the templates could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What became of one managed prefix's template.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct TemplateEntry {
    pub prefix: String,
    pub profile: String,
    /// `in-sync`, `nothing-to-carry`, `created`, `updated`, `would-create`, `would-update`,
    /// `missing`, `drifted` or `failed`.
    pub outcome: &'static str,
    /// Each field that differs, with its old and new value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<plan::FieldChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `ptc templates plan` (a dry run) or `ptc templates apply`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    pub dry_run: bool,
}

/// The report of `ptc templates plan|apply`.
pub type TemplatesReport = Report<TemplatesDetails>;

/// The sections of the `ptc templates` report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct TemplatesDetails {
    pub managed_prefixes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templates: Option<TemplatesSection>,
}

/// What reconciling the templates came to, for the report of the run that did it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled {
    /// The `templates` section of the report.
    pub detail: TemplatesSection,
    pub counts: BTreeMap<&'static str, u64>,
    pub findings: Vec<Finding>,
}

impl Reconciled {
    fn new(mode: TemplateMode, role_arn: Option<&str>) -> Self {
        Reconciled {
            detail: TemplatesSection {
                mode: mode.as_str().to_owned(),
                role_arn: role_arn.map(str::to_owned),
                templates: Vec::new(),
                left_alone: Vec::new(),
                error: None,
            },
            counts: [
                TEMPLATES_CHECKED,
                TEMPLATES_IN_SYNC,
                TEMPLATES_CREATED,
                TEMPLATES_UPDATED,
                TEMPLATES_DRIFTED,
                TEMPLATES_FOREIGN,
                TEMPLATE_FAILURES,
            ]
            .into_iter()
            .map(|name| (name, 0))
            .collect(),
            findings: Vec::new(),
        }
    }

    fn add(&mut self, name: &'static str) {
        *self.counts.entry(name).or_insert(0) += 1;
    }

    /// Adds the counts and the findings to `report`; the `templates` section comes back for
    /// the report's details.
    pub fn write_into<D>(self, report: &mut Report<D>) -> TemplatesSection {
        for (name, value) in self.counts {
            report.add_to_count(name, value);
        }
        for finding in self.findings {
            report.push_finding(finding);
        }
        self.detail
    }
}

/// Brings the templates of the managed prefixes to their profiles (`hardening.creation_templates`
/// decides whether they are written). Never fails: a failed call is a finding, and the caller
/// goes on (a sweep, with repositories).
pub async fn reconcile(
    ports: &impl PortSet,
    config: &HardeningConfig,
    managed: &ManagedPrefixes,
    dry_run: bool,
) -> Reconciled {
    let mode = config.creation_templates;
    let role_arn = config.creation_template_role_arn.as_deref();
    let mut reconciled = Reconciled::new(mode, role_arn);
    if mode == TemplateMode::Off {
        return reconciled;
    }
    let templates = ports.creation_templates();
    let observed = match templates.all().await {
        Ok(observed) => observed,
        Err(error) => {
            warn!(error = %error, "creation templates could not be read");
            reconciled.add(TEMPLATE_FAILURES);
            reconciled.detail.error = Some(error.to_string());
            reconciled
                .findings
                .push(failure_finding("*", "read", &error));
            return reconciled;
        }
    };
    let desired = desired::desired_templates(config, managed);
    let plans = plan::plan_all(&desired, &observed, mode, role_arn);
    let writes = mode.writes() && !dry_run;
    let mut entries = Vec::new();
    let mut no_role: (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    for plan in &plans.plans {
        reconciled.add(TEMPLATES_CHECKED);
        let result = if writes && plan.writes() {
            Some(write(ports, plan).await)
        } else {
            None
        };
        let outcome = match (plan.action, &result) {
            (Action::InSync, _) => {
                reconciled.add(TEMPLATES_IN_SYNC);
                "in-sync"
            }
            (Action::NothingToCarry, _) => "nothing-to-carry",
            (Action::Foreign, _) => {
                reconciled.add(TEMPLATES_FOREIGN);
                "foreign"
            }
            (_, Some(Err(error))) => {
                reconciled.add(TEMPLATE_FAILURES);
                let verb = if plan.action == Action::Create {
                    "created"
                } else {
                    "updated"
                };
                reconciled
                    .findings
                    .push(failure_finding(&plan.prefix, verb, error));
                "failed"
            }
            (Action::Create, Some(Ok(()))) => {
                reconciled.add(TEMPLATES_CREATED);
                "created"
            }
            (Action::Update, Some(Ok(()))) => {
                reconciled.add(TEMPLATES_UPDATED);
                "updated"
            }
            (Action::Create, None) => {
                reconciled.add(TEMPLATES_DRIFTED);
                if mode == TemplateMode::Check {
                    "missing"
                } else {
                    "would-create"
                }
            }
            (Action::Update, None) => {
                reconciled.add(TEMPLATES_DRIFTED);
                if mode == TemplateMode::Check {
                    "drifted"
                } else {
                    "would-update"
                }
            }
        };
        entries.push(TemplateEntry {
            prefix: plan.prefix.clone(),
            profile: plan.profile.clone(),
            outcome,
            changes: plan.changes.clone(),
            error: match &result {
                Some(Err(error)) => Some(error.to_string()),
                _ => None,
            },
        });
        for hazard in &plan.hazards {
            match hazard {
                // The same configuration gap for every prefix: one finding for the run.
                plan::Hazard::NoRole { left_out } => {
                    no_role.0.push(plan.prefix.as_str());
                    for what in left_out {
                        if !no_role.1.contains(what) {
                            no_role.1.push(what);
                        }
                    }
                }
                other => reconciled.findings.push(other.finding(&plan.prefix)),
            }
        }
    }
    if !no_role.0.is_empty() {
        reconciled
            .findings
            .push(plan::no_role_finding(&no_role.0, &no_role.1));
    }
    for hazard in &plans.hazards {
        reconciled.findings.push(hazard.finding(ROOT_PREFIX));
    }
    reconciled.detail.templates = entries;
    reconciled.detail.left_alone = plans.left_alone;
    reconciled
}

async fn write(ports: &impl PortSet, plan: &TemplatePlan) -> Result<(), AwsError> {
    let templates = ports.creation_templates();
    let fields: Vec<&str> = plan.changes.iter().map(|change| change.field).collect();
    let result = match plan.action {
        Action::Create => templates.create(&plan.target).await,
        _ => templates.update(&plan.target).await,
    };
    match &result {
        Ok(()) => {
            info!(prefix = %plan.prefix, action = ?plan.action, fields = ?fields, "creation template written")
        }
        Err(error) => {
            warn!(prefix = %plan.prefix, error = %error, "creation template could not be written")
        }
    }
    result
}

fn failure_finding(prefix: &str, verb: &str, error: &AwsError) -> Finding {
    let mut finding = Finding::new(
        Severity::Warning,
        Check::CreationTemplate,
        prefix,
        if prefix == "*" {
            "the repository creation templates could not be read".to_owned()
        } else {
            format!("creation template `{prefix}` could not be {verb}")
        },
        format!("{error}; repositories the cache creates there keep getting what the template had (or ECR's defaults), and their creation events harden them"),
    );
    if error.kind == AwsErrorKind::AccessDenied {
        finding = finding.with_next_step(format!(
            "allow `{}` in the role (and `iam:PassRole` on the template role, passed to `ecr.amazonaws.com`)",
            error.operation
        ));
    }
    finding
        .with_next_step("the next sweep tries again; `ptc templates plan` shows what it would do")
}

/// Settings hardening writes that no creation template can carry (ECR's templates have no
/// scanning setting), so a repository born from a matching template may still need them.
pub const NOT_CARRIED_BY_TEMPLATES: &[&str] = &["scan_on_push"];

/// `ptc templates plan` (`dry_run`) and `ptc templates apply`: the templates alone.
pub async fn run(
    context: &RunContext<'_, impl PortSet>,
    request: Request,
) -> Result<Ran<TemplatesDetails>, Error> {
    let RunContext { ports, config, .. } = *context;
    let dry_run = request.dry_run;
    let managed = managed_prefixes(ports.registry(), &config.hardening).await?;
    let mut hardening = config.hardening.clone();
    // Asked for by name: an `off` configuration is still shown, never written.
    if hardening.creation_templates == TemplateMode::Off {
        hardening.creation_templates = TemplateMode::Check;
    }
    let dry_run = dry_run || config.hardening.dry_run;
    let reconciled = reconcile(ports, &hardening, &managed, dry_run).await;
    let mut report = TemplatesReport::new(FUNCTION, dry_run);
    report.details.managed_prefixes = managed.as_slice().to_vec();
    report.details.templates = Some(reconciled.write_into(&mut report));
    Ok(Ran {
        report,
        metrics: Metrics::new(FUNCTION),
    })
}
