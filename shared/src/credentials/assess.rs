//! From what was observed about one secret to its findings and its line in the report. Pure.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::discovery::Discovered;
use super::expiry::{
    age_days, days_left, is_too_old, parse_expiry_tag, ExpirySource, ExpiryStatus, KnownExpiry,
    Thresholds,
};
use super::format::{FormatAssessment, FormatProblem};
use crate::aws::AwsErrorKind;
use crate::domain::{CacheRule, Check, Finding, SecretMetadata, Severity, UpstreamKind};
use crate::remedies::{
    delete_secret_command, describe_secret_command, put_secret_value_command,
    restore_secret_command, tag_secret_expiry_command, token_instructions,
    update_rule_credential_command,
};

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

/// Judges one secret.
pub fn assess(
    observed: &Observed<'_>,
    thresholds: Thresholds,
    guidance: Guidance<'_>,
    now: DateTime<Utc>,
) -> Assessment {
    let secret = observed.secret;
    let name = secret.name.as_str();
    let rules: &[&CacheRule] = observed.rules.as_deref().unwrap_or(&[]);
    let kinds = upstream_kinds(rules);
    let steps = Steps {
        name,
        kinds: &kinds,
        guidance,
    };
    let in_use = !rules.is_empty();
    let mut findings = Vec::new();
    let mut assessment = empty_assessment(secret, rules);
    let age = secret
        .last_changed_at
        .or(secret.created_at)
        .map(|since| age_days(since, now));
    assessment.detail.age_days = age;

    // Use.
    if let Some(deletion) = secret.deletion_date {
        if in_use {
            findings.push(
                finding(
                    Severity::Critical,
                    Check::CredentialUse,
                    secret,
                    format!("credential secret `{name}` is scheduled for deletion but {} still use it", rule_list(rules)),
                    format!(
                        "Secrets Manager deletes it on {}; from then on ECR cannot log in to {} and new images stop being cached",
                        deletion.format("%Y-%m-%d"),
                        upstream_list(&kinds)
                    ),
                )
                .with_next_step(format!(
                    "to keep it: `{}`",
                    restore_secret_command(name, guidance.region)
                ))
                .with_next_steps(rules.iter().map(|rule| {
                    format!(
                        "or point rule `{}` at another secret: `{}`",
                        rule.prefix,
                        update_rule_credential_command(&rule.prefix, "<new secret ARN>", guidance.region)
                    )
                })),
            );
        }
        // A secret on its way out is not read (Secrets Manager refuses) nor judged further.
        return finish(assessment, findings);
    }
    if observed.rules.is_some() && !in_use {
        assessment.orphaned = true;
        findings.push(
            finding(
                Severity::Info,
                Check::CredentialUse,
                secret,
                format!("credential secret `{name}` is not used by any pull-through cache rule"),
                "no rule's `credentialArn` names it; a secret costs money every month and an unused token is one more credential that can leak",
            )
            .with_next_step(format!(
                "if a rule should use it: `{}`",
                update_rule_credential_command("<prefix>", &secret.arn, guidance.region)
            ))
            .with_next_step(format!(
                "otherwise revoke the token at the upstream and delete the secret: `{}`",
                delete_secret_command(name, guidance.region)
            )),
        );
    }

    // Format.
    match &observed.value {
        ValueReading::Skipped => {}
        ValueReading::Failed { kind, message } => {
            assessment.unreadable = true;
            let step = match kind {
                AwsErrorKind::AccessDenied => format!(
                    "allow `secretsmanager:GetSecretValue` on `{}` in the function's role; a secret under a customer managed key also needs `kms:Decrypt` on that key: list its ARN in the stack parameter `SecretKmsKeyArns`",
                    secret.arn
                ),
                AwsErrorKind::Throttled | AwsErrorKind::Timeout | AwsErrorKind::Transport => {
                    "nothing to do when it is rare: the next run checks the secret again".to_owned()
                }
                _ => format!(
                    "check the secret: `{}`",
                    describe_secret_command(name, guidance.region)
                ),
            };
            findings.push(
                finding(
                    Severity::Warning,
                    Check::CredentialFormat,
                    secret,
                    format!("value of credential secret `{name}` could not be read"),
                    format!(
                        "`secretsmanager:GetSecretValue` failed ({}): {message}; its format and expiry are unchecked",
                        kind.as_str()
                    ),
                )
                .with_next_step(step),
            );
        }
        ValueReading::Read(format) => {
            let severity = if in_use || observed.rules.is_none() {
                Severity::Critical
            } else {
                Severity::Warning
            };
            for problem in &format.problems {
                assessment.invalid = true;
                let cost = if in_use {
                    format!("; {} cannot pull new images", rule_list(rules))
                } else {
                    String::new()
                };
                let mut fix = Vec::new();
                if matches!(problem, FormatProblem::Whitespace { .. }) {
                    fix.push(format!(
                        "store the same token without the surrounding whitespace: {}",
                        put_secret_value_command(name, guidance.region)
                    ));
                } else {
                    fix.extend(steps.rotation());
                }
                findings.push(
                    finding(
                        severity,
                        Check::CredentialFormat,
                        secret,
                        format!("credential secret `{name}` {}", problem.title()),
                        format!("{}{cost}", problem.explanation()),
                    )
                    .with_next_steps(fix),
                );
            }
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
        TagReading::Invalid(text) => findings.push(
            finding(
                Severity::Warning,
                Check::CredentialExpiry,
                secret,
                format!("expiry tag of credential secret `{name}` is not a date"),
                format!(
                    "tag `{}` holds `{text}`; expected `YYYY-MM-DD` or RFC 3339 (`2026-05-01T00:00:00Z`), so the expiry is unknown and no warning comes before the token stops working",
                    guidance.expiry_tag
                ),
            )
            .with_next_step(steps.tag_command()),
        ),
        TagReading::Missing => {}
    }
    if known.is_none() {
        match &observed.discovered {
            Some(Discovered::Expiry(expiry)) => known = Some(*expiry),
            Some(Discovered::Rejected { source }) => {
                dead = true;
                assessment.invalid = true;
                findings.push(
                    finding(
                        Severity::Critical,
                        Check::CredentialExpiry,
                        secret,
                        format!("upstream refuses the token in credential secret `{name}`"),
                        format!(
                            "{} answered `401 Unauthorized` to the stored token: it has expired, was revoked or is wrong{}",
                            source_label(*source),
                            if in_use { format!(", so {} cannot pull new images", rule_list(rules)) } else { String::new() }
                        ),
                    )
                    .with_next_steps(steps.rotation()),
                );
            }
            Some(Discovered::Inactive { reason, .. }) => {
                dead = true;
                assessment.invalid = true;
                findings.push(
                    finding(
                        Severity::Critical,
                        Check::CredentialExpiry,
                        secret,
                        format!("token in credential secret `{name}` no longer works"),
                        format!(
                            "{reason}{}",
                            if in_use { format!("; {} cannot pull new images", rule_list(rules)) } else { String::new() }
                        ),
                    )
                    .with_next_steps(steps.rotation()),
                );
            }
            Some(Discovered::Unknown {
                source,
                severity,
                reason,
            }) => findings.push(
                finding(
                    *severity,
                    Check::CredentialExpiry,
                    secret,
                    format!(
                        "expiry of credential secret `{name}` could not be read from {}",
                        source_label(*source)
                    ),
                    format!("{reason}; the expiry stays unknown until the upstream answers or the tag records it"),
                )
                .with_next_step(steps.tag_command()),
            ),
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
            assessment.detail.expires_at = Some(rfc3339(at));
            assessment.detail.expiry_source = Some(source);
            assessment.detail.days_left = Some(days);
            assessment.expiring_soon = status.is_due();
            if let Some(severity) = status.severity() {
                let date = at.format("%Y-%m-%d");
                let (title, cost) = if status == ExpiryStatus::Expired {
                    (
                        format!("token in credential secret `{name}` expired on {date}"),
                        "the upstream refuses it".to_owned(),
                    )
                } else {
                    (
                        format!(
                            "token in credential secret `{name}` expires in {days} {} ({date})",
                            if days == 1 { "day" } else { "days" }
                        ),
                        "then the upstream refuses it".to_owned(),
                    )
                };
                let users = if in_use {
                    format!(" and {} can no longer cache new images", rule_list(rules))
                } else {
                    String::new()
                };
                findings.push(
                    finding(
                        severity,
                        Check::CredentialExpiry,
                        secret,
                        title,
                        format!("expiry from {}; {cost}{users}", source_label(source)),
                    )
                    .with_next_steps(steps.rotation()),
                );
            }
        }
        Some(KnownExpiry { at: None, source }) => {
            assessment.detail.never_expires = true;
            assessment.detail.expiry_source = Some(source);
        }
        None if !dead => {
            assessment.without_expiry = true;
            findings.push(
                finding(
                    Severity::Info,
                    Check::CredentialExpiry,
                    secret,
                    format!("expiry of the token in credential secret `{name}` is not known"),
                    format!(
                        "Secrets Manager has no expiry field and the secret has no `{}` tag{}; without it the token can stop working without warning",
                        guidance.expiry_tag,
                        if observed.discovered.is_some() { "" } else { " and no upstream was asked (`credentials.discover_expiry` is off, or the rule's upstream cannot tell)" }
                    ),
                )
                .with_next_step(format!(
                    "look up the token's expiry at the upstream and record it: {}",
                    steps.tag_command()
                )),
            );
        }
        None => {}
    }

    // Age, when no expiry date is known.
    let has_date = assessment.detail.expires_at.is_some();
    if let Some(age) = age.filter(|age| !has_date && !dead && is_too_old(*age, thresholds)) {
        assessment.too_old = true;
        findings.push(
            finding(
                Severity::Warning,
                Check::CredentialAge,
                secret,
                format!("credential secret `{name}` has not changed for {age} days"),
                format!(
                    "no expiry date is known and the value is older than `max_age_days` ({}); upstream tokens typically expire after a year",
                    thresholds.max_age_days
                ),
            )
            .with_next_steps(steps.rotation()),
        );
    }

    match &observed.write_back {
        WriteBack::NotAsked => {}
        WriteBack::Written(value) => assessment.detail.expiry_written_back = Some(value.clone()),
        WriteBack::Failed(reason) => findings.push(
            finding(
                Severity::Warning,
                Check::CredentialExpiry,
                secret,
                format!("discovered expiry could not be stored on credential secret `{name}`"),
                format!("`secretsmanager:TagResource` failed: {reason}"),
            )
            .with_next_step(format!(
                "allow `secretsmanager:TagResource` on `{}` in the function's role, or turn `credentials.write_back` off",
                secret.arn
            )),
        ),
    }

    finish(assessment, findings)
}

/// A secret whose check did not finish before the invocation deadline.
pub fn unfinished(secret: &SecretMetadata, rules: &[&CacheRule]) -> Assessment {
    let name = secret.name.as_str();
    let assessment = empty_assessment(secret, rules);
    let finding = finding(
        Severity::Warning,
        Check::CredentialExpiry,
        secret,
        format!("check of credential secret `{name}` did not finish in time"),
        "the invocation deadline came before the secret (or its upstream) answered; it stays unchecked until the next run",
    )
    .with_next_step("raise the function's timeout if this repeats, or turn `credentials.discover_expiry` off when the upstream is out of reach");
    finish(assessment, vec![finding])
}

fn empty_assessment(secret: &SecretMetadata, rules: &[&CacheRule]) -> Assessment {
    Assessment {
        name: secret.name.clone(),
        findings: Vec::new(),
        detail: SecretDetail {
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
        },
        expiring_soon: false,
        invalid: false,
        orphaned: false,
        unreadable: false,
        without_expiry: false,
        too_old: false,
    }
}

fn finish(mut assessment: Assessment, findings: Vec<Finding>) -> Assessment {
    assessment.detail.findings = findings.len();
    assessment.detail.highest_severity = findings.iter().map(|finding| finding.severity).max();
    assessment.findings = findings;
    assessment
}

fn finding(
    severity: Severity,
    check: Check,
    secret: &SecretMetadata,
    title: String,
    message: impl Into<String>,
) -> Finding {
    let finding = Finding::new(severity, check, secret.name.clone(), title, message);
    if secret.arn.is_empty() {
        finding
    } else {
        finding.with_resource_arn(secret.arn.clone())
    }
}

/// The next steps every finding about a token shares.
struct Steps<'a> {
    name: &'a str,
    kinds: &'a [UpstreamKind],
    guidance: Guidance<'a>,
}

impl Steps<'_> {
    /// Regenerate at the upstream, store in place (the ARN stays, so rules keep working), then
    /// record the new expiry.
    fn rotation(&self) -> Vec<String> {
        let mut steps: Vec<String> = if self.kinds.is_empty() {
            vec![token_instructions(&UpstreamKind::Other(String::new())).to_owned()]
        } else {
            self.kinds
                .iter()
                .map(|kind| {
                    if self.kinds.len() == 1 {
                        token_instructions(kind).to_owned()
                    } else {
                        format!("{}: {}", kind.as_str(), token_instructions(kind))
                    }
                })
                .collect()
        };
        steps.push(format!(
            "store it in the same secret, so the ARN and the rules stay unchanged: {}",
            put_secret_value_command(self.name, self.guidance.region)
        ));
        steps.push(format!(
            "record the new token's expiry: {}",
            self.tag_command()
        ));
        steps
    }

    fn tag_command(&self) -> String {
        tag_command(self.name, self.guidance)
    }
}

/// The exact command that records a token's expiry on its secret.
pub fn tag_command(secret_name: &str, guidance: Guidance<'_>) -> String {
    tag_secret_expiry_command(secret_name, guidance.expiry_tag, guidance.region)
}

fn upstream_kinds(rules: &[&CacheRule]) -> Vec<UpstreamKind> {
    let mut kinds: Vec<UpstreamKind> = Vec::new();
    for rule in rules {
        if !kinds.contains(&rule.upstream) {
            kinds.push(rule.upstream.clone());
        }
    }
    kinds
}

fn rule_list(rules: &[&CacheRule]) -> String {
    let names: Vec<String> = rules
        .iter()
        .map(|rule| format!("`{}`", rule.prefix))
        .collect();
    match names.len() {
        1 => format!("rule {}", names[0]),
        _ => format!("rules {}", names.join(", ")),
    }
}

fn upstream_list(kinds: &[UpstreamKind]) -> String {
    if kinds.is_empty() {
        return "the upstream".to_owned();
    }
    kinds
        .iter()
        .map(|kind| format!("`{}`", kind.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn source_label(source: ExpirySource) -> &'static str {
    match source {
        ExpirySource::Tag => "the expiry tag",
        ExpirySource::Github => "GitHub",
        ExpirySource::Gitlab => "GitLab",
        ExpirySource::DockerHub => "Docker Hub",
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Duration;

    use super::*;
    use crate::credentials::format::check_format;
    use crate::domain::{SecretValue, ROOT_PREFIX};

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
        CacheRule {
            prefix: prefix.into(),
            upstream_registry_url: "registry-1.docker.io".into(),
            upstream: UpstreamKind::DockerHub,
            credential_arn: credential_arn.map(str::to_owned),
            custom_role_arn: None,
            upstream_repository_prefix: ROOT_PREFIX.into(),
            registry_id: None,
            created_at: None,
            updated_at: None,
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

    #[test]
    fn grades_expiry_age_and_use() {
        use Check::*;
        use Severity::*;
        let hub = rule("docker-hub", Some(ARN));
        let used = || Some(vec![&hub]);
        let table: Vec<(SecretMetadata, Vec<(Severity, Check)>)> = vec![
            (
                secret(Some(date_in(3)), 10),
                vec![(Critical, CredentialExpiry)],
            ),
            (
                secret(Some(date_in(20)), 10),
                vec![(Warning, CredentialExpiry)],
            ),
            (secret(Some(date_in(200)), 10), vec![]),
            // A known date wins over age.
            (secret(Some(date_in(200)), 500), vec![]),
            (
                secret(Some(date_in(-2)), 10),
                vec![(Critical, CredentialExpiry)],
            ),
            (
                secret(Some("end of May".into()), 10),
                vec![(Warning, CredentialExpiry), (Info, CredentialExpiry)],
            ),
            (
                secret(None, 400),
                vec![(Info, CredentialExpiry), (Warning, CredentialAge)],
            ),
            (secret(None, 10), vec![(Info, CredentialExpiry)]),
        ];
        for (secret, expected) in table {
            check(&secret, used(), valid_value(), None, &expected);
        }

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

    #[test]
    fn grades_what_the_upstream_said() {
        use Check::*;
        use Severity::*;
        let hub = rule("docker-hub", Some(ARN));
        let github = ExpirySource::Github;
        for (discovered, expected) in [
            (
                Discovered::Expiry(KnownExpiry {
                    at: Some(now() + Duration::days(5)),
                    source: github,
                }),
                vec![(Critical, CredentialExpiry)],
            ),
            (
                Discovered::Expiry(KnownExpiry {
                    at: None,
                    source: github,
                }),
                vec![],
            ),
            (
                Discovered::Rejected { source: github },
                vec![(Critical, CredentialExpiry)],
            ),
            (
                Discovered::Inactive {
                    source: ExpirySource::Gitlab,
                    reason: "revoked",
                },
                vec![(Critical, CredentialExpiry)],
            ),
            (
                Discovered::Unknown {
                    source: github,
                    severity: Warning,
                    reason: "`https://api.github.com/user`: no answer within 3 s".into(),
                },
                vec![(Warning, CredentialExpiry), (Info, CredentialExpiry)],
            ),
        ] {
            check(
                &secret(None, 10),
                Some(vec![&hub]),
                valid_value(),
                Some(discovered),
                &expected,
            );
        }
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

    #[test]
    fn maps_rules_to_secrets() {
        let full = ARN;
        let partial =
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/hub";
        for (reference, matches) in [
            (full, true),
            (partial, true),
            // Another secret whose name starts the same way.
            ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/h", false),
            // Same name, an earlier secret (other random suffix).
            ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/hub-XyZ987", false),
            // Same name, another account.
            ("arn:aws:secretsmanager:eu-west-1:210987654321:secret:ecr-pullthroughcache/hub", false),
            ("", false),
        ] {
            assert_eq!(references_secret(reference, full), matches, "{reference}");
        }
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
        for (entry, requested) in [
            ("ecr-pullthroughcache/hub", true),
            (full, true),
            (partial, true),
            ("ecr-pullthroughcache/hu", false),
            ("hub", false),
        ] {
            assert_eq!(is_requested(entry, &secret), requested, "{entry}");
        }
    }
}
