//! The weekly usage summary of `harden-repository` (`{"usage": true}`, the input of its
//! schedule): the count of `ptc usage` in the report, one chat message with the totals per
//! prefix, and the `CachedBytes` and `UnusedRepositories` metrics per prefix.

use crate::domain::markdown::code;
use crate::domain::{Check, Finding, Severity};
use crate::error::Error;
use crate::metrics::{Metrics, Unit};
use crate::ports::PortSet;
use crate::run::RunContext;

use super::super::outcome::Tally;
use super::super::{HardenReport, Trigger, FUNCTION};
use super::{count_under, counted_prefixes, tally::BYTES_PER_GB, Request, UsageDetails};

/// Days without a pull after which the summary counts a repository as unused.
pub const SUMMARY_UNUSED_DAYS: u32 = 30;
/// The finding's resource: one summary thread in chat.
pub const SUMMARY_RESOURCE: &str = "cache-usage";

/// Counts what the cache holds and reports it.
pub async fn run<P: PortSet>(
    context: &RunContext<'_, P>,
    dry_run: bool,
) -> Result<(HardenReport, Metrics), Error> {
    let request = Request {
        prefixes: Vec::new(),
        unused_days: SUMMARY_UNUSED_DAYS,
        archived: false,
    };
    let managed = super::super::observe::managed_prefixes(
        context.ports.registry(),
        &context.config.hardening,
    )
    .await?;
    let prefixes = counted_prefixes(managed.as_slice());
    let details = count_under(context, &prefixes, &request, &|_| {}).await?;
    let mut report = HardenReport::new(FUNCTION.as_str(), dry_run);
    let mut metrics = Metrics::new(FUNCTION.as_str());
    Tally::new(dry_run, true).finish(&mut report, &mut metrics);
    for prefix in &details.prefixes {
        let dimensions = [("Prefix", prefix.prefix.as_str())];
        #[allow(clippy::cast_precision_loss)]
        metrics.put(
            "CachedBytes",
            Unit::Bytes,
            (prefix.bytes + prefix.archived_bytes) as f64,
            &dimensions,
        );
        #[allow(clippy::cast_precision_loss)]
        metrics.put(
            "UnusedRepositories",
            Unit::Count,
            prefix.n_unused_repositories as f64,
            &dimensions,
        );
    }
    report.push_finding(summary_finding(&details));
    report.details.trigger = Some(Trigger::UsageSummary {
        unused_days: SUMMARY_UNUSED_DAYS,
    });
    report.details.usage = Some(Box::new(details));
    Ok((report, metrics))
}

#[allow(clippy::cast_precision_loss)]
fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / BYTES_PER_GB)
}

/// One info finding: the totals, then one clause per prefix.
pub fn summary_finding(details: &UsageDetails) -> Finding {
    let total = &details.total;
    let per_prefix: Vec<String> = details
        .prefixes
        .iter()
        .map(|prefix| {
            format!(
                "{} {} repositories, {} images, {}, ${:.2} a month, {} unused",
                code(&prefix.prefix),
                prefix.n_repositories,
                prefix.n_images,
                gib(prefix.bytes + prefix.archived_bytes),
                prefix.monthly_cost_usd,
                prefix.n_unused_repositories
            )
        })
        .collect();
    let mut message = format!(
        "{} repositories, {} images, {} (estimated ${:.2} a month); {} repositories not pulled in {} days. Per prefix: {}",
        total.n_repositories,
        total.n_images,
        gib(total.bytes + total.archived_bytes),
        total.monthly_cost_usd,
        total.n_unused_repositories,
        details.unused_days,
        per_prefix.join("; ")
    );
    if total.n_uncounted_repositories > 0 {
        message.push_str(&format!(
            ". {} repositories could not be counted (see the report)",
            total.n_uncounted_repositories
        ));
    }
    Finding::new(
        Severity::Info,
        Check::CacheUsage,
        SUMMARY_RESOURCE,
        format!(
            "the cache holds {} in {} repositories (${:.2} a month)",
            gib(total.bytes + total.archived_bytes),
            total.n_repositories,
            total.monthly_cost_usd
        ),
        message,
    )
    .with_next_steps([format!(
        "list the unused repositories: `ptc usage --prune-unused {}` (a dry run; `--yes` deletes them, the next pull creates each again)",
        details.unused_days
    )])
}
