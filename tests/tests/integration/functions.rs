//! Every function's entry point: accepted sample events give a report, anything else is an
//! error naming the accepted shapes, with no AWS write.

use std::sync::Arc;

use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::error::Error;
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::MetricsSink;
use ptc_ops_tests::invoke;
use ptc_ops_tests::TestEnv;
use serde_json::{json, Value};

fn context(env: &TestEnv, function: &'static str) -> Arc<FunctionContext> {
    Arc::new(
        env.function_context(function, env.config(""))
            .with_metrics_sink(MetricsSink::captured()),
    )
}

fn event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

fn ec2_state_change() -> Value {
    json!({
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
        "account": "123456789012", "time": "2026-11-20T12:00:00Z", "region": "eu-west-1",
        "resources": ["arn:aws:ec2:eu-west-1:123456789012:instance/i-0abcd1234"],
        "detail": {"instance-id": "i-0abcd1234", "state": "running"}
    })
}

fn assert_rejected<D: std::fmt::Debug>(
    result: Result<ptc_ops::domain::Report<D>, Error>,
    function: &str,
) {
    let error = result.expect_err("an unknown event must be refused");
    let message = error.full_message();
    assert!(message.contains(function), "{message}");
    assert!(
        message.contains("EC2 Instance State-change Notification"),
        "{message}"
    );
    assert!(message.contains("expected"), "{message}");
    assert_eq!(error.error_type(), "UnsupportedEvent");
}

#[tokio::test]
async fn unknown_events_are_refused_without_any_aws_call() {
    let env = TestEnv::new().await;
    assert_rejected(
        invoke::harden_repository(
            context(&env, "harden-repository"),
            event(ec2_state_change()),
        )
        .await,
        "harden-repository",
    );
    assert_rejected(
        invoke::validate_cache_rules(
            context(&env, "validate-cache-rules"),
            event(ec2_state_change()),
        )
        .await,
        "validate-cache-rules",
    );
    assert_rejected(
        invoke::check_credentials(
            context(&env, "check-credentials"),
            event(ec2_state_change()),
        )
        .await,
        "check-credentials",
    );
    assert_rejected(
        invoke::prewarm_images(context(&env, "prewarm-images"), event(ec2_state_change())).await,
        "prewarm-images",
    );
    assert_eq!(
        env.calls().await,
        vec![],
        "no AWS call may be made for an unknown event"
    );
}

/// A registry with something for every function to do: rules with and without credentials, a
/// cached repository with ECR's defaults, an alert topic.
async fn seeded(env: &TestEnv) -> String {
    env.seed_standard_rules().await;
    env.clients
        .registry()
        .pull_by_tag("docker-hub/library/alpine", "3.20")
        .await
        .unwrap_or_else(|failure| panic!("seeding pull failed: {failure:?}"));
    let inbox = env.alert_inbox().await;
    env.clear_calls().await;
    inbox.topic_arn
}

fn configured(env: &TestEnv, function: &'static str, topic_arn: &str) -> Arc<FunctionContext> {
    let config = env.config(&format!(
        "[alerts]\ntopic_arn = \"{topic_arn}\"\nmin_severity = \"info\"\n\
         [hardening.default]\nscan_on_push = true\nlifecycle_policy = \"lifecycle/default.json\"\n\
         tags = {{ managed-by = \"ecr-ptc-ops\" }}\n\
         [prewarm]\nimages = [\"nginx:1.27\", \"registry.k8s.io/pause:3.10\"]\n"
    ));
    Arc::new(
        env.function_context(function, config)
            .with_metrics_sink(MetricsSink::captured()),
    )
}

/// Every AWS call a function makes is one its IAM policy grants: the `PERMISSIONS` declared next
/// to its code, which the SAM template test holds the template to. A call added to the code
/// without its permission fails here before it fails in an account.
#[tokio::test]
async fn every_call_a_function_makes_is_granted_by_its_declared_permissions() {
    let env = TestEnv::new().await;
    let topic = seeded(&env).await;
    invoke::validate_cache_rules(
        configured(&env, "validate-cache-rules", &topic),
        event(json!({})),
    )
    .await
    .unwrap_or_else(|error| panic!("{}", error.full_message()));
    ptc_ops_tests::assert_calls_permitted(
        &env,
        ptc_ops::validate_cache_rules::permissions::PERMISSIONS,
    )
    .await;

    let env = TestEnv::new().await;
    let topic = seeded(&env).await;
    invoke::check_credentials(
        configured(&env, "check-credentials", &topic),
        event(json!({})),
    )
    .await
    .unwrap_or_else(|error| panic!("{}", error.full_message()));
    ptc_ops_tests::assert_calls_permitted(
        &env,
        ptc_ops::check_credentials::permissions::PERMISSIONS,
    )
    .await;

    let env = TestEnv::new().await;
    let topic = seeded(&env).await;
    let report = invoke::harden_repository(
        configured(&env, "harden-repository", &topic),
        event(json!({"sweep": true})),
    )
    .await
    .unwrap_or_else(|error| panic!("{}", error.full_message()));
    assert!(
        report
            .summary
            .get("settings_changed")
            .is_some_and(|changed| *changed > 0),
        "{:?}",
        report.summary
    );
    ptc_ops_tests::assert_calls_permitted(
        &env,
        ptc_ops::harden_repository::permissions::PERMISSIONS,
    )
    .await;

    let env = TestEnv::new().await;
    let topic = seeded(&env).await;
    invoke::prewarm_images(configured(&env, "prewarm-images", &topic), event(json!({})))
        .await
        .unwrap_or_else(|error| panic!("{}", error.full_message()));
    ptc_ops_tests::assert_calls_permitted(&env, ptc_ops::prewarm_images::permissions::PERMISSIONS)
        .await;
}
