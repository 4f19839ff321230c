//! check-credentials: format, expiry, age and use of the upstream credential secrets.
use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use ptc_ops::check_credentials::{self, CredentialsReport};
use ptc_ops::error::Error;
use ptc_ops::events::{CheckCredentialsInvocation, FunctionKind};
use ptc_ops::lambda::FunctionContext;
use serde_json::Value;

pub const FUNCTION: FunctionKind = FunctionKind::CheckCredentials;

/// Maps one invocation to a report; a CloudTrail record of a credential given a new value
/// checks that secret and validates the rules that use it. An event this function does not accept is an error that
/// names the accepted shapes; nothing is written to AWS before the event is understood.
pub async fn handle(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<CredentialsReport, Error> {
    let invocation = CheckCredentialsInvocation::from_payload(&event.payload)?;
    let run_context = context.run_context(&event.context);
    let ran = match &invocation {
        CheckCredentialsInvocation::SecretChanged(changed) => {
            check_credentials::events::on_secret_changed(&run_context, changed).await?
        }
        CheckCredentialsInvocation::Ignored { reason } => {
            check_credentials::events::acknowledged(reason)
        }
        CheckCredentialsInvocation::Scheduled(_) | CheckCredentialsInvocation::Direct(_) => {
            let request = check_credentials::Request {
                secrets: invocation.secrets().map(<[String]>::to_vec),
            };
            check_credentials::run(&run_context, request).await?
        }
    };
    Ok(context.finish(ran.report, ran.metrics).await)
}
