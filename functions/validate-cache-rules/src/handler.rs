use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use ptc_ops::error::Error;
use ptc_ops::events::{FunctionKind, ValidateRulesInvocation};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::rule_validation;
use serde_json::Value;

pub const FUNCTION: FunctionKind = FunctionKind::ValidateCacheRules;

/// A `Scheduled Event`, `{}` or `{"prefixes": [...]}` → a report of every rule's health.
pub async fn handle(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<ptc_ops::rule_validation::ValidateReport, Error> {
    let invocation = ValidateRulesInvocation::from_payload(&event.payload)?;
    let request = rule_validation::Request {
        prefixes: invocation.prefixes().map(<[String]>::to_vec),
    };
    let ran = rule_validation::run(&context.run_context(&event.context), request).await?;
    Ok(context.finish(ran.report, ran.metrics).await)
}
