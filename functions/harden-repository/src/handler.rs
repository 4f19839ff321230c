use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use ptc_ops::domain::Report;
use ptc_ops::error::Error;
use ptc_ops::events::{FunctionKind, HardenInvocation};
use ptc_ops::hardening::{self, HandOff, SelfInvoke};
use ptc_ops::lambda::{Deadline, FunctionContext};
use serde_json::Value;

pub const FUNCTION: FunctionKind = FunctionKind::HardenRepository;

/// Maps one invocation to a report. An event this function does not accept is an error that
/// names the accepted shapes; nothing is written to AWS before the event is understood.
/// In Lambda a sweep that runs short of time invokes this function again with its cursor;
/// elsewhere the report carries the payload to continue with.
pub async fn handle(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<Report, Error> {
    let invocation = HardenInvocation::from_payload(&event.payload)?;
    let deadline = Deadline::from_context(&event.context);
    let self_invoke = SelfInvoke::from_env(&context.clients, &event.context.invoked_function_arn);
    let (report, metrics) = hardening::run(
        &context.clients,
        &context.config,
        &invocation,
        deadline,
        self_invoke
            .as_ref()
            .map(|hand_off| hand_off as &dyn HandOff),
    )
    .await?;
    Ok(context.finish(report, metrics).await)
}
