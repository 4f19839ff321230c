//! `ptc usage`: what the cache holds per managed prefix, and `--prune-unused` to delete the
//! repositories nobody pulls any more.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ptc_ops::harden_repository::usage::prune::{prune, PruneStatus, Pruned};
use ptc_ops::harden_repository::usage::{self, Measure, PrefixUsage, Progress, UsageDetails};
use ptc_ops::run::RunContext;
use serde::Serialize;

use super::{clients, load_config, CliError, EXIT_CLEAN};
use crate::args::{GlobalOptions, UsageArgs};
use crate::output::{or_dash, rows_table};

/// What `--json` prints: the count, and what pruning did when asked.
#[derive(Serialize)]
struct UsageOutput<'a> {
    #[serde(flatten)]
    usage: &'a UsageDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    pruned: Option<&'a [Pruned]>,
}

pub async fn run(global: &GlobalOptions, arguments: &UsageArgs) -> Result<ExitCode, CliError> {
    let config = load_config(global)?;
    let clients = clients()
        .await
        .with_ecr_pacing(config.hardening.ecr_calls_per_second);
    let ports = clients.ports();
    let context = RunContext::new(&ports, &config);
    let unused_days = arguments.prune_unused.unwrap_or(arguments.unused_days);
    let request = usage::Request {
        prefixes: arguments.prefixes.clone(),
        unused_days,
        archived: arguments.archived,
    };
    let bar = progress_bar(global.json || arguments.csv);
    let on_progress = |step: Progress| match step {
        Progress::Listed(n) => {
            bar.set_length(n);
            bar.set_message("counting images");
        }
        Progress::Counted => bar.inc(1),
    };
    let counted = usage::count(&context, &request, &on_progress).await;
    bar.finish_and_clear();
    let details = counted.map_err(|error| match error {
        usage::UsageError::UnknownPrefix { .. } => CliError::Usage(error.to_string()),
        usage::UsageError::Run(error) => CliError::from(*error),
    })?;

    let pruned = match arguments.prune_unused {
        Some(_) => {
            let measure = Measure {
                now: context.now,
                unused_days,
                price_per_gb_month: details.price_per_gb_month,
                archive_price_per_gb_month: details.archive_price_per_gb_month,
            };
            let prefixes: Vec<String> = details
                .prefixes
                .iter()
                .map(|prefix| prefix.prefix.clone())
                .collect();
            Some(
                prune(
                    &context,
                    &measure,
                    &prefixes,
                    &details.unused_repositories,
                    arguments.yes,
                )
                .await,
            )
        }
        None => None,
    };

    if global.json {
        let output = UsageOutput {
            usage: &details,
            pruned: pruned.as_deref(),
        };
        let text = serde_json::to_string_pretty(&output)
            .map_err(|error| CliError::Run(error.to_string()))?;
        println!("{text}");
    } else if arguments.csv {
        print!("{}", csv(&details));
    } else {
        print!("{}", tables(&details));
        if let Some(pruned) = &pruned {
            print!("\n{}", pruned_lines(pruned, unused_days));
        }
    }
    let failed = pruned
        .iter()
        .flatten()
        .any(|outcome| outcome.status == PruneStatus::Failed);
    Ok(ExitCode::from(if failed {
        super::EXIT_RUN_FAILED
    } else {
        EXIT_CLEAN
    }))
}

/// A bar on stderr once the listing says how many repositories there are; hidden for machine
/// output and when stderr is not a terminal.
fn progress_bar(machine_output: bool) -> ProgressBar {
    if machine_output || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} repositories ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("listing repositories");
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Bytes as people read storage: GiB (the GB ECR bills by), MiB below one.
#[allow(clippy::cast_precision_loss)]
pub fn size(bytes: u64) -> String {
    let gib = bytes as f64 / (1u64 << 30) as f64;
    if gib >= 1.0 {
        format!("{gib:.2} GiB")
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

fn prefix_row(prefix: &PrefixUsage) -> Vec<String> {
    vec![
        prefix.prefix.clone(),
        prefix.n_repositories.to_string(),
        prefix.n_images.to_string(),
        size(prefix.bytes),
        size(prefix.archived_bytes),
        format!("${:.2}", prefix.monthly_cost_usd),
        prefix.n_unused_repositories.to_string(),
        prefix.n_unused_images.to_string(),
        (prefix.n_repositories_of_unknown_use
            + prefix.n_images_without_size
            + prefix.n_images_without_time
            + prefix.n_uncounted_repositories)
            .to_string(),
    ]
}

fn tables(details: &UsageDetails) -> String {
    let mut out = String::new();
    let rows: Vec<Vec<String>> = details
        .prefixes
        .iter()
        .chain(std::iter::once(&details.total))
        .map(prefix_row)
        .collect();
    let unused = format!("UNUSED REPOS ({}d)", details.unused_days);
    if let Some(table) = rows_table(
        &[
            "PREFIX",
            "REPOS",
            "IMAGES",
            "SIZE",
            "ARCHIVED",
            "COST/MONTH",
            &unused,
            "UNUSED IMAGES",
            "UNKNOWN",
        ],
        rows,
    ) {
        out.push_str(&table);
        out.push('\n');
    }
    let largest: Vec<Vec<String>> = details
        .largest
        .iter()
        .map(|repository| {
            vec![
                repository.repository.clone(),
                repository.n_images.to_string(),
                size(repository.bytes.saturating_add(repository.archived_bytes)),
                or_dash(repository.last_used_at.map(|at| at.format("%Y-%m-%d"))),
            ]
        })
        .collect();
    if let Some(table) = rows_table(
        &["LARGEST REPOSITORY", "IMAGES", "SIZE", "LAST USED"],
        largest,
    ) {
        out.push('\n');
        out.push_str(&table);
        out.push('\n');
    }
    let uncounted: Vec<Vec<String>> = details
        .uncounted
        .iter()
        .map(|missing| vec![missing.repository.clone(), missing.reason.clone()])
        .collect();
    if let Some(table) = rows_table(&["NOT COUNTED", "WHY"], uncounted) {
        out.push('\n');
        out.push_str(&table);
        out.push('\n');
    }
    out.push_str(&format!(
        "\nCost at ${} per GB-month (standard) and ${} (archive); `[usage]` in the configuration sets them.\n",
        details.price_per_gb_month, details.archive_price_per_gb_month
    ));
    for note in &details.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

/// One row per prefix and a `*` row for all of them. Prefixes are ECR repository names
/// (lowercase letters, digits, `._-/`): no field needs quoting.
fn csv(details: &UsageDetails) -> String {
    let mut out = String::from(
        "prefix,repositories,images,bytes,archived_bytes,monthly_cost_usd,unused_repositories,unused_images,repositories_of_unknown_use,images_without_size,images_without_time,uncounted_repositories\n",
    );
    for prefix in details
        .prefixes
        .iter()
        .chain(std::iter::once(&details.total))
    {
        out.push_str(&format!(
            "{},{},{},{},{},{:.4},{},{},{},{},{},{}\n",
            prefix.prefix,
            prefix.n_repositories,
            prefix.n_images,
            prefix.bytes,
            prefix.archived_bytes,
            prefix.monthly_cost_usd,
            prefix.n_unused_repositories,
            prefix.n_unused_images,
            prefix.n_repositories_of_unknown_use,
            prefix.n_images_without_size,
            prefix.n_images_without_time,
            prefix.n_uncounted_repositories,
        ));
    }
    out
}

fn pruned_lines(pruned: &[Pruned], days: u32) -> String {
    if pruned.is_empty() {
        return format!("No cache repository went unpulled for {days} days: nothing to prune.\n");
    }
    let mut out = String::new();
    let mut n_would = 0;
    for outcome in pruned {
        let what = format!("{} ({})", outcome.repository, size(outcome.bytes));
        let line = match outcome.status {
            PruneStatus::WouldDelete => {
                n_would += 1;
                format!("would delete {what}")
            }
            PruneStatus::Deleted => format!("deleted {what}"),
            PruneStatus::AlreadyGone => format!("already gone: {}", outcome.repository),
            PruneStatus::Kept => format!("kept {what}: {}", or_dash(outcome.reason.as_deref())),
            PruneStatus::Failed => format!(
                "could not delete {what}: {}",
                or_dash(outcome.reason.as_deref())
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(
        "The next pull of an image of a deleted repository through the cache creates the repository again, from the upstream's current image.\n",
    );
    if n_would > 0 {
        out.push_str(&format!(
            "Dry run: {n_would} repositories would be deleted; `--yes` deletes them.\n"
        ));
    }
    out
}
