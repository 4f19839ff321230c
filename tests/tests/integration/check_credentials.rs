//! check-credentials end to end on the emulator, and expiry discovery against local stand-ins
//! for the GitHub, GitLab and Docker Hub APIs.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::types::Tag;
use chrono::Utc;
use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::check_credentials::Request;
use ptc_ops::domain::{Check, Finding, Report, Severity};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::MetricsSink;
use ptc_ops::run::RunContext;
use ptc_ops_tests::invoke;
use ptc_ops_tests::invoke::check_credentials_run as check;
use ptc_ops_tests::{assert_no_token, sample_event, CapturedLogs, Fault, FaultKind, Rows, TestEnv};
use serde_json::{json, Value};

pub(super) const EXPIRY_TAG: &str = "ptc-ops:expires-at";

/// `YYYY-MM-DD` of today (UTC) plus `days`.
pub(super) fn today_plus(days: i64) -> String {
    (Utc::now() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

pub(super) fn context(env: &TestEnv, config: &str) -> Arc<FunctionContext> {
    Arc::new(
        env.function_context("check-credentials", env.config(config))
            .with_metrics_sink(MetricsSink::captured()),
    )
}

pub(super) async fn create_secret(
    env: &TestEnv,
    name: &str,
    value: &str,
    tags: &[(&str, &str)],
) -> String {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(key, value)| Tag::builder().key(*key).value(*value).build())
        .collect();
    env.secrets()
        .create_secret()
        .name(name)
        .secret_string(value)
        .set_tags((!tags.is_empty()).then_some(tags))
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot create secret `{name}`: {error:?}"))
        .arn
        .unwrap_or_else(|| panic!("secret `{name}` has no ARN"))
}

pub(super) fn credential(token: &str) -> String {
    json!({"username": "ptc-user", "accessToken": token}).to_string()
}

pub(super) fn findings_of<'a, D>(report: &'a Report<D>, secret: &str) -> Vec<&'a Finding> {
    report
        .findings
        .iter()
        .filter(|finding| finding.resource == secret)
        .collect()
}

pub(super) fn highest<D>(report: &Report<D>, secret: &str) -> Option<Severity> {
    findings_of(report, secret)
        .iter()
        .map(|finding| finding.severity)
        .max()
}

pub(super) fn assert_no_secret(text: &str, secrets: &[String], what: &str) {
    for secret in secrets {
        let trimmed = secret.trim();
        assert!(
            !text.contains(trimmed),
            "{what} contains a secret value ({} characters)",
            trimmed.len()
        );
    }
}

/// One row of the table: the secret's value and tags, whether a rule uses it, what is expected.
struct Case {
    name: &'static str,
    value: String,
    tags: Vec<(&'static str, String)>,
    with_rule: bool,
    delete: bool,
    highest: Option<Severity>,
    checks: &'static [(Severity, Check)],
}

#[tokio::test]
async fn judges_every_kind_of_secret_and_never_leaks_a_value() {
    let logs = CapturedLogs::install();
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let token = |case: &str| format!("tok-{case}-{unique}");
    // Shorter than the scrubber's minimum: a leak of this one would show even through it.
    let short_token = "Zq9#x".to_owned();
    use Check::*;
    use Severity::*;
    let tag = |days: i64| vec![(EXPIRY_TAG, today_plus(days))];
    let cases = vec![
        Case {
            name: "in-3-days",
            value: credential(&token("a")),
            tags: tag(3),
            with_rule: true,
            delete: false,
            highest: Some(Critical),
            checks: &[(Critical, CredentialExpiry)],
        },
        Case {
            name: "in-20-days",
            value: credential(&token("b")),
            tags: tag(20),
            with_rule: true,
            delete: false,
            highest: Some(Warning),
            checks: &[(Warning, CredentialExpiry)],
        },
        Case {
            name: "in-200-days",
            value: credential(&token("c")),
            tags: tag(200),
            with_rule: true,
            delete: false,
            highest: None,
            checks: &[],
        },
        Case {
            name: "expired",
            value: credential(&token("d")),
            tags: tag(-3),
            with_rule: true,
            delete: false,
            highest: Some(Critical),
            checks: &[(Critical, CredentialExpiry)],
        },
        Case {
            name: "bad-tag",
            value: credential(&token("e")),
            tags: vec![(EXPIRY_TAG, "end of May".into())],
            with_rule: true,
            delete: false,
            highest: Some(Warning),
            checks: &[(Warning, CredentialExpiry), (Info, CredentialExpiry)],
        },
        Case {
            name: "no-tag",
            value: credential(&token("f")),
            tags: vec![],
            with_rule: true,
            delete: false,
            highest: Some(Info),
            checks: &[(Info, CredentialExpiry)],
        },
        Case {
            name: "password-key",
            value: json!({"username": "ptc-user", "password": token("g")}).to_string(),
            tags: tag(200),
            with_rule: true,
            delete: false,
            highest: Some(Critical),
            checks: &[(Critical, CredentialFormat), (Critical, CredentialFormat)],
        },
        Case {
            name: "whitespace",
            value: credential(&format!("{}\n", token("h"))),
            tags: tag(200),
            with_rule: true,
            delete: false,
            highest: Some(Critical),
            checks: &[(Critical, CredentialFormat)],
        },
        Case {
            name: "not-json",
            value: token("i"),
            tags: tag(200),
            with_rule: true,
            delete: false,
            highest: Some(Critical),
            checks: &[(Critical, CredentialFormat)],
        },
        Case {
            name: "orphan",
            value: credential(&token("j")),
            tags: tag(200),
            with_rule: false,
            delete: false,
            highest: Some(Info),
            checks: &[(Info, CredentialUse)],
        },
        Case {
            name: "deleting",
            value: credential(&token("k")),
            tags: tag(200),
            with_rule: true,
            delete: true,
            highest: Some(Critical),
            checks: &[(Critical, CredentialUse)],
        },
        Case {
            name: "short",
            value: credential(&short_token),
            tags: tag(200),
            with_rule: true,
            delete: false,
            highest: None,
            checks: &[],
        },
    ];
    let values: Vec<String> = cases
        .iter()
        .map(|case| case.value.clone())
        .chain([token("a"), token("g"), token("h"), short_token.clone()])
        .collect();
    for case in &cases {
        let name = format!("ecr-pullthroughcache/{}", case.name);
        let tags: Vec<(&str, &str)> = case
            .tags
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        let arn = create_secret(&env, &name, &case.value, &tags).await;
        if case.with_rule {
            env.create_rule(
                &format!("hub-{}", case.name),
                "registry-1.docker.io",
                Some(&arn),
            )
            .await;
        }
        if case.delete {
            env.secrets()
                .delete_secret()
                .secret_id(&arn)
                .recovery_window_in_days(7)
                .send()
                .await
                .unwrap_or_else(|error| panic!("cannot schedule deletion: {error:?}"));
        }
    }
    env.clear_calls().await;

    let config = format!(
        "[alerts]\ntopic_arn = \"{}\"\nmin_severity = \"info\"\n[credentials]\nexpiry_tag = \"{EXPIRY_TAG}\"\n",
        inbox.topic_arn
    );
    let context = context(&env, &config);

    // The library's own report, before the scrubber at the end of a Lambda run sees it.
    let raw_report = check(
        &RunContext::new(&context.ports, &context.config),
        Request { secrets: None },
    )
    .await
    .unwrap_or_else(|error| panic!("{}", error.full_message()))
    .report;
    assert_no_secret(
        &serde_json::to_string(&raw_report).unwrap_or_default(),
        &values,
        "the library report",
    );

    let report = invoke::check_credentials(
        Arc::clone(&context),
        LambdaEvent::new(sample_event("check-credentials.json"), Context::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("check-credentials failed: {}", error.full_message()));

    let mut rows = Rows::new("secrets judged");
    for case in &cases {
        rows.check_now(case.name, || {
            let secret = format!("ecr-pullthroughcache/{}", case.name);
            let got: BTreeSet<(Severity, Check)> = findings_of(&report, &secret)
                .iter()
                .map(|finding| (finding.severity, finding.check))
                .collect();
            let expected: BTreeSet<(Severity, Check)> = case.checks.iter().copied().collect();
            assert_eq!(
                got,
                expected,
                "{secret}: {:#?}",
                findings_of(&report, &secret)
            );
            assert_eq!(highest(&report, &secret), case.highest, "{secret}");
            for finding in findings_of(&report, &secret) {
                assert!(!finding.next_steps.is_empty(), "{finding:?}");
                assert!(finding.resource_arn.is_some(), "{finding:?}");
            }
        });
    }
    rows.assert_all_passed();
    // Every rotation advice keeps the ARN: `put-secret-value` on the same secret.
    let expiring = findings_of(&report, "ecr-pullthroughcache/in-3-days");
    assert!(
        expiring[0].title.contains("expires in 3 days"),
        "{}",
        expiring[0].title
    );
    let steps = expiring[0].next_steps.join("\n");
    assert!(steps.contains("Personal access tokens"), "{steps}");
    assert!(
        steps.contains(
            "aws secretsmanager put-secret-value --secret-id ecr-pullthroughcache/in-3-days"
        ),
        "{steps}"
    );
    assert!(
        steps.contains(&format!("--tags Key={EXPIRY_TAG},Value=YYYY-MM-DD")),
        "{steps}"
    );
    let unknown = findings_of(&report, "ecr-pullthroughcache/no-tag");
    assert!(unknown[0].next_steps[0].contains(&format!(
        "aws secretsmanager tag-resource --secret-id ecr-pullthroughcache/no-tag --region {} --tags Key={EXPIRY_TAG},Value=YYYY-MM-DD",
        env.region
    )), "{:?}", unknown[0].next_steps);

    // Report detail and summary.
    let value = serde_json::to_value(&report).unwrap_or_default();
    let detail = &value["secrets"]["ecr-pullthroughcache/in-20-days"];
    assert_eq!(detail["rules"], json!(["hub-in-20-days"]), "{detail}");
    assert_eq!(detail["upstreams"], json!(["docker-hub"]), "{detail}");
    assert_eq!(detail["expiry_source"], "tag", "{detail}");
    assert_eq!(detail["days_left"], 20, "{detail}");
    assert_eq!(detail["age_days"], 0, "{detail}");
    assert_eq!(detail["findings"], 1, "{detail}");
    assert_eq!(
        value["secrets"]["ecr-pullthroughcache/expired"]["days_left"],
        -3
    );
    assert!(
        value["secrets"]["ecr-pullthroughcache/deleting"]["scheduled_for_deletion_at"].is_string()
    );
    assert_eq!(
        value["secrets"]["ecr-pullthroughcache/orphan"]["rules"],
        json!([])
    );
    assert_eq!(
        value["secrets"].as_object().map(|secrets| secrets.len()),
        Some(cases.len())
    );
    let summary = |name: &str| report.summary.get(name).copied();
    assert_eq!(summary("secrets_checked"), Some(cases.len() as u64));
    assert_eq!(summary("secrets_expiring_soon"), Some(3));
    assert_eq!(summary("secrets_invalid"), Some(3));
    assert_eq!(summary("secrets_orphaned"), Some(1));
    assert_eq!(summary("secrets_scheduled_for_deletion"), Some(1));
    assert_eq!(summary("secrets_without_expiry"), Some(2));

    // EMF: counts, and days left per secret.
    let metrics: Vec<Value> = context
        .metrics_sink()
        .captured_lines()
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let counts = metrics
        .iter()
        .find(|line| line.get("CredentialsChecked").is_some())
        .unwrap_or_else(|| panic!("no count line: {metrics:?}"));
    assert_eq!(counts["CredentialsChecked"], json!(cases.len() as f64));
    assert_eq!(counts["CredentialsExpiringSoon"], json!(3.0));
    assert_eq!(counts["CredentialsInvalid"], json!(3.0));
    let days = metrics
        .iter()
        .find(|line| line["Secret"] == "ecr-pullthroughcache/in-3-days")
        .unwrap_or_else(|| panic!("no DaysUntilExpiry line: {metrics:?}"));
    assert_eq!(days["DaysUntilExpiry"], json!(3.0));
    assert_eq!(
        days["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Function", "Secret"]])
    );

    // One chat message per secret with findings, none carrying a value.
    let with_findings = cases.iter().filter(|case| case.highest.is_some()).count();
    assert_eq!(summary("alerts_published"), Some(with_findings as u64));
    let delivered = inbox.receive(with_findings, Duration::from_secs(20)).await;
    assert_eq!(delivered.len(), with_findings);
    let threads: BTreeSet<String> = delivered
        .iter()
        .map(|alert| {
            alert.message["metadata"]["threadId"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(threads.len(), with_findings, "{threads:?}");
    for alert in &delivered {
        assert_no_secret(&alert.raw_message, &values, "an SNS message");
        assert_no_secret(
            alert.subject.as_deref().unwrap_or_default(),
            &values,
            "an SNS subject",
        );
    }
    assert_no_secret(
        &serde_json::to_string(&report).unwrap_or_default(),
        &values,
        "the report",
    );
    let log_lines = logs.lines_with("ecr-pullthroughcache/in-3-days");
    assert!(!log_lines.is_empty(), "the per-secret decision is logged");
    assert_no_secret(&logs.text(), &values, "the logs");

    // Checking reads: no write to a secret or a rule.
    let writes: Vec<String> = env
        .write_calls()
        .await
        .into_iter()
        .filter(|call| call.service == "secretsmanager" || call.service == "ecr")
        .map(|call| call.operation)
        .collect();
    assert_eq!(writes, Vec::<String>::new());
}

#[tokio::test]
async fn an_old_value_without_expiry_warns_once_it_passes_max_age() {
    let env = TestEnv::new().await;
    let arn = create_secret(
        &env,
        "ecr-pullthroughcache/aging",
        &credential("tok-aging-0001"),
        &[],
    )
    .await;
    env.create_rule("hub-aging", "registry-1.docker.io", Some(&arn))
        .await;
    let context = context(&env, "[credentials]\nmax_age_days = 365\n");
    let request = vec!["ecr-pullthroughcache/aging".to_owned()];
    // The emulator stamps LastChangedDate with the creation time: look from 400 days ahead.
    let later = Utc::now() + chrono::Duration::days(400);
    let report = check(
        &RunContext::new(&context.ports, &context.config).at(later),
        Request {
            secrets: Some(request.clone()),
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{}", error.full_message()))
    .report;
    let got: Vec<(Severity, Check)> = report
        .findings
        .iter()
        .map(|finding| (finding.severity, finding.check))
        .collect();
    assert_eq!(
        got,
        vec![
            (Severity::Info, Check::CredentialExpiry),
            (Severity::Warning, Check::CredentialAge)
        ],
        "{:#?}",
        report.findings
    );
    assert!(
        report.findings[1].title.contains("400 days"),
        "{}",
        report.findings[1].title
    );
    let value = serde_json::to_value(&report).unwrap_or_default();
    assert_eq!(
        value["secrets"]["ecr-pullthroughcache/aging"]["age_days"],
        400
    );

    // Today the same secret is young: no age finding.
    let today = check(
        &RunContext::new(&context.ports, &context.config),
        Request {
            secrets: Some(request.clone()),
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{}", error.full_message()))
    .report;
    assert!(today
        .findings
        .iter()
        .all(|finding| finding.check != Check::CredentialAge));
}

#[tokio::test]
async fn one_unreadable_secret_does_not_stop_the_others() {
    let env = TestEnv::new().await;
    let denied = create_secret(
        &env,
        "ecr-pullthroughcache/denied",
        &credential("tok-denied-0001"),
        &[(EXPIRY_TAG, &today_plus(200))],
    )
    .await;
    env.create_rule("denied", "registry-1.docker.io", Some(&denied))
        .await;
    let fine = create_secret(
        &env,
        "ecr-pullthroughcache/fine",
        &credential("tok-fine-0002"),
        &[(EXPIRY_TAG, &today_plus(20))],
    )
    .await;
    env.create_rule("fine", "registry-1.docker.io", Some(&fine))
        .await;
    env.inject(
        Fault::new("GetSecretValue", FaultKind::AccessDenied, None)
            .matching(json!({"SecretId": denied})),
    )
    .await;
    let context = context(&env, "");
    let report = invoke::check_credentials(
        Arc::clone(&context),
        LambdaEvent::new(
            json!({"secrets": ["ecr-pullthroughcache/denied", fine]}),
            Context::default(),
        ),
    )
    .await
    .unwrap_or_else(|error| panic!("check-credentials failed: {}", error.full_message()));
    let denied_findings = findings_of(&report, "ecr-pullthroughcache/denied");
    assert_eq!(denied_findings.len(), 1, "{denied_findings:#?}");
    assert_eq!(denied_findings[0].severity, Severity::Warning);
    assert!(
        denied_findings[0].message.contains("access-denied"),
        "{}",
        denied_findings[0].message
    );
    assert!(denied_findings[0].next_steps[0].contains("secretsmanager:GetSecretValue"));
    assert_eq!(
        highest(&report, "ecr-pullthroughcache/fine"),
        Some(Severity::Warning)
    );
    assert_eq!(report.summary.get("secrets_checked"), Some(&2));
    assert_eq!(report.summary.get("secrets_unreadable"), Some(&1));
}

#[tokio::test]
async fn unknown_rules_degrade_the_checks_and_unlisted_secrets_fail_the_run() {
    let env = TestEnv::new().await;
    create_secret(
        &env,
        "ecr-pullthroughcache/lonely",
        &credential("tok-lonely-0001"),
        &[(EXPIRY_TAG, &today_plus(10))],
    )
    .await;
    let context = context(&env, "");
    env.inject(Fault::new(
        "DescribePullThroughCacheRules",
        FaultKind::AccessDenied,
        Some(1),
    ))
    .await;
    let report = invoke::check_credentials(
        Arc::clone(&context),
        LambdaEvent::new(sample_event("check-credentials.json"), Context::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("check-credentials failed: {}", error.full_message()));
    let got: BTreeSet<(String, Severity, Check)> = report
        .findings
        .iter()
        .map(|finding| (finding.resource.clone(), finding.severity, finding.check))
        .collect();
    // Without the rules nobody can say the secret is orphaned; its expiry is still judged.
    assert_eq!(
        got,
        BTreeSet::from([
            (
                "ecr-pullthroughcache/".to_owned(),
                Severity::Warning,
                Check::CredentialUse
            ),
            (
                "ecr-pullthroughcache/lonely".to_owned(),
                Severity::Warning,
                Check::CredentialExpiry
            ),
        ]),
        "{:#?}",
        report.findings
    );

    env.inject(Fault::new("ListSecrets", FaultKind::AccessDenied, None))
        .await;
    let error = invoke::check_credentials(
        Arc::clone(&context),
        LambdaEvent::new(sample_event("check-credentials.json"), Context::default()),
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("a run that cannot list the secrets must fail"));
    assert_eq!(error.error_type(), "AwsAccessDenied");
    assert!(
        error
            .full_message()
            .contains("cannot list the credential secrets"),
        "{}",
        error.full_message()
    );
}

#[tokio::test]
async fn docker_hub_headroom_is_read_with_each_rules_credential() {
    let env = TestEnv::new().await;
    env.seed_standard_rules().await;
    let request = || Request { secrets: None };

    // The loopback registry asks for the rule's credential (`Basic`) and, like a paid plan,
    // reports no limit: the detail says so, no finding.
    let context = context(&env, "");
    let started = Instant::now();
    let report = check(&RunContext::new(&context.ports, &context.config), request())
        .await
        .unwrap_or_else(|error| panic!("{}", error.full_message()))
        .report;
    eprintln!(
        "check-credentials with one Docker Hub rule: {:?}",
        started.elapsed()
    );
    let pulls = serde_json::to_value(&report.details.pulls).expect("serialises");
    assert_eq!(
        pulls,
        json!({"docker-hub": {"status": "no-limit-reported", "limit": null, "remaining": null}}),
        "only the Docker Hub rule is asked"
    );
    assert!(
        !report
            .findings
            .iter()
            .any(|finding| finding.check == Check::UpstreamHeadroom),
        "{:#?}",
        report.findings
    );

    // An upstream that cannot be reached is a warning on the rule's credential, naming it.
    let unreachable = context_with_registry(&env, "http://127.0.0.1:9");
    let report = check(
        &RunContext::new(&unreachable.ports, &unreachable.config),
        request(),
    )
    .await
    .unwrap_or_else(|error| panic!("{}", error.full_message()))
    .report;
    assert_eq!(report.details.pulls["docker-hub"].status, "unknown");
    let finding = report
        .findings
        .iter()
        .find(|finding| finding.check == Check::UpstreamHeadroom)
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(finding.resource, "ecr-pullthroughcache/docker-hub");
    assert!(
        finding.message.contains("`127.0.0.1` was not reached"),
        "{}",
        finding.message
    );
    assert_no_token(
        &serde_json::to_string(&report).unwrap_or_default(),
        std::slice::from_ref(&env.emulator.info.upstream_credentials.access_token),
        "the check-credentials report",
    );
}

/// A check-credentials context whose Docker Hub registry API is `url`.
fn context_with_registry(env: &TestEnv, url: &str) -> Arc<FunctionContext> {
    context(
        env,
        &format!("[upstream_registries]\n\"registry-1.docker.io\" = \"{url}\"\n"),
    )
}
