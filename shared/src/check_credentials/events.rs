//! check-credentials on a CloudTrail record of a new secret value (`PutSecretValue`,
//! `UpdateSecret`, `RotateSecret` on an `ecr-pullthroughcache/` secret): that secret alone is
//! checked (`DescribeSecret`, `GetSecretValue`), the rules are read once to find those that use
//! it, and each of them is validated (`ValidatePullThroughCacheRule`), all in this invocation.
//! No listing of every secret. The verdict is one [`Check::CredentialRotation`] finding: info
//! "rotation verified" (with the new expiry when known), or critical when the value is
//! malformed or the upstream refuses it.

use serde::Serialize;
use tracing::{info, warn};

use super::assess::{rules_using, Assessment};
use super::expiry::ExpirySource;
use super::{
    aws_reason, rules_unknown, CredentialsDetails, CredentialsReport, Guidance, SecretCheck,
    FUNCTION,
};
use crate::domain::markdown::code;
use crate::domain::{CacheRule, Check, Finding, Severity, CREDENTIAL_SECRET_PREFIX};
use crate::error::Error;
use crate::events::{RegistryCall, SecretChanged};
use crate::metrics::Metrics;
use crate::ports::{PortSet, Registry, RuleValidation, SecretStore};
use crate::remedies::{put_secret_value_command, validate_rule_command};
use crate::run::{Ran, RunContext};

/// What started an event-driven run, in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum CredentialsTrigger {
    /// A record the function accepts but has nothing to do for; no AWS call was made.
    Ignored { reason: String },
    /// A credential secret was given a new value or rotated.
    SecretChanged {
        call: String,
        secret: String,
        changed_by: String,
        event_time: Option<String>,
        event_id: Option<String>,
        /// Why nothing was done.
        #[serde(skip_serializing_if = "Option::is_none")]
        acknowledged: Option<String>,
    },
}

/// A record acknowledged without work: the report says why, and no AWS call is made.
pub fn acknowledged(reason: &str) -> Ran<CredentialsDetails> {
    info!(reason = %reason, "event ignored");
    let mut report = CredentialsReport::new(FUNCTION, false);
    report.count("secrets_checked", 0);
    report.details.trigger = Some(CredentialsTrigger::Ignored {
        reason: reason.to_owned(),
    });
    Ran {
        report,
        metrics: Metrics::new(FUNCTION),
    }
}

/// One rule's validation with the new value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAnswer {
    Valid,
    Refused { failure: Option<String> },
    CallFailed { error: String },
}

/// A credential secret got a new value: check it and validate the rules that use it.
pub async fn on_secret_changed<P: PortSet>(
    context: &RunContext<'_, P>,
    changed: &SecretChanged,
) -> Result<Ran<CredentialsDetails>, Error> {
    let RunContext {
        ports,
        config,
        deadline,
        now,
        ..
    } = *context;
    let http = ports.upstream();
    let trigger = |secret: &str, acknowledged: Option<String>| CredentialsTrigger::SecretChanged {
        call: changed.call.as_str().to_owned(),
        secret: secret.to_owned(),
        changed_by: changed.record.caller.principal().to_owned(),
        event_time: changed.record.event_time.clone(),
        event_id: changed.record.event_id.clone(),
        acknowledged,
    };
    let store = ports.secret_store();
    let registry = ports.registry();
    let secret = store
        .describe(&changed.secret_id)
        .await
        .map_err(|error| Error::aws("cannot describe the changed secret", error))?;
    let Some(secret) = secret else {
        let why = format!(
            "`{}` no longer exists: it was deleted after this `{}`",
            changed.secret_id,
            changed.call.as_str()
        );
        let mut ran = acknowledged(&why);
        ran.report.details.trigger = Some(trigger(&changed.secret_id, Some(why)));
        return Ok(ran);
    };
    // The record named it by name or ARN; the secret itself must be a credential too (an ARN's
    // name is checked again here, on what Secrets Manager answered).
    if !secret.name.starts_with(CREDENTIAL_SECRET_PREFIX) {
        let why = format!(
            "`{}` is not a credential secret (`{CREDENTIAL_SECRET_PREFIX}…`): left alone",
            secret.name
        );
        let mut ran = acknowledged(&why);
        ran.report.details.trigger = Some(trigger(&secret.name, Some(why)));
        return Ok(ran);
    }
    let mut report = CredentialsReport::new(FUNCTION, false);
    let mut metrics = Metrics::new(FUNCTION);
    let rules: Option<Vec<CacheRule>> = match registry.cache_rules(None).await {
        Ok(rules) => Some(rules),
        Err(error) => {
            warn!(operation = error.operation, error = %error, "pull-through cache rules could not be listed");
            report.push_finding(rules_unknown(&error));
            None
        }
    };
    let settings = &config.credentials;
    let check: SecretCheck<'_, P> = SecretCheck {
        store,
        settings,
        rules: rules.as_deref(),
        guidance: Guidance {
            region: ports.region(),
            expiry_tag: &settings.expiry_tag,
        },
        deadline,
        now,
        http,
        read_credentials: std::sync::Mutex::default(),
    };
    let assessment = check.bounded(&secret).await;
    // Only a value ECR can read is worth a validation: a malformed one is refused already.
    let using: Vec<&CacheRule> = rules
        .as_deref()
        .map(|rules| rules_using(&secret, rules))
        .unwrap_or_default();
    let mut answers = Vec::new();
    if !assessment.invalid && !assessment.unreadable {
        for rule in &using {
            let answer = match registry.validate_cache_rule(&rule.prefix).await {
                Ok(RuleValidation { is_valid: true, .. }) => RuleAnswer::Valid,
                Ok(RuleValidation { failure, .. }) => RuleAnswer::Refused { failure },
                Err(error) => RuleAnswer::CallFailed {
                    error: aws_reason(&error),
                },
            };
            info!(secret = %secret.name, prefix = %rule.prefix, answer = ?answer, "rule validated with the new value");
            answers.push((rule.prefix.clone(), answer));
        }
    }
    let verdict = verdict(
        changed,
        &assessment,
        rules.is_some(),
        &answers,
        ports.region(),
    );
    info!(
        secret = %secret.name,
        call = changed.call.as_str(),
        caller = changed.record.caller.principal(),
        verified = verdict.severity == Severity::Info,
        n_rules = answers.len(),
        "rotation checked"
    );
    report.count("secrets_checked", 1);
    report.count(
        "rules_validated",
        answers
            .iter()
            .filter(|(_, answer)| !matches!(answer, RuleAnswer::CallFailed { .. }))
            .count() as u64,
    );
    report.count("secrets_invalid", u64::from(assessment.invalid));
    metrics.count("CredentialsChecked", 1);
    metrics.count(
        "CredentialsInvalid",
        u64::from(verdict.severity == Severity::Critical),
    );
    for finding in assessment.findings.iter().cloned() {
        report.push_finding(finding);
    }
    report.push_finding(verdict);
    report
        .details
        .secrets
        .insert(assessment.name.clone(), assessment.detail.clone());
    report.details.trigger = Some(trigger(&secret.name, None));
    Ok(Ran { report, metrics })
}

/// The verdict on the new value. Pure.
pub fn verdict(
    changed: &SecretChanged,
    assessment: &Assessment,
    rules_known: bool,
    answers: &[(String, RuleAnswer)],
    region: Option<&str>,
) -> Finding {
    let name = assessment.name.as_str();
    let by = format!(
        "{} by {}{}",
        code(changed.call.as_str()),
        code(changed.record.caller.principal()),
        changed
            .record
            .event_time
            .as_deref()
            .map(|time| format!(" at {}", code(time)))
            .unwrap_or_default()
    );
    // A rotation function finishes after `RotateSecret` returns: the current version read here
    // may still be the old one.
    let rotating = if changed.call == RegistryCall::RotateSecret {
        "; a rotation function may still be writing the new version (the current one was checked)"
    } else {
        ""
    };
    let refused: Vec<String> = answers
        .iter()
        .filter_map(|(prefix, answer)| match answer {
            RuleAnswer::Refused { failure } => Some(match failure {
                Some(failure) => format!("`{prefix}` ({})", code(failure)),
                None => format!("`{prefix}`"),
            }),
            _ => None,
        })
        .collect();
    let failed: Vec<String> = answers
        .iter()
        .filter_map(|(prefix, answer)| match answer {
            RuleAnswer::CallFailed { error } => Some(format!("`{prefix}` ({})", code(error))),
            _ => None,
        })
        .collect();
    let secret_id = if assessment.detail.arn.is_empty() {
        name
    } else {
        assessment.detail.arn.as_str()
    };
    if assessment.invalid || !refused.is_empty() {
        let why = if !refused.is_empty() {
            format!(
                "the upstream refuses it: ECR could not log in for {}",
                refused.join(", ")
            )
        } else {
            "the new value is not what ECR reads (see the format finding)".to_owned()
        };
        let mut finding = Finding::new(
            Severity::Critical,
            Check::CredentialRotation,
            name,
            format!("the new value of `{name}` does not work"),
            format!(
                "{by} gave it a value, and {why}: new images through its rules fail to pull until it is fixed{rotating}"
            ),
        )
        .with_next_step(format!(
            "put a working value: `{}`",
            put_secret_value_command(secret_id, region)
        ));
        for (prefix, _) in answers {
            finding = finding.with_next_step(format!(
                "then check: `{}`",
                validate_rule_command(prefix, region)
            ));
        }
        return finding.with_resource_arn(secret_id);
    }
    let unverified = if assessment.unreadable {
        Some("it could not be read (see the finding on reading it); the schedule checks it again")
    } else if assessment.detail.scheduled_for_deletion_at.is_some() {
        Some("the secret is scheduled for deletion, so its value was not read (see the finding on its deletion)")
    } else {
        None
    };
    if let Some(why) = unverified {
        return Finding::new(
            Severity::Warning,
            Check::CredentialRotation,
            name,
            format!("the new value of `{name}` could not be verified"),
            format!("{by} gave it a value, but {why}"),
        )
        .with_resource_arn(secret_id);
    }
    let validated: Vec<String> = answers
        .iter()
        .filter(|(_, answer)| *answer == RuleAnswer::Valid)
        .map(|(prefix, _)| format!("`{prefix}`"))
        .collect();
    let rules = match (validated.len(), answers.len()) {
        (_, 0) if !rules_known => {
            "no rule was validated with it: the rules could not be listed".to_owned()
        }
        (_, 0) => "no rule uses it yet".to_owned(),
        (1, _) => format!("ECR validated rule {} with it", validated.join(", ")),
        (0, _) => "no rule could be validated".to_owned(),
        _ => format!("ECR validated rules {} with it", validated.join(", ")),
    };
    let unvalidated = if failed.is_empty() {
        String::new()
    } else {
        format!(
            "; the validation of {} could not be asked",
            failed.join(", ")
        )
    };
    let expiry = match (&assessment.detail.expires_at, assessment.detail.days_left) {
        (Some(at), Some(days)) => format!("; the token expires on {} (in {days} days)", code(at)),
        (Some(at), None) => format!("; the token expires on {}", code(at)),
        _ if assessment.detail.never_expires => "; the token does not expire".to_owned(),
        _ => "; its expiry is not known".to_owned(),
    };
    // A tag is written by hand, and a new token rarely expires on the old one's date.
    let from_tag = if assessment.detail.expiry_source == Some(ExpirySource::Tag) {
        " (from the expiry tag: if the new token expires on another date, update the tag)"
    } else {
        ""
    };
    Finding::new(
        Severity::Info,
        Check::CredentialRotation,
        name,
        format!("rotation of `{name}` verified"),
        format!("{by} gave it a new value: it is well-formed and {rules}{unvalidated}{expiry}{from_tag}{rotating}"),
    )
    .with_resource_arn(secret_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_credentials::SecretDetail;
    use crate::events::{CallRecord, Caller};
    use crate::test_cases::named_cases;

    const ARN: &str =
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/ghcr-AbCdEf";

    fn assessment(invalid: bool, unreadable: bool, expiry: Option<ExpirySource>) -> Assessment {
        Assessment {
            name: "ecr-pullthroughcache/ghcr".to_owned(),
            findings: Vec::new(),
            detail: SecretDetail {
                arn: ARN.to_owned(),
                rules: vec!["ghcr".to_owned()],
                upstreams: vec!["ghcr.io".to_owned()],
                expires_at: expiry.map(|_| "2027-03-06T00:00:00Z".to_owned()),
                never_expires: false,
                expiry_source: expiry,
                days_left: expiry.map(|_| 90),
                age_days: Some(0),
                scheduled_for_deletion_at: None,
                expiry_written_back: None,
                findings: 0,
                highest_severity: None,
            },
            expiring_soon: false,
            invalid,
            orphaned: false,
            unreadable,
            without_expiry: expiry.is_none(),
            too_old: false,
        }
    }

    fn changed(call: RegistryCall) -> SecretChanged {
        SecretChanged {
            call,
            secret_id: "ecr-pullthroughcache/ghcr".to_owned(),
            record: CallRecord {
                caller: Caller {
                    arn: Some("arn:aws:iam::123456789012:user/bob".to_owned()),
                    ..Caller::default()
                },
                event_time: Some("2025-06-04T15:31:08Z".to_owned()),
                event_id: None,
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_verdict(
        _case: &str,
        call: RegistryCall,
        assessment: Assessment,
        rules_known: bool,
        answers: &[(&str, RuleAnswer)],
        severity: Severity,
        title_has: &str,
        message_has: &[&str],
        message_lacks: &[&str],
    ) {
        let answers: Vec<(String, RuleAnswer)> = answers
            .iter()
            .map(|(prefix, answer)| ((*prefix).to_owned(), answer.clone()))
            .collect();
        let finding = verdict(
            &changed(call),
            &assessment,
            rules_known,
            &answers,
            Some("eu-west-1"),
        );
        assert_eq!(finding.severity, severity, "{finding:#?}");
        assert_eq!(finding.check, Check::CredentialRotation);
        assert_eq!(finding.resource, "ecr-pullthroughcache/ghcr");
        assert_eq!(finding.resource_arn.as_deref(), Some(ARN));
        assert!(finding.title.contains(title_has), "{}", finding.title);
        for fragment in message_has {
            assert!(
                finding.message.contains(fragment),
                "{:?} lacks {fragment:?}",
                finding.message
            );
        }
        for fragment in message_lacks {
            assert!(
                !finding.message.contains(fragment),
                "{:?} has {fragment:?}",
                finding.message
            );
        }
    }

    named_cases! {
        /// The verdict on a new value: verified with what is known, or what does not work.
        mod verdicts => check_verdict;
        verified_with_the_tag_expiry(
            RegistryCall::PutSecretValue,
            assessment(false, false, Some(ExpirySource::Tag)),
            true,
            &[("ghcr", RuleAnswer::Valid)],
            Severity::Info,
            "rotation of `ecr-pullthroughcache/ghcr` verified",
            &["`PutSecretValue` by `arn:aws:iam::123456789012:user/bob`", "ECR validated rule `ghcr`", "expires on `2027-03-06T00:00:00Z` (in 90 days)", "update the tag"],
            &["rotation function"],
        ),
        verified_with_a_discovered_expiry(
            RegistryCall::PutSecretValue,
            assessment(false, false, Some(ExpirySource::Github)),
            true,
            &[("ghcr", RuleAnswer::Valid)],
            Severity::Info,
            "verified",
            &["(in 90 days)"],
            &["update the tag"],
        ),
        verified_without_expiry_nor_rules(
            RegistryCall::PutSecretValue,
            assessment(false, false, None),
            true,
            &[],
            Severity::Info,
            "verified",
            &["no rule uses it yet", "its expiry is not known"],
            &[],
        ),
        verified_but_one_validation_not_asked(
            RegistryCall::UpdateSecret,
            assessment(false, false, None),
            true,
            &[("ghcr", RuleAnswer::Valid), ("ghcr-mirror", RuleAnswer::CallFailed { error: "ThrottlingException".to_owned() })],
            Severity::Info,
            "verified",
            &["ECR validated rule `ghcr`", "the validation of `ghcr-mirror` (`ThrottlingException`) could not be asked"],
            &[],
        ),
        a_rotation_function_may_still_run(
            RegistryCall::RotateSecret,
            assessment(false, false, None),
            true,
            &[("ghcr", RuleAnswer::Valid)],
            Severity::Info,
            "verified",
            &["a rotation function may still be writing the new version"],
            &[],
        ),
        refused_by_the_upstream(
            RegistryCall::PutSecretValue,
            assessment(false, false, Some(ExpirySource::Tag)),
            true,
            &[("ghcr", RuleAnswer::Refused { failure: Some("Unable to authenticate".to_owned()) })],
            Severity::Critical,
            "the new value of `ecr-pullthroughcache/ghcr` does not work",
            &["the upstream refuses it", "`ghcr` (`Unable to authenticate`)"],
            &["verified"],
        ),
        malformed(
            RegistryCall::PutSecretValue,
            assessment(true, false, None),
            true,
            &[],
            Severity::Critical,
            "does not work",
            &["not what ECR reads"],
            &[],
        ),
        rules_not_listed(
            RegistryCall::PutSecretValue,
            assessment(false, false, None),
            false,
            &[],
            Severity::Info,
            "verified",
            &["no rule was validated with it: the rules could not be listed"],
            &["no rule uses it yet"],
        ),
        scheduled_for_deletion(
            RegistryCall::UpdateSecret,
            Assessment {
                detail: SecretDetail {
                    scheduled_for_deletion_at: Some("2025-06-11T00:00:00Z".to_owned()),
                    ..assessment(false, false, None).detail
                },
                ..assessment(false, false, None)
            },
            true,
            &[],
            Severity::Warning,
            "could not be verified",
            &["scheduled for deletion"],
            &["verified"],
        ),
        unreadable(
            RegistryCall::PutSecretValue,
            assessment(false, true, None),
            true,
            &[],
            Severity::Warning,
            "could not be verified",
            &["could not be read"],
            &[],
        ),
    }
}
