//! prewarm-images: pull images through the cache ahead of need.
use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use ptc_ops::error::Error;
use ptc_ops::events::{FunctionKind, PrewarmInvocation};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::prewarm_images;
use serde_json::Value;

pub const FUNCTION: FunctionKind = FunctionKind::PrewarmImages;

/// Maps one invocation to a report. An event this function does not accept is an error that
/// names the accepted shapes; nothing is written to AWS before the event is understood.
pub async fn handle(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<prewarm_images::PrewarmReport, Error> {
    let invocation = PrewarmInvocation::from_payload(&event.payload)?;
    let request = prewarm_images::Request::from_invocation(&invocation);
    let ran = prewarm_images::run(&context.run_context(&event.context), request).await?;
    Ok(context.finish(ran.report, ran.metrics).await)
}
