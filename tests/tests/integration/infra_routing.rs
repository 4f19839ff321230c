//! The stack's EventBridge rules against real-shaped events: harden-repository's rules select
//! the records it acts on and no other, and no one may forge an AWS source.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ptc_ops::events::{HardenInvocation, SettingCall};
use ptc_ops_tests::eventbridge::{
    emit, eventbridge, template_rules, Router, TemplateRule, OWN_ROLE_ARN,
};
use ptc_ops_tests::{edited, sample_event, TestEnv};
use serde_json::{json, Value};

/// The event contract of harden-repository: its template rules, created as they are in the
/// emulator's EventBridge, select exactly the events the function acts on. Each case is an
/// event and the rules that must deliver it (none for a near miss).
#[tokio::test]
async fn harden_repository_rules_select_the_events_it_acts_on() {
    const CREATED: &str = "RepositoryCreated";
    const SETTING: &str = "SettingChanged";
    const SYNC: &str = "PullThroughCacheAction";
    const SCAN: &str = "ImageScan";
    let rules: Vec<TemplateRule> = template_rules()
        .into_iter()
        .filter(|rule| rule.function == "HardenRepositoryFunction")
        .collect();
    let names: BTreeSet<&str> = rules.iter().map(|rule| rule.name.as_str()).collect();
    // Its rule of registry-level records is held to them in `registry_rules_select_…`.
    assert_eq!(
        names,
        BTreeSet::from([CREATED, SETTING, SYNC, SCAN, "RegistryControlChanged"])
    );
    let rules: Vec<TemplateRule> = rules
        .into_iter()
        .filter(|rule| rule.name != "RegistryControlChanged")
        .collect();
    let setting_rule = rules
        .iter()
        .find(|rule| rule.name == SETTING)
        .expect("rule");
    let calls: Vec<&str> = SettingCall::ALL.iter().map(|call| call.as_str()).collect();
    assert_eq!(
        setting_rule.pattern["detail"]["eventName"],
        json!(calls),
        "the rule carries exactly the calls the code acts on"
    );

    let put = || sample_event("setting-changed-put-lifecycle-policy.json");
    const ISSUER_ARN: &str = "/detail/userIdentity/sessionContext/sessionIssuer/arn";
    let api_create = || sample_event("create-repository-api-call.json");
    let failed_sync = || sample_event("pull-through-cache-action-failure.json");
    let mut cases: Vec<(String, Value, &[&str])> = vec![
        (
            "service-event creation".into(),
            sample_event("create-repository-service-event.json"),
            &[CREATED],
        ),
        ("API-call creation".into(), api_create(), &[CREATED]),
        (
            "failed creation".into(),
            edited(
                api_create(),
                &[
                    (
                        "/detail/errorCode",
                        Some(json!("RepositoryAlreadyExistsException")),
                    ),
                    ("/detail/responseElements", Some(Value::Null)),
                ],
            ),
            &[],
        ),
        (
            "deletion".into(),
            edited(
                api_create(),
                &[("/detail/eventName", Some(json!("DeleteRepository")))],
            ),
            &[],
        ),
        (
            "replication creation".into(),
            edited(
                sample_event("create-repository-service-event.json"),
                &[(
                    "/detail/eventSource",
                    Some(json!("replication.ecr.amazonaws.com")),
                )],
            ),
            &[],
        ),
        (
            "creation from another source".into(),
            edited(api_create(), &[("/source", Some(json!("aws.ecr-public")))]),
            &[],
        ),
        ("lifecycle policy put".into(), put(), &[SETTING]),
        (
            "repository policy deleted".into(),
            sample_event("setting-changed-delete-repository-policy.json"),
            &[SETTING],
        ),
        (
            "tag removed".into(),
            sample_event("setting-changed-untag-resource.json"),
            &[SETTING],
        ),
        (
            "a write of the function's own role".into(),
            edited(put(), &[(ISSUER_ARN, Some(json!(OWN_ROLE_ARN)))]),
            &[],
        ),
        (
            "a write of another role (Terraform)".into(),
            edited(
                put(),
                &[(
                    ISSUER_ARN,
                    Some(json!("arn:aws:iam::123456789012:role/terraform-apply")),
                )],
            ),
            &[SETTING],
        ),
        (
            "a write of an IAM user (no session issuer)".into(),
            edited(
                put(),
                &[
                    ("/detail/userIdentity/type", Some(json!("IAMUser"))),
                    ("/detail/userIdentity/sessionContext/sessionIssuer", None),
                ],
            ),
            &[SETTING],
        ),
        (
            "a write of the root user (no session context)".into(),
            edited(
                put(),
                &[
                    ("/detail/userIdentity/type", Some(json!("Root"))),
                    ("/detail/userIdentity/sessionContext", None),
                ],
            ),
            &[SETTING],
        ),
        (
            "failed lifecycle policy put".into(),
            sample_event("setting-changed-put-lifecycle-policy-failed.json"),
            &[],
        ),
        (
            "a read".into(),
            edited(
                put(),
                &[("/detail/eventName", Some(json!("GetLifecyclePolicy")))],
            ),
            &[],
        ),
        (
            "an image pushed".into(),
            edited(put(), &[("/detail/eventName", Some(json!("PutImage")))]),
            &[],
        ),
        (
            "ECR Public".into(),
            edited(
                put(),
                &[(
                    "/detail/eventSource",
                    Some(json!("ecr-public.amazonaws.com")),
                )],
            ),
            &[],
        ),
        (
            "as a service event".into(),
            edited(
                put(),
                &[(
                    "/detail-type",
                    Some(json!("AWS Service Event via CloudTrail")),
                )],
            ),
            &[],
        ),
        (
            "another source".into(),
            edited(put(), &[("/source", Some(json!("aws.s3")))]),
            &[],
        ),
        ("failed sync".into(), failed_sync(), &[SYNC]),
        (
            "sync with an unknown status".into(),
            edited(
                failed_sync(),
                &[("/detail/sync-status", Some(json!("PARTIAL")))],
            ),
            &[SYNC],
        ),
        (
            "successful sync".into(),
            sample_event("pull-through-cache-action-success.json"),
            &[],
        ),
        (
            "sync without a status".into(),
            edited(failed_sync(), &[("/detail/sync-status", None)]),
            &[],
        ),
        (
            "sync from another source".into(),
            edited(failed_sync(), &[("/source", Some(json!("aws.ecr-public")))]),
            &[],
        ),
        (
            "a schedule".into(),
            sample_event("scheduled-event.json"),
            &[],
        ),
        (
            "completed image scan".into(),
            sample_event("ecr-image-scan.json"),
            &[SCAN],
        ),
        (
            "failed image scan".into(),
            edited(
                sample_event("ecr-image-scan.json"),
                &[("/detail/scan-status", Some(json!("FAILED")))],
            ),
            &[],
        ),
    ];
    let untag = || sample_event("setting-changed-untag-resource.json");
    for call in SettingCall::ALL {
        let name = call.as_str();
        let sample = match call {
            SettingCall::TagResource | SettingCall::UntagResource => untag(),
            _ => put(),
        };
        cases.push((
            format!("{name} call"),
            edited(sample, &[("/detail/eventName", Some(json!(name)))]),
            &[SETTING],
        ));
    }
    for rule in [CREATED, SETTING, SYNC, SCAN] {
        assert!(
            cases
                .iter()
                .any(|(_, _, expected)| expected.contains(&rule)),
            "{rule} has a case that matches"
        );
    }

    let env = TestEnv::new().await;
    let router = Router::create(&env, &rules).await;
    let events: Vec<Value> = cases.iter().map(|(_, event, _)| event.clone()).collect();
    let ids = emit(&env, &events).await;
    let delivered = router
        .receive(Duration::from_secs(2), Duration::from_secs(30))
        .await;
    let mut selected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rule, event) in &delivered {
        let id = event["id"]
            .as_str()
            .expect("delivered events have an id")
            .to_owned();
        assert!(
            selected.entry(id).or_default().insert(rule.clone()),
            "{rule} delivered one event twice"
        );
    }
    let mut wrong = Vec::new();
    for ((case, _, expected), id) in cases.iter().zip(&ids) {
        let actual: BTreeSet<String> = selected.remove(id).unwrap_or_default();
        let expected: BTreeSet<String> = expected.iter().map(|rule| (*rule).to_owned()).collect();
        if actual != expected {
            wrong.push(format!(
                "{case}: selected by {actual:?}, expected {expected:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(selected.is_empty(), "events nobody emitted: {selected:?}");

    // Every event a rule delivers is one the function parses to work or an acknowledgement.
    for (rule, event) in &delivered {
        let invocation = HardenInvocation::from_payload(event).unwrap_or_else(|error| {
            panic!("{rule} delivered an event the function refuses: {error}")
        });
        let acts = match rule.as_str() {
            CREATED => matches!(invocation, HardenInvocation::RepositoryCreated(_)),
            SETTING => matches!(invocation, HardenInvocation::SettingChanged(_)),
            SCAN => matches!(invocation, HardenInvocation::ImageScanned(_)),
            _ => matches!(invocation, HardenInvocation::PullThroughCacheAction(_)),
        };
        assert!(acts, "{rule}: {invocation:?}");
    }
}

/// `PutEvents` cannot forge an AWS service's event: EventBridge refuses `aws.` sources.
#[tokio::test]
async fn put_events_refuses_aws_sources() {
    let env = TestEnv::new().await;
    let event = sample_event("setting-changed-put-lifecycle-policy.json");
    let answer = eventbridge(
        &env,
        "PutEvents",
        json!({"Entries": [
            {"Source": "aws.ecr", "DetailType": event["detail-type"], "Detail": event["detail"].to_string()},
            {"Source": "com.example.platform", "DetailType": "Drill", "Detail": "{}"},
        ]}),
    )
    .await;
    assert_eq!(answer["FailedEntryCount"], 1, "{answer}");
    assert_eq!(
        answer["Entries"][0]["ErrorCode"],
        "NotAuthorizedForSourceException"
    );
    assert!(answer["Entries"][1]["EventId"].is_string(), "{answer}");
}
