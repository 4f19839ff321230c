use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::test_env::TestEnv;

/// An SNS topic subscribed by an SQS queue: what chat would receive.
pub struct AlertInbox {
    pub topic_arn: String,
    queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

/// One SNS delivery, as SQS holds it (the SNS JSON envelope, not raw delivery).
#[derive(Debug, Clone)]
pub struct DeliveredAlert {
    pub subject: Option<String>,
    /// The SNS `Message`, parsed (a Chatbot custom notification).
    pub message: Value,
    /// The SNS `Message` as delivered, for "no secret anywhere" checks.
    pub raw_message: String,
    pub attributes: BTreeMap<String, String>,
}

impl AlertInbox {
    pub(crate) async fn create(env: &TestEnv) -> AlertInbox {
        let name = format!("ptc-ops-alerts-{}", uuid::Uuid::new_v4().simple());
        let topic_arn = env
            .sns()
            .create_topic()
            .name(&name)
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot create topic: {error:?}"))
            .topic_arn
            .unwrap_or_else(|| panic!("topic without ARN"));
        let sqs = env.sqs();
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot create queue: {error:?}"))
            .queue_url
            .unwrap_or_else(|| panic!("queue without URL"));
        let queue_arn = format!("arn:aws:sqs:{}:{}:{name}", env.region, env.account_id);
        env.sns()
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot subscribe the queue: {error:?}"));
        AlertInbox {
            topic_arn,
            queue_url,
            sqs,
        }
    }

    /// Waits until `expected` alerts arrived (or `timeout` passed) and returns all received.
    pub async fn receive(&self, expected: usize, timeout: Duration) -> Vec<DeliveredAlert> {
        let started = Instant::now();
        let mut alerts = Vec::new();
        while alerts.len() < expected && started.elapsed() < timeout {
            self.receive_batch(&mut alerts, 1).await;
        }
        alerts
    }

    /// Everything delivered so far, waiting `settle` for stragglers (to assert "no more").
    pub async fn drain(&self, settle: Duration) -> Vec<DeliveredAlert> {
        let started = Instant::now();
        let mut alerts = Vec::new();
        while started.elapsed() < settle {
            self.receive_batch(&mut alerts, 1).await;
        }
        alerts
    }

    async fn receive_batch(&self, alerts: &mut Vec<DeliveredAlert>, wait_seconds: i32) {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot receive from the alert queue: {error:?}"));
        for message in output.messages.unwrap_or_default() {
            let body = message.body.unwrap_or_default();
            alerts.push(parse_envelope(&body));
            if let Some(handle) = message.receipt_handle {
                let _ = self
                    .sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await;
            }
        }
    }
}

fn parse_envelope(body: &str) -> DeliveredAlert {
    let envelope: Value = serde_json::from_str(body)
        .unwrap_or_else(|error| panic!("SQS body is not an SNS envelope: {error}: {body}"));
    let raw_message = envelope["Message"].as_str().unwrap_or_default().to_owned();
    let message = serde_json::from_str(&raw_message).unwrap_or(Value::Null);
    let attributes = envelope["MessageAttributes"]
        .as_object()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        value["Value"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    DeliveredAlert {
        subject: envelope["Subject"].as_str().map(str::to_owned),
        message,
        raw_message,
        attributes,
    }
}
