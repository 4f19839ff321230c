//! Chat-ready alerts: findings at or above the configured severity become AWS Chatbot custom
//! notifications (Chatbot admin guide, custom-notifs.html), one message per resource per run.
//!
//! Every text field chat renders (`title`, `description`, `nextSteps`, `summary`) goes through
//! [`for_chat`]: a finding's code spans still render, and nothing a value from outside the
//! product holds (a rule description, a tag value, a caller, an upstream message) can become a
//! link, a mention, a heading or emphasis. Reports and the CLI keep the findings as written.
//!
//! Pure: this module builds messages; an [`crate::ports::AlertSink`] sends them (the SNS topic
//! in a deployment).

pub mod repeats;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::domain::markdown::{code, defuse, for_chat, truncate_for_chat};
use crate::domain::secret::scrub;
use crate::domain::{Check, Finding, Severity};
use crate::ports::Alert;

/// SNS `Subject`: at most 100 ASCII characters, no line breaks.
pub const MAX_SUBJECT_CHARS: usize = 100;
/// Chat shows a few screens at most; the report keeps everything.
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;
/// A title is a line or two in chat.
pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_NEXT_STEPS: usize = 8;
pub const MAX_NEXT_STEP_CHARS: usize = 1_000;
/// SNS accepts 256 KiB per message (attributes included); stay far below it.
pub const MAX_MESSAGE_BYTES: usize = 200 * 1024;

const PRODUCT: &str = "ecr-ptc-ops";

/// Where the alerts of a run come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSource {
    pub function: String,
    pub region: Option<String>,
}

/// Builds the alerts of a run: findings at or above `min_severity` (and the verdict on a
/// rotated credential, which answers someone's change whatever its severity), grouped by
/// resource, most severe first within a group, groups in resource order (deterministic output).
/// A rotation verdict is an alert of its own, so that it is never held back with the other
/// findings of its secret (see [`repeats::key`]).
pub fn build_alerts(
    source: &AlertSource,
    findings: &[Finding],
    min_severity: Severity,
) -> Vec<Alert> {
    let mut by_resource: BTreeMap<(&str, bool), Vec<&Finding>> = BTreeMap::new();
    for finding in findings.iter().filter(|finding| {
        finding.severity >= min_severity || finding.check == Check::CredentialRotation
    }) {
        by_resource
            .entry((
                finding.resource.as_str(),
                finding.check == Check::CredentialRotation,
            ))
            .or_default()
            .push(finding);
    }
    by_resource
        .into_iter()
        .map(|((resource, _), mut group)| {
            // Stable sort keeps the run's order among findings of the same severity.
            group.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
            build_alert(source, resource, &group)
        })
        .collect()
}

fn build_alert(source: &AlertSource, resource: &str, group: &[&Finding]) -> Alert {
    let lead = group[0];
    let severity = lead.severity;
    let more = group.len() - 1;
    let lead_title = truncate_for_chat(&for_chat(&lead.title), MAX_TITLE_CHARS);
    let title = if more == 0 {
        format!("{} {lead_title}", severity_label(severity))
    } else {
        format!("{} {lead_title} (+{more} more)", severity_label(severity))
    };
    let description = truncate_for_chat(&describe(group), MAX_DESCRIPTION_CHARS);
    let next_steps = collect_next_steps(group);
    let thread_id = format!("{PRODUCT}/{resource}");
    let mut keywords: Vec<String> = vec![severity.to_string()];
    for finding in group {
        let check = finding.check.to_string();
        if !keywords.contains(&check) {
            keywords.push(check);
        }
    }
    let related_resources: Vec<&str> = group
        .iter()
        .filter_map(|finding| finding.resource_arn.as_deref())
        .fold(Vec::new(), |mut unique, arn| {
            if !unique.contains(&arn) {
                unique.push(arn);
            }
            unique
        });
    let mut additional_context = serde_json::Map::new();
    additional_context.insert("function".into(), json!(source.function));
    additional_context.insert("resource".into(), json!(defuse(resource)));
    additional_context.insert("severity".into(), json!(severity));
    if let Some(region) = &source.region {
        additional_context.insert("region".into(), json!(region));
    }
    let notification = json!({
        "version": "1.0",
        "source": "custom",
        "id": uuid::Uuid::new_v4().to_string(),
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": description,
            "nextSteps": next_steps,
            "keywords": keywords,
        },
        "metadata": {
            "threadId": thread_id,
            "summary": truncate_for_chat(&lead_title, 200),
            "eventType": lead.check.as_str(),
            "relatedResources": related_resources,
            "additionalContext": Value::Object(additional_context),
        }
    });
    let message = scrub(&fit_message(notification));
    Alert {
        resource: resource.to_owned(),
        severity,
        check: lead.check,
        subject: subject_line(severity, &lead.title),
        message,
        thread_id,
    }
}

fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "[CRITICAL]",
        Severity::Warning => "[WARNING]",
        Severity::Info => "[INFO]",
    }
}

/// The findings' own text through [`for_chat`]; only the bullets and severities around it are
/// this module's Markdown.
fn describe(group: &[&Finding]) -> String {
    if let [only] = group {
        return for_chat(&only.message);
    }
    group
        .iter()
        .map(|finding| {
            format!(
                "• *{}* `{}`: {}. {}",
                finding.severity,
                finding.check,
                for_chat(&finding.title),
                for_chat(&finding.message)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn collect_next_steps(group: &[&Finding]) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    for step in group.iter().flat_map(|finding| finding.next_steps.iter()) {
        let step = truncate_for_chat(&chat_step(step), MAX_NEXT_STEP_CHARS);
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    steps.truncate(MAX_NEXT_STEPS);
    steps
}

/// A next step that is a bare command (the AWS CLI's or `ptc`'s) is shown as one code span, so
/// it is copied as it is, placeholders and JSON included; any other step is prose with its own
/// code spans.
fn chat_step(step: &str) -> String {
    let bare_command =
        !step.contains('`') && (step.starts_with("aws ") || step.starts_with("ptc "));
    if bare_command {
        for_chat(&code(step))
    } else {
        for_chat(step)
    }
}

/// Serializes the notification, shortening the description until it fits the SNS budget
/// (only reachable with pathological next steps or titles).
fn fit_message(mut notification: Value) -> String {
    loop {
        let text = notification.to_string();
        if text.len() <= MAX_MESSAGE_BYTES {
            return text;
        }
        let description = &mut notification["content"]["description"];
        let current = description.as_str().unwrap_or_default().to_owned();
        let keep = current.chars().count() / 2;
        let shorter = truncate_for_chat(&current, keep);
        // Below the length of the truncation mark, cutting no longer shortens anything.
        if keep == 0 || shorter == current {
            notification["content"]["nextSteps"] = json!([]);
            return notification.to_string();
        }
        *description = json!(shorter);
    }
}

/// SNS subject: printable ASCII only, one line, at most 100 characters.
pub fn subject_line(severity: Severity, title: &str) -> String {
    let raw = format!("{} {}", severity_label(severity), scrub(title));
    let ascii: String = raw
        .chars()
        .map(|character| match character {
            ' '..='~' => character,
            '\n' | '\r' | '\t' => ' ',
            _ => '?',
        })
        .collect();
    let collapsed = ascii.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.len() <= MAX_SUBJECT_CHARS {
        collapsed
    } else {
        format!("{}...", &collapsed[..MAX_SUBJECT_CHARS - 3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Check, SecretValue};
    use crate::test_cases::named_cases;

    fn source() -> AlertSource {
        AlertSource {
            function: "validate-cache-rules".into(),
            region: Some("eu-west-1".into()),
        }
    }

    fn finding(severity: Severity, check: Check, resource: &str, title: &str) -> Finding {
        Finding::new(
            severity,
            check,
            resource,
            title,
            format!("{title}, because reasons"),
        )
    }

    /// (findings, min severity) → expected (resource, severity, check) per alert.
    fn check(findings: &[Finding], min_severity: Severity, expected: &[(&str, Severity, Check)]) {
        let alerts = build_alerts(&source(), findings, min_severity);
        let got: Vec<(&str, Severity, Check)> = alerts
            .iter()
            .map(|alert| (alert.resource.as_str(), alert.severity, alert.check))
            .collect();
        assert_eq!(got, expected);
        for alert in &alerts {
            let message: Value = serde_json::from_str(&alert.message).expect("message is JSON");
            assert_eq!(message["version"], "1.0");
            assert_eq!(message["source"], "custom");
            assert_eq!(message["content"]["textType"], "client-markdown");
            assert!(message["content"]["title"]
                .as_str()
                .is_some_and(|t| !t.is_empty()));
            assert_eq!(
                message["metadata"]["threadId"],
                format!("ecr-ptc-ops/{}", alert.resource)
            );
            assert!(alert.subject.len() <= MAX_SUBJECT_CHARS && alert.subject.is_ascii());
        }
    }

    #[test]
    fn groups_and_filters_findings() {
        use Check::*;
        use Severity::*;
        let rule_invalid = finding(
            Critical,
            RuleValidation,
            "docker-hub",
            "rule `docker-hub` is invalid",
        );
        let secret_missing = finding(Critical, RuleSecret, "docker-hub", "secret is gone");
        let orphan = finding(
            Info,
            CredentialUse,
            "ecr-pullthroughcache/old",
            "unused secret",
        );
        let expiring = finding(
            Warning,
            CredentialExpiry,
            "ecr-pullthroughcache/ghcr",
            "token expires in 20 days",
        );
        check(&[], Info, &[]);
        check(std::slice::from_ref(&orphan), Warning, &[]);
        check(
            std::slice::from_ref(&orphan),
            Info,
            &[("ecr-pullthroughcache/old", Info, CredentialUse)],
        );
        check(
            &[
                expiring.clone(),
                rule_invalid.clone(),
                secret_missing.clone(),
                orphan.clone(),
            ],
            Warning,
            &[
                ("docker-hub", Critical, RuleValidation),
                ("ecr-pullthroughcache/ghcr", Warning, CredentialExpiry),
            ],
        );
        check(std::slice::from_ref(&expiring), Critical, &[]);
        // The most severe finding leads its group, whatever the order found.
        let warning_first = finding(
            Warning,
            RepositoryHardening,
            "docker-hub/library/nginx",
            "immutable tags",
        );
        let critical_second = finding(
            Critical,
            HardeningFailure,
            "docker-hub/library/nginx",
            "access denied",
        );
        check(
            &[warning_first, critical_second],
            Info,
            &[("docker-hub/library/nginx", Critical, HardeningFailure)],
        );
    }

    #[test]
    fn one_message_per_resource_carries_every_finding_and_step() {
        let findings = vec![
            finding(
                Severity::Critical,
                Check::RuleValidation,
                "ghcr",
                "rule `ghcr` is invalid",
            )
            .with_next_step(
                "aws secretsmanager put-secret-value --secret-id ecr-pullthroughcache/ghcr",
            )
            .with_resource_arn("arn:aws:ecr:eu-west-1:123456789012:repository/ghcr"),
            finding(
                Severity::Warning,
                Check::CredentialExpiry,
                "ghcr",
                "token expires soon",
            )
            .with_next_step(
                "aws secretsmanager put-secret-value --secret-id ecr-pullthroughcache/ghcr",
            )
            .with_next_step(
                "aws ecr validate-pull-through-cache-rule --ecr-repository-prefix ghcr",
            ),
        ];
        let alerts = build_alerts(&source(), &findings, Severity::Info);
        assert_eq!(alerts.len(), 1);
        let message: Value = serde_json::from_str(&alerts[0].message).expect("JSON");
        assert_eq!(
            message["content"]["title"],
            "[CRITICAL] rule `ghcr` is invalid (+1 more)"
        );
        let description = message["content"]["description"]
            .as_str()
            .expect("description");
        assert!(
            description.contains("rule `ghcr` is invalid")
                && description.contains("token expires soon")
        );
        assert_eq!(
            message["content"]["nextSteps"],
            // Bare commands are code, copied as they are.
            json!([
                "`aws secretsmanager put-secret-value --secret-id ecr-pullthroughcache/ghcr`",
                "`aws ecr validate-pull-through-cache-rule --ecr-repository-prefix ghcr`"
            ])
        );
        assert_eq!(
            message["metadata"]["relatedResources"],
            json!(["arn:aws:ecr:eu-west-1:123456789012:repository/ghcr"])
        );
        assert_eq!(
            message["content"]["keywords"],
            json!(["critical", "rule-validation", "credential-expiry"])
        );
    }

    /// The subject line of a critical alert titled `title` is `expected`.
    fn check_subject(name: &str, title: &str, expected: &str) {
        assert_eq!(subject_line(Severity::Critical, title), expected, "{name}");
    }

    named_cases! {
        /// Subjects are ASCII single lines led by the severity.
        mod subjects_are_ascii_single_lines => check_subject;
        plain_title("rule `k8s` is invalid", "[CRITICAL] rule `k8s` is invalid"),
        line_break_becomes_a_space("line one\nline two", "[CRITICAL] line one line two"),
        non_ascii_becomes_question_marks("café ☕ expired", "[CRITICAL] caf? ? expired"),
    }

    #[test]
    fn subjects_are_short() {
        let long = "x".repeat(300);
        let subject = subject_line(Severity::Warning, &long);
        assert_eq!(subject.len(), MAX_SUBJECT_CHARS);
        assert!(subject.ends_with("..."));
    }

    #[test]
    fn huge_findings_still_fit_in_one_message() {
        let findings: Vec<Finding> = (0..500)
            .map(|index| {
                Finding::new(
                    Severity::Critical,
                    Check::Prewarm,
                    "prewarm",
                    format!("image {index} failed"),
                    "y".repeat(2_000),
                )
                .with_next_step("z".repeat(5_000))
            })
            .collect();
        let alerts = build_alerts(&source(), &findings, Severity::Info);
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].message.len() <= MAX_MESSAGE_BYTES);
        let message: Value = serde_json::from_str(&alerts[0].message).expect("JSON");
        let description = message["content"]["description"]
            .as_str()
            .expect("description");
        assert!(description.chars().count() <= MAX_DESCRIPTION_CHARS);
        assert!(description.ends_with("(truncated, see the report)"));
    }

    #[test]
    fn a_title_longer_than_a_message_is_cut_and_the_message_still_built() {
        let finding = Finding::new(
            Severity::Critical,
            Check::Prewarm,
            "prewarm",
            "t".repeat(300 * 1024),
            "short",
        )
        .with_next_step("z".repeat(900));
        let alerts = build_alerts(&source(), &[finding], Severity::Info);
        assert!(alerts[0].message.len() <= MAX_MESSAGE_BYTES);
        let message: Value = serde_json::from_str(&alerts[0].message).expect("JSON");
        let title = message["content"]["title"].as_str().expect("title");
        assert!(title.chars().count() <= MAX_TITLE_CHARS + "[CRITICAL] ".len());
        assert!(title.ends_with("(truncated, see the report)"), "{title}");
    }

    #[test]
    fn secret_values_never_reach_the_message() {
        let token = SecretValue::new("ghp_AlertsMustNotLeakThis123");
        // A careless caller formats the token into every text field.
        let finding = Finding::new(
            Severity::Critical,
            Check::CredentialFormat,
            "ecr-pullthroughcache/ghcr",
            format!("token {} has whitespace", token.expose()),
            format!("value was {}", token.expose()),
        )
        .with_next_step(format!("echo {}", token.expose()));
        let alerts = build_alerts(&source(), &[finding], Severity::Info);
        assert!(!alerts[0].message.contains(token.expose()));
        assert!(!alerts[0].subject.contains(token.expose()));
        let message: Value = serde_json::from_str(&alerts[0].message).expect("JSON");
        // Scrubbed before escaping: chat shows `***` (written `\*\*\*` in Markdown).
        assert_eq!(message["content"]["description"], r"value was \*\*\*");
    }

    /// Every field chat renders goes through `for_chat`, with one finding or several.
    #[test]
    fn outside_text_reaches_no_chat_field_as_markdown() {
        let hostile = "[x](https://evil.example) @here <!channel>";
        let finding = |title: &str| {
            Finding::new(
                Severity::Warning,
                Check::RepositoryHardening,
                "docker-hub/library/nginx",
                format!("{title} `{hostile}`"),
                format!("rule 1 ({hostile}) was removed"),
            )
            .with_next_step(format!("restore {hostile} by hand"))
        };
        for group in [vec![finding("one")], vec![finding("one"), finding("two")]] {
            let alerts = build_alerts(&source(), &group, Severity::Info);
            let message: Value = serde_json::from_str(&alerts[0].message).expect("JSON");
            let mut fields = vec![
                &message["content"]["title"],
                &message["content"]["description"],
                &message["metadata"]["summary"],
            ];
            fields.extend(message["content"]["nextSteps"].as_array().expect("steps"));
            for field in fields {
                let text = field.as_str().expect("text field");
                let constructs: Vec<_> = pulldown_cmark::Parser::new(text)
                    .filter(|event| {
                        matches!(
                            event,
                            pulldown_cmark::Event::Start(
                                pulldown_cmark::Tag::Link { .. }
                                    | pulldown_cmark::Tag::Heading { .. }
                                    | pulldown_cmark::Tag::HtmlBlock
                            ) | pulldown_cmark::Event::InlineHtml(_)
                                | pulldown_cmark::Event::Html(_)
                        )
                    })
                    .collect();
                assert!(constructs.is_empty(), "{constructs:?} in {text:?}");
                for pattern in ["https://", "@here", "<!channel>"] {
                    assert!(
                        !text.contains(pattern),
                        "{} findings: `{pattern}` in {text:?}",
                        group.len()
                    );
                }
            }
        }
    }
}
