//! Test support: the local AWS emulator (moto with the project's extension, CNCF Distribution
//! upstream registries) started once per test process on loopback, and a [`TestEnv`] per test
//! that isolates the test in an account of its own.
//!
//! The emulator process watches its stdin: when the test process ends (normally, by a panic or
//! by a signal) the pipe closes and the emulator stops everything it started.

pub mod cloudformation;
pub mod config_schema;
pub mod dev_dependencies;
pub mod doc_links;
mod emulator;
pub mod eventbridge;
mod inbox;
pub mod invoke;
mod leaks;
mod logs;
pub mod permissions;
pub mod registrations;
pub mod report_schemas;
mod rows;
pub mod runtime_api;
pub mod seeds;
pub mod source_sizes;
mod test_env;

pub use emulator::{Emulator, ReadyInfo, UpstreamImage};
pub use inbox::{AlertInbox, DeliveredAlert};
pub use leaks::{assert_no_token, hostile_token, leaked_forms};
pub use logs::CapturedLogs;
pub use permissions::assert_calls_permitted;
pub use rows::Rows;
pub use seeds::DOCKER_HUB_SECRET;
pub use test_env::{Call, Fault, FaultKind, TestEnv};

use std::path::PathBuf;

/// The repository's top folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// A report as the function returns it on the wire: the JSON a test can index by key, as an
/// automation user's code would. It must match its function's published schema.
pub fn report_json<D: serde::Serialize>(report: &ptc_ops::domain::Report<D>) -> serde_json::Value {
    let value = serde_json::to_value(report)
        .unwrap_or_else(|error| panic!("a report must serialize: {error}"));
    report_schemas::assert_matches_schema(&value);
    value
}

/// A file of `events/`, parsed.
pub fn sample_event(name: &str) -> serde_json::Value {
    let path = repo_root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read sample event {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("sample event {} is not JSON: {error}", path.display()))
}

/// The sample `file` of `events/` as it would reach `env`'s account and region (the envelope's
/// `account` and `region`, the CloudTrail record's `awsRegion` and `recipientAccountId`), with
/// each JSON pointer set.
pub fn sample_record(
    env: &TestEnv,
    file: &str,
    edits: &[(&str, serde_json::Value)],
) -> serde_json::Value {
    let mut event = sample_event(file);
    event["account"] = serde_json::json!(env.account_id);
    event["region"] = serde_json::json!(env.region);
    event["detail"]["awsRegion"] = serde_json::json!(env.region);
    event["detail"]["recipientAccountId"] = serde_json::json!(env.account_id);
    let edits: Vec<(&str, Option<serde_json::Value>)> = edits
        .iter()
        .map(|(pointer, value)| (*pointer, Some(value.clone())))
        .collect();
    edited(event, &edits)
}

/// `event` (a sample) with each JSON pointer set to a value, or removed for `None`.
pub fn edited(
    mut event: serde_json::Value,
    edits: &[(&str, Option<serde_json::Value>)],
) -> serde_json::Value {
    for (pointer, value) in edits {
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        let object = event
            .pointer_mut(parent)
            .and_then(serde_json::Value::as_object_mut)
            .unwrap_or_else(|| panic!("no object at {parent:?}"));
        match value {
            Some(value) => object.insert(key.to_owned(), value.clone()),
            None => object.remove(key),
        };
    }
    event
}
