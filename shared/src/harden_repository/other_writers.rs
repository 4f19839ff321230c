//! Living with other writers: the flap limit that stops a restore fight with a writer that
//! keeps changing a setting back, and the values writers in `hardening.drift.ignore_callers`
//! own. Both remember through the state store.

use tracing::{info, warn};

use super::{findings, plan};
use crate::ports::{AcceptedValue, RestorationClaim, RestorationDecision, StateStore};

/// The flap limit of a run that restores. A drift event counts each write per repository and
/// setting in the state store first, so two invocations never both restore past the limit. A
/// sweep only respects it: one read per drifted repository, and a setting whose live window
/// already counts `max_restorations` is left until the window ends (the sweep's own writes are
/// not counted: hardening a repository the first time fights no one).
pub(super) struct FlapGate<'a, S: StateStore + ?Sized> {
    pub(super) state: &'a S,
    pub(super) limit: &'a crate::config::DriftConfig,
    /// Who changed the setting, when an event says so (a sweep does not know): then restorations
    /// are counted.
    pub(super) changed_by: Option<String>,
}

impl<S: StateStore + ?Sized> FlapGate<'_, S> {
    /// Takes out of `plan` the changes the limit refuses, each with its finding. A state store
    /// that fails lets the change through: hardening does not stop for it.
    pub(super) async fn limit(&self, repository: &str, plan: &mut plan::Plan) {
        if self.changed_by.is_none() {
            return self.respect(repository, plan).await;
        }
        let now = chrono::Utc::now();
        let window_ends_at = now + chrono::Duration::minutes(i64::from(self.limit.window_minutes));
        let claims: Vec<RestorationClaim> = plan
            .changes
            .iter()
            .map(|change| RestorationClaim {
                key: restoration_key(repository, change.setting.as_str()),
                now,
                window_ends_at,
                max_restorations: self.limit.max_restorations,
            })
            .collect();
        let decisions = futures::future::join_all(
            claims
                .iter()
                .map(|claim| self.state.count_restoration(claim)),
        )
        .await;
        let changed_by = self.changed_by.as_deref();
        let mut kept = Vec::new();
        for (change, decision) in std::mem::take(&mut plan.changes).into_iter().zip(decisions) {
            let setting = change.setting.as_str();
            match decision {
                Ok(RestorationDecision::Restore { n }) => {
                    info!(
                        repository,
                        setting,
                        n,
                        max = self.limit.max_restorations,
                        "restoration within the flap limit"
                    );
                    kept.push(change);
                }
                Ok(RestorationDecision::LimitReached { window_ends_at }) => {
                    warn!(repository, setting, changed_by, window_ends_at = %window_ends_at.to_rfc3339(), "flap limit reached: not restored until the window ends");
                    plan.findings.push((
                        plan::FindingKind::FlapLimitReached,
                        findings::flap_limit_reached_finding(
                            repository,
                            setting,
                            changed_by,
                            self.limit,
                            window_ends_at,
                        ),
                    ));
                }
                Ok(RestorationDecision::Refused) => {
                    info!(
                        repository,
                        setting, changed_by, "changed again past the flap limit: not restored"
                    );
                    plan.findings.push((
                        plan::FindingKind::FlapLimitHeld,
                        findings::flap_limit_held_finding(repository, setting, changed_by),
                    ));
                }
                Err(error) => {
                    warn!(repository, setting, error = %error, "flap limit could not be checked; restoring");
                    kept.push(change);
                }
            }
        }
        plan.changes = kept;
    }

    /// A sweep: one read of the repository's windows, no count.
    pub(super) async fn respect(&self, repository: &str, plan: &mut plan::Plan) {
        let keys: Vec<String> = plan
            .changes
            .iter()
            .map(|change| restoration_key(repository, change.setting.as_str()))
            .take(crate::ports::MAX_KEYS_PER_READ)
            .collect();
        let at_limit = match self
            .state
            .restorations_at_limit(&keys, self.limit.max_restorations, chrono::Utc::now())
            .await
        {
            Ok(at_limit) => at_limit,
            Err(error) => {
                warn!(repository, error = %error, "flap limit could not be read; restoring");
                return;
            }
        };
        if at_limit.is_empty() {
            return;
        }
        let mut kept = Vec::new();
        for change in std::mem::take(&mut plan.changes) {
            let setting = change.setting.as_str();
            if at_limit.contains(&restoration_key(repository, setting)) {
                info!(
                    repository,
                    setting, "flap limit of a live window reached: the sweep leaves it"
                );
                plan.findings.push((
                    plan::FindingKind::FlapLimitHeld,
                    findings::flap_limit_held_finding(repository, setting, None),
                ));
            } else {
                kept.push(change);
            }
        }
        plan.changes = kept;
    }
}

/// The state key of the restorations of one setting of one repository.
pub(super) fn restoration_key(repository: &str, setting: &str) -> String {
    format!("restorations#{repository}#{setting}")
}

/// `hardening.drift.ignore_callers`: values other writers own are accepted, not restored.
pub(super) struct Acceptance<'a, S: StateStore + ?Sized> {
    pub(super) state: &'a S,
    /// The event's change when its caller is ignored: the setting, the `ignore_callers` entry,
    /// and who made the call.
    pub(super) event: Option<(&'static str, String, String)>,
}

impl<S: StateStore + ?Sized> Acceptance<'_, S> {
    /// Takes out of `plan` the event's change (remembered as accepted) and every change whose
    /// value is one an ignored caller set (one read). A state store that fails lets the
    /// changes through.
    pub(super) async fn apply(&self, repository: &str, plan: &mut plan::Plan) {
        let mut changes = std::mem::take(&mut plan.changes);
        if let Some((setting, ignored, changed_by)) = &self.event {
            if let Some(index) = changes
                .iter()
                .position(|change| change.setting.as_str() == *setting)
            {
                let change = changes.remove(index);
                let accepted = AcceptedValue {
                    value: crate::domain::canonical_json_text(&change.old),
                    caller: ignored.clone(),
                    accepted_at: chrono::Utc::now(),
                };
                let remembered = match self
                    .state
                    .accept_value(repository, setting, &accepted)
                    .await
                {
                    Ok(()) => {
                        info!(repository, setting, caller = %ignored, "change by an ignored caller accepted and remembered");
                        true
                    }
                    Err(error) => {
                        warn!(repository, setting, error = %error, "accepted value could not be remembered");
                        false
                    }
                };
                plan.findings.push((
                    plan::FindingKind::ChangeAccepted,
                    findings::change_accepted_finding(
                        repository, setting, changed_by, ignored, remembered,
                    ),
                ));
            }
        }
        if changes.is_empty() {
            return;
        }
        let accepted = match self.state.accepted_values(repository).await {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(repository, error = %error, "accepted values could not be read; restoring");
                plan.changes = changes;
                return;
            }
        };
        for change in changes {
            let setting = change.setting.as_str();
            let value = crate::domain::canonical_json_text(&change.old);
            match accepted
                .get(setting)
                .filter(|accepted| accepted.value == value)
            {
                Some(accepted) => {
                    info!(repository, setting, caller = %accepted.caller, "value an ignored caller set; left as it is");
                    plan.findings.push((
                        plan::FindingKind::ValueAccepted,
                        findings::value_accepted_finding(
                            repository,
                            setting,
                            &accepted.caller,
                            accepted.accepted_at,
                        ),
                    ));
                }
                None => plan.changes.push(change),
            }
        }
    }
}

/// A policy left as it is replaces nothing: the "replaced" warning of a change a gate took out
/// goes with it.
pub(super) fn forget_replaced(plan: &mut plan::Plan, planned: &[&'static str]) {
    let left: Vec<String> = planned
        .iter()
        .filter(|setting| {
            !plan
                .changes
                .iter()
                .any(|change| change.setting.as_str() == **setting)
        })
        .map(|setting| setting.replace('_', " "))
        .collect();
    plan.findings.retain(|(kind, finding)| {
        *kind != plan::FindingKind::PolicyReplaced
            || !left
                .iter()
                .any(|what| finding.title.starts_with(what.as_str()))
    });
}
