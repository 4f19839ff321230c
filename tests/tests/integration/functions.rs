//! Every function's entry point: accepted sample events give a report, anything else is an
//! error naming the accepted shapes, with no AWS write.

use std::sync::Arc;

use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::error::Error;
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::MetricsSink;
use ptc_ops_tests::TestEnv;
use serde_json::{json, Value};

fn context(env: &TestEnv, function: &'static str) -> Arc<FunctionContext> {
    Arc::new(
        FunctionContext::new(function, env.config(""), &env.sdk_config)
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

fn assert_rejected(result: Result<ptc_ops::domain::Report, Error>, function: &str) {
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
        harden_repository::handler::handle(
            context(&env, "harden-repository"),
            event(ec2_state_change()),
        )
        .await,
        "harden-repository",
    );
    assert_rejected(
        validate_cache_rules::handler::handle(
            context(&env, "validate-cache-rules"),
            event(ec2_state_change()),
        )
        .await,
        "validate-cache-rules",
    );
    assert_rejected(
        check_credentials::handler::handle(
            context(&env, "check-credentials"),
            event(ec2_state_change()),
        )
        .await,
        "check-credentials",
    );
    assert_rejected(
        prewarm_images::handler::handle(context(&env, "prewarm-images"), event(ec2_state_change()))
            .await,
        "prewarm-images",
    );
    assert_eq!(
        env.calls().await,
        vec![],
        "no AWS call may be made for an unknown event"
    );
}
