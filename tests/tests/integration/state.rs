//! The state store's DynamoDB adapter against the emulator's DynamoDB: the conditional writes
//! that decide who alerts, the clock checked against `expires_at`, and the calls each costs.

use chrono::{DateTime, Duration};
use futures::future::join_all;
use ptc_ops::aws::state::DynamoState;
use ptc_ops::domain::Severity;
use ptc_ops::ports::{AlertClaim, AlertDecision};
use ptc_ops_tests::TestEnv;

fn claim(key: &str, severity: Severity, minutes: i64) -> AlertClaim {
    let now =
        DateTime::from_timestamp(1_800_000_000, 0).expect("a time") + Duration::minutes(minutes);
    AlertClaim {
        key: key.to_owned(),
        severity,
        now,
        window_ends_at: now + Duration::minutes(60),
    }
}

/// A state adapter on `table`, as a second process would build one: its own clients.
async fn store(env: &TestEnv, table: &str) -> DynamoState {
    env.clients
        .clone()
        .with_state_table(Some(table.to_owned()))
        .state_store()
        .expect("a table was given")
}

async fn dynamodb_calls(env: &TestEnv) -> Vec<String> {
    env.calls()
        .await
        .into_iter()
        .filter(|call| call.service == "dynamodb")
        .map(|call| call.operation)
        .collect()
}

async fn decide(store: &DynamoState, claim: &AlertClaim) -> AlertDecision {
    store
        .claim_alert(claim)
        .await
        .unwrap_or_else(|error| panic!("claim of `{}` failed: {error}", claim.key))
}

/// Send, hold, hold, then after the window send again saying how many were held back; an
/// expired record that DynamoDB has not deleted yet (it never deletes at once) counts as absent.
#[tokio::test]
async fn an_alert_is_held_back_within_its_window_and_counted() {
    let env = TestEnv::new().await;
    let table = env.create_state_table().await;
    let store = store(&env, &table).await;
    let key = "alert#ecr-ptc-ops/docker-hub/library/nginx#upstream-pull#docker-hub/library/nginx";
    env.clear_calls().await;

    let first = decide(&store, &claim(key, Severity::Warning, 0)).await;
    assert_eq!(first, AlertDecision::Send { held_back: 0 });
    assert_eq!(
        dynamodb_calls(&env).await,
        ["UpdateItem"],
        "a send costs one call"
    );

    let sent_at = claim(key, Severity::Warning, 0).now;
    for minute in [5, 30] {
        let decision = decide(&store, &claim(key, Severity::Warning, minute)).await;
        assert_eq!(decision, AlertDecision::Hold { sent_at });
    }
    assert_eq!(
        dynamodb_calls(&env).await.len(),
        1 + 2 * 2,
        "a hold costs two calls"
    );

    // 61 minutes on, the record is still in the table, but expired.
    let after = decide(&store, &claim(key, Severity::Warning, 61)).await;
    assert_eq!(after, AlertDecision::Send { held_back: 2 });
    // A critical alert of the same kind is worse than the warning sent: it goes out.
    let worse = decide(&store, &claim(key, Severity::Critical, 62)).await;
    assert_eq!(worse, AlertDecision::Send { held_back: 0 });
    let again = decide(&store, &claim(key, Severity::Critical, 63)).await;
    assert!(matches!(again, AlertDecision::Hold { .. }), "{again:?}");
}

/// Two invocations alert on the same thing at the same moment, many times over: each time
/// exactly one of them sends.
#[tokio::test]
async fn of_two_racing_invocations_exactly_one_sends() {
    let env = TestEnv::new().await;
    let table = env.create_state_table().await;
    let (first, second) = (store(&env, &table).await, store(&env, &table).await);
    let claims: Vec<AlertClaim> = (0..16)
        .map(|n| {
            claim(
                &format!("alert#race-{n}#upstream-pull#race-{n}"),
                Severity::Critical,
                0,
            )
        })
        .collect();
    let races = claims.iter().map(|claim| async {
        let (a, b) = futures::join!(first.claim_alert(claim), second.claim_alert(claim));
        (
            claim.key.clone(),
            a.expect("first answered"),
            b.expect("second answered"),
        )
    });
    for (key, a, b) in join_all(races).await {
        let n_sent = [a, b]
            .iter()
            .filter(|decision| matches!(decision, AlertDecision::Send { .. }))
            .count();
        assert_eq!(n_sent, 1, "`{key}`: {a:?} and {b:?}");
    }
}

/// A table that does not exist is an error naming the call and the table, never a panic and
/// never a silent "send".
#[tokio::test]
async fn a_missing_table_is_an_error_naming_it() {
    let env = TestEnv::new().await;
    let store = store(&env, "ptc-ops-state-missing").await;
    let error = store
        .claim_alert(&claim("alert#x#y#z", Severity::Warning, 0))
        .await
        .expect_err("no such table");
    let text = error.to_string();
    assert!(
        text.contains("dynamodb:UpdateItem") && text.contains("ptc-ops-state-missing"),
        "{text}"
    );
    assert!(error.is_code("ResourceNotFoundException"), "{text}");
}

/// The benchmark's state side on the emulator: a sweep of bare repositories reads the flap
/// limit once per drifted repository and counts nothing; the next sweep, with the registry
/// compliant, makes no state call at all.
#[tokio::test]
async fn a_compliant_sweep_makes_no_state_call() {
    let env = TestEnv::new().await;
    let table = env.create_state_table().await;
    let names = ["ghcr/a/app", "ghcr/b/app", "ghcr/c/app", "ghcr/d/app"];
    for name in names {
        env.ecr()
            .create_repository()
            .repository_name(name)
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot create `{name}`: {error:?}"));
    }
    let config = env.config(
        r#"
[hardening]
prefixes = ["ghcr"]
creation_templates = "off"
registry_scanning = "off"

[hardening.default]
tags = { managed-by = "ecr-ptc-ops" }
lifecycle_policy = "lifecycle/default.json"
"#,
    );
    let context = std::sync::Arc::new(
        env.function_context_with_state("harden-repository", config, &table)
            .with_metrics_sink(ptc_ops::metrics::MetricsSink::captured()),
    );
    let mut per_pass = Vec::new();
    for _ in 0..2 {
        env.clear_calls().await;
        let report =
            ptc_ops_tests::invoke::harden(&context, serde_json::json!({"sweep": true})).await;
        let state_calls = dynamodb_calls(&env).await.len();
        let written = report.summary.get("settings_changed").copied().unwrap_or(0);
        per_pass.push((written, state_calls));
    }
    println!("sweeps (settings written, state calls): {per_pass:?}");
    assert_eq!(
        per_pass[0],
        (8, 4),
        "one read per drifted repository: the sweep respects the flap limit, it does not count"
    );
    assert_eq!(per_pass[1], (0, 0), "a compliant sweep makes no state call");
}

/// A sweep's look at the flap limit is one `BatchGetItem`: the keys whose live window counts
/// `max` restorations or more, never a window that is over or below the limit, or a missing one.
#[tokio::test]
async fn the_windows_at_the_limit_are_read_in_one_call() {
    use ptc_ops::ports::{RestorationClaim, RestorationDecision};

    let env = TestEnv::new().await;
    let table = env.create_state_table().await;
    let store = store(&env, &table).await;
    let now = DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
    let restore = |key: &str, at: DateTime<chrono::Utc>| RestorationClaim {
        key: key.to_owned(),
        now: at,
        window_ends_at: at + Duration::minutes(60),
        max_restorations: 2,
    };
    let at_limit = "restorations#docker-hub/library/nginx#lifecycle_policy";
    let below = "restorations#docker-hub/library/nginx#tags";
    let over = "restorations#docker-hub/library/alpine#lifecycle_policy";
    for _ in 0..2 {
        let decision = store
            .count_restoration(&restore(at_limit, now))
            .await
            .expect("counted");
        assert!(matches!(decision, RestorationDecision::Restore { .. }));
    }
    store
        .count_restoration(&restore(below, now))
        .await
        .expect("counted");
    for _ in 0..3 {
        store
            .count_restoration(&restore(over, now - Duration::minutes(120)))
            .await
            .expect("counted");
    }
    env.clear_calls().await;
    let keys: Vec<String> = [at_limit, below, over, "restorations#never#tags"]
        .map(str::to_owned)
        .to_vec();
    let found = store
        .restorations_at_limit(&keys, 2, now + Duration::minutes(5))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        found,
        vec![at_limit.to_owned()],
        "only the live window at the limit"
    );
    assert_eq!(dynamodb_calls(&env).await, ["BatchGetItem"]);
    assert!(store
        .restorations_at_limit(&[], 2, now)
        .await
        .expect("no keys")
        .is_empty());
}
