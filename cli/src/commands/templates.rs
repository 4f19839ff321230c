//! `ptc templates plan` and `ptc templates apply`: the repository creation templates of the
//! managed prefixes alone, as the sweep reconciles them first.

use std::process::ExitCode;

use ptc_ops::harden_repository::templates::{self, TemplatesSection};
use ptc_ops::run::RunContext;

use super::{clients, finish_report, load_config, CliError};
use crate::args::{GlobalOptions, TemplatesCommand};
use crate::output::{or_dash, plan, with_spinner, PlanGroup, ShownChange};

pub async fn run(global: &GlobalOptions, command: &TemplatesCommand) -> Result<ExitCode, CliError> {
    let (dry_run, diff) = match command {
        TemplatesCommand::Plan { diff } => (true, *diff),
        TemplatesCommand::Apply => (false, false),
    };
    let config = load_config(global)?;
    let clients = clients()
        .await
        .with_ecr_pacing(config.hardening.ecr_calls_per_second);
    let report = with_spinner(
        "reconciling repository creation templates",
        global.json,
        templates::run(
            &RunContext::new(&clients.ports(), &config),
            templates::Request { dry_run },
        ),
    )
    .await?
    .report;
    let detail = report
        .details
        .templates
        .as_ref()
        .map(|section| human_detail(section, diff));
    finish_report(global, &report, detail)
}

/// Per template, its outcome and one line per field that differs (with `diff`, the fields in
/// full).
fn human_detail(section: &TemplatesSection, diff: bool) -> String {
    let groups: Vec<PlanGroup<'_>> = section
        .templates
        .iter()
        .map(|entry| PlanGroup {
            subject: entry.prefix.clone(),
            status: Some(entry.outcome.to_string()),
            changes: entry
                .changes
                .iter()
                .map(|change| ShownChange {
                    setting: change.field,
                    old: &change.old,
                    new: &change.new,
                    not_written: None,
                })
                .collect(),
        })
        .collect();
    let mode = &section.mode;
    let role = or_dash(section.role_arn.as_deref());
    format!("mode: {mode}, custom role: {role}\n{}", plan(&groups, diff))
}
