use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use ptc_ops::error::Error;
use ptc_ops::events::{FunctionKind, ValidateRulesInvocation};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::validate_cache_rules;
use serde_json::Value;

pub const FUNCTION: FunctionKind = FunctionKind::ValidateCacheRules;

/// A `Scheduled Event`, `{}` or `{"prefixes": [...]}` → a report of every rule's health; a
/// CloudTrail record of a rule or registry policy change → that change checked at once.
pub async fn handle(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<ptc_ops::validate_cache_rules::ValidateReport, Error> {
    let invocation = ValidateRulesInvocation::from_payload(&event.payload)?;
    let run_context = context.run_context(&event.context);
    let ran = match &invocation {
        ValidateRulesInvocation::RuleChanged(changed) => {
            validate_cache_rules::events::on_rule_changed(&run_context, changed).await?
        }
        ValidateRulesInvocation::RegistryPolicyChanged(changed) => {
            validate_cache_rules::events::on_registry_policy_changed(&run_context, changed).await?
        }
        ValidateRulesInvocation::Ignored { reason } => {
            validate_cache_rules::events::acknowledged(reason)
        }
        ValidateRulesInvocation::Scheduled(_) | ValidateRulesInvocation::Direct(_) => {
            let request = validate_cache_rules::Request {
                prefixes: invocation.prefixes().map(<[String]>::to_vec),
            };
            validate_cache_rules::run(&run_context, request).await?
        }
    };
    Ok(context.finish(ran.report, ran.metrics).await)
}
