//! validate-cache-rules end to end on the emulator, against the real htpasswd upstream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::MetricsSink;
use ptc_ops::validate_cache_rules::ValidateReport;
use ptc_ops_tests::invoke;
use ptc_ops_tests::{sample_event, CapturedLogs, Fault, FaultKind, TestEnv};
use serde_json::{json, Value};

fn context(env: &TestEnv, toml: &str) -> Arc<FunctionContext> {
    Arc::new(
        env.function_context("validate-cache-rules", env.config(toml))
            .with_metrics_sink(MetricsSink::captured()),
    )
}

async fn validate(context: &Arc<FunctionContext>, payload: Value) -> ValidateReport {
    invoke::validate_cache_rules(
        Arc::clone(context),
        LambdaEvent::new(payload, Context::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("validation run failed: {}", error.full_message()))
}

/// The rule's entry as the report's JSON holds it.
fn rule_entry(report: &ValidateReport, prefix: &str) -> Value {
    let rule = report
        .details
        .rules
        .iter()
        .find(|rule| rule.prefix == prefix)
        .unwrap_or_else(|| {
            panic!(
                "no rule `{prefix}` in the report: {:#?}",
                report.details.rules
            )
        });
    serde_json::to_value(rule).unwrap_or_else(|error| panic!("a rule result serializes: {error}"))
}

fn findings_for(report: &ValidateReport, prefix: &str) -> Vec<(String, String, String)> {
    report
        .findings
        .iter()
        .filter(|finding| finding.resource == prefix)
        .map(|finding| {
            (
                finding.severity.to_string(),
                finding.check.to_string(),
                finding.title.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_kind_of_broken_rule_is_found_and_told_how_to_fix() {
    let env = TestEnv::new().await;
    let credentials = env.emulator.info.upstream_credentials.clone();
    let good = env
        .create_secret(
            "ecr-pullthroughcache/docker-hub",
            &env.valid_credential_json(),
        )
        .await;
    let wrong_token = env
        .create_secret(
            "ecr-pullthroughcache/ghcr",
            &env.credential_json_with_token("ghp_WrongTokenValue1234"),
        )
        .await;
    let password_key = env
        .create_secret(
            "ecr-pullthroughcache/gitlab",
            &json!({"username": credentials.username, "password": credentials.access_token})
                .to_string(),
        )
        .await;
    let being_deleted = env
        .create_secret("ecr-pullthroughcache/azure", &env.valid_credential_json())
        .await;
    env.secrets()
        .delete_secret()
        .secret_id(&being_deleted)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("deletion scheduled");
    let missing = format!(
        "arn:aws:secretsmanager:{}:{}:secret:ecr-pullthroughcache/gone-AbCdEf",
        env.region, env.account_id
    );
    env.create_rule("docker-hub", "registry-1.docker.io", Some(&good))
        .await;
    env.create_rule("ghcr", "ghcr.io", Some(&wrong_token)).await;
    env.create_rule("gitlab", "registry.gitlab.com", Some(&password_key))
        .await;
    env.create_rule("azure", "myregistry.azurecr.io", Some(&being_deleted))
        .await;
    env.create_rule("chainguard", "cgr.dev", Some(&missing))
        .await;
    env.create_rule("k8s", "registry.k8s.io", None).await;
    env.ecr()
        .create_pull_through_cache_rule()
        .ecr_repository_prefix("future")
        .upstream_registry_url("quay.io")
        .upstream_registry(aws_sdk_ecr::types::UpstreamRegistry::from(
            "future-registry",
        ))
        .send()
        .await
        .expect("rule with an unknown upstream kind");
    env.clear_calls().await;

    let report = validate(&context(&env, ""), sample_event("scheduled-event.json")).await;

    assert_eq!(rule_entry(&report, "docker-hub")["status"], "valid");
    assert_eq!(findings_for(&report, "docker-hub"), vec![]);

    assert_eq!(rule_entry(&report, "ghcr")["status"], "invalid");
    assert!(rule_entry(&report, "ghcr")["failure"]
        .as_str()
        .is_some_and(|failure| !failure.is_empty()));
    assert_eq!(
        findings_for(&report, "ghcr"),
        vec![(
            "critical".into(),
            "rule-validation".into(),
            "pull-through cache rule `ghcr` fails validation".into()
        )]
    );
    assert_eq!(rule_entry(&report, "gitlab")["status"], "invalid");

    let azure = findings_for(&report, "azure");
    assert!(
        azure
            .iter()
            .any(|(severity, check, title)| severity == "critical"
                && check == "rule-secret"
                && title.contains("scheduled for deletion")),
        "{azure:?}"
    );
    let chainguard = findings_for(&report, "chainguard");
    assert!(
        chainguard
            .iter()
            .any(|(_, check, title)| check == "rule-secret" && title.contains("does not exist")),
        "{chainguard:?}"
    );

    assert_eq!(rule_entry(&report, "k8s")["status"], "nothing-to-validate");
    assert_eq!(
        findings_for(&report, "k8s"),
        vec![(
            "info".into(),
            "rule-validation".into(),
            "rule `k8s` needs no credentials".into()
        )]
    );
    assert_eq!(rule_entry(&report, "future")["upstream"], "future-registry");

    assert_eq!(report.summary["rules_checked"], 7);
    assert_eq!(report.summary["rules_valid"], 1);
    assert_eq!(report.summary["rules_invalid"], 4);
    assert_eq!(report.summary["rules_anonymous"], 2);

    // Anonymous rules are not sent to ValidatePullThroughCacheRule; nothing is written.
    let validated: Vec<String> = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "ValidatePullThroughCacheRule")
        .filter_map(|call| call.resource)
        .collect();
    assert_eq!(validated.len(), 5, "{validated:?}");
    assert!(!validated.contains(&"k8s".to_owned()));
    assert_eq!(env.write_calls().await, vec![]);
}

#[tokio::test]
async fn sixty_rules_across_pages_and_one_throttled_rule() {
    let env = TestEnv::new().await;
    env.set_emulator(json!({"rule_limit": 60})).await;
    let secret = env
        .create_secret("ecr-pullthroughcache/quay", &env.valid_credential_json())
        .await;
    for index in 0..60 {
        // quay.io maps to the anonymous upstream; a credential makes the rule validatable,
        // and the htpasswd login is made against the authenticated one through ghcr.io.
        env.create_rule(&format!("ghcr-{index:02}"), "ghcr.io", Some(&secret))
            .await;
    }
    env.inject(
        Fault::new("ValidatePullThroughCacheRule", FaultKind::Throttle, None)
            .matching(json!({"ecrRepositoryPrefix": "ghcr-17"})),
    )
    .await;
    let context = context(&env, "[rules]\nskip_prefixes = [\"ghcr-59\"]\n");

    let report = validate(&context, json!({})).await;

    assert_eq!(report.summary["rules_checked"], 59);
    assert_eq!(report.summary["rules_skipped"], 1);
    assert_eq!(report.summary["rules_valid"], 58);
    assert_eq!(report.summary["rules_not_validated"], 1);
    assert_eq!(rule_entry(&report, "ghcr-17")["status"], "not-validated");
    let throttled = findings_for(&report, "ghcr-17");
    assert_eq!(throttled.len(), 1);
    assert_eq!(throttled[0].0, "warning");
    let message = &report
        .findings
        .iter()
        .find(|finding| finding.resource == "ghcr-17")
        .expect("finding")
        .message;
    assert!(message.contains("throttled"), "{message}");

    // One 0/1 series per validated rule, so an alarm can point at it.
    let lines = context.metrics_sink().captured_lines();
    let rule_series = lines
        .iter()
        .filter(|line| line.contains("\"RuleValid\""))
        .count();
    assert_eq!(rule_series, 58, "{lines:?}");
    assert!(lines
        .iter()
        .any(|line| line.contains("\"RulesChecked\":59.0")));

    // Narrowing to prefixes, one of which does not exist.
    let narrowed = validate(&context, json!({"prefixes": ["ghcr-01", "nope"]})).await;
    assert_eq!(narrowed.summary["rules_checked"], 1);
    assert_eq!(findings_for(&narrowed, "nope").len(), 1);
}

#[tokio::test]
async fn a_wrong_token_reaches_chat_with_the_fix_and_without_the_token() {
    let env = TestEnv::new().await;
    let logs = CapturedLogs::install();
    let inbox = env.alert_inbox().await;
    let wrong_token = "ghp_ThisTokenIsWrongAndSecret42";
    let secret = env
        .create_secret(
            "ecr-pullthroughcache/docker-hub",
            &env.credential_json_with_token(wrong_token),
        )
        .await;
    env.create_rule("docker-hub", "registry-1.docker.io", Some(&secret))
        .await;
    env.create_rule("quay", "quay.io", None).await;
    let context = context(
        &env,
        &format!("[alerts]\ntopic_arn = \"{}\"\n", inbox.topic_arn),
    );

    let report = validate(&context, sample_event("validate-cache-rules.json")).await;
    assert_eq!(report.summary["alerts_published"], 1);

    let delivered = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1);
    let alert = &delivered[0];
    assert_eq!(alert.attributes["severity"], "critical");
    assert_eq!(alert.attributes["check"], "rule-validation");
    assert_eq!(
        alert.message["metadata"]["threadId"],
        "ecr-ptc-ops/docker-hub"
    );
    let steps: Vec<&str> = alert.message["content"]["nextSteps"]
        .as_array()
        .expect("next steps")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(steps.iter().any(|step| step.contains(&format!(
        "aws secretsmanager put-secret-value --secret-id ecr-pullthroughcache/docker-hub --region {}",
        env.region
    ))), "{steps:?}");
    assert!(steps.iter().any(|step| step
        .contains("aws ecr validate-pull-through-cache-rule --ecr-repository-prefix docker-hub")));
    assert!(!inbox
        .drain(Duration::from_millis(500))
        .await
        .iter()
        .any(|alert| alert.raw_message.contains("quay")));

    for text in [
        alert.raw_message.clone(),
        serde_json::to_string(&report).expect("json"),
        logs.text(),
    ] {
        assert!(!text.contains(wrong_token), "the token leaked: {text}");
    }
}

#[tokio::test]
async fn fifty_slow_rules_stop_at_the_deadline_with_a_report_and_an_alert() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    // Every login to the upstream takes a second: 50 rules, 5 at a time, need about 10 s.
    env.set_emulator(json!({"upstream_latency_ms": 1000})).await;
    let secret = env
        .create_secret("ecr-pullthroughcache/ghcr", &env.valid_credential_json())
        .await;
    for index in 0..50 {
        env.create_rule(&format!("ghcr-{index:02}"), "ghcr.io", Some(&secret))
            .await;
    }
    let context = context(
        &env,
        &format!("[alerts]\ntopic_arn = \"{}\"\n", inbox.topic_arn),
    );
    let allowed = Duration::from_secs(5);
    let mut lambda_context = Context::default();
    lambda_context.deadline = (Utc::now().timestamp_millis() as u64) + allowed.as_millis() as u64;

    let started = Instant::now();
    let report = invoke::validate_cache_rules(
        Arc::clone(&context),
        LambdaEvent::new(sample_event("scheduled-event.json"), lambda_context),
    )
    .await
    .unwrap_or_else(|error| panic!("validation run failed: {}", error.full_message()));
    let elapsed = started.elapsed();
    assert!(
        elapsed < allowed,
        "the run overran its deadline: {elapsed:?}"
    );

    // A report of every rule: some validated, the rest `not-validated` because time ran out.
    let summary = &report.summary;
    assert_eq!(summary["rules_checked"], 50, "{summary:?}");
    let valid = summary["rules_valid"];
    let out_of_time = summary["rules_out_of_time"];
    assert!(valid >= 5, "{summary:?}");
    assert!(out_of_time >= 20, "{summary:?}");
    assert_eq!(valid + out_of_time, 50, "{summary:?}");
    assert_eq!(summary["rules_not_validated"], out_of_time);
    let rules = serde_json::to_value(&report.details.rules).expect("rules serialize");
    let rules = rules.as_array().expect("rules");
    let left: Vec<&Value> = rules
        .iter()
        .filter(|rule| rule["status"] == "not-validated")
        .collect();
    assert_eq!(left.len() as u64, out_of_time);
    assert!(left.iter().all(|rule| rule["out_of_time"].is_string()
        && rule["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("deadline"))));
    // No per-rule warning for each rule left: one finding for the run.
    let title = format!("{out_of_time} of 50 rules were not validated before the deadline");
    let run_findings = findings_for(&report, ptc_ops::validate_cache_rules::RUN_RESOURCE);
    assert_eq!(
        run_findings,
        vec![(
            "warning".to_owned(),
            "rule-validation".to_owned(),
            title.clone()
        )]
    );
    // One finding for the run, and one saying alert repeats are not held back (no state table
    // in this test).
    let titles: Vec<&str> = report
        .findings
        .iter()
        .map(|finding| finding.title.as_str())
        .collect();
    assert_eq!(
        titles,
        [
            title.as_str(),
            "alert repeats are not held back: no state table"
        ],
        "{:#?}",
        report.findings
    );

    // The alert says so.
    assert_eq!(summary["alerts_published"], 1);
    let delivered = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1);
    let alert = &delivered[0];
    assert_eq!(alert.attributes["severity"], "warning");
    let alert_title = alert.message["content"]["title"]
        .as_str()
        .unwrap_or_default();
    assert!(alert_title.contains(&title), "{alert_title}");
    let description = alert.message["content"]["description"]
        .as_str()
        .unwrap_or_default();
    let first_left = left[0]["prefix"].as_str().unwrap_or_default();
    assert!(
        description.contains(&format!("`{first_left}`")),
        "{description}"
    );
}
