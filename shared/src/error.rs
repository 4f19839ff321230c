//! The error of an invocation that could not produce a report. Per-resource failures are not
//! errors: they become findings and the run goes on.

use lambda_runtime::Diagnostic;

use crate::config::ConfigError;
use crate::domain::secret::scrub;
use crate::events::EventError;
use crate::ports::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),

    #[error(transparent)]
    InvalidEvent(#[from] EventError),

    /// A call the whole run depends on (listing rules, listing secrets) failed.
    #[error("{context}: {source}")]
    Aws {
        context: String,
        #[source]
        source: AwsError,
    },
}

impl Error {
    pub fn aws(context: impl Into<String>, source: AwsError) -> Self {
        Error::Aws {
            context: context.into(),
            source,
        }
    }

    /// The stable `errorType` Lambda reports; alarms, retries and dead-letter triage key on it.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::Config(_) => "ConfigError",
            Error::InvalidEvent(event_error) => event_error.error_type(),
            Error::Aws { source, .. } => match source.kind {
                crate::ports::AwsErrorKind::Throttled => "AwsThrottled",
                crate::ports::AwsErrorKind::AccessDenied => "AwsAccessDenied",
                crate::ports::AwsErrorKind::Timeout => "AwsTimeout",
                _ => "AwsError",
            },
        }
    }

    /// The message with its whole source chain, scrubbed of secret values.
    pub fn full_message(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        scrub(&message)
    }
}

impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.full_message(),
        }
    }
}
