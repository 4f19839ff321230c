//! AWS Lambda: a function invoking itself asynchronously, so a long run can hand the rest of its
//! work to a fresh invocation with a full time budget. SDK types stop here.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde_json::Value;

use super::AwsError;

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
