//! From what was observed about one secret to its problems ([`judge`]: the decisions) and
//! then to its findings (`findings`: the words) and its line in the report. Pure.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::expiry::{
    age_days, days_left, is_too_old, parse_expiry_tag, ExpirySource, ExpiryStatus, KnownExpiry,
    Thresholds,
};
use super::format::{FormatAssessment, FormatProblem};
use super::token_expiry::Discovered;
use crate::domain::{CacheRule, Check, Finding, SecretMetadata, Severity, UpstreamKind};
use crate::ports::AwsErrorKind;

/// Whether a rule's `credentialArn` names this secret. Full ARNs end with `-` and six random
/// characters; a partial ARN (without them) names the secret too.
pub fn references_secret(reference: &str, secret_arn: &str) -> bool {
    if reference.is_empty() || secret_arn.is_empty() {
        return false;
    }
    reference == secret_arn
        || secret_arn
            .strip_prefix(reference)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|suffix| {
                suffix.len() == 6 && suffix.bytes().all(|byte| byte.is_ascii_alphanumeric())
            })
}

/// The rules whose credential is this secret, in rule order.
pub fn rules_using<'rules>(
    secret: &SecretMetadata,
    rules: &'rules [CacheRule],
) -> Vec<&'rules CacheRule> {
    rules
        .iter()
        .filter(|rule| {
            rule.credential_arn
                .as_deref()
                .is_some_and(|reference| references_secret(reference, &secret.arn))
        })
        .collect()
}

/// Whether a `{"secrets": […]}` entry (a name, a full or a partial ARN) names this secret.
pub fn is_requested(entry: &str, secret: &SecretMetadata) -> bool {
    entry == secret.name || references_secret(entry, &secret.arn)
}

/// What the expiry tag holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagReading {
    Missing,
    Valid(DateTime<Utc>),
    /// The tag's text (a tag is metadata, never a secret).
    Invalid(String),
}

impl TagReading {
    pub fn of(secret: &SecretMetadata, tag_key: &str) -> Self {
        match secret.tags.get(tag_key) {
            None => TagReading::Missing,
            Some(text) => parse_expiry_tag(text)
                .map(TagReading::Valid)
                .unwrap_or_else(|| TagReading::Invalid(text.clone())),
        }
    }
}

/// What reading the value gave.
#[derive(Debug, Clone)]
pub enum ValueReading {
    /// Not read: the secret is scheduled for deletion (Secrets Manager refuses to read it).
    Skipped,
    /// `GetSecretValue` failed after retries; `message` comes from the AWS error, never the value.
    Failed {
        kind: AwsErrorKind,
        message: String,
    },
    Read(FormatAssessment),
}

/// A discovered expiry stored in the tag, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteBack {
    NotAsked,
    Written(String),
    Failed(String),
}

/// Everything observed about one secret.
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    pub secret: &'a SecretMetadata,
    /// The rules that use it; `None` when the rules could not be listed.
    pub rules: Option<Vec<&'a CacheRule>>,
    pub value: ValueReading,
    pub tag: TagReading,
    pub discovered: Option<Discovered>,
    pub write_back: WriteBack,
}

/// What the next steps need to know beyond the secret.
#[derive(Debug, Clone, Copy)]
pub struct Guidance<'a> {
    pub region: Option<&'a str>,
    pub expiry_tag: &'a str,
}

/// One secret's line of the report's `secrets` section.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SecretDetail {
    pub arn: String,
    /// Prefixes of the rules that use it.
    pub rules: Vec<String>,
    pub upstreams: Vec<String>,
    pub expires_at: Option<String>,
    /// A source said the token never expires.
    pub never_expires: bool,
    pub expiry_source: Option<ExpirySource>,
    pub days_left: Option<i64>,
    /// Days since the value last changed.
    pub age_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_for_deletion_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_written_back: Option<String>,
    pub findings: usize,
    pub highest_severity: Option<Severity>,
}

/// The verdict on one secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub name: String,
    pub findings: Vec<Finding>,
    pub detail: SecretDetail,
    /// Known expiry within `warn_days`, or past.
    pub expiring_soon: bool,
    /// ECR cannot log in with it as stored: bad format, or the upstream refuses the token.
    pub invalid: bool,
    pub orphaned: bool,
    pub unreadable: bool,
    pub without_expiry: bool,
    pub too_old: bool,
}

/// What is wrong with one secret. Decided by [`judge`] without a word of prose; the titles,
/// messages and next steps are written in one place, `findings`.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// Scheduled for deletion while rules still use it.
    DeletionWhileInUse { deletion: DateTime<Utc> },
    /// No rule's `credentialArn` names it.
    Unused,
    /// `GetSecretValue` failed after retries; `message` comes from the AWS error.
    Unreadable { kind: AwsErrorKind, message: String },
    /// The value is not what ECR reads (critical when a rule uses it, or the rules are unknown).
    BadFormat {
        problem: FormatProblem,
        severity: Severity,
    },
    /// The expiry tag holds no date (a tag is metadata, never a secret).
    ExpiryTagNotADate { text: String },
    /// The upstream answered `401` to the token.
    TokenRejected { source: ExpirySource },
    /// The upstream knows the token and says it no longer works.
    TokenInactive { reason: String },
    /// The upstream was asked and could not tell the expiry.
    ExpiryUnreadable {
        source: ExpirySource,
        severity: Severity,
        reason: String,
    },
    /// A known expiry is within the warning window, or past.
    ExpiryDue {
        at: DateTime<Utc>,
        days_left: i64,
        source: ExpirySource,
        expired: bool,
        severity: Severity,
    },
    /// No expiry is known.
    ExpiryUnknown { upstream_asked: bool },
    /// No expiry date is known and the value is older than `max_age_days`.
    TooOld { age_days: i64, max_age_days: u32 },
    /// The discovered expiry could not be stored as the tag.
    WriteBackFailed { reason: String },
    /// The invocation deadline came before the check finished.
    Unfinished,
}

impl Problem {
    pub fn severity(&self) -> Severity {
        match self {
            Problem::DeletionWhileInUse { .. }
            | Problem::TokenRejected { .. }
            | Problem::TokenInactive { .. } => Severity::Critical,
            Problem::BadFormat { severity, .. }
            | Problem::ExpiryUnreadable { severity, .. }
            | Problem::ExpiryDue { severity, .. } => *severity,
            Problem::Unreadable { .. }
            | Problem::ExpiryTagNotADate { .. }
            | Problem::TooOld { .. }
            | Problem::WriteBackFailed { .. }
            | Problem::Unfinished => Severity::Warning,
            Problem::Unused | Problem::ExpiryUnknown { .. } => Severity::Info,
        }
    }

    pub fn check(&self) -> Check {
        match self {
            Problem::DeletionWhileInUse { .. } | Problem::Unused => Check::CredentialUse,
            Problem::Unreadable { .. } | Problem::BadFormat { .. } => Check::CredentialFormat,
            Problem::TooOld { .. } => Check::CredentialAge,
            Problem::ExpiryTagNotADate { .. }
            | Problem::TokenRejected { .. }
            | Problem::TokenInactive { .. }
            | Problem::ExpiryUnreadable { .. }
            | Problem::ExpiryDue { .. }
            | Problem::ExpiryUnknown { .. }
            | Problem::WriteBackFailed { .. }
            | Problem::Unfinished => Check::CredentialExpiry,
        }
    }

    /// ECR cannot log in with the secret as stored: bad format, or the upstream refuses it.
    pub(super) fn makes_invalid(&self) -> bool {
        matches!(
            self,
            Problem::BadFormat { .. }
                | Problem::TokenRejected { .. }
                | Problem::TokenInactive { .. }
        )
    }
}

/// The decisions about one secret: its problems, in the order they were found, and its line
/// of the report (without the finding counts, which come with the words).
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub problems: Vec<Problem>,
    pub detail: SecretDetail,
    /// Known expiry within `warn_days`, or past.
    pub expiring_soon: bool,
}

/// Decides what is wrong with one secret. Pure, and no prose: see [`Problem`].
pub fn judge(observed: &Observed<'_>, thresholds: Thresholds, now: DateTime<Utc>) -> Judgement {
    let secret = observed.secret;
    let rules: &[&CacheRule] = observed.rules.as_deref().unwrap_or(&[]);
    let in_use = !rules.is_empty();
    let mut problems = Vec::new();
    let mut detail = empty_detail(secret, rules);
    let mut expiring_soon = false;
    let age = secret
        .last_changed_at
        .or(secret.created_at)
        .map(|since| age_days(since, now));
    detail.age_days = age;

    // Use.
    if let Some(deletion) = secret.deletion_date {
        if in_use {
            problems.push(Problem::DeletionWhileInUse { deletion });
        }
        // A secret on its way out is not read (Secrets Manager refuses) nor judged further.
        return Judgement {
            problems,
            detail,
            expiring_soon,
        };
    }
    if observed.rules.is_some() && !in_use {
        problems.push(Problem::Unused);
    }

    // Format.
    match &observed.value {
        ValueReading::Skipped => {}
        ValueReading::Failed { kind, message } => problems.push(Problem::Unreadable {
            kind: *kind,
            message: message.clone(),
        }),
        ValueReading::Read(format) => {
            let severity = if in_use || observed.rules.is_none() {
                Severity::Critical
            } else {
                Severity::Warning
            };
            problems.extend(format.problems.iter().map(|problem| Problem::BadFormat {
                problem: problem.clone(),
                severity,
            }));
        }
    }

    // Expiry: the tag, else the upstream, else unknown.
    let mut known: Option<KnownExpiry> = None;
    let mut dead = false;
    match &observed.tag {
        TagReading::Valid(at) => {
            known = Some(KnownExpiry {
                at: Some(*at),
                source: ExpirySource::Tag,
            })
        }
        TagReading::Invalid(text) => {
            problems.push(Problem::ExpiryTagNotADate { text: text.clone() })
        }
        TagReading::Missing => {}
    }
    if known.is_none() {
        match &observed.discovered {
            Some(Discovered::Expiry(expiry)) => known = Some(*expiry),
            Some(Discovered::Rejected { source }) => {
                dead = true;
                problems.push(Problem::TokenRejected { source: *source });
            }
            Some(Discovered::Inactive { reason, .. }) => {
                dead = true;
                problems.push(Problem::TokenInactive {
                    reason: (*reason).to_owned(),
                });
            }
            Some(Discovered::Unknown {
                source,
                severity,
                reason,
            }) => problems.push(Problem::ExpiryUnreadable {
                source: *source,
                severity: *severity,
                reason: reason.clone(),
            }),
            None => {}
        }
    }
    match known {
        Some(KnownExpiry {
            at: Some(at),
            source,
        }) => {
            let days = days_left(at, now);
            let status = ExpiryStatus::of(at, now, thresholds);
            detail.expires_at = Some(rfc3339(at));
            detail.expiry_source = Some(source);
            detail.days_left = Some(days);
            expiring_soon = status.is_due();
            if let Some(severity) = status.severity() {
                problems.push(Problem::ExpiryDue {
                    at,
                    days_left: days,
                    source,
                    expired: status == ExpiryStatus::Expired,
                    severity,
                });
            }
        }
        Some(KnownExpiry { at: None, source }) => {
            detail.never_expires = true;
            detail.expiry_source = Some(source);
        }
        None if !dead => problems.push(Problem::ExpiryUnknown {
            upstream_asked: observed.discovered.is_some(),
        }),
        None => {}
    }

    // Age, when no expiry date is known.
    let has_date = detail.expires_at.is_some();
    if let Some(age) = age.filter(|age| !has_date && !dead && is_too_old(*age, thresholds)) {
        problems.push(Problem::TooOld {
            age_days: age,
            max_age_days: thresholds.max_age_days,
        });
    }

    match &observed.write_back {
        WriteBack::NotAsked => {}
        WriteBack::Written(value) => detail.expiry_written_back = Some(value.clone()),
        WriteBack::Failed(reason) => problems.push(Problem::WriteBackFailed {
            reason: reason.clone(),
        }),
    }

    Judgement {
        problems,
        detail,
        expiring_soon,
    }
}

pub(super) fn empty_detail(secret: &SecretMetadata, rules: &[&CacheRule]) -> SecretDetail {
    SecretDetail {
        arn: secret.arn.clone(),
        rules: rules.iter().map(|rule| rule.prefix.clone()).collect(),
        upstreams: upstream_kinds(rules)
            .iter()
            .map(|kind| kind.as_str().to_owned())
            .collect(),
        expires_at: None,
        never_expires: false,
        expiry_source: None,
        days_left: None,
        age_days: None,
        scheduled_for_deletion_at: secret.deletion_date.map(rfc3339),
        expiry_written_back: None,
        findings: 0,
        highest_severity: None,
    }
}

/// The upstream kinds of `rules`, each once, in rule order.
pub(super) fn upstream_kinds(rules: &[&CacheRule]) -> Vec<UpstreamKind> {
    let mut kinds: Vec<UpstreamKind> = Vec::new();
    for rule in rules {
        if !kinds.contains(&rule.upstream) {
            kinds.push(rule.upstream.clone());
        }
    }
    kinds
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::super::findings::assess;
    use std::collections::BTreeMap;

    use chrono::Duration;

    use super::*;
    use crate::check_credentials::format::check_format;
    use crate::domain::SecretValue;
    use crate::test_cases::named_cases;

    const ARN: &str =
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/hub-AbC12z";
    const TOKEN: &str = "dckr_pat_assess-table-0001";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
            .map(|time| time.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn secret(tag: Option<String>, age_days: i64) -> SecretMetadata {
        let mut tags = BTreeMap::new();
        if let Some(tag) = tag {
            tags.insert("ptc-ops:expires-at".to_owned(), tag);
        }
        SecretMetadata {
            name: "ecr-pullthroughcache/hub".into(),
            arn: ARN.into(),
            created_at: Some(now() - Duration::days(age_days)),
            last_changed_at: Some(now() - Duration::days(age_days)),
            last_rotated_at: None,
            last_accessed_at: None,
            deletion_date: None,
            rotation_enabled: false,
            next_rotation_at: None,
            tags,
        }
    }

    fn rule(prefix: &str, credential_arn: Option<&str>) -> CacheRule {
        let rule = CacheRule::new(prefix, "registry-1.docker.io");
        match credential_arn {
            Some(arn) => rule.with_credential(arn),
            None => rule,
        }
    }

    fn valid_value() -> ValueReading {
        ValueReading::Read(check_format(&SecretValue::new(format!(
            r#"{{"username":"ptc","accessToken":"{TOKEN}"}}"#
        ))))
    }

    fn date_in(days: i64) -> String {
        (now() + Duration::days(days))
            .format("%Y-%m-%d")
            .to_string()
    }

    /// Runs `assess` and compares (severity, check) of each finding, in order.
    fn check(
        secret: &SecretMetadata,
        rules: Option<Vec<&CacheRule>>,
        value: ValueReading,
        discovered: Option<Discovered>,
        expected: &[(Severity, Check)],
    ) -> Assessment {
        let observed = Observed {
            secret,
            rules,
            value,
            tag: TagReading::of(secret, "ptc-ops:expires-at"),
            discovered,
            write_back: WriteBack::NotAsked,
        };
        let thresholds = Thresholds {
            warn_days: 30,
            critical_days: 7,
            max_age_days: 365,
        };
        let guidance = Guidance {
            region: Some("eu-west-1"),
            expiry_tag: "ptc-ops:expires-at",
        };
        let assessment = assess(&observed, thresholds, guidance, now());
        let got: Vec<(Severity, Check)> = assessment
            .findings
            .iter()
            .map(|finding| (finding.severity, finding.check))
            .collect();
        assert_eq!(got, expected, "{:#?}", assessment.findings);
        for finding in &assessment.findings {
            assert_eq!(finding.resource, secret.name);
            assert!(!finding.next_steps.is_empty(), "{finding:?}");
            let text = serde_json::to_string(finding).unwrap_or_default();
            assert!(!text.contains(TOKEN), "{text}");
        }
        assessment
    }

    /// The Docker Hub rule using the secret.
    fn hub() -> CacheRule {
        rule("docker-hub", Some(ARN))
    }

    /// A secret ten days old, scheduled for deletion in seven days.
    fn deleted() -> SecretMetadata {
        let mut deleted = secret(None, 10);
        deleted.deletion_date = Some(now() + Duration::days(7));
        deleted
    }

    /// The decisions alone, without the words: `judge` finds the `expected` problems, in
    /// order, for `secret` used by `rules`, after the upstream answered `discovered`.
    fn check_judgement(
        name: &str,
        secret: SecretMetadata,
        rules: Option<Vec<&CacheRule>>,
        discovered: Option<Discovered>,
        expected: Vec<Problem>,
    ) {
        let thresholds = Thresholds {
            warn_days: 30,
            critical_days: 7,
            max_age_days: 365,
        };
        let observed = Observed {
            secret: &secret,
            rules,
            value: valid_value(),
            tag: TagReading::of(&secret, "ptc-ops:expires-at"),
            discovered,
            write_back: WriteBack::NotAsked,
        };
        let judgement = judge(&observed, thresholds, now());
        assert_eq!(judgement.problems, expected, "{name}");
    }

    named_cases! {
        /// Each case gives the problems `judge` finds, in order, before they are worded.
        mod judges_problems_before_wording_them => check_judgement;
        deletion_while_in_use_stops_the_checks(
            deleted(),
            Some(vec![&hub()]),
            None,
            vec![Problem::DeletionWhileInUse {
                deletion: now() + Duration::days(7),
            }],
        ),
        deletion_when_unused_is_no_problem(deleted(), Some(vec![]), None, vec![]),
        unused_and_without_expiry(
            secret(None, 10),
            Some(vec![]),
            None,
            vec![
                Problem::Unused,
                Problem::ExpiryUnknown {
                    upstream_asked: false,
                },
            ],
        ),
        rejected_token_hides_the_age(
            secret(None, 400),
            Some(vec![&hub()]),
            Some(Discovered::Rejected {
                source: ExpirySource::DockerHub,
            }),
            vec![Problem::TokenRejected {
                source: ExpirySource::DockerHub,
            }],
        ),
        old_and_undated(
            secret(None, 400),
            Some(vec![&hub()]),
            None,
            vec![
                Problem::ExpiryUnknown {
                    upstream_asked: false,
                },
                Problem::TooOld {
                    age_days: 400,
                    max_age_days: 365,
                },
            ],
        ),
        tag_within_the_critical_window(
            secret(Some(date_in(3)), 400),
            Some(vec![&hub()]),
            None,
            vec![Problem::ExpiryDue {
                at: now()
                    .date_naive()
                    .and_hms_opt(0, 0, 0)
                    .map(|at| at.and_utc())
                    .unwrap_or_default()
                    + Duration::days(3),
                // 2.5 days left, counted up: the day it expires is a day left.
                days_left: 3,
                source: ExpirySource::Tag,
                expired: false,
                severity: Severity::Critical,
            }],
        ),
    }

    /// `secret`, used by the Docker Hub rule and holding a valid value, is graded with the
    /// `expected` findings.
    fn check_grade(_name: &str, secret: SecretMetadata, expected: Vec<(Severity, Check)>) {
        check(&secret, Some(vec![&hub()]), valid_value(), None, &expected);
    }

    named_cases! {
        /// A used secret with a valid value is graded by its expiry tag, else by its age.
        mod grades_expiry_and_age => check_grade;
        expiring_in_three_days_is_critical(
            secret(Some(date_in(3)), 10),
            vec![(Severity::Critical, Check::CredentialExpiry)],
        ),
        expiring_in_twenty_days_is_a_warning(
            secret(Some(date_in(20)), 10),
            vec![(Severity::Warning, Check::CredentialExpiry)],
        ),
        expiring_in_two_hundred_days_is_fine(secret(Some(date_in(200)), 10), vec![]),
        /// A known date wins over age.
        known_date_wins_over_age(secret(Some(date_in(200)), 500), vec![]),
        expired_two_days_ago_is_critical(
            secret(Some(date_in(-2)), 10),
            vec![(Severity::Critical, Check::CredentialExpiry)],
        ),
        unreadable_tag_is_a_warning(
            secret(Some("end of May".into()), 10),
            vec![
                (Severity::Warning, Check::CredentialExpiry),
                (Severity::Info, Check::CredentialExpiry),
            ],
        ),
        undated_and_too_old(
            secret(None, 400),
            vec![
                (Severity::Info, Check::CredentialExpiry),
                (Severity::Warning, Check::CredentialAge),
            ],
        ),
        undated_and_young(
            secret(None, 10),
            vec![(Severity::Info, Check::CredentialExpiry)],
        ),
    }

    #[test]
    fn grades_expiry_age_and_use() {
        use Check::*;
        use Severity::*;
        let hub = rule("docker-hub", Some(ARN));
        let used = || Some(vec![&hub]);
        let three_days = check(
            &secret(Some(date_in(3)), 10),
            used(),
            valid_value(),
            None,
            &[(Critical, CredentialExpiry)],
        );
        assert_eq!(three_days.detail.days_left, Some(3));
        assert_eq!(three_days.detail.expiry_source, Some(ExpirySource::Tag));
        assert!(three_days.expiring_soon);
        assert_eq!(three_days.findings[0].next_steps.len(), 3);
        assert!(three_days.findings[0].next_steps[1]
            .contains("aws secretsmanager put-secret-value --secret-id ecr-pullthroughcache/hub --region eu-west-1"));
        assert!(three_days.findings[0].next_steps[2].contains(
            "aws secretsmanager tag-resource --secret-id ecr-pullthroughcache/hub --region eu-west-1 --tags Key=ptc-ops:expires-at,Value=YYYY-MM-DD"
        ));

        // Orphan, deletion while in use, deletion unused.
        check(
            &secret(Some(date_in(200)), 10),
            Some(vec![]),
            valid_value(),
            None,
            &[(Info, CredentialUse)],
        );
        let mut deleting = secret(None, 10);
        deleting.deletion_date = Some(now() + Duration::days(7));
        check(
            &deleting,
            used(),
            ValueReading::Skipped,
            None,
            &[(Critical, CredentialUse)],
        );
        check(&deleting, Some(vec![]), ValueReading::Skipped, None, &[]);
        // Rules unknown: no use findings at all.
        check(
            &secret(Some(date_in(200)), 10),
            None,
            valid_value(),
            None,
            &[],
        );

        // Format: critical in use, warning when unused.
        let password = || {
            ValueReading::Read(check_format(&SecretValue::new(format!(
                r#"{{"username":"ptc","password":"{TOKEN}"}}"#
            ))))
        };
        let in_use = check(
            &secret(Some(date_in(200)), 10),
            used(),
            password(),
            None,
            &[(Critical, CredentialFormat), (Critical, CredentialFormat)],
        );
        assert!(in_use.invalid);
        check(
            &secret(Some(date_in(200)), 10),
            Some(vec![]),
            password(),
            None,
            &[
                (Info, CredentialUse),
                (Warning, CredentialFormat),
                (Warning, CredentialFormat),
            ],
        );
        check(
            &secret(Some(date_in(200)), 10),
            used(),
            ValueReading::Failed {
                kind: AwsErrorKind::AccessDenied,
                message: "AccessDeniedException: not authorized".into(),
            },
            None,
            &[(Warning, CredentialFormat)],
        );
    }

    /// An undated secret used by the Docker Hub rule is graded by the upstream's answer
    /// `discovered`, with the `expected` findings.
    fn check_upstream_grade(_name: &str, discovered: Discovered, expected: Vec<(Severity, Check)>) {
        check(
            &secret(None, 10),
            Some(vec![&hub()]),
            valid_value(),
            Some(discovered),
            &expected,
        );
    }

    named_cases! {
        /// What the upstream said about the token decides its grade.
        mod grades_what_the_upstream_said => check_upstream_grade;
        expires_in_five_days_is_critical(
            Discovered::Expiry(KnownExpiry {
                at: Some(now() + Duration::days(5)),
                source: ExpirySource::Github,
            }),
            vec![(Severity::Critical, Check::CredentialExpiry)],
        ),
        never_expires_is_fine(
            Discovered::Expiry(KnownExpiry {
                at: None,
                source: ExpirySource::Github,
            }),
            vec![],
        ),
        rejected_is_critical(
            Discovered::Rejected {
                source: ExpirySource::Github,
            },
            vec![(Severity::Critical, Check::CredentialExpiry)],
        ),
        inactive_is_critical(
            Discovered::Inactive {
                source: ExpirySource::Gitlab,
                reason: "revoked",
            },
            vec![(Severity::Critical, Check::CredentialExpiry)],
        ),
        no_answer_is_a_warning(
            Discovered::Unknown {
                source: ExpirySource::Github,
                severity: Severity::Warning,
                reason: "`https://api.github.com/user`: no answer within 3 s".into(),
            },
            vec![
                (Severity::Warning, Check::CredentialExpiry),
                (Severity::Info, Check::CredentialExpiry),
            ],
        ),
    }

    #[test]
    fn a_never_expiring_token_falls_under_the_age_policy() {
        use Check::*;
        use Severity::*;
        let hub = hub();
        let github = ExpirySource::Github;
        // A never-expiring token still falls under the age policy.
        let old = check(
            &secret(None, 400),
            Some(vec![&hub]),
            valid_value(),
            Some(Discovered::Expiry(KnownExpiry {
                at: None,
                source: github,
            })),
            &[(Warning, CredentialAge)],
        );
        assert!(old.detail.never_expires);
    }

    /// The ARN of the Docker Hub secret without its random suffix, as a rule may name it.
    const PARTIAL_ARN: &str =
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/hub";

    /// A rule's credential `reference` names the Docker Hub secret, or not.
    fn check_reference(name: &str, reference: &str, matches: bool) {
        assert_eq!(
            references_secret(reference, ARN),
            matches,
            "{name}: {reference}"
        );
    }

    named_cases! {
        /// Which credential ARNs of a rule name the secret.
        mod rule_references_name_the_secret => check_reference;
        full_arn(ARN, true),
        arn_without_the_random_suffix(PARTIAL_ARN, true),
        /// Another secret whose name starts the same way.
        another_secret_with_the_same_start(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/h",
            false,
        ),
        /// Same name, an earlier secret (other random suffix).
        same_name_other_random_suffix(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/hub-XyZ987",
            false,
        ),
        same_name_another_account(
            "arn:aws:secretsmanager:eu-west-1:210987654321:secret:ecr-pullthroughcache/hub",
            false,
        ),
        empty("", false),
    }

    #[test]
    fn maps_rules_to_secrets() {
        let full = ARN;
        let partial = PARTIAL_ARN;
        let rules = vec![
            rule("docker-hub", Some(full)),
            rule("docker-hub-team", Some(partial)),
            rule("k8s", None),
            rule("ghcr", Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/ghcr-Qq1234")),
        ];
        let secret = secret(None, 1);
        let using: Vec<&str> = rules_using(&secret, &rules)
            .iter()
            .map(|rule| rule.prefix.as_str())
            .collect();
        assert_eq!(using, ["docker-hub", "docker-hub-team"]);
    }

    /// The requested `entry` selects the Docker Hub secret, or not.
    fn check_requested(name: &str, entry: &str, requested: bool) {
        assert_eq!(
            is_requested(entry, &secret(None, 1)),
            requested,
            "{name}: {entry}"
        );
    }

    named_cases! {
        /// Which requested entries select the secret: its name or its ARN, whole.
        mod requested_entries_select_the_secret => check_requested;
        name("ecr-pullthroughcache/hub", true),
        full_arn(ARN, true),
        arn_without_the_random_suffix(PARTIAL_ARN, true),
        start_of_the_name("ecr-pullthroughcache/hu", false),
        end_of_the_name("hub", false),
    }
}
