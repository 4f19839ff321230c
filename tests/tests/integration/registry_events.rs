//! Registry-level events end to end on the emulator: a CloudTrail record of a rule, registry
//! policy, credential or template change reaches the real entry point of the function that
//! checks that part of the registry, which acts on that change alone, within the invocation.
//! The records are the samples of `events/`, pointed at this test's account (the emulator
//! writes no CloudTrail records).

use std::sync::Arc;
use std::time::Duration;

use std::collections::{BTreeMap, BTreeSet};

use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::check_credentials::CredentialsReport;
use ptc_ops::domain::{Check, Severity};
use ptc_ops::events::{
    CheckCredentialsInvocation, HardenInvocation, RegistryCall, ValidateRulesInvocation,
};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::validate_cache_rules::ValidateReport;
use ptc_ops_tests::eventbridge::{emit, template_rules, Router, TemplateRule, OWN_ROLE_ARN};
use ptc_ops_tests::permissions::assert_calls_permitted;
use ptc_ops_tests::{edited, invoke, report_json, sample_event, sample_record, TestEnv};
use serde_json::{json, Value};

const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const CLUSTER_ACCOUNT: &str = "111111111111";

fn context(env: &TestEnv, function: &'static str, toml: &str) -> Arc<FunctionContext> {
    invoke::captured_context(env, function, env.config(toml))
}

async fn validate(context: &Arc<FunctionContext>, payload: Value) -> ValidateReport {
    invoke::validate_cache_rules(
        Arc::clone(context),
        LambdaEvent::new(payload.clone(), Context::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("{payload} failed: {}", error.full_message()))
}

async fn check(context: &Arc<FunctionContext>, payload: Value) -> CredentialsReport {
    invoke::check_credentials(
        Arc::clone(context),
        LambdaEvent::new(payload.clone(), Context::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("{payload} failed: {}", error.full_message()))
}

/// The operations of the calls made since the last `clear_calls`, in order.
async fn operations(env: &TestEnv) -> Vec<String> {
    env.calls()
        .await
        .into_iter()
        .filter(|call| call.service != "sns" && call.service != "sqs")
        .map(|call| format!("{}:{}", call.service, call.operation))
        .collect()
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

async fn create_repository(env: &TestEnv, name: &str) {
    env.ecr()
        .create_repository()
        .repository_name(name)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot create `{name}`: {error:?}"));
}

#[tokio::test]
async fn a_deleted_rule_is_one_critical_alert_naming_what_it_leaves_behind() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let table = env.create_state_table().await;
    let secret = env.seed_standard_rules().await;
    for name in [
        "docker-hub/library/nginx",
        "docker-hub/library/alpine",
        "k8s/pause",
        "docker-hub-mirror/x",
    ] {
        create_repository(&env, name).await;
    }
    let deleted = env
        .ecr()
        .delete_pull_through_cache_rule()
        .ecr_repository_prefix("docker-hub")
        .send()
        .await
        .expect("the rule is deleted");
    // The record as CloudTrail writes it: the answer of the deletion is in `responseElements`.
    let event = sample_record(
        &env,
        "rule-deleted.json",
        &[
            (
                "/detail/requestParameters/ecrRepositoryPrefix",
                json!("docker-hub"),
            ),
            (
                "/detail/responseElements/ecrRepositoryPrefix",
                json!("docker-hub"),
            ),
            (
                "/detail/responseElements/upstreamRegistryUrl",
                json!(deleted
                    .upstream_registry_url()
                    .expect("the answer names the upstream")),
            ),
            ("/detail/responseElements/credentialArn", json!(secret)),
        ],
    );
    let toml = format!("[alerts]\ntopic_arn = \"{}\"\n", inbox.topic_arn);
    let context = Arc::new(
        env.function_context_with_state("validate-cache-rules", env.config(&toml), &table)
            .with_metrics_sink(ptc_ops::metrics::MetricsSink::captured()),
    );
    env.clear_calls().await;
    let report = validate(&context, event.clone()).await;

    let critical: Vec<_> = report
        .findings
        .iter()
        .filter(|finding| finding.severity == Severity::Critical)
        .collect();
    assert_eq!(critical.len(), 1, "{:#?}", report.findings);
    let finding = critical[0];
    assert_eq!(finding.resource, "docker-hub");
    assert_eq!(finding.check, Check::RuleValidation);
    for fragment in [
        "`registry-1.docker.io`",
        BOB,
        "2 cached repositories under `docker-hub/` are left without a rule",
    ] {
        assert!(
            finding.message.contains(fragment),
            "{:?} lacks {fragment:?}",
            finding.message
        );
    }
    assert!(
        finding.next_steps[0].contains(&format!("--credential-arn {secret}")),
        "{:?}",
        finding.next_steps
    );
    let json = report_json(&report);
    assert_eq!(json["trigger"]["event"], "rule-changed");
    assert_eq!(json["trigger"]["repositories_left"], 2);
    // Nothing validated: the rule is gone. One look at the rule, the repositories, one alert.
    let calls = operations(&env).await;
    assert!(
        !calls.iter().any(|call| call.contains("Validate")),
        "{calls:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|call| *call == "ecr:DescribePullThroughCacheRules")
            .count(),
        1,
        "{calls:?}"
    );
    assert_calls_permitted(
        &env,
        ptc_ops::validate_cache_rules::permissions::PERMISSIONS,
    )
    .await;
    let delivered = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    assert_eq!(delivered[0].attributes["severity"], "critical");

    // EventBridge delivers at least once: the same record again alerts no second time.
    let again = validate(&context, event).await;
    assert_eq!(again.findings.len(), 1);
    assert_eq!(
        inbox.drain(Duration::from_secs(2)).await.len(),
        0,
        "a duplicate delivery alerted again"
    );
}

#[tokio::test]
async fn a_deleted_then_recreated_rule_is_validated_not_mourned() {
    let env = TestEnv::new().await;
    env.seed_standard_rules().await;
    let event = sample_record(
        &env,
        "rule-deleted.json",
        &[(
            "/detail/requestParameters/ecrRepositoryPrefix",
            json!("k8s"),
        )],
    );
    let context = context(&env, "validate-cache-rules", "");
    let report = validate(&context, event).await;
    assert_eq!(
        report.count_at_or_above(Severity::Warning),
        0,
        "{:#?}",
        report.findings
    );
    assert_eq!(report.details.rules.len(), 1);
    assert_eq!(report.details.rules[0].prefix, "k8s");
    let json = report_json(&report);
    assert!(
        json["trigger"]["acknowledged"]
            .as_str()
            .is_some_and(|why| why.contains("exists again")),
        "{json:#}"
    );
}

#[tokio::test]
async fn a_created_rule_is_validated_alone_with_its_secret() {
    let env = TestEnv::new().await;
    let secret = env.seed_standard_rules().await;
    env.create_rule("quay", "quay.io", None).await;
    let event = sample_record(
        &env,
        "rule-created.json",
        &[
            ("/detail/requestParameters/credentialArn", json!(secret)),
            ("/detail/responseElements/credentialArn", json!(secret)),
        ],
    );
    let context = context(&env, "validate-cache-rules", "");
    env.clear_calls().await;
    let report = validate(&context, event).await;
    let prefixes: Vec<&str> = report
        .details
        .rules
        .iter()
        .map(|rule| rule.prefix.as_str())
        .collect();
    assert_eq!(prefixes, ["docker-hub"]);
    assert_eq!(report.summary["rules_valid"], 1, "{:#?}", report.findings);
    assert_eq!(
        sorted(operations(&env).await),
        [
            "ecr:DescribePullThroughCacheRules",
            "ecr:ValidatePullThroughCacheRule",
            "secretsmanager:DescribeSecret",
        ],
        "the rule alone: one look, one validation, its secret"
    );
    assert_calls_permitted(
        &env,
        ptc_ops::validate_cache_rules::permissions::PERMISSIONS,
    )
    .await;
}

#[tokio::test]
async fn a_deleted_registry_policy_names_the_consumer_that_can_no_longer_pull() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    env.create_rule("quay", "quay.io", None).await;
    let pull = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ConsumersPull",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{CLUSTER_ACCOUNT}:root")},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        }]
    });
    let toml = format!(
        "[alerts]\ntopic_arn = \"{}\"\n[hardening.default]\nrepository_policy = '{pull}'\n[consumers]\naccounts = [\"{CLUSTER_ACCOUNT}\"]\n",
        inbox.topic_arn
    );
    let context = context(&env, "validate-cache-rules", &toml);
    let event = sample_record(&env, "registry-policy-deleted.json", &[]);
    // No registry policy at all: what `DeleteRegistryPolicy` leaves.
    let report = validate(&context, event).await;
    let critical: Vec<_> = report
        .findings
        .iter()
        .filter(|finding| finding.severity == Severity::Critical)
        .collect();
    assert_eq!(critical.len(), 1, "{:#?}", report.findings);
    assert_eq!(critical[0].check, Check::ConsumerAccess);
    for fragment in [CLUSTER_ACCOUNT, "`DeleteRegistryPolicy` by", BOB] {
        assert!(
            critical[0].message.contains(fragment),
            "{:?} lacks {fragment:?}",
            critical[0].message
        );
    }
    assert!(
        critical[0]
            .next_steps
            .iter()
            .any(|step| step.contains("put-registry-policy")
                && step.contains("ecr:CreateRepository")),
        "the statement to restore: {:?}",
        critical[0].next_steps
    );
    let delivered = inbox.receive(1, Duration::from_secs(10)).await;
    assert!(
        delivered
            .iter()
            .any(|alert| alert.attributes["check"] == "consumer-access"
                && alert.raw_message.contains(CLUSTER_ACCOUNT)),
        "{delivered:#?}"
    );
}

#[tokio::test]
async fn without_consumers_a_registry_policy_change_makes_no_call() {
    let env = TestEnv::new().await;
    let context = context(&env, "validate-cache-rules", "");
    env.clear_calls().await;
    let report = validate(
        &context,
        sample_record(&env, "registry-policy-put.json", &[]),
    )
    .await;
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(
        operations(&env).await.is_empty(),
        "{:?}",
        operations(&env).await
    );
    assert!(report_json(&report)["trigger"]["acknowledged"]
        .as_str()
        .is_some_and(|why| why.contains("no consumer is configured")));
}

#[tokio::test]
async fn a_rotated_token_is_verified_and_a_bad_one_is_critical() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let secret = env.seed_standard_rules().await;
    env.create_rule("quay", "quay.io", None).await;
    // A second secret nobody rotates: it must not be read.
    env.create_secret(
        "ecr-pullthroughcache/untouched",
        &env.valid_credential_json(),
    )
    .await;
    let toml = format!(
        "[alerts]\ntopic_arn = \"{}\"\nrepeat_after_minutes = 0\n[credentials]\nexpiry_tag = \"ptc-ops:expires-at\"\n",
        inbox.topic_arn
    );
    let context = context(&env, "check-credentials", &toml);
    let put = |value: String| {
        let env = &env;
        async move {
            env.secrets()
                .put_secret_value()
                .secret_id("ecr-pullthroughcache/docker-hub")
                .secret_string(value)
                .send()
                .await
                .expect("the value is put");
        }
    };

    // A working token, by name: verified, on chat, with nothing else read.
    put(env.valid_credential_json()).await;
    env.clear_calls().await;
    let report = check(&context, sample_record(&env, "secret-value-put.json", &[])).await;
    assert_eq!(
        sorted(operations(&env).await),
        [
            "ecr:DescribePullThroughCacheRules",
            "ecr:ValidatePullThroughCacheRule",
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
        ],
        "the secret, its rules, one validation each"
    );
    assert_calls_permitted(&env, ptc_ops::check_credentials::permissions::PERMISSIONS).await;
    let verdict = report
        .findings
        .iter()
        .find(|finding| finding.check == Check::CredentialRotation)
        .unwrap_or_else(|| panic!("no verdict: {:#?}", report.findings));
    assert_eq!(verdict.severity, Severity::Info);
    assert!(verdict.title.contains("verified"), "{}", verdict.title);
    assert!(
        verdict.message.contains("ECR validated rule `docker-hub`"),
        "{}",
        verdict.message
    );
    let delivered = inbox.receive(1, Duration::from_secs(10)).await;
    assert!(
        delivered
            .iter()
            .any(|alert| alert.attributes["check"] == "credential-rotation"
                && alert.attributes["severity"] == "info"),
        "the verdict reaches chat below `min_severity`: {delivered:#?}"
    );

    // A revoked token, by ARN: the upstream refuses it.
    let revoked = format!("revoked-{}", uuid::Uuid::new_v4().simple());
    put(env.credential_json_with_token(&revoked)).await;
    let by_arn = sample_record(
        &env,
        "secret-rotated.json",
        &[("/detail/requestParameters/secretId", json!(secret))],
    );
    let report = check(&context, by_arn).await;
    let verdict = report
        .findings
        .iter()
        .find(|finding| finding.check == Check::CredentialRotation)
        .expect("a verdict");
    assert_eq!(verdict.severity, Severity::Critical, "{verdict:#?}");
    assert!(
        verdict.message.contains("the upstream refuses it"),
        "{}",
        verdict.message
    );
    assert!(
        verdict.message.contains("`docker-hub`"),
        "{}",
        verdict.message
    );

    // A malformed value: refused without asking ECR.
    put(json!({"username": "x"}).to_string()).await;
    env.clear_calls().await;
    let report = check(&context, sample_record(&env, "secret-value-put.json", &[])).await;
    let verdict = report
        .findings
        .iter()
        .find(|finding| finding.check == Check::CredentialRotation)
        .expect("a verdict");
    assert_eq!(verdict.severity, Severity::Critical, "{verdict:#?}");
    assert!(!operations(&env)
        .await
        .iter()
        .any(|call| call.contains("Validate")));
    let delivered = inbox.drain(Duration::from_secs(3)).await;
    for alert in &delivered {
        assert!(
            !alert.raw_message.contains(&revoked),
            "a token reached chat"
        );
    }
}

/// Records that name nothing the functions act on: acknowledged, with no AWS call at all.
#[tokio::test]
async fn records_of_nothing_managed_make_no_call() {
    let env = TestEnv::new().await;
    env.seed_standard_rules().await;
    let validate_context = context(
        &env,
        "validate-cache-rules",
        "[rules]\nskip_prefixes = [\"ghcr\"]\n",
    );
    let check_context = context(&env, "check-credentials", "");
    env.clear_calls().await;
    let cases: Vec<(&str, Value)> = vec![
        (
            "failed rule deletion",
            sample_record(
                &env,
                "rule-deleted.json",
                &[("/detail/errorCode", json!("AccessDeniedException"))],
            ),
        ),
        (
            "skipped prefix",
            sample_record(&env, "rule-deleted.json", &[]),
        ),
        (
            "a setting call",
            sample_record(&env, "setting-changed-put-lifecycle-policy.json", &[]),
        ),
    ];
    for (case, event) in cases {
        let report = validate(&validate_context, event).await;
        assert!(report.findings.is_empty(), "{case}: {:#?}", report.findings);
        assert!(report_json(&report)["trigger"].is_object(), "{case}");
    }
    for (case, event) in [
        (
            "another secret",
            sample_record(
                &env,
                "secret-value-put.json",
                &[(
                    "/detail/requestParameters/secretId",
                    json!("prod/db-password"),
                )],
            ),
        ),
        (
            "a failed rotation",
            sample_record(
                &env,
                "secret-rotated.json",
                &[("/detail/errorCode", json!("InvalidRequestException"))],
            ),
        ),
    ] {
        let report = check(&check_context, event).await;
        assert!(report.findings.is_empty(), "{case}: {:#?}", report.findings);
    }
    assert!(
        operations(&env).await.is_empty(),
        "{:?}",
        operations(&env).await
    );

    // A record of a handled call without what it changed: an error naming the field.
    let malformed = sample_record(
        &env,
        "rule-deleted.json",
        &[("/detail/requestParameters", json!({}))],
    );
    let error = invoke::validate_cache_rules(
        Arc::clone(&validate_context),
        LambdaEvent::new(malformed, Context::default()),
    )
    .await
    .expect_err("a malformed record is an error");
    assert!(
        error
            .full_message()
            .contains("`detail.requestParameters.ecrRepositoryPrefix` is missing"),
        "{}",
        error.full_message()
    );
}

/// The profiles of the template tests, in `mode`, for `docker-hub` and `ghcr`.
fn template_profile(mode: &str) -> String {
    format!(
        r#"
[hardening]
prefixes = ["docker-hub", "ghcr"]
creation_templates = "{mode}"
registry_scanning = "{mode}"

[hardening.default]
scan_on_push = true
tag_mutability = "MUTABLE"
lifecycle_policy = "lifecycle/default.json"
"#
    )
}

async fn template_prefixes(env: &TestEnv) -> Vec<String> {
    let mut prefixes: Vec<String> = env
        .ecr()
        .describe_repository_creation_templates()
        .send()
        .await
        .expect("describe templates")
        .repository_creation_templates
        .unwrap_or_default()
        .into_iter()
        .filter_map(|template| template.prefix)
        .collect();
    prefixes.sort();
    prefixes
}

#[tokio::test]
async fn a_deleted_template_is_restored_in_manage_mode_and_reported_in_check_mode() {
    let env = TestEnv::new().await;
    let manage = invoke::captured_context(
        &env,
        "harden-repository",
        env.config(&template_profile("manage")),
    );
    let check = invoke::captured_context(
        &env,
        "harden-repository",
        env.config(&template_profile("check")),
    );
    // The sweep's first part creates the templates; then someone deletes one.
    invoke::harden(&manage, json!({"sweep": true})).await;
    assert_eq!(template_prefixes(&env).await, ["docker-hub", "ghcr"]);
    env.ecr()
        .delete_repository_creation_template()
        .prefix("docker-hub")
        .send()
        .await
        .expect("deleted");
    let deleted = sample_record(&env, "template-deleted.json", &[]);

    // Check mode reports it and writes nothing.
    env.clear_calls().await;
    let report = invoke::harden(&check, deleted.clone()).await;
    assert!(
        env.write_calls().await.is_empty(),
        "{:?}",
        env.write_calls().await
    );
    let json = report_json(&report);
    assert_eq!(json["trigger"]["event"], "control-changed", "{json:#}");
    assert_eq!(
        json["templates"]["templates"][0]["prefix"], "docker-hub",
        "{json:#}"
    );
    assert_eq!(
        json["templates"]["templates"][0]["outcome"], "missing",
        "{json:#}"
    );
    assert!(
        json["templates"]["templates"]
            .as_array()
            .is_some_and(|entries| entries.len() == 1),
        "only the prefix the record names: {json:#}"
    );

    // Manage mode creates it again, that one only.
    env.clear_calls().await;
    let report = invoke::harden(&manage, deleted.clone()).await;
    assert_eq!(template_prefixes(&env).await, ["docker-hub", "ghcr"]);
    let writes: Vec<String> = env
        .write_calls()
        .await
        .into_iter()
        .map(|call| call.operation)
        .collect();
    assert_eq!(
        writes,
        ["CreateRepositoryCreationTemplate"],
        "{:#}",
        report_json(&report)
    );
    assert_calls_permitted(&env, ptc_ops::harden_repository::permissions::PERMISSIONS).await;

    // A duplicate delivery finds it in shape: no write.
    env.clear_calls().await;
    invoke::harden(&manage, deleted).await;
    assert!(env.write_calls().await.is_empty());

    // A template of a prefix the product does not manage: left alone, no write.
    env.clear_calls().await;
    let foreign = sample_record(
        &env,
        "template-deleted.json",
        &[("/detail/requestParameters/prefix", json!("team-a"))],
    );
    let report = invoke::harden(&manage, foreign).await;
    assert!(env.write_calls().await.is_empty());
    assert!(
        report_json(&report)["trigger"]["acknowledged"]
            .as_str()
            .is_some_and(|why| why.contains("not the template of a managed prefix")),
        "{:#}",
        report_json(&report)
    );
}

#[tokio::test]
async fn a_replaced_registry_scanning_configuration_gets_the_managed_filters_back() {
    let env = TestEnv::new().await;
    let manage = invoke::captured_context(
        &env,
        "harden-repository",
        env.config(&template_profile("manage")),
    );
    // Someone puts a configuration without the managed prefixes' filters.
    env.ecr()
        .put_registry_scanning_configuration()
        .scan_type(aws_sdk_ecr::types::ScanType::Basic)
        .rules(
            aws_sdk_ecr::types::RegistryScanningRule::builder()
                .scan_frequency(aws_sdk_ecr::types::ScanFrequency::ScanOnPush)
                .repository_filters(
                    aws_sdk_ecr::types::ScanningRepositoryFilter::builder()
                        .filter("team-a/*")
                        .filter_type(aws_sdk_ecr::types::ScanningRepositoryFilterType::Wildcard)
                        .build()
                        .expect("filter"),
                )
                .build()
                .expect("rule"),
        )
        .send()
        .await
        .expect("put");
    env.clear_calls().await;
    let report = invoke::harden(
        &manage,
        sample_record(&env, "registry-scanning-put.json", &[]),
    )
    .await;
    let filters: Vec<String> = env
        .ecr()
        .get_registry_scanning_configuration()
        .send()
        .await
        .expect("read")
        .scanning_configuration
        .map(|configuration| {
            configuration
                .rules()
                .iter()
                .flat_map(|rule| rule.repository_filters())
                .map(|filter| filter.filter().to_owned())
                .collect()
        })
        .unwrap_or_default();
    for wanted in ["docker-hub/*", "ghcr/*", "team-a/*"] {
        assert!(
            filters.iter().any(|filter| filter == wanted),
            "{wanted} in {filters:?}: {:#}",
            report_json(&report)
        );
    }
    let writes: Vec<String> = env
        .write_calls()
        .await
        .into_iter()
        .map(|call| call.operation)
        .collect();
    assert_eq!(writes, ["PutRegistryScanningConfiguration"]);
}

/// The role the tests give harden-repository (`PTC_FUNCTION_ROLE_ARN`), the same value the drift
/// tests set for this process.
const OWN_ROLE: &str = "arn:aws:iam::999999999999:role/ptc-ops-harden-repository-role";

#[tokio::test]
async fn the_functions_own_template_writes_and_an_off_mode_make_no_call() {
    static SET: std::sync::Once = std::sync::Once::new();
    SET.call_once(|| std::env::set_var(ptc_ops::env::PTC_FUNCTION_ROLE_ARN, OWN_ROLE));
    let env = TestEnv::new().await;
    env.seed_standard_rules().await;
    let manage = invoke::captured_context(
        &env,
        "harden-repository",
        env.config(&template_profile("manage")),
    );
    let off = invoke::captured_context(
        &env,
        "harden-repository",
        env.config(&template_profile("off")),
    );
    let own = sample_record(
        &env,
        "template-deleted.json",
        &[(
            "/detail/userIdentity",
            json!({
                "type": "AssumedRole",
                "arn": "arn:aws:sts::999999999999:assumed-role/ptc-ops-harden-repository-role/ptc-ops-harden-repository",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": OWN_ROLE}}
            }),
        )],
    );
    env.clear_calls().await;
    for (case, context, event, why) in [
        ("own write", &manage, own, "own role"),
        (
            "mode off",
            &off,
            sample_record(&env, "template-deleted.json", &[]),
            "`hardening.creation_templates` is `off`",
        ),
        (
            "scanning off",
            &off,
            sample_record(&env, "registry-scanning-put.json", &[]),
            "`hardening.registry_scanning` is `off`",
        ),
    ] {
        let report = invoke::harden(context, event).await;
        let json = report_json(&report);
        assert!(
            json["trigger"]["acknowledged"]
                .as_str()
                .is_some_and(|reason| reason.contains(why)),
            "{case}: {json:#}"
        );
    }
    assert!(
        operations(&env).await.is_empty(),
        "{:?}",
        operations(&env).await
    );
}

/// With the state table: the same record delivered twice is one verdict in chat, and a fixed
/// token right after a refused one is verified in chat, not held back as a repeat.
#[tokio::test]
async fn a_fix_after_a_refused_rotation_still_reaches_chat_and_duplicates_do_not() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let table = env.create_state_table().await;
    env.seed_docker_hub_rule().await;
    let toml = format!("[alerts]\ntopic_arn = \"{}\"\n", inbox.topic_arn);
    let context = Arc::new(
        env.function_context_with_state("check-credentials", env.config(&toml), &table)
            .with_metrics_sink(ptc_ops::metrics::MetricsSink::captured()),
    );
    let put = |value: String| {
        let env = &env;
        async move {
            env.secrets()
                .put_secret_value()
                .secret_id("ecr-pullthroughcache/docker-hub")
                .secret_string(value)
                .send()
                .await
                .expect("the value is put");
        }
    };
    let at = |time: &str| {
        sample_record(
            &env,
            "secret-value-put.json",
            &[("/detail/eventTime", json!(time))],
        )
    };
    let verdicts = |alerts: Vec<ptc_ops_tests::DeliveredAlert>| -> Vec<String> {
        alerts
            .into_iter()
            .filter(|alert| alert.attributes["check"] == "credential-rotation")
            .map(|alert| alert.attributes["severity"].clone())
            .collect()
    };

    put(env.credential_json_with_token("typo-in-the-token")).await;
    let refused = at("2025-06-04T15:31:08Z");
    check(&context, refused.clone()).await;
    check(&context, refused).await;
    assert_eq!(
        verdicts(inbox.drain(Duration::from_secs(2)).await),
        ["critical"],
        "one verdict for one record delivered twice"
    );

    put(env.valid_credential_json()).await;
    check(&context, at("2025-06-04T15:33:40Z")).await;
    assert_eq!(
        verdicts(inbox.drain(Duration::from_secs(2)).await),
        ["info"],
        "the fix is verified in chat within the repeat window"
    );
}

// ---- routing ------------------------------------------------------------------------------

/// The rules of registry-level records (rules, registry policy, credentials, templates and
/// scanning), created as they are in the emulator's EventBridge, select exactly the records the
/// functions act on: successful calls, credential secrets by name or ARN, not the function's
/// own template and scanning writes. Each case is a record and the rule that must deliver it.
#[tokio::test]
async fn registry_rules_select_the_records_the_checks_act_on() {
    const RULES: &str = "RuleChanged";
    const SECRETS: &str = "SecretChanged";
    const CONTROLS: &str = "RegistryControlChanged";
    let rules: Vec<TemplateRule> = template_rules()
        .into_iter()
        .filter(|rule| [RULES, SECRETS, CONTROLS].contains(&rule.name.as_str()))
        .collect();
    let owners: BTreeMap<&str, &str> = rules
        .iter()
        .map(|rule| (rule.name.as_str(), rule.function.as_str()))
        .collect();
    assert_eq!(
        owners,
        BTreeMap::from([
            (RULES, "ValidateCacheRulesFunction"),
            (SECRETS, "CheckCredentialsFunction"),
            (CONTROLS, "HardenRepositoryFunction"),
        ])
    );
    let names =
        |calls: &[RegistryCall]| json!(calls.iter().map(|call| call.as_str()).collect::<Vec<_>>());
    for (rule, calls) in [
        (RULES, &RegistryCall::RULES_AND_POLICY[..]),
        (SECRETS, &RegistryCall::SECRETS[..]),
        (CONTROLS, &RegistryCall::CONTROLS[..]),
    ] {
        let pattern = &rules.iter().find(|r| r.name == rule).expect("rule").pattern;
        assert_eq!(
            pattern["detail"]["eventName"],
            names(calls),
            "{rule} carries the calls the code acts on"
        );
    }
    // Neither check may make the calls it watches: there are no own calls to leave out.
    for (permissions, calls) in [
        (
            ptc_ops::validate_cache_rules::permissions::PERMISSIONS,
            &RegistryCall::RULES_AND_POLICY[..],
        ),
        (
            ptc_ops::check_credentials::permissions::PERMISSIONS,
            &RegistryCall::SECRETS[..],
        ),
    ] {
        for call in calls {
            let service = call.event_source().trim_end_matches(".amazonaws.com");
            let action = format!("{service}:{}", call.as_str());
            assert!(
                permissions
                    .iter()
                    .all(|permission| permission.action != action),
                "{action} is granted: leave the function's own calls out of its rule"
            );
        }
    }

    const ISSUER_ARN: &str = "/detail/userIdentity/sessionContext/sessionIssuer/arn";
    let deleted = || sample_event("rule-deleted.json");
    let put_value = || sample_event("secret-value-put.json");
    let template = || sample_event("template-deleted.json");
    let mut cases: Vec<(String, Value, &[&str])> = vec![
        ("rule deleted".into(), deleted(), &[RULES]),
        ("rule created".into(), sample_event("rule-created.json"), &[RULES]),
        ("rule updated".into(), sample_event("rule-updated.json"), &[RULES]),
        ("registry policy put".into(), sample_event("registry-policy-put.json"), &[RULES]),
        ("registry policy deleted".into(), sample_event("registry-policy-deleted.json"), &[RULES]),
        (
            "failed rule deletion".into(),
            edited(deleted(), &[("/detail/errorCode", Some(json!("PullThroughCacheRuleNotFoundException")))]),
            &[],
        ),
        (
            "a rule validated".into(),
            edited(deleted(), &[("/detail/eventName", Some(json!("ValidatePullThroughCacheRule")))]),
            &[],
        ),
        ("secret value put by name".into(), put_value(), &[SECRETS]),
        ("secret rotated by ARN".into(), sample_event("secret-rotated.json"), &[SECRETS]),
        (
            "secret updated".into(),
            edited(put_value(), &[("/detail/eventName", Some(json!("UpdateSecret")))]),
            &[SECRETS],
        ),
        (
            "another secret by name".into(),
            edited(put_value(), &[("/detail/requestParameters/secretId", Some(json!("prod/db-password")))]),
            &[],
        ),
        (
            "another secret by ARN".into(),
            edited(put_value(), &[("/detail/requestParameters/secretId", Some(json!("arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-password-AbCdEf")))]),
            &[],
        ),
        (
            "the prefix inside another name".into(),
            edited(put_value(), &[("/detail/requestParameters/secretId", Some(json!("team/ecr-pullthroughcache/x")))]),
            &[],
        ),
        (
            "failed secret value put".into(),
            edited(put_value(), &[("/detail/errorCode", Some(json!("AccessDeniedException")))]),
            &[],
        ),
        (
            "a secret read".into(),
            edited(put_value(), &[("/detail/eventName", Some(json!("GetSecretValue")))]),
            &[],
        ),
        ("template deleted by a user".into(), template(), &[CONTROLS]),
        (
            "template updated by a role".into(),
            edited(
                template(),
                &[
                    ("/detail/eventName", Some(json!("UpdateRepositoryCreationTemplate"))),
                    ("/detail/userIdentity", Some(sample_event("rule-created.json")["detail"]["userIdentity"].clone())),
                ],
            ),
            &[CONTROLS],
        ),
        ("registry scanning put".into(), sample_event("registry-scanning-put.json"), &[CONTROLS]),
        (
            "registry scanning put by the function itself".into(),
            edited(sample_event("registry-scanning-put.json"), &[(ISSUER_ARN, Some(json!(OWN_ROLE_ARN)))]),
            &[],
        ),
        (
            "failed template creation".into(),
            edited(
                template(),
                &[
                    ("/detail/eventName", Some(json!("CreateRepositoryCreationTemplate"))),
                    ("/detail/errorCode", Some(json!("TemplateAlreadyExistsException"))),
                ],
            ),
            &[],
        ),
        (
            "a repository setting call".into(),
            sample_event("setting-changed-put-lifecycle-policy.json"),
            &[],
        ),
    ];
    let env = TestEnv::new().await;
    let router = Router::create(&env, &rules).await;
    let events: Vec<Value> = cases.iter().map(|(_, event, _)| event.clone()).collect();
    let ids = emit(&env, &events).await;
    let delivered = router
        .receive(Duration::from_secs(2), Duration::from_secs(30))
        .await;
    let mut selected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rule, event) in &delivered {
        let id = event["id"].as_str().expect("an id").to_owned();
        selected.entry(id).or_default().insert(rule.clone());
    }
    let mut wrong = Vec::new();
    for ((case, _, expected), id) in cases.iter_mut().zip(&ids) {
        let actual: BTreeSet<String> = selected.remove(id).unwrap_or_default();
        let expected: BTreeSet<String> = expected.iter().map(|rule| (*rule).to_owned()).collect();
        if actual != expected {
            wrong.push(format!(
                "{case}: selected by {actual:?}, expected {expected:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // Every record a rule delivers is one its function acts on, never an acknowledgement.
    for (rule, event) in &delivered {
        let acts = match rule.as_str() {
            RULES => !matches!(
                ValidateRulesInvocation::from_payload(event).expect("parsed"),
                ValidateRulesInvocation::Ignored { .. }
            ),
            SECRETS => matches!(
                CheckCredentialsInvocation::from_payload(event).expect("parsed"),
                CheckCredentialsInvocation::SecretChanged(_)
            ),
            _ => matches!(
                HardenInvocation::from_payload(event).expect("parsed"),
                HardenInvocation::ControlChanged(_)
            ),
        };
        assert!(
            acts,
            "{rule} delivered a record its function only acknowledges: {event}"
        );
    }
}
