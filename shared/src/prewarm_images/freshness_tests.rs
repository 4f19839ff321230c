//! Freshness of cached tags against in-memory ports: the upstream's `HEAD` answers from a queue,
//! the registry is the fake ECR (the emulator-backed tests ask a real registry).

use std::path::Path;
use std::sync::Arc;

use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;

use super::outcome::ImageStatus;
use super::*;
use crate::config::Config;
use crate::domain::CacheRule;
use crate::ports::fakes::{self, FakeEcr, FakeSecretStore, FakeUpstream};
use crate::ports::{HttpFailure, UpstreamResponse};
use crate::test_cases::named_cases;

const NGINX: &str = "docker-hub/library/nginx";
const OLD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const NEW: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn head(status: u16, digest: Option<&str>) -> Result<UpstreamResponse, HttpFailure> {
    let mut headers = hyper::HeaderMap::new();
    if let Some(digest) = digest {
        headers.insert(
            "docker-content-digest",
            HeaderValue::from_str(digest).expect("header"),
        );
    }
    Ok(UpstreamResponse {
        status: StatusCode::from_u16(status).expect("status"),
        headers,
        body: Bytes::new(),
    })
}

/// What a row expects of the image and of the calls made.
struct Expected {
    status: ImageStatus,
    upstream_digest: Option<&'static str>,
    /// `digest` in the report after the run.
    digest: Option<&'static str>,
    /// Part of `note` or `upstream_check`.
    says: Option<&'static str>,
    deleted: bool,
    upstream_asked: usize,
}

/// `nginx:1.27` is cached as `OLD`, the upstream tag moved to `NEW` (in the fake registry), the
/// upstream's `HEAD` answers `answers`; a run with `config` and `refresh` ends as `expected`.
fn check_freshness(
    name: &str,
    config: &str,
    image: &str,
    refresh: Option<RefreshMode>,
    answers: Vec<Result<UpstreamResponse, HttpFailure>>,
    expected: Expected,
) {
    run_case(
        name,
        config,
        image,
        refresh,
        (false, false),
        answers,
        expected,
    );
}

/// `ptc refresh` (`dry_run` or not) of `nginx:1.27`, cached as `OLD` while the upstream moved to
/// `NEW`, with the upstream's `HEAD` answering `answers`.
fn check_forced(
    name: &str,
    dry_run: bool,
    answers: Vec<Result<UpstreamResponse, HttpFailure>>,
    expected: Expected,
) {
    run_case(
        name,
        "",
        "nginx:1.27",
        None,
        (true, dry_run),
        answers,
        expected,
    );
}

fn run_case(
    name: &str,
    config: &str,
    image: &str,
    refresh: Option<RefreshMode>,
    (force_refresh, dry_run): (bool, bool),
    answers: Vec<Result<UpstreamResponse, HttpFailure>>,
    expected: Expected,
) {
    let ecr = Arc::new(
        FakeEcr::default()
            .with_rule(CacheRule::new("docker-hub", "registry-1.docker.io"))
            .with_upstream_image(NGINX, "1.27", OLD),
    );
    let upstream = Arc::new(
        answers
            .into_iter()
            .fold(FakeUpstream::default(), FakeUpstream::answering),
    );
    let mut ports = fakes::ports(&ecr, &Arc::new(FakeSecretStore::default()));
    ports.upstream = Arc::clone(&upstream) as Arc<dyn crate::ports::Upstream>;
    let config = Config::from_toml_str(config, Path::new("."), "test").expect("config");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let context = RunContext::new(&ports, &config);
    let run_once = |images: Vec<String>, refresh, (force_refresh, dry_run)| {
        runtime
            .block_on(run(
                &context,
                Request {
                    images: Some(images),
                    dry_run,
                    refresh,
                    force_refresh,
                },
            ))
            .expect("the run reports")
            .report
    };
    // The first run caches `OLD` and asks no upstream.
    run_once(
        vec!["nginx:1.27".to_owned()],
        Some(RefreshMode::Never),
        (false, false),
    );
    ecr.move_upstream_tag(NGINX, "1.27", NEW);
    let report = run_once(vec![image.to_owned()], refresh, (force_refresh, dry_run));
    let result = &report.details.images[0];
    assert_eq!(result.status, expected.status, "{name}: {result:?}");
    assert_eq!(
        result.upstream_digest.as_deref(),
        expected.upstream_digest,
        "{name}: {result:?}"
    );
    assert_eq!(
        result.digest.as_deref(),
        expected.digest,
        "{name}: {result:?}"
    );
    if expected.status == ImageStatus::Refreshed {
        assert_eq!(result.previous_digest.as_deref(), Some(OLD), "{name}");
    }
    if let Some(part) = expected.says {
        let said = format!("{:?} {:?}", result.note, result.upstream_check);
        assert!(said.contains(part), "{name}: {said}");
    }
    let deleted = ecr
        .calls()
        .iter()
        .any(|call| call.starts_with("ecr:BatchDeleteImage"));
    assert_eq!(deleted, expected.deleted, "{name}: {:?}", ecr.calls());
    assert_eq!(upstream.asked().len(), expected.upstream_asked, "{name}");
    if force_refresh {
        return;
    }
    let stale_or_unknown =
        matches!(expected.status, ImageStatus::Stale) || result.upstream_check.is_some();
    assert_eq!(
        report
            .findings
            .iter()
            .any(|finding| finding.title.contains("upstream")),
        stale_or_unknown,
        "{name}: {:?}",
        report.findings
    );
}

const STALE: &str = "[prewarm]\nrefresh = \"stale\"";

named_cases! {
    /// A cached tag is compared with its upstream; only a real difference under a managed
    /// prefix is deleted and pulled again.
    mod cached_tags_are_compared_and_refreshed => check_freshness;
    report_by_default("", "nginx:1.27", None, vec![head(200, Some(NEW))], Expected {
        status: ImageStatus::Stale, upstream_digest: Some(NEW), digest: Some(OLD), says: None,
        deleted: false, upstream_asked: 1,
    }),
    refreshed_when_configured(STALE, "nginx:1.27", None, vec![head(200, Some(NEW))], Expected {
        status: ImageStatus::Refreshed, upstream_digest: Some(NEW), digest: Some(NEW), says: None,
        deleted: true, upstream_asked: 1,
    }),
    refreshed_by_the_event("", "nginx:1.27", Some(RefreshMode::Stale), vec![head(200, Some(NEW))], Expected {
        status: ImageStatus::Refreshed, upstream_digest: Some(NEW), digest: Some(NEW), says: None,
        deleted: true, upstream_asked: 1,
    }),
    current_tag(STALE, "nginx:1.27", None, vec![head(200, Some(OLD))], Expected {
        status: ImageStatus::AlreadyCached, upstream_digest: Some(OLD), digest: Some(OLD), says: None,
        deleted: false, upstream_asked: 1,
    }),
    never_asks_no_upstream(STALE, "nginx:1.27", Some(RefreshMode::Never), vec![], Expected {
        status: ImageStatus::AlreadyCached, upstream_digest: None, digest: Some(OLD), says: None,
        deleted: false, upstream_asked: 0,
    }),
    upstream_without_digest(STALE, "nginx:1.27", None, vec![head(200, None)], Expected {
        status: ImageStatus::AlreadyCached, upstream_digest: None, digest: Some(OLD),
        says: Some("without a digest"), deleted: false, upstream_asked: 1,
    }),
    unauthorized_upstream(STALE, "nginx:1.27", None, vec![head(403, None)], Expected {
        status: ImageStatus::AlreadyCached, upstream_digest: None, digest: Some(OLD),
        says: Some("registry-1.docker.io"), deleted: false, upstream_asked: 1,
    }),
    slow_upstream(STALE, "nginx:1.27", None, vec![Err(HttpFailure::Timeout(std::time::Duration::from_secs(10)))], Expected {
        status: ImageStatus::AlreadyCached, upstream_digest: None, digest: Some(OLD),
        says: Some("no answer within 10 s"), deleted: false, upstream_asked: 1,
    }),
    unreachable_upstream(STALE, "nginx:1.27", None, vec![Err(HttpFailure::Transport("reset".to_owned()))], Expected {
        status: ImageStatus::AlreadyCached, upstream_digest: None, digest: Some(OLD),
        says: Some("was not reached"), deleted: false, upstream_asked: 1,
    }),
    unmanaged_prefix_is_reported_not_deleted(
        "[prewarm]\nrefresh = \"stale\"\n[hardening]\nprefixes = [\"ghcr\"]",
        "nginx:1.27",
        None,
        vec![head(200, Some(NEW))],
        Expected {
            status: ImageStatus::Stale, upstream_digest: Some(NEW), digest: Some(OLD),
            says: Some("not under a managed prefix"), deleted: false, upstream_asked: 1,
        },
    ),
    digest_pin_is_never_refreshed(
        STALE,
        "nginx:1.27@sha256:1111111111111111111111111111111111111111111111111111111111111111",
        None,
        vec![],
        Expected {
            status: ImageStatus::AlreadyCached, upstream_digest: None, digest: Some(OLD), says: None,
            deleted: false, upstream_asked: 0,
        },
    ),
}

named_cases! {
    /// `ptc refresh` refreshes a cached tag whether or not the upstream moved, and tells its
    /// staleness; its dry run writes nothing.
    mod forced_refreshes => check_forced;
    stale_tag(false, vec![head(200, Some(NEW))], Expected {
        status: ImageStatus::Refreshed, upstream_digest: Some(NEW), digest: Some(NEW), says: None,
        deleted: true, upstream_asked: 1,
    }),
    current_tag_refreshed_anyway(false, vec![head(200, Some(OLD))], Expected {
        status: ImageStatus::Refreshed, upstream_digest: Some(OLD), digest: Some(NEW),
        says: Some("the tag moved again"), deleted: true, upstream_asked: 1,
    }),
    upstream_unreachable_refreshed_anyway(
        false,
        vec![Err(HttpFailure::Transport("reset".to_owned()))],
        Expected {
            status: ImageStatus::Refreshed, upstream_digest: None, digest: Some(NEW), says: None,
            deleted: true, upstream_asked: 1,
        },
    ),
    dry_run_reports_only(true, vec![head(200, Some(NEW))], Expected {
        status: ImageStatus::Stale, upstream_digest: Some(NEW), digest: Some(OLD), says: None,
        deleted: false, upstream_asked: 1,
    }),
}
