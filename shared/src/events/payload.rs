//! The first cut every function makes: an EventBridge envelope or a direct invoke, and for an
//! envelope, which kind of event it is and typed access to its `detail`.

use serde_json::{Map, Value};

use super::error::{EventError, Received};
use super::{CreatedVia, FunctionKind};

pub(super) const CLOUDTRAIL_API_CALL: &str = "AWS API Call via CloudTrail";
pub(super) const CLOUDTRAIL_SERVICE_EVENT: &str = "AWS Service Event via CloudTrail";
pub(super) const PULL_THROUGH_CACHE_ACTION: &str = "ECR Pull Through Cache Action";
pub(super) const SCHEDULED_EVENT: &str = "Scheduled Event";

/// An invocation payload, split once.
pub(super) enum Payload<'a> {
    Event(Envelope<'a>),
    Direct(&'a Map<String, Value>),
}

impl<'a> Payload<'a> {
    /// An object with `detail-type`, `source` and `detail` is an EventBridge event; any other
    /// object is a direct invoke; anything else is refused.
    pub(super) fn classify(function: FunctionKind, payload: &'a Value) -> Result<Self, EventError> {
        let Value::Object(object) = payload else {
            return Err(EventError::Unsupported {
                function,
                received: Received::not_an_object(payload),
            });
        };
        match (
            object.get("detail-type"),
            object.get("source"),
            object.get("detail"),
        ) {
            (Some(Value::String(detail_type)), Some(Value::String(source)), Some(detail)) => {
                Ok(Payload::Event(Envelope {
                    function,
                    detail_type,
                    source,
                    detail,
                    resources: object.get("resources"),
                }))
            }
            // Envelope keys with the wrong types: no shape matches; say which keys came.
            (Some(_), Some(_), Some(_)) => Err(EventError::Unsupported {
                function,
                received: Received::object(object),
            }),
            _ => Ok(Payload::Direct(object)),
        }
    }
}

/// Which EventBridge events the crate knows, by `detail-type` (and `source` where AWS owns it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventKind {
    /// A CloudTrail record: `detail.eventSource`/`eventName` say whether it is ours.
    CloudTrail(CreatedVia),
    PullThroughCacheAction,
    Scheduled,
    Other,
}

/// An EventBridge event, borrowed from the payload, on behalf of one function.
pub(super) struct Envelope<'a> {
    function: FunctionKind,
    detail_type: &'a str,
    source: &'a str,
    detail: &'a Value,
    resources: Option<&'a Value>,
}

impl<'a> Envelope<'a> {
    pub(super) fn kind(&self) -> EventKind {
        // CloudTrail records are recognised by detail-type alone: `detail.eventSource` is the
        // field that decides, and a record from another service is refused with its name.
        match (self.detail_type, self.source) {
            (CLOUDTRAIL_SERVICE_EVENT, _) => EventKind::CloudTrail(CreatedVia::ServiceEvent),
            (CLOUDTRAIL_API_CALL, _) => EventKind::CloudTrail(CreatedVia::ApiCall),
            // `aws.*` sources cannot be forged with `PutEvents`, so the pair is trustworthy.
            (PULL_THROUGH_CACHE_ACTION, "aws.ecr") => EventKind::PullThroughCacheAction,
            (SCHEDULED_EVENT, "aws.events") => EventKind::Scheduled,
            _ => EventKind::Other,
        }
    }

    /// The event is not one this function takes.
    pub(super) fn unsupported(&self) -> EventError {
        let cloudtrail_call = match (self.text(&["eventSource"]), self.text(&["eventName"])) {
            (Ok(Some(event_source)), Ok(Some(event_name))) => Some((event_source, event_name)),
            _ => None,
        };
        EventError::Unsupported {
            function: self.function,
            received: Received::event(self.detail_type, self.source, cloudtrail_call),
        }
    }

    /// The event is of an accepted kind but its `detail` cannot be used.
    pub(super) fn malformed(
        &self,
        detail_type: &'static str,
        problem: impl Into<String>,
    ) -> EventError {
        EventError::MalformedEvent {
            function: self.function,
            detail_type,
            problem: problem.into(),
        }
    }

    /// `detail.<path>`: `None` when any step is absent or `null`, or an intermediate step is not
    /// an object (a tolerant read of records whose rest is unconfirmed).
    pub(super) fn value(&self, path: &[&str]) -> Option<&'a Value> {
        path.iter()
            .try_fold(self.detail, |node, key| node.as_object()?.get(*key))
            .filter(|value| !value.is_null())
    }

    /// `detail.<path>` as text; `Err` holds the dotted path when the value is not a string.
    pub(super) fn text(&self, path: &[&str]) -> Result<Option<&'a str>, String> {
        match self.value(path) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(format!("`{}` must be a string", dotted(path))),
        }
    }

    /// `detail.<path>` as non-empty text, or a problem naming the dotted path.
    pub(super) fn required_text(&self, path: &[&str]) -> Result<&'a str, String> {
        match self.text(path)? {
            Some(text) if !text.is_empty() => Ok(text),
            _ => Err(format!("`{}` is missing", dotted(path))),
        }
    }

    /// `resources[0]` when it is a string (the repository ARN, the schedule rule ARN).
    pub(super) fn first_resource(&self) -> Option<&'a str> {
        self.resources?.as_array()?.first()?.as_str()
    }

    pub(super) fn function(&self) -> FunctionKind {
        self.function
    }

    pub(super) fn detail_is_object(&self) -> bool {
        self.detail.is_object()
    }
}

/// `detail.a.b` for `["a", "b"]`.
pub(super) fn dotted(path: &[&str]) -> String {
    std::iter::once("detail")
        .chain(path.iter().copied())
        .collect::<Vec<_>>()
        .join(".")
}
