//! The words of the rule checks: each [`RuleProblem`] becomes one finding with its title,
//! message and next steps (the commands come from [`crate::remedies`]). Nothing here decides
//! anything: [`judge`] does. Pure.

use chrono::{DateTime, Utc};

use super::assess::{judge, RegistryContext, RuleObservation, RuleProblem, RuleResult};
use crate::domain::{CacheRule, Finding, CREDENTIAL_SECRET_PREFIX};
use crate::remedies::{
    create_secret_command, put_secret_value_command, restore_secret_command, token_instructions,
    update_rule_credential_command, validate_rule_command,
};

/// Judges one rule, then words its problems as findings.
pub fn assess(
    observation: &RuleObservation,
    registry: &RegistryContext,
    now: DateTime<Utc>,
) -> RuleResult {
    let rule = &observation.rule;
    let judgement = judge(observation, registry, now);
    let wording = Wording {
        rule,
        secret_name: judgement.secret_name.as_deref(),
        region: registry.region.as_deref(),
    };
    RuleResult {
        prefix: rule.prefix.clone(),
        upstream_registry_url: rule.upstream_registry_url.clone(),
        upstream: rule.upstream.clone(),
        credential_secret: judgement.secret_name.clone(),
        custom_role_arn: rule.custom_role_arn.clone(),
        status: judgement.status,
        failure: judgement.failure,
        secret_problems: judgement
            .problems
            .iter()
            .filter(|problem| problem.is_about_the_secret())
            .count(),
        duration_ms: observation.duration_ms,
        out_of_time: None,
        reason: judgement.reason,
        findings: judgement
            .problems
            .iter()
            .map(|problem| wording.finding(problem))
            .collect(),
    }
}

/// What the words of one rule's findings need.
pub struct Wording<'a> {
    pub rule: &'a CacheRule,
    /// The rule's credential secret (its name, or the reference when it is no ARN).
    pub secret_name: Option<&'a str>,
    /// Where the commands run.
    pub region: Option<&'a str>,
}

impl Wording<'_> {
    /// The finding of one problem.
    pub fn finding(&self, problem: &RuleProblem) -> Finding {
        let rule = self.rule;
        let prefix = &rule.prefix;
        let region = self.region;
        let upstream = &rule.upstream_registry_url;
        let (title, message, next_steps): (String, String, Vec<String>) = match problem {
            RuleProblem::NothingToValidate => (
                format!("rule `{prefix}` needs no credentials"),
                format!(
                    "`{upstream}` ({}) is pulled anonymously: there is nothing to validate",
                    rule.upstream
                ),
                Vec::new(),
            ),
            RuleProblem::FailsValidation { failure } => {
                let reason = failure.as_deref().unwrap_or("ECR gave no reason");
                let first = match self.secret_name {
                    Some(secret_name) => vec![
                        capitalise(token_instructions(&rule.upstream)),
                        format!(
                            "store it in the same secret, so the rule and its ARN stay unchanged: {}",
                            put_secret_value_command(secret_name, region)
                        ),
                    ],
                    None => vec![
                        "check the rule's custom role: ECR must be allowed to assume it, and it must allow pulls from the upstream registry".to_owned(),
                    ],
                };
                (
                    format!("pull-through cache rule `{prefix}` fails validation"),
                    format!(
                        "ECR cannot use the rule to reach `{upstream}` ({}): \"{reason}\". Images already cached still pull; \
                         anything not cached yet under `{prefix}/` (new images, new tags, the daily refresh) fails until it is fixed",
                        rule.upstream
                    ),
                    first
                        .into_iter()
                        .chain([format!("confirm: {}", validate_rule_command(prefix, region))])
                        .collect(),
                )
            }
            RuleProblem::ValidationUnavailable {
                error,
                access_denied,
            } => (
                format!("rule `{prefix}` could not be validated"),
                format!(
                    "`ValidatePullThroughCacheRule` failed: {error}; the rule's health is unknown this run"
                ),
                vec![if *access_denied {
                    "allow `ecr:ValidatePullThroughCacheRule` on the registry for this function's role"
                        .to_owned()
                } else {
                    format!(
                        "nothing to do if it passes on the next run; to check now: {}",
                        validate_rule_command(prefix, region)
                    )
                }],
            ),
            RuleProblem::SecretNotAnArn { reference } => (
                format!("rule `{prefix}` points at something that is not a secret"),
                format!("`{reference}` is not a Secrets Manager secret ARN: ECR cannot read credentials from it"),
                self.recreate_steps(prefix),
            ),
            RuleProblem::SecretMisnamed { name } => (
                format!("secret of rule `{prefix}` is not named `{CREDENTIAL_SECRET_PREFIX}…`"),
                format!(
                    "ECR only reads credential secrets whose name starts with `{CREDENTIAL_SECRET_PREFIX}`; `{name}` is refused, so authentication to `{upstream}` fails"
                ),
                self.recreate_steps(name),
            ),
            RuleProblem::SecretElsewhere {
                name,
                secret_account,
                secret_region,
                rule_account,
                rule_region,
            } => (
                format!("secret of rule `{prefix}` is in another account or region"),
                format!(
                    "ECR reads credential secrets only from the rule's own account and region ({}/{}); `{name}` is in {secret_account}/{secret_region}",
                    rule_account.as_deref().unwrap_or("?"),
                    rule_region.as_deref().unwrap_or("?"),
                ),
                self.recreate_steps(name),
            ),
            RuleProblem::SecretMissing { reference, name } => (
                format!("secret of rule `{prefix}` does not exist"),
                format!(
                    "the rule points at `{reference}`, which Secrets Manager does not know: ECR cannot authenticate to `{upstream}`, so images not cached yet fail to pull"
                ),
                self.recreate_steps(name),
            ),
            RuleProblem::SecretScheduledForDeletion {
                name,
                deletion,
                days_left,
            } => {
                let when = if *days_left > 0 {
                    format!("on {} (in {days_left} days)", deletion.format("%Y-%m-%d"))
                } else {
                    format!("on {}", deletion.format("%Y-%m-%d"))
                };
                (
                    format!("secret of rule `{prefix}` is scheduled for deletion"),
                    format!(
                        "Secrets Manager deletes `{name}` {when}. It already refuses reads while the deletion is pending, so ECR cannot authenticate to `{upstream}` now; after that date the secret is gone for good"
                    ),
                    vec![
                        restore_secret_command(name, region),
                        validate_rule_command(prefix, region),
                    ],
                )
            }
            RuleProblem::SecretUnchecked { reference, error } => (
                format!("secret of rule `{prefix}` could not be checked"),
                format!("`DescribeSecret` failed: {error}"),
                vec![format!(
                    "allow `secretsmanager:DescribeSecret` on `{reference}` for this function's role"
                )],
            ),
        };
        Finding::new(problem.severity(), problem.check(), prefix, title, message)
            .with_next_steps(next_steps)
    }

    /// Create the secret under the right name, point the rule at it, confirm.
    fn recreate_steps(&self, name: &str) -> Vec<String> {
        let prefix = &self.rule.prefix;
        vec![
            create_secret_command(name, self.region),
            update_rule_credential_command(prefix, "<ARN printed by create-secret>", self.region),
            validate_rule_command(prefix, self.region),
        ]
    }
}

fn capitalise(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}
