//! The words of the credential checks: each [`Problem`] of a secret becomes one finding, with
//! its title (what broke and where), its message (why, and what it costs) and its next steps
//! (the commands come from [`crate::remedies`]). Nothing here decides anything: [`judge`]
//! does. Pure.

use super::assess::{
    empty_detail, judge, upstream_kinds, Assessment, Guidance, Judgement, Observed, Problem,
};
use super::expiry::{ExpirySource, Thresholds};
use super::format::FormatProblem;
use chrono::{DateTime, Utc};

use crate::domain::{CacheRule, Finding, SecretMetadata, UpstreamKind};
use crate::ports::AwsErrorKind;
use crate::remedies::{
    delete_secret_command, describe_secret_command, put_secret_value_command,
    restore_secret_command, tag_secret_expiry_command, token_instructions,
    update_rule_credential_command,
};

/// Judges one secret, then words its problems as findings.
pub fn assess(
    observed: &Observed<'_>,
    thresholds: Thresholds,
    guidance: Guidance<'_>,
    now: DateTime<Utc>,
) -> Assessment {
    let judgement = judge(observed, thresholds, now);
    let wording = Wording::new(observed.secret, observed.rules.as_deref(), guidance);
    Assessment::from_judgement(observed.secret, judgement, &wording)
}

/// A secret whose check did not finish before the invocation deadline.
pub fn unfinished(
    secret: &SecretMetadata,
    rules: &[&CacheRule],
    guidance: Guidance<'_>,
) -> Assessment {
    let judgement = Judgement {
        problems: vec![Problem::Unfinished],
        detail: empty_detail(secret, rules),
        expiring_soon: false,
    };
    Assessment::from_judgement(
        secret,
        judgement,
        &Wording::new(secret, Some(rules), guidance),
    )
}

impl Assessment {
    fn from_judgement(
        secret: &SecretMetadata,
        judgement: Judgement,
        wording: &Wording<'_>,
    ) -> Self {
        let Judgement {
            problems,
            mut detail,
            expiring_soon,
        } = judgement;
        let findings: Vec<Finding> = problems
            .iter()
            .map(|problem| wording.finding(problem))
            .collect();
        detail.findings = findings.len();
        detail.highest_severity = findings.iter().map(|finding| finding.severity).max();
        let any = |wanted: fn(&Problem) -> bool| problems.iter().any(wanted);
        Assessment {
            name: secret.name.clone(),
            findings,
            detail,
            expiring_soon,
            invalid: any(Problem::makes_invalid),
            orphaned: any(|problem| matches!(problem, Problem::Unused)),
            unreadable: any(|problem| matches!(problem, Problem::Unreadable { .. })),
            without_expiry: any(|problem| matches!(problem, Problem::ExpiryUnknown { .. })),
            too_old: any(|problem| matches!(problem, Problem::TooOld { .. })),
        }
    }
}

/// What the words of one secret's findings need: the secret, the rules that use it and where
/// the commands run.
pub struct Wording<'a> {
    secret: &'a SecretMetadata,
    rules: &'a [&'a CacheRule],
    kinds: Vec<UpstreamKind>,
    guidance: Guidance<'a>,
}

impl<'a> Wording<'a> {
    /// `rules` is `None` when the rules could not be listed.
    pub fn new(
        secret: &'a SecretMetadata,
        rules: Option<&'a [&'a CacheRule]>,
        guidance: Guidance<'a>,
    ) -> Self {
        let rules = rules.unwrap_or(&[]);
        Wording {
            secret,
            rules,
            kinds: upstream_kinds(rules),
            guidance,
        }
    }

    /// The finding of one problem.
    pub fn finding(&self, problem: &Problem) -> Finding {
        let name = self.secret.name.as_str();
        let region = self.guidance.region;
        let (title, message, next_steps): (String, String, Vec<String>) = match problem {
            Problem::DeletionWhileInUse { deletion } => (
                format!(
                    "credential secret `{name}` is scheduled for deletion but {} still use it",
                    self.rule_list()
                ),
                format!(
                    "Secrets Manager deletes it on {}; from then on ECR cannot log in to {} and new images stop being cached",
                    deletion.format("%Y-%m-%d"),
                    self.upstream_list()
                ),
                std::iter::once(format!(
                    "to keep it: `{}`",
                    restore_secret_command(name, region)
                ))
                .chain(self.rules.iter().map(|rule| {
                    format!(
                        "or point rule `{}` at another secret: `{}`",
                        rule.prefix,
                        update_rule_credential_command(&rule.prefix, "<new secret ARN>", region)
                    )
                }))
                .collect(),
            ),
            Problem::Unused => (
                format!("credential secret `{name}` is not used by any pull-through cache rule"),
                "no rule's `credentialArn` names it; a secret costs money every month and an unused token is one more credential that can leak".to_owned(),
                vec![
                    format!(
                        "if a rule should use it: `{}`",
                        update_rule_credential_command("<prefix>", &self.secret.arn, region)
                    ),
                    format!(
                        "otherwise revoke the token at the upstream and delete the secret: `{}`",
                        delete_secret_command(name, region)
                    ),
                ],
            ),
            Problem::Unreadable { kind, message } => (
                format!("value of credential secret `{name}` could not be read"),
                format!(
                    "`secretsmanager:GetSecretValue` failed ({}): {message}; its format and expiry are unchecked",
                    kind.as_str()
                ),
                vec![match kind {
                    AwsErrorKind::AccessDenied => format!(
                        "allow `secretsmanager:GetSecretValue` on `{}` in the function's role; a secret under a customer managed key also needs `kms:Decrypt` on that key: list its ARN in the stack parameter `SecretKmsKeyArns`",
                        self.secret.arn
                    ),
                    AwsErrorKind::Throttled | AwsErrorKind::Timeout | AwsErrorKind::Transport => {
                        "nothing to do when it is rare: the next run checks the secret again"
                            .to_owned()
                    }
                    _ => format!(
                        "check the secret: `{}`",
                        describe_secret_command(name, region)
                    ),
                }],
            ),
            Problem::BadFormat { problem, .. } => {
                let cost = self.cost(";");
                let fix = if matches!(problem, FormatProblem::Whitespace { .. }) {
                    vec![format!(
                        "store the same token without the surrounding whitespace: {}",
                        put_secret_value_command(name, region)
                    )]
                } else {
                    self.rotation()
                };
                (
                    format!("credential secret `{name}` {}", problem.title()),
                    format!("{}{cost}", problem.explanation()),
                    fix,
                )
            }
            Problem::ExpiryTagNotADate { text } => (
                format!("expiry tag of credential secret `{name}` is not a date"),
                format!(
                    "tag `{}` holds {}; expected `YYYY-MM-DD` or RFC 3339 (`2026-05-01T00:00:00Z`), so the expiry is unknown and no warning comes before the token stops working",
                    self.guidance.expiry_tag,
                    crate::domain::markdown::code(text)
                ),
                vec![self.tag_command()],
            ),
            Problem::TokenRejected { source } => (
                format!("upstream refuses the token in credential secret `{name}`"),
                format!(
                    "{} answered `401 Unauthorized` to the stored token: it has expired, was revoked or is wrong{}",
                    source_label(*source),
                    self.cost(", so")
                ),
                self.rotation(),
            ),
            Problem::TokenInactive { reason } => (
                format!("token in credential secret `{name}` no longer works"),
                format!("{reason}{}", self.cost(";")),
                self.rotation(),
            ),
            Problem::ExpiryUnreadable { source, reason, .. } => (
                format!(
                    "expiry of credential secret `{name}` could not be read from {}",
                    source_label(*source)
                ),
                format!("{reason}; the expiry stays unknown until the upstream answers or the tag records it"),
                vec![self.tag_command()],
            ),
            Problem::ExpiryDue {
                at,
                days_left,
                source,
                expired,
                ..
            } => {
                let date = at.format("%Y-%m-%d");
                let (title, cost) = if *expired {
                    (
                        format!("token in credential secret `{name}` expired on {date}"),
                        "the upstream refuses it",
                    )
                } else {
                    (
                        format!(
                            "token in credential secret `{name}` expires in {days_left} {} ({date})",
                            if *days_left == 1 { "day" } else { "days" }
                        ),
                        "then the upstream refuses it",
                    )
                };
                let users = if self.rules.is_empty() {
                    String::new()
                } else {
                    format!(" and {} can no longer cache new images", self.rule_list())
                };
                (
                    title,
                    format!("expiry from {}; {cost}{users}", source_label(*source)),
                    self.rotation(),
                )
            }
            Problem::ExpiryUnknown { upstream_asked } => (
                format!("expiry of the token in credential secret `{name}` is not known"),
                format!(
                    "Secrets Manager has no expiry field and the secret has no `{}` tag{}; without it the token can stop working without warning",
                    self.guidance.expiry_tag,
                    if *upstream_asked { "" } else { " and no upstream was asked (`credentials.discover_expiry` is off, or the rule's upstream cannot tell)" }
                ),
                vec![format!(
                    "look up the token's expiry at the upstream and record it: {}",
                    self.tag_command()
                )],
            ),
            Problem::TooOld {
                age_days,
                max_age_days,
            } => (
                format!("credential secret `{name}` has not changed for {age_days} days"),
                format!(
                    "no expiry date is known and the value is older than `max_age_days` ({max_age_days}); upstream tokens typically expire after a year"
                ),
                self.rotation(),
            ),
            Problem::WriteBackFailed { reason } => (
                format!("discovered expiry could not be stored on credential secret `{name}`"),
                format!("`secretsmanager:TagResource` failed: {reason}"),
                vec![format!(
                    "allow `secretsmanager:TagResource` on `{}` in the function's role, or turn `credentials.write_back` off",
                    self.secret.arn
                )],
            ),
            Problem::Unfinished => (
                format!("check of credential secret `{name}` did not finish in time"),
                "the invocation deadline came before the secret (or its upstream) answered; it stays unchecked until the next run".to_owned(),
                vec!["raise the function's timeout if this repeats, or turn `credentials.discover_expiry` off when the upstream is out of reach".to_owned()],
            ),
        };
        let finding = Finding::new(
            problem.severity(),
            problem.check(),
            self.secret.name.clone(),
            title,
            message,
        )
        .with_next_steps(next_steps);
        if self.secret.arn.is_empty() {
            finding
        } else {
            finding.with_resource_arn(self.secret.arn.clone())
        }
    }

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
            put_secret_value_command(&self.secret.name, self.guidance.region)
        ));
        steps.push(format!(
            "record the new token's expiry: {}",
            self.tag_command()
        ));
        steps
    }

    /// The exact command that records a token's expiry on this secret.
    fn tag_command(&self) -> String {
        tag_secret_expiry_command(
            &self.secret.name,
            self.guidance.expiry_tag,
            self.guidance.region,
        )
    }

    /// `{joiner} rule `x` cannot pull new images` when a rule uses the secret.
    fn cost(&self, joiner: &str) -> String {
        if self.rules.is_empty() {
            String::new()
        } else {
            format!("{joiner} {} cannot pull new images", self.rule_list())
        }
    }

    fn rule_list(&self) -> String {
        let names: Vec<String> = self
            .rules
            .iter()
            .map(|rule| format!("`{}`", rule.prefix))
            .collect();
        match names.len() {
            1 => format!("rule {}", names[0]),
            _ => format!("rules {}", names.join(", ")),
        }
    }

    fn upstream_list(&self) -> String {
        if self.kinds.is_empty() {
            return "the upstream".to_owned();
        }
        self.kinds
            .iter()
            .map(|kind| format!("`{}`", kind.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn source_label(source: ExpirySource) -> &'static str {
    match source {
        ExpirySource::Tag => "the expiry tag",
        ExpirySource::Github => "GitHub",
        ExpirySource::Gitlab => "GitLab",
        ExpirySource::DockerHub => "Docker Hub",
    }
}
