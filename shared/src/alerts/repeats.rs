//! Alerts without storms: an alert whose thread, check and resource went out less than
//! `alerts.repeat_after_minutes` ago is held back, and the next one sent says how many were.
//!
//! The state store decides, with a conditional write per alert, so that of two invocations
//! alerting on the same thing at once exactly one sends. A more severe alert than the one sent
//! (a warning turned critical) and an alert of another check (a new kind) always go out. Without
//! a state store, or when it fails, every alert goes out: a storm is better than silence.

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use serde_json::Value;
use tracing::{info, warn};

use super::Alert;
use crate::domain::Check;
use crate::ports::AwsError;
use crate::ports::{AlertClaim, AlertDecision, StateStore};

/// What the gate let through.
#[derive(Debug, Default)]
pub struct Gated {
    /// The alerts to publish; those sent after others were held back say so.
    pub to_send: Vec<Alert>,
    pub n_held_back: usize,
    /// Why repeats were not checked, when they were not (no state table, or its failures).
    pub unchecked: Option<Unchecked>,
}

/// Why alerts went out without their repeats being checked.
#[derive(Debug)]
pub enum Unchecked {
    /// No `PTC_STATE_TABLE`: the feature is off.
    NoStateStore,
    /// The state store failed for these alerts (resource, error); they were sent.
    Failed(Vec<(String, AwsError)>),
}

/// The state key of an alert: its thread, check and resource. A rotation verdict answers one
/// change, which its description names (call, caller, time): each change gets its verdict, a
/// second delivery of the same record does not, and "verified" after a refused value within
/// the window is not held back as a repeat of the refusal.
pub fn key(alert: &Alert) -> String {
    let key = format!(
        "alert#{}#{}#{}",
        alert.thread_id, alert.check, alert.resource
    );
    if alert.check != Check::CredentialRotation {
        return key;
    }
    let description = serde_json::from_str::<Value>(&alert.message)
        .ok()
        .and_then(|message| {
            message["content"]["description"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_default();
    format!("{key}#{:016x}", fnv1a(description.as_bytes()))
}

/// FNV-1a, 64 bits: a stable digest of a text (the same in every process and release, which
/// `std`'s hasher does not promise). Not for security: it only tells two changes apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Decides which of `alerts` go out at `now`. No state call when the window is 0 or there is
/// nothing to send.
pub async fn gate(
    state: Option<&(impl StateStore + ?Sized)>,
    alerts: Vec<Alert>,
    now: DateTime<Utc>,
    repeat_after_minutes: u32,
) -> Gated {
    if repeat_after_minutes == 0 || alerts.is_empty() {
        return Gated {
            to_send: alerts,
            ..Gated::default()
        };
    }
    let Some(state) = state else {
        return Gated {
            to_send: alerts,
            n_held_back: 0,
            unchecked: Some(Unchecked::NoStateStore),
        };
    };
    let window_ends_at = now + Duration::minutes(i64::from(repeat_after_minutes));
    let claims: Vec<AlertClaim> = alerts
        .iter()
        .map(|alert| AlertClaim {
            key: key(alert),
            severity: alert.severity,
            now,
            window_ends_at,
        })
        .collect();
    let decisions = join_all(claims.iter().map(|claim| state.claim_alert(claim))).await;
    let mut gated = Gated::default();
    let mut failures = Vec::new();
    for (mut alert, decision) in alerts.into_iter().zip(decisions) {
        match decision {
            Ok(AlertDecision::Send { held_back }) => {
                info!(
                    resource = %alert.resource,
                    check = %alert.check,
                    severity = %alert.severity,
                    held_back,
                    "alert goes out: none of its kind sent within the repeat window"
                );
                if held_back > 0 {
                    note_held_back(&mut alert, held_back);
                }
                gated.to_send.push(alert);
            }
            Ok(AlertDecision::Hold { sent_at }) => {
                info!(
                    resource = %alert.resource,
                    check = %alert.check,
                    severity = %alert.severity,
                    sent_at = %sent_at.to_rfc3339(),
                    repeat_after_minutes,
                    "alert held back: the same alert was sent within the repeat window"
                );
                gated.n_held_back += 1;
            }
            Err(error) => {
                warn!(
                    resource = %alert.resource,
                    check = %alert.check,
                    error = %error,
                    "alert repeats could not be checked; the alert goes out"
                );
                failures.push((alert.resource.clone(), error));
                gated.to_send.push(alert);
            }
        }
    }
    if !failures.is_empty() {
        gated.unchecked = Some(Unchecked::Failed(failures));
    }
    gated
}

/// Tells chat that `held_back` alerts like this one were not sent, in the description and in
/// the notification's additional context.
fn note_held_back(alert: &mut Alert, held_back: u64) {
    let Ok(mut notification) = serde_json::from_str::<Value>(&alert.message) else {
        return;
    };
    let note = if held_back == 1 {
        "1 alert like this one was held back since the last one sent".to_owned()
    } else {
        format!("{held_back} alerts like this one were held back since the last one sent")
    };
    if let Some(description) = notification["content"]["description"].as_str() {
        let description = format!("{description}\n\n_{note}._");
        notification["content"]["description"] = Value::String(description);
    }
    if let Some(context) = notification["metadata"]["additionalContext"].as_object_mut() {
        context.insert("held_back".to_owned(), Value::from(held_back));
    }
    alert.message = notification.to_string();
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::alerts::{build_alerts, AlertSource};
    use crate::domain::{Check, Finding, Severity};
    use crate::ports::fakes::FakeState;
    use crate::ports::StateStore;

    fn alert(severity: Severity, check: Check, resource: &str) -> Alert {
        let source = AlertSource {
            function: "harden-repository".into(),
            region: Some("eu-west-1".into()),
        };
        let finding = Finding::new(
            severity,
            check,
            resource,
            "sync failed",
            "upstream said 404",
        );
        build_alerts(&source, &[finding], Severity::Info).remove(0)
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a time") + Duration::minutes(minutes)
    }

    async fn sent(state: &Arc<FakeState>, alert: Alert, minutes: i64) -> Vec<Alert> {
        let port = state.as_ref() as &dyn StateStore;
        gate(Some(port), vec![alert], at(minutes), 60).await.to_send
    }

    fn rotation(severity: Severity, description: &str) -> Alert {
        let source = AlertSource {
            function: "check-credentials".into(),
            region: Some("eu-west-1".into()),
        };
        let finding = Finding::new(
            severity,
            Check::CredentialRotation,
            "ecr-pullthroughcache/ghcr",
            "rotation of `ecr-pullthroughcache/ghcr`",
            description,
        );
        build_alerts(&source, &[finding], Severity::Critical).remove(0)
    }

    /// A rotation verdict answers one change: the same record twice is one alert; a second
    /// change within the window, a verified value after a refused one, gets its own.
    #[tokio::test]
    async fn each_rotation_gets_its_verdict_once() {
        let state = Arc::new(FakeState::default());
        let refused = || {
            rotation(
                Severity::Critical,
                "`PutSecretValue` at `10:00:00Z`: refused",
            )
        };
        let verified = || rotation(Severity::Info, "`PutSecretValue` at `10:05:00Z`: verified");
        assert_eq!(sent(&state, refused(), 0).await.len(), 1);
        assert_eq!(
            sent(&state, refused(), 1).await.len(),
            0,
            "a duplicate delivery"
        );
        assert_eq!(
            sent(&state, verified(), 5).await.len(),
            1,
            "the next change"
        );
        assert_eq!(sent(&state, verified(), 6).await.len(), 0);
        assert_ne!(key(&refused()), key(&verified()));
        assert_eq!(key(&refused()), key(&refused()));
    }

    /// A verdict is its own alert: a warning about the same secret neither hides it nor is
    /// hidden by it.
    #[test]
    fn a_rotation_verdict_is_not_grouped_with_the_secrets_other_findings() {
        let source = AlertSource {
            function: "check-credentials".into(),
            region: None,
        };
        let secret = "ecr-pullthroughcache/ghcr";
        let findings = [
            Finding::new(
                Severity::Warning,
                Check::CredentialExpiry,
                secret,
                "expires soon",
                "in 20 days",
            ),
            Finding::new(
                Severity::Info,
                Check::CredentialRotation,
                secret,
                "rotation verified",
                "verified",
            ),
        ];
        let alerts = build_alerts(&source, &findings, Severity::Warning);
        let checks: Vec<Check> = alerts.iter().map(|alert| alert.check).collect();
        assert_eq!(checks, [Check::CredentialExpiry, Check::CredentialRotation]);
        assert!(
            alerts
                .iter()
                .all(|alert| alert.thread_id == alerts[0].thread_id),
            "one thread"
        );
    }

    /// Twenty failures of one image within minutes: the first goes out, the rest are held
    /// back, and the first after the window says how many were.
    #[tokio::test]
    async fn a_storm_sends_one_alert_and_the_next_counts_the_rest() {
        let state = Arc::new(FakeState::default());
        let failure = || {
            alert(
                Severity::Warning,
                Check::UpstreamPull,
                "docker-hub/library/nginx",
            )
        };
        let mut n_sent = 0;
        for minute in 0..20 {
            n_sent += sent(&state, failure(), minute).await.len();
        }
        assert_eq!(n_sent, 1);
        let after = sent(&state, failure(), 61).await;
        assert_eq!(after.len(), 1);
        let message: Value = serde_json::from_str(&after[0].message).expect("JSON");
        assert_eq!(message["metadata"]["additionalContext"]["held_back"], 19);
        let description = message["content"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            description.contains("19 alerts like this one were held back"),
            "{description}"
        );
    }

    /// Another check, another resource, or a more severe alert is a new kind: it goes out.
    #[tokio::test]
    async fn a_new_kind_of_alert_always_goes_out() {
        let state = Arc::new(FakeState::default());
        let nginx = "docker-hub/library/nginx";
        assert_eq!(
            sent(
                &state,
                alert(Severity::Warning, Check::UpstreamPull, nginx),
                0
            )
            .await
            .len(),
            1
        );
        let other_check = alert(Severity::Warning, Check::RepositoryHardening, nginx);
        assert_eq!(sent(&state, other_check, 1).await.len(), 1);
        let other_resource = alert(Severity::Warning, Check::UpstreamPull, "ghcr/fluxcd/x");
        assert_eq!(sent(&state, other_resource, 2).await.len(), 1);
        let worse = alert(Severity::Critical, Check::UpstreamPull, nginx);
        assert_eq!(sent(&state, worse, 3).await.len(), 1);
        // Once a critical one went out, a warning of the same kind waits for the window.
        let milder = alert(Severity::Warning, Check::UpstreamPull, nginx);
        assert_eq!(sent(&state, milder, 4).await.len(), 0);
    }

    /// No state store, or one that fails: every alert goes out, and the gate says why.
    #[tokio::test]
    async fn without_a_working_state_store_every_alert_goes_out() {
        let nginx = "docker-hub/library/nginx";
        let gated = gate(
            None::<&dyn StateStore>,
            vec![alert(Severity::Warning, Check::UpstreamPull, nginx)],
            at(0),
            60,
        )
        .await;
        assert_eq!(gated.to_send.len(), 1);
        assert!(matches!(gated.unchecked, Some(Unchecked::NoStateStore)));

        let state = FakeState::default().failing_with("AccessDeniedException");
        let port = &state as &dyn StateStore;
        let alerts = vec![alert(Severity::Warning, Check::UpstreamPull, nginx)];
        let gated = gate(Some(port), alerts, at(0), 60).await;
        assert_eq!(gated.to_send.len(), 1);
        let Some(Unchecked::Failed(failures)) = gated.unchecked else {
            panic!("the failure is reported");
        };
        assert_eq!(failures[0].0, nginx);
        assert!(failures[0].1.is_code("AccessDeniedException"));
    }

    /// `repeat_after_minutes = 0` sends every alert without asking the store.
    #[tokio::test]
    async fn a_zero_window_asks_nothing() {
        let state = FakeState::default();
        let port = &state as &dyn StateStore;
        let alerts = vec![alert(
            Severity::Warning,
            Check::UpstreamPull,
            "docker-hub/x",
        )];
        let gated = gate(Some(port), alerts, at(0), 0).await;
        assert_eq!((gated.to_send.len(), state.n_calls()), (1, 0));
        assert!(gated.unchecked.is_none());
    }
}
