//! `ptc templates plan` and `ptc templates apply`: the repository creation templates of the
//! managed prefixes alone, as the sweep reconciles them first.

use std::process::ExitCode;

use ptc_ops::run::RunContext;
use ptc_ops::templates::{self, TemplatesSection};
use serde_json::Value;

use super::{clients, finish_report, load_config, CliError};
use crate::args::{GlobalOptions, TemplatesCommand};
use crate::output::{cell, or_dash, table, with_spinner};

pub async fn run(global: &GlobalOptions, command: &TemplatesCommand) -> Result<ExitCode, CliError> {
    let dry_run = matches!(command, TemplatesCommand::Plan);
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
    let detail = report.details.templates.as_ref().map(human_detail);
    finish_report(global, &report, detail)
}

/// One row per field that differs (or one per template when nothing does).
fn human_detail(section: &TemplatesSection) -> String {
    let mut rows = Vec::new();
    for entry in &section.templates {
        let prefix = entry.prefix.clone();
        let outcome = entry.outcome.to_owned();
        if entry.changes.is_empty() {
            rows.push(vec![
                prefix.clone(),
                outcome.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for change in &entry.changes {
            rows.push(vec![
                prefix.clone(),
                outcome.clone(),
                change.field.to_owned(),
                short(value_text(&change.old)),
                short(value_text(&change.new)),
            ]);
        }
    }
    let mode = &section.mode;
    let role = or_dash(section.role_arn.as_deref());
    let mut text = format!("mode: {mode}, custom role: {role}\n");
    if !rows.is_empty() {
        text.push_str(&table(&["PREFIX", "OUTCOME", "FIELD", "FROM", "TO"], &rows));
    }
    text
}

/// A JSON value as a cell: strings bare, null as `-`.
fn value_text(value: &Value) -> String {
    cell(Some(value))
}

fn short(text: String) -> String {
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}
