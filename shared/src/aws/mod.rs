//! The AWS edge. Everything that knows an SDK type lives below this module: client setup (once
//! per process), calls, and the conversion of SDK types and errors into domain types.

pub mod ecr;
mod error;
pub mod sns;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

pub use error::{AwsError, AwsErrorKind};

/// Time to open a connection; loopback and VPC endpoints answer far sooner.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One attempt of one call. ECR and Secrets Manager answer in tens of milliseconds; a hung
/// attempt must be cut so the retry (or the deadline logic) gets a chance.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// One call including retries and their back-off.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(45);
/// Attempts per call. Throttling is expected on large sweeps; adaptive retry also slows the
/// whole client down when the service pushes back, so five attempts are rarely all used.
const MAX_ATTEMPTS: u32 = 5;
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);

/// Loads the process's one `SdkConfig`: the standard credential and region chain, the endpoint
/// from `AWS_ENDPOINT_URL` (the local emulator), explicit timeouts and adaptive retry.
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
        .retry_config(
            RetryConfig::adaptive()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(INITIAL_BACKOFF),
        )
}

/// The clients of one process, built once from one `SdkConfig` and shared by every invocation.
/// Cloning is cheap (the SDK clients are reference counted).
#[derive(Clone, Debug)]
pub struct Clients {
    pub ecr: aws_sdk_ecr::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sns: aws_sdk_sns::Client,
    region: Option<String>,
}

impl Clients {
    pub fn new(sdk_config: &SdkConfig) -> Self {
        Clients {
            ecr: aws_sdk_ecr::Client::new(sdk_config),
            secrets: aws_sdk_secretsmanager::Client::new(sdk_config),
            sns: aws_sdk_sns::Client::new(sdk_config),
            region: sdk_config.region().map(|region| region.to_string()),
        }
    }

    /// The private registry (pull-through cache rules, repositories, pulls).
    pub fn registry(&self) -> ecr::Registry {
        ecr::Registry::new(self.ecr.clone())
    }

    /// The region the clients talk to, when one was resolved.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}
