//! Where the suite runs: the local emulator (default) or a real account
//! (`PTC_CONFORMANCE_REAL=1`), behind one [`Target`] so every check is written once.
//!
//! On a real account the suite creates and deletes only resources whose name starts with
//! [`RESOURCE_PREFIX`], reads registry-wide settings without changing them (unless the account
//! has none, see `registry.rs`), and deletes what it created even when a check fails.

use std::future::Future;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use aws_config::BehaviorVersion;
use aws_sdk_ecr::error::ProvideErrorMetadata;
use futures::FutureExt;
use ptc_ops_tests::TestEnv;
use serde_json::json;

/// Every resource the suite creates is named with this prefix, and nothing else is written.
pub const RESOURCE_PREFIX: &str = "ptc-conformance-";

/// The environment variable that points the suite at a real account.
pub const REAL_ACCOUNT_VARIABLE: &str = "PTC_CONFORMANCE_REAL";

pub struct Target {
    pub ecr: aws_sdk_ecr::Client,
    pub account_id: String,
    pub region: String,
    /// `Some` on the emulator: its control API, SQS and call log.
    pub emulator: Option<TestEnv>,
    run_id: String,
}

/// An AWS error reduced to what the checks compare: its code and message.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The code and message of an SDK error; transport failures keep their description.
pub fn refusal<E, R>(error: aws_sdk_ecr::error::SdkError<E, R>) -> Refusal
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => Refusal {
            code: service.code().unwrap_or("Unknown").to_owned(),
            message: service.message().unwrap_or_default().to_owned(),
        },
        None => Refusal {
            code: "NotAServiceError".to_owned(),
            message: format!("{error:?}"),
        },
    }
}

impl Target {
    pub fn is_real() -> bool {
        std::env::var(REAL_ACCOUNT_VARIABLE).is_ok_and(|value| value == "1")
    }

    pub async fn new() -> Target {
        // Eight hex digits: rule prefixes are at most 30 characters.
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        if !Target::is_real() {
            let env = TestEnv::new().await;
            return Target {
                ecr: env.ecr().clone(),
                account_id: env.account_id.clone(),
                region: env.region.clone(),
                emulator: Some(env),
                run_id,
            };
        }
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| {
                panic!("{REAL_ACCOUNT_VARIABLE}=1 needs `AWS_REGION` (the region to check)")
            });
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(region.clone()));
        let sdk_config = ptc_ops::aws::configure(loader).load().await;
        let ecr = aws_sdk_ecr::Client::new(&sdk_config);
        // Once per run, before any check creates anything: what a killed run left behind.
        static LEFTOVERS: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
        LEFTOVERS.get_or_init(|| delete_leftovers(&ecr)).await;
        let registry = ecr
            .describe_registry()
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot read the registry: {}", refusal(error)));
        Target {
            account_id: registry.registry_id.unwrap_or_default(),
            ecr,
            region,
            emulator: None,
            run_id,
        }
    }

    pub fn real(&self) -> bool {
        self.emulator.is_none()
    }

    /// `ptc-conformance-<run>-<what>`: unique per run and check, and inside the suite's namespace.
    pub fn name(&self, what: &str) -> String {
        if what.is_empty() {
            format!("{RESOURCE_PREFIX}{}", self.run_id)
        } else {
            format!("{RESOURCE_PREFIX}{}-{what}", self.run_id)
        }
    }

    /// Records the answer the target gave where AWS's behaviour is unconfirmed, so a run against
    /// a real account says which one it was. Appends to `target/tmp/conformance-answers.jsonl`.
    pub fn record(&self, check: &str, answer: &str) {
        let mode = if self.real() { "real" } else { "emulator" };
        let line = json!({"mode": mode, "region": self.region, "check": check, "answer": answer});
        println!("conformance answer: {line}");
        let path = answers_file();
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            let _ = writeln!(file, "{line}");
        }
    }

    /// Runs `check`, then `cleanup` whatever happened, then re-raises a failure of `check`.
    pub async fn run_then_clean<C, D>(&self, check: C, cleanup: D)
    where
        C: Future<Output = ()>,
        D: Future<Output = ()>,
    {
        let outcome = AssertUnwindSafe(check).catch_unwind().await;
        cleanup.await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    /// Creates a repository of the suite's namespace.
    pub async fn create_repository(&self, name: &str) {
        assert!(
            name.starts_with(RESOURCE_PREFIX),
            "not a suite name: {name}"
        );
        self.ecr
            .create_repository()
            .repository_name(name)
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot create `{name}`: {}", refusal(error)));
    }

    /// Deletes a repository of the suite's namespace with its images; gone already is fine.
    pub async fn delete_repository(&self, name: &str) {
        assert!(
            name.starts_with(RESOURCE_PREFIX),
            "not a suite name: {name}"
        );
        if let Err(error) = self
            .ecr
            .delete_repository()
            .repository_name(name)
            .force(true)
            .send()
            .await
        {
            let refusal = refusal(error);
            if refusal.code != "RepositoryNotFoundException" {
                eprintln!("cleanup: cannot delete repository `{name}`: {refusal}");
            }
        }
    }
}

fn answers_file() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance-answers.jsonl")
}

/// Resources of the suite's namespace older than this are a killed run's leftovers; younger ones
/// may belong to a run going on beside this one.
const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

fn is_leftover(created_at: Option<&aws_sdk_ecr::primitives::DateTime>) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default();
    created_at.is_some_and(|created| now - created.secs() > LEFTOVER_AGE.as_secs() as i64)
}

/// Deletes repositories, creation templates and pull-through cache rules named
/// `ptc-conformance-*` that are over an hour old: a run killed before it could clean up leaves
/// them. Nothing outside the suite's namespace is listed for deletion.
async fn delete_leftovers(ecr: &aws_sdk_ecr::Client) {
    let mut deleted = Vec::new();
    let mut pages = ecr.describe_repositories().into_paginator().send();
    while let Some(Ok(page)) = pages.next().await {
        for repository in page.repositories() {
            let name = repository.repository_name().unwrap_or_default();
            if name.starts_with(RESOURCE_PREFIX) && is_leftover(repository.created_at()) {
                let _ = ecr
                    .delete_repository()
                    .repository_name(name)
                    .force(true)
                    .send()
                    .await;
                deleted.push(format!("repository {name}"));
            }
        }
    }
    if let Ok(templates) = ecr.describe_repository_creation_templates().send().await {
        for template in templates.repository_creation_templates() {
            let prefix = template.prefix().unwrap_or_default();
            if prefix.starts_with(RESOURCE_PREFIX) && is_leftover(template.created_at()) {
                let _ = ecr
                    .delete_repository_creation_template()
                    .prefix(prefix)
                    .send()
                    .await;
                deleted.push(format!("template {prefix}"));
            }
        }
    }
    if let Ok(rules) = ecr.describe_pull_through_cache_rules().send().await {
        for rule in rules.pull_through_cache_rules() {
            let prefix = rule.ecr_repository_prefix().unwrap_or_default();
            if prefix.starts_with(RESOURCE_PREFIX) && is_leftover(rule.created_at()) {
                let _ = ecr
                    .delete_pull_through_cache_rule()
                    .ecr_repository_prefix(prefix)
                    .send()
                    .await;
                deleted.push(format!("rule {prefix}"));
            }
        }
    }
    if !deleted.is_empty() {
        println!(
            "conformance: deleted leftovers of an earlier run: {}",
            deleted.join(", ")
        );
    }
}
