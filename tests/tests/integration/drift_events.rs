//! Drift events end to end on the emulator: a CloudTrail record of someone's setting call
//! reaches harden-repository's real entry point, which re-hardens the repository when it is
//! managed, alerts on what it restores, and acknowledges everything else without a write.

use std::sync::{Arc, Once};

use ptc_ops::domain::Severity;
use ptc_ops::harden_repository::HardenReport;
use ptc_ops::lambda::FunctionContext;
use ptc_ops_tests::{report_json, sample_event, Rows, TestEnv};
use serde_json::{json, Value};

const PROFILE: &str = r#"
[hardening]
prefixes = ["docker-hub", "k8s"]

[hardening.default]
scan_on_push = true
lifecycle_policy = '''{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}}]}'''
tags = { managed-by = "ecr-ptc-ops", cost-center = "platform" }
"#;

const HAND_MADE_LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"description":"keep 5 images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;

const ALICE: &str = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_PlatformAdmin_5f2b7c9e1a3d4e6f/alice@example.com";
/// The role the tests give the function (`PTC_FUNCTION_ROLE_ARN`), in an account no test uses.
const OWN_ROLE: &str = "arn:aws:iam::999999999999:role/ptc-ops-harden-repository-role";

/// One value for the whole test binary: the variable is process-wide, and only events whose
/// caller is this role are affected by it.
fn own_role_is_known() {
    static SET: Once = Once::new();
    SET.call_once(|| std::env::set_var(ptc_ops::env::PTC_FUNCTION_ROLE_ARN, OWN_ROLE));
}

fn context(env: &TestEnv) -> Arc<FunctionContext> {
    own_role_is_known();
    ptc_ops_tests::invoke::captured_context(env, "harden-repository", env.config(PROFILE))
}

async fn invoke(context: &Arc<FunctionContext>, payload: Value) -> HardenReport {
    ptc_ops_tests::invoke::harden(context, payload).await
}

/// The sample record of `file` about `repository` (by name, or by ARN for the tag calls).
fn drift_event(env: &TestEnv, file: &str, repository: &str) -> Value {
    let mut event = sample_event(file);
    event["account"] = json!(env.account_id);
    event["region"] = json!(env.region);
    let parameters = &mut event["detail"]["requestParameters"];
    if parameters.get("resourceArn").is_some() {
        parameters["resourceArn"] = json!(format!(
            "arn:aws:ecr:{}:{}:repository/{repository}",
            env.region, env.account_id
        ));
    } else {
        parameters["repositoryName"] = json!(repository);
    }
    event
}

async fn create_repository(env: &TestEnv, name: &str) {
    env.ecr()
        .create_repository()
        .repository_name(name)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot create `{name}`: {error:?}"));
}

async fn lifecycle(env: &TestEnv, name: &str) -> Option<Value> {
    env.ecr()
        .get_lifecycle_policy()
        .repository_name(name)
        .send()
        .await
        .ok()
        .and_then(|output| output.lifecycle_policy_text)
        .map(|text| serde_json::from_str(&text).expect("lifecycle policy is JSON"))
}

fn operations(calls: &[ptc_ops_tests::Call]) -> Vec<&str> {
    calls.iter().map(|call| call.operation.as_str()).collect()
}

#[tokio::test]
async fn a_hand_made_lifecycle_policy_is_restored_and_the_person_named() {
    let env = TestEnv::new().await;
    let context = context(&env);
    let name = "docker-hub/library/nginx";
    create_repository(&env, name).await;
    invoke(&context, json!({"repositories": [name]})).await;
    let hardened = lifecycle(&env, name).await.expect("hardened");

    env.ecr()
        .put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(HAND_MADE_LIFECYCLE)
        .send()
        .await
        .expect("a person's change");
    env.clear_calls().await;
    let report = invoke(
        &context,
        drift_event(&env, "setting-changed-put-lifecycle-policy.json", name),
    )
    .await;

    assert_eq!(lifecycle(&env, name).await, Some(hardened), "restored");
    let writes = env.write_calls().await;
    assert_eq!(
        operations(&writes),
        ["PutLifecyclePolicy"],
        "only what differs"
    );
    let trigger = &report_json(&report)["trigger"];
    assert_eq!(trigger["event"], "setting-changed", "{trigger:#}");
    assert_eq!(trigger["call"], "PutLifecyclePolicy");
    assert_eq!(trigger["setting"], "lifecycle_policy");
    assert_eq!(trigger["repository"], name);
    assert_eq!(trigger["changed_by"], ALICE);
    assert!(!serde_json::to_string(&report)
        .expect("report JSON")
        .contains("ASIA4EXAMPLE"));
    assert_eq!(report.summary["settings_changed"], 1);
    let alerts: Vec<_> = report
        .findings
        .iter()
        .filter(|finding| finding.title.contains("was restored"))
        .collect();
    assert_eq!(alerts.len(), 1, "{:#?}", report.findings);
    let alert = alerts[0];
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(alert.resource, name);
    assert_eq!(
        alert.title,
        format!("`lifecycle_policy` of `{name}` changed by `{ALICE}` was restored")
    );
    assert!(
        alert.message.contains("called `PutLifecyclePolicy`")
            && alert.message.contains("keep 5 images")
            && alert.message.contains("untagged"),
        "{}",
        alert.message
    );

    // The function's own write comes back as a record too: it finds the repository in shape.
    env.clear_calls().await;
    let mut own = drift_event(&env, "setting-changed-put-lifecycle-policy.json", name);
    own["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
        json!("arn:aws:iam::123456789012:role/another-deployment-of-ptc-ops");
    let report = invoke(&context, own).await;
    assert!(env.write_calls().await.is_empty(), "no loop");
    assert_eq!(report.summary["repositories_compliant"], 1);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

/// Outside text in a lifecycle rule description, meant to format chat.
const HOSTILE_DESCRIPTION: &str = "[x](https://evil.example) @here `tick";

/// What `text` would render as a link, a heading or HTML in CommonMark.
fn chat_constructs(text: &str) -> Vec<String> {
    use pulldown_cmark::{Event, Parser, Tag};
    Parser::new(text)
        .filter(|event| {
            matches!(
                event,
                Event::Start(Tag::Link { .. } | Tag::Heading { .. } | Tag::HtmlBlock)
                    | Event::InlineHtml(_)
                    | Event::Html(_)
            )
        })
        .map(|event| format!("{event:?}"))
        .collect()
}

#[tokio::test]
async fn a_rule_description_meant_as_a_link_is_shown_in_chat_not_linked() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    own_role_is_known();
    let config = env.config(&format!(
        "{PROFILE}\n[alerts]\ntopic_arn = \"{}\"\nmin_severity = \"warning\"\n",
        inbox.topic_arn
    ));
    let context = ptc_ops_tests::invoke::captured_context(&env, "harden-repository", config);
    let name = "docker-hub/library/redis";
    create_repository(&env, name).await;
    invoke(&context, json!({"repositories": [name]})).await;
    inbox.drain(std::time::Duration::from_secs(1)).await;

    let hand_made = json!({"rules": [{
        "rulePriority": 1,
        "description": HOSTILE_DESCRIPTION,
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
        "action": {"type": "expire"}
    }]});
    env.ecr()
        .put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(hand_made.to_string())
        .send()
        .await
        .expect("another writer's change");
    let report = invoke(
        &context,
        drift_event(&env, "setting-changed-put-lifecycle-policy.json", name),
    )
    .await;

    // The report keeps the value as it was written.
    assert!(
        report
            .findings
            .iter()
            .any(|finding| finding.message.contains(HOSTILE_DESCRIPTION)),
        "{:#?}",
        report.findings
    );
    let delivered = inbox.receive(1, std::time::Duration::from_secs(10)).await;
    let alert = delivered
        .iter()
        .find(|alert| alert.message["metadata"]["threadId"] == format!("ecr-ptc-ops/{name}"))
        .unwrap_or_else(|| panic!("no alert about `{name}`: {delivered:?}"));
    let content = &alert.message["content"];
    let mut fields = vec![&content["title"], &content["description"]];
    fields.extend(content["nextSteps"].as_array().expect("next steps"));
    for field in fields {
        let text = field.as_str().expect("text");
        assert!(
            chat_constructs(text).is_empty(),
            "{:?} in {text:?}",
            chat_constructs(text)
        );
    }
    let description = content["description"].as_str().expect("description");
    assert!(
        description.contains("was restored") && description.contains("evil.example"),
        "the restoration and the description are both shown: {description}"
    );
    for link_or_mention in ["https://evil.example", "@here"] {
        assert!(
            !alert.raw_message.contains(link_or_mention),
            "{link_or_mention} in {}",
            alert.raw_message
        );
    }
}

#[tokio::test]
async fn untagging_by_arn_is_undone() {
    let env = TestEnv::new().await;
    let context = context(&env);
    let name = "k8s/pause";
    create_repository(&env, name).await;
    invoke(&context, json!({"repositories": [name]})).await;
    let arn = format!(
        "arn:aws:ecr:{}:{}:repository/{name}",
        env.region, env.account_id
    );
    env.ecr()
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("cost-center")
        .send()
        .await
        .expect("untagged");
    env.clear_calls().await;
    let report = invoke(
        &context,
        drift_event(&env, "setting-changed-untag-resource.json", name),
    )
    .await;
    assert_eq!(operations(&env.write_calls().await), ["TagResource"]);
    let alert = report
        .findings
        .iter()
        .find(|finding| finding.title.contains("was restored"))
        .expect("an alert");
    assert!(
        alert
            .title
            .contains("`tags` of `k8s/pause` changed by `arn:aws:sts::123456789012:assumed-role/platform-terraform/terraform-apply`"),
        "{}",
        alert.title
    );
    assert_eq!(alert.resource_arn.as_deref(), Some(arn.as_str()));
}

/// Every case is answered with a report saying why, makes no write and is not an error.
#[tokio::test]
async fn drift_events_that_ask_for_nothing_are_acknowledged() {
    let env = TestEnv::new().await;
    let context = context(&env);
    let managed = "docker-hub/library/nginx";
    let unmanaged = "team/payments-api";
    create_repository(&env, managed).await;
    create_repository(&env, unmanaged).await;
    env.ecr()
        .put_lifecycle_policy()
        .repository_name(unmanaged)
        .lifecycle_policy_text(HAND_MADE_LIFECYCLE)
        .send()
        .await
        .expect("the team's own policy");
    let put = "setting-changed-put-lifecycle-policy.json";
    let mut own_role = drift_event(&env, put, managed);
    own_role["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(OWN_ROLE);
    let mut no_parameters = drift_event(&env, put, managed);
    no_parameters["detail"]["requestParameters"] = Value::Null;
    let mut other_call = drift_event(&env, put, managed);
    other_call["detail"]["eventName"] = json!("DeleteRepository");
    let cases = [
        (
            "the function's own role",
            own_role,
            "made by this function's own role",
            false,
        ),
        (
            "a failed call",
            drift_event(
                &env,
                "setting-changed-put-lifecycle-policy-failed.json",
                managed,
            ),
            "call failed with",
            false,
        ),
        (
            "no requestParameters",
            no_parameters,
            "`detail.requestParameters` is missing",
            false,
        ),
        (
            "a call outside the list",
            other_call,
            "is not an event harden-repository acts on",
            false,
        ),
        (
            "an unmanaged repository",
            drift_event(&env, put, unmanaged),
            "outside the managed prefixes",
            false,
        ),
        (
            "a repository that no longer exists",
            drift_event(
                &env,
                "setting-changed-delete-repository-policy.json",
                "k8s/gone",
            ),
            "not-found",
            true,
        ),
    ];
    let mut rows = Rows::new("ignored setting calls");
    for (case, event, why, reads) in cases {
        rows.check(case, async {
            env.clear_calls().await;
            let report = invoke(&context, event).await;
            let calls = env.calls().await;
            assert!(
                calls.iter().all(|call| !call.is_write()),
                "{case}: {calls:?}"
            );
            assert_eq!(!calls.is_empty(), reads, "{case}: {calls:?}");
            let text = serde_json::to_string(&report).expect("report JSON");
            assert!(text.contains(why), "{case}: {why:?} not in {text}");
            assert!(
                report
                    .findings
                    .iter()
                    .all(|f| f.severity < Severity::Warning),
                "{case}: {:#?}",
                report.findings
            );
        })
        .await;
    }
    rows.assert_all_passed();
    assert_eq!(
        lifecycle(&env, unmanaged).await,
        Some(serde_json::from_str(HAND_MADE_LIFECYCLE).expect("JSON")),
        "an unmanaged repository keeps its own policy"
    );
}

/// Event to compliant, measured (not asserted): a hand-made lifecycle policy, its CloudTrail
/// record routed by the template's `SettingChanged` rule through the emulator's EventBridge to a
/// queue, handed to the function, the repository compliant again. Prints the median of 20 and
/// the calls each event cost. `cargo test -p ptc-ops-tests --test integration -- --ignored
/// --nocapture drift_events::measure`.
#[tokio::test]
#[ignore = "a measurement, run on demand"]
async fn measure_event_to_compliant() {
    use ptc_ops_tests::eventbridge::{emit, template_rules, Router};
    use std::time::{Duration, Instant};

    let env = TestEnv::new().await;
    let context = context(&env);
    let name = "docker-hub/library/nginx";
    create_repository(&env, name).await;
    invoke(&context, json!({"repositories": [name]})).await;
    let hardened = lifecycle(&env, name).await;
    let rules: Vec<_> = template_rules()
        .into_iter()
        .filter(|rule| rule.function == "HardenRepositoryFunction")
        .collect();
    let router = Router::create(&env, &rules).await;
    let mut elapsed = Vec::new();
    let mut calls_per_event = Vec::new();
    for _ in 0..20 {
        env.ecr()
            .put_lifecycle_policy()
            .repository_name(name)
            .lifecycle_policy_text(HAND_MADE_LIFECYCLE)
            .send()
            .await
            .expect("a person's change");
        env.clear_calls().await;
        let record = drift_event(&env, "setting-changed-put-lifecycle-policy.json", name);
        let started = Instant::now();
        emit(&env, &[record]).await;
        let delivered = router
            .receive(Duration::from_millis(1), Duration::from_secs(10))
            .await;
        let (rule, event) = delivered.into_iter().next().expect("delivered");
        assert_eq!(rule, "SettingChanged");
        let report = invoke(&context, event).await;
        elapsed.push(started.elapsed());
        assert_eq!(report.summary["settings_changed"], 1);
        let calls: Vec<_> = env
            .calls()
            .await
            .into_iter()
            .filter(|call| call.service == "ecr")
            .collect();
        calls_per_event.push((
            calls.iter().filter(|call| !call.is_write()).count(),
            calls.iter().filter(|call| call.is_write()).count(),
        ));
        assert_eq!(lifecycle(&env, name).await, hardened);
    }
    elapsed.sort();
    println!(
        "event to compliant over {} events: median {:?}, min {:?}, max {:?}; ECR calls per event (reads, writes): {:?}",
        elapsed.len(),
        elapsed[elapsed.len() / 2],
        elapsed[0],
        elapsed[elapsed.len() - 1],
        calls_per_event.iter().collect::<std::collections::BTreeSet<_>>()
    );
}

/// Another automation changes the same lifecycle policy six times: three restorations, then
/// one critical alert naming the caller and the setting, and no more restorations in the
/// window. Chat gets the first restoration and the critical alert (the two restorations
/// between are repeats, held back); each drift event costs at most two state calls.
#[tokio::test]
async fn another_writer_is_stopped_being_fought_after_three_restorations() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let table = env.create_state_table().await;
    let config = env.config(&format!(
        "[alerts]\ntopic_arn = \"{}\"\n{PROFILE}",
        inbox.topic_arn
    ));
    let context = Arc::new(
        env.function_context_with_state("harden-repository", config, &table)
            .with_metrics_sink(ptc_ops::metrics::MetricsSink::captured()),
    );
    let name = "docker-hub/library/nginx";
    create_repository(&env, name).await;
    invoke(&context, json!({"repositories": [name]})).await;
    let hardened = lifecycle(&env, name).await.expect("hardened");
    const AUTOMATION: &str = "arn:aws:iam::123456789012:role/nightly-cleanup";
    let mut restored = Vec::new();
    let mut state_calls = Vec::new();
    let mut critical = Vec::new();
    let mut replaced = Vec::new();
    for _ in 0..6 {
        env.ecr()
            .put_lifecycle_policy()
            .repository_name(name)
            .lifecycle_policy_text(HAND_MADE_LIFECYCLE)
            .send()
            .await
            .expect("the automation's change");
        let mut record = drift_event(&env, "setting-changed-put-lifecycle-policy.json", name);
        record["detail"]["userIdentity"]["arn"] =
            json!("arn:aws:sts::123456789012:assumed-role/nightly-cleanup/run");
        record["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
            json!(AUTOMATION);
        env.clear_calls().await;
        let report = invoke(&context, record).await;
        restored.push(lifecycle(&env, name).await == Some(hardened.clone()));
        state_calls.push(
            env.calls()
                .await
                .iter()
                .filter(|call| call.service == "dynamodb")
                .count(),
        );
        replaced.push(
            report
                .findings
                .iter()
                .filter(|finding| finding.title.contains("replaced"))
                .count(),
        );
        critical.extend(
            report
                .findings
                .iter()
                .filter(|finding| finding.severity == Severity::Critical)
                .map(|finding| finding.title.clone()),
        );
    }
    assert_eq!(restored, [true, true, true, false, false, false]);
    // What is not written replaces nothing: no "policy replaced" warning once left alone.
    assert!(
        replaced.iter().skip(3).all(|n| *n == 0),
        "a policy left alone is not reported as replaced: {replaced:?}"
    );
    assert_eq!(critical.len(), 1, "{critical:#?}");
    assert!(
        critical[0].contains("`lifecycle_policy`") && critical[0].contains("nightly-cleanup"),
        "{}",
        critical[0]
    );
    println!("state calls per drift event: {state_calls:?}");
    assert_eq!(
        state_calls[0], 2,
        "a first restoration: the window, the alert"
    );
    assert!(state_calls.iter().all(|&n| n <= 4), "{state_calls:?}");

    let delivered = inbox.receive(2, std::time::Duration::from_secs(10)).await;
    let severities: Vec<_> = delivered
        .iter()
        .map(|alert| {
            alert
                .attributes
                .get("severity")
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(severities, ["warning", "critical"], "{delivered:#?}");
    let more = inbox.drain(std::time::Duration::from_secs(2)).await;
    assert!(more.is_empty(), "{more:#?}");
}

/// Terraform owns the lifecycle policy of a repository: its change is acknowledged and not
/// restored, the sweep leaves the value too (naming Terraform), and once someone else changes
/// the setting again it is restored as usual.
#[tokio::test]
async fn a_terraform_change_is_accepted_until_the_setting_changes_again() {
    const TERRAFORM: &str = "arn:aws:iam::123456789012:role/terraform-apply";
    let env = TestEnv::new().await;
    let table = env.create_state_table().await;
    let config = env.config(&format!(
        "{PROFILE}\n[hardening.drift]\nignore_callers = [\"{TERRAFORM}\"]\n"
    ));
    let context = Arc::new(
        env.function_context_with_state("harden-repository", config, &table)
            .with_metrics_sink(ptc_ops::metrics::MetricsSink::captured()),
    );
    let name = "docker-hub/library/nginx";
    create_repository(&env, name).await;
    invoke(&context, json!({"repositories": [name]})).await;
    let hardened = lifecycle(&env, name).await.expect("hardened");
    let put = |text: &'static str| {
        let ecr = env.ecr().clone();
        async move {
            ecr.put_lifecycle_policy()
                .repository_name(name)
                .lifecycle_policy_text(text)
                .send()
                .await
                .expect("a change");
        }
    };
    let titles = |report: &HardenReport| -> Vec<String> {
        report
            .findings
            .iter()
            .map(|finding| finding.title.clone())
            .collect()
    };

    put(HAND_MADE_LIFECYCLE).await;
    let mut record = drift_event(&env, "setting-changed-put-lifecycle-policy.json", name);
    record["detail"]["userIdentity"]["arn"] =
        json!("arn:aws:sts::123456789012:assumed-role/terraform-apply/ci");
    record["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(TERRAFORM);
    env.clear_calls().await;
    let report = invoke(&context, record).await;
    let ecr_writes: Vec<_> = env
        .write_calls()
        .await
        .into_iter()
        .filter(|call| call.service == "ecr")
        .collect();
    assert!(ecr_writes.is_empty(), "{ecr_writes:?}");
    let accepted = lifecycle(&env, name).await;
    assert_ne!(accepted, Some(hardened.clone()), "left as Terraform set it");
    assert!(
        titles(&report)
            .iter()
            .any(|title| title.contains("accepted, not restored")),
        "{:#?}",
        report.findings
    );

    let swept = invoke(&context, json!({"sweep": true})).await;
    assert_eq!(
        lifecycle(&env, name).await,
        accepted,
        "the sweep leaves it too"
    );
    assert!(
        titles(&swept)
            .iter()
            .any(|title| title.contains(&format!("left as `{TERRAFORM}` set it"))),
        "{:#?}",
        swept.findings
    );

    // Someone else changes it: the acceptance is over, the profile's value is back.
    put(r#"{"rules":[{"rulePriority":1,"description":"keep 9","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":9},"action":{"type":"expire"}}]}"#).await;
    invoke(
        &context,
        drift_event(&env, "setting-changed-put-lifecycle-policy.json", name),
    )
    .await;
    assert_eq!(lifecycle(&env, name).await, Some(hardened), "restored");
}
