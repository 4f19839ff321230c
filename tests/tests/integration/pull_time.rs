//! Honest pull times, end to end on the emulator: the sweep of `harden-repository` registers the
//! pre-warm role as a pull-time update exclusion once, a second sweep only lists, and another
//! team's exclusion is left as it was.

use std::sync::Arc;

use ptc_ops::harden_repository::HardenReport;
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::MetricsSink;
use ptc_ops_tests::{assert_calls_permitted, Call, TestEnv};
use serde_json::json;

const PREWARM_ROLE: &str = "arn:aws:iam::123456789012:role/ptc-ops-PrewarmImagesRole-1A2B3C";
const OTHER_TEAM: &str = "arn:aws:iam::123456789012:role/platform-scanner";

const CONFIG: &str = r#"
[hardening]
prefixes = ["docker-hub"]
creation_templates = "off"
registry_scanning = "off"
"#;

fn context(env: &TestEnv, extra: &str) -> Arc<FunctionContext> {
    let config = env.config(&format!("{CONFIG}{extra}"));
    Arc::new(
        env.function_context("harden-repository", config)
            .with_metrics_sink(MetricsSink::captured())
            .with_prewarm_role(Some(PREWARM_ROLE)),
    )
}

async fn exclusions(env: &TestEnv) -> Vec<String> {
    env.ecr()
        .list_pull_time_update_exclusions()
        .send()
        .await
        .expect("exclusions")
        .pull_time_update_exclusions()
        .to_vec()
}

fn exclusion_calls(calls: &[Call]) -> Vec<&str> {
    calls
        .iter()
        .map(|call| call.operation.as_str())
        .filter(|operation| operation.contains("PullTimeUpdateExclusion"))
        .collect()
}

fn count(report: &HardenReport, name: &str) -> Option<u64> {
    report.summary.get(name).copied()
}

#[tokio::test]
async fn a_sweep_excludes_the_prewarm_role_once_and_leaves_other_exclusions() {
    let env = TestEnv::new().await;
    env.ecr()
        .register_pull_time_update_exclusion()
        .principal_arn(OTHER_TEAM)
        .send()
        .await
        .expect("another team's exclusion");
    env.clear_calls().await;

    let context = context(&env, "");
    let report = ptc_ops_tests::invoke::harden(&context, json!({"sweep": true})).await;
    let calls = env.calls().await;
    assert_eq!(
        exclusion_calls(&calls),
        [
            "ListPullTimeUpdateExclusions",
            "RegisterPullTimeUpdateExclusion"
        ],
        "{report:#?}"
    );
    assert_eq!(count(&report, "pull_time_exclusion_registered"), Some(1));
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let mut expected = vec![OTHER_TEAM.to_owned(), PREWARM_ROLE.to_owned()];
    expected.sort();
    assert_eq!(exclusions(&env).await, expected);
    assert_calls_permitted(&env, ptc_ops::harden_repository::permissions::PERMISSIONS).await;

    env.clear_calls().await;
    let again = ptc_ops_tests::invoke::harden(&context, json!({"sweep": true})).await;
    assert_eq!(
        exclusion_calls(&env.calls().await),
        ["ListPullTimeUpdateExclusions"],
        "a second sweep only lists: {again:#?}"
    );
    assert_eq!(count(&again, "pull_time_exclusion_registered"), Some(0));
    assert_eq!(count(&again, "pull_time_exclusion_present"), Some(1));
    assert_eq!(exclusions(&env).await, expected, "nothing was removed");
}

#[tokio::test]
async fn turned_off_the_sweep_asks_nothing_about_exclusions() {
    let env = TestEnv::new().await;
    env.clear_calls().await;
    let context = context(&env, "[prewarm]\nexclude_from_pull_time = false\n");
    let report = ptc_ops_tests::invoke::harden(&context, json!({"sweep": true})).await;
    assert_eq!(
        exclusion_calls(&env.calls().await),
        Vec::<&str>::new(),
        "{report:#?}"
    );
    assert_eq!(count(&report, "pull_time_exclusion_registered"), None);
    assert!(exclusions(&env).await.is_empty());
}
