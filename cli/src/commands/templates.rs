//! `ptc templates plan` and `ptc templates apply`: the repository creation templates of the
//! managed prefixes alone, as the sweep reconciles them first.

use std::process::ExitCode;

use ptc_ops::templates;
use serde_json::Value;

use super::{clients, finish_report, load_config, CliError};
use crate::args::{GlobalOptions, TemplatesCommand};
use crate::output::{cell, table, with_spinner};

pub async fn run(global: &GlobalOptions, command: &TemplatesCommand) -> Result<ExitCode, CliError> {
    let dry_run = matches!(command, TemplatesCommand::Plan);
    let config = load_config(global)?;
    let clients = clients()
        .await
        .with_ecr_pacing(config.hardening.ecr_calls_per_second);
    let report = with_spinner(
        "reconciling repository creation templates",
        global.json,
        templates::run(&clients, &config, dry_run),
    )
    .await?;
    let detail = report.details.get("templates").map(human_detail);
    finish_report(global, &report, detail)
}

/// One row per field that differs (or one per template when nothing does).
fn human_detail(detail: &Value) -> String {
    let mut rows = Vec::new();
    for entry in detail["templates"].as_array().into_iter().flatten() {
        let prefix = cell(entry.get("prefix"));
        let outcome = cell(entry.get("outcome"));
        let changes = entry["changes"].as_array().cloned().unwrap_or_default();
        if changes.is_empty() {
            rows.push(vec![
                prefix.clone(),
                outcome.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for change in changes {
            rows.push(vec![
                prefix.clone(),
                outcome.clone(),
                cell(change.get("field")),
                short(cell(change.get("old"))),
                short(cell(change.get("new"))),
            ]);
        }
    }
    let mode = cell(detail.get("mode"));
    let role = cell(detail.get("role_arn"));
    let mut text = format!("mode: {mode}, custom role: {role}\n");
    if !rows.is_empty() {
        text.push_str(&table(&["PREFIX", "OUTCOME", "FIELD", "FROM", "TO"], &rows));
    }
    text
}

fn short(text: String) -> String {
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}
