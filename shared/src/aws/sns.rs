//! Publishing alerts to the SNS topic.

use aws_sdk_sns::types::MessageAttributeValue;
use tracing::{info, warn};

use futures::future::BoxFuture;

use super::AwsError;
use crate::ports::{Alert, AlertDelivery, AlertSink};

/// The alert topic of this deployment.
#[derive(Clone, Debug)]
pub struct AlertTopic {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl AlertTopic {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        AlertTopic {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    pub fn arn(&self) -> &str {
        &self.topic_arn
    }

    /// FIFO topics need a message group and a deduplication id.
    fn is_fifo(&self) -> bool {
        self.topic_arn.ends_with(".fifo")
    }

    /// Publishes one alert: `Subject`, the Chatbot JSON as `Message`, and the `severity`,
    /// `check` and `resource` attributes that subscription filter policies match on.
    pub async fn publish(&self, alert: &Alert) -> Result<String, AwsError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&alert.subject)
            .message(&alert.message)
            .message_attributes("severity", string_attribute(alert.severity.as_str())?)
            .message_attributes("check", string_attribute(alert.check.as_str())?)
            .message_attributes("resource", string_attribute(&alert.resource)?);
        if self.is_fifo() {
            request = request
                .message_group_id(&alert.thread_id)
                .message_deduplication_id(uuid::Uuid::new_v4().to_string());
        }
        let output = request
            .send()
            .await
            .map_err(|error| AwsError::from_sdk("sns:Publish", Some(&self.topic_arn), error))?;
        Ok(output.message_id.unwrap_or_default())
    }

    /// Publishes every alert; one failure does not stop the others.
    pub async fn publish_all(&self, alerts: &[Alert]) -> AlertDelivery {
        let mut delivery = AlertDelivery::default();
        for alert in alerts {
            match self.publish(alert).await {
                Ok(message_id) => {
                    info!(
                        resource = %alert.resource,
                        severity = %alert.severity,
                        check = %alert.check,
                        message_id,
                        "alert published"
                    );
                    delivery.published += 1;
                }
                Err(error) => {
                    warn!(resource = %alert.resource, error = %error, "alert not published");
                    delivery.failed.push((alert.resource.clone(), error));
                }
            }
        }
        delivery
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, AwsError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|error| AwsError::invalid_request("sns:Publish", None, error))
}

impl AlertSink for AlertTopic {
    fn arn(&self) -> &str {
        AlertTopic::arn(self)
    }

    fn publish_all<'a>(&'a self, alerts: &'a [Alert]) -> BoxFuture<'a, AlertDelivery> {
        Box::pin(AlertTopic::publish_all(self, alerts))
    }
}
