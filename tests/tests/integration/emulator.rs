//! The emulator answers like ECR, through the product's own adapters where they exist.

use aws_sdk_ecr::types::ImageIdentifier;
use ptc_ops::ports::AwsErrorKind;
use ptc_ops::ports::PullFailure;
use ptc_ops_tests::{Fault, FaultKind, TestEnv};
use serde_json::json;

#[tokio::test]
async fn rules_crud_and_pagination_over_sixty_rules() {
    let env = TestEnv::new().await;
    env.set_emulator(json!({"rule_limit": 60})).await;
    for index in 0..60 {
        env.create_rule(&format!("quay-{index:02}"), "quay.io", None)
            .await;
    }
    let registry = env.clients.registry();
    let rules = registry.cache_rules(None).await.expect("rules listed");
    assert_eq!(rules.len(), 60);
    assert!(rules
        .iter()
        .all(|rule| rule.upstream.as_str() == "quay" && !rule.authenticates()));

    // The emulator pages like ECR: small pages, opaque tokens, every rule exactly once.
    let pages: Vec<_> = env
        .ecr()
        .describe_pull_through_cache_rules()
        .max_results(25)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(pages.len(), 3);
    let mut prefixes: Vec<String> = pages
        .into_iter()
        .flat_map(|page| {
            page.expect("page")
                .pull_through_cache_rules
                .unwrap_or_default()
        })
        .filter_map(|rule| rule.ecr_repository_prefix)
        .collect();
    prefixes.sort();
    prefixes.dedup();
    assert_eq!(prefixes.len(), 60);

    let narrowed = registry
        .cache_rules(Some(&["quay-07".to_owned()]))
        .await
        .expect("narrowed");
    assert_eq!(narrowed.len(), 1);
    assert_eq!(narrowed[0].prefix, "quay-07");

    let secret_arn = env
        .create_secret("ecr-pullthroughcache/quay", &env.valid_credential_json())
        .await;
    env.ecr()
        .update_pull_through_cache_rule()
        .ecr_repository_prefix("quay-07")
        .credential_arn(&secret_arn)
        .send()
        .await
        .expect("rule updated");
    let updated = registry
        .cache_rules(Some(&["quay-07".to_owned()]))
        .await
        .expect("listed");
    assert_eq!(
        updated[0].credential_arn.as_deref(),
        Some(secret_arn.as_str())
    );

    env.ecr()
        .delete_pull_through_cache_rule()
        .ecr_repository_prefix("quay-07")
        .send()
        .await
        .expect("rule deleted");
    let missing = registry
        .cache_rules(Some(&["quay-07".to_owned()]))
        .await
        .expect_err("deleted rule is not found");
    assert!(
        missing.is_code("PullThroughCacheRuleNotFoundException"),
        "{missing}"
    );
    assert_eq!(registry.cache_rules(None).await.expect("listed").len(), 59);
}

#[tokio::test]
async fn validation_logs_in_to_the_real_upstream() {
    let env = TestEnv::new().await;
    let credentials = env.emulator.info.upstream_credentials.clone();
    let good = env
        .create_secret(
            "ecr-pullthroughcache/docker-hub",
            &env.valid_credential_json(),
        )
        .await;
    let wrong_token = env
        .create_secret(
            "ecr-pullthroughcache/ghcr",
            &env.credential_json_with_token("not-the-token"),
        )
        .await;
    let password_key = env
        .create_secret(
            "ecr-pullthroughcache/gitlab",
            &json!({"username": credentials.username, "password": credentials.access_token})
                .to_string(),
        )
        .await;
    let missing = format!(
        "arn:aws:secretsmanager:{}:{}:secret:ecr-pullthroughcache/deleted-AbCdEf",
        env.region, env.account_id
    );
    env.create_rule("docker-hub", "registry-1.docker.io", Some(&good))
        .await;
    env.create_rule("ghcr", "ghcr.io", Some(&wrong_token)).await;
    env.create_rule("gitlab", "registry.gitlab.com", Some(&password_key))
        .await;
    env.create_rule("azure", "myregistry.azurecr.io", Some(&missing))
        .await;

    let registry = env.clients.registry();
    let valid = registry
        .validate_cache_rule("docker-hub")
        .await
        .expect("validated");
    assert!(valid.is_valid, "{valid:?}\n{}", env.emulator.log());
    for prefix in ["ghcr", "gitlab", "azure"] {
        let answer = registry
            .validate_cache_rule(prefix)
            .await
            .expect("validated");
        assert!(!answer.is_valid, "rule {prefix} should be invalid");
        let failure = answer.failure.unwrap_or_default();
        assert!(!failure.is_empty(), "rule {prefix} has a failure text");
        assert!(
            !failure.contains(&credentials.access_token),
            "failure text leaks the token"
        );
    }
}

#[tokio::test]
async fn first_pull_by_tag_caches_the_image_from_the_upstream() {
    let env = TestEnv::new().await;
    env.seed_standard_rules().await;
    let registry = env.clients.registry();
    assert_eq!(
        registry
            .repository("docker-hub/library/nginx")
            .await
            .expect("described"),
        None
    );

    let single = registry
        .pull_by_tag("docker-hub/library/nginx", "1.27")
        .await
        .unwrap_or_else(|failure| panic!("pull failed: {failure:?}\n{}", env.emulator.log()));
    assert!(single.digest.starts_with("sha256:"));
    let created = registry
        .repository("docker-hub/library/nginx")
        .await
        .expect("described")
        .expect("the first pull created the repository");
    assert_eq!(created.tag_mutability, "MUTABLE");
    assert_eq!(created.encryption_type, "AES256");

    let index = registry
        .pull_by_tag("docker-hub/library/alpine", "3.20")
        .await
        .unwrap_or_else(|failure| panic!("multi-arch pull failed: {failure:?}"));
    assert!(
        index
            .media_type
            .as_deref()
            .is_some_and(|media| media.contains("index") || media.contains("list")),
        "{index:?}"
    );
    let upstream = env
        .emulator
        .info
        .images
        .iter()
        .find(|image| image.repository == "library/alpine" && image.tag == "3.20")
        .expect("seeded image");
    assert_eq!(
        index.digest, upstream.digest,
        "the cached digest is the upstream's"
    );

    let anonymous = registry.pull_by_tag("k8s/pause", "3.10").await;
    assert!(anonymous.is_ok(), "{anonymous:?}");

    // A second pull is a cache hit: no new repository, same digest.
    let again = registry
        .pull_by_tag("docker-hub/library/nginx", "1.27")
        .await
        .expect("hit");
    assert_eq!(again.digest, single.digest);
}

#[tokio::test]
async fn missing_upstream_images_and_digest_pulls_do_not_populate() {
    let env = TestEnv::new().await;
    env.create_rule("quay", "quay.io", None).await;
    let registry = env.clients.registry();

    match registry
        .pull_by_tag("quay/prometheus/does-not-exist", "v1")
        .await
    {
        Err(PullFailure::Call(error)) => {
            assert!(
                error.is_code("UnableToGetUpstreamImageException"),
                "{error}"
            );
        }
        other => panic!("expected UnableToGetUpstreamImageException, got {other:?}"),
    }
    assert_eq!(
        registry
            .repository("quay/prometheus/does-not-exist")
            .await
            .expect("described"),
        None
    );

    let upstream = env
        .emulator
        .info
        .images
        .iter()
        .find(|image| image.repository == "prometheus/node-exporter")
        .expect("seeded image");
    let by_digest = env
        .ecr()
        .batch_get_image()
        .repository_name("quay/prometheus/node-exporter")
        .image_ids(
            ImageIdentifier::builder()
                .image_digest(&upstream.digest)
                .build(),
        )
        .send()
        .await;
    let populated = by_digest
        .as_ref()
        .map(|output| !output.images().is_empty())
        .unwrap_or(false);
    assert!(
        !populated,
        "a first pull by digest must not populate: {by_digest:?}"
    );
    assert_eq!(
        registry
            .repository("quay/prometheus/node-exporter")
            .await
            .expect("described"),
        None
    );
}

#[tokio::test]
async fn describe_repositories_pages_over_250_repositories() {
    let env = TestEnv::new().await;
    for index in 0..250 {
        env.ecr()
            .create_repository()
            .repository_name(format!("docker-hub/team/app-{index:03}"))
            .send()
            .await
            .expect("repository created");
    }
    let registry = env.clients.registry();
    let mut names = Vec::new();
    let mut next_token = None;
    let mut n_pages = 0;
    loop {
        let page = registry
            .repositories_page(next_token, 100)
            .await
            .expect("page");
        n_pages += 1;
        assert!(page.repositories.len() <= 100);
        names.extend(
            page.repositories
                .into_iter()
                .map(|repository| repository.name),
        );
        next_token = page.next_token;
        if next_token.is_none() {
            break;
        }
    }
    assert_eq!(n_pages, 3);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 250);
}

#[tokio::test]
async fn injected_throttling_is_retried_and_logged() {
    let env = TestEnv::new().await;
    env.create_rule("k8s", "registry.k8s.io", None).await;
    env.clear_calls().await;
    env.inject(Fault::new(
        "DescribePullThroughCacheRules",
        FaultKind::Throttle,
        Some(2),
    ))
    .await;
    let rules = env
        .clients
        .registry()
        .cache_rules(None)
        .await
        .expect("retried past throttling");
    assert_eq!(rules.len(), 1);
    let calls: Vec<_> = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "DescribePullThroughCacheRules")
        .collect();
    let faults: Vec<Option<&str>> = calls.iter().map(|call| call.fault.as_deref()).collect();
    assert_eq!(
        faults,
        vec![Some("throttle"), Some("throttle"), None],
        "{calls:?}"
    );

    // Past the retry budget the adapter reports throttling, not a generic failure.
    env.inject(Fault::new(
        "DescribePullThroughCacheRules",
        FaultKind::Throttle,
        None,
    ))
    .await;
    let error = env
        .clients
        .registry()
        .cache_rules(None)
        .await
        .expect_err("throttled");
    assert_eq!(error.kind, AwsErrorKind::Throttled, "{error}");
}
