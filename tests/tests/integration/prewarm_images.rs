//! prewarm-images end to end on the emulator: real pull-through to the loopback upstream
//! registries (htpasswd and anonymous), real-shaped events, alerts through SNS into SQS.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::MetricsSink;
use ptc_ops::prewarm_images::PrewarmReport;
use ptc_ops_tests::invoke;
use ptc_ops_tests::{sample_event, Fault, FaultKind, TestEnv};
use serde_json::{json, Value};

fn context(env: &TestEnv, toml: &str) -> Arc<FunctionContext> {
    Arc::new(
        env.function_context("prewarm-images", env.config(toml))
            .with_metrics_sink(MetricsSink::captured()),
    )
}

async fn prewarm_with(
    context: &Arc<FunctionContext>,
    payload: Value,
    lambda: Context,
) -> PrewarmReport {
    invoke::prewarm_images(Arc::clone(context), LambdaEvent::new(payload, lambda))
        .await
        .unwrap_or_else(|error| panic!("pre-warm run failed: {}", error.full_message()))
}

async fn prewarm(context: &Arc<FunctionContext>, payload: Value) -> PrewarmReport {
    prewarm_with(context, payload, Context::default()).await
}

/// input → the report's entry for it.
fn entries(report: &PrewarmReport) -> BTreeMap<String, Value> {
    report
        .details
        .images
        .iter()
        .map(|image| {
            let entry = serde_json::to_value(image).expect("an image result serializes");
            (image.input.clone(), entry)
        })
        .collect()
}

fn statuses(report: &PrewarmReport) -> BTreeMap<String, String> {
    entries(report)
        .into_iter()
        .map(|(input, entry)| {
            (
                input,
                entry["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn repository_names(env: &TestEnv) -> Vec<String> {
    let mut names: Vec<String> = env
        .ecr()
        .describe_repositories()
        .max_results(1000)
        .send()
        .await
        .expect("repositories listed")
        .repositories
        .unwrap_or_default()
        .into_iter()
        .filter_map(|repository| repository.repository_name)
        .collect();
    names.sort();
    names
}

fn digest_of(env: &TestEnv, repository: &str, tag: &str) -> String {
    env.emulator
        .info
        .images
        .iter()
        .find(|image| image.repository == repository && image.tag == tag)
        .map(|image| image.digest.clone())
        .unwrap_or_else(|| panic!("the emulator seeds no `{repository}:{tag}`"))
}

/// The rules of a typical platform: Docker Hub and ghcr.io with a working token, registry.k8s.io
/// anonymous, GitLab with a token the upstream refuses.
async fn typical_rules(env: &TestEnv) {
    let good = env
        .create_secret(
            "ecr-pullthroughcache/docker-hub",
            &env.valid_credential_json(),
        )
        .await;
    let wrong = env
        .create_secret(
            "ecr-pullthroughcache/gitlab",
            &env.credential_json_with_token("glpat-WrongTokenValue1234"),
        )
        .await;
    env.create_rule("docker-hub", "registry-1.docker.io", Some(&good))
        .await;
    env.create_rule("ghcr", "ghcr.io", Some(&good)).await;
    env.create_rule("k8s", "registry.k8s.io", None).await;
    env.create_rule("gitlab", "registry.gitlab.com", Some(&wrong))
        .await;
}

#[tokio::test]
async fn a_mixed_list_warms_what_it_can_and_tells_why_not_for_the_rest() {
    let env = TestEnv::new().await;
    typical_rules(&env).await;
    let inbox = env.alert_inbox().await;
    let context = context(
        &env,
        &format!("[alerts]\ntopic_arn = \"{}\"\n", inbox.topic_arn),
    );
    let pause_digest = digest_of(&env, "pause", "3.10");
    let digest_only = format!("registry.k8s.io/pause@{pause_digest}");
    let images = vec![
        "nginx:1.27".to_owned(),
        "busybox:1.36".to_owned(),
        "docker.io/library/alpine:3.20".to_owned(),
        "ghcr.io/fluxcd/source-controller:v1.4.1".to_owned(),
        "registry.k8s.io/pause:3.10".to_owned(),
        "nginx:9.99".to_owned(),
        "registry.k8s.io/no-such-image:1.0".to_owned(),
        "gcr.io/distroless/static:nonroot".to_owned(),
        digest_only.clone(),
        "Not/A:Valid:Reference".to_owned(),
        "registry.gitlab.com/grafana/grafana:11.3.0".to_owned(),
    ];
    env.clear_calls().await;

    let report = prewarm(&context, json!({"images": images, "dry_run": false})).await;

    let host = format!("{}.dkr.ecr.{}.amazonaws.com", env.account_id, env.region);
    let first = entries(&report);
    let expected: Vec<(&str, &str, Option<String>)> = vec![
        (
            "nginx:1.27",
            "warmed",
            Some(format!("{host}/docker-hub/library/nginx:1.27")),
        ),
        (
            "busybox:1.36",
            "warmed",
            Some(format!("{host}/docker-hub/library/busybox:1.36")),
        ),
        (
            "docker.io/library/alpine:3.20",
            "warmed",
            Some(format!("{host}/docker-hub/library/alpine:3.20")),
        ),
        (
            "ghcr.io/fluxcd/source-controller:v1.4.1",
            "warmed",
            Some(format!("{host}/ghcr/fluxcd/source-controller:v1.4.1")),
        ),
        (
            "registry.k8s.io/pause:3.10",
            "warmed",
            Some(format!("{host}/k8s/pause:3.10")),
        ),
        (
            "nginx:9.99",
            "failed",
            Some(format!("{host}/docker-hub/library/nginx:9.99")),
        ),
        (
            "registry.k8s.io/no-such-image:1.0",
            "failed",
            Some(format!("{host}/k8s/no-such-image:1.0")),
        ),
        ("gcr.io/distroless/static:nonroot", "skipped", None),
        (
            &digest_only,
            "skipped",
            Some(format!("{host}/k8s/pause@{pause_digest}")),
        ),
        ("Not/A:Valid:Reference", "skipped", None),
        (
            "registry.gitlab.com/grafana/grafana:11.3.0",
            "failed",
            Some(format!("{host}/gitlab/grafana/grafana:11.3.0")),
        ),
    ];
    for (input, status, cache_uri) in &expected {
        let entry = &first[*input];
        assert_eq!(entry["status"], *status, "{input}: {entry:#}");
        assert_eq!(
            entry["cache_uri"].as_str().map(str::to_owned),
            *cache_uri,
            "{input}: {entry:#}"
        );
    }
    assert_eq!(first.len(), expected.len());

    // Normalised references, rules and digests of what was pulled.
    assert_eq!(
        first["nginx:1.27"]["reference"],
        "docker.io/library/nginx:1.27"
    );
    assert_eq!(first["nginx:1.27"]["rule_prefix"], "docker-hub");
    assert_eq!(
        first["nginx:1.27"]["digest"],
        json!(digest_of(&env, "library/nginx", "1.27"))
    );
    assert_eq!(
        first["busybox:1.36"]["digest"],
        json!(digest_of(&env, "library/busybox", "1.36"))
    );
    assert_eq!(
        first["registry.k8s.io/pause:3.10"]["digest"],
        json!(pause_digest)
    );
    assert!(first["nginx:1.27"]["duration_ms"].is_u64());

    // Failures carry the raw error and a reason; skips carry theirs.
    let reason = |input: &str| {
        first[input]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let error = |input: &str| {
        first[input]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(reason("nginx:9.99"), "no such image upstream");
    assert!(
        error("nginx:9.99").contains("UnableToGetUpstreamImageException"),
        "{}",
        error("nginx:9.99")
    );
    assert_eq!(
        reason("registry.k8s.io/no-such-image:1.0"),
        "no such image upstream"
    );
    assert_eq!(
        reason("registry.gitlab.com/grafana/grafana:11.3.0"),
        "upstream authentication failed"
    );
    assert!(error("gcr.io/distroless/static:nonroot").contains("`gcr.io`"));
    assert!(
        error("gcr.io/distroless/static:nonroot").contains("`docker-hub` → `registry-1.docker.io`")
    );
    assert_eq!(
        error(&digest_only),
        "a first pull by digest does not populate the cache; add a tag"
    );
    assert_eq!(
        error("Not/A:Valid:Reference"),
        "repository names must be lowercase"
    );

    // What the pull-through created, and nothing for failures or skips.
    assert_eq!(
        repository_names(&env).await,
        vec![
            "docker-hub/library/alpine",
            "docker-hub/library/busybox",
            "docker-hub/library/nginx",
            "ghcr/fluxcd/source-controller",
            "k8s/pause",
        ]
    );
    let pulled: Vec<String> = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "BatchGetImage")
        .filter_map(|call| call.resource)
        .collect();
    assert_eq!(pulled.len(), 8, "one pull per pullable image: {pulled:?}");
    // Fresh repositories are known absent from one listing: no per-image lookup.
    let operations: Vec<String> = env
        .calls()
        .await
        .into_iter()
        .map(|call| call.operation)
        .collect();
    assert_eq!(
        operations
            .iter()
            .filter(|operation| *operation == "DescribeImages")
            .count(),
        0,
        "{operations:?}"
    );
    assert_eq!(
        operations
            .iter()
            .filter(|operation| *operation == "DescribeRepositories")
            .count(),
        2, // the run's listing, then this test's own
        "{operations:?}"
    );

    for (key, value) in [
        ("images_requested", 11),
        ("images_warmed", 5),
        ("images_already_cached", 0),
        ("images_failed", 3),
        ("images_skipped", 3),
        ("images_not_attempted", 0),
    ] {
        assert_eq!(report.summary[key], value, "{key}: {:?}", report.summary);
    }
    let lines = context.metrics_sink().captured_lines();
    for metric in [
        "\"ImagesRequested\":11.0",
        "\"ImagesWarmed\":5.0",
        "\"ImagesAlreadyCached\":0.0",
        "\"ImagesFailed\":3.0",
        "\"WarmSeconds\"",
    ] {
        assert!(
            lines.iter().any(|line| line.contains(metric)),
            "{metric} missing in {lines:?}"
        );
    }

    // One message for the whole run, listing the failed images and why.
    assert_eq!(report.summary["alerts_published"], 1);
    let alerts = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let description = alerts[0].message["content"]["description"]
        .as_str()
        .unwrap_or_default();
    for needle in [
        "3 of 8 images could not be pre-warmed",
        "`nginx:9.99`",
        "`registry.gitlab.com/grafana/grafana:11.3.0`",
        "upstream authentication failed",
        "no such image upstream",
        "no pull-through cache rule serves `gcr.io`",
        "names a digest and no tag",
    ] {
        assert!(
            description.contains(needle),
            "`{needle}` missing in {description}"
        );
    }
    assert_eq!(
        alerts[0].message["metadata"]["threadId"],
        "ecr-ptc-ops/prewarm"
    );
    assert!(!alerts[0].raw_message.contains("glpat-WrongTokenValue1234"));
    assert_eq!(
        inbox.drain(Duration::from_millis(500)).await.len(),
        0,
        "a second message"
    );

    // Second run: what is cached is reported so, with one read and no pull.
    env.clear_calls().await;
    let again = prewarm(&context, json!({"images": images})).await;
    let statuses = statuses(&again);
    for (input, first_status, _) in &expected {
        let second = if *first_status == "warmed" {
            "already-cached"
        } else {
            first_status
        };
        assert_eq!(statuses[*input], second, "{input}");
    }
    assert_eq!(
        entries(&again)["nginx:1.27"]["digest"],
        json!(digest_of(&env, "library/nginx", "1.27"))
    );
    let pulled_again: Vec<String> = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "BatchGetImage")
        .filter_map(|call| call.resource)
        .collect();
    assert_eq!(
        pulled_again.len(),
        3,
        "only the failed images are pulled again: {pulled_again:?}"
    );
    assert_eq!(again.summary["images_already_cached"], 5);
    let lookups = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "DescribeImages")
        .count();
    assert_eq!(
        lookups, 6,
        "one lookup per image whose repository exists now"
    );
}

#[tokio::test]
async fn scheduled_events_and_direct_invokes_choose_the_list() {
    let env = TestEnv::new().await;
    typical_rules(&env).await;
    env.create_rule("quay", "quay.io", None).await;
    let context = context(
        &env,
        "[prewarm]\nconcurrency = 2\nimages = [\"registry.k8s.io/coredns/coredns:v1.11.3\", \"karpenter/controller:1.0.6\"]\n",
    );

    // A schedule with its own list.
    let scheduled = prewarm(&context, sample_event("prewarm-scheduled-event.json")).await;
    assert_eq!(
        statuses(&scheduled),
        BTreeMap::from([
            (
                "ghcr.io/fluxcd/source-controller:v1.4.1".to_owned(),
                "warmed".to_owned()
            ),
            ("nginx:1.27".to_owned(), "warmed".to_owned()),
            ("registry.k8s.io/pause:3.10".to_owned(), "warmed".to_owned()),
        ])
    );
    assert!(scheduled.findings.is_empty(), "{:#?}", scheduled.findings);

    // A schedule without one falls back to `prewarm.images`; Docker Hub has no karpenter image.
    let daily = prewarm(&context, sample_event("scheduled-event.json")).await;
    assert_eq!(
        statuses(&daily),
        BTreeMap::from([
            ("karpenter/controller:1.0.6".to_owned(), "failed".to_owned()),
            (
                "registry.k8s.io/coredns/coredns:v1.11.3".to_owned(),
                "warmed".to_owned()
            ),
        ])
    );

    // The sample direct invoke, first as a dry run: a plan, no pull, no write.
    env.clear_calls().await;
    let mut dry = sample_event("prewarm-images.json");
    dry["dry_run"] = json!(true);
    let planned = prewarm(&context, dry).await;
    assert!(planned.dry_run);
    let host = format!("{}.dkr.ecr.{}.amazonaws.com", env.account_id, env.region);
    assert_eq!(
        entries(&planned)["quay.io/prometheus/node-exporter:v1.8.2"]["cache_uri"],
        json!(format!("{host}/quay/prometheus/node-exporter:v1.8.2"))
    );
    assert!(
        statuses(&planned)
            .values()
            .all(|status| status == "planned"),
        "{:?}",
        statuses(&planned)
    );
    let calls = env.calls().await;
    assert!(
        calls
            .iter()
            .all(|call| call.operation == "DescribePullThroughCacheRules"),
        "{calls:?}"
    );

    let direct = prewarm(&context, sample_event("prewarm-images.json")).await;
    assert_eq!(
        statuses(&direct),
        BTreeMap::from([
            (
                "ghcr.io/fluxcd/source-controller:v1.4.1".to_owned(),
                "already-cached".to_owned()
            ),
            ("nginx:1.27".to_owned(), "already-cached".to_owned()),
            (
                "quay.io/prometheus/node-exporter:v1.8.2".to_owned(),
                "warmed".to_owned()
            ),
            (
                "registry.k8s.io/pause:3.10".to_owned(),
                "already-cached".to_owned()
            ),
        ])
    );

    // A payload the function does not understand is an error, with no AWS call.
    env.clear_calls().await;
    let refused = invoke::prewarm_images(
        Arc::clone(&context),
        LambdaEvent::new(json!({"image": ["nginx:1.27"]}), Context::default()),
    )
    .await;
    assert!(refused.is_err());
    assert_eq!(env.calls().await, vec![]);
}

#[tokio::test]
async fn a_deadline_shorter_than_the_list_leaves_the_rest_not_attempted() {
    let env = TestEnv::new().await;
    typical_rules(&env).await;
    let inbox = env.alert_inbox().await;
    let context = context(
        &env,
        &format!(
            "[alerts]\ntopic_arn = \"{}\"\n[prewarm]\nconcurrency = 1\n",
            inbox.topic_arn
        ),
    );
    // Every pull answers after 300 ms: eight pulls need 2.4 s, the invocation has 2.5 s of
    // which the run keeps 1 s to finish.
    env.inject(Fault::new("BatchGetImage", FaultKind::Latency, None).latency(300))
        .await;
    let images = [
        "nginx:1.27",
        "alpine:3.20",
        "busybox:1.36",
        "grafana/grafana:11.3.0",
        "fluxcd/source-controller:v1.4.1",
        "registry.k8s.io/pause:3.10",
        "registry.k8s.io/coredns/coredns:v1.11.3",
        "registry.k8s.io/prometheus/node-exporter:v1.8.2",
    ];
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let mut lambda = Context::default();
    lambda.deadline = now_ms + 2_500;
    let started = Instant::now();

    let report = prewarm_with(&context, json!({"images": images}), lambda).await;

    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "the run outlived its deadline: {:?}",
        started.elapsed()
    );
    let statuses = statuses(&report);
    assert_eq!(
        statuses.len(),
        images.len(),
        "every image is in the report: {statuses:?}"
    );
    let n_warmed = statuses
        .values()
        .filter(|status| *status == "warmed")
        .count();
    let n_left = statuses
        .values()
        .filter(|status| *status == "not-attempted")
        .count();
    assert!(n_warmed >= 1, "{statuses:?}");
    assert!(n_left >= 1, "{statuses:?}");
    assert_eq!(n_warmed + n_left, images.len(), "{statuses:?}");
    // List order: what was warmed comes before what was left.
    let first_left = images
        .iter()
        .position(|image| statuses[*image] == "not-attempted")
        .expect("one left");
    assert!(
        images[first_left..]
            .iter()
            .all(|image| statuses[*image] == "not-attempted"),
        "{statuses:?}"
    );
    for (input, entry) in entries(&report) {
        assert!(entry["cache_uri"].is_string(), "{input}: {entry:#}");
    }
    assert_eq!(report.summary["images_not_attempted"], n_left as u64);

    let alerts = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(alerts.len(), 1);
    let title = alerts[0].message["content"]["title"]
        .as_str()
        .unwrap_or_default();
    assert!(
        title.contains("were not attempted before the deadline"),
        "{title}"
    );

    // The next run, without the hurry, picks up the rest.
    let rest = prewarm(&context, json!({"images": images})).await;
    assert_eq!(rest.summary["images_warmed"], n_left as u64);
    assert_eq!(rest.summary["images_already_cached"], n_warmed as u64);
}

#[tokio::test]
async fn a_throttled_pull_fails_that_image_only() {
    let env = TestEnv::new().await;
    typical_rules(&env).await;
    let context = context(&env, "[prewarm]\nconcurrency = 4\n");
    env.inject(
        Fault::new("BatchGetImage", FaultKind::Throttle, None)
            .matching(json!({"repositoryName": "docker-hub/library/alpine"})),
    )
    .await;

    let report = prewarm(
        &context,
        json!({"images": ["alpine:3.20", "nginx:1.27", "registry.k8s.io/pause:3.10"]}),
    )
    .await;

    let entries = entries(&report);
    assert_eq!(entries["alpine:3.20"]["status"], "failed");
    assert_eq!(entries["alpine:3.20"]["reason"], "throttled after retries");
    assert!(entries["alpine:3.20"]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("ThrottlingException"));
    assert_eq!(entries["nginx:1.27"]["status"], "warmed");
    assert_eq!(entries["registry.k8s.io/pause:3.10"]["status"], "warmed");
    let finding = report
        .findings
        .iter()
        .find(|finding| finding.title == "1 of 3 images could not be pre-warmed")
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert!(finding
        .next_steps
        .iter()
        .any(|step| step.contains("prewarm.concurrency")));
}

/// The manifest the anonymous upstream serves for a single-platform seeded image.
const SEED_REPOSITORY: &str = "karpenter/controller";
const SEED_TAG: &str = "1.0.6";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Pushes an image to the anonymous upstream registry (a real CNCF Distribution) as
/// `repository:tag`: the blobs of a seeded image, mounted across repositories, under a manifest
/// whose annotation carries `marker`, so two markers are two images with two digests. Returns
/// the digest the registry computed for the manifest (`Docker-Content-Digest`).
async fn push_upstream(env: &TestEnv, repository: &str, tag: &str, marker: &str) -> String {
    let base = format!("http://{}", env.emulator.upstream("anonymous"));
    let http = reqwest::Client::new();
    let seed: Value = http
        .get(format!("{base}/v2/{SEED_REPOSITORY}/manifests/{SEED_TAG}"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("the seeded manifest is served")
        .json()
        .await
        .expect("the seeded manifest is JSON");
    assert_eq!(seed["mediaType"], OCI_MANIFEST, "{seed:#}");
    let mut blobs = vec![seed["config"]["digest"].clone()];
    blobs.extend(
        seed["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|layer| layer["digest"].clone()),
    );
    for blob in blobs {
        let blob = blob.as_str().expect("blob digests are strings");
        let mounted = http
            .post(format!(
                "{base}/v2/{repository}/blobs/uploads/?mount={blob}&from={SEED_REPOSITORY}"
            ))
            .send()
            .await
            .expect("the upstream answers a blob mount");
        assert_eq!(
            mounted.status().as_u16(),
            201,
            "mount of {blob} into {repository}"
        );
    }
    let mut manifest = seed.clone();
    manifest["annotations"] = json!({"org.opencontainers.image.description": marker});
    let pushed = http
        .put(format!("{base}/v2/{repository}/manifests/{tag}"))
        .header("Content-Type", OCI_MANIFEST)
        .body(serde_json::to_vec(&manifest).expect("manifest serialises"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("the upstream accepts the manifest");
    pushed
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|value| value.to_str().ok())
        .expect("the upstream names the manifest's digest")
        .to_owned()
}

fn text(entry: &Value, key: &str) -> String {
    entry[key].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn digest_pins_are_pulled_by_tag_and_checked_against_the_cached_digest() {
    let env = TestEnv::new().await;
    typical_rules(&env).await;
    let inbox = env.alert_inbox().await;
    let context = context(
        &env,
        &format!("[alerts]\ntopic_arn = \"{}\"\n", inbox.topic_arn),
    );
    let unique = uuid::Uuid::new_v4().simple().to_string();
    // Pinned, then the upstream tag moves after the cache took it.
    let stays = format!("ptc-test/stays-{unique}");
    // The upstream tag moves between the pin and the first pull.
    let moved = format!("ptc-test/moved-{unique}");
    let stays_first = push_upstream(&env, &stays, "1.0", "first").await;
    let moved_first = push_upstream(&env, &moved, "2.0", "first").await;
    let moved_now = push_upstream(&env, &moved, "2.0", "second").await;
    assert_ne!(moved_first, moved_now, "two markers, two images");

    // Multi-architecture images: charts pin the index (OCI) or manifest list (Docker) digest.
    let pause_index = digest_of(&env, "pause", "3.10");
    let busybox_list = digest_of(&env, "library/busybox", "1.36");
    let pinned_index = format!("registry.k8s.io/pause:3.10@{pause_index}");
    let pinned_list = format!("busybox:1.36@{busybox_list}");
    let pinned_stays = format!("registry.k8s.io/{stays}:1.0@{stays_first}");
    let pinned_moved = format!("registry.k8s.io/{moved}:2.0@{moved_first}");
    let digest_only = format!("registry.k8s.io/pause@{pause_index}");
    let images = vec![
        pinned_index.clone(),
        pinned_list.clone(),
        pinned_stays.clone(),
        pinned_moved.clone(),
        digest_only.clone(),
    ];
    env.clear_calls().await;

    let report = prewarm(&context, json!({"images": images})).await;

    let first = entries(&report);
    for (input, status, verified, digest) in [
        (&pinned_index, "warmed", true, &pause_index),
        (&pinned_list, "warmed", true, &busybox_list),
        (&pinned_stays, "warmed", true, &stays_first),
        (&pinned_moved, "failed", false, &moved_now),
    ] {
        let entry = &first[input.as_str()];
        assert_eq!(text(entry, "status"), status, "{input}: {entry:#}");
        assert_eq!(entry["digest_verified"], verified, "{input}: {entry:#}");
        // The digest is the one the upstream registry computed: the cache invents none.
        assert_eq!(&text(entry, "digest"), digest, "{input}: {entry:#}");
        assert_eq!(
            text(entry, "pinned_digest"),
            input.split('@').nth(1).unwrap_or_default(),
            "{input}"
        );
    }
    let mismatch = &first[pinned_moved.as_str()];
    assert_eq!(text(mismatch, "reason"), "digest-mismatch", "{mismatch:#}");
    for needle in [
        moved_first.as_str(),
        moved_now.as_str(),
        "pulled from the upstream now",
    ] {
        assert!(
            text(mismatch, "error").contains(needle),
            "`{needle}` missing in {mismatch:#}"
        );
    }
    // Digest-only: skipped with the reason, never pulled.
    let skipped = &first[digest_only.as_str()];
    assert_eq!(text(skipped, "status"), "skipped", "{skipped:#}");
    assert_eq!(
        text(skipped, "error"),
        "a first pull by digest does not populate the cache; add a tag"
    );
    assert!(skipped.get("digest_verified").is_none(), "{skipped:#}");
    let pulled: Vec<String> = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "BatchGetImage")
        .filter_map(|call| call.resource)
        .collect();
    assert_eq!(
        pulled.len(),
        4,
        "one pull by tag per pinned tag, none for the digest-only reference: {pulled:?}"
    );
    assert_eq!(report.summary["images_failed"], 1, "{:?}", report.summary);
    assert_eq!(report.summary["images_warmed"], 3, "{:?}", report.summary);
    assert_eq!(report.summary["images_skipped"], 1, "{:?}", report.summary);

    // One alert names both digests and says what to do.
    let alerts = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let description = alerts[0].message["content"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let alert_text = alerts[0].raw_message.clone();
    for needle in [
        "1 of 4 images could not be pre-warmed",
        "digest-mismatch",
        moved_first.as_str(),
        moved_now.as_str(),
        "names a digest and no tag",
    ] {
        assert!(
            description.contains(needle),
            "`{needle}` missing in {description}"
        );
    }
    assert!(alert_text.contains("update the pin"), "{alert_text}");

    // The upstream tag moves after the cache took it; the pin follows the upstream. The cache
    // still holds the first image (it looks for a newer one at most once a day): the pin is
    // not what a node would get, so the check fails without pulling again.
    let stays_second = push_upstream(&env, &stays, "1.0", "second").await;
    let repinned = format!("registry.k8s.io/{stays}:1.0@{stays_second}");
    env.clear_calls().await;
    let again = prewarm(&context, json!({"images": [pinned_index, repinned]})).await;
    let second = entries(&again);
    assert_eq!(
        text(&second[pinned_index.as_str()], "status"),
        "already-cached"
    );
    assert_eq!(second[pinned_index.as_str()]["digest_verified"], true);
    let stale = &second[repinned.as_str()];
    assert_eq!(text(stale, "status"), "failed", "{stale:#}");
    assert_eq!(text(stale, "reason"), "digest-mismatch", "{stale:#}");
    assert_eq!(text(stale, "digest"), stays_first, "{stale:#}");
    for needle in [
        stays_first.as_str(),
        stays_second.as_str(),
        "cached before this run",
    ] {
        assert!(
            text(stale, "error").contains(needle),
            "`{needle}` missing in {stale:#}"
        );
    }
    let pulled_again = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "BatchGetImage")
        .count();
    assert_eq!(pulled_again, 0, "cached tags are looked up, not pulled");
}

#[tokio::test]
async fn cached_tags_behind_their_upstream_are_reported_then_refreshed() {
    let env = TestEnv::new().await;
    typical_rules(&env).await;
    // `prewarm.refresh` is `report` by default.
    let context = context(&env, "");
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let repository = format!("ptc-test/fresh-{unique}");
    let first = push_upstream(&env, &repository, "1.0", "first").await;
    let image = format!("registry.k8s.io/{repository}:1.0");
    // Docker Hub's stand-in asks for the rule's credential (`Basic`), the other is open.
    let images = json!({"images": [image, "nginx:1.27"]});
    prewarm(&context, images.clone()).await;

    let started = Instant::now();
    let current = entries(&prewarm(&context, images).await);
    let elapsed = started.elapsed();
    for input in [image.as_str(), "nginx:1.27"] {
        let entry = &current[input];
        assert_eq!(
            text(entry, "status"),
            "already-cached",
            "{input}: {entry:#}"
        );
        assert_eq!(
            text(entry, "upstream_digest"),
            text(entry, "digest"),
            "the cache and the upstream agree on {input}: {entry:#}"
        );
        assert!(entry.get("upstream_check").is_none(), "{entry:#}");
    }
    eprintln!("two staleness checks against the loopback registries: {elapsed:?}");

    // The upstream tag moves: reported, nothing deleted.
    let second = push_upstream(&env, &repository, "1.0", "second").await;
    assert_ne!(first, second);
    env.clear_calls().await;
    let reported = prewarm(&context, json!({"images": [image]})).await;
    let entry = &entries(&reported)[image.as_str()];
    assert_eq!(text(entry, "status"), "stale", "{entry:#}");
    assert_eq!(text(entry, "digest"), first, "{entry:#}");
    assert_eq!(text(entry, "upstream_digest"), second, "{entry:#}");
    assert_eq!(
        reported.summary["images_stale"], 1,
        "{:?}",
        reported.summary
    );
    assert!(
        reported.findings.iter().any(|finding| finding.title
            == "1 cached tags are behind their upstream"
            && finding.message.contains(&second)),
        "{:#?}",
        reported.findings
    );
    let calls = env.calls().await;
    assert!(
        !calls
            .iter()
            .any(|call| call.operation == "BatchDeleteImage"),
        "`report` deletes nothing: {calls:?}"
    );

    // The event asks for a refresh: the tag is deleted and pulled through again.
    env.clear_calls().await;
    let refreshed = prewarm(&context, json!({"images": [image], "refresh": "stale"})).await;
    let entry = &entries(&refreshed)[image.as_str()];
    assert_eq!(text(entry, "status"), "refreshed", "{entry:#}");
    assert_eq!(text(entry, "previous_digest"), first, "{entry:#}");
    assert_eq!(text(entry, "digest"), second, "{entry:#}");
    assert!(entry.get("note").is_none(), "{entry:#}");
    let deleted: Vec<String> = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "BatchDeleteImage")
        .filter_map(|call| call.resource)
        .collect();
    assert_eq!(
        deleted,
        vec![format!("k8s/{repository}")],
        "only that tag's repository"
    );
    let after = entries(&prewarm(&context, json!({"images": [image]})).await);
    assert_eq!(text(&after[image.as_str()], "status"), "already-cached");
    assert_eq!(text(&after[image.as_str()], "digest"), second);

    // An upstream that cannot be reached is a finding naming it; nothing is deleted.
    let unreachable = self::context(
        &env,
        "[prewarm]\nrefresh = \"stale\"\n[upstream_registries]\n\"registry.k8s.io\" = \"http://127.0.0.1:9\"\n",
    );
    env.clear_calls().await;
    let report = prewarm(&unreachable, json!({"images": [image]})).await;
    let entry = &entries(&report)[image.as_str()];
    assert_eq!(text(entry, "status"), "already-cached", "{entry:#}");
    assert!(
        text(entry, "upstream_check").contains("`127.0.0.1` was not reached"),
        "{entry:#}"
    );
    assert!(!env
        .calls()
        .await
        .iter()
        .any(|call| call.operation == "BatchDeleteImage"));
    assert!(
        report
            .findings
            .iter()
            .any(|finding| finding.title
                == "1 cached tags could not be compared with their upstream"),
        "{:#?}",
        report.findings
    );
}
