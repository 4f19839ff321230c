//! What a rule's observations mean: its problems and status ([`judge`]: the decisions), then
//! its findings (`findings`: the words). Pure.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{CacheRule, Check, Finding, SecretArn, SecretMetadata, Severity, UpstreamKind};
use crate::remedies::validate_rule_command;

/// Where the rules live: the account and region the clients talk to. Either may be unknown
/// (then the checks that need it are skipped, never guessed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryContext {
    pub account_id: Option<String>,
    pub region: Option<String>,
}

/// What `ValidatePullThroughCacheRule` said, or why it could not be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationAnswer {
    /// The rule authenticates with nothing: there is nothing to validate, so it was not asked.
    NotAsked,
    Answered {
        is_valid: bool,
        failure: Option<String>,
    },
    /// The call failed after retries (access denied, throttling, `ServerException`).
    CallFailed { error: String, access_denied: bool },
}

/// What Secrets Manager said about the rule's credential secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLookup {
    /// The rule has no credential secret.
    NotApplicable,
    /// Not looked up: the ARN is malformed or points at another account or region.
    NotLookedUp,
    Found(SecretMetadata),
    Missing,
    CallFailed {
        error: String,
    },
}

/// Everything observed about one rule.
#[derive(Debug, Clone)]
pub struct RuleObservation {
    pub rule: CacheRule,
    pub validation: ValidationAnswer,
    pub secret: SecretLookup,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RuleStatus {
    Valid,
    Invalid,
    /// Anonymous upstream: no credential, no role.
    NothingToValidate,
    /// Validation could not run, or the deadline came first; the rule's health is unknown.
    NotValidated,
}

impl RuleStatus {
    /// The status as the report writes it (`nothing-to-validate`).
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Valid => "valid",
            RuleStatus::Invalid => "invalid",
            RuleStatus::NothingToValidate => "nothing-to-validate",
            RuleStatus::NotValidated => "not-validated",
        }
    }
}

/// Why a rule has no verdict because of the invocation's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OutOfTime {
    /// Not started: too little time was left to validate it and still finish the run.
    NotStarted,
    /// Started, and cut at the deadline before ECR answered.
    Cut,
}

impl OutOfTime {
    pub fn describe(self) -> &'static str {
        match self {
            OutOfTime::NotStarted => {
                "not started: the deadline was too near to validate it and still finish the run"
            }
            OutOfTime::Cut => "cut at the deadline before ECR answered",
        }
    }
}

/// One rule in the report.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RuleResult {
    pub prefix: String,
    pub upstream_registry_url: String,
    pub upstream: UpstreamKind,
    pub credential_secret: Option<String>,
    pub custom_role_arn: Option<String>,
    pub status: RuleStatus,
    /// ECR's failure text, verbatim.
    pub failure: Option<String>,
    pub secret_problems: usize,
    pub duration_ms: u64,
    /// Set when the deadline came before the rule had a verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_time: Option<OutOfTime>,
    /// Why the rule has no verdict (`not-validated` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// What is wrong with one rule, or what it is. Decided by [`judge`] without prose; the words
/// are in `findings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleProblem {
    /// An anonymous upstream: nothing to validate (info).
    NothingToValidate,
    /// ECR says the rule cannot reach its upstream.
    FailsValidation { failure: Option<String> },
    /// `ValidatePullThroughCacheRule` itself failed.
    ValidationUnavailable { error: String, access_denied: bool },
    /// The rule's `credentialArn` is not a Secrets Manager secret ARN.
    SecretNotAnArn { reference: String },
    /// The secret's name lacks the prefix ECR requires.
    SecretMisnamed { name: String },
    /// The secret is outside the rule's account or region.
    SecretElsewhere {
        name: String,
        secret_account: String,
        secret_region: String,
        rule_account: Option<String>,
        rule_region: Option<String>,
    },
    /// Secrets Manager does not know the secret.
    SecretMissing { reference: String, name: String },
    /// The secret is scheduled for deletion (already unreadable).
    SecretScheduledForDeletion {
        name: String,
        deletion: DateTime<Utc>,
        days_left: i64,
    },
    /// `DescribeSecret` failed.
    SecretUnchecked { reference: String, error: String },
}

impl RuleProblem {
    pub fn severity(&self) -> Severity {
        match self {
            RuleProblem::NothingToValidate => Severity::Info,
            RuleProblem::ValidationUnavailable { .. } | RuleProblem::SecretUnchecked { .. } => {
                Severity::Warning
            }
            RuleProblem::FailsValidation { .. }
            | RuleProblem::SecretNotAnArn { .. }
            | RuleProblem::SecretMisnamed { .. }
            | RuleProblem::SecretElsewhere { .. }
            | RuleProblem::SecretMissing { .. }
            | RuleProblem::SecretScheduledForDeletion { .. } => Severity::Critical,
        }
    }

    pub fn check(&self) -> Check {
        match self {
            RuleProblem::NothingToValidate
            | RuleProblem::FailsValidation { .. }
            | RuleProblem::ValidationUnavailable { .. } => Check::RuleValidation,
            RuleProblem::SecretNotAnArn { .. }
            | RuleProblem::SecretMisnamed { .. }
            | RuleProblem::SecretElsewhere { .. }
            | RuleProblem::SecretMissing { .. }
            | RuleProblem::SecretScheduledForDeletion { .. }
            | RuleProblem::SecretUnchecked { .. } => Check::RuleSecret,
        }
    }

    /// A problem of the credential secret (counted apart: each stops ECR from authenticating,
    /// whatever validation says).
    pub fn is_about_the_secret(&self) -> bool {
        self.check() == Check::RuleSecret
    }
}

/// The decisions about one rule: its problems, its status and what ECR said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleJudgement {
    pub problems: Vec<RuleProblem>,
    pub status: RuleStatus,
    /// ECR's failure text, verbatim.
    pub failure: Option<String>,
    /// Why the rule has no verdict (`not-validated` only).
    pub reason: Option<String>,
    /// The name of the rule's credential secret (or the reference, when it is no ARN).
    pub secret_name: Option<String>,
}

/// Decides what one rule's observations mean. Pure, and no prose: see [`RuleProblem`].
pub fn judge(
    observation: &RuleObservation,
    registry: &RegistryContext,
    now: DateTime<Utc>,
) -> RuleJudgement {
    let rule = &observation.rule;
    let secret_arn = rule
        .credential_arn
        .as_deref()
        .map(|arn| (arn, SecretArn::parse(arn)));
    let secret_name = secret_arn.as_ref().map(|(arn, parsed)| {
        parsed
            .as_ref()
            .map(|parsed| parsed.name.clone())
            .unwrap_or_else(|| (*arn).to_owned())
    });
    let mut problems = secret_problems(
        rule,
        secret_arn.as_ref(),
        &observation.secret,
        registry,
        now,
    );
    let mut reason = None;
    let (status, failure) = match &observation.validation {
        ValidationAnswer::NotAsked => {
            problems.push(RuleProblem::NothingToValidate);
            (RuleStatus::NothingToValidate, None)
        }
        ValidationAnswer::Answered { is_valid: true, .. } => (RuleStatus::Valid, None),
        ValidationAnswer::Answered {
            is_valid: false,
            failure,
        } => {
            problems.push(RuleProblem::FailsValidation {
                failure: failure.clone(),
            });
            (RuleStatus::Invalid, failure.clone())
        }
        ValidationAnswer::CallFailed {
            error,
            access_denied,
        } => {
            problems.push(RuleProblem::ValidationUnavailable {
                error: error.clone(),
                access_denied: *access_denied,
            });
            reason = Some(format!("`ValidatePullThroughCacheRule` failed: {error}"));
            (RuleStatus::NotValidated, None)
        }
    };
    RuleJudgement {
        problems,
        status,
        failure,
        reason,
        secret_name,
    }
}

/// A rule the deadline left without a verdict: `not-validated`, and no finding of its own (one
/// finding for the run names them all: [`out_of_time_finding`]).
pub fn out_of_time(rule: &CacheRule, why: OutOfTime, duration_ms: u64) -> RuleResult {
    RuleResult {
        prefix: rule.prefix.clone(),
        upstream_registry_url: rule.upstream_registry_url.clone(),
        upstream: rule.upstream.clone(),
        credential_secret: rule
            .credential_arn
            .as_deref()
            .map(|arn| SecretArn::parse(arn).map_or_else(|| arn.to_owned(), |parsed| parsed.name)),
        custom_role_arn: rule.custom_role_arn.clone(),
        status: RuleStatus::NotValidated,
        failure: None,
        secret_problems: 0,
        duration_ms,
        out_of_time: Some(why),
        reason: Some(why.describe().to_owned()),
        findings: Vec::new(),
    }
}

/// The resource of the run-wide finding about rules left without a verdict (alerts group by
/// resource: one alert, not one per rule).
pub const RUN_RESOURCE: &str = "pull-through-cache-rules";

/// One warning naming every rule the deadline left without a verdict, if any.
pub fn out_of_time_finding(results: &[RuleResult], region: Option<&str>) -> Option<Finding> {
    let left: Vec<&RuleResult> = results
        .iter()
        .filter(|result| result.out_of_time.is_some())
        .collect();
    if left.is_empty() {
        return None;
    }
    let prefixes = left
        .iter()
        .map(|result| format!("`{}`", result.prefix))
        .collect::<Vec<_>>()
        .join(", ");
    let n_cut = left
        .iter()
        .filter(|result| result.out_of_time == Some(OutOfTime::Cut))
        .count();
    let cut = match n_cut {
        0 => String::new(),
        n => format!(" ({n} cut while ECR was still answering)"),
    };
    Some(
        Finding::new(
            Severity::Warning,
            Check::RuleValidation,
            RUN_RESOURCE,
            format!(
                "{} of {} rules were not validated before the deadline",
                left.len(),
                results.len()
            ),
            format!(
                "their health is unknown this run{cut}: {prefixes}. The next run validates them again"
            ),
        )
        .with_next_step("raise the function's timeout: validation logs in to each upstream, and a slow upstream takes seconds per rule")
        .with_next_step(format!(
            "to check them now, without a deadline: `ptc rules validate` (or per rule: {})",
            validate_rule_command("<prefix>", region)
        )),
    )
}

/// What is wrong with the secret the rule points at.
fn secret_problems(
    rule: &CacheRule,
    secret_arn: Option<&(&str, Option<SecretArn>)>,
    lookup: &SecretLookup,
    registry: &RegistryContext,
    now: DateTime<Utc>,
) -> Vec<RuleProblem> {
    let Some((raw_arn, parsed)) = secret_arn else {
        return Vec::new();
    };
    let Some(arn) = parsed else {
        return vec![RuleProblem::SecretNotAnArn {
            reference: (*raw_arn).to_owned(),
        }];
    };
    let mut problems = Vec::new();
    if !arn.has_credential_prefix() {
        problems.push(RuleProblem::SecretMisnamed {
            name: arn.name.clone(),
        });
    }
    let rule_account = rule
        .registry_id
        .as_deref()
        .or(registry.account_id.as_deref());
    let region = registry.region.as_deref();
    let other_account = rule_account.filter(|account| *account != arn.account_id);
    let other_region = region.filter(|region| *region != arn.region);
    if other_account.is_some() || other_region.is_some() {
        problems.push(RuleProblem::SecretElsewhere {
            name: arn.name.clone(),
            secret_account: arn.account_id.clone(),
            secret_region: arn.region.clone(),
            rule_account: rule_account.map(str::to_owned),
            rule_region: region.map(str::to_owned),
        });
    }
    match lookup {
        SecretLookup::Missing => problems.push(RuleProblem::SecretMissing {
            reference: (*raw_arn).to_owned(),
            name: arn.name.clone(),
        }),
        SecretLookup::Found(secret) => {
            if let Some(deletion) = secret.deletion_date {
                problems.push(RuleProblem::SecretScheduledForDeletion {
                    name: secret.name.clone(),
                    deletion,
                    days_left: (deletion - now).num_days(),
                });
            }
        }
        SecretLookup::CallFailed { error } => problems.push(RuleProblem::SecretUnchecked {
            reference: (*raw_arn).to_owned(),
            error: error.clone(),
        }),
        SecretLookup::NotApplicable | SecretLookup::NotLookedUp => {}
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::super::findings::assess;
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::test_cases::named_cases;

    /// `status` is written in the report as its text.
    fn check_status_text(name: &str, status: RuleStatus) {
        assert_eq!(
            serde_json::to_value(status).ok(),
            Some(serde_json::Value::String(status.as_str().to_owned())),
            "{name}: {status:?}"
        );
    }

    named_cases! {
        /// The status text is what the report writes.
        mod status_text_is_what_the_report_writes => check_status_text;
        valid(RuleStatus::Valid),
        invalid(RuleStatus::Invalid),
        nothing_to_validate(RuleStatus::NothingToValidate),
        not_validated(RuleStatus::NotValidated),
    }

    const ACCOUNT: &str = "123456789012";
    const GOOD_ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/docker-hub-AbCdEf";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
            .single()
            .expect("valid date")
    }

    fn registry() -> RegistryContext {
        RegistryContext {
            account_id: Some(ACCOUNT.into()),
            region: Some("eu-west-1".into()),
        }
    }

    fn rule(prefix: &str, upstream: &str, credential_arn: Option<&str>) -> CacheRule {
        let rule = CacheRule::new(prefix, upstream).in_registry(ACCOUNT);
        match credential_arn {
            Some(arn) => rule.with_credential(arn),
            None => rule,
        }
    }

    fn secret(deletion_date: Option<DateTime<Utc>>) -> SecretMetadata {
        SecretMetadata {
            name: "ecr-pullthroughcache/docker-hub".into(),
            arn: GOOD_ARN.into(),
            created_at: None,
            last_changed_at: None,
            last_rotated_at: None,
            last_accessed_at: None,
            deletion_date,
            rotation_enabled: false,
            next_rotation_at: None,
            tags: BTreeMap::new(),
        }
    }

    fn valid() -> ValidationAnswer {
        ValidationAnswer::Answered {
            is_valid: true,
            failure: None,
        }
    }

    /// (observation) → expected status and the (severity, check, title fragment) of each finding.
    fn check(
        rule: CacheRule,
        validation: ValidationAnswer,
        secret: SecretLookup,
        expected_status: RuleStatus,
        expected: &[(Severity, Check, &str)],
    ) {
        let observation = RuleObservation {
            rule,
            validation,
            secret,
            duration_ms: 12,
        };
        let result = assess(&observation, &registry(), now());
        assert_eq!(result.status, expected_status, "{result:#?}");
        assert_eq!(
            result.findings.len(),
            expected.len(),
            "{:#?}",
            result.findings
        );
        for (finding, (severity, check, fragment)) in result.findings.iter().zip(expected) {
            assert_eq!(
                (finding.severity, finding.check),
                (*severity, *check),
                "{finding:#?}"
            );
            assert!(
                finding.title.contains(fragment),
                "{:?} lacks {fragment:?}",
                finding.title
            );
            assert_eq!(
                finding.resource, observation.rule.prefix,
                "alerts group by rule"
            );
            if finding.severity == Severity::Critical {
                assert!(
                    !finding.next_steps.is_empty(),
                    "a critical finding says what to do: {finding:#?}"
                );
            }
        }
    }

    /// The Docker Hub credential kept in another account and region.
    const ELSEWHERE_ARN: &str =
        "arn:aws:secretsmanager:us-east-1:999999999999:secret:ecr-pullthroughcache/hub-AbCdEf";

    /// When the secret in the deletion case is deleted.
    fn deletion() -> DateTime<Utc> {
        now() + chrono::Duration::days(5)
    }

    /// The decisions alone, no words: the Docker Hub rule with `credential`, the `validation`
    /// and `secret` lookup it met, has the `expected` problems.
    fn check_decision(
        name: &str,
        credential: Option<&str>,
        validation: ValidationAnswer,
        secret: SecretLookup,
        expected: Vec<RuleProblem>,
    ) {
        let observation = RuleObservation {
            rule: rule("docker-hub", "registry-1.docker.io", credential),
            validation,
            secret,
            duration_ms: 1,
        };
        let judgement = judge(&observation, &registry(), now());
        assert_eq!(judgement.problems, expected, "{name}");
    }

    named_cases! {
        /// Problems are decided before they are worded.
        mod decides_problems_before_wording_them => check_decision;
        anonymous(
            None,
            ValidationAnswer::NotAsked,
            SecretLookup::NotApplicable,
            vec![RuleProblem::NothingToValidate],
        ),
        healthy(Some(GOOD_ARN), valid(), SecretLookup::Found(secret(None)), vec![]),
        secret_elsewhere_then_invalid(
            Some(ELSEWHERE_ARN),
            ValidationAnswer::Answered {
                is_valid: false,
                failure: Some("denied".into()),
            },
            SecretLookup::NotLookedUp,
            vec![
                RuleProblem::SecretElsewhere {
                    name: "ecr-pullthroughcache/hub".into(),
                    secret_account: "999999999999".into(),
                    secret_region: "us-east-1".into(),
                    rule_account: Some(ACCOUNT.into()),
                    rule_region: Some("eu-west-1".into()),
                },
                RuleProblem::FailsValidation {
                    failure: Some("denied".into()),
                },
            ],
        ),
        secret_being_deleted(
            Some(GOOD_ARN),
            valid(),
            SecretLookup::Found(secret(Some(deletion()))),
            vec![RuleProblem::SecretScheduledForDeletion {
                name: "ecr-pullthroughcache/docker-hub".into(),
                deletion: deletion(),
                days_left: 5,
            }],
        ),
        validation_unavailable(
            Some(GOOD_ARN),
            ValidationAnswer::CallFailed {
                error: "throttled".into(),
                access_denied: false,
            },
            SecretLookup::Found(secret(None)),
            vec![RuleProblem::ValidationUnavailable {
                error: "throttled".into(),
                access_denied: false,
            }],
        ),
    }

    #[test]
    fn judges_rules() {
        use Check::{RuleSecret, RuleValidation};
        use Severity::{Critical, Info, Warning};
        let hub = |arn: &str| rule("docker-hub", "registry-1.docker.io", Some(arn));
        let found = || SecretLookup::Found(secret(None));

        check(hub(GOOD_ARN), valid(), found(), RuleStatus::Valid, &[]);
        check(
            hub(GOOD_ARN),
            ValidationAnswer::Answered {
                is_valid: false,
                failure: Some("Authentication to the upstream registry failed".into()),
            },
            found(),
            RuleStatus::Invalid,
            &[(Critical, RuleValidation, "fails validation")],
        );
        check(
            rule("k8s", "registry.k8s.io", None),
            ValidationAnswer::NotAsked,
            SecretLookup::NotApplicable,
            RuleStatus::NothingToValidate,
            &[(Info, RuleValidation, "needs no credentials")],
        );
        check(
            hub(GOOD_ARN),
            ValidationAnswer::CallFailed {
                error: "throttled".into(),
                access_denied: false,
            },
            found(),
            RuleStatus::NotValidated,
            &[(Warning, RuleValidation, "could not be validated")],
        );
        check(
            hub(GOOD_ARN),
            ValidationAnswer::Answered {
                is_valid: false,
                failure: Some("secret not found".into()),
            },
            SecretLookup::Missing,
            RuleStatus::Invalid,
            &[
                (Critical, RuleSecret, "does not exist"),
                (Critical, RuleValidation, "fails validation"),
            ],
        );
        let in_ten_days = now() + chrono::Duration::days(10);
        check(
            hub(GOOD_ARN),
            valid(),
            SecretLookup::Found(secret(Some(in_ten_days))),
            RuleStatus::Valid,
            &[(Critical, RuleSecret, "scheduled for deletion")],
        );
        check(
            hub("arn:aws:secretsmanager:eu-west-1:123456789012:secret:dockerhub-token-AbCdEf"),
            valid(),
            found(),
            RuleStatus::Valid,
            &[(Critical, RuleSecret, "is not named")],
        );
        check(
            hub("arn:aws:secretsmanager:us-east-1:210987654321:secret:ecr-pullthroughcache/docker-hub-AbCdEf"),
            valid(),
            SecretLookup::NotLookedUp,
            RuleStatus::Valid,
            &[(Critical, RuleSecret, "another account or region")],
        );
        check(
            hub("arn:aws:ssm:eu-west-1:123456789012:parameter/token"),
            valid(),
            SecretLookup::NotLookedUp,
            RuleStatus::Valid,
            &[(Critical, RuleSecret, "not a secret")],
        );
        check(
            hub(GOOD_ARN),
            valid(),
            SecretLookup::CallFailed {
                error: "access denied".into(),
            },
            RuleStatus::Valid,
            &[(Warning, RuleSecret, "could not be checked")],
        );
    }

    #[test]
    fn next_steps_name_the_exact_fix() {
        let mut ghcr = rule(
            "ghcr",
            "ghcr.io",
            Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/ghcr-x1Y2z3"),
        );
        ghcr.upstream = UpstreamKind::GithubContainerRegistry;
        let observation = RuleObservation {
            rule: ghcr,
            validation: ValidationAnswer::Answered {
                is_valid: false,
                failure: Some("Authentication to the upstream registry failed".into()),
            },
            secret: SecretLookup::NotApplicable,
            duration_ms: 5,
        };
        let result = assess(&observation, &registry(), now());
        let steps = &result.findings[0].next_steps;
        assert!(
            steps[0].starts_with("Create a new classic personal access token"),
            "{steps:?}"
        );
        assert!(steps[1].contains(
            "aws secretsmanager put-secret-value --secret-id ecr-pullthroughcache/ghcr --region eu-west-1 --secret-string"
        ));
        assert!(steps[2].contains("aws ecr validate-pull-through-cache-rule --ecr-repository-prefix ghcr --region eu-west-1"));
        assert_eq!(
            result.credential_secret.as_deref(),
            Some("ecr-pullthroughcache/ghcr")
        );
        assert!(result.findings[0]
            .message
            .contains("Authentication to the upstream registry failed"));
    }

    #[test]
    fn unknown_upstream_kinds_are_reported_by_their_raw_value() {
        let mut future = rule("future", "registry.example.com", None);
        future.upstream = UpstreamKind::from_raw("future-registry");
        let observation = RuleObservation {
            rule: future,
            validation: ValidationAnswer::NotAsked,
            secret: SecretLookup::NotApplicable,
            duration_ms: 0,
        };
        let result = assess(&observation, &registry(), now());
        let json = serde_json::to_value(&result).expect("serializes");
        assert_eq!(json["upstream"], "future-registry");
        assert!(result.findings[0].message.contains("future-registry"));
    }

    /// The Docker Hub rule, validated.
    fn valid_rule() -> RuleResult {
        assess(
            &RuleObservation {
                rule: rule("docker-hub", "registry-1.docker.io", Some(GOOD_ARN)),
                validation: valid(),
                secret: SecretLookup::Found(secret(None)),
                duration_ms: 30,
            },
            &registry(),
            now(),
        )
    }

    /// The ghcr.io rule, not started before the deadline.
    fn not_started() -> RuleResult {
        out_of_time(
            &rule("ghcr", "ghcr.io", Some(GOOD_ARN)),
            OutOfTime::NotStarted,
            0,
        )
    }

    /// The quay.io rule, cut at the deadline.
    fn cut() -> RuleResult {
        out_of_time(&rule("quay", "quay.io", None), OutOfTime::Cut, 4_000)
    }

    /// The run's `results` make no deadline finding (`None`) or one with this title and
    /// these fragments of the message.
    fn check_deadline_finding(
        name: &str,
        results: Vec<RuleResult>,
        expected: Option<(&str, &[&str])>,
    ) {
        let finding = out_of_time_finding(&results, Some("eu-west-1"));
        match (finding, expected) {
            (None, None) => {}
            (Some(finding), Some((title, fragments))) => {
                assert_eq!(finding.title, title, "{name}");
                assert_eq!(finding.severity, Severity::Warning, "{name}");
                assert_eq!(finding.resource, RUN_RESOURCE, "{name}");
                for fragment in fragments {
                    assert!(
                        finding.message.contains(fragment),
                        "{name}: {}",
                        finding.message
                    );
                }
            }
            (finding, expected) => panic!("{name}: got {finding:?}, expected {expected:?}"),
        }
    }

    named_cases! {
        /// Rules left by the deadline make one finding.
        mod rules_left_by_the_deadline_make_one_finding => check_deadline_finding;
        nothing_left(vec![valid_rule()], None),
        no_rules(vec![], None),
        one_not_started(
            vec![valid_rule(), not_started()],
            Some((
                "1 of 2 rules were not validated before the deadline",
                &["`ghcr`"],
            )),
        ),
        not_started_and_cut(
            vec![valid_rule(), not_started(), cut()],
            Some((
                "2 of 3 rules were not validated before the deadline",
                &["`ghcr`", "`quay`", "1 cut while ECR was still answering"],
            )),
        ),
    }

    #[test]
    fn rules_left_by_the_deadline_keep_their_secret_and_reason() {
        let not_started = not_started();
        let cut = cut();
        assert_eq!(not_started.status, RuleStatus::NotValidated);
        assert!(not_started.findings.is_empty());
        assert_eq!(
            not_started.credential_secret.as_deref(),
            Some("ecr-pullthroughcache/docker-hub")
        );
        let shown = serde_json::to_value(&cut).unwrap_or_default();
        assert_eq!(shown["status"], "not-validated");
        assert_eq!(shown["out_of_time"], "cut");
        assert_eq!(shown["reason"], "cut at the deadline before ECR answered");
    }
}
