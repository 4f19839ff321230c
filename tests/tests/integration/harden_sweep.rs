//! harden-repository's sweep at its limits on the emulator: the shipped configuration over a
//! whole registry, a sweep short of time hands the rest on, a failed hand-off is alerted, a
//! throttling storm slows it without failures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::Context;
use ptc_ops::deadline::Deadline;
use ptc_ops::events::{HardenInvocation, HardenRequest};
use ptc_ops::harden_repository::START_RESERVE;
use ptc_ops::lambda::FunctionContext;
use ptc_ops::ports::AwsError;
use ptc_ops::ports::HandOff;
use ptc_ops_tests::invoke;
use ptc_ops_tests::{report_json, Fault, FaultKind, TestEnv};
use serde_json::{json, Value};

use super::harden_repository::{
    config_file, config_text, context, count, create_repository, invoke, invoke_with,
    rules_by_priority, state, BoxFuture, PROFILE,
};

/// The configuration as shipped (`infra/config/ptc-ops.toml` and the files it names) hardens
/// cache repositories on the emulator, which refuses what ECR refuses, without one failure.
#[tokio::test]
async fn the_shipped_configuration_hardens_a_registry_without_failures() {
    let env = TestEnv::new().await;
    env.seed_standard_rules().await;
    for (repository, tag) in [("docker-hub/library/nginx", "1.27"), ("k8s/pause", "3.10")] {
        env.clients
            .registry()
            .pull_by_tag(repository, tag)
            .await
            .unwrap_or_else(|failure| panic!("pull of {repository}:{tag} failed: {failure:?}"));
    }
    let shipped =
        std::fs::read_to_string(ptc_ops_tests::repo_root().join("infra/config/ptc-ops.toml"))
            .expect("shipped configuration");
    let context = context(&env, env.config(&shipped));
    let report = invoke(&context, json!({"sweep": true})).await;
    assert_eq!(count(&report, "repositories_checked"), 2, "{report:#?}");
    assert_eq!(count(&report, "repositories_changed"), 2, "{report:#?}");
    assert_eq!(
        report.summary.get("hardening_failures"),
        Some(&0),
        "{report:#?}"
    );
    for (repository, lifecycle) in [
        ("docker-hub/library/nginx", "lifecycle/docker-hub.json"),
        ("k8s/pause", "lifecycle/default.json"),
    ] {
        let state = state(&env, repository).await;
        assert_eq!(
            state.lifecycle.as_ref().map(rules_by_priority),
            Some(rules_by_priority(&config_file(lifecycle))),
            "{repository}"
        );
        assert_eq!(state.policy, None, "no repository policy is shipped");
        assert!(state.scan_on_push, "{repository}");
    }
}

/// Remembers what a sweep handed on instead of invoking Lambda, and how many metric lines the
/// run had written by then (the hand-off must come after the run's metrics and alerts).
struct RecordingHandOff {
    context: Arc<FunctionContext>,
    fail: bool,
    requests: Mutex<Vec<(HardenRequest, usize)>>,
}

impl RecordingHandOff {
    fn new(context: &Arc<FunctionContext>, fail: bool) -> Self {
        RecordingHandOff {
            context: Arc::clone(context),
            fail,
            requests: Mutex::new(Vec::new()),
        }
    }
}

impl HandOff for RecordingHandOff {
    fn hand_off<'a>(
        &'a self,
        request: &'a HardenRequest,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        let n_metric_lines = self.context.metrics_sink().captured_lines().len();
        self.requests
            .lock()
            .expect("lock")
            .push((request.clone(), n_metric_lines));
        let fail = self.fail;
        Box::pin(async move {
            if fail {
                Err(AwsError::invalid_request(
                    "lambda:InvokeFunction",
                    None,
                    std::io::Error::other("not authorized to perform `lambda:InvokeFunction`"),
                ))
            } else {
                Ok("recorder".to_owned())
            }
        })
    }
}

fn deadline_in(duration: Duration) -> Context {
    let mut context = Context::default();
    let at = SystemTime::now() + duration;
    context.deadline = at
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    context
}

#[tokio::test]
async fn a_sweep_short_of_time_hands_the_rest_on_and_the_next_invocation_finishes_it() {
    let env = TestEnv::new().await;
    let n_repositories = 24;
    for index in 0..n_repositories {
        create_repository(&env, &format!("ghcr/sweep/app-{index:02}")).await;
    }
    // Every repository takes at least 150 ms to read: 24 at concurrency 2 need about 2 s.
    env.inject(Fault::new("GetLifecyclePolicy", FaultKind::Latency, None).latency(150))
        .await;
    let profile = PROFILE.replace("concurrency = 4", "concurrency = 2");
    let context = context(&env, config_text(&env, &profile, None));

    let first = invoke_with(
        &context,
        json!({"sweep": true}),
        deadline_in(START_RESERVE + Duration::from_millis(900)),
    )
    .await
    .expect("first part of the sweep");
    let first_checked = count(&first, "repositories_checked");
    assert!(
        first_checked < n_repositories,
        "the deadline cut it short: {first:#?}"
    );
    assert_eq!(report_json(&first)["sweep"]["complete"], false);
    let cursor = report_json(&first)["cursor"].clone();
    let last_handled = format!("ghcr/sweep/app-{:02}", first_checked - 1);
    assert_eq!(cursor["after"], json!(last_handled), "{cursor}");
    assert_eq!(cursor["link"], 1, "{cursor}");
    assert_eq!(cursor["sweep_id"], report_json(&first)["sweep"]["sweep_id"]);
    assert!(cursor["sweep_id"].is_string(), "{cursor}");
    // Created between two invocations, before the cursor: a position would now point one
    // repository early and check one twice; the name does not move.
    create_repository(&env, "ghcr/sweep/app-00a").await;
    let continuation = report_json(&first)["hand_off"]["continue_with"].clone();
    assert_eq!(
        continuation,
        json!({"sweep": true, "dry_run": false, "cursor": cursor})
    );
    assert_eq!(
        report_json(&first)["hand_off"]["handed_to"],
        Value::Null,
        "not in Lambda: nothing invoked"
    );

    let second = invoke(&context, continuation).await;
    assert_eq!(
        report_json(&second)["sweep"]["complete"],
        true,
        "{second:#?}"
    );
    assert_eq!(report_json(&second)["sweep"]["link"], 1, "{second:#?}");
    assert_eq!(
        first_checked + count(&second, "repositories_checked"),
        n_repositories,
        "each repository exactly once: {second:#?}"
    );
    env.clear_calls().await;
    let third = invoke(&context, json!({"sweep": true})).await;
    assert_eq!(
        count(&third, "repositories_compliant"),
        n_repositories,
        "nothing was lost"
    );
    assert_eq!(
        count(&third, "repositories_changed"),
        1,
        "the one created mid-sweep"
    );

    // In Lambda the same run hands on by itself, as its last step: after its metrics (and
    // alerts) are out, so an invocation that handed on has nothing left that could fail and be
    // retried into a second chain.
    let recorder = RecordingHandOff::new(&context, false);
    let invocation = HardenInvocation::from_payload(&json!({"sweep": true})).expect("sweep");
    let n_lines_before = context.metrics_sink().captured_lines().len();
    let report = invoke::harden_repository_with(
        &context,
        &invocation,
        Deadline::after(START_RESERVE + Duration::from_millis(900)),
        Some(&recorder),
    )
    .await
    .expect("sweep with hand-off");
    let requests = recorder.requests.lock().expect("lock").clone();
    assert_eq!(requests.len(), 1, "{report:#?}");
    assert_eq!(
        requests[0].0.cursor.as_ref(),
        Some(&report_json(&report)["cursor"])
    );
    assert_eq!(
        requests[0].1,
        n_lines_before + 1,
        "the run's metrics were written before the hand-off"
    );
    assert_eq!(report_json(&report)["hand_off"]["handed_to"], "recorder");
}

/// A hand-off that fails does not fail the invocation (Lambda would retry it, alerting twice
/// and perhaps starting a second chain): it is a critical finding, alerted on its own.
#[tokio::test]
async fn a_failed_hand_off_is_alerted_without_failing_the_invocation() {
    let env = TestEnv::new().await;
    for index in 0..12 {
        create_repository(&env, &format!("ghcr/handoff/app-{index:02}")).await;
    }
    env.inject(Fault::new("GetLifecyclePolicy", FaultKind::Latency, None).latency(200))
        .await;
    let inbox = env.alert_inbox().await;
    let profile = PROFILE.replace("concurrency = 4", "concurrency = 1");
    let context = context(&env, config_text(&env, &profile, Some(&inbox.topic_arn)));
    let recorder = RecordingHandOff::new(&context, true);
    let invocation = HardenInvocation::from_payload(&json!({"sweep": true})).expect("sweep");
    let report = invoke::harden_repository_with(
        &context,
        &invocation,
        Deadline::after(START_RESERVE + Duration::from_millis(700)),
        Some(&recorder),
    )
    .await
    .expect("a failed hand-off is not an invocation error");
    assert_eq!(recorder.requests.lock().expect("lock").len(), 1);
    assert_eq!(report_json(&report)["hand_off"]["handed_to"], Value::Null);
    assert!(report_json(&report)["hand_off"]["continue_with"]["cursor"].is_object());
    let handoff: Vec<_> = report
        .findings
        .iter()
        .filter(|finding| finding.resource == "harden-repository/sweep")
        .collect();
    assert_eq!(handoff.len(), 1, "{report:#?}");
    assert_eq!(handoff[0].severity, ptc_ops::domain::Severity::Critical);
    let alerts = inbox.receive(1, Duration::from_secs(10)).await;
    assert!(
        alerts.iter().any(|alert| alert.message["content"]["title"]
            .as_str()
            .is_some_and(|title| title.contains("could not hand"))),
        "{alerts:#?}"
    );
}

/// A throttling storm slows the sweep down instead of failing repositories: ECR calls are paced
/// per API (`hardening.ecr_calls_per_second`), and what ECR still throttles is retried.
#[tokio::test]
async fn a_throttling_storm_slows_the_sweep_without_failures() {
    let env = TestEnv::new().await;
    for index in 0..8 {
        create_repository(&env, &format!("ghcr/storm/app-{index:02}")).await;
    }
    env.inject(Fault::new(
        "GetLifecyclePolicy",
        FaultKind::Throttle,
        Some(12),
    ))
    .await;
    env.inject(Fault::new(
        "ListTagsForResource",
        FaultKind::Throttle,
        Some(12),
    ))
    .await;
    let profile = PROFILE.replace(
        "concurrency = 4",
        "concurrency = 8\necr_calls_per_second = 10",
    );
    let config = config_text(&env, &profile, None);
    assert_eq!(config.hardening.ecr_calls_per_second, 10);
    let context = context(&env, config);
    let report = invoke(&context, json!({"sweep": true})).await;
    assert_eq!(count(&report, "repositories_changed"), 8, "{report:#?}");
    assert_eq!(count(&report, "hardening_failures"), 0, "{report:#?}");
    let throttled = env
        .calls()
        .await
        .into_iter()
        .filter(|call| call.fault.as_deref() == Some("throttle"))
        .count();
    assert_eq!(throttled, 24, "every injected throttle was met and retried");
}
