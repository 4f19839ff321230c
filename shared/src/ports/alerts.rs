//! The alerts port: messages ready to publish, and where they go.

use futures::future::BoxFuture;

use super::AwsError;
use crate::domain::{Check, Severity};

/// One message for one resource, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub resource: String,
    pub severity: Severity,
    /// The check of the most severe finding: the `check` message attribute.
    pub check: Check,
    pub subject: String,
    /// The Chatbot custom-notification JSON (the SNS `Message`).
    pub message: String,
    /// Groups one resource's alerts in chat threads and FIFO topics.
    pub thread_id: String,
}

/// Where a run's alerts go: the port the functions publish through (the SNS topic in a
/// deployment; an in-memory fake in tests of the failure paths).
pub trait AlertSink: Send + Sync + std::fmt::Debug {
    /// The destination, as a finding about it names it (the topic ARN).
    fn arn(&self) -> &str;
    /// Publishes every alert; one failure does not stop the others.
    fn publish_all<'a>(&'a self, alerts: &'a [Alert]) -> BoxFuture<'a, AlertDelivery>;
}

/// What happened to the alerts of one run.
#[derive(Debug, Default)]
pub struct AlertDelivery {
    pub published: usize,
    /// (resource, error) for each alert the sink did not take.
    pub failed: Vec<(String, AwsError)>,
}
