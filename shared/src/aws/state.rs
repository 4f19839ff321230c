//! The product's state in a DynamoDB table (`PTC_STATE_TABLE`): partition key `pk` (string), no
//! sort key, TTL attribute `expires_at` (epoch seconds). SDK types stop here.
//!
//! Every decision is one conditional `UpdateItem`: of two invocations racing on one key,
//! DynamoDB lets exactly one condition pass (DynamoDB developer guide,
//! Expressions.ConditionExpressions.html), the other gets `ConditionalCheckFailedException`.
//! TTL deletes expired items lazily, up to days later (howitworks-ttl.html), so every condition
//! compares `expires_at` with the run's clock itself.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use tracing::debug;

use super::AwsError;
use crate::domain::permissions::{BATCH_GET_ITEM, GET_ITEM, UPDATE_ITEM};
use crate::domain::Severity;
use crate::ports::{
    AcceptedValue, AlertClaim, AlertDecision, RestorationClaim, RestorationDecision,
};

/// The code DynamoDB answers a write whose condition did not hold with.
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// A conditional `UpdateItem`'s answer: `Some(output)` when its condition held, `None` when
/// DynamoDB refused the write for its condition (another invocation got there first), an error
/// otherwise.
fn conditional<T>(
    table: &str,
    answer: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
            aws_sdk_dynamodb::config::http::HttpResponse,
        >,
    >,
) -> Result<Option<T>, AwsError> {
    match answer {
        Ok(output) => Ok(Some(output)),
        Err(error) => {
            let error = AwsError::from_sdk(UPDATE_ITEM, Some(table), error);
            if error.is_code(CONDITION_FAILED) {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

/// The [`crate::ports::StateStore`] port on a DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoState {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoState {
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str) -> Self {
        DynamoState {
            client,
            table: table.to_owned(),
        }
    }

    /// The table, as configured (name or ARN).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Sends when no alert of the key went out within its window, or the one sent was less
    /// severe; otherwise counts this one as held back. One call when it sends, two when it holds.
    pub async fn claim_alert(&self, claim: &AlertClaim) -> Result<AlertDecision, AwsError> {
        // A hold that finds the window over (or the record gone) races a send: claim again,
        // once; a third answer cannot differ in a way that matters for one alert.
        for _ in 0..2 {
            if let Some(held_back) = self.try_send(claim).await? {
                return Ok(AlertDecision::Send { held_back });
            }
            if let Some(sent_at) = self.try_hold(claim).await? {
                return Ok(AlertDecision::Hold { sent_at });
            }
        }
        Ok(AlertDecision::Hold { sent_at: claim.now })
    }

    /// `Some(held back before)` when this invocation may send.
    async fn try_send(&self, claim: &AlertClaim) -> Result<Option<u64>, AwsError> {
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(claim.key.clone()))
            .update_expression(
                "SET #sent_at = :now, #expires_at = :ends, #severity = :severity, #held = :zero",
            )
            .condition_expression(
                "attribute_not_exists(#pk) OR #expires_at <= :now OR #severity < :severity",
            )
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sent_at", "sent_at")
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_names("#severity", "severity")
            .expression_attribute_names("#held", "held")
            .expression_attribute_values(":now", epoch(claim.now))
            .expression_attribute_values(":ends", epoch(claim.window_ends_at))
            .expression_attribute_values(":severity", number(severity_rank(claim.severity)))
            .expression_attribute_values(":zero", number(0))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let sent = conditional(&self.table, answer)?;
        if sent.is_none() {
            debug!(key = %claim.key, "an alert of this key was sent within its window");
        }
        Ok(sent.map(|output| {
            output
                .attributes()
                .and_then(|old| read_number(old, "held"))
                .unwrap_or(0)
        }))
    }

    /// `Some(when the one that holds it back was sent)` when this alert is held back.
    async fn try_hold(&self, claim: &AlertClaim) -> Result<Option<DateTime<Utc>>, AwsError> {
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(claim.key.clone()))
            .update_expression("ADD #held :one")
            .condition_expression(
                "attribute_exists(#pk) AND #expires_at > :now AND #severity >= :severity",
            )
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_names("#severity", "severity")
            .expression_attribute_names("#held", "held")
            .expression_attribute_values(":now", epoch(claim.now))
            .expression_attribute_values(":severity", number(severity_rank(claim.severity)))
            .expression_attribute_values(":one", number(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        Ok(conditional(&self.table, answer)?.map(|output| {
            output
                .attributes()
                .and_then(|new| read_number(new, "sent_at"))
                .and_then(|secs| DateTime::from_timestamp(secs as i64, 0))
                .unwrap_or(claim.now)
        }))
    }
}

impl DynamoState {
    /// Counts a restoration: a new window when none is live (most drift is a single change, so
    /// that is one call), else one more in the live window (two calls); the first change over
    /// the limit is reported once, the later ones are refused quietly.
    pub async fn count_restoration(
        &self,
        claim: &RestorationClaim,
    ) -> Result<RestorationDecision, AwsError> {
        // A window that ends between the two writes makes the second fail too: try once more.
        for _ in 0..2 {
            if self.try_start_window(claim).await? {
                return Ok(RestorationDecision::Restore { n: 1 });
            }
            match self.try_count(claim).await? {
                Counted::InWindow { n, window_ends_at } => {
                    return Ok(if n <= u64::from(claim.max_restorations) {
                        RestorationDecision::Restore { n: n as u32 }
                    } else {
                        RestorationDecision::LimitReached { window_ends_at }
                    });
                }
                Counted::OverLimit => return Ok(RestorationDecision::Refused),
                Counted::NoWindow => {}
            }
        }
        Ok(RestorationDecision::Refused)
    }

    /// One more restoration in a live window, while at most one over the limit.
    async fn try_count(&self, claim: &RestorationClaim) -> Result<Counted, AwsError> {
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(claim.key.clone()))
            .update_expression("ADD #n :one")
            .condition_expression("attribute_exists(#pk) AND #expires_at > :now")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_values(":now", epoch(claim.now))
            .expression_attribute_values(":one", number(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let Some(output) = conditional(&self.table, answer)? else {
            return Ok(Counted::NoWindow);
        };
        let item = output.attributes();
        let n = item.and_then(|item| read_number(item, "n")).unwrap_or(1);
        let window_ends_at = item
            .and_then(|item| read_number(item, "expires_at"))
            .and_then(|secs| DateTime::from_timestamp(secs as i64, 0))
            .unwrap_or(claim.window_ends_at);
        // Counting on past the first refusal keeps "refused" one call.
        if n > u64::from(claim.max_restorations) + 1 {
            return Ok(Counted::OverLimit);
        }
        Ok(Counted::InWindow { n, window_ends_at })
    }

    /// Starts a window with this restoration, unless another one is live.
    async fn try_start_window(&self, claim: &RestorationClaim) -> Result<bool, AwsError> {
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(claim.key.clone()))
            .update_expression("SET #n = :one, #expires_at = :ends")
            .condition_expression("attribute_not_exists(#pk) OR #expires_at <= :now")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_values(":now", epoch(claim.now))
            .expression_attribute_values(":ends", epoch(claim.window_ends_at))
            .expression_attribute_values(":one", number(1))
            .send()
            .await;
        Ok(conditional(&self.table, answer)?.is_some())
    }
}

impl DynamoState {
    /// One item per repository (`accepted#<repository>`), one map attribute per setting.
    pub async fn accept_value(
        &self,
        repository: &str,
        setting: &str,
        accepted: &AcceptedValue,
    ) -> Result<(), AwsError> {
        let record = HashMap::from([
            (
                "value".to_owned(),
                AttributeValue::S(accepted.value.clone()),
            ),
            (
                "caller".to_owned(),
                AttributeValue::S(accepted.caller.clone()),
            ),
            ("accepted_at".to_owned(), epoch(accepted.accepted_at)),
        ]);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(accepted_key(repository)))
            .update_expression("SET #setting = :record")
            .expression_attribute_names("#setting", setting)
            .expression_attribute_values(":record", AttributeValue::M(record))
            .send()
            .await
            .map_err(|error| AwsError::from_sdk(UPDATE_ITEM, Some(&self.table), error))?;
        Ok(())
    }

    /// A consistent read: an acceptance written a moment ago by a drift event counts.
    /// The keys whose live window counts `max` restorations or more: one `BatchGetItem`. Keys
    /// DynamoDB leaves unprocessed (throttling) count as below the limit: the sweep then
    /// restores, as it would without a table.
    pub async fn restorations_at_limit(
        &self,
        keys: &[String],
        max: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, AwsError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
            .set_keys(Some(
                keys.iter()
                    .map(|key| HashMap::from([("pk".to_owned(), AttributeValue::S(key.clone()))]))
                    .collect(),
            ))
            .projection_expression("#pk, #n, #expires_at")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#expires_at", "expires_at")
            .consistent_read(true)
            .build()
            .map_err(|error| AwsError::invalid_request(BATCH_GET_ITEM, Some(&self.table), error))?;
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await
            .map_err(|error| AwsError::from_sdk(BATCH_GET_ITEM, Some(&self.table), error))?;
        if output
            .unprocessed_keys()
            .is_some_and(|unprocessed| !unprocessed.is_empty())
        {
            debug!(table = %self.table, "some restoration windows were not read (unprocessed keys)");
        }
        let now = now.timestamp() as u64;
        Ok(output
            .responses()
            .and_then(|responses| responses.get(&self.table))
            .into_iter()
            .flatten()
            .filter(|item| {
                read_number(item, "expires_at").is_some_and(|ends| ends > now)
                    && read_number(item, "n").is_some_and(|n| n >= u64::from(max))
            })
            .filter_map(|item| match item.get("pk") {
                Some(AttributeValue::S(key)) => Some(key.clone()),
                _ => None,
            })
            .collect())
    }

    pub async fn accepted_values(
        &self,
        repository: &str,
    ) -> Result<BTreeMap<String, AcceptedValue>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(accepted_key(repository)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| AwsError::from_sdk(GET_ITEM, Some(&self.table), error))?;
        let Some(item) = output.item else {
            return Ok(BTreeMap::new());
        };
        Ok(item
            .iter()
            .filter_map(|(setting, value)| {
                let AttributeValue::M(record) = value else {
                    return None;
                };
                let text = |name: &str| match record.get(name) {
                    Some(AttributeValue::S(text)) => Some(text.clone()),
                    _ => None,
                };
                Some((
                    setting.clone(),
                    AcceptedValue {
                        value: text("value")?,
                        caller: text("caller")?,
                        accepted_at: read_number(record, "accepted_at")
                            .and_then(|secs| DateTime::from_timestamp(secs as i64, 0))
                            .unwrap_or_default(),
                    },
                ))
            })
            .collect())
    }
}

fn accepted_key(repository: &str) -> String {
    format!("accepted#{repository}")
}

/// What one counting write found.
enum Counted {
    /// Counted in a live window: the `n`-th change of it.
    InWindow {
        n: u64,
        window_ends_at: DateTime<Utc>,
    },
    /// Counted, and already past the first refusal.
    OverLimit,
    /// No live window.
    NoWindow,
}

/// Severities as the numbers the conditions compare.
pub fn severity_rank(severity: Severity) -> u64 {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
    }
}

fn epoch(time: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(time.timestamp().to_string())
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn read_number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse().ok(),
        _ => None,
    }
}
