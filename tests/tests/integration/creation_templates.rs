//! Repository creation templates from the profiles, end to end on the emulator: the sweep of
//! `harden-repository` reconciles them first, the emulator's pull-through creates repositories
//! from them, and the creation event then finds those repositories compliant.

use std::sync::Arc;

use aws_sdk_ecr::types::{ImageTagMutability, RctAppliedFor};
use ptc_ops::config::Config;
use ptc_ops::domain::{Check, Severity};
use ptc_ops::harden_repository::HardenReport;
use ptc_ops::lambda::FunctionContext;
use ptc_ops_tests::{assert_calls_permitted, report_json, sample_event, Fault, FaultKind, TestEnv};
use serde_json::{json, Value};

const FUNCTION: &str = "harden-repository";
const CACHED: &str = "docker-hub/library/nginx";

/// Every setting a template carries, a nested profile, and scanning (which no template carries).
fn profile(role_arn: Option<&str>, mode: &str) -> String {
    let role = role_arn
        .map(|arn| format!("creation_template_role_arn = \"{arn}\"\n"))
        .unwrap_or_default();
    format!(
        r#"
[hardening]
prefixes = ["docker-hub", "ghcr"]
creation_templates = "{mode}"
{role}
[hardening.default]
scan_on_push = true
tag_mutability = "IMMUTABLE_WITH_EXCLUSION"
tag_mutability_exclusions = ["latest"]
lifecycle_policy = "lifecycle/default.json"
repository_policy = "policies/org-pull.json"
tags = {{ managed-by = "ecr-ptc-ops" }}

[hardening.profiles."docker-hub"]
lifecycle_policy = "lifecycle/docker-hub.json"

[hardening.profiles."ghcr/fluxcd"]
tag_mutability = "MUTABLE"
"#
    )
}

fn role_arn(env: &TestEnv) -> String {
    format!(
        "arn:aws:iam::{}:role/ptc-ops-creation-templates",
        env.account_id
    )
}

fn context(env: &TestEnv, config: Config) -> Arc<FunctionContext> {
    ptc_ops_tests::invoke::captured_context(env, FUNCTION, config)
}

async fn invoke(context: &Arc<FunctionContext>, payload: Value) -> HardenReport {
    ptc_ops_tests::invoke::harden(context, payload).await
}

/// The registry's templates, by prefix, as the SDK reads them.
async fn templates(env: &TestEnv) -> Vec<aws_sdk_ecr::types::RepositoryCreationTemplate> {
    env.ecr()
        .describe_repository_creation_templates()
        .send()
        .await
        .expect("describe templates")
        .repository_creation_templates
        .unwrap_or_default()
}

fn outcomes(report: &HardenReport) -> Vec<(String, String)> {
    report
        .details
        .templates
        .iter()
        .flat_map(|section| &section.templates)
        .map(|entry| (entry.prefix.clone(), entry.outcome.to_owned()))
        .collect()
}

fn template_findings(report: &HardenReport) -> Vec<(Severity, String)> {
    report
        .findings
        .iter()
        .filter(|finding| finding.check == Check::CreationTemplate)
        .map(|finding| (finding.severity, finding.title.clone()))
        .collect()
}

async fn pull_through(env: &TestEnv) {
    env.seed_docker_hub_rule().await;
    env.clients
        .registry()
        .pull_by_tag(CACHED, "1.27")
        .await
        .unwrap_or_else(|failure| panic!("pull through the cache failed: {failure:?}"));
}

fn write_operations(calls: &[ptc_ops_tests::Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|call| call.is_write())
        .map(|call| call.operation.clone())
        .collect()
}

#[tokio::test]
async fn a_sweep_creates_templates_from_the_profiles_then_writes_nothing() {
    let env = TestEnv::new().await;
    // Someone else's template, of a prefix the product does not manage.
    env.ecr()
        .create_repository_creation_template()
        .prefix("team")
        .applied_for(RctAppliedFor::Replication)
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .expect("foreign template");
    let foreign_before = templates(&env).await;
    env.clear_calls().await;

    let role = role_arn(&env);
    let context = context(&env, env.config(&profile(Some(&role), "manage")));
    let report = invoke(&context, json!({"sweep": true})).await;
    assert_eq!(
        outcomes(&report),
        [
            ("docker-hub".to_owned(), "created".to_owned()),
            ("ghcr".to_owned(), "created".to_owned()),
            ("ghcr/fluxcd".to_owned(), "created".to_owned()),
        ],
        "{report:#?}"
    );
    assert_eq!(template_findings(&report), vec![], "{report:#?}");
    assert_eq!(
        report_json(&report)["templates"]["left_alone"],
        json!(["team"])
    );
    assert_calls_permitted(&env, ptc_ops::harden_repository::permissions::PERMISSIONS).await;

    let all = templates(&env).await;
    let by_prefix = |prefix: &str| {
        all.iter()
            .find(|template| template.prefix() == Some(prefix))
            .unwrap_or_else(|| panic!("no template `{prefix}`: {all:#?}"))
    };
    let docker_hub = by_prefix("docker-hub");
    assert_eq!(docker_hub.applied_for(), [RctAppliedFor::PullThroughCache]);
    assert_eq!(docker_hub.custom_role_arn(), Some(role.as_str()));
    assert_eq!(
        docker_hub.image_tag_mutability(),
        Some(&ImageTagMutability::ImmutableWithExclusion)
    );
    assert_eq!(docker_hub.resource_tags().len(), 1);
    let lifecycle: Value =
        serde_json::from_str(docker_hub.lifecycle_policy().expect("lifecycle")).expect("JSON");
    let shipped: Value = serde_json::from_str(
        &std::fs::read_to_string(
            ptc_ops_tests::repo_root().join("infra/config/lifecycle/docker-hub.json"),
        )
        .expect("shipped policy"),
    )
    .expect("JSON");
    assert_eq!(
        lifecycle["rules"].as_array().map(Vec::len),
        shipped["rules"].as_array().map(Vec::len),
        "the docker-hub profile's own lifecycle policy"
    );
    assert!(docker_hub.repository_policy().is_some());
    assert_eq!(
        by_prefix("ghcr/fluxcd").image_tag_mutability(),
        Some(&ImageTagMutability::Mutable),
        "the most specific profile"
    );
    assert_eq!(
        by_prefix("team"),
        foreign_before
            .iter()
            .find(|template| template.prefix() == Some("team"))
            .expect("foreign template"),
        "a foreign template is never touched"
    );

    env.clear_calls().await;
    let again = invoke(&context, json!({"sweep": true})).await;
    assert_eq!(write_operations(&env.calls().await), Vec::<String>::new());
    assert!(
        outcomes(&again)
            .iter()
            .all(|(_, outcome)| outcome == "in-sync"),
        "{again:#?}"
    );
}

#[tokio::test]
async fn a_repository_born_from_its_template_costs_no_write_on_its_creation_event() {
    let env = TestEnv::new().await;
    let context = context(&env, env.config(&profile(Some(&role_arn(&env)), "manage")));
    invoke(&context, json!({"sweep": true})).await;
    pull_through(&env).await;
    env.clear_calls().await;

    let report = invoke(
        &context,
        sample_event("create-repository-service-event.json"),
    )
    .await;
    // Templates carry no scanning; the registry scanning configuration the sweep wrote
    // scans the new repository on push: the event only reads.
    assert_eq!(
        write_operations(&env.calls().await),
        Vec::<String>::new(),
        "{report:#?}"
    );
    assert_eq!(
        report_json(&report)["trigger"]["birth"],
        json!({"born_compliant": true, "fixed_after_birth": [], "not_carried_by_templates": []}),
        "{report:#?}"
    );
    assert_eq!(report_json(&report)["scan_coverage"]["by_registry"], 1);
}

#[tokio::test]
async fn without_a_role_templates_leave_tags_out_and_the_event_adds_them() {
    let env = TestEnv::new().await;
    let context = context(&env, env.config(&profile(None, "manage")));
    let report = invoke(&context, json!({"sweep": true})).await;
    assert_eq!(
        template_findings(&report),
        [(
            Severity::Warning,
            "creation templates carry no tags: no custom role is configured".to_owned()
        )],
        "one finding for the run, not one per template"
    );
    assert!(templates(&env).await.iter().all(
        |template| template.resource_tags().is_empty() && template.custom_role_arn().is_none()
    ));

    // The pull succeeds (a template with tags and no role would fail it) and the event tags.
    pull_through(&env).await;
    env.clear_calls().await;
    let report = invoke(
        &context,
        sample_event("create-repository-service-event.json"),
    )
    .await;
    let mut writes = write_operations(&env.calls().await);
    writes.sort();
    assert_eq!(writes, ["TagResource"], "scanning comes from the registry");
    assert_eq!(
        report_json(&report)["trigger"]["birth"]["born_compliant"],
        false
    );
}

#[tokio::test]
async fn check_mode_reports_drift_and_a_failure_leaves_the_sweep_going() {
    let env = TestEnv::new().await;
    env.ecr()
        .create_repository_creation_template()
        .prefix("docker-hub")
        .applied_for(RctAppliedFor::PullThroughCache)
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .expect("drifted template");
    env.ecr()
        .create_repository()
        .repository_name("ghcr/fluxcd/source-controller")
        .send()
        .await
        .expect("repository");
    env.clear_calls().await;

    let role = role_arn(&env);
    let checking = context(&env, env.config(&profile(Some(&role), "check")));
    let report = invoke(&checking, json!({"sweep": true})).await;
    let template_writes: Vec<String> = write_operations(&env.calls().await)
        .into_iter()
        .filter(|operation| operation.contains("RepositoryCreationTemplate"))
        .collect();
    assert_eq!(
        template_writes,
        Vec::<String>::new(),
        "check mode writes no template"
    );
    assert_eq!(
        outcomes(&report),
        [
            ("docker-hub".to_owned(), "drifted".to_owned()),
            ("ghcr".to_owned(), "missing".to_owned()),
            ("ghcr/fluxcd".to_owned(), "missing".to_owned()),
        ]
    );
    let titles: Vec<String> = template_findings(&report)
        .into_iter()
        .map(|(_, title)| title)
        .collect();
    assert!(
        titles.contains(&"creation template `docker-hub` makes cache tags immutable".to_owned())
            && titles
                .contains(&"creation template `docker-hub` differs from its profile".to_owned()),
        "{titles:#?}"
    );

    // Creating `ghcr` is refused: a finding, and the repositories are still swept.
    env.inject(
        Fault::new(
            "CreateRepositoryCreationTemplate",
            FaultKind::AccessDenied,
            Some(1),
        )
        .matching(json!({"prefix": "ghcr"})),
    )
    .await;
    let managing = context(&env, env.config(&profile(Some(&role), "manage")));
    let report = invoke(&managing, json!({"sweep": true})).await;
    // `docker-hub` was created by hand: someone else's, so never written, even in `manage`.
    assert_eq!(
        outcomes(&report),
        [
            ("docker-hub".to_owned(), "foreign".to_owned()),
            ("ghcr".to_owned(), "failed".to_owned()),
            ("ghcr/fluxcd".to_owned(), "created".to_owned()),
        ],
        "{report:#?}"
    );
    assert!(
        template_findings(&report).iter().any(|(_, title)| title
            == "creation template `docker-hub` is not this product's and differs from its profile"),
        "{report:#?}"
    );
    assert_eq!(report.summary["templates_foreign"], 1);
    assert_eq!(report.summary["template_failures"], 1);
    assert_eq!(report.summary["repositories_checked"], 1, "{report:#?}");
    assert!(template_findings(&report)
        .iter()
        .any(|(_, title)| title == "creation template `ghcr` could not be created"));

    // Handed over with `adopt`: updated, and marked as the product's from then on.
    let adopting = context(&env, env.config(&profile(Some(&role), "adopt")));
    let report = invoke(&adopting, json!({"sweep": true})).await;
    assert_eq!(
        outcomes(&report)[0],
        ("docker-hub".to_owned(), "updated".to_owned()),
        "{report:#?}"
    );
    let report = invoke(&managing, json!({"sweep": true})).await;
    assert_eq!(
        outcomes(&report)[0],
        ("docker-hub".to_owned(), "in-sync".to_owned()),
        "adopted, it is the product's: {report:#?}"
    );
    assert_eq!(report.summary["templates_foreign"], 0);
}
