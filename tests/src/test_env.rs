use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use ptc_ops::aws::Clients;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::emulator::Emulator;
use crate::inbox::AlertInbox;

/// Regions handed out round-robin; together with a per-test account they keep tests that
/// share one emulator out of each other's way.
const REGIONS: &[&str] = &[
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-southeast-1",
    "ap-northeast-1",
    "eu-north-1",
    "ca-central-1",
    "sa-east-1",
    "ap-south-1",
];

static NEXT_TEST: AtomicU64 = AtomicU64::new(0);

/// One test's slice of the emulator: its own account (the emulator maps a 12-digit access key
/// id to that account) and region, clients built with the product's own timeouts and retry.
pub struct TestEnv {
    pub emulator: &'static Emulator,
    pub account_id: String,
    pub region: String,
    pub sdk_config: SdkConfig,
    /// The product's clients, as a function or the CLI builds them.
    pub clients: Clients,
    /// Raw SDK clients for what a test does itself (seeding, reading back); the product's code
    /// never sees an SDK type outside `ptc_ops::aws`.
    ecr: aws_sdk_ecr::Client,
    secrets: aws_sdk_secretsmanager::Client,
    sns: aws_sdk_sns::Client,
    iam: aws_sdk_iam::Client,
    http: reqwest::Client,
}

/// One AWS call as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Call {
    pub seq: u64,
    pub service: String,
    pub operation: String,
    pub region: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    pub resource: Option<String>,
    pub status: u16,
    pub fault: Option<String>,
}

impl Call {
    /// Calls that change state. Reads are `Describe*`, `Get*`, `List*`, `BatchGet*`,
    /// `Validate*`; everything else writes.
    pub fn is_write(&self) -> bool {
        const READ_PREFIXES: &[&str] =
            &["Describe", "Get", "List", "BatchGet", "Validate", "Receive"];
        !READ_PREFIXES
            .iter()
            .any(|prefix| self.operation.starts_with(prefix))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    Throttle,
    ServerError,
    AccessDenied,
    Latency,
}

/// A fault for the next `count` matching calls (every call when `None`).
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub kind: FaultKind,
    pub count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Request fields that must equal these values (`{"repositoryName": "…"}`).
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_fields: Option<Value>,
}

impl Fault {
    pub fn new(operation: &str, kind: FaultKind, count: Option<u32>) -> Self {
        Fault {
            operation: operation.to_owned(),
            service: None,
            kind,
            count,
            latency_ms: None,
            match_fields: None,
        }
    }

    pub fn matching(mut self, fields: Value) -> Self {
        self.match_fields = Some(fields);
        self
    }

    pub fn latency(mut self, milliseconds: u64) -> Self {
        self.latency_ms = Some(milliseconds);
        self
    }
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        let test_number = NEXT_TEST.fetch_add(1, Ordering::SeqCst);
        // Unique per test and per test process: processes of one `cargo test` run never share
        // an emulator, but keep accounts distinct anyway for readable logs.
        let account_id = format!(
            "{:06}{:06}",
            std::process::id() % 1_000_000,
            100_000 + test_number
        );
        let region = REGIONS[(test_number as usize) % REGIONS.len()];
        TestEnv::for_account(&account_id, region).await
    }

    /// A fixed account and region (the demo shows stable ARNs).
    pub async fn for_account(account_id: &str, region: &str) -> TestEnv {
        let emulator = Emulator::shared();
        let credentials = Credentials::new(
            account_id,
            "emulator-secret-key",
            None,
            None,
            "ptc-ops-tests",
        );
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(credentials)
            .endpoint_url(emulator.endpoint());
        let sdk_config = ptc_ops::aws::configure(loader).load().await;
        let clients = Clients::new(&sdk_config);
        TestEnv {
            emulator,
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            ecr: aws_sdk_ecr::Client::new(&sdk_config),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk_config),
            sns: aws_sdk_sns::Client::new(&sdk_config),
            iam: aws_sdk_iam::Client::new(&sdk_config),
            sdk_config,
            clients,
            http: reqwest::Client::new(),
        }
    }

    /// The raw ECR client of this test's account, to seed and read back.
    pub fn ecr(&self) -> &aws_sdk_ecr::Client {
        &self.ecr
    }

    /// The raw Secrets Manager client of this test's account.
    pub fn secrets(&self) -> &aws_sdk_secretsmanager::Client {
        &self.secrets
    }

    /// The raw SNS client of this test's account.
    pub fn sns(&self) -> &aws_sdk_sns::Client {
        &self.sns
    }

    /// The raw IAM client of this test's account (roles and policies of consumers).
    pub fn iam(&self) -> &aws_sdk_iam::Client {
        &self.iam
    }

    /// The product's function context for `function` with `config`, built from this test's
    /// clients as a Lambda's `main` builds it.
    pub fn function_context(
        &self,
        function: &'static str,
        config: ptc_ops::config::Config,
    ) -> ptc_ops::lambda::FunctionContext {
        ptc_ops::lambda::FunctionContext::new(function, config, self.clients.clone())
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config)
    }

    /// Environment variables that point a child process (the CLI, a function binary) at this
    /// test's slice of the emulator.
    pub fn process_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.emulator.endpoint().to_owned()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("AWS_ACCESS_KEY_ID", self.account_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", "emulator-secret-key".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    fn control_url(&self, path: &str) -> String {
        format!("{}/_ptc/{path}", self.emulator.endpoint())
    }

    /// The calls this test made so far, oldest first.
    pub async fn calls(&self) -> Vec<Call> {
        #[derive(Deserialize)]
        struct Calls {
            calls: Vec<Call>,
        }
        let response = self
            .http
            .get(self.control_url("calls"))
            .query(&[
                ("region", self.region.as_str()),
                ("account", self.account_id.as_str()),
            ])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|error| panic!("cannot read the emulator's call log: {error}"));
        let calls: Calls = response.json().await.unwrap_or_else(|error| {
            panic!("the emulator's call log is not what was expected: {error}")
        });
        calls
            .calls
            .into_iter()
            .filter(|call| {
                call.account
                    .as_deref()
                    .is_none_or(|account| account == self.account_id)
            })
            .collect()
    }

    /// Forgets this test's calls so far (e.g. after seeding).
    pub async fn clear_calls(&self) {
        self.http
            .delete(self.control_url("calls"))
            .query(&[
                ("region", self.region.as_str()),
                ("account", self.account_id.as_str()),
            ])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|error| panic!("cannot clear the emulator's call log: {error}"));
    }

    /// Write calls made by the product (seeding excluded when `clear_calls` ran after it).
    pub async fn write_calls(&self) -> Vec<Call> {
        self.calls()
            .await
            .into_iter()
            .filter(Call::is_write)
            .collect()
    }

    /// Injects a fault for this test's account and region.
    pub async fn inject(&self, fault: Fault) {
        let mut body =
            serde_json::to_value(&fault).unwrap_or_else(|error| panic!("fault: {error}"));
        body["region"] = json!(self.region);
        body["account"] = json!(self.account_id);
        self.http
            .post(self.control_url("faults"))
            .json(&body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|error| panic!("cannot inject a fault: {error}"));
    }

    /// Changes emulator behaviour for this test's account only (`rule_limit`,
    /// `anonymous_validation`, `upstream_latency_ms`).
    pub async fn set_emulator(&self, mut settings: Value) {
        settings["account"] = json!(self.account_id);
        self.http
            .post(self.control_url("settings"))
            .json(&settings)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|error| panic!("cannot change emulator settings: {error}"));
    }

    /// Sets the push time and last pull time (epoch seconds; a `null` pull time: never pulled)
    /// of `repository`'s images, or of the one with `digest`, as `DescribeImages` reports them.
    pub async fn set_image_times(&self, times: Value) -> u64 {
        let answer: Value = self
            .http
            .post(format!(
                "{}?account={}&region={}",
                self.control_url("image-times"),
                self.account_id,
                self.region
            ))
            .json(&times)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|error| panic!("cannot set image times: {error}"))
            .json()
            .await
            .unwrap_or_else(|error| panic!("image times answer: {error}"));
        answer["updated"].as_u64().unwrap_or(0)
    }

    /// Creates `repository` holding `n_images` tagged images (`PutImage` of a Docker v2
    /// manifest whose one layer has `layer_size` bytes: the image's `imageSizeInBytes`).
    pub async fn seed_images(&self, repository: &str, n_images: usize, layer_size: u64) {
        self.ecr
            .create_repository()
            .repository_name(repository)
            .send()
            .await
            .unwrap_or_else(|error| panic!("create {repository}: {error:?}"));
        for index in 0..n_images {
            // Distinct digests per repository and image, so each manifest is an image of its own.
            let seed = format!("{repository}:{index}");
            let layer = format!("sha256:{:064x}", fxhash(&seed));
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100, "digest": format!("sha256:{:064x}", fxhash(&format!("config {seed}")))},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer_size, "digest": layer}],
            });
            self.ecr
                .put_image()
                .repository_name(repository)
                .image_manifest(manifest.to_string())
                .image_tag(format!("v{index}"))
                .send()
                .await
                .unwrap_or_else(|error| panic!("put an image into {repository}: {error:?}"));
        }
    }

    /// Creates a Secrets Manager secret and returns its ARN.
    pub async fn create_secret(&self, name: &str, secret_string: &str) -> String {
        let output = self
            .secrets()
            .create_secret()
            .name(name)
            .secret_string(secret_string)
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot create secret `{name}`: {error:?}"));
        output
            .arn
            .unwrap_or_else(|| panic!("secret `{name}` has no ARN"))
    }

    /// The JSON a PTC credential secret holds, for the emulator's authenticated upstream.
    pub fn valid_credential_json(&self) -> String {
        self.credential_json_with_token(&self.emulator.info.upstream_credentials.access_token)
    }

    /// The same user with another token: what a revoked or mistyped credential looks like.
    pub fn credential_json_with_token(&self, access_token: &str) -> String {
        json!({"username": self.emulator.info.upstream_credentials.username, "accessToken": access_token}).to_string()
    }

    /// Creates a pull-through cache rule.
    pub async fn create_rule(
        &self,
        prefix: &str,
        upstream_registry_url: &str,
        credential_arn: Option<&str>,
    ) -> aws_sdk_ecr::operation::create_pull_through_cache_rule::CreatePullThroughCacheRuleOutput
    {
        self.ecr
            .create_pull_through_cache_rule()
            .ecr_repository_prefix(prefix)
            .upstream_registry_url(upstream_registry_url)
            .set_credential_arn(credential_arn.map(str::to_owned))
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot create rule `{prefix}`: {error:?}"))
    }

    /// Creates the product's state table as the stacks do (on-demand, partition key `pk` of
    /// type string, no sort key, TTL on `expires_at`) and returns its name.
    pub async fn create_state_table(&self) -> String {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
            TimeToLiveSpecification,
        };
        let dynamodb = aws_sdk_dynamodb::Client::new(&self.sdk_config);
        let table = format!("ptc-ops-state-{}", uuid::Uuid::new_v4().simple());
        let built = |what: &str, error: &dyn std::fmt::Debug| -> ! {
            panic!("cannot build the state table's {what}: {error:?}")
        };
        dynamodb
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap_or_else(|error| built("attribute", &error)),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap_or_else(|error| built("key", &error)),
            )
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot create the state table: {error:?}"));
        dynamodb
            .update_time_to_live()
            .table_name(&table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .unwrap_or_else(|error| built("TTL", &error)),
            )
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot turn on the state table's TTL: {error:?}"));
        table
    }

    /// The product's function context for `function` with `config`, remembering state in
    /// `table` as a deployed function does with `PTC_STATE_TABLE`.
    pub fn function_context_with_state(
        &self,
        function: &'static str,
        config: ptc_ops::config::Config,
        table: &str,
    ) -> ptc_ops::lambda::FunctionContext {
        let clients = self
            .clients
            .clone()
            .with_state_table(Some(table.to_owned()));
        ptc_ops::lambda::FunctionContext::new(function, config, clients)
    }

    /// A topic with an SQS subscription that collects what the product publishes.
    pub async fn alert_inbox(&self) -> AlertInbox {
        AlertInbox::create(self).await
    }

    /// A validated configuration from TOML text; relative paths resolve in `infra/config/`.
    /// Without an `[upstream_registries]` table of its own, the text gets
    /// [`TestEnv::upstream_registries_toml`]: upstreams are asked on loopback, never on the
    /// network.
    pub fn config(&self, toml_text: &str) -> ptc_ops::config::Config {
        let base = crate::repo_root().join("infra/config");
        let text = if toml_text.contains("[upstream_registries]") {
            toml_text.to_owned()
        } else {
            format!("{toml_text}\n{}", self.upstream_registries_toml())
        };
        ptc_ops::config::Config::from_toml_str(&text, &base, "test config")
            .unwrap_or_else(|error| panic!("test configuration is invalid: {error}"))
    }

    /// `[upstream_registries]` mapping each upstream host the emulator stands in for to its
    /// loopback registry (CNCF Distribution), as a deployment maps them to the real ones.
    pub fn upstream_registries_toml(&self) -> String {
        let info = &self.emulator.info;
        let mut text = "[upstream_registries]\n".to_owned();
        for (host, name) in &info.upstream_map {
            // Globs (`*.azurecr.io`) name no host; `registry-1.docker.io` and `docker.io` are
            // one key.
            if host.contains('*') || host == "registry-1.docker.io" {
                continue;
            }
            if let Some(address) = info.upstreams.get(name) {
                text.push_str(&format!("\"{host}\" = \"http://{address}\"\n"));
            }
        }
        text
    }
}

/// A stable 64-bit hash (FNV-1a) for made-up digests.
fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
