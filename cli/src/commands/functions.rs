//! The four functions' library code, run from a laptop or a CI job: `ptc rules validate`,
//! `ptc credentials check`, `ptc harden`, `ptc prewarm`. No deadline and no alerts: the
//! operator reads the output, and the exit code carries the verdict.

use std::process::ExitCode;

use ptc_ops::check_credentials;
use ptc_ops::events::{HardenInvocation, HardenRequest, HardenTarget};
use ptc_ops::run::RunContext;
use ptc_ops::{harden_repository, prewarm_images, validate_cache_rules};

use super::{clients, finish_report, load_config, CliError};
use crate::args::{
    CredentialsCommand, GlobalOptions, HardenArgs, PrewarmArgs, RefreshArgs, RulesCommand,
};
use crate::output::{joined, or_dash, plan, rows_table, with_spinner, PlanGroup, ShownChange};

pub async fn rules(global: &GlobalOptions, command: &RulesCommand) -> Result<ExitCode, CliError> {
    let RulesCommand::Validate { prefixes } = command;
    let config = load_config(global)?;
    let clients = clients().await;
    let request = validate_cache_rules::Request {
        prefixes: (!prefixes.is_empty()).then(|| prefixes.clone()),
    };
    let report = with_spinner(
        "validating pull-through cache rules",
        global.json,
        validate_cache_rules::run(&RunContext::new(&clients.ports(), &config), request),
    )
    .await?
    .report;
    let detail = rules_table(&report.details);
    finish_report(global, &report, detail)
}

pub async fn credentials(
    global: &GlobalOptions,
    command: &CredentialsCommand,
) -> Result<ExitCode, CliError> {
    let CredentialsCommand::Check { secrets } = command;
    let config = load_config(global)?;
    let clients = clients().await;
    let request = check_credentials::Request {
        secrets: (!secrets.is_empty()).then(|| secrets.clone()),
    };
    let report = with_spinner(
        "checking credential secrets",
        global.json,
        check_credentials::run(&RunContext::new(&clients.ports(), &config), request),
    )
    .await?
    .report;
    let detail = secrets_table(&report.details);
    finish_report(global, &report, detail)
}

pub async fn harden(global: &GlobalOptions, arguments: &HardenArgs) -> Result<ExitCode, CliError> {
    let config = load_config(global)?;
    let clients = clients()
        .await
        .with_ecr_pacing(config.hardening.ecr_calls_per_second);
    let target = if arguments.all {
        HardenTarget::Sweep
    } else {
        HardenTarget::Repositories(arguments.repositories.clone())
    };
    let request = harden_repository::Request {
        invocation: HardenInvocation::Direct(HardenRequest {
            target,
            dry_run: arguments.dry_run.then_some(true),
            cursor: None,
        }),
        can_hand_off: false,
    };
    let report = with_spinner(
        "hardening repositories",
        global.json,
        harden_repository::run(&RunContext::new(&clients.ports(), &config), request),
    )
    .await?
    .report;
    let detail = changes_plan(&report.details, arguments.diff);
    finish_report(global, &report, detail)
}

pub async fn prewarm(
    global: &GlobalOptions,
    arguments: &PrewarmArgs,
) -> Result<ExitCode, CliError> {
    let config = load_config(global)?;
    let mut images = arguments.images.clone();
    // Lists, manifests, values files, Dockerfiles…: the unique references they use.
    images.extend(super::manifests::references(
        &arguments.files,
        arguments.limits,
        &arguments.build.scan_options(),
    )?);
    let request = prewarm_images::Request {
        images: (!images.is_empty()).then_some(images),
        dry_run: arguments.dry_run,
        refresh: arguments.refresh,
        force_refresh: false,
    };
    let clients = clients().await;
    let report = with_spinner(
        "pulling images through the cache",
        global.json,
        prewarm_images::run(&RunContext::new(&clients.ports(), &config), request),
    )
    .await?
    .report;
    let detail = images_table(&report.details);
    finish_report(global, &report, detail)
}

/// `ptc refresh`: every named image must be a tag in a repository under a managed prefix, or
/// nothing is done (exit 2); then each cached tag is deleted and pulled again.
pub async fn refresh(
    global: &GlobalOptions,
    arguments: &RefreshArgs,
) -> Result<ExitCode, CliError> {
    use ptc_ops::domain::freshness::refusal_to_refresh;
    use ptc_ops::ports::PortSet;
    use ptc_ops::prewarm_images::Action;

    let config = load_config(global)?;
    let clients = clients().await;
    let ports = clients.ports();
    let rules = ports.registry().cache_rules(None).await.map_err(|error| {
        CliError::Run(format!("cannot list the pull-through cache rules: {error}"))
    })?;
    let planned = prewarm_images::plan(&arguments.images, &rules, ports.region());
    let refused: Vec<String> = planned
        .iter()
        .filter_map(|image| {
            let why = match (&image.action, &image.target) {
                (Action::Skip(reason), _) => reason.describe(),
                (Action::Warm, Some(target)) => refusal_to_refresh(
                    &target.rule_prefix,
                    &target.repository,
                    target.digest.is_some(),
                    config.hardening.prefixes.as_deref(),
                )?,
                (Action::Warm, None) => "no cache repository".to_owned(),
            };
            Some(format!("`{}`: {why}", image.input.escape_debug()))
        })
        .collect();
    if !refused.is_empty() {
        return Err(CliError::Usage(format!(
            "only tags in the managed cache can be refreshed; nothing was changed:\n{}",
            refused.join("\n")
        )));
    }
    let request = prewarm_images::Request {
        images: Some(arguments.images.clone()),
        dry_run: arguments.dry_run,
        refresh: None,
        force_refresh: true,
    };
    let report = with_spinner(
        "refreshing cached tags",
        global.json,
        prewarm_images::run(&RunContext::new(&ports, &config), request),
    )
    .await?
    .report;
    let detail = refresh_table(&report.details);
    finish_report(global, &report, detail)
}

/// One line per image refreshed: the digest before, the upstream's, the digest now.
fn refresh_table(details: &prewarm_images::PrewarmDetails) -> Option<String> {
    let rows = details
        .images
        .iter()
        .map(|image| {
            vec![
                image.input.clone(),
                image.status.as_str().to_owned(),
                or_dash(image.previous_digest.as_deref().or(image.digest.as_deref())),
                or_dash(image.upstream_digest.as_deref()),
                or_dash(image.previous_digest.as_ref().and(image.digest.as_deref())),
                or_dash(
                    image
                        .error
                        .as_deref()
                        .or(image.upstream_check.as_deref())
                        .or(image.note.as_deref()),
                ),
            ]
        })
        .collect();
    rows_table(
        &["IMAGE", "STATUS", "CACHED", "UPSTREAM", "NOW", "NOTE"],
        rows,
    )
}

/// One line per credential secret checked.
fn secrets_table(details: &check_credentials::CredentialsDetails) -> Option<String> {
    let rows = details
        .secrets
        .iter()
        .map(|(name, secret)| {
            vec![
                name.clone(),
                joined(&secret.rules),
                or_dash(secret.expires_at.as_deref()),
                or_dash(
                    secret
                        .expiry_source
                        .map(check_credentials::ExpirySource::as_str),
                ),
                or_dash(secret.days_left),
                or_dash(secret.age_days),
            ]
        })
        .collect();
    rows_table(
        &[
            "SECRET",
            "RULES",
            "EXPIRES",
            "SOURCE",
            "DAYS LEFT",
            "AGE (DAYS)",
        ],
        rows,
    )
}

/// One line per image requested.
fn images_table(details: &prewarm_images::PrewarmDetails) -> Option<String> {
    let rows = details
        .images
        .iter()
        .map(|image| {
            vec![
                image.input.clone(),
                image.status.as_str().to_owned(),
                or_dash(image.cache_uri.as_deref()),
                or_dash(image.error.as_deref()),
            ]
        })
        .collect();
    rows_table(&["IMAGE", "STATUS", "CACHE URI", "ERROR"], rows)
}

/// One line per rule validated.
fn rules_table(details: &validate_cache_rules::ValidateDetails) -> Option<String> {
    let rows = details
        .rules
        .iter()
        .map(|rule| {
            vec![
                rule.prefix.clone(),
                rule.upstream_registry_url.clone(),
                rule.upstream.as_str().to_owned(),
                or_dash(rule.credential_secret.as_deref()),
                rule.status.as_str().to_owned(),
                or_dash(rule.failure.as_deref()),
            ]
        })
        .collect();
    rows_table(
        &["PREFIX", "UPSTREAM", "KIND", "SECRET", "STATUS", "FAILURE"],
        rows,
    )
}

/// Per repository, one line per setting that differed (and with `--diff`, the values in full);
/// a change that was meant to be written and was not says why.
fn changes_plan(details: &harden_repository::HardenDetails, diff: bool) -> Option<String> {
    let mut groups: Vec<PlanGroup<'_>> = Vec::new();
    for change in &details.changes {
        let shown = ShownChange {
            setting: &change.setting,
            old: &change.old,
            new: &change.new,
            not_written: change.error.as_deref().or(change.not_attempted.as_deref()),
        };
        match groups
            .iter_mut()
            .find(|group| group.subject == change.repository)
        {
            Some(group) => group.changes.push(shown),
            None => groups.push(PlanGroup {
                subject: change.repository.clone(),
                status: None,
                changes: vec![shown],
            }),
        }
    }
    (!groups.is_empty()).then(|| plan(&groups, diff))
}
