//! What the cache holds, counted on the emulator: `DescribeImages` as ECR answers it (sizes of
//! the layers, pull times recorded by pulls through the cache, pages), one listing per managed
//! repository, and pruning that deletes only unused repositories under the managed prefixes.

use chrono::Utc;
use ptc_ops::harden_repository::usage::prune::{prune, PruneStatus};
use ptc_ops::harden_repository::usage::{self, Measure, Request, UsageDetails};
use ptc_ops::run::RunContext;
use ptc_ops_tests::{Fault, FaultKind, TestEnv};
use serde_json::json;

const CONFIG: &str = "[hardening]\nprefixes = [\"docker-hub\"]\n";
const FRESH: &str = "docker-hub/team/fresh";
const OLD: &str = "docker-hub/team/old";
const APP: &str = "team/app";

async fn count(env: &TestEnv) -> UsageDetails {
    let config = env.config(CONFIG);
    let ports = env.clients.ports();
    let context = RunContext::new(&ports, &config);
    let request = Request {
        prefixes: Vec::new(),
        unused_days: 30,
        archived: false,
    };
    usage::count(&context, &request, &|_| {})
        .await
        .unwrap_or_else(|error| panic!("count failed: {error}"))
}

#[tokio::test]
async fn usage_counts_managed_repositories_once_each_and_prunes_only_unused_ones() {
    let env = TestEnv::new().await;
    env.seed_standard_rules().await;
    env.seed_images(FRESH, 3, 1_000).await;
    env.seed_images(OLD, 2, 5_000).await;
    env.seed_images(APP, 4, 1_000_000).await;
    let ninety_days_ago = (Utc::now() - chrono::Duration::days(90)).timestamp();
    assert_eq!(
        env.set_image_times(json!({"repository": OLD, "image_pushed_at": ninety_days_ago, "last_recorded_pull_time": ninety_days_ago}))
            .await,
        2
    );
    assert_eq!(
        env.set_image_times(json!({"repository": APP, "image_pushed_at": ninety_days_ago}))
            .await,
        4
    );
    // A pull through the cache: creates the repository and records the pull time.
    env.clients
        .registry()
        .pull_by_tag("docker-hub/library/nginx", "1.27")
        .await
        .unwrap_or_else(|error| panic!("pull through the cache: {error:?}"));

    env.clear_calls().await;
    let details = count(&env).await;
    let describe_images: Vec<String> = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "DescribeImages")
        .filter_map(|call| call.resource)
        .collect();
    assert_eq!(
        describe_images.len(),
        3,
        "one DescribeImages per managed repository: {describe_images:?}"
    );
    assert!(
        !describe_images
            .iter()
            .any(|resource| resource.contains(APP)),
        "{describe_images:?}"
    );

    assert_eq!(details.total.n_repositories, 3);
    assert_eq!(details.total.n_images, 6);
    let nginx = details
        .largest
        .iter()
        .find(|repository| repository.repository == "docker-hub/library/nginx")
        .expect("the pulled repository is counted");
    assert!(nginx.bytes > 0, "the layers' size: {nginx:?}");
    assert_eq!(nginx.unused, Some(false));
    assert!(nginx.last_used_at.is_some());
    assert_eq!(details.total.bytes, 3 * 1_000 + 2 * 5_000 + nginx.bytes);
    let unused: Vec<&str> = details
        .unused_repositories
        .iter()
        .map(|repository| repository.repository.as_str())
        .collect();
    assert_eq!(unused, vec![OLD]);
    assert_eq!(details.largest[0].repository, OLD.to_owned());

    let config = env.config(CONFIG);
    let ports = env.clients.ports();
    let context = RunContext::new(&ports, &config);
    let measure = Measure {
        now: context.now,
        unused_days: 30,
        price_per_gb_month: 0.1,
        archive_price_per_gb_month: 0.1,
    };
    let prefixes = vec!["docker-hub".to_owned()];
    let dry = prune(
        &context,
        &measure,
        &prefixes,
        &details.unused_repositories,
        false,
    )
    .await;
    assert_eq!(dry[0].status, PruneStatus::WouldDelete);
    assert!(
        env.write_calls().await.is_empty(),
        "a dry run writes nothing"
    );
    let done = prune(
        &context,
        &measure,
        &prefixes,
        &details.unused_repositories,
        true,
    )
    .await;
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0].repository.as_str(), done[0].status),
        (OLD, PruneStatus::Deleted)
    );
    let writes: Vec<(String, Option<String>)> = env
        .write_calls()
        .await
        .into_iter()
        .map(|call| (call.operation, call.resource))
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].0, "DeleteRepository");
    let after = count(&env).await;
    assert_eq!(after.total.n_repositories, 2);
    env.ecr()
        .describe_repositories()
        .repository_names(APP)
        .send()
        .await
        .expect("a repository outside the managed prefixes is never deleted");
}

#[tokio::test]
async fn describe_images_pages_and_filters_as_ecr_does() {
    let env = TestEnv::new().await;
    env.seed_images("docker-hub/team/paged", 3, 10).await;
    let first = env
        .ecr()
        .describe_images()
        .repository_name("docker-hub/team/paged")
        .max_results(2)
        .send()
        .await
        .expect("a page");
    assert_eq!(first.image_details().len(), 2);
    let token = first.next_token().expect("a next page").to_owned();
    let second = env
        .ecr()
        .describe_images()
        .repository_name("docker-hub/team/paged")
        .max_results(2)
        .next_token(token)
        .send()
        .await
        .expect("the next page");
    assert_eq!(second.image_details().len(), 1);
    assert!(second.next_token().is_none());
    for image in first.image_details().iter().chain(second.image_details()) {
        assert_eq!(image.image_size_in_bytes(), Some(10));
        assert!(image.last_recorded_pull_time().is_none(), "never pulled");
    }
    let archived = env
        .ecr()
        .describe_images()
        .repository_name("docker-hub/team/paged")
        .filter(
            aws_sdk_ecr::types::DescribeImagesFilter::builder()
                .image_status(aws_sdk_ecr::types::ImageStatusFilter::Archived)
                .build(),
        )
        .send()
        .await
        .expect("the archived images");
    assert!(archived.image_details().is_empty());
    // `ANY` is one of DescribeImagesFilter's valid values: every image, here all active.
    let any = env
        .ecr()
        .describe_images()
        .repository_name("docker-hub/team/paged")
        .filter(
            aws_sdk_ecr::types::DescribeImagesFilter::builder()
                .image_status(aws_sdk_ecr::types::ImageStatusFilter::Any)
                .build(),
        )
        .send()
        .await
        .expect("every image");
    assert_eq!(any.image_details().len(), 3);
    let too_many = env
        .ecr()
        .describe_images()
        .repository_name("docker-hub/team/paged")
        .max_results(1001)
        .send()
        .await;
    assert!(too_many.is_err(), "maxResults is 1 to 1000");
}

/// A repository whose listing is throttled past the SDK's retries, and one deleted between the
/// listing and its count, are reported as not counted with their reason; the rest is counted.
#[tokio::test]
async fn throttled_and_deleted_repositories_are_not_counted_and_said_so() {
    let env = TestEnv::new().await;
    env.seed_images(FRESH, 1, 100).await;
    env.seed_images(OLD, 1, 100).await;
    env.seed_images("docker-hub/team/third", 2, 100).await;
    env.inject(
        Fault::new("DescribeImages", FaultKind::Throttle, None)
            .matching(json!({"repositoryName": FRESH})),
    )
    .await;
    // Deleted once listed: its listing is held back two seconds, and the repository deleted
    // meanwhile.
    env.inject(
        Fault::new("DescribeImages", FaultKind::Latency, None)
            .matching(json!({"repositoryName": OLD}))
            .latency(2_000),
    )
    .await;
    let delete = async {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        env.ecr()
            .delete_repository()
            .repository_name(OLD)
            .force(true)
            .send()
            .await
            .expect("deleted during the count");
    };
    let (details, ()) = tokio::join!(count(&env), delete);
    assert_eq!(details.total.n_repositories, 1);
    assert_eq!(details.total.n_images, 2);
    let reasons: Vec<(&str, &str)> = details
        .uncounted
        .iter()
        .map(|missing| (missing.repository.as_str(), missing.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, FRESH);
    assert!(reasons[0].1.contains("Throttling"), "{reasons:?}");
    assert_eq!(reasons[1], (OLD, "deleted during the count"));
    assert!(details.notes[0].starts_with("2 repositories could not be counted"));
}

/// The weekly summary: harden-repository, invoked as its schedule does (`{"usage": true}`),
/// puts the count in its report (checked against the published schema), sends one chat
/// message at the default `alerts.min_severity`, emits `CachedBytes` and `UnusedRepositories`
/// per prefix, and calls only what its role grants.
#[tokio::test]
async fn the_weekly_summary_reports_alerts_and_measures_per_prefix() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    env.seed_images(FRESH, 2, 1_000).await;
    env.seed_images(OLD, 1, 5_000).await;
    env.seed_images(APP, 1, 1_000_000).await;
    let long_ago = (Utc::now() - chrono::Duration::days(90)).timestamp();
    env.set_image_times(json!({"repository": OLD, "image_pushed_at": long_ago}))
        .await;
    let config = env.config(&format!(
        "[alerts]\ntopic_arn = \"{}\"\n{CONFIG}",
        inbox.topic_arn
    ));
    let context = std::sync::Arc::new(
        env.function_context("harden-repository", config)
            .with_metrics_sink(ptc_ops::metrics::MetricsSink::captured()),
    );
    env.clear_calls().await;
    let report =
        ptc_ops_tests::invoke::harden(&context, ptc_ops_tests::sample_event("harden-usage.json"))
            .await;
    let usage = report
        .details
        .usage
        .as_ref()
        .expect("the count is in the report");
    assert_eq!(usage.total.n_repositories, 2);
    assert_eq!(usage.total.bytes, 2 * 1_000 + 5_000);
    assert_eq!(usage.total.n_unused_repositories, 1);
    assert_eq!(report.summary.get("alerts_published"), Some(&1));
    let delivered = inbox.receive(1, std::time::Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].attributes.get("check").map(String::as_str),
        Some("cache-usage")
    );
    assert!(
        delivered[0]
            .raw_message
            .contains("1 repositories not pulled in 30 days"),
        "{}",
        delivered[0].raw_message
    );
    let lines = context.metrics_sink().captured_lines().join("\n");
    assert!(lines.contains("\"CachedBytes\":7000"), "{lines}");
    assert!(lines.contains("\"UnusedRepositories\":1"), "{lines}");
    assert!(lines.contains("\"Prefix\":\"docker-hub\""), "{lines}");
    ptc_ops_tests::assert_calls_permitted(
        &env,
        ptc_ops::harden_repository::permissions::PERMISSIONS,
    )
    .await;
}
