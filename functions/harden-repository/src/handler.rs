use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use ptc_ops::aws::lambda::SelfInvoke;
use ptc_ops::deadline::Deadline;
use ptc_ops::error::Error;
use ptc_ops::events::{FunctionKind, HardenInvocation};
use ptc_ops::harden_repository::{self, HardenReport};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::ports::HandOff;
use serde_json::Value;

pub const FUNCTION: FunctionKind = FunctionKind::HardenRepository;

/// Maps one invocation to a report. An event this function does not accept is an error that
/// names the accepted shapes; nothing is written to AWS before the event is understood.
/// In Lambda a sweep that runs short of time invokes this function again with its cursor, as
/// the very last step, after its alerts and metrics are out (a retry of an invocation that had
/// already handed on would start a second chain); elsewhere the report carries the payload.
pub async fn handle(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<HardenReport, Error> {
    let invocation = HardenInvocation::from_payload(&event.payload)?;
    let deadline = Deadline::from_context(&event.context);
    let self_invoke = SelfInvoke::from_env(&context.clients, &event.context.invoked_function_arn);
    handle_with(
        &context,
        &invocation,
        deadline,
        self_invoke.as_ref().map(|s| s as &dyn HandOff),
    )
    .await
}

/// [`handle`] with the hand-off injected (tests record it instead of invoking Lambda).
pub async fn handle_with(
    context: &FunctionContext,
    invocation: &HardenInvocation,
    deadline: Deadline,
    hand_off: Option<&dyn HandOff>,
) -> Result<HardenReport, Error> {
    let run_context = context.run_context_until(deadline);
    let request = harden_repository::Request {
        invocation: invocation.clone(),
        can_hand_off: hand_off.is_some(),
    };
    let ran = harden_repository::run(&run_context, request).await?;
    let mut report = context.finish(ran.report, ran.metrics).await;
    let continuation = report.details.continuation.take();
    if let (Some(continuation), Some(hand_off)) = (&continuation, hand_off) {
        if let Some(failure) = harden_repository::hand_on(&mut report, continuation, hand_off).await
        {
            context.alert_late(&mut report, failure).await;
        }
    }
    Ok(report)
}
