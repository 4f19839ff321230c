//! AWS Lambda: a function invoking itself asynchronously, so a long run can hand the rest of its
//! work to a fresh invocation with a full time budget. SDK types stop here.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use futures::future::BoxFuture;
use serde_json::Value;

use super::{AwsError, Clients};
use crate::events::HardenRequest;
use crate::ports::HandOff;

/// The Lambda service, as far as the product uses it.
#[derive(Clone, Debug)]
pub struct Functions {
    client: aws_sdk_lambda::Client,
}

impl Functions {
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        Functions { client }
    }

    /// Queues an asynchronous invocation (`InvocationType` `Event`) of `function` (a name or an
    /// ARN, qualified or not) with `payload`. Lambda answers once the event is queued; the
    /// invoked function runs later, with retries and a dead-letter queue of its own.
    pub async fn invoke_async(&self, function: &str, payload: &Value) -> Result<(), AwsError> {
        let operation = "lambda:InvokeFunction";
        let body = serde_json::to_vec(payload)
            .map_err(|error| AwsError::invalid_request(operation, Some(function), error))?;
        self.client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(body))
            .send()
            .await
            .map_err(|error| AwsError::from_sdk(operation, Some(function), error))?;
        Ok(())
    }
}

/// The hand-off in Lambda: an asynchronous invocation (`InvocationType` `Event`) of the function
/// itself, with the same qualifier it was invoked with.
#[derive(Debug, Clone)]
pub struct SelfInvoke {
    functions: Functions,
    function: String,
}

impl SelfInvoke {
    /// `Some` only in Lambda (`AWS_LAMBDA_FUNCTION_NAME` set). `invoked_function_arn` comes from
    /// the invocation's context (it keeps an alias or version); the plain name when it is empty.
    pub fn from_env(clients: &Clients, invoked_function_arn: &str) -> Option<Self> {
        let name = std::env::var(crate::env::AWS_LAMBDA_FUNCTION_NAME)
            .ok()
            .filter(|name| !name.is_empty())?;
        let function = if invoked_function_arn.is_empty() {
            name
        } else {
            invoked_function_arn.to_owned()
        };
        Some(SelfInvoke {
            functions: clients.functions(),
            function,
        })
    }
}

impl HandOff for SelfInvoke {
    fn hand_off<'a>(
        &'a self,
        request: &'a HardenRequest,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(async move {
            let payload = serde_json::to_value(request).unwrap_or(Value::Null);
            self.functions
                .invoke_async(&self.function, &payload)
                .await
                .map(|()| self.function.clone())
        })
    }
}
