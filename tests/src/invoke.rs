//! The functions' handlers called as Lambda calls them, for tests: a context whose metrics are
//! captured instead of printed, and an invocation that must succeed.

use std::sync::Arc;

use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::config::Config;
use ptc_ops::harden_repository::HardenReport;
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::MetricsSink;
use serde_json::Value;

use crate::TestEnv;

/// `function`'s context over this test's clients, with `config`; metrics are captured.
pub fn captured_context(
    env: &TestEnv,
    function: &'static str,
    config: Config,
) -> Arc<FunctionContext> {
    Arc::new(
        env.function_context(function, config)
            .with_metrics_sink(MetricsSink::captured()),
    )
}

/// harden-repository's handler with `payload` and no deadline; a failure fails the test with
/// the payload and the whole error chain.
pub async fn harden(context: &Arc<FunctionContext>, payload: Value) -> HardenReport {
    harden_repository::handler::handle(
        Arc::clone(context),
        LambdaEvent::new(payload.clone(), Context::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("{payload} failed: {}", error.full_message()))
}
