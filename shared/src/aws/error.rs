//! SDK errors as the ports' [`AwsError`].

use std::error::Error as StdError;
use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::ports::error::classify_code;
use crate::ports::{AwsError, AwsErrorKind};

impl AwsError {
    /// Converts an SDK error. `operation` is `service:Action` (`ecr:PutLifecyclePolicy`), the
    /// name an IAM policy would use, so the message says which permission is missing.
    pub fn from_sdk<E, R>(
        operation: &'static str,
        resource: Option<&str>,
        error: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let code = error.code().map(str::to_owned);
        let message = error.message().map(str::to_owned);
        let kind = match &error {
            SdkError::TimeoutError(_) => AwsErrorKind::Timeout,
            SdkError::DispatchFailure(failure) if failure.is_timeout() => AwsErrorKind::Timeout,
            SdkError::DispatchFailure(_) => AwsErrorKind::Transport,
            SdkError::ResponseError(_) => AwsErrorKind::MalformedResponse,
            SdkError::ServiceError(_) => classify_code(code.as_deref()),
            _ => AwsErrorKind::Service,
        };
        AwsError {
            operation,
            resource: resource.map(str::to_owned),
            kind,
            code,
            message,
            source: Box::new(error),
        }
    }
}
