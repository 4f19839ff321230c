//! The error of a port call: what was called, on what, how it failed, and the service's own
//! code and message. Adapters fill it in (the AWS adapters from an SDK error); features read
//! only its kind and code, never an SDK type.

use std::error::Error as StdError;
use std::fmt;

/// What kind of failure an AWS call ended in, after the SDK's own retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The service kept throttling until retries ran out.
    Throttled,
    AccessDenied,
    /// The resource (repository, rule, secret, policy) does not exist.
    NotFound,
    /// No answer in time.
    Timeout,
    /// The request never got an answer: DNS, connection, TLS.
    Transport,
    /// The service answered with a modelled or unmodelled error.
    Service,
    /// The answer could not be read.
    MalformedResponse,
    /// The request could not be built from the values given.
    InvalidRequest,
}

impl AwsErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AwsErrorKind::Throttled => "throttled",
            AwsErrorKind::AccessDenied => "access-denied",
            AwsErrorKind::NotFound => "not-found",
            AwsErrorKind::Timeout => "timeout",
            AwsErrorKind::Transport => "transport",
            AwsErrorKind::Service => "service",
            AwsErrorKind::MalformedResponse => "malformed-response",
            AwsErrorKind::InvalidRequest => "invalid-request",
        }
    }
}

/// A failed AWS call, with what was called, on what, and the SDK error kept as the source.
#[derive(Debug)]
pub struct AwsError {
    pub operation: &'static str,
    pub resource: Option<String>,
    pub kind: AwsErrorKind,
    /// The service's error code (`ThrottlingException`, `RepositoryNotFoundException`…).
    pub code: Option<String>,
    pub message: Option<String>,
    pub(crate) source: Box<dyn StdError + Send + Sync>,
}

impl AwsError {
    /// A request that could not be built (a required field missing): nothing was sent.
    pub fn invalid_request(
        operation: &'static str,
        resource: Option<&str>,
        error: impl StdError + Send + Sync + 'static,
    ) -> Self {
        AwsError {
            operation,
            resource: resource.map(str::to_owned),
            kind: AwsErrorKind::InvalidRequest,
            code: None,
            message: Some(error.to_string()),
            source: Box::new(error),
        }
    }

    /// The error a service answers with `code`, as an in-memory fake port returns it.
    #[cfg(test)]
    pub(crate) fn from_code(operation: &'static str, resource: Option<&str>, code: &str) -> Self {
        AwsError {
            operation,
            resource: resource.map(str::to_owned),
            kind: classify_code(Some(code)),
            code: Some(code.to_owned()),
            message: Some(format!("{code} (from an in-memory fake)")),
            source: Box::new(std::io::Error::other(code.to_owned())),
        }
    }

    /// One item of a batch call that the service listed as a failure (`failureCode`,
    /// `failureReason`): the call itself succeeded.
    pub fn item_failure(
        operation: &'static str,
        resource: Option<&str>,
        code: &str,
        reason: &str,
    ) -> Self {
        AwsError {
            operation,
            resource: resource.map(str::to_owned),
            kind: classify_code(Some(code)),
            code: Some(code.to_owned()),
            message: Some(reason.to_owned()),
            source: Box::new(std::io::Error::other(format!("{code}: {reason}"))),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }

    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// Maps a service error code to a kind. Codes differ per service and protocol (`Throttling`
/// in query protocols, `ThrottlingException` in JSON ones).
pub(crate) fn classify_code(code: Option<&str>) -> AwsErrorKind {
    match code {
        Some(
            "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "LimitExceededException",
        ) => AwsErrorKind::Throttled,
        Some(
            "AccessDeniedException"
            | "AccessDenied"
            | "AuthorizationError"
            | "UnauthorizedOperation",
        ) => AwsErrorKind::AccessDenied,
        // IAM's query protocol says `NoSuchEntity`.
        Some(code)
            if code.ends_with("NotFoundException")
                || code == "NotFound"
                || code == "NoSuchEntity" =>
        {
            AwsErrorKind::NotFound
        }
        _ => AwsErrorKind::Service,
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.operation)?;
        if let Some(resource) = &self.resource {
            write!(f, " on `{resource}`")?;
        }
        write!(f, " failed ({})", self.kind.as_str())?;
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => write!(f, ": {code}: {message}"),
            (Some(code), None) => write!(f, ": {code}"),
            (None, Some(message)) => write!(f, ": {message}"),
            (None, None) => write!(f, ": {}", self.source),
        }
    }
}

impl StdError for AwsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.source.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;

    /// The service error `code` is classified as `expected`.
    fn check_code(name: &str, code: Option<&str>, expected: AwsErrorKind) {
        assert_eq!(classify_code(code), expected, "{name}: code {code:?}");
    }

    named_cases! {
        /// Service error codes are classified by kind.
        mod classifies_service_codes => check_code;
        throttling_exception(Some("ThrottlingException"), AwsErrorKind::Throttled),
        throttling(Some("Throttling"), AwsErrorKind::Throttled),
        access_denied(Some("AccessDeniedException"), AwsErrorKind::AccessDenied),
        repository_not_found(Some("RepositoryNotFoundException"), AwsErrorKind::NotFound),
        lifecycle_policy_not_found(
            Some("LifecyclePolicyNotFoundException"),
            AwsErrorKind::NotFound,
        ),
        resource_not_found(Some("ResourceNotFoundException"), AwsErrorKind::NotFound),
        iam_no_such_entity(Some("NoSuchEntity"), AwsErrorKind::NotFound),
        other_code_is_a_service_error(Some("ServerException"), AwsErrorKind::Service),
        no_code_is_a_service_error(None, AwsErrorKind::Service),
    }
}
