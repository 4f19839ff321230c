//! The count's arithmetic as named tables, and `count`/`prune` against in-memory ports: a
//! repository outside the managed prefixes, one deleted during the count, one throttled.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::prune::{prune, PruneStatus};
use super::tally::{image_use, repository_usage, ImageUse, Measure};
use super::*;
use crate::config::Config;
use crate::ports::fakes::{self, FakeEcr, FakeSecretStore};
use crate::ports::StoredImage;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
        .single()
        .expect("a valid date")
}

fn days_ago(days: i64) -> Option<DateTime<Utc>> {
    Some(now() - Duration::days(days))
}

fn image(
    size: Option<u64>,
    pushed: Option<DateTime<Utc>>,
    pulled: Option<DateTime<Utc>>,
) -> StoredImage {
    StoredImage {
        digest: Some("sha256:aaaa".to_owned()),
        tags: vec!["1.27".to_owned()],
        size_in_bytes: size,
        pushed_at: pushed,
        last_pulled_at: pulled,
        archived: false,
    }
}

fn measure(unused_days: u32) -> Measure {
    Measure {
        now: now(),
        unused_days,
        price_per_gb_month: 0.10,
        archive_price_per_gb_month: 0.10,
    }
}

fn check_use(_name: &str, image: StoredImage, expected: ImageUse) {
    assert_eq!(image_use(&image, measure(30).cutoff()), expected);
}

crate::named_cases! {
    /// The last pull decides; never pulled, the push (the cache's first pull) does.
    mod image_use_since_the_cutoff => check_use;
    pulled_yesterday(image(None, days_ago(400), days_ago(1)), ImageUse::Used),
    pulled_long_ago(image(None, days_ago(400), days_ago(31)), ImageUse::Unused),
    pulled_exactly_at_the_cutoff(image(None, days_ago(400), days_ago(30)), ImageUse::Used),
    never_pulled_pushed_recently(image(None, days_ago(2), None), ImageUse::Used),
    never_pulled_pushed_long_ago(image(None, days_ago(90), None), ImageUse::Unused),
    no_time_at_all(image(Some(10), None, None), ImageUse::Unknown),
}

/// (n_images, bytes, n_without_size, n_unused_images, n_without_time, unused)
type RepositoryFigures = (u64, u64, u64, u64, u64, Option<bool>);

fn check_repository(
    _name: &str,
    created_at: Option<DateTime<Utc>>,
    images: Vec<StoredImage>,
    expected: RepositoryFigures,
) {
    let counted = repository_usage(
        "docker-hub/library/nginx",
        "docker-hub",
        created_at,
        &images,
        measure(30).cutoff(),
    );
    assert_eq!(
        (
            counted.n_images,
            counted.bytes,
            counted.n_images_without_size,
            counted.n_unused_images,
            counted.n_images_without_time,
            counted.unused,
        ),
        expected
    );
}

crate::named_cases! {
    /// A repository is unused when no image was used since the cutoff; unknown sizes and times
    /// are counted as unknown, not as zero or as unused.
    mod repositories_are_counted => check_repository;
    one_used_image_keeps_it(None, vec![image(Some(100), days_ago(90), days_ago(1)), image(Some(50), days_ago(90), None)], (2, 150, 0, 1, 0, Some(false))),
    every_image_unused(None, vec![image(Some(100), days_ago(90), days_ago(40)), image(Some(50), days_ago(90), None)], (2, 150, 0, 2, 0, Some(true))),
    size_missing_is_unknown_not_zero(None, vec![image(None, days_ago(1), None), image(Some(7), days_ago(1), None)], (2, 7, 1, 0, 0, Some(false))),
    time_missing_makes_use_unknown(None, vec![image(Some(1), None, None), image(Some(1), days_ago(90), None)], (2, 2, 0, 1, 1, None)),
    time_missing_but_one_used(None, vec![image(Some(1), None, None), image(Some(1), days_ago(1), None)], (2, 2, 0, 0, 1, Some(false))),
    empty_and_old(days_ago(90), vec![], (0, 0, 0, 0, 0, Some(true))),
    empty_and_new(days_ago(1), vec![], (0, 0, 0, 0, 0, Some(false))),
    empty_without_creation_time(None, vec![], (0, 0, 0, 0, 0, None)),
}

#[test]
fn archived_bytes_are_apart_and_priced_at_their_own_price() {
    let mut archived = image(Some(3 * 1_073_741_824), days_ago(400), None);
    archived.archived = true;
    let counted = repository_usage(
        "docker-hub/library/nginx",
        "docker-hub",
        None,
        &[image(Some(1_073_741_824), days_ago(1), None), archived],
        measure(30).cutoff(),
    );
    assert_eq!(
        (counted.bytes, counted.archived_bytes),
        (1_073_741_824, 3 * 1_073_741_824)
    );
    let priced = Measure {
        archive_price_per_gb_month: 0.07,
        ..measure(30)
    };
    let cost = priced.monthly_cost(counted.bytes, counted.archived_bytes);
    assert!((cost - (0.10 + 3.0 * 0.07)).abs() < 1e-9, "cost {cost}");
}

fn check_selected(_name: &str, wanted: &[&str], expected: Result<Vec<&str>, &str>) {
    let managed = vec![
        "docker-hub".to_owned(),
        "ghcr".to_owned(),
        "ROOT".to_owned(),
    ];
    let wanted: Vec<String> = wanted.iter().map(|p| (*p).to_owned()).collect();
    let got = selected_prefixes(&managed, &wanted).map_err(|error| error.to_string());
    match expected {
        Ok(prefixes) => assert_eq!(got.expect("selected"), prefixes),
        Err(message) => {
            let error = got.expect_err("refused");
            assert!(error.contains(message), "{error}");
        }
    }
}

crate::named_cases! {
    /// `--prefix` narrows to managed prefixes only; `ROOT` is never counted (its repositories
    /// may be anyone's).
    mod prefixes_are_selected => check_selected;
    every_managed_one(&[], Ok(vec!["docker-hub", "ghcr"])),
    one_of_them(&["ghcr"], Ok(vec!["ghcr"])),
    trailing_slash(&["ghcr/"], Ok(vec!["ghcr"])),
    not_managed(&["quay"], Err("`quay` is not a managed prefix; the managed prefixes are: docker-hub, ghcr")),
    root_is_not_counted(&["ROOT"], Err("`ROOT` is not a managed prefix")),
}

fn check_prefix_of(_name: &str, repository: &str, expected: Option<&str>) {
    let prefixes = vec!["docker-hub".to_owned(), "docker-hub/library".to_owned()];
    assert_eq!(
        prefix_of(repository, &prefixes).map(String::as_str),
        expected
    );
}

crate::named_cases! {
    /// The longest managed prefix at a `/` boundary counts a repository.
    mod repositories_count_under_their_longest_prefix => check_prefix_of;
    longest_wins("docker-hub/library/nginx", Some("docker-hub/library")),
    shorter("docker-hub/grafana/grafana", Some("docker-hub")),
    not_at_a_boundary("docker-hubx/nginx", None),
    the_prefix_itself("docker-hub", None),
}

const NGINX: &str = "docker-hub/library/nginx";
const ALPINE: &str = "docker-hub/library/alpine";
const APP: &str = "team/app";

fn config(text: &str) -> Config {
    Config::from_toml_str(text, Path::new("."), "test").expect("a valid configuration")
}

fn registry() -> FakeEcr {
    FakeEcr::default()
        .with_stored_images(NGINX, vec![image(Some(100), days_ago(90), days_ago(1))])
        .with_stored_images(ALPINE, vec![image(Some(40), days_ago(90), days_ago(60))])
        .with_stored_images(APP, vec![image(Some(1_000_000), days_ago(400), None)])
}

async fn counted(ecr: &Arc<FakeEcr>, text: &str) -> Result<UsageDetails, UsageError> {
    let ports = fakes::ports(ecr, &Arc::new(FakeSecretStore::default()));
    let config = config(text);
    let context = RunContext::new(&ports, &config).at(now());
    let request = Request {
        prefixes: Vec::new(),
        unused_days: 30,
        archived: false,
    };
    count(&context, &request, &|_| {}).await
}

const MANAGED: &str = "[hardening]\nprefixes = [\"docker-hub\"]\n";

#[tokio::test]
async fn only_managed_repositories_are_counted_one_listing_each() {
    let ecr = Arc::new(registry());
    let details = counted(&ecr, MANAGED).await.expect("counted");
    assert_eq!(
        (
            details.total.n_repositories,
            details.total.bytes,
            details.total.n_unused_repositories
        ),
        (2, 140, 1)
    );
    let unused: Vec<&str> = details
        .unused_repositories
        .iter()
        .map(|r| r.repository.as_str())
        .collect();
    assert_eq!(unused, vec![ALPINE]);
    assert_eq!(
        details
            .largest
            .iter()
            .map(|r| r.repository.as_str())
            .collect::<Vec<_>>(),
        vec![NGINX, ALPINE]
    );
    let mut describe_images: Vec<String> = ecr
        .calls()
        .into_iter()
        .filter(|call| call.starts_with("ecr:DescribeImages"))
        .collect();
    describe_images.sort();
    // One listing per managed repository, none of the application's.
    assert_eq!(
        describe_images,
        vec![
            format!("ecr:DescribeImages {ALPINE}"),
            format!("ecr:DescribeImages {NGINX}")
        ]
    );
}

#[tokio::test]
async fn throttled_and_deleted_repositories_are_uncounted_with_a_reason() {
    let ecr = Arc::new(
        registry()
            .failing("ecr:DescribeImages", Some(NGINX), "ThrottlingException")
            .failing(
                "ecr:DescribeImages",
                Some(ALPINE),
                "RepositoryNotFoundException",
            ),
    );
    let details = counted(&ecr, MANAGED).await.expect("the count goes on");
    assert_eq!(details.total.n_repositories, 0);
    assert_eq!(details.total.n_uncounted_repositories, 2);
    let reasons: Vec<(&str, &str)> = details
        .uncounted
        .iter()
        .map(|r| (r.repository.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(reasons[0], (ALPINE, "deleted during the count"));
    assert_eq!(reasons[1].0, NGINX);
    assert!(
        reasons[1].1.contains("ThrottlingException"),
        "{}",
        reasons[1].1
    );
    assert!(
        details
            .notes
            .iter()
            .any(|note| note.starts_with("2 repositories could not be counted")),
        "{:?}",
        details.notes
    );
}

#[tokio::test]
async fn prices_must_be_positive_numbers() {
    for text in [
        "[usage]\nprice_per_gb_month = 0",
        "[usage]\narchive_price_per_gb_month = -1.0",
        "[usage]\nprice_per_gb_month = \"0.10\"",
    ] {
        let error = Config::from_toml_str(text, Path::new("."), "test")
            .expect_err(text)
            .to_string();
        assert!(
            error.contains("expected a positive number of USD per GB-month"),
            "{text}: {error}"
        );
    }
    assert!(
        (config("[usage]\nprice_per_gb_month = 1")
            .usage
            .price_per_gb_month
            - 1.0)
            .abs()
            < f64::EPSILON
    );
}

async fn pruned(ecr: &Arc<FakeEcr>, delete: bool) -> Vec<(String, PruneStatus)> {
    let ports = fakes::ports(ecr, &Arc::new(FakeSecretStore::default()));
    let config = config(MANAGED);
    let context = RunContext::new(&ports, &config).at(now());
    let details = counted(ecr, MANAGED).await.expect("counted");
    let prefixes = vec!["docker-hub".to_owned()];
    let mut unused = details.unused_repositories.clone();
    // A repository outside the managed prefixes slipped into the list is never deleted.
    unused.push(UnusedRepository {
        repository: APP.to_owned(),
        prefix: "team".to_owned(),
        n_images: 1,
        bytes: 1,
        last_used_at: None,
    });
    prune(&context, &measure(30), &prefixes, &unused, delete)
        .await
        .into_iter()
        .map(|p| (p.repository, p.status))
        .collect()
}

#[tokio::test]
async fn pruning_is_a_dry_run_unless_told_and_never_outside_the_prefixes() {
    let ecr = Arc::new(registry());
    assert_eq!(
        pruned(&ecr, false).await,
        vec![(ALPINE.to_owned(), PruneStatus::WouldDelete)]
    );
    assert!(ecr.stored(ALPINE).is_some(), "a dry run deletes nothing");
    assert_eq!(
        pruned(&ecr, true).await,
        vec![(ALPINE.to_owned(), PruneStatus::Deleted)]
    );
    assert!(ecr.stored(ALPINE).is_none());
    assert!(ecr.stored(APP).is_some());
    assert!(ecr.stored(NGINX).is_some());
    let deletions: Vec<String> = ecr
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("ecr:DeleteRepository"))
        .collect();
    assert_eq!(deletions, vec![format!("ecr:DeleteRepository {ALPINE}")]);
}

#[tokio::test]
async fn a_repository_pulled_since_the_count_is_kept() {
    let details = counted(&Arc::new(registry()), MANAGED)
        .await
        .expect("counted");
    // The registry as it is at the deletion: the unused repository was pulled since the count.
    let ecr = Arc::new(
        registry().with_stored_images(ALPINE, vec![image(Some(40), days_ago(90), days_ago(0))]),
    );
    let ports = fakes::ports(&ecr, &Arc::new(FakeSecretStore::default()));
    let config = config(MANAGED);
    let context = RunContext::new(&ports, &config).at(now());
    let prefixes = vec!["docker-hub".to_owned()];
    let outcome = prune(
        &context,
        &measure(30),
        &prefixes,
        &details.unused_repositories,
        true,
    )
    .await;
    assert_eq!(outcome.len(), 1);
    assert_eq!(outcome[0].status, PruneStatus::Kept);
    assert_eq!(
        outcome[0].reason.as_deref(),
        Some("an image was pulled since the count")
    );
    assert!(ecr.stored(ALPINE).is_some());
    assert!(!ecr
        .calls()
        .iter()
        .any(|call| call.starts_with("ecr:DeleteRepository")));
}

#[tokio::test]
async fn near_the_deadline_no_repository_is_started() {
    let ecr = Arc::new(registry());
    let ports = fakes::ports(&ecr, &Arc::new(FakeSecretStore::default()));
    let config = config(MANAGED);
    let context =
        RunContext::new(&ports, &config)
            .at(now())
            .with_deadline(crate::deadline::Deadline::after(
                std::time::Duration::from_secs(5),
            ));
    let request = Request {
        prefixes: Vec::new(),
        unused_days: 30,
        archived: false,
    };
    let details = count(&context, &request, &|_| {}).await.expect("a report");
    assert_eq!(details.total.n_repositories, 0);
    assert_eq!(details.total.n_uncounted_repositories, 2);
    assert!(details
        .uncounted
        .iter()
        .all(|missing| missing.reason == OUT_OF_TIME));
    assert!(!ecr
        .calls()
        .iter()
        .any(|call| call.starts_with("ecr:DescribeImages")));
}
