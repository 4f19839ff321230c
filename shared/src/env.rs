//! Environment variables the product reads, in one place.

/// Path of the configuration file read by the Lambdas.
pub const PTC_CONFIG: &str = "PTC_CONFIG";
/// Where the configuration layer puts the file when `PTC_CONFIG` is unset.
pub const DEFAULT_CONFIG_PATH: &str = "/opt/ptc-ops/ptc-ops.toml";
/// Overrides `alerts.topic_arn` (SAM injects the topic it creates).
pub const PTC_ALERT_TOPIC_ARN: &str = "PTC_ALERT_TOPIC_ARN";
/// Overrides `hardening.creation_template_role_arn` (SAM injects the role it creates for
/// repository creation templates).
pub const PTC_TEMPLATE_ROLE_ARN: &str = "PTC_TEMPLATE_ROLE_ARN";
/// The KMS keys (comma-separated ARNs) the stacks grant the creation templates' role, through
/// ECR only; set by a deployment (empty when none): a profile's `kms_key` must be among them,
/// checked at load.
pub const PTC_TEMPLATE_KMS_KEY_ARNS: &str = "PTC_TEMPLATE_KMS_KEY_ARNS";
/// The AWS SDKs' standard retry-mode variable; `adaptive` turns on client-side rate limiting.
pub const AWS_RETRY_MODE: &str = "AWS_RETRY_MODE";
/// Set by the Lambda runtime environment: its presence means the code runs in Lambda, where a
/// sweep that runs short of time can invoke its own function to carry on.
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The ARN of `harden-repository`'s own execution role (SAM sets it; Lambda sets no variable
/// for it): a setting change whose CloudTrail record shows this role as the caller was made by
/// the function itself and is acknowledged without work. Unset, every change is checked (with
/// reads only when it was the function's own, since the repository is then in shape).
pub const PTC_FUNCTION_ROLE_ARN: &str = "PTC_FUNCTION_ROLE_ARN";
/// The ARN of `prewarm-images`' execution role (the stacks pass it to `harden-repository`): the
/// sweep registers it as a pull-time update exclusion, so pre-warm pulls leave
/// `lastRecordedPullTime` alone (`prewarm.exclude_from_pull_time`). Unset, nothing is registered.
pub const PTC_PREWARM_ROLE_ARN: &str = "PTC_PREWARM_ROLE_ARN";
/// The DynamoDB table the functions remember state in (alert repeats): partition key `pk`
/// (string), TTL attribute `expires_at`. The stacks create it; unset, the features that need
/// state are off and a run says so in one info finding.
pub const PTC_STATE_TABLE: &str = "PTC_STATE_TABLE";
