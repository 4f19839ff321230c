use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use ptc_ops::error::Error;
use ptc_ops::events::{FunctionKind, ValidateRulesInvocation};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::validate_cache_rules;
use serde_json::Value;

pub const FUNCTION: FunctionKind = FunctionKind::ValidateCacheRules;

/// A `Scheduled Event`, `{}` or `{"prefixes": [...]}` → a report of every rule's health.
pub async fn handle(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<ptc_ops::validate_cache_rules::ValidateReport, Error> {
    let invocation = ValidateRulesInvocation::from_payload(&event.payload)?;
    let request = validate_cache_rules::Request {
        prefixes: invocation.prefixes().map(<[String]>::to_vec),
    };
    let ran = validate_cache_rules::run(&context.run_context(&event.context), request).await?;
    Ok(context.finish(ran.report, ran.metrics).await)
}
