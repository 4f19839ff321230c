use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::error::without_values;
use super::*;
use crate::test_cases::named_cases;

/// Every file of `events/`, compiled in so a renamed or broken sample fails the build or a test.
macro_rules! sample {
    ($file:literal) => {
        (
            $file,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/", $file)),
        )
    };
}

const SAMPLES: [(&str, &str); 28] = [
    sample!("create-repository-service-event.json"),
    sample!("create-repository-api-call.json"),
    sample!("setting-changed-put-lifecycle-policy.json"),
    sample!("setting-changed-put-lifecycle-policy-failed.json"),
    sample!("setting-changed-delete-repository-policy.json"),
    sample!("setting-changed-untag-resource.json"),
    sample!("pull-through-cache-action-success.json"),
    sample!("pull-through-cache-action-failure.json"),
    sample!("ecr-image-scan.json"),
    sample!("scheduled-event.json"),
    sample!("prewarm-scheduled-event.json"),
    sample!("harden-repositories.json"),
    sample!("harden-sweep.json"),
    sample!("harden-usage.json"),
    sample!("validate-cache-rules.json"),
    sample!("validate-cache-rules-prefixes.json"),
    sample!("check-credentials.json"),
    sample!("check-credentials-secrets.json"),
    sample!("prewarm-images.json"),
    sample!("rule-created.json"),
    sample!("rule-updated.json"),
    sample!("rule-deleted.json"),
    sample!("registry-policy-put.json"),
    sample!("registry-policy-deleted.json"),
    sample!("secret-value-put.json"),
    sample!("secret-rotated.json"),
    sample!("template-deleted.json"),
    sample!("registry-scanning-put.json"),
];

use FunctionKind::{
    CheckCredentials as Check, HardenRepository as Harden, PrewarmImages as Prewarm,
    ValidateCacheRules as Validate,
};

/// What one function made of one payload.
#[derive(Debug, PartialEq)]
enum Outcome {
    Harden(HardenInvocation),
    Validate(ValidateRulesInvocation),
    Check(CheckCredentialsInvocation),
    Prewarm(PrewarmInvocation),
}

enum Expected {
    Parsed(Outcome),
    /// The error's `error_type`, fragments its message must contain, and fragments (values from
    /// the payload) it must not.
    Error {
        error_type: &'static str,
        contains: Vec<&'static str>,
        absent: Vec<&'static str>,
    },
}

fn parse(function: FunctionKind, payload: &Value) -> Result<Outcome, EventError> {
    match function {
        Harden => HardenInvocation::from_payload(payload).map(Outcome::Harden),
        Validate => ValidateRulesInvocation::from_payload(payload).map(Outcome::Validate),
        Check => CheckCredentialsInvocation::from_payload(payload).map(Outcome::Check),
        Prewarm => PrewarmInvocation::from_payload(payload).map(Outcome::Prewarm),
    }
}

fn check(case: &str, function: FunctionKind, payload: &Value, expected: Expected) {
    let actual = parse(function, payload);
    match (actual, expected) {
        (Ok(actual), Expected::Parsed(expected)) => {
            assert_eq!(actual, expected, "case {case:?} for {function}");
        }
        (
            Err(error),
            Expected::Error {
                error_type,
                contains,
                absent,
            },
        ) => {
            let message = error.to_string();
            assert_eq!(
                error.error_type(),
                error_type,
                "case {case:?} for {function}: {message}"
            );
            assert_eq!(error.function(), function, "case {case:?}");
            assert!(
                message.starts_with(char::is_lowercase),
                "case {case:?}: {message}"
            );
            assert!(!message.ends_with('.'), "case {case:?}: {message}");
            for fragment in contains {
                assert!(
                    message.contains(fragment),
                    "case {case:?} for {function}: {message:?} lacks {fragment:?}"
                );
            }
            for fragment in absent {
                assert!(
                    !message.contains(fragment),
                    "case {case:?} for {function}: {message:?} leaks {fragment:?}"
                );
            }
        }
        (actual, _) => panic!("case {case:?} for {function}: unexpected {actual:?}"),
    }
}

fn sample(file: &str) -> Value {
    let (_, text) = SAMPLES
        .iter()
        .find(|(name, _)| *name == file)
        .unwrap_or_else(|| panic!("no sample {file}"));
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{file} is not JSON: {error}"))
}

/// `file` with each JSON pointer set to a value, or removed for `None`.
fn edited(file: &str, edits: &[(&str, Option<Value>)]) -> Value {
    let mut payload = sample(file);
    for (pointer, value) in edits {
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        let object = payload
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{file}: no object at {parent:?}"));
        match value {
            Some(value) => object.insert(key.to_owned(), value.clone()),
            None => object.remove(key),
        };
    }
    payload
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

fn error(error_type: &'static str, contains: &[&'static str]) -> Expected {
    Expected::Error {
        error_type,
        contains: contains.to_vec(),
        absent: Vec::new(),
    }
}

fn created(repository_name: &str, via: CreatedVia, invoked_by: Option<&str>) -> Expected {
    Expected::Parsed(Outcome::Harden(HardenInvocation::RepositoryCreated(
        RepositoryCreated {
            repository_name: repository_name.to_owned(),
            via,
            invoked_by: invoked_by.map(str::to_owned),
            event_source: "ecr.amazonaws.com".to_owned(),
        },
    )))
}

fn scheduled(rule: &str, images: Option<&[&str]>) -> Scheduled {
    Scheduled {
        rule_arn: Some(format!("arn:aws:events:eu-west-1:123456789012:rule/{rule}")),
        images: images.map(strings),
    }
}

fn harden(target: HardenTarget, dry_run: Option<bool>, cursor: Option<Value>) -> Expected {
    Expected::Parsed(Outcome::Harden(HardenInvocation::Direct(HardenRequest {
        target,
        dry_run,
        cursor,
    })))
}

fn ignored(payload: &Value) -> String {
    match HardenInvocation::from_payload(payload) {
        Ok(HardenInvocation::Ignored { reason }) => reason,
        other => panic!("expected `Ignored`, got {other:?}"),
    }
}

fn success_action() -> PullThroughCacheAction {
    PullThroughCacheAction {
        repository_name: "docker-hub/library/nginx".to_owned(),
        ecr_repository_prefix: "docker-hub".to_owned(),
        upstream_registry_url: "registry-1.docker.io".to_owned(),
        image_tag: Some("1.27".to_owned()),
        image_digest: Some(
            "sha256:2d9e41c6d9c484e3c41ed71c1a10d007e0186aa8846e25ca0086358a7709999c".to_owned(),
        ),
        rule_version: Some("1".to_owned()),
        sync: SyncStatus::Success,
        repository_arn: Some(
            "arn:aws:ecr:eu-west-1:123456789012:repository/docker-hub/library/nginx".to_owned(),
        ),
    }
}

const EC2_EVENT: &str = r#"{"version":"0","id":"1d6b0c2e-7a51-4f0e-9f39-5b2f9c4e8a11","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2025-06-04T07:00:00Z","region":"eu-west-1","resources":["arn:aws:ec2:eu-west-1:123456789012:instance/i-0abcd1234ef567890"],"detail":{"instance-id":"i-0abcd1234ef567890","state":"running"}}"#;

#[test]
fn samples_cover_the_events_folder() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    let on_disk: BTreeSet<String> = std::fs::read_dir(folder)
        .expect("events/ folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    let compiled: BTreeSet<String> = SAMPLES.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(on_disk, compiled, "every events/*.json is a sample here");
    for (name, _) in SAMPLES {
        sample(name);
    }
}

/// The `CreateRepository` API call of the samples.
fn api_call() -> Expected {
    created("ghcr/fluxcd/source-controller", CreatedVia::ApiCall, None)
}

/// The failed pull through cache action of the samples.
fn failed_action() -> PullThroughCacheAction {
    PullThroughCacheAction {
        repository_name: "ghcr/fluxcd/source-controller".to_owned(),
        ecr_repository_prefix: "ghcr".to_owned(),
        upstream_registry_url: "ghcr.io".to_owned(),
        image_tag: Some("v1.4.1".to_owned()),
        image_digest: Some("sha256:da458536be285c44720e3e887bdc7288df217cd852cb078535bf0f30b491946a".to_owned()),
        rule_version: Some("3".to_owned()),
        sync: SyncStatus::Failed {
            status: "FAILED".to_owned(),
            failure_code: Some("UPSTREAM_AUTHENTICATION_FAILED".to_owned()),
            failure_reason: Some("Authentication to the upstream registry ghcr.io failed. Check the credentials stored in the Secrets Manager secret of the pull through cache rule.".to_owned()),
        },
        repository_arn: Some("arn:aws:ecr:eu-west-1:123456789012:repository/ghcr/fluxcd/source-controller".to_owned()),
    }
}

/// The daily schedule of the samples.
fn daily() -> Scheduled {
    scheduled("ptc-ops-daily", None)
}

/// The images of the pre-warm schedule sample.
const PREWARM_IMAGES: [&str; 3] = [
    "nginx:1.27",
    "ghcr.io/fluxcd/source-controller:v1.4.1",
    "registry.k8s.io/pause:3.10",
];

/// The sample `file` of `events/`, as `function` reads it.
fn check_sample(_case: &str, file: &str, function: FunctionKind, expected: Expected) {
    check(file, function, &sample(file), expected);
}

named_cases! {
    /// Each sample of `events/`, as each function that reads it parses or refuses it.
    mod samples => check_sample;
    create_repository_service_event_for_harden(
        "create-repository-service-event.json",
        Harden,
        created("docker-hub/library/nginx", CreatedVia::ServiceEvent, Some("ecr.amazonaws.com")),
    ),
    create_repository_service_event_for_prewarm(
        "create-repository-service-event.json",
        Prewarm,
        error("UnsupportedEvent", &[r#"unsupported event for prewarm-images: got detail-type "AWS Service Event via CloudTrail" from "aws.ecr" (CloudTrail "CreateRepository" from "ecr.amazonaws.com"); expected a "Scheduled Event", {} or {"images": [...], "dry_run": false}"#]),
    ),
    create_repository_api_call_for_harden("create-repository-api-call.json", Harden, api_call()),
    pull_through_cache_action_success_for_harden(
        "pull-through-cache-action-success.json",
        Harden,
        Expected::Parsed(Outcome::Harden(HardenInvocation::PullThroughCacheAction(success_action()))),
    ),
    pull_through_cache_action_success_for_prewarm(
        "pull-through-cache-action-success.json",
        Prewarm,
        error("UnsupportedEvent", &[r#"got detail-type "ECR Pull Through Cache Action" from "aws.ecr"; expected a "Scheduled Event", {} or {"images": [...], "dry_run": false}"#]),
    ),
    pull_through_cache_action_failure_for_harden(
        "pull-through-cache-action-failure.json",
        Harden,
        Expected::Parsed(Outcome::Harden(HardenInvocation::PullThroughCacheAction(failed_action()))),
    ),
    ecr_image_scan_for_harden(
        "ecr-image-scan.json",
        Harden,
        Expected::Parsed(Outcome::Harden(HardenInvocation::ImageScanned(nginx_scan()))),
    ),
    ecr_image_scan_for_validate("ecr-image-scan.json", Validate, error("UnsupportedEvent", &[r#"got detail-type "ECR Image Scan" from "aws.ecr""#])),
    scheduled_event_for_harden("scheduled-event.json", Harden, Expected::Parsed(Outcome::Harden(HardenInvocation::Scheduled(daily())))),
    scheduled_event_for_validate("scheduled-event.json", Validate, Expected::Parsed(Outcome::Validate(ValidateRulesInvocation::Scheduled(daily())))),
    scheduled_event_for_check("scheduled-event.json", Check, Expected::Parsed(Outcome::Check(CheckCredentialsInvocation::Scheduled(daily())))),
    scheduled_event_for_prewarm("scheduled-event.json", Prewarm, Expected::Parsed(Outcome::Prewarm(PrewarmInvocation::Scheduled(daily())))),
    prewarm_scheduled_event_for_prewarm(
        "prewarm-scheduled-event.json",
        Prewarm,
        Expected::Parsed(Outcome::Prewarm(PrewarmInvocation::Scheduled(scheduled("ptc-ops-prewarm-images", Some(&PREWARM_IMAGES))))),
    ),
    harden_repositories_for_harden(
        "harden-repositories.json",
        Harden,
        harden(HardenTarget::Repositories(strings(&["docker-hub/library/nginx"])), Some(true), None),
    ),
    harden_sweep_for_harden("harden-sweep.json", Harden, harden(HardenTarget::Sweep, None, None)),
    harden_usage_for_harden("harden-usage.json", Harden, harden(HardenTarget::Usage, None, None)),
    harden_usage_for_validate("harden-usage.json", Validate, error("InvalidRequest", &["unknown field `usage`"])),
    harden_sweep_for_validate(
        "harden-sweep.json",
        Validate,
        error("InvalidRequest", &["invalid direct invoke for validate-cache-rules: unknown field `sweep`, expected `prefixes` (got an object with key \"sweep\")"]),
    ),
    validate_cache_rules_for_validate(
        "validate-cache-rules.json",
        Validate,
        Expected::Parsed(Outcome::Validate(ValidateRulesInvocation::Direct(ValidateRulesRequest { prefixes: None }))),
    ),
    validate_cache_rules_prefixes_for_validate(
        "validate-cache-rules-prefixes.json",
        Validate,
        Expected::Parsed(Outcome::Validate(ValidateRulesInvocation::Direct(ValidateRulesRequest {
            prefixes: Some(strings(&["docker-hub", "ghcr"])),
        }))),
    ),
    check_credentials_for_check(
        "check-credentials.json",
        Check,
        Expected::Parsed(Outcome::Check(CheckCredentialsInvocation::Direct(CheckCredentialsRequest { secrets: None }))),
    ),
    check_credentials_secrets_for_check(
        "check-credentials-secrets.json",
        Check,
        Expected::Parsed(Outcome::Check(CheckCredentialsInvocation::Direct(CheckCredentialsRequest {
            secrets: Some(strings(&["ecr-pullthroughcache/docker-hub", "ecr-pullthroughcache/ghcr"])),
        }))),
    ),
    check_credentials_for_harden(
        "check-credentials.json",
        Harden,
        error("InvalidRequest", &["name `repositories` or set `sweep` to `true` (got an empty object)"]),
    ),
    check_credentials_for_prewarm("check-credentials.json", Prewarm, Expected::Parsed(Outcome::Prewarm(PrewarmInvocation::Configured))),
    prewarm_images_for_prewarm(
        "prewarm-images.json",
        Prewarm,
        Expected::Parsed(Outcome::Prewarm(PrewarmInvocation::Direct(PrewarmRequest {
            images: strings(&[
                "nginx:1.27",
                "ghcr.io/fluxcd/source-controller:v1.4.1",
                "registry.k8s.io/pause:3.10",
                "quay.io/prometheus/node-exporter:v1.8.2",
            ]),
            dry_run: Some(false),
            refresh: None,
        }))),
    ),
}

const SERVICE: &str = "create-repository-service-event.json";
const API_CALL: &str = "create-repository-api-call.json";
const ACTION: &str = "pull-through-cache-action-success.json";
const SCHEDULED: &str = "scheduled-event.json";

/// An object of twelve keys.
fn many_keys() -> Value {
    (0..12)
        .map(|index| (format!("key{index:02}"), json!(index)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A payload as `function` parses or refuses it.
fn check_variant(case: &str, function: FunctionKind, payload: Value, expected: Expected) {
    check(case, function, &payload, expected);
}

named_cases! {
    /// Variants of the samples and direct invocations, as each function parses or refuses them.
    mod variants => check_variant;
    service_event_with_only_responseelements(
        Harden,
        edited(
            SERVICE,
            &[
                ("/detail/serviceEventDetails", None),
                (
                    "/detail/responseElements",
                    Some(json!({"repository": {"repositoryName": "docker-hub/library/nginx"}})),
                ),
            ],
        ),
        created(
            "docker-hub/library/nginx",
            CreatedVia::ServiceEvent,
            Some("ecr.amazonaws.com"),
        ),
    ),
    service_event_with_only_requestparameters(
        Harden,
        edited(
            SERVICE,
            &[
                ("/detail/serviceEventDetails", None),
                ("/detail/responseElements", None),
                (
                    "/detail/requestParameters",
                    Some(json!({"repositoryName": "docker-hub/library/nginx"})),
                ),
            ],
        ),
        created(
            "docker-hub/library/nginx",
            CreatedVia::ServiceEvent,
            Some("ecr.amazonaws.com"),
        ),
    ),
    api_call_without_responseelements(
        Harden,
        edited(API_CALL, &[("/detail/responseElements", Some(Value::Null))]),
        created("ghcr/fluxcd/source-controller", CreatedVia::ApiCall, None),
    ),
    no_repository_name_anywhere(
        Harden,
        edited(
            SERVICE,
            &[(
                "/detail/serviceEventDetails",
                Some(json!({"repositoryName": ""})),
            )],
        ),
        error(
            "MalformedEvent",
            &[
                r#"malformed "AWS Service Event via CloudTrail" event for harden-repository: no repository name in `detail.serviceEventDetails.repositoryName`, `detail.responseElements.repository.repositoryName`, `detail.requestParameters.repositoryName`"#,
            ],
        ),
    ),
    cloudtrail_call_of_another_service(
        Harden,
        edited(
            API_CALL,
            &[
                ("/detail/eventName", Some(json!("PutObject"))),
                ("/detail/eventSource", Some(json!("s3.amazonaws.com"))),
            ],
        ),
        error(
            "UnsupportedEvent",
            &[
                r#"got detail-type "AWS API Call via CloudTrail" from "aws.ecr" (CloudTrail "PutObject" from "s3.amazonaws.com"); expected a CloudTrail CreateRepository event, a CloudTrail repository setting call"#,
            ],
        ),
    ),
    ecr_pull_through_cache_action_with_an_unknown_sync_status(
        Harden,
        edited(
            ACTION,
            &[
                ("/detail/sync-status", Some(json!("IN_PROGRESS"))),
                ("/detail/rule-version", Some(json!(2))),
            ],
        ),
        Expected::Parsed(Outcome::Harden(HardenInvocation::PullThroughCacheAction(
            PullThroughCacheAction {
                rule_version: Some("2".to_owned()),
                sync: SyncStatus::Failed {
                    status: "IN_PROGRESS".to_owned(),
                    failure_code: None,
                    failure_reason: None,
                },
                ..success_action()
            },
        ))),
    ),
    ecr_pull_through_cache_action_without_a_repository_name(
        Harden,
        edited(ACTION, &[("/detail/repository-name", None)]),
        error(
            "MalformedEvent",
            &[
                r#"malformed "ECR Pull Through Cache Action" event for harden-repository: `detail.repository-name` is missing"#,
            ],
        ),
    ),
    ecr_pull_through_cache_action_from_a_source_aws_does_not_own(
        Harden,
        edited(ACTION, &[("/source", Some(json!("com.example.ecr")))]),
        error(
            "UnsupportedEvent",
            &[r#"got detail-type "ECR Pull Through Cache Action" from "com.example.ecr""#],
        ),
    ),
    unknown_detail_type(
        Harden,
        serde_json::from_str(EC2_EVENT).expect("JSON"),
        error(
            "UnsupportedEvent",
            &[
                r#"unsupported event for harden-repository: got detail-type "EC2 Instance State-change Notification" from "aws.ec2"; expected a CloudTrail CreateRepository event, a CloudTrail repository setting call (PutLifecyclePolicy, DeleteLifecyclePolicy, SetRepositoryPolicy, DeleteRepositoryPolicy, PutImageTagMutability, PutImageScanningConfiguration, TagResource, UntagResource), a CloudTrail creation template or registry scanning call (CreateRepositoryCreationTemplate, UpdateRepositoryCreationTemplate, DeleteRepositoryCreationTemplate, PutRegistryScanningConfiguration), an "ECR Pull Through Cache Action" event, an "ECR Image Scan" event, a "Scheduled Event", {"repositories": [...]}, {"sweep": true} or {"usage": true}"#,
            ],
        ),
    ),
    a_very_long_detail_type_is_cut(
        Check,
        edited(SCHEDULED, &[("/detail-type", Some(json!("x".repeat(500))))]),
        error("UnsupportedEvent", &["x…\" from \"aws.events\""]),
    ),
    envelope_keys_of_the_wrong_type(
        Validate,
        json!({"detail-type": 7, "source": "aws.events", "detail": {}}),
        error(
            "UnsupportedEvent",
            &[r#"got an object with keys "detail", "detail-type", "source""#],
        ),
    ),
    envelope_whose_time_is_not_rfc_3339(
        Harden,
        edited(ACTION, &[("/time", Some(json!("04/06/2025 07:00")))]),
        Expected::Error {
            error_type: "UnsupportedEvent",
            contains: vec![
                r#"got an object with keys "account", "detail", "detail-type", "id", "region", "resources", "source", "time" and 1 more that is not an EventBridge event"#,
                "`time` in RFC 3339, `resources` a list of strings): input contains invalid characters; expected a CloudTrail",
            ],
            absent: vec!["04/06/2025"],
        },
    ),
    envelope_whose_resources_are_not_strings(
        Harden,
        edited(ACTION, &[("/resources", Some(json!([{"ARN": "arn:aws:ecr:eu-west-1:123456789012:repository/x"}])))]),
        Expected::Error {
            error_type: "UnsupportedEvent",
            contains: vec![
                "that is not an EventBridge event",
                "`resources` a list of strings): invalid type: map, expected a string",
            ],
            absent: vec!["arn:aws:ecr"],
        },
    ),
    envelope_without_the_optional_keys(
        Harden,
        json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
        Expected::Parsed(Outcome::Harden(HardenInvocation::Scheduled(Scheduled {
            rule_arn: None,
            images: None,
        }))),
    ),
    a_json_array(
        Prewarm,
        json!(["nginx:1.27"]),
        error(
            "UnsupportedEvent",
            &["unsupported event for prewarm-images: got a JSON array; expected"],
        ),
    ),
    null(
        Check,
        Value::Null,
        error("UnsupportedEvent", &["got `null`"]),
    ),
    a_json_string(
        Harden,
        json!("docker-hub/library/nginx"),
        Expected::Error {
            error_type: "UnsupportedEvent",
            contains: vec!["got a JSON string"],
            absent: vec!["docker-hub/library/nginx"],
        },
    ),
    scheduled_event_whose_images_are_not_a_list(
        Prewarm,
        edited(SCHEDULED, &[("/detail/images", Some(json!("nginx:1.27")))]),
        error(
            "MalformedEvent",
            &[
                r#"malformed "Scheduled Event" event for prewarm-images: `detail.images` must be a list of strings"#,
            ],
        ),
    ),
    scheduled_event_with_an_empty_image_list(
        Prewarm,
        edited(SCHEDULED, &[("/detail/images", Some(json!([])))]),
        error(
            "MalformedEvent",
            &["`detail.images` is empty; leave it out to use the configured default"],
        ),
    ),
    direct_payload_with_an_unknown_key(
        Harden,
        json!({"repositories": ["docker-hub/library/nginx"], "dryrun": true}),
        error(
            "InvalidRequest",
            &[
                r#"invalid direct invoke for harden-repository: unknown field `dryrun`, expected one of `repositories`, `sweep`, `usage`, `dry_run`, `cursor` (got an object with keys "dryrun", "repositories"); expected a CloudTrail"#,
            ],
        ),
    ),
    sweep_false(
        Harden,
        json!({"sweep": false}),
        error("InvalidRequest", &["`sweep` is `false`"]),
    ),
    repositories_and_sweep(
        Harden,
        json!({"sweep": true, "repositories": ["ghcr/fluxcd/source-controller"]}),
        error(
            "InvalidRequest",
            &["`repositories` and `sweep` exclude each other"],
        ),
    ),
    empty_repositories(
        Harden,
        json!({"repositories": []}),
        error("InvalidRequest", &["`repositories` is empty"]),
    ),
    sweep_handing_on_with_a_cursor(
        Harden,
        json!({"sweep": true, "dry_run": false, "cursor": {"after": "docker-hub/library/nginx", "n_done": 812}}),
        harden(
            HardenTarget::Sweep,
            Some(false),
            Some(json!({"after": "docker-hub/library/nginx", "n_done": 812})),
        ),
    ),
    cursor_that_is_not_an_object(
        Harden,
        json!({"sweep": true, "cursor": "abc"}),
        error("InvalidRequest", &["`cursor` must be an object"]),
    ),
    a_wrong_type_names_no_value(
        Harden,
        json!({"sweep": true, "dry_run": "hunter2-\"quoted\"-value"}),
        Expected::Error {
            error_type: "InvalidRequest",
            contains: vec!["invalid type: a string, expected a boolean"],
            absent: vec!["hunter2"],
        },
    ),
    many_keys_are_counted_not_listed(
        Check,
        many_keys(),
        error(
            "InvalidRequest",
            &[r#"unknown field `key00`"#, r#""key07" and 4 more)"#],
        ),
    ),
    empty_prefixes(
        Validate,
        json!({"prefixes": []}),
        error("InvalidRequest", &["`prefixes` is empty"]),
    ),
    blank_secret(
        Check,
        json!({"secrets": ["ecr-pullthroughcache/ghcr", " "]}),
        error("InvalidRequest", &["`secrets[1]` is blank"]),
    ),
    images_missing(
        Prewarm,
        json!({"dry_run": true}),
        error("InvalidRequest", &["missing field `images`"]),
    ),
    empty_images(
        Prewarm,
        json!({"images": [], "dry_run": false}),
        error("InvalidRequest", &["`images` is empty"]),
    ),
}

#[test]
fn ignored_creations_say_why() {
    let failed = edited(
        "create-repository-api-call.json",
        &[
            (
                "/detail/errorCode",
                Some(json!("RepositoryAlreadyExistsException")),
            ),
            (
                "/detail/errorMessage",
                Some(json!(
                    "The repository with name 'ghcr/fluxcd/source-controller' already exists"
                )),
            ),
            ("/detail/responseElements", Some(Value::Null)),
        ],
    );
    let replicated = edited(
        "create-repository-service-event.json",
        &[
            (
                "/detail/eventSource",
                Some(json!("replication.ecr.amazonaws.com")),
            ),
            (
                "/detail/userIdentity/invokedBy",
                Some(json!("replication.ecr.amazonaws.com")),
            ),
        ],
    );
    for (payload, expected) in [
        (
            failed,
            r#"the `CreateRepository` call failed with "RepositoryAlreadyExistsException": no repository was created"#,
        ),
        (
            replicated,
            r#"`CreateRepository` from "replication.ecr.amazonaws.com" is not a private registry creation"#,
        ),
    ] {
        let reason = ignored(&payload);
        assert!(reason.contains(expected), "{reason:?} lacks {expected:?}");
    }
}

#[test]
fn accessors_need_no_match_in_handlers() {
    let prewarm = |payload: Value| PrewarmInvocation::from_payload(&payload).expect("accepted");
    assert_eq!(prewarm(json!({})).images(), None);
    assert_eq!(prewarm(sample("scheduled-event.json")).images(), None);
    assert_eq!(
        prewarm(sample("prewarm-scheduled-event.json"))
            .images()
            .map(<[String]>::len),
        Some(3)
    );
    assert_eq!(
        prewarm(sample("prewarm-images.json")).dry_run(),
        Some(false)
    );
    let harden =
        HardenInvocation::from_payload(&sample("harden-repositories.json")).expect("accepted");
    assert_eq!(harden.dry_run(), Some(true));
    let validate =
        ValidateRulesInvocation::from_payload(&sample("validate-cache-rules-prefixes.json"))
            .expect("accepted");
    assert_eq!(
        validate.prefixes(),
        Some(&strings(&["docker-hub", "ghcr"])[..])
    );
    let check = CheckCredentialsInvocation::from_payload(&sample("scheduled-event.json"))
        .expect("accepted");
    assert_eq!(check.secrets(), None);
}

/// `payload` reads as a harden request that writes back as the same JSON.
fn check_harden_request_round_trip(name: &str, payload: Value) {
    let request: HardenRequest = serde_json::from_value(payload.clone()).expect(name);
    assert_eq!(
        serde_json::to_value(&request).expect("serializable"),
        payload,
        "{name}"
    );
}

named_cases! {
    /// Harden requests round-trip through their type unchanged.
    mod harden_requests_round_trip => check_harden_request_round_trip;
    harden_repositories_sample(sample("harden-repositories.json")),
    harden_sweep_sample(sample("harden-sweep.json")),
    sweep_with_a_cursor(
        json!({"sweep": true, "cursor": {"after": "ghcr/fluxcd/source-controller"}}),
    ),
}

/// The serde `message` without the values it quoted is `expected`.
fn check_without_values(name: &str, message: &str, expected: &str) {
    assert_eq!(
        without_values(message),
        expected,
        "{name}: message {message:?}"
    );
}

named_cases! {
    /// Serde messages lose the values they quote, keeping their kinds.
    mod serde_messages_lose_their_values => check_without_values;
    quoted_string_becomes_a_string(
        r#"invalid type: string "s3cr\"et", expected a boolean"#,
        "invalid type: a string, expected a boolean",
    ),
    integer_becomes_an_integer(
        "invalid type: integer `42`, expected a sequence",
        "invalid type: an integer, expected a sequence",
    ),
    boolean_becomes_a_boolean(
        "invalid type: boolean `true`, expected a string",
        "invalid type: a boolean, expected a string",
    ),
    map_without_a_value_is_kept(
        "invalid type: map, expected a boolean",
        "invalid type: map, expected a boolean",
    ),
    unknown_field_name_is_kept(
        "unknown field `dryrun`, expected `prefixes`",
        "unknown field `dryrun`, expected `prefixes`",
    ),
}

#[test]
fn every_function_names_itself_and_its_shapes() {
    for function in FunctionKind::ALL {
        let error = parse(function, &json!(42)).expect_err("a number is no payload");
        assert_eq!(
            error.to_string(),
            format!(
                "unsupported event for {}: got a JSON number; expected {}",
                function.as_str(),
                function.accepted()
            )
        );
    }
}

fn setting_changed(
    call: SettingCall,
    repository_name: &str,
    caller: Caller,
    event_time: &str,
    event_id: &str,
) -> Expected {
    Expected::Parsed(Outcome::Harden(HardenInvocation::SettingChanged(
        SettingChanged {
            call,
            repository_name: repository_name.to_owned(),
            caller,
            event_time: Some(event_time.to_owned()),
            event_id: Some(event_id.to_owned()),
        },
    )))
}

/// The SSO user who changed a lifecycle policy in the samples.
fn alice() -> Caller {
    Caller {
        arn: Some("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_PlatformAdmin_5f2b7c9e1a3d4e6f/alice@example.com".to_owned()),
        role_arn: Some("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PlatformAdmin_5f2b7c9e1a3d4e6f".to_owned()),
        identity_type: Some("AssumedRole".to_owned()),
        invoked_by: None,
    }
}

/// The IAM user who deleted a repository policy in the samples.
fn bob() -> Caller {
    Caller {
        arn: Some("arn:aws:iam::123456789012:user/bob".to_owned()),
        role_arn: None,
        identity_type: Some("IAMUser".to_owned()),
        invoked_by: None,
    }
}

/// The Terraform role that removed a tag in the samples.
fn terraform() -> Caller {
    Caller {
        arn: Some(
            "arn:aws:sts::123456789012:assumed-role/platform-terraform/terraform-apply".to_owned(),
        ),
        role_arn: Some("arn:aws:iam::123456789012:role/platform-terraform".to_owned()),
        identity_type: Some("AssumedRole".to_owned()),
        invoked_by: None,
    }
}

/// The setting-change sample `file` parses for harden as `expected`; every other function
/// refuses it.
fn check_setting_change_sample(_case: &str, file: &str, expected: Expected) {
    check(file, Harden, &sample(file), expected);
    // The functions that act on other CloudTrail calls acknowledge them; prewarm refuses them.
    for other in [Validate, Check] {
        registry::check_acknowledged(file, other, sample(file), &["is not a call", "acts on"]);
    }
    check(
        file,
        Prewarm,
        &sample(file),
        error(
            "UnsupportedEvent",
            &[r#"got detail-type "AWS API Call via CloudTrail""#],
        ),
    );
}

named_cases! {
    /// The setting-change samples of `events/`: harden reads them, the checks acknowledge them,
    /// the pre-warmer refuses them.
    mod setting_change_samples => check_setting_change_sample;
    put_lifecycle_policy_by_an_sso_user(
        "setting-changed-put-lifecycle-policy.json",
        setting_changed(
            SettingCall::PutLifecyclePolicy,
            "docker-hub/library/nginx",
            alice(),
            "2025-06-04T14:02:31Z",
            "0b6f1d3c-2a8e-4c57-b9d4-6e1f0a2c3b58",
        ),
    ),
    delete_repository_policy_by_an_iam_user(
        "setting-changed-delete-repository-policy.json",
        setting_changed(
            SettingCall::DeleteRepositoryPolicy,
            "ghcr/fluxcd/source-controller",
            bob(),
            "2025-06-04T16:45:09Z",
            "c9e3a1f7-4b2d-4c68-9f05-7d1e8b3a2c64",
        ),
    ),
    untag_resource_by_an_assumed_role(
        "setting-changed-untag-resource.json",
        setting_changed(
            SettingCall::UntagResource,
            "k8s/pause",
            terraform(),
            "2025-06-04T15:21:47Z",
            "6b1e9d3f-8a2c-4f57-a4e0-b9c3d7f1e268",
        ),
    ),
}

#[test]
fn failed_setting_calls_are_ignored_and_calls_report_by_name() {
    let reason = ignored(&sample("setting-changed-put-lifecycle-policy-failed.json"));
    assert_eq!(
        reason,
        r#"the `PutLifecyclePolicy` call failed with "InvalidParameterException": nothing was changed"#
    );
    let report = serde_json::to_value(SettingCall::TagResource).expect("serializable");
    assert_eq!(report, json!("TagResource"));
}

/// Every setting call parses from its own record, tag calls by ARN, the others by name.
#[test]
fn every_setting_call_names_its_repository() {
    for call in SettingCall::ALL {
        assert_eq!(SettingCall::from_event_name(call.as_str()), Some(call));
        let parameters = match call {
            SettingCall::TagResource | SettingCall::UntagResource => json!({
                "resourceArn": "arn:aws-cn:ecr:cn-north-1:123456789012:repository/quay/team/app",
                "tags": [{"key": "cost-center", "value": "1234"}],
            }),
            _ => json!({"repositoryName": "quay/team/app", "registryId": "123456789012"}),
        };
        let payload = edited(
            "setting-changed-put-lifecycle-policy.json",
            &[
                ("/detail/eventName", Some(json!(call.as_str()))),
                ("/detail/requestParameters", Some(parameters)),
            ],
        );
        match HardenInvocation::from_payload(&payload) {
            Ok(HardenInvocation::SettingChanged(changed)) => {
                assert_eq!(changed.call, call);
                assert_eq!(changed.repository_name, "quay/team/app", "{call:?}");
            }
            other => panic!("{call:?}: {other:?}"),
        }
    }
    assert_eq!(SettingCall::from_event_name("putLifecyclePolicy"), None);
}

const PUT: &str = "setting-changed-put-lifecycle-policy.json";
const UNTAG: &str = "setting-changed-untag-resource.json";

/// `payload` is ignored with a reason holding `expected`, without a trailing period or the
/// caller's access key.
fn check_unusable_setting_change(case: &str, payload: Value, expected: &str) {
    let reason = ignored(&payload);
    assert!(
        reason.contains(expected),
        "case {case:?}: {reason:?} lacks {expected:?}"
    );
    assert!(!reason.ends_with('.'), "case {case:?}: {reason:?}");
    assert!(
        !reason.contains("ASIA4EXAMPLE"),
        "case {case:?}: {reason:?}"
    );
}

named_cases! {
    /// Setting-call records that cannot be acted on are acknowledged with the reason, never an
    /// error (EventBridge would retry them for nothing); only other services' records are refused.
    mod unusable_setting_changes_say_why => check_unusable_setting_change;
    no_requestparameters(
        edited(PUT, &[("/detail/requestParameters", None)]),
        "`PutLifecyclePolicy` names no repository: `detail.requestParameters` is missing; the next sweep checks every managed repository",
    ),
    requestparameters_null_cloudtrail_leaves_it_out_for_some_calls(
        edited(PUT, &[("/detail/requestParameters", Some(Value::Null))]),
        "`detail.requestParameters` is missing",
    ),
    requestparameters_not_an_object(
        edited(PUT, &[("/detail/requestParameters", Some(json!("HIDDEN_DUE_TO_SECURITY_REASONS")))]),
        "`detail.requestParameters` is not an object",
    ),
    no_repositoryname(
        edited(PUT, &[("/detail/requestParameters/repositoryName", None)]),
        "`detail.requestParameters.repositoryName` is missing",
    ),
    empty_repositoryname(
        edited(PUT, &[("/detail/requestParameters/repositoryName", Some(json!("")))]),
        "`detail.requestParameters.repositoryName` is missing",
    ),
    repositoryname_not_a_string(
        edited(PUT, &[("/detail/requestParameters/repositoryName", Some(json!(["a"])))]),
        "`detail.requestParameters.repositoryName` must be a string",
    ),
    tag_call_with_a_repository_name_only(
        edited(
            UNTAG,
            &[
                ("/detail/requestParameters/resourceArn", None),
                ("/detail/requestParameters/repositoryName", Some(json!("k8s/pause"))),
            ],
        ),
        "`UntagResource` names no repository: `detail.requestParameters.resourceArn` is missing",
    ),
    tag_call_on_a_resource_that_is_not_a_repository(
        edited(
            UNTAG,
            &[(
                "/detail/requestParameters/resourceArn",
                Some(json!("arn:aws:ecr:eu-west-1:123456789012:repository-creation-template/k8s")),
            )],
        ),
        "`detail.requestParameters.resourceArn` is not an ECR repository ARN",
    ),
    tag_call_on_another_service_s_resource(
        edited(
            UNTAG,
            &[(
                "/detail/requestParameters/resourceArn",
                Some(json!("arn:aws:s3:::repository/k8s/pause")),
            )],
        ),
        "is not an ECR repository ARN",
    ),
    failed_call_without_a_code_string(
        edited(PUT, &[("/detail/errorCode", Some(json!(403)))]),
        "the `PutLifecyclePolicy` call failed with an error: nothing was changed",
    ),
    same_call_on_ecr_public(
        edited(PUT, &[("/detail/eventSource", Some(json!("ecr-public.amazonaws.com")))]),
        r#"`PutLifecyclePolicy` from "ecr-public.amazonaws.com" is not a change to a private repository"#,
    ),
    no_eventsource(
        edited(PUT, &[("/detail/eventSource", None)]),
        "`PutLifecyclePolicy` without a string `detail.eventSource`",
    ),
    another_ecr_call(
        edited(PUT, &[("/detail/eventName", Some(json!("DeleteRepository")))]),
        r#""AWS API Call via CloudTrail" "DeleteRepository" is not an event harden-repository acts on: it takes `CreateRepository` and the API calls PutLifecyclePolicy, DeleteLifecyclePolicy"#,
    ),
    a_read_of_ecr(
        edited(PUT, &[("/detail/eventName", Some(json!("GetLifecyclePolicy")))]),
        r#""GetLifecyclePolicy" is not an event harden-repository acts on"#,
    ),
    a_setting_call_as_a_service_event(
        edited(
            PUT,
            &[("/detail-type", Some(json!("AWS Service Event via CloudTrail")))],
        ),
        r#""AWS Service Event via CloudTrail" "PutLifecyclePolicy" is not an event harden-repository acts on"#,
    ),
}

/// The repository named by `arn`, if it is an ECR repository ARN.
fn check_repository_of_arn(name: &str, arn: &str, expected: Option<&str>) {
    assert_eq!(repository_of_arn(arn), expected, "{name}: {arn:?}");
}

named_cases! {
    /// Repository ARNs name their repository; other ARNs and texts name none.
    mod repository_arns => check_repository_of_arn;
    nested_repository(
        "arn:aws:ecr:eu-west-1:123456789012:repository/k8s/pause",
        Some("k8s/pause"),
    ),
    other_partition(
        "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/a",
        Some("a"),
    ),
    empty_repository_name("arn:aws:ecr:eu-west-1:123456789012:repository/", None),
    no_repository_name("arn:aws:ecr:eu-west-1:123456789012:repository", None),
    creation_template(
        "arn:aws:ecr:eu-west-1:123456789012:repository-creation-template/k8s",
        None,
    ),
    ecr_public("arn:aws:ecr-public::123456789012:repository/k8s/pause", None),
    no_region("arn:aws:ecr::123456789012:repository/k8s/pause", None),
    not_an_arn("k8s/pause", None),
    empty("", None),
}

fn nginx_scan() -> ImageScanned {
    ImageScanned {
        repository_name: "docker-hub/library/nginx".to_owned(),
        image_digest: "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234"
            .to_owned(),
        image_tags: strings(&["1.27"]),
        scan_status: "COMPLETE".to_owned(),
        severity_counts: [("CRITICAL".to_owned(), 2), ("MEDIUM".to_owned(), 9)]
            .into_iter()
            .collect(),
        repository_arn: Some(
            "arn:aws:ecr:eu-west-1:123456789012:repository/docker-hub/library/nginx".to_owned(),
        ),
    }
}

fn check_bad_scan(_name: &str, detail: Value, problem: &str) {
    let payload = json!({"detail-type": "ECR Image Scan", "source": "aws.ecr", "detail": detail});
    let error = HardenInvocation::from_payload(&payload).expect_err("malformed");
    assert_eq!(error.error_type(), "MalformedEvent");
    assert!(error.to_string().contains(problem), "{error}");
}

named_cases! {
    /// A scan event whose `detail` cannot be used names the field.
    mod malformed_image_scans => check_bad_scan;
    count_not_a_number(json!({"scan-status": "COMPLETE", "repository-name": "docker-hub/x", "image-digest": "sha256:a", "finding-severity-counts": {"CRITICAL": "2"}}), "`detail.finding-severity-counts.CRITICAL` must be a non-negative integer"),
    counts_not_an_object(json!({"scan-status": "COMPLETE", "repository-name": "docker-hub/x", "image-digest": "sha256:a", "finding-severity-counts": [2]}), "must be an object of counts"),
    no_digest(json!({"scan-status": "COMPLETE", "repository-name": "docker-hub/x"}), "`detail.image-digest` is missing"),
    tags_not_strings(json!({"scan-status": "COMPLETE", "repository-name": "docker-hub/x", "image-digest": "sha256:a", "image-tags": [1]}), "`detail.image-tags` must be a list of strings"),
}

fn check_bad_usage(_name: &str, payload: Value, problem: &str) {
    let error = HardenInvocation::from_payload(&payload).expect_err("refused");
    assert_eq!(error.error_type(), "InvalidRequest");
    assert!(error.to_string().contains(problem), "{error}");
}

named_cases! {
    /// `usage` goes alone and only as `true`.
    mod usage_requests_are_checked => check_bad_usage;
    with_sweep(json!({"usage": true, "sweep": true}), "`usage` goes alone"),
    with_repositories(json!({"usage": true, "repositories": ["docker-hub/x"]}), "`usage` goes alone"),
    false_usage(json!({"usage": false}), "`usage` is `false`"),
}

/// Records AWS documents that the crate's CloudTrail type refuses: their own file, for size.
mod crate_records;

/// Registry-level records: their own file, for size.
mod registry;
