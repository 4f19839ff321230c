//! Alerts travel through the emulated SNS to an SQS subscription, as chat would get them.

use std::time::Duration;

use futures::StreamExt;

use ptc_ops::domain::{Check, Finding, Report, SecretValue, Severity};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::{Metrics, MetricsSink};
use ptc_ops_tests::{CapturedLogs, TestEnv};

fn context(env: &TestEnv, topic_arn: &str, min_severity: &str) -> FunctionContext {
    let config = env.config(&format!(
        "[alerts]\ntopic_arn = \"{topic_arn}\"\nmin_severity = \"{min_severity}\"\n"
    ));
    env.function_context("validate-cache-rules", config)
        .with_metrics_sink(MetricsSink::captured())
}

#[tokio::test]
async fn a_critical_finding_arrives_as_a_chatbot_notification() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let context = context(&env, &inbox.topic_arn, "warning");
    let mut report: Report<ptc_ops::validate_cache_rules::ValidateDetails> =
        Report::new("validate-cache-rules", false);
    report.push_finding(
        Finding::new(
            Severity::Critical,
            Check::RuleValidation,
            "docker-hub",
            "pull-through cache rule `docker-hub` fails validation",
            "ECR cannot log in to registry-1.docker.io: new images will not be cached",
        )
        .with_next_step("aws secretsmanager put-secret-value --secret-id ecr-pullthroughcache/docker-hub --secret-string '{\"username\":\"…\",\"accessToken\":\"…\"}'")
        .with_next_step("aws ecr validate-pull-through-cache-rule --ecr-repository-prefix docker-hub"),
    );
    // Below `min_severity`: stays in the report, never reaches chat.
    report.push_finding(Finding::new(
        Severity::Info,
        Check::RuleValidation,
        "k8s",
        "anonymous rule `k8s` has nothing to validate",
        "registry.k8s.io needs no credentials",
    ));
    let mut metrics = Metrics::new("validate-cache-rules");
    metrics.count("RulesChecked", 2);

    let report = context.finish(report, metrics).await;
    assert_eq!(report.summary.get("alerts_published"), Some(&1));

    let delivered = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let alert = &delivered[0];
    assert_eq!(alert.message["version"], "1.0");
    assert_eq!(alert.message["source"], "custom");
    assert_eq!(alert.message["content"]["textType"], "client-markdown");
    assert_eq!(
        alert.message["content"]["title"],
        "[CRITICAL] pull-through cache rule `docker-hub` fails validation"
    );
    assert!(alert.message["content"]["description"]
        .as_str()
        .is_some_and(|text| text.contains("registry-1.docker.io")));
    assert_eq!(
        alert.message["content"]["nextSteps"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        alert.message["metadata"]["threadId"],
        "ecr-ptc-ops/docker-hub"
    );
    assert_eq!(
        alert.attributes.get("severity").map(String::as_str),
        Some("critical")
    );
    assert_eq!(
        alert.attributes.get("check").map(String::as_str),
        Some("rule-validation")
    );
    assert!(alert
        .subject
        .as_deref()
        .is_some_and(|subject| subject.len() <= 100 && subject.is_ascii()));

    let no_more = inbox.drain(Duration::from_secs(1)).await;
    assert!(
        no_more.is_empty(),
        "the info finding must not be published: {no_more:?}"
    );
    assert_eq!(context.metrics_sink().captured_lines().len(), 1);
}

#[tokio::test]
async fn a_finding_built_around_a_secret_leaks_nothing() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let context = context(&env, &inbox.topic_arn, "info");
    let token = SecretValue::new("ghp_IntegrationSecretValue0001");
    let logs = CapturedLogs::install();

    // Every text field carries the value, as a careless check could produce.
    let mut report: Report<ptc_ops::check_credentials::CredentialsDetails> =
        Report::new("check-credentials", false);
    report.push_finding(
        Finding::new(
            Severity::Critical,
            Check::CredentialFormat,
            "ecr-pullthroughcache/ghcr",
            format!("token `{}` ends with a newline", token.expose()),
            format!(
                "the secret holds {} followed by \\n; secret = {token:?}",
                token.expose()
            ),
        )
        .with_next_step(format!(
            "aws secretsmanager put-secret-value --secret-string '{}'",
            token.expose()
        )),
    );
    tracing::info!(token = token.expose(), "about to publish");
    let report = context
        .finish(report, Metrics::new("check-credentials"))
        .await;

    let delivered = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1);
    assert!(
        !delivered[0].raw_message.contains(token.expose()),
        "{}",
        delivered[0].raw_message
    );
    assert!(delivered[0].raw_message.contains("***"));
    assert!(!delivered[0]
        .subject
        .clone()
        .unwrap_or_default()
        .contains(token.expose()));
    let published = logs.lines_with("ecr-pullthroughcache/ghcr");
    assert!(
        published
            .iter()
            .any(|line| line.contains("alert published")),
        "the publish decision is logged: {published:?}"
    );
    assert!(logs.text().contains("about to publish"));
    assert!(!logs.text().contains(token.expose()), "{}", logs.text());
    // The report is the product's output too: `finish` scrubs it before it is returned.
    let report_text = serde_json::to_string(&report).expect("json");
    assert!(!report_text.contains(token.expose()), "{report_text}");
}

/// Twenty failed syncs of the same image within minutes, five invocations at a time as Lambda
/// would run them: chat gets one message, and the reports count the nineteen held back. A
/// failure of another image still goes out.
#[tokio::test]
async fn twenty_failed_syncs_of_one_image_send_one_message() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let table = env.create_state_table().await;
    let config = env.config(&format!(
        "[alerts]\ntopic_arn = \"{}\"\n[hardening]\nprefixes = [\"ghcr\"]\ncreation_templates = \"off\"\n",
        inbox.topic_arn
    ));
    let context = std::sync::Arc::new(
        env.function_context_with_state("harden-repository", config, &table)
            .with_metrics_sink(MetricsSink::captured()),
    );
    let failed_sync = ptc_ops_tests::sample_event("pull-through-cache-action-failure.json");
    env.clear_calls().await;
    let reports: Vec<_> = futures::stream::iter(0..20)
        .map(|_| ptc_ops_tests::invoke::harden(&context, failed_sync.clone()))
        .buffer_unordered(5)
        .collect()
        .await;
    let summed = |name: &str| -> u64 {
        reports
            .iter()
            .map(|report| report.summary.get(name).copied().unwrap_or_default())
            .sum()
    };
    assert_eq!(
        (summed("alerts_published"), summed("alerts_held_back")),
        (1, 19)
    );
    let delivered = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    assert_eq!(
        delivered[0].attributes.get("check").map(String::as_str),
        Some("upstream-pull")
    );
    let no_more = inbox.drain(Duration::from_secs(2)).await;
    assert!(
        no_more.is_empty(),
        "held back alerts reached chat: {no_more:#?}"
    );
    // One conditional write per alert sent, two per alert held back, all granted.
    let state_calls = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.service == "dynamodb")
        .count();
    assert_eq!(state_calls, 1 + 19 * 2);
    ptc_ops_tests::assert_calls_permitted(
        &env,
        ptc_ops::harden_repository::permissions::PERMISSIONS,
    )
    .await;

    // Another image is another resource: its first failure goes out at once.
    let mut other = failed_sync.clone();
    other["detail"]["repository-name"] = "ghcr/fluxcd/helm-controller".into();
    other["resources"][0] =
        "arn:aws:ecr:eu-west-1:123456789012:repository/ghcr/fluxcd/helm-controller".into();
    let report = ptc_ops_tests::invoke::harden(&context, other).await;
    assert_eq!(report.summary.get("alerts_published"), Some(&1));
    assert_eq!(inbox.receive(1, Duration::from_secs(10)).await.len(), 1);
}

/// A scan of a cached image with critical findings, delivered three times (a rescan, an
/// at-least-once duplicate): chat gets one message naming the image, its tags, the counts and
/// the findings command. Another digest is another alert; an image outside the cache none.
#[tokio::test]
async fn a_vulnerable_cached_image_is_alerted_once_per_digest() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let table = env.create_state_table().await;
    let config = env.config(&format!(
        "[alerts]\ntopic_arn = \"{}\"\n[hardening]\nprefixes = [\"docker-hub\"]\ncreation_templates = \"off\"\n",
        inbox.topic_arn
    ));
    let context = std::sync::Arc::new(
        env.function_context_with_state("harden-repository", config, &table)
            .with_metrics_sink(MetricsSink::captured()),
    );
    let scan = ptc_ops_tests::sample_event("ecr-image-scan.json");
    env.clear_calls().await;
    let mut published = Vec::new();
    for _ in 0..3 {
        let report = ptc_ops_tests::invoke::harden(&context, scan.clone()).await;
        published.push(report.summary.get("alerts_published").copied().unwrap_or(0));
    }
    assert_eq!(published, vec![1, 0, 0]);
    let delivered = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    assert_eq!(
        delivered[0].attributes.get("check").map(String::as_str),
        Some("image-vulnerabilities")
    );
    let text = &delivered[0].raw_message;
    for expected in [
        "docker-hub/library/nginx@sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
        "1.27",
        "CRITICAL 2, MEDIUM 9",
        "aws ecr describe-image-scan-findings --repository-name docker-hub/library/nginx --image-id imageDigest=sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    assert!(inbox.drain(Duration::from_secs(2)).await.is_empty());
    // The event costs no ECR call: the prefixes are configured, the scan says the rest.
    let ecr_calls = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.service == "ecr")
        .count();
    assert_eq!(ecr_calls, 0);

    let mut other = scan.clone();
    other["detail"]["image-digest"] =
        "sha256:0000000000000000000000000000000000000000000000000000000000000001".into();
    let report = ptc_ops_tests::invoke::harden(&context, other).await;
    assert_eq!(report.summary.get("alerts_published"), Some(&1));
    assert_eq!(inbox.receive(1, Duration::from_secs(10)).await.len(), 1);

    let mut outside = scan.clone();
    outside["detail"]["repository-name"] = "team/payments-api".into();
    outside["detail"]["image-digest"] =
        "sha256:0000000000000000000000000000000000000000000000000000000000000002".into();
    let report = ptc_ops_tests::invoke::harden(&context, outside).await;
    assert_eq!(
        report.summary.get("alerts_published").copied().unwrap_or(0),
        0
    );
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert!(inbox.drain(Duration::from_secs(2)).await.is_empty());
}
