//! Event routing as AWS does it: the EventBridge rules of `infra/template.yaml` (read from the
//! file itself) created in the emulator's EventBridge with an SQS queue as target, and events
//! put there as the AWS service emits them. The emulator's EventBridge (moto's) matches the
//! patterns: exact values, `prefix`, `anything-but`, `exists`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{repo_root, TestEnv};

/// One `EventBridgeRule` event of a function in the SAM template.
#[derive(Debug, Clone)]
pub struct TemplateRule {
    /// The function's logical id (`HardenRepositoryFunction`).
    pub function: String,
    /// The event's key under `Events:` (`SettingChanged`).
    pub name: String,
    pub pattern: Value,
}

/// Every `EventBridgeRule` of every function in `infra/template.yaml`, in file order.
pub fn template_rules() -> Vec<TemplateRule> {
    let path = repo_root().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let template: serde_norway::Value = serde_norway::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}", path.display()));
    let mut rules = Vec::new();
    let resources = template
        .get("Resources")
        .and_then(serde_norway::Value::as_mapping)
        .expect("the template has resources");
    for (logical_id, resource) in resources {
        let Some(events) = resource
            .get("Properties")
            .and_then(|properties| properties.get("Events"))
            .and_then(serde_norway::Value::as_mapping)
        else {
            continue;
        };
        for (name, event) in events {
            if event.get("Type").and_then(serde_norway::Value::as_str) != Some("EventBridgeRule") {
                continue;
            }
            let pattern = event
                .get("Properties")
                .and_then(|properties| properties.get("Pattern"))
                .unwrap_or_else(|| panic!("{logical_id:?}.{name:?} has no pattern"));
            rules.push(TemplateRule {
                function: logical_id.as_str().unwrap_or_default().to_owned(),
                name: name.as_str().unwrap_or_default().to_owned(),
                pattern: plain_json(pattern),
            });
        }
    }
    rules
}

/// What `!GetAtt HardenRepositoryRole.Arn` stands for in the rules the tests create: the
/// function's own role, as CloudTrail names it in `userIdentity.sessionContext.sessionIssuer.arn`.
pub const OWN_ROLE_ARN: &str =
    "arn:aws:iam::123456789012:role/ptc-ops-HardenRepositoryRole-EXAMPLE";

/// A pattern as JSON. Patterns hold plain data, but for the function's own role (left out of
/// the drift rule), which becomes [`OWN_ROLE_ARN`]; any other intrinsic function (a YAML tag)
/// fails here.
fn plain_json(yaml: &serde_norway::Value) -> Value {
    fn resolve(value: Value) -> Value {
        match value {
            Value::Object(object)
                if object.get("Fn::GetAtt") == Some(&json!(["HardenRepositoryRole", "Arn"])) =>
            {
                json!(OWN_ROLE_ARN)
            }
            Value::Object(object) => {
                if let Some(key) = object
                    .keys()
                    .find(|key| key.starts_with("Fn::") || *key == "Ref")
                {
                    panic!("an EventBridge pattern must be plain data, not `{key}`: {object:?}");
                }
                Value::Object(object.into_iter().map(|(k, v)| (k, resolve(v))).collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(resolve).collect()),
            other => other,
        }
    }
    resolve(crate::cloudformation::to_json(yaml.clone()))
}

/// Calls the emulated EventBridge (JSON protocol; the emulator reads the account and region
/// from the credential scope and checks no signature).
pub async fn eventbridge(env: &TestEnv, operation: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(env.emulator.endpoint())
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("X-Amz-Target", format!("AWSEvents.{operation}"))
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/20250101/{}/events/aws4_request, \
                 SignedHeaders=host, Signature=0",
                env.account_id, env.region
            ),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|error| panic!("EventBridge {operation}: {error}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "EventBridge {operation}: {status} {text}"
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Puts events into the test's EventBridge as the AWS service of their `source` does (the
/// emulator's control API: `PutEvents` refuses `aws.` sources, as EventBridge does). Returns
/// each event's id, as the rules' targets receive it in `id`.
pub async fn emit(env: &TestEnv, events: &[Value]) -> Vec<String> {
    let events: Vec<Value> = events
        .iter()
        .map(|event| {
            json!({
                "source": event["source"],
                "detail-type": event["detail-type"],
                "detail": event["detail"],
                "resources": event.get("resources").cloned().unwrap_or(json!([])),
            })
        })
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{}/_ptc/events", env.emulator.endpoint()))
        .query(&[
            ("account", env.account_id.as_str()),
            ("region", env.region.as_str()),
        ])
        .json(&json!({ "events": events }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|error| panic!("cannot emit events: {error}"));
    let answer: Value = response.json().await.expect("emitted entries");
    answer["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| {
            entry["EventId"]
                .as_str()
                .unwrap_or_else(|| panic!("event refused: {entry}"))
                .to_owned()
        })
        .collect()
}

/// Template rules created in the test's EventBridge, each delivering to a queue of its own.
pub struct Router {
    sqs: aws_sdk_sqs::Client,
    /// Rule name → queue URL.
    queues: BTreeMap<String, String>,
}

impl Router {
    /// Creates `rules` (named as in the template) with their template patterns.
    pub async fn create(env: &TestEnv, rules: &[TemplateRule]) -> Router {
        let sqs = env.sqs();
        let mut queues = BTreeMap::new();
        for rule in rules {
            let queue_name = format!("rule-{}-{}", rule.name, uuid::Uuid::new_v4().simple());
            let queue_url = sqs
                .create_queue()
                .queue_name(&queue_name)
                .send()
                .await
                .expect("queue")
                .queue_url
                .expect("queue URL");
            let queue_arn = format!("arn:aws:sqs:{}:{}:{queue_name}", env.region, env.account_id);
            eventbridge(
                env,
                "PutRule",
                json!({"Name": rule.name, "EventPattern": rule.pattern.to_string()}),
            )
            .await;
            eventbridge(
                env,
                "PutTargets",
                json!({"Rule": rule.name, "Targets": [{"Id": "queue", "Arn": queue_arn}]}),
            )
            .await;
            queues.insert(rule.name.clone(), queue_url);
        }
        Router { sqs, queues }
    }

    /// The first event delivered to any rule, with the rule, as soon as it arrives (SQS long
    /// polling on each queue in turn); `None` after `timeout`. For latency measurements, where
    /// [`Router::receive`]'s quiet period would count.
    pub async fn next(&self, timeout: Duration) -> Option<(String, Value)> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            for (rule, queue_url) in &self.queues {
                let output = self
                    .sqs
                    .receive_message()
                    .queue_url(queue_url)
                    .max_number_of_messages(1)
                    .send()
                    .await
                    .expect("received");
                if let Some(message) = output.messages().first() {
                    if let Some(handle) = message.receipt_handle() {
                        let _ = self
                            .sqs
                            .delete_message()
                            .queue_url(queue_url)
                            .receipt_handle(handle)
                            .send()
                            .await;
                    }
                    let event =
                        serde_json::from_str(message.body().unwrap_or("null")).expect("event JSON");
                    return Some((rule.clone(), event));
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }

    /// Every event delivered so far, with the rule that selected it, waiting until `quiet`
    /// passes without a new one (or `timeout` in all).
    pub async fn receive(&self, quiet: Duration, timeout: Duration) -> Vec<(String, Value)> {
        let started = Instant::now();
        let mut received = Vec::new();
        let mut last_seen = Instant::now();
        while started.elapsed() < timeout && last_seen.elapsed() < quiet {
            let mut any = false;
            for (rule, queue_url) in &self.queues {
                let output = self
                    .sqs
                    .receive_message()
                    .queue_url(queue_url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .expect("received");
                for message in output.messages() {
                    any = true;
                    let event =
                        serde_json::from_str(message.body().unwrap_or("null")).expect("event JSON");
                    received.push((rule.clone(), event));
                    if let Some(handle) = message.receipt_handle() {
                        let _ = self
                            .sqs
                            .delete_message()
                            .queue_url(queue_url)
                            .receipt_handle(handle)
                            .send()
                            .await;
                    }
                }
            }
            if any {
                last_seen = Instant::now();
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        received
    }
}
