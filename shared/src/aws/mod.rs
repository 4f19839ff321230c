//! The AWS edge. Everything that knows an SDK type lives below this module: client setup (once
//! per process), calls, and the conversion of SDK types and errors into domain types.

pub mod creation_templates;
pub mod ecr;
mod ecr_images;
mod ecr_pull_time;
mod error;
pub mod iam;
pub mod lambda;
pub mod pacing;
mod ports;
pub mod registry_api;
pub mod registry_scanning;
pub mod secrets;
pub mod sns;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

pub use ports::AwsPorts;

use crate::ports::AwsError;

/// Time to open a connection; loopback and VPC endpoints answer far sooner.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One attempt of one call. ECR and Secrets Manager answer in tens of milliseconds; a hung
/// attempt must be cut so the retry (or the deadline logic) gets a chance.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// One call including retries and their back-off.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(45);
/// Attempts per call: with exponential back-off from 200 ms, a call that keeps being
/// throttled gives up after about 3 s with a clear `ThrottlingException`.
const MAX_ATTEMPTS: u32 = 5;
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);

/// Loads the process's one `SdkConfig`: the standard credential and region chain, the endpoint
/// from `AWS_ENDPOINT_URL` (the local emulator), explicit timeouts and bounded retry.
pub async fn load_sdk_config() -> SdkConfig {
    configure(aws_config::defaults(BehaviorVersion::latest()))
        .load()
        .await
}

/// The timeouts and retry policy every client of the product uses; exposed so that tests and
/// the CLI build their `SdkConfig` with exactly the production settings.
pub fn configure(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    loader
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(retry_config(
            std::env::var(crate::env::AWS_RETRY_MODE).ok().as_deref(),
        ))
}

/// Standard retry unless `AWS_RETRY_MODE=adaptive` asks otherwise.
///
/// Adaptive mode adds a process-wide client-side rate limiter: once the service throttles, a
/// retry costs 5 tokens refilled at as little as 0.5 per second, so under sustained throttling
/// each retry waits about 10 s and a single call outlives its timeout, ending as an opaque
/// timeout instead of a `ThrottlingException`. The functions already cap their own concurrency
/// (`hardening.concurrency`, `prewarm.concurrency`), which is the back-pressure that matters
/// here, so the predictable standard mode is the default.
fn retry_config(mode: Option<&str>) -> RetryConfig {
    let config = match mode {
        Some(mode) if mode.eq_ignore_ascii_case("adaptive") => RetryConfig::adaptive(),
        _ => RetryConfig::standard(),
    };
    config
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
}

/// The clients of one process, built once from one `SdkConfig` and shared by every invocation.
/// Cloning is cheap (the SDK clients are reference counted). The SDK clients stay inside:
/// callers get the adapters (registry, templates, scanning, secret store, alert topic, Lambda,
/// IAM), which speak the domain's types.
#[derive(Clone, Debug)]
pub struct Clients {
    ecr: aws_sdk_ecr::Client,
    secrets: aws_sdk_secretsmanager::Client,
    sns: aws_sdk_sns::Client,
    lambda: aws_sdk_lambda::Client,
    /// Read only: the consumer doctor's policy simulation and role lookups.
    iam: aws_sdk_iam::Client,
    /// The state table's client: built always (a client is cheap until it calls), asked only
    /// with a table name.
    dynamodb: aws_sdk_dynamodb::Client,
    /// `PTC_STATE_TABLE`: without it the features that need state are off.
    state_table: Option<String>,
    region: Option<String>,
    /// Every ECR call of the process goes through it.
    ecr_pacer: Arc<pacing::Pacer>,
}

impl Clients {
    pub fn new(sdk_config: &SdkConfig) -> Self {
        Clients {
            ecr: aws_sdk_ecr::Client::new(sdk_config),
            secrets: aws_sdk_secretsmanager::Client::new(sdk_config),
            sns: aws_sdk_sns::Client::new(sdk_config),
            lambda: aws_sdk_lambda::Client::new(sdk_config),
            iam: aws_sdk_iam::Client::new(sdk_config),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk_config),
            state_table: None,
            region: sdk_config.region().map(|region| region.to_string()),
            ecr_pacer: Arc::new(pacing::Pacer::default()),
        }
    }

    /// The same clients with ECR calls paced at `calls_per_second` per API.
    pub fn with_ecr_pacing(mut self, calls_per_second: u32) -> Self {
        self.ecr_pacer = Arc::new(pacing::Pacer::new(calls_per_second));
        self
    }

    /// The same clients remembering state in `table` (a DynamoDB table name or ARN); `None` or
    /// an empty name leaves the features that need state off.
    pub fn with_state_table(mut self, table: Option<String>) -> Self {
        self.state_table = table.filter(|table| !table.trim().is_empty());
        self
    }

    /// The state table, when one is configured.
    pub fn state_store(&self) -> Option<state::DynamoState> {
        self.state_table
            .as_ref()
            .map(|table| state::DynamoState::new(self.dynamodb.clone(), table))
    }

    /// The private registry (pull-through cache rules, repositories, pulls), paced.
    pub fn registry(&self) -> ecr::Ecr {
        ecr::Ecr::paced_by(self.ecr.clone(), Arc::clone(&self.ecr_pacer))
    }

    /// The registry's repository creation templates, paced with every other ECR call.
    pub fn creation_templates(&self) -> creation_templates::EcrTemplates {
        creation_templates::EcrTemplates::paced_by(self.ecr.clone(), Arc::clone(&self.ecr_pacer))
    }

    /// The registry scanning configuration and the effective scanning of repositories, paced
    /// with every other ECR call.
    pub fn scanning(&self) -> registry_scanning::EcrScanning {
        registry_scanning::EcrScanning::paced_by(self.ecr.clone(), Arc::clone(&self.ecr_pacer))
    }

    /// Secrets Manager, for credential secrets.
    pub fn secret_store(&self) -> secrets::SecretsManager {
        secrets::SecretsManager::new(self.secrets.clone())
    }

    /// AWS Lambda, for a function that hands the rest of its work to a new invocation of itself.
    /// The SNS topic alerts go to.
    pub fn alert_topic(&self, topic_arn: &str) -> sns::AlertTopic {
        sns::AlertTopic::new(self.sns.clone(), topic_arn)
    }

    pub fn functions(&self) -> lambda::Functions {
        lambda::Functions::new(self.lambda.clone())
    }

    /// IAM of the clients' account: policy simulation and role lookups, read only.
    pub fn iam(&self) -> iam::IamApi {
        iam::IamApi::new(self.iam.clone())
    }

    /// The region the clients talk to, when one was resolved.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

/// SDK timestamps to `chrono`, once for every adapter.
fn to_chrono(time: Option<&aws_smithy_types::DateTime>) -> Option<chrono::DateTime<chrono::Utc>> {
    time.and_then(|time| chrono::DateTime::from_timestamp(time.secs(), time.subsec_nanos()))
}
