//! `run` against in-memory ports: what a failing or slow secret store does to a run, without
//! the emulator (the emulator-backed tests hold the same run to the AWS contract).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::ports::fakes::{self, FakeEcr, FakeSecretStore, FakeUpstream};
use crate::ports::{DynPorts, Upstream};
use crate::ports::{HttpFailure, UpstreamResponse};
use crate::run::RunContext;

const GOOD: &str = r#"{"username":"ops","accessToken":"dckr_pat_0123456789"}"#;
const DOCKER_HUB: &str = "ecr-pullthroughcache/docker-hub";
const GHCR: &str = "ecr-pullthroughcache/ghcr";

fn config() -> Config {
    Config::from_toml_str("", Path::new("."), "test")
        .expect("the defaults are a valid configuration")
}

/// Two secrets, each used by one rule.
fn registry() -> FakeEcr {
    FakeEcr::default()
        .with_rule(
            CacheRule::new("docker-hub", "registry-1.docker.io")
                .with_credential(fakes::secret(DOCKER_HUB).arn),
        )
        .with_rule(CacheRule::new("ghcr", "ghcr.io").with_credential(fakes::secret(GHCR).arn))
}

fn store() -> FakeSecretStore {
    FakeSecretStore::default()
        .with_secret(fakes::secret(DOCKER_HUB), GOOD)
        .with_secret(fakes::secret(GHCR), GOOD)
}

async fn run_with(
    ecr: FakeEcr,
    secrets: FakeSecretStore,
    deadline: Deadline,
) -> (Result<Ran<CredentialsDetails>, Error>, Arc<FakeSecretStore>) {
    let secrets = Arc::new(secrets);
    let ports = fakes::ports(&Arc::new(ecr), &secrets);
    let config = config();
    let context = RunContext::new(&ports, &config).with_deadline(deadline);
    (run(&context, Request::default()).await, secrets)
}

fn titles_about<'r>(report: &'r CredentialsReport, secret: &str) -> Vec<&'r str> {
    report
        .findings
        .iter()
        .filter(|finding| finding.resource == secret)
        .map(|finding| finding.title.as_str())
        .collect()
}

#[tokio::test]
async fn a_store_that_cannot_list_fails_the_run_naming_what_it_could_not_do() {
    let (ran, _) = run_with(
        registry(),
        store().failing("secretsmanager:ListSecrets", None, "AccessDeniedException"),
        Deadline::none(),
    )
    .await;
    let error = ran.expect_err("nothing can be checked without the list");
    let message = error.full_message();
    assert!(
        message.contains("cannot list the credential secrets"),
        "{message}"
    );
    assert!(message.contains("secretsmanager:ListSecrets"), "{message}");
}

#[tokio::test]
async fn one_unreadable_value_is_a_finding_and_the_other_secret_is_still_checked() {
    let (ran, secrets) = run_with(
        registry(),
        store().failing(
            "secretsmanager:GetSecretValue",
            Some(&fakes::secret(GHCR).arn),
            "ThrottlingException",
        ),
        Deadline::none(),
    )
    .await;
    let report = ran.expect("a failing secret does not fail the run").report;
    let unreadable = report
        .findings
        .iter()
        .find(|finding| {
            finding.title
                == "value of credential secret `ecr-pullthroughcache/ghcr` could not be read"
        })
        .unwrap_or_else(|| panic!("{:?}", report.findings));
    assert!(
        unreadable.message.contains("(throttled)"),
        "{}",
        unreadable.message
    );
    assert!(
        !titles_about(&report, DOCKER_HUB)
            .iter()
            .any(|title| title.contains("could not be read")),
        "{:?}",
        report.findings
    );
    assert_eq!(
        report.details.secrets.keys().collect::<Vec<_>>(),
        vec![DOCKER_HUB, GHCR],
        "both secrets are in the report"
    );
    assert_eq!(
        secrets
            .calls()
            .iter()
            .filter(|call| call.starts_with("secretsmanager:GetSecretValue"))
            .count(),
        2,
        "each value is read once: {:?}",
        secrets.calls()
    );
}

#[tokio::test]
async fn rules_that_cannot_be_listed_are_a_finding_and_the_secrets_are_still_checked() {
    let (ran, secrets) = run_with(
        registry().failing(
            "ecr:DescribePullThroughCacheRules",
            None,
            "AccessDeniedException",
        ),
        store(),
        Deadline::none(),
    )
    .await;
    let report = ran.expect("unknown rules do not fail the run").report;
    assert_eq!(
        titles_about(&report, CREDENTIAL_SECRET_PREFIX),
        vec!["pull-through cache rules could not be listed"]
    );
    assert_eq!(report.details.secrets.len(), 2);
    assert!(
        secrets
            .calls()
            .iter()
            .any(|call| call.starts_with("secretsmanager:GetSecretValue")),
        "{:?}",
        secrets.calls()
    );
}

#[tokio::test]
async fn a_deadline_inside_the_finishing_reserve_reads_no_value_and_says_so_per_secret() {
    let (ran, secrets) = run_with(
        registry(),
        store(),
        Deadline::after(FINISH_RESERVE - Duration::from_millis(500)),
    )
    .await;
    let report = ran.expect("a short deadline does not fail the run").report;
    for secret in [DOCKER_HUB, GHCR] {
        assert_eq!(
            titles_about(&report, secret),
            vec![format!(
                "check of credential secret `{secret}` did not finish in time"
            )],
        );
    }
    assert_eq!(
        secrets.calls(),
        vec!["secretsmanager:ListSecrets".to_owned()],
        "no value is read when no time is left"
    );
}

/// Expiry discovery on, written back as the expiry tag.
fn discovering() -> Config {
    Config::from_toml_str(
        "[credentials]\ndiscover_expiry = true\nwrite_back = true\n",
        Path::new("."),
        "test",
    )
    .expect("a valid configuration")
}

async fn discover_with(upstream: &Arc<FakeUpstream>) -> (CredentialsReport, Arc<FakeSecretStore>) {
    let secrets = Arc::new(FakeSecretStore::default().with_secret(fakes::secret(GHCR), GOOD));
    let ecr = FakeEcr::default()
        .with_rule(CacheRule::new("ghcr", "ghcr.io").with_credential(fakes::secret(GHCR).arn));
    let ports = DynPorts {
        upstream: Arc::clone(upstream) as Arc<dyn Upstream>,
        ..fakes::ports(&Arc::new(ecr), &secrets)
    };
    let config = discovering();
    let context = RunContext::new(&ports, &config);
    let report = run(&context, Request::default())
        .await
        .expect("the run reports")
        .report;
    (report, secrets)
}

#[tokio::test]
async fn an_upstream_that_does_not_answer_leaves_the_expiry_unread_and_names_the_url() {
    let upstream = Arc::new(
        FakeUpstream::default().answering(Err(HttpFailure::Timeout(Duration::from_secs(10)))),
    );
    let (report, secrets) = discover_with(&upstream).await;
    assert_eq!(
        upstream.asked(),
        vec!["https://api.github.com/user".to_owned()]
    );
    let unread = report
        .findings
        .iter()
        .find(|finding| {
            finding.title
                == "expiry of credential secret `ecr-pullthroughcache/ghcr` could not be read from GitHub"
        })
        .unwrap_or_else(|| panic!("{:?}", report.findings));
    assert!(
        unread.message.contains("https://api.github.com/user"),
        "{}",
        unread.message
    );
    assert!(
        !secrets.tags_of(GHCR).contains_key("ptc-ops:expires-at"),
        "nothing is written back without a date"
    );
}

#[tokio::test]
async fn a_dated_github_token_is_written_back_as_the_expiry_tag() {
    let mut headers = hyper::HeaderMap::new();
    headers.insert(
        "github-authentication-token-expiration",
        hyper::header::HeaderValue::from_static("2027-01-15 10:00:00 UTC"),
    );
    let upstream = Arc::new(FakeUpstream::default().answering(Ok(UpstreamResponse {
        status: hyper::StatusCode::OK,
        headers,
        body: Default::default(),
    })));
    let (report, secrets) = discover_with(&upstream).await;
    let detail = &report.details.secrets[GHCR];
    assert_eq!(detail.expiry_source, Some(ExpirySource::Github));
    assert_eq!(
        secrets
            .tags_of(GHCR)
            .get("ptc-ops:expires-at")
            .map(String::as_str),
        Some("2027-01-15T10:00:00Z"),
        "{:?}",
        secrets.calls()
    );
}
