//! `run` against in-memory ports: pulls that fail, images already cached and a deadline that
//! leaves no time, without the emulator (the emulator-backed tests pull through a real
//! upstream registry).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::outcome::ImageStatus;
use super::*;
use crate::config::Config;
use crate::domain::freshness::RefreshMode;
use crate::domain::CacheRule;
use crate::ports::fakes::{self, FakeEcr, FakeSecretStore};

const NGINX: &str = "docker-hub/library/nginx";
const ALPINE: &str = "docker-hub/library/alpine";

fn registry() -> FakeEcr {
    FakeEcr::default()
        .with_rule(CacheRule::new("docker-hub", "registry-1.docker.io"))
        .with_upstream_image(NGINX, "1.27", "sha256:aaaa")
        .with_upstream_image(ALPINE, "3.20", "sha256:bbbb")
}

async fn warm(ecr: &Arc<FakeEcr>, deadline: Deadline) -> PrewarmReport {
    let ports = fakes::ports(ecr, &Arc::new(FakeSecretStore::default()));
    let config = Config::from_toml_str("", Path::new("."), "test").expect("the defaults are valid");
    let context = RunContext::new(&ports, &config).with_deadline(deadline);
    let request = Request {
        images: Some(vec!["nginx:1.27".to_owned(), "alpine:3.20".to_owned()]),
        dry_run: false,
        refresh: Some(RefreshMode::Never),
        force_refresh: false,
    };
    run(&context, request)
        .await
        .expect("the run reports, it does not fail")
        .report
}

fn statuses(report: &PrewarmReport) -> Vec<(&str, ImageStatus)> {
    report
        .details
        .images
        .iter()
        .map(|image| (image.input.as_str(), image.status))
        .collect()
}

#[tokio::test]
async fn images_are_pulled_once_then_found_in_the_cache() {
    let ecr = Arc::new(registry());
    let first = warm(&ecr, Deadline::none()).await;
    assert_eq!(
        statuses(&first),
        vec![
            ("nginx:1.27", ImageStatus::Warmed),
            ("alpine:3.20", ImageStatus::Warmed)
        ]
    );
    assert_eq!(
        ecr.stored(NGINX)
            .and_then(|stored| stored.images.get("1.27").cloned()),
        Some("sha256:aaaa".to_owned()),
        "the pull cached the image"
    );
    let second = warm(&ecr, Deadline::none()).await;
    assert_eq!(
        statuses(&second),
        vec![
            ("nginx:1.27", ImageStatus::AlreadyCached),
            ("alpine:3.20", ImageStatus::AlreadyCached)
        ]
    );
}

#[tokio::test]
async fn a_throttled_pull_fails_its_image_only() {
    let ecr =
        Arc::new(registry().failing("ecr:BatchGetImage", Some(ALPINE), "ThrottlingException"));
    let report = warm(&ecr, Deadline::none()).await;
    assert_eq!(
        statuses(&report),
        vec![
            ("nginx:1.27", ImageStatus::Warmed),
            ("alpine:3.20", ImageStatus::Failed)
        ]
    );
    let failed = &report.details.images[1];
    assert!(
        failed
            .error
            .as_deref()
            .is_some_and(|error| error.contains("ThrottlingException")),
        "{failed:?}"
    );
    assert!(
        report
            .findings
            .iter()
            .any(|finding| finding.severity >= Severity::Warning),
        "a failed pull is a finding: {:?}",
        report.findings
    );
}

#[tokio::test]
async fn no_pull_starts_inside_the_finishing_reserve() {
    let ecr = Arc::new(registry());
    let report = warm(
        &ecr,
        Deadline::after(FINISH_RESERVE - Duration::from_millis(200)),
    )
    .await;
    assert_eq!(
        statuses(&report),
        vec![
            ("nginx:1.27", ImageStatus::NotAttempted),
            ("alpine:3.20", ImageStatus::NotAttempted)
        ]
    );
    assert!(
        !ecr.calls()
            .iter()
            .any(|call| call.starts_with("ecr:BatchGetImage")),
        "{:?}",
        ecr.calls()
    );
}
