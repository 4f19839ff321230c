//! Repository creation templates and what the pull-through cache creates, with and without one
//! (ECR user guide: repository-creation-templates.html, pull-through-cache-creating-rule.html).
//!
//! The upstream is `registry.k8s.io` without credentials and the images are `pause:3.10` and
//! `coredns/coredns:v1.11.3`, deleted at the end: on a real account the run costs nothing that
//! outlives it.

use aws_sdk_ecr::types::{
    EncryptionType, ImageTagMutability, RctAppliedFor, RepositoryCreationTemplate, Tag,
};
use ptc_ops::aws::ecr::Ecr;
use serde_json::Value;

use crate::target::{refusal, Target};

const UPSTREAM_URL: &str = "registry.k8s.io";
const IMAGE: &str = "pause";
const TAG: &str = "3.10";
/// A two-level upstream path, so that two templates can match one repository.
const NESTED_IMAGE: &str = "coredns/coredns";
const NESTED_TAG: &str = "v1.11.3";

fn shipped_lifecycle() -> String {
    let path = ptc_ops_tests::repo_root().join("infra/config/lifecycle/default.json");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn same_json(left: &str, right: &str) -> bool {
    serde_json::from_str::<Value>(left).ok() == serde_json::from_str::<Value>(right).ok()
}

async fn template(target: &Target, prefix: &str) -> Option<RepositoryCreationTemplate> {
    match target
        .ecr
        .describe_repository_creation_templates()
        .prefixes(prefix)
        .send()
        .await
    {
        Ok(output) => output
            .repository_creation_templates
            .unwrap_or_default()
            .into_iter()
            .find(|template| template.prefix.as_deref() == Some(prefix)),
        Err(error) => {
            // No AWS page says what describing an unknown prefix answers.
            target.record(
                "describe an unknown template prefix",
                &format!("refused ({})", refusal(error).code),
            );
            None
        }
    }
}

async fn delete_template(target: &Target, prefix: &str) {
    if let Err(error) = target
        .ecr
        .delete_repository_creation_template()
        .prefix(prefix)
        .send()
        .await
    {
        let refused = refusal(error);
        if refused.code != "TemplateNotFoundException" {
            eprintln!("cleanup: cannot delete template `{prefix}`: {refused}");
        }
    }
}

async fn create_rule(target: &Target, prefix: &str) {
    target
        .ecr
        .create_pull_through_cache_rule()
        .ecr_repository_prefix(prefix)
        .upstream_registry_url(UPSTREAM_URL)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot create rule `{prefix}`: {}", refusal(error)));
}

async fn delete_rule(target: &Target, prefix: &str) {
    if let Err(error) = target
        .ecr
        .delete_pull_through_cache_rule()
        .ecr_repository_prefix(prefix)
        .send()
        .await
    {
        let refused = refusal(error);
        if refused.code != "PullThroughCacheRuleNotFoundException" {
            eprintln!("cleanup: cannot delete rule `{prefix}`: {refused}");
        }
    }
}

/// Pulls `repository:tag` through the cache; `false` when the pull did not go through:
/// recorded, since no AWS page says `BatchGetImage` alone pulls through (the product relies on
/// it; public code does the same).
async fn pull(target: &Target, repository: &str, tag: &str) -> bool {
    match Ecr::new(target.ecr.clone())
        .pull_by_tag(repository, tag)
        .await
    {
        Ok(image) => {
            target.record("BatchGetImage by tag pulls through the cache", "yes");
            assert!(image.digest.starts_with("sha256:"), "{image:?}");
            true
        }
        Err(failure) => {
            assert!(target.real(), "the emulator must pull through: {failure:?}");
            target.record(
                "BatchGetImage by tag pulls through the cache",
                &format!("no: {failure:?}"),
            );
            false
        }
    }
}

#[tokio::test]
async fn creation_templates_round_trip_with_ecr_errors() {
    let target = Target::new().await;
    let prefix = target.name("tpl");
    let lifecycle = shipped_lifecycle();
    target
        .run_then_clean(
            async {
                target
                    .ecr
                    .create_repository_creation_template()
                    .prefix(&prefix)
                    .description("ecr-ptc-ops conformance")
                    .applied_for(RctAppliedFor::PullThroughCache)
                    .image_tag_mutability(ImageTagMutability::Mutable)
                    .lifecycle_policy(&lifecycle)
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("create: {}", refusal(error)));
                let created = template(&target, &prefix).await.expect("listed once created");
                assert_eq!(
                    created.applied_for(),
                    [RctAppliedFor::PullThroughCache],
                    "{created:?}"
                );
                assert_eq!(
                    created.image_tag_mutability(),
                    Some(&ImageTagMutability::Mutable)
                );
                assert!(
                    same_json(created.lifecycle_policy().unwrap_or_default(), &lifecycle),
                    "{created:?}"
                );
                assert!(created.created_at().is_some() && created.updated_at().is_some());

                let again = target
                    .ecr
                    .create_repository_creation_template()
                    .prefix(&prefix)
                    .applied_for(RctAppliedFor::PullThroughCache)
                    .send()
                    .await
                    .map_err(refusal)
                    .expect_err("a second template with the same prefix");
                assert_eq!(again.code, "TemplateAlreadyExistsException", "{again}");

                target
                    .ecr
                    .update_repository_creation_template()
                    .prefix(&prefix)
                    .description("ecr-ptc-ops conformance, updated")
                    .applied_for(RctAppliedFor::PullThroughCache)
                    .applied_for(RctAppliedFor::Replication)
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("update: {}", refusal(error)));
                let updated = template(&target, &prefix).await.expect("still listed");
                assert_eq!(
                    updated.description(),
                    Some("ecr-ptc-ops conformance, updated")
                );
                let mut applied: Vec<&str> =
                    updated.applied_for().iter().map(|a| a.as_str()).collect();
                applied.sort_unstable();
                assert_eq!(applied, ["PULL_THROUGH_CACHE", "REPLICATION"]);

                // A lifecycle policy ECR refuses on a repository is refused in a template too
                // (the shipped default of the first release).
                let refused_lifecycle = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90},"action":{"type":"expire"}}]}"#;
                let answer = target
                    .ecr
                    .update_repository_creation_template()
                    .prefix(&prefix)
                    .lifecycle_policy(refused_lifecycle)
                    .send()
                    .await
                    .map_err(refusal);
                match (&answer, target.real()) {
                    (Err(refused), _) if refused.code == "InvalidParameterException" => {
                        target.record("template with a refused lifecycle policy", "refused")
                    }
                    (_, true) => target.record(
                        "template with a refused lifecycle policy",
                        &format!("{answer:?}"),
                    ),
                    (_, false) => panic!("the emulator must refuse it: {answer:?}"),
                }

                target
                    .ecr
                    .delete_repository_creation_template()
                    .prefix(&prefix)
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("delete: {}", refusal(error)));
                assert!(template(&target, &prefix).await.is_none(), "deleted");
                let gone = target
                    .ecr
                    .delete_repository_creation_template()
                    .prefix(&prefix)
                    .send()
                    .await
                    .map_err(refusal)
                    .expect_err("deleting twice");
                assert_eq!(gone.code, "TemplateNotFoundException", "{gone}");
            },
            delete_template(&target, &prefix),
        )
        .await;
}

#[tokio::test]
async fn pull_through_without_template_gets_ecr_defaults() {
    let target = Target::new().await;
    let prefix = target.name("");
    let repository = format!("{prefix}/{IMAGE}");
    create_rule(&target, &prefix).await;
    target
        .run_then_clean(
            async {
                if !pull(&target, &repository, TAG).await {
                    return;
                }
                let described = target
                    .ecr
                    .describe_repositories()
                    .repository_names(&repository)
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("describe: {}", refusal(error)));
                let created = &described.repositories()[0];
                assert_eq!(
                    created.image_tag_mutability(),
                    Some(&ImageTagMutability::Mutable)
                );
                assert_eq!(
                    created
                        .encryption_configuration()
                        .map(|encryption| encryption.encryption_type()),
                    Some(&EncryptionType::Aes256)
                );
                let lifecycle = target
                    .ecr
                    .get_lifecycle_policy()
                    .repository_name(&repository)
                    .send()
                    .await
                    .map_err(refusal)
                    .expect_err("no lifecycle policy by default");
                assert_eq!(lifecycle.code, "LifecyclePolicyNotFoundException");
                let policy = target
                    .ecr
                    .get_repository_policy()
                    .repository_name(&repository)
                    .send()
                    .await
                    .map_err(refusal)
                    .expect_err("no repository policy by default");
                assert_eq!(policy.code, "RepositoryPolicyNotFoundException");
                let tags = target
                    .ecr
                    .list_tags_for_resource()
                    .resource_arn(created.repository_arn().unwrap_or_default())
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("tags: {}", refusal(error)));
                assert!(tags.tags().is_empty(), "{tags:?}");
            },
            async {
                target.delete_repository(&repository).await;
                delete_rule(&target, &prefix).await;
            },
        )
        .await;
}

#[tokio::test]
async fn pull_through_applies_the_most_specific_template() {
    let target = Target::new().await;
    let prefix = target.name("");
    let specific = format!("{prefix}/coredns");
    let repository = format!("{prefix}/{NESTED_IMAGE}");
    let lifecycle = shipped_lifecycle();
    create_rule(&target, &prefix).await;
    target
        .run_then_clean(
            async {
                // Both match `<prefix>/coredns/coredns`; the longer prefix must win.
                for (template_prefix, mutability) in [
                    (&prefix, ImageTagMutability::Immutable),
                    (&specific, ImageTagMutability::Mutable),
                ] {
                    target
                        .ecr
                        .create_repository_creation_template()
                        .prefix(template_prefix)
                        .applied_for(RctAppliedFor::PullThroughCache)
                        .image_tag_mutability(mutability)
                        .lifecycle_policy(&lifecycle)
                        .send()
                        .await
                        .unwrap_or_else(|error| {
                            panic!("template `{template_prefix}`: {}", refusal(error))
                        });
                }
                if !pull(&target, &repository, NESTED_TAG).await {
                    return;
                }
                let described = target
                    .ecr
                    .describe_repositories()
                    .repository_names(&repository)
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("describe: {}", refusal(error)));
                assert_eq!(
                    described.repositories()[0].image_tag_mutability(),
                    Some(&ImageTagMutability::Mutable),
                    "the longest prefix wins"
                );
                let applied = target
                    .ecr
                    .get_lifecycle_policy()
                    .repository_name(&repository)
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("lifecycle: {}", refusal(error)));
                assert!(
                    same_json(
                        applied.lifecycle_policy_text().unwrap_or_default(),
                        &lifecycle
                    ),
                    "{applied:?}"
                );
            },
            async {
                target.delete_repository(&repository).await;
                delete_rule(&target, &prefix).await;
                delete_template(&target, &specific).await;
                delete_template(&target, &prefix).await;
            },
        )
        .await;
}

/// ECR documents that a template with resource tags and no `customRoleArn` makes the repository
/// creation fail (repository-creation-templates.html); containers-roadmap#2398 reports pulls
/// failing even with a role. The emulator fails the pull; a real account's answer is recorded.
#[tokio::test]
async fn template_with_tags_but_no_role_fails_the_pull() {
    let target = Target::new().await;
    let prefix = target.name("");
    let repository = format!("{prefix}/{IMAGE}");
    create_rule(&target, &prefix).await;
    target
        .run_then_clean(
            async {
                let created = target
                    .ecr
                    .create_repository_creation_template()
                    .prefix(&prefix)
                    .applied_for(RctAppliedFor::PullThroughCache)
                    .resource_tags(
                        Tag::builder()
                            .key("managed-by")
                            .value("ecr-ptc-ops")
                            .build()
                            .expect("tag"),
                    )
                    .send()
                    .await
                    .map_err(refusal);
                if let Err(refused) = created {
                    assert!(
                        target.real(),
                        "the emulator accepts the template: {refused}"
                    );
                    target.record(
                        "template with tags and no role",
                        &format!("refused ({refused})"),
                    );
                    return;
                }
                let pulled = Ecr::new(target.ecr.clone())
                    .pull_by_tag(&repository, TAG)
                    .await;
                let exists = target
                    .ecr
                    .describe_repositories()
                    .repository_names(&repository)
                    .send()
                    .await
                    .is_ok();
                if target.real() {
                    target.record(
                        "pull through a template with tags and no role",
                        &format!("pulled: {}, repository created: {exists}", pulled.is_ok()),
                    );
                } else {
                    assert!(pulled.is_err(), "the pull must fail");
                    assert!(!exists, "no repository is created");
                }
            },
            async {
                target.delete_repository(&repository).await;
                delete_rule(&target, &prefix).await;
                delete_template(&target, &prefix).await;
            },
        )
        .await;
}
