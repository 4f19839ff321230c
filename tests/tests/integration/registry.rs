//! Registry-level ECR controls around the cache, as the emulator answers them: repository
//! creation templates (and their use by the pull-through), the registry policy, registry
//! scanning, pull-time update exclusions, and the events ECR sends to EventBridge.

use ptc_ops_tests::seeds::scanning_rule;
use std::time::{Duration, Instant};

use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::types::{
    EncryptionConfigurationForRepositoryCreationTemplate, EncryptionType, ImageIdentifier,
    ImageScanningConfiguration, ImageTagMutability, ImageTagMutabilityExclusionFilter,
    ImageTagMutabilityExclusionFilterType, RctAppliedFor, ScanFrequency, ScanType,
    ScanningConfigurationFailureCode, Tag,
};
use ptc_ops_tests::eventbridge::eventbridge;
use ptc_ops_tests::{Rows, TestEnv};
use serde_json::{json, Value};

const LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"description":"untagged after 14 days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#;

fn code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, E>,
) -> (String, String) {
    let error = result.expect_err("the call should fail");
    (
        error.code().unwrap_or("<no code>").to_owned(),
        error.message().unwrap_or_default().to_owned(),
    )
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("tag")
}

fn exclusion(filter: &str) -> ImageTagMutabilityExclusionFilter {
    ImageTagMutabilityExclusionFilter::builder()
        .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
        .filter(filter)
        .build()
        .expect("exclusion filter")
}

fn role_arn(env: &TestEnv, name: &str) -> String {
    format!("arn:aws:iam::{}:role/{name}", env.account_id)
}

fn pull_policy(env: &TestEnv) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "pull", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", env.account_id)},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})
    .to_string()
}

async fn create_template(env: &TestEnv, prefix: &str, applied_for: &[RctAppliedFor]) {
    env.ecr()
        .create_repository_creation_template()
        .prefix(prefix)
        .set_applied_for(Some(applied_for.to_vec()))
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot create template `{prefix}`: {error:?}"));
}

async fn pull(
    env: &TestEnv,
    repository: &str,
    tag: &str,
) -> Result<
    aws_sdk_ecr::operation::batch_get_image::BatchGetImageOutput,
    aws_sdk_ecr::error::SdkError<aws_sdk_ecr::operation::batch_get_image::BatchGetImageError>,
> {
    env.ecr()
        .batch_get_image()
        .repository_name(repository)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .accepted_media_types("application/vnd.docker.distribution.manifest.v2+json")
        .accepted_media_types("application/vnd.docker.distribution.manifest.list.v2+json")
        .accepted_media_types("application/vnd.oci.image.manifest.v1+json")
        .accepted_media_types("application/vnd.oci.image.index.v1+json")
        .send()
        .await
}

async fn pull_ok(env: &TestEnv, repository: &str, tag: &str) {
    let output = pull(env, repository, tag)
        .await
        .unwrap_or_else(|error| panic!("pull of {repository}:{tag} failed: {error:?}"));
    assert_eq!(output.images().len(), 1, "{repository}:{tag}: {output:?}");
}

/// What a repository got at creation: mutability, exclusion filters, encryption, tags, policy
/// and lifecycle policy.
#[derive(Debug)]
struct Created {
    mutability: String,
    exclusions: Vec<String>,
    encryption: String,
    tags: Vec<(String, String)>,
    policy: Option<String>,
    lifecycle: Option<String>,
}

async fn created(env: &TestEnv, name: &str) -> Created {
    let ecr = &env.ecr();
    let described = ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot describe {name}: {error:?}"));
    let repository = described.repositories()[0].clone();
    let tags = ecr
        .list_tags_for_resource()
        .resource_arn(repository.repository_arn().unwrap_or_default())
        .send()
        .await
        .expect("tags listed")
        .tags()
        .iter()
        .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
        .collect();
    let policy = ecr
        .get_repository_policy()
        .repository_name(name)
        .send()
        .await
        .ok()
        .and_then(|output| output.policy_text);
    let lifecycle = ecr
        .get_lifecycle_policy()
        .repository_name(name)
        .send()
        .await
        .ok()
        .and_then(|output| output.lifecycle_policy_text);
    Created {
        mutability: repository
            .image_tag_mutability()
            .map(|value| value.as_str().to_owned())
            .unwrap_or_default(),
        exclusions: repository
            .image_tag_mutability_exclusion_filters()
            .iter()
            .map(|filter| filter.filter().to_owned())
            .collect(),
        encryption: repository
            .encryption_configuration()
            .map(|encryption| encryption.encryption_type().as_str().to_owned())
            .unwrap_or_default(),
        tags,
        policy,
        lifecycle,
    }
}

#[tokio::test]
async fn creation_templates_crud_pagination_and_errors() {
    let env = TestEnv::new().await;
    let ecr = &env.ecr();
    for index in 0..12 {
        create_template(
            &env,
            &format!("team-{index:02}"),
            &[RctAppliedFor::PullThroughCache],
        )
        .await;
    }
    let created = ecr
        .create_repository_creation_template()
        .prefix("ROOT")
        .description("everything else")
        .applied_for(RctAppliedFor::PullThroughCache)
        .applied_for(RctAppliedFor::Replication)
        .image_tag_mutability(ImageTagMutability::ImmutableWithExclusion)
        .image_tag_mutability_exclusion_filters(exclusion("latest"))
        .lifecycle_policy(LIFECYCLE)
        .repository_policy(pull_policy(&env))
        .resource_tags(tag("owner", "platform"))
        .custom_role_arn(role_arn(&env, "ecr-templates"))
        .send()
        .await
        .expect("ROOT template created");
    assert_eq!(created.registry_id(), Some(env.account_id.as_str()));
    let template = created.repository_creation_template().expect("template");
    assert_eq!(template.prefix(), Some("ROOT"));
    assert_eq!(template.applied_for().len(), 2);
    assert_eq!(template.lifecycle_policy(), Some(LIFECYCLE));
    assert!(template.created_at().is_some() && template.updated_at().is_some());
    assert_eq!(
        template.image_tag_mutability_exclusion_filters()[0].filter(),
        "latest"
    );

    // Pages of five, sorted by prefix, every template once.
    let pages: Vec<_> = ecr
        .describe_repository_creation_templates()
        .max_results(5)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(pages.len(), 3);
    let prefixes: Vec<String> = pages
        .into_iter()
        .flat_map(|page| {
            page.expect("page")
                .repository_creation_templates
                .unwrap_or_default()
        })
        .filter_map(|template| template.prefix)
        .collect();
    let mut sorted = prefixes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(prefixes, sorted);
    assert_eq!(prefixes.len(), 13);

    // `prefixes` narrows; an unknown prefix is simply absent.
    let narrowed = ecr
        .describe_repository_creation_templates()
        .prefixes("team-03")
        .prefixes("nobody")
        .send()
        .await
        .expect("narrowed");
    assert_eq!(narrowed.repository_creation_templates().len(), 1);

    let updated = ecr
        .update_repository_creation_template()
        .prefix("team-03")
        .description("team three")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .expect("updated");
    let updated = updated.repository_creation_template().expect("template");
    assert_eq!(updated.description(), Some("team three"));
    assert_eq!(
        updated.image_tag_mutability(),
        Some(&ImageTagMutability::Immutable)
    );
    assert_eq!(updated.applied_for(), &[RctAppliedFor::PullThroughCache]);

    let deleted = ecr
        .delete_repository_creation_template()
        .prefix("team-03")
        .send()
        .await
        .expect("deleted");
    assert_eq!(
        deleted
            .repository_creation_template()
            .and_then(|template| template.description()),
        Some("team three")
    );

    let ecr_create = || {
        ecr.create_repository_creation_template()
            .prefix("other")
            .applied_for(RctAppliedFor::PullThroughCache)
    };
    let cases = [
        (
            "an existing prefix",
            code(
                ecr.create_repository_creation_template()
                    .prefix("team-04")
                    .applied_for(RctAppliedFor::PullThroughCache)
                    .send()
                    .await,
            ),
            "TemplateAlreadyExistsException",
        ),
        (
            "update of a deleted template",
            code(
                ecr.update_repository_creation_template()
                    .prefix("team-03")
                    .description("gone")
                    .send()
                    .await,
            ),
            "TemplateNotFoundException",
        ),
        (
            "delete of a deleted template",
            code(
                ecr.delete_repository_creation_template()
                    .prefix("team-03")
                    .send()
                    .await,
            ),
            "TemplateNotFoundException",
        ),
        (
            "appliedFor empty",
            code(
                ecr.create_repository_creation_template()
                    .prefix("other")
                    .set_applied_for(Some(Vec::new()))
                    .send()
                    .await,
            ),
            "InvalidParameterException",
        ),
        (
            "MUTABLE with exclusion filters",
            code(
                ecr_create()
                    .image_tag_mutability(ImageTagMutability::Mutable)
                    .image_tag_mutability_exclusion_filters(exclusion("latest"))
                    .send()
                    .await,
            ),
            "InvalidParameterException",
        ),
        (
            "MUTABLE_WITH_EXCLUSION without filters",
            code(
                ecr_create()
                    .image_tag_mutability(ImageTagMutability::MutableWithExclusion)
                    .send()
                    .await,
            ),
            "InvalidParameterException",
        ),
        (
            "repository policy not JSON",
            code(ecr_create().repository_policy("{not json").send().await),
            "InvalidParameterException",
        ),
        (
            "repository policy over 10240 characters",
            code(
                ecr_create()
                    .repository_policy("x".repeat(10_241))
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
        (
            "description over 256 characters",
            code(ecr_create().description("d".repeat(257)).send().await),
            "ValidationException",
        ),
        (
            "uppercase prefix",
            code(
                ecr.create_repository_creation_template()
                    .prefix("Upper/Case")
                    .applied_for(RctAppliedFor::PullThroughCache)
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
        (
            "prefix over 256 characters",
            code(
                ecr.create_repository_creation_template()
                    .prefix("p".repeat(257))
                    .applied_for(RctAppliedFor::PullThroughCache)
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
        (
            "unknown appliedFor",
            code(
                ecr_create()
                    .applied_for(RctAppliedFor::from("PULL_REQUEST"))
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
        (
            "unknown encryption type",
            code(
                ecr_create()
                    .encryption_configuration(
                        EncryptionConfigurationForRepositoryCreationTemplate::builder()
                            .encryption_type(EncryptionType::from("DES"))
                            .build()
                            .expect("encryption"),
                    )
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
        (
            "custom role of another account",
            code(
                ecr_create()
                    .custom_role_arn("arn:aws:iam::000000000000:role/elsewhere")
                    .send()
                    .await,
            ),
            "InvalidParameterException",
        ),
        (
            "describe with maxResults 0",
            code(
                ecr.describe_repository_creation_templates()
                    .max_results(0)
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
        (
            "describe with a foreign nextToken",
            code(
                ecr.describe_repository_creation_templates()
                    .next_token("not-a-token")
                    .send()
                    .await,
            ),
            "InvalidParameterException",
        ),
    ];
    let mut rows = Rows::new("refused template requests");
    for (name, (actual, message), expected) in &cases {
        rows.check_now(name, || assert_eq!(actual, expected, "{name}: {message}"));
    }
    rows.assert_all_passed();

    // A template's lifecycle policy is checked like PutLifecyclePolicy, with ECR's message.
    let (actual, message) = code(ecr_create().lifecycle_policy("not a policy").send().await);
    assert_eq!(actual, "InvalidParameterException");
    assert!(
        message.starts_with(
            "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: \
             'Lifecycle policy validation failure: "
        ),
        "{message}"
    );
    // Nothing of the refused requests was stored.
    let all = ecr
        .describe_repository_creation_templates()
        .max_results(1000)
        .send()
        .await
        .expect("listed");
    assert_eq!(all.repository_creation_templates().len(), 12);
}

#[tokio::test]
async fn templates_shape_repositories_the_pull_through_creates() {
    let env = TestEnv::new().await;
    let ecr = &env.ecr();
    env.create_rule("quay", "quay.io", None).await;
    env.create_rule("k8s", "registry.k8s.io", None).await;
    // The rule's prefix: immutable with an exclusion, tags (with the role they need), policies.
    ecr.create_repository_creation_template()
        .prefix("quay")
        .applied_for(RctAppliedFor::PullThroughCache)
        .image_tag_mutability(ImageTagMutability::ImmutableWithExclusion)
        .image_tag_mutability_exclusion_filters(exclusion("latest"))
        .resource_tags(tag("team", "cache"))
        .custom_role_arn(role_arn(&env, "ecr-templates"))
        .lifecycle_policy(LIFECYCLE)
        .repository_policy(pull_policy(&env))
        .send()
        .await
        .expect("quay template");
    // More specific: wins for quay/coredns/*, and nothing of `quay` is merged in.
    ecr.create_repository_creation_template()
        .prefix("quay/coredns/")
        .applied_for(RctAppliedFor::PullThroughCache)
        .image_tag_mutability(ImageTagMutability::Mutable)
        .send()
        .await
        .expect("quay/coredns template");
    ecr.create_repository_creation_template()
        .prefix("ROOT")
        .applied_for(RctAppliedFor::PullThroughCache)
        .image_tag_mutability(ImageTagMutability::Immutable)
        .resource_tags(tag("scope", "root"))
        .custom_role_arn(role_arn(&env, "ecr-templates"))
        .send()
        .await
        .expect("ROOT template");
    // Not for the cache: ignored by the pull-through even though its prefix matches best.
    ecr.create_repository_creation_template()
        .prefix("k8s/karpenter")
        .applied_for(RctAppliedFor::Replication)
        .applied_for(RctAppliedFor::CreateOnPush)
        .image_tag_mutability(ImageTagMutability::Mutable)
        .resource_tags(tag("scope", "replication"))
        .custom_role_arn(role_arn(&env, "ecr-templates"))
        .send()
        .await
        .expect("replication template");

    pull_ok(&env, "quay/prometheus/node-exporter", "v1.8.2").await;
    pull_ok(&env, "quay/coredns/coredns", "v1.11.3").await;
    pull_ok(&env, "k8s/pause", "3.10").await;
    pull_ok(&env, "k8s/karpenter/controller", "1.0.6").await;

    let exporter = created(&env, "quay/prometheus/node-exporter").await;
    assert_eq!(
        exporter.mutability, "IMMUTABLE_WITH_EXCLUSION",
        "{exporter:?}"
    );
    assert_eq!(exporter.exclusions, vec!["latest".to_owned()]);
    assert_eq!(exporter.encryption, "AES256");
    assert_eq!(exporter.tags, vec![("team".to_owned(), "cache".to_owned())]);
    assert_eq!(exporter.lifecycle.as_deref(), Some(LIFECYCLE));
    assert_eq!(exporter.policy, Some(pull_policy(&env)));

    let coredns = created(&env, "quay/coredns/coredns").await;
    assert_eq!(coredns.mutability, "MUTABLE", "{coredns:?}");
    assert!(coredns.tags.is_empty() && coredns.lifecycle.is_none() && coredns.policy.is_none());

    for name in ["k8s/pause", "k8s/karpenter/controller"] {
        let root = created(&env, name).await;
        assert_eq!(root.mutability, "IMMUTABLE", "{name}: {root:?}");
        assert_eq!(
            root.tags,
            vec![("scope".to_owned(), "root".to_owned())],
            "{name}"
        );
    }

    // Templates apply at creation only: an update leaves existing repositories alone.
    ecr.update_repository_creation_template()
        .prefix("quay/coredns/")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .expect("updated");
    assert_eq!(
        created(&env, "quay/coredns/coredns").await.mutability,
        "MUTABLE"
    );
}

#[tokio::test]
async fn a_template_with_tags_or_kms_but_no_custom_role_fails_the_pull() {
    let env = TestEnv::new().await;
    let ecr = &env.ecr();
    env.create_rule("quay", "quay.io", None).await;
    env.create_rule("k8s", "registry.k8s.io", None).await;
    ecr.create_repository_creation_template()
        .prefix("quay")
        .applied_for(RctAppliedFor::PullThroughCache)
        .resource_tags(tag("team", "cache"))
        .send()
        .await
        .expect("template with tags accepted");
    ecr.create_repository_creation_template()
        .prefix("k8s")
        .applied_for(RctAppliedFor::PullThroughCache)
        .encryption_configuration(
            EncryptionConfigurationForRepositoryCreationTemplate::builder()
                .encryption_type(EncryptionType::Kms)
                .build()
                .expect("encryption"),
        )
        .send()
        .await
        .expect("template with KMS accepted");

    for (repository, tag_name) in [("quay/coredns/coredns", "v1.11.3"), ("k8s/pause", "3.10")] {
        let (actual, message) = code(pull(&env, repository, tag_name).await);
        assert_eq!(actual, "UnableToGetUpstreamImageException", "{message}");
        assert!(message.contains("customRoleArn"), "{message}");
        let (missing, _) = code(
            ecr.describe_repositories()
                .repository_names(repository)
                .send()
                .await,
        );
        assert_eq!(missing, "RepositoryNotFoundException", "{repository}");
    }

    // With the role, the same pull creates the repository with the template's tags.
    ecr.update_repository_creation_template()
        .prefix("quay")
        .custom_role_arn(role_arn(&env, "ecr-templates"))
        .send()
        .await
        .expect("role added");
    pull_ok(&env, "quay/coredns/coredns", "v1.11.3").await;
    let repository = created(&env, "quay/coredns/coredns").await;
    assert_eq!(
        repository.tags,
        vec![("team".to_owned(), "cache".to_owned())]
    );
}

#[tokio::test]
async fn registry_policy_takes_every_ecr_action() {
    let env = TestEnv::new().await;
    let ecr = &env.ecr();
    let (missing, _) = code(ecr.get_registry_policy().send().await);
    assert_eq!(missing, "RegistryPolicyNotFoundException");
    let (missing, _) = code(ecr.delete_registry_policy().send().await);
    assert_eq!(missing, "RegistryPolicyNotFoundException");

    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "ConsumersFirstPull", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
        "Resource": format!("arn:aws:ecr:{}:{}:repository/docker-hub/*", env.region, env.account_id)}]})
    .to_string();
    let put = ecr
        .put_registry_policy()
        .policy_text(&policy)
        .send()
        .await
        .expect("V2 registry policy accepted");
    assert_eq!(put.registry_id(), Some(env.account_id.as_str()));
    let read = ecr.get_registry_policy().send().await.expect("read");
    assert_eq!(read.policy_text(), Some(policy.as_str()));

    let not_ecr = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "s3:GetObject",
        "Resource": "*"}]})
    .to_string();
    let refused = [
        (
            code(ecr.put_registry_policy().policy_text(&not_ecr).send().await),
            "InvalidParameterException",
        ),
        (
            code(ecr.put_registry_policy().policy_text("{nope").send().await),
            "InvalidParameterException",
        ),
        (
            code(
                ecr.put_registry_policy()
                    .policy_text("x".repeat(10_241))
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
    ];
    for ((actual, message), expected) in refused {
        assert_eq!(actual, expected, "{message}");
    }
    let deleted = ecr.delete_registry_policy().send().await.expect("deleted");
    assert_eq!(deleted.policy_text(), Some(policy.as_str()));
    let (missing, _) = code(ecr.get_registry_policy().send().await);
    assert_eq!(missing, "RegistryPolicyNotFoundException");
}

/// (name, scanOnPush, scanFrequency, applied filters) per repository, in request order.
async fn effective_scanning(
    env: &TestEnv,
    names: &[&str],
) -> (Vec<(String, bool, String, Vec<String>)>, Vec<String>) {
    let output = env
        .ecr()
        .batch_get_repository_scanning_configuration()
        .set_repository_names(Some(names.iter().map(|name| (*name).to_owned()).collect()))
        .send()
        .await
        .expect("scanning configurations");
    let configurations = output
        .scanning_configurations()
        .iter()
        .map(|configuration| {
            (
                configuration
                    .repository_name()
                    .unwrap_or_default()
                    .to_owned(),
                configuration.scan_on_push(),
                configuration
                    .scan_frequency()
                    .map(|frequency| frequency.as_str().to_owned())
                    .unwrap_or_default(),
                configuration
                    .applied_scan_filters()
                    .iter()
                    .map(|filter| filter.filter().to_owned())
                    .collect(),
            )
        })
        .collect();
    let failures = output
        .failures()
        .iter()
        .map(|failure| {
            assert_eq!(
                failure.failure_code(),
                Some(&ScanningConfigurationFailureCode::RepositoryNotFound)
            );
            failure.repository_name().unwrap_or_default().to_owned()
        })
        .collect();
    (configurations, failures)
}

fn row(
    name: &str,
    on_push: bool,
    frequency: &str,
    filters: &[&str],
) -> (String, bool, String, Vec<String>) {
    (
        name.to_owned(),
        on_push,
        frequency.to_owned(),
        filters.iter().map(|filter| (*filter).to_owned()).collect(),
    )
}

#[tokio::test]
async fn registry_scanning_configuration_and_effective_values() {
    let env = TestEnv::new().await;
    let ecr = &env.ecr();
    let default = ecr
        .get_registry_scanning_configuration()
        .send()
        .await
        .expect("default configuration");
    let configuration = default.scanning_configuration().expect("configuration");
    assert_eq!(configuration.scan_type(), Some(&ScanType::Basic));
    assert!(configuration.rules().is_empty());

    for name in ["app/web", "app/api", "tools/lint", "legacy"] {
        ecr.create_repository()
            .repository_name(name)
            .set_image_scanning_configuration(Some(
                ImageScanningConfiguration::builder()
                    .scan_on_push(name == "legacy")
                    .build(),
            ))
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot create {name}: {error:?}"));
    }
    let names = ["app/web", "app/api", "tools/lint", "legacy", "missing"];

    // No configuration: BASIC, the repository's own flag decides.
    let (rows, failures) = effective_scanning(&env, &names).await;
    assert_eq!(failures, vec!["missing".to_owned()]);
    assert_eq!(
        rows,
        vec![
            row("app/web", false, "MANUAL", &[]),
            row("app/api", false, "MANUAL", &[]),
            row("tools/lint", false, "MANUAL", &[]),
            row("legacy", true, "SCAN_ON_PUSH", &[]),
        ]
    );

    // BASIC: a wildcard filter matches whole names, a plain one any name containing it.
    ecr.put_registry_scanning_configuration()
        .scan_type(ScanType::Basic)
        .rules(scanning_rule(
            ScanFrequency::ScanOnPush,
            &["app/w*", "lint"],
        ))
        .send()
        .await
        .expect("basic configuration");
    let (rows, _) = effective_scanning(&env, &names).await;
    assert_eq!(
        rows,
        vec![
            row("app/web", true, "SCAN_ON_PUSH", &["app/w*"]),
            row("app/api", false, "MANUAL", &[]),
            row("tools/lint", true, "SCAN_ON_PUSH", &["lint"]),
            row("legacy", true, "SCAN_ON_PUSH", &[]),
        ]
    );

    // ENHANCED: continuous beats scan on push; the repository flag no longer counts.
    let put = ecr
        .put_registry_scanning_configuration()
        .scan_type(ScanType::Enhanced)
        .rules(scanning_rule(ScanFrequency::ContinuousScan, &["app/web"]))
        .rules(scanning_rule(ScanFrequency::ScanOnPush, &["app/*"]))
        .send()
        .await
        .expect("enhanced configuration");
    assert_eq!(
        put.registry_scanning_configuration()
            .and_then(|configuration| configuration.scan_type()),
        Some(&ScanType::Enhanced)
    );
    let (rows, _) = effective_scanning(&env, &names).await;
    assert_eq!(
        rows,
        vec![
            row("app/web", false, "CONTINUOUS_SCAN", &["app/web"]),
            row("app/api", true, "SCAN_ON_PUSH", &["app/*"]),
            row("tools/lint", false, "MANUAL", &[]),
            row("legacy", false, "MANUAL", &[]),
        ]
    );
    let stored = ecr
        .get_registry_scanning_configuration()
        .send()
        .await
        .expect("read back");
    assert_eq!(
        stored
            .scanning_configuration()
            .map(|configuration| configuration.rules().len()),
        Some(2)
    );

    let hundred_and_one: Vec<String> = (0..101).map(|index| format!("repo-{index}")).collect();
    let too_many_filters: Vec<&str> = hundred_and_one.iter().map(String::as_str).collect();
    let refused = [
        (
            code(
                ecr.put_registry_scanning_configuration()
                    .scan_type(ScanType::Basic)
                    .rules(scanning_rule(ScanFrequency::ContinuousScan, &["app"]))
                    .send()
                    .await,
            ),
            "InvalidParameterException",
        ),
        (
            code(
                ecr.put_registry_scanning_configuration()
                    .scan_type(ScanType::Enhanced)
                    .rules(scanning_rule(ScanFrequency::ScanOnPush, &["a"]))
                    .rules(scanning_rule(ScanFrequency::ScanOnPush, &["b"]))
                    .rules(scanning_rule(ScanFrequency::ContinuousScan, &["c"]))
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
        (
            code(
                ecr.put_registry_scanning_configuration()
                    .scan_type(ScanType::Basic)
                    .rules(scanning_rule(ScanFrequency::ScanOnPush, &too_many_filters))
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
        (
            code(
                ecr.put_registry_scanning_configuration()
                    .scan_type(ScanType::Basic)
                    .rules(scanning_rule(ScanFrequency::ScanOnPush, &["App/Web"]))
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
        (
            code(
                ecr.put_registry_scanning_configuration()
                    .scan_type(ScanType::from("DEEP"))
                    .send()
                    .await,
            ),
            "ValidationException",
        ),
    ];
    for (index, ((actual, message), expected)) in refused.iter().enumerate() {
        assert_eq!(actual, expected, "case {index}: {message}");
    }
    // The refused requests changed nothing.
    let (rows, _) = effective_scanning(&env, &["app/web"]).await;
    assert_eq!(
        rows,
        vec![row("app/web", false, "CONTINUOUS_SCAN", &["app/web"])]
    );
}

#[tokio::test]
async fn pull_time_update_exclusions_up_to_one_hundred() {
    let env = TestEnv::new().await;
    let ecr = &env.ecr();
    let principals: Vec<String> = (0..100)
        .map(|index| {
            if index % 2 == 0 {
                role_arn(&env, &format!("warmers/warmer-{index:03}"))
            } else {
                format!("arn:aws:iam::{}:user/scanner-{index:03}", env.account_id)
            }
        })
        .collect();
    for principal in &principals {
        let registered = ecr
            .register_pull_time_update_exclusion()
            .principal_arn(principal)
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot register {principal}: {error:?}"));
        assert_eq!(registered.principal_arn(), Some(principal.as_str()));
        assert!(registered.created_at().is_some());
    }
    let (limit, message) = code(
        ecr.register_pull_time_update_exclusion()
            .principal_arn(role_arn(&env, "one-too-many"))
            .send()
            .await,
    );
    assert_eq!(limit, "LimitExceededException", "{message}");
    let (duplicate, _) = code(
        ecr.register_pull_time_update_exclusion()
            .principal_arn(&principals[0])
            .send()
            .await,
    );
    assert_eq!(duplicate, "ExclusionAlreadyExistsException");

    let mut listed = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = ecr
            .list_pull_time_update_exclusions()
            .max_results(40)
            .set_next_token(token)
            .send()
            .await
            .expect("page");
        pages += 1;
        listed.extend(page.pull_time_update_exclusions().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    let mut expected = principals.clone();
    expected.sort();
    assert_eq!(listed, expected);

    let removed = ecr
        .deregister_pull_time_update_exclusion()
        .principal_arn(&principals[1])
        .send()
        .await
        .expect("deregistered");
    assert_eq!(removed.principal_arn(), Some(principals[1].as_str()));
    let (missing, _) = code(
        ecr.deregister_pull_time_update_exclusion()
            .principal_arn(&principals[1])
            .send()
            .await,
    );
    assert_eq!(missing, "ExclusionNotFoundException");
    ecr.register_pull_time_update_exclusion()
        .principal_arn(role_arn(&env, "one-more"))
        .send()
        .await
        .expect("room again after a deregistration");

    let session = format!(
        "arn:aws:sts::{}:assumed-role/warmer/session",
        env.account_id
    );
    let long = role_arn(&env, &"r".repeat(180));
    for principal in [session.as_str(), long.as_str(), "warmer"] {
        let (actual, message) = code(
            ecr.register_pull_time_update_exclusion()
                .principal_arn(principal)
                .send()
                .await,
        );
        assert_eq!(actual, "ValidationException", "{principal}: {message}");
    }
}

async fn receive_events(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<Value> {
    let started = Instant::now();
    let mut events = Vec::new();
    while started.elapsed() < timeout {
        let output = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("received");
        for message in output.messages() {
            events
                .push(serde_json::from_str(message.body().unwrap_or("null")).expect("event JSON"));
        }
        if events.len() >= expected {
            // Stay a moment longer so that unexpected extra events are seen too.
            if started.elapsed() + Duration::from_millis(500) < timeout {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let more = sqs
                    .receive_message()
                    .queue_url(queue_url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .expect("received");
                for message in more.messages() {
                    events.push(
                        serde_json::from_str(message.body().unwrap_or("null")).expect("event JSON"),
                    );
                }
            }
            break;
        }
    }
    events
}

#[tokio::test]
async fn ecr_events_reach_a_queue_through_an_eventbridge_rule() {
    let env = TestEnv::new().await;
    let sqs = env.sqs();
    let queue_name = format!("ecr-events-{}", uuid::Uuid::new_v4().simple());
    let queue_url = sqs
        .create_queue()
        .queue_name(&queue_name)
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue URL");
    let queue_arn = format!("arn:aws:sqs:{}:{}:{queue_name}", env.region, env.account_id);
    let patterns = [
        (
            "cache-repository-created",
            json!({"source": ["aws.ecr"],
                   "detail-type": ["AWS Service Event via CloudTrail", "AWS API Call via CloudTrail"],
                   "detail": {"eventSource": ["ecr.amazonaws.com"], "eventName": ["CreateRepository"]}}),
        ),
        (
            "cache-sync",
            json!({"source": ["aws.ecr"], "detail-type": ["ECR Pull Through Cache Action"]}),
        ),
    ];
    for (name, pattern) in patterns {
        eventbridge(
            &env,
            "PutRule",
            json!({"Name": name, "EventPattern": pattern.to_string()}),
        )
        .await;
        eventbridge(
            &env,
            "PutTargets",
            json!({"Rule": name, "Targets": [{"Id": "queue", "Arn": queue_arn}]}),
        )
        .await;
    }
    env.create_rule("quay", "quay.io", None).await;
    create_template(&env, "quay/coredns", &[RctAppliedFor::PullThroughCache]).await;
    env.ecr()
        .update_repository_creation_template()
        .prefix("quay/coredns")
        .resource_tags(tag("team", "cache"))
        .send()
        .await
        .expect("template with tags, no role");

    pull_ok(&env, "quay/prometheus/node-exporter", "v1.8.2").await;
    let (failed, _) = code(pull(&env, "quay/prometheus/node-exporter", "no-such-tag").await);
    assert_eq!(failed, "UnableToGetUpstreamImageException");
    let (failed, _) = code(pull(&env, "quay/coredns/coredns", "v1.11.3").await);
    assert_eq!(failed, "UnableToGetUpstreamImageException");

    let events = receive_events(&sqs, &queue_url, 4, Duration::from_secs(20)).await;
    let arn = |name: &str| {
        format!(
            "arn:aws:ecr:{}:{}:repository/{name}",
            env.region, env.account_id
        )
    };
    let created: Vec<&Value> = events
        .iter()
        .filter(|event| event["detail-type"] == "AWS Service Event via CloudTrail")
        .collect();
    assert_eq!(created.len(), 1, "{events:#?}");
    let detail = &created[0]["detail"];
    assert_eq!(created[0]["source"], "aws.ecr");
    assert_eq!(created[0]["account"], env.account_id.as_str());
    assert_eq!(created[0]["region"], env.region.as_str());
    assert_eq!(detail["eventSource"], "ecr.amazonaws.com");
    assert_eq!(detail["eventName"], "CreateRepository");
    assert_eq!(detail["userIdentity"]["invokedBy"], "ecr.amazonaws.com");
    assert_eq!(
        detail["serviceEventDetails"]["repositoryName"],
        "quay/prometheus/node-exporter"
    );
    // As sparse as the published record: the repository is named in `serviceEventDetails` and
    // in `resources`, nowhere else.
    assert_eq!(detail["responseElements"], Value::Null);
    assert_eq!(
        detail["resources"][0]["ARN"],
        arn("quay/prometheus/node-exporter").as_str()
    );

    let mut syncs: Vec<&Value> = events
        .iter()
        .filter(|event| event["detail-type"] == "ECR Pull Through Cache Action")
        .collect();
    syncs.sort_by_key(|event| {
        (
            event["detail"]["repository-name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            event["detail"]["image-tag"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    });
    assert_eq!(syncs.len(), 3, "{events:#?}");
    let upstream_digest = env
        .emulator
        .info
        .images
        .iter()
        .find(|image| image.repository == "prometheus/node-exporter" && image.tag == "v1.8.2")
        .expect("seeded image")
        .digest
        .clone();
    let expected = [
        ("quay/coredns/coredns", "v1.11.3", "FAILED"),
        ("quay/prometheus/node-exporter", "no-such-tag", "FAILED"),
        ("quay/prometheus/node-exporter", "v1.8.2", "SUCCESS"),
    ];
    for (event, (repository, image_tag, status)) in syncs.iter().zip(expected) {
        let detail = &event["detail"];
        assert_eq!(event["source"], "aws.ecr");
        assert_eq!(event["resources"][0], arn(repository).as_str(), "{event:#}");
        assert_eq!(detail["repository-name"], repository);
        assert_eq!(detail["image-tag"], image_tag);
        assert_eq!(detail["sync-status"], status, "{event:#}");
        assert_eq!(detail["ecr-repository-prefix"], "quay");
        assert_eq!(detail["upstream-registry-url"], "quay.io");
        assert_eq!(detail["rule-version"], "1");
        if status == "SUCCESS" {
            assert_eq!(detail["image-digest"], upstream_digest.as_str());
            assert!(detail.get("failure-code").is_none());
        } else {
            assert!(detail["failure-code"].is_string(), "{event:#}");
            assert!(detail["failure-reason"].is_string(), "{event:#}");
        }
    }
    let reason = syncs[0]["detail"]["failure-reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("customRoleArn"), "{reason}");
    assert_eq!(events.len(), 4, "{events:#?}");
}
