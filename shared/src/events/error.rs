//! What went wrong turning a payload into an invocation, told without echoing values.

use std::fmt;

use serde_json::Value;

use super::FunctionKind;

/// At most this many top-level keys are named in a message; the rest are counted.
const MAX_SHOWN_KEYS: usize = 8;
/// Received names (keys, detail-types, sources) are cut to this many characters: a message must
/// stay one readable log line whatever the caller sent.
const MAX_SHOWN_CHARS: usize = 64;

/// A payload a function cannot act on. Every message names what arrived (detail-type and source,
/// the CloudTrail call, or the top-level keys) and never a value from the payload: payloads can be
/// large, and a direct invoke may carry anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// None of the shapes the function accepts: wrong detail-type, not a `CreateRepository` call,
    /// or not a JSON object at all.
    #[error("unsupported event for {function}: got {received}; expected {}", function.accepted())]
    Unsupported {
        function: FunctionKind,
        received: Received,
    },
    /// An EventBridge event of an accepted kind whose `detail` lacks what the function needs.
    #[error("malformed {detail_type:?} event for {function}: {problem}")]
    MalformedEvent {
        function: FunctionKind,
        detail_type: &'static str,
        problem: String,
    },
    /// A direct invoke that does not fit the function's request (unknown key, wrong type, a
    /// contradiction such as `sweep: false`).
    #[error("invalid direct invoke for {function}: {problem} (got {received}); expected {}", function.accepted())]
    InvalidRequest {
        function: FunctionKind,
        received: Received,
        problem: String,
    },
}

impl EventError {
    /// The function that refused the payload.
    pub fn function(&self) -> FunctionKind {
        match self {
            EventError::Unsupported { function, .. }
            | EventError::MalformedEvent { function, .. }
            | EventError::InvalidRequest { function, .. } => *function,
        }
    }

    /// A stable name per variant, for the Lambda `errorType` that alarms and retries key on.
    pub fn error_type(&self) -> &'static str {
        match self {
            EventError::Unsupported { .. } => "UnsupportedEvent",
            EventError::MalformedEvent { .. } => "MalformedEvent",
            EventError::InvalidRequest { .. } => "InvalidRequest",
        }
    }
}

/// What arrived, described by its names only. Every text is already cut to a bounded length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The payload was not a JSON object (`kind` is e.g. `a JSON array`).
    NotAnObject { kind: &'static str },
    /// An EventBridge envelope, with the CloudTrail call it carries when it carries one.
    Event {
        detail_type: String,
        source: String,
        cloudtrail_call: Option<CloudTrailCall>,
    },
    /// A direct invoke: its first top-level keys (at most eight) out of `n_keys`.
    Object { keys: Vec<String>, n_keys: usize },
    /// An object with the keys of an EventBridge envelope that does not read as one: its first
    /// top-level keys, and what did not fit (a serde message without the value).
    Envelope {
        keys: Vec<String>,
        n_keys: usize,
        problem: String,
    },
}

/// `detail.eventSource` and `detail.eventName` of a CloudTrail record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudTrailCall {
    pub event_source: String,
    pub event_name: String,
}

impl Received {
    pub(super) fn not_an_object(value: &Value) -> Self {
        let kind = match value {
            Value::Null => "`null`",
            Value::Bool(_) => "a JSON boolean",
            Value::Number(_) => "a JSON number",
            Value::String(_) => "a JSON string",
            Value::Array(_) => "a JSON array",
            Value::Object(_) => "a JSON object",
        };
        Received::NotAnObject { kind }
    }

    pub(super) fn event(
        detail_type: &str,
        source: &str,
        cloudtrail_call: Option<(&str, &str)>,
    ) -> Self {
        Received::Event {
            detail_type: bounded(detail_type),
            source: bounded(source),
            cloudtrail_call: cloudtrail_call.map(|(event_source, event_name)| CloudTrailCall {
                event_source: bounded(event_source),
                event_name: bounded(event_name),
            }),
        }
    }

    pub(super) fn object(object: &serde_json::Map<String, Value>) -> Self {
        Received::Object {
            keys: shown_keys(object),
            n_keys: object.len(),
        }
    }

    pub(super) fn envelope(object: &serde_json::Map<String, Value>, problem: String) -> Self {
        Received::Envelope {
            keys: shown_keys(object),
            n_keys: object.len(),
            problem: bounded(&problem),
        }
    }
}

fn shown_keys(object: &serde_json::Map<String, Value>) -> Vec<String> {
    object
        .keys()
        .take(MAX_SHOWN_KEYS)
        .map(|key| bounded(key))
        .collect()
}

/// `an object with keys "a", "b" and 3 more`.
fn write_keys(f: &mut fmt::Formatter<'_>, keys: &[String], n_keys: usize) -> fmt::Result {
    if keys.is_empty() {
        return f.write_str("an empty object");
    }
    f.write_str(if n_keys == 1 {
        "an object with key "
    } else {
        "an object with keys "
    })?;
    for (index, key) in keys.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{key:?}")?;
    }
    if n_keys > keys.len() {
        write!(f, " and {} more", n_keys - keys.len())?;
    }
    Ok(())
}

impl fmt::Display for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Received::NotAnObject { kind } => f.write_str(kind),
            Received::Event {
                detail_type,
                source,
                cloudtrail_call,
            } => {
                write!(f, "detail-type {detail_type:?} from {source:?}")?;
                if let Some(call) = cloudtrail_call {
                    write!(
                        f,
                        " (CloudTrail {:?} from {:?})",
                        call.event_name, call.event_source
                    )?;
                }
                Ok(())
            }
            Received::Object { keys, n_keys } => write_keys(f, keys, *n_keys),
            Received::Envelope {
                keys,
                n_keys,
                problem,
            } => {
                write_keys(f, keys, *n_keys)?;
                write!(
                    f,
                    " that is not an EventBridge event (`detail-type` and `source` strings, \
                     `time` in RFC 3339, `resources` a list of strings): {problem}"
                )
            }
        }
    }
}

/// `text` cut to [`MAX_SHOWN_CHARS`] characters, marked with `…` when cut.
pub(super) fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A serde message with the offending value left out: `invalid type: string "…", expected a
/// boolean` becomes `invalid type: a string, expected a boolean`. Key names (`unknown field
/// `x``) are kept: naming the key is the point of the message.
pub(super) fn without_values(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((kind, after)) = skip_unexpected(rest) {
                return format!("{prefix}{kind}{after}");
            }
        }
    }
    message.to_owned()
}

/// Splits serde's rendering of an unexpected value (`string "…"`, `integer `5``, `boolean
/// `true``, `floating point `1.5``…) into a value-free description and the text after it.
fn skip_unexpected(text: &str) -> Option<(&'static str, &str)> {
    if let Some(quoted) = text.strip_prefix("string \"") {
        // Debug-escaped: the first quote not preceded by a backslash closes it.
        let mut escaped = false;
        for (index, character) in quoted.char_indices() {
            match character {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => return Some(("a string", &quoted[index + 1..])),
                _ => escaped = false,
            }
        }
        return None;
    }
    for (rendered, kind) in [
        ("integer `", "an integer"),
        ("floating point `", "a number"),
        ("boolean `", "a boolean"),
        ("character `", "a character"),
    ] {
        if let Some(quoted) = text.strip_prefix(rendered) {
            let end = quoted.find('`')?;
            return Some((kind, &quoted[end + 1..]));
        }
    }
    None
}
