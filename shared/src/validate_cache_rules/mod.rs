//! validate-cache-rules: validate every pull-through cache rule and cross-check its secret.
//!
//! Observe (list rules; per rule, `ValidatePullThroughCacheRule` and `DescribeSecret`, with
//! bounded concurrency) → assess ([`assess`], pure) → report; then the consumer checks
//! ([`crate::validate_cache_rules::consumers`]) on the same rules. Nothing is written: the only output is the report,
//! its alerts and its metrics.

pub mod assess;
pub mod consumers;
pub mod events;
pub mod findings;
pub mod permissions;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use tracing::{info, warn};

pub use assess::{
    out_of_time, out_of_time_finding, OutOfTime, RegistryContext, RuleObservation, RuleResult,
    RuleStatus, SecretLookup, ValidationAnswer, RUN_RESOURCE,
};
pub use findings::assess;

use crate::deadline::Deadline;
use crate::domain::{CacheRule, Check, Finding, Report, SecretArn, Severity};
use crate::error::Error;
use crate::metrics::{Metrics, Unit};
use crate::ports::AwsErrorKind;
use crate::ports::{PortSet, Registry, SecretStore};
use crate::run::{Ran, RunContext};

/// Rules validated at once. A registry holds at most 50 rules (adjustable quota) and
/// `ValidatePullThroughCacheRule` logs in to the upstream, so a few at a time is plenty and
/// stays clear of upstream rate limits.
const RULE_CONCURRENCY: usize = 5;
/// What to validate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Rule prefixes; `None` validates every rule (less `rules.skip_prefixes`).
    pub prefixes: Option<Vec<String>>,
}

/// The `validate-cache-rules` report (`schemas/validate-cache-rules-report.schema.json`).
pub type ValidateReport = Report<ValidateDetails>;

/// The sections of the `validate-cache-rules` report beyond the common fields.
#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct ValidateDetails {
    /// Every rule checked, in rule order.
    pub rules: Vec<RuleResult>,
    /// The consumer checks (`[consumers]`), when consumers are configured.
    #[serde(flatten)]
    pub consumers: Option<crate::validate_cache_rules::consumers::ConsumerSections>,
    /// The CloudTrail record that started the run, when one did (a schedule or a direct
    /// invoke leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<events::RulesTrigger>,
}

/// Time kept after the last validation to sort, report, publish the alerts and write metrics.
/// Validations still under way when only this much is left are cut.
pub const FINISH_RESERVE: Duration = Duration::from_secs(2);

/// Validates the rules of the registry (`prefixes` narrows; `rules.skip_prefixes` skips).
/// Only listing the rules can fail the run; every per-rule problem is a finding.
///
/// No validation is started once the deadline is nearer than [`FINISH_RESERVE`] plus the
/// longest validation so far, and the ones under way are cut at [`FINISH_RESERVE`]: the rules
/// left are reported `not-validated` (`out_of_time`), counted, and named in one finding.
pub async fn run<P: PortSet>(
    context: &RunContext<'_, P>,
    request: Request,
) -> Result<Ran<ValidateDetails>, Error> {
    let RunContext { ports, config, .. } = *context;
    let prefixes = request.prefixes.as_deref();
    let rules = ports
        .registry()
        .cache_rules(None)
        .await
        .map_err(|error| Error::aws("cannot list the pull-through cache rules", error))?;
    let mut report = ValidateReport::new(FUNCTION, false);
    let selection = select_rules(rules, prefixes, &config.rules.skip_prefixes);
    for unknown in &selection.unknown_prefixes {
        report.push_finding(Finding::new(
            Severity::Warning,
            Check::RuleValidation,
            unknown,
            format!("no pull-through cache rule has the prefix `{unknown}`"),
            format!(
                "the invocation asked for `{unknown}`; the registry has {}",
                list_prefixes(&selection.existing_prefixes)
            ),
        ));
    }
    Ok(validate_selected(context, selection.in_scope, selection.skipped, report).await)
}

/// The function's name in reports and metrics.
const FUNCTION: &str = "validate-cache-rules";

/// Validates `rules` (already selected; `skipped` were left out by `rules.skip_prefixes`) into
/// `report`, then runs the consumer checks on them.
async fn validate_selected<P: PortSet>(
    context: &RunContext<'_, P>,
    rules: Vec<CacheRule>,
    skipped: usize,
    mut report: ValidateReport,
) -> Ran<ValidateDetails> {
    let RunContext {
        ports,
        config,
        deadline,
        now,
        ..
    } = *context;
    let function = FUNCTION;
    let registry = ports.registry();
    let secret_store = ports.secret_store();
    let context = RegistryContext {
        account_id: None,
        region: ports.region().map(str::to_owned),
    };
    let consumer_rules = rules.clone();
    let observer: Observer<'_, P> = Observer {
        registry,
        secret_store,
        context: &context,
        now,
    };
    let mut results = observer.validate_all(rules, deadline).await;
    results.sort_by(|left, right| left.prefix.cmp(&right.prefix));
    let out_of_time_finding = out_of_time_finding(&results, context.region.as_deref());

    let mut metrics = Metrics::new(function);
    let mut count = |name: &str, value: usize| report.count(name, value as u64);
    count("rules_checked", results.len());
    count("rules_skipped", skipped);
    count(
        "rules_valid",
        results
            .iter()
            .filter(|result| result.status == RuleStatus::Valid)
            .count(),
    );
    count(
        "rules_invalid",
        results.iter().filter(|result| is_broken(result)).count(),
    );
    count(
        "rules_not_validated",
        results
            .iter()
            .filter(|result| result.status == RuleStatus::NotValidated)
            .count(),
    );
    count(
        "rules_out_of_time",
        results
            .iter()
            .filter(|result| result.out_of_time.is_some())
            .count(),
    );
    count(
        "rules_anonymous",
        results
            .iter()
            .filter(|result| result.status == RuleStatus::NothingToValidate)
            .count(),
    );
    metrics.count("RulesChecked", results.len() as u64);
    metrics.count(
        "RulesInvalid",
        results.iter().filter(|result| is_broken(result)).count() as u64,
    );
    for result in &results {
        // One 0/1 series per rule with a verdict, so an alarm can name the broken rule.
        if matches!(result.status, RuleStatus::Valid | RuleStatus::Invalid)
            || result.secret_problems > 0
        {
            let healthy = if is_broken(result) { 0.0 } else { 1.0 };
            metrics.put(
                "RuleValid",
                Unit::None,
                healthy,
                &[("Prefix", &result.prefix)],
            );
        }
        for finding in &result.findings {
            report.push_finding(finding.clone());
        }
    }
    if let Some(finding) = out_of_time_finding {
        report.push_finding(finding);
    }
    report.details.rules = results;
    check_consumers(
        ports,
        config,
        deadline,
        &consumer_rules,
        &mut report,
        &mut metrics,
    )
    .await;
    Ran { report, metrics }
}

/// Whether each consumer's first pull through `rules` would work (`[consumers]`), into the
/// report: one more ECR call, skipped when the rules used up the time kept for the report.
async fn check_consumers(
    ports: &impl PortSet,
    config: &crate::config::Config,
    deadline: Deadline,
    consumer_rules: &[CacheRule],
    report: &mut ValidateReport,
    metrics: &mut Metrics,
) {
    let has_consumers = !config.consumers.is_empty();
    if has_consumers && deadline.is_within(FINISH_RESERVE) {
        warn!("deadline near: the consumer checks are skipped this run");
    } else if has_consumers {
        // The consumer checks make IAM calls per principal and prefix: they are cut at the time
        // kept for the report, so the run still reports what the rules found.
        let checking =
            crate::validate_cache_rules::consumers::check(ports, config, consumer_rules, None);
        let finished = match deadline.remaining() {
            Some(left) => tokio::time::timeout(left.saturating_sub(FINISH_RESERVE), checking)
                .await
                .ok(),
            None => Some(checking.await),
        };
        match finished {
            Some(consumers) => {
                metrics.count(
                    "ConsumerPullsFailing",
                    consumers.count(crate::validate_cache_rules::consumers::Status::Missing) as u64,
                );
                report.details.consumers = consumers.write_into(report);
            }
            None => {
                warn!("deadline near: the consumer checks did not finish this run");
                report.push_finding(
                    Finding::new(
                        Severity::Warning,
                        Check::ConsumerAccess,
                        "consumer-checks",
                        "the consumer checks did not finish before the deadline",
                        "whether consumers can make a first pull is unknown this run: the registry policy, IAM simulations and custom roles were still being read when the time kept for the report came",
                    )
                    .with_next_step("raise the function's timeout, or list fewer principals or prefixes per consumer (one IAM simulation per principal and prefix); `ptc doctor` runs the same checks without a deadline"),
                );
            }
        }
    }
}

/// What validating one rule needs, shared by every rule of the run.
struct Observer<'run, P: PortSet> {
    registry: &'run P::Registry,
    secret_store: &'run P::Secrets,
    context: &'run RegistryContext,
    now: DateTime<Utc>,
}

impl<P: PortSet> Observer<'_, P> {
    /// Validates `rules`, [`RULE_CONCURRENCY`] at a time, within the deadline (see [`run`]).
    async fn validate_all(&self, rules: Vec<CacheRule>, deadline: Deadline) -> Vec<RuleResult> {
        let n_rules = rules.len();
        let mut waiting: VecDeque<CacheRule> = rules.into();
        let mut results = Vec::with_capacity(n_rules);
        // Validations under way are cut here, so the run still ends with a report and alerts.
        let hard_stop = deadline
            .remaining()
            .map(|left| tokio::time::Instant::now() + left.saturating_sub(FINISH_RESERVE));
        let mut in_flight = FuturesUnordered::new();
        let mut longest = Duration::ZERO;
        loop {
            while in_flight.len() < RULE_CONCURRENCY && !waiting.is_empty() {
                if deadline.is_within(FINISH_RESERVE + longest) {
                    warn!(
                        remaining_ms = deadline.remaining().unwrap_or_default().as_millis() as u64,
                        longest_validation_ms = longest.as_millis() as u64,
                        n_rules_left = waiting.len(),
                        "deadline near: no more rule validations are started"
                    );
                    results.extend(
                        waiting
                            .drain(..)
                            .map(|rule| out_of_time(&rule, OutOfTime::NotStarted, 0)),
                    );
                    break;
                }
                let Some(rule) = waiting.pop_front() else {
                    break;
                };
                in_flight.push(self.bounded(rule, hard_stop));
            }
            let Some((result, elapsed)) = in_flight.next().await else {
                break;
            };
            longest = longest.max(elapsed);
            results.push(result);
        }
        results
    }

    /// One rule, cut at `hard_stop`.
    async fn bounded(
        &self,
        rule: CacheRule,
        hard_stop: Option<tokio::time::Instant>,
    ) -> (RuleResult, Duration) {
        let started = Instant::now();
        let result = match hard_stop {
            None => self.validate(rule).await,
            Some(at) => {
                let cut = rule.clone();
                match tokio::time::timeout_at(at, self.validate(rule)).await {
                    Ok(result) => result,
                    Err(_) => {
                        let elapsed_ms = started.elapsed().as_millis() as u64;
                        warn!(
                            prefix = %cut.prefix,
                            duration_ms = elapsed_ms,
                            "rule validation cut at the deadline"
                        );
                        out_of_time(&cut, OutOfTime::Cut, elapsed_ms)
                    }
                }
            }
        };
        (result, started.elapsed())
    }

    async fn validate(&self, rule: CacheRule) -> RuleResult {
        let observation = observe(self.registry, self.secret_store, rule, self.context).await;
        assess(&observation, self.context, self.now)
    }
}

/// Broken: ECR said invalid, or the secret it needs is missing, misplaced or being deleted.
fn is_broken(result: &RuleResult) -> bool {
    result.status == RuleStatus::Invalid
        || result.findings.iter().any(|finding| {
            finding.check == Check::RuleSecret && finding.severity == Severity::Critical
        })
}

struct RuleSelection {
    in_scope: Vec<CacheRule>,
    skipped: usize,
    unknown_prefixes: Vec<String>,
    existing_prefixes: Vec<String>,
}

/// Narrows locally rather than with `ecrRepositoryPrefixes`: ECR fails the whole call when one
/// asked-for prefix does not exist, and an unknown prefix deserves a finding, not an outage.
fn select_rules(
    rules: Vec<CacheRule>,
    wanted: Option<&[String]>,
    skip: &[String],
) -> RuleSelection {
    let existing_prefixes: Vec<String> = rules.iter().map(|rule| rule.prefix.clone()).collect();
    let unknown_prefixes = wanted
        .unwrap_or_default()
        .iter()
        .filter(|prefix| !existing_prefixes.contains(prefix))
        .cloned()
        .collect();
    let wanted_rules: Vec<CacheRule> = rules
        .into_iter()
        .filter(|rule| wanted.is_none_or(|wanted| wanted.contains(&rule.prefix)))
        .collect();
    let n_wanted = wanted_rules.len();
    let in_scope: Vec<CacheRule> = wanted_rules
        .into_iter()
        .filter(|rule| !skip.contains(&rule.prefix))
        .collect();
    RuleSelection {
        skipped: n_wanted - in_scope.len(),
        in_scope,
        unknown_prefixes,
        existing_prefixes,
    }
}

fn list_prefixes(prefixes: &[String]) -> String {
    if prefixes.is_empty() {
        "no rules at all".to_owned()
    } else {
        prefixes
            .iter()
            .map(|prefix| format!("`{prefix}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Asks ECR and Secrets Manager about one rule, both at once.
async fn observe(
    registry: &(impl Registry + ?Sized),
    secret_store: &(impl SecretStore + ?Sized),
    rule: CacheRule,
    context: &RegistryContext,
) -> RuleObservation {
    let started = Instant::now();
    let validation = async {
        if !rule.authenticates() {
            return ValidationAnswer::NotAsked;
        }
        match registry.validate_cache_rule(&rule.prefix).await {
            Ok(answer) => ValidationAnswer::Answered {
                is_valid: answer.is_valid,
                failure: answer.failure,
            },
            Err(error) => ValidationAnswer::CallFailed {
                access_denied: error.kind == AwsErrorKind::AccessDenied,
                error: error.to_string(),
            },
        }
    };
    let secret = async {
        let Some(arn) = rule.credential_arn.as_deref() else {
            return SecretLookup::NotApplicable;
        };
        let readable_here = SecretArn::parse(arn).is_some_and(|parsed| {
            rule.registry_id
                .as_deref()
                .is_none_or(|account| account == parsed.account_id)
                && context
                    .region
                    .as_deref()
                    .is_none_or(|region| region == parsed.region)
        });
        if !readable_here {
            return SecretLookup::NotLookedUp;
        }
        match secret_store.describe(arn).await {
            Ok(Some(secret)) => SecretLookup::Found(secret),
            Ok(None) => SecretLookup::Missing,
            Err(error) => SecretLookup::CallFailed {
                error: error.to_string(),
            },
        }
    };
    let (validation, secret) = tokio::join!(validation, secret);
    let duration_ms = started.elapsed().as_millis() as u64;
    info!(
        prefix = %rule.prefix,
        upstream = %rule.upstream,
        validation = ?validation,
        secret_found = matches!(secret, SecretLookup::Found(_)),
        duration_ms,
        "rule observed"
    );
    RuleObservation {
        rule,
        validation,
        secret,
        duration_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str) -> CacheRule {
        CacheRule::new(prefix, "quay.io")
    }

    fn check(
        wanted: Option<&[&str]>,
        skip: &[&str],
        in_scope: &[&str],
        skipped: usize,
        unknown: &[&str],
    ) {
        let rules = vec![rule("docker-hub"), rule("ghcr"), rule("k8s")];
        let wanted: Option<Vec<String>> =
            wanted.map(|wanted| wanted.iter().map(|p| (*p).to_owned()).collect());
        let skip: Vec<String> = skip.iter().map(|p| (*p).to_owned()).collect();
        let selection = select_rules(rules, wanted.as_deref(), &skip);
        let got: Vec<&str> = selection
            .in_scope
            .iter()
            .map(|rule| rule.prefix.as_str())
            .collect();
        assert_eq!(got, in_scope);
        assert_eq!(selection.skipped, skipped);
        assert_eq!(selection.unknown_prefixes, unknown);
    }

    #[test]
    fn selects_rules() {
        check(None, &[], &["docker-hub", "ghcr", "k8s"], 0, &[]);
        check(None, &["k8s"], &["docker-hub", "ghcr"], 1, &[]);
        check(Some(&["ghcr"]), &[], &["ghcr"], 0, &[]);
        check(Some(&["ghcr", "quay"]), &["ghcr"], &[], 1, &["quay"]);
    }
}
