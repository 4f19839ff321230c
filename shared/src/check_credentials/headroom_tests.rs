//! Docker Hub headroom: grading, and what each answer of the upstream becomes.

use std::path::Path;
use std::sync::Arc;

use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;

use super::*;
use crate::ports::fakes::{self, FakeEcr, FakeSecretStore, FakeUpstream};
use crate::ports::{HttpFailure, UpstreamResponse};
use crate::test_cases::named_cases;

fn check_grade(name: &str, limit: Option<u64>, remaining: Option<u64>, expected: Grade) {
    assert_eq!(grade(limit, remaining, 20), expected, "{name}");
}

named_cases! {
    /// Below 20 % is low, none left is exhausted, no headers is no limit reported.
    mod headroom_grades => check_grade;
    plenty(Some(100), Some(76), Grade::Ok),
    exactly_the_threshold(Some(100), Some(20), Grade::Ok),
    just_below(Some(100), Some(19), Grade::Low),
    none_left(Some(100), Some(0), Grade::Exhausted),
    none_left_without_limit(None, Some(0), Grade::Exhausted),
    no_headers(None, None, Grade::NoLimitReported),
    limit_only(Some(100), None, Grade::NoLimitReported),
    zero_limit(Some(0), Some(5), Grade::NoLimitReported),
    huge_values(Some(u64::MAX), Some(u64::MAX / 2), Grade::Ok),
}

fn check_secret_name(name: &str, reference: &str, expected: &str) {
    assert_eq!(secret_name(reference), expected, "{name}");
}

named_cases! {
    /// A rule's credential reference names the secret as check-credentials' findings do.
    mod findings_name_the_credential_secret => check_secret_name;
    arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/hub-AbC123", "ecr-pullthroughcache/hub"),
    arn_with_dashes("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/my-hub-AbC123", "ecr-pullthroughcache/my-hub"),
    name("ecr-pullthroughcache/hub", "ecr-pullthroughcache/hub"),
}

fn answer(status: u16, headers: &[(&'static str, &str)]) -> Result<UpstreamResponse, HttpFailure> {
    let mut map = hyper::HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_str(value).expect("header"));
    }
    Ok(UpstreamResponse {
        status: StatusCode::from_u16(status).expect("status"),
        headers: map,
        body: Bytes::new(),
    })
}

fn limits(limit: &str, remaining: &str) -> Result<UpstreamResponse, HttpFailure> {
    answer(
        200,
        &[
            ("ratelimit-limit", limit),
            ("ratelimit-remaining", remaining),
            ("docker-ratelimit-source", "203.0.113.7"),
        ],
    )
}

/// The Docker Hub rule `docker-hub` (anonymous) and a ghcr.io rule, asked once each at most:
/// the upstream's `answer` ends in `status`, a finding of `severity` (or none) whose text holds
/// `says`, and the two metrics only when both counts are known.
fn check_answer(
    name: &str,
    answer: Result<UpstreamResponse, HttpFailure>,
    status: &str,
    severity: Option<Severity>,
    says: &str,
) {
    let upstream = Arc::new(FakeUpstream::default().answering(answer));
    let mut ports = fakes::ports(
        &Arc::new(FakeEcr::default()),
        &Arc::new(FakeSecretStore::default()),
    );
    ports.upstream = Arc::clone(&upstream) as Arc<dyn crate::ports::Upstream>;
    let config = Config::from_toml_str("", Path::new("."), "test").expect("config");
    let hub = CacheRule::new("docker-hub", "registry-1.docker.io");
    let ghcr = CacheRule::new("ghcr", "ghcr.io");
    let mut metrics = Metrics::new("check-credentials");
    let (pulls, findings) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(check(
            &ports,
            &config,
            &[&hub, &ghcr],
            |_| RuleCredential::Anonymous,
            Deadline::none(),
            false,
            &mut metrics,
        ));
    assert_eq!(
        upstream.asked(),
        vec!["https://registry-1.docker.io/v2/ratelimitpreview/test/manifests/latest".to_owned()],
        "{name}: only the Docker Hub rule is asked"
    );
    assert_eq!(pulls.len(), 1, "{name}: {pulls:?}");
    let headroom = &pulls["docker-hub"];
    assert_eq!(headroom.status, status, "{name}: {headroom:?}");
    assert_eq!(
        findings
            .iter()
            .map(|finding| finding.severity)
            .collect::<Vec<_>>(),
        severity.into_iter().collect::<Vec<_>>(),
        "{name}: {findings:?}"
    );
    for finding in &findings {
        assert_eq!(finding.resource, "docker-hub", "{name}");
        let text = format!("{} {}", finding.title, finding.message);
        assert!(text.contains(says), "{name}: {text}");
    }
    let lines = metrics.to_lines(0).join("\n");
    let known = headroom.limit.is_some() && headroom.remaining.is_some();
    assert_eq!(
        lines.contains("UpstreamPullsRemaining"),
        known,
        "{name}: {lines}"
    );
    assert_eq!(
        lines.contains("UpstreamPullsLimit"),
        known,
        "{name}: {lines}"
    );
    if known {
        assert!(
            lines.contains("docker-hub"),
            "{name}: the prefix is a dimension: {lines}"
        );
    }
}

named_cases! {
    /// What each answer of Docker Hub becomes: a status, at most one finding, metrics.
    mod docker_hub_answers_become_headroom => check_answer;
    plenty_left(limits("100;w=21600", "76;w=21600"), "ok", None, ""),
    running_low(limits("100;w=21600", "7;w=21600"), "low", Some(Severity::Warning), "7 of 100 pulls"),
    none_left(limits("100;w=21600", "0;w=21600"), "exhausted", Some(Severity::Critical), "0 of 100 pulls"),
    rate_limited(answer(429, &[]), "exhausted", Some(Severity::Critical), "HTTP 429"),
    paid_plan_without_headers(answer(200, &[]), "no-limit-reported", None, ""),
    garbage_headers(limits("lots", "many"), "no-limit-reported", None, ""),
    not_found(answer(404, &[]), "unknown", Some(Severity::Warning), "`registry-1.docker.io` has no such"),
    refused_credential_is_the_credential_finding(
        answer(401, &[("www-authenticate", "Basic realm=\"x\"")]),
        "unknown",
        None,
        "",
    ),
    redirected(
        answer(302, &[("location", "https://elsewhere.example/")]),
        "unknown",
        Some(Severity::Warning),
        "redirect to `elsewhere.example`",
    ),
    slow(
        Err(HttpFailure::Timeout(std::time::Duration::from_secs(10))),
        "unknown",
        Some(Severity::Warning),
        "no answer within 10 s",
    ),
}

/// A rule whose credential could not be read, or a run out of time: nothing is asked, the
/// detail says why, and no finding repeats what the secret's own findings say.
fn check_not_asked(name: &str, credential: RuleCredential, no_time: bool, says: &str) {
    let upstream = Arc::new(FakeUpstream::default());
    let mut ports = fakes::ports(
        &Arc::new(FakeEcr::default()),
        &Arc::new(FakeSecretStore::default()),
    );
    ports.upstream = Arc::clone(&upstream) as Arc<dyn crate::ports::Upstream>;
    let config = Config::from_toml_str("", Path::new("."), "test").expect("config");
    let hub = CacheRule::new("docker-hub", "registry-1.docker.io").with_credential("arn:x");
    let mut metrics = Metrics::new("check-credentials");
    let (pulls, findings) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(check(
            &ports,
            &config,
            &[&hub],
            move |_| credential.clone(),
            Deadline::none(),
            no_time,
            &mut metrics,
        ));
    assert!(
        upstream.asked().is_empty(),
        "{name}: {:?}",
        upstream.asked()
    );
    assert!(findings.is_empty(), "{name}: {findings:?}");
    let headroom = &pulls["docker-hub"];
    assert_eq!(headroom.status, "unknown", "{name}");
    assert!(
        headroom.error.as_deref().unwrap_or_default().contains(says),
        "{name}: {headroom:?}"
    );
}

named_cases! {
    /// What is not asked says why in the detail only.
    mod headroom_not_asked => check_not_asked;
    unusable_credential(RuleCredential::Unusable, false, "could not be read"),
    out_of_time(RuleCredential::Anonymous, true, "deadline"),
}
