//! validate-cache-rules on a CloudTrail record instead of its schedule: a rule created, updated
//! or deleted, the registry permissions policy put or deleted.
//!
//! - A deleted rule is one critical finding at once, naming the prefix, the upstream it pulled
//!   from (the deletion record's `responseElements` is the last place that says it), the caller,
//!   and how many cached repositories are left without a rule. Nothing is validated.
//! - A created or updated rule is validated alone (`DescribePullThroughCacheRules` narrowed to
//!   its prefix, one `ValidatePullThroughCacheRule`, its secret's `DescribeSecret`), then the
//!   consumer checks of that rule.
//! - A registry policy change runs the consumer checks of every rule at once; a change that
//!   breaks a consumer's first pull is their critical finding, with the statement to restore.
//!
//! Alert repeats are the state table's (`alerts.repeat_after_minutes`): a duplicate delivery of
//! the record, or the schedule finding the same breakage, does not alert twice.

use serde::Serialize;
use tracing::{info, warn};

use super::{check_consumers, validate_selected, Ran, ValidateDetails, ValidateReport, FUNCTION};
use crate::domain::markdown::code;
use crate::domain::{Check, Finding, Severity};
use crate::error::Error;
use crate::events::{CallRecord, RegistryPolicyChanged, RuleChanged};
use crate::metrics::Metrics;
use crate::ports::{PortSet, Registry, MAX_PAGE_SIZE};
use crate::remedies::{create_rule_command, lookup_event_command};
use crate::run::RunContext;

/// ECR's answer when a narrowed `DescribePullThroughCacheRules` names a prefix without a rule.
const RULE_NOT_FOUND: &str = "PullThroughCacheRuleNotFoundException";

/// What started an event-driven run, in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RulesTrigger {
    /// A record the function accepts but has nothing to do for; no AWS call was made.
    Ignored { reason: String },
    /// A pull-through cache rule was created, updated or deleted.
    RuleChanged {
        call: String,
        prefix: String,
        upstream_registry_url: Option<String>,
        changed_by: String,
        event_time: Option<String>,
        event_id: Option<String>,
        /// Cached repositories under the prefix when the rule is deleted (`None`: not counted).
        #[serde(skip_serializing_if = "Option::is_none")]
        repositories_left: Option<u64>,
        /// Why nothing was done.
        #[serde(skip_serializing_if = "Option::is_none")]
        acknowledged: Option<String>,
    },
    /// The registry permissions policy was put or deleted.
    RegistryPolicyChanged {
        call: String,
        changed_by: String,
        event_time: Option<String>,
        event_id: Option<String>,
        /// Why nothing was done.
        #[serde(skip_serializing_if = "Option::is_none")]
        acknowledged: Option<String>,
    },
}

/// A record acknowledged without work: the report says why, and no AWS call is made.
pub fn acknowledged(reason: &str) -> Ran<ValidateDetails> {
    info!(reason = %reason, "event ignored");
    let mut report = ValidateReport::new(FUNCTION, false);
    report.count("rules_checked", 0);
    report.details.trigger = Some(RulesTrigger::Ignored {
        reason: reason.to_owned(),
    });
    Ran {
        report,
        metrics: Metrics::new(FUNCTION),
    }
}

fn rule_trigger(changed: &RuleChanged) -> RulesTrigger {
    RulesTrigger::RuleChanged {
        call: changed.call.as_str().to_owned(),
        prefix: changed.prefix.clone(),
        upstream_registry_url: changed.upstream_registry_url.clone(),
        changed_by: changed.record.caller.principal().to_owned(),
        event_time: changed.record.event_time.clone(),
        event_id: changed.record.event_id.clone(),
        repositories_left: None,
        acknowledged: None,
    }
}

/// A rule was created, updated or deleted.
pub async fn on_rule_changed<P: PortSet>(
    context: &RunContext<'_, P>,
    changed: &RuleChanged,
) -> Result<Ran<ValidateDetails>, Error> {
    let prefix = changed.prefix.as_str();
    let mut trigger = rule_trigger(changed);
    let set_acknowledged = |trigger: &mut RulesTrigger, why: String| {
        if let RulesTrigger::RuleChanged { acknowledged, .. } = trigger {
            *acknowledged = Some(why);
        }
    };
    if context
        .config
        .rules
        .skip_prefixes
        .iter()
        .any(|skip| skip == prefix)
    {
        let why = format!("`{prefix}` is in `rules.skip_prefixes`: this function leaves it alone");
        info!(prefix, call = changed.call.as_str(), reason = %why, "rule change acknowledged");
        let mut ran = acknowledged(&why);
        set_acknowledged(&mut trigger, why);
        ran.report.details.trigger = Some(trigger);
        return Ok(ran);
    }
    let registry = context.ports.registry();
    // The rule as it is now: a deletion followed by a re-creation (an IaC replacement) leaves a
    // rule to validate, not one to mourn; an update that a deletion followed leaves nothing.
    let wanted = [prefix.to_owned()];
    let current = match registry.cache_rules(Some(&wanted)).await {
        Ok(rules) => Some(rules),
        Err(error) if error.code.as_deref() == Some(RULE_NOT_FOUND) => Some(Vec::new()),
        Err(error) if changed.is_deletion() => {
            // The record is enough to alert on: the rule's absence is only confirmed.
            warn!(prefix, error = %error, "the rule could not be looked up after its deletion");
            None
        }
        Err(error) => {
            return Err(Error::aws(
                "cannot describe the pull-through cache rule",
                error,
            ))
        }
    };
    match current {
        Some(rules) if !rules.is_empty() => {
            info!(
                prefix,
                call = changed.call.as_str(),
                "rule changed; validating it alone"
            );
            let report = ValidateReport::new(FUNCTION, false);
            let mut ran = validate_selected(context, rules, 0, report).await;
            if changed.is_deletion() {
                set_acknowledged(
                    &mut trigger,
                    format!(
                        "a rule with the prefix `{prefix}` exists again: it was validated instead"
                    ),
                );
            }
            ran.report.details.trigger = Some(trigger);
            Ok(ran)
        }
        _ if changed.is_deletion() => Ok(deleted(context, registry, changed, trigger).await),
        _ => {
            let why = format!(
                "no rule has the prefix `{prefix}` any more: it was deleted after this `{}`",
                changed.call.as_str()
            );
            info!(prefix, reason = %why, "rule change acknowledged");
            let mut ran = acknowledged(&why);
            set_acknowledged(&mut trigger, why);
            ran.report.details.trigger = Some(trigger);
            Ok(ran)
        }
    }
}

/// The one critical finding of a deleted rule, with the cached repositories it leaves behind.
async fn deleted<P: PortSet>(
    context: &RunContext<'_, P>,
    registry: &P::Registry,
    changed: &RuleChanged,
    mut trigger: RulesTrigger,
) -> Ran<ValidateDetails> {
    let prefix = changed.prefix.as_str();
    let left = cached_repositories_under(registry, prefix).await;
    let mut report = ValidateReport::new(FUNCTION, false);
    let mut metrics = Metrics::new(FUNCTION);
    let finding = deleted_finding(changed, left.as_ref().ok().copied(), context.ports.region());
    warn!(
        prefix,
        upstream = changed
            .upstream_registry_url
            .as_deref()
            .unwrap_or("unknown"),
        caller = changed.record.caller.principal(),
        repositories_left = left.as_ref().ok().copied(),
        count_error = left.as_ref().err().map(String::as_str),
        "pull-through cache rule deleted"
    );
    report.push_finding(finding);
    report.count("rules_checked", 0);
    report.count("rules_deleted", 1);
    metrics.count("RulesDeleted", 1);
    if let (
        Ok(n),
        RulesTrigger::RuleChanged {
            repositories_left, ..
        },
    ) = (&left, &mut trigger)
    {
        *repositories_left = Some(*n);
        report.count("repositories_without_rule", *n);
    }
    report.details.trigger = Some(trigger);
    Ran { report, metrics }
}

/// Repositories named `<prefix>/…`: every page of `DescribeRepositories` (ECR filters by name
/// only for exact names), counted, never kept.
async fn cached_repositories_under(
    registry: &(impl Registry + ?Sized),
    prefix: &str,
) -> Result<u64, String> {
    if prefix == "ROOT" {
        return Err("a `ROOT` rule caches anywhere in the registry".to_owned());
    }
    let under = format!("{prefix}/");
    let mut count = 0;
    let mut next_token = None;
    loop {
        let page = registry
            .repositories_page(next_token, MAX_PAGE_SIZE)
            .await
            .map_err(|error| error.to_string())?;
        count += page
            .repositories
            .iter()
            .filter(|repository| repository.name.starts_with(&under))
            .count() as u64;
        match page.next_token {
            Some(token) => next_token = Some(token),
            None => return Ok(count),
        }
    }
}

/// The words of a deleted rule. Pure.
pub fn deleted_finding(
    changed: &RuleChanged,
    repositories_left: Option<u64>,
    region: Option<&str>,
) -> Finding {
    let prefix = changed.prefix.as_str();
    let upstream = changed
        .upstream_registry_url
        .as_deref()
        .map_or_else(|| "its upstream".to_owned(), code);
    let CallRecord {
        caller,
        event_time,
        event_id,
    } = &changed.record;
    let when = event_time
        .as_deref()
        .map(|time| format!(" at {}", code(time)))
        .unwrap_or_default();
    let left = match repositories_left {
        Some(0) => "no cached repository was under it".to_owned(),
        Some(1) => format!("1 cached repository under `{prefix}/` is left without a rule"),
        Some(n) => format!("{n} cached repositories under `{prefix}/` are left without a rule"),
        None => format!("the cached repositories under `{prefix}/` could not be counted"),
    };
    let mut finding = Finding::new(
        Severity::Critical,
        Check::RuleValidation,
        prefix,
        format!("pull-through cache rule `{prefix}` was deleted"),
        format!(
            "{} deleted the rule that cached {upstream} under `{prefix}/`{when}; {left}: images already cached still pull, but every image or tag not cached yet fails with \"not found\" and cached tags are no longer refreshed from upstream",
            code(caller.principal())
        ),
    )
    .with_next_step(format!(
        "if the deletion was not intended, re-create the rule: `{}`",
        create_rule_command(
            prefix,
            changed.upstream_registry_url.as_deref(),
            changed.credential_arn.as_deref(),
            region
        )
    ));
    if let Some(event_id) = event_id {
        finding = finding.with_next_step(format!(
            "see who deleted it and from where: `{}`",
            lookup_event_command(event_id, region)
        ));
    }
    finding
}

/// The registry permissions policy was put or deleted: the consumer checks, at once.
pub async fn on_registry_policy_changed<P: PortSet>(
    context: &RunContext<'_, P>,
    changed: &RegistryPolicyChanged,
) -> Result<Ran<ValidateDetails>, Error> {
    let RunContext {
        ports,
        config,
        deadline,
        ..
    } = *context;
    let trigger = |acknowledged: Option<String>| RulesTrigger::RegistryPolicyChanged {
        call: changed.call.as_str().to_owned(),
        changed_by: changed.record.caller.principal().to_owned(),
        event_time: changed.record.event_time.clone(),
        event_id: changed.record.event_id.clone(),
        acknowledged,
    };
    if config.consumers.is_empty() {
        let why = "no consumer is configured (`[consumers]`): nothing here depends on the registry permissions policy".to_owned();
        info!(call = changed.call.as_str(), reason = %why, "registry policy change acknowledged");
        let mut ran = acknowledged(&why);
        ran.report.details.trigger = Some(trigger(Some(why)));
        return Ok(ran);
    }
    let rules: Vec<_> = ports
        .registry()
        .cache_rules(None)
        .await
        .map_err(|error| Error::aws("cannot list the pull-through cache rules", error))?
        .into_iter()
        .filter(|rule| !config.rules.skip_prefixes.contains(&rule.prefix))
        .collect();
    let mut report = ValidateReport::new(FUNCTION, false);
    let mut metrics = Metrics::new(FUNCTION);
    check_consumers(ports, config, deadline, &rules, &mut report, &mut metrics).await;
    // The breakage is the change's doing: say whose, on the findings it caused.
    let cause = format!(
        "after `{}` by {}{}",
        changed.call.as_str(),
        code(changed.record.caller.principal()),
        changed
            .record
            .event_time
            .as_deref()
            .map(|time| format!(" at {}", code(time)))
            .unwrap_or_default()
    );
    for finding in &mut report.findings {
        if finding.check == Check::ConsumerAccess && finding.severity == Severity::Critical {
            finding.message = format!("{} ({cause})", finding.message);
        }
    }
    info!(
        call = changed.call.as_str(),
        caller = changed.record.caller.principal(),
        n_rules = rules.len(),
        consumer_pulls_failing = report
            .summary
            .get("consumer_checks_missing")
            .copied()
            .unwrap_or(0),
        "registry policy change checked"
    );
    report.details.trigger = Some(trigger(None));
    Ok(Ran { report, metrics })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Caller, RegistryCall};
    use crate::test_cases::named_cases;

    fn deletion(upstream: Option<&str>, event_id: Option<&str>) -> RuleChanged {
        RuleChanged {
            call: RegistryCall::DeletePullThroughCacheRule,
            prefix: "ghcr".to_owned(),
            upstream_registry_url: upstream.map(str::to_owned),
            credential_arn: Some(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/ghcr-AbCdEf"
                    .to_owned(),
            ),
            record: CallRecord {
                caller: Caller {
                    arn: Some("arn:aws:iam::123456789012:user/bob".to_owned()),
                    ..Caller::default()
                },
                event_time: Some("2025-06-04T14:02:31Z".to_owned()),
                event_id: event_id.map(str::to_owned),
            },
        }
    }

    fn check_deleted(
        _case: &str,
        upstream: Option<&str>,
        left: Option<u64>,
        message_has: &[&str],
        n_steps: usize,
    ) {
        let finding = deleted_finding(
            &deletion(upstream, Some("0b6f1d3c-2a8e")),
            left,
            Some("eu-west-1"),
        );
        assert_eq!(finding.severity, Severity::Critical);
        assert_eq!(finding.check, Check::RuleValidation);
        assert_eq!(finding.resource, "ghcr");
        assert!(
            finding.title.contains("`ghcr` was deleted"),
            "{}",
            finding.title
        );
        for fragment in message_has {
            assert!(
                finding.message.contains(fragment),
                "{:?} lacks {fragment:?}",
                finding.message
            );
        }
        assert_eq!(
            finding.next_steps.len(),
            n_steps,
            "{:?}",
            finding.next_steps
        );
        let recreate = &finding.next_steps[0];
        assert!(
            recreate.contains("--ecr-repository-prefix ghcr")
                && recreate.contains(upstream.unwrap_or("<upstream registry URL>"))
                && recreate.contains("--credential-arn arn:aws:secretsmanager:")
                && recreate.contains("--region eu-west-1"),
            "{recreate}"
        );
    }

    named_cases! {
        /// A deleted rule names its upstream, its caller and what it leaves behind.
        mod deleted_rules => check_deleted;
        with_repositories_left(
            Some("ghcr.io"),
            Some(12),
            &["`ghcr.io`", "`arn:aws:iam::123456789012:user/bob`", "12 cached repositories under `ghcr/`", "`2025-06-04T14:02:31Z`"],
            2
        ),
        one_repository_left(Some("ghcr.io"), Some(1), &["1 cached repository under `ghcr/` is left"], 2),
        nothing_cached(Some("ghcr.io"), Some(0), &["no cached repository was under it"], 2),
        not_counted(Some("ghcr.io"), None, &["could not be counted"], 2),
        upstream_unknown(None, Some(3), &["cached its upstream under `ghcr/`"], 2),
    }

    mod with_fakes {
        use std::path::Path;
        use std::sync::Arc;

        use super::*;
        use crate::config::Config;
        use crate::domain::CacheRule;
        use crate::ports::fakes::{self, FakeEcr, FakeSecretStore};

        fn config(toml: &str) -> Config {
            Config::from_toml_str(toml, Path::new("."), "test").expect("a valid configuration")
        }

        fn registry() -> FakeEcr {
            FakeEcr::default()
                .with_rule(CacheRule::new("k8s", "registry.k8s.io"))
                .with_repository("ghcr/fluxcd/source-controller")
                .with_repository("ghcr/fluxcd/helm-controller")
                .with_repository("ghcr-mirror/x")
                .with_repository("k8s/pause")
        }

        async fn on(
            ecr: FakeEcr,
            toml: &str,
            changed: &RuleChanged,
        ) -> (Result<Ran<ValidateDetails>, Error>, Vec<String>) {
            let ecr = Arc::new(ecr);
            let ports = fakes::ports(&ecr, &Arc::new(FakeSecretStore::default()));
            let config = config(toml);
            let context = RunContext::new(&ports, &config);
            let ran = on_rule_changed(&context, changed).await;
            (ran, ecr.calls())
        }

        #[tokio::test]
        async fn a_deletion_counts_only_the_repositories_under_its_prefix() {
            let (ran, calls) = on(registry(), "", &deletion(Some("ghcr.io"), None)).await;
            let report = ran.expect("a report").report;
            assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
            assert!(
                report.findings[0]
                    .message
                    .contains("2 cached repositories under `ghcr/`"),
                "{}",
                report.findings[0].message
            );
            assert_eq!(report.summary["repositories_without_rule"], 2);
            assert!(
                !calls.iter().any(|call| call.contains("Validate")),
                "{calls:?}"
            );
        }

        #[tokio::test]
        async fn a_deletion_alerts_even_when_nothing_more_can_be_read() {
            let ecr = registry()
                .failing(
                    "ecr:DescribePullThroughCacheRules",
                    None,
                    "ThrottlingException",
                )
                .failing("ecr:DescribeRepositories", None, "AccessDeniedException");
            let (ran, _) = on(ecr, "", &deletion(Some("ghcr.io"), None)).await;
            let report = ran.expect("the record is enough to alert on").report;
            assert_eq!(report.findings.len(), 1);
            assert_eq!(report.findings[0].severity, Severity::Critical);
            assert!(report.findings[0].message.contains("could not be counted"));
        }

        #[tokio::test]
        async fn an_update_of_a_rule_deleted_since_is_acknowledged() {
            let mut changed = deletion(None, None);
            changed.call = RegistryCall::UpdatePullThroughCacheRule;
            let (ran, calls) = on(registry(), "", &changed).await;
            let report = ran.expect("a report").report;
            assert!(report.findings.is_empty(), "{:#?}", report.findings);
            assert_eq!(calls, ["ecr:DescribePullThroughCacheRules"]);
        }

        #[tokio::test]
        async fn a_skipped_prefix_makes_no_call() {
            let (ran, calls) = on(
                registry(),
                "[rules]\nskip_prefixes = [\"ghcr\"]\n",
                &deletion(Some("ghcr.io"), None),
            )
            .await;
            assert!(ran.expect("a report").report.findings.is_empty());
            assert!(calls.is_empty(), "{calls:?}");
        }

        #[tokio::test]
        async fn an_update_fails_the_run_when_the_rule_cannot_be_read() {
            let mut changed = deletion(None, None);
            changed.call = RegistryCall::CreatePullThroughCacheRule;
            let ecr = registry().failing(
                "ecr:DescribePullThroughCacheRules",
                None,
                "ThrottlingException",
            );
            let (ran, _) = on(ecr, "", &changed).await;
            assert!(ran.is_err(), "a retry can validate it");
        }
    }

    #[test]
    fn a_deletion_without_an_event_id_has_no_lookup_step() {
        let mut changed = deletion(Some("ghcr.io"), None);
        changed.record.event_id = None;
        let finding = deleted_finding(&changed, Some(2), None);
        assert_eq!(finding.next_steps.len(), 1, "{:?}", finding.next_steps);
        assert!(!finding.next_steps[0].contains("--region"));
    }
}
