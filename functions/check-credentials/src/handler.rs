use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use ptc_ops::domain::Report;
use ptc_ops::error::Error;
use ptc_ops::events::{CheckCredentialsInvocation, FunctionKind};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::Metrics;
use serde_json::Value;

pub const FUNCTION: FunctionKind = FunctionKind::CheckCredentials;

/// Maps one invocation to a report. An event this function does not accept is an error that
/// names the accepted shapes; nothing is written to AWS before the event is understood.
pub async fn handle(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<Report, Error> {
    let _invocation = CheckCredentialsInvocation::from_payload(&event.payload)?;
    let report = Report::new(FUNCTION.as_str(), false);
    let metrics = Metrics::new(FUNCTION.as_str());
    Ok(context.finish(report, metrics).await)
}
