//! Benchmark: what one registry-level event costs, and how fast it reaches chat.
//!
//! `cargo bench -p ptc-ops-tests --bench registry_events` starts the emulator, seeds a registry
//! (the standard Docker Hub and registry.k8s.io rules, quay.io and ECR Public rules, five more
//! credential secrets nobody touches, a consumer account of `quay` and its registry policy, the
//! creation templates of a sweep) and then:
//!
//! 1. runs each kind of CloudTrail record once through its function's real handler and prints
//!    the AWS calls it made, counted by the emulator (the alert's `sns:Publish` included): a
//!    rotated secret must cost the secret, its rules and one validation each, never a listing
//!    of every secret;
//! 2. measures event to alert `ROUNDS` times for a rotated secret and for a deleted registry
//!    policy: from putting the record into the emulator's EventBridge, through the template's
//!    rule (an SQS queue stands in for the Lambda target), the handler, SNS, to the alert in the
//!    SQS queue chat would read. Prints the median, minimum and maximum.
//!
//! Fails when a rotated secret lists the secrets, or an acknowledged record makes any call.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::lambda::FunctionContext;
use ptc_ops_tests::eventbridge::{emit, template_rules, Router};
use ptc_ops_tests::{invoke, sample_record, AlertInbox, TestEnv};
use serde_json::{json, Value};

const ROUNDS: usize = 20;
const CLUSTER_ACCOUNT: &str = "210987654321";

fn config(env: &TestEnv, inbox: &AlertInbox) -> ptc_ops::config::Config {
    let pull = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ClusterAccountPulls",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{CLUSTER_ACCOUNT}:root")},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        }]
    });
    env.config(&format!(
        r#"[alerts]
topic_arn = "{topic}"
[hardening]
prefixes = ["docker-hub", "k8s", "quay"]
[hardening.default]
scan_on_push = true
tag_mutability = "MUTABLE"
lifecycle_policy = "lifecycle/default.json"
[hardening.profiles."quay"]
repository_policy = '{pull}'
[consumers]
accounts = ["{CLUSTER_ACCOUNT}"]
prefixes = {{ "{CLUSTER_ACCOUNT}" = ["quay"] }}
"#,
        topic = inbox.topic_arn
    ))
}

/// Runs `event` through `function`'s handler; the calls it made, `service:Operation` → count.
async fn calls_of(
    env: &TestEnv,
    context: &Arc<FunctionContext>,
    function: &str,
    event: Value,
) -> BTreeMap<String, usize> {
    env.clear_calls().await;
    run(context, function, event).await;
    let mut counts = BTreeMap::new();
    for call in env.calls().await {
        // The harness's queue reads are not the product's.
        if call.service == "sqs" {
            continue;
        }
        *counts
            .entry(format!("{}:{}", call.service, call.operation))
            .or_insert(0) += 1;
    }
    counts
}

async fn run(context: &Arc<FunctionContext>, function: &str, event: Value) {
    let lambda_event = LambdaEvent::new(event, Context::default());
    let context = Arc::clone(context);
    let failed = match function {
        "validate-cache-rules" => invoke::validate_cache_rules(context, lambda_event)
            .await
            .err(),
        "check-credentials" => invoke::check_credentials(context, lambda_event).await.err(),
        _ => invoke::harden_repository(context, lambda_event).await.err(),
    };
    if let Some(error) = failed {
        panic!("{function} failed: {}", error.full_message());
    }
}

fn total(counts: &BTreeMap<String, usize>) -> usize {
    counts.values().sum()
}

fn listed(counts: &BTreeMap<String, usize>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(call, n)| format!("{call}×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() -> ExitCode {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let secret = env.seed_standard_rules().await;
    env.create_rule("quay", "quay.io", None).await;
    env.create_rule("ecr-public", "public.ecr.aws", None).await;
    for n in 0..5 {
        env.create_secret(
            &format!("ecr-pullthroughcache/unused-{n}"),
            &env.valid_credential_json(),
        )
        .await;
    }
    env.ecr()
        .put_registry_policy()
        .policy_text(
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "ClusterQuay",
                    "Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{CLUSTER_ACCOUNT}:root")},
                    "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
                    "Resource": format!("arn:aws:ecr:{}:{}:repository/quay/*", env.region, env.account_id)
                }]
            })
            .to_string(),
        )
        .send()
        .await
        .expect("registry policy");
    for name in [
        "docker-hub/library/nginx",
        "docker-hub/library/alpine",
        "k8s/pause",
    ] {
        env.ecr()
            .create_repository()
            .repository_name(name)
            .send()
            .await
            .expect("repository");
    }
    let config = config(&env, &inbox);
    let context = |function: &'static str| invoke::captured_context(&env, function, config.clone());
    let validate = context("validate-cache-rules");
    let check = context("check-credentials");
    let harden = context("harden-repository");
    run(&harden, "harden-repository", json!({"sweep": true})).await;

    // ---- 1. calls per event ------------------------------------------------------------------
    let put_value = || sample_record(&env, "secret-value-put.json", &[]);
    let mut failures = Vec::new();
    let mut rows: Vec<(&str, BTreeMap<String, usize>)> = Vec::new();
    rows.push((
        "secret value put (PutSecretValue)",
        calls_of(&env, &check, "check-credentials", put_value()).await,
    ));
    rows.push((
        "secret rotated by ARN (RotateSecret)",
        calls_of(
            &env,
            &check,
            "check-credentials",
            sample_record(
                &env,
                "secret-rotated.json",
                &[("/detail/requestParameters/secretId", json!(secret))],
            ),
        )
        .await,
    ));
    rows.push((
        "rule created (CreatePullThroughCacheRule)",
        calls_of(
            &env,
            &validate,
            "validate-cache-rules",
            sample_record(
                &env,
                "rule-created.json",
                &[("/detail/requestParameters/credentialArn", json!(secret))],
            ),
        )
        .await,
    ));
    rows.push((
        "rule updated, quay (UpdatePullThroughCacheRule)",
        calls_of(
            &env,
            &validate,
            "validate-cache-rules",
            sample_record(
                &env,
                "rule-updated.json",
                &[(
                    "/detail/requestParameters/ecrRepositoryPrefix",
                    json!("quay"),
                )],
            ),
        )
        .await,
    ));
    env.ecr()
        .delete_pull_through_cache_rule()
        .ecr_repository_prefix("ecr-public")
        .send()
        .await
        .expect("deleted");
    rows.push((
        "rule deleted (DeletePullThroughCacheRule)",
        calls_of(
            &env,
            &validate,
            "validate-cache-rules",
            sample_record(
                &env,
                "rule-deleted.json",
                &[(
                    "/detail/requestParameters/ecrRepositoryPrefix",
                    json!("ecr-public"),
                )],
            ),
        )
        .await,
    ));
    rows.push((
        "registry policy put (PutRegistryPolicy)",
        calls_of(
            &env,
            &validate,
            "validate-cache-rules",
            sample_record(&env, "registry-policy-put.json", &[]),
        )
        .await,
    ));
    env.ecr()
        .delete_repository_creation_template()
        .prefix("docker-hub")
        .send()
        .await
        .expect("template deleted");
    rows.push((
        "template deleted (DeleteRepositoryCreationTemplate)",
        calls_of(
            &env,
            &harden,
            "harden-repository",
            sample_record(&env, "template-deleted.json", &[]),
        )
        .await,
    ));
    rows.push((
        "registry scanning put (PutRegistryScanningConfiguration)",
        calls_of(
            &env,
            &harden,
            "harden-repository",
            sample_record(&env, "registry-scanning-put.json", &[]),
        )
        .await,
    ));
    let acknowledged = [
        (
            "acknowledged: another secret",
            "check-credentials",
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
            "acknowledged: a failed rule deletion",
            "validate-cache-rules",
            sample_record(
                &env,
                "rule-deleted.json",
                &[("/detail/errorCode", json!("AccessDeniedException"))],
            ),
        ),
    ];
    for (name, function, event) in acknowledged {
        let context = if function == "check-credentials" {
            &check
        } else {
            &validate
        };
        let counts = calls_of(&env, context, function, event).await;
        if total(&counts) != 0 {
            failures.push(format!("{name} made calls: {}", listed(&counts)));
        }
        rows.push((name, counts));
    }
    for (name, counts) in &rows[..2] {
        if counts.contains_key("secretsmanager:ListSecrets") {
            failures.push(format!("{name} listed every secret"));
        }
    }
    let _ = inbox.drain(Duration::from_secs(1)).await;
    println!("AWS calls per event (emulator call log; sns:Publish is the alert)");
    for (name, counts) in &rows {
        println!("  {name:<58} {:>2}  {}", total(counts), listed(counts));
    }

    // ---- 2. event to alert -------------------------------------------------------------------
    let rules: Vec<_> = template_rules()
        .into_iter()
        .filter(|rule| rule.name == "RuleChanged" || rule.name == "SecretChanged")
        .collect();
    let router = Router::create(&env, &rules).await;
    println!("\nevent to alert, {ROUNDS} rounds (EventBridge rule → handler → SNS → SQS)");
    for (name, file) in [
        ("secret value put", "secret-value-put.json"),
        ("registry policy deleted", "registry-policy-deleted.json"),
    ] {
        if file == "registry-policy-deleted.json" {
            env.ecr()
                .delete_registry_policy()
                .send()
                .await
                .expect("deleted");
        }
        let mut samples = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let started = Instant::now();
            emit(&env, &[sample_record(&env, file, &[])]).await;
            let Some((rule, event)) = router.next(Duration::from_secs(10)).await else {
                failures.push(format!("{name}: no rule delivered the record"));
                break;
            };
            let (context, function) = if rule == "SecretChanged" {
                (&check, "check-credentials")
            } else {
                (&validate, "validate-cache-rules")
            };
            run(context, function, event).await;
            if inbox.receive(1, Duration::from_secs(10)).await.is_empty() {
                failures.push(format!("{name}: no alert arrived"));
                break;
            }
            samples.push(started.elapsed());
        }
        samples.sort();
        if let (Some(min), Some(max)) = (samples.first(), samples.last()) {
            let median = samples[samples.len() / 2];
            println!(
                "  {name:<25} median {:>4} ms   min {:>4} ms   max {:>4} ms",
                median.as_millis(),
                min.as_millis(),
                max.as_millis()
            );
        }
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for failure in failures {
            eprintln!("FAILED: {failure}");
        }
        ExitCode::FAILURE
    }
}
