//! Honest pull times: the sweep registers the pre-warm function's role as a pull-time update
//! exclusion, so pre-warm pulls leave `lastRecordedPullTime` alone and the time means real use
//! (`prewarm.exclude_from_pull_time`). It only ever adds the product's own role: the other
//! exclusions of the registry belong to others and are never removed.

use tracing::{info, warn};

use crate::config::Config;
use crate::domain::{Check, Finding, Report, Severity};
use crate::ports::{
    PortSet, Registry, EXCLUSION_ALREADY_EXISTS, LIMIT_EXCEEDED, MAX_PULL_TIME_EXCLUSIONS,
};
use crate::remedies;

/// The finding's resource.
const RESOURCE: &str = "harden-repository/pull-time-exclusion";

/// What the sweep decided about the pre-warm role's exclusion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullTimeExclusion {
    /// `prewarm.exclude_from_pull_time = false`, or no pre-warm role is known: no call.
    Off,
    /// The role is excluded already (or a racing writer excluded it first).
    Present,
    /// Registered by this sweep.
    Registered,
    /// A dry run: would have been registered.
    WouldRegister,
    /// Not registered; the finding says why.
    Failed(Finding),
}

impl PullTimeExclusion {
    /// Writes the decision's counts (and finding) into `report`.
    pub fn write_into<D>(self, report: &mut Report<D>) {
        let (registered, present, would) = match &self {
            PullTimeExclusion::Off => return,
            PullTimeExclusion::Present => (0, 1, 0),
            PullTimeExclusion::Registered => (1, 0, 0),
            PullTimeExclusion::WouldRegister => (0, 0, 1),
            PullTimeExclusion::Failed(_) => (0, 0, 0),
        };
        report.count("pull_time_exclusion_registered", registered);
        report.count("pull_time_exclusion_present", present);
        report.count("pull_time_exclusion_would_register", would);
        if let PullTimeExclusion::Failed(finding) = self {
            report.push_finding(finding);
        }
    }
}

/// Makes sure `prewarm_role` is excluded from pull-time updates: list first, register only when
/// absent (a dry run only reports). Never fails: a failed call is one warning finding, and the
/// sweep goes on.
pub async fn reconcile(
    ports: &impl PortSet,
    config: &Config,
    prewarm_role: Option<&str>,
    dry_run: bool,
) -> PullTimeExclusion {
    let role = match prewarm_role {
        Some(role) if config.prewarm.exclude_from_pull_time => role,
        Some(_) => {
            info!(
                decision = "off",
                "pull-time exclusion: prewarm.exclude_from_pull_time is false"
            );
            return PullTimeExclusion::Off;
        }
        None => {
            info!(
                decision = "off",
                "pull-time exclusion: no pre-warm role known (PTC_PREWARM_ROLE_ARN unset)"
            );
            return PullTimeExclusion::Off;
        }
    };
    let registry = ports.registry();
    let region = ports.region();
    let exclusions = match registry.pull_time_exclusions().await {
        Ok(exclusions) => exclusions,
        Err(error) => {
            warn!(decision = "failed", role = %role, error = %error, "pull-time exclusions could not be listed");
            return PullTimeExclusion::Failed(failure(
                role,
                format!("{error}; the pre-warm role's exclusion was not checked"),
                "allow `ecr:ListPullTimeUpdateExclusions` and `ecr:RegisterPullTimeUpdateExclusion` in the function's role; the next sweep tries again",
            ));
        }
    };
    if exclusions.iter().any(|excluded| excluded == role) {
        info!(decision = "present", role = %role, n_exclusions = exclusions.len(), "pull-time exclusion: the pre-warm role is excluded already");
        return PullTimeExclusion::Present;
    }
    if dry_run {
        info!(decision = "would_register", role = %role, "pull-time exclusion: dry run, the pre-warm role would be registered");
        return PullTimeExclusion::WouldRegister;
    }
    match registry.register_pull_time_exclusion(role).await {
        Ok(()) => {
            info!(decision = "registered", role = %role, "pull-time exclusion: the pre-warm role is registered");
            PullTimeExclusion::Registered
        }
        Err(error) if error.is_code(EXCLUSION_ALREADY_EXISTS) => {
            info!(decision = "present", role = %role, "pull-time exclusion: registered meanwhile by another writer");
            PullTimeExclusion::Present
        }
        Err(error) if error.is_code(LIMIT_EXCEEDED) => {
            warn!(decision = "limit", role = %role, error = %error, "pull-time exclusion: the registry's limit is reached");
            PullTimeExclusion::Failed(failure(
                role,
                format!(
                    "ECR allows {MAX_PULL_TIME_EXCLUSIONS} pull-time update exclusions per registry and they are used up; pre-warm pulls count as use in `lastRecordedPullTime`"
                ),
                &format!(
                    "list them with `{}` and deregister one your team no longer needs, or set `prewarm.exclude_from_pull_time = false`",
                    remedies::list_pull_time_exclusions_command(region)
                ),
            ))
        }
        Err(error) => {
            warn!(decision = "failed", role = %role, error = %error, "pull-time exclusion could not be registered");
            PullTimeExclusion::Failed(failure(
                role,
                format!("{error}; pre-warm pulls count as use in `lastRecordedPullTime`"),
                &format!(
                    "allow `ecr:RegisterPullTimeUpdateExclusion` in the function's role (the next sweep tries again), or run `{}`",
                    remedies::register_pull_time_exclusion_command(role, region)
                ),
            ))
        }
    }
}

fn failure(role: &str, detail: String, next_step: &str) -> Finding {
    Finding::new(
        Severity::Warning,
        Check::Prewarm,
        RESOURCE,
        format!("the pre-warm role `{role}` is not excluded from pull-time updates"),
        detail,
    )
    .with_next_step(next_step)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::ports::fakes::{self, FakeEcr, FakeSecretStore};

    const ROLE: &str = "arn:aws:iam::123456789012:role/ptc-ops-PrewarmImagesRole-ABC";
    const OTHER_TEAM: &str = "arn:aws:iam::123456789012:role/scanner";
    const LIST: &str = "ecr:ListPullTimeUpdateExclusions";
    const REGISTER: &str = "ecr:RegisterPullTimeUpdateExclusion";

    /// The registry before the sweep.
    #[derive(Debug, Clone, Copy)]
    enum Registry {
        Empty,
        /// Another team's exclusion only.
        Foreign,
        /// The pre-warm role excluded already.
        Present,
        /// Another writer registers the role between the list and the register.
        Racing,
        /// 100 exclusions of others.
        Full,
        /// The list call is denied.
        ListDenied,
        /// The register call is denied.
        RegisterDenied,
    }

    fn fake(registry: Registry) -> FakeEcr {
        let ecr = FakeEcr::default();
        match registry {
            Registry::Empty => ecr,
            Registry::Foreign => ecr.with_pull_time_exclusion(OTHER_TEAM),
            Registry::Present => ecr
                .with_pull_time_exclusion(OTHER_TEAM)
                .with_pull_time_exclusion(ROLE),
            Registry::Racing => ecr.failing(REGISTER, Some(ROLE), EXCLUSION_ALREADY_EXISTS),
            Registry::Full => (0..MAX_PULL_TIME_EXCLUSIONS).fold(ecr, |ecr, n| {
                ecr.with_pull_time_exclusion(&format!("arn:aws:iam::123456789012:role/team-{n}"))
            }),
            Registry::ListDenied => ecr.failing(LIST, None, "AccessDeniedException"),
            Registry::RegisterDenied => ecr.failing(REGISTER, None, "AccessDeniedException"),
        }
    }

    /// What the sweep should end with.
    struct Expected {
        decision: &'static str,
        calls: &'static [&'static str],
        /// The role is among the exclusions afterwards.
        excluded: bool,
        /// A word the one finding says (none: no finding).
        finding: Option<&'static str>,
    }

    fn check(
        _name: &str,
        registry: Registry,
        (setting, role, dry_run): (bool, Option<&str>, bool),
        expected: Expected,
    ) {
        let config = Config::from_toml_str(
            &format!("[prewarm]\nexclude_from_pull_time = {setting}\n"),
            Path::new("."),
            "test",
        )
        .expect("a valid configuration");
        let ecr = Arc::new(fake(registry));
        let others_before: Vec<String> = ecr
            .pull_time_exclusions()
            .into_iter()
            .filter(|arn| arn != ROLE)
            .collect();
        let ports = fakes::ports(&ecr, &Arc::new(FakeSecretStore::default()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let decision = runtime.block_on(reconcile(&ports, &config, role, dry_run));
        let mut report: Report<()> = Report::new("harden-repository", dry_run);
        let name = match &decision {
            PullTimeExclusion::Off => "off",
            PullTimeExclusion::Present => "present",
            PullTimeExclusion::Registered => "registered",
            PullTimeExclusion::WouldRegister => "would_register",
            PullTimeExclusion::Failed(_) => "failed",
        };
        decision.write_into(&mut report);
        assert_eq!(name, expected.decision);
        let calls: Vec<String> = ecr
            .calls()
            .iter()
            .map(|call| call.split(' ').next().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(calls, expected.calls);
        let after = ecr.pull_time_exclusions();
        assert_eq!(after.iter().any(|arn| arn == ROLE), expected.excluded);
        // Nothing of others is ever removed.
        assert!(others_before.iter().all(|arn| after.contains(arn)));
        match expected.finding {
            None => assert!(report.findings.is_empty(), "{:?}", report.findings),
            Some(word) => {
                assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
                let finding = &report.findings[0];
                assert_eq!(finding.severity, Severity::Warning);
                let text = format!(
                    "{} {} {:?}",
                    finding.title, finding.message, finding.next_steps
                );
                assert!(text.contains(word), "{text} should say {word}");
            }
        }
        if name != "off" {
            let registered = u64::from(name == "registered");
            assert_eq!(
                report.summary.get("pull_time_exclusion_registered"),
                Some(&registered)
            );
        } else {
            assert!(!report
                .summary
                .contains_key("pull_time_exclusion_registered"));
        }
    }

    const ON: (bool, Option<&str>, bool) = (true, Some(ROLE), false);

    crate::named_cases! {
        /// List first; register only when absent; failures are one warning each.
        mod pull_time_exclusion => check;
        absent_is_registered(Registry::Empty, ON, Expected {
            decision: "registered", calls: &[LIST, REGISTER], excluded: true, finding: None }),
        another_teams_exclusion_is_kept(Registry::Foreign, ON, Expected {
            decision: "registered", calls: &[LIST, REGISTER], excluded: true, finding: None }),
        present_makes_no_register_call(Registry::Present, ON, Expected {
            decision: "present", calls: &[LIST], excluded: true, finding: None }),
        a_racing_writer_is_present(Registry::Racing, ON, Expected {
            decision: "present", calls: &[LIST, REGISTER], excluded: false, finding: None }),
        the_limit_is_one_warning(Registry::Full, ON, Expected {
            decision: "failed", calls: &[LIST, REGISTER], excluded: false,
            finding: Some("aws ecr list-pull-time-update-exclusions --region") }),
        the_limit_names_100(Registry::Full, ON, Expected {
            decision: "failed", calls: &[LIST, REGISTER], excluded: false, finding: Some("100") }),
        a_denied_list_is_one_warning(Registry::ListDenied, ON, Expected {
            decision: "failed", calls: &[LIST], excluded: false,
            finding: Some("ecr:ListPullTimeUpdateExclusions") }),
        a_denied_register_is_one_warning(Registry::RegisterDenied, ON, Expected {
            decision: "failed", calls: &[LIST, REGISTER], excluded: false,
            finding: Some("aws ecr register-pull-time-update-exclusion") }),
        off_makes_no_call(Registry::Empty, (false, Some(ROLE), false), Expected {
            decision: "off", calls: &[], excluded: false, finding: None }),
        no_role_makes_no_call(Registry::Empty, (true, None, false), Expected {
            decision: "off", calls: &[], excluded: false, finding: None }),
        a_dry_run_only_lists(Registry::Empty, (true, Some(ROLE), true), Expected {
            decision: "would_register", calls: &[LIST], excluded: false, finding: None }),
        a_dry_run_of_a_present_role(Registry::Present, (true, Some(ROLE), true), Expected {
            decision: "present", calls: &[LIST], excluded: true, finding: None }),
    }
}
