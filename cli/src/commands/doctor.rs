//! `ptc doctor`: will the first pull of a new image through each rule work for each consumer
//! (`[consumers]`, or one `--principal`)? Prints the matrix consumers × prefixes; exits 1 when
//! some first pull would fail.

use std::process::ExitCode;

use ptc_ops::config::Consumer;
use ptc_ops::domain::policy_eval::Caller;
use ptc_ops::domain::Report;
use ptc_ops::validate_cache_rules::consumers::{
    self, Assessment, Cell, CheckResult, ConsumerSections, Status,
};

use super::{clients, load_config, CliError, EXIT_CLEAN, EXIT_FINDINGS};
use crate::args::{DoctorArgs, GlobalOptions};
use crate::output::{self, table, with_spinner, Style};

pub async fn run(global: &GlobalOptions, arguments: &DoctorArgs) -> Result<ExitCode, CliError> {
    let config = load_config(global)?;
    let only: Option<Vec<Consumer>> = match &arguments.principal {
        None => None,
        Some(text) => {
            let caller = Caller::parse(text).map_err(|expected| {
                CliError::Usage(format!("`--principal`: {expected}, found {text:?}"))
            })?;
            // A configured consumer keeps its prefixes; another reaches every rule.
            let prefixes = config
                .consumers
                .consumers
                .iter()
                .find(|consumer| consumer.caller == caller)
                .and_then(|consumer| consumer.prefixes.clone());
            Some(vec![Consumer { caller, prefixes }])
        }
    };
    if only.is_none() && config.consumers.is_empty() {
        return Err(CliError::Usage(
            "no consumers: list them under `[consumers]` (`accounts`, `principals`) or give `--principal`".to_owned(),
        ));
    }
    let clients = clients()
        .await
        .with_ecr_pacing(config.hardening.ecr_calls_per_second);
    let rules = clients
        .registry()
        .cache_rules(None)
        .await
        .map_err(|error| {
            CliError::Run(format!("cannot list the pull-through cache rules: {error}"))
        })?;
    let rules: Vec<_> = rules
        .into_iter()
        .filter(|rule| !config.rules.skip_prefixes.contains(&rule.prefix))
        .collect();
    let assessment = with_spinner(
        "checking the consumers' first pulls",
        global.json,
        consumers::check(&clients.ports(), &config, &rules, only.as_deref()),
    )
    .await;
    let failing = assessment.any_missing();
    let detail = (!global.json).then(|| human_detail(&assessment, Style::for_stdout()));
    let mut report: Report<Option<ConsumerSections>> = Report::new("doctor", false);
    report.count("rules", rules.len() as u64);
    report.details = assessment.write_into(&mut report);
    if global.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|error| CliError::Run(error.to_string()))?;
        println!("{text}");
    } else {
        if let Some(detail) = detail {
            println!("{detail}");
        }
        print!("{}", output::findings(&report, Style::for_stdout()));
        print!("\n{}", output::summary(&report));
    }
    Ok(ExitCode::from(if failing {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }))
}

fn paint(status: Status, style: Style) -> String {
    match status {
        Status::Ok => style.good("ok"),
        Status::Missing => style.bad("missing"),
        Status::Unknown => style.dim("unknown"),
    }
}

/// The matrix, then what each answer other than `ok` rests on.
fn human_detail(assessment: &Assessment, style: Style) -> String {
    let mut prefixes: Vec<&str> = assessment
        .cells
        .iter()
        .map(|cell| cell.prefix.as_str())
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    let mut consumers: Vec<&str> = Vec::new();
    for cell in &assessment.cells {
        if !consumers.contains(&cell.consumer.as_str()) {
            consumers.push(&cell.consumer);
        }
    }
    if consumers.is_empty() {
        return "no rule to check".to_owned();
    }
    let rows: Vec<Vec<String>> = consumers
        .iter()
        .map(|consumer| {
            let mut row = vec![(*consumer).to_owned()];
            for prefix in &prefixes {
                let found = assessment
                    .cells
                    .iter()
                    .find(|cell| cell.consumer == *consumer && cell.prefix == *prefix);
                row.push(found.map_or_else(|| "-".to_owned(), |cell| paint(cell.status, style)));
            }
            row
        })
        .collect();
    let mut headers = vec!["CONSUMER"];
    headers.extend(prefixes.iter().copied());
    let mut text = table(&headers, &rows);
    for cell in assessment
        .cells
        .iter()
        .filter(|cell| cell.status != Status::Ok)
    {
        text.push_str(&format!("\n{} through `{}`:\n", cell.consumer, cell.prefix));
        text.push_str(&explain(cell));
    }
    for role in &assessment.upstream_roles {
        text.push_str(&format!(
            "\ncustom role `{}` of rule `{}`: {}\n",
            role.role,
            role.rule,
            paint(role.status, style)
        ));
        for (name, check) in [("trust", &role.trust), ("permissions", &role.permissions)] {
            explain_check(name, check, "not allowed", &mut text);
        }
    }
    text.push_str(
        "\nIAM policies are simulated for the roles and users of the registry's account; those of other accounts cannot be read: they must allow `ecr:GetAuthorizationToken` and the pull actions\n",
    );
    text
}

/// One line per grant `check` lacks (`missing`: how to say it is absent), then why it is not
/// known.
fn explain_check(name: &str, check: &CheckResult, missing: &str, text: &mut String) {
    for grant in &check.missing {
        match &grant.denied_by {
            Some(statement) => text.push_str(&format!(
                "  {name}: `{}` on `{}` denied by {statement}\n",
                grant.action, grant.resource
            )),
            None => text.push_str(&format!(
                "  {name}: `{}` on `{}` {missing}\n",
                grant.action, grant.resource
            )),
        }
    }
    for why in &check.why {
        text.push_str(&format!("  {name}: {why}\n"));
    }
}

fn explain(cell: &Cell) -> String {
    let mut text = String::new();
    for (name, check) in [
        ("registry policy", &cell.registry_policy),
        ("repository policy", &cell.repository_policy),
        ("kms", &cell.kms),
        ("identity", &cell.identity),
    ] {
        if check.status == Status::Ok || (name == "identity" && !cell.simulated) {
            continue;
        }
        explain_check(name, check, "not granted", &mut text);
    }
    text
}
