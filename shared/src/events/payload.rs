//! The first cut every function makes: an EventBridge envelope or a direct invoke, and for an
//! envelope, which kind of event it is and typed access to its `detail`.
//!
//! The envelope is the Lambda runtime's own type, `aws_lambda_events`' `EventBridgeEvent`; no
//! type of that crate leaves this module. Its `detail` stays a JSON value: its shape depends on
//! the `detail-type` read first, and each reader names the `detail.…` path it missed.
//!
//! The CloudTrail records inside (`AWS API Call via CloudTrail`, `AWS Service Event via
//! CloudTrail`) are read here too, field by field, and not with the crate's `AWSAPICall`
//! (`cloudwatch_events::cloudtrail`): it requires fields that AWS leaves out of real records, so
//! it would refuse them as malformed where the functions need only `eventSource`, `eventName`,
//! `requestParameters` and the caller:
//! - `userIdentity.sessionContext.sessionIssuer.type`, `principalId`, `arn`, `accountId`: an IAM
//!   user's console session writes `"sessionIssuer": {}` (CloudTrail user guide, "CloudTrail log
//!   event reference", the record of IAM user Mary_Major calling `StartLogging`);
//! - `userIdentity.sessionContext.attributes.creationDate` as RFC 3339: the userIdentity reference
//!   writes `20131102T010628Z` ("userIdentity with temporary security credentials");
//! - `userIdentity.type` and `requestID`: absent from the service event of a pull-through cache
//!   creation (`events/create-repository-service-event.json`).
//!
//! The tests `cloudtrail_records_the_crate_refuses` hold both halves: the crate's type refuses
//! each of those records and ours reads it.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{without_values, EventError, Received};
use super::{CreatedVia, FunctionKind};

pub(super) const CLOUDTRAIL_API_CALL: &str = "AWS API Call via CloudTrail";
pub(super) const CLOUDTRAIL_SERVICE_EVENT: &str = "AWS Service Event via CloudTrail";
pub(super) const PULL_THROUGH_CACHE_ACTION: &str = "ECR Pull Through Cache Action";
pub(super) const SCHEDULED_EVENT: &str = "Scheduled Event";
pub(super) const IMAGE_SCAN: &str = "ECR Image Scan";

/// An invocation payload, split once.
pub(super) enum Payload<'a> {
    /// Boxed: the envelope is some two hundred bytes, a direct invoke one reference.
    Event(Box<EventBridgeEvent<Value>>),
    Direct(&'a Map<String, Value>),
}

/// The keys that make an object an EventBridge event rather than a direct invoke.
const ENVELOPE_KEYS: [&str; 3] = ["detail-type", "source", "detail"];

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
        if !ENVELOPE_KEYS.iter().all(|key| object.contains_key(*key)) {
            return Ok(Payload::Direct(object));
        }
        // Envelope keys with the wrong types (or a `time` that is no RFC 3339 time, `resources`
        // that are not strings): no shape matches; say which keys came and what did not fit.
        EventBridgeEvent::<Value>::deserialize(payload)
            .map(|event| Payload::Event(Box::new(event)))
            .map_err(|error| EventError::Unsupported {
                function,
                received: Received::envelope(object, without_values(&error.to_string())),
            })
    }
}

/// Which EventBridge events the crate knows, by `detail-type` (and `source` where AWS owns it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventKind {
    /// A CloudTrail record: `detail.eventSource`/`eventName` say whether it is ours.
    CloudTrail(CreatedVia),
    PullThroughCacheAction,
    Scheduled,
    ImageScan,
    Other,
}

/// An EventBridge event, borrowed from the parsed envelope, on behalf of one function.
pub(super) struct Envelope<'a> {
    function: FunctionKind,
    detail_type: &'a str,
    source: &'a str,
    detail: &'a Value,
    resources: Option<&'a [String]>,
}

impl<'a> Envelope<'a> {
    pub(super) fn new(function: FunctionKind, event: &'a EventBridgeEvent<Value>) -> Self {
        Envelope {
            function,
            detail_type: &event.detail_type,
            source: &event.source,
            detail: &event.detail,
            resources: event.resources.as_deref(),
        }
    }

    pub(super) fn kind(&self) -> EventKind {
        // CloudTrail records are recognised by detail-type alone: `detail.eventSource` is the
        // field that decides, and a record from another service is refused with its name.
        match (self.detail_type, self.source) {
            (CLOUDTRAIL_SERVICE_EVENT, _) => EventKind::CloudTrail(CreatedVia::ServiceEvent),
            (CLOUDTRAIL_API_CALL, _) => EventKind::CloudTrail(CreatedVia::ApiCall),
            // `aws.*` sources cannot be forged with `PutEvents`, so the pair is trustworthy.
            (PULL_THROUGH_CACHE_ACTION, "aws.ecr") => EventKind::PullThroughCacheAction,
            (SCHEDULED_EVENT, "aws.events") => EventKind::Scheduled,
            (IMAGE_SCAN, "aws.ecr") => EventKind::ImageScan,
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

    /// `resources[0]` (the repository ARN, the schedule rule ARN).
    pub(super) fn first_resource(&self) -> Option<&'a str> {
        self.resources?.first().map(String::as_str)
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
