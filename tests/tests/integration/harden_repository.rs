//! harden-repository end to end on the emulator: real entry point, real-shaped events, the
//! emulator's call log as the witness of what was written.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecr::types::{EncryptionConfiguration, EncryptionType, ImageTagMutability, Tag};
use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::config::Config;
use ptc_ops::error::Error;
use ptc_ops::harden_repository::HardenReport;
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::MetricsSink;
use ptc_ops_tests::invoke;
use ptc_ops_tests::{report_json, sample_event, Call, Fault, FaultKind, Rows, TestEnv};
use serde_json::{json, Value};

pub(super) const FUNCTION: &str = "harden-repository";

pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Every setting managed. The default lifecycle policy is inline (tests read it back by meaning);
/// `docker-hub` uses the shipped file, which the strict emulator must accept.
pub(super) const PROFILE: &str = r#"
[hardening]
prefixes = ["docker-hub", "ghcr"]
concurrency = 4
# Repositories alone: creation templates have their own tests (creation_templates.rs).
creation_templates = "off"

[hardening.default]
scan_on_push = true
tag_mutability = "IMMUTABLE_WITH_EXCLUSION"
tag_mutability_exclusions = ["latest", "v*"]
lifecycle_policy = '''{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}}, {"rulePriority": 2, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 200}, "action": {"type": "expire"}}]}'''
repository_policy = "policies/org-pull.json"
tags = { managed-by = "ecr-ptc-ops", cost-center = "platform" }
encryption = "AES256"

[hardening.profiles."docker-hub"]
lifecycle_policy = "lifecycle/docker-hub.json"
"#;

/// No repository policy managed, public repositories not allowed (the default).
const PROFILE_WITHOUT_POLICY: &str = r#"
[hardening]
prefixes = ["ghcr"]

[hardening.default]
scan_on_push = true
tags = { managed-by = "ecr-ptc-ops" }
"#;

const PUBLIC_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Anyone","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}"#;
const OTHER_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OneAccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"ecr:BatchGetImage"}]}"#;
const OTHER_LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}"#;

pub(super) fn config_text(env: &TestEnv, toml: &str, topic_arn: Option<&str>) -> Config {
    let alerts = match topic_arn {
        Some(arn) => format!("[alerts]\ntopic_arn = \"{arn}\"\nmin_severity = \"warning\"\n"),
        None => String::new(),
    };
    env.config(&format!("{alerts}{toml}"))
}

pub(super) fn context(env: &TestEnv, config: Config) -> Arc<FunctionContext> {
    Arc::new(
        env.function_context(FUNCTION, config)
            .with_metrics_sink(MetricsSink::captured()),
    )
}

pub(super) async fn invoke_with(
    context: &Arc<FunctionContext>,
    payload: Value,
    lambda_context: Context,
) -> Result<HardenReport, Error> {
    invoke::harden_repository(
        Arc::clone(context),
        LambdaEvent::new(payload, lambda_context),
    )
    .await
}

pub(super) async fn invoke(context: &Arc<FunctionContext>, payload: Value) -> HardenReport {
    invoke_with(context, payload.clone(), Context::default())
        .await
        .unwrap_or_else(|error| panic!("{payload} failed: {}", error.full_message()))
}

pub(super) async fn create_repository(env: &TestEnv, name: &str) {
    env.ecr()
        .create_repository()
        .repository_name(name)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot create `{name}`: {error:?}"));
}

/// What the emulator says a repository has, read with the SDK directly.
#[derive(Debug)]
pub(super) struct State {
    pub(super) scan_on_push: bool,
    pub(super) mutability: String,
    pub(super) exclusions: Vec<String>,
    pub(super) encryption: String,
    pub(super) lifecycle: Option<Value>,
    pub(super) policy: Option<Value>,
    pub(super) tags: BTreeMap<String, String>,
}

pub(super) async fn state(env: &TestEnv, name: &str) -> State {
    let ecr = &env.ecr();
    let described = ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot describe `{name}`: {error:?}"));
    let repository = described.repositories()[0].clone();
    let lifecycle = ecr
        .get_lifecycle_policy()
        .repository_name(name)
        .send()
        .await
        .ok()
        .and_then(|output| output.lifecycle_policy_text)
        .map(|text| serde_json::from_str(&text).expect("lifecycle policy is JSON"));
    let policy = ecr
        .get_repository_policy()
        .repository_name(name)
        .send()
        .await
        .ok()
        .and_then(|output| output.policy_text)
        .map(|text| serde_json::from_str(&text).expect("repository policy is JSON"));
    let tags = ecr
        .list_tags_for_resource()
        .resource_arn(repository.repository_arn().unwrap_or_default())
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot list tags of `{name}`: {error:?}"))
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|tag| (tag.key, tag.value))
        .collect();
    // What ECR reports as the effective scanning: a registry filter or the repository's own
    // (deprecated) flag.
    let scanning = ecr
        .batch_get_repository_scanning_configuration()
        .repository_names(name)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot read the scanning of `{name}`: {error:?}"));
    State {
        scan_on_push: scanning
            .scanning_configurations()
            .first()
            .is_some_and(|scanning| scanning.scan_on_push()),
        mutability: repository
            .image_tag_mutability()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
        exclusions: repository
            .image_tag_mutability_exclusion_filters()
            .iter()
            .map(|filter| filter.filter().to_owned())
            .collect(),
        encryption: repository
            .encryption_configuration()
            .map(|e| e.encryption_type().as_str().to_owned())
            .unwrap_or_default(),
        lifecycle,
        policy,
        tags,
    }
}

pub(super) fn config_file(relative: &str) -> Value {
    let path = ptc_ops_tests::repo_root()
        .join("infra/config")
        .join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

/// The inline default lifecycle policy of [`PROFILE`].
fn default_lifecycle() -> Value {
    let start = PROFILE.find("'''").expect("inline policy") + 3;
    let end = PROFILE[start..].find("'''").expect("inline policy end") + start;
    serde_json::from_str(&PROFILE[start..end]).expect("inline policy is JSON")
}

/// Lifecycle rules compared by meaning: ordered by priority.
pub(super) fn rules_by_priority(policy: &Value) -> Vec<Value> {
    let mut rules = policy["rules"].as_array().cloned().unwrap_or_default();
    rules.sort_by_key(|rule| rule["rulePriority"].as_u64());
    rules
}

/// Asserts the state [`PROFILE`] asks for.
async fn assert_hardened(env: &TestEnv, name: &str) {
    let state = state(env, name).await;
    let expected_lifecycle = if name.starts_with("docker-hub/") {
        config_file("lifecycle/docker-hub.json")
    } else {
        default_lifecycle()
    };
    assert!(state.scan_on_push, "{name}: {state:?}");
    assert_eq!(state.mutability, "IMMUTABLE_WITH_EXCLUSION", "{name}");
    let mut exclusions = state.exclusions.clone();
    exclusions.sort();
    assert_eq!(exclusions, ["latest", "v*"], "{name}");
    assert_eq!(
        state.lifecycle.as_ref().map(rules_by_priority),
        Some(rules_by_priority(&expected_lifecycle)),
        "{name}"
    );
    assert_eq!(
        state.policy,
        Some(config_file("policies/org-pull.json")),
        "{name}"
    );
    assert_eq!(
        state.tags.get("managed-by").map(String::as_str),
        Some("ecr-ptc-ops")
    );
    assert_eq!(
        state.tags.get("cost-center").map(String::as_str),
        Some("platform")
    );
}

fn operations(calls: &[Call]) -> Vec<String> {
    let mut operations: Vec<String> = calls.iter().map(|call| call.operation.clone()).collect();
    operations.sort();
    operations
}

fn changed_settings(report: &HardenReport) -> Vec<String> {
    let mut settings: Vec<String> = report
        .details
        .changes
        .iter()
        .map(|change| change.setting.clone())
        .collect();
    settings.sort();
    settings
}

pub(super) fn count(report: &HardenReport, name: &str) -> u64 {
    report.summary.get(name).copied().unwrap_or_default()
}

/// The checks of the report's findings, with their resources, but for the info findings that
/// say the state table is missing (these tests run without one; the state tests have one).
fn findings(report: &HardenReport) -> Vec<(String, String)> {
    report
        .findings
        .iter()
        .filter(|finding| !finding.title.ends_with("no state table"))
        .map(|finding| (finding.check.to_string(), finding.resource.clone()))
        .collect()
}

#[tokio::test]
async fn each_event_shape_hardens_the_repository_it_names() {
    struct Case {
        event: &'static str,
        repository: &'static str,
        expected_findings: &'static [&'static str],
    }
    let cases = [
        Case {
            event: "create-repository-service-event.json",
            repository: "docker-hub/library/nginx",
            expected_findings: &[],
        },
        Case {
            event: "create-repository-api-call.json",
            repository: "ghcr/fluxcd/source-controller",
            expected_findings: &[],
        },
        Case {
            event: "pull-through-cache-action-failure.json",
            repository: "ghcr/fluxcd/source-controller",
            expected_findings: &["upstream-pull"],
        },
    ];
    let mut rows = Rows::new("event shapes");
    for case in cases {
        rows.check(case.event, async {
            let env = TestEnv::new().await;
            create_repository(&env, case.repository).await;
            create_repository(&env, "ghcr/other/untouched").await;
            env.clear_calls().await;
            let context = context(&env, config_text(&env, PROFILE, None));
            let report = invoke(&context, sample_event(case.event)).await;
            assert_eq!(count(&report, "repositories_checked"), 1, "{}", case.event);
            assert_eq!(count(&report, "repositories_changed"), 1, "{}", case.event);
            assert_eq!(
                changed_settings(&report),
                [
                    "lifecycle_policy",
                    "repository_policy",
                    "scan_on_push",
                    "tag_mutability",
                    "tags"
                ],
                "{}",
                case.event
            );
            let checks: Vec<String> = findings(&report).into_iter().map(|(c, _)| c).collect();
            assert_eq!(
                checks, case.expected_findings,
                "{}: {report:#?}",
                case.event
            );
            assert_hardened(&env, case.repository).await;
            let writes = env.write_calls().await;
            assert_eq!(writes.len(), 5, "one write per setting: {writes:#?}");
            assert!(
                writes.iter().all(|call| call
                    .resource
                    .as_deref()
                    .is_some_and(|r| r.contains(case.repository))),
                "{}: only the named repository is written: {writes:#?}",
                case.event
            );
            let untouched = state(&env, "ghcr/other/untouched").await;
            assert!(untouched.lifecycle.is_none() && untouched.tags.is_empty());
        })
        .await;
    }
    rows.assert_all_passed();
}

#[tokio::test]
async fn a_repository_created_by_a_pull_through_the_cache_is_hardened() {
    let env = TestEnv::new().await;
    env.seed_docker_hub_rule().await;
    env.clients
        .registry()
        .pull_by_tag("docker-hub/library/nginx", "1.27")
        .await
        .unwrap_or_else(|failure| panic!("pull through the cache failed: {failure:?}"));
    let bare = state(&env, "docker-hub/library/nginx").await;
    assert_eq!(
        (bare.mutability.as_str(), bare.lifecycle.is_none()),
        ("MUTABLE", true)
    );
    env.clear_calls().await;

    // `prefixes` unset: every rule prefix is managed.
    let profile = PROFILE.replace("prefixes = [\"docker-hub\", \"ghcr\"]\n", "");
    let context = context(&env, config_text(&env, &profile, None));
    let report = invoke(
        &context,
        sample_event("create-repository-service-event.json"),
    )
    .await;
    assert_eq!(
        report_json(&report)["managed_prefixes"],
        json!(["docker-hub"])
    );
    assert_eq!(count(&report, "settings_changed"), 5, "{report:#?}");
    assert_hardened(&env, "docker-hub/library/nginx").await;

    env.clear_calls().await;
    let again = invoke(
        &context,
        sample_event("create-repository-service-event.json"),
    )
    .await;
    assert_eq!(count(&again, "repositories_compliant"), 1, "{again:#?}");
    assert_eq!(
        env.write_calls().await,
        vec![],
        "an at-least-once repeat writes nothing"
    );
}

/// A successful sync needs nothing: no AWS call at all (the template's rule does not even send
/// it; a rule without the filter would).
#[tokio::test]
async fn a_successful_sync_costs_no_call() {
    let env = TestEnv::new().await;
    create_repository(&env, "docker-hub/library/nginx").await;
    env.clear_calls().await;
    let by_rules = PROFILE.replace("prefixes = [\"docker-hub\", \"ghcr\"]\n", "");
    let context = context(&env, config_text(&env, &by_rules, None));
    let report = invoke(
        &context,
        sample_event("pull-through-cache-action-success.json"),
    )
    .await;
    assert_eq!(count(&report, "repositories_checked"), 0, "{report:#?}");
    assert_eq!(report.findings, vec![]);
    assert_eq!(env.calls().await, vec![], "not one AWS call");
}

/// A storm of failed syncs of one repository: each raises the pull failure, none repeats the
/// encryption drift no hardening can fix; the sweep reports that once.
#[tokio::test]
async fn a_sync_storm_does_not_repeat_what_cannot_change() {
    let env = TestEnv::new().await;
    let name = "ghcr/fluxcd/source-controller";
    env.ecr()
        .create_repository()
        .repository_name(name)
        .encryption_configuration(
            EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::Kms)
                .build()
                .expect("encryption"),
        )
        .send()
        .await
        .expect("KMS repository");
    let context = context(&env, config_text(&env, PROFILE, None));
    for attempt in 0..20 {
        let report = invoke(
            &context,
            sample_event("pull-through-cache-action-failure.json"),
        )
        .await;
        let checks: Vec<String> = findings(&report).into_iter().map(|(c, _)| c).collect();
        assert_eq!(checks, ["upstream-pull"], "attempt {attempt}: {report:#?}");
    }
    let sweep = invoke(&context, json!({"sweep": true})).await;
    assert_eq!(sweep.findings.len(), 1, "{sweep:#?}");
    assert!(
        sweep.findings[0].title.contains("is encrypted with `KMS`"),
        "{sweep:#?}"
    );
}

#[tokio::test]
async fn other_shapes_are_refused_or_ignored_without_writes() {
    let env = TestEnv::new().await;
    create_repository(&env, "ghcr/fluxcd/source-controller").await;
    env.clear_calls().await;
    let context = context(&env, config_text(&env, PROFILE, None));

    let unknown = json!({"detail-type": "ECR Image Scan", "source": "aws.ecr", "detail": {}});
    let error = invoke_with(&context, unknown, Context::default())
        .await
        .expect_err("an unknown event is refused");
    assert!(
        error.full_message().contains("Pull Through Cache Action"),
        "{}",
        error.full_message()
    );

    let bad_cursor = json!({"sweep": true, "cursor": {"page": 3}});
    let error = invoke_with(&context, bad_cursor, Context::default())
        .await
        .expect_err("a cursor no sweep wrote is refused");
    assert_eq!(
        error.error_type(),
        "InvalidRequest",
        "{}",
        error.full_message()
    );

    let mut replicated = sample_event("create-repository-api-call.json");
    replicated["detail"]["eventSource"] = json!("replication.ecr.amazonaws.com");
    let report = invoke(&context, replicated).await;
    assert_eq!(report_json(&report)["trigger"]["event"], "ignored");
    assert_eq!(count(&report, "repositories_checked"), 0);

    assert_eq!(
        env.calls().await,
        vec![],
        "no AWS call for what is not acted on"
    );
}

/// Repositories hardened once, then changed by hand: each drift is planned and fixed with the
/// one write it needs, and nothing else is touched.
#[tokio::test]
async fn drift_is_planned_and_corrected_setting_by_setting() {
    let env = TestEnv::new().await;
    let ecr = &env.ecr();
    let context = context(&env, config_text(&env, PROFILE, None));
    let without_scanning = self::context(
        &env,
        config_text(&env, &PROFILE.replace("scan_on_push = true\n", ""), None),
    );

    type Drift = fn(&aws_sdk_ecr::Client, String, String) -> BoxFuture<'static, ()>;
    struct Case {
        name: &'static str,
        drift: Drift,
        settings: &'static [&'static str],
        writes: &'static [&'static str],
    }
    let cases: Vec<Case> = vec![
        Case {
            name: "no-lifecycle",
            drift: |ecr, name, _| {
                let ecr = ecr.clone();
                Box::pin(async move {
                    ecr.delete_lifecycle_policy()
                        .repository_name(name)
                        .send()
                        .await
                        .expect("drift");
                })
            },
            settings: &["lifecycle_policy"],
            writes: &["PutLifecyclePolicy"],
        },
        Case {
            name: "other-lifecycle",
            drift: |ecr, name, _| {
                let ecr = ecr.clone();
                Box::pin(async move {
                    ecr.put_lifecycle_policy()
                        .repository_name(name)
                        .lifecycle_policy_text(OTHER_LIFECYCLE)
                        .send()
                        .await
                        .expect("drift");
                })
            },
            settings: &["lifecycle_policy"],
            writes: &["PutLifecyclePolicy"],
        },
        Case {
            name: "missing-tag",
            drift: |ecr, _, arn| {
                let ecr = ecr.clone();
                Box::pin(async move {
                    ecr.untag_resource()
                        .resource_arn(arn)
                        .tag_keys("cost-center")
                        .send()
                        .await
                        .expect("drift");
                })
            },
            settings: &["tags"],
            writes: &["TagResource"],
        },
        Case {
            name: "foreign-tag",
            drift: |ecr, _, arn| {
                let ecr = ecr.clone();
                Box::pin(async move {
                    let tag = Tag::builder()
                        .key("team")
                        .value("payments")
                        .build()
                        .expect("tag");
                    ecr.tag_resource()
                        .resource_arn(arn)
                        .tags(tag)
                        .send()
                        .await
                        .expect("drift");
                })
            },
            settings: &[],
            writes: &[],
        },
        // The SDK leaves `scanOnPush: false` out of the request (it is the default) and the
        // emulator then keeps the old value, so this repository never gets scanning instead:
        // it is first hardened by a profile that leaves scanning unmanaged.
        Case {
            name: "scan-off",
            drift: |_, _, _| Box::pin(async {}),
            settings: &["scan_on_push"],
            writes: &["PutImageScanningConfiguration"],
        },
        Case {
            name: "mutable",
            drift: |ecr, name, _| {
                let ecr = ecr.clone();
                Box::pin(async move {
                    ecr.put_image_tag_mutability()
                        .repository_name(name)
                        .image_tag_mutability(ImageTagMutability::Mutable)
                        .send()
                        .await
                        .expect("drift");
                })
            },
            settings: &["tag_mutability"],
            writes: &["PutImageTagMutability"],
        },
        Case {
            name: "other-policy",
            drift: |ecr, name, _| {
                let ecr = ecr.clone();
                Box::pin(async move {
                    ecr.set_repository_policy()
                        .repository_name(name)
                        .policy_text(OTHER_POLICY)
                        .send()
                        .await
                        .expect("drift");
                })
            },
            settings: &["repository_policy"],
            writes: &["SetRepositoryPolicy"],
        },
        Case {
            name: "public-policy",
            drift: |ecr, name, _| {
                let ecr = ecr.clone();
                Box::pin(async move {
                    ecr.set_repository_policy()
                        .repository_name(name)
                        .policy_text(PUBLIC_POLICY)
                        .send()
                        .await
                        .expect("drift");
                })
            },
            settings: &["repository_policy"],
            writes: &["SetRepositoryPolicy"],
        },
    ];
    let mut rows = Rows::new("drift");
    for case in &cases {
        rows.check(case.name, async {
            let name = format!("ghcr/drift/{}", case.name);
            create_repository(&env, &name).await;
            let first = if case.name == "scan-off" {
                &without_scanning
            } else {
                &context
            };
            invoke(first, json!({"repositories": [name]})).await;
            let arn = format!(
                "arn:aws:ecr:{}:{}:repository/{name}",
                env.region, env.account_id
            );
            (case.drift)(ecr, name.clone(), arn).await;
            env.clear_calls().await;

            let report = invoke(&context, json!({"repositories": [name]})).await;
            assert_eq!(
                changed_settings(&report),
                case.settings,
                "{}: {report:#?}",
                case.name
            );
            assert_eq!(
                operations(&env.write_calls().await),
                case.writes,
                "{}",
                case.name
            );
            // Replacing a policy someone set says what it removed, in the change and a finding.
            let replaces =
                ["other-lifecycle", "other-policy", "public-policy"].contains(&case.name);
            let expected: Vec<(String, String)> = if replaces {
                vec![("repository-hardening".to_owned(), name.clone())]
            } else {
                vec![]
            };
            assert_eq!(findings(&report), expected, "{}", case.name);
            if replaces {
                assert!(
                    report.findings[0].title.contains("replaced"),
                    "{}: {report:#?}",
                    case.name
                );
                assert_eq!(
                    report_json(&report)["changes"][0]["removed"]
                        .as_array()
                        .map(Vec::len),
                    Some(1),
                    "{}: {report:#?}",
                    case.name
                );
            }
            assert_hardened(&env, &name).await;
            if case.name == "foreign-tag" {
                assert_eq!(
                    state(&env, &name)
                        .await
                        .tags
                        .get("team")
                        .map(String::as_str),
                    Some("payments")
                );
            }
            if case.name == "public-policy" {
                let change = &report_json(&report)["changes"][0];
                assert!(
                    change["note"]
                        .as_str()
                        .is_some_and(|note| note.contains("replaces a public policy")),
                    "{change}"
                );
                assert_eq!(
                    change["old"],
                    serde_json::from_str::<Value>(PUBLIC_POLICY).expect("json")
                );
            }
        })
        .await;
    }
    rows.assert_all_passed();
}

/// The configuration refuses a public `repository_policy` at load, so at run time the refusal
/// meets a policy someone set by hand: with no policy managed and `allow_public = false`, it is
/// reported (critical) and left alone. Encryption cannot change: reported, never written.
#[tokio::test]
async fn public_policies_and_encryption_drift_are_reported_not_written() {
    let env = TestEnv::new().await;
    create_repository(&env, "ghcr/open/app").await;
    env.ecr()
        .set_repository_policy()
        .repository_name("ghcr/open/app")
        .policy_text(PUBLIC_POLICY)
        .send()
        .await
        .expect("public policy set by hand");
    env.ecr()
        .create_repository()
        .repository_name("ghcr/kms/app")
        .encryption_configuration(
            EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::Kms)
                .build()
                .expect("encryption"),
        )
        .send()
        .await
        .expect("kms repository");

    let context = context(&env, config_text(&env, PROFILE_WITHOUT_POLICY, None));
    invoke(&context, json!({"repositories": ["ghcr/open/app"]})).await;
    env.clear_calls().await;
    let report = invoke(&context, json!({"repositories": ["ghcr/open/app"]})).await;
    assert_eq!(env.write_calls().await, vec![]);
    assert_eq!(report.findings.len(), 1, "{report:#?}");
    let finding = &report.findings[0];
    assert_eq!(finding.severity, ptc_ops::domain::Severity::Critical);
    assert!(
        finding.title.contains("lets anyone in"),
        "{}",
        finding.title
    );
    assert!(finding.message.contains("`Anyone`"), "{}", finding.message);
    assert_eq!(
        state(&env, "ghcr/open/app").await.policy,
        Some(serde_json::from_str(PUBLIC_POLICY).expect("json"))
    );

    let allowing = PROFILE_WITHOUT_POLICY.replace(
        "scan_on_push = true",
        "scan_on_push = true\nallow_public = true",
    );
    let report = invoke(
        &self::context(&env, config_text(&env, &allowing, None)),
        json!({"repositories": ["ghcr/open/app"]}),
    )
    .await;
    assert_eq!(report.findings, vec![], "allow_public = true accepts it");

    let context = self::context(&env, config_text(&env, PROFILE, None));
    invoke(&context, json!({"repositories": ["ghcr/kms/app"]})).await;
    env.clear_calls().await;
    let report = invoke(&context, json!({"repositories": ["ghcr/kms/app"]})).await;
    assert_eq!(
        env.write_calls().await,
        vec![],
        "encryption is never written"
    );
    assert_eq!(
        findings(&report),
        [("repository-hardening".to_owned(), "ghcr/kms/app".to_owned())]
    );
    let finding = &report.findings[0];
    assert!(
        finding.title.contains("`KMS`") && finding.title.contains("expects `AES256`"),
        "{}",
        finding.title
    );
    assert!(finding
        .next_steps
        .iter()
        .any(|step| step.contains("delete-repository --repository-name ghcr/kms/app")));
    assert_eq!(state(&env, "ghcr/kms/app").await.encryption, "KMS");
}

#[tokio::test]
async fn a_second_run_writes_nothing_and_a_dry_run_writes_nothing() {
    let env = TestEnv::new().await;
    for name in [
        "docker-hub/library/nginx",
        "docker-hub/library/alpine",
        "ghcr/fluxcd/app",
    ] {
        create_repository(&env, name).await;
    }
    let context = context(&env, config_text(&env, PROFILE, None));

    env.clear_calls().await;
    let dry = invoke(&context, sample_event("harden-repositories.json")).await;
    assert!(dry.dry_run);
    assert_eq!(env.write_calls().await, vec![], "a dry run writes nothing");
    assert_eq!(count(&dry, "settings_planned"), 5);
    assert_eq!(count(&dry, "settings_changed"), 0);
    assert_eq!(
        report_json(&dry)["repositories"][0]["outcome"],
        "would-change"
    );

    let first = invoke(&context, sample_event("harden-sweep.json")).await;
    assert_eq!(count(&first, "repositories_changed"), 3, "{first:#?}");
    // Four settings per repository: scan on push comes from the registry scanning
    // configuration the sweep writes once.
    assert_eq!(count(&first, "settings_changed"), 12);
    assert_eq!(report_json(&first)["sweep"]["complete"], true);

    env.clear_calls().await;
    let second = invoke(&context, sample_event("scheduled-event.json")).await;
    assert_eq!(
        env.write_calls().await,
        vec![],
        "a compliant registry costs reads only"
    );
    assert_eq!(count(&second, "repositories_checked"), 3);
    assert_eq!(count(&second, "repositories_compliant"), 3);
    assert_eq!(second.findings, vec![]);

    let metrics = context.metrics_sink().captured_lines();
    let last: Value = serde_json::from_str(metrics.last().expect("an EMF line")).expect("EMF JSON");
    for (name, value) in [
        ("RepositoriesChecked", 3.0),
        ("RepositoriesChanged", 0.0),
        ("SettingsChanged", 0.0),
        ("HardeningFailures", 0.0),
        ("PullFailures", 0.0),
    ] {
        assert_eq!(last[name], json!(value), "{name} in {last}");
    }
}

#[tokio::test]
async fn repositories_outside_managed_prefixes_are_never_touched() {
    let env = TestEnv::new().await;
    // An application repository named like a rule prefix, and a cache repository its owners
    // opted out.
    for name in ["ghcr/fluxcd/app", "team/app", "ghcrx/app", "docker-hub"] {
        create_repository(&env, name).await;
    }
    env.ecr()
        .create_repository()
        .repository_name("ghcr/team/pinned")
        .tags(
            Tag::builder()
                .key("ptc-ops:managed")
                .value("false")
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("opted-out repository");
    env.clear_calls().await;
    let context = context(&env, config_text(&env, PROFILE, None));
    let report = invoke(&context, json!({"sweep": true})).await;
    assert_eq!(count(&report, "repositories_checked"), 1);
    assert_eq!(count(&report, "repositories_skipped"), 4);
    assert_eq!(count(&report, "repositories_opted_out"), 1);
    assert!(
        report
            .findings
            .iter()
            .any(|finding| finding.resource == "ghcr/team/pinned"
                && finding.title.contains("opted out")),
        "{report:#?}"
    );
    let direct = invoke(&context, json!({"repositories": ["team/app", "ghcr/gone"]})).await;
    assert_eq!(count(&direct, "repositories_skipped"), 1);
    assert_eq!(
        count(&direct, "repositories_not_found"),
        1,
        "a missing repository is not an error"
    );
    assert_eq!(direct.findings, vec![]);
    let touching: Vec<Call> = env
        .calls()
        .await
        .into_iter()
        .filter(|call| {
            call.resource.as_deref().is_some_and(|resource| {
                resource.contains("team/app")
                    || resource.contains("ghcrx/")
                    || resource == "docker-hub"
                    || resource.ends_with(":repository/docker-hub")
            })
        })
        .collect();
    assert_eq!(touching, vec![], "no call names an unmanaged repository");
    let pinned = writes_naming(&env, "ghcr/team/pinned").await;
    assert_eq!(pinned, vec![], "an opted-out repository is never written");
    for name in ["team/app", "ghcrx/app", "docker-hub"] {
        let untouched = state(&env, name).await;
        assert!(
            untouched.tags.is_empty() && untouched.lifecycle.is_none() && !untouched.scan_on_push
        );
    }
}

#[tokio::test]
async fn one_failing_repository_does_not_stop_the_sweep_and_alerts() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    for name in ["ghcr/a/app", "ghcr/b/app", "ghcr/c/app"] {
        create_repository(&env, name).await;
    }
    env.inject(
        Fault::new("PutLifecyclePolicy", FaultKind::AccessDenied, None)
            .matching(json!({"repositoryName": "ghcr/b/app"})),
    )
    .await;
    let context = context(&env, config_text(&env, PROFILE, Some(&inbox.topic_arn)));
    let report = invoke(&context, json!({"sweep": true})).await;
    assert_eq!(count(&report, "repositories_checked"), 3);
    assert_eq!(count(&report, "hardening_failures"), 1);
    assert_eq!(
        count(&report, "repositories_changed"),
        3,
        "the other settings of `b` still apply"
    );
    assert_eq!(
        findings(&report),
        [("hardening-failure".to_owned(), "ghcr/b/app".to_owned())]
    );
    assert!(report.findings[0].message.contains("AccessDeniedException"));
    assert_hardened(&env, "ghcr/a/app").await;
    assert_hardened(&env, "ghcr/c/app").await;
    assert!(state(&env, "ghcr/b/app").await.lifecycle.is_none());

    let alerts = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(
        alerts[0].attributes.get("check").map(String::as_str),
        Some("hardening-failure")
    );
    assert_eq!(
        alerts[0].attributes.get("severity").map(String::as_str),
        Some("critical")
    );
}

#[tokio::test]
async fn a_failed_pull_through_the_cache_raises_an_alert() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let context = context(&env, config_text(&env, PROFILE, Some(&inbox.topic_arn)));
    // The failed first pull created no repository: the alert still goes out.
    let report = invoke(
        &context,
        sample_event("pull-through-cache-action-failure.json"),
    )
    .await;
    assert_eq!(count(&report, "pull_failures"), 1);
    assert_eq!(count(&report, "repositories_not_found"), 1);
    assert_eq!(
        env.write_calls()
            .await
            .iter()
            .filter(|c| c.service == "ecr")
            .count(),
        0
    );

    let alerts = inbox.receive(1, Duration::from_secs(10)).await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(
        alert.attributes.get("check").map(String::as_str),
        Some("upstream-pull")
    );
    let content = &alert.message["content"];
    let title = content["title"].as_str().unwrap_or_default();
    let description = content["description"].as_str().unwrap_or_default();
    assert!(
        title.contains("ghcr/fluxcd/source-controller:v1.4.1") && title.contains("ghcr.io"),
        "{title}"
    );
    assert!(
        description.contains("UPSTREAM_AUTHENTICATION_FAILED"),
        "{description}"
    );
    assert!(
        description.contains("Authentication to the upstream registry ghcr.io failed"),
        "{description}"
    );
    assert_eq!(
        alert.message["metadata"]["relatedResources"],
        json!(["arn:aws:ecr:eu-west-1:123456789012:repository/ghcr/fluxcd/source-controller"])
    );
}

/// The writes since the last `clear_calls` that named `repository`.
async fn writes_naming(env: &TestEnv, repository: &str) -> Vec<Call> {
    env.write_calls()
        .await
        .into_iter()
        .filter(|call| {
            call.resource
                .as_deref()
                .is_some_and(|resource| resource.contains(repository))
        })
        .collect()
}

/// A `ROOT` rule never makes every repository the cache's: without an opt-in it manages
/// nothing, and with `ROOT` in `hardening.prefixes` only repositories the cache created (proved by
/// ECR's creation event, remembered by the origin tag) are written.
#[tokio::test]
async fn a_root_rule_never_reaches_application_repositories() {
    let env = TestEnv::new().await;
    env.create_rule("ROOT", "999999999999.dkr.ecr.eu-west-1.amazonaws.com", None)
        .await;
    let application = "team/payments-api";
    create_repository(&env, application).await;
    let keep_500 = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":500},"action":{"type":"expire"}}]}"#;
    env.ecr()
        .put_lifecycle_policy()
        .repository_name(application)
        .lifecycle_policy_text(keep_500)
        .send()
        .await
        .expect("application lifecycle policy");
    let cached = "coredns/coredns";
    env.clients
        .registry()
        .pull_by_tag(cached, "v1.11.3")
        .await
        .unwrap_or_else(|failure| panic!("pull through the ROOT rule failed: {failure:?}"));
    env.clear_calls().await;

    // Without an opt-in: the ROOT rule manages nothing, even when a sweep lists everything.
    let by_rules = PROFILE.replace("prefixes = [\"docker-hub\", \"ghcr\"]\n", "");
    let by_rules_context = context(&env, config_text(&env, &by_rules, None));
    let report = invoke(&by_rules_context, json!({"sweep": true})).await;
    assert_eq!(count(&report, "repositories_skipped"), 2, "{report:#?}");
    assert_eq!(report_json(&report)["managed_prefixes"], json!([]));
    assert!(report_json(&report)["root_rule"].is_string(), "{report:#?}");
    assert_eq!(env.write_calls().await, vec![], "nothing is written");

    // Opted in: the sweep cannot tell the cache's repository from the application's yet.
    let opted_in = PROFILE.replace(
        "prefixes = [\"docker-hub\", \"ghcr\"]",
        "prefixes = [\"ROOT\"]",
    );
    let opted_in = context(&env, config_text(&env, &opted_in, None));
    let report = invoke(&opted_in, json!({"sweep": true})).await;
    assert_eq!(count(&report, "repositories_skipped"), 2, "{report:#?}");
    assert_eq!(
        env.write_calls().await,
        vec![],
        "nothing proves either is the cache's"
    );

    // ECR's creation event proves the origin: hardened, and the origin tag remembers it.
    let mut created = sample_event("create-repository-service-event.json");
    created["detail"]["serviceEventDetails"]["repositoryName"] = json!(cached);
    let report = invoke(&opted_in, created).await;
    assert_eq!(count(&report, "repositories_changed"), 1, "{report:#?}");
    let marked = state(&env, cached).await;
    assert_eq!(
        marked.tags.get("ptc-ops:origin").map(String::as_str),
        Some("pull-through-cache")
    );
    // A person's `CreateRepository` of the application proves nothing.
    let mut by_hand = sample_event("create-repository-api-call.json");
    by_hand["detail"]["requestParameters"]["repositoryName"] = json!(application);
    by_hand["detail"]["responseElements"]["repository"]["repositoryName"] = json!(application);
    let report = invoke(&opted_in, by_hand).await;
    assert_eq!(count(&report, "repositories_skipped"), 1, "{report:#?}");

    let n_writes = env.write_calls().await.len();
    let sweep = invoke(&opted_in, json!({"sweep": true})).await;
    assert_eq!(count(&sweep, "repositories_compliant"), 1, "{sweep:#?}");
    assert_eq!(count(&sweep, "repositories_skipped"), 1, "{sweep:#?}");
    let direct = invoke(&opted_in, json!({"repositories": [application]})).await;
    assert_eq!(count(&direct, "repositories_skipped"), 1, "{direct:#?}");
    assert_eq!(
        env.write_calls().await.len(),
        n_writes,
        "the second sweep writes nothing"
    );

    assert_eq!(writes_naming(&env, application).await, vec![]);
    let untouched = state(&env, application).await;
    assert_eq!(
        untouched.lifecycle,
        Some(serde_json::from_str::<Value>(keep_500).expect("JSON"))
    );
    assert!(untouched.tags.is_empty() && untouched.policy.is_none());
}

/// Policies set by hand that look narrowed but let anyone in are critical findings with the
/// reason; a policy pinned to an organisation is not. Nothing is written.
#[tokio::test]
async fn public_policies_in_disguise_are_critical_findings() {
    let env = TestEnv::new().await;
    let pull = r#""Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]"#;
    let cases = [
        (
            "ghcr/not-principal/app",
            format!(
                r#"{{"Sid":"AllButOne","Effect":"Allow","NotPrincipal":{{"AWS":"arn:aws:iam::111111111111:root"}},{pull}}}"#
            ),
            Some("`NotPrincipal`"),
        ),
        (
            "ghcr/tls-only/app",
            format!(
                r#"{{"Sid":"Tls","Effect":"Allow","Principal":"*",{pull},"Condition":{{"Bool":{{"aws:SecureTransport":"true"}}}}}}"#
            ),
            Some("`aws:SecureTransport` does not name the caller"),
        ),
        (
            "ghcr/any-org/app",
            format!(
                r#"{{"Sid":"AnyOrg","Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::111111111111:root","*"]}},{pull},"Condition":{{"StringLike":{{"aws:PrincipalOrgID":"o-*"}}}}}}"#
            ),
            Some("the value `o-*`"),
        ),
        (
            "ghcr/org/app",
            format!(
                r#"{{"Sid":"Org","Effect":"Allow","Principal":"*",{pull},"Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"o-abc123def4"}}}}}}"#
            ),
            None,
        ),
    ];
    for (repository, statement, _) in &cases {
        create_repository(&env, repository).await;
        env.ecr()
            .set_repository_policy()
            .repository_name(*repository)
            .policy_text(format!(
                r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#
            ))
            .send()
            .await
            .unwrap_or_else(|error| panic!("policy of {repository}: {error:?}"));
    }
    let context = context(&env, config_text(&env, PROFILE_WITHOUT_POLICY, None));
    let names: Vec<&str> = cases.iter().map(|(name, _, _)| *name).collect();
    invoke(&context, json!({ "repositories": names })).await;
    env.clear_calls().await;
    let report = invoke(&context, json!({ "repositories": names })).await;
    assert_eq!(env.write_calls().await, vec![]);
    let mut rows = Rows::new("public in disguise");
    for (repository, _, reason) in &cases {
        rows.check(repository, async {
            let found: Vec<_> = report
                .findings
                .iter()
                .filter(|finding| finding.resource == *repository)
                .collect();
            match reason {
                None => assert_eq!(found.len(), 0, "{repository}: {found:#?}"),
                Some(reason) => {
                    assert_eq!(found.len(), 1, "{repository}: {:#?}", report.findings);
                    assert_eq!(found[0].severity, ptc_ops::domain::Severity::Critical);
                    assert!(
                        found[0].title.contains("lets anyone in"),
                        "{}",
                        found[0].title
                    );
                    assert!(
                        found[0].message.contains(reason),
                        "{repository}: {}",
                        found[0].message
                    );
                }
            }
        })
        .await;
    }
    rows.assert_all_passed();
}
